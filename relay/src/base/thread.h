/* SPDX-License-Identifier: MIT
 * thread.h: which of the relay's event loops the calling thread runs. A
 * relay with `workers = N` runs N loops, one per thread (app/workers.c);
 * what a loop caches inside shared objects (an event's encodings) is kept
 * per loop, indexed by this, so no two threads ever write the same slot. */
#ifndef HR_THREAD_H
#define HR_THREAD_H

#define HR_THREADS_MAX 64

/* 0 for the main loop, and in every program that runs one loop. */
extern _Thread_local unsigned hr_thread_self;

/* Loops in the process; set once before any other loop starts. */
extern unsigned hr_threads;

#endif
