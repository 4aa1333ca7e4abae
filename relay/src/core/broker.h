/* SPDX-License-Identifier: MIT
 * broker.h: where published events go and come back from. A broker owns the
 * id space (epoch and seq), orders and stores what is published, delivers
 * it to the loop's subscribers, and answers resumes from its history. Two
 * implementations, chosen by configuration: local (broker_local.c: in-memory
 * history, one relay) and Redis (cluster/broker_redis.c: several relays share
 * one order and one history). Ingest and transports only ever call these
 * operations; what both brokers do alike (fan-out, ids, counting) is here. */
#ifndef HR_BROKER_H
#define HR_BROKER_H

#include "base/opt.h"
#include "core/event.h"
#include "core/loop.h"
#include "core/resume.h"
#include "core/state.h"

/* History settings, for every broker (INI keys and flags; base/opt.h). */
typedef struct hr_history_cfg {
    long history_size;      /* events kept per channel for resume; 0 disables */
    long history_ttl;       /* seconds an event stays in history */
    long history_max_bytes; /* history of every channel together; the oldest go first */
} hr_history_cfg_t;

extern hr_history_cfg_t hr_history_cfg;
extern const hr_opt_group_t hr_history_options;

/* A publish as ingest hands it over; slices valid during the call only. */
typedef struct hr_publish {
    int target; /* HR_TARGET_* */
    int binary;
    int json; /* data is validated JSON text (codec/frame.h) */
    long retry;
    hr_slice_t event, data;
    hr_slice_t except;  /* a connection that does not receive it (len 0: none) */
    hr_slice_t user;    /* the user who sent it (Pusher client events on presence channels) */
    hr_slice_t mercure; /* a Mercure update's metadata (codec/mercure.h); len 0: none */
    const hr_slice_t *channels;
    size_t nchannels;
} hr_publish_t;

/* Once the broker took the publish (id set, err NULL) or refused it (err). */
typedef void (*hr_published_fn)(void *ud, const char *id, size_t idlen, const char *err);

typedef struct hr_broker hr_broker_t;

/* The broker cannot take publishes any more (why: a backlog past its cap,
 * say), or can again (why NULL). The app passes it on to publishers, so
 * that their calls return false instead of losing messages. */
typedef void (*hr_accepting_fn)(void *ud, const char *why);

typedef struct hr_broker_ops {
    const char *name;
    /* Give the publish an id, store and deliver it; done is called exactly
     * once, possibly before this returns. */
    void (*publish)(hr_broker_t *b, const hr_publish_t *p, hr_published_fn done, void *ud);
    /* Find what r's owner missed after r->since and finish r (now or
     * later: hr_resume_finish). */
    void (*resume)(hr_broker_t *b, hr_resume_t *r);
    /* A fresh stream (r->fresh, no id) on r->channels, subscribed already:
     * find the position it starts from, tell its owner (sink->start), then
     * finish r like a resume from there. Everything published after the
     * owner's output begins must reach it; nothing published before the
     * position may. NULL: the broker's current position serves at once
     * (hr_broker_position), as for the local broker, which delivers in the
     * same step as it publishes. */
    void (*fresh)(hr_broker_t *b, hr_resume_t *r);
    /* A channel got its first local subscriber, or lost its last. */
    void (*channel_used)(hr_broker_t *b, const char *name, size_t len, int used);
    /* r's owner closed while r was in progress (r->owner is NULL now). */
    void (*conn_closed)(hr_broker_t *b, hr_resume_t *r);
    /* The periodic sweep (history expiry). */
    void (*sweep)(hr_broker_t *b, uint64_t now_ms);
    /* Shutdown: stop taking publishes; let what is in flight finish. */
    void (*stop)(hr_broker_t *b);
    /* A clean restart (app/state.c, state_file): write the id space and
     * history (0, or -1 when the sink failed), and take them back before
     * the relay serves. NULL when the broker keeps them elsewhere (Redis). */
    int (*save)(hr_broker_t *b, const hr_state_meta_t *m, hr_state_sink_fn sink, void *ud,
                hr_state_stats_t *stats);
    void (*load)(hr_broker_t *b, const hr_state_t *st, uint64_t wall_ms);
    void (*free)(hr_broker_t *b);
} hr_broker_ops_t;

struct hr_broker {
    const hr_broker_ops_t *ops;
    hr_loop_t *loop;
    struct hr_hub *hub;           /* the loops' shared order (core/hub.h); NULL: one loop */
    char epoch[HR_EPOCH_MAX + 1]; /* the id space */
    size_t epoch_len;
    uint64_t seq;                 /* the last id handed out or seen */
    hr_accepting_fn on_accepting; /* set by the app; may be NULL */
    void *on_accepting_ud;
    const char *refusing; /* why publishes are refused now, or NULL */
    /* counters */
    uint64_t published[HR_TARGET_DIRECT + 1]; /* by target */
    uint64_t published_mercure;               /* Mercure updates, public or private */
    uint64_t resumes_exact, resumes_gap;
};

/* Set the common part and register its metrics. */
void hr_broker_init(hr_broker_t *b, const hr_broker_ops_t *ops, hr_loop_t *L);

/* The id of the last event: where a fresh subscriber starts. */
size_t hr_broker_position(const hr_broker_t *b, char out[HR_ID_MAX]);

/* 1 and *seq when id is of this broker's id space, else 0. */
int hr_broker_parse_id(const hr_broker_t *b, hr_slice_t id, uint64_t *seq);

/* Deliver ev to the loop's subscribers of its channels; with keep, add it
 * to their local history first. The event's encodings are dropped after. */
void hr_broker_fanout(hr_broker_t *b, hr_event_t *ev, int keep);

/* Count a publish by its target. */
void hr_broker_count(hr_broker_t *b, int target);

/* Say whether the broker takes publishes (why NULL) or not, once per change. */
void hr_broker_set_accepting(hr_broker_t *b, const char *why);

/* Finish r and count it (exact or gap; a fresh stream is no resume and
 * is not counted). */
void hr_broker_resume_done(hr_broker_t *b, hr_resume_t *r);

#endif
