/* SPDX-License-Identifier: MIT
 * mercure_api.h: the Mercure hub's endpoint, /.well-known/mercure
 * (Contract 6, docs/PROTOCOL.md 5): subscribe (GET, net/transport_mercure.h),
 * publish (POST, a form authorised by a JWT), CORS preflight (OPTIONS).
 * Publishes are a publisher beside ingest, like POST /publish and the
 * Pusher HTTP API: in the check phase after ingest's release, in the order
 * of their arrival, answered with the update's id once the broker took it. */
#ifndef HR_MERCURE_API_H
#define HR_MERCURE_API_H

#include "codec/http.h"
#include "core/loop.h"

struct hr_conn;

typedef struct hr_mercure_api hr_mercure_api_t;

/* The endpoint's state for loop L (registers its metrics). */
hr_mercure_api_t *hr_mercure_api_new(hr_loop_t *L);

/* The route for /.well-known/mercure (app/server.h: hr_request_route_fn). */
void hr_mercure_api_request(void *ud, struct hr_conn *c, const hr_http_request_t *req,
                            uint8_t *rest, size_t rest_len);

/* Hand the publishes whose time has come to the broker (hr_release_fn). */
void hr_mercure_api_release(void *ud, int stopping);

/* After the loop ended. */
void hr_mercure_api_free(hr_mercure_api_t *api);

#endif
