/* SPDX-License-Identifier: MIT
 * test_utf8.c: unit tests for relay/src/utf8.c, the strict incremental UTF-8
 * validator. Known-bad classes (overlongs, surrogates, > U+10FFFF, truncated
 * and stray bytes), incremental feeding at every split, and an exhaustive
 * comparison against a plain decoder for short sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/utf8.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

/* Reference: decode code points one by one and apply RFC 3629 directly.
 * Slow and obvious, which is the point. */
static int ref_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint8_t b = s[i];
        uint32_t cp;
        size_t k;

        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            k = 1;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            k = 2;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            k = 3;
            cp = b & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000))
            return 0; /* overlong */
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Feeding one byte at a time and at every split point must agree with one
 * feed of the whole. */
static void check_incremental(const uint8_t *s, size_t n)
{
    uint32_t whole = hr_utf8_feed(HR_UTF8_ACCEPT, s, n);
    uint32_t st = HR_UTF8_ACCEPT;

    for (size_t i = 0; i < n; i++)
        st = hr_utf8_feed(st, s + i, 1);
    assert_int_equal(st, whole);
    for (size_t k = 0; k <= n; k++) {
        st = hr_utf8_feed(HR_UTF8_ACCEPT, s, k);
        st = hr_utf8_feed(st, s + k, n - k);
        assert_int_equal(st, whole);
    }
}

static void expect_valid(const uint8_t *s, size_t n)
{
    assert_true(hr_utf8_valid(s, n));
    assert_int_equal(hr_utf8_feed(HR_UTF8_ACCEPT, s, n), HR_UTF8_ACCEPT);
    assert_true(ref_valid(s, n));
    check_incremental(s, n);
}

static void expect_reject(const uint8_t *s, size_t n)
{
    assert_false(hr_utf8_valid(s, n));
    assert_int_equal(hr_utf8_feed(HR_UTF8_ACCEPT, s, n), HR_UTF8_REJECT);
    assert_false(ref_valid(s, n));
    check_incremental(s, n);
}

/* Valid so far but stopped inside a character: neither ACCEPT nor REJECT. */
static void expect_truncated(const uint8_t *s, size_t n)
{
    uint32_t st = hr_utf8_feed(HR_UTF8_ACCEPT, s, n);

    assert_false(hr_utf8_valid(s, n));
    assert_int_not_equal(st, HR_UTF8_ACCEPT);
    assert_int_not_equal(st, HR_UTF8_REJECT);
    assert_false(ref_valid(s, n));
    check_incremental(s, n);
}

static void test_empty_and_ascii(void **state)
{
    uint8_t all[128];

    (void)state;
    expect_valid(S(""));
    assert_true(hr_utf8_valid(NULL, 0));
    for (int i = 0; i < 128; i++)
        all[i] = (uint8_t)i;
    expect_valid(all, sizeof all); /* NUL and DEL included */
    expect_valid(S("hello, world"));
}

static void test_valid_1_to_4_bytes(void **state)
{
    (void)state;
    expect_valid(S("\x7F"));             /* U+007F, last 1-byte */
    expect_valid(S("\xC2\x80"));         /* U+0080, first 2-byte */
    expect_valid(S("\xC3\xA9"));         /* é */
    expect_valid(S("\xDF\xBF"));         /* U+07FF, last 2-byte */
    expect_valid(S("\xE0\xA0\x80"));     /* U+0800, first 3-byte */
    expect_valid(S("\xE2\x82\xAC"));     /* € */
    expect_valid(S("\xED\x9F\xBF"));     /* U+D7FF, just below surrogates */
    expect_valid(S("\xEE\x80\x80"));     /* U+E000, just above surrogates */
    expect_valid(S("\xEF\xBF\xBF"));     /* U+FFFF */
    expect_valid(S("\xF0\x90\x80\x80")); /* U+10000, first 4-byte */
    expect_valid(S("\xF0\x9F\x98\x80")); /* 😀 */
    expect_valid(S("\xF3\xBF\xBF\xBF")); /* U+FFFFF */
    expect_valid(S("\xF4\x8F\xBF\xBF")); /* U+10FFFF, the last code point */
    expect_valid(S("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E!"));
}

