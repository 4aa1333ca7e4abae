/* SPDX-License-Identifier: MIT
 * test_ring.c: the shared-memory ingest ring, the relay's consumer
 * (relay/src/ingest/ring.c) against the extension's producer (ext/herald_ring.c)
 * mapping the same memfds: bytes across the wrap, FULL and TOO_BIG, a
 * corrupt head, the sleep/wake handshake, close and fate, the life word of
 * a relay that dies or stops cleanly (the life thread's robust list), the
 * control page that the producer can only read, and two processes at full
 * speed. Synchronisation is by pipes and shared counters, never by
 * sleeping. */
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
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ext/herald_ring.h"
#include "abi/herald_ring_abi.h"
#include "ingest/ring.h"

#define HEAD(r) ((uint64_t *)(void *)((r)->base + HR_RING_OFF_HEAD))
#define LIFE(p) (*(const uint32_t *)(const void *)((p)->ctl + HR_CTL_OFF_LIFE))

typedef struct fixture {
    hr_life_t life;
    hr_ring_t ring; /* the relay's */
    php_herald_ring p;
} fixture_t;

/* The producer maps copies: php_herald_ring_map closes what it gets. */
static void map_producer(php_herald_ring *p, int ring_fd, int ctl_fd, uint32_t size)
{
    php_herald_ring_init(p);
    assert_int_equal(php_herald_ring_map(p, dup(ring_fd), dup(ctl_fd), size), 0);
}

static fixture_t *fixture(uint32_t size)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(hr_life_start(&f->life, 16), 0);
    assert_int_equal(hr_ring_create(&f->ring, &f->life, size), 0);
    map_producer(&f->p, f->ring.fd, f->ring.ctl_fd, size);
    hr_ring_close_fd(&f->ring);
    return f;
}

static void fixture_free(fixture_t *f)
{
    php_herald_ring_unmap(&f->p);
    hr_ring_close(&f->ring);
    hr_life_stop(&f->life);
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
    hr_life_t l;
    hr_ring_t r;
    assert_int_equal(hr_life_start(&l, 1), 0);
    assert_int_equal(hr_ring_create(&r, &l, 5000), EINVAL);
    assert_int_equal(hr_ring_create(&r, &l, HR_RING_MAX_BYTES * 2), EINVAL);
    hr_life_stop(&l);
}

/* The producer accepts what the relay made; a shrink is refused (sealed);
 * the control page's descriptor is read-only and cannot be made writable. */
