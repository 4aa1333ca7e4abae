/* SPDX-License-Identifier: MIT
 * test_sse.c: unit tests of relay/src/codec/sse.c, the Server-Sent Events encoder.
 * Golden bytes for the field and line-break rules, exact agreement between
 * hr_sse_event_len and what hr_sse_encode_event writes, and round trips
 * through a small decoder written here from the WHATWG "event stream
 * interpretation" algorithm, on fixed and on generated inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/sse.h"

#define S(lit) lit, sizeof(lit) - 1

static hr_slice_t mk(const char *p, size_t len)
{
    hr_slice_t s = {p, len};
    return s;
}

static hr_slice_t sl(const char *s)
{
    return mk(s, s != NULL ? strlen(s) : 0);
}

/* Encodes into a buffer of exactly hr_sse_event_len bytes on the heap (so
 * ASan sees a write past it), checks the return value agrees, and returns
 * the bytes; the caller frees them. */
static char *encode(hr_slice_t id, hr_slice_t event, long retry, hr_slice_t data, size_t *len)
{
    size_t n = hr_sse_event_len(id, event, retry, data);
    char *out = malloc(n);

    assert_non_null(out);
    assert_int_equal(hr_sse_encode_event(out, id, event, retry, data), n);
    *len = n;
    return out;
}

/* ---- a WHATWG event-stream decoder ---------------------------------------- */

/* Follows "9.2.6 Interpreting an event stream" of the HTML standard on bytes
 * (our inputs need no UTF-8 decoding to compare). The input is a complete
 * stream: a last line without a terminator is discarded, as at end of file. */

#define DEC_DATA   8192
#define DEC_FIELD  512
#define DEC_EVENTS 16

struct dec_event {
    char type[DEC_FIELD];
    size_t type_len;
    char data[DEC_DATA];
    size_t data_len;
    char last_id[DEC_FIELD];
    size_t last_id_len;
};

struct decoder {
    char data[DEC_DATA];
    size_t data_len;
    char type[DEC_FIELD];
    size_t type_len;
    char id_buf[DEC_FIELD];
    size_t id_buf_len;
    long reconnect_ms; /* -1 until a retry field sets it */
    size_t n_events;
    struct dec_event events[DEC_EVENTS];
};

static struct decoder dec;

static void dec_reset(void)
{
    memset(&dec, 0, sizeof dec);
    dec.reconnect_ms = -1;
}

static void dec_append(char *buf, size_t *len, size_t cap, const char *s, size_t n)
{
    assert_true(*len + n <= cap);
    if (n > 0)
        memcpy(buf + *len, s, n);
    *len += n;
}

static void dec_dispatch(void)
{
    struct dec_event *e;

    /* Step 1: the last event ID is set even when nothing is dispatched. */
    if (dec.data_len == 0) {
        dec.type_len = 0;
        return;
    }
    if (dec.data[dec.data_len - 1] == '\n')
        dec.data_len--;
    assert_true(dec.n_events < DEC_EVENTS);
    e = &dec.events[dec.n_events++];
    if (dec.type_len > 0) {
        memcpy(e->type, dec.type, dec.type_len);
        e->type_len = dec.type_len;
    } else {
        memcpy(e->type, "message", 7);
        e->type_len = 7;
    }
    memcpy(e->data, dec.data, dec.data_len);
    e->data_len = dec.data_len;
    memcpy(e->last_id, dec.id_buf, dec.id_buf_len);
    e->last_id_len = dec.id_buf_len;
    dec.data_len = 0;
    dec.type_len = 0;
}

static int field_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

static void dec_field(const char *f, size_t flen, const char *v, size_t vlen)
{
    if (field_is(f, flen, "event")) {
        dec.type_len = 0;
        dec_append(dec.type, &dec.type_len, sizeof dec.type, v, vlen);
    } else if (field_is(f, flen, "data")) {
        dec_append(dec.data, &dec.data_len, sizeof dec.data, v, vlen);
        dec_append(dec.data, &dec.data_len, sizeof dec.data, "\n", 1);
    } else if (field_is(f, flen, "id")) {
        if (memchr(v, '\0', vlen) == NULL) {
            dec.id_buf_len = 0;
            dec_append(dec.id_buf, &dec.id_buf_len, sizeof dec.id_buf, v, vlen);
        }
    } else if (field_is(f, flen, "retry")) {
        long ms = 0;
        size_t i;
        for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
            ms = ms * 10 + (v[i] - '0');
        if (i == vlen && vlen > 0)
            dec.reconnect_ms = ms;
    }
    /* Any other field is ignored. */
}

