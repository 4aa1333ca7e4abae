/* SPDX-License-Identifier: MIT
 * server.c: the loop's fixed handles: the HTTP listener, the prepare/check
 * pair that brackets each poll (ingest release and output flush happen once
 * per turn, in check), the one periodic sweep for heartbeats, timeouts and
 * history expiry (no per-connection timers), signals, and the graceful
 * shutdown: stop accepting, publish what publishers already sent, end every
 * client as its transport says, flush, then stop the loop. */
#include "app/server.h"
#include "app/config.h"
#include "base/log.h"
#include "core/broker.h"
#include "net/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_server_t *hr_server_new(hr_loop_t *L, size_t max_conns)
{
    hr_server_t *s = hr_xcalloc(1, sizeof *s);
    s->loop = L;
    L->app = s;
    s->net = hr_net_new(L, max_conns, hr_route);
    L->chans.deliver = hr_conn_deliver;
    hr_metrics_add(&L->metrics, "herald_limit_hits_total", HR_COUNTER,
                   "Requests or connections refused by a limit.", "limit=\"url_bytes\"",
                   &s->limit_url);
    return s;
}

void hr_server_route(hr_server_t *s, const char *path, hr_open_fn open)
{
    if (s->nroutes == HR_ROUTES_MAX)
        abort(); /* a programming error */
    s->routes[s->nroutes++] = (hr_route_t){path, open, NULL, NULL};
}

void hr_server_route_request(hr_server_t *s, const char *path, hr_request_route_fn fn, void *ud)
{
    if (s->nroutes == HR_ROUTES_MAX)
        abort(); /* a programming error */
    s->routes[s->nroutes++] = (hr_route_t){path, NULL, fn, ud};
}

void hr_server_on_release(hr_server_t *s, hr_release_fn fn, void *ud)
{
    if (s->nreleases == HR_RELEASES_MAX)
        abort(); /* a programming error */
    s->releases[s->nreleases].fn = fn;
    s->releases[s->nreleases].ud = ud;
    s->nreleases++;
}

static void release_all(hr_server_t *s, int stopping)
{
    for (size_t i = 0; i < s->nreleases; i++)
        s->releases[i].fn(s->releases[i].ud, stopping);
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
    hr_loop_of((uv_handle_t *)h)->poll_start_ns = uv_hrtime();
}

static void close_loop_handles(hr_server_t *s);

static void on_check(uv_check_t *h)
{
    hr_server_t *s = h->data;
    if (s->ingest)
        hr_ingest_release(s->ingest, 0);
    release_all(s, 0);
    hr_conn_flush_all(s->net);
    if (s->shutting_down && s->net->nconns == 0)
        close_loop_handles(s);
}

static void on_sweep(uv_timer_t *t)
{
    hr_server_t *s = t->data;
    uint64_t now = hr_loop_now_ms(s->loop);
    hr_broker_t *b = s->loop->broker;
    hr_conn_sweep(s->net, now);
    b->ops->sweep(b, now);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    hr_server_t *s = t->data;
    hr_log(HR_LOG_WARN, "shutdown: %zu client(s) did not drain in time; closing them",
           s->net->nconns);
    hr_conn_close_all(s->net, "shutdown timeout");
}

static void close_if_open(uv_handle_t *h)
{
    if (h->loop != NULL && !uv_is_closing(h))
        uv_close(h, NULL);
}

static void close_loop_handles(hr_server_t *s)
{
    close_if_open((uv_handle_t *)&s->prepare);
    close_if_open((uv_handle_t *)&s->check);
    close_if_open((uv_handle_t *)&s->sweep);
    close_if_open((uv_handle_t *)&s->shutdown_timer);
    close_if_open((uv_handle_t *)&s->sig_term);
    close_if_open((uv_handle_t *)&s->sig_int);
    close_if_open((uv_handle_t *)&s->sig_hup);
}

void hr_server_shutdown(hr_server_t *s, const char *why)
{
    if (s->shutting_down)
        return;
    hr_broker_t *b = s->loop->broker;
    s->shutting_down = 1;
    s->net->stopping = 1;
    hr_log(HR_LOG_INFO, "shutdown: %s; ending %zu client(s)", why, s->net->nconns);
    close_if_open((uv_handle_t *)&s->listener);
    s->listening = 0;
    if (s->ingest)
        hr_ingest_stop(s->ingest);
    release_all(s, 1);
    if (b)
        b->ops->stop(b); /* after the last publishes went to it */
    hr_conn_shutdown_all(s->net);
    uv_timer_stop(&s->sweep);
    uv_timer_init(s->loop->uv, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, (uint64_t)hr_app_cfg.shutdown_timeout,
                   0);
    uv_unref((uv_handle_t *)&s->shutdown_timer);
    /* Make sure a check runs even if nothing else wakes the loop. */
    hr_conn_flush_all(s->net);
    if (s->net->nconns == 0)
        close_loop_handles(s);
}

int hr_server_ready(const hr_server_t *s)
{
    return s->listening && (s->ingest == NULL || hr_ingest_ready(s->ingest)) && !s->shutting_down;
}

static void on_signal(uv_signal_t *sig, int signum)
{
    if (signum == SIGHUP) {
        hr_log_reopen();
        return;
    }
    hr_server_shutdown(sig->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT"/"PORT" (all interfaces of IPv4). */
static int parse_listen(const char *str, struct sockaddr_storage *ss)
{
    char host[256];
    const char *port;
    if (str[0] == '[') {
        const char *end = strchr(str, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - str - 1) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, str + 1, (size_t)(end - str - 1));
        host[end - str - 1] = '\0';
        port = end + 2;
        char *e;
        long p = strtol(port, &e, 10);
        if (*port == '\0' || *e || p < 0 || p > 65535)
            return UV_EINVAL;
        return uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss);
    }
    const char *colon = strrchr(str, ':');
    if (colon == NULL) {
        snprintf(host, sizeof host, "0.0.0.0");
        port = str;
    } else {
        if ((size_t)(colon - str) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, str, (size_t)(colon - str));
        host[colon - str] = '\0';
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

int hr_server_start(hr_server_t *s, const char *listen)
{
    uv_loop_t *uv = s->loop->uv;
    const char *addr = listen ? listen : hr_app_cfg.listen;
    struct sockaddr_storage ss;
    int err = parse_listen(addr, &ss);
    if (err) {
        hr_log(HR_LOG_ERROR, "http: bad listen address '%s' (want HOST:PORT)", addr);
        return err;
    }
    uv_tcp_init(uv, &s->listener);
    err = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection);
    if (err) {
        hr_log(HR_LOG_ERROR, "http: cannot listen on %s: %s%s", addr, uv_strerror(err),
               err == UV_EADDRINUSE ? " (is another relay running?)" : "");
        return err;
    }
    s->listening = 1;

    uv_prepare_init(uv, &s->prepare);
    uv_prepare_start(&s->prepare, on_prepare);
    uv_check_init(uv, &s->check);
    s->check.data = s;
    uv_check_start(&s->check, on_check);
    uv_timer_init(uv, &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, 1000, 1000);
    uv_signal_t *sigs[] = {&s->sig_term, &s->sig_int, &s->sig_hup};
    int signums[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(uv, sigs[i]);
        sigs[i]->data = s;
        uv_signal_start(sigs[i], on_signal, signums[i]);
    }
    return 0;
}

int hr_server_port(const hr_server_t *s)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void hr_server_free(hr_server_t *s)
{
    hr_net_free(s->net);
    if (s->loop->app == s)
        s->loop->app = NULL;
    free(s);
}
