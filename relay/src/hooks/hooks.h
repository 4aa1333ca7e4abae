/* SPDX-License-Identifier: MIT
 * hooks.h: application hooks (Contract 5, docs/PROTOCOL.md 3): what clients
 * do and say goes to the application's own PHP-FPM pool as signed FastCGI
 * requests, and its answers come back to them. The module answers the
 * transports' questions (net/app.h) and holds a new stream until the
 * application accepted its connect and approved its channels. */
#ifndef HR_HOOKS_H
#define HR_HOOKS_H

#include "base/opt.h"
#include "codec/http.h"
#include "core/loop.h"
#include "net/app.h"
#include "net/conn.h"

typedef struct hr_hooks_cfg {
    char *fastcgi;    /* app_fastcgi: unix:/path or HOST:PORT; "" hooks off */
    char *script;     /* app_script: SCRIPT_FILENAME (absolute) */
    char *uri;        /* app_uri: REQUEST_URI and SCRIPT_NAME */
    char *events;     /* app_events: connect,subscribe,message,disconnect */
    char *headers;    /* app_headers: request headers passed on connect */
    char *channels;   /* app_channels: prefixes whose subscribes the app approves */
    long concurrency; /* app_concurrency: requests in flight (FPM workers taken), relay-wide */
    long batch;       /* app_batch: events per request at most */
    long timeout_ms;  /* app_timeout_ms: one request, connect retries included */
    long queue;       /* app_queue: events waiting, relay-wide */
    long idle_ms;     /* app_idle_ms: a kept FPM connection idle this long closes */
} hr_hooks_cfg_t;

extern hr_hooks_cfg_t hr_hooks_cfg;
extern const hr_opt_group_t hr_hooks_options;

typedef struct hr_hooks hr_hooks_t;

/* The hooks of loop L when app_fastcgi is set (net->app is set), else
 * NULL. */
hr_hooks_t *hr_hooks_new(hr_loop_t *L);

/* A held stream may go on: the router opens it from its request head
 * (copied) and the bytes that followed it. */
typedef void (*hr_hooks_open_fn)(hr_conn_t *c, const char *head, size_t head_len, uint8_t *rest,
                                 size_t rest_len);

/* A new stream (GET /sse, /ws) of channels: 0 when the application need
 * not be asked (open it now), 1 when the hooks hold it: they answer it
 * (403, 503) or call open once the application accepted the connect and
 * approved the channels that need it. transport: "sse", "ws", "herald.v1". */
int hr_hooks_hold(hr_hooks_t *h, hr_conn_t *c, const hr_http_request_t *req,
                  const hr_slice_t *channels, size_t n, const char *transport, uint8_t *rest,
                  size_t rest_len, hr_hooks_open_fn open);

void hr_hooks_free(hr_hooks_t *h);

#endif
