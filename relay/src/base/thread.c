/* SPDX-License-Identifier: MIT
 * thread.c: the calling thread's loop number (thread.h). */
#include "base/thread.h"

_Thread_local unsigned hr_thread_self;
unsigned hr_threads = 1;
