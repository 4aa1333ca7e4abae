/* SPDX-License-Identifier: MIT
 * fuzz_state.c: the state file's decoder (core/state.c), which reads bytes
 * back from disk. The first input byte picks a mode: bit 0 repairs the
 * checksum (and bit 1 the magic and format: 2, or 1 with bit 6) of the rest,
 * so that the parser behind them is reached, not only the checksum; bits 2-5 pick the
 * loading relay's bounds (history_size, ttl, history_max_bytes). An accepted file must apply
 * without breaking the registry's invariants, encode again, and decode again to the same id space
 * and history; nothing may leak (hr_event_live). */
#include "codec/json_check.h"
#include "core/state.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
} membuf_t;

static int sink(void *ud, const void *p, size_t len)
{
    membuf_t *m = ud;
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->p = realloc(m->p, m->cap);
        if (m->p == NULL)
            abort();
    }
    memcpy(m->p + m->len, p, len);
    m->len += len;
    return 0;
}

static void deliver(void *owner, hr_event_t *ev, int chan)
{
    abort(); /* nobody subscribes here */
}

/* What must hold of any registry. */
static void check(const hr_chans_t *r)
{
    uint64_t msgs = 0, bytes = 0, with_hist = 0;
    size_t b = 0;
    for (hr_hnode_t *n = hr_htab_next(&r->tab, &b, NULL); n; n = hr_htab_next(&r->tab, &b, n)) {
        const hr_chan_t *ch = hr_container_of(n, hr_chan_t, node);
        const hr_hist_t *h = &ch->hist;
        if (h->count > r->hist_size || (h->count > 0) != (ch->heap_idx != 0))
            abort();
        if (ch->heap_idx && (ch->heap_idx > r->nheap || r->heap[ch->heap_idx - 1] != ch))
            abort(); /* each channel with history is in the heap, once */
        with_hist += h->count > 0;
        if (h->count == 0 && ch->nsubs == 0)
            abort(); /* a channel with nothing should have been freed */
        uint64_t prev = h->dropped_seq;
        for (uint32_t i = 0; i < h->count; i++) {
            const hr_event_t *e = h->ring[(h->head + i) % h->cap];
            if (e->seq <= prev || e->target < HR_TARGET_SSE || e->target > HR_TARGET_ALL)
                abort();
            if (e->json && (e->binary || hr_json_check(e->data.p, e->data.len, NULL) != NULL))
                abort(); /* herald.v1 would embed it as a value */
            prev = e->seq;
            msgs++;
            bytes += hr_event_size(e);
        }
    }
    if (msgs != r->history_messages || bytes != r->history_bytes || with_hist != r->nheap)
        abort();
    if (r->hist_max_bytes && r->history_bytes > r->hist_max_bytes)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t len = size - 1;
    uint8_t *p = malloc(len ? len : 1);
    if (p == NULL)
        abort();
    memcpy(p, data + 1, len);
    if ((mode & 2) && len >= 12) {
        memcpy(p, (mode & 0x40) ? "HRLDSTAT\x01\x00\x00\x00" : "HRLDSTAT\x02\x00\x00\x00", 12);
    }
    if ((mode & 1) && len >= 32) {
        unsigned n;
        EVP_Digest(p, len - 32, p + len - 32, &n, EVP_sha256(), NULL);
    }
    static const hr_slice_t ident = {"/run/herald/herald.sock", 23};
    hr_state_t st;
    char err[256];
    hr_slice_t want = (mode & 0x80) ? ident : (hr_slice_t){NULL, 0};
    if (hr_state_decode(p, len, want, &st, err, sizeof err) != 0) {
        if (err[0] == '\0' || st.nevents != 0 || st.events != NULL)
            abort(); /* a refusal says why and keeps nothing */
        free(p);
        if (hr_event_live != 0)
            abort();
        return 0;
    }
    free(p); /* nothing may point into the input */

    hr_chans_t r;
    static const uint32_t sizes[] = {1000000, 3, 1, 2};
    static const uint64_t ttls[] = {1000000000, 5000};
    static const uint64_t caps[] = {0, 2000};
    hr_chans_init(&r, sizes[((mode >> 2) & 1) | ((mode >> 4) & 2)], ttls[(mode >> 3) & 1]);
    r.deliver = deliver;
    r.hist_max_bytes = caps[(mode >> 4) & 1];
    uint64_t wall = st.written_ms + 1000, loop = 1000000;
    hr_state_apply(&st, &r, wall, loop);
    check(&r);

    membuf_t m = {0};
    hr_state_meta_t meta = {ident, {"fuzz", 4}, wall, loop};
    if (hr_state_encode(&meta, (hr_slice_t){st.epoch, st.epoch_len}, st.seq, &r, sink, &m, NULL) !=
        0)
        abort();
    hr_state_t again;
    if (hr_state_decode(m.p, m.len, ident, &again, err, sizeof err) != 0)
        abort(); /* what we write we read */
    if (again.seq != st.seq || again.epoch_len != st.epoch_len ||
        memcmp(again.epoch, st.epoch, st.epoch_len) != 0 || again.nevents > st.nevents ||
        again.slot_key[0] != st.slot_key[0])
        abort();
    hr_chans_t r2;
    hr_chans_init(&r2, r.hist_size, r.hist_ttl_ms);
    r2.deliver = deliver;
    r2.hist_max_bytes = r.hist_max_bytes;
    hr_state_apply(&again, &r2, wall, loop);
    check(&r2);
    if (r2.history_messages != r.history_messages || r2.history_bytes != r.history_bytes ||
        memcmp(r2.freed_dropped, r.freed_dropped, sizeof r.freed_dropped) != 0)
        abort(); /* a second round trip changes nothing */
    hr_state_free(&again);
    hr_state_free(&st);
    hr_chans_free(&r2);
    hr_chans_free(&r);
    free(m.p);
    if (hr_event_live != 0)
        abort();
    return 0;
}
