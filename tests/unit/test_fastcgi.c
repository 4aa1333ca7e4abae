/* SPDX-License-Identifier: MIT
 * test_fastcgi.c: unit tests of relay/src/codec/fastcgi.c: the request
 * encoder byte for byte against hand-built records (1- and 4-byte lengths,
 * padding, STDIN split at 65535 bytes), the response reader fed whole, byte
 * by byte and in chunks of every size up to 17, each of its refusals, and
 * the CGI header splitter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/fastcgi.h"

#define S(lit) ((hr_slice_t){lit, sizeof(lit) - 1})

/* A growing byte string for expected bytes and responses. */
typedef struct bytes {
    uint8_t p[200000];
    size_t n;
} bytes_t;

static void add(bytes_t *b, const void *s, size_t n)
{
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* One record with explicit padding. */
static void rec(bytes_t *b, int version, int type, unsigned id, const void *content, size_t len,
                unsigned pad)
{
    uint8_t h[8] = {(uint8_t)version,    (uint8_t)type, (uint8_t)(id >> 8), (uint8_t)id,
                    (uint8_t)(len >> 8), (uint8_t)len,  (uint8_t)pad,       0};
    add(b, h, 8);
    if (len)
        add(b, content, len);
    uint8_t zero[256] = {0};
    add(b, zero, pad);
}

static void end_request(bytes_t *b, unsigned id, uint32_t app, int proto)
{
    uint8_t e[8] = {(uint8_t)(app >> 24),
                    (uint8_t)(app >> 16),
                    (uint8_t)(app >> 8),
                    (uint8_t)app,
                    (uint8_t)proto,
                    0,
                    0,
                    0};
    rec(b, 1, HR_FCGI_END_REQUEST, id, e, 8, 0);
}

static bytes_t want, resp;

static void test_encode_small(void **state)
{
    hr_fcgi_param_t params[] = {{S("SCRIPT_FILENAME"), S("/x.php")}, {S("E"), S("")}};
    hr_buf_t *b = hr_fcgi_request(1, params, 2, "hi", 2);
    want.n = 0;
    static const uint8_t begin[] = {1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    add(&want, begin, sizeof begin);
    /* 23 + 3 bytes of pairs: one record, padded by 6 to 32. */
    static const uint8_t pairs[] = "\x0f\x06SCRIPT_FILENAME/x.php\x01\x00"
                                   "E";
    rec(&want, 1, HR_FCGI_PARAMS, 1, pairs, 26, 6);
    rec(&want, 1, HR_FCGI_PARAMS, 1, NULL, 0, 0);
    rec(&want, 1, HR_FCGI_STDIN, 1, "hi", 2, 6);
    rec(&want, 1, HR_FCGI_STDIN, 1, NULL, 0, 0);
    assert_int_equal(b->len, want.n);
    assert_memory_equal(b->data, want.p, want.n);
    assert_int_equal(b->len % 8, 0);
    hr_buf_unref(b);
}

static void test_encode_long_lengths(void **state)
{
    static char name[200], value[128];
    memset(name, 'n', sizeof name);
    memset(value, 'v', sizeof value);
    hr_fcgi_param_t params[] = {{{name, 200}, {value, 127}}, {{name, 1}, {value, 128}}};
    hr_buf_t *b = hr_fcgi_request(0x1234, params, 2, NULL, 0);
    want.n = 0;
    static const uint8_t begin[] = {1, 1, 0x12, 0x34, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    add(&want, begin, sizeof begin);
    bytes_t *pv = calloc(1, sizeof *pv);
    add(pv, "\x80\x00\x00\xc8\x7f", 5); /* 200 needs 4 bytes, 127 fits 1 */
    add(pv, name, 200);
    add(pv, value, 127);
    add(pv, "\x01\x80\x00\x00\x80", 5);
    add(pv, name, 1);
    add(pv, value, 128);
    assert_int_equal(pv->n, 466);
    rec(&want, 1, HR_FCGI_PARAMS, 0x1234, pv->p, pv->n, 6);
    rec(&want, 1, HR_FCGI_PARAMS, 0x1234, NULL, 0, 0);
    rec(&want, 1, HR_FCGI_STDIN, 0x1234, NULL, 0, 0); /* no body: only the end of STDIN */
    assert_int_equal(b->len, want.n);
    assert_memory_equal(b->data, want.p, want.n);
    free(pv);
    hr_buf_unref(b);
}

static void test_encode_split_stdin(void **state)
{
    size_t len = 70000;
    uint8_t *body = malloc(len);
    for (size_t i = 0; i < len; i++)
        body[i] = (uint8_t)(i * 7);
    hr_buf_t *b = hr_fcgi_request(1, NULL, 0, body, len);
    want.n = 0;
    static const uint8_t begin[] = {1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    add(&want, begin, sizeof begin);
    rec(&want, 1, HR_FCGI_PARAMS, 1, NULL, 0, 0);
    rec(&want, 1, HR_FCGI_STDIN, 1, body, 65535, 1);
    rec(&want, 1, HR_FCGI_STDIN, 1, body + 65535, len - 65535, 7); /* 4465 -> 4472 */
    rec(&want, 1, HR_FCGI_STDIN, 1, NULL, 0, 0);
    assert_int_equal(b->len, want.n);
    assert_memory_equal(b->data, want.p, want.n);
    hr_buf_unref(b);

    /* Exactly 65535 bytes: one record, then the end. */
    b = hr_fcgi_request(1, NULL, 0, body, 65535);
    assert_int_equal(b->len, 16 + 8 + 8 + 65535 + 1 + 8);
    hr_buf_unref(b);
    free(body);
}

static void test_encode_params_split(void **state)
{
    /* Pairs longer than one record: the stream is cut mid-pair, as allowed. */
    size_t vl = 70000;
    char *value = malloc(vl);
    memset(value, 'x', vl);
    hr_fcgi_param_t params[] = {{S("BIG"), {value, vl}}};
    hr_buf_t *b = hr_fcgi_request(1, params, 1, NULL, 0);
    const uint8_t *p = (const uint8_t *)b->data + 16;
    assert_int_equal(p[1], HR_FCGI_PARAMS);
    assert_int_equal(p[4] << 8 | p[5], 65535);
    assert_memory_equal(p + 8,
                        "\x03\x80\x01\x11\x70"
                        "BIG",
                        8);
    p += 8 + 65535 + 1;
    assert_int_equal(p[1], HR_FCGI_PARAMS);
    assert_int_equal(p[4] << 8 | p[5], 1 + 4 + 3 + vl - 65535);
    hr_buf_unref(b);
    free(value);
}

/* A response: stdout in two records (one padded by 7, one by 255), stderr,
 * the empty stdout, END_REQUEST. */
static const char head_body[] = "Status: 201 Created\r\nContent-Type: application/json\r\n\r\n";

static void build_response(bytes_t *b)
{
    b->n = 0;
    rec(b, 1, HR_FCGI_STDOUT, 1, head_body, strlen(head_body), 7);
    rec(b, 1, HR_FCGI_STDERR, 1, "PHP Warning", 11, 5);
    rec(b, 1, HR_FCGI_STDOUT, 1, "{\"results\":[]}", 14, 255);
    rec(b, 1, HR_FCGI_STDERR, 1, "!", 1, 0);
    rec(b, 1, HR_FCGI_STDOUT, 1, NULL, 0, 0);
    end_request(b, 1, 0x01020304, HR_FCGI_REQUEST_COMPLETE);
}

static void check_response(const hr_fcgi_reader_t *r)
{
    assert_true(r->done);
    assert_int_equal(r->status, 0);
    size_t hl = strlen(head_body);
    assert_int_equal(r->out_len, hl + 14);
    assert_memory_equal(r->out, head_body, hl);
    assert_memory_equal(r->out + hl, "{\"results\":[]}", 14);
    assert_int_equal(r->err_len, 12);
    assert_memory_equal(r->err, "PHP Warning!", 12);
    assert_int_equal(r->app_status, 0x01020304);
    int st;
    size_t off;
    assert_int_equal(hr_cgi_split(r->out, r->out_len, &st, &off, NULL, 0), 0);
    assert_int_equal(st, 201);
    assert_int_equal(off, hl);
}

static void test_read_whole(void **state)
{
    build_response(&resp);
    hr_fcgi_reader_t r;
    hr_fcgi_reader_init(&r, 1, 1 << 20);
    assert_int_equal(hr_fcgi_reader_feed(&r, resp.p, resp.n), (ssize_t)resp.n);
    check_response(&r);
    /* Done: more bytes are refused. */
    assert_int_equal(hr_fcgi_reader_feed(&r, resp.p, 1), HR_EPROTO);
    hr_fcgi_reader_free(&r);
}

static void test_read_chunks(void **state)
{
    build_response(&resp);
    for (size_t chunk = 1; chunk <= 17; chunk++) {
        hr_fcgi_reader_t r;
        hr_fcgi_reader_init(&r, 1, 1 << 20);
        size_t at = 0;
        ssize_t n = HR_AGAIN;
        while (at < resp.n) {
            size_t c = resp.n - at < chunk ? resp.n - at : chunk;
            n = hr_fcgi_reader_feed(&r, resp.p + at, c);
            if (at + c < resp.n)
                assert_int_equal(n, HR_AGAIN);
            at += c;
        }
        assert_int_equal(n, (ssize_t)(resp.n - (resp.n - 1) / chunk * chunk));
        check_response(&r);
        hr_fcgi_reader_free(&r);
    }
}

static void test_read_every_prefix(void **state)
{
    build_response(&resp);
    for (size_t k = 0; k < resp.n; k++) {
        hr_fcgi_reader_t r;
        hr_fcgi_reader_init(&r, 1, 1 << 20);
        assert_int_equal(hr_fcgi_reader_feed(&r, resp.p, k), HR_AGAIN);
        assert_false(r.done);
        assert_int_equal(hr_fcgi_reader_feed(&r, resp.p + k, resp.n - k), (ssize_t)(resp.n - k));
        check_response(&r);
        hr_fcgi_reader_free(&r);
    }
}

static void test_read_extra_bytes(void **state)
{
    build_response(&resp);
    size_t n = resp.n;
    add(&resp, "garbage", 7);
    hr_fcgi_reader_t r;
    hr_fcgi_reader_init(&r, 1, 1 << 20);
    assert_int_equal(hr_fcgi_reader_feed(&r, resp.p, resp.n), (ssize_t)n);
    check_response(&r);
    hr_fcgi_reader_free(&r);
}

/* Feed b whole and expect status with errstr containing what. */
static void expect_error(const bytes_t *b, size_t max, ssize_t status, const char *what)
{
    hr_fcgi_reader_t r;
    hr_fcgi_reader_init(&r, 1, max);
    ssize_t n = hr_fcgi_reader_feed(&r, b->p, b->n);
    if (n != status || strstr(r.errstr, what) == NULL)
        fail_msg("got %zd \"%s\", want %zd \"%s\"", n, r.errstr, status, what);
    /* Sticky. */
    assert_int_equal(hr_fcgi_reader_feed(&r, b->p, b->n), status);
    assert_false(r.done);
    hr_fcgi_reader_free(&r);
}

static void test_read_errors(void **state)
{
    bytes_t *b = calloc(1, sizeof *b);
    rec(b, 2, HR_FCGI_STDOUT, 1, "x", 1, 7);
    expect_error(b, 100, HR_EPROTO, "version 2");

    b->n = 0;
    rec(b, 1, 11, 1, "12345678", 8, 0); /* UNKNOWN_TYPE */
    expect_error(b, 100, HR_EPROTO, "type 11");
    b->n = 0;
    rec(b, 1, HR_FCGI_BEGIN_REQUEST, 1, "12345678", 8, 0);
    expect_error(b, 100, HR_EPROTO, "type 1");
    b->n = 0;
    rec(b, 1, 200, 1, NULL, 0, 0);
    expect_error(b, 100, HR_EPROTO, "type 200");

    b->n = 0;
    rec(b, 1, HR_FCGI_STDOUT, 2, "x", 1, 7);
    expect_error(b, 100, HR_EPROTO, "for request 2, not 1");
    b->n = 0;
    rec(b, 1, HR_FCGI_STDOUT, 1, "x", 1, 7);
    rec(b, 1, 10, 0, "12345678", 8, 0); /* a management record */
    expect_error(b, 100, HR_EPROTO, "for request 0, not 1");

    b->n = 0;
    rec(b, 1, HR_FCGI_STDOUT, 1, "0123456789", 10, 6);
    expect_error(b, 9, HR_ETOOBIG, "over 9 bytes");
    b->n = 0;
    rec(b, 1, HR_FCGI_STDOUT, 1, "01234", 5, 3);
    rec(b, 1, HR_FCGI_STDERR, 1, "56789", 5, 3);
    expect_error(b, 9, HR_ETOOBIG, "over 9 bytes");
    rec(b, 1, HR_FCGI_STDOUT, 1, NULL, 0, 0);
    end_request(b, 1, 0, 0);
    hr_fcgi_reader_t r; /* exactly max: fine */
    hr_fcgi_reader_init(&r, 1, 10);
    assert_int_equal(hr_fcgi_reader_feed(&r, b->p, b->n), (ssize_t)b->n);
    hr_fcgi_reader_free(&r);

    b->n = 0;
    rec(b, 1, HR_FCGI_END_REQUEST, 1, "1234", 4, 4);
    expect_error(b, 100, HR_EPROTO, "END_REQUEST of 4 bytes");

    b->n = 0;
    end_request(b, 1, 0, HR_FCGI_CANT_MPX_CONN);
    expect_error(b, 100, HR_EPROTO, "cannot multiplex");
    b->n = 0;
    end_request(b, 1, 0, HR_FCGI_OVERLOADED);
    expect_error(b, 100, HR_EPROTO, "overloaded");
    b->n = 0;
    end_request(b, 1, 0, HR_FCGI_UNKNOWN_ROLE);
    expect_error(b, 100, HR_EPROTO, "unknown role");
    b->n = 0;
    end_request(b, 1, 0, 9);
    expect_error(b, 100, HR_EPROTO, "(9)");
    free(b);
}

static void test_read_empty_records_only(void **state)
{
    /* No output at all: the CGI splitter refuses it, the reader does not. */
    resp.n = 0;
    rec(&resp, 1, HR_FCGI_STDOUT, 1, NULL, 0, 0);
    rec(&resp, 1, HR_FCGI_STDERR, 1, NULL, 0, 0);
    end_request(&resp, 1, 255, 0);
    hr_fcgi_reader_t r;
    hr_fcgi_reader_init(&r, 1, 0);
    for (size_t i = 0; i + 1 < resp.n; i++)
        assert_int_equal(hr_fcgi_reader_feed(&r, resp.p + i, 1), HR_AGAIN);
    assert_int_equal(hr_fcgi_reader_feed(&r, resp.p + resp.n - 1, 1), 1);
    assert_true(r.done);
    assert_int_equal(r.out_len, 0);
    assert_int_equal(r.app_status, 255);
    int st;
    size_t off;
    char err[64];
    assert_int_equal(hr_cgi_split(r.out, r.out_len, &st, &off, err, sizeof err), HR_EPROTO);
    hr_fcgi_reader_free(&r);
}

static int split(const char *s, int *st, size_t *off, char *err)
{
    return hr_cgi_split((const uint8_t *)s, strlen(s), st, off, err, 64);
}

static void test_cgi(void **state)
{
    int st;
    size_t off;
    char err[64];
    assert_int_equal(split("Content-type: text/html\r\n\r\nbody", &st, &off, err), 0);
    assert_int_equal(st, 200);
    assert_int_equal(off, 27);
    assert_int_equal(split("status:404 Not Found\nX-A: b\n\n{}", &st, &off, err), 0);
    assert_int_equal(st, 404);
    assert_int_equal(off, 29);
    assert_int_equal(split("STATUS: \t500\r\n\r\n", &st, &off, err), 0);
    assert_int_equal(st, 500);
    assert_int_equal(off, 16);
    assert_int_equal(split("X-Status: 500\r\n\r\n", &st, &off, err), 0);
    assert_int_equal(st, 200);
    assert_int_equal(split("\r\nno headers", &st, &off, err), 0);
    assert_int_equal(st, 200);
    assert_int_equal(off, 2);
    assert_int_equal(split("\nno headers", &st, &off, err), 0);
    assert_int_equal(off, 1);
    assert_int_equal(split("A: b\r\n\r\n", &st, &off, err), 0);
    assert_int_equal(off, 8); /* an empty body */
    assert_int_equal(split("A: b\n\r\nbody\n\nmore", &st, &off, err), 0);
    assert_int_equal(off, 7);

    static const char *const bad[] = {
        "",
        "Content-type: text/html\r\n",
        "Content-type: text/html",
        "no colon\r\n\r\n",
        ": empty name\r\n\r\n",
        "Bad Name: x\r\n\r\n",
        "Status: abc\r\n\r\n",
        "Status: 99\r\n\r\n",
        "Status: 600\r\n\r\n",
        "Status: 2000\r\n\r\n",
        "Status: 200x\r\n\r\n",
        "Status:\r\n\r\n",
        "\r\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (split(bad[i], &st, &off, err) != HR_EPROTO)
            fail_msg("accepted: \"%s\"", bad[i]);
        assert_true(strncmp(err, "CGI ", 4) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_small),
        cmocka_unit_test(test_encode_long_lengths),
        cmocka_unit_test(test_encode_split_stdin),
        cmocka_unit_test(test_encode_params_split),
        cmocka_unit_test(test_read_whole),
        cmocka_unit_test(test_read_chunks),
        cmocka_unit_test(test_read_every_prefix),
        cmocka_unit_test(test_read_extra_bytes),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_read_empty_records_only),
        cmocka_unit_test(test_cgi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
