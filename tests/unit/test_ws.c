/* SPDX-License-Identifier: MIT
 * test_ws.c: unit tests for relay/src/codec/ws.c: the handshake accept key, server
 * frame encoding, and the incremental client-frame reader. Every reader case
 * goes through check_stream(), which feeds the bytes whole, one byte at a
 * time, and split at every offset (each prefix alone must give exactly the
 * events of the frames it completes), and compares all of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/utf8.h"
#include "codec/ws.h"

#define MAX_EVENTS 64

/* ---- recording events ---- */

typedef struct {
    hr_ws_event_t ev;
    uint16_t code;
    size_t len;
    uint8_t *data;      /* copy: the reader's pointer dies with the callback */
    const uint8_t *ptr; /* the pointer the reader gave, for ownership tests */
    size_t pos;         /* input bytes fed so far when the event fired */
} rec_event_t;

typedef struct {
    rec_event_t ev[MAX_EVENTS];
    size_t n;
    size_t fed;        /* bytes handed to the reader before the current feed's end */
    size_t stop_at;    /* return non-zero from the callback on event number stop_at (1-based) */
    hr_ws_reader_t *r; /* to check the reader from inside the callback */
} rec_t;

static int record(void *ud, hr_ws_event_t ev, const uint8_t *data, size_t len, uint16_t code)
{
    rec_t *rec = ud;
    rec_event_t *e;

    assert_non_null(data);
    assert_true(rec->n < MAX_EVENTS);
    if (ev == HR_WS_EV_TEXT || ev == HR_WS_EV_CLOSE)
        assert_true(hr_utf8_valid(data, len));
    if (ev == HR_WS_EV_PING || ev == HR_WS_EV_PONG)
        assert_true(len <= 125);
    if (rec->r != NULL) {
        /* The reader is idle while the callback runs: it has detached
         * whatever buffer data points into. */
        assert_true(rec->r->msg == NULL || rec->r->msg != data);
        assert_true(rec->r->pend == NULL || rec->r->pend != data);
        if (ev == HR_WS_EV_CLOSE)
            assert_true(rec->r->closed);
    }
    e = &rec->ev[rec->n++];
    e->ev = ev;
    e->code = code;
    e->len = len;
    e->ptr = data;
    e->data = malloc(len ? len : 1);
    assert_non_null(e->data);
    memcpy(e->data, data, len);
    e->pos = rec->fed;
    return rec->stop_at != 0 && rec->n == rec->stop_at;
}

static void rec_free(rec_t *rec)
{
    for (size_t i = 0; i < rec->n; i++)
        free(rec->ev[i].data);
    rec->n = 0;
}

static void assert_events_equal(const rec_t *a, size_t na, const rec_t *b)
{
    assert_int_equal(na, b->n);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(a->ev[i].ev, b->ev[i].ev);
        assert_int_equal(a->ev[i].code, b->ev[i].code);
        assert_int_equal(a->ev[i].len, b->ev[i].len);
        assert_memory_equal(a->ev[i].data, b->ev[i].data, a->ev[i].len ? a->ev[i].len : 0);
    }
}

/* Reader invariants that hold between feeds. */
static void check_reader(const hr_ws_reader_t *r)
{
    if (r->closed) {
        assert_null(r->pend);
        assert_null(r->msg);
    }
    if (r->pend_len == 0)
        assert_null(r->pend);
    if (r->msg_op == 0) {
        assert_null(r->msg);
        assert_int_equal(r->msg_len, 0);
    }
    assert_true(r->pend_len <= r->pend_cap);
    assert_true(r->msg_len <= r->msg_cap || r->msg == NULL);
}

/* Feed in[0..len) to a fresh reader in pieces ending at ends[0..nends), each
 * piece copied into its own exact-size allocation so ASan catches a read past
 * it. Stops at the first non-zero return, which it returns; *err_at is then
 * the end offset of that piece. */
static int deflate_on; /* readers in run() have permessage-deflate negotiated */

static int run(const uint8_t *in, size_t len, size_t max, const size_t *ends, size_t nends,
               rec_t *rec, size_t *err_at)
{
    hr_ws_reader_t r;
    size_t start = 0;
    int rc = 0;

    hr_ws_reader_init(&r, max);
    r.deflate = (uint8_t)deflate_on;
    memset(rec, 0, sizeof *rec);
    rec->r = &r;
    *err_at = 0;
    for (size_t i = 0; i < nends; i++) {
        size_t n = ends[i] - start;
        uint8_t *piece = malloc(n ? n : 1);

        assert_non_null(piece);
        assert_true(ends[i] <= len);
        memcpy(piece, in + start, n);
        rec->fed = ends[i];
        rc = hr_ws_reader_feed(&r, piece, n, record, rec);
        free(piece);
        check_reader(&r);
        if (rc != 0) {
            assert_true(r.closed);
            *err_at = ends[i];
            break;
        }
        start = ends[i];
    }
    hr_ws_reader_free(&r);
    assert_null(r.pend);
    assert_null(r.msg);
    return rc;
}

typedef struct {
    hr_ws_event_t ev;
    const char *data;
    size_t len;
    uint16_t code;
} want_t;

#define EV(e, lit)                                                                                 \
    {                                                                                              \
        (e), (lit), sizeof(lit) - 1, 0                                                             \
    }
#define CLOSE_EV(code, lit)                                                                        \
    {                                                                                              \
        HR_WS_EV_CLOSE, (lit), sizeof(lit) - 1, (code)                                             \
    }

/* Above this size, splitting at every offset is quadratic enough to matter;
 * big inputs are split at a handful of interesting offsets instead. */
#define ALL_SPLITS_MAX 4096

/* The heart of the reader tests. Feeds in[0..len) whole, byte by byte, and
 * split in two at every offset; all must give rc and the events in want.
 * Byte-by-byte feeding also tells at which byte each event fires, and for
 * every prefix alone the reader must report exactly the events (and error)
 * that fired within it: nothing before a frame is complete. Returns the
 * number of bytes it took to see the error (0 when rc is 0). */
