/* SPDX-License-Identifier: MIT
 * test_json_check.c: the JSON grammar check (codec/json_check.c) against
 * RFC 8259: every kind of value, the classic invalid texts (trailing commas,
 * single quotes, leading zeros, bare words, control characters, bad
 * escapes), every prefix of a valid text (all but the whole are refused),
 * the depth limit, and agreement with jansson (the JSON library the relay
 * already links) on short texts over a small alphabet, exhaustively. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "codec/json_check.h"

static int ok(const char *s)
{
    return hr_json_check(s, strlen(s), NULL) == NULL;
}

static void test_valid(void **state)
{
    const char *good[] = {
        "0",
        "-0",
        "1",
        "-1",
        "12.5",
        "1e3",
        "1E+3",
        "1e-3",
        "-0.0e0",
        "123456789012345678901234",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"\\udead\"", /* a lone surrogate: the grammar allows it */
        "\"\xc3\xa9\"",
        "[]",
        "{}",
        "[1,2,3]",
        "{\"a\":1,\"b\":[true,{\"c\":null}]}",
        " \t\r\n1 \t\r\n",
        "[ ]",
        "{ }",
        "[ 1 , 2 ]",
        "{ \"a\" : 1 , \"b\" : 2 }",
        "[[[[[]]]]]",
        "{\"\":\"\"}",
        "{\"a\":{\"a\":{\"a\":[]}}}",
        "\"{\\\"not\\\": \\\"an object\\\"}\"",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!ok(good[i]))
            fail_msg("refused: %s (%s)", good[i], hr_json_check(good[i], strlen(good[i]), NULL));
}

static void test_invalid(void **state)
{
    struct {
        const char *text, *why;
        size_t at;
    } bad[] = {
        {"", "unexpected end", 0},
        {"   ", "unexpected end", 3},
        {"[1,]", "unexpected character", 3},
        {"{\"a\":1,}", "object key is not a string", 7},
        {"{'a':1}", "object key is not a string", 1},
        {"'a'", "unexpected character", 0},
        {"01", "text after the value", 1},
        {"-", "bad number", 1},
        {"1.", "bad number", 2},
        {".5", "unexpected character", 0},
        {"1e", "bad number", 2},
        {"+1", "unexpected character", 0},
        {"NaN", "unexpected character", 0},
        {"Infinity", "unexpected character", 0},
        {"tru", "bad literal", 3},
        {"nul", "bad literal", 3},
        {"True", "unexpected character", 0},
        {"\"abc", "unterminated string", 4},
        {"\"a\nb\"", "control character in a string", 2},
        {"\"a\tb\"", "control character in a string", 2},
        {"\"\\x\"", "bad escape", 2},
        {"\"\\u12\"", "bad \\u escape", 2},
        {"\"\\u12g4\"", "bad \\u escape", 2},
        {"\"\\", "unterminated string", 2},
        {"[1 2]", "expected ',' or ']'", 3},
        {"{\"a\" 1}", "expected ':'", 5},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}'", 7},
        {"[}", "mismatched bracket", 1},
        {"{]", "mismatched bracket", 1},
        {"[1}", "expected ',' or ']'", 2},
        {"1 2", "text after the value", 2},
        {"{} {}", "text after the value", 3},
        {"[", "unexpected end", 1},
        {"{\"a\":", "unexpected end", 5},
        {"\xc3\xa9", "unexpected character", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t at = 99;
        const char *why = hr_json_check(bad[i].text, strlen(bad[i].text), &at);
        if (why == NULL)
            fail_msg("accepted: %s", bad[i].text);
        if (strcmp(why, bad[i].why) != 0 || at != bad[i].at)
            fail_msg("%s: '%s' at %zu, want '%s' at %zu", bad[i].text, why, at, bad[i].why,
                     bad[i].at);
    }
    /* A NUL is a byte like any other: not whitespace, not allowed raw. */
    assert_non_null(hr_json_check("1\0", 2, NULL));
    assert_non_null(hr_json_check("\"\0\"", 3, NULL));
}

/* Every proper prefix of a complete container is refused; the length is
 * honoured (no reading past it). */
static void test_prefixes(void **state)
{
    const char *s = "{\"a\":[1,-2.5e+3,\"x\\u0041\",true,false,null,{}],\"b\":{\"c\":[]}}";
    size_t n = strlen(s);
    for (size_t k = 0; k < n; k++) {
        char *p = malloc(k ? k : 1); /* exactly k bytes: ASan sees an overread */
        memcpy(p, s, k);
        if (hr_json_check(p, k, NULL) == NULL)
            fail_msg("prefix of %zu bytes accepted", k);
        free(p);
    }
    assert_null(hr_json_check(s, n, NULL));
}

static void test_depth(void **state)
{
    size_t d = HR_JSON_MAX_DEPTH;
    char *s = malloc(2 * d + 2);
    memset(s, '[', d);
    memset(s + d, ']', d);
    assert_null(hr_json_check(s, 2 * d, NULL));
    memset(s, '[', d + 1);
    memset(s + d + 1, ']', d + 1);
    size_t at = 0;
    assert_string_equal(hr_json_check(s, 2 * d + 2, &at), "nested too deep");
    assert_int_equal(at, d);
    /* Objects and arrays mixed at depth: the bit stack remembers which. */
    char *m = malloc(8 * d);
    size_t k = 0;
    for (size_t i = 0; i < d; i++) {
        if (i % 3 == 0) {
            memcpy(m + k, "{\"k\":", 5);
            k += 5;
        } else
            m[k++] = '[';
    }
    m[k++] = '0';
    for (size_t i = d; i-- > 0;)
        m[k++] = i % 3 == 0 ? '}' : ']';
    assert_null(hr_json_check(m, k, NULL));
    m[k - 1] = m[k - 1] == '}' ? ']' : '}';
    assert_non_null(hr_json_check(m, k, NULL));
    free(m);
    free(s);
}

/* Agreement with jansson on every text of up to 5 bytes over an alphabet
 * that reaches every branch. jansson (JSON_DECODE_ANY, JSON_ALLOW_NUL)
 * follows RFC 8259 but refuses a \u0000 escape and lone surrogates, which
 * the grammar allows: no backslash in the alphabet keeps those out. */
static void test_agrees_with_jansson(void **state)
{
    static const char alpha[] = "[]{}\":,01-.e tn";
    const size_t na = sizeof alpha - 1;
    char s[6];
    size_t checked = 0;
    for (size_t len = 1; len <= 5; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= na;
        for (size_t code = 0; code < total; code++) {
            size_t c = code;
            for (size_t i = 0; i < len; i++, c /= na)
                s[i] = alpha[c % na];
            json_error_t e;
            json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            int ours = hr_json_check(s, len, NULL) == NULL;
            if (ours != (j != NULL))
                fail_msg("'%.*s': ours %d, jansson %d", (int)len, s, ours, j != NULL);
            json_decref(j);
            checked++;
        }
    }
    assert_true(checked > 700000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_agrees_with_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