static void dec_line(const char *s, size_t n)
{
    const char *colon;

    if (n == 0) {
        dec_dispatch();
        return;
    }
    if (s[0] == ':')
        return; /* comment */
    colon = memchr(s, ':', n);
    if (colon == NULL) {
        dec_field(s, n, "", 0);
        return;
    }
    const char *v = colon + 1;
    size_t vlen = n - (size_t)(v - s);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    dec_field(s, (size_t)(colon - s), v, vlen);
}

/* Feeds a whole stream: lines end in CRLF, LF or CR. */
static void dec_feed(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\r' && s[j] != '\n')
            j++;
        if (j == n)
            return; /* unterminated last line: discarded at end of stream */
        dec_line(s + i, j - i);
        if (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')
            j++;
        i = j + 1;
    }
}

/* data with every CRLF and CR turned into LF: what the client must see. */
static size_t normalise(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            out[o++] = '\n';
            if (i + 1 < n && s[i + 1] == '\n')
                i++;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

static void assert_bytes(const char *what, const char *got, size_t got_len, const char *want,
                         size_t want_len)
{
    if (got_len != want_len || (got_len > 0 && memcmp(got, want, got_len) != 0))
        fail_msg("%s: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", what, got_len, (int)got_len,
                 got, want_len, (int)want_len, want);
}

/* The decoder itself, against the examples in the HTML standard. */
static void test_decoder_follows_spec_examples(void **state)
{
    (void)state;
    dec_reset();
    dec_feed(S("data: YHOO\ndata: +2\ndata: 10\n\n"));
    assert_int_equal(dec.n_events, 1);
    assert_bytes("stock", dec.events[0].data, dec.events[0].data_len, S("YHOO\n+2\n10"));

    dec_reset();
    dec_feed(S(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
               "data:  third event\n\n"));
    assert_int_equal(dec.n_events, 3);
    assert_bytes("1st", dec.events[0].data, dec.events[0].data_len, S("first event"));
    assert_bytes("1st id", dec.events[0].last_id, dec.events[0].last_id_len, S("1"));
    assert_bytes("2nd", dec.events[1].data, dec.events[1].data_len, S("second event"));
    assert_int_equal(dec.events[1].last_id_len, 0);
    assert_bytes("3rd", dec.events[2].data, dec.events[2].data_len, S(" third event"));

    /* "data\n\ndata\ndata\n\ndata:" gives "" and "\n"; the last is lost. */
    dec_reset();
    dec_feed(S("data\n\ndata\ndata\n\ndata:"));
    assert_int_equal(dec.n_events, 2);
    assert_int_equal(dec.events[0].data_len, 0);
    assert_bytes("2 lines", dec.events[1].data, dec.events[1].data_len, S("\n"));

    dec_reset();
    dec_feed(S("data:test\r\n\r\nretry: 1x\nretry: 250\nevent: e\ndata: test\r\r"));
    assert_int_equal(dec.n_events, 2);
    assert_bytes("no space", dec.events[0].data, dec.events[0].data_len, S("test"));
    assert_bytes("type 1", dec.events[0].type, dec.events[0].type_len, S("message"));
    assert_bytes("space", dec.events[1].data, dec.events[1].data_len, S("test"));
    assert_bytes("type 2", dec.events[1].type, dec.events[1].type_len, S("e"));
    assert_int_equal(dec.reconnect_ms, 250);

    /* A comment such as the keepalive dispatches nothing. */
    dec_reset();
    dec_feed(S(HR_SSE_PING));
    assert_int_equal(dec.n_events, 0);
}

/* ---- golden bytes --------------------------------------------------------- */

static const struct golden {
    const char *name;
    const char *id, *event;
    long retry;
    const char *data;
    size_t data_len;
    const char *want;
    size_t want_len;
} goldens[] = {
    {"plain", NULL, NULL, 0, S("hello"), S("data: hello\n\n")},
    {"all fields", "42", "update", 3000, S("x"),
     S("id: 42\nevent: update\nretry: 3000\ndata: x\n\n")},
    {"id only", "7", NULL, 0, S(""), S("id: 7\ndata: \n\n")},
    {"event only", NULL, "herald.gap", 0, S("{}"), S("event: herald.gap\ndata: {}\n\n")},
    {"retry only", NULL, NULL, 1, S("r"), S("retry: 1\ndata: r\n\n")},
    {"retry 0 omitted", NULL, NULL, 0, S("r"), S("data: r\n\n")},
    {"negative retry omitted", NULL, NULL, -5, S("r"), S("data: r\n\n")},
    {"retry long max", NULL, NULL, LONG_MAX, S(""), S("retry: 9223372036854775807\ndata: \n\n")},
    {"empty data", NULL, NULL, 0, S(""), S("data: \n\n")},
    {"lf", NULL, NULL, 0, S("a\nb"), S("data: a\ndata: b\n\n")},
    {"cr", NULL, NULL, 0, S("a\rb"), S("data: a\ndata: b\n\n")},
    {"crlf", NULL, NULL, 0, S("a\r\nb"), S("data: a\ndata: b\n\n")},
    {"mixed", NULL, NULL, 0, S("1\r2\n3\r\n4"), S("data: 1\ndata: 2\ndata: 3\ndata: 4\n\n")},
    {"cr cr", NULL, NULL, 0, S("a\r\rb"), S("data: a\ndata: \ndata: b\n\n")},
    {"lf cr", NULL, NULL, 0, S("a\n\rb"), S("data: a\ndata: \ndata: b\n\n")},
    {"crlf crlf", NULL, NULL, 0, S("a\r\n\r\nb"), S("data: a\ndata: \ndata: b\n\n")},
    {"cr cr lf", NULL, NULL, 0, S("a\r\r\nb"), S("data: a\ndata: \ndata: b\n\n")},
    {"trailing lf", NULL, NULL, 0, S("a\n"), S("data: a\ndata: \n\n")},
    {"trailing cr", NULL, NULL, 0, S("a\r"), S("data: a\ndata: \n\n")},
    {"trailing crlf", NULL, NULL, 0, S("a\r\n"), S("data: a\ndata: \n\n")},
    {"only lf", NULL, NULL, 0, S("\n"), S("data: \ndata: \n\n")},
    {"only cr", NULL, NULL, 0, S("\r"), S("data: \ndata: \n\n")},
    {"only crlf", NULL, NULL, 0, S("\r\n"), S("data: \ndata: \n\n")},
    {"two crlf", NULL, NULL, 0, S("\r\n\r\n"), S("data: \ndata: \ndata: \n\n")},
    {"leading break", NULL, NULL, 0, S("\nx"), S("data: \ndata: x\n\n")},
    {"leading space kept", NULL, NULL, 0, S(" lead"), S("data:  lead\n\n")},
    {"colon in data", NULL, NULL, 0, S(": no comment"), S("data: : no comment\n\n")},
    {"nul in data", NULL, NULL, 0, S("a\0b"), S("data: a\0b\n\n")},
    {"utf-8", "\xc3\xa9", "caf\xc3\xa9", 0, S("\xe2\x82\xac\n\xff"),
     S("id: \xc3\xa9\nevent: caf\xc3\xa9\ndata: \xe2\x82\xac\ndata: \xff\n\n")},
    {"json", "1700000000-1", NULL, 15000, S("{\"a\":[1,2],\n\"b\":\"x\"}"),
     S("id: 1700000000-1\nretry: 15000\ndata: {\"a\":[1,2],\ndata: \"b\":\"x\"}\n\n")},
};

static void test_golden(void **state)
{
    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(goldens); i++) {
        const struct golden *g = &goldens[i];
        size_t len;
        char *out = encode(sl(g->id), sl(g->event), g->retry, mk(g->data, g->data_len), &len);
        assert_bytes(g->name, out, len, g->want, g->want_len);
        free(out);
    }
}