static size_t check_stream(const uint8_t *in, size_t len, size_t max, int want_rc,
                           const want_t *want, size_t nwant)
{
    rec_t whole, bytes, part;
    size_t err_whole, err_bytes, err;
    size_t *ends = malloc((len > 2 ? len : 2) * sizeof *ends);

    assert_non_null(ends);
    /* Whole. */
    ends[0] = len;
    assert_int_equal(run(in, len, max, ends, 1, &whole, &err_whole), want_rc);
    assert_int_equal(whole.n, nwant);
    for (size_t i = 0; i < nwant; i++) {
        assert_int_equal(whole.ev[i].ev, want[i].ev);
        assert_int_equal(whole.ev[i].code, want[i].code);
        assert_int_equal(whole.ev[i].len, want[i].len);
        assert_memory_equal(whole.ev[i].data, want[i].data, want[i].len);
    }
    /* One byte at a time. */
    for (size_t i = 0; i < len; i++)
        ends[i] = i + 1;
    assert_int_equal(run(in, len, max, ends, len, &bytes, &err_bytes), want_rc);
    assert_events_equal(&whole, whole.n, &bytes);

    for (size_t k = 0; k <= len; k++) {
        int rc;
        size_t nexp = 0;

        if (len > ALL_SPLITS_MAX && k != 0 && k != 1 && k != 2 && k != 10 && k != 14 &&
            k != len / 2 && k != len - 1 && k != len)
            continue;
        /* The prefix alone: events that fired within k bytes, no others. */
        ends[0] = k;
        rc = run(in, len, max, ends, 1, &part, &err);
        while (nexp < bytes.n && bytes.ev[nexp].pos <= k)
            nexp++;
        assert_events_equal(&bytes, nexp, &part);
        if (want_rc != 0 && err_bytes <= k)
            assert_int_equal(rc, want_rc);
        else
            assert_int_equal(rc, 0);
        rec_free(&part);
        /* The prefix, then the rest: the same as whole. */
        ends[0] = k;
        ends[1] = len;
        rc = run(in, len, max, ends, 2, &part, &err);
        assert_int_equal(rc, want_rc);
        assert_events_equal(&whole, whole.n, &part);
        rec_free(&part);
    }
    rec_free(&whole);
    rec_free(&bytes);
    free(ends);
    return want_rc ? err_bytes : 0;
}

/* ---- building client frames ---- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

#define LEN_MINIMAL 0
#define LEN_16      126
#define LEN_64      127

/* Append a frame: byte0 is FIN|RSV|opcode as it goes on the wire; masked
 * frames get a mask key that changes from frame to frame; lenform forces
 * an (allowed, non-minimal) extended length encoding. */
