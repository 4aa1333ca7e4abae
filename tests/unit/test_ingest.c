/* SPDX-License-Identifier: MIT
 * test_ingest.c: the ingest module (relay/src/ingest/ingest.c) as it is, on
 * a real loop and a real Unix socket, with a broker of the test's own that
 * records what it is given (and can say it cannot take more, as a broker with
 * a full backlog does). Publishers are plain sockets of this process. The
 * loop runs turn by turn (UV_RUN_NOWAIT) with the relay's prepare/check pair
 * (poll start, release), so a test decides exactly what is in the kernel
 * before a turn begins: no sleeping, no timing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "abi/herald_ring_abi.h"
#include "app/config.h"
#include "core/broker.h"
#include "ext/herald_ring.h"
#include "ingest/ingest.h"

/* ---- a broker that records ---- */

#define LOG_MAX 64

typedef struct fake_broker {
    hr_broker_t b;
    char data[LOG_MAX][32]; /* the data of each publish, in the order given */
    char chan[LOG_MAX][48]; /* its first channel */
    char event[LOG_MAX][16];
    int target[LOG_MAX], binary[LOG_MAX], json[LOG_MAX];
    int n;
    /* defer: keep done (a broker waiting for Redis) until the test calls it */
    int defer, ndeferred;
    hr_published_fn deferred[LOG_MAX];
    void *deferred_ud[LOG_MAX];
} fake_broker_t;

static void fb_publish(hr_broker_t *b, const hr_publish_t *p, hr_published_fn done, void *ud)
{
    fake_broker_t *fb = (fake_broker_t *)b;
    if (fb->n < LOG_MAX) {
        snprintf(fb->chan[fb->n], sizeof fb->chan[0], "%.*s", (int)p->channels[0].len,
                 p->channels[0].p);
        snprintf(fb->event[fb->n], sizeof fb->event[0], "%.*s", (int)p->event.len,
                 p->event.len ? p->event.p : "");
        fb->target[fb->n] = p->target;
        fb->binary[fb->n] = p->binary;
        fb->json[fb->n] = p->json;
        snprintf(fb->data[fb->n++], sizeof fb->data[0], "%.*s", (int)p->data.len, p->data.p);
    }
    if (fb->defer) {
        fb->deferred[fb->ndeferred] = done;
        fb->deferred_ud[fb->ndeferred++] = ud;
        return;
    }
    char id[32];
    int n = snprintf(id, sizeof id, "test-%d", fb->n);
    done(ud, id, (size_t)n, NULL);
}

static void fb_resume(hr_broker_t *b, hr_resume_t *r)
{
}

static void fb_stop(hr_broker_t *b)
{
}

static void fb_free(hr_broker_t *b)
{
}

static const hr_broker_ops_t fake_ops = {
    .name = "test",
    .publish = fb_publish,
    .resume = fb_resume,
    .stop = fb_stop,
    .free = fb_free,
};

/* ---- the relay's loop, without HTTP ---- */

typedef struct fixture {
    uv_loop_t uv;
    hr_loop_t L;
    fake_broker_t fb;
    hr_ingest_t *ig;
    uv_prepare_t prepare;
    uv_check_t check;
    char dir[64];
} fixture_t;

static void on_prepare(uv_prepare_t *h)
{
    hr_loop_of((uv_handle_t *)h)->poll_start_ns = uv_hrtime();
}

static void on_check(uv_check_t *h)
{
    hr_ingest_release(h->data, 0);
}

