/* SPDX-License-Identifier: MIT
 * state.c (app): the state file on disk (state.h). Saving writes
 * <file>.tmp (created new, mode 0600, never through a link), syncs it and
 * renames it over the file, then syncs the directory: a crash while saving
 * leaves no half file under the name that is loaded. Loading reads the file,
 * checks it whole (core/state.c: format, checksum, which relay wrote it,
 * every field), and removes it, durably, before the broker takes it: a file
 * is used once. So after a crash the next start finds no file and its
 * clients get herald.gap, as they must (the crashed run may have handed out
 * ids past the file's). A file that is refused is renamed <file>.bad, so it
 * is never tried again and can be looked at. */
#include "app/state.h"
#include "app/config.h"
#include "app/version.h"
#include "base/log.h"
#include "core/broker.h"
#include "ingest/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    char *s = hr_xmalloc(n + m + 1);
    memcpy(s, path, n);
    memcpy(s + n, suffix, m + 1);
    return s;
}

/* Make a rename or unlink in path's directory durable. */
static int sync_dir(const char *path)
{
    char *copy = hr_xstrndup(path, strlen(path));
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

#define FRESH "a fresh id space: clients get herald.gap"

/* The file cannot be used: rename it out of the way so no later start
 * tries it again, and say why (and what happens then). */
static void set_aside(const char *path, const char *why, const char *then)
{
    char *bad = with_suffix(path, ".bad");
    if (rename(path, bad) == 0) {
        sync_dir(path);
        hr_log(HR_LOG_WARN, "state: %s refused (%s); set aside as %s; %s", path, why, bad, then);
    } else if (unlink(path) == 0) {
        sync_dir(path);
        hr_log(HR_LOG_WARN, "state: %s refused (%s); removed; %s", path, why, then);
    } else {
        hr_log(HR_LOG_ERROR, "state: %s refused (%s), and it cannot be moved or removed (%s)", path,
               why, strerror(errno));
    }
    free(bad);
}

/* A file of ours only: in a shared directory (the default sits next to the
 * socket, /tmp/herald.sock.state) another user could plant one, and what it
 * holds would be delivered to browsers as if published. */
static const char *not_ours(const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_uid != geteuid())
        return "owned by another user";
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return "writable by others";
    return NULL;
}

int hr_state_file_load(hr_loop_t *L)
{
    const char *path = hr_app_cfg.state_file;
    hr_broker_t *b = L->broker;
    int armed = path[0] != '\0' && b->ops->save != NULL;
    if (path[0] == '\0')
        return armed;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            if (b->ops->load)
                hr_log(HR_LOG_INFO, "state: no %s: a fresh id space (epoch %.*s)", path,
                       (int)b->epoch_len, b->epoch);
        } else if (errno == ELOOP) {
            set_aside(path, "a symbolic link", FRESH);
        } else {
            hr_log(HR_LOG_WARN, "state: cannot open %s: %s; a fresh id space", path,
                   strerror(errno));
        }
        return armed;
    }
    if (b->ops->load == NULL) {
        /* Ids and history are the broker's (Redis): a file left by a
         * single-relay run is moved away, so that a later single-relay run
         * cannot take it for the state it stopped in. */
        close(fd);
        set_aside(path, "not used with the Redis broker", "ids and history are Redis's");
        return armed;
    }
    struct stat st;
    const char *why = NULL;
    uint64_t limit = 2 * (uint64_t)hr_history_cfg.history_max_bytes + (64u << 20);
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if ((why = not_ours(&st)) == NULL && (uint64_t)st.st_size > limit)
        why = "larger than twice history_max_bytes";
    uint8_t *buf = NULL;
    size_t len = 0;
    if (why == NULL) {
        buf = hr_xmalloc(st.st_size ? (size_t)st.st_size : 1);
        while (len < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                why = n < 0 ? strerror(errno) : "shorter than its size";
                break;
            }
            len += (size_t)n;
        }
    }
    close(fd);
    hr_state_t state;
    char err[320];
    const char *sock = hr_ingest_cfg.socket_path;
    if (why == NULL &&
        hr_state_decode(buf, len, (hr_slice_t){sock, strlen(sock)}, &state, err, sizeof err) != 0)
        why = err;
    free(buf);
    if (why) {
        set_aside(path, why, FRESH);
        return armed;
    }
    /* Taken away, durably, before it is used: from here on a crash leaves
     * no file, so this one can never be loaded twice. */
    if (unlink(path) != 0 || sync_dir(path) != 0) {
        hr_log(
            HR_LOG_ERROR,
            "state: cannot remove %s durably (%s): not loaded, since it could be loaded twice; a "
            "fresh id space",
            path, strerror(errno));
        hr_state_free(&state);
        return armed;
    }
    uint64_t now = wall_ms();
    b->ops->load(b, &state, now);
    hr_log(HR_LOG_INFO,
           "state: loaded %s: epoch %s, seq %" PRIu64
           ", %zu message(s), %zu channel record(s), written by herald-relay %s %.1f s ago; "
           "clients resume exactly",
           path, state.epoch, state.seq, state.nevents, state.nchans, state.writer,
           now > state.written_ms ? (double)(now - state.written_ms) / 1000.0 : 0.0);
    hr_state_free(&state);
    return armed;
}

typedef struct out {
    int fd;
    int err;
} out_t;

static int write_all(void *ud, const void *p, size_t len)
{
    out_t *o = ud;
    const char *c = p;
    while (len > 0) {
        ssize_t n = write(o->fd, c, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            o->err = n < 0 ? errno : EIO;
            return -1;
        }
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

int hr_state_file_save(hr_loop_t *L)
{
    const char *path = hr_app_cfg.state_file;
    hr_broker_t *b = L->broker;
    char *tmp = with_suffix(path, ".tmp");
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, 0600);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, flags, 0600); /* left by a save that crashed */
    const char *step = "create";
    out_t o = {fd, 0};
    hr_state_stats_t stats = {0};
    int rc = -1;
    if (fd < 0) {
        o.err = errno;
    } else {
        const char *sock = hr_ingest_cfg.socket_path;
        hr_state_meta_t m = {
            {sock, strlen(sock)}, {HR_VERSION, strlen(HR_VERSION)}, wall_ms(), hr_loop_now_ms(L)};
        step = "write";
        if (b->ops->save(b, &m, write_all, &o, &stats) == 0) {
            step = "sync";
            if (fsync(fd) != 0)
                o.err = errno;
            else
                rc = 0;
        }
        if (close(fd) != 0 && rc == 0) {
            o.err = errno;
            rc = -1;
        }
        if (rc == 0) {
            step = "rename";
            if (rename(tmp, path) != 0) {
                o.err = errno;
                rc = -1;
            } else if (sync_dir(path) != 0) {
                hr_log(HR_LOG_WARN, "state: %s: syncing its directory: %s", path, strerror(errno));
            }
        }
        if (rc != 0)
            unlink(tmp);
    }
    if (rc != 0)
        hr_log(HR_LOG_ERROR,
               "state: cannot save %s (%s: %s); after the restart clients get herald.gap", path,
               step, strerror(o.err ? o.err : EIO));
    else
        hr_log(HR_LOG_INFO,
               "state: saved %s: epoch %.*s, seq %" PRIu64
               ", %zu message(s), %zu channel record(s), %zu bytes",
               path, (int)b->epoch_len, b->epoch, b->seq, stats.events, stats.channels,
               stats.bytes);
    free(tmp);
    return rc;
}
