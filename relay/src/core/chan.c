/* SPDX-License-Identifier: MIT
 * chan.c: channel registry (base/hash.h's seeded table), subscriptions,
 * history rings of events, the relay-wide history bound and resume. */
#include "core/chan.h"

#include <stdlib.h>
#include <string.h>

static int chan_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const hr_chan_t *ch = hr_container_of(n, hr_chan_t, node);
    return ch->name_len == len && memcmp(ch->name, key, len) == 0;
}

void hr_chans_init(hr_chans_t *r, uint32_t hist_size, uint64_t hist_ttl_ms)
{
    memset(r, 0, sizeof *r);
    hr_htab_init(&r->tab, 1024);
    r->hist_size = hist_size;
    r->hist_ttl_ms = hist_ttl_ms;
}

void hr_chans_metrics(hr_chans_t *r, hr_metrics_t *reg)
{
    const char *help = "Messages that left history, by why: history_size (count), "
                       "history_ttl (age), history_max_bytes (bytes).";
    hr_metrics_add(reg, "herald_history_evictions_total", HR_COUNTER, help, "reason=\"count\"",
                   &r->evicted[HR_EVICT_COUNT]);
    hr_metrics_add(reg, "herald_history_evictions_total", HR_COUNTER, help, "reason=\"age\"",
                   &r->evicted[HR_EVICT_AGE]);
    hr_metrics_add(reg, "herald_history_evictions_total", HR_COUNTER, help, "reason=\"bytes\"",
                   &r->evicted[HR_EVICT_BYTES]);
    hr_metrics_add(reg, "herald_history_max_bytes", HR_GAUGE,
                   "The relay-wide cap on history bytes (history_max_bytes; 0: none).", NULL,
                   &r->hist_max_bytes);
    hr_metrics_add(reg, "herald_history_messages", HR_GAUGE, "Messages held in history.", NULL,
                   &r->history_messages);
    hr_metrics_add(reg, "herald_history_bytes", HR_GAUGE, "Bytes of messages held in history.",
                   NULL, &r->history_bytes);
    hr_metrics_add(reg, "herald_channels", HR_GAUGE, "Channels with subscribers or history.", NULL,
                   &r->channels);
    hr_metrics_add(reg, "herald_subscriptions", HR_GAUGE, "Subscriptions (connection, channel).",
                   NULL, &r->subscriptions);
}

/* ---- the heap of channels with history ----
 * Keyed by the seq of a channel's oldest event when it was placed. Dropping
 * a channel's oldest event only raises that seq, so a key may be stale but
 * never too high: oldest() refreshes the top until its key is true. Keeping
 * an event in a channel that already has history costs the heap nothing. */

static uint64_t head_seq(const hr_chan_t *ch)
{
    return ch->hist.ring[ch->hist.head]->seq;
}

static void heap_set(hr_chans_t *r, uint32_t i, hr_chan_t *ch)
{
    r->heap[i] = ch;
    ch->heap_idx = i + 1;
}

static void heap_up(hr_chans_t *r, uint32_t i)
{
    hr_chan_t *ch = r->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (r->heap[parent]->heap_key <= ch->heap_key)
            break;
        heap_set(r, i, r->heap[parent]);
        i = parent;
    }
    heap_set(r, i, ch);
}

static void heap_down(hr_chans_t *r, uint32_t i)
{
    hr_chan_t *ch = r->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= r->nheap)
            break;
        if (c + 1 < r->nheap && r->heap[c + 1]->heap_key < r->heap[c]->heap_key)
            c++;
        if (ch->heap_key <= r->heap[c]->heap_key)
            break;
        heap_set(r, i, r->heap[c]);
        i = c;
    }
    heap_set(r, i, ch);
}

static void heap_push(hr_chans_t *r, hr_chan_t *ch)
{
    if (r->nheap == r->capheap) {
        r->capheap = r->capheap ? r->capheap * 2 : 64;
        r->heap = hr_xrealloc(r->heap, r->capheap * sizeof *r->heap);
    }
    ch->heap_key = head_seq(ch);
    r->heap[r->nheap] = ch;
    heap_up(r, r->nheap++);
}

static void heap_remove(hr_chans_t *r, hr_chan_t *ch)
{
    uint32_t i = ch->heap_idx - 1;
    hr_chan_t *last = r->heap[--r->nheap];
    ch->heap_idx = 0;
    if (last == ch)
        return;
    heap_set(r, i, last);
    heap_up(r, i);
    heap_down(r, last->heap_idx - 1);
}

