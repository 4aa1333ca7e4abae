/* SPDX-License-Identifier: MIT
 * ingest.c: publisher connections. Each connection has msgpack-c's
 * streaming unpacker, which owns that connection's read buffer (publishers
 * are few, one per PHP worker, and usually busy). Each unpacked value goes
 * through hr_frame_parse: an invalid frame is rejected alone (logged,
 * counted, nacked when it asked for an ack) and the connection stays open;
 * bytes that are not msgpack close that connection only, since the stream
 * cannot be resynchronised.
 *
 * Order across publishers. Every worker has its own connection, and the
 * loop may read them in any order, so frames wait in a heap ordered by the
 * publisher's CLOCK_MONOTONIC timestamp ("ts") and are released in the check
 * phase once their ts is not later than the moment the loop last started to
 * poll. Why that is enough: if publish A returned before publish B started,
 * A's bytes were in the kernel before B's ts was taken; so by the time B is
 * released (ts_B <= poll start), that poll saw A's connection readable and
 * A was read in the same turn, at the latest, and sorts before B. Frames
 * read after a poll started, with a later ts, wait one more turn (an idle
 * handle keeps that turn from blocking). Frames without ts take the poll
 * start as their time. A connection's own frames never reorder. */
#include "ingest.h"
#include "cluster.h"
#include "config.h"
#include "frame.h"
#include "log.h"
#include "metrics.h"
#include "mpscan.h"
#include "relay.h"
#include "sse.h"

#include <errno.h>
#include <grp.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_RESERVE (16 * 1024)

typedef struct ingest_conn {
    uv_pipe_t pipe;
    msgpack_unpacker up;
    hr_mpscan_t scan; /* gates the unpacker: see mpscan.h */
    struct ingest_conn *prev, *next;
    uint32_t refs; /* the open connection + each frame waiting in the heap */
    uint8_t closing;
    uint64_t last_ts; /* keeps this connection's frames in their own order */
    uint64_t id;
    int64_t pid; /* from hello, for logs */
} ingest_conn_t;

/* A pub frame waiting for its turn: everything copied into one allocation. */
typedef struct pending {
    uint64_t ts, order;
    ingest_conn_t *from;
    uint64_t ack;
    uint8_t has_ack, transport, binary;
    long retry;
    hr_slice_t event, data;
    size_t nchannels;
    hr_slice_t channels[];
} pending_t;

static uv_pipe_t listener;
static uv_idle_t idle;
static ingest_conn_t *conns;
static uint64_t next_conn_id, next_order;
static pending_t **heap;
static size_t heap_len, heap_cap;
static int started;

/* ---- the heap, ordered by (ts, arrival) ---- */

static int before(const pending_t *a, const pending_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->order < b->order);
}

