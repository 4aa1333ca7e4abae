/* SPDX-License-Identifier: MIT
 * json_str.c: one JSON string writer (json_str.h). */
#include "codec/json_str.h"
#include "base/utf8.h"

#include <stdint.h>
#include <string.h>

static void put(char *out, size_t *n, const void *s, size_t len)
{
    if (out && len)
        memcpy(out + *n, s, len);
    *n += len;
}

size_t hr_json_str(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = (const uint8_t *)s;
    size_t n = 0, i = 0, run = 0; /* run: plain bytes before i, copied in one go */
    if (len == 0) {               /* s may be NULL: no arithmetic on it */
        put(out, &n, "\"\"", 2);
        return n;
    }
    put(out, &n, "\"", 1);
    while (i < len) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        put(out, &n, p + i - run, run);
        run = 0;
        if (c < 0x80) {
            char esc[6] = {'\\', (char)c};
            size_t el = 2;
            if (c == '\n')
                esc[1] = 'n';
            else if (c == '\r')
                esc[1] = 'r';
            else if (c == '\t')
                esc[1] = 't';
            else if (c == '\b')
                esc[1] = 'b';
            else if (c == '\f')
                esc[1] = 'f';
            else if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                el = 6;
            }
            put(out, &n, esc, el);
            i++;
            continue;
        }
        /* A multi-byte character: copied when it is whole and valid. */
        size_t j = i;
        uint32_t st = HR_UTF8_ACCEPT;
        do
            st = hr_utf8_feed(st, p + j++, 1);
        while (st != HR_UTF8_ACCEPT && st != HR_UTF8_REJECT && j < len);
        if (st == HR_UTF8_ACCEPT) {
            put(out, &n, p + i, j - i);
            i = j;
        } else {
            put(out, &n, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    put(out, &n, p + i - run, run);
    put(out, &n, "\"", 1);
    return n;
}
