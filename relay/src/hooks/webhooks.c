/* SPDX-License-Identifier: MIT
 * webhooks.c: Pusher webhooks (webhooks.h). Events become JSON objects on a
 * batch; a zero timer (the next loop turn) or the 50th event closes the
 * batch into a body, signed once and shared by the destinations' queues.
 * A destination sends its queue's head, one at a time: a 2xx answer takes
 * it off; a 4xx drops it (the application refused it: no retry); anything
 * else is tried again after 250 ms, doubling up to 10 s, until a minute
 * has passed since its first try.
 *
 * With workers (hr_webhooks_shared_t) each loop's sources turn events into
 * JSON objects and hand them to loop 0 (a call between loops); whether a
 * channel is occupied or vacated is decided, and its event handed over,
 * under the shared table's lock, so loop 0 gets them in that order. */
#include "hooks/webhooks.h"
#include "base/log.h"
#include "base/opt.h"
#include "codec/fastcgi.h"
#include "codec/pusher_auth.h"
#include "core/chan.h"
#include "core/presence.h"
#include "hooks/fcgi_pool.h"
#include "hooks/hooks.h"
#include "net/net.h"
#include "net/pusher.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX      50    /* events in one webhook */
#define QUEUE_MAX      1000  /* bodies waiting per destination */
#define RETRY_FIRST_MS 250   /* first retry after a failure, doubling */
#define RETRY_MAX_MS   10000 /* between two tries at most */
#define GIVE_UP_MS     60000 /* a body is retried this long after its first try */
#define ATTEMPT_MS     10000 /* one HTTP request, connect to status line */

enum ev_bit {
    EV_OCCUPIED = 1,
    EV_VACATED = 2,
    EV_ADDED = 4,
    EV_REMOVED = 8,
    EV_CLIENT = 16,
};

enum result { RS_OK, RS_RETRIED, RS_REFUSED, RS_FAILED, RS_DROPPED, RS_COUNT };
static const char *const result_labels[RS_COUNT] = {
    "result=\"ok\"",     "result=\"retried\"", "result=\"refused\"",
    "result=\"failed\"", "result=\"dropped\"",
};

/* A signed body, shared by the destinations. */
typedef struct wbody {
    int refs;
    char sig[HR_PUSHER_HEX_LEN + 1];
    size_t len;
    char data[];
} wbody_t;

typedef struct witem {
    wbody_t *body;
    uint64_t first_ms; /* loop time of its first try; 0: not tried */
    struct witem *next;
} witem_t;

typedef struct dest dest_t;
typedef struct attempt attempt_t;

struct dest {
    hr_webhooks_t *w;
    int fcgi; /* 0: the URL */
    witem_t *head, *tail;
    size_t n;
    int busy;         /* a request in flight, or a retry waiting */
    uint32_t backoff; /* ms; 0: no failure yet */
    uv_timer_t retry;
    attempt_t *cur; /* URL: the request in flight */
};

/* A channel with a subscriber on `loops` loops. */
typedef struct used_chan {
    hr_hnode_t node;
    unsigned loops;
    size_t len;
    char name[];
} used_chan_t;

struct hr_webhooks_shared {
    pthread_mutex_t lock;
    hr_htab_t used;        /* used_chan_t */
    hr_webhooks_t *sender; /* loop 0's */
    hr_webhooks_call_fn call;
};

/* An event on its way to loop 0. */
typedef struct routed {
    hr_webhooks_t *to;
    json_t *ev;
} routed_t;

struct hr_webhooks {
    hr_loop_t *loop;
    hr_webhooks_shared_t *shared; /* NULL: one loop */
    unsigned mask;                /* enum ev_bit */
    hr_pusher_sink_t sink;
    hr_used_fn prev_used; /* the registry's observer before ours (the broker's) */
    void *prev_used_ud;
    json_t *batch; /* events waiting to become a body, or NULL */
    uv_timer_t batch_timer;
    dest_t url, fcgi;
    int has_url, has_fcgi, freeing, open_handles;
    int attempts; /* URL attempts not yet freed (one may still be closing) */
    /* the URL */
    char host[256], port[8], path[1024];
    /* FastCGI */
    hr_fcgi_pool_t *pool;
    hr_fcgi_param_t params[16];
    size_t nparams;
    char content_length[24], signature[HR_PUSHER_HEX_LEN + 1];
    uint64_t results[RS_COUNT], events;
};