static int setup_with(void **state, long max_publishers)
{
    char *argv[] = {"test_ingest", NULL};
    assert_int_equal(hr_config_load(1, argv), 0);
    if (max_publishers)
        hr_ingest_cfg.max_publishers = max_publishers;
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/herald-test-ingest-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    free(hr_ingest_cfg.socket_path);
    hr_ingest_cfg.socket_path = malloc(strlen(f->dir) + 16);
    sprintf(hr_ingest_cfg.socket_path, "%s/in.sock", f->dir);
    uv_loop_init(&f->uv);
    hr_loop_init(&f->L, &f->uv, 100, 60000);
    hr_broker_init(&f->fb.b, &fake_ops, &f->L);
    f->L.broker = &f->fb.b;
    f->ig = hr_ingest_new(&f->L);
    assert_int_equal(hr_ingest_start(f->ig), 0);
    uv_prepare_init(&f->uv, &f->prepare);
    uv_prepare_start(&f->prepare, on_prepare);
    uv_check_init(&f->uv, &f->check);
    f->check.data = f->ig;
    uv_check_start(&f->check, on_check);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_two_publishers(void **state)
{
    return setup_with(state, 2);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    hr_ingest_stop(f->ig);
    uv_close((uv_handle_t *)&f->prepare, NULL);
    uv_close((uv_handle_t *)&f->check, NULL);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    if (f->L.presence) {
        hr_presence_free(f->L.presence);
        f->L.presence = NULL;
    }
    hr_ingest_free(f->ig);
    hr_loop_free(&f->L);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    rmdir(f->dir);
    hr_config_free();
    free(f);
    return 0;
}

/* One loop turn: prepare (the poll's start), poll without waiting, check. */
static void turn(fixture_t *f)
{
    uv_run(&f->uv, UV_RUN_NOWAIT);
}

static uint64_t metric(fixture_t *f, const char *name, const char *labels)
{
    for (size_t i = 0; i < f->L.metrics.n; i++) {
        const hr_metric_t *m = &f->L.metrics.m[i];
        if (m->value && strcmp(m->name, name) == 0 &&
            (labels == NULL ? m->labels == NULL : m->labels && strcmp(m->labels, labels) == 0))
            return *m->value;
    }
    fail_msg("no metric %s", name);
    return 0;
}

/* Turn until the ingest holds n publisher connections. */
static void turn_until_connections(fixture_t *f, uint64_t n)
{
    for (int i = 0; i < 10000 && metric(f, "herald_ingest_connections", NULL) != n; i++)
        turn(f);
    assert_int_equal(metric(f, "herald_ingest_connections", NULL), n);
}

/* Turn until the broker was given n publishes. */
static void turn_until_published(fixture_t *f, int n)
{
    for (int i = 0; i < 10000 && f->fb.n < n; i++)
        turn(f);
    assert_int_equal(f->fb.n, n);
}

/* ---- publishers ---- */

static int publisher(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", hr_ingest_cfg.socket_path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* {"op":"hello","v":1,"pid":1[,"ring":ring]} */
static void send_hello(int fd, uint64_t ring)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, ring ? 4 : 3);
    pack_str(&pk, "op");
    pack_str(&pk, "hello");
    pack_str(&pk, "v");
    msgpack_pack_uint8(&pk, 1);
    pack_str(&pk, "pid");
    msgpack_pack_uint32(&pk, (uint32_t)getpid());
    if (ring) {
        pack_str(&pk, "ring");
        msgpack_pack_uint64(&pk, ring);
    }
    assert_int_equal(write(fd, sb.data, sb.size), (ssize_t)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* {"op":"pub","t":"sse","ch":"c","data":data,"ts":now[,"ack":ack]}: the
 * publish call's time is taken here, as the extension does. */
static void send_pub(int fd, const char *data, uint64_t ack)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, ack ? 6 : 5);
    pack_str(&pk, "op");
    pack_str(&pk, "pub");
    pack_str(&pk, "t");
    pack_str(&pk, "sse");
    pack_str(&pk, "ch");
    pack_str(&pk, "c");
    pack_str(&pk, "data");
    pack_str(&pk, data);
    pack_str(&pk, "ts");
    msgpack_pack_uint64(&pk, uv_hrtime());
    if (ack) {
        pack_str(&pk, "ack");
        msgpack_pack_uint64(&pk, ack);
    }
    assert_int_equal(write(fd, sb.data, sb.size), (ssize_t)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* {"op":"send",key:to,"data":data,"ts":now[,"ack":ack]} (key "conn" or "user") */
static void send_send(int fd, const char *key, const char *to, const char *data, uint64_t ack)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, ack ? 5 : 4);
    pack_str(&pk, "op");
    pack_str(&pk, "send");
    pack_str(&pk, key);
    pack_str(&pk, to);
    pack_str(&pk, "data");
    pack_str(&pk, data);
    pack_str(&pk, "ts");
    msgpack_pack_uint64(&pk, uv_hrtime());
    if (ack) {
        pack_str(&pk, "ack");
        msgpack_pack_uint64(&pk, ack);
    }
    assert_int_equal(write(fd, sb.data, sb.size), (ssize_t)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* {"op":"presence","ch":ch,"ack":ack}, packed into sb (the caller frees it). */
static void pack_presence(msgpack_sbuffer *sb, const char *ch, uint64_t ack)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "op");
    pack_str(&pk, "presence");
    pack_str(&pk, "ch");
    pack_str(&pk, ch);
    pack_str(&pk, "ack");
    msgpack_pack_uint64(&pk, ack);
}

