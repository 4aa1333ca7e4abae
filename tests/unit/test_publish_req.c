/* SPDX-License-Identifier: MIT
 * test_publish_req.c: unit tests of relay/src/codec/publish_req.c, the body
 * of POST /publish: single messages and batches, every field and its
 * defaults, each refusal with its text, the compact dump of JSON data
 * (order, escapes, shortest reals that read back exactly), and that an
 * accepted body owns its strings after the document is gone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/frame.h"
#include "codec/publish_req.h"

static char err[256];

static int parse(const char *body, size_t max, hr_publish_req_t *req)
{
    err[0] = '\0';
    return hr_publish_req_parse(body, strlen(body), max, req, err, sizeof err);
}

#define assert_slice(s, lit)                                                                       \
    do {                                                                                           \
        hr_slice_t s_ = (s);                                                                       \
        if (s_.len != strlen(lit) || memcmp(s_.p, lit, s_.len) != 0)                               \
            fail_msg("%s is \"%.*s\", want \"%s\"", #s, (int)s_.len, s_.p, lit);                   \
    } while (0)

static void test_single(void **state)
{
    hr_publish_req_t r;
    (void)state;
    assert_int_equal(parse("{\"channel\":\"news\",\"data\":\"hello\"}", 10, &r), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.msgs[0].target, HR_TARGET_ALL);
    assert_int_equal(r.msgs[0].json, 0);
    assert_int_equal(r.msgs[0].retry, 0);
    assert_int_equal(r.msgs[0].event.len, 0);
    assert_int_equal(r.msgs[0].nchannels, 1);
    assert_slice(r.msgs[0].channels[0], "news");
    assert_slice(r.msgs[0].data, "hello");
    hr_publish_req_free(&r);
    assert_null(r.msgs);

    assert_int_equal(parse(" {\"data\":\"a\\nb\\u0000c\",\"channel\":[\"a\",\"b.c\",\"a\"],"
                           "\"event\":\"upd\",\"retry\":1500,\"transport\":\"sse\",\"x\":[1]}\n",
                           1, &r),
                     0);
    assert_int_equal(r.msgs[0].target, HR_TARGET_SSE);
    assert_int_equal(r.msgs[0].retry, 1500);
    assert_slice(r.msgs[0].event, "upd");
    assert_int_equal(r.msgs[0].nchannels, 3); /* the broker keeps a name once */
    assert_slice(r.msgs[0].channels[1], "b.c");
    assert_int_equal(r.msgs[0].data.len, 5);
    assert_memory_equal(r.msgs[0].data.p, "a\nb\0c", 5);
    hr_publish_req_free(&r);

    static const struct {
        const char *t;
        int target;
    } tr[] = {{"\"ws\"", HR_TARGET_WS}, {"\"all\"", HR_TARGET_ALL}, {"null", HR_TARGET_ALL}};
    for (size_t i = 0; i < 3; i++) {
        char b[128];
        snprintf(b, sizeof b,
                 "{\"channel\":\"c\",\"data\":\"\",\"transport\":%s,\"event\":null,"
                 "\"retry\":null}",
                 tr[i].t);
        assert_int_equal(parse(b, 1, &r), 0);
        assert_int_equal(r.msgs[0].target, tr[i].target);
        assert_int_equal(r.msgs[0].data.len, 0);
        assert_int_equal(r.msgs[0].event.len, 0);
        hr_publish_req_free(&r);
    }
    /* An empty event name is no event name, as in an ingest frame. */
    assert_int_equal(parse("{\"channel\":\"c\",\"data\":\"x\",\"event\":\"\"}", 1, &r), 0);
    assert_int_equal(r.msgs[0].event.len, 0);
    hr_publish_req_free(&r);
}

