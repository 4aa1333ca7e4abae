/* SPDX-License-Identifier: MIT
 * alloc.h: allocation never fails for the caller: out of memory aborts with
 * a message (h2o, Redis), so error paths deal with input and I/O only. */
#ifndef HR_ALLOC_H
#define HR_ALLOC_H

#include <stddef.h>

void *hr_xmalloc(size_t n);
void *hr_xcalloc(size_t n, size_t size);
void *hr_xrealloc(void *p, size_t n);
char *hr_xstrndup(const char *s, size_t n);

#endif
