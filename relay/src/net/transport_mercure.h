/* SPDX-License-Identifier: MIT
 * transport_mercure.h: Mercure subscribers (GET /.well-known/mercure),
 * Contract 6's Mercure front (docs/PROTOCOL.md 5). */
#ifndef HR_TRANSPORT_MERCURE_H
#define HR_TRANSPORT_MERCURE_H

#include "codec/http.h"
#include "net/transport.h"

struct hr_conn;

extern const hr_transport_t hr_transport_mercure;

/* Open a subscription for the request (or refuse it: 400, 401). */
void hr_mercure_subscribe(struct hr_conn *c, const hr_http_request_t *req, uint8_t *rest,
                          size_t rest_len);

/* The CORS headers of an answer to req (mercure_cors_origins), into out. */
void hr_mercure_cors(const hr_http_request_t *req, char *out, size_t cap);

#endif
