/* SPDX-License-Identifier: MIT
 * state.c: encoding and strictly decoding what a clean stop keeps for the
 * next start (state.h). The encoder streams (a state can be as large as
 * history_max_bytes); the decoder reads a buffer and builds nothing it has
 * not checked: a state that fails any check is refused whole. */
#include "core/state.h"
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/frame.h"
#include "codec/json_check.h"
#include "codec/mercure.h"
#include "codec/sse.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char magic[8] = {'H', 'R', 'L', 'D', 'S', 'T', 'A', 'T'};

#define SUM_LEN   32       /* SHA-256 */
#define MAX_RETRY 86400000 /* as an ingest frame's (codec/frame.c) */
#define MAX_EVENT 200      /* event name bytes, as an ingest frame's */
/* The fewest bytes an event and a channel record take: counts are checked
 * against what is left, so no count allocates more than the file holds. */
#define MIN_EVENT_BYTES (8 + 8 + 1 + 1 + 4 + 1 + 4 + 2 + 2) /* format 1's, the smaller */
#define MIN_CHAN_BYTES  (2 + 8 + 4)

/* ---- encoding ---- */

typedef struct writer {
    hr_state_sink_fn sink;
    void *ud;
    EVP_MD_CTX *sum;
    uint8_t buf[65536];
    size_t used, total;
    int failed;
} writer_t;

static void w_flush(writer_t *w)
{
    if (w->used == 0 || w->failed)
        return;
    EVP_DigestUpdate(w->sum, w->buf, w->used);
    if (w->sink(w->ud, w->buf, w->used) != 0)
        w->failed = 1;
    w->total += w->used;
    w->used = 0;
}

static void w_bytes(writer_t *w, const void *p, size_t len)
{
    const uint8_t *b = p;
    while (len > 0 && !w->failed) {
        if (w->used == sizeof w->buf)
            w_flush(w);
        size_t n = sizeof w->buf - w->used;
        if (n > len)
            n = len;
        memcpy(w->buf + w->used, b, n);
        w->used += n;
        b += n;
        len -= n;
    }
}

static void w_uint(writer_t *w, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_bytes(w, b, (size_t)bytes);
}

static void w_str(writer_t *w, const char *p, size_t len, int lenbytes)
{
    w_uint(w, len, lenbytes);
    w_bytes(w, p, len);
}

static int cmp_event(const void *a, const void *b)
{
    uint64_t x = (*(hr_event_t *const *)a)->seq, y = (*(hr_event_t *const *)b)->seq;
    return x < y ? -1 : x > y;
}

static int keeps(const hr_chan_t *ch)
{
    return ch->hist.count > 0 || ch->hist.dropped_seq > 0;
}