static void put_frame_ex(buf_t *b, uint8_t byte0, int masked, const void *payload, size_t n,
                         int lenform)
{
    static uint8_t seed = 0x37;
    uint8_t h[14];
    size_t hl = 0;
    uint8_t key[4];

    h[hl++] = byte0;
    if (lenform == LEN_MINIMAL && n <= 125) {
        h[hl++] = (uint8_t)n;
    } else if (lenform != LEN_64 && n <= 0xFFFF) {
        h[hl++] = 126;
        h[hl++] = (uint8_t)(n >> 8);
        h[hl++] = (uint8_t)n;
    } else {
        h[hl++] = 127;
        for (int i = 0; i < 8; i++)
            h[hl++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    }
    if (masked) {
        h[1] |= 0x80;
        for (int i = 0; i < 4; i++) {
            seed = (uint8_t)(seed * 37 + 11);
            key[i] = seed;
        }
        memcpy(h + hl, key, 4);
        hl += 4;
    }
    buf_put(b, h, hl);
    buf_put(b, payload, n);
    if (masked)
        for (size_t i = 0; i < n; i++)
            b->p[b->len - n + i] ^= key[i & 3];
}

static void put(buf_t *b, int fin, unsigned op, const void *payload, size_t n)
{
    put_frame_ex(b, (uint8_t)((fin ? 0x80 : 0) | op), 1, payload, n, LEN_MINIMAL);
}

#define PUT(b, fin, op, lit) put((b), (fin), (op), (lit), sizeof(lit) - 1)

/* ---- handshake ---- */

static void test_accept_key_rfc_example(void **state)
{
    char out[HR_WS_ACCEPT_LEN + 1];

    (void)state;
    memset(out, 'x', sizeof out);
    hr_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_accept_key_other_lengths(void **state)
{
    char out[HR_WS_ACCEPT_LEN + 1];
    char big[200];

    (void)state;
    /* Expected values from Python's hashlib + base64. */
    hr_ws_accept_key("", 0, out);
    assert_string_equal(out, "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
    memset(big, 'A', sizeof big); /* past the stack buffer: the heap path */
    hr_ws_accept_key(big, sizeof big, out);
    assert_string_equal(out, "epQuepyJZUpkXo4+7CeEEfXbmv8=");
}

static void test_key_valid(void **state)
{
    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
        "dGhlIHNhbXBsZSBub25jZQAA",  /* no padding: 18 bytes */
        "dGhlIHNhbXBsZSBub25jZ===",  /* 15 bytes */
        "dGhlIHNhbXBsZSBub25jZQ=A",
        "dGhlIHNhbXBsZSBub25j-Q==", /* base64url alphabet */
        "dGhlIHNhbXBsZSBub25j_Q==",
        "dGhlIHNhbXBsZSBub25j Q==",
        "dGhl=HNhbXBsZSBub25jZQ==",
        " dGhlIHNhbXBsZSBub25jZQ=",
    };

    (void)state;
    assert_true(hr_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 24));
    assert_true(hr_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
    assert_true(hr_ws_key_valid("+/+/+/+/+/+/+/+/+/+/zw==", 24));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(hr_ws_key_valid(bad[i], strlen(bad[i])));
    assert_false(hr_ws_key_valid(NULL, 0));
    assert_false(hr_ws_key_valid(NULL, 24));
    /* The length is what counts, not a NUL. */
    assert_false(hr_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==", 23));
}

/* ---- server frames ---- */

static void test_frame_header_lengths(void **state)
{
    static const struct {
        unsigned op;
        uint64_t len;
        size_t hlen;
        const char *bytes;
    } cases[] = {
        {HR_WS_OP_TEXT, 0, 2, "\x81\x00"},
        {HR_WS_OP_TEXT, 125, 2, "\x81\x7D"},
        {HR_WS_OP_BINARY, 126, 4, "\x82\x7E\x00\x7E"},
        {HR_WS_OP_TEXT, 65535, 4, "\x81\x7E\xFF\xFF"},
        {HR_WS_OP_TEXT, 65536, 10, "\x81\x7F\x00\x00\x00\x00\x00\x01\x00\x00"},
        {HR_WS_OP_BINARY, UINT64_C(0x0123456789ABCDEF), 10,
         "\x82\x7F\x01\x23\x45\x67\x89\xAB\xCD\xEF"},
        {HR_WS_OP_PING, 4, 2, "\x89\x04"},
        {HR_WS_OP_PONG, 0, 2, "\x8A\x00"},
        {HR_WS_OP_CLOSE, 2, 2, "\x88\x02"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[HR_WS_MAX_HEADER];

        assert_int_equal(hr_ws_frame_header(out, cases[i].op, cases[i].len), cases[i].hlen);
        assert_memory_equal(out, cases[i].bytes, cases[i].hlen);
    }
}

static void test_close_frame(void **state)
{
    uint8_t out[4 + 200];
    char reason[200];
    size_t n;

    (void)state;
    assert_int_equal(hr_ws_close_frame(out, 0, NULL, 0), 2);
    assert_memory_equal(out, "\x88\x00", 2);
    assert_int_equal(hr_ws_close_frame(out, 1000, NULL, 0), 4);
    assert_memory_equal(out, "\x88\x02\x03\xE8", 4);
    assert_int_equal(hr_ws_close_frame(out, 1001, "bye", 3), 7);
    assert_memory_equal(out,
                        "\x88\x05\x03\xE9"
                        "bye",
                        7);
    assert_int_equal(hr_ws_close_frame(out, 4999, "", 0), 4);
    assert_memory_equal(out, "\x88\x02\x13\x87", 4);

    /* 123 bytes is the most a close reason can be. */
    memset(reason, 'r', sizeof reason);
    assert_int_equal(hr_ws_close_frame(out, 1011, reason, 123), 127);
    assert_int_equal(out[1], 125);
    /* Longer is cut to 123, and never inside a character: here a € would
     * straddle byte 123, so the cut falls before it. */
    assert_int_equal(hr_ws_close_frame(out, 1011, reason, 150), 127);
    memcpy(reason + 122, "\xE2\x82\xAC", 3);
    n = hr_ws_close_frame(out, 1011, reason, 150);
    assert_int_equal(n, 4 + 122);
    assert_int_equal(out[1], 2 + 122);
    assert_true(hr_utf8_valid(out + 4, n - 4));
}

static void test_close_code_valid(void **state)
{
    static const uint16_t ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                  1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const uint16_t bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                   1016, 1100, 2000, 2999, 5000, 65535};

    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(hr_ws_close_code_valid(ok[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(hr_ws_close_code_valid(bad[i]));
}

/* ---- reader: valid streams ---- */

static void test_reader_rfc_hello(void **state)
{
    /* RFC 6455 5.7: a single-frame masked text message containing "Hello". */
    static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                    0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const want_t want[] = {EV(HR_WS_EV_TEXT, "Hello")};

    (void)state;
    check_stream(hello, sizeof hello, 0, 0, want, 1);
}

static void test_reader_control_frames(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {
        EV(HR_WS_EV_PING, "are you there"),
        EV(HR_WS_EV_PONG, ""),
        EV(HR_WS_EV_PING, ""),
        EV(HR_WS_EV_BINARY, "\x00\x01\x02"),
        CLOSE_EV(1000, "done \xE2\x9C\x93"),
    };

    (void)state;
    PUT(&b, 1, HR_WS_OP_PING, "are you there");
    PUT(&b, 1, HR_WS_OP_PONG, "");
    PUT(&b, 1, HR_WS_OP_PING, "");
    PUT(&b, 1, HR_WS_OP_BINARY, "\x00\x01\x02");
    PUT(&b, 1, HR_WS_OP_CLOSE,
        "\x03\xE8"
        "done \xE2\x9C\x93");
    check_stream(b.p, b.len, 0, 0, want, 5);
    buf_free(&b);
}

static void test_reader_empty_close(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {CLOSE_EV(HR_WS_CLOSE_NO_STATUS, "")};

    (void)state;
    PUT(&b, 1, HR_WS_OP_CLOSE, "");
    check_stream(b.p, b.len, 0, 0, want, 1);
    buf_free(&b);
}

/* Whatever follows a close frame is never parsed, even garbage. */
static void test_reader_nothing_after_close(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {EV(HR_WS_EV_TEXT, "a"), CLOSE_EV(3000, "")};
    hr_ws_reader_t r;
    rec_t rec = {0};
    uint8_t junk[] = {0xFF, 0xFF, 0xFF};

    (void)state;
    PUT(&b, 1, HR_WS_OP_TEXT, "a");
    PUT(&b, 1, HR_WS_OP_CLOSE, "\x0B\xB8");
    PUT(&b, 1, HR_WS_OP_TEXT, "never seen");
    buf_put(&b, junk, sizeof junk);
    check_stream(b.p, b.len, 0, 0, want, 2);

    /* And later feeds do nothing either. */
    hr_ws_reader_init(&r, 0);
    assert_int_equal(hr_ws_reader_feed(&r, b.p, b.len, record, &rec), 0);
    assert_int_equal(rec.n, 2);
    assert_true(r.closed);
    assert_int_equal(hr_ws_reader_feed(&r, junk, sizeof junk, record, &rec), 0);
    assert_int_equal(rec.n, 2);
    check_reader(&r);
    hr_ws_reader_free(&r);
    rec_free(&rec);
    buf_free(&b);
}

static void test_reader_payload_lengths(void **state)
{
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    uint8_t *payload = malloc(70000);

    (void)state;
    assert_non_null(payload);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)(i * 7 + (i >> 8));
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        buf_t b = {0};
        want_t want = {HR_WS_EV_BINARY, (const char *)payload, lens[i], 0};

        put(&b, 1, HR_WS_OP_BINARY, payload, lens[i]);
        check_stream(b.p, b.len, 70000, 0, &want, 1);
        buf_free(&b);
    }
    free(payload);
}

/* Non-minimal length encodings carry the same payload; we accept them. */
static void test_reader_non_minimal_length(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {EV(HR_WS_EV_TEXT, "abc"), EV(HR_WS_EV_TEXT, "defg"),
                                  EV(HR_WS_EV_PING, "")};

    (void)state;
    put_frame_ex(&b, 0x81, 1, "abc", 3, LEN_16);
    put_frame_ex(&b, 0x81, 1, "defg", 4, LEN_64);
    put_frame_ex(&b, 0x89, 1, "", 0, LEN_MINIMAL);
    check_stream(b.p, b.len, 0, 0, want, 3);
    buf_free(&b);
}

static void test_reader_fragmented_with_interleaved_control(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {
        EV(HR_WS_EV_PING, "p1"),           EV(HR_WS_EV_PONG, "p2"),
        EV(HR_WS_EV_TEXT, "Hello, world"), EV(HR_WS_EV_BINARY, "\x01\x02\x03\x04"),
        EV(HR_WS_EV_PING, "after"),
    };

    (void)state;
    PUT(&b, 0, HR_WS_OP_TEXT, "Hel");
    PUT(&b, 1, HR_WS_OP_PING, "p1");
    PUT(&b, 0, HR_WS_OP_CONT, "lo, ");
    PUT(&b, 1, HR_WS_OP_PONG, "p2");
    PUT(&b, 0, HR_WS_OP_CONT, "");
    PUT(&b, 1, HR_WS_OP_CONT, "world");
    PUT(&b, 0, HR_WS_OP_BINARY, "\x01");
    PUT(&b, 1, HR_WS_OP_CONT, "\x02\x03\x04");
    PUT(&b, 1, HR_WS_OP_PING, "after");
    check_stream(b.p, b.len, 0, 0, want, 5);
    buf_free(&b);
}

/* A message made of empty fragments is an empty message, with a non-NULL
 * pointer for the callback. */
static void test_reader_empty_fragments(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {EV(HR_WS_EV_TEXT, ""), EV(HR_WS_EV_BINARY, "")};

    (void)state;
    PUT(&b, 0, HR_WS_OP_TEXT, "");
    PUT(&b, 0, HR_WS_OP_CONT, "");
    PUT(&b, 1, HR_WS_OP_CONT, "");
    PUT(&b, 0, HR_WS_OP_BINARY, "");
    PUT(&b, 1, HR_WS_OP_CONT, "");
    check_stream(b.p, b.len, 0, 0, want, 2);
    buf_free(&b);
}

static void test_reader_utf8_split_across_fragments(void **state)
{
    buf_t b = {0};
    static const want_t want[] = {
        EV(HR_WS_EV_TEXT, "\xE2\x82\xAC"),
        EV(HR_WS_EV_PING, "x"),
        EV(HR_WS_EV_TEXT, "a\xF0\x9F\x98\x80z"),
    };

    (void)state;
    /* € split after its first byte. */
    PUT(&b, 0, HR_WS_OP_TEXT, "\xE2");
    PUT(&b, 1, HR_WS_OP_CONT, "\x82\xAC");
    /* A 4-byte character one byte per frame, with a ping in the middle. */
    PUT(&b, 0, HR_WS_OP_TEXT, "a\xF0");
    PUT(&b, 0, HR_WS_OP_CONT, "\x9F");
    PUT(&b, 1, HR_WS_OP_PING, "x");
    PUT(&b, 0, HR_WS_OP_CONT, "\x98");
    PUT(&b, 1, HR_WS_OP_CONT, "\x80z");
    check_stream(b.p, b.len, 0, 0, want, 3);
    buf_free(&b);
}

/* ---- reader: errors ---- */

/* One frame (or stream) that must fail with code after want events, and the
 * byte count at which the failure must show. */
static void expect_fail(buf_t *b, size_t max, int code, const want_t *want, size_t nwant,
                        size_t fail_at)
{
    size_t at = check_stream(b->p, b->len, max, code, want, nwant);

    assert_int_equal(at, fail_at);
    buf_free(b);
}

static void test_reader_unmasked(void **state)
{
    buf_t b = {0};

    (void)state;
    put_frame_ex(&b, 0x81, 0, "Hello", 5, LEN_MINIMAL);
    expect_fail(&b, 0, 1002, NULL, 0, 2); /* seen on the mask bit */
    put_frame_ex(&b, 0x89, 0, "", 0, LEN_MINIMAL);
    expect_fail(&b, 0, 1002, NULL, 0, 2);
}

static void test_reader_rsv_bits(void **state)
{
    (void)state;
    for (unsigned rsv = 0x10; rsv <= 0x70; rsv += 0x10) {
        buf_t b = {0};

        put_frame_ex(&b, (uint8_t)(0x81 | rsv), 1, "x", 1, LEN_MINIMAL);
        expect_fail(&b, 0, 1002, NULL, 0, 1);
    }
}

/* permessage-deflate: RSV1 on the first frame of a data message hands the
 * message up compressed (no UTF-8 check: the bytes are not text yet); on a
 * continuation or a control frame, RSV2/RSV3, or unnegotiated: 1002, with
 * bad_rsv set for the metric. */
static void test_reader_rsv1_deflate(void **state)
{
    static const want_t one[] = {EV(HR_WS_EV_TEXT_DEFLATED, "\xff\xfe"),
                                 EV(HR_WS_EV_BINARY_DEFLATED, "zz"), EV(HR_WS_EV_TEXT, "ok")};
    static const want_t frag[] = {EV(HR_WS_EV_PING, "p"), EV(HR_WS_EV_TEXT_DEFLATED, "\xff\xfe"
                                                                                     "ab")};
    buf_t b = {0};

    (void)state;
    deflate_on = 1;
    put_frame_ex(&b, 0xC1, 1, "\xff\xfe", 2, LEN_MINIMAL);
    put_frame_ex(&b, 0xC2, 1, "zz", 2, LEN_MINIMAL);
    PUT(&b, 1, HR_WS_OP_TEXT, "ok");
    check_stream(b.p, b.len, 0, 0, one, 3);
    buf_free(&b);
    /* Fragmented: RSV1 on the first frame only, a ping between. */
    put_frame_ex(&b, 0x41, 1, "\xff\xfe", 2, LEN_MINIMAL);
    PUT(&b, 1, HR_WS_OP_PING, "p");
    PUT(&b, 1, HR_WS_OP_CONT, "ab");
    check_stream(b.p, b.len, 0, 0, frag, 2);
    buf_free(&b);
    /* RSV1 on a continuation, on a ping; RSV2 even with deflate. */
    PUT(&b, 0, HR_WS_OP_TEXT, "a");
    put_frame_ex(&b, 0xC0, 1, "b", 1, LEN_MINIMAL);
    expect_fail(&b, 0, 1002, NULL, 0, 8);
    put_frame_ex(&b, 0xC9, 1, "", 0, LEN_MINIMAL);
    expect_fail(&b, 0, 1002, NULL, 0, 1);
    put_frame_ex(&b, 0xA1, 1, "x", 1, LEN_MINIMAL);
    expect_fail(&b, 0, 1002, NULL, 0, 1);
    deflate_on = 0;

    hr_ws_reader_t r;
    uint8_t f[] = {0xC1, 0x80, 0, 0, 0, 0};
    hr_ws_reader_init(&r, 0);
    assert_int_equal(hr_ws_reader_feed(&r, f, sizeof f, NULL, NULL), 1002);
    assert_int_equal(r.bad_rsv, 1);
    hr_ws_reader_free(&r);
    uint8_t g[] = {0x83, 0x80, 0, 0, 0, 0};
    hr_ws_reader_init(&r, 0);
    assert_int_equal(hr_ws_reader_feed(&r, g, sizeof g, NULL, NULL), 1002);
    assert_int_equal(r.bad_rsv, 0);
    hr_ws_reader_free(&r);
}

static void test_reader_reserved_opcodes(void **state)
{
    static const unsigned ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};

    (void)state;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        buf_t b = {0};

        put_frame_ex(&b, (uint8_t)(0x80 | ops[i]), 1, "x", 1, LEN_MINIMAL);
        expect_fail(&b, 0, 1002, NULL, 0, 1);
        /* Also while a fragmented message is in progress. */
        PUT(&b, 0, HR_WS_OP_TEXT, "ab");
        put_frame_ex(&b, (uint8_t)(0x80 | ops[i]), 1, "x", 1, LEN_MINIMAL);
        expect_fail(&b, 0, 1002, NULL, 0, 9);
    }
}

static void test_reader_control_rules(void **state)
{
    static const unsigned ops[] = {HR_WS_OP_PING, HR_WS_OP_PONG, HR_WS_OP_CLOSE};
    static const hr_ws_event_t evs[] = {HR_WS_EV_PING, HR_WS_EV_PONG, HR_WS_EV_CLOSE};
    uint8_t p[126];

    (void)state;
    /* For close, the payload is code 3000 and a 123-byte reason. */
    memset(p, 'b', sizeof p);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        buf_t b = {0};
        int is_close = ops[i] == HR_WS_OP_CLOSE;
        want_t ok = {evs[i], (const char *)p + (is_close ? 2 : 0), is_close ? 123 : 125,
                     is_close ? 3000 : 0};

        p[0] = is_close ? 0x0B : 'b';
        p[1] = is_close ? 0xB8 : 'b';
        /* Not final: control frames are never fragmented. */
        put_frame_ex(&b, (uint8_t)ops[i], 1, "", 0, LEN_MINIMAL);
        expect_fail(&b, 0, 1002, NULL, 0, 1);
        /* 126 bytes, one too many: refused on the length byte. */
        put(&b, 1, ops[i], p, 126);
        expect_fail(&b, 0, 1002, NULL, 0, 2);
        put_frame_ex(&b, (uint8_t)(0x80 | ops[i]), 1, p, 126, LEN_64);
        expect_fail(&b, 0, 1002, NULL, 0, 2);
        /* A control frame must use the 7-bit length: even 125 in a 16-bit
         * length is refused on the length byte. */
        put_frame_ex(&b, (uint8_t)(0x80 | ops[i]), 1, p, 125, LEN_16);
        expect_fail(&b, 0, 1002, NULL, 0, 2);
        /* 125 bytes is the most a control frame carries. */
        put(&b, 1, ops[i], p, 125);
        check_stream(b.p, b.len, 0, 0, &ok, 1);
        buf_free(&b);
    }
}

static void test_reader_fragmentation_rules(void **state)
{
    buf_t b = {0};
    static const want_t first[] = {EV(HR_WS_EV_TEXT, "ok")};

    (void)state;
    /* Continuation with nothing to continue. */
    PUT(&b, 1, HR_WS_OP_CONT, "x");
    expect_fail(&b, 0, 1002, NULL, 0, 1);
    PUT(&b, 0, HR_WS_OP_CONT, "x");
    expect_fail(&b, 0, 1002, NULL, 0, 1);
    /* ... nor after a message has finished. */
    PUT(&b, 0, HR_WS_OP_TEXT, "o");
    PUT(&b, 1, HR_WS_OP_CONT, "k");
    PUT(&b, 1, HR_WS_OP_CONT, "x");
    expect_fail(&b, 0, 1002, first, 1, 15);
    /* A new data message while one is in progress. */
    PUT(&b, 0, HR_WS_OP_TEXT, "a");
    PUT(&b, 1, HR_WS_OP_TEXT, "b");
    expect_fail(&b, 0, 1002, NULL, 0, 8);
    PUT(&b, 0, HR_WS_OP_BINARY, "a");
    PUT(&b, 1, HR_WS_OP_PING, "");
    PUT(&b, 0, HR_WS_OP_BINARY, "b");
    {
        static const want_t ping[] = {EV(HR_WS_EV_PING, "")};
        expect_fail(&b, 0, 1002, ping, 1, 14);
    }
    PUT(&b, 0, HR_WS_OP_TEXT, "a");
    PUT(&b, 0, HR_WS_OP_BINARY, "b");
    expect_fail(&b, 0, 1002, NULL, 0, 8);
}

static void test_reader_length_msb(void **state)
{
    buf_t b = {0};
    static const uint8_t frame[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0};

    (void)state;
    buf_put(&b, frame, sizeof frame);
    /* Seen once the 8 length bytes are in, before the mask key. */
    expect_fail(&b, 0, 1002, NULL, 0, 10);
}

static void test_reader_close_payload_rules(void **state)
{
    static const uint16_t bad_codes[] = {0, 999, 1004, 1005, 1006, 1015, 2999, 5000};
    buf_t b = {0};

    (void)state;
    PUT(&b, 1, HR_WS_OP_CLOSE, "\x03");
    expect_fail(&b, 0, 1002, NULL, 0, 7);
    for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
        uint8_t p[2] = {(uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i]};

        put(&b, 1, HR_WS_OP_CLOSE, p, 2);
        expect_fail(&b, 0, 1002, NULL, 0, 8);
    }
    PUT(&b, 1, HR_WS_OP_CLOSE,
        "\x03\xE8"
        "bad \xC0\x80");
    expect_fail(&b, 0, 1007, NULL, 0, 14);
    PUT(&b, 1, HR_WS_OP_CLOSE,
        "\x03\xE8"
        "cut \xE2\x82");
    expect_fail(&b, 0, 1007, NULL, 0, 14);
}

