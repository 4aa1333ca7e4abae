/* SPDX-License-Identifier: MIT
 * test_ring.c: the shared-memory ingest ring, the relay's consumer
 * (relay/src/ingest/ring.c) against the extension's producer (ext/herald_ring.c)
 * mapping the same memfds: bytes across the wrap, FULL and TOO_BIG, a
 * corrupt head, the sleep/wake handshake, close and fate, the life word of
 * a relay that dies or stops cleanly, and two processes at full speed.
 * Synchronisation is by pipes and shared counters, never by sleeping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ext/herald_ring.h"
#include "abi/herald_ring_abi.h"
#include "ingest/ring.h"

#define HEAD(r) ((uint64_t *)(void *)((r)->base + HR_RING_OFF_HEAD))

typedef struct fixture {
    hr_life_t life;
    hr_ring_t ring; /* the relay's */
    php_herald_ring p;
} fixture_t;

/* The producer maps copies: php_herald_ring_map closes what it gets. */
static void map_producer(php_herald_ring *p, int ring_fd, int life_fd, uint32_t size)
{
    php_herald_ring_init(p);
    assert_int_equal(php_herald_ring_map(p, dup(ring_fd), dup(life_fd), size), 0);
}

static fixture_t *fixture(uint32_t size)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(hr_life_create(&f->life), 0);
    assert_int_equal(hr_ring_create(&f->ring, size), 0);
    map_producer(&f->p, f->ring.fd, f->life.fd, size);
    hr_ring_close_fd(&f->ring);
    return f;
}

static void fixture_free(fixture_t *f)
{
    php_herald_ring_unmap(&f->p);
    hr_ring_close(&f->ring);
    hr_life_free(&f->life);
    free(f);
}

static int put(php_herald_ring *p, const void *buf, size_t len, uint64_t *end, int *wake)
{
    struct iovec iov = {(void *)buf, len};
    return php_herald_ring_put(p, &iov, 1, end, wake);
}

/* Everything in the ring now, into buf (at most cap). */
static size_t take(hr_ring_t *r, void *buf, size_t cap)
{
    int64_t fill = hr_ring_fill(r);
    assert_true(fill >= 0);
    return hr_ring_read(r, buf, cap);
}

static void test_grant_size(void **state)
{
    assert_int_equal(hr_ring_grant_size(262144, 262144), 262144);
    assert_int_equal(hr_ring_grant_size(300000, 1 << 20), 262144); /* rounded down */
    assert_int_equal(hr_ring_grant_size(1 << 22, 262144), 262144); /* clamped to the config */
    assert_int_equal(hr_ring_grant_size(1 << 22, 300000), 262144); /* a power of two */
    assert_int_equal(hr_ring_grant_size(1, 262144), HR_RING_MIN_BYTES);
    assert_int_equal(hr_ring_grant_size(UINT64_MAX, UINT64_MAX), HR_RING_MAX_BYTES);
    assert_int_equal(hr_ring_grant_size(65536, 0), 0); /* rings off */
    assert_int_equal(hr_ring_grant_size(65536, 4095), 0);
    hr_ring_t r;
    assert_int_equal(hr_ring_create(&r, 5000), EINVAL);
    assert_int_equal(hr_ring_create(&r, HR_RING_MAX_BYTES * 2), EINVAL);
}

/* The producer accepts what the relay made; a shrink is refused (sealed). */
static void test_create_and_seals(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_int_equal(hr_life_create(&f->life), 0);
    assert_int_equal(hr_ring_create(&f->ring, 8192), 0);
    assert_int_not_equal(ftruncate(f->ring.fd, 4096), 0);
    assert_int_not_equal(ftruncate(f->life.fd, 0), 0);
#if F_SEAL_FUTURE_WRITE != 0
    /* Publishers may read the life page, never write it. */
    assert_ptr_equal(mmap(NULL, HR_LIFE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, f->life.fd, 0),
                     MAP_FAILED);
#endif
    map_producer(&f->p, f->ring.fd, f->life.fd, 8192);
    assert_int_equal(f->p.size, 8192);
    assert_int_equal(php_herald_ring_alive(&f->p), 1);
    /* A size the relay did not grant is refused. */
    php_herald_ring q;
    php_herald_ring_init(&q);
    assert_int_equal(php_herald_ring_map(&q, dup(f->ring.fd), dup(f->life.fd), 4096), EPROTO);
    hr_ring_close_fd(&f->ring);
    fixture_free(f);
}

