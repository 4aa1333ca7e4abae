/* SPDX-License-Identifier: MIT
 * fuzz_fastcgi.c: libFuzzer harness for relay/src/codec/fastcgi.c. Input:
 * byte 0 seeds the chunk sizes, byte 1 picks the response limit, the rest
 * is what a FastCGI server sent. Checks:
 *  1. the reader fed the stream whole and in random chunks returns the same
 *     verdict at the same byte, with the same stdout, stderr, appStatus and
 *     error text, and never collects more than its limit;
 *  2. the CGI splitter, on the collected stdout and on the raw input, gives
 *     a status of 100..599 and a body offset inside the input, right after
 *     a newline;
 *  3. the encoder: a request of params cut from the input, read back by a
 *     plain reference decoder, holds exactly those params and body, in
 *     records padded to 8 bytes.
 * Any violation aborts. */
#include "codec/fastcgi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_fastcgi: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const size_t limits[8] = {0, 1, 7, 8, 64, 100, 4096, 1 << 20};

static ssize_t feed_chunked(hr_fcgi_reader_t *r, const uint8_t *p, size_t n, uint32_t seed)
{
    size_t at = 0;
    while (at < n) {
        seed = seed * 1103515245u + 12345u;
        size_t c = 1 + (seed >> 16) % ((seed & 0x100) ? 3 : 40);
        if (c > n - at)
            c = n - at;
        ssize_t got = hr_fcgi_reader_feed(r, p + at, c);
        if (got == HR_AGAIN) {
            at += c;
            continue;
        }
        if (got > 0) {
            CHECK((size_t)got <= c);
            return (ssize_t)(at + (size_t)got);
        }
        return got;
    }
    return HR_AGAIN;
}

static void check_cgi(const uint8_t *p, size_t n)
{
    int st = 0;
    size_t off = 0;
    char err[64];
    if (hr_cgi_split(p, n, &st, &off, err, sizeof err) == 0) {
        CHECK(st >= 100 && st <= 599);
        CHECK(off >= 1 && off <= n && p[off - 1] == '\n');
    } else {
        CHECK(strncmp(err, "CGI ", 4) == 0);
    }
}

static void check_reader(const uint8_t *p, size_t n, uint32_t seed, size_t max)
{
    hr_fcgi_reader_t a, b;
    hr_fcgi_reader_init(&a, 1, max);
    hr_fcgi_reader_init(&b, 1, max);
    ssize_t ra = hr_fcgi_reader_feed(&a, p, n);
    ssize_t rb = feed_chunked(&b, p, n, seed);
    CHECK(ra == rb);
    CHECK(ra == HR_AGAIN || ra == HR_EPROTO || ra == HR_ETOOBIG || (ra > 0 && (size_t)ra <= n));
    CHECK(a.done == b.done && a.done == (ra > 0));
    CHECK(a.status == b.status && strcmp(a.errstr, b.errstr) == 0);
    CHECK((ra < 0 && ra != HR_AGAIN) == (a.status != 0 && a.errstr[0] != '\0'));
    CHECK(a.out_len == b.out_len && a.err_len == b.err_len);
    CHECK(a.out_len + a.err_len <= max);
    CHECK(a.out_len == 0 || memcmp(a.out, b.out, a.out_len) == 0);
    CHECK(a.err_len == 0 || memcmp(a.err, b.err, a.err_len) == 0);
    if (a.done) {
        CHECK(a.app_status == b.app_status);
        CHECK(hr_fcgi_reader_feed(&a, p, n) == HR_EPROTO); /* nothing after the end */
    }
    if (a.status) /* sticky */
        CHECK(hr_fcgi_reader_feed(&a, p, n) == a.status);
    check_cgi(a.out, a.out_len);
    hr_fcgi_reader_free(&a);
    hr_fcgi_reader_free(&b);
}

/* ---- the encoder against a reference decoder ---- */

typedef struct stream {
    uint8_t *p;
    size_t n, cap;
    int ended;
} stream_t;

static void stream_add(stream_t *s, const uint8_t *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        s->p = realloc(s->p, s->cap);
        CHECK(s->p != NULL);
    }
    if (n)
        memcpy(s->p + s->n, p, n);
    s->n += n;
}

