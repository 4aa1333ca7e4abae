/* SPDX-License-Identifier: MIT
 * log.c: one line per notable event, "2026-11-24T04:50:00.123Z info msg".
 * Writes are unbuffered single write(2) calls so lines from a crash are not
 * lost and lines never interleave, from one thread or several: a line is at
 * most 2048 bytes, one write() with O_APPEND on a file, under PIPE_BUF on a
 * pipe, so the kernel keeps it whole.
 *
 * Threads (workers): every loop logs through the same descriptor with no
 * lock. hr_log_level, log_fd and log_path are set by hr_log_open() and
 * main before the worker threads start, cleared by hr_log_close() after
 * they end, and only read in between. The SIGHUP reopen never changes
 * log_fd: dup2() puts the new file on the same descriptor number in one
 * step, so a writer on another thread writes whole to the old file or to
 * the new one, never to a closed or reused descriptor. */
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int hr_log_level = HR_LOG_INFO;
static int log_fd = 2;
static char *log_path;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int hr_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return HR_LOG_WARN;
    return -1;
}

void hr_log_write(int level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                  level_names[level < 0   ? 0
                              : level > 3 ? 3
                                          : level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w;
}

static int open_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return fd < 0 ? -errno : fd;
}

int hr_log_open(const char *path)
{
    if (path == NULL || *path == '\0')
        return 0;
    int fd = open_path(path);
    if (fd < 0)
        return fd;
    hr_log_close();
    log_fd = fd;
    log_path = strdup(path);
    return 0;
}

void hr_log_reopen(void)
{
    if (log_path == NULL)
        return;
    int fd = open_path(log_path);
    if (fd < 0) {
        hr_log(HR_LOG_ERROR, "log: cannot reopen %s: %s", log_path, strerror(-fd));
        return;
    }
    /* Not close(log_fd) + a new number: atomic for concurrent writers. */
    if (dup2(fd, log_fd) < 0) {
        int e = errno;
        close(fd);
        hr_log(HR_LOG_ERROR, "log: cannot reopen %s: dup2: %s", log_path, strerror(e));
        return;
    }
    close(fd);
    hr_log(HR_LOG_INFO, "log: reopened %s", log_path);
}

void hr_log_close(void)
{
    if (log_fd != 2)
        close(log_fd);
    log_fd = 2;
    free(log_path);
    log_path = NULL;
}