/* The encoder writes exactly hr_sse_event_len bytes: nothing after them. */
static void test_length_is_exact(void **state)
{
    char buf[512];

    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(goldens); i++) {
        const struct golden *g = &goldens[i];
        hr_slice_t id = sl(g->id), ev = sl(g->event), data = mk(g->data, g->data_len);
        size_t n = hr_sse_event_len(id, ev, g->retry, data);

        assert_int_equal(n, g->want_len);
        memset(buf, 0xa5, sizeof buf);
        assert_int_equal(hr_sse_encode_event(buf, id, ev, g->retry, data), n);
        for (size_t j = n; j < sizeof buf; j++)
            if ((unsigned char)buf[j] != 0xa5)
                fail_msg("%s: byte %zu after the %zu-byte event was written", g->name, j, n);
    }
}

/* Long fields and lines, so that a length slip that needs one shows up. */
static void test_length_long(void **state)
{
    static char data[20000], want[21000];
    char id[300];
    size_t len, o;
    char *out;

    (void)state;
    memset(id, 'i', sizeof id);
    memset(data, 'd', sizeof data);
    data[5000] = '\r';
    data[5001] = '\n';
    data[12000] = '\r';
    data[15000] = '\n';
    out = encode(mk(id, sizeof id), mk("e", 1), 60000, mk(data, sizeof data), &len);
    o = (size_t)sprintf(want, "id: %.300s\nevent: e\nretry: 60000\n", id);
    o += (size_t)sprintf(want + o, "data: %.5000s\n", data);
    o += (size_t)sprintf(want + o, "data: %.6998s\n", data + 5002);
    o += (size_t)sprintf(want + o, "data: %.2999s\n", data + 12001);
    o += (size_t)sprintf(want + o, "data: %.4999s\n\n", data + 15001);
    assert_bytes("long", out, len, want, o);
    free(out);
}

