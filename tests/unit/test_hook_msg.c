/* SPDX-License-Identifier: MIT
 * test_hook_msg.c: unit tests of relay/src/codec/hook_msg.c: the hook
 * request body (each event type, compared with the expected JSON after
 * parsing both with jansson, and one byte-exact for the member order),
 * escaping and U+FFFD for bytes that are not UTF-8, base64 of binary data,
 * the answer's parse (good, garbage, missing and mistyped members, huge
 * ids), and the signature against RFC 4231's test case 2. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/hook_msg.h"

#define S(lit) ((hr_slice_t){lit, sizeof(lit) - 1})

static int slice_is(hr_slice_t s, const char *want)
{
    return s.p != NULL && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* The body of ev[0..n) must parse and equal want (JSON text). */
static void body_equals(const hr_hook_event_t *ev, size_t n, const char *want)
{
    hr_buf_t *b = hr_hook_body(ev, n);
    json_error_t err;
    json_t *got = json_loadb(b->data, b->len, JSON_REJECT_DUPLICATES, &err);
    if (got == NULL)
        fail_msg("body not JSON (%s): %.*s", err.text, (int)b->len, b->data);
    json_t *exp = json_loads(want, 0, &err);
    assert_non_null(exp);
    if (!json_equal(got, exp))
        fail_msg("got %.*s\nwant %s", (int)b->len, b->data, want);
    json_decref(got);
    json_decref(exp);
    hr_buf_unref(b);
}

static void test_body_events(void **state)
{
    hr_hook_header_t headers[] = {{S("cookie"), S("sid=1; x=\"2\"")},
                                  {S("authorization"), S("Bearer t")}};
    hr_hook_event_t ev[] = {
        {.id = 1,
         .type = HR_HOOK_CONNECT,
         .conn = S("0a1b2c3d.1"),
         .transport = S("herald.v1"),
         .ip = S("127.0.0.1"),
         .headers = headers,
         .nheaders = 2},
        {.id = 2,
         .type = HR_HOOK_SUBSCRIBE,
         .conn = S("0a1b2c3d.1"),
         .user = S("u1"),
         .channel = S("presence-room")},
        {.id = 3,
         .type = HR_HOOK_MESSAGE,
         .conn = S("0a1b2c3d.1"),
         .user = S("u1"),
         .channel = S("room"),
         .data = S("{\"text\":\"hi\",\"n\":[1,2.5,null]}"),
         .data_mode = HR_HOOK_DATA_JSON},
        {.id = 4,
         .type = HR_HOOK_MESSAGE,
         .conn = S("c"),
         .data = S("plain \"text\"\n"),
         .data_mode = HR_HOOK_DATA_STRING},
        {.id = 5,
         .type = HR_HOOK_MESSAGE,
         .conn = S("c"),
         .data = S("\x00\x01\xff"),
         .data_mode = HR_HOOK_DATA_BASE64},
        {.id = UINT64_MAX >> 1, .type = HR_HOOK_DISCONNECT, .conn = S("c"), .user = S("u1")},
    };
    body_equals(
        ev, 6,
        "{\"v\":1,\"events\":["
        "{\"id\":1,\"type\":\"connect\",\"conn\":\"0a1b2c3d.1\",\"user\":null,"
        "\"headers\":{\"cookie\":\"sid=1; x=\\\"2\\\"\",\"authorization\":\"Bearer t\"},"
        "\"transport\":\"herald.v1\",\"ip\":\"127.0.0.1\"},"
        "{\"id\":2,\"type\":\"subscribe\",\"conn\":\"0a1b2c3d.1\",\"user\":\"u1\","
        "\"channel\":\"presence-room\"},"
        "{\"id\":3,\"type\":\"message\",\"conn\":\"0a1b2c3d.1\",\"user\":\"u1\","
        "\"channel\":\"room\",\"data\":{\"text\":\"hi\",\"n\":[1,2.5,null]}},"
        "{\"id\":4,\"type\":\"message\",\"conn\":\"c\",\"user\":null,"
        "\"data\":\"plain \\\"text\\\"\\n\"},"
        "{\"id\":5,\"type\":\"message\",\"conn\":\"c\",\"user\":null,\"data\":\"AAH/\","
        "\"binary\":true},"
        "{\"id\":9223372036854775807,\"type\":\"disconnect\",\"conn\":\"c\",\"user\":\"u1\"}"
        "]}");
    body_equals(ev, 0, "{\"v\":1,\"events\":[]}");

    /* A connect without headers still has the object. */
    hr_hook_event_t c = {.id = 7, .type = HR_HOOK_CONNECT, .conn = S("c")};
    body_equals(&c, 1,
                "{\"v\":1,\"events\":[{\"id\":7,\"type\":\"connect\",\"conn\":\"c\",\"user\":null,"
                "\"headers\":{}}]}");
}

