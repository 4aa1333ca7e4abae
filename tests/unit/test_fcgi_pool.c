/* SPDX-License-Identifier: MIT
 * test_fcgi_pool.c: unit tests of relay/src/hooks/fcgi_pool.c on a real
 * loop against a scripted FastCGI server on a Unix socket in the same loop
 * (tests/e2e/fcgi_pool.test.mjs runs it against php-fpm). The server reads
 * each request up to its empty STDIN record and answers as the test says:
 * a good answer (kept or closed after), garbage, bytes after the answer, or
 * nothing. Covers reuse, a kept connection found closed, PROTOCOL, TIMEOUT,
 * the idle close, no room, freeing the pool with a request in flight, and
 * an answer read before its write's callback (against a server thread);
 * each test ends with the loop closed clean and no buffer left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "codec/fastcgi.h"
#include "hooks/fcgi_pool.h"

enum mode { ANSWER, ANSWER_CLOSE, GARBAGE, EXTRA, SILENT };

/* STDOUT "Status: 202\r\n\r\nhello" (20 bytes, padded by 4), the end of
 * STDOUT, END_REQUEST. */
static const uint8_t answer[] = {1,   6,   0,   1,   0,   20,  4,   0,    'S',  't',  'a',  't',
                                 'u', 's', ':', ' ', '2', '0', '2', '\r', '\n', '\r', '\n', 'h',
                                 'e', 'l', 'l', 'o', 0,   0,   0,   0,    1,    6,    0,    1,
                                 0,   0,   0,   0,   1,   3,   0,   1,    0,    8,    0,    0,
                                 0,   0,   0,   0,   0,   0,   0,   0};

static const uint8_t stdin_end[] = {1, 5, 0, 1, 0, 0, 0, 0};

typedef struct fx {
    uv_loop_t uv;
    hr_loop_t L;
    uv_pipe_t server;
    char path[64];
    int mode;
    int accepted;
    hr_fcgi_pool_t *pool;
    int done;
    hr_fcgi_response_t last;
    char body[64];
    char why[200];
    int in_submit;
} fx_t;

typedef struct sconn {
    uv_pipe_t pipe;
    fx_t *f;
    uint8_t tail[8]; /* the last 8 bytes read: the empty STDIN ends a request */
    size_t got;
    char rbuf[4096];
} sconn_t;

static void on_sconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_swritten(uv_write_t *w, int status)
{
    uv_stream_t *st = w->data; /* set: close once written */
    if (st && !uv_is_closing((uv_handle_t *)st))
        uv_close((uv_handle_t *)st, on_sconn_closed);
    free(w);
}

static void swrite(sconn_t *s, const void *p, size_t n, int then_close)
{
    uv_write_t *w = malloc(sizeof *w);
    w->data = then_close ? &s->pipe : NULL;
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    uv_write(w, (uv_stream_t *)&s->pipe, &b, 1, on_swritten);
}

static void on_salloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    sconn_t *s = h->data;
    *buf = uv_buf_init(s->rbuf, sizeof s->rbuf);
}

static void on_sread(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    sconn_t *s = st->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&s->pipe, on_sconn_closed);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        memmove(s->tail, s->tail + 1, 7);
        s->tail[7] = (uint8_t)buf->base[i];
        if (++s->got < 8 || memcmp(s->tail, stdin_end, 8) != 0)
            continue;
        switch (s->f->mode) {
        case ANSWER:
            swrite(s, answer, sizeof answer, 0);
            break;
        case ANSWER_CLOSE:
            swrite(s, answer, sizeof answer, 1); /* php-fpm, max_requests = 1 */
            uv_read_stop(st);
            return;
        case GARBAGE:
            swrite(s, "HTTP/1.1 200 OK\r\n\r\n", 19, 0);
            break;
        case EXTRA:
            swrite(s, answer, sizeof answer, 0);
            swrite(s, "\1\6\0\1\0\0\0\0", 8, 0);
            break;
        case SILENT:
            break;
        }
    }
}

