/* SPDX-License-Identifier: MIT
 * json_check.c: a one-pass JSON grammar check (json_check.h). A small state
 * machine over the bytes: "a value is due" and "a value just ended", plus a
 * bit stack saying whether each open container is an object or an array.
 * Strings, the bulk of most payloads, are skipped by a table lookup per
 * byte; nothing is decoded or copied. */
#include "codec/json_check.h"

#include <stdint.h>

/* Bytes a string cannot hold as they are: '"' ends it, '\\' starts an
 * escape, control characters must be escaped (RFC 8259 section 7). */
static const uint8_t str_special[256] = {
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, /* '"' */
    ['\\'] = 1,
};

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The string whose opening quote is at s[*i]; on success *i is past its
 * closing quote. */
static const char *string(const uint8_t *s, size_t n, size_t *i)
{
    size_t k = *i + 1;
    for (;;) {
        while (k < n && !str_special[s[k]])
            k++;
        if (k == n) {
            *i = k;
            return "unterminated string";
        }
        if (s[k] == '"') {
            *i = k + 1;
            return NULL;
        }
        if (s[k] != '\\') {
            *i = k;
            return "control character in a string";
        }
        if (++k == n) {
            *i = k;
            return "unterminated string";
        }
        switch (s[k]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            k++;
            break;
        case 'u':
            /* Any four hex digits: the grammar allows a lone surrogate
             * (RFC 8259 section 8.2 only warns about it). */
            if (n - k < 5 || !is_hex(s[k + 1]) || !is_hex(s[k + 2]) || !is_hex(s[k + 3]) ||
                !is_hex(s[k + 4])) {
                *i = k;
                return "bad \\u escape";
            }
            k += 5;
            break;
        default:
            *i = k;
            return "bad escape";
        }
    }
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s[*i]. */
static const char *number(const uint8_t *s, size_t n, size_t *i)
{
    size_t k = *i;
    if (s[k] == '-')
        k++;
    if (k == n || !is_digit(s[k])) {
        *i = k;
        return "bad number";
    }
    if (s[k] == '0')
        k++;
    else
        while (k < n && is_digit(s[k]))
            k++;
    if (k < n && s[k] == '.') {
        k++;
        if (k == n || !is_digit(s[k])) {
            *i = k;
            return "bad number";
        }
        while (k < n && is_digit(s[k]))
            k++;
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < n && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k == n || !is_digit(s[k])) {
            *i = k;
            return "bad number";
        }
        while (k < n && is_digit(s[k]))
            k++;
    }
    *i = k;
    return NULL;
}

static const char *literal(const uint8_t *s, size_t n, size_t *i, const char *word, size_t len)
{
    for (size_t j = 0; j < len; j++)
        if (*i + j >= n || s[*i + j] != (uint8_t)word[j]) {
            *i += j;
            return "bad literal";
        }
    *i += len;
    return NULL;
}

const char *hr_json_check(const char *p, size_t len, size_t *at)
{
    const uint8_t *s = (const uint8_t *)p;
    uint8_t objects[HR_JSON_MAX_DEPTH / 8]; /* bit set: that level is an object */
    size_t depth = 0, i = 0;
    const char *why = NULL;

value:
    while (i < len && is_ws(s[i]))
        i++;
    if (i == len) {
        why = "unexpected end";
        goto fail;
    }
    switch (s[i]) {
    case '{':
    case '[':
        if (depth == HR_JSON_MAX_DEPTH) {
            why = "nested too deep";
            goto fail;
        }
        if (s[i] == '{')
            objects[depth / 8] |= (uint8_t)(1u << (depth % 8));
        else
            objects[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
        depth++;
        i++;
        while (i < len && is_ws(s[i]))
            i++;
        if (i < len && (s[i] == '}' || s[i] == ']')) {
            int obj = (objects[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            if (s[i] != (obj ? '}' : ']')) {
                why = "mismatched bracket";
                goto fail;
            }
            depth--;
            i++;
            goto after;
        }
        if ((objects[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1)
            goto key;
        goto value;
    case '"':
        if ((why = string(s, len, &i)) != NULL)
            goto fail;
        goto after;
    case 't':
        why = literal(s, len, &i, "true", 4);
        break;
    case 'f':
        why = literal(s, len, &i, "false", 5);
        break;
    case 'n':
        why = literal(s, len, &i, "null", 4);
        break;
    default:
        if (s[i] == '-' || is_digit(s[i])) {
            why = number(s, len, &i);
            break;
        }
        why = "unexpected character";
        goto fail;
    }
    if (why)
        goto fail;
    goto after;

key:
    while (i < len && is_ws(s[i]))
        i++;
    if (i == len || s[i] != '"') {
        why = i == len ? "unexpected end" : "object key is not a string";
        goto fail;
    }
    if ((why = string(s, len, &i)) != NULL)
        goto fail;
    while (i < len && is_ws(s[i]))
        i++;
    if (i == len || s[i] != ':') {
        why = i == len ? "unexpected end" : "expected ':'";
        goto fail;
    }
    i++;
    goto value;

after:
    while (i < len && is_ws(s[i]))
        i++;
    if (depth == 0) {
        if (i != len) {
            why = "text after the value";
            goto fail;
        }
        return NULL;
    }
    if (i == len) {
        why = "unexpected end";
        goto fail;
    }
    {
        int obj = (objects[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
        if (s[i] == ',') {
            i++;
            if (obj)
                goto key;
            goto value;
        }
        if (s[i] == (obj ? '}' : ']')) {
            depth--;
            i++;
            goto after;
        }
        why = obj ? "expected ',' or '}'" : "expected ',' or ']'";
    }

fail:
    if (at)
        *at = i;
    return why;
}
