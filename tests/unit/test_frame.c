/* SPDX-License-Identifier: MIT
 * test_frame.c: the ingest decoder: msgpack-c's streaming unpacker (as
 * ingest.c drives it) followed by hr_frame_parse. Whole input, every prefix,
 * one byte at a time; every validation rule; acks survive invalid frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/frame.h"
#include "abi/herald_ring_abi.h"

/* Pack a frame from a tiny description: pairs of key, value where the
 * value is given as a type letter: s=str, b=bin, u=uint, n=nil, a=array
 * of strings (count then strings), i=negative int, f=float64, t=bool
 * (an int), r=raw msgpack bytes (pointer, size_t: a packed value). */
static size_t pack(msgpack_sbuffer *sb, int pairs, ...)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)pairs);
    va_list ap;
    va_start(ap, pairs);
    for (int i = 0; i < pairs; i++) {
        const char *k = va_arg(ap, const char *);
        msgpack_pack_str_with_body(&pk, k, strlen(k));
        int type = va_arg(ap, int);
        switch (type) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            msgpack_pack_str_with_body(&pk, v, strlen(v));
            break;
        }
        case 'b': {
            const char *v = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            msgpack_pack_bin_with_body(&pk, v, n);
            break;
        }
        case 'u':
            msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
            break;
        case 'i':
            msgpack_pack_int64(&pk, va_arg(ap, int64_t));
            break;
        case 'n':
            msgpack_pack_nil(&pk);
            break;
        case 'f':
            msgpack_pack_double(&pk, va_arg(ap, double));
            break;
        case 't':
            if (va_arg(ap, int))
                msgpack_pack_true(&pk);
            else
                msgpack_pack_false(&pk);
            break;
        case 'r': {
            const char *v = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            msgpack_sbuffer_write(sb, v, n);
            break;
        }
        case 'a': {
            int n = va_arg(ap, int);
            msgpack_pack_array(&pk, (size_t)n);
            for (int j = 0; j < n; j++) {
                const char *v = va_arg(ap, const char *);
                msgpack_pack_str_with_body(&pk, v, strlen(v));
            }
            break;
        }
        }
    }
    va_end(ap);
    return sb->size;
}

static int parse_bytes(const char *buf, size_t len, hr_frame_t *f, char *err)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, buf, len, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    int r = hr_frame_parse(&u.data, f, err, 160);
    msgpack_unpacked_destroy(&u);
    return r;
}

static void test_pub_sse_full(void **state)
{
    msgpack_sbuffer sb;
    pack(&sb, 7, "op", 's', "pub", "t", 's', "sse", "ch", 's', "news", "data", 's', "a\nb", "event",
         's', "update", "retry", 'u', (uint64_t)2500, "ack", 'u', (uint64_t)7);
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.op, HR_OP_PUB);
    assert_int_equal(f.target, HR_TARGET_SSE);
    assert_int_equal(f.nchannels, 1);
    assert_memory_equal(f.channels[0].p, "news", 4);
    assert_int_equal(f.data.len, 3);
    assert_memory_equal(f.event.p, "update", 6);
    assert_int_equal(f.retry, 2500);
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 7);
    msgpack_sbuffer_destroy(&sb);
}

static void test_pub_ws_binary_and_channel_array(void **state)
{
    msgpack_sbuffer sb;
    pack(&sb, 5, "op", 's', "pub", "t", 's', "ws", "ch", 'a', 3, "a", "b.c", "d:e", "data", 'b',
         "\x00\xff\xfe", (size_t)3, "ts", 'u', (uint64_t)123456789);
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.target, HR_TARGET_WS);
    assert_true(f.binary);
    assert_int_equal(f.nchannels, 3);
    assert_memory_equal(f.channels[2].p, "d:e", 3);
    assert_true(f.has_ts);
    assert_int_equal(f.ts, 123456789);
    msgpack_sbuffer_destroy(&sb);
}

