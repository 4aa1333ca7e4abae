/* SPDX-License-Identifier: MIT
 * pusher_api.h: the Pusher HTTP API (Contract 6, docs/PROTOCOL.md 4.9) on
 * the client listener, for servers that publish with a Pusher client
 * (pusher-http-node, pusher-php-server, Laravel's Pusher broadcaster):
 *
 *   POST /apps/{id}/events, /apps/{id}/batch_events    publish
 *   GET  /apps/{id}/channels[?filter_by_prefix=&info=user_count]
 *   GET  /apps/{id}/channels/{name}[?info=user_count,subscription_count]
 *   GET  /apps/{id}/channels/{name}/users
 *
 * Every request is signed (codec/pusher_sig.h) with the app's key and
 * secret (net/pusher.h); the signature, the timestamp window and the
 * body's MD5 are checked before anything is published. Publishes are a
 * publisher beside ingest, like POST /publish (ingest/http_publish.h): in
 * the check phase after ingest's release, in the order of their arrival,
 * answered once the broker took every event. */
#ifndef HR_PUSHER_API_H
#define HR_PUSHER_API_H

#include "codec/http.h"
#include "core/loop.h"

struct hr_conn;

typedef struct hr_pusher_api hr_pusher_api_t;

/* The API's state for loop L (registers its metrics). */
hr_pusher_api_t *hr_pusher_api_new(hr_loop_t *L);

/* With workers: subscription counts (info, occupied, the channel list)
 * are every loop's registry's. call runs fn(L_i, ud) on loop i's thread, or
 * returns -1 when loop i ended (app/loops.h: hr_loops_call); every one of
 * nloops loops is asked. Set before the loops run. */
typedef int (*hr_pusher_call_fn)(unsigned i, void (*fn)(hr_loop_t *L, void *ud), void *ud);
void hr_pusher_api_across(hr_pusher_api_t *api, unsigned nloops, hr_pusher_call_fn call);

/* The route for "/apps/" and below (app/server.h: hr_request_route_fn). */
void hr_pusher_api_request(void *ud, struct hr_conn *c, const hr_http_request_t *req, uint8_t *rest,
                           size_t rest_len);

/* Hand the publishes whose time has come to the broker (hr_release_fn). */
void hr_pusher_api_release(void *ud, int stopping);

/* After the loop ended. */
void hr_pusher_api_free(hr_pusher_api_t *api);

#endif
