/* SPDX-License-Identifier: MIT
 * main.c: herald-relay's entry point: configuration, descriptor limit, the
 * composition of the relay (which broker, which transports on which
 * routes), the loop's lifetime, and a clean teardown so leak checkers see
 * nothing. */
#include "app/config.h"
#include "app/loops.h"
#include "app/server.h"
#include "app/state.h"
#include "app/version.h"
#include "base/hash.h"
#include "base/log.h"
#include "cluster/broker_redis.h"
#include "cluster/presence_redis.h"
#include "core/broker.h"
#include "core/broker_local.h"
#include "core/presence.h"
#include "hooks/hooks.h"
#include "hooks/webhooks.h"
#include "ingest/http_publish.h"
#include "ingest/ingest.h"
#include "ingest/mercure_api.h"
#include "ingest/pusher_api.h"
#include "ingest/release.h"
#include "net/auth.h"
#include "net/pusher.h"
#include "net/transport_herald.h"
#include "net/pusher.h"
#include "net/mercure.h"
#include "net/transport_mercure.h"
#include "net/transport_pusher.h"
#include "net/transport_sse.h"
#include "net/transport_ws.h"

#include "base/thread.h"
#include "core/hub.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* Raise the soft descriptor limit to the hard one and size the connection
 * table to it, keeping a reserve for publishers, the listener and the
 * answers we owe to clients past the limit (503). */
/* The broker's backpressure reaches publishers through ingest. */
static void on_accepting(void *ud, const char *why)
{
    hr_ingest_set_refusing(ud, why);
}

static size_t size_connection_table(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            hr_log(HR_LOG_WARN, "could not raise the descriptor limit to %llu",
                   (unsigned long long)want);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    size_t fds = (size_t)rl.rlim_cur;
    size_t reserve = fds > 4096 ? 1024 : fds / 4;
    size_t max = fds - reserve;
    if (hr_net_cfg.max_connections > 0 && (size_t)hr_net_cfg.max_connections < max)
        max = (size_t)hr_net_cfg.max_connections;
    hr_log(HR_LOG_INFO, "descriptor limit %zu: up to %zu client connections", fds, max);
    if (max < 10000 &&
        (hr_net_cfg.max_connections == 0 || max < (size_t)hr_net_cfg.max_connections))
        hr_log(HR_LOG_WARN,
               "only %zu client connections: raise the descriptor limit (systemd LimitNOFILE, "
               "supervisord minfds, a container's --ulimit nofile) for more",
               max);
    return max;
}

/* One event loop and everything that runs on it: the relay's composition.
 * With workers = N there are N of them, one per thread, sharing the port
 * (SO_REUSEPORT), the broker's order (core/hub.h) and nothing else; the
 * first also reads the publishers (ingest) and keeps the state file. */
typedef struct worker {
    unsigned index;
    uv_loop_t own; /* the loop of a worker other than the first */
    hr_loop_t L;
    hr_server_t *srv;
    hr_http_publish_t *api;
    hr_pusher_api_t *papi;
    hr_mercure_api_t *mapi;
    hr_mercure_index_t *mindex;
    hr_webhooks_t *webhooks;
    pthread_t thread;
    int exit_code;
} worker_t;

/* An HTTP publish on another loop waits for the first loop's ingest
 * (ingest/release.h): the loops wake each other for it. */
static void no_call(hr_loop_t *L, void *ud)
{
    (void)L;
    (void)ud; /* the wake itself is the point: the loop's check phase runs */
}

static void wake_loop(unsigned i)
{
    hr_loops_call(i, no_call, NULL);
}

/* Presence members of every loop (workers > 1). */
static hr_presence_shared_t *shared_presence;
/* The channels in use on any loop, and the one webhook sender. */
static hr_webhooks_shared_t *shared_webhooks;