/* The channel holding the oldest event, or NULL when history is empty. */
static hr_chan_t *oldest(hr_chans_t *r)
{
    while (r->nheap) {
        hr_chan_t *top = r->heap[0];
        uint64_t seq = head_seq(top);
        if (seq == top->heap_key)
            return top;
        top->heap_key = seq;
        heap_down(r, 0);
    }
    return NULL;
}

/* ---- history ---- */

static void hist_drop_head(hr_chans_t *r, hr_chan_t *ch, enum hr_evict why)
{
    hr_hist_t *h = &ch->hist;
    hr_event_t *e = h->ring[h->head];
    h->dropped_seq = e->seq;
    r->history_messages--;
    r->history_bytes -= hr_event_size(e);
    r->evicted[why]++;
    hr_event_unref(e);
    h->head = (h->head + 1) % h->cap;
    h->count--;
}

/* The channel's history is empty now: leave the heap, give the ring back. */
static void hist_release(hr_chans_t *r, hr_chan_t *ch)
{
    hr_hist_t *h = &ch->hist;
    if (ch->heap_idx)
        heap_remove(r, ch);
    free(h->ring);
    h->ring = NULL;
    h->cap = 0;
    h->head = 0;
}

static void chan_destroy(hr_chans_t *r, hr_chan_t *ch)
{
    /* hr_chans_free: the registry goes, so do its events (not evictions). */
    hr_hist_t *h = &ch->hist;
    while (h->count) {
        hr_event_t *e = h->ring[h->head];
        r->history_messages--;
        r->history_bytes -= hr_event_size(e);
        hr_event_unref(e);
        h->head = (h->head + 1) % h->cap;
        h->count--;
    }
    free(h->ring);
    free(ch);
    r->channels--;
}

void hr_chans_free(hr_chans_t *r)
{
    size_t b = 0;
    hr_hnode_t *n = hr_htab_next(&r->tab, &b, NULL);
    while (n) {
        hr_hnode_t *next = hr_htab_next(&r->tab, &b, n);
        chan_destroy(r, hr_container_of(n, hr_chan_t, node));
        n = next;
    }
    hr_htab_free(&r->tab);
    free(r->heap);
    memset(r, 0, sizeof *r);
}

hr_chan_t *hr_chan_find(hr_chans_t *r, const char *name, size_t len)
{
    hr_hnode_t *n = hr_htab_find(&r->tab, hr_hash(name, len), name, len, chan_eq);
    return n ? hr_container_of(n, hr_chan_t, node) : NULL;
}

/* A name's slot, under a key of the registry's own (not the table's): the
 * state file keeps both across a clean restart, so a name lands in the same
 * slot in the next process and nothing resumes exactly that should not. */
static uint64_t *freed_slot(hr_chans_t *r, const char *name, size_t len)
{
    return &r->freed_dropped[hr_hash_keyed(r->slot_key, name, len) & (HR_FREED_SLOTS - 1)];
}

hr_chan_t *hr_chan_get(hr_chans_t *r, const char *name, size_t len)
{
    uint64_t h = hr_hash(name, len);
    hr_hnode_t *n = hr_htab_find(&r->tab, h, name, len, chan_eq);
    if (n)
        return hr_container_of(n, hr_chan_t, node);
    hr_chan_t *ch = hr_xcalloc(1, sizeof *ch + len + 1);
    ch->name_len = (uint16_t)len;
    memcpy(ch->name, name, len);
    /* A freed channel of this name may have dropped messages: inherit what
     * its slot remembers, so a resume stays exact or says gap. */
    ch->hist.dropped_seq = *freed_slot(r, name, len);
    hr_htab_add(&r->tab, &ch->node, h);
    r->channels++;
    return ch;
}

/* Free a channel nobody uses: no subscribers, no history. */
static void maybe_free(hr_chans_t *r, hr_chan_t *ch)
{
    if (ch->busy || ch->nsubs || ch->hist.count)
        return;
    uint64_t *slot = freed_slot(r, ch->name, ch->name_len);
    if (ch->hist.dropped_seq > *slot)
        *slot = ch->hist.dropped_seq;
    hr_htab_del(&r->tab, &ch->node);
    chan_destroy(r, ch);
}

