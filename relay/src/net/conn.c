/* SPDX-License-Identifier: MIT
 * conn.c: client connections: accept, read, the write queue, flush, close,
 * timeouts, delivery of events and resumes. What a connection speaks is its
 * transport's business (transport.h): nothing here names one.
 *
 * Writing. Senders only queue references (hr_conn_send) and put the
 * connection on the loop's flush list. Once per loop turn, in the check
 * phase, hr_conn_flush_all() writes each listed connection: one uv_try_write
 * of up to HR_IOV buffers gathered with writev; what the kernel did not take
 * is handed to one uv_write, and until it completes new buffers only queue.
 * So a burst of publishes costs each subscriber one system call, and a slow
 * subscriber costs nothing but its queue, which is capped (max_queued_bytes):
 * past it the subscriber is cut off and resumes from history on reconnect.
 *
 * Reading. No connection owns a read buffer: alloc_cb lends the loop's
 * net->readbuf and the bytes are consumed before on_read returns. Only an
 * incomplete request head is copied aside (c->head) until it completes, and
 * a request body a route asked for (c->body) until it is whole.
 *
 * Requests. A head goes to the router, which answers, streams, or reads the
 * body first (hr_conn_read_body: state BODY, then the route has head and
 * body in REPLY). A route may answer later (hr_conn_pend), and may keep the
 * connection for the next request (hr_conn_respond): it goes back to HTTP,
 * idle. One request at a time: bytes that arrive while a route has the
 * request are dropped and the answer closes the connection (RFC 9112
 * 9.3.2 lets a pipelining client resend what was not answered). */
#include "net/conn.h"
#include "base/log.h"
#include "codec/http.h"
#include "core/broker.h"
#include "net/conn_app.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HR_IOV 64

/* A request body being read (HR_CONN_BODY): the head's bytes, then the
 * body's, in one buffer that grows as they arrive, up to need. */
typedef struct hr_conn_body {
    hr_body_fn fn;
    void *ud;
    char *buf;
    uint32_t head_len, need, have, cap;
    uint8_t keep; /* the client allows another request after this one */
} hr_conn_body_t;

static void on_closed(uv_handle_t *h);
static void flush(hr_conn_t *c);

/* ---- write queue ---- */