int hr_state_encode(const hr_state_meta_t *m, hr_slice_t epoch, uint64_t seq, const hr_chans_t *r,
                    hr_state_sink_fn sink, void *ud, hr_state_stats_t *stats)
{
    /* Every event held, once, in seq order (one published to several
     * channels is in each of their rings). */
    size_t n = 0, nchans = 0, b = 0;
    hr_event_t **evs = hr_xmalloc((r->history_messages ? r->history_messages : 1) * sizeof *evs);
    for (hr_hnode_t *node = hr_htab_next(&r->tab, &b, NULL); node;
         node = hr_htab_next(&r->tab, &b, node)) {
        const hr_chan_t *ch = hr_container_of(node, hr_chan_t, node);
        const hr_hist_t *h = &ch->hist;
        for (uint32_t i = 0; i < h->count; i++)
            evs[n++] = h->ring[(h->head + i) % h->cap];
        nchans += keeps(ch);
    }
    qsort(evs, n, sizeof *evs, cmp_event);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || evs[i]->seq != evs[k - 1]->seq)
            evs[k++] = evs[i];
    n = k;

    writer_t *w = hr_xcalloc(1, sizeof *w);
    w->sink = sink;
    w->ud = ud;
    w->sum = EVP_MD_CTX_new();
    if (w->sum == NULL || EVP_DigestInit_ex(w->sum, EVP_sha256(), NULL) != 1)
        abort(); /* out of memory, or a libcrypto without SHA-256 */
    w_bytes(w, magic, sizeof magic);
    w_uint(w, HR_STATE_FORMAT, 4);
    w_str(w, m->writer.p, m->writer.len, 1);
    w_str(w, m->identity.p, m->identity.len, 2);
    w_uint(w, m->wall_ms, 8);
    w_str(w, epoch.p, epoch.len, 1);
    w_uint(w, seq, 8);
    w_uint(w, r->slot_key[0], 8);
    w_uint(w, r->slot_key[1], 8);
    for (size_t i = 0; i < HR_FREED_SLOTS; i++)
        w_uint(w, r->freed_dropped[i], 8);

    w_uint(w, n, 4);
    for (size_t i = 0; i < n; i++) {
        const hr_event_t *e = evs[i];
        /* Event times are on the loop's clock; the file's on the wall's. */
        uint64_t age = m->loop_ms > e->time_ms ? m->loop_ms - e->time_ms : 0;
        w_uint(w, e->seq, 8);
        w_uint(w, m->wall_ms > age ? m->wall_ms - age : 0, 8);
        w_uint(w, e->target, 1);
        w_uint(w, e->binary, 1);
        w_uint(w, e->json, 1);
        w_uint(w, (uint64_t)e->retry, 4);
        w_str(w, e->name.p, e->name.len, 1);
        w_str(w, e->data.p, e->data.len, 4);
        w_uint(w, e->nchannels, 2);
        for (int c = 0; c < e->nchannels; c++)
            w_str(w, e->channels[c].p, e->channels[c].len, 1);
        w_str(w, e->mercure.p, e->mercure.len, 2); /* format 3 */
    }

    w_uint(w, nchans, 4);
    b = 0;
    for (hr_hnode_t *node = hr_htab_next(&r->tab, &b, NULL); node;
         node = hr_htab_next(&r->tab, &b, node)) {
        const hr_chan_t *ch = hr_container_of(node, hr_chan_t, node);
        const hr_hist_t *h = &ch->hist;
        if (!keeps(ch))
            continue;
        w_str(w, ch->name, ch->name_len, 1);
        w_uint(w, h->dropped_seq, 8);
        w_uint(w, h->count, 4);
        for (uint32_t i = 0; i < h->count; i++)
            w_uint(w, h->ring[(h->head + i) % h->cap]->seq, 8);
    }

    w_flush(w);
    uint8_t sum[EVP_MAX_MD_SIZE];
    unsigned sumlen = 0;
    EVP_DigestFinal_ex(w->sum, sum, &sumlen);
    if (!w->failed && sink(ud, sum, SUM_LEN) != 0)
        w->failed = 1;
    int rc = w->failed ? -1 : 0;
    if (stats) {
        stats->events = n;
        stats->channels = nchans;
        stats->bytes = w->total + SUM_LEN;
    }
    EVP_MD_CTX_free(w->sum);
    free(w);
    free(evs);
    return rc;
}

/* ---- decoding ---- */

typedef struct reader {
    const uint8_t *p;
    size_t len, off;
    uint32_t format; /* of the file: what its events hold */
    char *err;
    size_t errlen;
    int failed;
} reader_t;

static int fail(reader_t *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(reader_t *rd, const char *fmt, ...)
{
    if (!rd->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rd->err, rd->errlen, fmt, ap);
        va_end(ap);
        rd->failed = 1;
    }
    return -1;
}

static size_t left(const reader_t *rd)
{
    return rd->len - rd->off;
}

static uint64_t r_uint(reader_t *rd, int bytes)
{
    if (rd->failed)
        return 0;
    if (left(rd) < (size_t)bytes) {
        fail(rd, "truncated at byte %zu", rd->off);
        return 0;
    }
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | rd->p[rd->off + (size_t)i];
    rd->off += (size_t)bytes;
    return v;
}

