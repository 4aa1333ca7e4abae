/* SPDX-License-Identifier: MIT
 * fuzz_ws.c: libFuzzer target for the WebSocket reader (ws.c) and the UTF-8
 * validator (utf8.c). Input: byte 0 seeds the chunk sizes, byte 1 picks the
 * message limit, an event to stop at and whether permessage-deflate was
 * negotiated (RSV1 allowed on a message's first frame), the rest is the
 * client byte stream.
 * The stream is read whole and in chunks; both runs must return the same
 * code and produce the same events, and every event must obey the reader's
 * contract. The validator must agree with itself fed whole and in the same
 * chunks, and with a plain reference decoder. Any disagreement aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "codec/ws.h"

static const size_t limits[4] = {0, 8, 125, 1000}; /* 0: the reader's 64 KiB default */

typedef struct {
    uint64_t hash;  /* FNV-1a over every event, so two runs compare cheaply */
    size_t n;       /* events so far */
    size_t stop_at; /* callback returns non-zero on this event (1-based); 0 never */
    size_t max;     /* the effective message limit */
    int deflate;    /* the reader may hand up compressed messages */
    hr_ws_reader_t *r;
} trace_t;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

static int on_event(void *ud, hr_ws_event_t ev, const uint8_t *data, size_t len, uint16_t code)
{
    trace_t *t = ud;
    uint32_t e = ev;

    check(data != NULL);
    check(t->r->pend == NULL); /* the reader is idle during the callback */
    switch (ev) {
    case HR_WS_EV_TEXT:
        check(hr_utf8_valid(data, len));
        check(len <= t->max);
        check(code == 0);
        break;
    case HR_WS_EV_BINARY:
        check(len <= t->max);
        check(code == 0);
        break;
    case HR_WS_EV_TEXT_DEFLATED:
    case HR_WS_EV_BINARY_DEFLATED:
        check(t->deflate);
        check(len <= t->max);
        check(code == 0);
        break;
    case HR_WS_EV_PING:
    case HR_WS_EV_PONG:
        check(len <= 125);
        check(code == 0);
        break;
    case HR_WS_EV_CLOSE:
        check(t->r->closed);
        check(len <= 123);
        check(hr_utf8_valid(data, len));
        check(code == HR_WS_CLOSE_NO_STATUS ? len == 0 : hr_ws_close_code_valid(code));
        break;
    default:
        abort();
    }
    /* Touch every byte so ASan sees a bad pointer or length. */
    t->hash = fnv(t->hash, &e, sizeof e);
    t->hash = fnv(t->hash, &code, sizeof code);
    t->hash = fnv(t->hash, &len, sizeof len);
    t->hash = fnv(t->hash, data, len);
    t->n++;
    return t->stop_at != 0 && t->n == t->stop_at;
}

static void check_reader(const hr_ws_reader_t *r, int rc)
{
    check(rc == 0 || rc == HR_WS_CLOSE_PROTOCOL_ERROR || rc == HR_WS_CLOSE_INVALID_DATA ||
          rc == HR_WS_CLOSE_TOO_BIG);
    if (rc != 0)
        check(r->closed);
    if (rc != 0 && r->bad_rsv)
        check(rc == HR_WS_CLOSE_PROTOCOL_ERROR);
    if (r->msg_deflated)
        check(r->deflate && r->msg_op != 0);
    if (r->closed)
        check(r->pend == NULL && r->msg == NULL);
    check((r->pend == NULL) == (r->pend_len == 0));
    check(r->pend_len <= r->pend_cap);
    if (r->msg_op == 0)
        check(r->msg == NULL && r->msg_len == 0);
    else
        check(r->msg_op == HR_WS_OP_TEXT || r->msg_op == HR_WS_OP_BINARY);
}