static void wq_push(hr_wq_t *q, hr_buf_t *b)
{
    if (q->count == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 4;
        hr_buf_t **ring = hr_xmalloc(ncap * sizeof *ring);
        for (uint32_t i = 0; i < q->count; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = ncap;
        q->head = 0;
    }
    q->ring[(q->head + q->count) % q->cap] = hr_buf_ref(b);
    q->count++;
    q->bytes += b->len;
}

/* Drop n written bytes from the front of the queue. */
static void wq_consume(hr_wq_t *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        hr_buf_t *b = q->ring[q->head];
        size_t left = b->len - q->off;
        if (n < left) {
            q->off += (uint32_t)n;
            return;
        }
        n -= left;
        q->off = 0;
        hr_buf_unref(b);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    /* A drained ring keeps its capacity: under a stream of bursts, freeing
     * and regrowing it per burst cost 5-10 % of the relay's fan-out CPU
     * (docs/BENCHMARKS.md). The sweep gives back a large one that idles. */
}

static void wq_shrink_if_idle(hr_wq_t *q)
{
    if (q->count == 0 && q->cap > 16) {
        free(q->ring);
        q->ring = NULL;
        q->cap = 0;
        q->head = 0;
    }
}

static void wq_release(hr_wq_t *q)
{
    for (uint32_t i = 0; i < q->count; i++)
        hr_buf_unref(q->ring[(q->head + i) % q->cap]);
    free(q->ring);
    memset(q, 0, sizeof *q);
}

static int wq_iov(const hr_wq_t *q, uv_buf_t *iov, int max, size_t *bytes)
{
    int n = 0;
    *bytes = 0;
    for (uint32_t i = 0; i < q->count && n < max; i++) {
        hr_buf_t *b = q->ring[(q->head + i) % q->cap];
        size_t off = i == 0 ? q->off : 0;
        iov[n++] = uv_buf_init(b->data + off, (unsigned)(b->len - off));
        *bytes += b->len - off;
    }
    return n;
}

/* ---- sending ---- */

static void mark_flush(hr_net_t *net, hr_conn_t *c)
{
    if (!c->flush_marked) {
        c->flush_marked = 1;
        c->flush_next = net->flush_list;
        net->flush_list = c;
    }
}

/* Queue b; with capped, past max_queued_bytes the connection is cut off. */
/* Inlined: it is the fan-out's inner loop (hr_conn_deliver). */
static inline __attribute__((always_inline)) int send_on(hr_net_t *net, hr_conn_t *c, hr_buf_t *b,
                                                         int capped)
{
    if (c->closing || c->end_after_flush)
        return -1;
    if (capped && c->wq.count > 0 && c->wq.bytes + b->len > (size_t)hr_net_cfg.max_queued_bytes &&
        !c->writing) {
        /* Over the cap, but the kernel took everything so far: the queue
         * grew within this turn (a burst, a batch another loop handed
         * over), not because the client stopped reading. Write now. */
        flush(c);
        if (c->closing)
            return -1;
    }
    if (capped && c->wq.count > 0 && c->wq.bytes + b->len > (size_t)hr_net_cfg.max_queued_bytes) {
        net->slow_consumers++;
        hr_log(HR_LOG_INFO, "client %p: slow consumer, %zu bytes queued: disconnected", (void *)c,
               c->wq.bytes);
        hr_conn_close(c, NULL);
        return -1;
    }
    wq_push(&c->wq, b);
    c->last_write_ms = hr_loop_now_ms(net->loop);
    mark_flush(net, c);
    return 0;
}

int hr_conn_send_uncapped(hr_conn_t *c, hr_buf_t *b)
{
    return send_on(hr_conn_net(c), c, b, 0);
}

int hr_conn_send(hr_conn_t *c, hr_buf_t *b)
{
    return send_on(hr_conn_net(c), c, b, 1);
}

int hr_conn_send_copy(hr_conn_t *c, const void *bytes, size_t len)
{
    hr_buf_t *b = hr_buf_from(bytes, len);
    int r = hr_conn_send(c, b);
    hr_buf_unref(b);
    return r;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

static void count_kind(hr_conn_t *c, int delta)
{
    hr_net_t *net = hr_conn_net(c);
    /* Pending: a request is arriving (an idle connection between two
     * requests has none). */
    if ((c->kind == HR_CONN_HTTP && !c->idle) || c->kind == HR_CONN_BODY)
        net->connections_http += (uint64_t)delta;
    else if (c->kind == HR_CONN_STREAM)
        net->tstats[c->tidx].connections += (uint64_t)delta;
}

static void set_kind(hr_conn_t *c, int kind, int tidx)
{
    count_kind(c, -1);
    c->kind = (uint8_t)kind;
    c->tidx = (uint8_t)tidx;
    count_kind(c, +1);
}

void hr_conn_set_transport(hr_conn_t *c, int tidx)
{
    set_kind(c, HR_CONN_STREAM, tidx);
}

/* The route's hold on a request ends: answered (tell nobody), or dropped
 * by the connection (tell the route). The body read for it goes too. */
static void end_request(hr_conn_t *c, int tell)
{
    if (c->body) {
        free(c->body->buf);
        free(c->body);
        c->body = NULL;
    }
    hr_conn_pending_t *p = c->pending;
    c->pending = NULL;
    if (p && tell)
        p->gone(p);
}

static void queue_response(hr_conn_t *c, int status, const char *conn_headers,
                           const char *extra_headers, const char *body, size_t body_len)
{
    char head[512];
    int n = snprintf(
        head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s%s\r\n", status,
        status_text(status), body_len, conn_headers,
        status >= 400 && extra_headers == NULL ? "Content-Type: text/plain; charset=utf-8\r\n" : "",
        extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head)
        abort(); /* a programming error: headers too long */
    if (status >= 400)
        hr_conn_net(c)->http_errors++;
    hr_buf_t *b = hr_buf_new((size_t)n + body_len);
    memcpy(b->data, head, (size_t)n);
    if (body_len)
        memcpy(b->data + n, body, body_len);
    hr_conn_send(c, b);
    hr_buf_unref(b);
}

void hr_conn_reply(hr_conn_t *c, int status, const char *extra_headers, const char *body,
                   size_t body_len)
{
    end_request(c, 0);
    set_kind(c, HR_CONN_REPLY, 0);
    free(c->head);
    c->head = NULL;
    queue_response(c, status, "Connection: close\r\n", extra_headers, body, body_len);
    hr_conn_end(c);
}

void hr_conn_respond(hr_conn_t *c, int status, const char *extra_headers, const char *body,
                     size_t body_len)
{
    hr_net_t *net = hr_conn_net(c);
    if (!c->keep_alive || c->kind != HR_CONN_REPLY || c->closing || c->end_after_flush ||
        net->stopping || hr_net_cfg.keepalive_timeout <= 0) {
        hr_conn_reply(c, status, extra_headers, body, body_len);
        return;
    }
    char conn[80];
    snprintf(conn, sizeof conn, "Connection: keep-alive\r\nKeep-Alive: timeout=%ld\r\n",
             hr_net_cfg.keepalive_timeout);
    end_request(c, 0);
    queue_response(c, status, conn, extra_headers, body, body_len);
    /* Back to reading heads, idle: nothing held until the next byte. */
    c->idle = 1;
    set_kind(c, HR_CONN_HTTP, 0);
    c->keep_alive = 0;
    c->deadline_ms = hr_loop_now_ms(net->loop) + (uint64_t)hr_net_cfg.keepalive_timeout * 1000;
}

void hr_conn_pend(hr_conn_t *c, hr_conn_pending_t *p)
{
    c->pending = p;
}

void hr_conn_unpend(hr_conn_t *c)
{
    end_request(c, 0);
}

int hr_conn_read_body(hr_conn_t *c, const hr_http_request_t *req, const uint8_t *rest,
                      size_t rest_len, size_t max, hr_body_fn fn, void *ud)
{
    hr_http_body_info_t bi;
    int st = hr_http_body_info(req, &bi);
    if (st != 0)
        return st;
    if (bi.chunked || !bi.has_length)
        return 411;
    if (bi.length > max || bi.length > UINT32_MAX / 2)
        return 413;
    size_t len = (size_t)bi.length;
    int keep = hr_http_persistent(req);
    if (rest_len >= len) {
        /* The whole body came with the head: no copy. More than the body is
         * the start of a pipelined request, which is not served. */
        c->keep_alive = (uint8_t)(keep && rest_len == len);
        if (keep && rest_len > len)
            hr_log(HR_LOG_DEBUG, "client %p: pipelined request dropped; closing after the answer",
                   (void *)c);
        c->deadline_ms = hr_loop_now_ms(hr_conn_loop(c));
        fn(ud, c, req, rest, len);
        return 0;
    }
    /* The head is the bytes before rest, from the request line on. */
    size_t head_len = (size_t)((const char *)rest - req->method.p);
    hr_conn_body_t *b = hr_xcalloc(1, sizeof *b);
    b->fn = fn;
    b->ud = ud;
    b->head_len = (uint32_t)head_len;
    b->need = (uint32_t)(head_len + len);
    b->cap =
        (uint32_t)(head_len + rest_len + 16384 < b->need ? head_len + rest_len + 16384 : b->need);
    b->buf = hr_xmalloc(b->cap);
    memcpy(b->buf, req->method.p, head_len);
    if (rest_len)
        memcpy(b->buf + head_len, rest, rest_len);
    b->have = (uint32_t)(head_len + rest_len);
    b->keep = (uint8_t)keep;
    if (bi.expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        hr_conn_send_copy(c, cont, sizeof cont - 1);
    }
    set_kind(c, HR_CONN_BODY, 0);
    c->body = b;
    c->deadline_ms = hr_loop_now_ms(hr_conn_loop(c)) + (uint64_t)hr_net_cfg.body_timeout * 1000;
    return 0;
}

/* More of a body (HR_CONN_BODY); at its end, the route gets the request. */
static void read_body(hr_conn_t *c, const char *data, size_t len)
{
    hr_conn_body_t *b = c->body;
    size_t take = len < b->need - b->have ? len : b->need - b->have;
    if (b->have + take > b->cap) {
        size_t cap = (size_t)b->cap * 2;
        while (cap < b->have + take)
            cap *= 2;
        b->cap = (uint32_t)(cap < b->need ? cap : b->need);
        b->buf = hr_xrealloc(b->buf, b->cap);
    }
    memcpy(b->buf + b->have, data, take);
    b->have += (uint32_t)take;
    if (b->have < b->need)
        return;
    c->body = NULL;
    set_kind(c, HR_CONN_REPLY, 0);
    c->keep_alive = (uint8_t)(b->keep && take == len);
    if (b->keep && take < len)
        hr_log(HR_LOG_DEBUG, "client %p: pipelined request dropped; closing after the answer",
               (void *)c);
    c->deadline_ms = hr_loop_now_ms(hr_conn_loop(c));
    /* The same bytes parsed the same way: the route gets a head whose
     * slices point into this buffer. */
    hr_http_request_t req;
    if (hr_http_parse_request(b->buf, b->head_len, b->head_len, &req) != (ssize_t)b->head_len)
        abort(); /* a programming error: these bytes parsed before */
    b->fn(b->ud, c, &req, (const uint8_t *)b->buf + b->head_len, b->need - b->head_len);
    free(b->buf);
    free(b);
}

/* ---- subscriptions, delivery, resume ---- */

hr_sub_t *hr_conn_subscribe(hr_conn_t *c, const char *name, size_t len, int accepts)
{
    return hr_chan_subscribe(&hr_conn_loop(c)->chans, name, len, c, accepts, &c->subs);
}

int hr_conn_unsubscribe(hr_conn_t *c, const char *name, size_t len)
{
    return hr_chan_unsubscribe(&hr_conn_loop(c)->chans, name, len, &c->subs);
}

void hr_conn_deliver(void *owner, hr_event_t *ev, int chan)
{
    hr_conn_t *c = owner;
    if (c->closing)
        return;
    /* Its sender (except): a connection without an id cannot be one. */
    if (ev->except_len && c->app && c->app->id_len == ev->except_len &&
        memcmp(c->app->id, ev->except, ev->except_len) == 0)
        return;
    hr_net_t *net = hr_conn_net(c);
    const hr_transport_t *t = net->transports[c->tidx];
    /* Seqs reach a connection in increasing order, so one comparison drops
     * both an event published to several of its channels and one a resume
     * replay already carried (a transport that delivers per channel
     * decides itself: admit). */
    if (t->admit == NULL && ev->seq <= c->last_seq)
        return;
    if (c->resume) {
        /* Bounded like the queue: past it, the client comes back and
         * resumes again rather than the relay growing. */
        if (hr_resume_hold(c->resume, ev, chan, (size_t)hr_net_cfg.max_queued_bytes) != 0) {
            net->slow_consumers++;
            hr_conn_close(c, "too much arrived during a resume");
        }
        return;
    }
    if (t->admit == NULL)
        c->last_seq = ev->seq;
    else if (!t->admit(c, ev, chan))
        return;
    /* The subscribers of one publish follow each other here: the second
     * and later of one transport take the first one's bytes. */
    hr_buf_t *b;
    if (net->last.serial == ev->serial && net->last.tidx == c->tidx && net->last.chan == chan &&
        net->last.variant == c->enc_variant) {
        b = net->last.buf;
    } else {
        b = t->encode(c, ev, chan);
        if (b && !t->encode_per_conn) {
            hr_buf_ref(b);
            if (net->last.buf)
                hr_buf_unref(net->last.buf);
            net->last.serial = ev->serial;
            net->last.buf = b;
            net->last.chan = chan;
            net->last.tidx = c->tidx;
            net->last.variant = c->enc_variant;
        }
    }
    if (b && send_on(net, c, b, 1) == 0)
        net->tstats[c->tidx].delivered++;
}

static void sink_start(void *owner, const char *position, uint64_t seq)
{
    hr_conn_t *c = owner;
    if (c->closing)
        return;
    c->last_seq = seq;
    if (position && hr_conn_transport(c)->start)
        hr_conn_transport(c)->start(c, position);
}

static void sink_gap(void *owner, const hr_resume_t *r, const char *position)
{
    hr_conn_t *c = owner;
    if (!c->closing)
        hr_conn_transport(c)->gap(c, r, position);
}

static void sink_replay(void *owner, hr_event_t *ev)
{
    hr_conn_t *c = owner;
    if (c->closing)
        return;
    const hr_transport_t *t = hr_conn_transport(c);
    if (t->replay) {
        t->replay(c, ev);
        return;
    }
    if (ev->seq > c->last_seq)
        c->last_seq = ev->seq;
    hr_buf_t *b = t->encode(c, ev, 0);
    if (b && hr_conn_send_uncapped(c, b) == 0)
        hr_conn_net(c)->tstats[c->tidx].delivered++;
}

static void sink_failed(void *owner, const char *why)
{
    /* The client reconnects with the same id and tries again: nothing lost. */
    hr_conn_close(owner, why);
}

static void sink_done(void *owner)
{
    ((hr_conn_t *)owner)->resume = NULL;
}

static void sink_finished(void *owner)
{
    hr_conn_t *c = owner;
    if (!c->closing && hr_conn_transport(c)->resumed)
        hr_conn_transport(c)->resumed(c);
}

static const hr_resume_sink_t conn_sink = {
    .start = sink_start,
    .gap = sink_gap,
    .replay = sink_replay,
    .live = hr_conn_deliver,
    .failed = sink_failed,
    .done = sink_done,
    .finished = sink_finished,
};

void hr_conn_resume(hr_conn_t *c, int accepts, hr_slice_t since, const hr_slice_t *channels,
                    size_t n)
{
    hr_broker_t *b = hr_conn_loop(c)->broker;
    c->resume = hr_resume_new(c, &conn_sink, accepts, since, channels, n);
    b->ops->resume(b, c->resume);
}

void hr_conn_fresh(hr_conn_t *c, int accepts, const hr_slice_t *channels, size_t n)
{
    hr_broker_t *b = hr_conn_loop(c)->broker;
    if (b->ops->fresh == NULL) {
        char id[HR_ID_MAX];
        hr_broker_position(b, id);
        sink_start(c, id, b->seq);
        return;
    }
    c->resume = hr_resume_new(c, &conn_sink, accepts, (hr_slice_t){"", 0}, channels, n);
    c->resume->fresh = 1;
    b->ops->fresh(b, c->resume);
}

/* ---- flushing ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    hr_conn_t *c = req->data;
    hr_net_t *net = hr_conn_net(c);
    free(req);
    /* Lingering close (RFC 9112 9.6): a client answered early (431, 400)
     * may still be sending its request. Closing with its bytes unread makes
     * the kernel reset the connection, which can destroy the answer before
     * the client reads it. So a reply keeps reading (on_read drops the
     * bytes) until the client closes, or the sweep's reply deadline; not
     * past the connection limit, nor at shutdown, nor for a client refused
     * for its address's share (429): lingering would let one address hold
     * the slots max_connections_per_ip is there to keep for others. */
    int refused_429 = hr_net_cfg.max_connections_per_ip > 0 && !c->ip_counted && c->ip_len;
    if (status == 0 && !c->closing && c->kind == HR_CONN_REPLY && !net->stopping &&
        hr_net_total(net) <= net->max_conns && !refused_429 && !c->peer_done)
        return;
    hr_conn_close(c, NULL);
}

static void finish_end(hr_conn_t *c)
{
    uv_shutdown_t *req = hr_xmalloc(sizeof *req);
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        free(req);
        hr_conn_close(c, NULL);
    }
}

