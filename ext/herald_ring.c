/* SPDX-License-Identifier: MIT
 * herald_ring.c: the producer side of the shared-memory ingest ring. The
 * protocol, and why it is safe, is in herald_ring_abi.h; this file only
 * follows it. No system call on the way of a publish: a memcpy, one store,
 * one fence, and a few loads. A full ring costs one futex wait, which the
 * relay ends when it has read. */

#include "herald_ring.h"
#include "abi/herald_ring_abi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
# include <linux/futex.h>
# include <sys/syscall.h>
#endif

#define U32(base, off) ((uint32_t *) (void *) ((base) + (off)))
#define U64(base, off) ((uint64_t *) (void *) ((base) + (off)))
#define CU32(base, off) ((const uint32_t *) (const void *) ((base) + (off)))
#define CU64(base, off) ((const uint64_t *) (const void *) ((base) + (off)))

void php_herald_ring_init(php_herald_ring *r)
{
	memset(r, 0, sizeof(*r));
}

void php_herald_ring_unmap(php_herald_ring *r)
{
	uint64_t waits = r->waits;

	if (r->base) {
		munmap(r->base, HR_RING_DATA_OFF + (size_t) r->size);
	}
	if (r->ctl) {
		munmap((void *) r->ctl, HR_CTL_BYTES);
	}
	php_herald_ring_init(r);
	r->waits = waits;   /* the process's count, for phpinfo(), across connections */
}

int php_herald_ring_map(php_herald_ring *r, int ring_fd, int ctl_fd, uint64_t size)
{
	struct stat st;
	size_t len = HR_RING_DATA_OFF + (size_t) size;
	void *base = MAP_FAILED, *ctl = MAP_FAILED;
	int err = EPROTO;

	php_herald_ring_unmap(r);
	if (size < HR_RING_MIN_BYTES || size > HR_RING_MAX_BYTES || (size & (size - 1)) != 0) {
		goto out;
	}
	/* The relay seals both memfds against shrinking; a file shorter than
	 * the mapping would turn every access past its end into SIGBUS. */
	if (fstat(ring_fd, &st) != 0 || (uint64_t) st.st_size < len
		|| fstat(ctl_fd, &st) != 0 || (uint64_t) st.st_size < HR_CTL_BYTES) {
		goto out;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
	ctl = mmap(NULL, HR_CTL_BYTES, PROT_READ, MAP_SHARED, ctl_fd, 0);
	if (base == MAP_FAILED || ctl == MAP_FAILED) {
		err = errno;
		goto out;
	}
	/* The control page is the relay's word; the ring's header is checked
	 * too, as a relay of another version would not have written it so. */
	if (*CU32((unsigned char *) ctl, HR_CTL_OFF_MAGIC) != HR_CTL_MAGIC
		|| *CU32((unsigned char *) ctl, HR_CTL_OFF_VERSION) != HR_RING_VERSION
		|| *CU32((unsigned char *) ctl, HR_CTL_OFF_SIZE) != size
		|| *U32((unsigned char *) base, HR_RING_OFF_MAGIC) != HR_RING_MAGIC
		|| *U32((unsigned char *) base, HR_RING_OFF_VERSION) != HR_RING_VERSION) {
		goto out;
	}
	r->base = base;
	r->ctl = ctl;
	r->size = (uint32_t) size;
	r->head = __atomic_load_n(U64(r->base, HR_RING_OFF_HEAD), __ATOMIC_ACQUIRE);
	base = ctl = MAP_FAILED;
	err = 0;
out:
	if (base != MAP_FAILED) {
		munmap(base, len);
	}
	if (ctl != MAP_FAILED) {
		munmap(ctl, HR_CTL_BYTES);
	}
	close(ring_fd);
	close(ctl_fd);
	return err;
}

/* The relay's life word: its life thread's id while it lives; 0 once it
 * stops cleanly; OWNER_DIED (the id cleared) set by the kernel if it died. */
static inline uint32_t life_word(const php_herald_ring *r)
{
	return __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_LIFE), __ATOMIC_ACQUIRE);
}