static void test_reader_invalid_utf8(void **state)
{
    buf_t b = {0};
    static const want_t before[] = {EV(HR_WS_EV_TEXT, "fine")};

    (void)state;
    /* One frame. */
    PUT(&b, 1, HR_WS_OP_TEXT, "fine");
    PUT(&b, 1, HR_WS_OP_TEXT, "bad \xED\xA0\x80");
    expect_fail(&b, 0, 1007, before, 1, 10 + 13);
    /* Truncated at the end of a single frame. */
    PUT(&b, 1, HR_WS_OP_TEXT, "\xF0\x9F\x98");
    expect_fail(&b, 0, 1007, NULL, 0, 9);
    /* Binary messages are not checked. */
    {
        static const want_t bin[] = {EV(HR_WS_EV_BINARY, "\xFF\xC0\x80")};
        PUT(&b, 1, HR_WS_OP_BINARY, "\xFF\xC0\x80");
        check_stream(b.p, b.len, 0, 0, bin, 1);
        buf_free(&b);
    }
}

/* In a fragmented message the bad byte fails its own fragment, without
 * waiting for the last one (which here never even arrives). */
static void test_reader_invalid_utf8_across_fragments(void **state)
{
    buf_t b = {0};

    (void)state;
    PUT(&b, 0, HR_WS_OP_TEXT, "good");
    PUT(&b, 0, HR_WS_OP_CONT, "bad\xFF");
    PUT(&b, 0, HR_WS_OP_CONT, "more");
    expect_fail(&b, 0, 1007, NULL, 0, 10 + 10);

    /* A 4-byte character split byte by byte whose second byte is out of
     * range (U+110000): fails on the second fragment. */
    PUT(&b, 0, HR_WS_OP_TEXT, "\xF4");
    PUT(&b, 0, HR_WS_OP_CONT, "\x90");
    PUT(&b, 0, HR_WS_OP_CONT, "\x80");
    PUT(&b, 1, HR_WS_OP_CONT, "\x80");
    expect_fail(&b, 0, 1007, NULL, 0, 14);

    /* Overlong split across fragments, ping in between. */
    PUT(&b, 0, HR_WS_OP_TEXT, "\xE0");
    PUT(&b, 1, HR_WS_OP_PING, "");
    PUT(&b, 1, HR_WS_OP_CONT, "\x80\x80");
    {
        static const want_t ping[] = {EV(HR_WS_EV_PING, "")};
        expect_fail(&b, 0, 1007, ping, 1, 7 + 6 + 8);
    }

    /* Every fragment valid so far, but the message ends inside a character. */
    PUT(&b, 0, HR_WS_OP_TEXT, "ab");
    PUT(&b, 0, HR_WS_OP_CONT, "\xF0\x9F");
    PUT(&b, 1, HR_WS_OP_CONT, "\x98");
    expect_fail(&b, 0, 1007, NULL, 0, 8 + 8 + 7);
}

