/* SPDX-License-Identifier: MIT
 * router.h: what a client connection becomes once its request head is read
 * (router.c), and the two streaming transports (sse_conn.c, ws_conn.c). */
#ifndef HR_ROUTER_H
#define HR_ROUTER_H

#include "net/conn.h"
#include "codec/http.h"

/* Dispatch a parsed request. rest holds bytes the client sent after the
 * head (the first WebSocket frames); they are consumed before returning. */
void hr_route(hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest, size_t rest_len);

/* 1 if origin[0..len) is in the comma-separated list ("*" matches any). */
int hr_origin_allowed(const char *list, const char *origin, size_t len);

/* Change the connection's kind, keeping the per-kind gauges right. */
void hr_conn_set_kind(hr_conn_t *c, int kind);
void hr_conn_free_statics(void);

/* GET /sse: answer with an event stream subscribed to the channels. */
void hr_sse_open(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                 size_t nchannels, hr_slice_t last_event_id, int has_last_event_id);

/* GET /ws: validate the handshake, answer 101, subscribe. */
void hr_ws_open(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                size_t nchannels, uint8_t *rest, size_t rest_len);
/* Bytes from a WebSocket client. */
void hr_ws_conn_read(hr_conn_t *c, uint8_t *data, size_t len);
/* Send a close frame with code and reason, then end the connection. */
void hr_ws_conn_close(hr_conn_t *c, uint16_t code, const char *reason);

#endif