static void heap_push(pending_t *p)
{
    if (heap_len == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 64;
        heap = hr_xrealloc(heap, heap_cap * sizeof *heap);
    }
    size_t i = heap_len++;
    while (i > 0 && before(p, heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = p;
}

static pending_t *heap_pop(void)
{
    pending_t *top = heap[0], *last = heap[--heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const pending_t *mv = last;
        if (l < heap_len && before(heap[l], mv))
            m = l, mv = heap[l];
        if (r < heap_len && before(heap[r], mv))
            m = r;
        if (m == i)
            break;
        heap[i] = heap[m];
        i = m;
    }
    if (heap_len)
        heap[i] = last;
    return top;
}

/* ---- connections ---- */

/* While frames wait, this idle handle keeps the next poll from blocking;
 * the release itself happens in the check phase. */
static void on_idle(uv_idle_t *h)
{
}

static void on_conn_closed(uv_handle_t *h)
{
    ingest_conn_t *ic = hr_container_of(h, ingest_conn_t, pipe);
    msgpack_unpacker_destroy(&ic->up);
    free(ic);
}

static void conn_unref(ingest_conn_t *ic)
{
    if (--ic->refs == 0)
        uv_close((uv_handle_t *)&ic->pipe, on_conn_closed);
}

static void conn_close(ingest_conn_t *ic, const char *why)
{
    if (ic->closing)
        return;
    ic->closing = 1;
    if (why)
        hr_log(HR_LOG_WARN, "ingest: publisher %llu (pid %lld): %s; connection closed",
               (unsigned long long)ic->id, (long long)ic->pid, why);
    else
        hr_log(HR_LOG_DEBUG, "ingest: publisher %llu disconnected", (unsigned long long)ic->id);
    uv_read_stop((uv_stream_t *)&ic->pipe);
    if (ic->prev)
        ic->prev->next = ic->next;
    else
        conns = ic->next;
    if (ic->next)
        ic->next->prev = ic->prev;
    hr_metrics.ingest_connections--;
    conn_unref(ic);
}

static void on_reply_written(uv_write_t *req, int status)
{
    free(req->data);
    free(req);
}

/* Write a reply; what the socket does not take now is queued by libuv in
 * order (uv_try_write fails while anything is queued). */
static void conn_write(ingest_conn_t *ic, const char *buf, size_t len)
{
    if (ic->closing)
        return;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&ic->pipe, &b, 1);
    if (r == UV_EAGAIN)
        r = 0;
    if (r < 0) {
        conn_close(ic, uv_strerror(r));
        return;
    }
    if ((size_t)r == len)
        return;
    uv_write_t *req = hr_xmalloc(sizeof *req);
    req->data = hr_xmalloc(len - (size_t)r);
    memcpy(req->data, buf + r, len - (size_t)r);
    b = uv_buf_init(req->data, (unsigned)(len - (size_t)r));
    if (uv_write(req, (uv_stream_t *)&ic->pipe, &b, 1, on_reply_written) != 0) {
        free(req->data);
        free(req);
        conn_close(ic, "write failed");
    }
}

static void pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* {"op":"ack","ack":N,"ok":true,"id":"..."} or {...,"ok":false,"error":"..."} */
static void send_ack(ingest_conn_t *ic, uint64_t ack, const char *id, size_t idlen,
                     const char *error)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "op", 2);
    pack_str(&pk, "ack", 3);
    pack_str(&pk, "ack", 3);
    msgpack_pack_uint64(&pk, ack);
    pack_str(&pk, "ok", 2);
    if (error) {
        msgpack_pack_false(&pk);
        pack_str(&pk, "error", 5);
        pack_str(&pk, error, strlen(error));
    } else {
        msgpack_pack_true(&pk);
        pack_str(&pk, "id", 2);
        pack_str(&pk, id, idlen);
    }
    conn_write(ic, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static pending_t *pending_new(const hr_frame_t *f)
{
    size_t extra = f->data.len + f->event.len;
    for (size_t i = 0; i < f->nchannels; i++)
        extra += f->channels[i].len;
    pending_t *p = hr_xmalloc(sizeof *p + f->nchannels * sizeof(hr_slice_t) + extra);
    char *w = (char *)&p->channels[f->nchannels];
    p->nchannels = f->nchannels;
    for (size_t i = 0; i < f->nchannels; i++) {
        memcpy(w, f->channels[i].p, f->channels[i].len);
        p->channels[i] = (hr_slice_t){w, f->channels[i].len};
        w += f->channels[i].len;
    }
    /* An absent event is {NULL, 0}: memcpy's source must not be NULL even
     * for a zero length (UBSan aborts the sanitizer build on it). */
    if (f->event.len)
        memcpy(w, f->event.p, f->event.len);
    p->event = (hr_slice_t){w, f->event.len};
    w += f->event.len;
    if (f->data.len)
        memcpy(w, f->data.p, f->data.len);
    p->data = (hr_slice_t){w, f->data.len};
    p->transport = (uint8_t)f->transport;
    p->binary = (uint8_t)f->binary;
    p->retry = f->retry;
    p->has_ack = (uint8_t)f->has_ack;
    p->ack = f->ack;
    return p;
}

static void on_frame(ingest_conn_t *ic, const msgpack_object *obj)
{
    hr_frame_t f;
    char err[160];
    hr_metrics.ingest_frames++;
    if (hr_frame_parse(obj, &f, err, sizeof err) != 0) {
        hr_metrics.ingest_rejected++;
        hr_log(HR_LOG_WARN, "ingest: publisher %llu: frame rejected: %s",
               (unsigned long long)ic->id, err);
        if (f.has_ack)
            send_ack(ic, f.ack, NULL, 0, err);
        return;
    }
    if (f.op == HR_OP_HELLO) {
        ic->pid = f.pid;
        hr_log(HR_LOG_DEBUG, "ingest: publisher %llu is %.*s, pid %lld, protocol %lld",
               (unsigned long long)ic->id, (int)(f.client.len > 64 ? 64 : f.client.len), f.client.p,
               (long long)f.pid, (long long)f.version);
        return;
    }
    pending_t *p = pending_new(&f);
    /* Arrival stands in for a missing ts; a ts from the future is clamped
     * to now so a bad clock cannot hold frames back. */
    uint64_t now = uv_hrtime();
    uint64_t ts = f.has_ts ? f.ts : hr_relay.poll_start_ns;
    if (ts > now)
        ts = now;
    if (ts < ic->last_ts)
        ts = ic->last_ts;
    ic->last_ts = ts;
    p->ts = ts;
    p->order = next_order++;
    p->from = ic;
    ic->refs++;
    heap_push(p);
    uv_idle_start(&idle, on_idle);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ingest_conn_t *ic = hr_container_of(h, ingest_conn_t, pipe);
    if (!msgpack_unpacker_reserve_buffer(&ic->up, READ_RESERVE)) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = msgpack_unpacker_buffer(&ic->up);
    buf->len = msgpack_unpacker_buffer_capacity(&ic->up);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ingest_conn_t *ic = hr_container_of(s, ingest_conn_t, pipe);
    if (nread < 0) {
        conn_close(ic, nread == UV_EOF ? NULL : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || ic->closing)
        return;
    msgpack_unpacker_buffer_consumed(&ic->up, (size_t)nread);
    /* The scanner sees the bytes first; the unpacker parses only values the
     * scanner found complete and within limits (mpscan.h says why). */
    hr_mpscan_t before = ic->scan;
    int complete = hr_mpscan_feed(&ic->scan, (const uint8_t *)buf->base, (size_t)nread,
                                  (uint64_t)hr_cfg.max_frame_bytes);
    const char *bad = NULL;
    if (complete < 0) {
        /* Values that ended before the bad bytes arrived whole (their
         * publishers were told they were sent): count them again, up to
         * the failure, and publish them before closing. Error path only. */
        bad = ic->scan.errstr;
        complete = 0;
        for (size_t i = 0; i < (size_t)nread; i++) {
            int r = hr_mpscan_feed(&before, (const uint8_t *)buf->base + i, 1,
                                   (uint64_t)hr_cfg.max_frame_bytes);
            if (r < 0)
                break;
            complete += r;
        }
    }
    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    for (int i = 0; i < complete && !ic->closing; i++) {
        if (msgpack_unpacker_next(&ic->up, &result) != MSGPACK_UNPACK_SUCCESS) {
            hr_metrics.ingest_malformed++;
            conn_close(ic, "bytes that are not msgpack");
            break;
        }
        on_frame(ic, &result.data);
    }
    msgpack_unpacked_destroy(&result);
    if (bad != NULL && !ic->closing) {
        if (strstr(bad, "larger") != NULL)
            hr_metrics.ingest_too_big++;
        else
            hr_metrics.ingest_malformed++;
        conn_close(ic, bad);
        return;
    }
    /* Let the unpacker drop a large buffer once a big frame is through. */
    if (!ic->closing && msgpack_unpacker_buffer_capacity(&ic->up) > 4 * READ_RESERVE &&
        hr_mpscan_idle(&ic->scan))
        msgpack_unpacker_expand_buffer(&ic->up, 0);
}

/* Read what is in the socket right now, without the loop (shutdown). */
static void drain(ingest_conn_t *ic)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&ic->pipe, &fd) != 0)
        return;
    while (!ic->closing) {
        uv_buf_t buf;
        on_alloc((uv_handle_t *)&ic->pipe, 0, &buf);
        ssize_t n = read(fd, buf.base, buf.len);
        if (n <= 0)
            break;
        on_read((uv_stream_t *)&ic->pipe, n, &buf);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        hr_log(HR_LOG_WARN, "ingest: accept: %s", uv_strerror(status));
        return;
    }
    ingest_conn_t *ic = hr_xcalloc(1, sizeof *ic);
    uv_pipe_init(hr_relay.loop, &ic->pipe, 0);
    if (!msgpack_unpacker_init(&ic->up, READ_RESERVE)) {
        hr_log(HR_LOG_ERROR, "ingest: out of memory");
        abort();
    }
    ic->refs = 1;
    if (uv_accept(server, (uv_stream_t *)&ic->pipe) != 0) {
        uv_close((uv_handle_t *)&ic->pipe, on_conn_closed);
        return;
    }
    ic->id = ++next_conn_id;
    ic->next = conns;
    if (conns)
        conns->prev = ic;
    conns = ic;
    hr_metrics.ingest_connections++;
    hr_metrics.ingest_connections_total++;
    hr_log(HR_LOG_DEBUG, "ingest: publisher %llu connected", (unsigned long long)ic->id);
    uv_read_start((uv_stream_t *)&ic->pipe, on_alloc, on_read);
}

