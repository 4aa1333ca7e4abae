/* SPDX-License-Identifier: MIT
 * buf.h: a refcounted byte blob: an event encoded for one transport (the SSE
 * event bytes, a WebSocket frame), or any other bytes a connection must send
 * (response heads, pings). Encoded once, shared by every subscriber: each
 * write queue holds a reference and the last hr_buf_unref() frees it. */
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
    if (b->refcnt != HR_BUF_STATIC)
        b->refcnt++;
    return b;
}

void hr_buf_unref(hr_buf_t *b);

/* Live buffers (not static): the leak check at exit and the unit tests. */
extern int64_t hr_buf_live;

#endif
