/* SPDX-License-Identifier: MIT
 * router.c: turns a parsed request into a response: /healthz, /metrics, the
 * routes transports were given (/sse, /ws), and the routes that read whole
 * requests themselves (/publish). Query parameters of a streaming route:
 * channel (repeatable) and last_event_id. */
#include "app/config.h"
#include "app/loops.h"
#include "app/server.h"
#include "base/log.h"
#include "hooks/hooks.h"
#include "net/conn.h"
#include "net/pusher.h"
#include "net/transport_pusher.h"
#include "net/ws_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int path_is(const hr_http_request_t *req, const char *p)
{
    size_t n = strlen(p);
    return req->path.len == n && memcmp(req->path.p, p, n) == 0;
}

/* A route path ending in '/' (/apps/) takes everything below it. */
static int path_under(const hr_http_request_t *req, const char *p)
{
    size_t n = strlen(p);
    return n > 1 && p[n - 1] == '/' && req->path.len > n && memcmp(req->path.p, p, n) == 0;
}

static int method_is(const hr_http_request_t *req, const char *m)
{
    size_t n = strlen(m);
    return req->method.len == n && memcmp(req->method.p, m, n) == 0;
}

static void reply_text(hr_conn_t *c, int status, const char *text)
{
    hr_conn_reply(c, status, NULL, text, strlen(text));
}

/* Channel names and the last event id decoded from the query. Names are
 * decoded into one arena so the slices stay valid for the open call. */
static int parse_query(const hr_http_request_t *req, hr_query_t *q, char *err, size_t errlen)
{
    size_t pos = 0;
    char key[32], val[512];
    int r;
    while ((r = hr_http_query_next(req->query, &pos, key, sizeof key, val, sizeof val)) != 0) {
        if (r < 0) {
            /* A parameter we do not use may be anything (a long token, say);
             * only a bad channel or id makes the request bad. */
            if (strcmp(key, "channel") != 0 && strcmp(key, "last_event_id") != 0)
                continue;
            break;
        }
        if (strcmp(key, "channel") == 0) {
            size_t len = strlen(val);
            if (!hr_chan_name_valid(val, len)) {
                snprintf(err, errlen, "invalid channel name\n");
                return -1;
            }
            if (q->n >= (size_t)hr_net_cfg.max_channels || q->n >= HR_ARRAY_SIZE(q->channels)) {
                snprintf(err, errlen, "too many channels (at most %ld)\n", hr_net_cfg.max_channels);
                return -1;
            }
            memcpy(q->arena + q->used, val, len);
            q->channels[q->n++] = (hr_slice_t){q->arena + q->used, len};
            q->used += len;
        } else if (strcmp(key, "last_event_id") == 0) {
            size_t n = strnlen(val, sizeof q->last_id_buf - 1);
            memcpy(q->last_id_buf, val, n);
            q->last_id_buf[n] = '\0';
            q->last_id = (hr_slice_t){q->last_id_buf, n};
            q->has_last_id = 1;
        }
    }
    if (r < 0) {
        snprintf(err, errlen, "malformed query string\n");
        return -1;
    }
    return 0;
}

/* 200 "ok"; to HEAD the same head without the content (RFC 9110 9.3.2). */
static void reply_ok(hr_conn_t *c, int with_body)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n"
                               "Content-Type: text/plain\r\n\r\n";
    if (with_body) {
        hr_conn_reply(c, 200, "Content-Type: text/plain\r\n", "ok\n", 3);
        return;
    }
    hr_conn_send_copy(c, head, sizeof head - 1);
    hr_conn_end(c);
}

