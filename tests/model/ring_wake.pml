/* SPDX-License-Identifier: MIT
 * ring_wake.pml: the ingest ring's sleep/wake handshake (abi/herald_ring_abi.h),
 * checked with spin by tests/suites/15-model.sh. Built as is, it is the
 * protocol of HR_RING_VERSION 2 (sleeping holds a sleep generation); built
 * with -DOLD, the version 1 protocol, which loses wake-ups.
 *
 * How it maps to the C code:
 *   head, tail  the ring's counters, in frames (each put is one frame)
 *   sleeping    HR_RING_OFF_SLEEPING: 0 awake; asleep: 1 (OLD) or the
 *               generation of this sleep (never 0)
 *   sock        the publisher's Unix socket, carrying wake frames
 *   producer    php_herald_ring_put and need_wake (ext/herald_ring.c); a
 *               SENT or FULL with *wake set is the caller writing the frame
 *   consumer    relay/src/ingest: ring_drain (hr_ring_fill, hr_ring_read),
 *               hr_ring_try_sleep, and the wake frame's handler in ingest.c
 *               (hr_ring_wake + awake_add; ignored while awake). Reading the
 *               socket while awake is optional, which also covers
 *               test_ring's test_two_processes (wakes wait in its pipe).
 * Each statement is one load or one store of shared memory. Promela runs
 * them sequentially consistent; the C code gets that for its store-then-load
 * pairs (head then sleeping in the producer; sleeping then head in
 * hr_ring_try_sleep and, since version 2, in hr_ring_wake) from seq_cst
 * fences.
 *
 * Property: when nothing can move any more (timeout), the producer has put
 * all N frames and the consumer has read them all. Its failure is the lost
 * wake-up: the consumer asleep, no wake on its way, frames in the ring (and
 * the producer spinning on FULL, or gone). With -DOLD spin finds it: the
 * consumer reads frame 1 and sleeps between the producer's store of head
 * and its load of sleeping; that wake carries the tail the consumer sleeps
 * at, it finds nothing, sleeps again at that tail, and every later put sees
 * the same tail and writes no wake.
 *
 * Generations wrap at 255 here as at 2^32 in C. With only 3 values spin
 * finds a lost wake-up of the wrap itself (the consumer goes round while the
 * producer is between two loads of sleeping); within these bounds 255 never
 * comes round, and in C it would take 2^32 sleeps between two puts, each
 * ended by a wake frame waiting in the socket. */

#define N    3 /* frames to put */
#define SIZE 2 /* frames the ring holds: N > SIZE reaches FULL */
#define WAKE 1

byte head, tail, sleeping;
chan sock = [8] of { bit };

active proctype consumer()
{
	byte h;
#ifndef OLD
	byte gen; /* hr_ring_t.gen */
#endif
awake:
	do
	:: h = head; /* ring_drain */
	   tail = h
	:: sock ? WAKE /* a wake while awake: ingest.c ignores it */
	:: /* hr_ring_try_sleep */
#ifdef OLD
	   sleeping = 1;
#else
	   gen = (gen == 255 -> 1 : gen + 1);
	   sleeping = gen;
#endif
	   if
	   :: head != tail -> /* frames came: stay awake and read them */
	      sleeping = 0;
	      h = head;
	      tail = h
	   :: else -> break
	   fi
	od;
end_asleep:
	sock ? WAKE;
	sleeping = 0; /* hr_ring_wake */
	goto awake
}

active proctype producer()
{
	byte n, t, s;
	bit ring_full;
#ifdef OLD
	bit woke;
	byte t2, woke_tail;
#else
	byte seen_gen; /* php_herald_ring.seen_gen */
#endif
	do
	:: n < N ->
	   t = tail;
	   if
	   :: head + 1 - t > SIZE -> ring_full = 1
	   :: else -> ring_full = 0;
	      head = head + 1;
	      n++
	   fi;
	   /* need_wake */
	   s = sleeping;
#ifdef OLD
	   if
	   :: s == 0 -> woke = 0
	   :: else ->
	      t2 = tail; /* the second load: the window of the bug */
	      if
	      :: woke && woke_tail == t2 -> skip
	      :: else -> woke = 1;
	         woke_tail = t2;
	         assert(nfull(sock));
	         sock ! WAKE
	      fi
	   fi;
#else
	   if
	   :: s != 0 && s != seen_gen ->
	      assert(nfull(sock));
	      sock ! WAKE
	   :: else -> skip /* awake, or this sleep's wake is on its way */
	   fi;
	   seen_gen = s;
#endif
	   /* FULL: the caller retries. A retry that loads the same tail and
	    * sleeping does what this one did, so wait for either to change. */
	   if
	   :: ring_full -> (tail != t || sleeping != s)
	   :: else -> skip
	   fi
	:: else -> break
	od
}

active proctype watchdog()
{
	timeout -> assert(head == N && tail == N)
}
