/* SPDX-License-Identifier: MIT
 * ring.h: the relay's side of the shared-memory ingest ring (the layout and
 * the protocol are in ext/herald_ring_abi.h). The life page, one per
 * process, tells publishers whether the relay lives; a ring per publisher
 * connection carries its frames. No loop here: ingest.c decides when to
 * read and when to sleep, and the unit tests drive these functions alone. */
#ifndef HR_RING_H
#define HR_RING_H

#include <stddef.h>
#include <stdint.h>

/* The life page: a sealed memfd holding a robust mutex that the loop thread
 * holds for the process's life (the kernel marks it when we die). */
typedef struct hr_life {
    unsigned char *base; /* NULL when there is none */
    int fd;              /* passed to every publisher with its ring */
    int locked;
} hr_life_t;

/* Create, lock (from the calling thread, which must be the loop's) and seal
 * the life page. 0, or an errno value (nothing left open). */
int hr_life_create(hr_life_t *l);

/* Unlock: a clean stop (publishers then see the word 0, not a death). */
void hr_life_unlock(hr_life_t *l);

/* Unlock if still locked, unmap, close the fd. Safe when never created. */
void hr_life_free(hr_life_t *l);

/* One ring: the relay keeps its own tail and reads only head back. */
typedef struct hr_ring {
    unsigned char *base; /* the mapping; NULL when there is none */
    uint32_t size;       /* data bytes, a power of two */
    int fd;              /* until handed to the publisher; -1 after */
    uint64_t tail;       /* ours; stored to the ring, never loaded from it */
    uint64_t head;       /* as hr_ring_fill last loaded it */
    uint32_t gen;        /* the last sleep generation stored to "sleeping" */
} hr_ring_t;

/* The size to grant for a request of want bytes: rounded down to a power of
 * two, clamped to [HR_RING_MIN_BYTES, min(max, HR_RING_MAX_BYTES)]. 0 when
 * max is below HR_RING_MIN_BYTES (rings are off). */
uint32_t hr_ring_grant_size(uint64_t want, uint64_t max);

/* Create a sealed ring of size data bytes (a power of two in range), mapped,
 * header set. 0 or an errno value. */
int hr_ring_create(hr_ring_t *r, uint32_t size);

/* Close our copy of the descriptor (the mapping stays). */
void hr_ring_close_fd(hr_ring_t *r);

/* Bytes waiting (loads head), or -1 when the ring is corrupt (head - tail
 * past the size): the producer broke the protocol. */
int64_t hr_ring_fill(hr_ring_t *r);

/* Copy up to cap of the bytes the last hr_ring_fill counted into buf, then
 * advance tail (release). Returns bytes copied. */
size_t hr_ring_read(hr_ring_t *r, void *buf, size_t cap);

/* Going to sleep, under a new generation: 1 when asleep (the producer will
 * write a wake frame), 0 when bytes arrived meanwhile (still awake: read
 * them). */
int hr_ring_try_sleep(hr_ring_t *r);

/* Awake again (a wake frame came, or we poll once more); the next
 * hr_ring_fill sees every frame whose producer found this sleep. */
void hr_ring_wake(hr_ring_t *r);

/* Final: store tail, then closed = 1, unmap, close the fd if still open. */
void hr_ring_close(hr_ring_t *r);

#endif