/* A length (of lenbytes) then that many bytes, in place. */
static hr_slice_t r_str(reader_t *rd, int lenbytes)
{
    uint64_t n = r_uint(rd, lenbytes);
    if (rd->failed)
        return (hr_slice_t){"", 0};
    if (n > left(rd)) {
        fail(rd, "truncated at byte %zu", rd->off);
        return (hr_slice_t){"", 0};
    }
    hr_slice_t s = {(const char *)rd->p + rd->off, (size_t)n};
    rd->off += (size_t)n;
    return s;
}

static int printable(hr_slice_t s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] < 0x20 || s.p[i] > 0x7e)
            return 0;
    return 1;
}

static int hex_epoch(hr_slice_t s)
{
    if (s.len == 0 || s.len > HR_EPOCH_MAX)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'a' && s.p[i] <= 'f')))
            return 0;
    return 1;
}

static int names_channel(const hr_event_t *e, const char *name, size_t len)
{
    for (int c = 0; c < e->nchannels; c++)
        if (e->channels[c].len == len && memcmp(e->channels[c].p, name, len) == 0)
            return 1;
    return 0;
}

/* The index of the event with this seq (events are sorted), or -1. */
static long find_event(const hr_state_t *st, uint64_t seq)
{
    size_t lo = 0, hi = st->nevents;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->events[mid]->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < st->nevents && st->events[lo]->seq == seq ? (long)lo : -1;
}

/* The Mercure front's internal channel, which keeps history too. */
static int is_firehose(hr_slice_t name)
{
    return name.len == sizeof HR_MERCURE_FIREHOSE - 1 &&
           memcmp(name.p, HR_MERCURE_FIREHOSE, name.len) == 0;
}

static int read_event(reader_t *rd, hr_state_t *st, size_t i)
{
    uint64_t seq = r_uint(rd, 8), time = r_uint(rd, 8);
    int target = (int)r_uint(rd, 1), binary = (int)r_uint(rd, 1);
    int json = rd->format >= 2 ? (int)r_uint(rd, 1) : 0;
    uint64_t retry = r_uint(rd, 4);
    hr_slice_t name = r_str(rd, 1), data = r_str(rd, 4);
    size_t nch = (size_t)r_uint(rd, 2);
    if (rd->failed)
        return -1;
    uint64_t prev = i ? st->events[i - 1]->seq : 0, prev_time = i ? st->times[i - 1] : 0;
    if (seq <= prev || seq > st->seq)
        return fail(rd, "event %zu: seq %llu out of order or past the last (%llu)", i,
                    (unsigned long long)seq, (unsigned long long)st->seq);
    if (time < prev_time || time > st->written_ms)
        return fail(rd, "event %zu: time out of order or after the file was written", i);
    /* Format 1 kept only what reached SSE; format 2 keeps every target;
     * format 3 Mercure updates too (their target checked with their
     * metadata below). */
    int mercure_target =
        target == HR_TARGET_MERCURE || target == (HR_TARGET_ALL | HR_TARGET_MERCURE);
    if ((target < HR_TARGET_SSE || target > HR_TARGET_ALL ||
         (rd->format < 2 && target == HR_TARGET_WS)) &&
        !(rd->format >= 3 && mercure_target))
        return fail(rd, "event %zu: target %d has no history", i, target);
    if (binary > 1 || (binary && target == HR_TARGET_SSE))
        return fail(rd, "event %zu: bad binary flag", i);
    if (json > 1 || (json && binary))
        return fail(rd, "event %zu: bad json flag", i);
    if (retry > MAX_RETRY)
        return fail(rd, "event %zu: retry %llu out of range", i, (unsigned long long)retry);
    if (name.len > MAX_EVENT || !hr_sse_field_valid(name) ||
        !hr_utf8_valid((const uint8_t *)name.p, name.len))
        return fail(rd, "event %zu: invalid event name", i);
    if (!binary && !hr_utf8_valid((const uint8_t *)data.p, data.len))
        return fail(rd, "event %zu: data is not UTF-8", i);
    /* herald.v1 embeds it as a value: as at ingest, it must be one. */
    if (json && hr_json_check(data.p, data.len, NULL) != NULL)
        return fail(rd, "event %zu: data marked JSON is not JSON", i);
    if (nch == 0 || nch > HR_FRAME_MAX_CHANNELS)
        return fail(rd, "event %zu: %zu channels", i, nch);
    hr_slice_t chans[HR_FRAME_MAX_CHANNELS];
    for (size_t c = 0; c < nch; c++) {
        chans[c] = r_str(rd, 1);
        if (rd->failed)
            return -1;
        if (!hr_chan_name_valid(chans[c].p, chans[c].len) &&
            !(mercure_target && is_firehose(chans[c])))
            return fail(rd, "event %zu: invalid channel name", i);
        for (size_t d = 0; d < c; d++)
            if (chans[d].len == chans[c].len && memcmp(chans[d].p, chans[c].p, chans[c].len) == 0)
                return fail(rd, "event %zu: a channel named twice", i);
    }
    /* A Mercure update's metadata decides who sees it: checked as at
     * ingest, and its target must say the same. */
    hr_slice_t meta = rd->format >= 3 ? r_str(rd, 2) : (hr_slice_t){NULL, 0};
    if (rd->failed)
        return -1;
    hr_mercure_meta_t m;
    if (mercure_target != (meta.len != 0) ||
        (meta.len && (hr_mercure_meta_parse((const uint8_t *)meta.p, meta.len, &m) != 0 ||
                      (m.priv ? HR_TARGET_MERCURE : HR_TARGET_ALL | HR_TARGET_MERCURE) != target)))
        return fail(rd, "event %zu: bad Mercure metadata", i);
    hr_slice_t none = {NULL, 0};
    hr_event_t *e =
        hr_event_new_sent(target, binary, (long)retry, name, data, none, meta, chans, nch);
    e->json = (uint8_t)json;
    hr_event_place(e, (hr_slice_t){st->epoch, st->epoch_len}, seq, 0);
    st->events[i] = e;
    st->times[i] = time;
    st->nevents = i + 1;
    return 0;
}