static void send_presence(int fd, const char *ch, uint64_t ack)
{
    msgpack_sbuffer sb;
    pack_presence(&sb, ch, ack);
    assert_int_equal(write(fd, sb.data, sb.size), (ssize_t)sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- order ---- */

/* A publish that returned before another started is released first, also
 * when it was the first frame of a new connection: PHP connects, writes its
 * hello and a frame, and returns; then another worker, connected long ago,
 * publishes. Both are in the kernel before the next turn's poll starts, so
 * that turn's check may release the second (its ts is before the poll
 * start) while the new connection is only being accepted. The relay must
 * read what a new connection holds when it accepts it. */
static void test_order_on_connect(void **state)
{
    fixture_t *f = *state;
    int old = publisher();
    send_hello(old, 0);
    turn_until_connections(f, 1);
    for (int round = 0; round < 3; round++) {
        char a[16], b[16];
        snprintf(a, sizeof a, "new %d", round);
        snprintf(b, sizeof b, "old %d", round);
        int fresh = publisher(); /* in the listener's backlog until the next turn */
        send_hello(fresh, 0);
        send_pub(fresh, a, 0); /* returned ... */
        send_pub(old, b, 0);   /* ... before this one started */
        turn(f);               /* one turn sees both: the listener and old */
        turn_until_published(f, 2 * (round + 1));
        assert_string_equal(f->fb.data[2 * round], a);
        assert_string_equal(f->fb.data[2 * round + 1], b);
        close(fresh);
    }
    close(old);
}

/* ---- replies ---- */

/* What the relay answered on fd, read without waiting between loop turns:
 * the first reply (a msgpack map) and the descriptors that came with it. */
typedef struct reply {
    char op[16], error[160], members[64], id[32];
    int ok, has_ok;
    uint64_t ack, size;
    int fds[2], nfds;
} reply_t;

static void copy_str(char *out, size_t cap, const msgpack_object *o)
{
    size_t n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, n ? o->via.str.ptr : "", n);
    out[n] = '\0';
}

static void take_reply(const msgpack_object *o, reply_t *r);

static void read_reply(fixture_t *f, int fd, reply_t *r)
{
    char buf[1024];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(2 * sizeof(int))];
    } cm;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
    ssize_t n = -1;
    for (int i = 0; i < 10000 && n < 0; i++) {
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            turn(f);
        }
    }
    assert_true(n > 0);
    memset(r, 0, sizeof *r);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        r->nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        memcpy(r->fds, CMSG_DATA(c), (size_t)r->nfds * sizeof(int));
    }
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf, (size_t)n, NULL), MSGPACK_UNPACK_SUCCESS);
    take_reply(&u.data, r);
    msgpack_unpacked_destroy(&u);
}