/* ---- release and fan-out ---- */

static void deliver(void *conn, hr_msg_t *m, void *ud)
{
    hr_conn_t *c = conn;
    int t = (int)(intptr_t)ud;
    if (c->last_seq == m->seq)
        return; /* subscribed to several of the message's channels: once is enough */
    c->last_seq = m->seq;
    if (hr_conn_send(c, m) == 0)
        hr_metrics.delivered[t]++;
}

static hr_msg_t *encode(const pending_t *p, uint64_t seq, const char *id, size_t idlen)
{
    hr_msg_t *m;
    if (p->transport == HR_T_SSE) {
        hr_slice_t ids = {id, idlen};
        size_t len = hr_sse_event_len(ids, p->event, p->retry, p->data);
        m = hr_msg_new(len);
        hr_sse_encode_event(m->data, ids, p->event, p->retry, p->data);
    } else {
        uint8_t h[HR_WS_MAX_HEADER];
        size_t hl = hr_ws_frame_header(h, p->binary ? HR_WS_OP_BINARY : HR_WS_OP_TEXT, p->data.len);
        m = hr_msg_new(hl + p->data.len);
        memcpy(m->data, h, hl);
        memcpy(m->data + hl, p->data.p, p->data.len);
    }
    m->seq = seq;
    m->time_ms = hr_now_ms();
    return m;
}

