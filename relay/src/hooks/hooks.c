/* SPDX-License-Identifier: MIT
 * hooks.c: application hooks (hooks.h). Events wait in one queue per
 * connection, and connections with events in a ready list. When the pool
 * has room (hooks/fcgi_pool.c: at most app_concurrency requests, so at most
 * that many FPM workers), one request takes the events of the connections
 * at the head of the list, up to app_batch. So under light load each event
 * goes at once, alone; under load events pile up while every slot is busy
 * and the next request carries many (herald_hook_batch_max). A connection
 * with events in flight stays off the list until they are answered, so one
 * connection's events reach the application in order, each request after
 * the one before it was answered.
 *
 * Failures never block: a full queue answers "application busy" at once;
 * a pool that cannot connect retries until app_timeout_ms (the request
 * never started), then every event of the request fails ("application
 * unavailable"), as does a timeout, a status other than 200, or an answer
 * that is not {"results":[...]}. disconnect events are best-effort: no
 * answer is awaited and a full queue drops them (counted).
 *
 * With workers = N each loop has its own hooks and pool (a connection's
 * events stay on its loop, in order); what is the relay's is shared:
 * app_concurrency through one hr_fcgi_share_t (fcgi_pool.h: the loops take
 * turns for the FPM workers), app_queue as one count of events waiting,
 * and the event ids. */
#include "hooks/hooks.h"
#include "base/log.h"
#include "base/thread.h"
#include "codec/fastcgi.h"
#include "codec/hook_msg.h"
#include "codec/token.h"
#include "core/presence.h"
#include "hooks/fcgi_pool.h"
#include "net/auth.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

hr_hooks_cfg_t hr_hooks_cfg;

/* The relay's, whichever loop: events waiting (app_queue), the last event
 * id (unique in one run), and with workers the FPM workers' share. */
static atomic_size_t queued_all;
static _Atomic uint64_t last_id;
static hr_fcgi_share_t *fpm_share;
static atomic_uint share_users;

/* Events one connection may have waiting (past it: "application busy"):
 * a sixteenth of app_queue, at least 256. */
static size_t conn_share(void)
{
    size_t share = (size_t)hr_hooks_cfg.queue / 16;
    return share < 256 ? 256 : share;
}

enum { EV_CONNECT = 1, EV_SUBSCRIBE = 2, EV_MESSAGE = 4, EV_DISCONNECT = 8 };

static unsigned events_mask;

static int parse_events(const char *list, unsigned *mask, char *err, size_t errlen)
{
    static const char *const names[] = {"connect", "subscribe", "message", "disconnect"};
    *mask = 0;
    const char *p = list, *item;
    size_t n;
    while (hr_opt_list_next(&p, &item, &n)) {
        if (n == 0)
            continue;
        size_t i = 0;
        while (i < 4 && !(strlen(names[i]) == n && memcmp(names[i], item, n) == 0))
            i++;
        if (i == 4) {
            snprintf(err, errlen,
                     "app_events: unknown event '%.*s' (connect, subscribe, "
                     "message, disconnect)",
                     (int)n, item);
            return -1;
        }
        *mask |= 1u << i;
    }
    return 0;
}

/* An absolute path without ".", ".." or repeated slashes, by its text
 * alone (a script FPM sees that does not exist here). */
