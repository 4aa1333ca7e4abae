/* SPDX-License-Identifier: MIT
 * router.c: turns a parsed request into a response: /sse, /ws, /healthz,
 * /metrics. Query parameters: channel (repeatable) and last_event_id. */
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int path_is(const hr_http_request_t *req, const char *p)
{
    size_t n = strlen(p);
    return req->path.len == n && memcmp(req->path.p, p, n) == 0;
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
typedef struct query {
    hr_slice_t channels[256];
    size_t n;
    char arena[256 * (HR_CHANNEL_MAX + 1)];
    size_t used;
    char last_id[256];
    int has_last_id;
} query_t;

static int parse_query(const hr_http_request_t *req, query_t *q, char *err, size_t errlen)
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
            if (q->n >= (size_t)hr_cfg.max_channels || q->n >= HR_ARRAY_SIZE(q->channels)) {
                snprintf(err, errlen, "too many channels (at most %ld)\n", hr_cfg.max_channels);
                return -1;
            }
            memcpy(q->arena + q->used, val, len);
            q->channels[q->n++] = (hr_slice_t){q->arena + q->used, len};
            q->used += len;
        } else if (strcmp(key, "last_event_id") == 0) {
            size_t n = strnlen(val, sizeof q->last_id - 1);
            memcpy(q->last_id, val, n);
            q->last_id[n] = '\0';
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
    size_t len;
    double up = (double)(uv_hrtime() - hr_relay.start_ns) / 1e9;
    char *body = hr_metrics_render(&len, hr_relay.max_conns, up);
    hr_conn_reply(c, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", body, len);
    free(body);
}

void hr_route(hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest, size_t rest_len)
{
    int is_get = method_is(req, "GET");
    if (path_is(req, "/healthz")) {
        if (!is_get && !method_is(req, "HEAD"))
            hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        else if (hr_relay.listening && hr_relay.ingest_ready && !hr_relay.shutting_down)
            reply_ok(c, is_get);
        else
            reply_text(c, 503, "not ready\n");
        return;
    }
    if (path_is(req, "/metrics")) {
        if (!is_get)
            hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        else
            reply_metrics(c);
        return;
    }
    int sse = path_is(req, "/sse"), ws = path_is(req, "/ws");
    if (!sse && !ws) {
        reply_text(c, 404, "not found: try /sse, /ws, /healthz or /metrics\n");
        return;
    }
    if (!is_get) {
        hr_conn_reply(c, 405, "Allow: GET\r\n", "", 0);
        return;
    }
    if (hr_relay.shutting_down) {
        reply_text(c, 503, "shutting down\n");
        return;
    }
    query_t *q = hr_xmalloc(sizeof *q);
    q->n = q->used = 0;
    q->has_last_id = 0;
    char err[128];
    if (parse_query(req, q, err, sizeof err) != 0) {
        reply_text(c, 400, err);
    } else if (sse) {
        if (q->n == 0) {
            reply_text(c, 400, "at least one channel= is required\n");
        } else {
            /* The header wins: a reconnecting EventSource sends it while the
             * URL still carries the id the page started with. */
            const hr_http_header_t *h = hr_http_header_find(req, "Last-Event-ID");
            hr_slice_t last = {q->last_id, strlen(q->last_id)};
            int has_last = q->has_last_id;
            if (h) {
                last = h->value;
                has_last = 1;
            }
            hr_sse_open(c, req, q->channels, q->n, last, has_last);
        }
    } else {
        hr_ws_open(c, req, q->channels, q->n, rest, rest_len);
    }
    free(q);
}