static void test_body_exact(void **state)
{
    /* Member order and compactness, byte for byte. */
    hr_hook_header_t h = {S("cookie"), S("a=b")};
    hr_hook_event_t ev = {.id = 42,
                          .type = HR_HOOK_CONNECT,
                          .conn = S("r.1"),
                          .user = S("u"),
                          .channel = S("ch"),
                          .data = S("[]"),
                          .data_mode = HR_HOOK_DATA_JSON,
                          .headers = &h,
                          .nheaders = 1,
                          .transport = S("ws"),
                          .ip = S("::1")};
    hr_buf_t *b = hr_hook_body(&ev, 1);
    static const char want[] =
        "{\"v\":1,\"events\":[{\"id\":42,\"type\":\"connect\",\"conn\":\"r.1\",\"user\":\"u\","
        "\"channel\":\"ch\",\"data\":[],\"headers\":{\"cookie\":\"a=b\"},\"transport\":\"ws\","
        "\"ip\":\"::1\"}]}";
    assert_int_equal(b->len, sizeof want - 1);
    assert_memory_equal(b->data, want, sizeof want - 1);
    hr_buf_unref(b);
}

static void test_body_utf8_and_escapes(void **state)
{
    /* Bytes that are not UTF-8 become U+FFFD; control characters are escaped;
     * valid multi-byte characters stay. */
    hr_hook_header_t h = {S("x-\xff"), S("\xc3\xa9t\xc3\xa9 \xe2\x82")};
    hr_hook_event_t ev = {.id = 1,
                          .type = HR_HOOK_CONNECT,
                          .conn = S("a\"b\\c\x01\x7f"),
                          .user = S("\xed\xa0\x80"), /* a surrogate: not UTF-8 */
                          .headers = &h,
                          .nheaders = 1,
                          .ip = S("\t\r")};
    body_equals(
        &ev, 1,
        "{\"v\":1,\"events\":[{\"id\":1,\"type\":\"connect\",\"conn\":\"a\\\"b\\\\c\\u0001\x7f\","
        "\"user\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\","
        "\"headers\":{\"x-\xef\xbf\xbd\":\"\xc3\xa9t\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\"},"
        "\"ip\":\"\\t\\r\"}]}");

    hr_hook_event_t m = {.id = 2,
                         .type = HR_HOOK_MESSAGE,
                         .conn = S("c"),
                         .data = S("\x80ok\xf0\x9f\x98\x80"),
                         .data_mode = HR_HOOK_DATA_STRING};
    body_equals(&m, 1,
                "{\"v\":1,\"events\":[{\"id\":2,\"type\":\"message\",\"conn\":\"c\",\"user\":null,"
                "\"data\":\"\xef\xbf\xbdok\xf0\x9f\x98\x80\"}]}");
}

static void test_body_base64(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"", 0, ""},
        {"\x01", 1, "AQ=="},
        {"\x01\x02", 2, "AQI="},
        {"\x01\x02\x03", 3, "AQID"},
        {"foobar", 6, "Zm9vYmFy"},
        {"\xfb\xff\xbf", 3, "+/+/"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hr_hook_event_t m = {.id = 1,
                             .type = HR_HOOK_MESSAGE,
                             .conn = S("c"),
                             .data = {cases[i].in, cases[i].len},
                             .data_mode = HR_HOOK_DATA_BASE64};
        char want[256];
        snprintf(want, sizeof want,
                 "{\"v\":1,\"events\":[{\"id\":1,\"type\":\"message\",\"conn\":\"c\",\"user\":null,"
                 "\"data\":\"%s\",\"binary\":true}]}",
                 cases[i].out);
        hr_buf_t *b = hr_hook_body(&m, 1);
        assert_int_equal(b->len, strlen(want));
        assert_memory_equal(b->data, want, b->len);
        hr_buf_unref(b);
    }
    /* JSON data of length 0 is null. */
    hr_hook_event_t m = {
        .id = 1, .type = HR_HOOK_MESSAGE, .conn = S("c"), .data_mode = HR_HOOK_DATA_JSON};
    body_equals(&m, 1,
                "{\"v\":1,\"events\":[{\"id\":1,\"type\":\"message\",\"conn\":\"c\",\"user\":null,"
                "\"data\":null}]}");
}

static int parse(const char *s, hr_hook_results_t *out, char *err)
{
    return hr_hook_results_parse((const uint8_t *)s, strlen(s), out, err, 128);
}

