/* SPDX-License-Identifier: MIT
 * config.c: one table lists every option: its INI name (also the long flag
 * "--name"), type, bounds and where it goes. The file is INI, like php.ini;
 * keys may sit at the top or in a [relay] section. Unknown keys are errors,
 * so a typo never silently keeps a default. */
#include "app/config.h"
#include "base/common.h"
#include "base/log.h"
#include "app/version.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_config_t hr_cfg;

enum opt_type { OPT_STR, OPT_LONG, OPT_MODE, OPT_LEVEL };

typedef struct opt {
    const char *name;
    enum opt_type type;
    size_t off;
    long min, max;
    const char *help;
} opt_t;

#define O(field) offsetof(hr_config_t, field)
static const opt_t opts[] = {
    {"listen", OPT_STR, O(listen), 0, 0, "HTTP listener HOST:PORT (127.0.0.1:8080)"},
    {"socket", OPT_STR, O(socket_path), 0, 0, "ingest Unix socket (/tmp/herald.sock)"},
    {"socket_mode", OPT_MODE, O(socket_mode), 0, 0777, "ingest socket permissions (0660)"},
    {"socket_group", OPT_STR, O(socket_group), 0, 0, "ingest socket group (unchanged)"},
    {"log_level", OPT_LEVEL, O(log_level), 0, 3, "debug, info, warn or error (info)"},
    {"log_file", OPT_STR, O(log_file), 0, 0, "log file, reopened on SIGHUP (stderr)"},
    {"history_size", OPT_LONG, O(history_size), 0, 1000000, "messages kept per channel (100)"},
    {"history_ttl", OPT_LONG, O(history_ttl), 1, 86400 * 30, "seconds kept in history (300)"},
    {"ping_interval", OPT_LONG, O(ping_interval), 1, 3600, "heartbeat after N idle seconds (15)"},
    {"header_timeout", OPT_LONG, O(header_timeout), 1, 3600, "seconds to send a request (10)"},
    {"max_header_bytes", OPT_LONG, O(max_header_bytes), 256, 1 << 20, "request head limit (8192)"},
    {"max_queued_bytes", OPT_LONG, O(max_queued_bytes), 4096, 1L << 34,
     "queued bytes before a slow subscriber is cut off (1048576)"},
    {"ws_max_message", OPT_LONG, O(ws_max_message), 125, 1L << 30,
     "largest client WebSocket message (65536)"},
    {"max_channels", OPT_LONG, O(max_channels), 1, 100000, "channels per connection (64)"},
    {"max_frame_bytes", OPT_LONG, O(max_frame_bytes), 1024, 1L << 30,
     "largest ingest frame (16777216)"},
    {"ingest_ring_bytes", OPT_LONG, O(ingest_ring_bytes), 0, 64L << 20,
     "largest shared-memory ring a publisher gets, bytes (262144; 0: socket only)"},
    {"ingest_ring_idle_ms", OPT_LONG, O(ingest_ring_idle_ms), 1, 60000,
     "ms without bytes before the relay stops polling a ring (20)"},
    {"max_connections", OPT_LONG, O(max_connections), 0, 100000000,
     "client connections (0: from the descriptor limit)"},
    {"retry_min", OPT_LONG, O(retry_min), 0, 3600000, "lowest first retry: hint, ms (1000)"},
    {"retry_max", OPT_LONG, O(retry_max), 0, 3600000, "highest first retry: hint, ms (3000)"},
    {"shutdown_timeout", OPT_LONG, O(shutdown_timeout), 0, 600000,
     "ms to flush clients at shutdown (2000)"},
    {"redis", OPT_STR, O(redis), 0, 0, "cluster mode: redis://HOST:PORT or unix:///path (off)"},
    {"cors_origin", OPT_STR, O(cors_origin), 0, 0,
     "origins allowed to read /sse, comma-separated, * for any (none)"},
    {"private_prefixes", OPT_STR, O(private_prefixes), 0, 0,
     "channel prefixes that need a token, comma-separated (private-)"},
    {"secret", OPT_STR, O(secret), 0, 0, "token key shared with PHP (prefer secret_file)"},
    {"secret_file", OPT_STR, O(secret_file), 0, 0, "file holding the token key ($HERALD_SECRET)"},
    {"token_skew", OPT_LONG, O(token_skew), 0, 3600, "seconds of clock skew on tokens (30)"},
    {"ws_origins", OPT_STR, O(ws_origins), 0, 0, "Origins allowed on /ws, comma-separated (any)"},
    {"max_url_bytes", OPT_LONG, O(max_url_bytes), 64, 1 << 20, "request target limit (4096)"},
    {"max_connections_per_ip", OPT_LONG, O(max_connections_per_ip), 0, 100000000,
     "client connections per address (0: no limit)"},
    {"ws_max_messages_per_sec", OPT_LONG, O(ws_max_messages_per_sec), 1, 1000000,
     "WebSocket messages a client may send per second (100)"},
    {"allow_world_writable", OPT_LONG, O(allow_world_writable), 0, 1,
     "1 allows a socket_mode writable by others (0)"},
};

