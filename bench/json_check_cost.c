/* SPDX-License-Identifier: MIT
 * json_check_cost.c: what the JSON check (relay/src/codec/json_check.c)
 * costs on the publish path, next to the UTF-8 check every text frame
 * already pays and to a full parse with jansson. Payloads: a small object
 * (what herald_publish() sends most), then arrays of records of about
 * 1 KiB, 64 KiB and 1 MiB. `make bench-json` builds and runs it (-O2). */
#include "base/utf8.h"
#include "codec/json_check.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* An array of records, at least target bytes long. */
static char *records(size_t target, size_t *len)
{
    size_t cap = target + 256, n = 0;
    char *s = malloc(cap);
    if (s == NULL)
        abort();
    s[n++] = '[';
    for (int i = 0; n < target; i++)
        n += (size_t)snprintf(s + n, cap - n,
                              "%s{\"id\":%d,\"name\":\"user %d \xc3\xa9t\xc3\xa9\",\"score\":%d.25,"
                              "\"tags\":[\"a\",\"b\",null,true],\"ok\":false}",
                              i ? "," : "", i, i, i * 7);
    s[n++] = ']';
    s[n] = '\0';
    *len = n;
    return s;
}

int main(void)
{
    static const size_t sizes[] = {0, 1024, 65536, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len;
        char *s;
        if (sizes[k] == 0) {
            s = strdup("{\"order\":7,\"total\":12.5,\"tags\":[\"x\",null],\"ok\":true}");
            len = strlen(s);
        } else
            s = records(sizes[k], &len);
        if (hr_json_check(s, len, NULL) != NULL)
            abort();
        size_t iters = (size_t)(2e8 / (double)len) + 10, parses = iters / 20 + 1;
        volatile int sink = 0;
        double t0 = now();
        for (size_t i = 0; i < iters; i++)
            sink += hr_json_check(s, len, NULL) == NULL;
        double t1 = now();
        for (size_t i = 0; i < iters; i++)
            sink += hr_utf8_valid((const uint8_t *)s, len);
        double t2 = now();
        for (size_t i = 0; i < parses; i++) {
            json_error_t e;
            json_t *j = json_loadb(s, len, JSON_DECODE_ANY, &e);
            sink += j != NULL;
            json_decref(j);
        }
        double t3 = now();
        printf(
            "%8zu bytes: json_check %10.1f ns (%.2f GB/s)   utf8 %10.1f ns (%.2f GB/s)   jansson "
            "parse %12.1f ns\n",
            len, (t1 - t0) / (double)iters * 1e9, (double)len * (double)iters / (t1 - t0) / 1e9,
            (t2 - t1) / (double)iters * 1e9, (double)len * (double)iters / (t2 - t1) / 1e9,
            (t3 - t2) / (double)parses * 1e9);
        free(s);
    }
    return 0;
}