static void on_accept(uv_stream_t *server, int status)
{
    fx_t *f = server->data;
    sconn_t *s = calloc(1, sizeof *s);
    s->f = f;
    uv_pipe_init(&f->uv, &s->pipe, 0);
    s->pipe.data = s;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&s->pipe), 0);
    f->accepted++;
    uv_read_start((uv_stream_t *)&s->pipe, on_salloc, on_sread);
}

static void on_done(void *ud, const hr_fcgi_response_t *r)
{
    fx_t *f = ud;
    assert_false(f->in_submit);
    f->done++;
    f->last = *r;
    snprintf(f->body, sizeof f->body, "%.*s", (int)r->len, (const char *)r->body);
    snprintf(f->why, sizeof f->why, "%s", r->why ? r->why : "");
}

/* Submits the next request from inside done, while the answered connection
 * is idle and its EOF not yet read. */
static void on_done_again(void *ud, const hr_fcgi_response_t *r);
static int again_left;

static void submit_with(fx_t *f, hr_fcgi_done_fn fn)
{
    hr_buf_t *req = hr_fcgi_request(1, NULL, 0, "{}", 2);
    f->in_submit = 1;
    hr_fcgi_pool_submit(f->pool, req, fn, f);
    f->in_submit = 0;
    hr_buf_unref(req);
}

static void on_done_again(void *ud, const hr_fcgi_response_t *r)
{
    fx_t *f = ud;
    on_done(ud, r);
    assert_int_equal(r->status, HR_FCGI_OK);
    if (again_left-- > 0)
        submit_with(f, on_done_again);
}

static fx_t *fx_new(int mode, long max_conns, long idle_ms, long timeout_ms)
{
    fx_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->uv);
    hr_loop_init(&f->L, &f->uv, 16, 0);
    snprintf(f->path, sizeof f->path, "/tmp/herald-fcgi-%d-%d.sock", (int)getpid(), mode);
    unlink(f->path);
    uv_pipe_init(&f->uv, &f->server, 0);
    f->server.data = f;
    assert_int_equal(uv_pipe_bind(&f->server, f->path), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->server, 16, on_accept), 0);
    f->mode = mode;
    char addr[80];
    snprintf(addr, sizeof addr, "unix:%s", f->path);
    hr_fcgi_pool_cfg_t cfg = {addr, max_conns, idle_ms, timeout_ms, 0, NULL};
    f->pool = hr_fcgi_pool_new(&f->L, &cfg);
    assert_non_null(f->pool);
    return f;
}

static void submit(fx_t *f)
{
    hr_buf_t *req = hr_fcgi_request(1, NULL, 0, "{}", 2);
    f->in_submit = 1;
    hr_fcgi_pool_submit(f->pool, req, on_done, f);
    f->in_submit = 0;
    hr_buf_unref(req);
}

static void run_until_done(fx_t *f, int n)
{
    while (f->done < n)
        uv_run(&f->uv, UV_RUN_ONCE);
}

static void close_rest(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, on_sconn_closed); /* the scripted server's connections */
}

/* Free the pool, close everything, check nothing is left. */
static void fx_free(fx_t *f)
{
    hr_fcgi_pool_free(f->pool);
    uv_close((uv_handle_t *)&f->server, NULL);
    uv_walk(&f->uv, close_rest, NULL);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    hr_loop_free(&f->L);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    unlink(f->path);
    free(f);
    assert_int_equal(hr_buf_live, 0);
}

static void test_reuse(void **state)
{
    fx_t *f = fx_new(ANSWER, 2, 60000, 5000);
    for (int i = 1; i <= 3; i++) {
        submit(f);
        run_until_done(f, i);
        assert_int_equal(f->last.status, HR_FCGI_OK);
        assert_int_equal(f->last.http_status, 202);
        assert_string_equal(f->body, "hello");
    }
    const hr_fcgi_pool_stats_t *st = hr_fcgi_pool_stats(f->pool);
    assert_int_equal(st->connects, 1);
    assert_int_equal(f->accepted, 1);
    assert_int_equal(st->connections, 1);
    assert_int_equal(st->ok, 3);
    assert_int_equal(st->retries, 0);
    fx_free(f);
}