/* n replies in a row (several may come in one read), without descriptors. */
static void read_replies(fixture_t *f, int fd, reply_t *r, int n)
{
    char buf[4096];
    size_t len = 0, off = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    for (int got = 0; got < n;) {
        size_t at = off;
        if (len > off && msgpack_unpack_next(&u, buf, len, &at) == MSGPACK_UNPACK_SUCCESS) {
            memset(&r[got], 0, sizeof r[got]);
            take_reply(&u.data, &r[got++]);
            off = at;
            continue;
        }
        ssize_t k = -1;
        for (int i = 0; i < 10000 && k < 0; i++) {
            k = recv(fd, buf + len, sizeof buf - len, MSG_DONTWAIT);
            if (k < 0) {
                assert_int_equal(errno, EAGAIN);
                turn(f);
            }
        }
        assert_true(k > 0);
        len += (size_t)k;
    }
    assert_int_equal(off, len); /* nothing more than asked for */
    msgpack_unpacked_destroy(&u);
}

static void take_reply(const msgpack_object *o, reply_t *r)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        char key[16];
        copy_str(key, sizeof key, k);
        if (strcmp(key, "op") == 0)
            copy_str(r->op, sizeof r->op, v);
        else if (strcmp(key, "error") == 0)
            copy_str(r->error, sizeof r->error, v);
        else if (strcmp(key, "members") == 0)
            copy_str(r->members, sizeof r->members, v);
        else if (strcmp(key, "id") == 0)
            copy_str(r->id, sizeof r->id, v);
        else if (strcmp(key, "ok") == 0)
            r->has_ok = 1, r->ok = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
        else if (strcmp(key, "ack") == 0)
            r->ack = v->via.u64;
        else if (strcmp(key, "size") == 0)
            r->size = v->via.u64;
    }
}

/* A publisher with a ring of size bytes, mapped with the extension's code. */
static int ring_publisher(fixture_t *f, php_herald_ring *p, uint64_t size)
{
    int fd = publisher();
    reply_t r;
    send_hello(fd, size);
    read_reply(f, fd, &r);
    assert_string_equal(r.op, "ring");
    assert_true(r.ok);
    assert_int_equal(r.nfds, 2);
    php_herald_ring_init(p);
    assert_int_equal(php_herald_ring_map(p, r.fds[0], r.fds[1], r.size), 0);
    return fd;
}

static int put_str(php_herald_ring *p, const char *data)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "op");
    pack_str(&pk, "pub");
    pack_str(&pk, "t");
    pack_str(&pk, "sse");
    pack_str(&pk, "ch");
    pack_str(&pk, "c");
    pack_str(&pk, "data");
    pack_str(&pk, data);
    struct iovec iov = {sb.data, sb.size};
    uint64_t end;
    int wake, rc = php_herald_ring_put(p, &iov, 1, &end, &wake);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- refusing ---- */

/* The app's wiring (app/main.c): the broker's "cannot take publishes"
 * reaches ingest. */
static void on_accepting(void *ud, const char *why)
{
    hr_ingest_set_refusing(ud, why);
}

/* A broker that cannot take publishes makes the relay refuse them: ring
 * publishers see it with the load they make at each put (and the reason),
 * a ring granted meanwhile starts refusing, acknowledged socket frames get
 * a nack with the reason and never reach the broker; frames without ack go
 * on to the broker (it keeps or counts them). Accepting again undoes it. */