static size_t nv_len(const uint8_t *p, size_t n, size_t *at)
{
    CHECK(*at < n);
    if (p[*at] < 128)
        return p[(*at)++];
    CHECK(*at + 4 <= n);
    size_t v = (size_t)(p[*at] & 0x7f) << 24 | (size_t)p[*at + 1] << 16 | (size_t)p[*at + 2] << 8 |
               p[*at + 3];
    CHECK(v >= 128); /* the short form where it fits */
    *at += 4;
    return v;
}

static void check_encoder(const uint8_t *p, size_t n, uint16_t id)
{
    /* Params: the input cut at each 0 byte into name, value, name, ... */
    hr_fcgi_param_t params[16];
    size_t np = 0, at = 0;
    hr_slice_t parts[32];
    size_t nparts = 0;
    while (at <= n && nparts < 32) {
        const uint8_t *z = at < n ? memchr(p + at, 0, n - at) : NULL;
        size_t end = z ? (size_t)(z - p) : n;
        parts[nparts++] = (hr_slice_t){(const char *)p + at, end - at};
        at = end + 1;
        if (z == NULL)
            break;
    }
    for (size_t i = 0; i + 1 < nparts && np < 16; i += 2)
        params[np++] = (hr_fcgi_param_t){parts[i], parts[i + 1]};
    hr_slice_t body = nparts ? parts[nparts - 1] : (hr_slice_t){(const char *)p, 0};

    hr_buf_t *b = hr_fcgi_request(id, params, np, body.p, body.len);
    CHECK(b != NULL);
    const uint8_t *q = (const uint8_t *)b->data;
    size_t len = b->len, i = 0;
    CHECK(len % 8 == 0);
    stream_t ps = {0}, in = {0};
    int begun = 0;
    while (i < len) {
        CHECK(i + 8 <= len);
        const uint8_t *h = q + i;
        size_t clen = (size_t)h[4] << 8 | h[5];
        CHECK(h[0] == 1 && (h[2] << 8 | h[3]) == id && h[7] == 0);
        CHECK((clen + h[6]) % 8 == 0 && h[6] < 8);
        CHECK(i + 8 + clen + h[6] <= len);
        const uint8_t *c = h + 8;
        for (size_t k = 0; k < h[6]; k++)
            CHECK(c[clen + k] == 0);
        switch (h[1]) {
        case HR_FCGI_BEGIN_REQUEST:
            CHECK(!begun && i == 0 && clen == 8);
            CHECK(c[0] == 0 && c[1] == HR_FCGI_RESPONDER && c[2] == HR_FCGI_KEEP_CONN);
            begun = 1;
            break;
        case HR_FCGI_PARAMS:
            CHECK(begun && !ps.ended);
            if (clen == 0)
                ps.ended = 1;
            stream_add(&ps, c, clen);
            break;
        case HR_FCGI_STDIN:
            CHECK(ps.ended && !in.ended);
            if (clen == 0)
                in.ended = 1;
            stream_add(&in, c, clen);
            break;
        default:
            CHECK(0);
        }
        i += 8 + clen + h[6];
    }
    CHECK(ps.ended && in.ended);
    CHECK(in.n == body.len && (in.n == 0 || memcmp(in.p, body.p, in.n) == 0));
    size_t k = 0;
    for (size_t j = 0; j < np; j++) {
        size_t nl = nv_len(ps.p, ps.n, &k), vl = nv_len(ps.p, ps.n, &k);
        CHECK(nl == params[j].name.len && vl == params[j].value.len);
        CHECK(k + nl + vl <= ps.n);
        CHECK(nl == 0 || memcmp(ps.p + k, params[j].name.p, nl) == 0);
        CHECK(vl == 0 || memcmp(ps.p + k + nl, params[j].value.p, vl) == 0);
        k += nl + vl;
    }
    CHECK(k == ps.n);
    free(ps.p);
    free(in.p);
    hr_buf_unref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = data[0] * 2654435761u;
    size_t max = limits[data[1] & 7];
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    check_reader(p, n, seed, max);
    check_cgi(p, n);
    check_encoder(p, n, (uint16_t)(data[0] << 8 | data[1]));
    return 0;
}