static void test_hello_and_unknown_keys(void **state)
{
    msgpack_sbuffer sb;
    pack(&sb, 5, "op", 's', "hello", "v", 'u', (uint64_t)1, "client", 's', "herald-php/0.1", "pid",
         'u', (uint64_t)4242, "future", 's', "ignored");
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.op, HR_OP_HELLO);
    assert_int_equal(f.pid, 4242);
    assert_int_equal(f.version, 1);
    assert_int_equal(f.ring, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* hello may ask for a ring; a ring that is not a uint is ignored. */
static void test_hello_ring_and_wake(void **state)
{
    msgpack_sbuffer sb;
    hr_frame_t f;
    char err[160];
    pack(&sb, 3, "op", 's', "hello", "pid", 'u', (uint64_t)7, "ring", 'u', (uint64_t)262144);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.op, HR_OP_HELLO);
    assert_int_equal(f.ring, 262144);
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 2, "op", 's', "hello", "ring", 's', "big");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.ring, 0);
    msgpack_sbuffer_destroy(&sb);
    /* The producer writes HR_RING_WAKE_FRAME byte for byte. */
    assert_int_equal(parse_bytes(HR_RING_WAKE_FRAME, HR_RING_WAKE_LEN, &f, err), 0);
    assert_int_equal(f.op, HR_OP_WAKE);
    assert_int_equal(f.has_ack, 0);
}

/* Each invalid frame: rejected with a reason, ack still usable. */
static void expect_reject(msgpack_sbuffer *sb, const char *needle)
{
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb->data, sb->size, &f, err), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
    msgpack_sbuffer_destroy(sb);
}

static void test_rejections(void **state)
{
    msgpack_sbuffer sb;
    pack(&sb, 1, "t", 's', "sse");
    expect_reject(&sb, "missing op");
    pack(&sb, 1, "op", 's', "frobnicate");
    expect_reject(&sb, "unknown op");
    pack(&sb, 3, "op", 's', "pub", "ch", 's', "a", "data", 's', "x");
    expect_reject(&sb, "missing t");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "mqtt", "ch", 's', "a", "data", 's', "x");
    expect_reject(&sb, "t must be \"sse\", \"ws\" or \"all\"");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "al", "ch", 's', "a", "data", 's', "x");
    expect_reject(&sb, "t must be");
    pack(&sb, 3, "op", 's', "pub", "t", 's', "sse", "data", 's', "x");
    expect_reject(&sb, "missing ch");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "sse", "ch", 's', "bad name", "data", 's', "x");
    expect_reject(&sb, "invalid channel");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "sse", "ch", 'a', 0, "data", 's', "x");
    expect_reject(&sb, "empty array");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "sse", "ch", 'u', (uint64_t)1, "data", 's', "x");
    expect_reject(&sb, "ch must be");
    pack(&sb, 3, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a");
    expect_reject(&sb, "missing data");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 'u', (uint64_t)1);
    expect_reject(&sb, "data must be");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 's', "\xc3\x28");
    expect_reject(&sb, "UTF-8");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "ws", "ch", 's', "a", "data", 's', "\xff");
    expect_reject(&sb, "UTF-8");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 's', "x", "event", 's',
         "a\nretry: 1");
    expect_reject(&sb, "event");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 's', "x", "retry", 'i',
         (int64_t)-5);
    expect_reject(&sb, "retry");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 's', "x", "retry", 'u',
         (uint64_t)0);
    expect_reject(&sb, "retry");

    /* Not a map at all. */
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 0);
    expect_reject(&sb, "not a map");
}

/* An SSE encoding must fit one buffer (32-bit length): a frame whose data
 * would pass it once every line becomes "data: ...\n" is refused, not let
 * through to overflow the length (the limit is lowered here: the real one
 * is 4 GiB). The same data as WebSocket, unframed line by line, passes. */
static void test_sse_encoding_must_fit_a_buffer(void **state)
{
    char data[201];
    memset(data, '\n', 200);
    data[200] = '\0';
    size_t saved = hr_frame_max_encoded;
    hr_frame_max_encoded = 1000; /* 200 line breaks make 1400 bytes of SSE */
    msgpack_sbuffer sb;
    pack(&sb, 4, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 's', data);
    expect_reject(&sb, "too large once encoded");
    pack(&sb, 4, "op", 's', "pub", "t", 's', "ws", "ch", 's', "a", "data", 's', data);
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    msgpack_sbuffer_destroy(&sb);
    hr_frame_max_encoded = saved;
}