static int compose(worker_t *w, size_t max_conns)
{
    hr_loop_t *L = &w->L;
    uv_loop_t *uv = uv_default_loop();
    if (w->index > 0) {
        uv_loop_init(&w->own);
        uv = &w->own;
    }
    hr_loop_init(L, uv, (uint32_t)hr_history_cfg.history_size,
                 (uint64_t)hr_history_cfg.history_ttl * 1000);
    L->chans.hist_max_bytes = (uint64_t)hr_history_cfg.history_max_bytes;
    hr_app_metrics(L);
    hr_server_t *srv = w->srv = hr_server_new(L, max_conns);
    hr_net_add_transport(srv->net, &hr_transport_sse);
    hr_net_add_transport(srv->net, &hr_transport_ws);
    hr_net_add_transport(srv->net, &hr_transport_herald);
    if (hr_pusher_enabled())
        hr_net_add_transport(srv->net, &hr_transport_pusher);
    if (hr_mercure_enabled())
        hr_net_add_transport(srv->net, &hr_transport_mercure);
    hr_server_route(srv, "/sse", hr_sse_open);
    hr_server_route(srv, "/ws", hr_ws_open);
    /* The publishers' socket and rings are read by the first loop. */
    if (w->index == 0)
        srv->ingest = hr_ingest_new(L);
    /* The HTTP publish API, when asked for: a publisher beside ingest,
     * released right after it (its order, PROTOCOL.md 1.5). */
    if (hr_publish_api_cfg.enabled) {
        w->api = hr_http_publish_new(L);
        hr_server_route_request(srv, "/publish", hr_http_publish_request, w->api);
        hr_server_on_release(srv, hr_http_publish_release, w->api);
    }
    /* The Pusher HTTP API: the same kind of publisher, released after it. */
    if (hr_pusher_enabled()) {
        w->papi = hr_pusher_api_new(L);
        hr_server_route_request(srv, "/apps/", hr_pusher_api_request, w->papi);
        hr_server_on_release(srv, hr_pusher_api_release, w->papi);
    }
    /* The Mercure hub's endpoint: subscribe, and publish released after. */
    if (hr_mercure_enabled()) {
        w->mapi = hr_mercure_api_new(L);
        hr_server_route_request(srv, HR_MERCURE_PATH, hr_mercure_api_request, w->mapi);
        hr_server_on_release(srv, hr_mercure_api_release, w->mapi);
    }

    /* The broker is chosen by configuration; nothing else knows which. */
    if (hr_cluster_cfg.redis[0])
        L->broker = hr_broker_redis_new(L, hr_cluster_cfg.redis, hr_app_cfg.shutdown_timeout);
    else
        L->broker = hr_broker_local_new(L);
    if (L->broker == NULL)
        return 1;
    if (srv->ingest) {
        L->broker->on_accepting = on_accepting;
        L->broker->on_accepting_ud = srv->ingest;
    }
    /* Presence and the application hooks ride on the broker. */
    if (hr_cluster_cfg.redis[0])
        hr_presence_redis_new(L, hr_cluster_cfg.redis, w->index);
    else if (shared_presence)
        hr_presence_shared_loop_new(L, shared_presence);
    else
        hr_presence_local_new(L);
    if (hr_hooks_cfg.fastcgi[0]) {
        srv->hooks = hr_hooks_new(L);
        if (srv->hooks == NULL)
            return 1;
    }
    /* The Mercure id index follows the firehose through the broker. */
    if (hr_mercure_enabled())
        w->mindex = hr_mercure_index_new(L);
    /* Pusher webhooks observe the registry, presence and the front. */
    int failed;
    w->webhooks = hr_webhooks_new(L, shared_webhooks, &failed);
    return failed;
}

/* What compose made, after the loop ended. */
static void decompose(worker_t *w)
{
    hr_loop_t *L = &w->L;
    hr_server_t *srv = w->srv;
    hr_hooks_free(srv->hooks);
    srv->hooks = NULL;
    if (w->webhooks) {
        hr_webhooks_free(w->webhooks);
        uv_run(L->uv, UV_RUN_DEFAULT); /* its handles close */
    }
    hr_mercure_index_free(w->mindex);
    if (L->presence)
        hr_presence_free(L->presence);
    if (L->broker)
        L->broker->ops->free(L->broker);
    hr_http_publish_free(w->api);
    hr_pusher_api_free(w->papi);
    hr_mercure_api_free(w->mapi);
    if (srv->ingest)
        hr_ingest_free(srv->ingest);
    hr_server_free(srv);
    hr_loop_free(L);
    if (uv_loop_close(L->uv) != 0)
        hr_log(HR_LOG_WARN, "loop %u closed with handles still open", w->index);
}

/* A loop that ended leaves the shared order; its wake handle closes. */
static void leave_hub(worker_t *w)
{
    if (hr_threads == 1)
        return;
    hr_broker_t *b = w->L.broker;
    if (b && b->hub)
        hr_hub_detach(b->hub, w->index);
    hr_loops_detach(w->index);
    uv_run(w->L.uv, UV_RUN_DEFAULT); /* the wake handles close */
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    hr_thread_self = w->index;
    uv_run(w->L.uv, UV_RUN_DEFAULT);
    leave_hub(w);
    decompose(w);
    return NULL;
}

/* workers = 0: one loop per core this process may run on. */
static unsigned count_workers(void)
{
    if (hr_app_cfg.workers > 0)
        return (unsigned)hr_app_cfg.workers;
    cpu_set_t set;
    long n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = 1;
    return (unsigned)(n > HR_THREADS_MAX ? HR_THREADS_MAX : n);
}

