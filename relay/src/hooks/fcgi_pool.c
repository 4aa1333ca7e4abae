/* SPDX-License-Identifier: MIT
 * fcgi_pool.c: connections to the application's FastCGI server (see
 * fcgi_pool.h for the rules).
 *
 * A request (req_t) lives from submit to its done callback and owns one
 * timer, set to its deadline or, while it waits to retry a connect, to the
 * retry (whichever comes first). A connection (conn_t) is connecting (for
 * the request that opened it), busy (one request), idle (kept, on the idle
 * stack, with its idle timer running) or closing. Idle connections go on
 * reading, so that php-fpm closing one is seen at once and it is not taken
 * for the next request; should that race be lost anyway, the request moves
 * to a new connection because no byte of its answer came back.
 *
 * Memory: the pool, each request and each connection own libuv handles and
 * are freed in the close callbacks of those. The pool counts the objects
 * whose handles are still open (and itself until hr_fcgi_pool_free), and
 * goes with the last. */
#include "hooks/fcgi_pool.h"

#include "base/log.h"
#include "codec/fastcgi.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define BACKOFF_FIRST_MS     50
#define BACKOFF_MAX_MS       1000
#define DEFAULT_TIMEOUT_MS   5000
#define DEFAULT_MAX_RESPONSE (16u << 20)
#define REQUEST_ID           1

typedef struct conn conn_t;
typedef struct req req_t;

enum req_state { REQ_WAIT, REQ_CONNECTING, REQ_RUNNING, REQ_REFUSED, REQ_FINISHED };
enum conn_state { CONN_CONNECTING, CONN_BUSY, CONN_IDLE, CONN_CLOSING };

struct req {
    hr_fcgi_pool_t *p;
    hr_buf_t *buf;
    hr_fcgi_done_fn done;
    void *ud;
    uv_timer_t timer;
    uint64_t deadline;   /* loop ms */
    uint64_t backoff;    /* ms before the next connect attempt */
    int last_err;        /* of the last failed connect, for the log */
    int state;           /* req_state */
    const char *refused; /* REQ_REFUSED: why */
    conn_t *c;           /* CONNECTING, RUNNING */
    int slot;            /* holds one of the share's slots */
    req_t *prev, *next;  /* the pool's requests in flight */
};

struct conn {
    union {
        uv_handle_t h;
        uv_stream_t s;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } u;
    uv_timer_t idle;
    uv_connect_t connect;
    hr_fcgi_pool_t *p;
    req_t *req;
    int state;    /* conn_state */
    int counted;  /* established: in stats.connections */
    int reused;   /* served a request before the current one */
    int answered; /* a byte of the current answer came */
    int slot;     /* kept (idle) holding one of the share's slots */
    int open_handles;
    hr_fcgi_reader_t rd;
    conn_t *prev, *next;           /* every conn not closing */
    conn_t *idle_prev, *idle_next; /* the idle stack */
};

struct hr_fcgi_pool {
    hr_loop_t *L;
    int is_unix;
    char path[108]; /* sizeof sockaddr_un.sun_path */
    struct sockaddr_storage addr;
    char *address; /* for the log */
    size_t max_conns, inflight;
    uint64_t idle_ms, timeout_ms;
    size_t max_response;
    req_t *reqs;
    conn_t *conns, *idle;
    void (*on_room)(void *ud);
    void *room_ud;
    int freeing;
    size_t refs;                /* objects with open handles, + 1 until hr_fcgi_pool_free */
    uint64_t log_at, log_quiet; /* warning rate limit: last warning (ms), warnings left out */
    hr_fcgi_pool_stats_t st;
    /* With a share: woken from other loops (a slot for us, or a pool in
     * line that wants our kept connections); granted and in_line are the
     * share's, under its lock. */
    hr_fcgi_share_t *share;
    uv_async_t wake;
    size_t granted;  /* slots handed to us, not taken yet */
    size_t reserved; /* slots taken for the next submit */
    int in_line;
    char rbuf[65536]; /* lent to every read: the reader copies what it keeps */
};

