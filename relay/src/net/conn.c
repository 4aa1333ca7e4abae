/* SPDX-License-Identifier: MIT
 * conn.c: client connections: accept, read, the write queue, flush, close,
 * heartbeats and timeouts.
 *
 * Writing. Senders only queue references (hr_conn_send) and put the
 * connection on hr_relay.flush_list. Once per loop turn, in the check phase,
 * hr_conn_flush_all() writes each listed connection: one uv_try_write of up
 * to HR_IOV messages gathered with writev; what the kernel did not take is
 * handed to one uv_write, and until it completes new messages only queue.
 * So a burst of publishes costs each subscriber one system call, and a slow
 * subscriber costs nothing but its queue, which is capped (max_queued_bytes):
 * past it the subscriber is cut off and resumes from history on reconnect.
 *
 * Reading. No connection owns a read buffer: alloc_cb lends hr_relay.readbuf
 * and the bytes are consumed before on_read returns. Only an incomplete
 * request head is copied aside (c->head) until it completes. */
#include "net/conn.h"
#include "cluster/broker_redis.h"
#include "app/config.h"
#include "codec/http.h"
#include "base/log.h"
#include "app/metrics.h"
#include "net/iplimit.h"
#include "app/relay.h"
#include "app/router.h"
#include "codec/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HR_IOV 64

static hr_msg_t *ping_sse; /* ": ping" comment, shared by every SSE stream */
static hr_msg_t *ping_ws;  /* empty ping frame */

static void on_closed(uv_handle_t *h);
static void flush(hr_conn_t *c);

size_t hr_conn_count(void)
{
    return hr_relay.nconns;
}

static hr_msg_t *static_msg(const void *bytes, size_t len)
{
    hr_msg_t *m = hr_msg_from(bytes, len);
    m->refcnt = HR_MSG_STATIC;
    hr_msg_live--;
    return m;
}

static void ensure_statics(void)
{
    if (ping_sse == NULL) {
        ping_sse = static_msg(HR_SSE_PING, strlen(HR_SSE_PING));
        ping_ws = static_msg("\x89\x00", 2);
    }
}

void hr_conn_free_statics(void)
{
    free(ping_sse);
    free(ping_ws);
    ping_sse = ping_ws = NULL;
    hr_iplimit_free();
}

/* ---- write queue ---- */

