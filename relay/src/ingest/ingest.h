/* SPDX-License-Identifier: MIT
 * ingest.h: the publisher side (Contract 1): a Unix stream socket where
 * every PHP worker keeps one connection and writes msgpack frames, and the
 * shared-memory rings it may get (ring.h). Frames are released in
 * timestamp order to the loop's broker (core/broker.h). */
#ifndef HR_INGEST_H
#define HR_INGEST_H

#include "base/opt.h"
#include "core/loop.h"
#include "core/presence.h"

typedef struct hr_ingest_cfg {
    char *socket_path;         /* ingest Unix socket */
    int socket_mode;           /* permissions of the ingest socket (octal in the file) */
    char *socket_group;        /* group of the ingest socket ("" keeps ours) */
    long max_frame_bytes;      /* largest ingest frame */
    long ring_bytes;           /* largest shared-memory ring granted; 0: none */
    long ring_idle_ms;         /* ms without bytes before a ring is left to sleep */
    long max_publishers;       /* publisher connections open at most */
    long allow_world_writable; /* 1 lets socket_mode give others write access */
} hr_ingest_cfg_t;

extern hr_ingest_cfg_t hr_ingest_cfg;
extern const hr_opt_group_t hr_ingest_options;

typedef struct hr_ingest hr_ingest_t;

/* The ingest state of L (registers its metrics). */
hr_ingest_t *hr_ingest_new(hr_loop_t *L);

/* Create the socket (replacing a stale one only when no relay answers on
 * it), set its mode and group, listen. 0 or -1 (message logged). */
int hr_ingest_start(hr_ingest_t *ig);

/* 1 while the socket accepts publishers (readiness). */
int hr_ingest_ready(const hr_ingest_t *ig);

/* Publish, in timestamp order, every frame that is safe to release now
 * (the loop's check phase). With force, release everything (shutdown). */
void hr_ingest_release(hr_ingest_t *ig, int force);

/* Stop accepting, publish what publishers already wrote, close their
 * connections, remove the socket file. */
void hr_ingest_stop(hr_ingest_t *ig);

/* Publishers are told that the relay cannot take messages now (why), or
 * can again (NULL): their calls return false with the reason. */
void hr_ingest_set_refusing(hr_ingest_t *ig, const char *why);

void hr_ingest_free(hr_ingest_t *ig);

/* What a presence frame asks of core/presence.h: whether its channel is a
 * presence channel, then the members (a variable so unit tests can stand
 * in for a backend, one that answers later as a cluster's does). */
typedef struct hr_ingest_presence {
    int (*is)(const char *name, size_t len);
    void (*members)(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud);
} hr_ingest_presence_t;

extern hr_ingest_presence_t hr_ingest_presence;

#endif