static void pool_unref(hr_fcgi_pool_t *p)
{
    if (--p->refs == 0) {
        hr_fcgi_share_unref(p->share);
        free(p->address);
        free(p);
    }
}

/* One warning a second at most: when FPM is down every request fails alike. */
static void warn(hr_fcgi_pool_t *p, const char *what, const char *why)
{
    uint64_t now = hr_loop_now_ms(p->L);
    if (p->log_at && now - p->log_at < 1000) {
        p->log_quiet++;
        return;
    }
    if (p->log_quiet)
        hr_log(HR_LOG_WARN, "hooks: %s: %s (and %llu more failures)", what, why,
               (unsigned long long)p->log_quiet);
    else
        hr_log(HR_LOG_WARN, "hooks: %s: %s", what, why);
    p->log_at = now;
    p->log_quiet = 0;
}

/* ---- the share: slots between pools (fcgi_pool.h) ----
 *
 * held counts the slots taken: requests in flight (req.slot), kept
 * connections (conn.slot) and slots handed to a pool not taken yet
 * (granted, reserved). A freed slot goes to the first pool in line, if
 * any, without leaving held: nobody can take it on the way. */

struct hr_fcgi_share {
    pthread_mutex_t lock;
    size_t max, held, refs;
    hr_fcgi_pool_t **line; /* first in line first */
    size_t nline, capline;
    hr_fcgi_pool_t **pools; /* every pool sharing it, for the wake-ups */
    size_t npools, cappools;
};

hr_fcgi_share_t *hr_fcgi_share_new(size_t max)
{
    hr_fcgi_share_t *s = hr_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->max = max ? max : 1;
    s->refs = 1;
    return s;
}

void hr_fcgi_share_unref(hr_fcgi_share_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    int last = --s->refs == 0;
    pthread_mutex_unlock(&s->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->line);
    free(s->pools);
    free(s);
}

static void list_remove(hr_fcgi_pool_t **a, size_t *n, const hr_fcgi_pool_t *p)
{
    for (size_t i = 0; i < *n; i++)
        if (a[i] == p) {
            memmove(a + i, a + i + 1, (*n - i - 1) * sizeof *a);
            (*n)--;
            return;
        }
}

/* A slot is free (under the lock): the first in line gets it (woken on its
 * loop), else it is nobody's. */
static void give_locked(hr_fcgi_share_t *s)
{
    if (s->nline == 0) {
        s->held--;
        return;
    }
    hr_fcgi_pool_t *w = s->line[0];
    list_remove(s->line, &s->nline, w);
    w->in_line = 0;
    w->granted++;
    uv_async_send(&w->wake); /* under the lock: w cannot leave meanwhile */
}

static void slot_give(hr_fcgi_pool_t *p)
{
    hr_fcgi_share_t *s = p->share;
    pthread_mutex_lock(&s->lock);
    give_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* Another pool waits for a slot. */
static int share_waited(hr_fcgi_share_t *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->nline > 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* A request of p ended on a connection it could keep: 1 when another pool
 * is first in line (the connection goes, its slot to that pool). p first
 * in line has its turn now: it keeps the connection and leaves the line. */
static int others_first(hr_fcgi_pool_t *p)
{
    hr_fcgi_share_t *s = p->share;
    pthread_mutex_lock(&s->lock);
    int others = s->nline > 0 && s->line[0] != p;
    if (s->nline > 0 && s->line[0] == p) {
        list_remove(s->line, &s->nline, p);
        p->in_line = 0;
    }
    int idle = !p->in_line && !p->granted;
    pthread_mutex_unlock(&s->lock);
    if (idle) /* nothing to wait for: the loop may end (see on_wake) */
        uv_unref((uv_handle_t *)&p->wake);
    return others;
}

/* ---- address ---- */

static int parse_address(hr_fcgi_pool_t *p, const char *a)
{
    if (strncmp(a, "unix:", 5) == 0) {
        const char *path = a + 5;
        if (*path == '\0' || strlen(path) >= sizeof p->path)
            return -1;
        p->is_unix = 1;
        memcpy(p->path, path, strlen(path) + 1);
        return 0;
    }
    const char *colon = strrchr(a, ':');
    if (colon == NULL || colon == a || colon[1] == '\0')
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return -1;
    char host[64];
    size_t hl = (size_t)(colon - a);
    if (a[0] == '[' && colon[-1] == ']') {
        a++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host)
        return -1;
    memcpy(host, a, hl);
    host[hl] = '\0';
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&p->addr) == 0)
        return strchr(host, ':') ? -1 : 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&p->addr) == 0)
        return 0;
    return -1;
}

