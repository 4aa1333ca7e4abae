/* SPDX-License-Identifier: MIT
 * transport_sse.h: Server-Sent Events (GET /sse), a transport (transport.h). */
#ifndef HR_TRANSPORT_SSE_H
#define HR_TRANSPORT_SSE_H

#include "base/opt.h"
#include "net/transport.h"

typedef struct hr_sse_cfg {
    long retry_min, retry_max; /* range of the first retry: hint, in ms */
    char *cors_origin;         /* origins allowed to read /sse ("*" any, "" none) */
} hr_sse_cfg_t;

extern hr_sse_cfg_t hr_sse_cfg;
extern const hr_opt_group_t hr_sse_options;
extern const hr_transport_t hr_transport_sse;

/* The route: answer with an event stream subscribed to the query's channels,
 * resuming from Last-Event-ID. */
void hr_sse_open(struct hr_conn *c, const hr_http_request_t *req, const hr_query_t *q,
                 uint8_t *rest, size_t rest_len);

#endif