static int read_chan(reader_t *rd, hr_state_t *st, size_t c, uint8_t *used, size_t *arena_used,
                     size_t *capref)
{
    hr_slice_t name = r_str(rd, 1);
    uint64_t dropped = r_uint(rd, 8);
    uint64_t count = r_uint(rd, 4);
    if (rd->failed)
        return -1;
    if (!hr_chan_name_valid(name.p, name.len) && !(rd->format >= 3 && is_firehose(name)))
        return fail(rd, "channel %zu: invalid name", c);
    if (dropped > st->seq)
        return fail(rd, "channel %zu: watermark past the last seq", c);
    if (count > left(rd) / 8)
        return fail(rd, "channel %zu: %llu events, more than the file holds", c,
                    (unsigned long long)count);
    hr_state_chan_t *ch = &st->chans[c];
    memcpy(st->arena + *arena_used, name.p, name.len);
    ch->name = st->arena + *arena_used;
    ch->name_len = (uint8_t)name.len;
    *arena_used += name.len;
    ch->dropped = dropped;
    ch->first = (uint32_t)st->nrefs;
    ch->count = (uint32_t)count;
    if (st->nrefs + count > *capref) {
        *capref = (st->nrefs + count) * 2;
        st->refs = hr_xrealloc(st->refs, *capref * sizeof *st->refs);
    }
    uint64_t prev = dropped;
    for (uint64_t k = 0; k < count; k++) {
        uint64_t seq = r_uint(rd, 8);
        if (rd->failed)
            return -1;
        if (seq <= prev)
            return fail(rd, "channel %zu: history out of order or under its watermark", c);
        long e = find_event(st, seq);
        if (e < 0)
            return fail(rd, "channel %zu: event %llu is not in the file", c,
                        (unsigned long long)seq);
        if (!names_channel(st->events[e], name.p, name.len))
            return fail(rd, "channel %zu: event %llu was not published to it", c,
                        (unsigned long long)seq);
        used[e] = 1;
        st->refs[st->nrefs++] = (uint32_t)e;
        prev = seq;
    }
    st->nchans = c + 1;
    return 0;
}

static int cmp_chan_name(const void *a, const void *b)
{
    const hr_state_chan_t *x = *(hr_state_chan_t *const *)a, *y = *(hr_state_chan_t *const *)b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (int)x->name_len - (int)y->name_len;
}

