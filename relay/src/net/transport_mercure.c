/* SPDX-License-Identifier: MIT
 * transport_mercure.c: Mercure subscribers (GET /.well-known/mercure), an
 * event stream like /sse with the hub's rules (docs/PROTOCOL.md 5):
 *
 *   - selectors: topic= (exact, a URI template, or "*") and match= (exact,
 *     the newer draft's form), parsed once per subscriber. An exact topic
 *     subscribes to its channel; templates and "*" follow the firehose,
 *     which carries every Mercure update (net/mercure.h);
 *   - who sees what: an update reaches a subscriber when one of its topics
 *     matches one of the subscriber's selectors and, for a private update,
 *     one of the selectors its JWT's mercure.subscribe claim grants. A
 *     private update has only the target bit no other transport accepts,
 *     so plain SSE, WebSocket and Pusher subscribers of the same channel
 *     never receive it. A plain Herald publish on a topic's channel reaches
 *     exact subscribers of that topic, and, on a channel Herald keeps
 *     private (private_prefixes), only those whose JWT grants the topic;
 *   - ids: each update goes out with its Mercure id (a plain publish with
 *     its Herald position); a Last-Event-ID is mapped back to a position
 *     (the id index), and the resume is Herald's. */
#include "net/transport_mercure.h"
#include "base/log.h"
#include "codec/form.h"
#include "codec/sse.h"
#include "codec/token.h"
#include "codec/uri_template.h"
#include "core/broker.h"
#include "net/auth.h"
#include "net/conn.h"
#include "net/mercure.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mercure subscribers accept SSE publishes on their topics' channels and
 * Mercure updates, public or private. */
#define MERCURE_ACCEPTS (HR_TARGET_SSE | HR_TARGET_MERCURE)

enum sel_kind { SEL_ANY, SEL_EXACT, SEL_TEMPLATE };

typedef struct sel {
    uint8_t kind;
    hr_slice_t s;
    hr_uri_template_t *t;
} sel_t;

typedef struct sel_list {
    sel_t *v;
    size_t n;
} sel_list_t;

/* One subscriber. */
typedef struct msub {
    char *head;        /* the response head, held until the position is known */
    sel_list_t topics; /* what it asked for */
    sel_list_t priv;   /* what its JWT's mercure.subscribe grants */
    hr_mercure_claims_t *claims;
    char *bytes; /* the asked selectors' strings */
} msub_t;

typedef struct mercure_loop {
    hr_buf_t *ping;
    uint64_t subscribers, refused;
} mercure_loop_t;

static int slot = -1;

/* The loop's id index (net/mercure.h), or NULL. */
static hr_mercure_index_t *index_of(hr_conn_t *c)
{
    hr_loop_t *L = hr_conn_loop(c);
    return L->on_mercure ? L->on_mercure_ud : NULL;
}