static void test_refusing(void **state)
{
    fixture_t *f = *state;
    f->fb.b.on_accepting = on_accepting;
    f->fb.b.on_accepting_ud = f->ig;
    php_herald_ring p1, p2;
    char why[HR_CTL_REASON_MAX];
    int r1 = ring_publisher(f, &p1, 4096);
    int s = publisher();
    reply_t r;
    assert_int_equal(put_str(&p1, "before"), PHP_HERALD_RING_SENT);
    turn_until_published(f, 1);
    assert_int_equal(php_herald_ring_refusing(&p1, why, sizeof why), 0);

    hr_broker_set_accepting(&f->fb.b, "the Redis backlog is full (16777216 bytes)");
    assert_int_equal(metric(f, "herald_ingest_refusing", NULL), 1);
    assert_int_equal(put_str(&p1, "refused"), PHP_HERALD_RING_REFUSED);
    assert_int_equal(php_herald_ring_refusing(&p1, why, sizeof why), 1);
    assert_string_equal(why, "the Redis backlog is full (16777216 bytes)");
    int r2 = ring_publisher(f, &p2, 4096); /* granted while refusing */
    assert_int_equal(put_str(&p2, "refused too"), PHP_HERALD_RING_REFUSED);
    send_pub(s, "acked", 7);
    read_reply(f, s, &r);
    assert_string_equal(r.op, "ack");
    assert_int_equal(r.ack, 7);
    assert_true(r.has_ok && !r.ok);
    assert_string_equal(r.error,
                        "relay cannot take messages: the Redis backlog is full (16777216 bytes)");
    assert_int_equal(metric(f, "herald_ingest_rejects_total", "reason=\"refusing\""), 1);
    send_pub(s, "no ack", 0);
    turn_until_published(f, 2);
    assert_string_equal(f->fb.data[1], "no ack");

    hr_broker_set_accepting(&f->fb.b, NULL);
    assert_int_equal(metric(f, "herald_ingest_refusing", NULL), 0);
    assert_int_equal(put_str(&p1, "after"), PHP_HERALD_RING_SENT);
    assert_int_equal(put_str(&p2, "after 2"), PHP_HERALD_RING_SENT);
    send_pub(s, "acked after", 8);
    read_reply(f, s, &r);
    assert_true(r.ok);
    turn_until_published(f, 5);
    php_herald_ring_unmap(&p1);
    php_herald_ring_unmap(&p2);
    close(r1);
    close(r2);
    close(s);
}

/* ---- max_publishers ---- */

/* Past max_publishers a new connection is refused: what it sent before the
 * relay saw it is published (its calls returned true), then it gets the
 * reason and the connection is closed; a write after that fails (no frame
 * can be lost in between). Counted, and the slot is free again once a
 * publisher leaves. */
