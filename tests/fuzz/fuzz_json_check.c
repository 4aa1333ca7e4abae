/* SPDX-License-Identifier: MIT
 * fuzz_json_check.c: the JSON grammar check (codec/json_check.c) on any
 * bytes, against jansson (the JSON library the relay links) as a second
 * opinion. The input is copied to a buffer of its exact length, so a read
 * past it is caught. They must agree on every input that both judge by
 * RFC 8259's grammar alone: valid UTF-8 (jansson checks it, the grammar
 * check leaves it to its caller), no \u escape (jansson refuses \u0000 and
 * lone surrogates, which the grammar allows), not nested past jansson's
 * own limit, no NUL byte (jansson's reader stops at one: "1\0" passes
 * there; RFC 8259 has no such rule, and neither does the check), and no
 * number jansson cannot hold (it refuses overflowing reals). A refusal's
 * offset is within the input. */
#include "base/utf8.h"
#include "codec/json_check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t depth_of(const uint8_t *p, size_t n)
{
    size_t d = 0, max = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '[' || p[i] == '{')
            max = ++d > max ? d : max;
        else if ((p[i] == ']' || p[i] == '}') && d)
            d--;
    }
    return max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (p == NULL)
        abort();
    memcpy(p, data, size);
    size_t at = 0;
    const char *why = hr_json_check(p, size, &at);
    if (why != NULL && at > size)
        abort();
    if (hr_utf8_valid(data, size) && memmem(data, size, "\\u", 2) == NULL &&
        memchr(data, 0, size) == NULL && depth_of(data, size) < 512) {
        json_error_t e;
        json_t *j =
            json_loadb(p, size, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
        int overflow = j == NULL && strstr(e.text, "overflow") != NULL;
        if (!overflow && (j != NULL) != (why == NULL))
            abort(); /* the two disagree on the grammar */
        json_decref(j);
    }
    free(p);
    return 0;
}
