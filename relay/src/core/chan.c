/* SPDX-License-Identifier: MIT
 * chan.c: channel registry (base/hash.h's seeded table), subscriptions,
 * history rings of events and resume. */
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
    hr_metrics_add(reg, "herald_history_messages", HR_GAUGE, "Messages held in history.", NULL,
                   &r->history_messages);
    hr_metrics_add(reg, "herald_history_bytes", HR_GAUGE, "Bytes of messages held in history.",
                   NULL, &r->history_bytes);
    hr_metrics_add(reg, "herald_channels", HR_GAUGE, "Channels with subscribers or history.", NULL,
                   &r->channels);
    hr_metrics_add(reg, "herald_subscriptions", HR_GAUGE, "Subscriptions (connection, channel).",
                   NULL, &r->subscriptions);
}

static void hist_drop_head(hr_chans_t *r, hr_chan_t *ch)
{
    hr_hist_t *h = &ch->hist;
    hr_event_t *e = h->ring[h->head];
    h->dropped_seq = e->seq;
    r->history_messages--;
    r->history_bytes -= hr_event_size(e);
    hr_event_unref(e);
    h->head = (h->head + 1) % h->cap;
    h->count--;
}

static void chan_destroy(hr_chans_t *r, hr_chan_t *ch)
{
    while (ch->hist.count)
        hist_drop_head(r, ch);
    free(ch->hist.ring);
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
    memset(r, 0, sizeof *r);
}

hr_chan_t *hr_chan_find(hr_chans_t *r, const char *name, size_t len)
{
    hr_hnode_t *n = hr_htab_find(&r->tab, hr_hash(name, len), name, len, chan_eq);
    return n ? hr_container_of(n, hr_chan_t, node) : NULL;
}

static uint64_t *freed_slot(hr_chans_t *r, uint64_t hash)
{
    return &r->freed_dropped[hash & (HR_FREED_SLOTS - 1)];
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
    ch->hist.dropped_seq = *freed_slot(r, h);
    hr_htab_add(&r->tab, &ch->node, h);
    r->channels++;
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
    if (ch->busy || ch->nsubs || ch->hist.count)
        return;
    uint64_t *slot = freed_slot(r, ch->node.hash);
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

hr_sub_t *hr_chan_subscribe(hr_chans_t *r, const char *name, size_t len, void *owner, int accepts,
                            hr_sub_t **owner_subs)
{
    if (hr_chan_has(*owner_subs, name, len))
        return NULL;
    hr_chan_t *ch = hr_chan_get(r, name, len);
    hr_sub_t *s = hr_xmalloc(sizeof *s);
    int k = (accepts & HR_TARGET_ALL) - 1;
    s->ch = ch;
    s->owner = owner;
    s->accepts = (uint8_t)(accepts & HR_TARGET_ALL);
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
        ch->subs[s->accepts - 1] = s->next;
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

void hr_chan_keep(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev)
{
    hr_hist_t *h = &ch->hist;
    if (r->hist_size == 0) {
        h->dropped_seq = ev->seq; /* kept nothing: a resume from before it is a gap */
        return;
    }
    if (h->count == r->hist_size)
        hist_drop_head(r, ch);
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
    if (h->count == 0) {
        /* First event: join the list hr_chans_expire() walks. */
        ch->hprev_h = NULL;
        ch->hnext_h = r->with_hist;
        if (r->with_hist)
            r->with_hist->hprev_h = ch;
        r->with_hist = ch;
    }
    h->ring[(h->head + h->count) % h->cap] = hr_event_ref(ev);
    h->count++;
    r->history_messages++;
    r->history_bytes += hr_event_size(ev);
}

size_t hr_chan_publish(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev, int chan)
{
    size_t reached = 0;
    ch->busy = 1;
    for (int k = 0; k < HR_SUB_LISTS; k++) {
        if (((k + 1) & ev->target) == 0)
            continue;
        hr_sub_t *s = ch->subs[k];
        while (s) {
            /* deliver() may close its owner, which frees s: step first. */
            hr_sub_t *next = s->next;
            r->deliver(s->owner, ev, chan);
            reached++;
            s = next;
        }
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
            hist_drop_head(r, ch);
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
        uint64_t dropped = chans[i] ? chans[i]->hist.dropped_seq
                                    : *freed_slot(r, hr_hash(names[i].p, names[i].len));
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