static void sel_list_free(sel_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        hr_uri_template_free(l->v[i].t);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* Add selector s (its bytes outlive the list). strict: a selector that
 * looks like a template but does not parse is an error (a subscriber's
 * query), else it is an exact string (a JWT's claim, as the hub reads it). */
static int sel_add(sel_list_t *l, hr_slice_t s, int strict, char *err, size_t errlen)
{
    sel_t v = {SEL_EXACT, s, NULL};
    if (s.len == 1 && s.p[0] == '*') {
        v.kind = SEL_ANY;
    } else if (memchr(s.p, '{', s.len) || memchr(s.p, '}', s.len)) {
        char why[160];
        if (hr_uri_template_parse(s.p, s.len, &v.t, why, sizeof why) == 0) {
            v.kind = SEL_TEMPLATE;
        } else if (strict) {
            snprintf(err, errlen, "invalid topic selector: %s", why);
            return -1;
        }
    }
    l->v = hr_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = v;
    return 0;
}

static int sel_match(const sel_list_t *l, hr_slice_t topic)
{
    for (size_t i = 0; i < l->n; i++) {
        const sel_t *v = &l->v[i];
        if (v->kind == SEL_ANY ||
            (v->kind == SEL_EXACT && v->s.len == topic.len &&
             memcmp(v->s.p, topic.p, topic.len) == 0) ||
            (v->kind == SEL_TEMPLATE && hr_uri_template_match(v->t, topic.p, topic.len)))
            return 1;
    }
    return 0;
}

static int sel_match_any(const sel_list_t *l, const hr_mercure_meta_t *m)
{
    for (size_t i = 0; i < m->ntopics; i++)
        if (sel_match(l, m->topics[i]))
            return 1;
    return 0;
}

/* May subscriber s see ev? via_topic: it came on one of its exact topics'
 * channels (so a topic of the update is one it asked for). */
static int visible(const msub_t *s, const hr_event_t *ev, int via_topic)
{
    if (ev->mercure.len == 0)
        return via_topic; /* a plain publish: only on a topic's own channel */
    /* The common case without parsing the metadata: a public update (its
     * target says so) on one of the subscriber's own topics' channels. */
    if (via_topic && (ev->target & HR_TARGET_ALL))
        return 1;
    hr_mercure_meta_t m;
    if (hr_mercure_meta_parse((const uint8_t *)ev->mercure.p, ev->mercure.len, &m) != 0)
        return 0;
    if (!via_topic && !sel_match_any(&s->topics, &m))
        return 0;
    return !m.priv || sel_match_any(&s->priv, &m);
}

static void *mercure_init(hr_net_t *net, int tidx)
{
    if (slot < 0)
        slot = hr_event_slot();
    mercure_loop_t *ml = hr_xcalloc(1, sizeof *ml);
    ml->ping = hr_buf_static(":\n", 2);
    hr_metrics_t *r = &net->loop->metrics;
    hr_metrics_add(r, "herald_mercure_subscribers_total", HR_COUNTER,
                   "Mercure subscriptions opened (GET /.well-known/mercure).", NULL,
                   &ml->subscribers);
    hr_metrics_add(r, "herald_mercure_refused_total", HR_COUNTER,
                   "Mercure requests refused, by reason.", "reason=\"subscribe\"", &ml->refused);
    return ml;
}

static void mercure_fini(hr_net_t *net, void *data)
{
    mercure_loop_t *ml = data;
    free(ml->ping);
    free(ml);
}

static hr_buf_t *encode_event(const hr_event_t *ev, int chan)
{
    (void)chan;
    hr_slice_t id = {ev->id, ev->idlen};
    hr_mercure_meta_t m;
    if (ev->mercure.len &&
        hr_mercure_meta_parse((const uint8_t *)ev->mercure.p, ev->mercure.len, &m) == 0)
        id = m.id;
    hr_buf_t *b = hr_buf_new(hr_sse_event_len(id, ev->name, ev->retry, ev->data));
    hr_sse_encode_event(b->data, id, ev->name, ev->retry, ev->data);
    return b;
}

static hr_buf_t *mercure_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    msub_t *s = c->tstate;
    if (ev->binary)
        return NULL;
    /* The firehose is an update's last channel. */
    int via_topic = chan >= 0 && chan < (int)ev->nchannels - (ev->mercure.len ? 1 : 0);
    if (!visible(s, ev, via_topic))
        return NULL;
    return hr_event_encoding(ev, slot, -1, encode_event);
}

static void mercure_replay(hr_conn_t *c, hr_event_t *ev)
{
    if (ev->seq > c->last_seq)
        c->last_seq = ev->seq;
    msub_t *s = c->tstate;
    /* Replayed from any of its channels: an exact topic's when it is one. */
    int via_topic = 0;
    for (hr_sub_t *sub = c->subs; sub && !via_topic && ev->mercure.len == 0; sub = sub->owner_next)
        for (size_t i = 0; i < ev->nchannels && !via_topic; i++)
            via_topic = sub->ch->name_len == ev->channels[i].len &&
                        memcmp(sub->ch->name, ev->channels[i].p, ev->channels[i].len) == 0;
    if (ev->binary || !visible(s, ev, via_topic))
        return;
    hr_buf_t *b = hr_event_encoding(ev, slot, -1, encode_event);
    if (b && hr_conn_send_uncapped(c, b) == 0)
        hr_conn_net(c)->tstats[c->tidx].delivered++;
}

static void mercure_heartbeat(hr_conn_t *c, uint64_t now)
{
    msub_t *s = c->tstate;
    uint64_t every = (uint64_t)hr_mercure_cfg.heartbeat * 1000;
    if (every && now - c->last_write_ms >= every && !c->end_after_flush && s->head == NULL) {
        mercure_loop_t *ml = hr_conn_net(c)->tdata[c->tidx];
        hr_conn_send(c, ml->ping);
    }
}

/* The id to name a position by: the Mercure id of the update there, else
 * the position itself (which a Last-Event-ID may carry back). */
static size_t name_position(hr_conn_t *c, const char *position, char *out, size_t cap)
{
    uint64_t seq;
    hr_broker_t *b = hr_conn_loop(c)->broker;
    hr_mercure_index_t *x = index_of(c);
    if (x && hr_broker_parse_id(b, (hr_slice_t){position, strlen(position)}, &seq)) {
        hr_slice_t mid = hr_mercure_index_at(x, seq);
        if (mid.len && mid.len < cap) {
            memcpy(out, mid.p, mid.len);
            out[mid.len] = '\0';
            return mid.len;
        }
    }
    return (size_t)snprintf(out, cap, "%s", position);
}

/* The held head, now that the position is known. A head that promised
 * Mercure-Last-Event-ID ends with that header's name. */
static void mercure_start(hr_conn_t *c, const char *position)
{
    msub_t *s = c->tstate;
    if (s->head == NULL)
        return;
    char *head = s->head;
    s->head = NULL;
    size_t hl = strlen(head);
    char *b = hr_xmalloc(hl + HR_MERCURE_ID_MAX + 64);
    memcpy(b, head, hl);
    size_t n = hl;
    if (hl > 2 && head[hl - 2] == ':' && head[hl - 1] == ' ') {
        n += name_position(c, position, b + n, HR_MERCURE_ID_MAX + 1);
        memcpy(b + n, "\r\n", 2);
        n += 2;
    }
    memcpy(b + n, "\r\n:\n", 4);
    hr_conn_send_copy(c, b, n + 4);
    free(b);
    free(head);
}

/* Mercure has no gap notice: the client gets what history still holds. */
static void mercure_gap(hr_conn_t *c, const hr_resume_t *r, const char *position)
{
    hr_log(HR_LOG_DEBUG, "mercure subscriber %p: resume from '%.*s' not exact", (void *)c,
           (int)(r->since.len > 64 ? 64 : r->since.len), r->since.p);
}

static void mercure_begin_close(hr_conn_t *c)
{
    hr_conn_end(c);
}

static void msub_free(msub_t *s)
{
    if (s == NULL)
        return;
    sel_list_free(&s->topics);
    sel_list_free(&s->priv);
    free(s->claims);
    free(s->bytes);
    free(s->head);
    free(s);
}

static void mercure_on_close(hr_conn_t *c)
{
    msub_free(c->tstate);
    c->tstate = NULL;
}

const hr_transport_t hr_transport_mercure = {
    .name = "mercure",
    .resumable = 1,
    .encode_per_conn = 1, /* who sees an update depends on the subscriber */
    .init = mercure_init,
    .fini = mercure_fini,
    .encode = mercure_encode,
    .heartbeat = mercure_heartbeat,
    .start = mercure_start,
    .gap = mercure_gap,
    .replay = mercure_replay,
    .begin_close = mercure_begin_close,
    .on_close = mercure_on_close,
};

void hr_mercure_cors(const hr_http_request_t *req, char *out, size_t cap)
{
    const char *list = hr_mercure_cfg.cors_origins;
    out[0] = '\0';
    const hr_http_header_t *o = hr_http_header_find(req, "Origin");
    if (list[0] == '\0' || o == NULL || o->value.len > 256)
        return;
    if (strcmp(list, "*") == 0 || hr_origin_allowed(list, o->value.p, o->value.len))
        snprintf(out, cap,
                 "Access-Control-Allow-Origin: %.*s\r\nAccess-Control-Allow-Credentials: "
                 "true\r\nVary: Origin\r\n",
                 (int)o->value.len, o->value.p);
}

static void refuse(hr_conn_t *c, const hr_http_request_t *req, int status, const char *headers,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A refusal with a reason, counted, with the request's CORS headers (as
 * the hub answers every request). */
static void refuse(hr_conn_t *c, const hr_http_request_t *req, int status, const char *headers,
                   const char *fmt, ...)
{
    int t = hr_net_transport(hr_conn_net(c), hr_transport_mercure.name);
    mercure_loop_t *ml = t >= 0 ? hr_conn_net(c)->tdata[t] : NULL;
    char body[400], hdr[900], cors[400];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)sizeof body - 2;
    body[n++] = '\n';
    if (ml)
        ml->refused++;
    hr_mercure_cors(req, cors, sizeof cors);
    snprintf(hdr, sizeof hdr, "Content-Type: text/plain; charset=utf-8\r\n%s%s", cors,
             headers ? headers : "");
    hr_log(HR_LOG_DEBUG, "mercure subscriber %p: %d: %.*s", (void *)c, status, n - 1, body);
    hr_conn_reply(c, status, hdr, body, (size_t)n);
}

