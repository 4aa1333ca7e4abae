/* SPDX-License-Identifier: MIT
 * http_publish.c: POST /publish (http_publish.h). A request goes through
 * these steps, each of which may refuse it with a JSON error, a counter and
 * a debug line:
 *
 *   head    method (405), bearer token with a "publish" claim (401, 403),
 *           media type (415), body framing and size (400, 411, 413, 417):
 *           all before any body byte is read or "100 Continue" sent, so a
 *           client without a valid token never makes the relay hold a body;
 *   body    the JSON (400; 413 past publish_max_messages), every channel
 *           covered by the token (403): all or nothing;
 *   queue   stamped with the time the body was complete, it waits for the
 *           check phase in which ingest releases frames up to that time;
 *   broker  each message is published in order; the answer, 200 with the
 *           ids or 503 naming which were not taken, goes out when the
 *           broker has called back for every one.
 *
 * A request is one record that holds the connection (hr_conn_pend). If the
 * client goes away while its request is queued or publishing, the messages
 * are still published (the body was whole and accepted, as ingest publishes
 * what a publisher wrote before leaving) and nobody is answered. */
#include "ingest/http_publish.h"
#include "base/log.h"
#include "codec/frame.h"
#include "codec/publish_req.h"
#include "codec/token.h"
#include "core/broker.h"
#include "ingest/release.h"
#include "net/auth.h"
#include "net/conn.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

hr_publish_api_cfg_t hr_publish_api_cfg;

static int check(char *err, size_t errlen)
{
    /* Every request needs a token, and a token needs the secret. */
    if (hr_publish_api_cfg.enabled && hr_auth_cfg.secret[0] == '\0') {
        snprintf(err, errlen,
                 "publish_api = 1 needs the token secret (secret_file, secret or HERALD_SECRET)");
        return -1;
    }
    return 0;
}

#define C(field) (&hr_publish_api_cfg.field)
static const hr_opt_t opts[] = {
    {"publish_api", HR_OPT_LONG, C(enabled), 0, 1, "0",
     "1: serve POST /publish, the HTTP publish API, to bearers of publish tokens (0)"},
    {"publish_max_bytes", HR_OPT_LONG, C(max_bytes), 1024, 64L << 20, "1048576",
     "largest POST /publish body, bytes (1048576)"},
    {"publish_max_messages", HR_OPT_LONG, C(max_messages), 1, 10000, "100",
     "most messages in one POST /publish body (100)"},
};
#undef C

const hr_opt_group_t hr_publish_api_options = {opts, HR_ARRAY_SIZE(opts), check};

enum reason {
    R_METHOD,      /* 405 */
    R_NO_TOKEN,    /* 401 */
    R_BAD_TOKEN,   /* 401 */
    R_FORBIDDEN,   /* 403: no publish claim, a channel outside it, no secret */
    R_MEDIA_TYPE,  /* 415 */
    R_FRAMING,     /* 400: Content-Length, Transfer-Encoding */
    R_LENGTH,      /* 411 */
    R_EXPECT,      /* 417 */
    R_TOO_LARGE,   /* 413: the body */
    R_TOO_MANY,    /* 413: the messages */
    R_INVALID,     /* 400: the JSON */
    R_UNAVAILABLE, /* 503: the broker refused, or the relay is stopping */
    R_COUNT
};

static const char *const reason_labels[R_COUNT] = {
    [R_METHOD] = "reason=\"method\"",           [R_NO_TOKEN] = "reason=\"no_token\"",
    [R_BAD_TOKEN] = "reason=\"invalid_token\"", [R_FORBIDDEN] = "reason=\"forbidden\"",
    [R_MEDIA_TYPE] = "reason=\"media_type\"",   [R_FRAMING] = "reason=\"framing\"",
    [R_LENGTH] = "reason=\"length_required\"",  [R_EXPECT] = "reason=\"expectation\"",
    [R_TOO_LARGE] = "reason=\"too_large\"",     [R_TOO_MANY] = "reason=\"too_many_messages\"",
    [R_INVALID] = "reason=\"invalid\"",         [R_UNAVAILABLE] = "reason=\"unavailable\"",
};

