/* SPDX-License-Identifier: MIT
 * ring.c: the consumer side of the shared-memory ingest ring and the life
 * thread. abi/herald_ring_abi.h has the layout and why the protocol is safe;
 * this file follows it. The producer is another user's process: of what it
 * can write the relay loads only head (checked against our own tail) and
 * waiting (a hint to make a system call), and never a pointer. */
#include "ingest/ring.h"
#include "abi/herald_ring_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0 /* headers older than Linux 5.1 */
#endif

#define U32(base, off) ((uint32_t *)(void *)((base) + (off)))
#define U64(base, off) ((uint64_t *)(void *)((base) + (off)))

/* A slot's first page: the robust list entry, and our link back. */
typedef struct slot_entry {
    struct robust_list node; /* the kernel reads node.next, nothing else */
    struct robust_list *prev;
} slot_entry_t;

static unsigned char *slot_at(const hr_life_t *l, uint32_t slot)
{
    return l->slots + (size_t)slot * 2 * l->page;
}

/* ---- the life thread ---- */

/* Registers its own robust list (which replaces the one glibc gave it: this
 * thread never takes a glibc robust mutex), says its id, and waits for the
 * end. It does nothing else: its exit, clean or by the process's death, is
 * what makes the kernel walk the list. */
static void *life_main(void *arg)
{
    const hr_life_t *l = arg;
    int fd = l->thread_fd; /* ours of the socket pair; the other is the loop's */
    uint32_t tid = 0;
    if (syscall(SYS_set_robust_list, &l->head, sizeof l->head) == 0)
        tid = (uint32_t)gettid();
    if (write(fd, &tid, sizeof tid) == (ssize_t)sizeof tid) {
        char byte;
        while (read(fd, &byte, 1) < 0 && errno == EINTR)
            ; /* EOF: hr_life_stop */
    }
    close(fd);
    return NULL;
}

int hr_life_start(hr_life_t *l, uint32_t max_rings)
{
    int sp[2], err;
    memset(l, 0, sizeof *l);
    l->stop_fd = -1;
    if (max_rings == 0 || max_rings > HR_RING_MAX_RINGS)
        max_rings = HR_RING_MAX_RINGS;
    /* Control pages go out reopened read-only through /proc (a chroot or
     * a sandbox may lack it): better no rings than a failure per ring. */
    if (access("/proc/self/fd", F_OK) != 0)
        return errno;
    l->page = (size_t)sysconf(_SC_PAGESIZE);
    /* The entries are private and never shared: only the control pages
     * mapped over every other page are. Reserved, committed on first use. */
    void *p = mmap(NULL, (size_t)max_rings * 2 * l->page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return errno;
    l->slots = p;
    l->nslots = max_rings;
    l->free = malloc(max_rings * sizeof *l->free);
    if (l->free == NULL) {
        munmap(p, (size_t)max_rings * 2 * l->page);
        return ENOMEM;
    }
    for (uint32_t i = 0; i < max_rings; i++)
        l->free[i] = max_rings - 1 - i; /* slot 0 is taken first */
    l->nfree = max_rings;
    l->head.list.next = &l->head.list; /* empty: the list is circular */
    l->head.futex_offset = (long)(l->page + HR_CTL_OFF_LIFE);
    l->head.list_op_pending = NULL;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
        err = errno;
        goto fail;
    }
    /* Signals go to the loop thread: the life thread blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    l->thread_fd = sp[1];
    err = pthread_create(&l->thread, NULL, life_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        close(sp[0]);
        close(sp[1]);
        goto fail;
    }
    l->stop_fd = sp[0];
    uint32_t tid = 0;
    ssize_t n;
    while ((n = read(sp[0], &tid, sizeof tid)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof tid || tid == 0 || (tid & ~HR_FUTEX_TID_MASK) != 0) {
        hr_life_stop(l);
        return ENOTSUP; /* set_robust_list refused (or a thread id past the mask) */
    }
    l->tid = tid;
    return 0;
fail:
    free(l->free);
    munmap(l->slots, (size_t)l->nslots * 2 * l->page);
    memset(l, 0, sizeof *l);
    l->stop_fd = -1;
    return err;
}

void hr_life_release(hr_life_t *l)
{
    for (struct robust_list *e = l->head.list.next; l->slots && e != &l->head.list; e = e->next)
        __atomic_store_n(U32((unsigned char *)e, l->head.futex_offset), 0, __ATOMIC_SEQ_CST);
}

void hr_life_stop(hr_life_t *l)
{
    if (l->stop_fd >= 0) {
        close(l->stop_fd); /* the thread reads EOF and returns */
        pthread_join(l->thread, NULL);
        l->stop_fd = -1;
    }
    if (l->slots)
        munmap(l->slots, (size_t)l->nslots * 2 * l->page);
    free(l->free);
    memset(l, 0, sizeof *l);
    l->stop_fd = -1;
}

uint32_t hr_life_free_slots(const hr_life_t *l)
{
    return l->tid ? l->nfree : 0;
}

