/* SPDX-License-Identifier: MIT
 * test_transport.c: the transport interface is real. A transport written
 * here, in the test, plugs into the relay's connection, flush and router
 * code as they are (net/conn.c, app/router.c and app/server.c are not
 * changed for it): a real listener on 127.0.0.1, a real client socket, the
 * local broker. It sees its route opened, its encoding made once per event
 * and channel however many subscribers share it, its heartbeat from the
 * sweep, its gap notice from a resume, and its close at shutdown. The loop
 * runs turn by turn (UV_RUN_NOWAIT) until the client has what it waits for:
 * no sleeping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/config.h"
#include "app/server.h"
#include "core/broker.h"
#include "core/broker_local.h"
#include "net/conn.h"
#include "net/transport.h"

/* ---- the test transport: "[channel] data\n" lines ---- */

static int encodes, heartbeats, gaps, closes, closed, slot = -1;

static hr_buf_t *encode_line(const hr_event_t *ev, int chan)
{
    char line[256];
    int n = snprintf(line, sizeof line, "[%.*s] %.*s\n", (int)ev->channels[chan].len,
                     ev->channels[chan].p, (int)ev->data.len, ev->data.p);
    encodes++;
    return hr_buf_from(line, (size_t)n);
}

static hr_buf_t *t_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    return hr_event_encoding(ev, slot, chan, encode_line);
}

static void t_heartbeat(hr_conn_t *c, uint64_t now)
{
    heartbeats++;
    hr_conn_send_copy(c, "ping\n", 5);
}

static void t_gap(hr_conn_t *c, const hr_resume_t *r, const char *position)
{
    gaps++;
    char line[128];
    int n = snprintf(line, sizeof line, "gap %.*s\n", (int)r->channels[0].len, r->channels[0].p);
    hr_conn_send_copy(c, line, (size_t)n);
}

static void t_begin_close(hr_conn_t *c)
{
    closes++;
    hr_conn_send_copy(c, "bye\n", 4);
    hr_conn_end(c);
}

static void *t_init(hr_net_t *net, int tidx)
{
    if (slot < 0)
        slot = hr_event_slot();
    return NULL;
}

static const hr_transport_t test_transport = {
    .name = "test",
    .init = t_init,
    .encode = t_encode,
    .heartbeat = t_heartbeat,
    .gap = t_gap,
    .begin_close = t_begin_close,
};

/* A module above the net layer hears of every close (a close hook). */
static void on_conn_closed(void *ud, hr_conn_t *c)
{
    closed++;
}

static void t_open(hr_conn_t *c, const hr_http_request_t *req, const hr_query_t *q, uint8_t *rest,
                   size_t rest_len)
{
    hr_conn_set_transport(c, hr_net_transport(hr_conn_net(c), "test"));
    hr_conn_send_copy(c, "open\n", 5);
    for (size_t i = 0; i < q->n; i++)
        hr_conn_subscribe(c, q->channels[i].p, q->channels[i].len, HR_TARGET_ALL);
    if (q->has_last_id)
        hr_conn_resume(c, HR_TARGET_ALL, q->last_id, q->channels, q->n);
}

/* ---- a relay in this process ---- */

typedef struct fixture {
    uv_loop_t uv;
    hr_loop_t L;
    hr_server_t *srv;
    int port;
} fixture_t;