static void wq_push(hr_wq_t *q, hr_msg_t *m)
{
    if (q->count == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 4;
        hr_msg_t **ring = hr_xmalloc(ncap * sizeof *ring);
        for (uint32_t i = 0; i < q->count; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = ncap;
        q->head = 0;
    }
    q->ring[(q->head + q->count) % q->cap] = hr_msg_ref(m);
    q->count++;
    q->bytes += m->len;
}

/* Drop n written bytes from the front of the queue. */
static void wq_consume(hr_wq_t *q, size_t n)
{
    q->bytes -= n;
    while (n > 0) {
        hr_msg_t *m = q->ring[q->head];
        size_t left = m->len - q->off;
        if (n < left) {
            q->off += (uint32_t)n;
            return;
        }
        n -= left;
        q->off = 0;
        hr_msg_unref(m);
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
        hr_msg_unref(q->ring[(q->head + i) % q->cap]);
    free(q->ring);
    memset(q, 0, sizeof *q);
}

static int wq_iov(const hr_wq_t *q, uv_buf_t *iov, int max, size_t *bytes)
{
    int n = 0;
    *bytes = 0;
    for (uint32_t i = 0; i < q->count && n < max; i++) {
        hr_msg_t *m = q->ring[(q->head + i) % q->cap];
        size_t off = i == 0 ? q->off : 0;
        iov[n++] = uv_buf_init(m->data + off, (unsigned)(m->len - off));
        *bytes += m->len - off;
    }
    return n;
}

/* ---- sending ---- */

static void mark_flush(hr_conn_t *c)
{
    if (!c->flush_marked) {
        c->flush_marked = 1;
        c->flush_next = hr_relay.flush_list;
        hr_relay.flush_list = c;
    }
}

int hr_conn_send_uncapped(hr_conn_t *c, hr_msg_t *m)
{
    if (c->closing || c->end_after_flush)
        return -1;
    wq_push(&c->wq, m);
    c->last_write_ms = hr_now_ms();
    mark_flush(c);
    return 0;
}

int hr_conn_send(hr_conn_t *c, hr_msg_t *m)
{
    if (c->closing || c->end_after_flush)
        return -1;
    if (c->wq.count > 0 && c->wq.bytes + m->len > (size_t)hr_cfg.max_queued_bytes) {
        hr_metrics.slow_consumers++;
        hr_log(HR_LOG_INFO, "client %p: slow consumer, %zu bytes queued: disconnected", (void *)c,
               c->wq.bytes);
        hr_conn_close(c, NULL);
        return -1;
    }
    wq_push(&c->wq, m);
    c->last_write_ms = hr_now_ms();
    mark_flush(c);
    return 0;
}

int hr_conn_send_copy(hr_conn_t *c, const void *bytes, size_t len)
{
    hr_msg_t *m = hr_msg_from(bytes, len);
    int r = hr_conn_send(c, m);
    hr_msg_unref(m);
    return r;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

void hr_conn_reply(hr_conn_t *c, int status, const char *extra_headers, const char *body,
                   size_t body_len)
{
    char head[512];
    if (status >= 400)
        hr_metrics.http_errors++;
    if (c->kind == HR_CONN_HTTP)
        hr_metrics.connections_http--;
    c->kind = HR_CONN_REPLY;
    free(c->head);
    c->head = NULL;
    int n = snprintf(
        head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s%s\r\n",
        status, status_text(status), body_len,
        status >= 400 && extra_headers == NULL ? "Content-Type: text/plain; charset=utf-8\r\n" : "",
        extra_headers ? extra_headers : "");
    hr_msg_t *m = hr_msg_new((size_t)n + body_len);
    memcpy(m->data, head, (size_t)n);
    memcpy(m->data + n, body, body_len);
    hr_conn_send(c, m);
    hr_msg_unref(m);
    hr_conn_end(c);
}

/* ---- flushing ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
    hr_conn_t *c = req->data;
    free(req);
    /* Lingering close (RFC 9112 9.6): a client answered early (431, 400)
     * may still be sending its request. Closing with its bytes unread makes
     * the kernel reset the connection, which can destroy the answer before
     * the client reads it. So a reply keeps reading (on_read drops the
     * bytes) until the client closes, or the sweep's reply deadline; not
     * past the connection limit, nor at shutdown, nor for a client refused
     * for its address's share (429): lingering would let one address hold
     * the slots max_connections_per_ip is there to keep for others. */
    int refused_429 = hr_cfg.max_connections_per_ip > 0 && !c->ip_counted && c->ip_len;
    if (status == 0 && !c->closing && c->kind == HR_CONN_REPLY && !hr_relay.shutting_down &&
        hr_relay.nconns <= hr_relay.max_conns && !refused_429)
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
        hr_msg_t *m = c->wq.ring[(c->wq.head + i) % c->wq.cap];
        bytes += m->len - (i == 0 ? c->wq.off : 0);
    }
    c->wq.inflight = 0;
    hr_metrics.bytes_out += bytes;
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
        hr_metrics.bytes_out += (size_t)r;
        wq_consume(&c->wq, (size_t)r);
        if (c->wq.count > 0) {
            /* The kernel took what it could; libuv writes the rest when the
             * socket drains. Messages arriving meanwhile only queue. */
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

void hr_conn_flush_all(void)
{
    hr_conn_t *c = hr_relay.flush_list;
    hr_relay.flush_list = NULL;
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
    hr_chan_unsubscribe_all(&hr_relay.chans, &c->subs);
    mark_flush(c);
}

/* ---- lifecycle ---- */

static void count_kind(hr_conn_t *c, int delta)
{
    switch (c->kind) {
    case HR_CONN_HTTP:
        hr_metrics.connections_http += (uint64_t)delta;
        break;
    case HR_CONN_SSE:
        hr_metrics.connections[HR_T_SSE] += (uint64_t)delta;
        break;
    case HR_CONN_WS:
        hr_metrics.connections[HR_T_WS] += (uint64_t)delta;
        break;
    default:
        break;
    }
}

void hr_conn_set_kind(hr_conn_t *c, int kind)
{
    count_kind(c, -1);
    c->kind = (uint8_t)kind;
    count_kind(c, +1);
}

void hr_conn_close(hr_conn_t *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (why)
        hr_log(HR_LOG_DEBUG, "client %p: closed: %s", (void *)c, why);
    if (c->cluster)
        hr_cluster_conn_closed(c);
    hr_chan_unsubscribe_all(&hr_relay.chans, &c->subs);
    count_kind(c, -1);
    if (c->prev)
        c->prev->next = c->next;
    else
        hr_relay.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hr_relay.nconns--;
    hr_iplimit_release(c);
    free(c->claims);
    c->claims = NULL;
    free(c->head);
    c->head = NULL;
    if (c->ws) {
        hr_ws_reader_free(c->ws);
        free(c->ws);
        c->ws = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_closed(uv_handle_t *h)
{
    hr_conn_t *c = hr_container_of(h, hr_conn_t, tcp);
    /* A connection closed during this turn's flush may still be on the list
     * of a later turn only if it was re-marked; closing clears that. */
    wq_release(&c->wq);
    free(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    buf->base = hr_relay.readbuf;
    buf->len = sizeof hr_relay.readbuf;
}

static void read_head(hr_conn_t *c, char *data, size_t len)
{
    char *p = data;
    size_t n = len;
    /* A head can only complete with a newline, or fail at the size limit:
     * do not re-parse a slow client's head for every byte it trickles. */
    if (c->head && memchr(data, '\n', len) == NULL &&
        c->head_len + len < (size_t)hr_cfg.max_header_bytes) {
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
    ssize_t r = hr_http_parse_request(p, n, (size_t)hr_cfg.max_header_bytes, &req);
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
     * it: a reply, or a stream (hr_conn_set_kind). */
    hr_conn_set_kind(c, HR_CONN_REPLY);
    /* The router consumes the rest of the bytes before we free c->head. */
    char *head = c->head;
    c->head = NULL;
    hr_route(c, &req, (uint8_t *)p + r, n - (size_t)r);
    free(head);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hr_conn_t *c = hr_container_of(s, hr_conn_t, tcp);
    if (nread < 0) {
        hr_conn_close(c, nread == UV_EOF ? "peer closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || c->closing)
        return;
    c->last_read_ms = hr_now_ms();
    c->ping_outstanding = 0; /* anything from the client answers a ping */
    switch (c->kind) {
    case HR_CONN_HTTP:
        read_head(c, buf->base, (size_t)nread);
        break;
    case HR_CONN_WS:
        hr_ws_conn_read(c, (uint8_t *)buf->base, (size_t)nread);
        break;
    default:
        /* SSE clients and finished replies have nothing more to say: read
         * only to notice when they go away. */
        break;
    }
}

void hr_conn_accept(uv_stream_t *listener)
{
    ensure_statics();
    hr_conn_t *c = hr_xcalloc(1, sizeof *c);
    uv_tcp_init(hr_relay.loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    c->next = hr_relay.conns;
    if (c->next)
        c->next->prev = c;
    hr_relay.conns = c;
    hr_relay.nconns++;
    hr_metrics.connections_total++;
    c->kind = HR_CONN_HTTP;
    count_kind(c, +1);
    uint64_t now = hr_now_ms();
    c->last_read_ms = c->last_write_ms = now;
    c->deadline_ms = now + (uint64_t)hr_cfg.header_timeout * 1000;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, 60);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        hr_conn_close(c, "read_start failed");
        return;
    }
    if (hr_relay.nconns > hr_relay.max_conns) {
        /* The descriptor reserve lets us answer instead of dropping. */
        hr_metrics.connections_rejected++;
        hr_conn_reply(c, 503, "Retry-After: 5\r\nContent-Type: text/plain\r\n",
                      "connection limit reached\n", 25);
    } else if (hr_iplimit_acquire(c) != 0) {
        /* 429, not 503: the relay has room, this address has had its share. */
        hr_metrics.limit_hits[HR_LIMIT_PER_IP]++;
        hr_conn_reply(c, 429, "Retry-After: 5\r\nContent-Type: text/plain\r\n",
                      "too many connections from this address\n", 39);
    }
}

void hr_conn_sweep(uint64_t now)
{
    uint64_t ping_ms = (uint64_t)hr_cfg.ping_interval * 1000;
    hr_conn_t *c = hr_relay.conns;
    while (c) {
        hr_conn_t *next = c->next;
        switch (c->kind) {
        case HR_CONN_HTTP:
            if (now >= c->deadline_ms)
                hr_conn_reply(c, 408, NULL, "request head timeout\n", 21);
            break;
        case HR_CONN_SSE:
            if (now - c->last_write_ms >= ping_ms && !c->end_after_flush) {
                wq_shrink_if_idle(&c->wq);
                hr_conn_send(c, ping_sse);
            }
            break;
        case HR_CONN_WS:
            /* Ping when we have written nothing for an interval (keeps
             * proxies from timing out), and also when the client has said
             * nothing for one: a browser only ever answers, so on a busy
             * channel, where the write side is never idle, it would
             * otherwise never be asked and be cut as dead after three. */
            if (now - c->last_read_ms >= 3 * ping_ms) {
                hr_conn_close(c, "no pong");
            } else if (!c->end_after_flush &&
                       (now - c->last_write_ms >= ping_ms ||
                        (now - c->last_read_ms >= ping_ms && !c->ping_outstanding))) {
                c->ping_outstanding = 1;
                wq_shrink_if_idle(&c->wq);
                hr_conn_send(c, ping_ws);
            }
            break;
        case HR_CONN_REPLY:
            /* A reply that cannot be delivered in a header timeout is abandoned. */
            if (now >= c->deadline_ms + (uint64_t)hr_cfg.header_timeout * 1000)
                hr_conn_close(c, "reply not drained");
            break;
        }
        c = next;
    }
}

void hr_conn_shutdown_all(void)
{
    hr_conn_t *c = hr_relay.conns;
    while (c) {
        hr_conn_t *next = c->next;
        switch (c->kind) {
        case HR_CONN_SSE:
            hr_conn_end(c);
            break;
        case HR_CONN_WS:
            hr_ws_conn_close(c, HR_WS_CLOSE_GOING_AWAY, "relay shutting down");
            break;
        case HR_CONN_REPLY:
            /* One still being written finishes; one lingering after its
             * answer (on_shutdown) has nothing left to give. */
            if (c->end_after_flush && !c->writing && c->wq.count == 0)
                hr_conn_close(c, "shutdown");
            break;
        default:
            hr_conn_close(c, "shutdown");
            break;
        }
        c = next;
    }
}