static void on_write_done(uv_write_t *req, int status)
{
    hr_conn_t *c = req->data;
    free(req);
    c->writing = 0;
    if (c->closing)
        return;
    if (status < 0) {
        hr_conn_close(c, NULL);
        return;
    }
    size_t bytes = 0;
    for (uint32_t i = 0; i < c->wq.inflight; i++) {
        hr_buf_t *b = c->wq.ring[(c->wq.head + i) % c->wq.cap];
        bytes += b->len - (i == 0 ? c->wq.off : 0);
    }
    c->wq.inflight = 0;
    hr_conn_net(c)->bytes_out += bytes;
    wq_consume(&c->wq, bytes);
    flush(c);
}

static void flush(hr_conn_t *c)
{
    if (c->closing || c->writing)
        return;
    if (c->wq.count > 0) {
        uv_buf_t iov[HR_IOV];
        size_t bytes;
        int n = wq_iov(&c->wq, iov, HR_IOV, &bytes);
        int r = uv_try_write((uv_stream_t *)&c->tcp, iov, (unsigned)n);
        if (r == UV_EAGAIN || r == UV_ENOSYS)
            r = 0;
        if (r < 0) {
            hr_conn_close(c, NULL);
            return;
        }
        hr_conn_net(c)->bytes_out += (size_t)r;
        wq_consume(&c->wq, (size_t)r);
        if (c->wq.count > 0) {
            /* The kernel took what it could; libuv writes the rest when the
             * socket drains. Buffers arriving meanwhile only queue. */
            n = wq_iov(&c->wq, iov, HR_IOV, &bytes);
            uv_write_t *req = hr_xmalloc(sizeof *req);
            req->data = c;
            if (uv_write(req, (uv_stream_t *)&c->tcp, iov, (unsigned)n, on_write_done) != 0) {
                free(req);
                hr_conn_close(c, NULL);
                return;
            }
            c->writing = 1;
            c->wq.inflight = (uint32_t)n;
            return;
        }
    }
    if (c->end_after_flush)
        finish_end(c);
}