static void body_unref(wbody_t *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void count(hr_webhooks_t *w, enum result r)
{
    w->results[r]++;
}

/* ---- the destinations' queues ---- */

static void send_head(dest_t *d);

static void item_pop(dest_t *d)
{
    witem_t *it = d->head;
    d->head = it->next;
    if (d->head == NULL)
        d->tail = NULL;
    d->n--;
    body_unref(it->body);
    free(it);
}

static void on_retry(uv_timer_t *t)
{
    dest_t *d = t->data;
    d->busy = 0;
    send_head(d);
}

/* The head's try ended: status the HTTP status, or 0 when there was none. */
static void dest_result(dest_t *d, int status, const char *why)
{
    hr_webhooks_t *w = d->w;
    d->busy = 0;
    if (w->freeing || d->head == NULL)
        return;
    const char *to = d->fcgi ? "fastcgi" : "url";
    if (status >= 200 && status < 300) {
        count(w, RS_OK);
        d->backoff = 0;
        item_pop(d);
    } else if (status >= 400 && status < 500) {
        count(w, RS_REFUSED);
        hr_log(HR_LOG_WARN, "webhooks: %s refused a webhook (%d): dropped", to, status);
        d->backoff = 0;
        item_pop(d);
    } else if (hr_loop_now_ms(w->loop) - d->head->first_ms >= GIVE_UP_MS) {
        count(w, RS_FAILED);
        hr_log(HR_LOG_WARN, "webhooks: %s: %s; given up after %d s", to, why, GIVE_UP_MS / 1000);
        d->backoff = 0;
        item_pop(d);
    } else {
        count(w, RS_RETRIED);
        d->backoff = d->backoff ? d->backoff * 2 : RETRY_FIRST_MS;
        if (d->backoff > RETRY_MAX_MS)
            d->backoff = RETRY_MAX_MS;
        hr_log(HR_LOG_DEBUG, "webhooks: %s: %s; again in %u ms", to, why, d->backoff);
        d->busy = 1;
        uv_timer_start(&d->retry, on_retry, d->backoff, 0);
        return;
    }
    send_head(d);
}

static void dest_push(dest_t *d, wbody_t *b)
{
    if (d->n >= QUEUE_MAX) {
        count(d->w, RS_DROPPED);
        hr_log(HR_LOG_WARN, "webhooks: %s queue full (%d): a webhook dropped",
               d->fcgi ? "fastcgi" : "url", QUEUE_MAX);
        return;
    }
    witem_t *it = hr_xcalloc(1, sizeof *it);
    it->body = b;
    b->refs++;
    if (d->tail)
        d->tail->next = it;
    else
        d->head = it;
    d->tail = it;
    d->n++;
    send_head(d);
}

/* ---- the URL: a small HTTP/1.1 POST client ---- */

struct attempt {
    dest_t *d;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_write_t wr;
    uv_timer_t timer;
    int pending; /* callbacks still to come (closes, the resolver) */
    int ended, tcp_open, resolving;
    char *req;
    char resp[32];
    size_t rlen;
};

static void attempt_release(attempt_t *a)
{
    if (--a->pending > 0)
        return;
    free(a->req);
    hr_webhooks_t *w = a->d->w;
    free(a);
    w->attempts--;
    if (w->freeing && --w->open_handles == 0)
        free(w);
}

static void on_attempt_closed(uv_handle_t *h)
{
    attempt_release(h->data);
}

static void attempt_end(attempt_t *a, int status, const char *why)
{
    if (a->ended)
        return;
    a->ended = 1;
    dest_t *d = a->d;
    d->cur = NULL;
    if (a->resolving)
        uv_cancel((uv_req_t *)&a->gai); /* its callback releases its part */
    uv_close((uv_handle_t *)&a->timer, on_attempt_closed);
    if (a->tcp_open)
        uv_close((uv_handle_t *)&a->tcp, on_attempt_closed);
    dest_result(d, status, why);
    attempt_release(a); /* the attempt's own part */
}

static void on_attempt_timeout(uv_timer_t *t)
{
    attempt_end(t->data, 0, "no answer in time");
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    attempt_t *a = h->data;
    buf->base = a->resp + a->rlen;
    buf->len = sizeof a->resp - a->rlen;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    attempt_t *a = s->data;
    if (nread < 0) {
        attempt_end(a, 0, nread == UV_EOF ? "closed before answering" : uv_strerror((int)nread));
        return;
    }
    a->rlen += (size_t)nread;
    /* "HTTP/1.x NNN": the status is all we read. */
    if (a->rlen < 12 && a->rlen < sizeof a->resp)
        return;
    int status = 0;
    if (a->rlen >= 12 && memcmp(a->resp, "HTTP/1.", 7) == 0 && a->resp[8] == ' ')
        for (int i = 9; i < 12 && a->resp[i] >= '0' && a->resp[i] <= '9'; i++)
            status = status * 10 + (a->resp[i] - '0');
    attempt_end(a, status >= 100 && status < 1000 ? status : 0, "not an HTTP answer");
}

static void on_write(uv_write_t *wr, int status)
{
    attempt_t *a = wr->data;
    if (status < 0)
        attempt_end(a, 0, uv_strerror(status));
}

static void on_connect(uv_connect_t *c, int status)
{
    attempt_t *a = c->data;
    if (a->ended)
        return;
    if (status < 0) {
        attempt_end(a, 0, uv_strerror(status));
        return;
    }
    uv_buf_t b = uv_buf_init(a->req, (unsigned)strlen(a->req));
    a->wr.data = a;
    uv_write(&a->wr, (uv_stream_t *)&a->tcp, &b, 1, on_write);
    uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    attempt_t *a = g->data;
    a->resolving = 0;
    if (a->ended || status < 0) {
        if (!a->ended)
            attempt_end(a, 0, uv_strerror(status));
        uv_freeaddrinfo(res);
        attempt_release(a); /* the resolver's part */
        return;
    }
    uv_tcp_init(a->d->w->loop->uv, &a->tcp);
    a->tcp.data = a;
    a->tcp_open = 1;
    a->pending++; /* its close */
    a->conn.data = a;
    int err = uv_tcp_connect(&a->conn, &a->tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    attempt_release(a); /* the resolver's part */
    if (err)
        attempt_end(a, 0, uv_strerror(err));
}

static void url_send(dest_t *d, const wbody_t *b)
{
    hr_webhooks_t *w = d->w;
    attempt_t *a = hr_xcalloc(1, sizeof *a);
    a->d = d;
    d->cur = a;
    w->attempts++;
    size_t cap = 512 + strlen(w->path) + strlen(w->host) + strlen(hr_pusher_cfg.key) + b->len;
    a->req = hr_xmalloc(cap);
    int n = snprintf(a->req, cap,
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: herald-relay\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "X-Pusher-Key: %s\r\nX-Pusher-Signature: %s\r\nConnection: close\r\n\r\n",
                     w->path, w->host, w->port, b->len, hr_pusher_cfg.key, b->sig);
    memcpy(a->req + n, b->data, b->len);
    a->req[n + b->len] = '\0';
    a->pending = 3; /* itself, its timer's close, the resolver */
    uv_timer_init(w->loop->uv, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, on_attempt_timeout, ATTEMPT_MS, 0);
    a->gai.data = a;
    a->resolving = 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int err = uv_getaddrinfo(w->loop->uv, &a->gai, on_resolved, w->host, w->port, &hints);
    if (err) {
        a->resolving = 0;
        a->pending--; /* no resolver callback */
        attempt_end(a, 0, uv_strerror(err));
    }
}

/* ---- FastCGI ---- */

static void on_fcgi_done(void *ud, const hr_fcgi_response_t *r)
{
    dest_t *d = ud;
    if (r->status == HR_FCGI_OK)
        dest_result(d, r->http_status, "an error status");
    else
        dest_result(d, 0, r->why ? r->why : "no answer");
}

static void fcgi_send(dest_t *d, const wbody_t *b)
{
    hr_webhooks_t *w = d->w;
    snprintf(w->content_length, sizeof w->content_length, "%zu", b->len);
    memcpy(w->signature, b->sig, sizeof w->signature);
    w->params[w->nparams - 2].value.len = strlen(w->content_length);
    w->params[w->nparams - 1].value.len = HR_PUSHER_HEX_LEN;
    hr_buf_t *req = hr_fcgi_request(1, w->params, w->nparams, b->data, b->len);
    if (req == NULL) {
        dest_result(d, 400, "too large");
        return;
    }
    hr_fcgi_pool_submit(w->pool, req, on_fcgi_done, d);
    hr_buf_unref(req);
}

static void send_head(dest_t *d)
{
    if (d->busy || d->head == NULL || d->w->freeing)
        return;
    d->busy = 1;
    if (d->head->first_ms == 0)
        d->head->first_ms = hr_loop_now_ms(d->w->loop) | 1;
    if (d->fcgi)
        fcgi_send(d, d->head->body);
    else
        url_send(d, d->head->body);
}

/* ---- batching ---- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush(hr_webhooks_t *w)
{
    json_t *evs = w->batch;
    w->batch = NULL;
    uv_timer_stop(&w->batch_timer);
    if (evs == NULL)
        return;
    json_t *o = json_pack("{sIso}", "time_ms", (json_int_t)wall_ms(), "events", evs);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL)
        return;
    size_t len = strlen(s);
    wbody_t *b = hr_xmalloc(sizeof *b + len + 1);
    b->refs = 1;
    b->len = len;
    memcpy(b->data, s, len + 1);
    free(s);
    hr_pusher_hmac_hex(hr_pusher_cfg.secret, strlen(hr_pusher_cfg.secret), b->data, len, b->sig);
    if (w->has_url)
        dest_push(&w->url, b);
    if (w->has_fcgi)
        dest_push(&w->fcgi, b);
    body_unref(b);
}

static void on_batch_timer(uv_timer_t *t)
{
    flush(t->data);
}

static void add(hr_webhooks_t *w, json_t *ev)
{
    if (w->freeing) {
        json_decref(ev);
        return;
    }
    w->events++;
    if (w->batch == NULL) {
        w->batch = json_array();
        uv_timer_start(&w->batch_timer, on_batch_timer, 0, 0);
    }
    json_array_append_new(w->batch, ev);
    if (json_array_size(w->batch) >= BATCH_MAX)
        flush(w);
}

static json_t *event(const char *name, hr_slice_t ch)
{
    return json_pack("{ssss#}", "name", name, "channel", ch.p, (int)ch.len);
}

static void on_routed(hr_loop_t *L, void *ud)
{
    (void)L;
    routed_t *r = ud;
    add(r->to, r->ev);
    free(r);
}

/* An event of this loop's sources: batched here, or (workers) on loop 0.
 * Once loop 0 ended, nothing is sent any more: dropped. */
static void route(hr_webhooks_t *w, json_t *ev)
{
    hr_webhooks_shared_t *s = w->shared;
    if (s == NULL) {
        add(w, ev);
        return;
    }
    routed_t *r = hr_xmalloc(sizeof *r);
    *r = (routed_t){s->sender, ev};
    if (s->call(0, on_routed, r) != 0) {
        json_decref(ev);
        free(r);
    }
}

static int used_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const used_chan_t *u = hr_container_of(n, used_chan_t, node);
    return u->len == len && memcmp(u->name, key, len) == 0;
}

/* Loop's registry: name's first subscriber (used) or its last gone. The
 * relay's first and last decide, and their event is routed under the
 * lock: two loops' decisions reach loop 0 in the order they were made. */
static void shared_used(hr_webhooks_t *w, const char *name, size_t len, int used)
{
    hr_webhooks_shared_t *s = w->shared;
    uint64_t h = hr_hash(name, len);
    pthread_mutex_lock(&s->lock);
    hr_hnode_t *n = hr_htab_find(&s->used, h, name, len, used_eq);
    used_chan_t *u = n ? hr_container_of(n, used_chan_t, node) : NULL;
    int edge = 0;
    if (used) {
        if (u == NULL) {
            u = hr_xcalloc(1, sizeof *u + len);
            u->len = len;
            memcpy(u->name, name, len);
            hr_htab_add(&s->used, &u->node, h);
        }
        edge = u->loops++ == 0;
    } else if (u != NULL && --u->loops == 0) {
        hr_htab_del(&s->used, &u->node);
        free(u);
        edge = 1;
    }
    if (edge && (w->mask & (used ? EV_OCCUPIED : EV_VACATED)))
        route(w, event(used ? "channel_occupied" : "channel_vacated", (hr_slice_t){name, len}));
    pthread_mutex_unlock(&s->lock);
}

/* ---- the sources ---- */

static void on_used(void *ud, const char *name, size_t len, int used)
{
    hr_webhooks_t *w = ud;
    if (w->prev_used)
        w->prev_used(w->prev_used_ud, name, len, used);
    /* Internal channels ('#': a connection's, a user's) are no Pusher's. */
    if (len == 0 || name[0] == '#' || !(w->mask & (EV_OCCUPIED | EV_VACATED)))
        return;
    if (w->shared) {
        shared_used(w, name, len, used);
        return;
    }
    if (w->mask & (used ? EV_OCCUPIED : EV_VACATED))
        add(w, event(used ? "channel_occupied" : "channel_vacated", (hr_slice_t){name, len}));
}

static void on_presence(void *ud, int joined, hr_slice_t ch, hr_slice_t user)
{
    hr_webhooks_t *w = ud;
    if (!(w->mask & (joined ? EV_ADDED : EV_REMOVED)))
        return;
    json_t *ev = event(joined ? "member_added" : "member_removed", ch);
    json_object_set_new(ev, "user_id", json_stringn(user.p, user.len));
    route(w, ev);
}

static void on_sink(void *ud, const char *name, hr_slice_t channel, hr_slice_t evname,
                    hr_slice_t data, hr_slice_t socket_id, hr_slice_t user_id)
{
    hr_webhooks_t *w = ud;
    if (strcmp(name, "client_event") != 0 || !(w->mask & EV_CLIENT))
        return;
    json_t *ev = event(name, channel);
    json_object_set_new(ev, "event", json_stringn(evname.p ? evname.p : "", evname.len));
    json_object_set_new(ev, "data", json_stringn(data.p ? data.p : "", data.len));
    if (socket_id.p)
        json_object_set_new(ev, "socket_id", json_stringn(socket_id.p, socket_id.len));
    if (user_id.p)
        json_object_set_new(ev, "user_id", json_stringn(user_id.p, user_id.len));
    route(w, ev);
}

/* ---- life ---- */

static unsigned parse_events(const char *list, char *bad, size_t badlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"channel_occupied", EV_OCCUPIED},
                 {"channel_vacated", EV_VACATED},
                 {"member_added", EV_ADDED},
                 {"member_removed", EV_REMOVED},
                 {"client_event", EV_CLIENT}};
    unsigned mask = 0;
    bad[0] = '\0';
    const char *p = list, *item;
    size_t n;
    while (hr_opt_list_next(&p, &item, &n)) {
        if (n == 0)
            continue;
        size_t i = 0;
        while (i < HR_ARRAY_SIZE(names) &&
               !(strlen(names[i].name) == n && !memcmp(names[i].name, item, n)))
            i++;
        if (i == HR_ARRAY_SIZE(names))
            snprintf(bad, badlen, "%.*s", (int)n, item);
        else
            mask |= names[i].bit;
    }
    return mask;
}