/* Absent fields may be { NULL, 0 }. */
static void test_null_slices(void **state)
{
    hr_slice_t none = {NULL, 0};
    size_t len;
    char *out;

    (void)state;
    out = encode(none, none, 0, none, &len);
    assert_bytes("all null", out, len, S("data: \n\n"));
    free(out);
    out = encode(none, sl("e"), 5, none, &len);
    assert_bytes("event", out, len, S("event: e\nretry: 5\ndata: \n\n"));
    free(out);
    /* A slice is not a C string: only len bytes are used. */
    out = encode(mk("12345", 2), mk("evXX", 2), 0, mk("ab\ncd", 4), &len);
    assert_bytes("cut", out, len, S("id: 12\nevent: ev\ndata: ab\ndata: c\n\n"));
    free(out);
    out = encode(none, none, 0, mk("ab\r\ncd", 3), &len);
    assert_bytes("cut at cr of crlf", out, len, S("data: ab\ndata: \n\n"));
    free(out);
}

static void test_field_valid(void **state)
{
    hr_slice_t none = {NULL, 0};

    (void)state;
    assert_true(hr_sse_field_valid(sl("update")));
    assert_true(hr_sse_field_valid(sl("herald.gap")));
    assert_true(hr_sse_field_valid(sl("1700000000-42")));
    assert_true(hr_sse_field_valid(sl(" spaces: and colons ")));
    assert_true(hr_sse_field_valid(sl("caf\xc3\xa9\x7f\x01\t")));
    assert_true(hr_sse_field_valid(sl("")));
    assert_true(hr_sse_field_valid(none));
    assert_false(hr_sse_field_valid(sl("a\nb")));
    assert_false(hr_sse_field_valid(sl("a\rb")));
    assert_false(hr_sse_field_valid(sl("\r\n")));
    assert_false(hr_sse_field_valid(sl("end\n")));
    assert_false(hr_sse_field_valid(mk("a\0b", 3)));
    assert_false(hr_sse_field_valid(mk("\0", 1)));
    /* Only len bytes are looked at. */
    assert_true(hr_sse_field_valid(mk("ok\n", 2)));
}

static void test_retry_helper(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(hr_sse_retry(out, 3000), 13);
    assert_memory_equal(out, "retry: 3000\n\n", 13);
    assert_int_equal(hr_sse_retry(out, 1), 10);
    assert_memory_equal(out, "retry: 1\n\n", 10);
    assert_int_equal(hr_sse_retry(out, 0), 10);
    assert_memory_equal(out, "retry: 0\n\n", 10);
    /* Negative makes no sense as a delay, and "-1" would be ignored. */
    assert_int_equal(hr_sse_retry(out, -1), 10);
    assert_memory_equal(out, "retry: 0\n\n", 10);
    assert_int_equal(hr_sse_retry(out, LONG_MIN), 10);
    assert_int_equal(hr_sse_retry(out, LONG_MAX), 28);
    assert_memory_equal(out, "retry: 9223372036854775807\n\n", 28);

    /* A client takes it as its reconnection time and dispatches nothing. */
    dec_reset();
    dec_feed(out, hr_sse_retry(out, 2500));
    assert_int_equal(dec.reconnect_ms, 2500);
    assert_int_equal(dec.n_events, 0);
}

static void test_ping(void **state)
{
    (void)state;
    assert_int_equal(sizeof HR_SSE_PING - 1, 8);
    assert_memory_equal(HR_SSE_PING, ": ping\n\n", 8);
}

/* ---- round trips ---------------------------------------------------------- */

/* Encodes one event, decodes it, and checks the client sees what was meant:
 * the data with its line breaks as LF, the type, the id, the retry. */
