/* SPDX-License-Identifier: MIT
 * chan.h: the channel registry: subscriptions and history. A subscription
 * is an intrusive node on the channel's list and on its owner's list, so
 * subscribe and unsubscribe are O(1) apart from the duplicate check over the
 * owner's own (bounded) list. A channel keeps one list per kind of
 * subscriber (which publish targets it accepts, codec/frame.h), so a publish
 * walks only the subscribers it is for. History holds events (event.h),
 * bounded by count and age per channel, and by bytes across the registry:
 * past hist_max_bytes the oldest events go first, whatever their channel.
 * Events are kept in seq order and their times never decrease with seq, so
 * the channel whose oldest event has the lowest seq also holds the oldest
 * event by time. Pure: an owner is an opaque pointer and
 * delivery is a function the registry is given (net's connection), so unit
 * tests drive it without sockets. */
#ifndef HR_CHAN_H
#define HR_CHAN_H

#include "base/common.h"
#include "base/hash.h"
#include "base/metrics.h"
#include "codec/channel_name.h"
#include "core/event.h"

/* A channel's subscribers in lists by what they accept (HR_TARGET_*
 * bits): SSE without WS, WS without SSE, both, neither (the relay's own
 * presence and direct events only). A publish walks only the lists that
 * can accept it. */
#define HR_SUB_LISTS   4
#define HR_FREED_SLOTS 256

struct hr_chan;

typedef struct hr_sub {
    struct hr_chan *ch;
    void *owner;
    struct hr_sub *prev, *next; /* on the channel's list for its accept mask */
    struct hr_sub *owner_next;  /* on the owner's list */
    uint8_t accepts;            /* HR_TARGET_* bits */
} hr_sub_t;

typedef struct hr_hist {
    hr_event_t **ring; /* oldest at head; seq increases along the ring */
    uint32_t head, count, cap;
    uint64_t dropped_seq; /* highest seq that left this history (evicted or expired) */
} hr_hist_t;

typedef struct hr_chan {
    hr_hnode_t node;   /* in the registry's table */
    uint32_t heap_idx; /* 1 + place in the registry's heap; 0: no history */
    uint64_t heap_key; /* seq of its oldest event when last placed (a lower bound) */
    hr_sub_t *subs[HR_SUB_LISTS];
    uint32_t nsubs;
    uint16_t name_len;
    uint8_t busy; /* fan-out in progress: do not free */
    hr_hist_t hist;
    char name[];
} hr_chan_t;

/* Deliver ev to owner, for the channel ev->channels[chan]. */
typedef void (*hr_deliver_fn)(void *owner, hr_event_t *ev, int chan);

/* A channel got its first subscriber (used 1) or lost its last (used 0). */
typedef void (*hr_used_fn)(void *ud, const char *name, size_t len, int used);

/* Why events left history (herald_history_evictions_total{reason}). */
enum hr_evict { HR_EVICT_COUNT, HR_EVICT_AGE, HR_EVICT_BYTES, HR_EVICT_REASONS };

typedef struct hr_chans {
    hr_htab_t tab;
    /* Channels whose history is not empty, a min-heap on the seq of their
     * oldest event: the byte cap and expiry take from its top. */
    hr_chan_t **heap;
    uint32_t nheap, capheap;
    /* What freed channels had dropped, by name hash: a channel created again
     * inherits its slot (a resume stays exact or says gap), and only names
     * sharing a slot share a watermark (no gap from unrelated channels). */
    uint64_t freed_dropped[HR_FREED_SLOTS];
    uint64_t slot_key[2]; /* the slots' hash key (zero until the loop draws one) */
    uint32_t hist_size;   /* events per channel; 0 keeps none */
    uint64_t hist_ttl_ms;
    uint64_t hist_max_bytes; /* cap on history_bytes, every channel together; 0: none */
    hr_deliver_fn deliver;
    hr_used_fn on_used;
    void *on_used_ud;
    /* gauges */
    uint64_t history_messages, history_bytes, channels, subscriptions;
    /* counters */
    uint64_t evicted[HR_EVICT_REASONS];
} hr_chans_t;

void hr_chans_init(hr_chans_t *r, uint32_t hist_size, uint64_t hist_ttl_ms);
/* Frees every channel and history reference. Subscriptions must be gone. */
void hr_chans_free(hr_chans_t *r);
/* Register the registry's gauges. */
void hr_chans_metrics(hr_chans_t *r, hr_metrics_t *reg);

hr_chan_t *hr_chan_find(hr_chans_t *r, const char *name, size_t len);
/* Find or create. */
hr_chan_t *hr_chan_get(hr_chans_t *r, const char *name, size_t len);

/* Subscribe owner to the channel, accepting publishes of the targets in
 * accepts, linking the new node onto *owner_subs. Returns the node, or
 * NULL when owner already is subscribed to it. */
hr_sub_t *hr_chan_subscribe(hr_chans_t *r, const char *name, size_t len, void *owner, int accepts,
                            hr_sub_t **owner_subs);

/* Remove owner's subscription to name; returns 1 if there was one. */
int hr_chan_unsubscribe(hr_chans_t *r, const char *name, size_t len, hr_sub_t **owner_subs);

/* Remove every subscription on the owner's list. */
void hr_chan_unsubscribe_all(hr_chans_t *r, hr_sub_t **owner_subs);

/* Subscriptions on the owner's list. */
size_t hr_chan_count(const hr_sub_t *owner_subs);

/* 1 if the owner's list holds a subscription to name. */
int hr_chan_has(const hr_sub_t *owner_subs, const char *name, size_t len);

/* Deliver ev to every subscriber of ch that accepts its target (ch is
 * ev->channels[chan]). The delivery function may unsubscribe its own
 * owner. Returns the subscribers reached. */
size_t hr_chan_publish(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev, int chan);

/* Add ev to ch's history (takes a reference). Past hist_max_bytes, the
 * oldest events of the registry leave (ev too, if it alone is larger);
 * channels emptied so are freed, but never ch itself. */
void hr_chan_keep(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev);

/* Restoring history (core/state.c): the channel, created if needed with
 * dropped as its watermark (not its slot's), else with its watermark raised
 * to at least dropped, and kept from being freed (even
 * empty, even by the byte cap) until hr_chan_release, which frees it if
 * nothing holds it then. */
hr_chan_t *hr_chan_hold(hr_chans_t *r, const char *name, size_t len, uint64_t dropped);
void hr_chan_release(hr_chans_t *r, hr_chan_t *ch);

/* Drop history older than the TTL; free channels left with nothing. */
void hr_chans_expire(hr_chans_t *r, uint64_t now_ms);

/* Resume: the events with seq > after_seq held for any of the n channels
 * whose target is in accepts, in seq order, each once, through emit. Sets
 * gap[i] = 1 for each channel whose history no longer holds everything
 * after after_seq. Returns the number of gapped channels. */
typedef void (*hr_emit_fn)(hr_event_t *ev, void *ud);
size_t hr_chans_replay(hr_chans_t *r, const hr_slice_t *names, size_t n, uint64_t after_seq,
                       int accepts, uint64_t now_ms, uint8_t *gap, hr_emit_fn emit, void *ud);

#endif
