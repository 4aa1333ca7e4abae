/* SPDX-License-Identifier: MIT
 * router.c: turns a parsed request into a response: /sse, /ws, /healthz,
 * /metrics. Query parameters: channel (repeatable) and last_event_id. */
#include "app/config.h"
#include "base/log.h"
#include "app/metrics.h"
#include "app/relay.h"
#include "app/router.h"
#include "codec/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    char last_id[512]; /* as long as any query value (val below) */
    int has_last_id;
} query_t;

/* ---- who may subscribe (SECURITY.md) ---- */

/* The subscription token, from (first found wins) ?token=, Authorization:
 * Bearer, or the cookie herald_token. A query value is decoded into buf;
 * header values are used as sent. Returns 0 with *tok set (len 0: none),
 * or -1 when a token is present but too long or badly encoded. */
static int find_token(const hr_http_request_t *req, char *buf, size_t cap, hr_slice_t *tok)
{
    size_t pos = 0;
    char key[32];
    int r;
    *tok = (hr_slice_t){NULL, 0};
    while ((r = hr_http_query_next(req->query, &pos, key, sizeof key, buf, cap)) != 0) {
        if (strcmp(key, "token") == 0) {
            if (r < 0)
                return -1;
            *tok = (hr_slice_t){buf, strlen(buf)};
            return 0;
        }
    }
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len == 13 && strncasecmp(h->name.p, "Authorization", 13) == 0 &&
            h->value.len > 7 && strncasecmp(h->value.p, "Bearer ", 7) == 0) {
            hr_slice_t v = {h->value.p + 7, h->value.len - 7};
            while (v.len && v.p[0] == ' ') {
                v.p++;
                v.len--;
            }
            *tok = v;
            return 0;
        }
    }
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len != 6 || strncasecmp(h->name.p, "Cookie", 6) != 0)
            continue;
        /* "a=1; herald_token=xyz; b=2" (RFC 6265 5.4). */
        const char *p = h->value.p, *end = h->value.p + h->value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            if ((size_t)(stop - p) > 13 && memcmp(p, "herald_token=", 13) == 0) {
                *tok = (hr_slice_t){p + 13, (size_t)(stop - p - 13)};
                return 0;
            }
            p = stop;
        }
    }
    return 0;
}

static const char *const www_auth =
    "WWW-Authenticate: Bearer realm=\"herald\", error=\"invalid_token\"\r\n"
    "Content-Type: text/plain\r\n";

/* Decide whether this request may subscribe to its channels. Private
 * channels need a valid token whose claims name them. Returns 0 to go on
 * (with *claims set for a WebSocket, which keeps them for later
 * subscribes), or the status it answered with. */
static int authorize(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                     size_t n, int ws, hr_token_t **claims)
{
    *claims = NULL;
    size_t priv = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (hr_token_is_private(hr_cfg.private_prefixes, channels[i].p, channels[i].len) && !priv++)
            first = i;
    char *buf = hr_xmalloc(HR_TOKEN_MAX + 1);
    hr_slice_t tok;
    int bad_encoding = find_token(req, buf, HR_TOKEN_MAX + 1, &tok) != 0;
    if (priv == 0 && (!ws || tok.len == 0)) {
        free(buf);
        return 0;
    }
    int st = bad_encoding ? HR_TOKEN_MALFORMED
                          : hr_token_verify(tok.p, tok.len, (const uint8_t *)hr_cfg.secret,
                                            strlen(hr_cfg.secret), (int64_t)time(NULL),
                                            hr_cfg.token_skew, claims);
    free(buf);
    if (priv == 0) {
        /* A WebSocket with only public channels keeps a valid token for
         * later subscribes; a bad one is reported when it would be used. */
        return 0;
    }
    int status = 0;
    char msg[160];
    if (st == HR_TOKEN_NO_SECRET) {
        hr_metrics.auth_refused[HR_AUTH_NO_SECRET]++;
        status = 403;
        snprintf(msg, sizeof msg, "%s\n", hr_token_strerror(st));
    } else if (st != HR_TOKEN_OK) {
        hr_metrics.auth_refused[st == HR_TOKEN_MISSING ? HR_AUTH_NO_TOKEN : HR_AUTH_INVALID]++;
        status = 401;
        snprintf(msg, sizeof msg, "%s\n", hr_token_strerror(st));
    } else {
        for (size_t i = first; i < n; i++) {
            if (hr_token_is_private(hr_cfg.private_prefixes, channels[i].p, channels[i].len) &&
                !hr_token_allows(*claims, channels[i].p, channels[i].len)) {
                hr_metrics.auth_refused[HR_AUTH_FORBIDDEN]++;
                status = 403;
                snprintf(msg, sizeof msg, "token does not allow channel %.*s\n",
                         (int)channels[i].len, channels[i].p);
                break;
            }
        }
    }
    if (status == 0)
        return 0;
    free(*claims);
    *claims = NULL;
    hr_log(HR_LOG_DEBUG, "client %p: %s refused: %.*s", (void *)c, ws ? "/ws" : "/sse",
           (int)strcspn(msg, "\n"), msg);
    hr_conn_reply(c, status, status == 401 ? www_auth : NULL, msg, strlen(msg));
    return status;
}