/* ---- requests ---- */

static void attempt(req_t *q, int fresh);
static void conn_close(conn_t *c);

static void on_req_closed(uv_handle_t *h)
{
    req_t *q = h->data;
    hr_fcgi_pool_t *p = q->p;
    free(q);
    pool_unref(p);
}

/* End q: the counters, done, then room for the next. The caller has
 * detached q from its connection (or closes it). */
static void finish(req_t *q, hr_fcgi_response_t *r)
{
    hr_fcgi_pool_t *p = q->p;
    int counted = q->state != REQ_REFUSED;
    if (q->c) {
        q->c->req = NULL;
        q->c = NULL;
    }
    q->state = REQ_FINISHED;
    if (counted) {
        if (q->prev)
            q->prev->next = q->next;
        else
            p->reqs = q->next;
        if (q->next)
            q->next->prev = q->prev;
        p->inflight--;
    }
    switch (r->status) {
    case HR_FCGI_OK:
        p->st.ok++;
        break;
    case HR_FCGI_DOWN:
        p->st.down++;
        break;
    case HR_FCGI_TIMEOUT:
        p->st.timeout++;
        break;
    case HR_FCGI_BROKEN:
        p->st.broken++;
        break;
    case HR_FCGI_PROTOCOL:
        p->st.protocol++;
        break;
    }
    if (r->status != HR_FCGI_OK && r->status != HR_FCGI_CANCELLED)
        warn(p, p->address, r->why);
    if (q->slot) {
        q->slot = 0;
        slot_give(p);
    }
    uv_timer_stop(&q->timer);
    uv_close((uv_handle_t *)&q->timer, on_req_closed); /* p lives until then */
    hr_buf_unref(q->buf);
    q->done(q->ud, r);
    if (counted && !p->freeing && p->on_room && hr_fcgi_pool_room(p) > 0)
        p->on_room(p->room_ud);
}

static void finish_status(req_t *q, int status, const char *why)
{
    hr_fcgi_response_t r = {.status = status, .why = why};
    finish(q, &r);
}

static uint64_t remaining(const req_t *q)
{
    uint64_t now = hr_loop_now_ms(q->p->L);
    return q->deadline > now ? q->deadline - now : 0;
}

static void on_req_timer(uv_timer_t *t)
{
    req_t *q = t->data;
    hr_fcgi_pool_t *p = q->p;
    if (q->state == REQ_REFUSED) {
        finish_status(q, HR_FCGI_CANCELLED, q->refused);
        return;
    }
    if (remaining(q) > 0 && q->state == REQ_WAIT) {
        p->st.retries++;
        attempt(q, 0); /* a connection kept meanwhile serves as well as a new one */
        return;
    }
    if (remaining(q) > 0) { /* not due yet: libuv timers do not fire early, but be sure */
        uv_timer_start(&q->timer, on_req_timer, remaining(q), 0);
        return;
    }
    conn_t *c = q->c;
    char why[200];
    if (q->state == REQ_RUNNING) {
        snprintf(why, sizeof why, "no answer within %llu ms", (unsigned long long)p->timeout_ms);
        /* The answer so far (stderr) still tells what the script was doing. */
        hr_fcgi_response_t r = {.status = HR_FCGI_TIMEOUT, .why = why};
        if (c) {
            r.err_text = c->rd.err;
            r.err_len = c->rd.err_len;
        }
        finish(q, &r);
    } else {
        if (q->last_err)
            snprintf(why, sizeof why, "could not connect within %llu ms: %s",
                     (unsigned long long)p->timeout_ms, uv_strerror(q->last_err));
        else
            snprintf(why, sizeof why, "could not connect within %llu ms",
                     (unsigned long long)p->timeout_ms);
        finish_status(q, HR_FCGI_DOWN, why);
    }
    if (c)
        conn_close(c); /* its FPM worker may still run the script: the connection is spent */
}

