/* SPDX-License-Identifier: MIT
 * loops.h: the event loops of one relay (workers = N) and how one asks
 * another to run something on its own thread. A loop's state is only ever
 * touched by its thread; what needs every loop (GET /metrics: each loop
 * renders its own registry) sends each a call and gathers the answers. */
#ifndef HR_LOOPS_H
#define HR_LOOPS_H

#include "core/loop.h"

typedef void (*hr_call_fn)(hr_loop_t *L, void *ud);

/* Before any loop runs: n loops (index = thread number, base/thread.h). */
void hr_loops_init(unsigned n);

/* Loop i is L (its wake handle is made on L's uv loop, unref'd). */
void hr_loops_attach(unsigned i, hr_loop_t *L);

/* Loops in the relay (1 without workers: no call is ever queued then). */
unsigned hr_loops_count(void);

/* Run fn(L_i, ud) on loop i's thread, soon; 0, or -1 when loop i ended
 * (fn will not run). */
int hr_loops_call(unsigned i, hr_call_fn fn, void *ud);

/* Loop i ends (on its thread): calls already queued run now, later ones
 * are refused; the wake handle closes. */
void hr_loops_detach(unsigned i);

void hr_loops_free(void);

#endif