void hr_config_defaults(hr_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = strdup("127.0.0.1:8080");
    cfg->socket_path = strdup("/tmp/herald.sock");
    cfg->socket_mode = 0660;
    cfg->socket_group = strdup("");
    cfg->log_level = HR_LOG_INFO;
    cfg->log_file = strdup("");
    cfg->history_size = 100;
    cfg->history_ttl = 300;
    cfg->ping_interval = 15;
    cfg->header_timeout = 10;
    cfg->max_header_bytes = 8192;
    cfg->max_queued_bytes = 1 << 20;
    cfg->ws_max_message = 65536;
    cfg->max_channels = 64;
    cfg->max_frame_bytes = 16 << 20;
    cfg->ingest_ring_bytes = 256 << 10;
    cfg->ingest_ring_idle_ms = 20;
    cfg->max_connections = 0;
    cfg->retry_min = 1000;
    cfg->retry_max = 3000;
    cfg->shutdown_timeout = 2000;
    cfg->redis = strdup("");
    cfg->cors_origin = strdup("");
    cfg->private_prefixes = strdup("private-");
    cfg->secret = strdup("");
    cfg->secret_file = strdup("");
    cfg->token_skew = 30;
    cfg->ws_origins = strdup("");
    cfg->max_url_bytes = 4096;
    cfg->max_connections_per_ip = 0;
    cfg->ws_max_messages_per_sec = 100;
    cfg->allow_world_writable = 0;
}

/* The token key: secret_file wins over secret, and HERALD_SECRET is read
 * only when neither is set. A file keeps the key out of the process list
 * and the config file; one trailing newline is not part of it. */
static int load_secret(hr_config_t *cfg)
{
    if (cfg->secret_file[0]) {
        FILE *f = fopen(cfg->secret_file, "r");
        if (f == NULL) {
            fprintf(stderr, "herald-relay: cannot read secret_file %s: %s\n", cfg->secret_file,
                    strerror(errno));
            return -1;
        }
        char buf[1025];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (n == sizeof buf) {
            fprintf(stderr, "herald-relay: secret_file %s: longer than 1024 bytes\n",
                    cfg->secret_file);
            return -1;
        }
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        free(cfg->secret);
        cfg->secret = hr_xstrndup(buf, n);
    } else if (cfg->secret[0] == '\0' && getenv("HERALD_SECRET")) {
        free(cfg->secret);
        cfg->secret = strdup(getenv("HERALD_SECRET"));
    }
    if (strlen(cfg->secret) != 0 && strlen(cfg->secret) < 16) {
        fprintf(stderr, "herald-relay: the token secret must be at least 16 bytes\n");
        return -1;
    }
    return 0;
}

void hr_config_free(hr_config_t *cfg)
{
    for (size_t i = 0; i < HR_ARRAY_SIZE(opts); i++) {
        if (opts[i].type == OPT_STR) {
            char **p = (char **)((char *)cfg + opts[i].off);
            free(*p);
            *p = NULL;
        }
    }
}

