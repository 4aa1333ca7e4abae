/* SPDX-License-Identifier: MIT
 * server.c: the loop's fixed handles: the HTTP listener, the prepare/check
 * pair that brackets each poll (ingest release and output flush happen once
 * per turn, in check; output queued outside the poll is flushed in prepare,
 * before the poll can block), the one periodic sweep for heartbeats, timeouts and
 * history expiry (no per-connection timers), signals, and the graceful
 * shutdown: first the drain (readiness off, new streams refused, the open
 * ones closed spread over drain_ms while publishes still reach those left,
 * so a restart behind a load balancer does not bring every client back in
 * the same second), then stop accepting, publish what publishers already
 * sent, save the state file, end every client as its transport says, flush,
 * then stop the loop. */
#include "app/server.h"
#include "app/config.h"
#include "app/loops.h"
#include "app/state.h"
#include "base/log.h"
#include "base/thread.h"
#include "core/broker.h"
#include "core/presence.h"
#include "hooks/hooks.h"
#include "net/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_conn_closing(void *ud, hr_conn_t *c);

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
    hr_metrics_add(&L->metrics, "herald_draining", HR_GAUGE,
                   "1 while a shutdown closes clients spread over drain_ms.", NULL,
                   &s->drain_gauge);
    hr_metrics_add(&L->metrics, "herald_drain_closes_total", HR_COUNTER,
                   "Clients closed by a shutdown's drain.", NULL, &s->drain_closes);
    hr_net_add_close_hook(s->net, on_conn_closing, s);
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
    hr_conn_accept(server, HR_LISTENER_MAIN);
}

static void on_metrics_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        hr_log(HR_LOG_WARN, "http: metrics accept: %s", uv_strerror(status));
        return;
    }
    hr_conn_accept(server, HR_LISTENER_METRICS);
}

static void on_prepare(uv_prepare_t *h)
{
    hr_server_t *s = h->data;
    /* Output queued since the last check (by the sweep's heartbeats, a
     * presence leave's timer, a pending write callback) goes out now: the
     * poll that follows may block until the next timer, a second away, and
     * a Pusher ping would leave its client no time to answer. */
    if (s->net->flush_list)
        hr_conn_flush_all(s->net);
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
    if (s->shutting_down && !s->draining && s->net->nconns == 0)
        close_loop_handles(s);
}

static void on_sweep(uv_timer_t *t)
{
    hr_server_t *s = t->data;
    uint64_t now = hr_loop_now_ms(s->loop);
    hr_broker_t *b = s->loop->broker;
    hr_conn_sweep(s->net, now);
    b->ops->sweep(b, now);
    if (s->loop->presence)
        hr_presence_sweep(s->loop->presence, now);
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
    /* The application's connections and the presence links go last:
     * closing clients still had things to tell them. */
    hr_hooks_free(s->hooks);
    s->hooks = NULL;
    close_if_open((uv_handle_t *)&s->prepare);
    close_if_open((uv_handle_t *)&s->check);
    close_if_open((uv_handle_t *)&s->sweep);
    close_if_open((uv_handle_t *)&s->shutdown_timer);
    close_if_open((uv_handle_t *)&s->drain_timer);
    close_if_open((uv_handle_t *)&s->signals);
    close_if_open((uv_handle_t *)&s->metrics_listener);
}

/* Nothing more comes in: the listener closes, publishers' last frames are
 * published, the broker stops, and the state file gets everything. */
static void stop_intake(hr_server_t *s)
{
    hr_broker_t *b = s->loop->broker;
    close_if_open((uv_handle_t *)&s->listener);
    s->listening = 0;
    if (s->ingest)
        hr_ingest_stop(s->ingest);
    release_all(s, 1);
    /* Presence hands its members over (their leaves) before the broker
     * stops taking publishes. */
    if (s->loop->presence)
        hr_presence_stop(s->loop->presence);
    if (b)
        b->ops->stop(b); /* after the last publishes went to it */
    if (s->state_armed) {
        s->state_armed = 0;
        hr_state_file_save(s->loop); /* after the last publish: everything is in it */
    }
}

