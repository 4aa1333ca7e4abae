/* SPDX-License-Identifier: MIT
 * config.c: the INI file and the flags against every module's settings.
 * An option's INI name is also its long flag "--name"; keys may sit at the
 * top of the file or in a [relay] section. Unknown keys are errors, so a
 * typo never silently keeps a default. */
#include "app/config.h"
#include "app/version.h"
#include "base/common.h"
#include "base/log.h"
#include "cluster/broker_redis.h"
#include "core/broker.h"
#include "core/presence.h"
#include "hooks/hooks.h"
#include "ingest/http_publish.h"
#include "ingest/ingest.h"
#include "net/auth.h"
#include "net/net.h"
#include "net/mercure.h"
#include "net/pusher.h"
#include "net/transport_sse.h"
#include "net/transport_ws.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_app_cfg_t hr_app_cfg;

#define STATE_DEFAULT "<socket>.state"

#define C(field) (&hr_app_cfg.field)
static const hr_opt_t app_opts[] = {
    {"listen", HR_OPT_STR, C(listen), 0, 0, "127.0.0.1:8080",
     "HTTP listener HOST:PORT; a port alone is 127.0.0.1, all interfaces 0.0.0.0:PORT "
     "(127.0.0.1:8080)"},
    {"log_level", HR_OPT_LEVEL, C(log_level), 0, 3, "info", "debug, info, warn or error (info)"},
    {"log_file", HR_OPT_STR, C(log_file), 0, 0, "", "log file, reopened on SIGHUP (stderr)"},
    {"shutdown_timeout", HR_OPT_LONG, C(shutdown_timeout), 0, 600000, "2000",
     "ms to flush clients at shutdown (2000)"},
    {"max_url_bytes", HR_OPT_LONG, C(max_url_bytes), 64, 1 << 20, "4096",
     "request target limit (4096)"},
    {"metrics_listen", HR_OPT_STR, C(metrics_listen), 0, 0, "",
     "HOST:PORT of a listener for /metrics and /healthz only; then the main one has no /metrics"},
    {"state_file", HR_OPT_STR, C(state_file), 0, 0, STATE_DEFAULT,
     "ids and history kept across a clean restart (<socket>.state; empty: off)"},
    {"drain_ms", HR_OPT_LONG, C(drain_ms), 0, 600000, "5000",
     "ms over which SIGTERM spreads closing the clients (5000; 0: all at once)"},
    {"workers", HR_OPT_LONG, C(workers), 0, 64, "0",
     "event loops, one thread each, sharing the port (0: one per core the process may use)"},
};
#undef C

/* The state file sits by default next to the ingest socket: one per relay. */
static int app_check(char *err, size_t errlen)
{
    if (strcmp(hr_app_cfg.state_file, STATE_DEFAULT) == 0) {
        size_t n = strlen(hr_ingest_cfg.socket_path);
        char *p = hr_xmalloc(n + sizeof ".state");
        memcpy(p, hr_ingest_cfg.socket_path, n);
        memcpy(p + n, ".state", sizeof ".state");
        free(hr_app_cfg.state_file);
        hr_app_cfg.state_file = p;
    }
    return 0;
}

static const hr_opt_group_t app_options = {app_opts, HR_ARRAY_SIZE(app_opts), app_check};

/* Every module's settings, in the order --help lists them. */
static const hr_opt_group_t *const groups[] = {
    &app_options,
    &hr_ingest_options,
    &hr_history_options,
    &hr_net_options,
    &hr_sse_options,
    &hr_ws_options,
    &hr_auth_options,
    &hr_cluster_options,
    &hr_publish_api_options, /* after auth: its check needs the secret */
    &hr_hooks_options,       /* after auth too */
    &hr_presence_options,
    &hr_pusher_options,
    &hr_mercure_options, /* after auth: token_skew */
};

static const hr_opt_t *find_opt(const char *name)
{
    for (size_t g = 0; g < HR_ARRAY_SIZE(groups); g++)
        for (size_t i = 0; i < groups[g]->n; i++)
            if (strcmp(groups[g]->opts[i].name, name) == 0)
                return &groups[g]->opts[i];
    return NULL;
}

void hr_config_free(void)
{
    for (size_t g = 0; g < HR_ARRAY_SIZE(groups); g++)
        hr_opt_free(groups[g]);
    hr_mercure_keys_free(); /* made by its group's check */
}