static void test_reader_too_big(void **state)
{
    buf_t b = {0};
    uint8_t *payload = calloc(1, 70000);
    static const want_t ok10[] = {EV(HR_WS_EV_TEXT, "0123456789")};

    (void)state;
    assert_non_null(payload);
    /* Exactly at the limit is fine, one over is not, seen on the length byte. */
    PUT(&b, 1, HR_WS_OP_TEXT, "0123456789");
    check_stream(b.p, b.len, 10, 0, ok10, 1);
    buf_free(&b);
    PUT(&b, 1, HR_WS_OP_TEXT, "0123456789a");
    expect_fail(&b, 10, 1009, NULL, 0, 2);
    /* 16-bit and 64-bit lengths: refused once the length is known, though
     * the payload never comes. */
    put(&b, 1, HR_WS_OP_BINARY, payload, 1001);
    b.len = 4;
    expect_fail(&b, 1000, 1009, NULL, 0, 4);
    {
        static const uint8_t huge[] = {0x82, 0xFF, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0};
        buf_put(&b, huge, sizeof huge);
        expect_fail(&b, 0, 1009, NULL, 0, 10);
    }
    /* The default limit (max_message 0) is 64 KiB. */
    put(&b, 1, HR_WS_OP_BINARY, payload, 65536);
    {
        want_t w = {HR_WS_EV_BINARY, (const char *)payload, 65536, 0};
        check_stream(b.p, b.len, 0, 0, &w, 1);
        buf_free(&b);
    }
    put(&b, 1, HR_WS_OP_BINARY, payload, 65537);
    expect_fail(&b, 0, 1009, NULL, 0, 10);
    /* The sum of fragments counts: 6 + 5 > 10, refused on the second
     * fragment's length byte. */
    PUT(&b, 0, HR_WS_OP_TEXT, "012345");
    PUT(&b, 1, HR_WS_OP_PING, "ping is not counted");
    PUT(&b, 1, HR_WS_OP_CONT, "67890");
    {
        static const want_t ping[] = {EV(HR_WS_EV_PING, "ping is not counted")};
        expect_fail(&b, 10, 1009, ping, 1, 12 + 25 + 2);
    }
    PUT(&b, 0, HR_WS_OP_TEXT, "01234");
    PUT(&b, 1, HR_WS_OP_CONT, "56789");
    {
        static const want_t w[] = {EV(HR_WS_EV_TEXT, "0123456789")};
        check_stream(b.p, b.len, 10, 0, w, 1);
        buf_free(&b);
    }
    free(payload);
}