/* t "all" (herald_publish): every transport; its data is text, as SSE's. */
static void test_pub_all(void **state)
{
    msgpack_sbuffer sb;
    hr_frame_t f;
    char err[160];
    pack(&sb, 5, "op", 's', "pub", "t", 's', "all", "ch", 'a', 2, "a", "b", "data", 's', "hi",
         "event", 's', "note");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.target, HR_TARGET_ALL);
    assert_int_equal(f.nchannels, 2);
    assert_false(f.binary);
    assert_false(f.json);
    assert_memory_equal(f.event.p, "note", 4);
    msgpack_sbuffer_destroy(&sb);
    /* bin data is taken as text, and must be UTF-8, as for SSE. */
    pack(&sb, 4, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 'b', "ok", (size_t)2);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_false(f.binary);
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 4, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 'b', "\xff", (size_t)1);
    expect_reject(&sb, "UTF-8");
    /* The SSE size bound applies to "all" too. */
    char data[201];
    memset(data, '\n', 200);
    data[200] = '\0';
    size_t saved = hr_frame_max_encoded;
    hr_frame_max_encoded = 1000;
    pack(&sb, 4, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', data);
    expect_reject(&sb, "too large once encoded");
    hr_frame_max_encoded = saved;
}

/* json: true marks data as the text of one JSON value; the relay checks
 * it (a publisher is untrusted: herald.v1 embeds the text as a value). */
static void test_pub_json(void **state)
{
    msgpack_sbuffer sb;
    hr_frame_t f;
    char err[160];
    const char *ts[] = {"sse", "ws", "all"};
    for (int i = 0; i < 3; i++) {
        pack(&sb, 5, "op", 's', "pub", "t", 's', ts[i], "ch", 's', "a", "data", 's',
             "{\"order\":7,\"total\":12.5,\"tags\":[\"\xc3\xa9\",null]}", "json", 't', 1);
        assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
        assert_true(f.json);
        msgpack_sbuffer_destroy(&sb);
    }
    /* Any value, not only containers; json: false or nil is plain text. */
    const char *values[] = {"1", "-2.5e3", "\"s\"", "true", "null", " [] "};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        pack(&sb, 5, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', values[i],
             "json", 't', 1);
        assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
        assert_true(f.json);
        msgpack_sbuffer_destroy(&sb);
    }
    pack(&sb, 5, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', "not json", "json",
         't', 0);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_false(f.json);
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 5, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', "not json", "json",
         'n');
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_false(f.json);
    msgpack_sbuffer_destroy(&sb);

    /* Rejected, each with its reason; the ack survives for the nack. */
    pack(&sb, 6, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', "{\"a\":1,}",
         "json", 't', 1, "ack", 'u', (uint64_t)5);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    assert_string_equal(err, "pub: data is not valid JSON (object key is not a string at byte 7)");
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 5);
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "data", 's', "", "json", 't',
         1);
    expect_reject(&sb, "not valid JSON (unexpected end at byte 0)");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "ws", "ch", 's', "a", "data", 's', "{} {}", "json",
         't', 1);
    expect_reject(&sb, "not valid JSON (text after the value");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "ws", "ch", 's', "a", "data", 'b', "1", (size_t)1,
         "json", 't', 1);
    expect_reject(&sb, "json data must be a str");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', "1", "json", 'u',
         (uint64_t)1);
    expect_reject(&sb, "json must be a boolean");
    pack(&sb, 5, "op", 's', "pub", "t", 's', "all", "ch", 's', "a", "data", 's', "1", "json", 's',
         "true");
    expect_reject(&sb, "json must be a boolean");
    /* UTF-8 is checked before the grammar. */
    pack(&sb, 5, "op", 's', "pub", "t", 's', "ws", "ch", 's', "a", "data", 's', "\"\xff\"", "json",
         't', 1);
    expect_reject(&sb, "UTF-8");
}

/* send: to one connection or to one user, data as for pub (binary by bin
 * or by "binary": true, json checked), always the direct target. */