static void roundtrip(hr_slice_t id, hr_slice_t event, long retry, hr_slice_t data)
{
    static char want[DEC_DATA];
    size_t len, want_len;
    char *out = encode(id, event, retry, data, &len);
    const struct dec_event *e;

    dec_reset();
    dec_feed(out, len);
    if (dec.n_events != 1)
        fail_msg("%zu events from \"%.*s\"", dec.n_events, (int)len, out);
    e = &dec.events[0];
    want_len = normalise(data.p, data.len, want);
    assert_bytes("data", e->data, e->data_len, want, want_len);
    if (event.len > 0)
        assert_bytes("type", e->type, e->type_len, event.p, event.len);
    else
        assert_bytes("type", e->type, e->type_len, S("message"));
    assert_bytes("id", e->last_id, e->last_id_len, id.p, id.len);
    assert_int_equal(dec.reconnect_ms, retry > 0 ? retry : -1);
    free(out);
}

static void test_roundtrip_goldens(void **state)
{
    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(goldens); i++) {
        const struct golden *g = &goldens[i];
        roundtrip(sl(g->id), sl(g->event), g->retry, mk(g->data, g->data_len));
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Line breaks and the bytes the format treats specially are over-weighted so
 * that runs such as "\r\r\n" and "\n\r" come up often. */
static size_t gen(char *out, size_t max, int field)
{
    static const char data_bytes[] = "ab :\r\n\r\n\0\xff\xc3\t";
    static const char field_bytes[] = "az :.-\xff\t";
    /* Sometimes one long line, sometimes a burst of breaks. */
    static const char *const alphabets[] = {data_bytes, data_bytes, field_bytes, "\r\n"};
    const char *a = field ? field_bytes : alphabets[rnd(HR_ARRAY_SIZE(alphabets))];
    size_t n = rnd((uint32_t)max + 1), na = strlen(a) + (a == data_bytes); /* keep the NUL */

    for (size_t i = 0; i < n; i++)
        out[i] = a[rnd((uint32_t)na)];
    return n;
}

static void test_roundtrip_generated(void **state)
{
    char data[256], id[16], ev[16];

    (void)state;
    for (int i = 0; i < 50000; i++) {
        size_t dn = gen(data, i % 10 == 0 ? sizeof data : 12, 0);
        size_t in = rnd(3) == 0 ? gen(id, sizeof id, 1) : 0;
        size_t en = rnd(3) == 0 ? gen(ev, sizeof ev, 1) : 0;
        long retry = rnd(4) == 0 ? (long)rnd(100000) : 0;
        roundtrip(mk(id, in), mk(ev, en), retry, mk(data, dn));
    }
}

/* Several events back to back, as a connection sees them: none may run into
 * the next, and the last event id carries over events without one. */
static void test_stream_of_events(void **state)
{
    static char stream[DEC_DATA], want[DEC_DATA];
    char data[DEC_EVENTS][64], id[DEC_EVENTS][8];
    size_t dn[DEC_EVENTS], idn[DEC_EVENTS];

    (void)state;
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + rnd(DEC_EVENTS), len = 0;
        const char *last_id = "";
        size_t last_id_len = 0;

        for (size_t k = 0; k < n; k++) {
            dn[k] = gen(data[k], sizeof data[k], 0);
            idn[k] = rnd(2) ? gen(id[k], sizeof id[k], 1) : 0;
            hr_slice_t d = mk(data[k], dn[k]), i = mk(id[k], idn[k]), none = {NULL, 0};
            size_t el = hr_sse_event_len(i, none, 0, d);
            assert_true(len + el <= sizeof stream);
            assert_int_equal(hr_sse_encode_event(stream + len, i, none, 0, d), el);
            len += el;
            /* A keepalive between events changes nothing. */
            if (rnd(4) == 0) {
                memcpy(stream + len, HR_SSE_PING, sizeof HR_SSE_PING - 1);
                len += sizeof HR_SSE_PING - 1;
            }
        }
        dec_reset();
        dec_feed(stream, len);
        assert_int_equal(dec.n_events, n);
        for (size_t k = 0; k < n; k++) {
            size_t wl = normalise(data[k], dn[k], want);
            assert_bytes("stream data", dec.events[k].data, dec.events[k].data_len, want, wl);
            if (idn[k] > 0) {
                last_id = id[k];
                last_id_len = idn[k];
            }
            assert_bytes("stream id", dec.events[k].last_id, dec.events[k].last_id_len, last_id,
                         last_id_len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoder_follows_spec_examples),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_length_is_exact),
        cmocka_unit_test(test_length_long),
        cmocka_unit_test(test_null_slices),
        cmocka_unit_test(test_field_valid),
        cmocka_unit_test(test_retry_helper),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_roundtrip_goldens),
        cmocka_unit_test(test_roundtrip_generated),
        cmocka_unit_test(test_stream_of_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
