/* SPDX-License-Identifier: MIT
 * test_deflate.c: unit tests of relay/src/codec/deflate.c: the offers of
 * RFC 7692 section 7 (accepted, declined, the next one tried), the answer,
 * compression round trips through zlib itself and through the inflater,
 * the RFC's own example bytes, context takeover, and the caps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/deflate.h"

static int offer(const char *v, hr_deflate_params_t *p, int *declined)
{
    *declined = 0;
    memset(p, 0xAA, sizeof *p);
    return hr_deflate_offer(v, strlen(v), p, declined);
}

static void answer_is(const char *v, const char *want)
{
    hr_deflate_params_t p;
    int declined;
    assert_int_equal(offer(v, &p, &declined), 1);
    char out[HR_DEFLATE_ANSWER_MAX];
    size_t n = hr_deflate_answer(&p, out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
}

static void declined_all(const char *v, int any_pmd)
{
    hr_deflate_params_t p;
    int declined;
    assert_int_equal(offer(v, &p, &declined), 0);
    assert_int_equal(declined, any_pmd);
}

static void test_offers(void **state)
{
    answer_is("permessage-deflate", "permessage-deflate; server_no_context_takeover");
    answer_is("permessage-deflate; client_max_window_bits",
              "permessage-deflate; server_no_context_takeover");
    answer_is("permessage-deflate; client_max_window_bits=10",
              "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
    answer_is("permessage-deflate; client_max_window_bits=\"12\"",
              "permessage-deflate; server_no_context_takeover; client_max_window_bits=12");
    answer_is("Permessage-Deflate ; Server_Max_Window_Bits = 9",
              "permessage-deflate; server_no_context_takeover; server_max_window_bits=9");
    answer_is("permessage-deflate; server_no_context_takeover; client_no_context_takeover",
              "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    /* Every parameter at once: the longest answer, whole (found by
     * fuzz_deflate: it was cut at 128 bytes). */
    answer_is("permessage-deflate; server_max_window_bits=10; client_max_window_bits=10; "
              "client_no_context_takeover",
              "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
              "client_max_window_bits=10; client_no_context_takeover");
    /* Chromium's offer. */
    answer_is("permessage-deflate; client_max_window_bits",
              "permessage-deflate; server_no_context_takeover");
    /* Another extension first, then ours. */
    answer_is("x-webkit-deflate-frame; a=\"b,c\", permessage-deflate; server_max_window_bits=15",
              "permessage-deflate; server_no_context_takeover; server_max_window_bits=15");
    /* The first offer is unacceptable: the next is taken. */
    answer_is("permessage-deflate; server_max_window_bits=8, permessage-deflate; "
              "server_max_window_bits=10",
              "permessage-deflate; server_no_context_takeover; server_max_window_bits=10");
    answer_is("permessage-deflate; foo=1, permessage-deflate",
              "permessage-deflate; server_no_context_takeover");

    hr_deflate_params_t p;
    int d;
    assert_int_equal(
        offer("permessage-deflate; server_max_window_bits=12; client_max_window_bits", &p, &d), 1);
    assert_int_equal(p.server_bits, 12);
    assert_int_equal(p.client_bits, 0);
    assert_int_equal(p.client_no_context, 0);
    assert_int_equal(offer("permessage-deflate", &p, &d), 1);
    assert_int_equal(p.server_bits, 15);
    assert_int_equal(p.server_bits_named, 0);
}

static void test_declined(void **state)
{
    declined_all("", 0);
    declined_all("x-other", 0);
    declined_all("permessage-deflate; server_max_window_bits=8", 1); /* zlib cannot */
    declined_all("permessage-deflate; server_max_window_bits", 1);   /* needs a value */
    declined_all("permessage-deflate; server_max_window_bits=16", 1);
    declined_all("permessage-deflate; server_max_window_bits=7", 1);
    declined_all("permessage-deflate; server_max_window_bits=010", 1);
    declined_all("permessage-deflate; client_max_window_bits=16", 1);
    declined_all("permessage-deflate; client_max_window_bits=abc", 1);
    declined_all("permessage-deflate; client_no_context_takeover=1", 1);
    declined_all("permessage-deflate; server_no_context_takeover; server_no_context_takeover", 1);
    declined_all("permessage-deflate; client_max_window_bits; client_max_window_bits=9", 1);
    declined_all("permessage-deflate; unknown", 1);
    declined_all("permessage-deflate; server_max_window_bits=9; unknown=x, permessage-deflate; "
                 "server_max_window_bits=8",
                 1);
    /* Broken syntax: nothing past it is read. */
    declined_all("permessage-deflate; =3", 0);
    declined_all("permessage-deflate; a=\"unterminated", 0);
    declined_all("permessage-deflate x", 0);
}

static uint8_t *pattern(size_t n)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)("{\"cpu\":0.51,\"mem\":1234,\"host\":\"web-01\"}"[i % 40] + (i / 997) % 3);
    return b;
}

/* Inflate with zlib itself (as a client would): raw, 00 00 ff ff appended. */
static uint8_t *zlib_inflate(const uint8_t *in, size_t len, int bits, size_t want)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, -bits), Z_OK);
    uint8_t *buf = malloc(len + 4);
    memcpy(buf, in, len);
    memcpy(buf + len, "\x00\x00\xff\xff", 4);
    uint8_t *out = malloc(want + 1);
    z.next_in = buf;
    z.avail_in = (uInt)(len + 4);
    z.next_out = out;
    z.avail_out = (uInt)(want + 1);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    assert_true(rc == Z_OK || rc == Z_BUF_ERROR);
    assert_int_equal(z.avail_in, 0);
    assert_int_equal(want + 1 - z.avail_out, want);
    inflateEnd(&z);
    free(buf);
    return out;
}