/* Wait for the next attempt (or the deadline, if sooner). */
static void retry_later(req_t *q, int err)
{
    q->state = REQ_WAIT;
    q->c = NULL;
    q->last_err = err;
    uint64_t wait = q->backoff < remaining(q) ? q->backoff : remaining(q);
    q->backoff = q->backoff * 2 < BACKOFF_MAX_MS ? q->backoff * 2 : BACKOFF_MAX_MS;
    uv_timer_start(&q->timer, on_req_timer, wait, 0);
    hr_log(HR_LOG_DEBUG, "hooks: %s: %s, retry in %llu ms", q->p->address, uv_strerror(err),
           (unsigned long long)wait);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0)
        return;
    hr_fcgi_pool_t *p = c->p;
    hr_fcgi_reader_free(&c->rd);
    free(c);
    pool_unref(p);
}

static void idle_remove(conn_t *c)
{
    hr_fcgi_pool_t *p = c->p;
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        p->idle = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    uv_timer_stop(&c->idle);
}

/* Idempotent. The request on c, if any, is the caller's to finish or move. */
static void conn_close(conn_t *c)
{
    hr_fcgi_pool_t *p = c->p;
    if (c->state == CONN_CLOSING)
        return;
    if (c->state == CONN_IDLE)
        idle_remove(c);
    if (c->counted)
        p->st.connections--;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->req)
        c->req->c = NULL;
    c->req = NULL;
    c->state = CONN_CLOSING;
    if (c->slot) {
        c->slot = 0;
        slot_give(p);
    }
    uv_timer_stop(&c->idle);
    uv_close(&c->u.h, on_conn_closed);
    uv_close((uv_handle_t *)&c->idle, on_conn_closed);
}

static void on_idle_timeout(uv_timer_t *t)
{
    conn_close(t->data);
}

static void make_idle(conn_t *c)
{
    hr_fcgi_pool_t *p = c->p;
    if (p->idle_ms == 0 || p->freeing) {
        conn_close(c);
        return;
    }
    c->state = CONN_IDLE;
    c->reused = 1;
    c->idle_prev = NULL;
    c->idle_next = p->idle;
    if (p->idle)
        p->idle->idle_prev = c;
    p->idle = c; /* a stack: the most recent is taken first, the others age out */
    uv_timer_start(&c->idle, on_idle_timeout, p->idle_ms, 0);
}

/* c lost its stream (err: EOF, a reset, a failed write). */
static void conn_lost(conn_t *c, int err)
{
    req_t *q = c->req;
    int reused = c->reused, answered = c->answered;
    conn_close(c);
    if (q == NULL)
        return;
    if (reused && !answered) {
        /* A kept connection that the server had closed: the request never
         * reached a worker. */
        hr_log(HR_LOG_DEBUG, "hooks: %s: kept connection closed (%s), retrying on a new one",
               c->p->address, uv_strerror(err));
        c->p->st.retries++;
        attempt(q, 1);
        return;
    }
    char why[160];
    snprintf(why, sizeof why, "connection lost %s: %s",
             answered ? "in the middle of the answer" : "before any answer",
             err == UV_EOF ? "closed by the server" : uv_strerror(err));
    hr_fcgi_response_t r = {
        .status = HR_FCGI_BROKEN, .why = why, .err_text = c->rd.err, .err_len = c->rd.err_len};
    finish(q, &r);
}

