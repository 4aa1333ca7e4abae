/* SPDX-License-Identifier: MIT
 * herald_ring_abi.h: the shared-memory ingest ring, the layout both sides map
 * (docs/PROTOCOL.md §1.6). Included by the extension (the producer,
 * ext/herald_ring.c) and by the relay (the consumer, relay/src/ingest/ring.c).
 *
 * Why: one sendmsg() into the Unix socket costs 2-4 us of CPU in a VM, which
 * is most of what sse_emit() costs. With a ring, a publish is a memcpy into
 * memory the relay reads, and a system call only when the relay sleeps.
 *
 * How a publisher gets one: its hello frame asks with "ring": bytes; the
 * relay answers {"op":"ring","ok":true,"size":N} on the socket, and that
 * reply carries two descriptors (SCM_RIGHTS):
 *   1. the ring: a sealed memfd of HR_RING_DATA_OFF + N bytes, opened
 *      read-write, which the publisher maps read-write. Only the publisher's
 *      fields are in it (head, waiting) and the data.
 *   2. the ring's control page: a sealed memfd of HR_CTL_BYTES that only the
 *      relay writes (tail, sleeping, closed, the life word, refusing). The
 *      descriptor is opened read-only (the relay reopens it through
 *      /proc/self/fd with O_RDONLY) and sealed against writes
 *      (F_SEAL_FUTURE_WRITE where the kernel has it, 5.1 and later): the
 *      publisher can only map it read-only. One per ring: a publisher that
 *      finds a way to write its own (an older kernel, the relay's own uid)
 *      misleads only itself.
 * ok:false (with "error") means: keep using the socket.
 *
 * Trust: the relay reads exactly two things from memory a publisher can
 * write: head, checked against its own tail, and waiting, which only decides
 * whether it makes a FUTEX_WAKE system call. It copies frames out before it
 * parses them and never follows a pointer into shared memory; neither page
 * holds one of its addresses. Everything a publisher must believe comes from
 * the control page.
 *
 * The ring is single-producer single-consumer: one per ingest connection.
 * The producer appends whole msgpack frames (the same bytes it would write to
 * the socket) and only then advances head; the consumer copies [tail, head)
 * out, parses its copy, and advances tail. Both counters count bytes ever
 * written, so head - tail is the fill and the offset is counter & (size - 1).
 * The relay keeps its own tail and closes the connection if head - tail >
 * size.
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
 * Waiting for room: a producer that finds the ring full (or waits for it to
 * empty) reads "space", stores waiting = 1, fences, and reads tail again; if
 * there is still no room it FUTEX_WAITs on space (the value it read), until
 * its deadline. The relay stores tail, fences, reads waiting, and if it is
 * set adds one to space and FUTEX_WAKEs it. Dekker again: either the relay
 * sees waiting and changes space (then the wait returns at once or is
 * woken), or the producer sees the new tail and does not wait. Closing a
 * ring changes space and wakes it too.
 *
 * Liveness: the life word is a robust futex owned by a thread of the relay
 * (the life thread) that holds it for the relay's life: it holds that
 * thread's id. Each control page's life word is on that thread's robust
 * list (set_robust_list(2)), whose entries live in the relay's private
 * memory. When the relay dies, however it dies, the kernel walks the list
 * and sets FUTEX_OWNER_DIED in every word (clearing the id), so a producer
 * tells a dead relay from a live one with one load, no system call. The
 * kernel walks at most 2048 entries (ROBUST_LIST_LIMIT), which caps the rings
 * of one relay (HR_RING_MAX_RINGS). A relay that stops cleanly stores 0 in
 * every life word, drains every ring a last time and then sets each ring's
 * "closed". A ring whose connection the relay closed for any other reason
 * gets "closed" too.
 *
 * Refusing: when the relay cannot take messages (its broker's backlog is
 * full, say), it writes the reason into the control page and then a non-zero
 * generation into "refusing"; 0 again when it can. A producer checks the word
 * with one load per put and returns false with the reason. */
#ifndef HERALD_RING_ABI_H
#define HERALD_RING_ABI_H

#include <stdint.h>

#define HR_RING_MAGIC 0x474e5248u /* "HRNG" little-endian */
/* 3: the relay's fields moved to a read-only control page, the life word
 * with them (no process-shared mutex), waiting/space and refusing added.
 * 2: sleeping holds a sleep generation. A producer of another version finds
 * a version it does not know and stays on the socket. */
#define HR_RING_VERSION 3u
#define HR_RING_DATA_OFF 256u /* data starts here; the header is below */
#define HR_RING_MIN_BYTES 4096u /* data size: a power of two in [MIN, MAX] */
#define HR_RING_MAX_BYTES (64u << 20)
#define HR_RING_MAX_RINGS 2048u /* the kernel's ROBUST_LIST_LIMIT: life words per relay */

/* Offsets in the ring's header (all fields naturally aligned, little or big
 * endian as the machine is: both sides run on the same host). The publisher
 * may write anything here; the relay reads back only head and waiting. */
#define HR_RING_OFF_MAGIC 0    /* uint32, set by the relay at creation */
#define HR_RING_OFF_VERSION 4  /* uint32, set by the relay at creation */
#define HR_RING_OFF_SIZE 8     /* uint32, data bytes, set by the relay at creation */
#define HR_RING_OFF_HEAD 64    /* uint64, written by the producer */
#define HR_RING_OFF_WAITING 72 /* uint32, written by the producer: 1 while it waits for room */

/* The control page: written by the relay only, mapped read-only by the
 * publisher. magic, version and size are what the publisher trusts. */
#define HR_CTL_BYTES 4096u
#define HR_CTL_MAGIC 0x4c435248u /* "HRCL" */
#define HR_CTL_OFF_MAGIC 0      /* uint32 HR_CTL_MAGIC */
#define HR_CTL_OFF_VERSION 4    /* uint32 HR_RING_VERSION */
#define HR_CTL_OFF_SIZE 8       /* uint32, data bytes */
#define HR_CTL_OFF_TAIL 64      /* uint64: bytes the relay has read */
#define HR_CTL_OFF_SLEEPING 72  /* uint32: 0, or the current sleep generation */
#define HR_CTL_OFF_SPACE 76     /* uint32: futex word, changed when a waiting producer may go on */
#define HR_CTL_OFF_LIFE 128     /* uint32: the life word (a robust futex, below) */
#define HR_CTL_OFF_CLOSED 132   /* uint32: 1 once the relay will read no more */
#define HR_CTL_OFF_REFUSING 136 /* uint32: 0, or a generation while messages are refused */
#define HR_CTL_OFF_REASON 256   /* char[HR_CTL_REASON_MAX]: why, NUL-terminated */
#define HR_CTL_REASON_MAX 256u

/* The life word: the life thread's id while the relay lives, 0 after a
 * clean stop; the kernel sets OWNER_DIED (and clears the id) when the relay
 * died (linux/futex.h). */
#define HR_FUTEX_TID_MASK 0x3fffffffu
#define HR_FUTEX_OWNER_DIED 0x40000000u

/* {"op":"wake"}: tells a sleeping relay to look at the ring. */
#define HR_RING_WAKE_FRAME "\x81\xa2op\xa4wake"
#define HR_RING_WAKE_LEN 9 /* the frame's bytes, without the literal's NUL */

#endif /* HERALD_RING_ABI_H */