int main(int argc, char **argv)
{
    int rc = hr_config_load(argc, argv);
    if (rc != 0) {
        hr_config_free();
        return rc > 0 ? 0 : 2;
    }
    hr_log_level = hr_app_cfg.log_level;
    if (hr_log_open(hr_app_cfg.log_file) != 0) {
        fprintf(stderr, "herald-relay: cannot open log file %s\n", hr_app_cfg.log_file);
        hr_config_free();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Before any thread: they all inherit the blocked signals. */
    if (hr_server_signals_init() != 0) {
        fprintf(stderr, "herald-relay: cannot watch signals: %s\n", strerror(errno));
        hr_config_free();
        hr_log_close();
        return 2;
    }
    hr_hash_seed();
    /* Not an error: a site may have no private channels; but say why
     * they would be refused (403) before anyone asks. */
    if (hr_auth_cfg.private_prefixes[0] && hr_auth_cfg.secret[0] == '\0')
        hr_log(HR_LOG_INFO, "no secret set: private channels (%s) are refused",
               hr_auth_cfg.private_prefixes);

    /* Every loop is composed here, on the main thread, before any runs:
     * what modules set up once per process is set up before threads. */
    unsigned n = hr_threads = count_workers();
    size_t max_conns = size_connection_table();
    worker_t *ws = hr_xcalloc(n, sizeof *ws);
    int exit_code = 0;
    if (n > 1) {
        shared_presence = hr_presence_shared_new();
        shared_webhooks = hr_webhooks_shared_new(hr_loops_call);
    }
    for (unsigned i = 0; i < n; i++) {
        ws[i].index = i;
        if (exit_code == 0 && compose(&ws[i], max_conns) != 0)
            exit_code = 1;
    }
    hr_hub_t *hub = NULL;
    for (unsigned i = 1; i < n && exit_code == 0; i++)
        hr_net_share(ws[i].srv->net, ws[0].srv->net);
    if (n > 1) {
        hr_loops_init(n);
        for (unsigned i = 0; i < n; i++) {
            if (ws[i].srv)
                hr_loops_attach(i, &ws[i].L);
            hr_pusher_api_across(ws[i].papi, n, hr_loops_call);
        }
        hr_release_share(n, wake_loop);
    }
    if (exit_code == 0 && n > 1 && !hr_cluster_cfg.redis[0]) {
        hub = hr_hub_new(n);
        for (unsigned i = 0; i < n; i++) {
            if (i > 0)
                hr_broker_local_share(ws[i].L.broker, ws[0].L.broker);
            hr_hub_attach(hub, i, ws[i].L.broker);
        }
    }
    hr_server_t *srv = ws[0].srv;
    if (exit_code != 0) {
        exit_code = 1;
    } else if (hr_server_start(srv, NULL) != 0) {
        exit_code = 1;
    } else {
        for (unsigned i = 1; i < n && exit_code == 0; i++)
            if (hr_server_start_beside(ws[i].srv, srv) != 0)
                exit_code = 1;
    }
    if (exit_code == 0 && hr_ingest_start(srv->ingest) != 0)
        exit_code = 1;
    if (exit_code == 0) {
        /* The relay owns its port and socket now, and nothing is served
         * before the loops run: the id space and history of a clean stop
         * go on from here. With several loops it is saved once they all
         * ended (below), not by the first loop's stop. */
        int armed = hr_state_file_load(&ws[0].L);
        srv->state_armed = n == 1 ? armed : 0;
        if (n > 1)
            hr_log(HR_LOG_INFO, "%u workers: one event loop per thread, sharing %s", n, srv->url);
        hr_log(HR_LOG_INFO, "herald-relay %s: %s (/sse, /ws, /healthz%s%s), ingest %s", HR_VERSION,
               srv->url, hr_app_cfg.metrics_listen[0] ? "" : ", /metrics",
               ws[0].api ? ", /publish" : "", hr_ingest_cfg.socket_path);
        unsigned started = 1;
        for (; started < n; started++) {
            int err = pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]);
            if (err != 0) {
                hr_log(HR_LOG_ERROR, "cannot start worker %u: %s", started, strerror(err));
                for (unsigned i = 0; i < started; i++)
                    hr_server_shutdown(ws[i].srv, "a worker did not start");
                break;
            }
        }
        uv_run(srv->loop->uv, UV_RUN_DEFAULT);
        leave_hub(&ws[0]);
        for (unsigned i = 1; i < started; i++)
            pthread_join(ws[i].thread, NULL);
        if (hub && armed) {
            /* Every loop ended: what the others published after the first
             * one stopped is in its inbox; then everything is saved. */
            hr_hub_deliver(hub, 0);
            hr_state_file_save(&ws[0].L);
        }
        for (unsigned i = started; i < n; i++) {
            hr_server_shutdown(ws[i].srv, "startup failed");
            uv_run(ws[i].L.uv, UV_RUN_DEFAULT);
            leave_hub(&ws[i]);
            decompose(&ws[i]);
        }
    } else {
        /* Unwind what did start so the loops close clean. */
        for (unsigned i = 0; i < n; i++) {
            if (ws[i].srv == NULL)
                continue;
            hr_server_shutdown(ws[i].srv, "startup failed");
            uv_run(ws[i].L.uv, UV_RUN_DEFAULT);
            leave_hub(&ws[i]);
            if (i > 0)
                decompose(&ws[i]);
        }
    }
    decompose(&ws[0]);
    hr_hub_free(hub);
    hr_loops_free();
    hr_presence_shared_free(shared_presence);
    hr_webhooks_shared_free(shared_webhooks);
    hr_server_signals_free();
    free(ws);
    if (exit_code == 0)
        hr_log(HR_LOG_INFO, "stopped");
    hr_config_free();
    hr_log_close();
    return exit_code;
}