/* Cluster mode: Redis answered; ack now (the ack waited for Redis). */
static void cluster_done(void *ud, const char *id, size_t idlen, const char *err)
{
    pending_t *p = ud;
    if (p->has_ack)
        send_ack(p->from, p->ack, id, idlen, err);
    conn_unref(p->from);
    free(p);
}

static void publish(pending_t *p)
{
    uint64_t seq = ++hr_relay.seq;
    char id[48];
    size_t idlen = hr_relay_format_id(id, seq);
    hr_msg_t *m = encode(p, seq, id, idlen);
    int t = p->transport;
    for (size_t i = 0; i < p->nchannels; i++) {
        /* SSE keeps history even without subscribers; WS has none to keep. */
        hr_chan_t *ch = t == HR_T_SSE
                            ? hr_chan_get(&hr_relay.chans, p->channels[i].p, p->channels[i].len)
                            : hr_chan_find(&hr_relay.chans, p->channels[i].p, p->channels[i].len);
        if (ch)
            hr_chan_publish(&hr_relay.chans, ch, t, m, deliver, (void *)(intptr_t)t);
    }
    hr_msg_unref(m);
    hr_metrics.published[t]++;
    if (p->has_ack)
        send_ack(p->from, p->ack, id, idlen, NULL);
}