void hr_conn_flush_all(hr_net_t *net)
{
    hr_conn_t *c = net->flush_list;
    net->flush_list = NULL;
    while (c) {
        hr_conn_t *next = c->flush_next;
        c->flush_marked = 0;
        c->flush_next = NULL;
        flush(c);
        c = next;
    }
}

void hr_conn_end(hr_conn_t *c)
{
    if (c->closing || c->end_after_flush)
        return;
    c->end_after_flush = 1;
    /* Nothing more is delivered to a connection that is ending. */
    hr_chan_unsubscribe_all(&hr_conn_loop(c)->chans, &c->subs);
    mark_flush(hr_conn_net(c), c);
}

/* ---- lifecycle ---- */

void hr_conn_close(hr_conn_t *c, const char *why)
{
    if (c->closing)
        return;
    hr_net_t *net = hr_conn_net(c);
    hr_loop_t *L = net->loop;
    c->closing = 1;
    if (why)
        hr_log(HR_LOG_DEBUG, "client %p: closed: %s", (void *)c, why);
    for (size_t i = 0; i < net->nclose_hooks; i++)
        net->close_hooks[i].fn(net->close_hooks[i].ud, c);
    if (c->resume) {
        hr_resume_t *r = c->resume;
        c->resume = NULL;
        hr_resume_detach(r);
        if (L->broker->ops->conn_closed)
            L->broker->ops->conn_closed(L->broker, r);
    }
    hr_chan_unsubscribe_all(&L->chans, &c->subs);
    if (c->kind == HR_CONN_STREAM && hr_conn_transport(c)->on_close)
        hr_conn_transport(c)->on_close(c);
    end_request(c, 1);
    count_kind(c, -1);
    if (c->prev)
        c->prev->next = c->next;
    else
        net->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    net->nconns--;
    __atomic_sub_fetch(net->total, 1, __ATOMIC_RELAXED);
    if (c->ip_counted) {
        c->ip_counted = 0;
        hr_iplimit_release(net->ipl, c->ip, c->ip_len);
    }
    free(c->head);
    c->head = NULL;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_closed(uv_handle_t *h)
{
    hr_conn_t *c = hr_container_of(h, hr_conn_t, tcp);
    wq_release(&c->wq);
    free(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    hr_net_t *net = hr_net_of(h);
    buf->base = net->readbuf;
    buf->len = sizeof net->readbuf;
}

static void read_head(hr_conn_t *c, char *data, size_t len)
{
    char *p = data;
    size_t n = len;
    size_t max = (size_t)hr_net_cfg.max_header_bytes;
    if (c->idle) {
        /* The next request begins: it has a header timeout of its own. */
        c->idle = 0;
        hr_conn_net(c)->connections_http++;
        c->deadline_ms =
            hr_loop_now_ms(hr_conn_loop(c)) + (uint64_t)hr_net_cfg.header_timeout * 1000;
    }
    /* A head can only complete with a newline, or fail at the size limit:
     * do not re-parse a slow client's head for every byte it trickles. */
    if (c->head && memchr(data, '\n', len) == NULL && c->head_len + len < max) {
        c->head = hr_xrealloc(c->head, c->head_len + len);
        memcpy(c->head + c->head_len, data, len);
        c->head_len += (uint32_t)len;
        return;
    }
    if (c->head) {
        c->head = hr_xrealloc(c->head, c->head_len + len);
        memcpy(c->head + c->head_len, data, len);
        c->head_len += (uint32_t)len;
        p = c->head;
        n = c->head_len;
    }
    hr_http_request_t req;
    ssize_t r = hr_http_parse_request(p, n, max, &req);
    if (r == HR_AGAIN) {
        if (c->head == NULL) {
            c->head = hr_xmalloc(len);
            memcpy(c->head, data, len);
            c->head_len = (uint32_t)len;
        }
        return;
    }
    if (r == HR_ETOOBIG) {
        hr_conn_reply(c, 431, NULL, "request head too large\n", 23);
        return;
    }
    if (r < 0) {
        hr_conn_reply(c, 400, NULL, "malformed request\n", 18);
        return;
    }
    /* The request is complete, so it no longer counts as pending (the
     * gauge's own /metrics scrape included), whatever the router makes of
     * it: a reply, or a stream (hr_conn_set_transport). */
    set_kind(c, HR_CONN_REPLY, 0);
    /* The connection may carry another request only after a request whose
     * bytes were all read: one with a body, until a route reads it. */
    hr_http_body_info_t bi;
    int body = hr_http_body_info(&req, &bi) != 0 || bi.chunked || (bi.has_length && bi.length);
    c->keep_alive = (uint8_t)(!body && hr_http_persistent(&req));
    /* The router consumes the rest of the bytes before we free c->head. */
    char *head = c->head;
    c->head = NULL;
    hr_conn_net(c)->on_request(c, &req, (uint8_t *)p + r, n - (size_t)r);
    free(head);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hr_conn_t *c = hr_container_of(s, hr_conn_t, tcp);
    if (nread < 0) {
        if (nread == UV_EOF && c->kind == HR_CONN_REPLY && !c->closing &&
            (c->pending || (c->end_after_flush && (c->wq.count || c->writing)))) {
            /* Half-closed after its request (nc -N, a client that ends
             * its side once it sent): the answer still goes out, whether
             * the route answers later (a publish, a scrape gathered from
             * every loop) or it waits for the next flush; then the
             * connection closes, with nothing left to linger for. */
            c->keep_alive = 0;
            c->peer_done = 1;
            return;
        }
        hr_conn_close(c, nread == UV_EOF ? "peer closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->closing)
        return;
    c->last_read_ms = hr_loop_now_ms(hr_conn_loop(c));
    if (c->kind == HR_CONN_HTTP)
        read_head(c, buf->base, (size_t)nread);
    else if (c->kind == HR_CONN_BODY)
        read_body(c, buf->base, (size_t)nread);
    else if (c->kind == HR_CONN_STREAM && hr_conn_transport(c)->on_read)
        hr_conn_transport(c)->on_read(c, (uint8_t *)buf->base, (size_t)nread);
    else if (c->kind == HR_CONN_REPLY && !c->end_after_flush && c->keep_alive) {
        /* The next request came before this one's answer: not served. */
        hr_log(HR_LOG_DEBUG, "client %p: pipelined request dropped; closing after the answer",
               (void *)c);
        c->keep_alive = 0;
    }
    /* A finished reply reads only to notice when the client goes away. */
}

/* The peer address as 4 or 16 bytes; 0 if it cannot be read. IPv4-mapped
 * IPv6 addresses count as IPv4. */
size_t hr_conn_peer(hr_conn_t *c, uint8_t out[16])
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        return 4;
    }
    if (ss.ss_family == AF_INET6) {
        const uint8_t *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            return 4;
        }
        memcpy(out, a, 16);
        return 16;
    }
    return 0;
}

/* Count c against its address's share; 0, or -1 when the address has had
 * it (c is not counted). */
static int ip_acquire(hr_net_t *net, hr_conn_t *c)
{
    if (hr_net_cfg.max_connections_per_ip <= 0)
        return 0;
    size_t len = hr_conn_peer(c, c->ip);
    if (len == 0)
        return 0;
    c->ip_len = (uint8_t)len;
    if (hr_iplimit_acquire(net->ipl, c->ip, len, hr_net_cfg.max_connections_per_ip) != 0)
        return -1;
    c->ip_counted = 1;
    return 0;
}

/* A client that vanished (unplugged, a phone out of coverage) sends no FIN:
 * without these, its connection lives until the queue cap or the kernel's
 * retransmission limit (about 15 minutes). TCP_USER_TIMEOUT closes it once
 * data (heartbeats included) stays unacknowledged that long; keepalive
 * probes an idle one, and the same timeout bounds the probes. */
static void set_dead_peer_timeouts(hr_conn_t *c)
{
    uv_os_fd_t fd;
    long ms = hr_net_cfg.tcp_user_timeout_ms;
    if (ms <= 0 || uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
        uv_tcp_keepalive(&c->tcp, 1, 60);
        return;
    }
    unsigned int timeout = (unsigned int)ms;
    int idle = ms / 2000 > 1 ? (int)(ms / 2000) : 1, intvl = idle > 10 ? 10 : idle, on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
}

void hr_conn_accept(uv_stream_t *listener, int tag)
{
    hr_net_t *net = hr_net_of((uv_handle_t *)listener);
    hr_conn_t *c = hr_xcalloc(1, sizeof *c);
    c->listener_tag = (uint8_t)tag;
    uv_tcp_init(listener->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    c->next = net->conns;
    if (c->next)
        c->next->prev = c;
    net->conns = c;
    net->nconns++;
    size_t total = __atomic_add_fetch(net->total, 1, __ATOMIC_RELAXED);
    net->connections_total++;
    c->kind = HR_CONN_HTTP;
    count_kind(c, +1);
    uint64_t now = hr_loop_now_ms(net->loop);
    c->last_read_ms = c->last_write_ms = now;
    c->deadline_ms = now + (uint64_t)hr_net_cfg.header_timeout * 1000;
    uv_tcp_nodelay(&c->tcp, 1);
    set_dead_peer_timeouts(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        hr_conn_close(c, "read_start failed");
        return;
    }
    if (total > net->max_conns) {
        /* The descriptor reserve lets us answer instead of dropping. */
        net->connections_rejected++;
        hr_conn_reply(c, 503, "Retry-After: 5\r\nContent-Type: text/plain\r\n",
                      "connection limit reached\n", 25);
    } else if (ip_acquire(net, c) != 0) {
        /* 429, not 503: the relay has room, this address has had its share. */
        net->limit_per_ip++;
        hr_conn_reply(c, 429, "Retry-After: 5\r\nContent-Type: text/plain\r\n",
                      "too many connections from this address\n", 39);
    }
}

void hr_conn_sweep(hr_net_t *net, uint64_t now)
{
    uint64_t header_ms = (uint64_t)hr_net_cfg.header_timeout * 1000;
    uint64_t ping_ms = (uint64_t)hr_net_cfg.ping_interval * 1000;
    hr_conn_t *c = net->conns;
    while (c) {
        hr_conn_t *next = c->next;
        switch (c->kind) {
        case HR_CONN_HTTP:
            if (now >= c->deadline_ms && c->idle)
                hr_conn_close(c, "keep-alive timeout");
            else if (now >= c->deadline_ms)
                hr_conn_reply(c, 408, NULL, "request head timeout\n", 21);
            break;
        case HR_CONN_BODY:
            if (now >= c->deadline_ms) {
                net->limit_body_timeout++;
                hr_log(HR_LOG_DEBUG, "client %p: request body not complete in %lds: 408", (void *)c,
                       hr_net_cfg.body_timeout);
                end_request(c, 1);
                hr_conn_reply(c, 408, NULL, "request body timeout\n", 21);
            }
            break;
        case HR_CONN_STREAM:
            /* A queue idle for a heartbeat interval gives its ring back. */
            if (now - c->last_write_ms >= ping_ms)
                wq_shrink_if_idle(&c->wq);
            hr_conn_transport(c)->heartbeat(c, now);
            break;
        case HR_CONN_REPLY:
            /* A reply that cannot be delivered in a header timeout is abandoned. */
            if (now >= c->deadline_ms + header_ms)
                hr_conn_close(c, "reply not drained");
            break;
        }
        c = next;
    }
}

void hr_conn_shutdown_all(hr_net_t *net)
{
    hr_conn_t *c = net->conns;
    while (c) {
        hr_conn_t *next = c->next;
        switch (c->kind) {
        case HR_CONN_STREAM:
            hr_conn_transport(c)->begin_close(c);
            break;
        case HR_CONN_REPLY:
            /* One still being written finishes; one lingering after its
             * answer (on_shutdown) has nothing left to give. One whose route
             * has not answered yet waits for the answer (or the timeout). */
            if (c->end_after_flush && !c->writing && c->wq.count == 0)
                hr_conn_close(c, "shutdown");
            break;
        case HR_CONN_HTTP:
            /* Between two requests, the last answer may not be written
             * yet: it goes first, then the connection closes. */
            if (c->wq.count > 0 || c->writing) {
                set_kind(c, HR_CONN_REPLY, 0);
                hr_conn_end(c);
            } else {
                hr_conn_close(c, "shutdown");
            }
            break;
        default:
            hr_conn_close(c, "shutdown");
            break;
        }
        c = next;
    }
}

void hr_conn_close_all(hr_net_t *net, const char *why)
{
    while (net->conns)
        hr_conn_close(net->conns, why);
}
