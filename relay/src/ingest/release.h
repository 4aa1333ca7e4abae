/* SPDX-License-Identifier: MIT
 * release.h: the ordered release of publishes that arrive over HTTP
 * (POST /publish, the Pusher HTTP API). A request whose body is complete is
 * stamped with the time and waits for the check phase in which ingest
 * releases its frames up to the same time (ingest.c: the order guarantee
 * across publishers), then is published in arrival order. What both APIs
 * do alike is here; each keeps its own records, which begin with an
 * hr_release_item_t.
 *
 * With workers > 1 only the first loop reads ingest, so a request on
 * another loop waits, instead, until the first loop has released its
 * frames up to the request's time (hr_release_share). */
#ifndef HR_RELEASE_H
#define HR_RELEASE_H

#include "core/loop.h"

#include <uv.h>

typedef struct hr_release_item {
    struct hr_release_item *next;
    uint64_t ts; /* uv_hrtime() when the body was complete: its place in the order */
} hr_release_item_t;

typedef struct hr_release {
    hr_loop_t *loop;
    uv_idle_t idle; /* while items wait for this loop's next poll: it must not block */
    hr_release_item_t *head, *tail;
    int stopped; /* shutdown: nothing more is queued */
    int counted; /* workers > 1, not the first loop: counted as waiting (release.c) */
    void (*publish)(void *ud, hr_release_item_t *it);
    void *ud;
} hr_release_t;

void hr_release_init(hr_release_t *q, hr_loop_t *L,
                     void (*publish)(void *ud, hr_release_item_t *it), void *ud);

/* Stamp it and queue it (not once stopped: the caller refuses then). */
void hr_release_push(hr_release_t *q, hr_release_item_t *it);

/* The check phase: publish what arrived before this turn's poll began (all
 * when stopping; then the queue stops and closes its handle). */
void hr_release_run(hr_release_t *q, int stopping);

/* workers > 1, before any loop runs: n loops, and wake(i), which makes
 * loop i run a turn soon (its check phase; a no-op when it ended). Until
 * then (and always with one loop) a queue waits only for its own loop. */
void hr_release_share(unsigned n, void (*wake)(unsigned loop));

/* The first item left (after the loop ended: to free), taken off, or NULL. */
hr_release_item_t *hr_release_pop(hr_release_t *q);

#endif
