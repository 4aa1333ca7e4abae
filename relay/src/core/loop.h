/* SPDX-License-Identifier: MIT
 * loop.h: the state of one event loop, passed down instead of kept in
 * globals: the libuv loop, the channel registry, the broker, the metrics
 * registry, and the layers above as opaque pointers (each module owns its
 * own struct). One relay runs one loop today; keeping everything per loop is
 * what lets it run one loop per thread later. A libuv handle finds its loop
 * state through uv_loop_t.data. */
#ifndef HR_LOOP_H
#define HR_LOOP_H

#include "base/metrics.h"
#include "core/chan.h"

#include <uv.h>

struct hr_broker;
struct hr_net;
struct hr_presence;

typedef struct hr_loop {
    uv_loop_t *uv;
    hr_chans_t chans;
    struct hr_broker *broker;
    struct hr_presence *presence; /* core/presence.h; NULL: no presence */
    hr_metrics_t metrics;
    struct hr_net *net;     /* net/net.h */
    void *app;              /* the app layer's state (app/server.h) */
    uint64_t poll_start_ns; /* uv_hrtime() just before the loop last polled */
    /* Every Mercure update the loop delivers, before its fan-out (the
     * front's id index, net/mercure.c); NULL: none. */
    void (*on_mercure)(void *ud, struct hr_event *ev);
    void *on_mercure_ud;
    uint64_t start_ns;
} hr_loop_t;

/* Set up L around uv (uv->data = L), with the channel registry. */
void hr_loop_init(hr_loop_t *L, uv_loop_t *uv, uint32_t hist_size, uint64_t hist_ttl_ms);

/* Free what hr_loop_init made (the broker and net are their owners'). */
void hr_loop_free(hr_loop_t *L);

static inline hr_loop_t *hr_loop_of(const uv_handle_t *h)
{
    return h->loop->data;
}

static inline uint64_t hr_loop_now_ms(const hr_loop_t *L)
{
    return uv_now(L->uv);
}

#endif