static void test_json_data(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{\"b\": 1, \"a\": [true, false, null], \"c\": {}}",
         "{\"b\":1,\"a\":[true,false,null],\"c\":{}}"},
        {"[ ]", "[]"},
        {"null", "null"},
        {"-42", "-42"},
        {"9223372036854775807", "9223372036854775807"},
        {"0.1", "0.1"},
        {"100.0", "100.0"},
        {"1e2", "100.0"},
        {"123.456", "123.456"},
        {"-0.0", "-0.0"},
        {"1e-5", "1e-05"},
        {"0.0001", "0.0001"},
        {"1e15", "1000000000000000.0"},
        {"1e16", "1e+16"},
        {"1.5e300", "1.5e+300"},
        {"5e-324", "5e-324"},
        {"1.7976931348623157e308", "1.7976931348623157e+308"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"{\"s\": \"\\u00e9\\/\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\\ud83d\\ude00\"}",
         "{\"s\":\"\xc3\xa9/\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xf0\x9f\x98\x80\"}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char b[512];
        hr_publish_req_t r;
        snprintf(b, sizeof b, "{\"channel\":\"c\",\"data\":%s}", cases[i].in);
        if (parse(b, 1, &r) != 0)
            fail_msg("%s: %s", cases[i].in, err);
        assert_int_equal(r.msgs[0].json, 1);
        if (r.msgs[0].data.len != strlen(cases[i].out) ||
            memcmp(r.msgs[0].data.p, cases[i].out, r.msgs[0].data.len) != 0)
            fail_msg("%s dumped as %.*s, want %s", cases[i].in, (int)r.msgs[0].data.len,
                     r.msgs[0].data.p, cases[i].out);
        /* And it reads back as the same value. */
        json_t *a = json_loads(cases[i].in, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        json_t *d = json_loadb(r.msgs[0].data.p, r.msgs[0].data.len,
                               JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(a);
        assert_non_null(d);
        assert_true(json_equal(a, d));
        json_decref(a);
        json_decref(d);
        hr_publish_req_free(&r);
    }
}

static void test_batch(void **state)
{
    hr_publish_req_t r;
    (void)state;
    const char *b = "{\"messages\":[{\"channel\":\"a\",\"data\":\"1\"},"
                    "{\"channel\":[\"b\",\"c\"],\"data\":{\"n\":2},\"transport\":\"ws\"},"
                    "{\"channel\":\"d\",\"data\":\"3\",\"event\":\"e\",\"retry\":9}]}";
    assert_int_equal(parse(b, 3, &r), 0);
    assert_int_equal(r.n, 3);
    assert_slice(r.msgs[0].channels[0], "a");
    assert_slice(r.msgs[0].data, "1");
    assert_int_equal(r.msgs[1].nchannels, 2);
    assert_slice(r.msgs[1].channels[1], "c");
    assert_slice(r.msgs[1].data, "{\"n\":2}");
    assert_int_equal(r.msgs[1].json, 1);
    assert_int_equal(r.msgs[1].target, HR_TARGET_WS);
    assert_slice(r.msgs[2].event, "e");
    assert_int_equal(r.msgs[2].retry, 9);
    hr_publish_req_free(&r);
    assert_int_equal(parse(b, 2, &r), HR_PUBLISH_REQ_TOO_MANY);
    assert_string_equal(err, "more than 2 messages in one request");
    assert_int_equal(r.n, 0);
    assert_null(r.msgs);
}

static void test_refused(void **state)
{
    static const struct {
        const char *body, *why;
    } cases[] = {
        {"", "malformed JSON at byte 0: '[' or '{' expected near end of file"},
        {"{\"channel\":\"a\",\"data\":\"x\"} x",
         "malformed JSON at byte 28: end of file expected near 'x'"},
        {"{\"channel\":\"a\",\"channel\":\"b\",\"data\":\"x\"}", NULL},
        {"{\"channel\":\"a\",\"data\":\"\xff\"}", NULL},
        {"{\"channel\":\"a\",\"data\":\"\\ud800\"}", NULL},
        {"{\"channel\":\"a\",\"data\":123456789012345678901}", NULL},
        {"{\"channel\":\"a\",\"data\":{\"k\\u0000\":1}}", NULL}, /* jansson: no NUL in keys */
        {"[]", "the body must be a JSON object"},
        {"{\"data\":\"x\"}", "\"channel\" is required"},
        {"{\"channel\":\"a\"}", "\"data\" is required"},
        {"{\"channel\":[],\"data\":1}", "\"channel\" is an empty array"},
        {"{\"channel\":7,\"data\":1}", "\"channel\" must be a string or an array of strings"},
        {"{\"channel\":[\"a\",7],\"data\":1}", "\"channel\"[1] is not a string"},
        {"{\"channel\":\"a b\",\"data\":1}",
         "invalid channel name 'a b' (1-200 bytes of A-Z a-z 0-9 _ . : @ = / -)"},
        {"{\"channel\":\"a\\nb\",\"data\":1}",
         "invalid channel name 'a?b' (1-200 bytes of A-Z a-z 0-9 _ . : @ = / -)"},
        {"{\"channel\":\"\",\"data\":1}",
         "invalid channel name '' (1-200 bytes of A-Z a-z 0-9 _ . : @ = / -)"},
        {"{\"channel\":\"a\",\"data\":1,\"transport\":\"SSE\"}",
         "\"transport\" must be \"sse\", \"ws\" or \"all\""},
        {"{\"channel\":\"a\",\"data\":1,\"transport\":1}",
         "\"transport\" must be \"sse\", \"ws\" or \"all\""},
        {"{\"channel\":\"a\",\"data\":1,\"event\":2}", "\"event\" must be a string"},
        {"{\"channel\":\"a\",\"data\":1,\"event\":\"a\\nb\"}",
         "invalid \"event\": at most 200 bytes, no CR, LF or NUL"},
        {"{\"channel\":\"a\",\"data\":1,\"event\":\"a\\u0000\"}",
         "invalid \"event\": at most 200 bytes, no CR, LF or NUL"},
        {"{\"channel\":\"a\",\"data\":1,\"retry\":0}",
         "\"retry\" must be an integer of ms, 1 to 86400000"},
        {"{\"channel\":\"a\",\"data\":1,\"retry\":86400001}",
         "\"retry\" must be an integer of ms, 1 to 86400000"},
        {"{\"channel\":\"a\",\"data\":1,\"retry\":1.0}",
         "\"retry\" must be an integer of ms, 1 to 86400000"},
        {"{\"channel\":\"a\",\"data\":1,\"retry\":\"5\"}",
         "\"retry\" must be an integer of ms, 1 to 86400000"},
        {"{\"messages\":[]}", "\"messages\" must be a non-empty array"},
        {"{\"messages\":{}}", "\"messages\" must be a non-empty array"},
        {"{\"messages\":[{\"channel\":\"a\",\"data\":1}],\"data\":1}",
         "\"messages\" and \"data\" in one body: send one or the other"},
        {"{\"messages\":[{\"channel\":\"a\",\"data\":1},7]}",
         "messages[1]: a message must be a JSON object"},
        {"{\"messages\":[{\"channel\":\"a\",\"data\":1},{\"channel\":\"a\",\"data\":1,\"retry\":-1}"
         "]}",
         "messages[1]: \"retry\" must be an integer of ms, 1 to 86400000"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hr_publish_req_t r = {7, (hr_publish_msg_t *)&r};
        if (parse(cases[i].body, 10, &r) != -1)
            fail_msg("accepted: %s", cases[i].body);
        assert_int_equal(r.n, 0);
        assert_null(r.msgs);
        if (cases[i].why && strcmp(err, cases[i].why) != 0)
            fail_msg("%s: said \"%s\", want \"%s\"", cases[i].body, err, cases[i].why);
        if (cases[i].why == NULL && strncmp(err, "malformed JSON at byte ", 23) != 0)
            fail_msg("%s: said \"%s\"", cases[i].body, err);
    }
    /* Limits: 100 channels and 200-byte names and events are fine, one more is not. */
    char *b = malloc(4096);
    size_t n = (size_t)snprintf(b, 4096, "{\"data\":1,\"channel\":[");
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(b + n, 4096 - n, "%s\"c%d\"", i ? "," : "", i);
    snprintf(b + n, 4096 - n, "]}");
    hr_publish_req_t r;
    assert_int_equal(parse(b, 1, &r), -1);
    assert_string_equal(err, "more than 100 channels");
    snprintf(b, 4096, "{\"data\":1,\"channel\":\"%0200d\",\"event\":\"%0200d\"}", 0, 0);
    assert_int_equal(parse(b, 1, &r), 0);
    assert_int_equal(r.msgs[0].channels[0].len, 200);
    assert_int_equal(r.msgs[0].event.len, 200);
    hr_publish_req_free(&r);
    snprintf(b, 4096, "{\"data\":1,\"channel\":\"%0201d\"}", 0);
    assert_int_equal(parse(b, 1, &r), -1);
    snprintf(b, 4096, "{\"data\":1,\"channel\":\"c\",\"event\":\"%0201d\"}", 0);
    assert_int_equal(parse(b, 1, &r), -1);
    /* A long channel name is shown cut, and as one line. */
    snprintf(b, 4096, "{\"data\":1,\"channel\":\"%0300d\"}", 0);
    assert_int_equal(parse(b, 1, &r), -1);
    assert_non_null(
        strstr(err, "'0000000000000000000000000000000000000000000000000000000000000000...'"));
    /* The SSE size check (the limit lowered as test_frame does). */
    size_t saved = hr_frame_max_encoded;
    hr_frame_max_encoded = 4096 + 8 * 10;
    assert_int_equal(
        parse("{\"channel\":\"c\",\"data\":\"0123456789\",\"transport\":\"sse\"}", 1, &r), 0);
    hr_publish_req_free(&r);
    assert_int_equal(parse("{\"channel\":\"c\",\"data\":\"0123456789x\"}", 1, &r), -1);
    assert_string_equal(err, "\"data\" too large once encoded as SSE");
    assert_int_equal(
        parse("{\"channel\":\"c\",\"data\":\"0123456789x\",\"transport\":\"ws\"}", 1, &r), 0);
    hr_publish_req_free(&r);
    hr_frame_max_encoded = saved;
    /* An error text never overruns a small buffer. */
    char small[8];
    assert_int_equal(hr_publish_req_parse("{}", 2, 1, &r, small, sizeof small), -1);
    free(b);
    assert_string_equal(small, "\"channe");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_json_data),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