/* "http://host[:port][/path]" into w; -1 when it is not one. */
static int parse_url(hr_webhooks_t *w, const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *port = NULL;
    if (*h == '[') {
        const char *close = memchr(h, ']', hl);
        if (close == NULL)
            return -1;
        if (close + 1 < h + hl && close[1] == ':')
            port = close + 2;
        if ((size_t)(close - h - 1) >= sizeof w->host)
            return -1;
        memcpy(w->host, h + 1, (size_t)(close - h - 1));
        w->host[close - h - 1] = '\0';
    } else {
        const char *colon = memchr(h, ':', hl);
        size_t n = colon ? (size_t)(colon - h) : hl;
        if (colon)
            port = colon + 1;
        if (n == 0 || n >= sizeof w->host)
            return -1;
        memcpy(w->host, h, n);
        w->host[n] = '\0';
    }
    size_t pl = port ? (size_t)(h + hl - port) : 0;
    if (port && (pl == 0 || pl >= sizeof w->port || strspn(port, "0123456789") < pl))
        return -1;
    snprintf(w->port, sizeof w->port, "%.*s", port ? (int)pl : 2, port ? port : "80");
    snprintf(w->path, sizeof w->path, "%s", slash ? slash : "/");
    return strlen(w->path) + 1 >= sizeof w->path || strpbrk(w->path, " \r\n") ? -1 : 0;
}