static void test_send(void **state)
{
    msgpack_sbuffer sb;
    hr_frame_t f;
    char err[160];
    pack(&sb, 6, "op", 's', "send", "conn", 's', "0a1b2c3d.42", "data", 's', "{\"a\":1}", "json",
         't', 1, "ack", 'u', (uint64_t)9, "ts", 'u', (uint64_t)77);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.op, HR_OP_SEND);
    assert_int_equal(f.target, HR_TARGET_DIRECT);
    assert_int_equal(f.conn.len, 11);
    assert_memory_equal(f.conn.p, "0a1b2c3d.42", 11);
    assert_int_equal(f.user.len, 0);
    assert_true(f.json);
    assert_false(f.binary);
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 9);
    assert_true(f.has_ts);
    assert_int_equal(f.ts, 77);
    assert_int_equal(f.nchannels, 0);
    msgpack_sbuffer_destroy(&sb);

    pack(&sb, 3, "op", 's', "send", "user", 's', "alice@example.com", "data", 'b', "\xff\x00",
         (size_t)2);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.user.len, 17);
    assert_int_equal(f.conn.len, 0);
    assert_true(f.binary);
    msgpack_sbuffer_destroy(&sb);

    /* "binary": true makes str bytes binary too: no UTF-8 asked of them. */
    pack(&sb, 4, "op", 's', "send", "user", 's', "u", "data", 's', "\xff", "binary", 't', 1);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_true(f.binary);
    msgpack_sbuffer_destroy(&sb);
    /* A nil conn is no conn. */
    pack(&sb, 4, "op", 's', "send", "conn", 'n', "user", 's', "u", "data", 's', "x");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.user.len, 1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_send_rejections(void **state)
{
    msgpack_sbuffer sb;
    char conn64[66];
    memset(conn64, 'a', 65);
    conn64[65] = '\0';
    pack(&sb, 2, "op", 's', "send", "data", 's', "x");
    expect_reject(&sb, "send: exactly one of conn and user");
    pack(&sb, 4, "op", 's', "send", "conn", 's', "a.1", "user", 's', "u", "data", 's', "x");
    expect_reject(&sb, "send: exactly one of conn and user");
    pack(&sb, 3, "op", 's', "send", "conn", 's', "A.1", "data", 's', "x");
    expect_reject(&sb, "send: conn must be a connection id");
    pack(&sb, 3, "op", 's', "send", "conn", 's', "", "data", 's', "x");
    expect_reject(&sb, "send: conn must be");
    pack(&sb, 3, "op", 's', "send", "conn", 's', conn64, "data", 's', "x");
    expect_reject(&sb, "send: conn must be");
    conn64[64] = '\0';
    pack(&sb, 3, "op", 's', "send", "conn", 's', conn64, "data", 's', "x");
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0); /* 64 bytes: the longest */
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 3, "op", 's', "send", "conn", 'u', (uint64_t)1, "data", 's', "x");
    expect_reject(&sb, "send: conn must be");
    pack(&sb, 3, "op", 's', "send", "user", 's', "#c.x", "data", 's', "x");
    expect_reject(&sb, "send: user must be");
    pack(&sb, 3, "op", 's', "send", "user", 's', "", "data", 's', "x");
    expect_reject(&sb, "send: user must be");
    pack(&sb, 2, "op", 's', "send", "user", 's', "u");
    expect_reject(&sb, "send: missing data");
    pack(&sb, 3, "op", 's', "send", "user", 's', "u", "data", 'u', (uint64_t)3);
    expect_reject(&sb, "send: data must be str or bin");
    pack(&sb, 3, "op", 's', "send", "user", 's', "u", "data", 's', "\xc3\x28");
    expect_reject(&sb, "send: data is not valid UTF-8");
    pack(&sb, 4, "op", 's', "send", "user", 's', "u", "data", 's', "x", "binary", 's', "yes");
    expect_reject(&sb, "send: binary must be a boolean");
    pack(&sb, 4, "op", 's', "send", "user", 's', "u", "data", 's', "{", "json", 't', 1);
    expect_reject(&sb, "send: data is not valid JSON");
    pack(&sb, 5, "op", 's', "send", "user", 's', "u", "data", 's', "1", "json", 't', 1, "binary",
         't', 1);
    expect_reject(&sb, "send: json data must be a str, not bin");
    /* The ack survives for the nack. */
    pack(&sb, 3, "op", 's', "send", "data", 's', "x", "ack", 'u', (uint64_t)5);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 5);
    msgpack_sbuffer_destroy(&sb);
}

