/* SPDX-License-Identifier: MIT
 * server.c: the loop's fixed handles: the HTTP listener, the prepare/check
 * pair that brackets each poll (ingest release and output flush happen once
 * per turn, in check), the one periodic sweep for heartbeats, timeouts and
 * history expiry (no per-connection timers), signals, and the graceful
 * shutdown: stop accepting, publish what publishers already sent, end SSE
 * streams and close WebSockets with 1001, flush, then stop the loop. */
#include "cluster/broker_redis.h"
#include "app/config.h"
#include "ingest/ingest.h"
#include "base/log.h"
#include "app/metrics.h"
#include "app/relay.h"
#include "app/router.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_relay_t hr_relay;

size_t hr_relay_format_id(char *out, uint64_t seq)
{
    return (size_t)snprintf(out, 48, "%s-%" PRIu64, hr_relay.boot, seq);
}

int hr_relay_parse_id(const char *id, size_t len, uint64_t *seq)
{
    size_t b = hr_relay.boot_len;
    if (len <= b + 1 || len > b + 21 || memcmp(id, hr_relay.boot, b) != 0 || id[b] != '-')
        return 0;
    uint64_t v = 0;
    for (size_t i = b + 1; i < len; i++) {
        if (id[i] < '0' || id[i] > '9')
            return 0;
        uint64_t d = (uint64_t)(id[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *seq = v;
    return 1;
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        hr_log(HR_LOG_WARN, "http: accept: %s", uv_strerror(status));
        return;
    }
    hr_conn_accept(server);
}

static void on_prepare(uv_prepare_t *h)
{
    hr_relay.poll_start_ns = uv_hrtime();
}

static void close_loop_handles(void);

static void on_check(uv_check_t *h)
{
    hr_ingest_release(0);
    hr_conn_flush_all();
    if (hr_relay.shutting_down && hr_relay.nconns == 0)
        close_loop_handles();
}

static void on_sweep(uv_timer_t *t)
{
    uint64_t now = hr_now_ms();
    hr_conn_sweep(now);
    hr_chans_expire(&hr_relay.chans, now);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    hr_log(HR_LOG_WARN, "shutdown: %zu client(s) did not drain in time; closing them",
           hr_relay.nconns);
    while (hr_relay.conns)
        hr_conn_close(hr_relay.conns, "shutdown timeout");
}

static void close_if_open(uv_handle_t *h)
{
    if (h->loop != NULL && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_loop_handles(void)
{
    close_if_open((uv_handle_t *)&hr_relay.prepare);
    close_if_open((uv_handle_t *)&hr_relay.check);
    close_if_open((uv_handle_t *)&hr_relay.sweep);
    close_if_open((uv_handle_t *)&hr_relay.shutdown_timer);
    close_if_open((uv_handle_t *)&hr_relay.sig_term);
    close_if_open((uv_handle_t *)&hr_relay.sig_int);
    close_if_open((uv_handle_t *)&hr_relay.sig_hup);
}

void hr_relay_shutdown(const char *why)
{
    if (hr_relay.shutting_down)
        return;
    hr_relay.shutting_down = 1;
    hr_log(HR_LOG_INFO, "shutdown: %s; ending %zu client(s)", why, hr_relay.nconns);
    close_if_open((uv_handle_t *)&hr_relay.listener);
    hr_relay.listening = 0;
    hr_ingest_stop();
    hr_cluster_stop(); /* after the last publishes went to Redis */
    hr_conn_shutdown_all();
    uv_timer_stop(&hr_relay.sweep);
    uv_timer_init(hr_relay.loop, &hr_relay.shutdown_timer);
    uv_timer_start(&hr_relay.shutdown_timer, on_shutdown_timeout, (uint64_t)hr_cfg.shutdown_timeout,
                   0);
    uv_unref((uv_handle_t *)&hr_relay.shutdown_timer);
    /* Make sure a check runs even if nothing else wakes the loop. */
    hr_conn_flush_all();
    if (hr_relay.nconns == 0)
        close_loop_handles();
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (signum == SIGHUP) {
        hr_log_reopen();
        return;
    }
    hr_relay_shutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT"/"PORT" (all interfaces of IPv4). */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
    char host[256];
    const char *port;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
        char *e;
        long p = strtol(port, &e, 10);
        if (*port == '\0' || *e || p < 0 || p > 65535)
            return UV_EINVAL;
        return uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss);
    }
    const char *colon = strrchr(s, ':');
    if (colon == NULL) {
        snprintf(host, sizeof host, "0.0.0.0");
        port = s;
    } else {
        if ((size_t)(colon - s) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        if (host[0] == '\0')
            snprintf(host, sizeof host, "0.0.0.0");
        port = colon + 1;
    }
    char *e;
    long p = strtol(port, &e, 10);
    if (*port == '\0' || *e || p < 0 || p > 65535)
        return UV_EINVAL;
    return uv_ip4_addr(host, (int)p, (struct sockaddr_in *)ss);
}

int hr_server_start(void)
{
    struct sockaddr_storage ss;
    int err = parse_listen(hr_cfg.listen, &ss);
    if (err) {
        hr_log(HR_LOG_ERROR, "http: bad listen address '%s' (want HOST:PORT)", hr_cfg.listen);
        return err;
    }
    uv_tcp_init(hr_relay.loop, &hr_relay.listener);
    err = uv_tcp_bind(&hr_relay.listener, (struct sockaddr *)&ss, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&hr_relay.listener, 4096, on_connection);
    if (err) {
        hr_log(HR_LOG_ERROR, "http: cannot listen on %s: %s%s", hr_cfg.listen, uv_strerror(err),
               err == UV_EADDRINUSE ? " (is another relay running?)" : "");
        return err;
    }
    hr_relay.listening = 1;

    uv_prepare_init(hr_relay.loop, &hr_relay.prepare);
    uv_prepare_start(&hr_relay.prepare, on_prepare);
    uv_check_init(hr_relay.loop, &hr_relay.check);
    uv_check_start(&hr_relay.check, on_check);
    uv_timer_init(hr_relay.loop, &hr_relay.sweep);
    uv_timer_start(&hr_relay.sweep, on_sweep, 1000, 1000);
    uv_signal_init(hr_relay.loop, &hr_relay.sig_term);
    uv_signal_start(&hr_relay.sig_term, on_signal, SIGTERM);
    uv_signal_init(hr_relay.loop, &hr_relay.sig_int);
    uv_signal_start(&hr_relay.sig_int, on_signal, SIGINT);
    uv_signal_init(hr_relay.loop, &hr_relay.sig_hup);
    uv_signal_start(&hr_relay.sig_hup, on_signal, SIGHUP);
    return 0;
}
