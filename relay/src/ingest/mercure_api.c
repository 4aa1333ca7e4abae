/* SPDX-License-Identifier: MIT
 * mercure_api.c: /.well-known/mercure (mercure_api.h). GET subscribes
 * (net/transport_mercure.c), OPTIONS answers a CORS preflight, POST
 * publishes. A publish goes through these steps, each of which may refuse
 * it with a reason in a text body and a counter:
 *
 *   head    the JWT (Authorization: Bearer, or the cookie from an allowed
 *           Origin) verified with the publisher key (401), a publish claim
 *           (403), the media type and body size (400, 411, 413): all
 *           before any body byte is read;
 *   body    the form (400): topic (repeated), data, private, id, type,
 *           retry, as the reference hub reads them; every topic granted by
 *           mercure.publish (403);
 *   queue   in arrival order with the other HTTP publishers
 *           (ingest/release.h), then one publish to the broker: the channel
 *           of each topic and the firehose (net/mercure.h);
 *   answer  200 with the update's id, or 503 when the broker refused. */
#include "ingest/mercure_api.h"
#include "base/log.h"
#include "base/utf8.h"
#include "codec/form.h"
#include "core/broker.h"
#include "ingest/release.h"
#include "net/conn.h"
#include "net/mercure.h"
#include "net/transport_mercure.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

enum reason { R_METHOD, R_AUTH, R_FORBIDDEN, R_INVALID, R_TOO_LARGE, R_UNAVAILABLE, R_COUNT };

static const char *const reason_labels[R_COUNT] = {
    [R_METHOD] = "reason=\"method\"",       [R_AUTH] = "reason=\"jwt\"",
    [R_FORBIDDEN] = "reason=\"forbidden\"", [R_INVALID] = "reason=\"invalid\"",
    [R_TOO_LARGE] = "reason=\"too_large\"", [R_UNAVAILABLE] = "reason=\"unavailable\"",
};

struct hr_mercure_api {
    hr_loop_t *loop;
    hr_release_t rel;
    uint64_t requests, published, pending, refused[R_COUNT];
};

/* One publish request. */
typedef struct mreq {
    hr_conn_pending_t hold; /* first: the connection's hold on this request */
    hr_mercure_api_t *api;
    hr_conn_t *c; /* NULL once the client is gone */
    hr_mercure_claims_t *claims;
    hr_release_item_t item;
    uint8_t queued;
    long retry;
    hr_slice_t type, data, meta;
    char *bytes; /* the decoded form values and the metadata */
    char id[HR_MERCURE_ID_MAX + 1];
    char cors[400]; /* the answer's CORS headers */
} mreq_t;

static const char text_headers[] = "Content-Type: text/plain; charset=utf-8\r\n";