static void test_overlong(void **state)
{
    (void)state;
    expect_reject(S("\xC0\x80")); /* NUL in 2 bytes */
    expect_reject(S("\xC1\xBF"));
    expect_reject(S("\xE0\x80\x80"));
    expect_reject(S("\xE0\x9F\xBF")); /* U+07FF in 3 bytes */
    expect_reject(S("\xF0\x80\x80\x80"));
    expect_reject(S("\xF0\x8F\xBF\xBF")); /* U+FFFF in 4 bytes */
    /* C0/C1 can never start anything: rejected on the first byte. */
    assert_int_equal(hr_utf8_feed(HR_UTF8_ACCEPT, S("\xC0")), HR_UTF8_REJECT);
    assert_int_equal(hr_utf8_feed(HR_UTF8_ACCEPT, S("\xC1")), HR_UTF8_REJECT);
}

static void test_surrogates(void **state)
{
    (void)state;
    expect_reject(S("\xED\xA0\x80")); /* U+D800 */
    expect_reject(S("\xED\xAF\xBF")); /* U+DBFF */
    expect_reject(S("\xED\xB0\x80")); /* U+DC00 */
    expect_reject(S("\xED\xBF\xBF")); /* U+DFFF */
    /* A CESU-8 style pair is still two surrogates. */
    expect_reject(S("\xED\xA0\xBD\xED\xB8\x80"));
}

static void test_above_max(void **state)
{
    (void)state;
    expect_reject(S("\xF4\x90\x80\x80")); /* U+110000 */
    expect_reject(S("\xF4\xBF\xBF\xBF"));
    expect_reject(S("\xF5\x80\x80\x80"));
    expect_reject(S("\xF7\xBF\xBF\xBF"));
    expect_reject(S("\xF8\x88\x80\x80\x80")); /* old 5-byte form */
    expect_reject(S("\xFC\x84\x80\x80\x80\x80"));
    expect_reject(S("\xFE"));
    expect_reject(S("\xFF"));
}

static void test_truncated(void **state)
{
    (void)state;
    expect_truncated(S("\xC3"));
    expect_truncated(S("\xE2\x82"));
    expect_truncated(S("\xE2"));
    expect_truncated(S("\xF0\x9F\x98"));
    expect_truncated(S("\xF0\x9F"));
    expect_truncated(S("\xF0"));
    expect_truncated(S("abc\xE2\x82"));
    /* A truncated character followed by something else is invalid. */
    expect_reject(S("\xC3("));
    expect_reject(S("\xE2\x82("));
    expect_reject(S("\xF0\x9F\x98("));
    expect_reject(S("\xE2\x82\xE2\x82\xAC"));
}

static void test_stray_continuation(void **state)
{
    (void)state;
    expect_reject(S("\x80"));
    expect_reject(S("\xBF"));
    expect_reject(S("a\x80"));
    expect_reject(S("\xC3\xA9\xA9"));
    expect_reject(S("\xF0\x9F\x98\x80\x80"));
}

/* The validator fails at the first byte that cannot be part of valid text,
 * not at the end of the character: ws.c relies on that to fail a fragment
 * early. */
static void test_rejects_at_first_bad_byte(void **state)
{
    static const struct {
        const char *s;
        size_t bad; /* index of the first byte that makes it invalid */
    } cases[] = {
        {"\xE0\x80\x80", 1},
        {"\xED\xA0\x80", 1},
        {"\xF0\x80\x80\x80", 1},
        {"\xF4\x90\x80\x80", 1},
        {"ab\xC3(", 3},
        {"\xC0\x80", 0},
        {"\xF5", 0},
        {"abcdefghijk\x80", 11},
    };

    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const uint8_t *s = (const uint8_t *)cases[c].s;
        uint32_t st = HR_UTF8_ACCEPT;

        for (size_t i = 0; i < strlen(cases[c].s); i++) {
            st = hr_utf8_feed(st, s + i, 1);
            if (i < cases[c].bad)
                assert_int_not_equal(st, HR_UTF8_REJECT);
            else
                assert_int_equal(st, HR_UTF8_REJECT);
        }
    }
}