int hr_chan_has(const hr_sub_t *owner_subs, const char *name, size_t len)
{
    for (const hr_sub_t *s = owner_subs; s; s = s->owner_next)
        if (s->ch->name_len == len && memcmp(s->ch->name, name, len) == 0)
            return 1;
    return 0;
}

/* The list of a subscriber by the SSE and WS bits of what it accepts
 * (chan.h), and what the subscribers of each list may accept. */
static int list_of(int accepts)
{
    int sse = (accepts & HR_TARGET_SSE) != 0, ws = (accepts & HR_TARGET_WS) != 0;
    return sse && ws ? 2 : sse ? 0 : ws ? 1 : 3;
}

static const uint8_t list_accepts[HR_SUB_LISTS] = {0xff & ~HR_TARGET_WS, 0xff & ~HR_TARGET_SSE,
                                                   0xff, 0xff & ~HR_TARGET_ALL};

hr_sub_t *hr_chan_subscribe(hr_chans_t *r, const char *name, size_t len, void *owner, int accepts,
                            hr_sub_t **owner_subs)
{
    if (hr_chan_has(*owner_subs, name, len))
        return NULL;
    hr_chan_t *ch = hr_chan_get(r, name, len);
    hr_sub_t *s = hr_xmalloc(sizeof *s);
    int k = list_of(accepts);
    s->ch = ch;
    s->owner = owner;
    s->accepts = (uint8_t)accepts;
    s->prev = NULL;
    s->next = ch->subs[k];
    if (s->next)
        s->next->prev = s;
    ch->subs[k] = s;
    if (ch->nsubs++ == 0 && r->on_used)
        r->on_used(r->on_used_ud, ch->name, ch->name_len, 1);
    s->owner_next = *owner_subs;
    *owner_subs = s;
    r->subscriptions++;
    return s;
}

static void unlink_sub(hr_chans_t *r, hr_sub_t *s)
{
    hr_chan_t *ch = s->ch;
    if (s->prev)
        s->prev->next = s->next;
    else
        ch->subs[list_of(s->accepts)] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (--ch->nsubs == 0 && r->on_used)
        r->on_used(r->on_used_ud, ch->name, ch->name_len, 0);
    r->subscriptions--;
    free(s);
    maybe_free(r, ch);
}

int hr_chan_unsubscribe(hr_chans_t *r, const char *name, size_t len, hr_sub_t **owner_subs)
{
    for (hr_sub_t **pp = owner_subs; *pp; pp = &(*pp)->owner_next) {
        hr_sub_t *s = *pp;
        if (s->ch->name_len == len && memcmp(s->ch->name, name, len) == 0) {
            *pp = s->owner_next;
            unlink_sub(r, s);
            return 1;
        }
    }
    return 0;
}

void hr_chan_unsubscribe_all(hr_chans_t *r, hr_sub_t **owner_subs)
{
    hr_sub_t *s = *owner_subs;
    *owner_subs = NULL;
    while (s) {
        hr_sub_t *next = s->owner_next;
        unlink_sub(r, s);
        s = next;
    }
}

size_t hr_chan_count(const hr_sub_t *owner_subs)
{
    size_t n = 0;
    for (const hr_sub_t *s = owner_subs; s; s = s->owner_next)
        n++;
    return n;
}

/* Drop the registry's oldest events until history fits hist_max_bytes.
 * Channels left empty are freed, except keep (the caller's). */
static void evict_bytes(hr_chans_t *r, hr_chan_t *keep)
{
    uint8_t busy = keep->busy;
    keep->busy = 1;
    hr_chan_t *ch;
    while (r->history_bytes > r->hist_max_bytes && (ch = oldest(r)) != NULL) {
        hist_drop_head(r, ch, HR_EVICT_BYTES);
        if (ch->hist.count == 0) {
            hist_release(r, ch);
            maybe_free(r, ch);
        }
    }
    keep->busy = busy;
}

