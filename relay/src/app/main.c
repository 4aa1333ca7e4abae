/* SPDX-License-Identifier: MIT
 * main.c: herald-relay's entry point: configuration, descriptor limit, the
 * composition of the relay (which broker, which transports on which
 * routes), the loop's lifetime, and a clean teardown so leak checkers see
 * nothing. */
#include "app/config.h"
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
#include "net/auth.h"
#include "net/pusher.h"
#include "net/transport_herald.h"
#include "net/pusher.h"
#include "net/mercure.h"
#include "net/transport_mercure.h"
#include "net/transport_pusher.h"
#include "net/transport_sse.h"
#include "net/transport_ws.h"

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
    hr_hash_seed();
    /* Not an error: a site may have no private channels; but say why
     * they would be refused (403) before anyone asks. */
    if (hr_auth_cfg.private_prefixes[0] && hr_auth_cfg.secret[0] == '\0')
        hr_log(HR_LOG_INFO, "no secret set: private channels (%s) are refused",
               hr_auth_cfg.private_prefixes);

    hr_loop_t L;
    hr_loop_init(&L, uv_default_loop(), (uint32_t)hr_history_cfg.history_size,
                 (uint64_t)hr_history_cfg.history_ttl * 1000);
    L.chans.hist_max_bytes = (uint64_t)hr_history_cfg.history_max_bytes;
    hr_app_metrics(&L);
    hr_server_t *srv = hr_server_new(&L, size_connection_table());
    hr_net_add_transport(srv->net, &hr_transport_sse);
    hr_net_add_transport(srv->net, &hr_transport_ws);
    hr_net_add_transport(srv->net, &hr_transport_herald);
    if (hr_pusher_enabled())
        hr_net_add_transport(srv->net, &hr_transport_pusher);
    if (hr_mercure_enabled())
        hr_net_add_transport(srv->net, &hr_transport_mercure);
    hr_server_route(srv, "/sse", hr_sse_open);
    hr_server_route(srv, "/ws", hr_ws_open);
    srv->ingest = hr_ingest_new(&L);
    /* The HTTP publish API, when asked for: a publisher beside ingest,
     * released right after it (its order, PROTOCOL.md 1.5). */
    hr_http_publish_t *api = NULL;
    if (hr_publish_api_cfg.enabled) {
        api = hr_http_publish_new(&L);
        hr_server_route_request(srv, "/publish", hr_http_publish_request, api);
        hr_server_on_release(srv, hr_http_publish_release, api);
    }
    /* The Pusher HTTP API: the same kind of publisher, released after it. */
    hr_pusher_api_t *papi = NULL;
    if (hr_pusher_enabled()) {
        papi = hr_pusher_api_new(&L);
        hr_server_route_request(srv, "/apps/", hr_pusher_api_request, papi);
        hr_server_on_release(srv, hr_pusher_api_release, papi);
    }
    /* The Mercure hub's endpoint: subscribe, and publish released after. */
    hr_mercure_api_t *mapi = NULL;
    if (hr_mercure_enabled()) {
        mapi = hr_mercure_api_new(&L);
        hr_server_route_request(srv, HR_MERCURE_PATH, hr_mercure_api_request, mapi);
        hr_server_on_release(srv, hr_mercure_api_release, mapi);
    }

    /* The broker is chosen by configuration; nothing else knows which. */
    int exit_code = 0;
    if (hr_cluster_cfg.redis[0])
        L.broker = hr_broker_redis_new(&L, hr_cluster_cfg.redis, hr_app_cfg.shutdown_timeout);
    else
        L.broker = hr_broker_local_new(&L);
    if (L.broker != NULL) {
        L.broker->on_accepting = on_accepting;
        L.broker->on_accepting_ud = srv->ingest;
    }
    /* Presence and the application hooks ride on the broker. */
    if (L.broker != NULL && hr_cluster_cfg.redis[0])
        hr_presence_redis_new(&L, hr_cluster_cfg.redis);
    else if (L.broker != NULL)
        hr_presence_local_new(&L);
    if (L.broker != NULL && hr_hooks_cfg.fastcgi[0]) {
        srv->hooks = hr_hooks_new(&L);
        if (srv->hooks == NULL)
            exit_code = 1;
    }
    /* The Mercure id index follows the firehose through the broker. */
    hr_mercure_index_t *mindex = NULL;
    if (L.broker != NULL && hr_mercure_enabled())
        mindex = hr_mercure_index_new(&L);
    /* Pusher webhooks observe the registry, presence and the front. */
    hr_webhooks_t *webhooks = NULL;
    if (L.broker != NULL && exit_code == 0) {
        int failed;
        webhooks = hr_webhooks_new(&L, &failed);
        exit_code = failed;
    }
    if (L.broker == NULL || exit_code != 0) {
        exit_code = 1;
    } else if (hr_server_start(srv, NULL) != 0) {
        exit_code = 1;
    } else if (hr_ingest_start(srv->ingest) != 0) {
        exit_code = 1;
    } else {
        /* The relay owns its port and socket now, and nothing is served
         * before the loop runs: the id space and history of a clean stop
         * go on from here. */
        srv->state_armed = hr_state_file_load(&L);
        hr_log(HR_LOG_INFO, "herald-relay %s: %s (/sse, /ws, /healthz%s%s), ingest %s", HR_VERSION,
               srv->url, hr_app_cfg.metrics_listen[0] ? "" : ", /metrics", api ? ", /publish" : "",
               hr_ingest_cfg.socket_path);
        uv_run(L.uv, UV_RUN_DEFAULT);
    }
    if (exit_code != 0) {
        /* Unwind what did start so the loop closes clean. */
        hr_server_shutdown(srv, "startup failed");
        uv_run(L.uv, UV_RUN_DEFAULT);
    }
    hr_hooks_free(srv->hooks);
    srv->hooks = NULL;
    if (webhooks) {
        hr_webhooks_free(webhooks);
        uv_run(L.uv, UV_RUN_DEFAULT); /* its handles close */
    }
    hr_mercure_index_free(mindex);
    if (L.presence)
        hr_presence_free(L.presence);
    if (L.broker)
        L.broker->ops->free(L.broker);
    hr_http_publish_free(api);
    hr_pusher_api_free(papi);
    hr_mercure_api_free(mapi);
    hr_ingest_free(srv->ingest);
    hr_server_free(srv);
    hr_loop_free(&L);
    int lc = uv_loop_close(L.uv);
    if (lc != 0)
        hr_log(HR_LOG_WARN, "loop closed with handles still open");
    if (exit_code == 0)
        hr_log(HR_LOG_INFO, "stopped");
    hr_config_free();
    hr_log_close();
    return exit_code;
}