static int setup(void **state)
{
    /* Shutdown here ends every client at once (the drain is e2e's). */
    char *argv[] = {"test_transport", "--drain_ms", "0", NULL};
    assert_int_equal(hr_config_load(3, argv), 0);
    fixture_t *f = calloc(1, sizeof *f);
    uv_loop_init(&f->uv);
    hr_loop_init(&f->L, &f->uv, 100, 60000);
    f->srv = hr_server_new(&f->L, 100);
    hr_net_add_transport(f->srv->net, &test_transport);
    hr_server_route(f->srv, "/test", t_open);
    hr_net_add_close_hook(f->srv->net, on_conn_closed, NULL);
    f->L.broker = hr_broker_local_new(&f->L);
    assert_int_equal(hr_server_start(f->srv, "127.0.0.1:0"), 0);
    f->port = hr_server_port(f->srv);
    assert_true(f->port > 0);
    encodes = heartbeats = gaps = closes = closed = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    hr_server_shutdown(f->srv, "test over");
    uv_run(&f->uv, UV_RUN_DEFAULT);
    f->L.broker->ops->free(f->L.broker);
    hr_server_free(f->srv);
    hr_loop_free(&f->L);
    assert_int_equal(uv_loop_close(&f->uv), 0);
    assert_int_equal(hr_event_live, 0);
    assert_int_equal(hr_buf_live, 0);
    hr_config_free();
    free(f);
    return 0;
}

static int client(fixture_t *f, const char *target)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", target);
    assert_int_equal(write(fd, req, (size_t)n), n);
    return fd;
}

/* Turn the loop until the client has read want (or the connection ended). */
static void expect(fixture_t *f, int fd, const char *want)
{
    char buf[4096];
    size_t have = 0, len = strlen(want);
    for (int turns = 0; have < len && turns < 100000; turns++) {
        uv_run(&f->uv, UV_RUN_NOWAIT);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1) == 1) {
            ssize_t r = read(fd, buf + have, len - have);
            if (r <= 0)
                break;
            have += (size_t)r;
        }
    }
    buf[have] = '\0';
    assert_string_equal(buf, want);
}

static void publish(fixture_t *f, const char *channel, const char *data)
{
    hr_broker_t *b = f->L.broker;
    hr_slice_t ch = {channel, strlen(channel)};
    hr_publish_t p = {.target = HR_TARGET_SSE,
                      .event = {NULL, 0},
                      .data = {data, strlen(data)},
                      .channels = &ch,
                      .nchannels = 1};
    b->ops->publish(b, &p, NULL, NULL);
}

static void test_open_deliver_heartbeat_close(void **state)
{
    fixture_t *f = *state;
    int a = client(f, "/test?channel=news"), b = client(f, "/test?channel=news");
    expect(f, a, "open\n");
    expect(f, b, "open\n");
    /* The router answered nothing: the route's open did, through conn.c. */
    assert_int_equal(f->srv->net->conns->kind, HR_CONN_STREAM);
    assert_int_equal(f->srv->net->tstats[0].connections, 2);
    publish(f, "news", "hello");
    expect(f, a, "[news] hello\n");
    expect(f, b, "[news] hello\n");
    assert_int_equal(encodes, 1); /* once for both subscribers */
    assert_int_equal(f->srv->net->tstats[0].delivered, 2);
    hr_conn_sweep(f->srv->net, hr_loop_now_ms(&f->L) + 3600 * 1000);
    assert_int_equal(heartbeats, 2);
    expect(f, a, "ping\n");
    hr_server_shutdown(f->srv, "test");
    assert_int_equal(closes, 2);
    expect(f, a, "bye\n");
    expect(f, b, "ping\nbye\n");
    close(a);
    close(b);
    uv_run(&f->uv, UV_RUN_DEFAULT);
    assert_int_equal(closed, 2);
}

static void test_resume_and_gap_through_the_transport(void **state)
{
    fixture_t *f = *state;
    int a = client(f, "/test?channel=news");
    expect(f, a, "open\n");
    publish(f, "news", "one");
    expect(f, a, "[news] one\n");
    /* An id from another relay: the broker says gap, the transport tells. */
    int b = client(f, "/test?channel=news&last_event_id=elsewhere-1");
    expect(f, b, "open\ngap news\n");
    assert_int_equal(gaps, 1);
    /* An id of this relay from before "one": replayed exactly. */
    char target[128];
    snprintf(target, sizeof target, "/test?channel=news&last_event_id=%s-0", f->L.broker->epoch);
    int c = client(f, target);
    expect(f, c, "open\n[news] one\n");
    assert_int_equal(gaps, 1);
    close(a);
    close(b);
    close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_deliver_heartbeat_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_and_gap_through_the_transport, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
