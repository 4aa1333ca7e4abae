/* SPDX-License-Identifier: MIT
 * transport_ws.h: WebSocket (GET /ws, RFC 6455), a transport (transport.h). */
#ifndef HR_TRANSPORT_WS_H
#define HR_TRANSPORT_WS_H

#include "base/opt.h"
#include "net/transport.h"

typedef struct hr_ws_cfg {
    long max_message;          /* largest client WebSocket message (1009 past it) */
    long max_messages_per_sec; /* client WebSocket messages per second (1008 past it) */
    char *origins;             /* Origins allowed to open /ws ("" any) */
} hr_ws_cfg_t;

extern hr_ws_cfg_t hr_ws_cfg;
extern const hr_opt_group_t hr_ws_options;
extern const hr_transport_t hr_transport_ws;

/* The route: validate the handshake, answer 101, subscribe. */
void hr_ws_open(struct hr_conn *c, const hr_http_request_t *req, const hr_query_t *q, uint8_t *rest,
                size_t rest_len);

#endif