static inline uint64_t tail_of(const php_herald_ring *r)
{
	return __atomic_load_n(CU64(r->ctl, HR_CTL_OFF_TAIL), __ATOMIC_ACQUIRE);
}

int php_herald_ring_alive(const php_herald_ring *r)
{
	uint32_t w = life_word(r);

	return (w & HR_FUTEX_OWNER_DIED) == 0 && (w & HR_FUTEX_TID_MASK) != 0
		&& __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_CLOSED), __ATOMIC_ACQUIRE) == 0;
}

int php_herald_ring_empty(const php_herald_ring *r)
{
	return tail_of(r) >= r->head;
}

int php_herald_ring_sleeping(const php_herald_ring *r)
{
	return __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_SLEEPING), __ATOMIC_ACQUIRE) != 0;
}

uint64_t php_herald_ring_tail(const php_herald_ring *r)
{
	return tail_of(r);
}

int php_herald_ring_refusing(const php_herald_ring *r, char *buf, size_t len)
{
	uint32_t gen = __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_REFUSING), __ATOMIC_ACQUIRE);

	/* The relay writes the reason with the word at 0, then the word: a
	 * reason read between two equal non-zero words is whole. */
	for (int tries = 0; gen != 0 && tries < 3; tries++) {
		size_t i = 0;

		for (; len > 0 && i < len - 1 && i < HR_CTL_REASON_MAX - 1; i++) {
			char c = (char) __atomic_load_n(r->ctl + HR_CTL_OFF_REASON + i, __ATOMIC_RELAXED);

			if (c == '\0') {
				break;
			}
			buf[i] = c;
		}
		if (len > 0) {
			buf[i] = '\0';
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint32_t again = __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_REFUSING), __ATOMIC_ACQUIRE);

		if (again == gen) {
			return 1;
		}
		gen = again;
	}
	if (gen != 0 && len > 0) {
		snprintf(buf, len, "%s", "no reason given");
	}
	return gen != 0;
}

/* Whether the relay must be woken: it sleeps, in a sleep other than the one
 * our last look found (we asked for its wake then). One load: the
 * generation names the sleep, so a wake written for an earlier sleep never
 * stands for this one. seen_gen is what this load last returned, and a
 * generation comes back only after 2^32 sleeps: between two of our puts
 * the relay sleeps at most once per wake frame in its socket. */
static int need_wake(php_herald_ring *r)
{
	uint32_t gen = __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_SLEEPING), __ATOMIC_ACQUIRE);
	int wake = gen != 0 && gen != r->seen_gen;

	r->seen_gen = gen;
	return wake;
}

void php_herald_ring_wake_failed(php_herald_ring *r)
{
	r->seen_gen = 0;   /* no sleep is numbered 0: the next look at one asks again */
}