/* ---- reader: memory and ownership ---- */

static void test_reader_pend_holds_one_frame(void **state)
{
    buf_t b = {0};
    hr_ws_reader_t r;
    rec_t rec = {0};
    size_t first;

    (void)state;
    PUT(&b, 1, HR_WS_OP_TEXT, "first");
    first = b.len;
    PUT(&b, 1, HR_WS_OP_TEXT, "second");
    hr_ws_reader_init(&r, 0);
    rec.r = &r;
    /* Three bytes of the first frame: pend holds exactly those. */
    assert_int_equal(hr_ws_reader_feed(&r, b.p, 3, record, &rec), 0);
    assert_int_equal(rec.n, 0);
    assert_non_null(r.pend);
    assert_int_equal(r.pend_len, 3);
    /* The rest of the first frame and 4 bytes of the second: one event, and
     * pend now holds only the 4 bytes of the second frame. */
    assert_int_equal(hr_ws_reader_feed(&r, b.p + 3, first + 4 - 3, record, &rec), 0);
    assert_int_equal(rec.n, 1);
    assert_int_equal(r.pend_len, 4);
    assert_memory_equal(r.pend, b.p + first, 4);
    /* The rest: idle, nothing held. */
    assert_int_equal(hr_ws_reader_feed(&r, b.p + first + 4, b.len - first - 4, record, &rec), 0);
    assert_int_equal(rec.n, 2);
    assert_null(r.pend);
    assert_int_equal(r.pend_len, 0);
    assert_int_equal(r.pend_cap, 0);
    assert_null(r.msg);
    assert_memory_equal(rec.ev[1].data, "second", 6);
    hr_ws_reader_free(&r);
    rec_free(&rec);
    buf_free(&b);
}