/* End every client as its transport says, and stop the loop once they
 * have gone (or shutdown_timeout has passed). */
static void stop_clients(hr_server_t *s)
{
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

/* ---- the drain ---- */

/* The next stream of the plan still open and not yet asked to end. The
 * drain walks the connection list once, from its head at the signal toward
 * its tail (new connections go to the head, and are refused anyway), so
 * closing N clients costs O(N), not O(N^2); a close hook keeps the cursor
 * off a connection that goes. */
static hr_conn_t *next_stream(hr_server_t *s)
{
    hr_conn_t *c = s->drain_cursor;
    while (c && (c->kind != HR_CONN_STREAM || c->closing || c->end_after_flush))
        c = c->next;
    s->drain_cursor = c;
    return c;
}

static void on_conn_closing(void *ud, hr_conn_t *c)
{
    hr_server_t *s = ud;
    if (s->drain_cursor == c)
        s->drain_cursor = c->next;
}

/* When the k-th close of the plan is due, in ms after the signal: the
 * closes are spread evenly, the last one at drain_ms. */
static uint64_t planned_ms(const hr_server_t *s, size_t k)
{
    uint64_t d = (uint64_t)hr_app_cfg.drain_ms, n = s->drain_planned;
    return (k * d + n - 1) / n;
}

static void drain_close(hr_server_t *s, hr_conn_t *c, uint64_t now)
{
    s->drain_cursor = c->next;
    s->drain_closed++;
    s->drain_closes++;
    hr_log(HR_LOG_DEBUG, "drain: client %p closed (%zu/%zu), planned at +%llu ms, at +%llu ms",
           (void *)c, s->drain_closed, s->drain_planned,
           (unsigned long long)planned_ms(s, s->drain_closed),
           (unsigned long long)(now - s->drain_start_ms));
    hr_conn_transport(c)->begin_close(c);
}

static void drain_end(hr_server_t *s, const char *why)
{
    uint64_t now = hr_loop_now_ms(s->loop);
    s->draining = 0;
    s->drain_gauge = 0;
    uv_timer_stop(&s->drain_timer);
    hr_log(HR_LOG_INFO, "drain: ended (%s) after %llu ms; %zu of %zu client(s) closed so far", why,
           (unsigned long long)(now - s->drain_start_ms), s->drain_closed, s->drain_planned);
    /* The last slice of the plan is closed after the last publishes and
     * the state file, so it gets everything published in the window. */
    stop_intake(s);
    hr_conn_t *c;
    while (s->drain_closed < s->drain_planned && (c = next_stream(s)) != NULL)
        drain_close(s, c, now);
    stop_clients(s);
}

static void on_drain(uv_timer_t *t)
{
    hr_server_t *s = t->data;
    uint64_t now = hr_loop_now_ms(s->loop);
    uint64_t elapsed = now - s->drain_start_ms, d = (uint64_t)hr_app_cfg.drain_ms;
    if (elapsed >= d) {
        drain_end(s, "window over");
        return;
    }
    /* Every close whose time has come (several per tick when the plan is
     * denser than the timer's millisecond). */
    size_t due = (size_t)(elapsed * s->drain_planned / d);
    hr_conn_t *c;
    while (s->drain_closed < due && (c = next_stream(s)) != NULL)
        drain_close(s, c, now);
    if (next_stream(s) == NULL) {
        drain_end(s, "every client gone");
        return;
    }
    uint64_t next = s->drain_closed < s->drain_planned ? planned_ms(s, s->drain_closed + 1) : d;
    uv_timer_start(&s->drain_timer, on_drain, next > elapsed ? next - elapsed : 1, 0);
}

static void drain_begin(hr_server_t *s, const char *why)
{
    uv_timer_init(s->loop->uv, &s->drain_timer);
    s->drain_timer.data = s;
    s->shutting_down = 1; /* /healthz: 503 from now on */
    s->draining = 1;
    s->drain_gauge = 1;
    s->net->stopping = 1; /* new streams are refused; answers do not linger */
    s->drain_start_ms = hr_loop_now_ms(s->loop);
    s->drain_cursor = s->net->conns;
    s->drain_planned = 0;
    for (hr_conn_t *c = s->net->conns; c; c = c->next)
        s->drain_planned += c->kind == HR_CONN_STREAM && !c->closing && !c->end_after_flush;
    hr_log(HR_LOG_INFO,
           "shutdown: %s; draining: /healthz answers 503, new streams are refused, %zu client(s) "
           "close over %ld ms",
           why, s->drain_planned, hr_app_cfg.drain_ms);
    if (s->drain_planned == 0) {
        drain_end(s, "no client to close");
        return;
    }
    uv_timer_start(&s->drain_timer, on_drain, planned_ms(s, 1), 0);
}

void hr_server_shutdown(hr_server_t *s, const char *why)
{
    if (s->draining) {
        drain_end(s, why); /* a second signal: now */
        return;
    }
    if (s->shutting_down)
        return;
    if (hr_app_cfg.drain_ms > 0 && s->listening) {
        drain_begin(s, why);
        return;
    }
    s->shutting_down = 1;
    s->net->stopping = 1;
    hr_log(HR_LOG_INFO, "shutdown: %s; ending %zu client(s)", why, s->net->nconns);
    stop_intake(s);
    stop_clients(s);
}

int hr_server_ready(const hr_server_t *s)
{
    return s->listening && (s->ingest == NULL || hr_ingest_ready(s->ingest)) && !s->shutting_down;
}

/* Signals, by a signalfd rather than libuv's handler: a signal handler
 * runs on whichever thread the kernel picks, and ThreadSanitizer defers it
 * to that thread's next intercepted call; a SIGTERM right after the start
 * was lost that way about once in 70 starts (one loop or two). A signalfd
 * is read like any socket, by the loop that sees it first. */
static int signal_fd = -1;

int hr_server_signals_init(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return signal_fd < 0 ? -1 : 0;
}

void hr_server_signals_free(void)
{
    if (signal_fd >= 0)
        close(signal_fd);
    signal_fd = -1;
}

static void shutdown_call(hr_loop_t *L, void *why)
{
    if (L->app)
        hr_server_shutdown(L->app, why);
}

static void on_signals(uv_poll_t *h, int status, int events)
{
    (void)events;
    if (status < 0)
        return;
    hr_server_t *s = h->data;
    struct signalfd_siginfo si;
    while (read(signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            hr_log_reopen(); /* the process's log */
            continue;
        }
        /* Every loop drains itself. */
        const char *why = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        for (unsigned i = 0; i < hr_loops_count(); i++)
            if (i != hr_thread_self)
                hr_loops_call(i, shutdown_call, (void *)why);
        hr_server_shutdown(s, why);
    }
}

/* "HOST:PORT", "[V6]:PORT", or ":PORT"/"PORT" alone, which is loopback:
 * listening on every interface must be written out (0.0.0.0:PORT, [::]:PORT),
 * never the result of leaving the host off. url gets "http://HOST:PORT". */
static int parse_listen(const char *str, struct sockaddr_storage *ss, char *url, size_t urlcap)
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
        snprintf(url, urlcap, "http://[%s]:%ld", host, p);
        return uv_ip6_addr(host, (int)p, (struct sockaddr_in6 *)ss);
    }
    const char *colon = strrchr(str, ':');
    if (colon == NULL) {
        snprintf(host, sizeof host, "127.0.0.1");
        port = str;
    } else {
        if ((size_t)(colon - str) >= sizeof host)
            return UV_EINVAL;
        memcpy(host, str, (size_t)(colon - str));
        host[colon - str] = '\0';
        if (host[0] == '\0')
            snprintf(host, sizeof host, "127.0.0.1");
        port = colon + 1;
    }
    char *e;
    long p = strtol(port, &e, 10);
    if (*port == '\0' || *e || p < 0 || p > 65535)
        return UV_EINVAL;
    snprintf(url, urlcap, "http://%s:%ld", host, p);
    return uv_ip4_addr(host, (int)p, (struct sockaddr_in *)ss);
}

