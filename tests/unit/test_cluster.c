/* SPDX-License-Identifier: MIT
 * test_cluster.c: the pure half of cluster mode: --redis URLs, key names,
 * the body and pub/sub payload codecs, Stream ids and the gap rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"
#include "cluster/redis_fmt.h"
#include "codec/mercure.h"
#include "codec/frame.h"

static void test_url(void **state)
{
    hr_cl_url_t u;
    char err[256];
    assert_int_equal(hr_cl_parse_url("redis://127.0.0.1:6380", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.path, "");
    assert_int_equal(hr_cl_parse_url("redis://10.0.0.2/", &u, err, sizeof err), 0);
    assert_int_equal(u.port, 6379);
    assert_int_equal(hr_cl_parse_url("unix:///run/redis.sock", &u, err, sizeof err), 0);
    assert_string_equal(u.path, "/run/redis.sock");
    assert_string_equal(u.host, "");
    const char *bad[] = {"http://x",          "redis://",        "redis://h:0",
                         "redis://h:99999",   "redis://h:1x",    "redis://h/3",
                         "redis://user:pw@h", "unix://relative", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(hr_cl_parse_url(bad[i], &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "redis"));
}

static void test_key(void **state)
{
    char k[256];
    assert_int_equal(hr_cl_key(k, HR_CL_PFX_STREAM, "chat.42xyz", 7), 16);
    assert_string_equal(k, "herald:h:chat.42");
}

static void test_body_roundtrip(void **state)
{
    hr_cl_body_t b = {.target = HR_TARGET_WS,
                      .binary = 1,
                      .retry = 0,
                      .event = {"", 0},
                      .data = {"\0\xff\x01", 3},
                      .nchannels = 2};
    b.channels[0] = (hr_slice_t){"A", 1};
    b.channels[1] = (hr_slice_t){"room/7", 6};
    size_t len;
    char *enc = hr_cl_body_encode(&b, &len);
    hr_cl_body_t d;
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_int_equal(d.target, HR_TARGET_WS);
    assert_int_equal(d.binary, 1);
    assert_int_equal(d.data.len, 3);
    assert_memory_equal(d.data.p, "\0\xff\x01", 3);
    assert_int_equal(d.nchannels, 2);
    assert_memory_equal(d.channels[1].p, "room/7", 6);
    /* Truncated or trailing bytes are refused. */
    assert_int_equal(hr_cl_body_decode(enc, len - 1, &d), -1);
    char *more = malloc(len + 1);
    memcpy(more, enc, len);
    more[len] = 0;
    assert_int_equal(hr_cl_body_decode(more, len + 1, &d), -1);
    free(more);
    free(enc);

    hr_cl_body_t s = {.target = HR_TARGET_SSE,
                      .retry = 1500,
                      .event = {"upd", 3},
                      .data = {"x\ny", 3},
                      .nchannels = 1};
    s.channels[0] = (hr_slice_t){"B", 1};
    enc = hr_cl_body_encode(&s, &len);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_int_equal(d.target, HR_TARGET_SSE);
    assert_int_equal(d.retry, 1500);
    assert_memory_equal(d.event.p, "upd", 3);
    assert_int_equal(d.json, 0);
    /* Without json the body is the six elements older relays read. */
    assert_int_equal((uint8_t)enc[0], 0x96);
    assert_int_equal(d.except.len, 0);
    free(enc);

    /* except: an eighth element, after json written false. */
    s.except = (hr_slice_t){"1234.56", 7};
    enc = hr_cl_body_encode(&s, &len);
    assert_int_equal((uint8_t)enc[0], 0x98);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_int_equal(d.json, 0);
    assert_int_equal(d.except.len, 7);
    assert_memory_equal(d.except.p, "1234.56", 7);
    assert_int_equal(d.user.len, 0);
    free(enc);

    /* The sender's user: a ninth element, after except. */
    s.user = (hr_slice_t){"ana", 3};
    enc = hr_cl_body_encode(&s, &len);
    assert_int_equal((uint8_t)enc[0], 0x99);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_memory_equal(d.except.p, "1234.56", 7);
    assert_int_equal(d.user.len, 3);
    assert_memory_equal(d.user.p, "ana", 3);
    free(enc);
    assert_int_equal(hr_cl_body_decode("\x93\x01\x02\x03", 4, &d), -1);
}

/* herald_publish's messages: target all, and a json flag as a seventh
 * element, checked again when read back (anyone who can write to Redis
 * reaches the decoder). */