static void test_reader_idle_holds_nothing(void **state)
{
    buf_t b = {0};
    hr_ws_reader_t r;
    rec_t rec = {0};
    size_t mid;

    (void)state;
    PUT(&b, 0, HR_WS_OP_BINARY, "abc");
    mid = b.len;
    PUT(&b, 1, HR_WS_OP_CONT, "def");
    hr_ws_reader_init(&r, 0);
    /* Inside a fragmented message the reader owns msg... */
    assert_int_equal(hr_ws_reader_feed(&r, b.p, mid, record, &rec), 0);
    assert_null(r.pend);
    assert_non_null(r.msg);
    assert_int_equal(r.msg_len, 3);
    assert_int_equal(r.msg_op, HR_WS_OP_BINARY);
    /* ... and gives it back once the message is delivered. */
    assert_int_equal(hr_ws_reader_feed(&r, b.p + mid, b.len - mid, record, &rec), 0);
    assert_int_equal(rec.n, 1);
    assert_memory_equal(rec.ev[0].data, "abcdef", 6);
    assert_null(r.msg);
    assert_int_equal(r.msg_cap, 0);
    assert_int_equal(r.msg_op, 0);
    assert_null(r.pend);
    hr_ws_reader_free(&r);
    rec_free(&rec);
    buf_free(&b);
}

/* A whole frame in the input is handed over in place, unmasked in the
 * caller's buffer; a frame that arrived in pieces comes from the reader. */
static void test_reader_in_place(void **state)
{
    buf_t b = {0};
    hr_ws_reader_t r;
    rec_t rec = {0};

    (void)state;
    PUT(&b, 1, HR_WS_OP_TEXT, "in place");
    hr_ws_reader_init(&r, 0);
    assert_int_equal(hr_ws_reader_feed(&r, b.p, b.len, record, &rec), 0);
    assert_int_equal(rec.n, 1);
    assert_ptr_equal(rec.ev[0].ptr, b.p + 6);
    assert_memory_equal(b.p + 6, "in place", 8);
    /* Split: the event's pointer is not into either piece. */
    b.len = 0;
    PUT(&b, 1, HR_WS_OP_TEXT, "pieces");
    assert_int_equal(hr_ws_reader_feed(&r, b.p, 5, record, &rec), 0);
    assert_int_equal(hr_ws_reader_feed(&r, b.p + 5, b.len - 5, record, &rec), 0);
    assert_int_equal(rec.n, 2);
    assert_true(rec.ev[1].ptr < b.p || rec.ev[1].ptr >= b.p + b.len);
    assert_memory_equal(rec.ev[1].data, "pieces", 6);
    hr_ws_reader_free(&r);
    rec_free(&rec);
    buf_free(&b);
}

