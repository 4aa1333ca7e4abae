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
 * themselves when a relay dies). */
#ifndef HR_PRESENCE_H
#define HR_PRESENCE_H

#include "base/common.h"
#include "base/opt.h"
#include "core/loop.h"

typedef struct hr_presence_cfg {
    char *prefixes; /* presence_prefixes: comma-separated channel prefixes */
    long leave_ms;  /* presence_leave_ms: a last tab's leave waits this long */
    long ttl_ms;    /* presence_ttl_ms: cluster entries of a dead relay expire */
} hr_presence_cfg_t;

extern hr_presence_cfg_t hr_presence_cfg;
extern const hr_opt_group_t hr_presence_options;

/* The members of a channel: JSON text of [{"user":U,"info":I},...] sorted
 * by user (NULL with err on failure). Called exactly once, possibly before
 * hr_presence_members returns; json is valid during the call only. */
typedef void (*hr_presence_fn)(void *ud, const char *json, size_t len, const char *err);

typedef struct hr_presence hr_presence_t;

/* 1 if name is a presence channel (under presence_prefixes). */
int hr_presence_is(const char *name, size_t len);

/* The local backend on L (sets L->presence). */
hr_presence_t *hr_presence_local_new(hr_loop_t *L);

/* A tab of user subscribed to the presence channel ch, with the member's
 * info (JSON text, len 0: null). */
void hr_presence_add(hr_presence_t *p, hr_slice_t ch, hr_slice_t user, hr_slice_t info);

/* A tab of user left ch (unsubscribed or closed). */
void hr_presence_remove(hr_presence_t *p, hr_slice_t ch, hr_slice_t user);

/* The members of ch (see hr_presence_fn). */
void hr_presence_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud);

/* The periodic sweep (delayed leaves, refreshes, expiry). */
void hr_presence_sweep(hr_presence_t *p, uint64_t now_ms);

/* Shutdown: a clean stop leaves no member behind (cluster: remove this
 * relay's entries). */
void hr_presence_stop(hr_presence_t *p);

void hr_presence_free(hr_presence_t *p);

#endif