static void test_reject_is_sticky(void **state)
{
    uint32_t st;

    (void)state;
    st = hr_utf8_feed(HR_UTF8_ACCEPT, S("\xFF"));
    assert_int_equal(st, HR_UTF8_REJECT);
    st = hr_utf8_feed(st, S("plain ascii that is fine on its own"));
    assert_int_equal(st, HR_UTF8_REJECT);
    st = hr_utf8_feed(st, S(""));
    assert_int_equal(st, HR_UTF8_REJECT);
    /* A state no feed returns is treated as invalid, not indexed. */
    assert_int_equal(hr_utf8_feed(5, S("a")), HR_UTF8_REJECT);
    assert_int_equal(hr_utf8_feed(1200, S("a")), HR_UTF8_REJECT);
}

/* The ASCII fast path works on 8-byte words: put a bad byte, and a
 * multi-byte character, at every offset around the word boundaries. */
static void test_fast_path_alignment(void **state)
{
    uint8_t buf[48];

    (void)state;
    for (size_t pos = 0; pos < sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        buf[pos] = 0x80;
        expect_reject(buf, sizeof buf);
        for (size_t len = pos; len <= sizeof buf; len++)
            assert_int_equal(hr_utf8_valid(buf, len), len == pos);
    }
    for (size_t pos = 0; pos + 4 <= sizeof buf; pos++) {
        memset(buf, 'a', sizeof buf);
        memcpy(buf + pos, "\xF0\x9F\x98\x80", 4);
        expect_valid(buf, sizeof buf);
        for (size_t len = pos + 1; len < pos + 4; len++)
            assert_false(hr_utf8_valid(buf, len));
    }
}

static void test_exhaustive_two_bytes(void **state)
{
    uint8_t s[2];

    (void)state;
    for (int a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        assert_int_equal(hr_utf8_valid(s, 1), ref_valid(s, 1));
        for (int b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            assert_int_equal(hr_utf8_valid(s, 2), ref_valid(s, 2));
        }
    }
}

static void test_exhaustive_three_bytes(void **state)
{
    uint8_t s[3];

    (void)state;
    /* Every lead byte from C0 up, every second and third byte. */
    for (int a = 0xC0; a < 256; a++)
        for (int b = 0; b < 256; b++)
            for (int c = 0; c < 256; c++) {
                s[0] = (uint8_t)a;
                s[1] = (uint8_t)b;
                s[2] = (uint8_t)c;
                if (hr_utf8_valid(s, 3) != ref_valid(s, 3))
                    fail_msg("mismatch on %02X %02X %02X", a, b, c);
            }
}

static void test_exhaustive_four_bytes(void **state)
{
    static const uint8_t edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    uint8_t s[4];

    (void)state;
    /* Every 4-byte lead (and the invalid F5..F7) with every second and third
     * byte; the last byte only needs to probe the class edges. */
    for (int a = 0xF0; a < 0xF8; a++)
        for (int b = 0; b < 256; b++)
            for (int c = 0; c < 256; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    s[0] = (uint8_t)a;
                    s[1] = (uint8_t)b;
                    s[2] = (uint8_t)c;
                    s[3] = edge[d];
                    if (hr_utf8_valid(s, 4) != ref_valid(s, 4))
                        fail_msg("mismatch on %02X %02X %02X %02X", a, b, c, s[3]);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_ascii),
        cmocka_unit_test(test_valid_1_to_4_bytes),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_above_max),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_stray_continuation),
        cmocka_unit_test(test_rejects_at_first_bad_byte),
        cmocka_unit_test(test_reject_is_sticky),
        cmocka_unit_test(test_fast_path_alignment),
        cmocka_unit_test(test_exhaustive_two_bytes),
        cmocka_unit_test(test_exhaustive_three_bytes),
        cmocka_unit_test(test_exhaustive_four_bytes),
    };

    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
