/* SPDX-License-Identifier: MIT
 * mercure.h: what the Mercure front's parts share (Contract 6,
 * docs/PROTOCOL.md 5): its settings and keys, the JWT a request brings, the
 * channels of an update, and the index from Mercure ids to Herald
 * positions.
 *
 * Topics are Herald's channels: an update is published to the channel of
 * each of its topics (codec/mercure.h's encoding) and to the internal
 * firehose "#mercure", which template subscribers follow and which every
 * relay with the front on keeps subscribed (so that, through Redis, a
 * template subscriber anywhere sees every update, and every relay knows
 * every id). Mercure ids are the publisher's; the relay remembers the
 * position of the last mercure_ids of them, so a Last-Event-ID that is a
 * Mercure id resumes from its Herald position. */
#ifndef HR_NET_MERCURE_H
#define HR_NET_MERCURE_H

#include "base/common.h"
#include "base/opt.h"
#include "codec/channel_name.h"
#include "codec/http.h"
#include "codec/jwt.h"
#include "codec/mercure.h"
#include "core/id.h"
#include "core/loop.h"

#define HR_MERCURE_PATH "/.well-known/mercure"

typedef struct hr_mercure_cfg {
    char *jwt_key, *jwt_key_file, *jwt_alg;
    char *pub_key, *pub_key_file, *pub_alg;
    char *sub_key, *sub_key_file, *sub_alg;
    long anonymous;      /* 1: subscribers without a JWT get public updates */
    char *cors_origins;  /* "", "*" or a comma-separated list */
    char *cookie_name;   /* the subscriber's (and a browser publisher's) JWT cookie */
    long heartbeat;      /* s of silence before a ":" comment; 0: none */
    long max_body_bytes; /* largest publish form */
    long ids;            /* Mercure ids remembered for Last-Event-ID */
} hr_mercure_cfg_t;

extern hr_mercure_cfg_t hr_mercure_cfg;
extern const hr_opt_group_t hr_mercure_options;

/* 1 if the front is configured (a publisher key is set). */
int hr_mercure_enabled(void);

/* Free the keys (after the loop ended). */
void hr_mercure_keys_free(void);

/* The JWT of a request: "Authorization: Bearer", else the cookie. With
 * from_cookie, *from_cookie says which. len 0: none. */
hr_slice_t hr_mercure_request_jwt(const hr_http_request_t *req, int *from_cookie);

/* Verify a JWT with the publisher's (publish 1) or the subscriber's key
 * and read its Mercure claims. HR_JWT_OK and *claims (free()), or a status. */
int hr_mercure_verify(hr_slice_t jwt, int publish, hr_mercure_claims_t **claims);

/* The channels of an update: each topic's, then the firehose; names are
 * written into names. Returns the count (ntopics + 1). */
typedef struct hr_mercure_names {
    char buf[HR_MERCURE_TOPICS_MAX][HR_CHANNEL_MAX + 1];
    hr_slice_t channels[HR_MERCURE_TOPICS_MAX + 1];
} hr_mercure_names_t;
size_t hr_mercure_channels(const hr_mercure_meta_t *m, hr_mercure_names_t *out);

/* ---- the id index, per loop ---- */

typedef struct hr_mercure_index hr_mercure_index_t;

/* Start the index of loop L: it sees every update the loop delivers
 * (L->on_mercure) and keeps the firehose subscribed. */
hr_mercure_index_t *hr_mercure_index_new(hr_loop_t *L);
void hr_mercure_index_free(hr_mercure_index_t *x);

/* The Herald id of the update with Mercure id mid, into out: its length, or
 * 0 when the relay does not remember it. */
size_t hr_mercure_index_find(const hr_mercure_index_t *x, hr_slice_t mid, char out[HR_ID_MAX]);

/* The Mercure id of the update at Herald position seq, or len 0. */
hr_slice_t hr_mercure_index_at(const hr_mercure_index_t *x, uint64_t seq);

#endif
