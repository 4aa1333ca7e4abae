/* SPDX-License-Identifier: MIT
 * hub.h: the one order of a relay that runs several loops (workers > 1).
 * Each loop has its own local broker, channel registry, history and
 * connections; the hub is what they share. A publish on any loop is placed
 * here once (the next seq, under one lock) and the same event, one
 * allocation with an atomic refcount, is queued to every loop's inbox in
 * that order, so each loop delivers and keeps every message in the order
 * of the id space, exactly as relays joined through Redis do, with a
 * reference where Redis needs a copy. A loop is woken by its async handle
 * and delivers its inbox on its own thread. */
#ifndef HR_HUB_H
#define HR_HUB_H

#include "core/broker.h"

#include <pthread.h>

typedef struct hr_hub_inbox {
    hr_event_t **q; /* queued events, each holding a reference */
    size_t n, cap;
    hr_broker_t *broker; /* the loop's local broker */
    uv_async_t wake;
    int open;       /* wake may be sent: the loop runs */
    int delivering; /* inside hr_hub_deliver (no re-entry) */
} hr_hub_inbox_t;

typedef struct hr_hub {
    pthread_mutex_t lock; /* seq and every inbox */
    uint64_t seq;         /* the last seq placed */
    unsigned nloops;
    hr_hub_inbox_t in[]; /* one per loop, by thread number (base/thread.h) */
} hr_hub_t;

hr_hub_t *hr_hub_new(unsigned nloops);

/* Loop i's broker b takes its inbox (on the thread that will run it, or
 * before that thread starts): wake is initialised on b's loop, unref'd
 * so that it never keeps the loop alive. */
void hr_hub_attach(hr_hub_t *h, unsigned i, hr_broker_t *b);

/* Place ev (its seq, id and time) and queue it to every loop, then wake
 * the others. The caller's own inbox is delivered by the caller. */
void hr_hub_place(hr_hub_t *h, hr_event_t *ev, uint64_t time_ms);

/* Deliver loop i's inbox: each event to the loop's subscribers and history,
 * in order. */
void hr_hub_deliver(hr_hub_t *h, unsigned i);

/* Loop i ends: no more wakes (what is queued stays, for the state file);
 * its wake handle is closed. */
void hr_hub_detach(hr_hub_t *h, unsigned i);

/* After every loop ended: the queued references are dropped. */
void hr_hub_free(hr_hub_t *h);

#endif
