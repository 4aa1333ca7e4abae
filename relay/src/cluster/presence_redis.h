/* SPDX-License-Identifier: MIT
 * presence_redis.h: cluster presence (core/presence.h) through the Redis
 * of cluster mode: every relay's members in Redis, refreshed while the
 * relay lives and expiring when it does not, so a crashed relay's members
 * leave by themselves. Keys, scripts and figures: presence_redis.c. */
#ifndef HR_PRESENCE_REDIS_H
#define HR_PRESENCE_REDIS_H

#include "core/presence.h"

/* How often each relay removes expired entries (and publishes the leaves
 * of users no relay holds any more). A relay that died without a word has
 * its members leave within presence_ttl_ms + HR_PRESENCE_SWEEP_MS (and a
 * Redis round trip) after its last refresh. */
#define HR_PRESENCE_SWEEP_MS 2000

/* The Redis backend on L (sets L->presence), on its own link to redis_url
 * (the `redis` setting); connects in the background. NULL on a bad URL
 * (logged). loop: the loop's index (workers): in Redis each loop counts as
 * a relay of its own, named hr_relay_id() with the index XORed into its
 * low bits (loop 0: hr_relay_id() itself), so a user's tabs on two loops
 * are two entries and one loop's stop touches only its own. Only loop 0
 * sweeps expired entries. */
hr_presence_t *hr_presence_redis_new(hr_loop_t *L, const char *redis_url, unsigned loop);

#endif