static void test_closed_after_each(void **state)
{
    /* Submitted at once after the answer, before the EOF can be read: the kept
     * connection is found closed and the request moves to a new one. */
    fx_t *f = fx_new(ANSWER_CLOSE, 1, 60000, 5000);
    again_left = 3;
    submit_with(f, on_done_again);
    run_until_done(f, 4);
    assert_string_equal(f->body, "hello");
    const hr_fcgi_pool_stats_t *st = hr_fcgi_pool_stats(f->pool);
    assert_int_equal(st->connects, 4);
    assert_int_equal(st->retries, 3);
    assert_int_equal(st->ok, 4);
    /* Submitted later, once the EOF was read: no retry. */
    for (int i = 5; i <= 6; i++) {
        while (st->connections > 0)
            uv_run(&f->uv, UV_RUN_ONCE);
        submit(f);
        run_until_done(f, i);
        assert_int_equal(f->last.status, HR_FCGI_OK);
    }
    assert_int_equal(st->retries, 3);
    assert_int_equal(st->connects, 6);
    fx_free(f);
}

static void test_protocol(void **state)
{
    fx_t *f = fx_new(GARBAGE, 1, 60000, 5000);
    submit(f);
    run_until_done(f, 1);
    assert_int_equal(f->last.status, HR_FCGI_PROTOCOL);
    assert_non_null(strstr(f->why, "FastCGI version 72"));
    assert_int_equal(hr_fcgi_pool_stats(f->pool)->connections, 0);
    assert_int_equal(hr_fcgi_pool_stats(f->pool)->protocol, 1);
    fx_free(f);
}

static void test_extra_bytes(void **state)
{
    /* Bytes after END_REQUEST: the answer stands, the connection is not kept. */
    fx_t *f = fx_new(EXTRA, 1, 60000, 5000);
    submit(f);
    run_until_done(f, 1);
    assert_int_equal(f->last.status, HR_FCGI_OK);
    assert_int_equal(hr_fcgi_pool_stats(f->pool)->connections, 0);
    submit(f);
    run_until_done(f, 2);
    assert_int_equal(f->last.status, HR_FCGI_OK);
    assert_int_equal(hr_fcgi_pool_stats(f->pool)->connects, 2);
    fx_free(f);
}

static void test_timeout(void **state)
{
    fx_t *f = fx_new(SILENT, 1, 60000, 50);
    submit(f);
    run_until_done(f, 1);
    assert_int_equal(f->last.status, HR_FCGI_TIMEOUT);
    assert_non_null(strstr(f->why, "no answer within 50 ms"));
    assert_int_equal(hr_fcgi_pool_stats(f->pool)->connections, 0);
    assert_int_equal(hr_fcgi_pool_room(f->pool), 1);
    fx_free(f);
}

static void test_idle_close(void **state)
{
    fx_t *f = fx_new(ANSWER, 1, 20, 5000);
    submit(f);
    run_until_done(f, 1);
    const hr_fcgi_pool_stats_t *st = hr_fcgi_pool_stats(f->pool);
    assert_int_equal(st->connections, 1);
    while (st->connections > 0) /* the idle timer closes it */
        uv_run(&f->uv, UV_RUN_ONCE);
    submit(f);
    run_until_done(f, 2);
    assert_int_equal(f->last.status, HR_FCGI_OK);
    assert_int_equal(st->connects, 2);
    fx_free(f);
}

static void test_no_room(void **state)
{
    fx_t *f = fx_new(ANSWER, 1, 60000, 5000);
    submit(f);
    assert_int_equal(hr_fcgi_pool_room(f->pool), 0);
    submit(f); /* refused from the loop, not in submit */
    assert_int_equal(f->done, 0);
    run_until_done(f, 2);
    fx_free(f);
}

static int room_calls;
static void on_room(void *ud)
{
    room_calls++;
}

static void test_free_in_flight(void **state)
{
    fx_t *f = fx_new(SILENT, 2, 60000, 5000);
    hr_fcgi_pool_on_room(f->pool, on_room, NULL);
    submit(f);
    submit(f);
    while (f->accepted < 2)
        uv_run(&f->uv, UV_RUN_ONCE);
    hr_fcgi_pool_free(f->pool); /* both in flight: cancelled here */
    assert_int_equal(f->done, 2);
    assert_int_equal(f->last.status, HR_FCGI_CANCELLED);
    assert_int_equal(room_calls, 0);
    uv_close((uv_handle_t *)&f->server, NULL);
    uv_walk(&f->uv, close_rest, NULL);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    hr_loop_free(&f->L);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    unlink(f->path);
    free(f);
    assert_int_equal(hr_buf_live, 0);
}