static void test_body_all_and_json(void **state)
{
    hr_cl_body_t b = {.target = HR_TARGET_ALL,
                      .json = 1,
                      .event = {"", 0},
                      .data = {"{\"a\":[1,2]}", 11},
                      .nchannels = 1};
    b.channels[0] = (hr_slice_t){"orders", 6};
    size_t len;
    char *enc = hr_cl_body_encode(&b, &len);
    assert_int_equal((uint8_t)enc[0], 0x97);
    hr_cl_body_t d;
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_int_equal(d.target, HR_TARGET_ALL);
    assert_int_equal(d.json, 1);
    assert_int_equal(d.data.len, 11);
    free(enc);
    /* Data marked JSON that is not, or bytes marked JSON, are refused. */
    b.data = (hr_slice_t){"{\"a\":", 5};
    enc = hr_cl_body_encode(&b, &len);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), -1);
    free(enc);
    b.data = (hr_slice_t){"\"\xff\"", 3};
    enc = hr_cl_body_encode(&b, &len);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), -1);
    free(enc);
    b.data = (hr_slice_t){"1", 1};
    b.binary = 1;
    enc = hr_cl_body_encode(&b, &len);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), -1);
    free(enc);
    /* A seventh element that is not a boolean. */
    static const char seventh[] = "\x97\x02\x00\x00\xa0\xc4\x01\x31\x91\xa1\x61\x01";
    assert_int_equal(hr_cl_body_decode(seventh, sizeof seventh - 1, &d), -1);
    static const char seventh_false[] = "\x97\x02\x00\x00\xa0\xc4\x01\x31\x91\xa1\x61\xc2";
    assert_int_equal(hr_cl_body_decode(seventh_false, sizeof seventh_false - 1, &d), 0);
    assert_int_equal(d.json, 0);
}

/* A Mercure update: its metadata a tenth element (bin), which also sets
 * the target on the way back (a private update reaches Mercure subscribers
 * only, whatever the first element says); bad metadata is refused. */
static void test_body_mercure(void **state)
{
    hr_mercure_meta_t m = {.id = {"urn:x:1", 7}, .priv = 1, .ntopics = 1};
    m.topics[0] = (hr_slice_t){"https://x/1", 11};
    uint8_t blob[64];
    size_t bl = hr_mercure_meta_len(&m);
    hr_mercure_meta_encode(blob, &m);
    hr_cl_body_t b = {.target = HR_TARGET_MERCURE,
                      .event = {"", 0},
                      .data = {"s", 1},
                      .mercure = {(const char *)blob, bl},
                      .nchannels = 2};
    b.channels[0] = (hr_slice_t){"https://x/1", 11};
    b.channels[1] = (hr_slice_t){HR_MERCURE_FIREHOSE, 8};
    size_t len;
    char *enc = hr_cl_body_encode(&b, &len);
    assert_int_equal((uint8_t)enc[0], 0x9a);
    hr_cl_body_t d;
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_int_equal(d.target, HR_TARGET_MERCURE);
    assert_int_equal(d.mercure.len, bl);
    assert_memory_equal(d.mercure.p, blob, bl);
    assert_int_equal(d.user.len, 0);
    free(enc);
    /* Public: every transport's subscribers too. */
    m.priv = 0;
    hr_mercure_meta_encode(blob, &m);
    enc = hr_cl_body_encode(&b, &len);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), 0);
    assert_int_equal(d.target, HR_TARGET_ALL | HR_TARGET_MERCURE);
    free(enc);
    /* Metadata that does not parse (a topic's length past the blob). */
    blob[bl - 12] = 0x7f;
    enc = hr_cl_body_encode(&b, &len);
    assert_int_equal(hr_cl_body_decode(enc, len, &d), -1);
    free(enc);
}

/* Bytes from Redis are not trusted: a header claiming 2^32 elements (found
 * by fuzz_redis_fmt) made msgpack-c ask for 256 GiB before it saw the
 * elements were missing. Refused without allocating; so are trailing bytes,
 * a second value and nesting past the scanner's depth. */