/* A text send reaches SSE subscribers too ("herald.send"): it must fit. */
static void test_send_sse_size(void **state)
{
    char data[201];
    memset(data, '\n', 200);
    data[200] = '\0';
    size_t saved = hr_frame_max_encoded;
    hr_frame_max_encoded = 1000;
    msgpack_sbuffer sb;
    pack(&sb, 3, "op", 's', "send", "user", 's', "u", "data", 's', data);
    expect_reject(&sb, "send: data too large once encoded as SSE");
    pack(&sb, 3, "op", 's', "send", "user", 's', "u", "data", 'b', data, (size_t)200);
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    msgpack_sbuffer_destroy(&sb);
    hr_frame_max_encoded = saved;
}

/* presence: one channel name and an ack (its answer carries the members). */
static void test_presence(void **state)
{
    msgpack_sbuffer sb;
    hr_frame_t f;
    char err[160];
    pack(&sb, 3, "op", 's', "presence", "ch", 's', "presence-room", "ack", 'u', (uint64_t)3);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.op, HR_OP_PRESENCE);
    assert_int_equal(f.nchannels, 1);
    assert_memory_equal(f.channels[0].p, "presence-room", 13);
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 3);
    msgpack_sbuffer_destroy(&sb);

    pack(&sb, 2, "op", 's', "presence", "ch", 's', "presence-room");
    expect_reject(&sb, "presence: ack is required");
    pack(&sb, 2, "op", 's', "presence", "ack", 'u', (uint64_t)1);
    expect_reject(&sb, "presence: ch must be one channel name");
    pack(&sb, 3, "op", 's', "presence", "ch", 'a', 1, "a", "ack", 'u', (uint64_t)1);
    expect_reject(&sb, "presence: ch must be one channel name");
    pack(&sb, 3, "op", 's', "presence", "ch", 's', "#u.x", "ack", 'u', (uint64_t)1);
    expect_reject(&sb, "presence: invalid channel name");
}

static void test_nack_keeps_ack_id(void **state)
{
    msgpack_sbuffer sb;
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "no spaces", "data", 's', "x", "ack",
         'u', (uint64_t)99);
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 99);
    msgpack_sbuffer_destroy(&sb);
}

/* A whole-number float is an ack id (encoders that write numbers as
 * floats); a fraction, a negative number or a string is refused. */
static void test_ack_as_float(void **state)
{
    msgpack_sbuffer sb;
    hr_frame_t f;
    char err[160];
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "c", "data", 's', "x", "ack", 'f',
         42.0);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_true(f.has_ack);
    assert_int_equal(f.ack, 42);
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "c", "data", 's', "x", "ack", 'f',
         1.5);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    assert_false(f.has_ack);
    assert_string_equal(err, "ack must be an unsigned integer");
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "c", "data", 's', "x", "ack", 'i',
         (int64_t)-3);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    msgpack_sbuffer_destroy(&sb);
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "c", "data", 's', "x", "ack", 's',
         "7");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    msgpack_sbuffer_destroy(&sb);
}

/* Three frames back to back through the streaming unpacker, fed whole, by
 * every prefix, and one byte at a time: the same three frames come out. */
static size_t feed_and_count(msgpack_unpacker *up, const char *buf, size_t len, uint64_t first)
{
    size_t frames = 0;
    msgpack_unpacker_reserve_buffer(up, len);
    memcpy(msgpack_unpacker_buffer(up), buf, len);
    msgpack_unpacker_buffer_consumed(up, len);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    msgpack_unpack_return r;
    while ((r = msgpack_unpacker_next(up, &u)) == MSGPACK_UNPACK_SUCCESS) {
        hr_frame_t f;
        char err[160];
        assert_int_equal(hr_frame_parse(&u.data, &f, err, sizeof err), 0);
        assert_int_equal(f.ack, first + frames); /* in order */
        frames++;
    }
    assert_int_equal(r, MSGPACK_UNPACK_CONTINUE);
    msgpack_unpacked_destroy(&u);
    return frames;
}