void hr_chan_keep(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev)
{
    hr_hist_t *h = &ch->hist;
    if (r->hist_size == 0) {
        h->dropped_seq = ev->seq; /* kept nothing: a resume from before it is a gap */
        return;
    }
    if (h->count == r->hist_size)
        hist_drop_head(r, ch, HR_EVICT_COUNT);
    if (h->count == h->cap) {
        /* Grow by doubling up to hist_size; unroll the ring into the new array. */
        uint32_t ncap = h->cap ? h->cap * 2 : 4;
        if (ncap > r->hist_size)
            ncap = r->hist_size;
        hr_event_t **ring = hr_xmalloc(ncap * sizeof *ring);
        for (uint32_t i = 0; i < h->count; i++)
            ring[i] = h->ring[(h->head + i) % h->cap];
        free(h->ring);
        h->ring = ring;
        h->cap = ncap;
        h->head = 0;
    }
    h->ring[(h->head + h->count) % h->cap] = hr_event_ref(ev);
    h->count++;
    /* The first event (the count bound may just have dropped the only one:
     * then the channel is still in the heap, its key stale, which is fine). */
    if (ch->heap_idx == 0)
        heap_push(r, ch);
    r->history_messages++;
    r->history_bytes += hr_event_size(ev);
    if (r->hist_max_bytes && r->history_bytes > r->hist_max_bytes)
        evict_bytes(r, ch);
}

size_t hr_chan_publish(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev, int chan)
{
    size_t reached = 0;
    ch->busy = 1;
    for (int k = 0; k < HR_SUB_LISTS; k++) {
        if ((list_accepts[k] & ev->target) == 0)
            continue;
        hr_sub_t *s = ch->subs[k];
        while (s) {
            /* deliver() may close its owner, which frees s: step first. */
            hr_sub_t *next = s->next;
            if (s->accepts & ev->target) {
                r->deliver(s->owner, ev, chan);
                reached++;
            }
            s = next;
        }
    }
    ch->busy = 0;
    maybe_free(r, ch);
    return reached;
}

hr_chan_t *hr_chan_hold(hr_chans_t *r, const char *name, size_t len, uint64_t dropped)
{
    hr_chan_t *ch = hr_chan_find(r, name, len);
    if (ch == NULL) {
        /* The channel's own watermark, not its slot's: it was alive when
         * saved, so the slot (other names' drops since) never applied. */
        ch = hr_chan_get(r, name, len);
        ch->hist.dropped_seq = dropped;
    } else if (dropped > ch->hist.dropped_seq) {
        ch->hist.dropped_seq = dropped;
    }
    ch->busy = 1;
    return ch;
}

void hr_chan_release(hr_chans_t *r, hr_chan_t *ch)
{
    ch->busy = 0;
    maybe_free(r, ch);
}

void hr_chans_expire(hr_chans_t *r, uint64_t now_ms)
{
    /* The oldest event of all is the first to expire: stop at the first
     * one still young, whatever the number of channels. */
    hr_chan_t *ch;
    while ((ch = oldest(r)) != NULL &&
           ch->hist.ring[ch->hist.head]->time_ms + r->hist_ttl_ms <= now_ms) {
        hist_drop_head(r, ch, HR_EVICT_AGE);
        if (ch->hist.count == 0) {
            hist_release(r, ch);
            maybe_free(r, ch);
        }
    }
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = (*(hr_event_t *const *)a)->seq, y = (*(hr_event_t *const *)b)->seq;
    return x < y ? -1 : x > y;
}

size_t hr_chans_replay(hr_chans_t *r, const hr_slice_t *names, size_t n, uint64_t after_seq,
                       int accepts, uint64_t now_ms, uint8_t *gap, hr_emit_fn emit, void *ud)
{
    hr_chans_expire(r, now_ms);
    size_t gaps = 0, total = 0;
    hr_chan_t **chans = hr_xcalloc(n ? n : 1, sizeof *chans);
    for (size_t i = 0; i < n; i++) {
        chans[i] = hr_chan_find(r, names[i].p, names[i].len);
        uint64_t dropped =
            chans[i] ? chans[i]->hist.dropped_seq : *freed_slot(r, names[i].p, names[i].len);
        gap[i] = dropped > after_seq;
        gaps += gap[i];
        if (chans[i])
            total += chans[i]->hist.count;
    }
    hr_event_t **all = hr_xmalloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        hr_hist_t *h = chans[i] ? &chans[i]->hist : NULL;
        for (uint32_t j = 0; h && j < h->count; j++) {
            hr_event_t *e = h->ring[(h->head + j) % h->cap];
            if (e->seq > after_seq && (e->target & accepts))
                all[k++] = e;
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