void hr_ingest_release(int force)
{
    uint64_t horizon = hr_relay.poll_start_ns;
    while (heap_len && (force || heap[0]->ts <= horizon)) {
        pending_t *p = heap_pop();
        if (hr_cluster_on) {
            /* Redis gives the id and every relay delivers from pub/sub;
             * p and its connection reference live until Redis answers. */
            hr_cluster_publish(p->transport, p->binary, p->retry, p->event, p->data, p->channels,
                               p->nchannels, cluster_done, p);
            continue;
        }
        publish(p);
        conn_unref(p->from);
        free(p);
    }
    if (heap_len)
        uv_idle_start(&idle, on_idle);
    else
        uv_idle_stop(&idle);
}

/* ---- the socket ---- */

/* 1 if a live process accepts connections on path. */
static int socket_is_live(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return live;
}

int hr_ingest_start(void)
{
    const char *path = hr_cfg.socket_path;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            hr_log(HR_LOG_ERROR, "ingest: %s exists and is not a socket; refusing to replace it",
                   path);
            return -1;
        }
        if (socket_is_live(path)) {
            hr_log(HR_LOG_ERROR, "ingest: another relay is live on %s", path);
            return -1;
        }
        if (unlink(path) != 0) {
            hr_log(HR_LOG_ERROR, "ingest: cannot remove stale socket %s: %s", path,
                   strerror(errno));
            return -1;
        }
        hr_log(HR_LOG_INFO, "ingest: removed stale socket %s", path);
    }
    uv_pipe_init(hr_relay.loop, &listener, 0);
    uv_idle_init(hr_relay.loop, &idle);
    started = 1;
    /* Create the socket with no permissions for others, then set the mode:
     * no window where it is more open than configured. */
    mode_t old = umask(0177);
    int err = uv_pipe_bind(&listener, path);
    umask(old);
    if (err == 0 && chmod(path, (mode_t)hr_cfg.socket_mode) != 0)
        err = -errno;
    if (err == 0 && hr_cfg.socket_group[0]) {
        struct group *g = getgrnam(hr_cfg.socket_group);
        if (g == NULL) {
            hr_log(HR_LOG_ERROR, "ingest: unknown group '%s'", hr_cfg.socket_group);
            unlink(path);
            return -1;
        }
        if (chown(path, (uid_t)-1, g->gr_gid) != 0)
            err = -errno;
    }
    if (err == 0)
        err = uv_listen((uv_stream_t *)&listener, 1024, on_connection);
    if (err != 0) {
        hr_log(HR_LOG_ERROR, "ingest: cannot listen on %s: %s", path, uv_strerror(err));
        return -1;
    }
    hr_relay.ingest_ready = 1;
    hr_log(HR_LOG_INFO, "ingest: listening on %s (mode %04o)", path, hr_cfg.socket_mode);
    return 0;
}

void hr_ingest_stop(void)
{
    if (!started)
        return;
    started = 0;
    hr_relay.ingest_ready = 0;
    if (!uv_is_closing((uv_handle_t *)&listener)) {
        uv_close((uv_handle_t *)&listener, NULL);
        unlink(hr_cfg.socket_path);
    }
    /* Whatever publishers already wrote was reported sent to them: read it
     * all now, without waiting, and publish it before clients are ended. */
    for (ingest_conn_t *ic = conns; ic; ic = ic->next)
        drain(ic);
    hr_ingest_release(1);
    while (conns)
        conn_close(conns, NULL);
    uv_close((uv_handle_t *)&idle, NULL);
    free(heap);
    heap = NULL;
    heap_len = heap_cap = 0;
}
