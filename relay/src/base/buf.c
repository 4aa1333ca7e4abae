/* SPDX-License-Identifier: MIT
 * buf.c: refcounted byte blobs. */
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

int64_t hr_buf_live;

hr_buf_t *hr_buf_new(size_t len)
{
    hr_buf_t *b = hr_xmalloc(sizeof *b + len);
    b->refcnt = 1; /* not shared yet: a plain store */
    b->len = (uint32_t)len;
    __atomic_fetch_add(&hr_buf_live, 1, __ATOMIC_RELAXED);
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
    __atomic_fetch_sub(&hr_buf_live, 1, __ATOMIC_RELAXED);
    return b;
}

void hr_buf_unref(hr_buf_t *b)
{
    if (__atomic_load_n(&b->refcnt, __ATOMIC_RELAXED) == HR_BUF_STATIC)
        return;
    if (__atomic_sub_fetch(&b->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        __atomic_fetch_sub(&hr_buf_live, 1, __ATOMIC_RELAXED);
        free(b);
    }
}
