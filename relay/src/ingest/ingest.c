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
 * A was read in the same turn, at the latest, and sorts before B. That holds
 * for A's first frames too, on a connection B's poll found waiting in the
 * listener's backlog: on_connection reads what a new connection already
 * holds when it accepts it, in that poll (a read started then would only
 * come in the next turn, after this check released B). Frames read after a
 * poll started, with a later ts, wait one more turn (an idle handle keeps
 * that turn from blocking). Frames without ts take the poll start as their
 * time. A connection's own frames never reorder.
 *
 * Rings. A publisher that asked for one in its hello writes its frames to
 * a shared-memory ring (ring.c, abi/herald_ring_abi.h) instead of the
 * socket. hr_ingest_release drains every awake ring first, in the check
 * phase, and only then releases the heap, so the argument still holds when
 * A went through a ring: A's head store came before B's ts was taken, so
 * before the poll started and before this drain. If the ring was awake the
 * drain copies A. If it was asleep, the producer saw that sleep's
 * generation in "sleeping" (the Dekker handshake in the ABI header: one
 * side always sees the other) and a wake frame for that sleep was written
 * to its socket before A's call returned: by this put, or by an earlier put
 * that saw the same sleep (then the relay's wake, with its fence, comes
 * after A's head store and the drain that follows it sees A). That poll saw
 * the socket readable, the wake put the ring back on the awake list, and
 * this check drains A. Either way A is in the heap before B is released. Ring
 * bytes have their own parser (socket reads may stop mid-frame, the ring
 * holds whole frames), with its own last_ts; frames without ts take the
 * poll start, as on the socket.
 *
 * Sends and presence queries. A send (herald_send, herald_send_user) is a
 * publish like a pub, through the same heap, with target HR_TARGET_DIRECT
 * on one internal channel: "#c.<conn>" or "#u.<user>" ('#' is outside the
 * channel alphabet: no client subscribes to it by name). A presence query
 * goes through the heap too, and is answered at its release with the
 * members (core/presence.h), possibly later (a cluster asks Redis).
 *
 * Replies. A frame with an ack joins its connection's list of waiting
 * replies when it is released; its answer (the broker's, the presence
 * backend's) is written as soon as it is known. Each waiting frame holds a
 * reference on its connection: a connection closed meanwhile stays in
 * memory (not readable, not written) until its last answer came. */
#include "ingest/ingest.h"
#include "abi/herald_ring_abi.h"
#include "base/log.h"
#include "codec/frame.h"
#include "codec/mpscan.h"
#include "core/broker.h"
#include "net/mercure.h"
#include "core/presence.h"
#include "ingest/ring.h"

#include <errno.h>
#include <grp.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define READ_RESERVE (16 * 1024)

/* One per byte source of a connection: the socket, and its ring if any. */
typedef struct parser {
    msgpack_unpacker up;
    hr_mpscan_t scan;  /* gates the unpacker: see mpscan.h */
    uint64_t last_ts;  /* keeps this source's frames in their own order */
    uint8_t from_ring; /* for logs and metrics */
} parser_t;

typedef struct ingest_conn {
    uv_pipe_t pipe;
    hr_ingest_t *ig;
    parser_t sock;
    parser_t rp;           /* the ring's; its unpacker exists once a ring is granted */
    hr_ring_t ring;        /* ring.base NULL: none */
    uint8_t has_rp;        /* rp.up was initialised */
    uint8_t awake;         /* on the awake list: polled every turn */
    uint64_t ring_used_ms; /* when the ring last had bytes */
    struct ingest_conn *prev, *next;
    struct ingest_conn *awake_prev, *awake_next;
    uint32_t refs; /* the open connection + each frame waiting in the heap or for its answer */
    struct pending *replies, *replies_last; /* released acked frames, in release order */
    uint8_t closing;
    uint8_t write_dead; /* a reply failed: the publisher left, its frames may not have */
    uint8_t refused;    /* past max_publishers: read what it sent, tell it, close it */
    uint64_t id;
    int64_t pid; /* from hello, for logs */
} ingest_conn_t;

/* A pub, send or presence frame waiting for its turn (everything copied
 * into one allocation), then, with an ack, for its answer. */
typedef struct pending {
    uint64_t ts, order;
    ingest_conn_t *from;
    struct pending *next_reply, *prev_reply; /* in from's reply queue */
    msgpack_sbuffer reply;                   /* the answer, packed; data NULL until it came */
    uint64_t ack;
    uint8_t op, has_ack, target, binary, json, answered;
    long retry;
    hr_slice_t event, data, except;
    hr_slice_t mercure; /* a Mercure update's metadata (len 0: none) */
    size_t nchannels;
    hr_slice_t channels[];
} pending_t;

struct hr_ingest {
    hr_loop_t *loop;
    uv_pipe_t listener;
    uv_idle_t idle;
    uv_timer_t ring_timer;
    uv_timer_t lonely_timer; /* warns once when no publisher came */
    ingest_conn_t *conns;
    ingest_conn_t *awake; /* connections whose ring is polled each turn */
    uint64_t next_conn_id, next_order;
    pending_t **heap;
    size_t heap_len, heap_cap;
    hr_life_t life; /* tid 0: no rings on this relay */
    int started, ready;
    char *refusing;        /* hr_ingest_set_refusing: "relay cannot take messages: why", or NULL */
    uint64_t refusing_now; /* gauge: 1 while refusing */
    /* counters and gauges */
    uint64_t connections, connections_total;
    uint64_t frames, rejected, malformed, too_big, refused, presence_queries;
    uint64_t rings, rings_awake, ring_frames, ring_wakes, ring_space_wakes;
    uint64_t publishers_refused, max_publishers;
    uint64_t refused_logged_ms; /* the last "publisher refused" log line */
};

hr_ingest_cfg_t hr_ingest_cfg;

/* ---- the heap, ordered by (ts, arrival) ---- */

static int before(const pending_t *a, const pending_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->order < b->order);
}

static void heap_push(hr_ingest_t *ig, pending_t *p)
{
    pending_t **heap;
    if (ig->heap_len == ig->heap_cap) {
        ig->heap_cap = ig->heap_cap ? ig->heap_cap * 2 : 64;
        ig->heap = hr_xrealloc(ig->heap, ig->heap_cap * sizeof *ig->heap);
    }
    heap = ig->heap;
    size_t i = ig->heap_len++;
    while (i > 0 && before(p, heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = p;
}

static pending_t *heap_pop(hr_ingest_t *ig)
{
    pending_t **heap = ig->heap;
    size_t heap_len = --ig->heap_len;
    pending_t *top = heap[0], *last = heap[heap_len];
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
    msgpack_unpacker_destroy(&ic->sock.up);
    if (ic->has_rp)
        msgpack_unpacker_destroy(&ic->rp.up);
    free(ic);
}

/* ---- the awake list: rings polled each turn ---- */

/* Only there to keep the loop turning (a poll of at most 1 ms) while a
 * ring is awake; the reading is in the check phase. */
static void on_ring_timer(uv_timer_t *t)
{
}

static void awake_add(ingest_conn_t *ic)
{
    if (ic->awake)
        return;
    ic->awake = 1;
    ic->ig->rings_awake++;
    ic->ring_used_ms = hr_loop_now_ms(ic->ig->loop);
    ic->awake_prev = NULL;
    ic->awake_next = ic->ig->awake;
    if (ic->ig->awake)
        ic->ig->awake->awake_prev = ic;
    ic->ig->awake = ic;
    if (!uv_is_active((uv_handle_t *)&ic->ig->ring_timer))
        uv_timer_start(&ic->ig->ring_timer, on_ring_timer, 1, 1);
}

static void awake_remove(ingest_conn_t *ic)
{
    if (!ic->awake)
        return;
    ic->awake = 0;
    ic->ig->rings_awake--;
    if (ic->awake_prev)
        ic->awake_prev->awake_next = ic->awake_next;
    else
        ic->ig->awake = ic->awake_next;
    if (ic->awake_next)
        ic->awake_next->awake_prev = ic->awake_prev;
    if (ic->ig->awake == NULL)
        uv_timer_stop(&ic->ig->ring_timer);
}

/* Stored tail, closed = 1, unmapped: the producer's fate() is final. */
static void ring_end(ingest_conn_t *ic)
{
    if (ic->ring.base == NULL)
        return;
    awake_remove(ic);
    hr_ring_close(&ic->ring);
    ic->ig->rings--;
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
    ring_end(ic); /* whoever wanted a last read did it before */
    if (why)
        hr_log(HR_LOG_WARN, "ingest: publisher %llu (pid %lld): %s; connection closed",
               (unsigned long long)ic->id, (long long)ic->pid, why);
    else
        hr_log(HR_LOG_DEBUG, "ingest: publisher %llu disconnected", (unsigned long long)ic->id);
    uv_read_stop((uv_stream_t *)&ic->pipe);
    if (ic->prev)
        ic->prev->next = ic->next;
    else
        ic->ig->conns = ic->next;
    if (ic->next)
        ic->next->prev = ic->prev;
    ic->ig->connections--;
    conn_unref(ic);
}

static void on_reply_written(uv_write_t *req, int status)
{
    free(req->data);
    free(req);
}

/* Write a reply; what the socket does not take now is queued by libuv in
 * order (uv_try_write fails while anything is queued). */
/* A reply that cannot be written means the publisher closed its end, most
 * likely a short script that published and exited: the frames it wrote
 * before leaving still wait in the socket, and EOF comes after them. So
 * stop writing, keep reading (was: closed at once, frames lost). */
static void write_failed(ingest_conn_t *ic, int err)
{
    if (!ic->write_dead)
        hr_log(HR_LOG_DEBUG, "ingest: publisher %llu: reply not sent (%s); reading on",
               (unsigned long long)ic->id, uv_strerror(err));
    ic->write_dead = 1;
}

static void conn_write(ingest_conn_t *ic, const char *buf, size_t len)
{
    if (ic->closing || ic->write_dead)
        return;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&ic->pipe, &b, 1);
    if (r == UV_EAGAIN)
        r = 0;
    if (r < 0) {
        write_failed(ic, r);
        return;
    }
    if ((size_t)r == len)
        return;
    uv_write_t *req = hr_xmalloc(sizeof *req);
    req->data = hr_xmalloc(len - (size_t)r);
    memcpy(req->data, buf + r, len - (size_t)r);
    b = uv_buf_init(req->data, (unsigned)(len - (size_t)r));
    int err = uv_write(req, (uv_stream_t *)&ic->pipe, &b, 1, on_reply_written);
    if (err != 0) {
        free(req->data);
        free(req);
        write_failed(ic, err);
    }
}

static void pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* A reply's start: {"op":op, and n - 1 more pairs the caller packs}. */
static void reply_begin(msgpack_sbuffer *sb, msgpack_packer *pk, size_t n, const char *op)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(pk, n);
    pack_str(pk, "op", 2);
    pack_str(pk, op, strlen(op));
}

/* "ok":false,"error":error and 0, or "ok":true and 1 (the caller adds what
 * an ok reply carries). */
static int reply_ok(msgpack_packer *pk, const char *error)
{
    pack_str(pk, "ok", 2);
    if (error == NULL) {
        msgpack_pack_true(pk);
        return 1;
    }
    msgpack_pack_false(pk);
    pack_str(pk, "error", 5);
    pack_str(pk, error, strlen(error));
    return 0;
}

/* {"op":"ack","ack":N,"ok":true,"id":"..."} or {...,"ok":false,"error":"..."} */
static void pack_ack(msgpack_sbuffer *sb, uint64_t ack, const char *id, size_t idlen,
                     const char *error)
{
    msgpack_packer pk;
    reply_begin(sb, &pk, 4, "ack");
    pack_str(&pk, "ack", 3);
    msgpack_pack_uint64(&pk, ack);
    if (reply_ok(&pk, error)) {
        pack_str(&pk, "id", 2);
        pack_str(&pk, id, idlen);
    }
}

/* An ack written at once: a frame rejected as it is read (never released). */
static void send_ack(ingest_conn_t *ic, uint64_t ack, const char *id, size_t idlen,
                     const char *error)
{
    msgpack_sbuffer sb;
    pack_ack(&sb, ack, id, idlen, error);
    conn_write(ic, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* {"op":"ring","ok":true,"size":N} or {"op":"ring","ok":false,"error":"..."} */
static void pack_ring_reply(msgpack_sbuffer *sb, uint32_t size, const char *error)
{
    msgpack_packer pk;
    reply_begin(sb, &pk, 3, "ring");
    if (reply_ok(&pk, error)) {
        pack_str(&pk, "size", 4);
        msgpack_pack_uint32(&pk, size);
    }
}

/* The ok reply with SCM_RIGHTS [ring fd, control page fd], sent by hand: libuv's
 * queue is empty (checked), so nothing overtakes it. 0, or -1 when the ring
 * was dropped (the connection stays open unless the reply went out torn). */
static int ring_send(ingest_conn_t *ic)
{
    msgpack_sbuffer sb;
    pack_ring_reply(&sb, ic->ring.size, NULL);

    int fds[2] = {ic->ring.fd, ic->ring.ctl_fd};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof fds)];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {sb.data, sb.size};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);

    uv_os_fd_t fd;
    ssize_t n = -1;
    errno = EBADF;
    if (uv_fileno((uv_handle_t *)&ic->pipe, &fd) == 0)
        n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    int err = errno;
    size_t len = sb.size;
    msgpack_sbuffer_destroy(&sb);
    hr_ring_close_fd(&ic->ring); /* the publisher has its own now; the mapping stays */
    if (n < 0) {
        /* Most likely the publisher is gone already (a short script): it
         * will never use the ring, but the frames it wrote after its hello
         * still wait in the socket, and EOF comes after them. Keep reading. */
        hr_log(HR_LOG_DEBUG, "ingest: publisher %llu: ring not sent: %s",
               (unsigned long long)ic->id, strerror(err));
        ring_end(ic);
        return -1;
    }
    if (n != (ssize_t)len) {
        conn_close(ic, "cannot send the ring: short write"); /* the reply stream is broken */
        return -1;
    }
    return 0;
}