static void test_compress(void **state)
{
    size_t sizes[] = {0, 1, 100, 2000, 70000};
    for (int bits = 9; bits <= 15; bits++) {
        hr_deflater_t *d = hr_deflater_new(bits, 6);
        assert_non_null(d);
        hr_inflater_t *z = hr_inflater_new();
        for (size_t i = 0; i < HR_ARRAY_SIZE(sizes); i++) {
            uint8_t *in = pattern(sizes[i]);
            uint8_t *out;
            long n = hr_deflater_compress(d, in, sizes[i], 10, &out);
            assert_true(n > 0);
            if (sizes[i] > 1000)
                assert_true((size_t)n < sizes[i] / 4);
            /* Read back by zlib with exactly the agreed window. */
            uint8_t *back = zlib_inflate(out + 10, (size_t)n, bits, sizes[i]);
            assert_memory_equal(back, in, sizes[i]);
            free(back);
            /* And by our inflater, twice: no context taken over. */
            for (int k = 0; k < 2; k++) {
                uint8_t *m;
                size_t mlen;
                assert_int_equal(
                    hr_inflater_message(z, out + 10, (size_t)n, sizes[i], 1, &m, &mlen),
                    HR_INFLATE_OK);
                assert_int_equal(mlen, sizes[i]);
                assert_memory_equal(m, in, mlen);
                free(m);
            }
            free(out);
            free(in);
        }
        hr_inflater_free(z);
        hr_deflater_free(d);
    }
}

/* RFC 7692 section 7.2.3.1 and 7.2.3.2: "Hello" and its shared context. */
static void test_rfc_examples(void **state)
{
    static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
    static const uint8_t hello2[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
                                     0x65, 0x6c, 0x6c, 0x6f, 0x00};
    static const uint8_t final[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    hr_inflater_t *z = hr_inflater_new();
    uint8_t *m;
    size_t n;
    assert_int_equal(hr_inflater_message(z, hello, sizeof hello, 100, 1, &m, &n), HR_INFLATE_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(m, "Hello", 5);
    free(m);
    /* The second message refers back to the first (context takeover). */
    assert_int_equal(hr_inflater_message(z, hello2, sizeof hello2, 100, 1, &m, &n), HR_INFLATE_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(m, "Hello", 5);
    free(m);
    assert_int_equal(hr_inflater_message(z, stored, sizeof stored, 100, 0, &m, &n), HR_INFLATE_OK);
    assert_memory_equal(m, "Hello", 5);
    free(m);
    /* BFINAL set: the stream ends, and the next message starts afresh. */
    assert_int_equal(hr_inflater_message(z, final, sizeof final, 100, 1, &m, &n), HR_INFLATE_OK);
    assert_memory_equal(m, "Hello", 5);
    free(m);
    assert_int_equal(hr_inflater_message(z, hello, sizeof hello, 100, 1, &m, &n), HR_INFLATE_OK);
    assert_memory_equal(m, "Hello", 5);
    free(m);
    hr_inflater_free(z);

    /* Without the first message, the back reference is corrupt. */
    z = hr_inflater_new();
    assert_int_equal(hr_inflater_message(z, hello2, sizeof hello2, 100, 1, &m, &n),
                     HR_INFLATE_CORRUPT);
    assert_null(m);
    /* Broken stays broken. */
    assert_int_equal(hr_inflater_message(z, hello, sizeof hello, 100, 1, &m, &n),
                     HR_INFLATE_CORRUPT);
    hr_inflater_free(z);
}

static void test_caps(void **state)
{
    /* A bomb: 10 MB of zeros compress to about 10 KB. */
    size_t big = 10 << 20;
    uint8_t *zeros = calloc(1, big);
    hr_deflater_t *d = hr_deflater_new(15, 9);
    uint8_t *c;
    long cn = hr_deflater_compress(d, zeros, big, 0, &c);
    assert_true(cn > 0 && cn < 20000);
    hr_inflater_t *z = hr_inflater_new();
    uint8_t *m;
    size_t n;
    assert_int_equal(hr_inflater_message(z, c, (size_t)cn, 65536, 0, &m, &n), HR_INFLATE_TOO_BIG);
    assert_null(m);
    hr_inflater_free(z);
    free(c);
    /* Exactly at the cap passes; one byte more does not. */
    cn = hr_deflater_compress(d, zeros, 1000, 0, &c);
    z = hr_inflater_new();
    assert_int_equal(hr_inflater_message(z, c, (size_t)cn, 1000, 0, &m, &n), HR_INFLATE_OK);
    assert_int_equal(n, 1000);
    free(m);
    assert_int_equal(hr_inflater_message(z, c, (size_t)cn, 999, 0, &m, &n), HR_INFLATE_TOO_BIG);
    hr_inflater_free(z);
    free(c);
    hr_deflater_free(d);
    free(zeros);

    /* Not deflate at all. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x12};
    z = hr_inflater_new();
    assert_int_equal(hr_inflater_message(z, junk, sizeof junk, 100, 0, &m, &n), HR_INFLATE_CORRUPT);
    hr_inflater_free(z);
    /* An empty message ("00" per RFC 7692 7.2.3.6) and zero bytes. */
    z = hr_inflater_new();
    assert_int_equal(hr_inflater_message(z, (const uint8_t *)"\x00", 1, 100, 0, &m, &n),
                     HR_INFLATE_OK);
    assert_int_equal(n, 0);
    free(m);
    assert_int_equal(hr_inflater_message(z, NULL, 0, 100, 0, &m, &n), HR_INFLATE_OK);
    assert_int_equal(n, 0);
    free(m);
    hr_inflater_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offers),   cmocka_unit_test(test_declined),
        cmocka_unit_test(test_compress), cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
