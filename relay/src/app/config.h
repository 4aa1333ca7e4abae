/* SPDX-License-Identifier: MIT
 * config.h: every relay setting, its default, and how it is read: an INI
 * file (--config, parsed with inih) then command-line flags, which win.
 * Defaults serve a developer on one machine with no config at all. */
#ifndef HR_CONFIG_H
#define HR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct hr_config {
    char *listen;              /* HOST:PORT of the HTTP listener */
    char *socket_path;         /* ingest Unix socket */
    int socket_mode;           /* permissions of the ingest socket (octal in the file) */
    char *socket_group;        /* group of the ingest socket ("" keeps ours) */
    int log_level;             /* HR_LOG_* */
    char *log_file;            /* "" logs to stderr */
    long history_size;         /* messages kept per channel for resume; 0 disables */
    long history_ttl;          /* seconds a message stays in history */
    long ping_interval;        /* seconds of silence before a heartbeat */
    long header_timeout;       /* seconds a client has to send its request head */
    long max_header_bytes;     /* request head limit (431 past it) */
    long max_queued_bytes;     /* per subscriber; past it the subscriber is cut off */
    long ws_max_message;       /* largest client WebSocket message (1009 past it) */
    long max_channels;         /* channels per client connection */
    long max_frame_bytes;      /* largest ingest frame */
    long ingest_ring_bytes;    /* largest shared-memory ring granted; 0: none */
    long ingest_ring_idle_ms;  /* ms without bytes before a ring is left to sleep */
    long max_connections;      /* 0: derived from the descriptor limit */
    long retry_min, retry_max; /* range of the first retry: hint, in ms */
    long shutdown_timeout;     /* ms to flush clients at shutdown */
    char *redis;               /* cluster mode: redis://HOST:PORT or unix:///path; "" off */
    char *cors_origin; /* origins allowed to read /sse (comma-separated, "*" any, "" none) */
    /* Security (SECURITY.md): private channels, origins, more limits. */
    char *private_prefixes;       /* channels needing a token (comma-separated prefixes) */
    char *secret;                 /* HS256 key shared with PHP's herald.secret */
    char *secret_file;            /* file holding the secret (wins over secret) */
    long token_skew;              /* seconds of clock skew allowed on exp and nbf */
    char *ws_origins;             /* Origins allowed to open /ws ("" any) */
    long max_url_bytes;           /* request target limit (414 past it) */
    long max_connections_per_ip;  /* client connections from one address (0: no limit) */
    long ws_max_messages_per_sec; /* client WebSocket messages per second (1008 past it) */
    long allow_world_writable;    /* 1 lets socket_mode give others write access */
} hr_config_t;

extern hr_config_t hr_cfg;

/* Fill hr_cfg with the defaults. */
void hr_config_defaults(hr_config_t *cfg);

/* Parse argv. Returns 0 to run, 1 when --help or --version printed and the
 * process should exit 0, -1 on error (message already printed). Reads the
 * --config file first, then applies the other flags over it. */
int hr_config_load(hr_config_t *cfg, int argc, char **argv);

void hr_config_free(hr_config_t *cfg);

#endif
