/* SPDX-License-Identifier: MIT
 * alloc.c: allocation helpers that abort on out-of-memory. */
#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "herald-relay: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *hr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *hr_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *hr_xstrndup(const char *s, size_t n)
{
    char *p = hr_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