static void test_body_hostile(void **state)
{
    hr_cl_body_t d;
    static const char huge_array[] = "\xdd\xff\xff\xff\xff";
    static const char huge_inner[] = "\x96\x00\x00\x00\xa0\xc4\x00\xdc\xff\xff";
    static const char two[] = "\x90\x90";
    assert_int_equal(hr_cl_body_decode(huge_array, sizeof huge_array - 1, &d), -1);
    assert_int_equal(hr_cl_body_decode(huge_inner, sizeof huge_inner - 1, &d), -1);
    assert_int_equal(hr_cl_body_decode(two, sizeof two - 1, &d), -1);
    char deep[64];
    memset(deep, 0x91, sizeof deep);
    assert_int_equal(hr_cl_body_decode(deep, sizeof deep, &d), -1);
    /* A retry past what a frame may carry (here 2^63 + 1, which was read
     * as a negative retry) is refused too; a day is the most. */
    static const char big_retry[] = "\x96\x00\x00\xcf\x80\x00\x00\x00\x00\x00\x00\x01"
                                    "\xa0\xc4\x00\x91\xa1\x41";
    assert_int_equal(hr_cl_body_decode(big_retry, sizeof big_retry - 1, &d), -1);
    static const char day[] = "\x96\x00\x00\xce\x05\x26\x5c\x00\xa0\xc4\x00\x91\xa1\x41";
    assert_int_equal(hr_cl_body_decode(day, sizeof day - 1, &d), 0);
    assert_int_equal(d.retry, 86400000);
}

static void test_payload(void **state)
{
    hr_slice_t e, body;
    uint64_t seq;
    const char p[] = "19ab3c4d5e6:42:\x96xyz";
    assert_int_equal(hr_cl_payload_parse(p, sizeof p - 1, &e, &seq, &body), 0);
    assert_int_equal(e.len, 11);
    assert_int_equal(seq, 42);
    assert_int_equal(body.len, 4);
    assert_int_equal(hr_cl_payload_parse("abc:0:x", 7, &e, &seq, &body), -1);
    assert_int_equal(hr_cl_payload_parse("abc:1x:x", 8, &e, &seq, &body), -1);
    assert_int_equal(hr_cl_payload_parse(":1:x", 4, &e, &seq, &body), -1);
    assert_int_equal(hr_cl_payload_parse("abc:12", 6, &e, &seq, &body), -1);
    assert_int_equal(hr_cl_parse_stream_id("123-0", 5, &seq), 0);
    assert_int_equal(seq, 123);
    assert_int_equal(hr_cl_parse_stream_id("123-1", 5, &seq), -1);
    assert_int_equal(hr_cl_parse_stream_id("-0", 2, &seq), -1);
    assert_int_equal(hr_parse_u64("18446744073709551615", 20, &seq), 0);
    assert_int_equal(hr_parse_u64("18446744073709551616", 20, &seq), -1);
}

static void test_gap(void **state)
{
    /* Channel messages 3, 7, 9 (prev 0, 3, 7), all fresh at t=1000. */
    uint64_t s[] = {3, 7, 9}, p[] = {0, 3, 7}, t[] = {1000, 1000, 1000};
    size_t skip;
    /* After 3: the Stream holds 7 and 9, 7's predecessor is 3: exact. */
    assert_int_equal(hr_cl_gap(3, 9, s + 1, p + 1, t + 1, 2, 1500, 300000, &skip), 0);
    assert_int_equal(skip, 0);
    /* After 5 (another channel's id): 7's predecessor 3 <= 5: exact. */
    assert_int_equal(hr_cl_gap(5, 9, s + 1, p + 1, t + 1, 2, 1500, 300000, &skip), 0);
    /* After 2, but 3 was trimmed (Stream starts at 7, whose prev is 3): gap. */
    assert_int_equal(hr_cl_gap(2, 9, s + 1, p + 1, t + 1, 2, 1500, 300000, &skip), 1);
    /* Nothing after the id and nothing published after it: exact. */
    assert_int_equal(hr_cl_gap(9, 9, NULL, NULL, NULL, 0, 1500, 300000, &skip), 0);
    assert_int_equal(hr_cl_gap(12, 0, NULL, NULL, NULL, 0, 1500, 300000, &skip), 0);
    /* Published after it (last = 9) but the Stream is gone: gap. */
    assert_int_equal(hr_cl_gap(5, 9, NULL, NULL, NULL, 0, 1500, 300000, &skip), 1);
    /* Entries past the TTL count as gone. */
    uint64_t old[] = {100, 1000, 1000};
    assert_int_equal(hr_cl_gap(0, 9, s, p, old, 3, 400, 300, &skip), 1);
    assert_int_equal(skip, 1);
    assert_int_equal(hr_cl_gap(0, 9, s, p, t, 3, 1500, 300000, &skip), 0);
    /* The last-seq marker expired but the Stream still holds newer: trust it. */
    assert_int_equal(hr_cl_gap(2, 0, s + 1, p + 1, t + 1, 2, 1500, 300000, &skip), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_body_roundtrip),
        cmocka_unit_test(test_body_all_and_json),
        cmocka_unit_test(test_body_mercure),
        cmocka_unit_test(test_body_hostile),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
