/* SPDX-License-Identifier: MIT
 * transport_pusher.h: the Pusher Channels protocol 7 over WebSocket
 * (docs/PROTOCOL.md 4), a transport (transport.h), so that pusher-js and
 * laravel-echo work unchanged: GET /app/{key}, public, private and
 * presence channels with Pusher's channel signatures, client events,
 * events published by PHP to the same channels. */
#ifndef HR_TRANSPORT_PUSHER_H
#define HR_TRANSPORT_PUSHER_H

#include "net/transport.h"

#define HR_PUSHER_TRANSPORT "pusher"
#define HR_PUSHER_PATH      "/app/" /* followed by the key */

extern const hr_transport_t hr_transport_pusher;

/* The route of GET /app/{key} (app/router.c, when hr_pusher_enabled()):
 * the WebSocket upgrade, then the key and protocol checks (answered
 * with pusher:error and a close), then pusher:connection_established. */
void hr_pusher_open(struct hr_conn *c, const hr_http_request_t *req, uint8_t *rest,
                    size_t rest_len);

#endif