int php_herald_ring_put(php_herald_ring *r, const struct iovec *iov, int iovcnt, uint64_t *end,
	int *wake)
{
	size_t len = 0, off;
	uint64_t tail;
	unsigned char *data = r->base + HR_RING_DATA_OFF;
	uint32_t mask = r->size - 1;

	*wake = 0;
	for (int i = 0; i < iovcnt; i++) {
		len += iov[i].iov_len;
	}
	if (len > r->size / 2) {
		return PHP_HERALD_RING_TOO_BIG;
	}
	if (!php_herald_ring_alive(r)) {
		return PHP_HERALD_RING_GONE;
	}
	if (__atomic_load_n(CU32(r->ctl, HR_CTL_OFF_REFUSING), __ATOMIC_RELAXED) != 0) {
		return PHP_HERALD_RING_REFUSED;
	}
	tail = tail_of(r);
	if (r->head + len - tail > r->size) {
		/* A relay that sleeps with a full ring is not possible (it drains
		 * before it sleeps), but a wake costs little and settles it. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*wake = need_wake(r);
		return PHP_HERALD_RING_FULL;
	}

	off = (size_t) (r->head & mask);
	for (int i = 0; i < iovcnt; i++) {
		const unsigned char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len, first = r->size - off;

		if (n > first) {
			memcpy(data + off, p, first);
			memcpy(data, p + first, n - first);
		} else if (n > 0) {
			memcpy(data + off, p, n);
		}
		off = (off + n) & mask;
	}
	r->head += len;
	*end = r->head;
	__atomic_store_n(U64(r->base, HR_RING_OFF_HEAD), r->head, __ATOMIC_RELEASE);

	/* Dekker with the relay's going to sleep: store head, fence, read
	 * sleeping; it stores sleeping, fences, reads head. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*wake = need_wake(r);
	return php_herald_ring_alive(r) ? PHP_HERALD_RING_SENT : PHP_HERALD_RING_SENT_GONE;
}

/* The relay died, or closed the ring. */
static int gone(const php_herald_ring *r)
{
	return (life_word(r) & HR_FUTEX_OWNER_DIED) != 0
		|| __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_CLOSED), __ATOMIC_ACQUIRE) != 0;
}

/* Room for len more bytes (len 0: nothing left unread). */
static int has_room(const php_herald_ring *r, size_t len)
{
	uint64_t tail = tail_of(r);

	return len == 0 ? tail >= r->head : r->head + len - tail <= r->size;
}

int php_herald_ring_wait(php_herald_ring *r, size_t len, uint64_t timeout_ns)
{
	uint32_t space = __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_SPACE), __ATOMIC_ACQUIRE);
	int room;

	/* Dekker with the relay's read: we store waiting, fence, load tail; it
	 * stores tail, fences, loads waiting and then changes space. Either we
	 * see its tail here, or it sees waiting and space is no longer what we
	 * read above, which the futex checks before it sleeps. */
	__atomic_store_n(U32(r->base, HR_RING_OFF_WAITING), 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	room = has_room(r, len);
	/* A dead relay never wakes us, a closed ring never gets room: look
	 * again instead. A relay that stops cleanly (life word 0) still reads
	 * and then closes, and each wakes us. */
	if (!room && !gone(r) && timeout_ns > 0) {
#ifdef __linux__
		struct timespec ts = { (time_t) (timeout_ns / 1000000000u), (long) (timeout_ns % 1000000000u) };
		long rc = syscall(SYS_futex, CU32(r->ctl, HR_CTL_OFF_SPACE), FUTEX_WAIT, space, &ts, NULL, 0);

		if (rc == 0 || errno != EAGAIN) {
			r->waits++;   /* it slept, until woken, the timeout or a signal */
		}
#else
		/* No futex: a short nap (the relay only runs on Linux anyway). */
		struct timespec ts = { 0, timeout_ns < 1000000u ? (long) timeout_ns : 1000000L };

		nanosleep(&ts, NULL);
		r->waits++;
#endif
		room = has_room(r, len);
	}
	__atomic_store_n(U32(r->base, HR_RING_OFF_WAITING), 0, __ATOMIC_RELAXED);
	return room;
}

int php_herald_ring_fate(const php_herald_ring *r, uint64_t end)
{
	uint32_t w = life_word(r);
	uint32_t closed = __atomic_load_n(CU32(r->ctl, HR_CTL_OFF_CLOSED), __ATOMIC_ACQUIRE);
	uint64_t tail = tail_of(r);

	if (tail >= end) {
		return PHP_HERALD_RING_READ;
	}
	/* A dead relay's tail is final; so is a closed ring's (the relay sets
	 * closed after its last read). */
	if ((w & HR_FUTEX_OWNER_DIED) != 0 || closed) {
		return PHP_HERALD_RING_LOST;
	}
	if ((w & HR_FUTEX_TID_MASK) != 0) {
		return PHP_HERALD_RING_READ;   /* alive and open after all */
	}
	return PHP_HERALD_RING_UNSURE;     /* stopping: the last drain is on its way */
}