/* The answer on c is whole: c goes back to the idle stack (or closes, with
 * bytes after the answer), then its request ends. */
static void complete(conn_t *c, int extra)
{
    req_t *q = c->req;
    hr_fcgi_reader_t rd = c->rd; /* the answer moves here: c may serve the next request in done */
    hr_fcgi_reader_init(&c->rd, REQUEST_ID, 0);
    q->c = NULL;
    c->req = NULL;
    /* Another loop's pool waits: the connection goes, its FPM worker and
     * the request's slot (in finish) go to the first in line. */
    if (extra || (c->p->share && others_first(c->p))) {
        conn_close(c);
    } else {
        make_idle(c);
        if (c->state == CONN_IDLE) { /* the request's slot stays with it */
            c->slot = q->slot;
            q->slot = 0;
        }
    }
    char why[96];
    int st;
    size_t off;
    hr_fcgi_response_t r = {.err_text = rd.err, .err_len = rd.err_len};
    if (hr_cgi_split(rd.out, rd.out_len, &st, &off, why, sizeof why) == 0) {
        r.status = HR_FCGI_OK;
        r.http_status = st;
        r.body = rd.out + off;
        r.len = rd.out_len - off;
    } else {
        r.status = HR_FCGI_PROTOCOL;
        r.why = why;
    }
    finish(q, &r);
    hr_fcgi_reader_free(&rd);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    *buf = uv_buf_init(c->p->rbuf, sizeof c->p->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread == 0 || c->state == CONN_CLOSING)
        return;
    if (nread < 0) {
        conn_lost(c, (int)nread);
        return;
    }
    if (c->req == NULL) {
        hr_log(HR_LOG_DEBUG, "hooks: %s: %zd bytes on an idle connection", c->p->address, nread);
        conn_close(c);
        return;
    }
    c->answered = 1;
    ssize_t n = hr_fcgi_reader_feed(&c->rd, (const uint8_t *)buf->base, (size_t)nread);
    if (n == HR_AGAIN)
        return;
    if (n < 0) {
        req_t *q = c->req;
        char why[sizeof c->rd.errstr];
        memcpy(why, c->rd.errstr, sizeof why);
        conn_close(c);
        finish_status(q, HR_FCGI_PROTOCOL, why);
        return;
    }
    complete(c, n < nread);
}

/* A write of its own for every request. libuv calls a write's callback
 * from the next iteration's pending phase, and the answer can be read before
 * that (a request written in a pending or prepare callback is answered by
 * the poll that follows): the connection then serves the next request while
 * libuv still holds the previous write. Reusing one uv_write_t per connection
 * corrupted libuv's write queue and crashed the relay. */
typedef struct wreq {
    uv_write_t w;
    conn_t *c;
    hr_buf_t *buf; /* the request being written (a reference of our own) */
} wreq_t;

static void on_write(uv_write_t *w, int status)
{
    wreq_t *wr = hr_container_of(w, wreq_t, w);
    conn_t *c = wr->c; /* alive: libuv cancels writes before the close callback */
    hr_buf_unref(wr->buf);
    free(wr);
    if (status < 0 && c->state != CONN_CLOSING)
        conn_lost(c, status);
}

/* Send q on c, a connection just made or taken from the idle stack. */
static void run_on(conn_t *c, req_t *q)
{
    hr_fcgi_pool_t *p = c->p;
    c->state = CONN_BUSY;
    c->req = q;
    c->answered = 0;
    q->c = c;
    q->state = REQ_RUNNING;
    uv_timer_start(&q->timer, on_req_timer, remaining(q), 0);
    hr_fcgi_reader_free(&c->rd);
    hr_fcgi_reader_init(&c->rd, REQUEST_ID, p->max_response);
    wreq_t *wr = hr_xmalloc(sizeof *wr);
    wr->c = c;
    wr->buf = hr_buf_ref(q->buf);
    uv_buf_t b = uv_buf_init(wr->buf->data, wr->buf->len);
    int err = uv_write(&wr->w, &c->u.s, &b, 1, on_write);
    if (err < 0) {
        hr_buf_unref(wr->buf);
        free(wr);
        conn_lost(c, err);
    }
}

