/* SPDX-License-Identifier: MIT
 * main.c: herald-relay's entry point: configuration, descriptor limit, the
 * loop's lifetime, and a clean teardown so leak checkers see nothing. */
#include "cluster/broker_redis.h"
#include "app/config.h"
#include "ingest/ingest.h"
#include "base/log.h"
#include "app/relay.h"
#include "app/router.h"
#include "app/version.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Raise the soft descriptor limit to the hard one and size the connection
 * table to it, keeping a reserve for publishers, the listener and the
 * answers we owe to clients past the limit (503). */
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
    if (hr_cfg.max_connections > 0 && (size_t)hr_cfg.max_connections < max)
        max = (size_t)hr_cfg.max_connections;
    hr_log(HR_LOG_INFO, "descriptor limit %zu: up to %zu client connections", fds, max);
    return max;
}

int main(int argc, char **argv)
{
    hr_config_defaults(&hr_cfg);
    int rc = hr_config_load(&hr_cfg, argc, argv);
    if (rc != 0) {
        hr_config_free(&hr_cfg);
        return rc > 0 ? 0 : 2;
    }
    hr_log_level = hr_cfg.log_level;
    if (hr_log_open(hr_cfg.log_file) != 0) {
        fprintf(stderr, "herald-relay: cannot open log file %s\n", hr_cfg.log_file);
        hr_config_free(&hr_cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Not an error: a site may have no private channels; but say why
     * they would be refused (403) before anyone asks. */
    if (hr_cfg.private_prefixes[0] && hr_cfg.secret[0] == '\0')
        hr_log(HR_LOG_INFO, "no secret set: private channels (%s) are refused",
               hr_cfg.private_prefixes);

    hr_relay.loop = uv_default_loop();
    hr_relay.start_ns = uv_hrtime();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* Ids carry this boot's start so an id from an earlier run is recognised. */
    uint64_t boot_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    hr_relay.boot_len = (size_t)snprintf(hr_relay.boot, sizeof hr_relay.boot, "%" PRIx64, boot_ms);
    hr_chans_init(&hr_relay.chans, (uint32_t)hr_cfg.history_size,
                  (uint64_t)hr_cfg.history_ttl * 1000);
    hr_relay.max_conns = size_connection_table();

    int exit_code = 0;
    if (hr_cfg.redis[0] && hr_cluster_start(hr_cfg.redis) != 0) {
        exit_code = 1;
    } else if (hr_server_start() != 0) {
        exit_code = 1;
    } else if (hr_ingest_start() != 0) {
        exit_code = 1;
    } else {
        hr_log(HR_LOG_INFO, "herald-relay %s: http://%s (/sse, /ws, /healthz, /metrics), ingest %s",
               HR_VERSION, hr_cfg.listen, hr_cfg.socket_path);
        uv_run(hr_relay.loop, UV_RUN_DEFAULT);
    }
    if (exit_code != 0) {
        /* Unwind what did start so the loop closes clean. */
        hr_relay.shutting_down = 0;
        hr_relay_shutdown("startup failed");
        uv_run(hr_relay.loop, UV_RUN_DEFAULT);
    }
    hr_chans_free(&hr_relay.chans);
    hr_conn_free_statics();
    int lc = uv_loop_close(hr_relay.loop);
    if (lc != 0)
        hr_log(HR_LOG_WARN, "loop closed with handles still open");
    if (exit_code == 0)
        hr_log(HR_LOG_INFO, "stopped");
    hr_config_free(&hr_cfg);
    hr_log_close();
    return exit_code;
}