static void add_param(hr_webhooks_t *w, const char *name, const char *value)
{
    w->params[w->nparams++] = (hr_fcgi_param_t){{name, strlen(name)}, {value, strlen(value)}};
}

static void dest_init(hr_webhooks_t *w, dest_t *d, int fcgi)
{
    d->w = w;
    d->fcgi = fcgi;
    uv_timer_init(w->loop->uv, &d->retry);
    d->retry.data = d;
    /* A retry never holds the loop open: what waits at exit is dropped. */
    uv_unref((uv_handle_t *)&d->retry);
}

hr_webhooks_shared_t *hr_webhooks_shared_new(hr_webhooks_call_fn call)
{
    hr_webhooks_shared_t *s = hr_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    hr_htab_init(&s->used, 64);
    s->call = call;
    return s;
}

void hr_webhooks_shared_free(hr_webhooks_shared_t *s)
{
    if (s == NULL)
        return;
    hr_htab_free_entries(&s->used, offsetof(used_chan_t, node));
    pthread_mutex_destroy(&s->lock);
    free(s);
}

hr_webhooks_t *hr_webhooks_new(hr_loop_t *L, hr_webhooks_shared_t *s, int *failed)
{
    const hr_pusher_cfg_t *cfg = &hr_pusher_cfg;
    *failed = 0;
    if (!hr_pusher_enabled() || (cfg->webhook_url[0] == '\0' && !cfg->webhook_fastcgi))
        return NULL;
    hr_webhooks_t *w = hr_xcalloc(1, sizeof *w);
    w->loop = L;
    w->shared = s;
    /* With workers only loop 0's sends: the others' have no destination. */
    int sends = s == NULL || s->sender == NULL;
    char bad[64];
    w->mask = parse_events(cfg->webhook_events, bad, sizeof bad);
    if (bad[0]) {
        hr_log(HR_LOG_ERROR, "webhooks: unknown event '%s' in pusher_webhook_events", bad);
        goto fail;
    }
    if (cfg->webhook_url[0]) {
        if (parse_url(w, cfg->webhook_url) != 0) {
            hr_log(HR_LOG_ERROR,
                   "webhooks: pusher_webhook_url must be http://host[:port][/path] (for https, "
                   "a local proxy): %s",
                   cfg->webhook_url);
            goto fail;
        }
        w->has_url = sends;
    }
    if (cfg->webhook_fastcgi && hr_hooks_cfg.fastcgi[0] == '\0') {
        hr_log(HR_LOG_ERROR, "webhooks: pusher_webhook_fastcgi = 1 needs app_fastcgi");
        goto fail;
    }
    if (cfg->webhook_fastcgi && sends) {
        hr_fcgi_pool_cfg_t pc = {
            .address = hr_hooks_cfg.fastcgi,
            .max_conns = 1, /* one at a time: in order */
            .idle_ms = 0,   /* pin no FPM worker between webhooks */
            .timeout_ms = hr_hooks_cfg.timeout_ms,
        };
        w->pool = hr_fcgi_pool_new(L, &pc);
        if (w->pool == NULL)
            goto fail;
        const char *script = cfg->webhook_script[0] ? cfg->webhook_script : hr_hooks_cfg.script;
        add_param(w, "GATEWAY_INTERFACE", "CGI/1.1");
        add_param(w, "SERVER_SOFTWARE", "herald-relay");
        add_param(w, "SERVER_PROTOCOL", "HTTP/1.1");
        add_param(w, "REQUEST_METHOD", "POST");
        add_param(w, "SCRIPT_FILENAME", script);
        add_param(w, "SCRIPT_NAME", cfg->webhook_uri);
        add_param(w, "REQUEST_URI", cfg->webhook_uri);
        add_param(w, "DOCUMENT_URI", cfg->webhook_uri);
        add_param(w, "QUERY_STRING", "");
        add_param(w, "REMOTE_ADDR", "127.0.0.1");
        add_param(w, "SERVER_NAME", "herald-relay");
        add_param(w, "CONTENT_TYPE", "application/json");
        add_param(w, "HTTP_X_PUSHER_KEY", cfg->key);
        add_param(w, "CONTENT_LENGTH", w->content_length);     /* last but one */
        add_param(w, "HTTP_X_PUSHER_SIGNATURE", w->signature); /* last */
        w->has_fcgi = 1;
    }
    uv_timer_init(L->uv, &w->batch_timer);
    w->batch_timer.data = w;
    dest_init(w, &w->url, 0);
    dest_init(w, &w->fcgi, 1);
    /* Sources: the registry's first/last subscriber (after the broker's
     * own observer), presence, the Pusher front. */
    w->prev_used = L->chans.on_used;
    w->prev_used_ud = L->chans.on_used_ud;
    L->chans.on_used = on_used;
    L->chans.on_used_ud = w;
    if (L->presence)
        hr_presence_observe(L->presence, on_presence, w);
    w->sink = (hr_pusher_sink_t){.ud = w, .event = on_sink};
    L->net->pusher_sink = &w->sink;
    hr_metrics_t *reg = &L->metrics;
    hr_metrics_add(reg, "herald_pusher_webhook_events_total", HR_COUNTER,
                   "Events put into Pusher webhooks.", NULL, &w->events);
    for (int i = 0; i < RS_COUNT; i++)
        hr_metrics_add(reg, "herald_pusher_webhooks_total", HR_COUNTER,
                       "Pusher webhook requests, by result (retried: a try that failed and will "
                       "be repeated).",
                       result_labels[i], &w->results[i]);
    if (s)
        s->sender = s->sender ? s->sender : w;
    if (sends)
        hr_log(HR_LOG_INFO, "webhooks: %s%s%s, events %s", w->has_url ? cfg->webhook_url : "",
               w->has_url && w->has_fcgi ? " and " : "", w->has_fcgi ? "FastCGI" : "",
               cfg->webhook_events);
    return w;
fail:
    *failed = 1;
    free(w);
    return NULL;
}

