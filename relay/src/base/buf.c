/* SPDX-License-Identifier: MIT
 * msg.c: refcounted message blobs. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

int64_t hr_msg_live;

hr_msg_t *hr_msg_new(size_t len)
{
    hr_msg_t *m = hr_xmalloc(sizeof *m + len);
    m->refcnt = 1;
    m->len = (uint32_t)len;
    m->seq = 0;
    m->time_ms = 0;
    hr_msg_live++;
    return m;
}

hr_msg_t *hr_msg_from(const void *bytes, size_t len)
{
    hr_msg_t *m = hr_msg_new(len);
    memcpy(m->data, bytes, len);
    return m;
}

void hr_msg_unref(hr_msg_t *m)
{
    if (m->refcnt == HR_MSG_STATIC)
        return;
    if (--m->refcnt == 0) {
        hr_msg_live--;
        free(m);
    }
}