typedef struct ini_ctx {
    const char *path;
    char err[512];
} ini_ctx_t;

static int on_ini(void *ud, const char *section, const char *name, const char *value)
{
    ini_ctx_t *ctx = ud;
    if (ctx->err[0])
        return 0;
    if (section[0] != '\0' && strcmp(section, "relay") != 0) {
        snprintf(ctx->err, sizeof ctx->err, "unknown section [%s]", section);
        return 0;
    }
    const hr_opt_t *o = find_opt(name);
    if (o == NULL) {
        snprintf(ctx->err, sizeof ctx->err, "unknown option '%s'", name);
        return 0;
    }
    return hr_opt_set(o, value, ctx->err, sizeof ctx->err) == 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: herald-relay [--config FILE] [--listen HOST:PORT] [--socket PATH] [--OPTION "
               "VALUE]...\n"
               "Holds SSE and WebSocket clients and fans out what PHP publishes on the ingest "
               "socket.\n\n"
               "  -c, --config FILE   INI file with the options below (flags override it)\n"
               "  -h, --help          this text\n"
               "  -v, --version       print the version\n\n"
               "Options (INI keys, or flags as --key VALUE):\n");
    for (size_t g = 0; g < HR_ARRAY_SIZE(groups); g++)
        for (size_t i = 0; i < groups[g]->n; i++)
            fprintf(f, "  --%-23s %s\n", groups[g]->opts[i].name, groups[g]->opts[i].help);
}

int hr_config_load(int argc, char **argv)
{
    size_t nopts = 0;
    for (size_t g = 0; g < HR_ARRAY_SIZE(groups); g++) {
        hr_opt_defaults(groups[g]);
        nopts += groups[g]->n;
    }
    struct option *lopts = hr_xcalloc(nopts + 4, sizeof *lopts);
    const hr_opt_t **byidx = hr_xcalloc(nopts + 1, sizeof *byidx);
    size_t n = 0, k = 0;
    lopts[n++] = (struct option){"config", required_argument, NULL, 'c'};
    lopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[n++] = (struct option){"version", no_argument, NULL, 'v'};
    for (size_t g = 0; g < HR_ARRAY_SIZE(groups); g++)
        for (size_t i = 0; i < groups[g]->n; i++, k++) {
            byidx[k] = &groups[g]->opts[i];
            lopts[n++] = (struct option){byidx[k]->name, required_argument, NULL, 1000 + (int)k};
        }
    lopts[n] = (struct option){NULL, 0, NULL, 0};

    /* Pass 1: --config, --help, --version. Pass 2: the rest, over the file. */
    const char *config_path = NULL;
    int c, rc = 0;
    opterr = 1;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "c:hv", lopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            rc = 1;
            break;
        case 'v':
            printf("herald-relay %s\n", HR_VERSION);
            rc = 1;
            break;
        case '?':
            usage(stderr);
            rc = -1;
            break;
        default:
            break;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "herald-relay: unexpected argument '%s' (see --help)\n", argv[optind]);
        rc = -1;
    }
    if (rc == 0 && config_path != NULL) {
        ini_ctx_t ctx = {.path = config_path};
        int r = ini_parse(config_path, on_ini, &ctx);
        if (r == -1) {
            fprintf(stderr, "herald-relay: cannot read config %s: %s\n", config_path,
                    strerror(errno));
            rc = -1;
        } else if (ctx.err[0] || r != 0) {
            fprintf(stderr, "herald-relay: %s:%d: %s\n", config_path, r,
                    ctx.err[0] ? ctx.err : "syntax error");
            rc = -1;
        }
    }
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "c:hv", lopts, NULL)) != -1) {
        if (c >= 1000) {
            char err[512];
            if (hr_opt_set(byidx[c - 1000], optarg, err, sizeof err) != 0) {
                fprintf(stderr, "herald-relay: --%s\n", err);
                rc = -1;
            }
        }
    }
    for (size_t g = 0; rc == 0 && g < HR_ARRAY_SIZE(groups); g++) {
        char err[512];
        if (groups[g]->check && groups[g]->check(err, sizeof err) != 0) {
            fprintf(stderr, "herald-relay: %s\n", err);
            rc = -1;
        }
    }
    free(lopts);
    free(byidx);
    return rc;
}