static void on_w_handle_closed(uv_handle_t *h)
{
    hr_webhooks_t *w = h->data;
    if (--w->open_handles == 0)
        free(w);
}

static void drop_queue(dest_t *d)
{
    while (d->head) {
        count(d->w, RS_DROPPED);
        item_pop(d);
    }
}

void hr_webhooks_free(hr_webhooks_t *w)
{
    if (w == NULL)
        return;
    hr_loop_t *L = w->loop;
    if (L->chans.on_used == on_used) {
        L->chans.on_used = w->prev_used;
        L->chans.on_used_ud = w->prev_used_ud;
    }
    if (L->presence && L->presence->observer == on_presence)
        hr_presence_observe(L->presence, NULL, NULL);
    if (L->net && L->net->pusher_sink == &w->sink)
        L->net->pusher_sink = NULL;
    w->freeing = 1;
    json_decref(w->batch);
    w->batch = NULL;
    if (w->pool)
        hr_fcgi_pool_free(w->pool); /* cancels what is in flight: dest_result ignores it */
    w->pool = NULL;
    drop_queue(&w->url);
    drop_queue(&w->fcgi);
    w->open_handles = 1; /* until the end of this function */
    uv_handle_t *hs[] = {(uv_handle_t *)&w->batch_timer, (uv_handle_t *)&w->url.retry,
                         (uv_handle_t *)&w->fcgi.retry};
    for (size_t i = 0; i < HR_ARRAY_SIZE(hs); i++) {
        hs[i]->data = w;
        w->open_handles++;
        uv_close(hs[i], on_w_handle_closed);
    }
    w->open_handles += w->attempts; /* each released when its last part goes */
    if (w->url.cur)
        attempt_end(w->url.cur, 0, "relay stopping");
    if (--w->open_handles == 0)
        free(w);
}
