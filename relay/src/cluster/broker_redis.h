/* SPDX-License-Identifier: MIT
 * broker_redis.h: cluster mode (redis = URL): a broker (core/broker.h) that
 * shares channels, global event ids, history and resume with the other
 * relays of one Redis. Without the setting none of this runs and the relay
 * uses the local broker. Design, guarantees and limits: docs/ARCHITECTURE.md. */
#ifndef HR_BROKER_REDIS_H
#define HR_BROKER_REDIS_H

#include "base/opt.h"
#include "core/broker.h"

typedef struct hr_cluster_cfg {
    char *redis;        /* redis://HOST:PORT or unix:///path; "" off */
    long backlog_bytes; /* publishes kept while Redis has not answered them */
} hr_cluster_cfg_t;

extern hr_cluster_cfg_t hr_cluster_cfg;
extern const hr_opt_group_t hr_cluster_options;

/* Parse the URL, start connecting (never waits). NULL on a bad URL
 * (message logged). stop_timeout_ms bounds the wait for the last replies
 * at shutdown. */
hr_broker_t *hr_broker_redis_new(hr_loop_t *L, const char *url, long stop_timeout_ms);

#endif
