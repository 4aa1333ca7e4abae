/* SPDX-License-Identifier: MIT
 * herald_ring.h: the producer side of the shared-memory ingest ring
 * (herald_ring_abi.h says what the ring is and why). Plain C with no PHP
 * headers, so the relay's unit tests drive it against the relay's consumer.
 * herald_sock.c owns one per connection: it maps the ring from the relay's
 * reply to the hello frame, puts frames in it, writes the wake frame to the
 * socket when told to, waits for room when it is full, and drops the ring
 * with the connection. */
#ifndef HERALD_RING_H
#define HERALD_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct php_herald_ring {
	unsigned char *base;       /* the ring's mapping (read-write); NULL when there is none */
	const unsigned char *ctl;  /* its control page, read-only: what the relay writes */
	uint32_t size;             /* data bytes, a power of two */
	uint64_t head;             /* bytes ever written (our copy of head) */
	uint32_t seen_gen;         /* sleeping at our last look; if not 0, we asked for its wake */
	uint64_t waits;            /* times the process slept waiting for the relay to read */
} php_herald_ring;

/* What php_herald_ring_put() did. */
#define PHP_HERALD_RING_SENT    0  /* in the ring, and the relay is there to read it */
#define PHP_HERALD_RING_FULL    1  /* no room now: php_herald_ring_wait() (waking the relay), retry */
#define PHP_HERALD_RING_TOO_BIG 2  /* never fits: send this frame on the socket */
#define PHP_HERALD_RING_GONE    3  /* relay dead or ring closed; nothing written */
#define PHP_HERALD_RING_SENT_GONE 4 /* written, but the relay went away: ask php_herald_ring_fate() */
#define PHP_HERALD_RING_REFUSED 5  /* the relay cannot take messages now: php_herald_ring_refusing() */

/* What became of a frame that ended at ring position end. */
#define PHP_HERALD_RING_READ    1  /* the relay read it (or will) */
#define PHP_HERALD_RING_LOST    0  /* the relay is gone without reading it: send it again */
#define PHP_HERALD_RING_UNSURE -1  /* the relay is stopping and may still read it: ask again soon */

void php_herald_ring_init(php_herald_ring *r);

/* Map the two descriptors of a {"op":"ring","ok":true,"size":size} reply:
 * the ring (read-write) and its control page (read-only). Both descriptors
 * are closed in every case. Returns 0, or an errno value (EPROTO when what
 * they hold is not a ring of that size and of this version). */
int php_herald_ring_map(php_herald_ring *r, int ring_fd, int ctl_fd, uint64_t size);

/* Unmap; safe on a ring that was never mapped, and twice. */
void php_herald_ring_unmap(php_herald_ring *r);

/* Append one frame, iov[0..iovcnt). On SENT and SENT_GONE, *end is the ring
 * position just past the frame. *wake is set to 1 when the caller must write
 * HR_RING_WAKE_FRAME to the socket (the relay sleeps); also on FULL. */
int php_herald_ring_put(php_herald_ring *r, const struct iovec *iov, int iovcnt, uint64_t *end,
	int *wake);

/* Wait until the ring has room for len bytes (len 0: until it is empty),
 * the relay changes something it should be asked about again (it closed the
 * ring), or timeout_ns passes: one futex wait, woken by the relay when it
 * reads (abi: waiting and space), no polling. A relay that died does not
 * wake it: that costs the rest of timeout_ns. Returns 1 when there is room
 * now, else 0 (timed out, or look again: closed, relay gone). */
int php_herald_ring_wait(php_herald_ring *r, size_t len, uint64_t timeout_ns);

/* The wake frame that a put asked for could not be written: forget the
 * sleep it was for, so that the next put that finds it asks again. */
void php_herald_ring_wake_failed(php_herald_ring *r);

/* After SENT_GONE: whether the relay read the frame that ends at end. */
int php_herald_ring_fate(const php_herald_ring *r, uint64_t end);

/* 1 while the relay that owns the ring lives and the ring is open. */
int php_herald_ring_alive(const php_herald_ring *r);

/* 1 once the relay has read everything put in the ring so far. */
int php_herald_ring_empty(const php_herald_ring *r);

/* 1 while the relay does not poll the ring: only a wake frame makes it look. */
int php_herald_ring_sleeping(const php_herald_ring *r);

/* The relay's tail: bytes it has read (it moves while the relay reads). */
uint64_t php_herald_ring_tail(const php_herald_ring *r);

/* 1 while the relay refuses messages; then why (NUL-terminated, at most
 * len - 1 bytes) is in buf. */
int php_herald_ring_refusing(const php_herald_ring *r, char *buf, size_t len);

#endif /* HERALD_RING_H */