/* The JWT's selectors, kept with the subscriber. */
static int take_claims(msub_t *s, hr_mercure_claims_t *cl)
{
    s->claims = cl;
    for (size_t i = 0; cl && i < cl->nsubscribe; i++)
        sel_add(&s->priv, cl->subscribe[i], 0, NULL, 0);
    return 0;
}

#define QUERY_VAL_MAX (HR_MERCURE_TOPIC_MAX + 64)

void hr_mercure_subscribe(hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest,
                          size_t rest_len)
{
    (void)rest;
    (void)rest_len;
    msub_t *s = hr_xcalloc(1, sizeof *s);
    char err[300];
    /* Authorization first: who may see private updates (401 otherwise). */
    int from_cookie;
    hr_slice_t jwt = hr_mercure_request_jwt(req, &from_cookie);
    if (jwt.len) {
        hr_mercure_claims_t *cl;
        int st = hr_mercure_verify(jwt, 0, &cl);
        if (st != HR_JWT_OK) {
            msub_free(s);
            refuse(c, req, 401, "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
                   "invalid JWT%s: %s", from_cookie ? " (cookie)" : "", hr_jwt_strerror(st));
            return;
        }
        take_claims(s, cl);
    } else if (!hr_mercure_cfg.anonymous) {
        msub_free(s);
        refuse(c, req, 401, "WWW-Authenticate: Bearer\r\n", "a JWT is required to subscribe");
        return;
    }
    /* The query, decoded as the hub's Go decodes it ('+' is a space). */
    s->bytes = hr_xmalloc(req->query.len + 1);
    size_t used = 0;
    hr_form_iter_t it;
    hr_form_pair_t pair;
    char *buf = hr_xmalloc(req->query.len + 1);
    hr_slice_t last = {NULL, 0};
    char last_buf[HR_MERCURE_ID_MAX + 1];
    int has_last = 0, r;
    hr_form_iter_init(&it, req->query.p, req->query.len);
    while ((r = hr_form_next(&it, buf, req->query.len + 1, &pair, err, sizeof err)) == 1) {
        int is_topic = pair.key.len == 5 && memcmp(pair.key.p, "topic", 5) == 0;
        int is_match = pair.key.len == 5 && memcmp(pair.key.p, "match", 5) == 0;
        if (is_topic || is_match) {
            if (s->topics.n == HR_MERCURE_SELECTORS_MAX) {
                snprintf(err, sizeof err, "too many topic selectors (at most %d)",
                         HR_MERCURE_SELECTORS_MAX);
                r = -1;
                break;
            }
            if (pair.val.len == 0 || pair.val.len > HR_MERCURE_TOPIC_MAX ||
                !hr_mercure_string_valid(pair.val.p, pair.val.len)) {
                snprintf(err, sizeof err,
                         "invalid topic selector: 1 to %d bytes of UTF-8 without control "
                         "characters",
                         HR_MERCURE_TOPIC_MAX);
                r = -1;
                break;
            }
            memcpy(s->bytes + used, pair.val.p, pair.val.len);
            hr_slice_t v = {s->bytes + used, pair.val.len};
            used += pair.val.len;
            /* match= is exact (the newer draft): no template there. */
            if (is_match) {
                s->topics.v = hr_xrealloc(s->topics.v, (s->topics.n + 1) * sizeof *s->topics.v);
                s->topics.v[s->topics.n++] = (sel_t){SEL_EXACT, v, NULL};
            } else if (sel_add(&s->topics, v, 1, err, sizeof err) != 0) {
                r = -1;
                break;
            }
        } else if (pair.key.len > 6 && memcmp(pair.key.p, "match_", 6) == 0) {
            snprintf(err, sizeof err, "unsupported topic matcher: %.*s (use topic= or match=)",
                     (int)(pair.key.len > 40 ? 40 : pair.key.len), pair.key.p);
            r = -1;
            break;
        } else if ((pair.key.len == 11 && memcmp(pair.key.p, "lastEventID", 11) == 0) ||
                   (pair.key.len == 13 && memcmp(pair.key.p, "last_event_id", 13) == 0) ||
                   (pair.key.len == 13 && memcmp(pair.key.p, "Last-Event-ID", 13) == 0)) {
            if (pair.val.len && pair.val.len <= HR_MERCURE_ID_MAX) {
                memcpy(last_buf, pair.val.p, pair.val.len);
                last = (hr_slice_t){last_buf, pair.val.len};
                has_last = 1;
            } else if (pair.val.len == 0 && !has_last) {
                has_last = 1; /* asked, with nothing: the header still comes */
            }
        }
    }
    free(buf);
    if (r < 0) {
        msub_free(s);
        refuse(c, req, 400, NULL, "%s", err);
        return;
    }
    if (s->topics.n == 0) {
        msub_free(s);
        refuse(c, req, 400, NULL, "Missing \"topic\" parameter");
        return;
    }
    const hr_http_header_t *h = hr_http_header_find(req, "Last-Event-ID");
    if (h && h->value.len > 0 && h->value.len <= HR_MERCURE_ID_MAX) {
        memcpy(last_buf, h->value.p, h->value.len);
        last = (hr_slice_t){last_buf, h->value.len};
        has_last = 1;
    } else if (h) {
        has_last = 1;
    }

    /* A relay shutting down ends the stream after its first bytes, as
     * /sse does: an EventSource comes back (to the next relay) by itself. */
    hr_net_t *net = hr_conn_net(c);
    if (net->stopping) {
        msub_free(s);
        static const char bye[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                  "Cache-Control: no-cache\r\nConnection: close\r\n\r\n:\n";
        if (hr_conn_send_copy(c, bye, sizeof bye - 1) == 0)
            hr_conn_end(c);
        return;
    }
    /* Its channels: each exact topic's, and the firehose for the rest. */
    hr_conn_set_transport(c, hr_net_transport(net, hr_transport_mercure.name));
    c->tstate = s;
    mercure_loop_t *ml = net->tdata[c->tidx];
    ml->subscribers++;
    hr_slice_t chans[HR_MERCURE_SELECTORS_MAX + 1];
    char names[HR_MERCURE_SELECTORS_MAX][HR_CHANNEL_MAX + 1];
    size_t nch = 0;
    int firehose = 0;
    for (size_t i = 0; i < s->topics.n; i++) {
        const sel_t *v = &s->topics.v[i];
        if (v->kind != SEL_EXACT) {
            firehose = 1;
            continue;
        }
        size_t len = hr_mercure_channel(v->s.p, v->s.len, names[nch]);
        /* A channel Herald keeps private gives its plain publishes only to
         * a JWT that grants the topic; Mercure updates pass as the rules
         * above say. */
        int accepts = MERCURE_ACCEPTS;
        if (hr_token_is_private(hr_auth_cfg.private_prefixes, names[nch], len) &&
            !sel_match(&s->priv, v->s))
            accepts = HR_TARGET_MERCURE;
        if (hr_conn_subscribe(c, names[nch], len, accepts) != NULL)
            chans[nch] = (hr_slice_t){names[nch], len}, nch++;
    }
    if (firehose) {
        hr_conn_subscribe(c, HR_MERCURE_FIREHOSE, sizeof HR_MERCURE_FIREHOSE - 1,
                          HR_TARGET_MERCURE);
        chans[nch++] = (hr_slice_t){HR_MERCURE_FIREHOSE, sizeof HR_MERCURE_FIREHOSE - 1};
    }

    /* Where it starts: earliest, a remembered Mercure id, a Herald id, or
     * (unknown, or none) now. */
    hr_broker_t *b = hr_conn_loop(c)->broker;
    char since[HR_ID_MAX + 1];
    size_t slen = 0;
    uint64_t seq;
    if (last.len == 8 && memcmp(last.p, "earliest", 8) == 0)
        slen = hr_id_format(since, (hr_slice_t){b->epoch, b->epoch_len}, 0);
    else if (last.len && index_of(c) &&
             (slen = hr_mercure_index_find(index_of(c), last, since)) > 0)
        ;
    else if (last.len && last.len < sizeof since && hr_broker_parse_id(b, last, &seq)) {
        memcpy(since, last.p, last.len);
        slen = last.len;
    }
    char cors[400], head[1400];
    hr_mercure_cors(req, cors, sizeof cors);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/event-stream\r\n"
                     "Cache-Control: private, no-cache, no-store, must-revalidate, max-age=0\r\n"
                     "X-Accel-Buffering: no\r\n"
                     "Connection: close\r\n"
                     "%s%s",
                     cors, has_last ? "Mercure-Last-Event-ID: " : "");
    if (slen == 0) {
        /* From now: the position is the broker's to give (mercure_start). */
        s->head = hr_xstrndup(head, (size_t)n);
        hr_conn_fresh(c, MERCURE_ACCEPTS, chans, nch);
        return;
    }
    char pos[HR_ID_MAX], named[HR_MERCURE_ID_MAX + 1];
    pos[hr_broker_position(b, pos)] = '\0';
    name_position(c, pos, named, sizeof named);
    n += snprintf(head + n, sizeof head - (size_t)n, "%s\r\n\r\n:\n", named);
    if (hr_conn_send_copy(c, head, (size_t)n) != 0)
        return;
    since[slen] = '\0';
    hr_conn_resume(c, MERCURE_ACCEPTS, (hr_slice_t){since, slen}, chans, nch);
}
