/* SPDX-License-Identifier: MIT
 * ring.h: the relay's side of the shared-memory ingest ring (the layout and
 * the protocol are in abi/herald_ring_abi.h). The life thread, one per
 * relay, holds the life word of every ring's control page on its robust list,
 * so that the kernel tells publishers when the relay dies; a ring per
 * publisher connection carries its frames. No loop here: ingest.c decides
 * when to read and when to sleep, and the unit tests drive these functions
 * alone. */
#ifndef HR_RING_H
#define HR_RING_H

#include <linux/futex.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* The life thread and the slots its robust list is made of. A slot is two
 * pages reserved together: the first is ours (private memory) and holds the
 * list entry; the ring's control page is mapped over the second. So every
 * entry lies at the same distance from its life word, which is what the
 * kernel's list wants (one futex_offset for the whole list), and the list
 * holds no address a publisher can see or write. */
typedef struct hr_life {
    struct robust_list_head head; /* the life thread's list: read by the kernel */
    pthread_t thread;
    int stop_fd;          /* the loop's end of a socket pair: closing it ends the thread */
    int thread_fd;        /* the thread's end (it closes it) */
    uint32_t tid;         /* the life thread's id: every live life word holds it */
    size_t page;          /* the system's page size */
    unsigned char *slots; /* nslots slots of 2 pages */
    uint32_t nslots;
    uint32_t *free; /* stack of free slot numbers */
    uint32_t nfree;
} hr_life_t;

/* Start the life thread with room for max_rings rings (at most
 * HR_RING_MAX_RINGS). 0, or an errno value (nothing left running). */
int hr_life_start(hr_life_t *l, uint32_t max_rings);

/* A clean stop begins: every life word of a ring still open becomes 0, so
 * publishers see a relay that stops, not one that died. */
void hr_life_release(hr_life_t *l);

/* End the thread and free the slots; every ring must be closed. Safe when
 * never started, and twice. */
void hr_life_stop(hr_life_t *l);

/* Slots free now (0 when the life thread does not run). */
uint32_t hr_life_free_slots(const hr_life_t *l);

/* One ring: the relay keeps its own tail and reads only head (and waiting)
 * back from the memory the publisher writes. */
typedef struct hr_ring {
    unsigned char *base; /* the ring, mapped read-write; NULL when there is none */
    unsigned char *ctl;  /* its control page, in the life slot */
    hr_life_t *life;
    uint32_t slot;
    uint32_t size;   /* data bytes, a power of two */
    int fd;          /* the ring's descriptor, until handed to the publisher; -1 after */
    int ctl_fd;      /* the control page's, read-only; likewise */
    uint64_t tail;   /* ours; stored to the control page, never loaded */
    uint64_t head;   /* as hr_ring_fill last loaded it */
    uint32_t gen;    /* the last sleep generation stored to "sleeping" */
    uint32_t space;  /* the last value stored to "space" */
    uint32_t refuse; /* the last refusing generation */
} hr_ring_t;

/* The size to grant for a request of want bytes: rounded down to a power of
 * two, clamped to [HR_RING_MIN_BYTES, min(max, HR_RING_MAX_BYTES)]. 0 when
 * max is below HR_RING_MIN_BYTES (rings are off). */
uint32_t hr_ring_grant_size(uint64_t want, uint64_t max);

/* Create a ring of size data bytes (a power of two in range) in a slot of
 * l: the sealed ring and its sealed control page, mapped, headers set, the
 * life word on the life thread's list, and the two descriptors to send (the
 * control page's read-only). 0, or an errno value (ENOSPC: no slot left). */
int hr_ring_create(hr_ring_t *r, hr_life_t *l, uint32_t size);

/* Close our copies of the descriptors (the mappings stay). */
void hr_ring_close_fd(hr_ring_t *r);

/* Bytes waiting (loads head), or -1 when the ring is corrupt (head - tail
 * past the size): the producer broke the protocol. */
int64_t hr_ring_fill(hr_ring_t *r);

/* Copy up to cap of the bytes the last hr_ring_fill counted into buf, then
 * advance tail (release). Returns bytes copied. */
size_t hr_ring_read(hr_ring_t *r, void *buf, size_t cap);

/* After a read: if the producer waits for room, tell it (a FUTEX_WAKE, the
 * one system call here). 1 when it woke it. */
int hr_ring_space(hr_ring_t *r);

/* Going to sleep, under a new generation: 1 when asleep (the producer will
 * write a wake frame), 0 when bytes arrived meanwhile (still awake: read
 * them). */
int hr_ring_try_sleep(hr_ring_t *r);

/* Awake again (a wake frame came, or we poll once more); the next
 * hr_ring_fill sees every frame whose producer found this sleep. */
void hr_ring_wake(hr_ring_t *r);

/* Tell the producer that messages are refused (why, at most
 * HR_CTL_REASON_MAX - 1 bytes are kept) or taken again (why NULL). */
void hr_ring_set_refusing(hr_ring_t *r, const char *why);

/* Final: store tail, then closed = 1 and wake a waiting producer; take the
 * life word off the list, give the slot back, unmap, close the descriptors
 * if still open. */
void hr_ring_close(hr_ring_t *r);

#endif
