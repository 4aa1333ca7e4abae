/* SPDX-License-Identifier: MIT
 * state.h (app): the state file on disk (state_file), which carries the
 * broker's id space and history from a clean stop to the next start
 * (core/state.h says what is in it). main.c loads it once the relay owns
 * its socket and port, before the loop runs; server.c saves it at a clean
 * stop, after the last publish reached the broker. */
#ifndef HR_APP_STATE_H
#define HR_APP_STATE_H

#include "core/loop.h"

/* Take the state file away and give it to L's broker (logged either way;
 * never fatal: a file that cannot be used is set aside as <file>.bad and
 * the relay starts a fresh id space). Returns 1 when a clean stop should
 * save one (a state file is configured and the broker keeps its state
 * here), else 0. */
int hr_state_file_load(hr_loop_t *L);

/* Write L's broker's state to <file>.tmp, sync it and rename it over the
 * file. 0, or -1 (logged). */
int hr_state_file_save(hr_loop_t *L);

#endif