/* 1 if origin is in the comma-separated list ("*" matches any). Origins
 * compare as sent, byte for byte (RFC 6454 serialisation). */
int hr_origin_allowed(const char *list, const char *origin, size_t len)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && p[t - 1] == ' ')
            t--;
        if ((t == 1 && p[0] == '*') || (t == len && t > 0 && memcmp(p, origin, len) == 0))
            return 1;
        p += n;
    }
    return 0;
}

/* WebSocket Origin allowlist (ws_origins): against cross-site WebSocket
 * hijacking, where a page on another site opens a socket that carries the
 * user's cookies. Browsers always send Origin; a request without one is
 * not from a browser page and is let through (it carries no ambient
 * credentials a page could abuse). Returns 1 to go on, 0 when answered. */
static int ws_origin_ok(hr_conn_t *c, const hr_http_request_t *req)
{
    if (hr_cfg.ws_origins[0] == '\0')
        return 1;
    const hr_http_header_t *o = hr_http_header_find(req, "Origin");
    if (o == NULL || hr_origin_allowed(hr_cfg.ws_origins, o->value.p, o->value.len))
        return 1;
    hr_metrics.auth_refused[HR_AUTH_ORIGIN]++;
    reply_text(c, 403, "origin not allowed\n");
    return 0;
}

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
    if (req->target.len > (size_t)hr_cfg.max_url_bytes) {
        hr_metrics.limit_hits[HR_LIMIT_URL]++;
        reply_text(c, 414, "URI too long\n");
        return;
    }
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
    hr_token_t *claims = NULL;
    if (parse_query(req, q, err, sizeof err) != 0) {
        reply_text(c, 400, err);
    } else if (sse && q->n == 0) {
        reply_text(c, 400, "at least one channel= is required\n");
    } else if (ws && !ws_origin_ok(c, req)) {
        /* answered */
    } else if (authorize(c, req, q->channels, q->n, ws, &claims) != 0) {
        /* answered */
    } else if (sse) {
        /* The header wins: a reconnecting EventSource sends it while the
         * URL still carries the id the page started with. */
        const hr_http_header_t *h = hr_http_header_find(req, "Last-Event-ID");
        hr_slice_t last = {q->last_id, strlen(q->last_id)};
        int has_last = q->has_last_id && last.len > 0;
        if (h && h->value.len > 0) {
            last = h->value;
            has_last = 1;
        }
        /* An empty id is what a page that never saw an event has: browsers
         * do not even send it, so it means a fresh stream, not a gap. */
        hr_sse_open(c, req, q->channels, q->n, last, has_last);
    } else {
        c->claims = claims;
        claims = NULL;
        hr_ws_open(c, req, q->channels, q->n, rest, rest_len);
    }
    free(claims);
    free(q);
}