static void test_stream_whole_prefix_bytewise(void **state)
{
    char stream[4096];
    size_t len = 0, ends[3];
    for (int i = 0; i < 3; i++) {
        msgpack_sbuffer sb;
        pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 'a', 2, "x", "y", "data", 's',
             "multi\r\nline", "ack", 'u', (uint64_t)(100 + i));
        memcpy(stream + len, sb.data, sb.size);
        len += sb.size;
        ends[i] = len;
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_unpacker up;
    /* Whole. */
    msgpack_unpacker_init(&up, 64);
    assert_int_equal(feed_and_count(&up, stream, len, 100), 3);
    msgpack_unpacker_destroy(&up);
    /* Every prefix yields exactly the frames it completes. */
    for (size_t n = 0; n <= len; n++) {
        msgpack_unpacker_init(&up, 64);
        size_t want = (n >= ends[0]) + (n >= ends[1]) + (n >= ends[2]);
        assert_int_equal(feed_and_count(&up, stream, n, 100), want);
        msgpack_unpacker_destroy(&up);
    }
    /* One byte at a time. */
    msgpack_unpacker_init(&up, 64);
    size_t total = 0;
    for (size_t i = 0; i < len; i++) {
        size_t got = feed_and_count(&up, stream + i, 1, 100 + total);
        if (got)
            assert_int_equal(i + 1, ends[total]); /* out exactly when complete */
        total += got;
    }
    assert_int_equal(total, 3);
    msgpack_unpacker_destroy(&up);
}

static void test_not_msgpack_is_a_parse_error(void **state)
{
    msgpack_unpacker up;
    msgpack_unpacker_init(&up, 64);
    const char bad[] = "\xc1garbage"; /* 0xc1 is never used in msgpack */
    msgpack_unpacker_reserve_buffer(&up, sizeof bad);
    memcpy(msgpack_unpacker_buffer(&up), bad, sizeof bad - 1);
    msgpack_unpacker_buffer_consumed(&up, sizeof bad - 1);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpacker_next(&up, &u), MSGPACK_UNPACK_PARSE_ERROR);
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&up);
}

/* A "mercure" map into m: id (NULL: absent), private (-1: absent, 2: the
 * string "yes"), n topics. */
static void mercure_map(msgpack_sbuffer *m, const char *id, int priv, int n, const char **topics)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(m);
    msgpack_packer_init(&pk, m, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (size_t)((id != NULL) + (priv >= 0) + 2));
    if (id) {
        msgpack_pack_str_with_body(&pk, "id", 2);
        msgpack_pack_str_with_body(&pk, id, strlen(id));
    }
    msgpack_pack_str_with_body(&pk, "topics", 6);
    msgpack_pack_array(&pk, (size_t)n);
    for (int i = 0; i < n; i++)
        msgpack_pack_str_with_body(&pk, topics[i], strlen(topics[i]));
    if (priv == 2) {
        msgpack_pack_str_with_body(&pk, "private", 7);
        msgpack_pack_str_with_body(&pk, "yes", 3);
    } else if (priv >= 0) {
        msgpack_pack_str_with_body(&pk, "private", 7);
        if (priv)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
    /* A key the relay does not know: ignored. */
    msgpack_pack_str_with_body(&pk, "future", 6);
    msgpack_pack_uint8(&pk, 1);
}

