/* SPDX-License-Identifier: MIT
 * cluster.h: cluster mode (--redis URL): several relays share channels,
 * global event ids, history and resume through one Redis. Without --redis
 * none of this runs and the relay is the single-node default.
 * Design, guarantees and limits: docs/ARCHITECTURE.md. */
#ifndef HR_CLUSTER_H
#define HR_CLUSTER_H

#include "base/common.h"
#include "net/conn.h"

/* 1 when --redis was given (set by hr_cluster_start). */
extern int hr_cluster_on;

/* Parse the URL, hook the channel registry, start connecting (never
 * waits). 0 or -1 (bad URL, message logged). */
int hr_cluster_start(const char *url);

/* Shutdown: let replies in flight come back, then drop both links. */
void hr_cluster_stop(void);

/* Called once Redis accepted (id set, err NULL) or refused (err set). */
typedef void (*hr_cluster_done_fn)(void *ud, const char *id, size_t idlen, const char *err);

/* Publish through Redis: the script gives the message its global id,
 * appends it to the channels' Streams (SSE) and PUBLISHes it; every relay,
 * this one included, delivers it when it comes back on pub/sub. done is
 * called exactly once, possibly before this returns (Redis unavailable,
 * backlog full). */
void hr_cluster_publish(int transport, int binary, long retry, hr_slice_t event, hr_slice_t data,
                        const hr_slice_t *channels, size_t n, hr_cluster_done_fn done, void *ud);

/* SSE resume from Redis for a connection already subscribed to the
 * channels. Returns 0 when cluster mode took the resume over (replay and
 * gap come later, live messages wait until then), -1 when the id is not of
 * this cluster's epoch (the caller sends the usual gap). */
int hr_cluster_resume(hr_conn_t *c, const hr_slice_t *channels, size_t n, hr_slice_t last_id);

/* The connection is closing: forget its pending resume. */
void hr_cluster_conn_closed(hr_conn_t *c);

/* Prometheus lines for the Redis link; malloc'd, *len bytes. */
char *hr_cluster_metrics(size_t *len);

#endif