static int distinct_names(reader_t *rd, const hr_state_t *st)
{
    if (st->nchans < 2)
        return 0;
    hr_state_chan_t **v = hr_xmalloc(st->nchans * sizeof *v);
    for (size_t i = 0; i < st->nchans; i++)
        v[i] = &st->chans[i];
    qsort(v, st->nchans, sizeof *v, cmp_chan_name);
    int rc = 0;
    for (size_t i = 1; i < st->nchans && rc == 0; i++)
        if (cmp_chan_name(&v[i - 1], &v[i]) == 0)
            rc = fail(rd, "channel '%.*s' has two records", (int)v[i]->name_len, v[i]->name);
    free(v);
    return rc;
}

static int decode_body(reader_t *rd, hr_slice_t identity, hr_state_t *st)
{
    rd->off = sizeof magic + 4;
    hr_slice_t writer = r_str(rd, 1);
    hr_slice_t ident = r_str(rd, 2);
    st->written_ms = r_uint(rd, 8);
    hr_slice_t epoch = r_str(rd, 1);
    st->seq = r_uint(rd, 8);
    st->slot_key[0] = r_uint(rd, 8);
    st->slot_key[1] = r_uint(rd, 8);
    if (rd->failed)
        return -1;
    if (writer.len > HR_STATE_WRITER_MAX || !printable(writer))
        return fail(rd, "bad writer version");
    memcpy(st->writer, writer.p, writer.len);
    st->writer[writer.len] = '\0';
    if (ident.len == 0 || ident.len > HR_STATE_IDENTITY_MAX || memchr(ident.p, 0, ident.len))
        return fail(rd, "bad relay identity");
    if (identity.len &&
        (ident.len != identity.len || memcmp(ident.p, identity.p, identity.len) != 0))
        return fail(rd, "written by the relay of '%.*s', not by this one ('%.*s')",
                    (int)(ident.len > 200 ? 200 : ident.len), ident.p,
                    (int)(identity.len > 200 ? 200 : identity.len), identity.p);
    if (!hex_epoch(epoch))
        return fail(rd, "bad epoch");
    memcpy(st->epoch, epoch.p, epoch.len);
    st->epoch[epoch.len] = '\0';
    st->epoch_len = epoch.len;
    for (size_t i = 0; i < HR_FREED_SLOTS; i++) {
        st->freed[i] = r_uint(rd, 8);
        if (st->freed[i] > st->seq)
            return fail(rd, "freed watermark past the last seq");
    }

    uint64_t nev = r_uint(rd, 4);
    if (rd->failed)
        return -1;
    if (nev > left(rd) / MIN_EVENT_BYTES)
        return fail(rd, "%llu events, more than the file holds", (unsigned long long)nev);
    st->events = hr_xcalloc(nev ? nev : 1, sizeof *st->events);
    st->times = hr_xcalloc(nev ? nev : 1, sizeof *st->times);
    for (size_t i = 0; i < nev; i++)
        if (read_event(rd, st, i) != 0)
            return -1;

    uint64_t nch = r_uint(rd, 4);
    if (rd->failed)
        return -1;
    if (nch > left(rd) / MIN_CHAN_BYTES)
        return fail(rd, "%llu channels, more than the file holds", (unsigned long long)nch);
    st->chans = hr_xcalloc(nch ? nch : 1, sizeof *st->chans);
    st->arena = hr_xmalloc(left(rd) ? left(rd) : 1); /* names cannot take more */
    uint8_t *used = hr_xcalloc(nev ? nev : 1, 1);
    size_t arena_used = 0, capref = 0;
    int rc = 0;
    for (size_t c = 0; c < nch && rc == 0; c++)
        rc = read_chan(rd, st, c, used, &arena_used, &capref);
    for (size_t i = 0; i < st->nevents && rc == 0; i++)
        if (!used[i])
            rc = fail(rd, "event %llu is in no channel's history",
                      (unsigned long long)st->events[i]->seq);
    free(used);
    if (rc == 0)
        rc = distinct_names(rd, st);
    if (rc == 0 && left(rd) != 0)
        rc = fail(rd, "%zu bytes after the last channel", left(rd));
    return rc;
}