static void on_connect(uv_connect_t *cr, int status)
{
    conn_t *c = cr->data;
    if (c->state == CONN_CLOSING)
        return; /* closed while connecting (its request timed out, or the pool went) */
    req_t *q = c->req;
    if (status < 0) {
        conn_close(c);
        retry_later(q, status);
        return;
    }
    hr_fcgi_pool_t *p = c->p;
    c->counted = 1;
    p->st.connections++;
    p->st.connects++;
    if ((status = uv_read_start(&c->u.s, on_alloc, on_read)) < 0) {
        conn_close(c);
        retry_later(q, status);
        return;
    }
    run_on(c, q);
}

/* A new connection for q; failures come back as retries. */
static void connect_new(req_t *q)
{
    hr_fcgi_pool_t *p = q->p;
    conn_t *c = hr_xcalloc(1, sizeof *c);
    c->p = p;
    c->state = CONN_CONNECTING;
    c->connect.data = c;
    hr_fcgi_reader_init(&c->rd, REQUEST_ID, p->max_response);
    int err = p->is_unix ? uv_pipe_init(p->L->uv, &c->u.pipe, 0) : uv_tcp_init(p->L->uv, &c->u.tcp);
    if (err < 0) { /* only on resource exhaustion: nothing to close */
        free(c);
        retry_later(q, err);
        return;
    }
    uv_timer_init(p->L->uv, &c->idle);
    c->u.h.data = c;
    c->idle.data = c;
    c->open_handles = 2;
    p->refs++;
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    c->req = q;
    q->c = c;
    q->state = REQ_CONNECTING;
    uv_timer_start(&q->timer, on_req_timer, remaining(q), 0);
    if (p->is_unix) {
        uv_pipe_connect(&c->connect, &c->u.pipe, p->path, on_connect);
    } else {
        uv_tcp_nodelay(&c->u.tcp, 1);
        err = uv_tcp_connect(&c->connect, &c->u.tcp, (const struct sockaddr *)&p->addr, on_connect);
        if (err < 0) {
            conn_close(c);
            retry_later(q, err);
        }
    }
}

/* Put q on a kept connection (unless fresh) or a new one. */
static void attempt(req_t *q, int fresh)
{
    hr_fcgi_pool_t *p = q->p;
    if (!fresh && p->idle) {
        conn_t *c = p->idle;
        idle_remove(c);
        if (c->slot) { /* the kept connection's slot is the request's now */
            c->slot = 0;
            if (q->slot)
                slot_give(p);
            q->slot = 1;
        }
        run_on(c, q);
        return;
    }
    connect_new(q);
}

/* ---- the pool ---- */

static void on_wake_closed(uv_handle_t *h)
{
    pool_unref(h->data);
}

/* Woken by another loop: a slot for us, or a pool in line that wants our
 * kept connections. */
static void on_wake(uv_async_t *a)
{
    hr_fcgi_pool_t *p = a->data;
    hr_fcgi_share_t *s = p->share;
    while (p->idle && share_waited(s))
        conn_close(p->idle); /* its slot goes to the first in line */
    pthread_mutex_lock(&s->lock);
    size_t before = p->granted;
    pthread_mutex_unlock(&s->lock);
    if (before && p->on_room && hr_fcgi_pool_room(p) > 0)
        p->on_room(p->room_ud);
    /* What was handed to us and not taken goes on to the next in line
     * (what came meanwhile has its own wake-up coming). */
    pthread_mutex_lock(&s->lock);
    size_t back = p->granted < before ? p->granted : before;
    p->granted -= back;
    while (back--)
        give_locked(s);
    int keep = p->in_line || p->granted;
    pthread_mutex_unlock(&s->lock);
    /* A pool waiting for a slot keeps its loop running, as its requests
     * in flight would: its events are sent before the loop ends. */
    if (keep)
        uv_ref((uv_handle_t *)&p->wake);
    else
        uv_unref((uv_handle_t *)&p->wake);
}

