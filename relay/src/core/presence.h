/* SPDX-License-Identifier: MIT
 * presence.h: who is on a presence channel (Contract 5). Members are users,
 * not connections: this module counts a user's subscriptions ("tabs") per
 * relay and turns them into one join when the user's first tab anywhere
 * subscribes and one leave presence_leave_ms after the last tab anywhere
 * is gone (a reload within that delay is no leave and no join). Join and
 * leave are published through the broker (target HR_TARGET_PRESENCE, event
 * "herald.join"/"herald.leave", data {"channel","user","info"} as JSON), so
 * they reach every relay's subscribers in the channel's order. Two
 * backends, like the broker's: local (one relay, presence.c) and Redis
 * (cluster/presence_redis.c: members of every relay, expiring by
 * themselves when a relay dies). What both do alike (the table of this
 * relay's members, tab counts, the leave delay, the JSON, the metrics) is
 * here; a backend only decides the cross-relay steps (ops below). */
#ifndef HR_PRESENCE_H
#define HR_PRESENCE_H

#include "base/common.h"
#include "base/hash.h"
#include "base/opt.h"
#include "core/loop.h"

/* Longest member info kept (JSON text); a longer one is kept as null. */
#define HR_PRESENCE_INFO_MAX 8192
/* Longest user name (Contract 5: 1-200 bytes of the channel alphabet). */
#define HR_PRESENCE_USER_MAX 200

typedef struct hr_presence_cfg {
    char *prefixes; /* presence_prefixes: comma-separated channel prefixes */
    long leave_ms;  /* presence_leave_ms: a last tab's leave waits this long */
    long ttl_ms;    /* presence_ttl_ms: cluster entries of a dead relay expire */
} hr_presence_cfg_t;

extern hr_presence_cfg_t hr_presence_cfg;
extern const hr_opt_group_t hr_presence_options;

/* The members of a channel: JSON text of [{"user":U,"info":I},...] sorted
 * by user (NULL with err on failure). Called exactly once, possibly before
 * hr_presence_members returns, also when the relay stops meanwhile (err);
 * not at all after hr_presence_forget(p, ud). json is valid during the
 * call only. */
typedef void (*hr_presence_fn)(void *ud, const char *json, size_t len, const char *err);

typedef struct hr_presence hr_presence_t;

/* This relay's name: 8 lowercase hex characters, random per start (drawn
 * on first use). Redis entries carry it; connection ids may too. */
const char *hr_relay_id(void);

/* 1 if name is a presence channel (under presence_prefixes; the list
 * syntax of private prefixes, codec/token.h). */
int hr_presence_is(const char *name, size_t len);

/* The local backend on L (sets L->presence). L->broker must be set before
 * the first add. */
hr_presence_t *hr_presence_local_new(hr_loop_t *L);

/* The loops of one relay (workers > 1) share members: one table for the
 * process, and a presence per loop on it (the Redis backend's steps,
 * across loops instead of relays). */
typedef struct hr_presence_shared hr_presence_shared_t;
hr_presence_shared_t *hr_presence_shared_new(void);
hr_presence_t *hr_presence_shared_loop_new(hr_loop_t *L, hr_presence_shared_t *s);
/* After every loop's presence was freed. */
void hr_presence_shared_free(hr_presence_shared_t *s);

/* A tab of user subscribed to the presence channel ch, with the member's
 * info (JSON text, len 0: null; text that is not one JSON value, or longer
 * than HR_PRESENCE_INFO_MAX, is null too). The user's info is the last
 * tab's. The slices are copied. */
void hr_presence_add(hr_presence_t *p, hr_slice_t ch, hr_slice_t user, hr_slice_t info);

/* A tab of user left ch (unsubscribed or closed). Each add is matched by
 * one remove; a remove without a tab is ignored. */
void hr_presence_remove(hr_presence_t *p, hr_slice_t ch, hr_slice_t user);

/* The members of ch (see hr_presence_fn). Local: users with a tab here or
 * a leave still pending (no leave published yet). Cluster: users with an
 * unexpired entry of any relay; err "redis unavailable" without Redis. */
void hr_presence_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud);

/* Members queries of ud still in flight will not call back (its owner is
 * going away). */
void hr_presence_forget(hr_presence_t *p, void *ud);

/* The periodic sweep (app/server.c, every second): cluster refresh and
 * expiry of dead relays' entries. Leaves due after the delay have their
 * own timer and do not wait for it. */
void hr_presence_sweep(hr_presence_t *p, uint64_t now_ms);

/* Shutdown, before the broker stops (the leaves are publishes): a clean
 * stop leaves no member behind. Local: every member leaves now. Cluster:
 * this relay's entries are handed over, expiring presence_leave_ms later,
 * so another relay's sweep publishes each leave once unless the user came
 * back meanwhile (a client that reconnects elsewhere does not flicker).
 * Later adds and removes are ignored. Closes the module's handles: call
 * hr_presence_free after the loop ran their close callbacks. */