static void test_reader_callback_stop(void **state)
{
    buf_t b = {0};
    hr_ws_reader_t r;
    rec_t rec = {0};
    size_t mid;

    (void)state;
    PUT(&b, 1, HR_WS_OP_TEXT, "one");
    PUT(&b, 0, HR_WS_OP_TEXT, "tw");
    PUT(&b, 1, HR_WS_OP_PING, "");
    mid = b.len;
    PUT(&b, 1, HR_WS_OP_CONT, "o");
    PUT(&b, 1, HR_WS_OP_TEXT, "three");
    for (size_t stop = 1; stop <= 3; stop++) {
        uint8_t in[64];

        assert_true(b.len <= sizeof in);
        memcpy(in, b.p, b.len); /* a fresh copy: feeding unmasks in place */
        memset(&rec, 0, sizeof rec);
        rec.stop_at = stop;
        hr_ws_reader_init(&r, 0);
        /* Fed in two pieces so that stopping can happen with a message in
         * progress and a partial frame pending. */
        assert_int_equal(hr_ws_reader_feed(&r, in, mid + 3, record, &rec), 0);
        if (stop <= 2) {
            assert_int_equal(rec.n, stop);
            assert_true(r.closed);
            check_reader(&r);
        }
        assert_int_equal(hr_ws_reader_feed(&r, in + mid + 3, b.len - mid - 3, record, &rec), 0);
        assert_int_equal(rec.n, stop);
        assert_true(r.closed);
        check_reader(&r);
        hr_ws_reader_free(&r);
        rec_free(&rec);
    }
    buf_free(&b);
}

static void test_reader_after_error(void **state)
{
    hr_ws_reader_t r;
    rec_t rec = {0};
    buf_t b = {0};
    uint8_t bad[] = {0x83, 0x80, 0, 0, 0, 0};

    (void)state;
    hr_ws_reader_init(&r, 0);
    PUT(&b, 0, HR_WS_OP_TEXT, "x");
    assert_int_equal(hr_ws_reader_feed(&r, b.p, b.len, record, &rec), 0);
    assert_non_null(r.msg);
    assert_int_equal(hr_ws_reader_feed(&r, bad, sizeof bad, record, &rec), 1002);
    assert_true(r.closed);
    check_reader(&r); /* an error drops what the reader held */
    b.len = 0;
    PUT(&b, 1, HR_WS_OP_CONT, "y");
    assert_int_equal(hr_ws_reader_feed(&r, b.p, b.len, record, &rec), 0);
    assert_int_equal(rec.n, 0);
    hr_ws_reader_free(&r);
    buf_free(&b);
}

/* A zeroed reader works without init and uses the default limit; free on
 * a reader holding a partial frame and a partial message leaks nothing. */
static void test_reader_zeroed_and_free(void **state)
{
    hr_ws_reader_t r = {0};
    rec_t rec = {0};
    buf_t b = {0};

    (void)state;
    PUT(&b, 0, HR_WS_OP_TEXT, "part");
    PUT(&b, 1, HR_WS_OP_CONT, "ial");
    assert_int_equal(hr_ws_reader_feed(&r, b.p, b.len - 2, record, &rec), 0);
    assert_non_null(r.msg);
    assert_non_null(r.pend);
    hr_ws_reader_free(&r);
    assert_null(r.msg);
    assert_null(r.pend);
    /* Reusable after init. */
    hr_ws_reader_init(&r, 0);
    assert_int_equal(hr_ws_reader_feed(&r, NULL, 0, record, &rec), 0);
    hr_ws_reader_free(&r);
    hr_ws_reader_free(&r);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc_example),
        cmocka_unit_test(test_accept_key_other_lengths),
        cmocka_unit_test(test_key_valid),
        cmocka_unit_test(test_frame_header_lengths),
        cmocka_unit_test(test_close_frame),
        cmocka_unit_test(test_close_code_valid),
        cmocka_unit_test(test_reader_rfc_hello),
        cmocka_unit_test(test_reader_control_frames),
        cmocka_unit_test(test_reader_empty_close),
        cmocka_unit_test(test_reader_nothing_after_close),
        cmocka_unit_test(test_reader_payload_lengths),
        cmocka_unit_test(test_reader_non_minimal_length),
        cmocka_unit_test(test_reader_fragmented_with_interleaved_control),
        cmocka_unit_test(test_reader_empty_fragments),
        cmocka_unit_test(test_reader_utf8_split_across_fragments),
        cmocka_unit_test(test_reader_unmasked),
        cmocka_unit_test(test_reader_rsv_bits),
        cmocka_unit_test(test_reader_rsv1_deflate),
        cmocka_unit_test(test_reader_reserved_opcodes),
        cmocka_unit_test(test_reader_control_rules),
        cmocka_unit_test(test_reader_fragmentation_rules),
        cmocka_unit_test(test_reader_length_msb),
        cmocka_unit_test(test_reader_close_payload_rules),
        cmocka_unit_test(test_reader_invalid_utf8),
        cmocka_unit_test(test_reader_invalid_utf8_across_fragments),
        cmocka_unit_test(test_reader_too_big),
        cmocka_unit_test(test_reader_pend_holds_one_frame),
        cmocka_unit_test(test_reader_idle_holds_nothing),
        cmocka_unit_test(test_reader_in_place),
        cmocka_unit_test(test_reader_callback_stop),
        cmocka_unit_test(test_reader_after_error),
        cmocka_unit_test(test_reader_zeroed_and_free),
    };

    return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