static void test_max_publishers(void **state)
{
    fixture_t *f = *state;
    reply_t r;
    int a = publisher(), b = publisher();
    send_hello(a, 0);
    send_hello(b, 4096); /* with a ring: the ring's answer comes first */
    turn_until_connections(f, 2);
    read_reply(f, b, &r);
    assert_string_equal(r.op, "ring");
    for (int i = 0; i < r.nfds; i++)
        close(r.fds[i]);

    int c = publisher();
    send_hello(c, 4096);
    send_pub(c, "sent before it was seen", 0);
    read_reply(f, c, &r);
    assert_string_equal(r.op, "refused");
    assert_int_equal(r.nfds, 0); /* no ring for it */
    assert_string_equal(r.error, "too many publishers: max_publishers (2) connections are open");
    turn_until_published(f, 1);
    assert_string_equal(f->fb.data[0], "sent before it was seen");
    char byte = 0;
    assert_int_equal(send(c, &byte, 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EPIPE);
    close(c);
    assert_int_equal(metric(f, "herald_ingest_publishers_refused_total", NULL), 1);
    assert_int_equal(metric(f, "herald_ingest_max_publishers", NULL), 2);
    turn_until_connections(f, 2);

    close(a); /* a slot comes free */
    turn_until_connections(f, 1);
    int d = publisher();
    send_hello(d, 0);
    send_pub(d, "kept", 0);
    turn_until_published(f, 2);
    turn_until_connections(f, 2);
    assert_int_equal(metric(f, "herald_ingest_publishers_refused_total", NULL), 1);
    close(b);
    close(d);
}

/* ---- sends and presence ---- */

/* A send is a publish on one internal channel, "#c.<conn>" or "#u.<user>",
 * with the direct target and the SSE event "herald.send", released in
 * order with pubs and acknowledged like them; an invalid one is nacked. */
static void test_send(void **state)
{
    fixture_t *f = *state;
    reply_t r;
    int s = publisher();
    send_hello(s, 0);
    send_pub(s, "p1", 0);
    send_send(s, "conn", "0a1b2c3d.7", "hi", 5);
    send_send(s, "user", "alice@example.com", "yo", 0);
    read_reply(f, s, &r);
    assert_string_equal(r.op, "ack");
    assert_int_equal(r.ack, 5);
    assert_true(r.ok);
    assert_string_equal(r.id, "test-2");
    turn_until_published(f, 3);
    assert_string_equal(f->fb.data[0], "p1");
    assert_string_equal(f->fb.chan[0], "c");
    assert_string_equal(f->fb.data[1], "hi");
    assert_string_equal(f->fb.chan[1], "#c.0a1b2c3d.7");
    assert_int_equal(f->fb.target[1], HR_TARGET_DIRECT);
    assert_string_equal(f->fb.event[1], "herald.send");
    assert_string_equal(f->fb.data[2], "yo");
    assert_string_equal(f->fb.chan[2], "#u.alice@example.com");
    assert_int_equal(f->fb.target[2], HR_TARGET_DIRECT);

    send_send(s, "conn", "Not.An.Id", "x", 6);
    read_reply(f, s, &r);
    assert_int_equal(r.ack, 6);
    assert_false(r.ok);
    assert_string_equal(r.error, "send: conn must be a connection id (1 to 64 bytes of a-z 0-9 .)");
    assert_int_equal(metric(f, "herald_ingest_rejects_total", "reason=\"invalid\""), 1);
    close(s);
}

/* Without presence on this relay a query is answered at once, refused. */
static void test_presence_off(void **state)
{
    fixture_t *f = *state;
    reply_t r;
    int s = publisher();
    send_presence(s, "presence-room", 1);
    read_reply(f, s, &r);
    assert_string_equal(r.op, "ack");
    assert_int_equal(r.ack, 1);
    assert_true(r.has_ok && !r.ok);
    assert_string_equal(r.error, "presence is not enabled");
    assert_int_equal(metric(f, "herald_ingest_presence_queries_total", NULL), 1);
    close(s);
}

/* With the local backend: the members, as the JSON text in "members";
 * a channel that is not a presence channel (hr_presence_is) is refused. */
static void test_presence_local(void **state)
{
    fixture_t *f = *state;
    reply_t r;
    hr_presence_local_new(&f->L);
    int s = publisher();
    const char *chans[] = {"presence-room", "room"};
    for (int i = 0; i < 2; i++) {
        send_presence(s, chans[i], 2);
        read_reply(f, s, &r);
        assert_int_equal(r.ack, 2);
        if (hr_presence_is(chans[i], strlen(chans[i]))) {
            assert_true(r.ok);
            assert_string_equal(r.members, "[]");
        } else {
            assert_false(r.ok);
            assert_string_equal(r.error, "not a presence channel");
        }
    }
    assert_false(hr_presence_is("room", 4));
    close(s);
    /* Its handles close with the loop's (teardown frees it after). */
    hr_presence_stop(f->L.presence);
}

/* A presence backend that answers later (as one asking Redis does), or at
 * once when now is set. */
static hr_presence_fn later_fn;
static void *later_ud;
static int later_now;

static void later_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud)
{
    if (later_now) {
        fn(ud, "[{\"user\":\"a\",\"info\":null}]", 26, NULL);
        return;
    }
    later_fn = fn;
    later_ud = ud;
}

static void answer_later(const char *json, const char *err)
{
    hr_presence_fn fn = later_fn;
    assert_non_null(fn);
    later_fn = NULL;
    fn(later_ud, json, json ? strlen(json) : 0, err);
}

/* Channels under "presence-" are presence channels here. */
static int later_is(const char *name, size_t len)
{
    return len >= 9 && memcmp(name, "presence-", 9) == 0;
}

static void use_later(fixture_t *f)
{
    f->L.presence = (hr_presence_t *)f; /* not looked into: later_members stands in */
    hr_ingest_presence = (hr_ingest_presence_t){later_is, later_members};
    later_now = 0;
    later_fn = NULL;
}

static void use_real(fixture_t *f)
{
    hr_ingest_presence = (hr_ingest_presence_t){hr_presence_is, hr_presence_members};
    f->L.presence = NULL;
}

