/* SPDX-License-Identifier: MIT
 * msg.h: a refcounted byte blob: one published event already encoded for
 * its transport (the SSE event bytes, or a WebSocket frame), or any other
 * bytes a connection must send (response heads, pings, acks).
 * ingest.c creates a published message once, chan.c shares it with every
 * subscriber and the channel's history; each write queue and history slot
 * holds a reference and the last hr_msg_unref() frees it. */
#ifndef HR_MSG_H
#define HR_MSG_H

#include "base/common.h"

#define HR_MSG_STATIC UINT32_MAX /* refcnt of a message that is never freed */

typedef struct hr_msg {
    uint32_t refcnt;
    uint32_t len;     /* bytes in data */
    uint64_t seq;     /* relay-wide order of published messages; 0 for others */
    uint64_t time_ms; /* when it was published (history age) */
    char data[];
} hr_msg_t;

/* A message of len bytes to be filled in by the caller; refcnt = 1. */
hr_msg_t *hr_msg_new(size_t len);

/* A copy of bytes; refcnt = 1. */
hr_msg_t *hr_msg_from(const void *bytes, size_t len);

static inline hr_msg_t *hr_msg_ref(hr_msg_t *m)
{
    if (m->refcnt != HR_MSG_STATIC)
        m->refcnt++;
    return m;
}

void hr_msg_unref(hr_msg_t *m);

/* Live messages (not static), for the leak check at exit and for metrics. */
extern int64_t hr_msg_live;

#endif