/* xorshift64: deterministic chunk sizes from the seed byte. */
static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t chunk_size(uint64_t *s, size_t left)
{
    uint64_t x = next(s);
    size_t n;

    /* Mostly tiny chunks, which split headers and payloads everywhere, and
     * now and then a big one. */
    n = (x & 7) == 0 ? (size_t)(x >> 8) % 4096 : 1 + (size_t)(x >> 8) % 8;
    return n < left ? n : left;
}

/* Reference UTF-8 check, decoding code points the obvious way. */
static int ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        size_t k;

        if (s[i] < 0x80) {
            i++;
            continue;
        } else if ((s[i] & 0xE0) == 0xC0) {
            k = 1;
            cp = s[i] & 0x1F;
        } else if ((s[i] & 0xF0) == 0xE0) {
            k = 2;
            cp = s[i] & 0x0F;
        } else if ((s[i] & 0xF8) == 0xF0) {
            k = 3;
            cp = s[i] & 0x07;
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
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void fuzz_utf8(const uint8_t *s, size_t n, uint8_t seed)
{
    uint32_t whole = hr_utf8_feed(HR_UTF8_ACCEPT, s, n);
    uint32_t st = HR_UTF8_ACCEPT;
    uint64_t rs = 0x9E3779B97F4A7C15u ^ seed;
    size_t off = 0;

    while (off < n) {
        size_t k = chunk_size(&rs, n - off);

        st = hr_utf8_feed(st, s + off, k);
        off += k;
    }
    check(st == whole);
    check((whole == HR_UTF8_ACCEPT) == ref_utf8(s, n));
    check(hr_utf8_valid(s, n) == ref_utf8(s, n));
}

/* Read in[0..n) with the given chunking (seed 0 means whole). */
static int read_stream(const uint8_t *in, size_t n, size_t limit, size_t stop_at, uint8_t seed,
                       int chunked, int deflate, trace_t *t)
{
    hr_ws_reader_t r;
    uint64_t rs = 0x9E3779B97F4A7C15u ^ seed;
    size_t off = 0;
    int rc = 0;

    hr_ws_reader_init(&r, limit);
    r.deflate = (uint8_t)deflate;
    memset(t, 0, sizeof *t);
    t->deflate = deflate;
    t->hash = UINT64_C(0xcbf29ce484222325);
    t->stop_at = stop_at;
    t->max = limit ? limit : 64 * 1024;
    t->r = &r;
    do {
        size_t k = chunked ? chunk_size(&rs, n - off) : n;
        /* Each chunk in its own exact-size allocation: a read past it trips
         * ASan. The reader may write to it (unmasking). */
        uint8_t *piece = malloc(k ? k : 1);

        check(piece != NULL);
        if (k > 0)
            memcpy(piece, in + off, k);
        rc = hr_ws_reader_feed(&r, piece, k, on_event, t);
        free(piece);
        check_reader(&r, rc);
        off += k;
    } while (rc == 0 && off < n);
    /* Once closed, more input changes nothing. */
    if (r.closed) {
        uint8_t more[2] = {0x89, 0x80};
        size_t before = t->n;

        check(hr_ws_reader_feed(&r, more, sizeof more, on_event, t) == 0);
        check(t->n == before);
    }
    hr_ws_reader_free(&r);
    return rc;
}

/* The server-side encoder and the reader agree: a frame built with
 * hr_ws_frame_header (plus a mask, as a client would) reads back. */
static void round_trip(const uint8_t *p, size_t n, uint8_t seed)
{
    uint8_t *f = malloc(HR_WS_MAX_HEADER + 4 + n);
    uint8_t key[4] = {seed, (uint8_t)(seed * 3), (uint8_t)(seed + 101), 0x5A};
    unsigned op = seed & 1 ? HR_WS_OP_BINARY : HR_WS_OP_PING;
    size_t h;
    trace_t t;
    hr_ws_reader_t r;

    check(f != NULL);
    if (op == HR_WS_OP_PING && n > 125)
        n = 125;
    h = hr_ws_frame_header(f, op, n);
    f[1] |= 0x80;
    memcpy(f + h, key, 4);
    for (size_t i = 0; i < n; i++)
        f[h + 4 + i] = p[i] ^ key[i & 3];
    hr_ws_reader_init(&r, n > 64 * 1024 ? n : 0);
    memset(&t, 0, sizeof t);
    t.max = n > 64 * 1024 ? n : 64 * 1024;
    t.r = &r;
    t.hash = UINT64_C(0xcbf29ce484222325);
    check(hr_ws_reader_feed(&r, f, h + 4 + n, on_event, &t) == 0);
    check(t.n == 1);
    check(memcmp(f + h + 4, p, n) == 0); /* unmasked in place */
    check(r.pend == NULL && r.msg == NULL);
    hr_ws_reader_free(&r);
    free(f);
}

/* A close frame from hr_ws_close_frame reads back as the same close, and
 * cutting a long valid reason keeps it valid. Also runs the handshake
 * helpers over the input, for the sanitizers' sake. */
static void close_trip(const uint8_t *p, size_t n)
{
    uint8_t f[4 + 4 + 123];
    uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    char accept[HR_WS_ACCEPT_LEN + 1];
    uint16_t code;
    const char *reason;
    size_t rlen, len;
    trace_t t;
    hr_ws_reader_t r;
    int rc;

    hr_ws_key_valid((const char *)p, n);
    hr_ws_accept_key((const char *)p, n, accept);
    check(strlen(accept) == HR_WS_ACCEPT_LEN);
    if (n < 2)
        return;
    code = (uint16_t)(p[0] << 8 | p[1]);
    reason = (const char *)p + 2;
    rlen = n - 2;
    len = hr_ws_close_frame(f + 4, code, reason, rlen);
    check(len <= 4 + 123);
    check(f[4] == 0x88 && (size_t)f[5] + 2 == len);
    if (code == 0) {
        check(len == 2);
    } else if (hr_utf8_valid((const uint8_t *)reason, rlen)) {
        check(hr_utf8_valid(f + 8, len - 4));
    }
    /* Turn it into a client frame: mask bit, key, masked payload. */
    f[0] = f[4];
    f[1] = f[5] | 0x80;
    memcpy(f + 2, key, 4);
    for (size_t i = 0; i + 2 < len; i++) /* the payload is already at f + 6 */
        f[6 + i] ^= key[i & 3];
    hr_ws_reader_init(&r, 0);
    memset(&t, 0, sizeof t);
    t.max = 64 * 1024;
    t.r = &r;
    rc = hr_ws_reader_feed(&r, f, len + 4, on_event, &t);
    if (code == 0)
        check(rc == 0 && t.n == 1);
    else if (!hr_ws_close_code_valid(code))
        check(rc == HR_WS_CLOSE_PROTOCOL_ERROR);
    else if (hr_utf8_valid((const uint8_t *)reason, len - 4))
        check(rc == 0 && t.n == 1);
    else
        check(rc == HR_WS_CLOSE_INVALID_DATA && t.n == 0);
    hr_ws_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    trace_t a, b;
    int rca, rcb;
    uint8_t seed, flags;
    size_t limit, stop_at;
    int deflate;

    if (size < 2)
        return 0;
    seed = data[0];
    flags = data[1];
    data += 2;
    size -= 2;
    limit = limits[flags & 3];
    stop_at = (flags >> 2) & 7;

    deflate = (flags >> 5) & 1;

    rca = read_stream(data, size, limit, stop_at, seed, 0, deflate, &a);
    rcb = read_stream(data, size, limit, stop_at, seed, 1, deflate, &b);
    check(rca == rcb);
    check(a.n == b.n);
    check(a.hash == b.hash);

    fuzz_utf8(data, size, seed);
    round_trip(data, size, seed);
    close_trip(data, size);
    return 0;
}