static void test_results_good(void **state)
{
    hr_hook_results_t r;
    char err[128];
    assert_int_equal(
        parse("{\"results\":[{\"id\":3,\"ok\":true,\"user\":\"u1\",\"info\":{\"name\": \"Ann\", "
              "\"n\": [1, 2]}},"
              "{\"id\":1,\"ok\":false,\"error\":\"no way\",\"close\":true,\"reply\":\"bye\"},"
              "{\"id\":2,\"ok\":true,\"reply\":{\"a\":null},\"info\":null,\"user\":null,"
              "\"close\":false,\"extra\":1}],\"other\":[]}",
              &r, err),
        0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.skipped, 0);
    assert_int_equal(r.r[0].id, 3);
    assert_true(r.r[0].ok);
    assert_false(r.r[0].close);
    assert_true(slice_is(r.r[0].user, "u1"));
    assert_true(slice_is(r.r[0].info, "{\"name\":\"Ann\",\"n\":[1,2]}"));
    assert_null(r.r[0].reply.p);
    assert_null(r.r[0].error.p);
    assert_int_equal(r.r[1].id, 1);
    assert_false(r.r[1].ok);
    assert_true(r.r[1].close);
    assert_true(slice_is(r.r[1].error, "no way"));
    assert_true(slice_is(r.r[1].reply, "\"bye\""));
    assert_null(r.r[1].user.p);
    assert_int_equal(r.r[2].id, 2);
    assert_true(slice_is(r.r[2].reply, "{\"a\":null}"));
    assert_null(r.r[2].info.p);
    assert_null(r.r[2].user.p);
    hr_hook_results_free(&r);

    assert_int_equal(parse("{\"results\":[]}", &r, err), 0);
    assert_int_equal(r.n, 0);
    hr_hook_results_free(&r);

    /* The largest id JSON integers reach here (jansson: 64-bit signed). */
    assert_int_equal(parse("{\"results\":[{\"id\":9223372036854775807,\"ok\":true}]}", &r, err), 0);
    assert_int_equal(r.n, 1);
    assert_true(r.r[0].id == 9223372036854775807ull);
    hr_hook_results_free(&r);
}

static void test_results_skipped(void **state)
{
    hr_hook_results_t r;
    char err[128];
    assert_int_equal(parse("{\"results\":[1,\"x\",null,[],"
                           "{\"ok\":true},"
                           "{\"id\":\"1\",\"ok\":true},"
                           "{\"id\":-1,\"ok\":true},"
                           "{\"id\":1.0,\"ok\":true},"
                           "{\"id\":1},"
                           "{\"id\":1,\"ok\":1},"
                           "{\"id\":1,\"ok\":\"true\"},"
                           "{\"id\":1,\"ok\":true,\"user\":5},"
                           "{\"id\":1,\"ok\":true,\"user\":{}},"
                           "{\"id\":1,\"ok\":true,\"error\":false},"
                           "{\"id\":1,\"ok\":true,\"close\":1},"
                           "{\"id\":8,\"ok\":false,\"reply\":[1,{\"b\":\"\\u00e9\"}]}]}",
                           &r, err),
                     0);
    assert_int_equal(r.skipped, 15);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.r[0].id, 8);
    assert_true(slice_is(r.r[0].reply, "[1,{\"b\":\"\xc3\xa9\"}]"));
    hr_hook_results_free(&r);
}

static void test_results_garbage(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "<html>Fatal error</html>",
        "[]",
        "\"results\"",
        "{}",
        "{\"results\":{}}",
        "{\"results\":null}",
        "{\"results\":[{\"id\":1,\"ok\":true}]",
        "{\"results\":[{\"id\":18446744073709551616,\"ok\":true}]}", /* beyond 64 bits */
        "{\"results\":[{\"id\":9223372036854775808,\"ok\":true}]}",  /* beyond jansson's int */
        "{\"results\":[{\"id\":1,\"ok\":true,\"user\":\"a\\u0000b\"}]}",
        "{\"results\":[]} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hr_hook_results_t r;
        char err[128] = "";
        if (parse(bad[i], &r, err) != -1)
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
        assert_int_equal(r.n, 0);
        assert_null(r.r);
        hr_hook_results_free(&r); /* harmless on an empty one */
    }
    /* Not UTF-8. */
    hr_hook_results_t r;
    char err[128];
    static const uint8_t latin1[] = "{\"results\":[{\"id\":1,\"ok\":true,\"user\":\"\xe9\"}]}";
    assert_int_equal(hr_hook_results_parse(latin1, sizeof latin1 - 1, &r, err, sizeof err), -1);
    /* A NULL err is fine. */
    assert_int_equal(hr_hook_results_parse((const uint8_t *)"x", 1, &r, NULL, 0), -1);
}

static void test_sign(void **state)
{
    /* RFC 4231 4.3, test case 2. */
    char out[72];
    static const char data[] = "what do ya want for nothing?";
    hr_hook_sign((const uint8_t *)"Jefe", 4, (const uint8_t *)data, sizeof data - 1, out);
    assert_string_equal(out,
                        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_int_equal(strlen(out), HR_HOOK_SIG_LEN);
    /* Empty key and body: HMAC-SHA256("", "") */
    hr_hook_sign(NULL, 0, NULL, 0, out);
    assert_string_equal(out,
                        "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_events),           cmocka_unit_test(test_body_exact),
        cmocka_unit_test(test_body_utf8_and_escapes), cmocka_unit_test(test_body_base64),
        cmocka_unit_test(test_results_good),          cmocka_unit_test(test_results_skipped),
        cmocka_unit_test(test_results_garbage),       cmocka_unit_test(test_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
