/* SPDX-License-Identifier: MIT
 * transport_herald.h: the herald.v1 WebSocket subprotocol (docs/PROTOCOL.md
 * 2.8), a transport (transport.h): JSON envelopes both ways, every publish
 * target, once per channel, per-channel resume. */
#ifndef HR_TRANSPORT_HERALD_H
#define HR_TRANSPORT_HERALD_H

#include "net/transport.h"
#include "net/ws_session.h"

#define HR_HERALD_PROTOCOL "herald.v1"

extern const hr_transport_t hr_transport_herald;

/* A GET /ws whose client offered herald.v1, upgraded (u: the 101 head,
 * the token, the hand-off flag; its claims are taken over): begin the
 * session and subscribe the query's channels, each answered by
 * subscribed. */
void hr_herald_start(struct hr_conn *c, hr_ws_upgrade_t *u, const hr_query_t *q, uint8_t *rest,
                     size_t rest_len);

#endif