static void test_down(void **state)
{
    uv_loop_t uv;
    hr_loop_t L;
    uv_loop_init(&uv);
    hr_loop_init(&L, &uv, 16, 0);
    hr_fcgi_pool_cfg_t cfg = {"unix:/nonexistent/herald.sock", 1, 1000, 120, 0, NULL};
    hr_fcgi_pool_t *p = hr_fcgi_pool_new(&L, &cfg);
    fx_t f = {0};
    hr_buf_t *req = hr_fcgi_request(1, NULL, 0, NULL, 0);
    hr_fcgi_pool_submit(p, req, on_done, &f);
    hr_buf_unref(req);
    while (f.done < 1)
        uv_run(&uv, UV_RUN_ONCE);
    assert_int_equal(f.last.status, HR_FCGI_DOWN);
    assert_non_null(strstr(f.why, "could not connect within 120 ms"));
    assert_true(hr_fcgi_pool_stats(p)->retries >= 1); /* 50 ms, then 100 (cut to the deadline) */
    hr_fcgi_pool_free(p);
    uv_run(&uv, UV_RUN_DEFAULT);
    hr_loop_free(&L);
    assert_int_equal(uv_loop_close(&uv), 0);
}

static void test_addresses(void **state)
{
    uv_loop_t uv;
    hr_loop_t L;
    uv_loop_init(&uv);
    hr_loop_init(&L, &uv, 16, 0);
    static const char *const good[] = {"unix:/run/php.sock", "127.0.0.1:9000", "[::1]:9000",
                                       "::1:9000"};
    static const char *const bad[] = {
        "",           "unix:",       "localhost:9000",  "127.0.0.1",
        "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:9x",
        ":9000",      "[::1]",       "1.2.3.4.5:80",    "/run/php.sock"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        hr_fcgi_pool_cfg_t cfg = {good[i], 1, 0, 0, 0, NULL};
        hr_fcgi_pool_t *p = hr_fcgi_pool_new(&L, &cfg);
        if (p == NULL)
            fail_msg("refused %s", good[i]);
        hr_fcgi_pool_free(p);
    }
    int lvl = hr_log_level;
    hr_log_level = HR_LOG_ERROR + 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hr_fcgi_pool_cfg_t cfg = {bad[i], 1, 0, 0, 0, NULL};
        if (hr_fcgi_pool_new(&L, &cfg) != NULL)
            fail_msg("accepted %s", bad[i]);
    }
    hr_log_level = lvl;
    uv_run(&uv, UV_RUN_DEFAULT);
    hr_loop_free(&L);
    assert_int_equal(uv_loop_close(&uv), 0);
}

/* ---- an answer read before its request's write callback ----
 * libuv calls a write's callback from the next loop iteration's pending
 * phase, so a request written after the pending phase (here, from a prepare
 * callback; in the relay, a hook event raised in a pending callback) may be
 * answered, and its connection taken by the next request, before that
 * callback: the connection must not reuse the write request libuv still
 * holds. A server thread answers on blocking sockets and posts `answered`;
 * the prepare callback waits for it, so the answer is there when the loop
 * polls. */

typedef struct tserver {
    int lfd;
    int n; /* requests to answer */
    sem_t answered;
    pthread_t th;
} tserver_t;