static void test_create_and_seals(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_int_equal(hr_life_start(&f->life, 4), 0);
    assert_int_equal(hr_ring_create(&f->ring, &f->life, 8192), 0);
    assert_int_not_equal(ftruncate(f->ring.fd, 4096), 0);
    assert_int_equal(fcntl(f->ring.ctl_fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    assert_ptr_equal(
        mmap(NULL, HR_CTL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, f->ring.ctl_fd, 0),
        MAP_FAILED);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", f->ring.ctl_fd);
    int rw = open(path, O_RDWR);
    if (rw >= 0) { /* root may open it (mode 0400); the seal still says no */
        assert_int_not_equal(ftruncate(rw, 0), 0);
#if F_SEAL_FUTURE_WRITE != 0
        assert_ptr_equal(mmap(NULL, HR_CTL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0),
                         MAP_FAILED);
        assert_int_equal(write(rw, "x", 1), -1);
#endif
        close(rw);
    }
    map_producer(&f->p, f->ring.fd, f->ring.ctl_fd, 8192);
    assert_int_equal(f->p.size, 8192);
    assert_int_equal(php_herald_ring_alive(&f->p), 1);
    assert_int_equal(LIFE(&f->p), f->life.tid);
    /* A size the relay did not grant is refused. */
    php_herald_ring q;
    php_herald_ring_init(&q);
    assert_int_equal(php_herald_ring_map(&q, dup(f->ring.fd), dup(f->ring.ctl_fd), 4096), EPROTO);
    /* So is a ring of another version (a relay older or newer). */
    *(uint32_t *)(void *)(f->ring.ctl + HR_CTL_OFF_VERSION) = 2;
    assert_int_equal(php_herald_ring_map(&q, dup(f->ring.fd), dup(f->ring.ctl_fd), 8192), EPROTO);
    hr_ring_close_fd(&f->ring);
    fixture_free(f);
}

/* Slots: as many rings as asked for, then ENOSPC; a closed ring's slot is
 * used again, and the list holds exactly the open rings. */
static void test_slots(void **state)
{
    hr_life_t l;
    hr_ring_t r[3];
    assert_int_equal(hr_life_start(&l, 2), 0);
    assert_int_equal(hr_life_free_slots(&l), 2);
    assert_int_equal(hr_ring_create(&r[0], &l, 4096), 0);
    assert_int_equal(hr_ring_create(&r[1], &l, 4096), 0);
    assert_int_equal(hr_ring_create(&r[2], &l, 4096), ENOSPC);
    assert_int_equal(hr_life_free_slots(&l), 0);
    /* Each entry is one page before its control page, as futex_offset says. */
    int n = 0;
    for (struct robust_list *e = l.head.list.next; e != &l.head.list; e = e->next, n++) {
        const uint32_t *w = (const uint32_t *)(const void *)((char *)e + l.head.futex_offset);
        assert_int_equal(*w, l.tid);
    }
    assert_int_equal(n, 2);
    hr_ring_close(&r[0]);
    assert_int_equal(hr_life_free_slots(&l), 1);
    assert_ptr_equal(l.head.list.next->next, &l.head.list); /* one left */
    assert_int_equal(hr_ring_create(&r[2], &l, 4096), 0);
    hr_ring_close(&r[1]);
    hr_ring_close(&r[2]);
    assert_ptr_equal(l.head.list.next, &l.head.list);
    for (int i = 0; i < 3; i++)
        hr_ring_close_fd(&r[i]);
    hr_life_stop(&l);
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
    /* Whatever the producer writes over its header is never read back. */
    memset(f->p.base, 0xff, HR_RING_OFF_HEAD);
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
    /* A wake that could not be written is asked for again by the next put. */
    php_herald_ring_wake_failed(&f->p);
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(wake, 1);
    assert_int_equal(take(&f->ring, in, sizeof in), 30);
    /* The wake arrives: awake, read, asleep again; the next frame wakes. */
    hr_ring_wake(&f->ring);
    assert_int_equal(take(&f->ring, in, sizeof in), 0);
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

/* The relay side of a wait, in a child: once the producer says it waits,
 * read everything (which wakes it), or close the ring. */
static void wait_partner(fixture_t *f, int close_it)
{
    static unsigned char in[65536];
    while (__atomic_load_n((uint32_t *)(void *)(f->ring.base + HR_RING_OFF_WAITING),
                           __ATOMIC_ACQUIRE) == 0)
        sched_yield();
    if (close_it) {
        hr_ring_close(&f->ring);
        _exit(0);
    }
    int64_t fill = hr_ring_fill(&f->ring);
    if (fill <= 0)
        _exit(5);
    hr_ring_read(&f->ring, in, sizeof in);
    _exit(hr_ring_space(&f->ring) == 1 ? 0 : 6);
}

/* A full ring: the producer waits (one futex wait at most, no timer) until
 * the relay's read wakes it; a ring the relay closes wakes it too, with no
 * room. Nothing here sleeps for a time: the timeout is a minute. */
static void test_wait_for_room(void **state)
{
    for (int close_it = 0; close_it < 2; close_it++) {
        fixture_t *f = fixture(4096);
        unsigned char frame[1000] = {0};
        uint64_t end;
        int wake, status;
        while (put(&f->p, frame, sizeof frame, &end, &wake) == PHP_HERALD_RING_SENT)
            ;
        assert_int_equal(php_herald_ring_wait(&f->p, sizeof frame, 0), 0); /* no time: no wait */
        assert_int_equal(f->p.waits, 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            wait_partner(f, close_it);
        int room = php_herald_ring_wait(&f->p, sizeof frame, 60000000000ull);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(f->p.waits <= 1); /* woken, or it saw the change before sleeping */
        assert_int_equal(*(uint32_t *)(void *)(f->p.base + HR_RING_OFF_WAITING), 0);
        if (close_it) {
            assert_int_equal(room, 0);
            assert_int_equal(php_herald_ring_alive(&f->p), 0);
        } else {
            assert_int_equal(room, 1);
            assert_int_equal(put(&f->p, frame, sizeof frame, &end, &wake), PHP_HERALD_RING_SENT);
        }
        fixture_free(f); /* closes our copy of the ring (the child closed its own) */
    }
}

/* waiting is the publisher's to write: a lie costs the relay a FUTEX_WAKE
 * per read, nothing else. */
static void test_waiting_is_a_hint(void **state)
{
    fixture_t *f = fixture(4096);
    unsigned char frame[10] = {0}, in[4096];
    uint64_t end;
    int wake;
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(take(&f->ring, in, sizeof in), 10);
    assert_int_equal(hr_ring_space(&f->ring), 0);
    *(uint32_t *)(void *)(f->p.base + HR_RING_OFF_WAITING) = 0xdeadbeef;
    assert_int_equal(put(&f->p, frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
    assert_int_equal(take(&f->ring, in, sizeof in), 10);
    assert_int_equal(hr_ring_space(&f->ring), 1);
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
    hr_life_release(&f->life);
    assert_int_equal(LIFE(&f->p), 0);
    assert_int_equal(php_herald_ring_alive(&f->p), 0);
    assert_int_equal(php_herald_ring_fate(&f->p, end1), PHP_HERALD_RING_READ);
    assert_int_equal(php_herald_ring_fate(&f->p, end2), PHP_HERALD_RING_UNSURE);
    hr_ring_close(&f->ring);
    assert_int_equal(php_herald_ring_fate(&f->p, end2), PHP_HERALD_RING_LOST);
    fixture_free(f);
}

/* One byte carrying two descriptors (SCM_RIGHTS), as the relay sends its. */
typedef struct fd_msg {
    struct msghdr mh;
    struct iovec iov;
    char byte;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
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

static void send_fds(int sock, const int fds[2])
{
    fd_msg_t m;
    struct msghdr *mh = fd_msg_init(&m);
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), fds, 2 * sizeof(int));
    if (sendmsg(sock, mh, 0) != 1)
        _exit(3);
}

static void recv_fds(int sock, int fds[2])
{
    fd_msg_t m;
    struct msghdr *mh = fd_msg_init(&m);
    assert_int_equal(recvmsg(sock, mh, 0), 1);
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    assert_non_null(c);
    assert_int_equal(c->cmsg_type, SCM_RIGHTS);
    assert_int_equal(c->cmsg_len, CMSG_LEN(2 * sizeof(int)));
    memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
}

enum death { DIE_EXIT, DIE_KILL, DIE_ABORT, STOP_CLEAN };

/* A relay process (a child here) with three rings, all handed to this
 * process (the publisher); the middle one is closed before the end, so the
 * list has had an entry taken out. It ends as how says. */
static void relay_child(int sock, int go, enum death how)
{
    hr_life_t l;
    hr_ring_t r[3];
    char byte;
    if (hr_life_start(&l, 8) != 0)
        _exit(2);
    for (int i = 0; i < 3; i++) {
        if (hr_ring_create(&r[i], &l, 4096) != 0)
            _exit(2);
        int fds[2] = {r[i].fd, r[i].ctl_fd};
        send_fds(sock, fds);
        hr_ring_close_fd(&r[i]);
    }
    hr_ring_close(&r[1]);
    if (read(go, &byte, 1) < 0) /* EOF: the parent says end */
        _exit(4);
    switch (how) {
    case DIE_KILL:
        kill(getpid(), SIGKILL);
        break;
    case DIE_ABORT:
        signal(SIGABRT, SIG_DFL);
        abort();
    case STOP_CLEAN:
        hr_life_release(&l);
        hr_ring_close(&r[0]);
        hr_ring_close(&r[2]);
        hr_life_stop(&l);
        break;
    case DIE_EXIT:
        break;
    }
    _exit(0); /* DIE_EXIT: gone without a word, the life thread still running */
}

/* A relay that dies, however it dies: the kernel walks the life thread's
 * robust list and marks every open ring's life word, the producer sees a
 * dead relay with one load, and an unread frame is LOST. A clean stop
 * leaves 0, not a death. */
static void test_life_word_of_a_dead_relay(void **state)
{
    const enum death hows[] = {DIE_EXIT, DIE_KILL, DIE_ABORT, STOP_CLEAN};
    for (size_t k = 0; k < sizeof hows / sizeof hows[0]; k++) {
        int sp[2], go[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        assert_int_equal(pipe(go), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(sp[0]);
            close(go[1]);
            relay_child(sp[1], go[0], hows[k]);
        }
        close(sp[1]);
        close(go[0]);
        php_herald_ring p[3];
        for (int i = 0; i < 3; i++) {
            int fds[2];
            recv_fds(sp[0], fds);
            assert_int_equal(fcntl(fds[1], F_GETFL) & O_ACCMODE, O_RDONLY);
            php_herald_ring_init(&p[i]);
            assert_int_equal(php_herald_ring_map(&p[i], fds[0], fds[1], 4096), 0);
        }
        unsigned char frame[10] = {0};
        uint64_t end;
        int wake, status;
        assert_int_equal(php_herald_ring_alive(&p[0]), 1);
        assert_int_equal(put(&p[0], frame, 10, &end, &wake), PHP_HERALD_RING_SENT);
        assert_int_equal(php_herald_ring_fate(&p[0], end), PHP_HERALD_RING_READ); /* alive */
        close(go[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (hows[k] == DIE_KILL)
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        else if (hows[k] == DIE_ABORT)
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        else
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        for (int i = 0; i < 3; i += 2) {
            uint32_t w = LIFE(&p[i]);
            if (hows[k] == STOP_CLEAN) {
                assert_int_equal(w, 0);
            } else {
                assert_int_equal(w, HR_FUTEX_OWNER_DIED); /* the id is cleared */
            }
            assert_int_equal(php_herald_ring_alive(&p[i]), 0);
        }
        assert_int_equal(php_herald_ring_fate(&p[0], end), PHP_HERALD_RING_LOST);
        assert_int_equal(put(&p[0], frame, 10, &end, &wake), PHP_HERALD_RING_GONE);
        /* The closed ring's word went back to 0 with its slot; closed says it. */
        assert_int_equal(php_herald_ring_alive(&p[1]), 0);
        for (int i = 0; i < 3; i++)
            php_herald_ring_unmap(&p[i]);
        close(sp[0]);
    }
}

#define STRESS_FRAMES 200000

/* Frame i: [length][i, 4 bytes][i % 13 filler bytes of i & 0xff]. */
static void stress_producer(int ring_fd, int ctl_fd, int wake_fd)
{
    php_herald_ring p;
    php_herald_ring_init(&p);
    if (php_herald_ring_map(&p, ring_fd, ctl_fd, 4096) != 0)
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
    assert_int_equal(hr_life_start(&life, 1), 0);
    assert_int_equal(hr_ring_create(&ring, &life, 4096), 0);
    assert_int_equal(pipe(wp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(wp[0]);
        stress_producer(dup(ring.fd), dup(ring.ctl_fd), wp[1]);
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
    hr_life_stop(&life);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grant_size),
        cmocka_unit_test(test_create_and_seals),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_bytes_across_the_wrap),
        cmocka_unit_test(test_full_and_too_big),
        cmocka_unit_test(test_corrupt_head),
        cmocka_unit_test(test_sleep_and_wake),
        cmocka_unit_test(test_wake_after_the_relay_read),
        cmocka_unit_test(test_wait_for_room),
        cmocka_unit_test(test_waiting_is_a_hint),
        cmocka_unit_test(test_close_and_fate),
        cmocka_unit_test(test_clean_unlock),
        cmocka_unit_test(test_life_word_of_a_dead_relay),
        cmocka_unit_test(test_two_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
