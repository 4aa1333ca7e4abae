/* SPDX-License-Identifier: MIT
 * chan.h: the channel registry: subscriptions and history. A subscription
 * is an intrusive node on the channel's list and on its owner's list, so
 * subscribe and unsubscribe are O(1) apart from the duplicate check over the
 * owner's own (bounded) list. A channel keeps one list per kind of
 * subscriber (which publish targets it accepts, codec/frame.h), so a publish
 * walks only the subscribers it is for. History holds events (event.h),
 * bounded by count and age. Pure: an owner is an opaque pointer and
 * delivery is a function the registry is given (net's connection), so unit
 * tests drive it without sockets. */
#ifndef HR_CHAN_H
#define HR_CHAN_H

#include "base/common.h"
#include "base/hash.h"
#include "base/metrics.h"
#include "codec/channel_name.h"
#include "core/event.h"

#define HR_SUB_LISTS   3 /* one per accept mask: 1 SSE, 2 WS, 3 both */
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
    hr_hnode_t node;                   /* in the registry's table */
    struct hr_chan *hprev_h, *hnext_h; /* list of channels holding history */
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

typedef struct hr_chans {
    hr_htab_t tab;
    hr_chan_t *with_hist; /* channels whose history is not empty */
    /* What freed channels had dropped, by name hash: a channel created again
     * inherits its slot (a resume stays exact or says gap), and only names
     * sharing a slot share a watermark (no gap from unrelated channels). */
    uint64_t freed_dropped[HR_FREED_SLOTS];
    uint32_t hist_size; /* events per channel; 0 keeps none */
    uint64_t hist_ttl_ms;
    hr_deliver_fn deliver;
    hr_used_fn on_used;
    void *on_used_ud;
    /* gauges */
    uint64_t history_messages, history_bytes, channels, subscriptions;
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

/* Add ev to ch's history (takes a reference). */
void hr_chan_keep(hr_chans_t *r, hr_chan_t *ch, hr_event_t *ev);

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