/* What the broker said, without our prefix (a ring's control page holds it
 * so; the extension says "relay cannot take messages: " itself). */
static const char *ig_refusing_why(const hr_ingest_t *ig)
{
    return ig->refusing ? ig->refusing + strlen("relay cannot take messages: ") : NULL;
}

/* A hello asked for a ring of want bytes. ok:false keeps the publisher on
 * the socket, which always works. */
static void ring_grant(ingest_conn_t *ic, uint64_t want)
{
    const char *error = NULL;
    uint32_t size = hr_ring_grant_size(want, (uint64_t)hr_ingest_cfg.ring_bytes);
    int err;
    if (size == 0)
        error = "rings are off on this relay (ingest_ring_bytes = 0)";
    else if (ic->ig->life.tid == 0)
        error = "rings are unavailable on this relay";
    else if (ic->ring.base != NULL)
        error = "this connection has a ring already";
    else if (uv_stream_get_write_queue_size((uv_stream_t *)&ic->pipe) != 0)
        error = "replies are queued on this connection";
    else if ((err = hr_ring_create(&ic->ring, &ic->ig->life, size)) == ENOSPC)
        error = "every ring of this relay is in use";
    else if (err != 0)
        error = strerror(err);
    if (error != NULL) {
        msgpack_sbuffer sb;
        pack_ring_reply(&sb, 0, error);
        conn_write(ic, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
        return;
    }
    ic->ig->rings++;
    if (!ic->has_rp) {
        if (!msgpack_unpacker_init(&ic->rp.up, READ_RESERVE)) {
            hr_log(HR_LOG_ERROR, "ingest: out of memory");
            abort();
        }
        ic->has_rp = 1;
        ic->rp.from_ring = 1;
    }
    if (ig_refusing_why(ic->ig))
        hr_ring_set_refusing(&ic->ring, ig_refusing_why(ic->ig));
    if (ring_send(ic) != 0)
        return;
    hr_log(HR_LOG_DEBUG, "ingest: publisher %llu (pid %lld): ring of %u bytes (asked %llu)",
           (unsigned long long)ic->id, (long long)ic->pid, ic->ring.size, (unsigned long long)want);
    awake_add(ic); /* polled until it has been idle long enough to sleep */
}

/* A send's one channel: "#c." + conn or "#u." + user, internal (the '#'). */
#define SEND_EVENT "herald.send"

static pending_t *pending_new(const hr_frame_t *f)
{
    hr_slice_t to = f->conn.len ? f->conn : f->user;
    int send = f->op == HR_OP_SEND;
    /* A Mercure update goes to its topics' channels and the firehose. */
    hr_mercure_names_t *mn = NULL;
    const hr_slice_t *channels = f->channels;
    size_t nchannels = send ? 1 : f->nchannels;
    size_t meta_len = 0;
    if (f->has_mercure) {
        mn = hr_xmalloc(sizeof *mn);
        nchannels = hr_mercure_channels(&f->mercure, mn);
        channels = mn->channels;
        meta_len = hr_mercure_meta_len(&f->mercure);
    }
    hr_slice_t event = send ? (hr_slice_t){SEND_EVENT, sizeof SEND_EVENT - 1} : f->event;
    size_t extra = f->data.len + event.len + f->except.len + meta_len + (send ? 3 + to.len : 0);
    for (size_t i = 0; !send && i < nchannels; i++)
        extra += channels[i].len;
    pending_t *p = hr_xmalloc(sizeof *p + nchannels * sizeof(hr_slice_t) + extra);
    char *w = (char *)&p->channels[nchannels];
    p->nchannels = nchannels;
    if (send) {
        memcpy(w, f->conn.len ? "#c." : "#u.", 3);
        memcpy(w + 3, to.p, to.len);
        p->channels[0] = (hr_slice_t){w, 3 + to.len};
        w += 3 + to.len;
    }
    for (size_t i = 0; !send && i < nchannels; i++) {
        memcpy(w, channels[i].p, channels[i].len);
        p->channels[i] = (hr_slice_t){w, channels[i].len};
        w += channels[i].len;
    }
    free(mn);
    if (meta_len)
        hr_mercure_meta_encode((uint8_t *)w, &f->mercure);
    p->mercure = (hr_slice_t){w, meta_len};
    w += meta_len;
    /* An absent event is {NULL, 0}: memcpy's source must not be NULL even
     * for a zero length (UBSan aborts the sanitizer build on it). */
    if (event.len)
        memcpy(w, event.p, event.len);
    p->event = (hr_slice_t){w, event.len};
    w += event.len;
    if (f->data.len)
        memcpy(w, f->data.p, f->data.len);
    p->data = (hr_slice_t){w, f->data.len};
    w += f->data.len;
    if (f->except.len)
        memcpy(w, f->except.p, f->except.len);
    p->except = (hr_slice_t){w, f->except.len};
    p->op = (uint8_t)f->op;
    p->next_reply = p->prev_reply = NULL;
    p->reply.data = NULL;
    p->answered = 0;
    p->target = (uint8_t)f->target;
    p->binary = (uint8_t)f->binary;
    p->json = (uint8_t)f->json;
    p->retry = f->retry;
    p->has_ack = (uint8_t)f->has_ack;
    p->ack = f->ack;
    return p;
}

static void on_frame(ingest_conn_t *ic, parser_t *ps, const msgpack_object *obj)
{
    hr_frame_t f;
    char err[160];
    hr_ingest_t *ig = ic->ig;
    ig->frames++;
    if (ps->from_ring)
        ig->ring_frames++;
    if (hr_frame_parse(obj, &f, err, sizeof err) != 0) {
        ig->rejected++;
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
        if (f.ring && !ic->refused)
            ring_grant(ic, f.ring);
        return;
    }
    if (f.op == HR_OP_WAKE) {
        /* Drained in this turn's check, before the heap is released. */
        ig->ring_wakes++;
        if (ic->ring.base && !ic->awake) {
            hr_ring_wake(&ic->ring);
            awake_add(ic);
        }
        return;
    }
    if (f.op == HR_OP_PRESENCE && ps->from_ring) {
        /* Its answer is an ack, which only the socket carries. */
        ig->rejected++;
        snprintf(err, sizeof err, "presence: not in the ring (it is answered on the socket)");
        hr_log(HR_LOG_WARN, "ingest: publisher %llu: frame rejected: %s",
               (unsigned long long)ic->id, err);
        send_ack(ic, f.ack, NULL, 0, err);
        return;
    }
    pending_t *p = pending_new(&f);
    /* Arrival stands in for a missing ts; a ts from the future is clamped
     * to now so a bad clock cannot hold frames back. */
    uint64_t now = uv_hrtime();
    uint64_t ts = f.has_ts ? f.ts : ig->loop->poll_start_ns;
    if (ts > now)
        ts = now;
    if (ts < ps->last_ts)
        ts = ps->last_ts;
    ps->last_ts = ts;
    p->ts = ts;
    p->order = ig->next_order++;
    p->from = ic;
    ic->refs++;
    heap_push(ig, p);
    uv_idle_start(&ig->idle, on_idle);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ingest_conn_t *ic = hr_container_of(h, ingest_conn_t, pipe);
    if (!msgpack_unpacker_reserve_buffer(&ic->sock.up, READ_RESERVE)) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = msgpack_unpacker_buffer(&ic->sock.up);
    buf->len = msgpack_unpacker_buffer_capacity(&ic->sock.up);
}

/* Parse n bytes just written into ps's unpacker buffer at buf (socket or
 * ring: the same validation, limits, metrics and heap). */
static void feed(ingest_conn_t *ic, parser_t *ps, const char *buf, size_t n)
{
    const char *src = ps->from_ring ? "ring: " : "";
    char why[160];
    msgpack_unpacker_buffer_consumed(&ps->up, n);
    /* The scanner sees the bytes first; the unpacker parses only values the
     * scanner found complete and within limits (mpscan.h says why). */
    hr_mpscan_t before = ps->scan;
    int complete =
        hr_mpscan_feed(&ps->scan, (const uint8_t *)buf, n, (uint64_t)hr_ingest_cfg.max_frame_bytes);
    const char *bad = NULL;
    if (complete < 0) {
        /* Values that ended before the bad bytes arrived whole (their
         * publishers were told they were sent): count them again, up to
         * the failure, and publish them before closing. Error path only. */
        bad = ps->scan.errstr;
        complete = 0;
        for (size_t i = 0; i < n; i++) {
            int r = hr_mpscan_feed(&before, (const uint8_t *)buf + i, 1,
                                   (uint64_t)hr_ingest_cfg.max_frame_bytes);
            if (r < 0)
                break;
            complete += r;
        }
    }
    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    for (int i = 0; i < complete && !ic->closing; i++) {
        if (msgpack_unpacker_next(&ps->up, &result) != MSGPACK_UNPACK_SUCCESS) {
            ic->ig->malformed++;
            snprintf(why, sizeof why, "%sbytes that are not msgpack", src);
            conn_close(ic, why);
            break;
        }
        on_frame(ic, ps, &result.data);
    }
    msgpack_unpacked_destroy(&result);
    if (bad != NULL && !ic->closing) {
        if (strstr(bad, "larger") != NULL)
            ic->ig->too_big++;
        else
            ic->ig->malformed++;
        snprintf(why, sizeof why, "%s%s", src, bad);
        conn_close(ic, why);
        return;
    }
    /* Let the unpacker drop a large buffer once a big frame is through. */
    if (!ic->closing && msgpack_unpacker_buffer_capacity(&ps->up) > 4 * READ_RESERVE &&
        hr_mpscan_idle(&ps->scan))
        msgpack_unpacker_expand_buffer(&ps->up, 0);
}

/* Copy what the ring holds now straight into its unpacker's buffer and
 * parse that copy (the producer may still be writing the ring). */
static void ring_drain(ingest_conn_t *ic)
{
    if (ic->ring.base == NULL || ic->closing)
        return;
    int64_t fill = hr_ring_fill(&ic->ring);
    if (fill < 0) {
        ic->ig->malformed++;
        conn_close(ic, "ring: head is more than the ring's size ahead of tail (corrupt ring)");
        return;
    }
    if (fill == 0)
        return;
    if (!msgpack_unpacker_reserve_buffer(&ic->rp.up, (size_t)fill)) {
        conn_close(ic, "ring: out of memory");
        return;
    }
    char *buf = msgpack_unpacker_buffer(&ic->rp.up);
    size_t n = hr_ring_read(&ic->ring, buf, (size_t)fill);
    /* Before parsing: a publisher that waits for room goes on at once. */
    if (hr_ring_space(&ic->ring))
        ic->ig->ring_space_wakes++;
    ic->ring_used_ms = hr_loop_now_ms(ic->ig->loop);
    feed(ic, &ic->rp, buf, n);
}

/* Every awake ring, once; a ring idle for ingest_ring_idle_ms goes to
 * sleep (its producer then writes a wake frame to the socket). */
static void rings_poll(hr_ingest_t *ig)
{
    uint64_t now = hr_loop_now_ms(ig->loop);
    ingest_conn_t *next;
    for (ingest_conn_t *ic = ig->awake; ic; ic = next) {
        next = ic->awake_next; /* a corrupt ring leaves the list */
        ring_drain(ic);
        if (ic->awake && now - ic->ring_used_ms >= (uint64_t)hr_ingest_cfg.ring_idle_ms &&
            hr_ring_try_sleep(&ic->ring))
            awake_remove(ic);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ingest_conn_t *ic = hr_container_of(s, ingest_conn_t, pipe);
    if (nread < 0) {
        /* What it put in its ring before leaving was reported sent. A
         * publisher that exits with a reply of ours unread (a short script,
         * gone before the answer to its hello came) is seen as a reset, not
         * an end of file; the kernel handed over its frames first. Either is
         * a publisher leaving, not a fault to warn about. */
        ring_drain(ic);
        conn_close(ic, nread == UV_EOF || nread == UV_ECONNRESET ? NULL : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || ic->closing)
        return;
    feed(ic, &ic->sock, buf->base, (size_t)nread);
}

/* Read what is in the socket right now, without the loop (a new
 * connection, a refused one, shutdown). Only what is there when it starts
 * (SIOCINQ): a publisher that writes as fast as we read must not keep the
 * loop here, and what arrives meanwhile is read by the loop as usual. */
static void drain(ingest_conn_t *ic)
{
    uv_os_fd_t fd;
    int queued = 0;
    if (uv_fileno((uv_handle_t *)&ic->pipe, &fd) != 0 || ioctl(fd, SIOCINQ, &queued) != 0)
        return;
    for (size_t left = (size_t)queued; left > 0 && !ic->closing;) {
        uv_buf_t buf;
        on_alloc((uv_handle_t *)&ic->pipe, 0, &buf);
        if (buf.base == NULL)
            break;
        ssize_t n = read(fd, buf.base, buf.len < left ? buf.len : left);
        if (n <= 0)
            break;
        left -= (size_t)n;
        on_read((uv_stream_t *)&ic->pipe, n, &buf);
    }
}

/* One publisher too many (max_publishers): what it sent before we saw it
 * (drain, in on_connection: its first calls, which returned true) is
 * published; then it is told why, and its connection is closed. The
 * extension reads the answer at its next call (before it writes, on a young
 * connection) and returns false with it. No frame is lost in between: after
 * the answer, shutdown(SHUT_RD) makes every later write of the publisher
 * fail (EPIPE, and the extension then finds the answer), and what it wrote
 * before that is still read by the last drain. */
static void refuse(ingest_conn_t *ic)
{
    hr_ingest_t *ig = ic->ig;
    char why[128];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    snprintf(why, sizeof why, "too many publishers: max_publishers (%ld) connections are open",
             hr_ingest_cfg.max_publishers);
    ig->publishers_refused++;
    uint64_t now = hr_loop_now_ms(ig->loop);
    if (ig->refused_logged_ms == 0 || now - ig->refused_logged_ms >= 1000) {
        ig->refused_logged_ms = now;
        hr_log(HR_LOG_WARN, "ingest: publisher %llu (pid %lld) refused: %s (%llu refused so far)",
               (unsigned long long)ic->id, (long long)ic->pid, why,
               (unsigned long long)ig->publishers_refused);
    }
    reply_begin(&sb, &pk, 2, "refused");
    pack_str(&pk, "error", 5);
    pack_str(&pk, why, strlen(why));
    conn_write(ic, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&ic->pipe, &fd) == 0)
        shutdown(fd, SHUT_RD);
    drain(ic); /* what came before the shutdown */
    conn_close(ic, NULL);
}

static void on_connection(uv_stream_t *server, int status)
{
    hr_ingest_t *ig = hr_container_of(server, hr_ingest_t, listener);
    if (status < 0) {
        hr_log(HR_LOG_WARN, "ingest: accept: %s", uv_strerror(status));
        return;
    }
    ingest_conn_t *ic = hr_xcalloc(1, sizeof *ic);
    ic->ig = ig;
    uv_pipe_init(ig->loop->uv, &ic->pipe, 0);
    if (!msgpack_unpacker_init(&ic->sock.up, READ_RESERVE)) {
        hr_log(HR_LOG_ERROR, "ingest: out of memory");
        abort();
    }
    ic->refs = 1;
    if (uv_accept(server, (uv_stream_t *)&ic->pipe) != 0) {
        uv_close((uv_handle_t *)&ic->pipe, on_conn_closed);
        return;
    }
    ic->id = ++ig->next_conn_id;
    ic->next = ig->conns;
    if (ig->conns)
        ig->conns->prev = ic;
    ig->conns = ic;
    ig->connections++;
    ig->connections_total++;
    hr_log(HR_LOG_DEBUG, "ingest: publisher %llu connected", (unsigned long long)ic->id);
    uv_read_start((uv_stream_t *)&ic->pipe, on_alloc, on_read);
    /* What it sent before this poll started (its hello, its first frames)
     * is read now, not in the next turn: this turn's check may release a
     * later frame of another connection (the proof at the top). */
    ic->refused = ig->connections > (uint64_t)hr_ingest_cfg.max_publishers; /* no ring for it */
    drain(ic);
    if (ic->refused && !ic->closing)
        refuse(ic);
}

/* ---- release ---- */

/* A released frame with an ack takes its place in the reply queue. */
static void reply_enqueue(pending_t *p)
{
    ingest_conn_t *ic = p->from;
    p->prev_reply = ic->replies_last;
    if (ic->replies == NULL)
        ic->replies = p;
    else
        ic->replies_last->next_reply = p;
    ic->replies_last = p;
}

/* p's answer is packed: write it now (not written, only freed, once the
 * connection is closed). Each reply names its ack, so one that is known
 * early (a refusal: the broker's backlog is full) never waits behind one
 * that is not (a publish Redis has not answered yet). */
static void reply_ready(pending_t *p)
{
    ingest_conn_t *ic = p->from;
    if (p->prev_reply)
        p->prev_reply->next_reply = p->next_reply;
    else if (ic->replies == p)
        ic->replies = p->next_reply;
    if (p->next_reply)
        p->next_reply->prev_reply = p->prev_reply;
    else if (ic->replies_last == p)
        ic->replies_last = p->prev_reply;
    conn_write(ic, p->reply.data, p->reply.size);
    msgpack_sbuffer_destroy(&p->reply);
    free(p);
    conn_unref(ic); /* the last reference closes it, in a later callback */
}

/* The broker took the frame (id set) or refused it (err): ack it if it
 * asked for one. With the local broker this happens during the publish;
 * with Redis, once Redis answered. */
static void published(void *ud, const char *id, size_t idlen, const char *err)
{
    pending_t *p = ud;
    if (p->has_ack) {
        pack_ack(&p->reply, p->ack, id, idlen, err);
        reply_ready(p);
        return;
    }
    conn_unref(p->from);
    free(p);
}

hr_ingest_presence_t hr_ingest_presence = {hr_presence_is, hr_presence_members};

/* {"op":"ack","ack":N,"ok":true,"members":"<JSON text>"} or ok false with
 * the error. members is a str holding JSON: the publisher decodes it (the
 * relay never turns it into msgpack and back). */
static void presence_answered(void *ud, const char *json, size_t len, const char *err)
{
    pending_t *p = ud;
    msgpack_packer pk;
    reply_begin(&p->reply, &pk, 4, "ack");
    pack_str(&pk, "ack", 3);
    msgpack_pack_uint64(&pk, p->ack);
    if (reply_ok(&pk, err)) {
        pack_str(&pk, "members", 7);
        if (json == NULL)
            json = "[]", len = 2;
        pack_str(&pk, json, len);
    }
    reply_ready(p);
}

void hr_ingest_release(hr_ingest_t *ig, int force)
{
    hr_broker_t *b = ig->loop->broker;
    uint64_t horizon = ig->loop->poll_start_ns;
    rings_poll(ig); /* first: see the proof at the top */
    while (ig->heap_len && (force || ig->heap[0]->ts <= horizon)) {
        pending_t *p = heap_pop(ig);
        if (p->has_ack)
            reply_enqueue(p);
        if (p->op == HR_OP_PRESENCE) {
            ig->presence_queries++;
            if (ig->loop->presence == NULL)
                presence_answered(p, NULL, 0, "presence is not enabled");
            else if (!hr_ingest_presence.is(p->channels[0].p, p->channels[0].len))
                presence_answered(p, NULL, 0, "not a presence channel");
            else
                hr_ingest_presence.members(ig->loop->presence, p->channels[0], presence_answered,
                                           p);
            continue;
        }
        if (ig->refusing && p->has_ack) {
            /* It asked to know: a nack now, in its place among the acks.
             * A frame without ack goes on to the broker, which keeps it or
             * counts and logs its loss (PROTOCOL.md 1.4, "Refusing"). */
            ig->refused++;
            published(p, NULL, 0, ig->refusing);
            continue;
        }
        hr_publish_t pub = {
            .target = p->target,
            .binary = p->binary,
            .json = p->json,
            .retry = p->retry,
            .event = p->event,
            .data = p->data,
            .except = p->except,
            .mercure = p->mercure,
            .channels = p->channels,
            .nchannels = p->nchannels,
        };
        b->ops->publish(b, &pub, published, p);
    }
    if (ig->heap_len)
        uv_idle_start(&ig->idle, on_idle);
    else
        uv_idle_stop(&ig->idle);
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

/* What stopped the bind. libuv reports a missing directory as EACCES (as
 * Windows would), which sends operators after permissions: look at the
 * directory ourselves. */
static const char *bind_error(const char *path, int err)
{
    static char msg[384]; /* the socket path is at most 100 bytes */
    if (err != UV_EACCES && err != UV_ENOENT)
        return uv_strerror(err);
    char dir[128];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    snprintf(dir, sizeof dir, "%.*s", (int)n, slash == NULL ? "." : path);
    struct stat st;
    if (stat(dir, &st) != 0)
        snprintf(msg, sizeof msg,
                 "the directory %s: %s (create it, owned by the relay's user, or set socket "
                 "to a path in a directory that exists)",
                 dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        snprintf(msg, sizeof msg, "%s is not a directory", dir);
    else if (access(dir, W_OK | X_OK) != 0)
        snprintf(msg, sizeof msg, "permission denied: the relay's user may not create files in %s",
                 dir);
    else
        return uv_strerror(err);
    return msg;
}

static void register_metrics(hr_ingest_t *ig)
{
    hr_metrics_t *r = &ig->loop->metrics;
    hr_metrics_add(r, "herald_ingest_connections", HR_GAUGE,
                   "Publisher connections on the ingest socket.", NULL, &ig->connections);
    hr_metrics_add(r, "herald_ingest_connections_total", HR_COUNTER,
                   "Publisher connections accepted.", NULL, &ig->connections_total);
    hr_metrics_add(r, "herald_ingest_frames_total", HR_COUNTER, "Frames read from publishers.",
                   NULL, &ig->frames);
    const char *help = "Frames or connections refused, by reason.";
    hr_metrics_add(r, "herald_ingest_rejects_total", HR_COUNTER, help, "reason=\"invalid\"",
                   &ig->rejected);
    hr_metrics_add(r, "herald_ingest_rejects_total", HR_COUNTER, help, "reason=\"malformed\"",
                   &ig->malformed);
    hr_metrics_add(r, "herald_ingest_rejects_total", HR_COUNTER, help, "reason=\"too_big\"",
                   &ig->too_big);
    hr_metrics_add(r, "herald_ingest_rejects_total", HR_COUNTER, help, "reason=\"refusing\"",
                   &ig->refused);
    hr_metrics_add(r, "herald_ingest_presence_queries_total", HR_COUNTER,
                   "Presence queries from publishers (herald_presence).", NULL,
                   &ig->presence_queries);
    hr_metrics_add(r, "herald_ingest_refusing", HR_GAUGE,
                   "1 while the relay refuses publishes (its broker cannot take them).", NULL,
                   &ig->refusing_now);
    hr_metrics_add(r, "herald_ingest_publishers_refused_total", HR_COUNTER,
                   "Publisher connections refused: max_publishers were open.", NULL,
                   &ig->publishers_refused);
    hr_metrics_add(r, "herald_ingest_max_publishers", HR_GAUGE,
                   "Publisher connections the relay keeps open at most (max_publishers).", NULL,
                   &ig->max_publishers);
    hr_metrics_add(r, "herald_ingest_rings", HR_GAUGE,
                   "Shared-memory rings mapped (one per publisher).", NULL, &ig->rings);
    hr_metrics_add(r, "herald_ingest_rings_awake", HR_GAUGE,
                   "Rings the relay polls each turn; the others sleep until their publisher "
                   "wakes them.",
                   NULL, &ig->rings_awake);
    hr_metrics_add(r, "herald_ingest_ring_frames_total", HR_COUNTER,
                   "Frames read from shared-memory rings.", NULL, &ig->ring_frames);
    hr_metrics_add(r, "herald_ingest_ring_wakes_total", HR_COUNTER,
                   "Wake frames: a publisher woke the relay to read its ring.", NULL,
                   &ig->ring_wakes);
    hr_metrics_add(r, "herald_ingest_ring_space_wakes_total", HR_COUNTER,
                   "Publishers that waited for room in their ring, woken by a read (FUTEX_WAKE).",
                   NULL, &ig->ring_space_wakes);
}

#define LONELY_MS 60000

static void on_lonely(uv_timer_t *t)
{
    hr_ingest_t *ig = t->data;
    if (ig->connections_total == 0)
        hr_log(HR_LOG_WARN,
               "ingest: no publisher has connected to %s in %d s: is PHP's herald.socket this "
               "path (php --ri herald), and may PHP's user write to it (socket_group)?",
               hr_ingest_cfg.socket_path, LONELY_MS / 1000);
}

hr_ingest_t *hr_ingest_new(hr_loop_t *L)
{
    hr_ingest_t *ig = hr_xcalloc(1, sizeof *ig);
    ig->loop = L;
    ig->life.stop_fd = -1;
    register_metrics(ig);
    return ig;
}

int hr_ingest_start(hr_ingest_t *ig)
{
    const char *path = hr_ingest_cfg.socket_path;
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
    ig->max_publishers = (uint64_t)hr_ingest_cfg.max_publishers;
    uv_loop_t *uv = ig->loop->uv;
    uv_pipe_init(uv, &ig->listener, 0);
    uv_idle_init(uv, &ig->idle);
    uv_timer_init(uv, &ig->ring_timer);
    uv_unref((uv_handle_t *)&ig->ring_timer); /* never the reason the loop runs */
    ig->started = 1;
    if (hr_ingest_cfg.ring_bytes > 0) {
        /* The thread whose robust list tells publishers that we died. */
        long max = hr_ingest_cfg.max_publishers;
        int lerr = hr_life_start(&ig->life,
                                 max < (long)HR_RING_MAX_RINGS ? (uint32_t)max : HR_RING_MAX_RINGS);
        if (lerr != 0)
            hr_log(HR_LOG_WARN,
                   "ingest: no shared-memory rings (%s: they need set_robust_list(2) and "
                   "/proc/self/fd); publishers use the socket",
                   strerror(lerr));
    }
    /* Create the socket with no permissions for others, then set the mode:
     * no window where it is more open than configured. */
    mode_t old = umask(0177);
    int err = uv_pipe_bind(&ig->listener, path);
    umask(old);
    if (err == 0 && chmod(path, (mode_t)hr_ingest_cfg.socket_mode) != 0)
        err = -errno;
    if (err == 0 && hr_ingest_cfg.socket_group[0]) {
        struct group *g = getgrnam(hr_ingest_cfg.socket_group);
        if (g == NULL) {
            hr_log(HR_LOG_ERROR, "ingest: unknown group '%s'", hr_ingest_cfg.socket_group);
            unlink(path);
            return -1;
        }
        if (chown(path, (uid_t)-1, g->gr_gid) != 0)
            err = -errno;
    }
    if (err == 0)
        err = uv_listen((uv_stream_t *)&ig->listener, 1024, on_connection);
    if (err != 0) {
        hr_log(HR_LOG_ERROR, "ingest: cannot listen on %s: %s", path, bind_error(path, err));
        return -1;
    }
    ig->ready = 1;
    hr_log(HR_LOG_INFO, "ingest: listening on %s (mode %04o)", path, hr_ingest_cfg.socket_mode);
    /* The most common deployment mistake is PHP writing somewhere else: say
     * where PHP must write, and say it again if nobody comes. */
    hr_log(HR_LOG_INFO,
           "ingest: waiting for the first publisher: PHP's herald.socket must be %s "
           "(php --ri herald shows what PHP uses)",
           path);
    uv_timer_init(uv, &ig->lonely_timer);
    ig->lonely_timer.data = ig;
    uv_timer_start(&ig->lonely_timer, on_lonely, LONELY_MS, 0);
    uv_unref((uv_handle_t *)&ig->lonely_timer);
    return 0;
}

int hr_ingest_ready(const hr_ingest_t *ig)
{
    return ig->ready;
}

void hr_ingest_stop(hr_ingest_t *ig)
{
    if (!ig->started)
        return;
    ig->started = 0;
    ig->ready = 0;
    if (!uv_is_closing((uv_handle_t *)&ig->listener)) {
        uv_close((uv_handle_t *)&ig->listener, NULL);
        unlink(hr_ingest_cfg.socket_path);
    }
    /* Publishers learn that we stop from the life words: 0 first, then
     * fence, then read every ring a last time and close it. A producer
     * stores head, fences, reads the word: either our last read sees its
     * frame or it sees the word 0 and waits for "closed" to learn the
     * frame's fate (abi/herald_ring_abi.h). */
    hr_life_release(&ig->life);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* Whatever publishers already wrote was reported sent to them: read it
     * all now, without waiting, and publish it before clients are ended. */
    for (ingest_conn_t *ic = ig->conns; ic; ic = ic->next) {
        drain(ic);
        ring_drain(ic);
        if (!ic->closing)
            ring_end(ic);
    }
    hr_ingest_release(ig, 1);
    while (ig->conns)
        conn_close(ig->conns, NULL);
    uv_close((uv_handle_t *)&ig->idle, NULL);
    uv_close((uv_handle_t *)&ig->ring_timer, NULL);
    if (ig->lonely_timer.loop)
        uv_close((uv_handle_t *)&ig->lonely_timer, NULL);
    hr_life_stop(&ig->life); /* every ring is closed: joined, for the leak checkers */
    free(ig->heap);
    ig->heap = NULL;
    ig->heap_len = ig->heap_cap = 0;
}

void hr_ingest_set_refusing(hr_ingest_t *ig, const char *why)
{
    free(ig->refusing);
    ig->refusing = NULL;
    ig->refusing_now = why != NULL;
    if (why) {
        size_t n = strlen(why) + 64;
        ig->refusing = hr_xmalloc(n);
        snprintf(ig->refusing, n, "relay cannot take messages: %s", why);
        hr_log(HR_LOG_WARN, "ingest: publishers are refused: %s", why);
    } else {
        hr_log(HR_LOG_INFO, "ingest: publishers are accepted again");
    }
    /* Ring publishers learn it from their control page, with the load
     * they make at each put. */
    for (ingest_conn_t *ic = ig->conns; ic; ic = ic->next)
        if (ic->ring.base)
            hr_ring_set_refusing(&ic->ring, why);
}

void hr_ingest_free(hr_ingest_t *ig)
{
    free(ig->refusing);
    free(ig);
}

static int check(char *err, size_t errlen)
{
    const hr_ingest_cfg_t *cfg = &hr_ingest_cfg;
    if (cfg->ring_bytes != 0 && cfg->ring_bytes < 4096) {
        snprintf(err, errlen, "ingest_ring_bytes must be 0 or at least 4096");
        return -1;
    }
    if ((cfg->socket_mode & 0002) && !cfg->allow_world_writable) {
        snprintf(err, errlen,
                 "socket_mode %04o lets any local user publish; use a group, or set "
                 "allow_world_writable = 1",
                 cfg->socket_mode);
        return -1;
    }
    if (cfg->socket_path[0] == '\0' || strlen(cfg->socket_path) > 100) {
        snprintf(err, errlen, "socket path must be 1 to 100 bytes");
        return -1;
    }
    return 0;
}

#define C(field) (&hr_ingest_cfg.field)
static const hr_opt_t opts[] = {
    {"socket", HR_OPT_STR, C(socket_path), 0, 0, "/tmp/herald.sock",
     "ingest Unix socket (/tmp/herald.sock)"},
    {"socket_mode", HR_OPT_MODE, C(socket_mode), 0, 0777, "0660",
     "ingest socket permissions (0660)"},
    {"socket_group", HR_OPT_STR, C(socket_group), 0, 0, "", "ingest socket group (unchanged)"},
    {"max_frame_bytes", HR_OPT_LONG, C(max_frame_bytes), 1024, 1L << 30, "16777216",
     "largest ingest frame (16777216)"},
    {"ingest_ring_bytes", HR_OPT_LONG, C(ring_bytes), 0, 64L << 20, "262144",
     "largest shared-memory ring a publisher gets, bytes (262144; 0: socket only)"},
    {"ingest_ring_idle_ms", HR_OPT_LONG, C(ring_idle_ms), 1, 60000, "20",
     "ms without bytes before the relay stops polling a ring (20)"},
    {"max_publishers", HR_OPT_LONG, C(max_publishers), 1, 1L << 20, "2048",
     "publisher connections kept open at most; one more is told why and closed (2048)"},
    {"allow_world_writable", HR_OPT_LONG, C(allow_world_writable), 0, 1, "0",
     "1 allows a socket_mode writable by others (0)"},
};
#undef C

const hr_opt_group_t hr_ingest_options = {opts, HR_ARRAY_SIZE(opts), check};
