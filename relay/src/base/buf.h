/* SPDX-License-Identifier: MIT
 * buf.h: a refcounted byte blob: an event encoded for one transport (the SSE
 * event bytes, a WebSocket frame), or any other bytes a connection must send
 * (response heads, pings). Encoded once, shared by every subscriber: each
 * write queue holds a reference and the last hr_buf_unref() frees it.
 * Thread-safe: with workers, one encoding of an event is queued on
 * connections of several loops, so the count is atomic (relaxed to take a
 * reference, as the taker already holds one; acquire-release to drop one,
 * so the last dropper sees every other thread's use before free()). */
#ifndef HR_BUF_H
#define HR_BUF_H

#include "base/common.h"

#define HR_BUF_STATIC UINT32_MAX /* refcnt of a buffer that is never freed */

typedef struct hr_buf {
    uint32_t refcnt;
    uint32_t len; /* bytes in data */
    char data[];
} hr_buf_t;

/* A buffer of len bytes to be filled in by the caller; refcnt = 1. */
hr_buf_t *hr_buf_new(size_t len);

/* A copy of bytes; refcnt = 1. */
hr_buf_t *hr_buf_from(const void *bytes, size_t len);

/* A copy of bytes that is never freed by unref (pings, fixed answers);
 * free() it at exit. */
hr_buf_t *hr_buf_static(const void *bytes, size_t len);

static inline hr_buf_t *hr_buf_ref(hr_buf_t *b)
{
    /* A static buffer's count is set once, before it is shared. */
    if (__atomic_load_n(&b->refcnt, __ATOMIC_RELAXED) != HR_BUF_STATIC)
        __atomic_fetch_add(&b->refcnt, 1, __ATOMIC_RELAXED);
    return b;
}

void hr_buf_unref(hr_buf_t *b);

/* Live buffers (not static): the leak check at exit and the unit tests.
 * Updated with relaxed atomics (several loops allocate); read it with
 * hr_buf_live_count() while other threads run. */
extern int64_t hr_buf_live;

static inline int64_t hr_buf_live_count(void)
{
    return __atomic_load_n(&hr_buf_live, __ATOMIC_RELAXED);
}

#endif
