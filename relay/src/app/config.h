/* SPDX-License-Identifier: MIT
 * config.h: reading the configuration. Every module declares its own
 * settings (base/opt.h); this reads an INI file (--config, parsed with inih)
 * and then the command-line flags, which win, against all of them, and runs
 * each module's checks. Defaults serve a developer on one machine with no
 * config at all. The app's own settings are here too. */
#ifndef HR_CONFIG_H
#define HR_CONFIG_H

#include "base/opt.h"

typedef struct hr_app_cfg {
    char *listen;          /* HOST:PORT of the HTTP listener */
    int log_level;         /* HR_LOG_* */
    char *log_file;        /* "" logs to stderr */
    long shutdown_timeout; /* ms to flush clients at shutdown */
    long max_url_bytes;    /* request target limit (414 past it) */
    char *metrics_listen;  /* HOST:PORT serving /metrics alone ("": the main listener) */
    char *state_file;      /* kept across clean restarts ("" off; app/state.c) */
    long drain_ms;         /* closes spread over this at SIGTERM (app/server.c) */
    long workers;          /* event loops, one thread each (app/main.c); 0: the cores */
} hr_app_cfg_t;

extern hr_app_cfg_t hr_app_cfg;

/* Defaults, then --config FILE, then the flags, then every module's check.
 * Returns 0 to run, 1 when --help or --version printed and the process
 * should exit 0, -1 on error (message already printed). */
int hr_config_load(int argc, char **argv);

/* Free every setting's strings. */
void hr_config_free(void);

#endif
