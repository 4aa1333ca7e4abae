/* SPDX-License-Identifier: MIT
 * herald_ring.c: the producer side of the shared-memory ingest ring. The
 * protocol, and why it is safe, is in herald_ring_abi.h; this file only
 * follows it. No system call on the way of a publish: a memcpy, one store,
 * one fence, and three loads. */

#include "herald_ring.h"
#include "abi/herald_ring_abi.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define U32(base, off) ((uint32_t *) (void *) ((base) + (off)))
#define U64(base, off) ((uint64_t *) (void *) ((base) + (off)))

void php_herald_ring_init(php_herald_ring *r)
{
	memset(r, 0, sizeof(*r));
}

void php_herald_ring_unmap(php_herald_ring *r)
{
	if (r->base) {
		munmap(r->base, HR_RING_DATA_OFF + (size_t) r->size);
	}
	if (r->life) {
		munmap((void *) r->life, HR_LIFE_BYTES);
	}
	php_herald_ring_init(r);
}

int php_herald_ring_map(php_herald_ring *r, int ring_fd, int life_fd, uint64_t size)
{
	struct stat st;
	size_t len = HR_RING_DATA_OFF + (size_t) size;
	void *base = MAP_FAILED, *life = MAP_FAILED;
	uint32_t word;
	int err = EPROTO;

	php_herald_ring_unmap(r);
	if (size < HR_RING_MIN_BYTES || size > HR_RING_MAX_BYTES || (size & (size - 1)) != 0) {
		goto out;
	}
	/* The relay seals both memfds against shrinking; a file shorter than
	 * the mapping would turn every access past its end into SIGBUS. */
	if (fstat(ring_fd, &st) != 0 || (uint64_t) st.st_size < len
		|| fstat(life_fd, &st) != 0 || (uint64_t) st.st_size < HR_LIFE_BYTES) {
		goto out;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
	life = mmap(NULL, HR_LIFE_BYTES, PROT_READ, MAP_SHARED, life_fd, 0);
	if (base == MAP_FAILED || life == MAP_FAILED) {
		err = errno;
		goto out;
	}
	word = *U32((unsigned char *) life, HR_LIFE_OFF_WORD);
	if (*U32((unsigned char *) base, HR_RING_OFF_MAGIC) != HR_RING_MAGIC
		|| *U32((unsigned char *) base, HR_RING_OFF_VERSION) != HR_RING_VERSION
		|| *U32((unsigned char *) base, HR_RING_OFF_SIZE) != size
		|| *U32((unsigned char *) life, HR_LIFE_OFF_MAGIC) != HR_LIFE_MAGIC
		|| word % 4 != 0 || word > HR_LIFE_BYTES - 4) {
		goto out;
	}
	r->base = base;
	r->life = life;
	r->size = (uint32_t) size;
	r->life_word = word;
	r->head = __atomic_load_n(U64(r->base, HR_RING_OFF_HEAD), __ATOMIC_ACQUIRE);
	base = life = MAP_FAILED;
	err = 0;
out:
	if (base != MAP_FAILED) {
		munmap(base, len);
	}
	if (life != MAP_FAILED) {
		munmap(life, HR_LIFE_BYTES);
	}
	close(ring_fd);
	close(life_fd);
	return err;
}

/* The relay's futex word: its thread id while it lives; 0 once it unlocked
 * (a clean stop); OWNER_DIED added by the kernel if it died. */
static inline uint32_t life_word(const php_herald_ring *r)
{
	return __atomic_load_n(U32((unsigned char *) r->life, r->life_word), __ATOMIC_ACQUIRE);
}

int php_herald_ring_alive(const php_herald_ring *r)
{
	uint32_t w = life_word(r);

	return (w & HR_FUTEX_OWNER_DIED) == 0 && (w & HR_FUTEX_TID_MASK) != 0
		&& __atomic_load_n(U32(r->base, HR_RING_OFF_CLOSED), __ATOMIC_ACQUIRE) == 0;
}

int php_herald_ring_empty(const php_herald_ring *r)
{
	return __atomic_load_n(U64(r->base, HR_RING_OFF_TAIL), __ATOMIC_ACQUIRE) >= r->head;
}

int php_herald_ring_sleeping(const php_herald_ring *r)
{
	return __atomic_load_n(U32(r->base, HR_RING_OFF_SLEEPING), __ATOMIC_ACQUIRE) != 0;
}

/* Whether the relay must be woken: it sleeps, in a sleep other than the one
 * our last look found (we asked for its wake then). One load: the
 * generation names the sleep, so a wake written for an earlier sleep never
 * stands for this one. seen_gen is what this load last returned, and a
 * generation comes back only after 2^32 sleeps: between two of our puts
 * the relay sleeps at most once per wake frame in its socket. */
static int need_wake(php_herald_ring *r)
{
	uint32_t gen = __atomic_load_n(U32(r->base, HR_RING_OFF_SLEEPING), __ATOMIC_ACQUIRE);
	int wake = gen != 0 && gen != r->seen_gen;

	r->seen_gen = gen;
	return wake;
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
	tail = __atomic_load_n(U64(r->base, HR_RING_OFF_TAIL), __ATOMIC_ACQUIRE);
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

int php_herald_ring_fate(const php_herald_ring *r, uint64_t end)
{
	uint32_t w = life_word(r);
	uint32_t closed = __atomic_load_n(U32(r->base, HR_RING_OFF_CLOSED), __ATOMIC_ACQUIRE);
	uint64_t tail = __atomic_load_n(U64(r->base, HR_RING_OFF_TAIL), __ATOMIC_ACQUIRE);

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
