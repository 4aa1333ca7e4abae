/* SPDX-License-Identifier: MIT
 * buf.c: refcounted byte blobs. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

int64_t hr_buf_live;

hr_buf_t *hr_buf_new(size_t len)
{
    hr_buf_t *b = hr_xmalloc(sizeof *b + len);
    b->refcnt = 1;
    b->len = (uint32_t)len;
    hr_buf_live++;
    return b;
}

hr_buf_t *hr_buf_from(const void *bytes, size_t len)
{
    hr_buf_t *b = hr_buf_new(len);
    if (len)
        memcpy(b->data, bytes, len);
    return b;
}

hr_buf_t *hr_buf_static(const void *bytes, size_t len)
{
    hr_buf_t *b = hr_buf_from(bytes, len);
    b->refcnt = HR_BUF_STATIC;
    hr_buf_live--;
    return b;
}

void hr_buf_unref(hr_buf_t *b)
{
    if (b->refcnt == HR_BUF_STATIC)
        return;
    if (--b->refcnt == 0) {
        hr_buf_live--;
        free(b);
    }
}