static void refuse(hr_mercure_api_t *api, hr_conn_t *c, const char *cors, int status, enum reason r,
                   const char *headers, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* cors: the answer's CORS headers (hr_mercure_cors), so that a page reads
 * why it was refused. */
static void refuse(hr_mercure_api_t *api, hr_conn_t *c, const char *cors, int status, enum reason r,
                   const char *headers, const char *fmt, ...)
{
    char body[600], hdr[1100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)sizeof body - 2;
    body[n++] = '\n';
    api->refused[r]++;
    hr_log(HR_LOG_DEBUG, "mercure publish: client %p: %d: %.*s", (void *)c, status, n - 1, body);
    snprintf(hdr, sizeof hdr, "%s%s%s", text_headers, cors, headers ? headers : "");
    hr_conn_respond(c, status, hdr, body, (size_t)n);
}

static void rec_free(mreq_t *rec)
{
    free(rec->claims);
    free(rec->bytes);
    free(rec);
}

static void on_gone(hr_conn_pending_t *p)
{
    mreq_t *rec = (mreq_t *)p;
    rec->c = NULL;
    if (!rec->queued)
        rec_free(rec);
}

static int slice_is(hr_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* urn:uuid: and a random (version 4) UUID. */
static void new_id(char out[HR_MERCURE_ID_MAX + 1])
{
    uint8_t u[16];
    if (getrandom(u, sizeof u, 0) != (ssize_t)sizeof u) {
        uint64_t t = uv_hrtime();
        for (size_t i = 0; i < sizeof u; i++)
            u[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)(i * 151);
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(out, HR_MERCURE_ID_MAX + 1,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

/* retry: an unsigned decimal, as Go's ParseUint; bounded as an ingest
 * frame's retry (a day). */
static int parse_retry(hr_slice_t s, long *out)
{
    if (s.len == 0 || s.len > 12)
        return -1;
    long v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (s.p[i] - '0');
    }
    if (v > 86400000)
        return -1;
    *out = v;
    return 0;
}

static void on_body(void *ud, hr_conn_t *c, const hr_http_request_t *req, const uint8_t *body,
                    size_t len)
{
    (void)req;
    mreq_t *rec = ud;
    hr_mercure_api_t *api = rec->api;
    char err[300];
    /* Decoded values never grow: one buffer as long as the body holds
     * them all (each pair decodes into the scratch, then is copied). */
    rec->bytes = hr_xmalloc(2 * len + HR_MERCURE_ID_MAX + 64);
    char *scratch = hr_xmalloc(len + 1);
    size_t used = 0;
    hr_mercure_meta_t m = {.ntopics = 0};
    int has_data = 0, has_id = 0, has_type = 0, has_retry = 0, r;
    hr_slice_t retry = {NULL, 0};
    hr_form_iter_t it;
    hr_form_pair_t pair;
    hr_form_iter_init(&it, (const char *)body, len);
    while ((r = hr_form_next(&it, scratch, len + 1, &pair, err, sizeof err)) == 1) {
        hr_slice_t v = {rec->bytes + used, pair.val.len};
        int keep = 0;
        if (slice_is(pair.key, "topic")) {
            if (m.ntopics == HR_MERCURE_TOPICS_MAX) {
                snprintf(err, sizeof err, "too many topics (at most %d)", HR_MERCURE_TOPICS_MAX);
                r = -1;
                break;
            }
            if (!hr_mercure_topic_valid(pair.val.p, pair.val.len)) {
                snprintf(err, sizeof err,
                         "invalid topic: 1 to %d bytes of UTF-8 without control characters, "
                         "not \"*\"",
                         HR_MERCURE_TOPIC_MAX);
                r = -1;
                break;
            }
            m.topics[m.ntopics++] = v, keep = 1;
        } else if (slice_is(pair.key, "data") && !has_data) {
            rec->data = v, keep = has_data = 1;
        } else if (slice_is(pair.key, "private")) {
            m.priv = 1;
        } else if (slice_is(pair.key, "id") && !has_id) {
            if (!hr_mercure_id_valid(pair.val.p, pair.val.len)) {
                snprintf(err, sizeof err,
                         "invalid \"id\": 1 to %d bytes of UTF-8 without control characters, not "
                         "starting with '#', not \"earliest\"",
                         HR_MERCURE_ID_MAX);
                r = -1;
                break;
            }
            memcpy(rec->id, pair.val.p, pair.val.len);
            rec->id[pair.val.len] = '\0';
            has_id = 1;
        } else if (slice_is(pair.key, "type") && !has_type) {
            if (!hr_mercure_type_valid(pair.val.p, pair.val.len)) {
                snprintf(err, sizeof err,
                         "invalid \"type\": UTF-8 without control characters, "
                         "not \"mercure\"");
                r = -1;
                break;
            }
            rec->type = v, keep = has_type = 1;
        } else if (slice_is(pair.key, "retry") && !has_retry) {
            retry = v, keep = has_retry = 1;
        }
        if (keep) {
            memcpy(rec->bytes + used, pair.val.p, pair.val.len);
            used += pair.val.len;
        }
    }
    free(scratch);
    if (r < 0) {
        refuse(api, c, rec->cors, 400, R_INVALID, NULL, "%s", err);
        rec_free(rec);
        return;
    }
    if (m.ntopics == 0) {
        refuse(api, c, rec->cors, 400, R_INVALID, NULL, "Missing \"topic\" parameter");
        rec_free(rec);
        return;
    }
    if (has_retry && retry.len && parse_retry(retry, &rec->retry) != 0) {
        refuse(api, c, rec->cors, 400, R_INVALID, NULL, "Invalid \"retry\" parameter");
        rec_free(rec);
        return;
    }
    if (!hr_utf8_valid((const uint8_t *)rec->data.p, rec->data.len)) {
        refuse(api, c, rec->cors, 400, R_INVALID, NULL, "\"data\" is not valid UTF-8");
        rec_free(rec);
        return;
    }
    /* The hub's rule: the publish claim grants every topic of the update. */
    for (size_t i = 0; i < m.ntopics; i++)
        if (!hr_mercure_selectors_grant(rec->claims->publish, rec->claims->npublish, m.topics[i].p,
                                        m.topics[i].len)) {
            refuse(api, c, rec->cors, 403, R_FORBIDDEN,
                   "WWW-Authenticate: Bearer error=\"insufficient_scope\"\r\n",
                   "the JWT's mercure.publish does not grant topic %.*s",
                   (int)(m.topics[i].len > 200 ? 200 : m.topics[i].len), m.topics[i].p);
            rec_free(rec);
            return;
        }
    if (!has_id)
        new_id(rec->id);
    m.id = (hr_slice_t){rec->id, strlen(rec->id)};
    size_t ml = hr_mercure_meta_len(&m);
    char *meta = rec->bytes + used;
    hr_mercure_meta_encode((uint8_t *)meta, &m);
    rec->meta = (hr_slice_t){meta, ml};
    if (api->rel.stopped) {
        refuse(api, c, rec->cors, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "relay shutting down");
        rec_free(rec);
        return;
    }
    rec->queued = 1;
    api->pending++;
    hr_release_push(&api->rel, &rec->item);
}

static void on_published(void *ud, const char *id, size_t idlen, const char *err)
{
    (void)id;
    (void)idlen;
    mreq_t *rec = ud;
    hr_mercure_api_t *api = rec->api;
    api->pending--;
    rec->queued = 0;
    hr_conn_t *c = rec->c;
    rec->c = NULL;
    if (err == NULL)
        api->published++;
    if (c != NULL && err != NULL) {
        refuse(api, c, rec->cors, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "not published: %s",
               err);
    } else if (c != NULL) {
        char hdr[600];
        snprintf(hdr, sizeof hdr, "%s%s", text_headers, rec->cors);
        hr_conn_respond(c, 200, hdr, rec->id, strlen(rec->id));
    }
    rec_free(rec);
}

static void publish_item(void *ud, hr_release_item_t *it)
{
    hr_mercure_api_t *api = ud;
    mreq_t *rec = hr_container_of(it, mreq_t, item);
    hr_mercure_meta_t m;
    hr_mercure_names_t *names = hr_xmalloc(sizeof *names);
    hr_mercure_meta_parse((const uint8_t *)rec->meta.p, rec->meta.len, &m);
    size_t n = hr_mercure_channels(&m, names);
    hr_publish_t pub = {
        .target = m.priv ? HR_TARGET_MERCURE : HR_TARGET_ALL | HR_TARGET_MERCURE,
        .retry = rec->retry,
        .event = rec->type,
        .data = rec->data,
        .mercure = rec->meta,
        .channels = names->channels,
        .nchannels = n,
    };
    hr_broker_t *b = api->loop->broker;
    b->ops->publish(b, &pub, on_published, rec);
    free(names);
}

void hr_mercure_api_release(void *ud, int stopping)
{
    hr_mercure_api_t *api = ud;
    hr_release_run(&api->rel, stopping);
}

/* The origin of a request: Origin, else the scheme and host of Referer. */
static hr_slice_t request_origin(const hr_http_request_t *req)
{
    const hr_http_header_t *o = hr_http_header_find(req, "Origin");
    if (o && o->value.len)
        return o->value;
    const hr_http_header_t *r = hr_http_header_find(req, "Referer");
    if (r == NULL)
        return (hr_slice_t){NULL, 0};
    const char *p = r->value.p, *end = p + r->value.len;
    const char *ss = r->value.len > 3 ? memchr(p, ':', r->value.len) : NULL;
    if (ss == NULL || end - ss < 3 || ss[1] != '/' || ss[2] != '/')
        return (hr_slice_t){NULL, 0};
    const char *h = ss + 3;
    const char *slash = memchr(h, '/', (size_t)(end - h));
    return (hr_slice_t){p, (size_t)((slash ? slash : end) - p)};
}

static void publish_request(hr_mercure_api_t *api, hr_conn_t *c, const hr_http_request_t *req,
                            uint8_t *rest, size_t rest_len, const char *cors)
{
    int from_cookie;
    hr_slice_t jwt = hr_mercure_request_jwt(req, &from_cookie);
    if (jwt.len == 0) {
        refuse(api, c, cors, 401, R_AUTH, "WWW-Authenticate: Bearer\r\n",
               "a JWT with a mercure.publish claim is required");
        return;
    }
    if (from_cookie) {
        /* A cookie rides along with any page's request: only pages of an
         * allowed origin may publish with it (the hub's CSRF rule). */
        hr_slice_t o = request_origin(req);
        const char *list = hr_mercure_cfg.cors_origins;
        if (o.len == 0 || o.len > 256 ||
            !(strcmp(list, "*") == 0 || (list[0] && hr_origin_allowed(list, o.p, o.len)))) {
            refuse(api, c, cors, 401, R_AUTH, "WWW-Authenticate: Bearer\r\n",
                   "publishing with the cookie needs an Origin listed in mercure_cors_origins");
            return;
        }
    }
    hr_mercure_claims_t *claims;
    int st = hr_mercure_verify(jwt, 1, &claims);
    if (st != HR_JWT_OK) {
        refuse(api, c, cors, 401, R_AUTH, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
               "invalid JWT: %s", hr_jwt_strerror(st));
        return;
    }
    if (!claims->has_publish || claims->npublish == 0) {
        free(claims);
        refuse(api, c, cors, 403, R_FORBIDDEN,
               "WWW-Authenticate: Bearer error=\"insufficient_scope\"\r\n",
               "the JWT has no mercure.publish claim");
        return;
    }
    const hr_http_header_t *ct = hr_http_header_find(req, "Content-Type");
    static const char form[] = "application/x-www-form-urlencoded";
    if (ct == NULL || ct->value.len < sizeof form - 1 ||
        strncasecmp(ct->value.p, form, sizeof form - 1) != 0 ||
        (ct->value.len > sizeof form - 1 && ct->value.p[sizeof form - 1] != ';' &&
         ct->value.p[sizeof form - 1] != ' ')) {
        free(claims);
        refuse(api, c, cors, 400, R_INVALID, NULL,
               "the body must be application/x-www-form-urlencoded");
        return;
    }
    mreq_t *rec = hr_xcalloc(1, sizeof *rec);
    rec->hold.gone = on_gone;
    rec->api = api;
    rec->c = c;
    rec->claims = claims;
    snprintf(rec->cors, sizeof rec->cors, "%s", cors);
    hr_conn_pend(c, &rec->hold);
    st = hr_conn_read_body(c, req, rest, rest_len, (size_t)hr_mercure_cfg.max_body_bytes, on_body,
                           rec);
    if (st == 0)
        return; /* on_body has run, or will */
    rec->c = NULL;
    rec_free(rec);
    if (st == 413)
        refuse(api, c, cors, 413, R_TOO_LARGE, NULL, "the body is larger than %ld bytes",
               hr_mercure_cfg.max_body_bytes);
    else
        refuse(api, c, cors, st, R_INVALID, NULL, "%s",
               st == 411   ? "a Content-Length is required"
               : st == 417 ? "unknown expectation"
                           : "bad body framing");
}

void hr_mercure_api_request(void *ud, hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest,
                            size_t rest_len)
{
    hr_mercure_api_t *api = ud;
    api->requests++;
    char cors[400];
    hr_mercure_cors(req, cors, sizeof cors);
    if (req->path.len != sizeof HR_MERCURE_PATH - 1) {
        hr_conn_reply(c, 404, text_headers, "not found\n", 10);
        return;
    }
    if (slice_is(req->method, "GET")) {
        hr_mercure_subscribe(c, req, rest, rest_len);
        return;
    }
    if (slice_is(req->method, "OPTIONS")) {
        char hdr[800];
        snprintf(hdr, sizeof hdr,
                 "%sAccess-Control-Allow-Methods: GET, POST\r\n"
                 "Access-Control-Allow-Headers: Authorization, Last-Event-ID, Cache-Control, "
                 "Content-Type\r\nAccess-Control-Max-Age: 600\r\n",
                 cors);
        hr_conn_respond(c, 204, hdr, "", 0);
        return;
    }
    if (!slice_is(req->method, "POST")) {
        refuse(api, c, cors, 405, R_METHOD, "Allow: GET, POST, OPTIONS\r\n",
               "method not allowed: GET subscribes, POST publishes");
        return;
    }
    if (api->rel.stopped) {
        refuse(api, c, cors, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "relay shutting down");
        return;
    }
    publish_request(api, c, req, rest, rest_len, cors);
}

hr_mercure_api_t *hr_mercure_api_new(hr_loop_t *L)
{
    hr_mercure_api_t *api = hr_xcalloc(1, sizeof *api);
    api->loop = L;
    hr_release_init(&api->rel, L, publish_item, api);
    hr_metrics_t *r = &L->metrics;
    hr_metrics_add(r, "herald_mercure_requests_total", HR_COUNTER,
                   "Requests to /.well-known/mercure.", NULL, &api->requests);
    hr_metrics_add(r, "herald_mercure_published_total", HR_COUNTER,
                   "Mercure updates published through the front and taken by the broker.", NULL,
                   &api->published);
    hr_metrics_add(r, "herald_mercure_pending", HR_GAUGE,
                   "Mercure publishes accepted and not answered yet.", NULL, &api->pending);
    for (int i = 0; i < R_COUNT; i++)
        hr_metrics_add(r, "herald_mercure_refused_total", HR_COUNTER,
                       "Mercure requests refused, by reason.", reason_labels[i], &api->refused[i]);
    return api;
}

void hr_mercure_api_free(hr_mercure_api_t *api)
{
    if (api == NULL)
        return;
    hr_release_item_t *it;
    while ((it = hr_release_pop(&api->rel)) != NULL)
        rec_free(hr_container_of(it, mreq_t, item));
    free(api);
}