static void normalise_path(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (len == 0)
            break;
        if (len == 1 && p[0] == '.') {
            /* nothing */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
        } else if (n + 1 + len < cap) {
            out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
}

static int check(char *err, size_t errlen)
{
    hr_hooks_cfg_t *cfg = &hr_hooks_cfg;
    if (parse_events(cfg->events, &events_mask, err, errlen) != 0)
        return -1;
    if (cfg->fastcgi[0] == '\0')
        return 0;
    if (cfg->script[0] != '/') {
        snprintf(err, errlen,
                 "app_script must be the absolute path of the hook script "
                 "(app_fastcgi is set)");
        return -1;
    }
    /* SCRIPT_FILENAME as FPM will open it: resolved when it exists here
     * (FPM may run elsewhere: then it is sent as given). */
    char real[PATH_MAX];
    if (realpath(cfg->script, real) == NULL)
        normalise_path(cfg->script, real, sizeof real);
    free(cfg->script);
    cfg->script = hr_xstrndup(real, strlen(real));
    if (cfg->uri[0] != '/') {
        snprintf(err, errlen, "app_uri must begin with /");
        return -1;
    }
    if (strlen(hr_auth_cfg.secret) == 0 && getenv("HERALD_SECRET") == NULL) {
        snprintf(err, errlen,
                 "app_fastcgi needs a secret (secret or secret_file): hook "
                 "requests are signed with it");
        return -1;
    }
    return 0;
}

#define C(field) (&hr_hooks_cfg.field)
static const hr_opt_t opts[] = {
    {"app_fastcgi", HR_OPT_STR, C(fastcgi), 0, 0, "",
     "application hooks: PHP-FPM address, unix:/path or HOST:PORT (off)"},
    {"app_script", HR_OPT_STR, C(script), 0, 0, "", "hooks: absolute path of the hook script"},
    {"app_uri", HR_OPT_STR, C(uri), 0, 0, "/herald/hooks", "hooks: REQUEST_URI of hook requests"},
    {"app_events", HR_OPT_STR, C(events), 0, 0, "message",
     "hooks: events sent, of connect,subscribe,message,disconnect (message)"},
    {"app_headers", HR_OPT_STR, C(headers), 0, 0, "cookie,authorization",
     "hooks: request headers passed on connect (cookie,authorization)"},
    {"app_channels", HR_OPT_STR, C(channels), 0, 0, "",
     "hooks: channel prefixes whose subscribes the application approves (none)"},
    {"app_concurrency", HR_OPT_LONG, C(concurrency), 1, 1024, "4",
     "hooks: requests in flight = FPM workers taken at most (4)"},
    {"app_batch", HR_OPT_LONG, C(batch), 1, 10000, "64", "hooks: events per request at most (64)"},
    {"app_timeout_ms", HR_OPT_LONG, C(timeout_ms), 10, 600000, "5000",
     "hooks: one request's time, connect retries included (5000)"},
    {"app_queue", HR_OPT_LONG, C(queue), 1, 10000000, "10000",
     "hooks: events waiting, relay-wide; past it clients get \"application busy\" (10000)"},
    {"app_idle_ms", HR_OPT_LONG, C(idle_ms), 0, 3600000, "1000",
     "hooks: a kept FPM connection idle this long is closed (1000)"},
};
#undef C

const hr_opt_group_t hr_hooks_options = {opts, HR_ARRAY_SIZE(opts), check};

/* ---- state ---- */

typedef struct hev {
    struct hev *next;
    uint64_t id;
    int type; /* hr_app_type */
    hr_conn_app_t *link;
    hr_app_done_fn done;
    struct hook_hold *hold; /* a held stream's connect or subscribe */
    char *channel;          /* NULL: none */
    size_t channel_len;
    char *data;
    size_t data_len;
    int data_mode;
    char *user; /* the connection's user when the event was made */
    size_t user_len;
    hr_hook_header_t *headers; /* connect; names and values in one block */
    size_t nheaders;
    char transport[16];
    char ip[INET6_ADDRSTRLEN];
    size_t ref_len;
    char ref[80];
} hev_t;

/* A connection's waiting events (link->hook). */
typedef struct hq {
    hev_t *head, **tail;
    size_t n; /* events waiting */
    struct hq *next_ready;
    hr_conn_app_t *link;
    uint8_t ready, inflight;
} hq_t;

typedef struct hreq {
    struct hr_hooks *hk;
    hev_t *evs; /* in body order */
    size_t n;
    hq_t **qs;
    size_t nq;
} hreq_t;

enum { F_BUSY, F_UNAVAILABLE, F_NO_RESULT, F_BAD_USER, F_DROPPED, F_COUNT };
static const char *const failure_labels[F_COUNT] = {
    "reason=\"busy\"",     "reason=\"unavailable\"",        "reason=\"no_result\"",
    "reason=\"bad_user\"", "reason=\"disconnect_dropped\"",
};

enum { RQ_OK, RQ_DOWN, RQ_TIMEOUT, RQ_BROKEN, RQ_PROTOCOL, RQ_STATUS, RQ_BAD_ANSWER, RQ_COUNT };
static const char *const result_labels[RQ_COUNT] = {
    "result=\"ok\"",       "result=\"down\"",   "result=\"timeout\"",    "result=\"broken\"",
    "result=\"protocol\"", "result=\"status\"", "result=\"bad_answer\"",
};

static const char *const type_labels[4] = {"type=\"connect\"", "type=\"subscribe\"",
                                           "type=\"message\"", "type=\"disconnect\""};

struct hr_hooks {
    hr_loop_t *loop;
    hr_fcgi_pool_t *pool;
    hr_app_iface_t iface;
    hq_t *ready, **ready_tail;
    size_t queued; /* events waiting (not in flight) */
    hr_fcgi_param_t params[16];
    size_t nparams;
    char content_length[24];
    char signature[HR_HOOK_SIG_LEN + 1];
    char **header_names; /* app_headers, lower-case */
    size_t nheader_names;
    /* metrics */
    uint64_t events[4], refused[4], failures[F_COUNT], results[RQ_COUNT];
    uint64_t queue_gauge, inflight_gauge, batch_max;
};

static void pump(hr_hooks_t *hk);

/* ---- events and queues ---- */

static void ev_free(hev_t *e)
{
    hr_conn_app_unref(e->link);
    free(e->channel);
    free(e->data);
    free(e->user);
    free(e->headers);
    free(e);
}

static hev_t *ev_new(hr_hooks_t *hk, hr_conn_app_t *link, int type)
{
    hev_t *e = hr_xcalloc(1, sizeof *e);
    e->id = atomic_fetch_add_explicit(&last_id, 1, memory_order_relaxed) + 1;
    e->type = type;
    e->link = hr_conn_app_ref(link);
    if (link->user_len) {
        e->user = hr_xstrndup(link->user, link->user_len);
        e->user_len = link->user_len;
    }
    return e;
}

static void set_ready(hr_hooks_t *hk, hq_t *q)
{
    if (q->ready || q->inflight || q->head == NULL)
        return;
    q->ready = 1;
    q->next_ready = NULL;
    *hk->ready_tail = q;
    hk->ready_tail = &q->next_ready;
}

static void enqueue(hr_hooks_t *hk, hev_t *e)
{
    hr_conn_app_t *link = e->link;
    hq_t *q = link->hook;
    if (q == NULL) {
        q = hr_xcalloc(1, sizeof *q);
        q->tail = &q->head;
        q->link = hr_conn_app_ref(link);
        link->hook = q;
    }
    *q->tail = e;
    q->tail = &e->next;
    q->n++;
    hk->queued++;
    hk->queue_gauge = hk->queued;
    hk->events[e->type]++;
    set_ready(hk, q);
}

/* A queue with nothing waiting or in flight goes. */
static void q_maybe_free(hq_t *q)
{
    if (q->head || q->inflight || q->ready)
        return;
    q->link->hook = NULL;
    hr_conn_app_unref(q->link);
    free(q);
}

/* ---- the request ---- */

_Static_assert((int)HR_APP_CONNECT == (int)HR_HOOK_CONNECT &&
                   (int)HR_APP_SUBSCRIBE == (int)HR_HOOK_SUBSCRIBE &&
                   (int)HR_APP_MESSAGE == (int)HR_HOOK_MESSAGE &&
                   (int)HR_APP_DISCONNECT == (int)HR_HOOK_DISCONNECT,
               "the transports' questions and the hook events are numbered alike");

static void fill_hook_event(const hev_t *e, hr_hook_event_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = e->id;
    o->type = e->type; /* hr_app_type and hr_hook_type agree */
    o->conn = (hr_slice_t){e->link->id, e->link->id_len};
    if (e->user)
        o->user = (hr_slice_t){e->user, e->user_len};
    if (e->channel)
        o->channel = (hr_slice_t){e->channel, e->channel_len};
    if (e->type == HR_APP_MESSAGE) {
        static const int modes[] = {HR_HOOK_DATA_NONE, HR_HOOK_DATA_JSON, HR_HOOK_DATA_STRING,
                                    HR_HOOK_DATA_BASE64};
        o->data = (hr_slice_t){e->data, e->data_len};
        o->data_mode = modes[e->data_mode];
    }
    if (e->type == HR_APP_CONNECT) {
        o->transport = (hr_slice_t){e->transport, strlen(e->transport)};
        if (e->ip[0])
            o->ip = (hr_slice_t){e->ip, strlen(e->ip)};
        o->headers = e->headers;
        o->nheaders = e->nheaders;
    }
}

static hr_buf_t *encode(hr_hooks_t *hk, const hreq_t *r)
{
    hr_hook_event_t *evs = hr_xcalloc(r->n, sizeof *evs);
    size_t i = 0;
    for (hev_t *e = r->evs; e; e = e->next)
        fill_hook_event(e, &evs[i++]);
    hr_buf_t *body = hr_hook_body(evs, r->n);
    free(evs);
    const char *secret = hr_auth_cfg.secret;
    hr_hook_sign((const uint8_t *)secret, strlen(secret), (const uint8_t *)body->data, body->len,
                 hk->signature);
    snprintf(hk->content_length, sizeof hk->content_length, "%u", (unsigned)body->len);
    /* The two params that change per request (see hr_hooks_new). */
    hk->params[hk->nparams - 2].value.len = strlen(hk->content_length);
    hk->params[hk->nparams - 1].value.len = strlen(hk->signature);
    hr_buf_t *req = hr_fcgi_request(1, hk->params, hk->nparams, body->data, body->len);
    hr_buf_unref(body);
    return req;
}

static void answer(hr_hooks_t *hk, hev_t *e, const hr_app_verdict_t *v);

static void request_done(void *ud, const hr_fcgi_response_t *resp)
{
    hreq_t *r = ud;
    hr_hooks_t *hk = r->hk;
    hk->inflight_gauge--;
    int result = RQ_OK;
    const char *why = NULL;
    char err[512] = "";
    hr_hook_results_t res = {0};
    int parsed = 0;
    switch (resp->status) {
    case HR_FCGI_OK:
        if (resp->http_status != 200) {
            result = RQ_STATUS;
            snprintf(err, sizeof err, "HTTP status %d", resp->http_status);
            why = err;
        } else if (hr_hook_results_parse(resp->body, resp->len, &res, err, sizeof err) != 0) {
            /* The start of what came instead (a PHP error page, say). */
            result = RQ_BAD_ANSWER;
            size_t at = strlen(err);
            snprintf(err + at, sizeof err - at, "; the answer began: %.*s",
                     (int)(resp->len > 200 ? 200 : resp->len), (const char *)resp->body);
            why = err;
        } else {
            parsed = 1;
        }
        break;
    case HR_FCGI_DOWN:
        result = RQ_DOWN;
        break;
    case HR_FCGI_TIMEOUT:
        result = RQ_TIMEOUT;
        break;
    case HR_FCGI_BROKEN:
        result = RQ_BROKEN;
        break;
    default:
        result = RQ_PROTOCOL;
        break;
    }
    if (resp->status != HR_FCGI_OK)
        why = resp->why ? resp->why : "request failed";
    hk->results[result]++;
    if (result != RQ_OK) {
        hr_log(HR_LOG_WARN, "hooks: %zu event%s not answered: %s%s%.*s", r->n, r->n == 1 ? "" : "s",
               why, resp->err_len ? "; stderr: " : "",
               (int)(resp->err_len > 300 ? 300 : resp->err_len), (const char *)resp->err_text);
    } else if (resp->err_len) {
        hr_log(HR_LOG_INFO, "hooks: the script wrote to stderr: %.*s",
               (int)(resp->err_len > 300 ? 300 : resp->err_len), (const char *)resp->err_text);
    }
    /* Each event its result (matched by id), in order. A script answers in
     * the order it was asked, as a rule: the result after the last one
     * matched is tried first, so a batch costs O(n); any order still works. */
    size_t next = 0;
    while (r->evs) {
        hev_t *e = r->evs;
        r->evs = e->next;
        hr_app_verdict_t v = {0};
        const hr_hook_result_t *found = NULL;
        if (parsed && next < res.n && res.r[next].id == e->id)
            found = &res.r[next++];
        for (size_t i = 0; parsed && i < res.n && found == NULL; i++)
            if (res.r[i].id == e->id) {
                found = &res.r[i];
                next = i + 1;
            }
        if (found) {
            v.ok = found->ok;
            v.close = found->close;
            v.user = found->user;
            v.info = found->info;
            v.reply = found->reply;
            v.error = found->error;
            if (!v.ok && e->type != HR_APP_DISCONNECT)
                hk->refused[e->type]++;
        } else if (e->type != HR_APP_DISCONNECT) {
            v.failed = 1;
            v.error = (hr_slice_t){"application unavailable", 23};
            hk->failures[parsed ? F_NO_RESULT : F_UNAVAILABLE]++;
            if (parsed)
                hr_log(HR_LOG_WARN, "hooks: no result for event %llu (%s)",
                       (unsigned long long)e->id, hr_hook_type_name(e->type));
        }
        answer(hk, e, &v);
        ev_free(e);
    }
    if (parsed)
        hr_hook_results_free(&res);
    for (size_t i = 0; i < r->nq; i++) {
        hq_t *q = r->qs[i];
        q->inflight = 0;
        set_ready(hk, q);
        q_maybe_free(q);
    }
    free(r->qs);
    free(r);
    pump(hk);
}

static void pump(hr_hooks_t *hk)
{
    while (hk->ready && hk->pool && hr_fcgi_pool_take(hk->pool)) {
        hreq_t *r = hr_xcalloc(1, sizeof *r);
        r->hk = hk;
        hev_t **tail = &r->evs;
        size_t capq = 8;
        r->qs = hr_xmalloc(capq * sizeof *r->qs);
        while (hk->ready && r->n < (size_t)hr_hooks_cfg.batch) {
            hq_t *q = hk->ready;
            hk->ready = q->next_ready;
            if (hk->ready == NULL)
                hk->ready_tail = &hk->ready;
            q->ready = 0;
            q->inflight = 1;
            if (r->nq == capq) {
                capq *= 2;
                r->qs = hr_xrealloc(r->qs, capq * sizeof *r->qs);
            }
            r->qs[r->nq++] = q;
            while (q->head && r->n < (size_t)hr_hooks_cfg.batch) {
                hev_t *e = q->head;
                q->head = e->next;
                if (q->head == NULL)
                    q->tail = &q->head;
                e->next = NULL;
                *tail = e;
                tail = &e->next;
                r->n++;
                q->n--;
                hk->queued--;
            }
        }
        hk->queue_gauge = hk->queued;
        atomic_fetch_sub_explicit(&queued_all, r->n, memory_order_relaxed);
        if (r->n > hk->batch_max)
            hk->batch_max = r->n;
        hr_buf_t *req = encode(hk, r);
        hk->inflight_gauge++;
        hr_fcgi_pool_submit(hk->pool, req, request_done, r);
        hr_buf_unref(req);
    }
}

static void on_room(void *ud)
{
    pump(ud);
}

/* ---- held streams (connect, and the channels the application approves) ---- */

typedef struct hook_hold {
    hr_conn_pending_t pending; /* first: the connection's hold */
    hr_hooks_t *hk;
    hr_conn_app_t *link;
    hr_hooks_open_fn open;
    char *head;
    size_t head_len;
    uint8_t *rest;
    size_t rest_len;
    size_t waiting; /* answers still to come */
    int status;     /* 0, or the refusal (403, 503) */
    char why[160];
    /* The channels to approve once the connect was accepted. */
    size_t nch;
    hr_slice_t *ch;
    char *ch_bytes;
} hold_t;

static void hold_free(hold_t *h)
{
    if (h->link) {
        h->link->held = NULL;
        hr_conn_app_unref(h->link);
    }
    free(h->head);
    free(h->rest);
    free(h->ch);
    free(h->ch_bytes);
    free(h);
}

/* The connection closed while held. */
static void hold_gone(hr_conn_pending_t *p)
{
    hold_free((hold_t *)p);
}

static void hold_finish(hold_t *h)
{
    hr_conn_t *c = h->link->conn;
    if (h->status) {
        char body[200];
        int n = snprintf(body, sizeof body, "%s\n", h->why);
        int status = h->status;
        hold_free(h);
        hr_conn_reply(c, status,
                      status == 503 ? "Retry-After: 5\r\nContent-Type: text/plain\r\n" : NULL, body,
                      (size_t)n);
        return;
    }
    hr_conn_unpend(c);
    h->link->held = NULL;
    h->open(c, h->head, h->head_len, h->rest, h->rest_len);
    hold_free(h);
}

static void hold_refuse(hold_t *h, int status, const char *why, hr_slice_t detail)
{
    if (h->status == 0 || (h->status == 503 && status == 403)) {
        h->status = status;
        if (detail.p)
            snprintf(h->why, sizeof h->why, "%s: %.*s", why,
                     (int)(detail.len > 120 ? 120 : detail.len), detail.p);
        else
            snprintf(h->why, sizeof h->why, "%s", why);
    }
}

static int ask(hr_hooks_t *hk, hr_conn_t *c, hev_t *e, const char **why);

static void held_answered(hr_hooks_t *hk, hev_t *e, const hr_app_verdict_t *v)
{
    hold_t *h = e->hold;
    hr_conn_t *c = e->link->conn;
    if (c == NULL || h == NULL || e->link->held != h)
        return;
    h->waiting--;
    if (v->failed) {
        hold_refuse(h, 503, "application unavailable", (hr_slice_t){NULL, 0});
    } else if (!v->ok) {
        hold_refuse(h, 403,
                    e->type == HR_APP_CONNECT ? "refused by the application"
                                              : "channel refused by the application",
                    v->error.p ? v->error : (hr_slice_t){e->channel, e->channel_len});
    } else if (e->type == HR_APP_CONNECT) {
        if (v->user.p && hr_conn_app_set_user(c, v->user.p, v->user.len) != 0) {
            hk->failures[F_BAD_USER]++;
            hr_log(HR_LOG_WARN,
                   "hooks: the application named an invalid user (1-%d bytes of "
                   "[A-Za-z0-9_.:@=/,;-]): connection refused",
                   HR_USER_MAX);
            hold_refuse(h, 403, "the application named an invalid user", (hr_slice_t){NULL, 0});
        } else {
            /* Accepted: now the channels it approves, all at once (one
             * connection's events keep their order). */
            for (size_t i = 0; i < h->nch && h->status == 0; i++) {
                hev_t *s = ev_new(hk, h->link, HR_APP_SUBSCRIBE);
                s->hold = h;
                s->channel = hr_xstrndup(h->ch[i].p, h->ch[i].len);
                s->channel_len = h->ch[i].len;
                const char *why = NULL;
                if (ask(hk, c, s, &why) != 0)
                    hold_refuse(h, 503, why, (hr_slice_t){NULL, 0});
                else
                    h->waiting++;
            }
        }
    } else {
        hr_conn_app_grant(c, (hr_slice_t){e->channel, e->channel_len}, v->info);
    }
    if (h->waiting == 0)
        hold_finish(h);
}

static void answer(hr_hooks_t *hk, hev_t *e, const hr_app_verdict_t *v)
{
    if (e->hold) {
        held_answered(hk, e, v);
        return;
    }
    hr_conn_t *c = e->link->conn;
    if (c && e->done && !c->closing)
        e->done(c, e->ref, e->ref_len, v);
}

/* Queue e (which holds its data already); -1 and *why when the queue is
 * full (e is freed). */
static int ask(hr_hooks_t *hk, hr_conn_t *c, hev_t *e, const char **why)
{
    (void)c;
    /* One connection may not take the whole queue (a client that sends
     * faster than the application answers): past its share it alone is
     * told. A disconnect always finds its place. */
    const hq_t *q = e->link->hook;
    int over = q && q->n >= conn_share() && e->type != HR_APP_DISCONNECT;
    /* Counted before it is queued, so the loops together never pass it. */
    if (!over && atomic_fetch_add_explicit(&queued_all, 1, memory_order_relaxed) >=
                     (size_t)hr_hooks_cfg.queue) {
        atomic_fetch_sub_explicit(&queued_all, 1, memory_order_relaxed);
        over = 1;
    }
    if (over) {
        hk->failures[e->type == HR_APP_DISCONNECT ? F_DROPPED : F_BUSY]++;
        *why = "application busy";
        ev_free(e);
        return -1;
    }
    enqueue(hk, e);
    pump(hk);
    return 0;
}

/* ---- the transports' questions (net/app.h) ---- */

static int approves(void *ud, const char *name, size_t len)
{
    (void)ud;
    if (hr_token_is_private(hr_hooks_cfg.channels, name, len))
        return 1;
    return (events_mask & EV_SUBSCRIBE) || hr_presence_is(name, len);
}

static int iface_ask(void *ud, hr_conn_t *c, const hr_app_question_t *q, const char **why)
{
    hr_hooks_t *hk = ud;
    hev_t *e = ev_new(hk, hr_conn_app(c), q->type);
    e->done = q->done;
    if (q->channel.p) {
        e->channel = hr_xstrndup(q->channel.p, q->channel.len);
        e->channel_len = q->channel.len;
    }
    if (q->data.p) {
        e->data = hr_xmalloc(q->data.len + 1);
        memcpy(e->data, q->data.p, q->data.len);
        e->data[q->data.len] = '\0';
        e->data_len = q->data.len;
        e->data_mode = q->data_mode;
    }
    if (q->ref_len <= sizeof e->ref) {
        memcpy(e->ref, q->ref, q->ref_len);
        e->ref_len = q->ref_len;
    }
    return ask(hk, c, e, why);
}

/* A connection the application knew closes: disconnect, best-effort. */
static void on_close(void *ud, hr_conn_t *c)
{
    hr_hooks_t *hk = ud;
    if (!(events_mask & EV_DISCONNECT) || c->app == NULL || !c->app->attached)
        return;
    hev_t *e = ev_new(hk, c->app, HR_APP_DISCONNECT);
    const char *why;
    ask(hk, c, e, &why);
}

/* ---- holding a new stream ---- */

static int wanted_header(const hr_hooks_t *hk, hr_slice_t name)
{
    for (size_t i = 0; i < hk->nheader_names; i++)
        if (strlen(hk->header_names[i]) == name.len &&
            strncasecmp(hk->header_names[i], name.p, name.len) == 0)
            return 1;
    return 0;
}

/* The allowed headers, names lower-case, each once: repeated lines joined
 * ("; " for cookie, as RFC 6265 joins them, ", " for the others), in one
 * block. */
static void copy_headers(const hr_hooks_t *hk, const hr_http_request_t *req, hev_t *e)
{
    size_t bytes = 0;
    for (size_t i = 0; i < req->num_headers; i++)
        if (wanted_header(hk, req->headers[i].name))
            bytes += req->headers[i].name.len + req->headers[i].value.len + 2;
    if (bytes == 0)
        return;
    e->headers = hr_xmalloc(hk->nheader_names * sizeof *e->headers + bytes);
    char *w = (char *)(e->headers + hk->nheader_names);
    for (size_t k = 0; k < hk->nheader_names; k++) {
        const char *name = hk->header_names[k];
        size_t nlen = strlen(name);
        hr_hook_header_t *o = NULL;
        for (size_t i = 0; i < req->num_headers; i++) {
            const hr_http_header_t *h = &req->headers[i];
            if (h->name.len != nlen || strncasecmp(name, h->name.p, nlen) != 0)
                continue;
            if (o == NULL) {
                o = &e->headers[e->nheaders++];
                memcpy(w, name, nlen);
                o->name = (hr_slice_t){w, nlen};
                w += nlen;
                o->value = (hr_slice_t){w, 0};
            } else {
                const char *sep = strcmp(name, "cookie") == 0 ? "; " : ", ";
                memcpy(w, sep, 2);
                w += 2;
                o->value.len += 2;
            }
            memcpy(w, h->value.p, h->value.len);
            w += h->value.len;
            o->value.len += h->value.len;
        }
    }
}

int hr_hooks_hold(hr_hooks_t *hk, hr_conn_t *c, const hr_http_request_t *req,
                  const hr_slice_t *channels, size_t n, const char *transport, uint8_t *rest,
                  size_t rest_len, hr_hooks_open_fn open)
{
    hr_conn_app_t *link = hr_conn_app(c);
    size_t need = 0, bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (approves(hk, channels[i].p, channels[i].len)) {
            need++;
            bytes += channels[i].len;
        }
    int connect = (events_mask & EV_CONNECT) != 0;
    if (!connect && need == 0)
        return 0;
    if (hr_conn_net(c)->stopping)
        return 0; /* the transport refuses it in its own way */
    hold_t *h = hr_xcalloc(1, sizeof *h);
    h->pending.gone = hold_gone;
    h->hk = hk;
    h->link = hr_conn_app_ref(link);
    h->open = open;
    /* The head as the client sent it (the slices point into it), and what
     * followed it. */
    const char *start = req->method.p;
    h->head_len = (size_t)((const char *)rest - start);
    h->head = hr_xmalloc(h->head_len);
    memcpy(h->head, start, h->head_len);
    if (rest_len) {
        h->rest = hr_xmalloc(rest_len);
        memcpy(h->rest, rest, rest_len);
        h->rest_len = rest_len;
    }
    h->ch = hr_xcalloc(need ? need : 1, sizeof *h->ch);
    h->ch_bytes = hr_xmalloc(bytes ? bytes : 1);
    char *w = h->ch_bytes;
    for (size_t i = 0; i < n; i++)
        if (approves(hk, channels[i].p, channels[i].len)) {
            memcpy(w, channels[i].p, channels[i].len);
            h->ch[h->nch++] = (hr_slice_t){w, channels[i].len};
            w += channels[i].len;
        }
    link->held = h;
    hr_conn_pend(c, &h->pending);
    const char *why = NULL;
    if (connect) {
        hev_t *e = ev_new(hk, link, HR_APP_CONNECT);
        e->hold = h;
        snprintf(e->transport, sizeof e->transport, "%s", transport);
        uint8_t ip[16];
        size_t iplen = hr_conn_peer(c, ip);
        if (iplen == 4 || iplen == 16)
            inet_ntop(iplen == 4 ? AF_INET : AF_INET6, ip, e->ip, sizeof e->ip);
        copy_headers(hk, req, e);
        if (ask(hk, c, e, &why) != 0)
            hold_refuse(h, 503, why, (hr_slice_t){NULL, 0});
        else
            h->waiting++;
    } else {
        /* No connect hook: the approvals alone (the user, if any, is
         * unknown). */
        hr_app_verdict_t ok = {.ok = 1};
        hev_t fake = {.hold = h, .link = link, .type = HR_APP_CONNECT};
        h->waiting++;
        held_answered(hk, &fake, &ok);
        return 1;
    }
    if (h->waiting == 0)
        hold_finish(h);
    return 1;
}

/* ---- life ---- */

static void add_param(hr_hooks_t *hk, const char *name, const char *value)
{
    hk->params[hk->nparams++] = (hr_fcgi_param_t){{name, strlen(name)}, {value, strlen(value)}};
}

hr_hooks_t *hr_hooks_new(hr_loop_t *L)
{
    if (hr_hooks_cfg.fastcgi[0] == '\0')
        return NULL;
    hr_hooks_t *hk = hr_xcalloc(1, sizeof *hk);
    hk->loop = L;
    hk->ready_tail = &hk->ready;
    hr_fcgi_pool_cfg_t pc = {
        .address = hr_hooks_cfg.fastcgi,
        .max_conns = hr_hooks_cfg.concurrency,
        .idle_ms = hr_hooks_cfg.idle_ms,
        .timeout_ms = hr_hooks_cfg.timeout_ms,
    };
    /* Composed on the main thread, before any loop runs. */
    if (hr_threads > 1 && fpm_share == NULL)
        fpm_share = hr_fcgi_share_new((size_t)hr_hooks_cfg.concurrency);
    pc.share = hr_threads > 1 ? fpm_share : NULL;
    hk->pool = hr_fcgi_pool_new(L, &pc);
    if (hk->pool == NULL) {
        free(hk);
        return NULL;
    }
    hr_fcgi_pool_on_room(hk->pool, on_room, hk);
    if (pc.share)
        atomic_fetch_add(&share_users, 1);
    /* The params every request carries; two change per request. */
    add_param(hk, "GATEWAY_INTERFACE", "CGI/1.1");
    add_param(hk, "SERVER_SOFTWARE", "herald-relay");
    add_param(hk, "SERVER_PROTOCOL", "HTTP/1.1");
    add_param(hk, "REQUEST_METHOD", "POST");
    add_param(hk, "SCRIPT_FILENAME", hr_hooks_cfg.script);
    add_param(hk, "SCRIPT_NAME", hr_hooks_cfg.uri);
    add_param(hk, "REQUEST_URI", hr_hooks_cfg.uri);
    add_param(hk, "DOCUMENT_URI", hr_hooks_cfg.uri);
    add_param(hk, "QUERY_STRING", "");
    add_param(hk, "REMOTE_ADDR", "127.0.0.1");
    add_param(hk, "SERVER_NAME", "herald-relay");
    add_param(hk, "CONTENT_TYPE", "application/json");
    add_param(hk, "CONTENT_LENGTH", hk->content_length);     /* last but one */
    add_param(hk, "HTTP_X_HERALD_SIGNATURE", hk->signature); /* last */
    /* The allowed headers (app_headers), lower-case. */
    const char *p = hr_hooks_cfg.headers;
    const char *item;
    size_t n;
    while (hr_opt_list_next(&p, &item, &n)) {
        if (n == 0)
            continue;
        hk->header_names =
            hr_xrealloc(hk->header_names, (hk->nheader_names + 1) * sizeof *hk->header_names);
        char *name = hr_xstrndup(item, n);
        for (size_t i = 0; i < n; i++)
            if (name[i] >= 'A' && name[i] <= 'Z')
                name[i] = (char)(name[i] + 32);
        hk->header_names[hk->nheader_names++] = name;
    }
    hk->iface = (hr_app_iface_t){
        .ud = hk,
        .approves = approves,
        .ask = iface_ask,
        .messages = (events_mask & EV_MESSAGE) != 0,
    };
    L->net->app = &hk->iface;
    hr_net_add_close_hook(L->net, on_close, hk);
    hr_metrics_t *reg = &L->metrics;
    for (int i = 0; i < 4; i++) {
        hr_metrics_add(reg, "herald_hook_events_total", HR_COUNTER,
                       "Events queued for the application, by type.", type_labels[i],
                       &hk->events[i]);
        hr_metrics_add(reg, "herald_hook_refused_total", HR_COUNTER,
                       "Events the application answered with ok false, by type.", type_labels[i],
                       &hk->refused[i]);
    }
    for (int i = 0; i < RQ_COUNT; i++)
        hr_metrics_add(reg, "herald_hook_requests_total", HR_COUNTER,
                       "Hook requests to the application, by result.", result_labels[i],
                       &hk->results[i]);
    for (int i = 0; i < F_COUNT; i++)
        hr_metrics_add(reg, "herald_hook_failures_total", HR_COUNTER,
                       "Events the application did not answer, by reason.", failure_labels[i],
                       &hk->failures[i]);
    hr_metrics_add(reg, "herald_hook_queue", HR_GAUGE, "Events waiting for a hook request.", NULL,
                   &hk->queue_gauge);
    hr_metrics_add(reg, "herald_hook_inflight", HR_GAUGE, "Hook requests in flight.", NULL,
                   &hk->inflight_gauge);
    hr_metrics_add(reg, "herald_hook_batch_max", HR_GAUGE,
                   "Most events one hook request carried so far.", NULL, &hk->batch_max);
    if (pc.share == NULL || atomic_load(&share_users) == 1) /* once for the relay */
        hr_log(HR_LOG_INFO, "hooks: %s %s, events %s, %ld in flight at most", hr_hooks_cfg.fastcgi,
               hr_hooks_cfg.script, hr_hooks_cfg.events, hr_hooks_cfg.concurrency);
    return hk;
}

void hr_hooks_free(hr_hooks_t *hk)
{
    if (hk == NULL)
        return;
    if (hk->loop->net && hk->loop->net->app == &hk->iface)
        hk->loop->net->app = NULL;
    hr_fcgi_pool_t *pool = hk->pool;
    hk->pool = NULL; /* pump() starts nothing from the cancellations */
    int shared = hr_threads > 1;
    hr_fcgi_pool_free(pool);
    /* The last loop's hooks let the share go (each pool holds its own). */
    if (shared && atomic_fetch_sub(&share_users, 1) == 1) {
        hr_fcgi_share_unref(fpm_share);
        fpm_share = NULL;
    }
    while (hk->ready) {
        hq_t *q = hk->ready;
        hk->ready = q->next_ready;
        atomic_fetch_sub_explicit(&queued_all, q->n, memory_order_relaxed);
        while (q->head) {
            hev_t *e = q->head;
            q->head = e->next;
            ev_free(e);
        }
        q->link->hook = NULL;
        hr_conn_app_unref(q->link);
        free(q);
    }
    for (size_t i = 0; i < hk->nheader_names; i++)
        free(hk->header_names[i]);
    free(hk->header_names);
    free(hk);
}