static void *tserver_run(void *arg)
{
    tserver_t *t = arg;
    int fd = accept(t->lfd, NULL, NULL);
    uint8_t tail[8] = {0}, b[4096];
    size_t got = 0;
    for (int answers = 0; fd >= 0 && answers < t->n;) {
        ssize_t n = read(fd, b, sizeof b);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            memmove(tail, tail + 1, 7);
            tail[7] = b[i];
            if (++got < 8 || memcmp(tail, stdin_end, 8) != 0)
                continue;
            if (write(fd, answer, sizeof answer) != (ssize_t)sizeof answer)
                abort();
            answers++;
            sem_post(&t->answered);
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static fx_t *early_fx;
static tserver_t early_srv;
static int early_left; /* requests on_done_early still submits */

static void on_done_early(void *ud, const hr_fcgi_response_t *r)
{
    fx_t *f = ud;
    on_done(ud, r);
    assert_int_equal(r->status, HR_FCGI_OK);
    assert_int_equal(r->http_status, 202);
    if (early_left-- > 0)
        submit_with(f, on_done_early); /* takes the connection just answered */
}

static void on_prepare_early(uv_prepare_t *h)
{
    uv_prepare_stop(h);
    early_left = 1;
    submit_with(early_fx, on_done_early); /* on the idle connection; written now */
    sem_wait(&early_srv.answered);        /* answered before the loop polls */
}

static void test_answer_before_write_callback(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->uv);
    hr_loop_init(&f->L, &f->uv, 16, 0);
    snprintf(f->path, sizeof f->path, "/tmp/herald-fcgi-%d-early.sock", (int)getpid());
    unlink(f->path);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", f->path);
    early_srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(early_srv.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(early_srv.lfd, 4), 0);
    early_srv.n = 3;
    sem_init(&early_srv.answered, 0, 0);
    assert_int_equal(pthread_create(&early_srv.th, NULL, tserver_run, &early_srv), 0);
    char addr[80];
    snprintf(addr, sizeof addr, "unix:%s", f->path);
    hr_fcgi_pool_cfg_t cfg = {addr, 1, 60000, 5000, 0, NULL};
    f->pool = hr_fcgi_pool_new(&f->L, &cfg);
    assert_non_null(f->pool);
    early_fx = f;

    submit(f); /* the first request makes the connection, which goes idle */
    run_until_done(f, 1);
    while (sem_trywait(&early_srv.answered) == 0) {
    }
    uv_prepare_t prep;
    uv_prepare_init(&f->uv, &prep);
    uv_prepare_start(&prep, on_prepare_early);
    run_until_done(f, 3);
    uv_close((uv_handle_t *)&prep, NULL);
    assert_int_equal(hr_fcgi_pool_stats(f->pool)->connects,
                     1); /* all three on one kept connection */

    hr_fcgi_pool_free(f->pool);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    assert_int_equal(pthread_join(early_srv.th, NULL), 0);
    close(early_srv.lfd);
    sem_destroy(&early_srv.answered);
    hr_loop_free(&f->L);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    unlink(f->path);
    free(f);
    assert_int_equal(hr_buf_live, 0);
}

/* ---- pools sharing their slots (workers: one pool per loop) ----
 * Two pools on one loop here (the share does not care which thread), a
 * share of one slot: never two requests at once, the pools take turns, a
 * kept connection goes when the other pool waits, and a pool freed while
 * in line gives nothing away it did not have. */

typedef struct sp {
    hr_fcgi_pool_t *pool;
    int want, done, name;
} sp_t;

static int sp_inflight, sp_max;
static char sp_order[32];
static size_t sp_n;

static void sp_done(void *ud, const hr_fcgi_response_t *r)
{
    sp_t *p = ud;
    sp_inflight--;
    if (r->status == HR_FCGI_CANCELLED) /* its pool was freed */
        return;
    assert_int_equal(r->status, HR_FCGI_OK);
    p->done++;
    if (sp_n + 1 < sizeof sp_order)
        sp_order[sp_n++] = (char)p->name;
}

/* As hooks.c's pump: submit while the pool lets us take a slot. */
static void sp_pump(void *ud)
{
    sp_t *p = ud;
    while (p->want > 0 && hr_fcgi_pool_take(p->pool)) {
        hr_buf_t *req = hr_fcgi_request(1, NULL, 0, "{}", 2);
        p->want--;
        if (++sp_inflight > sp_max)
            sp_max = sp_inflight;
        hr_fcgi_pool_submit(p->pool, req, sp_done, p);
        hr_buf_unref(req);
    }
}

static void sp_init_max(fx_t *f, sp_t *p, hr_fcgi_share_t *share, int name, long max_conns)
{
    char addr[80];
    snprintf(addr, sizeof addr, "unix:%s", f->path);
    hr_fcgi_pool_cfg_t cfg = {addr, max_conns, 60000, 5000, 0, share};
    *p = (sp_t){.pool = hr_fcgi_pool_new(&f->L, &cfg), .name = name};
    assert_non_null(p->pool);
    hr_fcgi_pool_on_room(p->pool, sp_pump, p);
}

static void sp_init(fx_t *f, sp_t *p, hr_fcgi_share_t *share, int name)
{
    sp_init_max(f, p, share, name, 1);
}

static void test_share(void **state)
{
    fx_t *f = fx_new(ANSWER, 1, 60000, 5000);
    hr_fcgi_share_t *share = hr_fcgi_share_new(1);
    sp_t a, b;
    sp_init(f, &a, share, 'a');
    sp_init(f, &b, share, 'b');
    sp_inflight = sp_max = 0;
    sp_n = 0;
    /* Both want three: one at a time, in turns. */
    a.want = b.want = 3;
    sp_pump(&a);
    sp_pump(&b); /* in line */
    assert_int_equal(b.want, 3);
    while (a.done + b.done < 6)
        uv_run(&f->uv, UV_RUN_ONCE);
    assert_int_equal(sp_max, 1);
    assert_string_equal(sp_order, "ababab");
    /* Nobody waits: b keeps its connection (and the slot). */
    assert_int_equal(hr_fcgi_pool_stats(b.pool)->connections, 1);
    assert_int_equal(hr_fcgi_pool_stats(a.pool)->connections, 0);
    /* a waits: b's kept connection goes, a gets its slot. */
    a.want = 1;
    sp_pump(&a);
    while (a.done < 4)
        uv_run(&f->uv, UV_RUN_ONCE);
    assert_int_equal(hr_fcgi_pool_stats(b.pool)->connections, 0);
    assert_int_equal(sp_max, 1);
    /* a keeps the slot now; b in line is freed: a goes on alone. */
    b.want = 1;
    sp_pump(&b);
    assert_int_equal(b.want, 1);
    hr_fcgi_pool_free(b.pool);
    a.want = 2;
    sp_pump(&a);
    while (a.done < 6)
        uv_run(&f->uv, UV_RUN_ONCE);
    assert_int_equal(sp_max, 1);
    hr_fcgi_share_unref(share);
    hr_fcgi_pool_free(a.pool);
    fx_free(f);
}

/* A pool in line whose own request ends first keeps that connection (its
 * turn): no new connection per request for a pool that waits alone. The
 * other pool holds the second slot with a request its server never
 * answers (a server and loop of its own). */
static void test_share_own_turn(void **state)
{
    fx_t *f = fx_new(ANSWER, 1, 60000, 5000);
    fx_t *g = fx_new(SILENT, 1, 60000, 5000);
    hr_fcgi_share_t *share = hr_fcgi_share_new(2);
    sp_t a, b;
    sp_init_max(f, &a, share, 'a', 2);
    sp_init_max(g, &b, share, 'b', 2);
    sp_inflight = sp_max = 0;
    sp_n = 0;
    b.want = 1;
    sp_pump(&b);
    while (g->accepted < 1)
        uv_run(&g->uv, UV_RUN_ONCE);
    a.want = 8;
    sp_pump(&a); /* one slot left: one request, then a waits in line */
    assert_int_equal(a.want, 7);
    while (a.done < 8)
        uv_run(&f->uv, UV_RUN_ONCE);
    assert_int_equal(hr_fcgi_pool_stats(a.pool)->connects, 1);
    hr_fcgi_pool_free(a.pool);
    hr_fcgi_pool_free(b.pool); /* b's request: cancelled */
    assert_int_equal(b.done, 0);
    hr_fcgi_share_unref(share);
    fx_free(f);
    fx_free(g);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the relay: a write to a closed connection is an error */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_closed_after_each),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_extra_bytes),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_idle_close),
        cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_free_in_flight),
        cmocka_unit_test(test_down),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_answer_before_write_callback),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_share_own_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