/* The "mercure" key: a Mercure update, its target from "private", no ch. */
static void test_pub_mercure(void **state)
{
    const char *topics[] = {"https://example.com/books/1", "https://example.com/{x}"};
    msgpack_sbuffer m, sb;
    hr_frame_t f;
    char err[160];
    mercure_map(&m, "urn:uuid:1", -1, 2, topics);
    pack(&sb, 6, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "{\"a\":1}", "json",
         't', 1, "event", 's', "book.updated", "retry", 'u', (uint64_t)3000);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.op, HR_OP_PUB);
    assert_true(f.has_mercure);
    assert_int_equal(f.target, HR_TARGET_ALL | HR_TARGET_MERCURE);
    assert_int_equal(f.nchannels, 0);
    assert_true(hr_slice_eq(f.mercure.id, (hr_slice_t){"urn:uuid:1", 10}));
    assert_false(f.mercure.priv);
    assert_int_equal(f.mercure.ntopics, 2);
    assert_true(hr_slice_eq(f.mercure.topics[1], (hr_slice_t){topics[1], strlen(topics[1])}));
    assert_true(f.json);
    assert_int_equal(f.retry, 3000);
    assert_true(hr_slice_eq(f.event, (hr_slice_t){"book.updated", 12}));
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&m);

    /* Private: only the Mercure bit. "t" is ignored; an "ack" is kept. */
    mercure_map(&m, "id-2", 1, 1, topics);
    pack(&sb, 5, "op", 's', "pub", "t", 's', "ws", "mercure", 'r', m.data, m.size, "data", 's', "",
         "ack", 'u', (uint64_t)9);
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.target, HR_TARGET_MERCURE);
    assert_true(f.mercure.priv);
    assert_true(f.has_ack);
    assert_false(f.binary);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&m);

    /* private false, ch nil: a public update. */
    mercure_map(&m, "id-3", 0, 1, topics);
    pack(&sb, 4, "op", 's', "pub", "ch", 'n', "mercure", 'r', m.data, m.size, "data", 's', "x");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.target, HR_TARGET_ALL | HR_TARGET_MERCURE);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&m);

    /* mercure nil: an ordinary pub (which needs t and ch). */
    pack(&sb, 5, "op", 's', "pub", "t", 's', "sse", "ch", 's', "a", "mercure", 'n', "data", 's',
         "x");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_false(f.has_mercure);
    assert_int_equal(f.target, HR_TARGET_SSE);
    msgpack_sbuffer_destroy(&sb);
}

static void reject_mercure(msgpack_sbuffer *m, const char *needle)
{
    msgpack_sbuffer sb;
    pack(&sb, 4, "op", 's', "pub", "mercure", 'r', m->data, m->size, "data", 's', "x", "ack", 'u',
         (uint64_t)5);
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, needle);
    assert_true(f.has_ack);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(m);
}