int hr_state_decode(const uint8_t *p, size_t len, hr_slice_t identity, hr_state_t *st, char *err,
                    size_t errlen)
{
    memset(st, 0, sizeof *st);
    reader_t rd = {.p = p, .len = len, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    if (len < sizeof magic + 4 + SUM_LEN || memcmp(p, magic, sizeof magic) != 0)
        return fail(&rd, "not a herald state file");
    rd.off = sizeof magic;
    uint64_t format = r_uint(&rd, 4);
    if (format < 1 || format > HR_STATE_FORMAT)
        return fail(&rd, "format %llu, this relay reads 1 to %d", (unsigned long long)format,
                    HR_STATE_FORMAT);
    rd.format = (uint32_t)format;
    /* The checksum first: a damaged or cut file says so, and the parser
     * below only ever reads bytes as they were written. */
    uint8_t sum[EVP_MAX_MD_SIZE];
    unsigned sumlen = 0;
    if (EVP_Digest(p, len - SUM_LEN, sum, &sumlen, EVP_sha256(), NULL) != 1)
        abort();
    if (memcmp(sum, p + len - SUM_LEN, SUM_LEN) != 0)
        return fail(&rd, "checksum mismatch: the file is damaged or cut short");
    rd.len = len - SUM_LEN;
    if (decode_body(&rd, identity, st) != 0) {
        hr_state_free(st);
        return -1;
    }
    return 0;
}

/* ---- applying ---- */

typedef struct pair {
    uint32_t ev, chan;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->ev != y->ev)
        return x->ev < y->ev ? -1 : 1;
    return x->chan < y->chan ? -1 : x->chan > y->chan;
}

void hr_state_apply(const hr_state_t *st, hr_chans_t *r, uint64_t wall_ms, uint64_t loop_ms)
{
    /* The slots' key before any channel is made: a new channel inherits
     * the slot of its name. */
    r->slot_key[0] = st->slot_key[0];
    r->slot_key[1] = st->slot_key[1];
    for (size_t i = 0; i < HR_FREED_SLOTS; i++)
        if (st->freed[i] > r->freed_dropped[i])
            r->freed_dropped[i] = st->freed[i];
    /* An event's age is kept: its time moves to this clock. Times never
     * decrease with seq, so neither do the new ones (a clamp at 0 too). */
    for (size_t i = 0; i < st->nevents; i++) {
        uint64_t age = wall_ms > st->times[i] ? wall_ms - st->times[i] : 0;
        st->events[i]->time_ms = loop_ms > age ? loop_ms - age : 0;
    }
    hr_chan_t **chans = hr_xmalloc((st->nchans ? st->nchans : 1) * sizeof *chans);
    for (size_t c = 0; c < st->nchans; c++)
        chans[c] = hr_chan_hold(r, st->chans[c].name, st->chans[c].name_len, st->chans[c].dropped);
    /* Keep in seq order over every channel together, as the publishes
     * were, so the count and byte bounds drop what they would have. */
    pair_t *pairs = hr_xmalloc((st->nrefs ? st->nrefs : 1) * sizeof *pairs);
    size_t n = 0;
    for (size_t c = 0; c < st->nchans; c++)
        for (uint32_t k = 0; k < st->chans[c].count; k++)
            pairs[n++] = (pair_t){st->refs[st->chans[c].first + k], (uint32_t)c};
    qsort(pairs, n, sizeof *pairs, cmp_pair);
    for (size_t i = 0; i < n; i++)
        hr_chan_keep(r, chans[pairs[i].chan], st->events[pairs[i].ev]);
    for (size_t c = 0; c < st->nchans; c++)
        hr_chan_release(r, chans[c]);
    free(pairs);
    free(chans);
    hr_chans_expire(r, loop_ms);
}

void hr_state_free(hr_state_t *st)
{
    for (size_t i = 0; i < st->nevents; i++)
        hr_event_unref(st->events[i]);
    free(st->events);
    free(st->times);
    free(st->chans);
    free(st->refs);
    free(st->arena);
    memset(st, 0, sizeof *st);
}