typedef struct pub_req pub_req_t;

struct hr_http_publish {
    hr_loop_t *loop;
    hr_release_t rel; /* requests waiting for their turn (ingest/release.h) */
    uint64_t requests, messages, pending, refused[R_COUNT];
};

/* What the broker's callback needs: the request and the message's index. */
typedef struct slot {
    pub_req_t *rec;
    size_t i;
} slot_t;

struct pub_req {
    hr_conn_pending_t hold; /* first: the connection's hold on this request */
    hr_http_publish_t *api;
    hr_conn_t *c;       /* NULL once the client is gone */
    hr_token_t *claims; /* until the body is checked */
    hr_publish_req_t req;
    hr_release_item_t item; /* its place in the order */
    uint8_t queued;         /* in the queue or publishing: outlives its connection */
    size_t answered, failed;
    slot_t *slots;
    char (*ids)[HR_ID_MAX]; /* "" for a message not taken */
    char error[160];        /* the first broker error */
};

static const char json_headers[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";

/* A JSON string for s (an error text), into out. */
static size_t json_quote(const char *s, char *out, size_t cap)
{
    json_t *j = json_string(s);
    size_t n = j ? json_dumpb(j, out, cap, JSON_ENCODE_ANY) : 0;
    json_decref(j);
    if (n == 0 || n > cap) {
        snprintf(out, cap, "\"error\"");
        n = 7;
    }
    return n;
}

static void vrefuse(hr_http_publish_t *api, hr_conn_t *c, int keep, int status, enum reason r,
                    const char *headers, const char *fmt, va_list ap)
{
    char msg[320], q[400], body[440], hdr[320];
    vsnprintf(msg, sizeof msg, fmt, ap);
    api->refused[r]++;
    hr_log(HR_LOG_DEBUG, "publish api: client %p: %d: %s", (void *)c, status, msg);
    size_t ql = json_quote(msg, q, sizeof q);
    int n = snprintf(body, sizeof body, "{\"ok\":false,\"error\":%.*s}\n", (int)ql, q);
    snprintf(hdr, sizeof hdr, "%s%s", json_headers, headers ? headers : "");
    /* Before the token was accepted the connection closes (an anonymous
     * client gets no keep-alive); after it, it may carry the next request. */
    if (keep)
        hr_conn_respond(c, status, hdr, body, (size_t)n);
    else
        hr_conn_reply(c, status, hdr, body, (size_t)n);
}

static void refuse(hr_http_publish_t *api, hr_conn_t *c, int keep, int status, enum reason r,
                   const char *headers, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void refuse(hr_http_publish_t *api, hr_conn_t *c, int keep, int status, enum reason r,
                   const char *headers, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vrefuse(api, c, keep, status, r, headers, fmt, ap);
    va_end(ap);
}

static void rec_free(pub_req_t *rec)
{
    free(rec->claims);
    hr_publish_req_free(&rec->req);
    free(rec->slots);
    free(rec->ids);
    free(rec);
}

/* The client went away (or its body did not arrive in time). */
static void on_gone(hr_conn_pending_t *p)
{
    pub_req_t *rec = (pub_req_t *)p;
    rec->c = NULL;
    if (!rec->queued)
        rec_free(rec);
}

/* "application/json", with an optional charset that must be UTF-8. */
static int media_type_ok(const hr_http_request_t *req)
{
    const hr_http_header_t *h = hr_http_header_find(req, "Content-Type");
    if (h == NULL)
        return 0;
    const char *p = h->value.p, *end = p + h->value.len;
    const char *semi = memchr(p, ';', h->value.len);
    const char *t = semi ? semi : end;
    while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
        t--;
    if (t - p != 16 || strncasecmp(p, "application/json", 16) != 0)
        return 0;
    while (semi) {
        p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq == NULL || eq - p != 7 || strncasecmp(p, "charset", 7) != 0)
            continue;
        const char *v = eq + 1, *ve = stop;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
            v++;
            ve--;
        }
        if (!((ve - v == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
              (ve - v == 4 && strncasecmp(v, "utf8", 4) == 0)))
            return 0;
    }
    return 1;
}

static const char www_auth_required[] = "WWW-Authenticate: Bearer realm=\"herald\"\r\n";
static const char www_auth_invalid[] =
    "WWW-Authenticate: Bearer realm=\"herald\", error=\"invalid_token\"\r\n";

/* The bearer token's claims, or NULL having answered the request. Only the
 * Authorization header: a token in the query would land in access logs,
 * and a cookie would let any page a logged-in browser visits publish. */
static hr_token_t *authorize(hr_http_publish_t *api, hr_conn_t *c, const hr_http_request_t *req)
{
    const hr_http_header_t *h = hr_http_header_find(req, "Authorization");
    if (h == NULL || h->value.len < 7 || strncasecmp(h->value.p, "Bearer ", 7) != 0) {
        refuse(api, c, 0, 401, R_NO_TOKEN, www_auth_required,
               "token required (Authorization: Bearer <token with a publish claim>)");
        return NULL;
    }
    hr_slice_t tok = {h->value.p + 7, h->value.len - 7};
    while (tok.len && (tok.p[0] == ' ' || tok.p[0] == '\t')) {
        tok.p++;
        tok.len--;
    }
    const char *secret = hr_auth_cfg.secret;
    hr_token_t *claims = NULL;
    int st = hr_token_verify(tok.p, tok.len, (const uint8_t *)secret, strlen(secret),
                             (int64_t)time(NULL), hr_auth_cfg.token_skew, &claims);
    if (st == HR_TOKEN_NO_SECRET) {
        refuse(api, c, 0, 403, R_FORBIDDEN, NULL, "%s", hr_token_strerror(st));
        return NULL;
    }
    if (st != HR_TOKEN_OK) {
        refuse(api, c, 0, 401, st == HR_TOKEN_MISSING ? R_NO_TOKEN : R_BAD_TOKEN,
               st == HR_TOKEN_MISSING ? www_auth_required : www_auth_invalid, "%s",
               hr_token_strerror(st));
        return NULL;
    }
    if (claims->npublish == 0) {
        free(claims);
        refuse(api, c, 0, 403, R_FORBIDDEN, NULL,
               "token does not allow publishing (no \"publish\" claim)");
        return NULL;
    }
    return claims;
}

static void on_body(void *ud, hr_conn_t *c, const hr_http_request_t *req, const uint8_t *body,
                    size_t len);

void hr_http_publish_request(void *ud, hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest,
                             size_t rest_len)
{
    hr_http_publish_t *api = ud;
    api->requests++;
    if (api->rel.stopped) {
        refuse(api, c, 0, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "relay shutting down");
        return;
    }
    if (req->method.len != 4 || memcmp(req->method.p, "POST", 4) != 0) {
        refuse(api, c, 0, 405, R_METHOD, "Allow: POST\r\n", "use POST");
        return;
    }
    hr_token_t *claims = authorize(api, c, req);
    if (claims == NULL)
        return;
    if (!media_type_ok(req)) {
        free(claims);
        refuse(api, c, 0, 415, R_MEDIA_TYPE, "Accept-Post: application/json\r\n",
               "the body must be Content-Type: application/json (UTF-8)");
        return;
    }
    pub_req_t *rec = hr_xcalloc(1, sizeof *rec);
    rec->hold.gone = on_gone;
    rec->api = api;
    rec->c = c;
    rec->claims = claims;
    hr_conn_pend(c, &rec->hold);
    int st = hr_conn_read_body(c, req, rest, rest_len, (size_t)hr_publish_api_cfg.max_bytes,
                               on_body, rec);
    if (st == 0)
        return; /* on_body has run, or will */
    rec_free(rec);
    switch (st) {
    case 411:
        refuse(api, c, 0, 411, R_LENGTH, NULL,
               "a body with Content-Length is required (chunked bodies are not read)");
        break;
    case 413:
        refuse(api, c, 0, 413, R_TOO_LARGE, NULL, "body larger than publish_max_bytes (%ld)",
               hr_publish_api_cfg.max_bytes);
        break;
    case 417:
        refuse(api, c, 0, 417, R_EXPECT, NULL, "the only expectation served is 100-continue");
        break;
    default:
        refuse(api, c, 0, 400, R_FRAMING, NULL,
               "bad body framing (Content-Length, Transfer-Encoding)");
        break;
    }
}

/* The body is whole: check it, then queue it for its release. */
static void on_body(void *ud, hr_conn_t *c, const hr_http_request_t *req, const uint8_t *body,
                    size_t len)
{
    pub_req_t *rec = ud;
    hr_http_publish_t *api = rec->api;
    char err[256];
    int rc = hr_publish_req_parse((const char *)body, len, (size_t)hr_publish_api_cfg.max_messages,
                                  &rec->req, err, sizeof err);
    if (rc != 0) {
        rec_free(rec);
        if (rc == HR_PUBLISH_REQ_TOO_MANY)
            refuse(api, c, 1, 413, R_TOO_MANY, NULL, "%s (publish_max_messages)", err);
        else
            refuse(api, c, 1, 400, R_INVALID, NULL, "%s", err);
        return;
    }
    size_t n = rec->req.n;
    for (size_t i = 0; i < n; i++) {
        const hr_publish_msg_t *m = &rec->req.msgs[i];
        for (size_t j = 0; j < m->nchannels; j++) {
            if (hr_token_allows_publish(rec->claims, m->channels[j].p, m->channels[j].len))
                continue;
            char why[300];
            hr_slice_t ch = m->channels[j];
            snprintf(why, sizeof why, "token does not allow publishing to channel '%.*s'",
                     (int)ch.len, ch.p);
            rec_free(rec); /* ch pointed into it */
            if (n > 1)
                refuse(api, c, 1, 403, R_FORBIDDEN, NULL, "messages[%zu]: %s", i, why);
            else
                refuse(api, c, 1, 403, R_FORBIDDEN, NULL, "%s", why);
            return;
        }
    }
    if (api->rel.stopped) {
        rec_free(rec);
        refuse(api, c, 1, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "relay shutting down");
        return;
    }
    free(rec->claims);
    rec->claims = NULL;
    rec->slots = hr_xcalloc(rec->req.n, sizeof *rec->slots);
    rec->ids = hr_xcalloc(rec->req.n, sizeof *rec->ids);
    rec->queued = 1;
    api->pending++;
    hr_release_push(&api->rel, &rec->item);
}

/* Every message has been answered by the broker. */
static void finish(pub_req_t *rec)
{
    hr_http_publish_t *api = rec->api;
    hr_conn_t *c = rec->c;
    size_t n = rec->req.n;
    api->pending--;
    api->messages += n - rec->failed;
    if (rec->failed)
        api->refused[R_UNAVAILABLE]++;
    if (c == NULL) {
        if (rec->failed)
            hr_log(HR_LOG_DEBUG,
                   "publish api: %zu of %zu messages not published (%s); the "
                   "client had gone",
                   rec->failed, n, rec->error);
        rec_free(rec);
        return;
    }
    /* {"ok":true,"ids":["<id>",...]}; a failure says which were not taken
     * (null), so a client can send those again. */
    size_t cap = 96 + sizeof rec->error * 2 + n * (HR_ID_MAX + 4);
    char *body = hr_xmalloc(cap);
    size_t o = 0;
    if (rec->failed) {
        char q[sizeof rec->error * 2];
        size_t ql = json_quote(rec->error, q, sizeof q);
        o += (size_t)snprintf(body + o, cap - o, "{\"ok\":false,\"error\":%.*s,\"ids\":[", (int)ql,
                              q);
    } else {
        o += (size_t)snprintf(body + o, cap - o, "{\"ok\":true,\"ids\":[");
    }
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(body + o, cap - o, rec->ids[i][0] ? "%s\"%s\"" : "%snull",
                              i ? "," : "", rec->ids[i]);
    o += (size_t)snprintf(body + o, cap - o, "]}\n");
    rec->c = NULL;
    if (rec->failed) {
        hr_log(HR_LOG_DEBUG, "publish api: client %p: 503: %zu of %zu messages not published: %s",
               (void *)c, rec->failed, n, rec->error);
        char hdr[160];
        snprintf(hdr, sizeof hdr, "%sRetry-After: 1\r\n", json_headers);
        hr_conn_respond(c, 503, hdr, body, o);
    } else {
        hr_conn_respond(c, 200, json_headers, body, o);
    }
    free(body);
    rec_free(rec);
}

static void on_published(void *ud, const char *id, size_t idlen, const char *err)
{
    slot_t *s = ud;
    pub_req_t *rec = s->rec;
    if (err != NULL) {
        if (rec->failed++ == 0)
            snprintf(rec->error, sizeof rec->error, "%s", err);
    } else {
        size_t n = idlen < HR_ID_MAX - 1 ? idlen : HR_ID_MAX - 1;
        memcpy(rec->ids[s->i], id, n);
        rec->ids[s->i][n] = '\0';
    }
    if (++rec->answered == rec->req.n)
        finish(rec);
}

static void publish_all(hr_http_publish_t *api, pub_req_t *rec)
{
    hr_broker_t *b = api->loop->broker;
    size_t n = rec->req.n;
    for (size_t i = 0; i < n; i++) {
        const hr_publish_msg_t *m = &rec->req.msgs[i];
        /* A JSON value that is not a string reaches herald.v1 as the value. */
        hr_publish_t pub = {
            .target = m->target,
            .binary = 0,
            .json = m->json,
            .retry = m->retry,
            .event = m->event,
            .data = m->data,
            .channels = m->channels,
            .nchannels = m->nchannels,
        };
        rec->slots[i] = (slot_t){rec, i};
        /* The last callback may free rec: nothing of it is read after. */
        b->ops->publish(b, &pub, on_published, &rec->slots[i]);
    }
}

static void publish_item(void *ud, hr_release_item_t *it)
{
    publish_all(ud, hr_container_of(it, pub_req_t, item));
}

void hr_http_publish_release(void *ud, int stopping)
{
    hr_http_publish_t *api = ud;
    hr_release_run(&api->rel, stopping);
}

hr_http_publish_t *hr_http_publish_new(hr_loop_t *L)
{
    hr_http_publish_t *api = hr_xcalloc(1, sizeof *api);
    api->loop = L;
    hr_release_init(&api->rel, L, publish_item, api);
    hr_metrics_t *r = &L->metrics;
    hr_metrics_add(r, "herald_publish_api_requests_total", HR_COUNTER,
                   "Requests to POST /publish (the HTTP publish API).", NULL, &api->requests);
    hr_metrics_add(r, "herald_publish_api_messages_total", HR_COUNTER,
                   "Messages the HTTP publish API handed to the broker and it took.", NULL,
                   &api->messages);
    hr_metrics_add(r, "herald_publish_api_pending", HR_GAUGE,
                   "Publish API requests accepted and not answered yet.", NULL, &api->pending);
    for (int i = 0; i < R_COUNT; i++)
        hr_metrics_add(r, "herald_publish_api_refused_total", HR_COUNTER,
                       "Publish API requests refused, by reason.", reason_labels[i],
                       &api->refused[i]);
    return api;
}

void hr_http_publish_free(hr_http_publish_t *api)
{
    if (api == NULL)
        return;
    /* Nothing is queued after the last release; a broker that never called
     * back would leave records behind, and they go with the API. */
    hr_release_item_t *it;
    while ((it = hr_release_pop(&api->rel)) != NULL)
        rec_free(hr_container_of(it, pub_req_t, item));
    free(api);
}
