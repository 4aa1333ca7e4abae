/* SPDX-License-Identifier: MIT
 * ring_probe.c: a hostile publisher for tests/e2e/security_ring.test.mjs.
 * It talks to a real relay's ingest socket the way the extension does (a
 * hello asking for a ring, the descriptors of the answer by SCM_RIGHTS) and
 * then tries what an attacker on the host would: write to the shared pages
 * that are not its own ring, and look for the relay's addresses in them; or
 * it writes garbage into its ring and waits for the relay to close its
 * connection. It knows nothing of the ring's layout beyond "the first
 * descriptor is the ring", so it runs against any version of the relay.
 *
 *   ring_probe check SOCKET RELAY_PID   every check below, one line each
 *   ring_probe garbage SOCKET head|data garbage over the ring, until EOF
 *
 * Prints "ok - ..." or "not ok - ..." per check and exits 1 if any failed. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 8

static int failures;

static void report(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "not ok");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures += !ok;
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(2);
    }
    return fd;
}

/* {"op":"hello","v":1,"client":"ring_probe","pid":<pid>,"ring":4096}, msgpack by hand. */
static void send_hello(int fd)
{
    unsigned char b[128];
    size_t n = 0;
    uint32_t pid = (uint32_t)getpid();
    b[n++] = 0x85;
    memcpy(b + n, "\xa2op\xa5hello", 9), n += 9;
    memcpy(b + n, "\xa1v\x01", 3), n += 3;
    memcpy(b + n,
           "\xa6"
           "client"
           "\xaa"
           "ring_probe",
           18),
        n += 18;
    memcpy(b + n, "\xa3pid\xce", 5), n += 5;
    for (int i = 3; i >= 0; i--)
        b[n++] = (unsigned char)(pid >> (8 * i));
    memcpy(b + n, "\xa4ring\xcd\x10\x00", 8), n += 8;
    if (write(fd, b, n) != (ssize_t)n) {
        perror("write hello");
        exit(2);
    }
}

/* The ring answer and its descriptors; exits unless it is an ok one. */
static int recv_ring(int fd, int fds[MAX_FDS])
{
    char buf[512];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(MAX_FDS * sizeof(int))];
    } cm;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0) {
        perror("recvmsg");
        exit(2);
    }
    int nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k && nfds < MAX_FDS; i++)
                memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
    /* "ok": true is the bytes a2 'o' 'k' c3 in msgpack. */
    if (memmem(buf, (size_t)n, "\xa2ok\xc3", 4) == NULL || nfds < 2) {
        fprintf(stderr, "no ring granted (%d descriptors)\n", nfds);
        exit(2);
    }
    return nfds;
}

static size_t size_of(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        perror("fstat");
        exit(2);
    }
    return (size_t)st.st_size;
}

/* Every way to write to shared page fd i that a publisher might try. */
static void try_to_write(int i, int fd)
{
    size_t len = size_of(fd);
    int mode = fcntl(fd, F_GETFL) & O_ACCMODE;
    report(mode == O_RDONLY, "descriptor %d (%zu bytes) is read-only (mode %s)", i, len,
           mode == O_RDONLY ? "O_RDONLY"
           : mode == O_RDWR ? "O_RDWR"
                            : "O_WRONLY");
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report(p == MAP_FAILED, "descriptor %d cannot be mapped writable (%s)", i,
           p == MAP_FAILED ? strerror(errno) : "it was");
    if (p != MAP_FAILED)
        munmap(p, len);
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
        int r = mprotect(p, len, PROT_READ | PROT_WRITE);
        report(r != 0, "descriptor %d: a read-only mapping cannot be made writable (%s)", i,
               r != 0 ? strerror(errno) : "it was");
        munmap(p, len);
    }
    report(ftruncate(fd, 0) != 0, "descriptor %d cannot be truncated", i);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rw = open(path, O_RDWR | O_CLOEXEC);
    if (rw < 0) {
        report(1, "descriptor %d cannot be opened again read-write (%s)", i, strerror(errno));
        return;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
    report(p == MAP_FAILED, "descriptor %d opened again read-write cannot be mapped writable (%s)",
           i, p == MAP_FAILED ? strerror(errno) : "it was");
    if (p != MAP_FAILED)
        munmap(p, len);
    ssize_t w = pwrite(rw, "x", 1, 0);
    report(w < 0, "descriptor %d opened again read-write cannot be written (%s)", i,
           w < 0 ? strerror(errno) : "it was");
    report(ftruncate(rw, 0) != 0, "descriptor %d opened again cannot be truncated", i);
    close(rw);
}