int hr_fcgi_pool_take(hr_fcgi_pool_t *p)
{
    if (hr_fcgi_pool_room(p) == 0)
        return 0;
    hr_fcgi_share_t *s = p->share;
    if (s == NULL || p->idle || p->reserved)
        return 1;
    int ok = 0;
    pthread_mutex_lock(&s->lock);
    if (p->granted) {
        p->granted--;
        ok = 1;
    } else if (s->held < s->max && s->nline == 0) {
        s->held++;
        ok = 1;
    } else if (!p->in_line) {
        p->in_line = 1;
        if (s->nline == s->capline) {
            s->capline = s->capline ? s->capline * 2 : 8;
            s->line = hr_xrealloc(s->line, s->capline * sizeof *s->line);
        }
        s->line[s->nline++] = p;
        /* Kept connections elsewhere hold slots nobody uses: they go. */
        for (size_t i = 0; i < s->npools; i++)
            if (s->pools[i] != p)
                uv_async_send(&s->pools[i]->wake);
    }
    pthread_mutex_unlock(&s->lock);
    if (ok)
        p->reserved++;
    else
        uv_ref((uv_handle_t *)&p->wake);
    return ok;
}

hr_fcgi_pool_t *hr_fcgi_pool_new(hr_loop_t *L, const hr_fcgi_pool_cfg_t *cfg)
{
    hr_fcgi_pool_t *p = hr_xcalloc(1, sizeof *p);
    if (cfg->address == NULL || parse_address(p, cfg->address) < 0) {
        hr_log(HR_LOG_ERROR, "hooks: FastCGI address %s: not unix:/path, IPv4:PORT or [IPv6]:PORT",
               cfg->address ? cfg->address : "(none)");
        free(p);
        return NULL;
    }
    p->L = L;
    p->address = hr_xstrndup(cfg->address, strlen(cfg->address));
    p->max_conns = cfg->max_conns > 0 ? (size_t)cfg->max_conns : 1;
    p->idle_ms = cfg->idle_ms > 0 ? (uint64_t)cfg->idle_ms : 0;
    p->timeout_ms = cfg->timeout_ms > 0 ? (uint64_t)cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    p->max_response = cfg->max_response ? cfg->max_response : DEFAULT_MAX_RESPONSE;
    p->refs = 1;
    if (cfg->share) {
        hr_fcgi_share_t *s = p->share = cfg->share;
        uv_async_init(L->uv, &p->wake, on_wake);
        p->wake.data = p;
        uv_unref((uv_handle_t *)&p->wake);
        p->refs++;
        pthread_mutex_lock(&s->lock);
        s->refs++;
        if (s->npools == s->cappools) {
            s->cappools = s->cappools ? s->cappools * 2 : 8;
            s->pools = hr_xrealloc(s->pools, s->cappools * sizeof *s->pools);
        }
        s->pools[s->npools++] = p;
        pthread_mutex_unlock(&s->lock);
    }

    hr_metrics_t *reg = &L->metrics;
    hr_metrics_add(reg, "herald_hook_fpm_connections", HR_GAUGE,
                   "Connections to the application's FastCGI server, open now.", NULL,
                   &p->st.connections);
    hr_metrics_add(reg, "herald_hook_fpm_connects_total", HR_COUNTER,
                   "Connections to the application's FastCGI server established.", NULL,
                   &p->st.connects);
    hr_metrics_add(reg, "herald_hook_fpm_retries_total", HR_COUNTER,
                   "Hook requests moved to a new connection: a connect failed, or a kept "
                   "connection was found closed.",
                   NULL, &p->st.retries);
    static const char *const help = "Hook requests to the application's FastCGI server, by result.";
    hr_metrics_add(reg, "herald_hook_fpm_requests_total", HR_COUNTER, help, "result=\"ok\"",
                   &p->st.ok);
    hr_metrics_add(reg, "herald_hook_fpm_requests_total", HR_COUNTER, help, "result=\"down\"",
                   &p->st.down);
    hr_metrics_add(reg, "herald_hook_fpm_requests_total", HR_COUNTER, help, "result=\"timeout\"",
                   &p->st.timeout);
    hr_metrics_add(reg, "herald_hook_fpm_requests_total", HR_COUNTER, help, "result=\"broken\"",
                   &p->st.broken);
    hr_metrics_add(reg, "herald_hook_fpm_requests_total", HR_COUNTER, help, "result=\"protocol\"",
                   &p->st.protocol);
    return p;
}