static const opt_t *find_opt(const char *name)
{
    for (size_t i = 0; i < HR_ARRAY_SIZE(opts); i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

/* Set one option from text; on error write a message into err. */
static int set_opt(hr_config_t *cfg, const opt_t *o, const char *value, char *err, size_t errlen)
{
    char *end;
    void *field = (char *)cfg + o->off;
    switch (o->type) {
    case OPT_STR:
        free(*(char **)field);
        *(char **)field = strdup(value);
        return 0;
    case OPT_LEVEL: {
        int l = hr_log_parse_level(value);
        if (l < 0) {
            snprintf(err, errlen, "%s: '%s' is not debug, info, warn or error", o->name, value);
            return -1;
        }
        *(int *)field = l;
        return 0;
    }
    case OPT_MODE:
    case OPT_LONG: {
        errno = 0;
        long v = strtol(value, &end, o->type == OPT_MODE ? 8 : 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not a%s number", o->name, value,
                     o->type == OPT_MODE ? "n octal" : "");
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: %ld is out of range (%ld to %ld)", o->name, v, o->min,
                     o->max);
            return -1;
        }
        if (o->type == OPT_MODE)
            *(int *)field = (int)v;
        else
            *(long *)field = v;
        return 0;
    }
    }
    return -1;
}

typedef struct ini_ctx {
    hr_config_t *cfg;
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
    const opt_t *o = find_opt(name);
    if (o == NULL) {
        snprintf(ctx->err, sizeof ctx->err, "unknown option '%s'", name);
        return 0;
    }
    return set_opt(ctx->cfg, o, value, ctx->err, sizeof ctx->err) == 0;
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
    for (size_t i = 0; i < HR_ARRAY_SIZE(opts); i++)
        fprintf(f, "  --%-18s %s\n", opts[i].name, opts[i].help);
}

int hr_config_load(hr_config_t *cfg, int argc, char **argv)
{
    struct option lopts[HR_ARRAY_SIZE(opts) + 4];
    size_t n = 0;
    lopts[n++] = (struct option){"config", required_argument, NULL, 'c'};
    lopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[n++] = (struct option){"version", no_argument, NULL, 'v'};
    for (size_t i = 0; i < HR_ARRAY_SIZE(opts); i++)
        lopts[n++] = (struct option){opts[i].name, required_argument, NULL, 1000 + (int)i};
    lopts[n] = (struct option){NULL, 0, NULL, 0};

    /* Pass 1: --config, --help, --version. Pass 2: the rest, over the file. */
    const char *config_path = NULL;
    int c;
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:hv", lopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'v':
            printf("herald-relay %s\n", HR_VERSION);
            return 1;
        case '?':
            usage(stderr);
            return -1;
        default:
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "herald-relay: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (config_path != NULL) {
        ini_ctx_t ctx = {.cfg = cfg, .path = config_path};
        int rc = ini_parse(config_path, on_ini, &ctx);
        if (rc == -1) {
            fprintf(stderr, "herald-relay: cannot read config %s: %s\n", config_path,
                    strerror(errno));
            return -1;
        }
        if (ctx.err[0] || rc != 0) {
            fprintf(stderr, "herald-relay: %s:%d: %s\n", config_path, rc,
                    ctx.err[0] ? ctx.err : "syntax error");
            return -1;
        }
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "c:hv", lopts, NULL)) != -1) {
        if (c >= 1000) {
            char err[512];
            if (set_opt(cfg, &opts[c - 1000], optarg, err, sizeof err) != 0) {
                fprintf(stderr, "herald-relay: --%s\n", err);
                return -1;
            }
        }
    }
    if (cfg->retry_min > cfg->retry_max) {
        fprintf(stderr, "herald-relay: retry_min (%ld) is above retry_max (%ld)\n", cfg->retry_min,
                cfg->retry_max);
        return -1;
    }
    if (cfg->ingest_ring_bytes != 0 && cfg->ingest_ring_bytes < 4096) {
        fprintf(stderr, "herald-relay: ingest_ring_bytes must be 0 or at least 4096\n");
        return -1;
    }
    if ((cfg->socket_mode & 0002) && !cfg->allow_world_writable) {
        fprintf(stderr,
                "herald-relay: socket_mode %04o lets any local user publish; use a group, or set "
                "allow_world_writable = 1\n",
                cfg->socket_mode);
        return -1;
    }
    if (load_secret(cfg) != 0)
        return -1;
    if (cfg->socket_path[0] == '\0' || strlen(cfg->socket_path) > 100) {
        fprintf(stderr, "herald-relay: socket path must be 1 to 100 bytes\n");
        return -1;
    }
    return 0;
}
