/* SPDX-License-Identifier: MIT
 * herald_ring_abi.h: the shared-memory ingest ring, the layout both sides map
 * (docs/PROTOCOL.md §1.6). Included by the extension (the producer,
 * herald_ring.c) and by the relay (the consumer, relay/src/ring.c).
 *
 * Why: one sendmsg() into the Unix socket costs 2-4 us of CPU in a VM, which
 * is most of what sse_emit() costs. With a ring, a publish is a memcpy into
 * memory the relay reads, and a system call only when the relay sleeps.
 *
 * How a publisher gets one: its hello frame asks with "ring": bytes; the
 * relay answers {"op":"ring","ok":true,"size":N} on the socket, and that
 * reply carries two descriptors (SCM_RIGHTS): the ring (a sealed memfd of
 * HR_RING_DATA_OFF + N bytes, mapped read-write by both) and the relay's life
 * page (a sealed memfd of HR_LIFE_BYTES, mapped read-only by publishers).
 * ok:false (with "error") means: keep using the socket.
 *
 * The ring is single-producer single-consumer: one per ingest connection.
 * The producer appends whole msgpack frames (the same bytes it would write to
 * the socket) and only then advances head; the consumer copies [tail, head)
 * out, parses its copy, and advances tail. Both counters count bytes ever
 * written, so head - tail is the fill and the offset is counter & (size - 1).
 * The relay trusts nothing in the ring: it keeps its own tail, copies before
 * parsing, and closes the connection if head - tail > size.
 *
 * Wake-up: while the relay polls the ring (each loop turn, and every
 * millisecond while the ring was used recently), "sleeping" is 0. Before it
 * stops polling it stores a new sleep generation in sleeping (one more than
 * its last, never 0), fences, and reads head once more: if head moved it
 * stores 0 and stays awake. The producer stores head, fences, and reads
 * sleeping: if it holds a generation other than the one it read last time
 * (a sleep it has woken already), it writes HR_RING_WAKE_FRAME to the
 * socket. One of the two always sees the other (Dekker), and each sleep
 * gets its own wake: a wake written for an earlier sleep, or for a sleep
 * that saw head move and never happened, only wakes the relay for nothing.
 * Woken, the relay stores 0 and fences before it reads head, so that read
 * sees the frame of a producer that found the sleep it ends and wrote no
 * wake of its own (that sleep's wake was on its way). Version 1 stored 1
 * and had the producer compare tail with the tail of its last wake: a wake
 * written after the relay had read the frame and gone to sleep carried the
 * tail of that sleep, the relay slept again at the same tail, and no wake
 * was ever written again (tests/model/ring_wake.pml).
 *
 * Liveness: the life page holds a robust process-shared mutex that the
 * relay's loop thread locks at start and holds for life. The kernel marks
 * its futex word FUTEX_OWNER_DIED when the relay dies however it dies, so a
 * producer tells a dead relay from a live one with one load, no system
 * call. A relay that stops cleanly unlocks it (the word becomes 0), drains
 * every ring a last time and then sets each ring's "closed". A ring whose
 * connection the relay closed for any other reason gets "closed" too. */
#ifndef HERALD_RING_ABI_H
#define HERALD_RING_ABI_H

#include <stdint.h>

#define HR_RING_MAGIC 0x474e5248u /* "HRNG" little-endian */
#define HR_RING_VERSION 2u /* 2: sleeping holds a sleep generation */
#define HR_RING_DATA_OFF 256u       /* data starts here; the header is below */
#define HR_RING_MIN_BYTES 4096u     /* data size: a power of two in [MIN, MAX] */
#define HR_RING_MAX_BYTES (64u << 20)

/* Offsets in the ring's header (all fields naturally aligned, little or big
 * endian as the machine is: both sides run on the same host). */
#define HR_RING_OFF_MAGIC 0     /* uint32, set by the relay */
#define HR_RING_OFF_VERSION 4   /* uint32, set by the relay */
#define HR_RING_OFF_SIZE 8      /* uint32, data bytes, set by the relay */
#define HR_RING_OFF_HEAD 64     /* uint64, written by the producer only */
#define HR_RING_OFF_TAIL 128    /* uint64, written by the relay only */
#define HR_RING_OFF_SLEEPING 136 /* uint32, written by the relay only: 0 or a generation */
#define HR_RING_OFF_CLOSED 140  /* uint32, written by the relay only */

/* The life page. */
#define HR_LIFE_BYTES 4096u
#define HR_LIFE_OFF_MAGIC 0   /* uint32 HR_LIFE_MAGIC */
#define HR_LIFE_OFF_WORD 4    /* uint32: offset of the mutex's futex word in the page */
#define HR_LIFE_OFF_MUTEX 64  /* the pthread_mutex_t (relay side only) */
#define HR_LIFE_MAGIC 0x464c5248u /* "HRLF" */
/* The futex word: the owner's thread id, or 0 when unlocked; the kernel sets
 * OWNER_DIED when the owner died holding it (linux/futex.h). */
#define HR_FUTEX_TID_MASK 0x3fffffffu
#define HR_FUTEX_OWNER_DIED 0x40000000u

/* {"op":"wake"}: tells a sleeping relay to look at the ring. */
#define HR_RING_WAKE_FRAME "\x81\xa2op\xa4wake"
#define HR_RING_WAKE_LEN 9 /* the frame's bytes, without the literal's NUL */

#endif /* HERALD_RING_ABI_H */