/* With several loops each has its own listener on the one port
 * (SO_REUSEPORT, set by hand: libuv 1.44 has no flag for it), and the
 * kernel spreads new connections over them. SO_REUSEPORT would also let
 * another process of the same user bind the port unnoticed: the first
 * loop proves the port free first with a plain bind, as one loop's
 * listener would. */
static int port_free(const struct sockaddr_storage *ss)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on); /* as libuv's bind */
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int err = bind(fd, (const struct sockaddr *)ss, len) == 0 ? 0 : uv_translate_sys_error(errno);
    close(fd);
    return err;
}

static int bind_listener(hr_server_t *s, uv_tcp_t *t, const struct sockaddr_storage *ss,
                         int reuseport)
{
    int err = uv_tcp_init_ex(s->loop->uv, t, ss->ss_family);
    if (err)
        return err;
    if (reuseport) {
        uv_os_fd_t fd;
        int on = 1;
        if ((err = uv_fileno((uv_handle_t *)t, &fd)) != 0)
            return err;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
            return uv_translate_sys_error(errno);
    }
    return uv_tcp_bind(t, (const struct sockaddr *)ss, 0);
}

static int listen_on(hr_server_t *s, uv_tcp_t *t, const char *addr, uv_connection_cb cb, char *url,
                     size_t urlcap, int reuseport)
{
    struct sockaddr_storage ss;
    int err = parse_listen(addr, &ss, url, urlcap);
    if (err) {
        hr_log(HR_LOG_ERROR, "http: bad listen address '%s' (want HOST:PORT)", addr);
        return err;
    }
    if (reuseport)
        err = port_free(&ss);
    if (err == 0)
        err = bind_listener(s, t, &ss, reuseport);
    if (err == 0)
        err = uv_listen((uv_stream_t *)t, 4096, cb);
    if (err)
        hr_log(HR_LOG_ERROR, "http: cannot listen on %s: %s%s", addr, uv_strerror(err),
               err == UV_EADDRINUSE ? " (is another relay running?)" : "");
    return err;
}