static void reply_metrics(hr_conn_t *c)
{
    if (hr_loops_count() > 1) {
        hr_metrics_gather(c);
        return;
    }
    size_t len;
    char *body = hr_metrics_render(&hr_conn_loop(c)->metrics, &len);
    hr_conn_reply(c, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", body, len);
    free(body);
}

/* A stream the hooks held goes on: the same head parsed the same way. */
static void reopen(hr_conn_t *c, const char *head, size_t head_len, uint8_t *rest, size_t rest_len)
{
    hr_server_t *s = hr_conn_loop(c)->app;
    hr_http_request_t req;
    if (hr_http_parse_request(head, head_len, head_len, &req) != (ssize_t)head_len) {
        reply_text(c, 500, "request lost\n");
        return;
    }
    const hr_route_t *route = NULL;
    for (size_t i = 0; i < s->nroutes && route == NULL; i++)
        if (path_is(&req, s->routes[i].path))
            route = &s->routes[i];
    hr_query_t *q = hr_xmalloc(sizeof *q);
    q->n = q->used = 0;
    q->has_last_id = 0;
    q->last_id = (hr_slice_t){q->last_id_buf, 0};
    q->last_id_buf[0] = '\0';
    char err[128];
    if (route == NULL || route->open == NULL || parse_query(&req, q, err, sizeof err) != 0)
        reply_text(c, 500, "request lost\n");
    else
        route->open(c, &req, q, rest, rest_len);
    free(q);
}

void hr_route(hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest, size_t rest_len)
{
    hr_server_t *s = hr_conn_loop(c)->app;
    int is_get = method_is(req, "GET");
    if (req->target.len > (size_t)hr_app_cfg.max_url_bytes) {
        s->limit_url++;
        reply_text(c, 414, "URI too long\n");
        return;
    }
    if (path_is(req, "/healthz")) {
        if (!is_get && !method_is(req, "HEAD"))
            hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        else if (hr_server_ready(s))
            reply_ok(c, is_get);
        else
            reply_text(c, 503, s->shutting_down ? "shutting down\n" : "not ready\n");
        return;
    }
    /* With metrics_listen, /metrics is there only (operators who do not
     * want it public); that listener serves nothing else but /healthz. */
    int separate = hr_app_cfg.metrics_listen[0] != '\0';
    int on_metrics = c->listener_tag == HR_LISTENER_METRICS;
    if (on_metrics && !path_is(req, "/metrics")) {
        reply_text(c, 404, "not found: this listener serves /metrics and /healthz\n");
        return;
    }
    if (path_is(req, "/metrics") && (!separate || on_metrics)) {
        if (!is_get)
            hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        else
            reply_metrics(c);
        return;
    }
    /* The Pusher front's /app/{key}: a path with a parameter, and no
     * connect hook (a Pusher client's user is named by its signed
     * presence channel_data). */
    size_t plen = strlen(HR_PUSHER_PATH);
    if (hr_pusher_enabled() && req->path.len > plen &&
        memcmp(req->path.p, HR_PUSHER_PATH, plen) == 0) {
        if (!is_get)
            hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        else
            hr_pusher_open(c, req, rest, rest_len);
        return;
    }
    const hr_route_t *route = NULL;
    for (size_t i = 0; i < s->nroutes && route == NULL; i++)
        if (path_is(req, s->routes[i].path) || path_under(req, s->routes[i].path))
            route = &s->routes[i];
    if (route == NULL) {
        reply_text(c, 404, "not found: try /sse, /ws, /healthz or /metrics\n");
        return;
    }
    if (route->request) {
        /* It answers in its own format, a shutdown included. */
        route->request(route->ud, c, req, rest, rest_len);
        return;
    }
    if (!is_get) {
        hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        return;
    }
    /* While the relay shuts down, the transport refuses the stream in its
     * own way (net->stopping), so that each kind of client comes back. */
    hr_query_t *q = hr_xmalloc(sizeof *q);
    q->n = q->used = 0;
    q->has_last_id = 0;
    q->last_id = (hr_slice_t){q->last_id_buf, 0};
    q->last_id_buf[0] = '\0';
    char err[128];
    if (parse_query(req, q, err, sizeof err) != 0) {
        reply_text(c, 400, err);
    } else if (s->hooks == NULL) {
        route->open(c, req, q, rest, rest_len);
    } else {
        /* Application hooks: the connection is the application's to
         * accept (connect) and its channels to approve first. */
        const char *t = path_is(req, "/sse")             ? "sse"
                        : hr_ws_offers(req, "herald.v1") ? "herald.v1"
                                                         : "ws";
        hr_conn_app(c);
        if (!hr_hooks_hold(s->hooks, c, req, q->channels, q->n, t, rest, rest_len, reopen))
            route->open(c, req, q, rest, rest_len);
    }
    free(q);
}
