/* SPDX-License-Identifier: MIT
 * log.h: leveled logging to stderr or a log file, one line per event. The
 * level is checked before the arguments are formatted (Redis's serverLog),
 * so a debug line costs a comparison when debug is off. */
#ifndef HR_LOG_H
#define HR_LOG_H

enum hr_log_level { HR_LOG_DEBUG, HR_LOG_INFO, HR_LOG_WARN, HR_LOG_ERROR };

/* Set at start, before any worker thread; only read after. */
extern int hr_log_level;

#define hr_log(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) >= hr_log_level)                                                               \
            hr_log_write((level), __VA_ARGS__);                                                    \
    } while (0)

/* From any thread (one write() per line). */
void hr_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "debug", "info", "warn", "error" -> level, or -1. */
int hr_log_parse_level(const char *s);

/* Log to this file (appending) instead of stderr; NULL or "" means stderr.
 * Returns 0 or a negative errno. At start, before worker threads. */
int hr_log_open(const char *path);

/* Reopen the log file (SIGHUP, after logrotate moved it). Safe while other
 * threads log (the descriptor number stays: dup2). */
void hr_log_reopen(void);

/* At exit, after the worker threads ended. */
void hr_log_close(void);

#endif
