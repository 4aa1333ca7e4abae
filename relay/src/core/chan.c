/* SPDX-License-Identifier: MIT
 * chan.c: channel registry (chained hash table, FNV-1a, power-of-two
 * buckets), subscriptions, history rings and resume. */
#include "core/chan.h"
#include "app/metrics.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t name_ok[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['_'] = 1, ['.'] = 1,
    [':'] = 1,         ['@'] = 1,         ['='] = 1,         ['/'] = 1, ['-'] = 1,
};

int hr_chan_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > HR_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_ok[(uint8_t)name[i]])
            return 0;
    return 1;
}

static uint32_t hash_name(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

void hr_chans_init(hr_chans_t *r, uint32_t hist_size, uint64_t hist_ttl_ms)
{
    memset(r, 0, sizeof *r);
    r->nbuckets = 1024;
    r->buckets = hr_xcalloc(r->nbuckets, sizeof *r->buckets);
    r->hist_size = hist_size;
    r->hist_ttl_ms = hist_ttl_ms;
}

static void hist_drop_head(hr_chan_t *ch)
{
    hr_hist_t *h = &ch->hist;
    hr_msg_t *m = h->ring[h->head];
    h->dropped_seq = m->seq;
    hr_metrics.history_messages--;
    hr_metrics.history_bytes -= m->len;
    hr_msg_unref(m);
    h->head = (h->head + 1) % h->cap;
    h->count--;
}

static void chan_destroy(hr_chan_t *ch)
{
    while (ch->hist.count)
        hist_drop_head(ch);
    free(ch->hist.ring);
    free(ch);
    hr_metrics.channels--;
}

void hr_chans_free(hr_chans_t *r)
{
    for (size_t i = 0; i < r->nbuckets; i++) {
        hr_chan_t *ch = r->buckets[i];
        while (ch) {
            hr_chan_t *next = ch->hnext;
            chan_destroy(ch);
            ch = next;
        }
    }
    free(r->buckets);
    memset(r, 0, sizeof *r);
}

hr_chan_t *hr_chan_find(hr_chans_t *r, const char *name, size_t len)
{
    uint32_t h = hash_name(name, len);
    for (hr_chan_t *ch = r->buckets[h & (r->nbuckets - 1)]; ch; ch = ch->hnext)
        if (ch->hash == h && ch->name_len == len && memcmp(ch->name, name, len) == 0)
            return ch;
    return NULL;
}

static void grow(hr_chans_t *r)
{
    size_t n = r->nbuckets * 2;
    hr_chan_t **b = hr_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < r->nbuckets; i++) {
        hr_chan_t *ch = r->buckets[i];
        while (ch) {
            hr_chan_t *next = ch->hnext;
            ch->hnext = b[ch->hash & (n - 1)];
            b[ch->hash & (n - 1)] = ch;
            ch = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->nbuckets = n;
}

hr_chan_t *hr_chan_get(hr_chans_t *r, const char *name, size_t len)
{
    hr_chan_t *ch = hr_chan_find(r, name, len);
    if (ch)
        return ch;
    if (r->count >= r->nbuckets)
        grow(r);
    ch = hr_xcalloc(1, sizeof *ch + len + 1);
    ch->hash = hash_name(name, len);
    ch->name_len = (uint16_t)len;
    memcpy(ch->name, name, len);
    /* A freed channel of this name may have dropped messages: inherit what
     * its slot remembers, so a resume stays exact or says gap. */
    ch->hist.dropped_seq = r->freed_dropped[ch->hash & (HR_FREED_SLOTS - 1)];
    size_t b = ch->hash & (r->nbuckets - 1);
    ch->hnext = r->buckets[b];
    r->buckets[b] = ch;
    r->count++;
    hr_metrics.channels++;
    return ch;
}

static void hist_list_remove(hr_chans_t *r, hr_chan_t *ch)
{
    if (ch->hprev_h)
        ch->hprev_h->hnext_h = ch->hnext_h;
    else
        r->with_hist = ch->hnext_h;
    if (ch->hnext_h)
        ch->hnext_h->hprev_h = ch->hprev_h;
    ch->hprev_h = ch->hnext_h = NULL;
}

/* Free a channel nobody uses: no subscribers, no history. */
static void maybe_free(hr_chans_t *r, hr_chan_t *ch)
{
    if (ch->busy || ch->nsubs[0] || ch->nsubs[1] || ch->hist.count)
        return;
    uint64_t *slot = &r->freed_dropped[ch->hash & (HR_FREED_SLOTS - 1)];
    if (ch->hist.dropped_seq > *slot)
        *slot = ch->hist.dropped_seq;
    hr_chan_t **pp = &r->buckets[ch->hash & (r->nbuckets - 1)];
    while (*pp != ch)
        pp = &(*pp)->hnext;
    *pp = ch->hnext;
    r->count--;
    chan_destroy(ch);
}

hr_sub_t *hr_chan_subscribe(hr_chans_t *r, const char *name, size_t len, void *conn, int t,
                            hr_sub_t **conn_subs)
{
    for (hr_sub_t *s = *conn_subs; s; s = s->conn_next)
        if (s->ch->name_len == len && memcmp(s->ch->name, name, len) == 0)
            return NULL;
    hr_chan_t *ch = hr_chan_get(r, name, len);
    hr_sub_t *s = hr_xmalloc(sizeof *s);
    s->ch = ch;
    s->conn = conn;
    s->transport = (uint8_t)t;
    s->prev = NULL;
    s->next = ch->subs[t];
    if (s->next)
        s->next->prev = s;
    ch->subs[t] = s;
    ch->nsubs[t]++;
    if (r->on_used && ch->nsubs[0] + ch->nsubs[1] == 1)
        r->on_used(ch->name, ch->name_len, 1);
    s->conn_next = *conn_subs;
    *conn_subs = s;
    hr_metrics.subscriptions++;
    return s;
}

static void unlink_sub(hr_chans_t *r, hr_sub_t *s)
{
    hr_chan_t *ch = s->ch;
    if (s->prev)
        s->prev->next = s->next;
    else
        ch->subs[s->transport] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ch->nsubs[s->transport]--;
    if (r->on_used && ch->nsubs[0] + ch->nsubs[1] == 0)
        r->on_used(ch->name, ch->name_len, 0);
    hr_metrics.subscriptions--;
    free(s);
    maybe_free(r, ch);
}

int hr_chan_unsubscribe(hr_chans_t *r, const char *name, size_t len, hr_sub_t **conn_subs)
{
    for (hr_sub_t **pp = conn_subs; *pp; pp = &(*pp)->conn_next) {
        hr_sub_t *s = *pp;
        if (s->ch->name_len == len && memcmp(s->ch->name, name, len) == 0) {
            *pp = s->conn_next;
            unlink_sub(r, s);
            return 1;
        }
    }
    return 0;
}

void hr_chan_unsubscribe_all(hr_chans_t *r, hr_sub_t **conn_subs)
{
    hr_sub_t *s = *conn_subs;
    *conn_subs = NULL;
    while (s) {
        hr_sub_t *next = s->conn_next;
        unlink_sub(r, s);
        s = next;
    }
}

static void hist_push(hr_chans_t *r, hr_chan_t *ch, hr_msg_t *m)
{
    hr_hist_t *h = &ch->hist;
    if (r->hist_size == 0) {
        h->dropped_seq = m->seq; /* kept nothing: a resume from before it is a gap */
        return;
    }
    /* A frame may name a channel twice: keep the message once. */
    if (h->count && h->ring[(h->head + h->count - 1) % h->cap]->seq == m->seq)
        return;
    if (h->count == r->hist_size)
        hist_drop_head(ch);
    if (h->count == h->cap) {
        /* Grow by doubling up to hist_size; unroll the ring into the new array. */
        uint32_t ncap = h->cap ? h->cap * 2 : 4;
        if (ncap > r->hist_size)
            ncap = r->hist_size;
        hr_msg_t **ring = hr_xmalloc(ncap * sizeof *ring);
        for (uint32_t i = 0; i < h->count; i++)
            ring[i] = h->ring[(h->head + i) % h->cap];
        free(h->ring);
        h->ring = ring;
        h->cap = ncap;
        h->head = 0;
    }
    if (h->count == 0) {
        /* First message: join the list hr_chans_expire() walks. */
        ch->hprev_h = NULL;
        ch->hnext_h = r->with_hist;
        if (r->with_hist)
            r->with_hist->hprev_h = ch;
        r->with_hist = ch;
    }
    h->ring[(h->head + h->count) % h->cap] = hr_msg_ref(m);
    h->count++;
    hr_metrics.history_messages++;
    hr_metrics.history_bytes += m->len;
}

size_t hr_chan_publish(hr_chans_t *r, hr_chan_t *ch, int t, hr_msg_t *m, hr_deliver_fn deliver,
                       void *ud)
{
    size_t reached = 0;
    if (t == HR_T_SSE)
        hist_push(r, ch, m);
    ch->busy = 1;
    hr_sub_t *s = ch->subs[t];
    while (s) {
        /* deliver() may close its connection, which frees s: step first. */
        hr_sub_t *next = s->next;
        deliver(s->conn, m, ud);
        reached++;
        s = next;
    }
    ch->busy = 0;
    maybe_free(r, ch);
    return reached;
}

void hr_chans_expire(hr_chans_t *r, uint64_t now_ms)
{
    hr_chan_t *ch = r->with_hist;
    while (ch) {
        hr_chan_t *next = ch->hnext_h;
        hr_hist_t *h = &ch->hist;
        while (h->count && h->ring[h->head]->time_ms + r->hist_ttl_ms <= now_ms)
            hist_drop_head(ch);
        if (h->count == 0) {
            hist_list_remove(r, ch);
            free(h->ring);
            h->ring = NULL;
            h->cap = 0;
            h->head = 0;
            maybe_free(r, ch);
        }
        ch = next;
    }
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = (*(hr_msg_t *const *)a)->seq, y = (*(hr_msg_t *const *)b)->seq;
    return x < y ? -1 : x > y;
}

size_t hr_chans_replay(hr_chans_t *r, const hr_slice_t *names, size_t n, uint64_t after_seq,
                       uint64_t now_ms, uint8_t *gap, hr_emit_fn emit, void *ud)
{
    hr_chans_expire(r, now_ms);
    size_t gaps = 0, total = 0;
    hr_chan_t **chans = hr_xcalloc(n, sizeof *chans);
    for (size_t i = 0; i < n; i++) {
        chans[i] = hr_chan_find(r, names[i].p, names[i].len);
        uint64_t dropped =
            chans[i] ? chans[i]->hist.dropped_seq
                     : r->freed_dropped[hash_name(names[i].p, names[i].len) & (HR_FREED_SLOTS - 1)];
        gap[i] = dropped > after_seq;
        gaps += gap[i];
        if (chans[i])
            total += chans[i]->hist.count;
    }
    hr_msg_t **all = hr_xmalloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        hr_hist_t *h = chans[i] ? &chans[i]->hist : NULL;
        for (uint32_t j = 0; h && j < h->count; j++) {
            hr_msg_t *m = h->ring[(h->head + j) % h->cap];
            if (m->seq > after_seq)
                all[k++] = m;
        }
    }
    qsort(all, k, sizeof *all, cmp_seq);
    for (size_t i = 0; i < k; i++)
        if (i == 0 || all[i]->seq != all[i - 1]->seq)
            emit(all[i], ud);
    free(all);
    free(chans);
    return gaps;
}
