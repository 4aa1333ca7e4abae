/* SPDX-License-Identifier: MIT
 * common.h: small definitions every relay module shares: return codes of the
 * incremental parsers, container_of, slices, and (alloc.h) allocation that
 * aborts on OOM. Pure modules include only this and libc headers. */
#ifndef HR_COMMON_H
#define HR_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "base/alloc.h"

/* Incremental parsers return bytes consumed (>0), or one of these. */
#define HR_AGAIN   (-2) /* input holds only part of the item: feed more */
#define HR_EPROTO  (-1) /* input is malformed: the stream cannot continue */
#define HR_ETOOBIG (-3) /* input exceeds a configured limit */

#define HR_ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define hr_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#if defined(__GNUC__)
#define hr_likely(x)   __builtin_expect(!!(x), 1)
#define hr_unlikely(x) __builtin_expect(!!(x), 0)
#else
#define hr_likely(x)   (x)
#define hr_unlikely(x) (x)
#endif

/* A byte range that points into someone else's buffer; never owns memory. */
typedef struct hr_slice {
    const char *p;
    size_t len;
} hr_slice_t;

static inline int hr_slice_eq(hr_slice_t a, hr_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

#endif