static void test_pub_mercure_rejections(void **state)
{
    const char *one[] = {"https://a/1"};
    msgpack_sbuffer m, sb;
    /* With ch. */
    mercure_map(&m, "i", -1, 1, one);
    pack(&sb, 4, "op", 's', "pub", "ch", 's', "a", "mercure", 'r', m.data, m.size, "data", 's',
         "x");
    expect_reject(&sb, "ch must be absent with mercure");
    msgpack_sbuffer_destroy(&m);
    /* Not a map. */
    msgpack_sbuffer_init(&m);
    msgpack_sbuffer_write(&m, "\xa1x", 2); /* the string "x" */
    reject_mercure(&m, "mercure must be a map");
    /* id: missing, empty, '#', "earliest", a control character, too long. */
    mercure_map(&m, NULL, -1, 1, one);
    reject_mercure(&m, "mercure.id must be");
    mercure_map(&m, "", -1, 1, one);
    reject_mercure(&m, "mercure.id must be");
    mercure_map(&m, "#x", -1, 1, one);
    reject_mercure(&m, "mercure.id must be");
    mercure_map(&m, "earliest", -1, 1, one);
    reject_mercure(&m, "mercure.id must be");
    mercure_map(&m, "a\x01", -1, 1, one);
    reject_mercure(&m, "mercure.id must be");
    char big[HR_MERCURE_TOPIC_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[HR_MERCURE_ID_MAX + 1] = '\0';
    mercure_map(&m, big, -1, 1, one);
    reject_mercure(&m, "mercure.id must be");
    /* topics: none, too many, bad ones. */
    mercure_map(&m, "i", -1, 0, one);
    reject_mercure(&m, "pub: mercure.topics must be 1 to 32 topics of 1 to 2048 bytes");
    const char *many[HR_MERCURE_TOPICS_MAX + 1];
    for (int i = 0; i <= HR_MERCURE_TOPICS_MAX; i++)
        many[i] = "t";
    mercure_map(&m, "i", -1, HR_MERCURE_TOPICS_MAX + 1, many);
    reject_mercure(&m, "mercure.topics must be");
    mercure_map(&m, "i", -1, HR_MERCURE_TOPICS_MAX, many);
    pack(&sb, 3, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "x");
    hr_frame_t f;
    char err[160];
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    assert_int_equal(f.mercure.ntopics, HR_MERCURE_TOPICS_MAX);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&m);
    const char *bad[] = {"*", "", "a\nb", "\xc2\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *two[] = {"ok", bad[i]};
        mercure_map(&m, "i", -1, 2, two);
        reject_mercure(&m, "mercure.topics[1] is not a topic");
    }
    memset(big, 't', sizeof big - 1);
    big[HR_MERCURE_TOPIC_MAX + 1] = '\0';
    const char *longt[] = {big};
    mercure_map(&m, "i", -1, 1, longt);
    reject_mercure(&m, "mercure.topics[0] is not a topic");
    big[HR_MERCURE_TOPIC_MAX] = '\0';
    mercure_map(&m, "i", -1, 1, longt);
    pack(&sb, 3, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "x");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&m);
    /* private: not a boolean. */
    mercure_map(&m, "i", 2, 1, one);
    reject_mercure(&m, "mercure.private must be a boolean");
    /* type "mercure", data not text, data not UTF-8 (even if private). */
    mercure_map(&m, "i", 1, 1, one);
    pack(&sb, 4, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "x", "event", 's',
         "mercure");
    expect_reject(&sb, "invalid Mercure type");
    pack(&sb, 3, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 'b', "\xff", (size_t)1);
    expect_reject(&sb, "UTF-8");
    pack(&sb, 3, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 'u', (uint64_t)1);
    expect_reject(&sb, "data must be");
    pack(&sb, 4, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "{", "json", 't',
         1);
    expect_reject(&sb, "not valid JSON");
    pack(&sb, 2, "op", 's', "pub", "mercure", 'r', m.data, m.size);
    expect_reject(&sb, "missing data");
    msgpack_sbuffer_destroy(&m);
}

/* The SSE size check counts the Mercure id (up to 256 bytes), not a Herald one. */
static void test_pub_mercure_sse_size(void **state)
{
    const char *one[] = {"https://a/1"};
    char id[HR_MERCURE_ID_MAX + 1];
    memset(id, 'i', HR_MERCURE_ID_MAX);
    id[HR_MERCURE_ID_MAX] = '\0';
    msgpack_sbuffer m, sb;
    mercure_map(&m, id, 1, 1, one);
    size_t saved = hr_frame_max_encoded;
    hr_frame_t f;
    char err[160];
    /* "id: " + 256 + "\n" + "data: x\n" + "\n" = 270 bytes. */
    hr_frame_max_encoded = 270;
    pack(&sb, 3, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "x");
    assert_int_equal(parse_bytes(sb.data, sb.size, &f, err), 0);
    msgpack_sbuffer_destroy(&sb);
    hr_frame_max_encoded = 269;
    pack(&sb, 3, "op", 's', "pub", "mercure", 'r', m.data, m.size, "data", 's', "x");
    expect_reject(&sb, "too large once encoded");
    hr_frame_max_encoded = saved;
    msgpack_sbuffer_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pub_sse_full),
        cmocka_unit_test(test_pub_ws_binary_and_channel_array),
        cmocka_unit_test(test_hello_and_unknown_keys),
        cmocka_unit_test(test_hello_ring_and_wake),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_sse_encoding_must_fit_a_buffer),
        cmocka_unit_test(test_pub_all),
        cmocka_unit_test(test_pub_json),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_rejections),
        cmocka_unit_test(test_send_sse_size),
        cmocka_unit_test(test_presence),
        cmocka_unit_test(test_nack_keeps_ack_id),
        cmocka_unit_test(test_ack_as_float),
        cmocka_unit_test(test_stream_whole_prefix_bytewise),
        cmocka_unit_test(test_not_msgpack_is_a_parse_error),
        cmocka_unit_test(test_pub_mercure),
        cmocka_unit_test(test_pub_mercure_rejections),
        cmocka_unit_test(test_pub_mercure_sse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