/* Frames of every size up to 300 bytes, some in two pieces, read back in
 * batches of one to five: byte for byte, many times across the wrap. */
static void test_bytes_across_the_wrap(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char out[4096], in[4096];
    size_t olen = 0;
    unsigned seed = 1;
    for (int i = 0; i < 3000; i++) {
        size_t len = 1 + (size_t)(i * 7 % 300);
        unsigned char frame[300];
        for (size_t j = 0; j < len; j++)
            frame[j] = (unsigned char)(i + j * 31);
        struct iovec iov[2] = {{frame, len / 3}, {frame + len / 3, len - len / 3}};
        uint64_t end;
        int wake;
        assert_int_equal(php_herald_ring_put(&f->p, iov, 2, &end, &wake), PHP_HERALD_RING_SENT);
        assert_int_equal(wake, 0);
        memcpy(out + olen, frame, len);
        olen += len;
        seed = seed * 1103515245 + 12345;
        if ((seed >> 16) % 5 == 0 || olen > 1500) {
            size_t n = take(&f->ring, in, sizeof in);
            assert_int_equal(n, olen);
            assert_memory_equal(in, out, n);
            assert_int_equal(f->ring.tail, end);
            olen = 0;
        }
    }
    assert_true(f->ring.tail > 20 * 4096); /* wrapped many times */
    fixture_free(f);
}

static void test_full_and_too_big(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char frame[2049] = {0}, in[4096];
    uint64_t end;
    int wake;
    assert_int_equal(put(&f->p, frame, 2049, &end, &wake), PHP_HERALD_RING_TOO_BIG);
    assert_int_equal(put(&f->p, frame, 2048, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(put(&f->p, frame, 2000, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(put(&f->p, frame, 49, &end, &wake), PHP_HERALD_RING_FULL);
    assert_int_equal(wake, 0); /* the relay is awake */
    assert_int_equal(put(&f->p, frame, 48, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(put(&f->p, frame, 1, &end, &wake), PHP_HERALD_RING_FULL);
    assert_int_equal(take(&f->ring, in, sizeof in), 4096);
    assert_int_equal(put(&f->p, frame, 2048, &end, &wake), PHP_HERALD_RING_SENT);
    fixture_free(f);
}

/* The relay trusts only head, and checks it against its own tail. */
static void test_corrupt_head(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char frame[100] = {0}, in[4096];
    uint64_t end;
    int wake;
    assert_int_equal(put(&f->p, frame, 100, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(take(&f->ring, in, sizeof in), 100);
    __atomic_store_n(HEAD(&f->p), f->ring.tail + 4096, __ATOMIC_RELEASE);
    assert_int_equal(hr_ring_fill(&f->ring), 4096); /* full is still fine */
    __atomic_store_n(HEAD(&f->p), f->ring.tail + 4096 + 1, __ATOMIC_RELEASE);
    assert_int_equal(hr_ring_fill(&f->ring), -1);
    __atomic_store_n(HEAD(&f->p), f->ring.tail - 1, __ATOMIC_RELEASE); /* behind tail */
    assert_int_equal(hr_ring_fill(&f->ring), -1);
    /* A tail the producer scribbles over is never read back. */
    *(uint64_t *)(void *)(f->p.base + HR_RING_OFF_TAIL) = 0;
    __atomic_store_n(HEAD(&f->p), 100, __ATOMIC_RELEASE);
    assert_int_equal(hr_ring_fill(&f->ring), 0);
    fixture_free(f);
}

/* The wake flag is set exactly when the relay went to sleep, and only once
 * per sleep. */
static void test_sleep_and_wake(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char frame[10] = {1}, in[4096];
    uint64_t end;
    int wake;
    assert_int_equal(hr_ring_try_sleep(&f->ring), 1);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 1);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 0); /* one wake is on its way already */
    /* The wake arrives: awake, read, asleep again; the next frame wakes. */
    hr_ring_wake(&f->ring);
    assert_int_equal(take(&f->ring, in, sizeof in), 20);
    assert_int_equal(hr_ring_try_sleep(&f->ring), 1);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 1);
    /* Going to sleep with bytes waiting fails and stays awake: no wake. */
    hr_ring_wake(&f->ring);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 0);
    assert_int_equal(hr_ring_try_sleep(&f->ring), 0);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 0);
    /* One wake per sleep, however much the relay reads before it comes
     * (it reads while asleep only on its way out); the next sleep gets its
     * own. */
    assert_int_equal(take(&f->ring, in, sizeof in), 30);
    assert_int_equal(hr_ring_try_sleep(&f->ring), 1);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 1);
    assert_int_equal(take(&f->ring, in, sizeof in), 10);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 0);
    hr_ring_wake(&f->ring);
    assert_int_equal(take(&f->ring, in, sizeof in), 10);
    assert_int_equal(hr_ring_try_sleep(&f->ring), 1);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 1);
    fixture_free(f);
}