size_t hr_fcgi_pool_room(const hr_fcgi_pool_t *p)
{
    return p->freeing || p->inflight >= p->max_conns ? 0 : p->max_conns - p->inflight;
}

void hr_fcgi_pool_submit(hr_fcgi_pool_t *p, hr_buf_t *request, hr_fcgi_done_fn done, void *ud)
{
    req_t *q = hr_xcalloc(1, sizeof *q);
    q->p = p;
    q->buf = hr_buf_ref(request);
    q->done = done;
    q->ud = ud;
    q->backoff = BACKOFF_FIRST_MS;
    q->deadline = hr_loop_now_ms(p->L) + p->timeout_ms;
    uv_timer_init(p->L->uv, &q->timer);
    q->timer.data = q;
    p->refs++;
    int no_slot = p->share && !p->idle && !p->reserved;
    if (hr_fcgi_pool_room(p) == 0 || no_slot) {
        /* Answered from the loop: done never runs inside submit. */
        q->state = REQ_REFUSED;
        q->refused = p->freeing ? "the hook pool is closing" : "no room in the hook pool";
        uv_timer_start(&q->timer, on_req_timer, 0, 0);
        return;
    }
    if (p->share && !p->idle) { /* else it takes the kept connection's slot */
        p->reserved--;
        q->slot = 1;
    }
    p->inflight++;
    q->next = p->reqs;
    if (p->reqs)
        p->reqs->prev = q;
    p->reqs = q;
    attempt(q, 0);
}

void hr_fcgi_pool_on_room(hr_fcgi_pool_t *p, void (*fn)(void *ud), void *ud)
{
    p->on_room = fn;
    p->room_ud = ud;
}

const hr_fcgi_pool_stats_t *hr_fcgi_pool_stats(const hr_fcgi_pool_t *p)
{
    return &p->st;
}

void hr_fcgi_pool_free(hr_fcgi_pool_t *p)
{
    if (p == NULL || p->freeing)
        return;
    p->freeing = 1;
    if (p->share) {
        /* Out of line; what was handed to us or kept for us goes on. */
        hr_fcgi_share_t *s = p->share;
        pthread_mutex_lock(&s->lock);
        if (p->in_line)
            list_remove(s->line, &s->nline, p);
        p->in_line = 0;
        list_remove(s->pools, &s->npools, p);
        for (size_t n = p->granted + p->reserved; n > 0; n--)
            give_locked(s);
        p->granted = p->reserved = 0;
        pthread_mutex_unlock(&s->lock);
        uv_close((uv_handle_t *)&p->wake, on_wake_closed);
    }
    while (p->reqs) {
        req_t *q = p->reqs;
        conn_t *c = q->c;
        finish_status(q, HR_FCGI_CANCELLED, "the hook pool is closing");
        if (c)
            conn_close(c);
    }
    while (p->conns)
        conn_close(p->conns);
    pool_unref(p);
}
