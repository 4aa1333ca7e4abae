/* SPDX-License-Identifier: MIT
 * transport_ws.h: WebSocket (GET /ws, RFC 6455), a transport (transport.h):
 * the route, and raw mode (Contract 2). Its settings are in ws_session.h. */
#ifndef HR_TRANSPORT_WS_H
#define HR_TRANSPORT_WS_H

#include "net/transport.h"
#include "net/ws_session.h"

extern const hr_transport_t hr_transport_ws;

/* The route: validate the handshake, answer 101 (with herald.v1 when the
 * client offers it: transport_herald.h), subscribe. */
void hr_ws_open(struct hr_conn *c, const hr_http_request_t *req, const hr_query_t *q, uint8_t *rest,
                size_t rest_len);

#endif
