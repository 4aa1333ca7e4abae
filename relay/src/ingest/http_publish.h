/* SPDX-License-Identifier: MIT
 * http_publish.h: the HTTP publish API (PROTOCOL.md 3), for publishers on
 * other hosts or in other languages: POST /publish on the relay's listener,
 * a JSON body (codec/publish_req.h), authorised by a bearer token whose
 * "publish" claim covers every channel (codec/token.h). Off unless
 * publish_api = 1. It is a publisher like the ingest socket, so it lives
 * beside it: it takes requests from the router (a request route, app/
 * server.h), reads their bodies through the connection (net/conn.h), and
 * hands the messages to the loop's broker in the check phase right after
 * ingest's own release (hr_server_on_release), stamped with the time their
 * body was complete, so that the order guarantee across publishers holds
 * for it too (PROTOCOL.md 1.5). The answer goes out once the broker took
 * every message (with Redis: once Redis answered). */
#ifndef HR_HTTP_PUBLISH_H
#define HR_HTTP_PUBLISH_H

#include "base/opt.h"
#include "codec/http.h"
#include "core/loop.h"

struct hr_conn;

typedef struct hr_publish_api_cfg {
    long enabled;      /* publish_api: 1 serves POST /publish */
    long max_bytes;    /* publish_max_bytes: largest body (413 past it) */
    long max_messages; /* publish_max_messages: most messages in one body (413) */
} hr_publish_api_cfg_t;

extern hr_publish_api_cfg_t hr_publish_api_cfg;
extern const hr_opt_group_t hr_publish_api_options;

typedef struct hr_http_publish hr_http_publish_t;

/* The API's state for loop L (registers its metrics). */
hr_http_publish_t *hr_http_publish_new(hr_loop_t *L);

/* The route (app/server.h: hr_request_route_fn; ud is the API). */
void hr_http_publish_request(void *ud, struct hr_conn *c, const hr_http_request_t *req,
                             uint8_t *rest, size_t rest_len);

/* Hand the requests whose time has come to the broker (app/server.h:
 * hr_release_fn): each check phase, and all of them at shutdown. */
void hr_http_publish_release(void *ud, int stopping);

/* After the loop ended. */
void hr_http_publish_free(hr_http_publish_t *api);

#endif