/* Replies are written as soon as they are known, each naming its ack: a
 * presence answer that comes late (Redis) holds back no later ack, and a
 * publish answered late holds back no presence answer (nor a refusal:
 * cluster_edges' backlog test). */
static void test_presence_replies_as_known(void **state)
{
    fixture_t *f = *state;
    reply_t r[2];
    use_later(f);
    int s = publisher();
    send_presence(s, "presence-room", 1);
    send_pub(s, "after", 2);
    turn_until_published(f, 1);
    read_replies(f, s, r, 1); /* the pub's ack does not wait for the presence answer */
    assert_int_equal(r[0].ack, 2);
    assert_true(r[0].ok);
    answer_later("[{\"user\":\"a\",\"info\":{\"n\":1}}]", NULL);
    read_replies(f, s, r, 1);
    assert_int_equal(r[0].ack, 1);
    assert_true(r[0].ok);
    assert_string_equal(r[0].members, "[{\"user\":\"a\",\"info\":{\"n\":1}}]");

    f->fb.defer = 1;
    later_now = 1;
    send_pub(s, "first", 3);
    send_presence(s, "presence-room", 4);
    turn_until_published(f, 2);
    read_replies(f, s, r, 1); /* answered at once, ahead of the pub's ack */
    assert_int_equal(r[0].ack, 4);
    assert_string_equal(r[0].members, "[{\"user\":\"a\",\"info\":null}]");
    f->fb.defer = 0;
    f->fb.ndeferred = 0;
    f->fb.deferred[0](f->fb.deferred_ud[0], "test-x", 6, NULL);
    read_replies(f, s, r, 1);
    assert_int_equal(r[0].ack, 3);
    assert_string_equal(r[0].id, "test-x");

    /* A failed query: ok false with the backend's reason; a channel that
     * is no presence channel is refused without asking the backend. */
    later_now = 0;
    send_presence(s, "presence-room", 5);
    for (int i = 0; i < 10000 && later_fn == NULL; i++)
        turn(f);
    answer_later(NULL, "redis unavailable");
    send_presence(s, "room", 6);
    read_replies(f, s, r, 2);
    assert_int_equal(r[0].ack, 5);
    assert_false(r[0].ok);
    assert_string_equal(r[0].error, "redis unavailable");
    assert_int_equal(r[1].ack, 6);
    assert_false(r[1].ok);
    assert_string_equal(r[1].error, "not a presence channel");
    assert_null(later_fn);
    close(s);
    use_real(f);
}

/* The publisher left before the answer came: its connection stays in
 * memory for the answer, which is dropped (ASan checks the rest). */
static void test_presence_answer_after_close(void **state)
{
    fixture_t *f = *state;
    use_later(f);
    int s = publisher();
    send_presence(s, "presence-room", 1);
    for (int i = 0; i < 10000 && later_fn == NULL; i++)
        turn(f);
    close(s);
    turn_until_connections(f, 0);
    answer_later("[]", NULL);
    turn(f);
    use_real(f);
}

/* A presence query in the ring cannot be answered there: nacked on the
 * socket, with the reason. */
static void test_presence_not_in_ring(void **state)
{
    fixture_t *f = *state;
    php_herald_ring p;
    reply_t r;
    int s = ring_publisher(f, &p, 4096);
    msgpack_sbuffer sb;
    pack_presence(&sb, "presence-room", 9);
    struct iovec iov = {sb.data, sb.size};
    uint64_t end;
    int wake;
    assert_int_equal(php_herald_ring_put(&p, &iov, 1, &end, &wake), PHP_HERALD_RING_SENT);
    msgpack_sbuffer_destroy(&sb);
    read_reply(f, s, &r);
    assert_int_equal(r.ack, 9);
    assert_false(r.ok);
    assert_string_equal(r.error, "presence: not in the ring (it is answered on the socket)");
    php_herald_ring_unmap(&p);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_on_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_publishers, setup_two_publishers, teardown),
        cmocka_unit_test_setup_teardown(test_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_replies_as_known, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_answer_after_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_not_in_ring, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