/* Put e first on the list. Each store leaves a list the kernel can walk:
 * e points on before anything points at it. */
static void list_add(hr_life_t *l, slot_entry_t *e)
{
    struct robust_list *first = l->head.list.next;
    e->node.next = first;
    e->prev = &l->head.list;
    if (first != &l->head.list)
        ((slot_entry_t *)(void *)first)->prev = &e->node;
    __atomic_store_n(&l->head.list.next, &e->node, __ATOMIC_RELEASE);
}

/* Take e off with one store; a walk that stands on e goes on from it. */
static void list_del(hr_life_t *l, slot_entry_t *e)
{
    struct robust_list *next = e->node.next;
    __atomic_store_n(&e->prev->next, next, __ATOMIC_RELEASE);
    if (next != &l->head.list)
        ((slot_entry_t *)(void *)next)->prev = e->prev;
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

/* A sealable memfd of len bytes, mapped read-write (at want with MAP_FIXED
 * when want is not NULL). 0 or an errno value. */
static int memfd_map(const char *name, size_t len, void *want, int *fd, unsigned char **base)
{
    *fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (*fd < 0)
        return errno;
    void *p = MAP_FAILED;
    if (ftruncate(*fd, (off_t)len) == 0)
        p = mmap(want, len, PROT_READ | PROT_WRITE, MAP_SHARED | (want ? MAP_FIXED : 0), *fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        close(*fd);
        *fd = -1;
        return err;
    }
    *base = p;
    return 0;
}

/* Back to a private zero page: the slot stays ours (no hole a list walk
 * could fault in), and its life word reads 0 from now on. */
static void slot_unmap_ctl(hr_life_t *l, unsigned char *ctl)
{
    if (mmap(ctl, l->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) == MAP_FAILED)
        abort(); /* cannot happen for a range we own; a hole would be worse */
}

/* The descriptor for the publisher: the same file opened again, read-only.
 * A read-only descriptor cannot be mapped writable (EACCES), whatever the
 * seals; reopening it read-write is what F_SEAL_FUTURE_WRITE stops. -1 with
 * errno when /proc is not there. */
static int reopen_read_only(int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static int seal(int fd, int future_write)
{
    int s = F_SEAL_SHRINK | F_SEAL_GROW;
    /* A kernel before 5.1 knows no FUTURE_WRITE: the read-only descriptor
     * still keeps the publisher from mapping the page writable. */
    if (future_write && F_SEAL_FUTURE_WRITE != 0 &&
        fcntl(fd, F_ADD_SEALS, s | F_SEAL_FUTURE_WRITE) == 0)
        return fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0 ? 0 : errno;
    if (fcntl(fd, F_ADD_SEALS, s) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) != 0)
        return errno;
    return 0;
}

int hr_ring_create(hr_ring_t *r, hr_life_t *l, uint32_t size)
{
    int err, ctl_rw = -1;
    memset(r, 0, sizeof *r);
    r->fd = r->ctl_fd = -1;
    if (size < HR_RING_MIN_BYTES || size > HR_RING_MAX_BYTES || (size & (size - 1)) != 0)
        return EINVAL;
    if (l->tid == 0)
        return ENOTSUP;
    if (l->nfree == 0)
        return ENOSPC;
    uint32_t slot = l->free[l->nfree - 1];
    unsigned char *entry = slot_at(l, slot), *ctl = NULL;
    err = memfd_map("herald-ring", HR_RING_DATA_OFF + (size_t)size, NULL, &r->fd, &r->base);
    if (err != 0)
        goto fail;
    /* The publisher maps it read-write; it must never be able to shrink it
     * under our mapping (we would die of SIGBUS). */
    if ((err = seal(r->fd, 0)) != 0)
        goto fail;
    err = memfd_map("herald-ring-ctl", HR_CTL_BYTES, entry + l->page, &ctl_rw, &ctl);
    if (err != 0) {
        ctl = NULL;
        goto fail;
    }
    r->ctl = ctl;
    *U32(r->base, HR_RING_OFF_MAGIC) = HR_RING_MAGIC;
    *U32(r->base, HR_RING_OFF_VERSION) = HR_RING_VERSION;
    *U32(r->base, HR_RING_OFF_SIZE) = size;
    *U32(ctl, HR_CTL_OFF_MAGIC) = HR_CTL_MAGIC;
    *U32(ctl, HR_CTL_OFF_VERSION) = HR_RING_VERSION;
    *U32(ctl, HR_CTL_OFF_SIZE) = size;
    __atomic_store_n(U32(ctl, HR_CTL_OFF_LIFE), l->tid, __ATOMIC_RELEASE);
    if ((r->ctl_fd = reopen_read_only(ctl_rw)) < 0) {
        err = errno;
        goto fail;
    }
    if ((err = seal(ctl_rw, 1)) != 0)
        goto fail;
    /* Where the kernel has no FUTURE_WRITE, a publisher of another uid
     * still cannot open the page again for writing. */
    (void)fchmod(ctl_rw, 0400);
    close(ctl_rw); /* our mapping keeps the file */
    l->nfree--;
    r->life = l;
    r->slot = slot;
    r->size = size;
    /* Last: from here the kernel marks the word if we die. Nobody has the
     * descriptors yet, so a death before this line misleads no one. */
    list_add(l, (slot_entry_t *)(void *)entry);
    return 0; /* a new memfd is zeroes: head, waiting, tail, sleeping, closed */
fail:
    if (ctl != NULL) {
        __atomic_store_n(U32(ctl, HR_CTL_OFF_LIFE), 0, __ATOMIC_RELEASE);
        slot_unmap_ctl(l, ctl);
    }
    if (ctl_rw >= 0)
        close(ctl_rw);
    if (r->base)
        munmap(r->base, HR_RING_DATA_OFF + (size_t)size);
    hr_ring_close_fd(r);
    memset(r, 0, sizeof *r);
    r->fd = r->ctl_fd = -1;
    return err;
}

void hr_ring_close_fd(hr_ring_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->ctl_fd >= 0)
        close(r->ctl_fd);
    r->fd = r->ctl_fd = -1;
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
    __atomic_store_n(U64(r->ctl, HR_CTL_OFF_TAIL), r->tail, __ATOMIC_RELEASE);
    return n;
}