typedef struct range {
    uint64_t lo, hi;
    char what[160];
} range_t;

static range_t *read_maps(pid_t pid, size_t *n)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    size_t cap = 256;
    range_t *r = malloc(cap * sizeof *r);
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi;
        char perms[8];
        /* A range with no access at all (the sanitizer's shadow gap, guard
         * pages) holds nothing an address could leak. */
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) != 3 || strcmp(perms, "---p") == 0)
            continue;
        if (*n == cap)
            r = realloc(r, (cap *= 2) * sizeof *r);
        r[*n].lo = lo;
        r[*n].hi = hi;
        line[strcspn(line, "\n")] = '\0';
        snprintf(r[*n].what, sizeof r[*n].what, "%.159s", line);
        (*n)++;
    }
    fclose(f);
    return r;
}

/* No 8-byte word of the page is an address inside the relay's mappings. */
static void scan(int i, int fd, const range_t *maps, size_t nmaps)
{
    size_t len = size_of(fd), hits = 0;
    const unsigned char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        report(0, "descriptor %d can be mapped to read it (%s)", i, strerror(errno));
        return;
    }
    for (size_t off = 0; off + 8 <= len; off += 8) {
        uint64_t w;
        memcpy(&w, p + off, 8);
        for (size_t k = 0; w != 0 && k < nmaps; k++)
            if (w >= maps[k].lo && w < maps[k].hi) {
                if (hits++ < 3)
                    printf("# descriptor %d, offset %zu: 0x%llx is in the relay's %s\n", i, off,
                           (unsigned long long)w, maps[k].what);
                break;
            }
    }
    report(hits == 0, "descriptor %d holds no address of the relay (%zu words, %zu do)", i, len / 8,
           hits);
    munmap((void *)p, len);
}

static int check(const char *sock, pid_t relay)
{
    int fds[MAX_FDS];
    int s = connect_to(sock);
    send_hello(s);
    int n = recv_ring(s, fds);
    printf("# %d descriptors\n", n);
    /* The first is the publisher's own ring: that one it writes. */
    size_t len = size_of(fds[0]);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    report(p != MAP_FAILED, "descriptor 0 (the ring, %zu bytes) maps read-write", len);
    if (p != MAP_FAILED)
        munmap(p, len);
    for (int i = 1; i < n; i++)
        try_to_write(i, fds[i]);
    size_t nmaps;
    range_t *maps = read_maps(relay, &nmaps);
    for (int i = 0; i < n; i++)
        scan(i, fds[i], maps, nmaps);
    free(maps);
    close(s);
    return failures ? 1 : 0;
}

static int garbage(const char *sock, const char *where)
{
    int fds[MAX_FDS];
    int s = connect_to(sock);
    send_hello(s);
    recv_ring(s, fds);
    size_t len = size_of(fds[0]);
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    if (p == MAP_FAILED) {
        perror("mmap ring");
        return 2;
    }
    /* 0xc1 is never used in msgpack. "head": every byte of the mapping,
     * header included (an impossible head). "data": the data only, and a
     * head that counts 64 of those bytes (64 is where head is in versions 2
     * and 3; 256 where the data starts). */
    if (strcmp(where, "head") == 0) {
        memset(p, 0xc1, len);
    } else {
        memset(p + 256, 0xc1, len - 256);
        uint64_t head = 64;
        __atomic_store_n((uint64_t *)(void *)(p + 64), head, __ATOMIC_RELEASE);
    }
    /* In case the relay left the ring to sleep: {"op":"wake"}. */
    if (write(s, "\x81\xa2op\xa4wake", 9) != 9)
        report(0, "the wake frame could be written (%s)", strerror(errno));
    /* The relay's answer is to close this connection: wait for EOF. */
    char buf[256];
    ssize_t r;
    struct pollfd pfd = {s, POLLIN, 0};
    while (poll(&pfd, 1, -1) >= 0 && (r = read(s, buf, sizeof buf)) > 0)
        ;
    report(1, "the relay closed the connection after garbage in the ring (%s)", where);
    close(s);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "check") == 0)
        return check(argv[2], (pid_t)atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "garbage") == 0)
        return garbage(argv[2], argv[3]);
    fprintf(stderr, "usage: ring_probe check SOCKET RELAY_PID | garbage SOCKET head|data\n");
    return 2;
}