/* The lost wake-up of ring version 1 (tests/model/ring_wake.pml finds it),
 * step by step. The relay reads a frame and goes to sleep between the
 * producer's store of head and its load of sleeping: the test does the
 * first half of that put (the frame's bytes, then head) so the relay can
 * run there; put() then stores the same bytes and head again and finds the
 * relay asleep. That wake finds nothing new, the relay sleeps again at the
 * same tail, and the next frame must wake it. Version 1 compared tail with
 * the tail of its last wake, the same here, and never woke it again. */
static void test_wake_after_the_relay_read(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char f1[10] = {1, 1}, f2[10] = {2, 2}, in[4096];
    uint64_t end;
    int wake;
    memcpy(f->p.base + HR_RING_DATA_OFF + f->p.head % f->p.size, f1, sizeof f1);
    __atomic_store_n(HEAD(&f->p), f->p.head + sizeof f1, __ATOMIC_RELEASE);
    assert_int_equal(take(&f->ring, in, sizeof in), sizeof f1);
    assert_int_equal(hr_ring_try_sleep(&f->ring), 1);
    assert_int_equal(put(&f->p, f1, sizeof f1, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(end, f->ring.tail);
    assert_int_equal(wake, 1);
    /* The wake: nothing to read, so asleep again. */
    hr_ring_wake(&f->ring);
    assert_int_equal(hr_ring_fill(&f->ring), 0);
    assert_int_equal(hr_ring_try_sleep(&f->ring), 1);
    assert_int_equal(put(&f->p, f2, sizeof f2, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 1);
    hr_ring_wake(&f->ring);
    assert_int_equal(take(&f->ring, in, sizeof in), sizeof f2);
    assert_memory_equal(in, f2, sizeof f2);
    fixture_free(f);
}

/* Closed: what the relay read is READ, the rest LOST, new frames GONE. */
static void test_close_and_fate(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char frame[10] = {0}, in[4096];
    uint64_t end1, end2;
    int wake;
    assert_int_equal(put(&f->p, frame, 10, &end1, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(put(&f->p, frame, 10, &end2, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(hr_ring_fill(&f->ring), 20);
    assert_int_equal(hr_ring_read(&f->ring, in, 10), 10); /* the first frame only */
    assert_int_equal(php_herald_ring_fate(&f->p, end2), PHP_HERALD_RING_READ); /* open, alive */
    hr_ring_close(&f->ring);
    assert_int_equal(php_herald_ring_alive(&f->p), 0);
    assert_int_equal(php_herald_ring_fate(&f->p, end1), PHP_HERALD_RING_READ);
    assert_int_equal(php_herald_ring_fate(&f->p, end2), PHP_HERALD_RING_LOST);
    assert_int_equal(put(&f->p, frame, 10, &end2, &wake), PHP_HERALD_RING_GONE);
    fixture_free(f);
}

/* A clean stop: the word is 0 (not a death) and the fate of an unread frame
 * is UNSURE until the relay closes the ring after its last read. */
static void test_clean_unlock(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char frame[10] = {0}, in[4096];
    uint64_t end1, end2;
    int wake;
    assert_int_equal(put(&f->p, frame, 10, &end1, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(take(&f->ring, in, sizeof in), 10);
    assert_int_equal(put(&f->p, frame, 10, &end2, &wake), PHP_HERALD_RING_SENT);
    hr_life_unlock(&f->life);
    assert_int_equal(*(uint32_t *)(void *)(f->p.life + f->p.life_word), 0);
    assert_int_equal(php_herald_ring_alive(&f->p), 0);
    assert_int_equal(php_herald_ring_fate(&f->p, end1), PHP_HERALD_RING_READ);
    assert_int_equal(php_herald_ring_fate(&f->p, end2), PHP_HERALD_RING_UNSURE);
    hr_ring_close(&f->ring);
    assert_int_equal(php_herald_ring_fate(&f->p, end2), PHP_HERALD_RING_LOST);
    fixture_free(f);
}

/* One byte carrying one descriptor (SCM_RIGHTS), as the relay sends its. */
typedef struct fd_msg {
    struct msghdr mh;
    struct iovec iov;
    char byte;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
} fd_msg_t;

static struct msghdr *fd_msg_init(fd_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->iov = (struct iovec){&m->byte, 1};
    m->mh = (struct msghdr){.msg_iov = &m->iov,
                            .msg_iovlen = 1,
                            .msg_control = m->cm.buf,
                            .msg_controllen = sizeof m->cm.buf};
    return &m->mh;
}

static void send_fd(int sock, int fd)
{
    fd_msg_t m;
    struct msghdr *mh = fd_msg_init(&m);
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sock, mh, 0) != 1)
        _exit(3);
}

static int recv_fd(int sock)
{
    fd_msg_t m;
    struct msghdr *mh = fd_msg_init(&m);
    assert_int_equal(recvmsg(sock, mh, 0), 1);
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    assert_non_null(c);
    assert_int_equal(c->cmsg_type, SCM_RIGHTS);
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

/* A relay that dies holding its life page: the kernel marks the word, the
 * producer sees a dead relay with one load, and an unread frame is LOST. */
static void test_life_word_of_a_dead_relay(void **state)
{
    int sp[2], go[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        hr_life_t l;
        char byte;
        close(sp[0]);
        close(go[1]);
        if (hr_life_create(&l) != 0)
            _exit(2);
        send_fd(sp[1], l.fd);
        if (read(go[0], &byte, 1) < 0) /* EOF: the parent says die */
            _exit(4);
        _exit(0); /* dies holding the mutex */
    }
    close(sp[1]);
    close(go[0]);
    int life_fd = recv_fd(sp[0]);
    hr_ring_t ring;
    php_herald_ring p;
    assert_int_equal(hr_ring_create(&ring, 4096), 0);
    map_producer(&p, ring.fd, life_fd, 4096);
    close(life_fd);
    hr_ring_close_fd(&ring);
    assert_int_equal(php_herald_ring_alive(&p), 1);
    unsigned char frame[10] = {0};
    uint64_t end;
    int wake, status;
    assert_int_equal(put(&p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(php_herald_ring_fate(&p, end), PHP_HERALD_RING_READ); /* alive */
    close(go[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    uint32_t w = *(const uint32_t *)(const void *)(p.life + p.life_word);
    assert_true((w & HR_FUTEX_OWNER_DIED) != 0);
    assert_int_equal(php_herald_ring_alive(&p), 0);
    assert_int_equal(php_herald_ring_fate(&p, end), PHP_HERALD_RING_LOST);
    assert_int_equal(put(&p, frame, 10, &end, &wake), PHP_HERALD_RING_GONE);
    php_herald_ring_unmap(&p);
    hr_ring_close(&ring);
    close(sp[0]);
}

#define STRESS_FRAMES 200000

/* Frame i: [length][i, 4 bytes][i % 13 filler bytes of i & 0xff]. */
static void stress_producer(int ring_fd, int life_fd, int wake_fd)
{
    php_herald_ring p;
    php_herald_ring_init(&p);
    if (php_herald_ring_map(&p, ring_fd, life_fd, 4096) != 0)
        _exit(2);
    for (uint32_t i = 0; i < STRESS_FRAMES; i++) {
        unsigned char frame[32];
        size_t len = 5 + i % 13;
        frame[0] = (unsigned char)len;
        memcpy(frame + 1, &i, 4);
        memset(frame + 5, (int)(i & 0xff), len - 5);
        for (;;) {
            uint64_t end;
            int wake;
            int r = put(&p, frame, len, &end, &wake);
            if (wake && write(wake_fd, "w", 1) != 1)
                _exit(3);
            if (r == PHP_HERALD_RING_SENT)
                break;
            if (r != PHP_HERALD_RING_FULL)
                _exit(4);
            sched_yield();
        }
    }
    _exit(0);
}

/* A producer process at full speed against this one: every frame, in
 * order, whole, through a 4 KiB ring, with the consumer going to sleep
 * whenever it runs dry and the producer waking it over a pipe. */
static void test_two_processes(void **state)
{
    hr_life_t life;
    hr_ring_t ring;
    int wp[2];
    assert_int_equal(hr_life_create(&life), 0);
    assert_int_equal(hr_ring_create(&ring, 4096), 0);
    assert_int_equal(pipe(wp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(wp[0]);
        stress_producer(dup(ring.fd), dup(life.fd), wp[1]);
    }
    close(wp[1]);
    hr_ring_close_fd(&ring);
    static unsigned char buf[4096];
    uint32_t next = 0;
    uint64_t sleeps = 0;
    while (next < STRESS_FRAMES) {
        int64_t fill = hr_ring_fill(&ring);
        assert_true(fill >= 0);
        if (fill == 0) {
            if (!hr_ring_try_sleep(&ring))
                continue;
            char byte;
            sleeps++;
            if (read(wp[0], &byte, 1) != 1)
                fail_msg("producer gone at frame %u", next);
            hr_ring_wake(&ring);
            continue;
        }
        size_t n = hr_ring_read(&ring, buf, sizeof buf), off = 0;
        while (off < n) {
            size_t len = buf[off];
            uint32_t seq;
            assert_true(off + len <= n); /* only whole frames are published */
            memcpy(&seq, buf + off + 1, 4);
            if (seq != next || len != 5 + seq % 13)
                fail_msg("frame %u: got seq %u, %zu bytes", next, seq, len);
            for (size_t j = 5; j < len; j++)
                assert_int_equal(buf[off + j], seq & 0xff);
            next++;
            off += len;
        }
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(hr_ring_fill(&ring), 0);
    print_message("# %u frames, %llu bytes, the consumer slept %llu times\n", next,
                  (unsigned long long)ring.tail, (unsigned long long)sleeps);
    close(wp[0]);
    hr_ring_close(&ring);
    hr_life_free(&life);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grant_size),
        cmocka_unit_test(test_create_and_seals),
        cmocka_unit_test(test_bytes_across_the_wrap),
        cmocka_unit_test(test_full_and_too_big),
        cmocka_unit_test(test_corrupt_head),
        cmocka_unit_test(test_sleep_and_wake),
        cmocka_unit_test(test_wake_after_the_relay_read),
        cmocka_unit_test(test_close_and_fate),
        cmocka_unit_test(test_clean_unlock),
        cmocka_unit_test(test_life_word_of_a_dead_relay),
        cmocka_unit_test(test_two_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