/* The producer may go on: change space, then wake whoever waits on it. */
static void wake_space(hr_ring_t *r)
{
    __atomic_store_n(U32(r->ctl, HR_CTL_OFF_SPACE), ++r->space, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, U32(r->ctl, HR_CTL_OFF_SPACE), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int hr_ring_space(hr_ring_t *r)
{
    /* Dekker with a producer that waits: we store tail (hr_ring_read),
     * fence, load waiting; it stores waiting, fences, loads tail. waiting
     * is the publisher's to write: a lying one costs us one system call per
     * read of its ring, which it had to fill first. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(U32(r->base, HR_RING_OFF_WAITING), __ATOMIC_RELAXED) == 0)
        return 0;
    wake_space(r);
    return 1;
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
    __atomic_store_n(U32(r->ctl, HR_CTL_OFF_SLEEPING), r->gen, __ATOMIC_SEQ_CST);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(U64(r->base, HR_RING_OFF_HEAD), __ATOMIC_SEQ_CST) != r->tail) {
        __atomic_store_n(U32(r->ctl, HR_CTL_OFF_SLEEPING), 0, __ATOMIC_SEQ_CST);
        return 0;
    }
    return 1;
}

void hr_ring_wake(hr_ring_t *r)
{
    __atomic_store_n(U32(r->ctl, HR_CTL_OFF_SLEEPING), 0, __ATOMIC_SEQ_CST);
    /* A producer may have stored head, then found this sleep's generation
     * and written no wake (it had asked for one already, maybe the one that
     * woke us): the next hr_ring_fill must see that head, as ingest.c drains
     * it in this turn before releasing frames. Store, fence, load, as in
     * try_sleep: a seq_cst store alone does not order a later load. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void hr_ring_set_refusing(hr_ring_t *r, const char *why)
{
    if (why == NULL) {
        __atomic_store_n(U32(r->ctl, HR_CTL_OFF_REFUSING), 0, __ATOMIC_RELEASE);
        return;
    }
    /* The reason first, then the word that makes a producer read it: 0
     * while it changes, so a producer that reads it while we write finds
     * the word changed and reads again. */
    __atomic_store_n(U32(r->ctl, HR_CTL_OFF_REFUSING), 0, __ATOMIC_RELEASE);
    size_t n = strlen(why);
    if (n > HR_CTL_REASON_MAX - 1)
        n = HR_CTL_REASON_MAX - 1;
    memcpy(r->ctl + HR_CTL_OFF_REASON, why, n);
    r->ctl[HR_CTL_OFF_REASON + n] = '\0';
    if (++r->refuse == 0)
        r->refuse = 1;
    __atomic_store_n(U32(r->ctl, HR_CTL_OFF_REFUSING), r->refuse, __ATOMIC_RELEASE);
}

void hr_ring_close(hr_ring_t *r)
{
    if (r->base) {
        hr_life_t *l = r->life;
        unsigned char *entry = slot_at(l, r->slot);
        /* The producer's fate() reads closed, then tail: tail goes first. */
        __atomic_store_n(U64(r->ctl, HR_CTL_OFF_TAIL), r->tail, __ATOMIC_RELEASE);
        __atomic_store_n(U32(r->ctl, HR_CTL_OFF_CLOSED), 1, __ATOMIC_RELEASE);
        wake_space(r); /* a producer waiting for room learns it never comes */
        list_del(l, (slot_entry_t *)(void *)entry);
        slot_unmap_ctl(l, r->ctl);
        l->free[l->nfree++] = r->slot;
        munmap(r->base, HR_RING_DATA_OFF + (size_t)r->size);
    }
    hr_ring_close_fd(r);
    r->base = NULL;
    r->ctl = NULL;
}