void hr_presence_stop(hr_presence_t *p);

void hr_presence_free(hr_presence_t *p);

/* ---- for backends ---- */

struct hr_pchan;

/* A user of a presence channel with a tab on this relay, or whose leave
 * is pending. */
typedef struct hr_pmember {
    hr_hnode_t node; /* in its channel's table of users */
    struct hr_pchan *ch;
    struct hr_pmember *lprev, *lnext; /* on the pending-leave list, in deadline order */
    uint64_t leave_at;                /* ms (loop time); 0: not pending */
    uint32_t tabs;
    uint32_t bstate; /* the backend's */
    char *info;      /* JSON text; NULL: null */
    size_t info_len;
    size_t user_len;
    char user[];
} hr_pmember_t;

typedef struct hr_pchan {
    hr_hnode_t node;
    hr_htab_t users; /* hr_pmember_t */
    size_t name_len;
    char name[];
} hr_pchan_t;

enum hr_presence_kind { HR_PRESENCE_JOIN, HR_PRESENCE_LEAVE, HR_PRESENCE_EXPIRED };

typedef struct hr_presence_ops {
    const char *name;
    /* m got its first tab on this relay (first 1), or a tab brought a new
     * info (first 0). Local: the first anywhere: join. */
    void (*here)(hr_presence_t *p, hr_pmember_t *m, int first);
    /* m's leave delay passed: it leaves this relay (m is freed right after
     * the call: copy what is kept). Local: the last anywhere: leave. */
    void (*gone)(hr_presence_t *p, const hr_pmember_t *m);
    void (*members)(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud);
    void (*forget)(hr_presence_t *p, void *ud); /* NULL: answers are synchronous */
    void (*sweep)(hr_presence_t *p, uint64_t now_ms);
    void (*stop)(hr_presence_t *p);
    void (*free)(hr_presence_t *p);
} hr_presence_ops_t;

/* Told of each join (joined 1) and leave this relay publishes: exactly once
 * per cluster (Pusher's member_added/member_removed webhooks). */
typedef void (*hr_presence_observer_fn)(void *ud, int joined, hr_slice_t ch, hr_slice_t user);

struct hr_presence {
    const hr_presence_ops_t *ops;
    hr_presence_observer_fn observer; /* or NULL */
    void *observer_ud;
    hr_loop_t *loop;
    char relay_id[9]; /* hr_relay_id(); a test may run two "relays" in one process */
    hr_htab_t chans;  /* hr_pchan_t */
    hr_pmember_t *pending_head, *pending_tail;
    uv_timer_t leave_timer; /* the first pending leave's deadline */
    uint64_t timer_at;      /* when it fires; 0: not armed */
    int stopped;
    /* metrics */
    uint64_t here_users; /* gauge: users with a tab here */
    uint64_t joins, leaves, expired, unpublished;
};

/* Set the common part (table, timer, metrics) and L->presence. */
void hr_presence_init(hr_presence_t *p, const hr_presence_ops_t *ops, hr_loop_t *L);

/* Free the common part (the table; the timer was closed by stop). */
void hr_presence_deinit(hr_presence_t *p);

/* Publish a join or leave of user on ch through the loop's broker and count
 * it (an expired leave counts as a leave and as expired). info: JSON text
 * as stored (len 0: null). */
void hr_presence_publish(hr_presence_t *p, enum hr_presence_kind kind, hr_slice_t ch,
                         hr_slice_t user, hr_slice_t info);

/* Set (fn NULL: clear) the one observer of joins and leaves. */
void hr_presence_observe(hr_presence_t *p, hr_presence_observer_fn fn, void *ud);

/* This relay's member (ch, user), or NULL. */
hr_pmember_t *hr_presence_find(hr_presence_t *p, hr_slice_t ch, hr_slice_t user);

/* Every member of this relay, pending ones too (no add or remove from fn). */
void hr_presence_each(hr_presence_t *p, void (*fn)(void *ud, hr_pmember_t *m), void *ud);

/* The JSON text of members sorted by user: n pairs of (user, info) slices,
 * info len 0 or not one JSON value: null. malloc'd, *len bytes. Sorts u. */
typedef struct hr_presence_entry {
    hr_slice_t user, info;
} hr_presence_entry_t;
char *hr_presence_json(hr_presence_entry_t *u, size_t n, size_t *len);

/* 1 if info is kept as it is (one JSON value in UTF-8, at most
 * HR_PRESENCE_INFO_MAX bytes), else 0 (kept as null). */
int hr_presence_info_ok(hr_slice_t info);

#endif
