/* SPDX-License-Identifier: MIT
 * ring.c: the consumer side of the shared-memory ingest ring and the life
 * page. herald_ring_abi.h has the layout and why the protocol is safe; this
 * file follows it. The producer is another user's process: nothing in the
 * ring is trusted except head, which is checked against our own tail. */
#include "ingest/ring.h"
#include "abi/herald_ring_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0 /* headers older than Linux 5.1 */
#endif

#define U32(base, off) ((uint32_t *)(void *)((base) + (off)))
#define U64(base, off) ((uint64_t *)(void *)((base) + (off)))

/* A sealable memfd of len bytes, mapped read-write. 0 or an errno value. */
static int memfd_map(const char *name, size_t len, int *fd, unsigned char **base)
{
    *fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (*fd < 0)
        return errno;
    void *p = MAP_FAILED;
    if (ftruncate(*fd, (off_t)len) == 0)
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        close(*fd);
        *fd = -1;
        return err;
    }
    *base = p;
    return 0;
}

/* ---- the life page ---- */

int hr_life_create(hr_life_t *l)
{
    pthread_mutexattr_t a;
    pthread_mutex_t *m;
    int err;

    memset(l, 0, sizeof *l);
    l->fd = -1;
    if ((err = memfd_map("herald-life", HR_LIFE_BYTES, &l->fd, &l->base)) != 0)
        return err;
    m = (pthread_mutex_t *)(void *)(l->base + HR_LIFE_OFF_MUTEX);
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    err = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    if (err == 0 && (err = pthread_mutex_lock(m)) == 0)
        l->locked = 1;
    /* The futex word holds the owner's thread id (the kernel's robust-futex
     * protocol), wherever the C library puts it inside pthread_mutex_t. */
    uint32_t tid = (uint32_t)gettid(), word = 0;
    for (size_t off = 0; err == 0 && off + 4 <= sizeof *m; off += 4) {
        if (*U32(l->base, HR_LIFE_OFF_MUTEX + off) == tid) {
            word = (uint32_t)(HR_LIFE_OFF_MUTEX + off);
            break;
        }
    }
    if (err == 0 && word == 0)
        err = ENOTSUP;
    if (err == 0) {
        *U32(l->base, HR_LIFE_OFF_WORD) = word;
        *U32(l->base, HR_LIFE_OFF_MAGIC) = HR_LIFE_MAGIC;
        /* A kernel before 5.1 knows no FUTURE_WRITE: publishers map the
         * page read-only anyway, so go on without it. */
        int r = fcntl(l->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE);
        if (r != 0 && errno == EINVAL)
            r = fcntl(l->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
        if (r != 0 || fcntl(l->fd, F_ADD_SEALS, F_SEAL_SEAL) != 0)
            err = errno;
    }
    if (err != 0)
        hr_life_free(l);
    return err;
}

void hr_life_unlock(hr_life_t *l)
{
    if (l->locked) {
        pthread_mutex_unlock((pthread_mutex_t *)(void *)(l->base + HR_LIFE_OFF_MUTEX));
        l->locked = 0;
    }
}

void hr_life_free(hr_life_t *l)
{
    /* Unlock before unmapping: a robust mutex stays on the C library's list
     * of held ones, which it walks on later locks and at thread exit. */
    if (l->base) {
        hr_life_unlock(l);
        munmap(l->base, HR_LIFE_BYTES);
    }
    if (l->fd >= 0)
        close(l->fd);
    l->base = NULL;
    l->fd = -1;
}

/* ---- rings ---- */

uint32_t hr_ring_grant_size(uint64_t want, uint64_t max)
{
    if (max > HR_RING_MAX_BYTES)
        max = HR_RING_MAX_BYTES;
    if (max < HR_RING_MIN_BYTES)
        return 0;
    uint64_t n = want < max ? want : max;
    if (n < HR_RING_MIN_BYTES)
        return HR_RING_MIN_BYTES;
    while (n & (n - 1))
        n &= n - 1; /* clear low bits down to the highest one */
    return (uint32_t)n;
}

int hr_ring_create(hr_ring_t *r, uint32_t size)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    if (size < HR_RING_MIN_BYTES || size > HR_RING_MAX_BYTES || (size & (size - 1)) != 0)
        return EINVAL;
    int err = memfd_map("herald-ring", HR_RING_DATA_OFF + (size_t)size, &r->fd, &r->base);
    if (err != 0)
        return err;
    /* The publisher maps it read-write; it must never be able to shrink it
     * under our mapping (we would die of SIGBUS). */
    if (fcntl(r->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        err = errno;
        munmap(r->base, HR_RING_DATA_OFF + (size_t)size);
        close(r->fd);
        memset(r, 0, sizeof *r);
        r->fd = -1;
        return err;
    }
    r->size = size;
    *U32(r->base, HR_RING_OFF_MAGIC) = HR_RING_MAGIC;
    *U32(r->base, HR_RING_OFF_VERSION) = HR_RING_VERSION;
    *U32(r->base, HR_RING_OFF_SIZE) = size;
    return 0; /* a new memfd is zeroes: head, tail, sleeping, closed */
}

void hr_ring_close_fd(hr_ring_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

int64_t hr_ring_fill(hr_ring_t *r)
{
    uint64_t head = __atomic_load_n(U64(r->base, HR_RING_OFF_HEAD), __ATOMIC_ACQUIRE);
    /* Unsigned: a head behind our tail is as corrupt as one too far on. */
    if (head - r->tail > r->size)
        return -1;
    r->head = head;
    return (int64_t)(head - r->tail);
}

size_t hr_ring_read(hr_ring_t *r, void *buf, size_t cap)
{
    size_t n = (size_t)(r->head - r->tail);
    if (n > cap)
        n = cap;
    if (n == 0)
        return 0;
    const unsigned char *data = r->base + HR_RING_DATA_OFF;
    size_t off = (size_t)(r->tail & (r->size - 1)), first = r->size - off;
    if (n <= first) {
        memcpy(buf, data + off, n);
    } else {
        memcpy(buf, data + off, first);
        memcpy((unsigned char *)buf + first, data, n - first);
    }
    r->tail += n;
    __atomic_store_n(U64(r->base, HR_RING_OFF_TAIL), r->tail, __ATOMIC_RELEASE);
    return n;
}

int hr_ring_try_sleep(hr_ring_t *r)
{
    /* Each sleep has its own number (0 means awake): the producer asks for
     * one wake per number it sees, so a wake written for an earlier sleep,
     * arriving late, never stands for this one. */
    if (++r->gen == 0)
        r->gen = 1;
    /* Dekker with the producer: we store sleeping, fence, load head; it
     * stores head, fences, loads sleeping. One of us sees the other. */
    __atomic_store_n(U32(r->base, HR_RING_OFF_SLEEPING), r->gen, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(U64(r->base, HR_RING_OFF_HEAD), __ATOMIC_SEQ_CST) != r->tail) {
        __atomic_store_n(U32(r->base, HR_RING_OFF_SLEEPING), 0, __ATOMIC_SEQ_CST);
        return 0;
    }
    return 1;
}

void hr_ring_wake(hr_ring_t *r)
{
    __atomic_store_n(U32(r->base, HR_RING_OFF_SLEEPING), 0, __ATOMIC_SEQ_CST);
    /* A producer may have stored head, then found this sleep's generation
     * and written no wake (it had asked for one already, maybe the one that
     * woke us): the next hr_ring_fill must see that head, as ingest.c drains
     * it in this turn before releasing frames. Store, fence, load, as in
     * try_sleep: a seq_cst store alone does not order a later load. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void hr_ring_close(hr_ring_t *r)
{
    if (r->base) {
        /* The producer's fate() reads closed, then tail: tail goes first. */
        __atomic_store_n(U64(r->base, HR_RING_OFF_TAIL), r->tail, __ATOMIC_RELEASE);
        __atomic_store_n(U32(r->base, HR_RING_OFF_CLOSED), 1, __ATOMIC_RELEASE);
        munmap(r->base, HR_RING_DATA_OFF + (size_t)r->size);
    }
    hr_ring_close_fd(r);
    r->base = NULL;
}