/* The loop's handles, once it listens. */
static void start_handles(hr_server_t *s)
{
    uv_loop_t *uv = s->loop->uv;
    s->listening = 1;
    uv_prepare_init(uv, &s->prepare);
    s->prepare.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    uv_check_init(uv, &s->check);
    s->check.data = s;
    uv_check_start(&s->check, on_check);
    uv_timer_init(uv, &s->sweep);
    s->sweep.data = s;
    uv_timer_start(&s->sweep, on_sweep, 1000, 1000);
    /* Every loop polls the signalfd: a signal is read by one of them,
     * and is not lost while any loop still runs (a drain of its own). */
    if (signal_fd >= 0 && uv_poll_init(uv, &s->signals, signal_fd) == 0) {
        s->signals.data = s;
        uv_poll_start(&s->signals, UV_READABLE, on_signals);
    }
}

int hr_server_start(hr_server_t *s, const char *listen)
{
    const char *addr = listen ? listen : hr_app_cfg.listen;
    int err =
        listen_on(s, &s->listener, addr, on_connection, s->url, sizeof s->url, hr_threads > 1);
    if (err)
        return err;
    if (hr_app_cfg.metrics_listen[0]) {
        char murl[300];
        err = listen_on(s, &s->metrics_listener, hr_app_cfg.metrics_listen, on_metrics_connection,
                        murl, sizeof murl, 0);
        if (err)
            return err;
        hr_log(HR_LOG_INFO, "http: /metrics and /healthz on %s only", murl);
    }
    start_handles(s);
    return 0;
}

int hr_server_start_beside(hr_server_t *s, const hr_server_t *first)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int err = uv_tcp_getsockname(&first->listener, (struct sockaddr *)&ss, &len);
    if (err == 0)
        err = bind_listener(s, &s->listener, &ss, 1);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection);
    if (err) {
        hr_log(HR_LOG_ERROR, "http: a worker cannot listen beside the first on %s: %s", first->url,
               uv_strerror(err));
        return err;
    }
    memcpy(s->url, first->url, sizeof s->url);
    start_handles(s);
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
