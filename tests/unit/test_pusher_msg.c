/* SPDX-License-Identifier: MIT
 * test_pusher_msg.c: unit tests of relay/src/codec/pusher_msg.c, the Pusher
 * protocol's messages: every client event type as pusher-js sends it,
 * every refusal with its text and reason label, presence channel_data
 * (string and integer user ids, info, refusals), and the writer's exact
 * bytes (key order, data as a JSON string, escaping, U+FFFD, measure equal
 * to write), base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/pusher_msg.h"

#define SL(s) ((hr_slice_t){(s), sizeof(s) - 1})

static int parse(const char *text, hr_pusher_msg_t *m)
{
    return hr_pusher_msg_parse((const uint8_t *)text, strlen(text), m);
}

static int slice_is(hr_slice_t s, const char *want)
{
    return s.p != NULL && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_types(void **state)
{
    (void)state;
    hr_pusher_msg_t m;
    assert_int_equal(parse("{\"event\":\"pusher:ping\",\"data\":{}}", &m), HR_PMSG_OK);
    assert_int_equal(m.type, HR_PMSG_PING);
    hr_pusher_msg_free(&m);
    assert_int_equal(parse("{\"event\":\"pusher:pong\"}", &m), HR_PMSG_OK);
    assert_int_equal(m.type, HR_PMSG_PONG);
    hr_pusher_msg_free(&m);
    /* pusher-js's subscribe of a presence channel. */
    assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"k:abc\","
                           "\"channel_data\":\"{\\\"user_id\\\":1}\",\"channel\":\"presence-a\"}}",
                           &m),
                     HR_PMSG_OK);
    assert_int_equal(m.type, HR_PMSG_SUBSCRIBE);
    assert_true(slice_is(m.channel, "presence-a"));
    assert_true(slice_is(m.auth, "k:abc"));
    assert_true(slice_is(m.channel_data, "{\"user_id\":1}"));
    hr_pusher_msg_free(&m);
    /* Old clients: data as a string; auth null is absent. */
    assert_int_equal(
        parse("{\"event\":\"pusher:subscribe\",\"data\":\"{\\\"channel\\\":\\\"a;b,c\\\","
              "\\\"auth\\\":null}\"}",
              &m),
        HR_PMSG_OK);
    assert_true(slice_is(m.channel, "a;b,c"));
    assert_null(m.auth.p);
    hr_pusher_msg_free(&m);
    assert_int_equal(parse("{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"x\"}}", &m),
                     HR_PMSG_OK);
    assert_int_equal(m.type, HR_PMSG_UNSUBSCRIBE);
    hr_pusher_msg_free(&m);
    assert_int_equal(parse("{\"event\":\"pusher:signin\",\"data\":{}}", &m), HR_PMSG_OK);
    assert_int_equal(m.type, HR_PMSG_SIGNIN);
    hr_pusher_msg_free(&m);
    /* A whisper: data kept as compact JSON text. */
    assert_int_equal(parse("{\"event\":\"client-typing\",\"channel\":\"private-r\","
                           "\"data\":{ \"who\" : \"é\" }}",
                           &m),
                     HR_PMSG_OK);
    assert_int_equal(m.type, HR_PMSG_CLIENT);
    assert_true(slice_is(m.event, "client-typing"));
    assert_string_equal(m.data, "{\"who\":\"é\"}");
    assert_int_equal(m.data_len, strlen(m.data));
    hr_pusher_msg_free(&m);
    assert_int_equal(parse("{\"event\":\"client-x\",\"channel\":\"private-r\"}", &m), HR_PMSG_OK);
    assert_string_equal(m.data, "null");
    hr_pusher_msg_free(&m);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int st;
        const char *reason;
    } cases[] = {
        {"", HR_PMSG_NOT_JSON, "not_json"},
        {"nope", HR_PMSG_NOT_JSON, "not_json"},
        {"[1]", HR_PMSG_NOT_JSON, "not_json"},
        {"{\"a\":1,\"a\":2}", HR_PMSG_NOT_JSON, "not_json"},
        {"{\"data\":{}}", HR_PMSG_NO_EVENT, "no_event"},
        {"{\"event\":5}", HR_PMSG_NO_EVENT, "no_event"},
        {"{\"event\":\"pusher:nope\"}", HR_PMSG_UNKNOWN_EVENT, "unknown_event"},
        {"{\"event\":\"hello\"}", HR_PMSG_UNKNOWN_EVENT, "unknown_event"},
        {"{\"event\":\"pusher:subscribe\"}", HR_PMSG_DATA, "data"},
        {"{\"event\":\"pusher:subscribe\",\"data\":\"{bad\"}", HR_PMSG_DATA, "data"},
        {"{\"event\":\"pusher:subscribe\",\"data\":[]}", HR_PMSG_DATA, "data"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{}}", HR_PMSG_CHANNEL, "channel"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a b\"}}", HR_PMSG_CHANNEL,
         "channel"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a\",\"auth\":1}}", HR_PMSG_AUTH,
         "auth_type"},
        {"{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a\",\"channel_data\":{}}}",
         HR_PMSG_AUTH, "auth_type"},
        {"{\"event\":\"client-x\"}", HR_PMSG_CHANNEL, "channel"},
        {"{\"event\":\"client-x\",\"channel\":\"\"}", HR_PMSG_CHANNEL, "channel"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hr_pusher_msg_t m;
        int st = parse(cases[i].in, &m);
        if (st != cases[i].st)
            fail_msg("case %zu (%s): %d, want %d", i, cases[i].in, st, cases[i].st);
        assert_string_equal(hr_pusher_msg_reason(st), cases[i].reason);
        assert_non_null(hr_pusher_msg_strerror(st));
        hr_pusher_msg_free(&m);
    }
    /* A client event name past 200 bytes. */
    char big[400];
    int n = snprintf(big, sizeof big, "{\"event\":\"client-%0200d\",\"channel\":\"p\"}", 0);
    hr_pusher_msg_t m;
    assert_int_equal(hr_pusher_msg_parse((const uint8_t *)big, (size_t)n, &m), HR_PMSG_EVENT_NAME);
    hr_pusher_msg_free(&m);
    /* What was read serves the error: the event and channel. */
    assert_int_equal(parse("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a\","
                           "\"auth\":[]}}",
                           &m),
                     HR_PMSG_AUTH);
    assert_int_equal(m.type, HR_PMSG_SUBSCRIBE);
    assert_true(slice_is(m.channel, "a"));
    hr_pusher_msg_free(&m);
}

static void test_channel_data(void **state)
{
    (void)state;
    char user[HR_PUSHER_USER_MAX + 1];
    size_t ul, il;
    char *info;
    const char *why;
    const char *cd = "{\"user_id\":42,\"user_info\":{\"name\":\"Ann\"}}";
    assert_int_equal(hr_pusher_channel_data(cd, strlen(cd), user, &ul, &info, &il, &why), 0);
    assert_string_equal(user, "42");
    assert_int_equal(ul, 2);
    assert_string_equal(info, "{\"name\":\"Ann\"}");
    assert_int_equal(il, strlen(info));
    free(info);
    cd = "{\"user_id\":\"u-1\"}";
    assert_int_equal(hr_pusher_channel_data(cd, strlen(cd), user, &ul, &info, &il, &why), 0);
    assert_string_equal(user, "u-1");
    assert_null(info);
    cd = "{\"user_id\":\"u\",\"user_info\":null}";
    assert_int_equal(hr_pusher_channel_data(cd, strlen(cd), user, &ul, &info, &il, &why), 0);
    assert_null(info);
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"user_id\":\"\"}",
        "{\"user_id\":1.5}",
        "{\"user_id\":null}",
        "{\"user_id\":true}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_equal(
            hr_pusher_channel_data(bad[i], strlen(bad[i]), user, &ul, &info, &il, &why), -1);
        assert_non_null(why);
        assert_null(info);
    }
    char longid[300];
    int n = snprintf(longid, sizeof longid, "{\"user_id\":\"%0201d\"}", 0);
    assert_int_equal(hr_pusher_channel_data(longid, (size_t)n, user, &ul, &info, &il, &why), -1);
}

static char *write_out(const hr_pusher_out_t *o)
{
    size_t n = hr_pusher_write(NULL, o);
    char *s = malloc(n + 1);
    assert_int_equal(hr_pusher_write(s, o), n);
    s[n] = '\0';
    return s;
}

static void test_write(void **state)
{
    (void)state;
    hr_pusher_out_t o = {.event = SL("posted"), .channel = SL("news"), .data = SL("{\"a\":\"b\"}")};
    char *s = write_out(&o);
    assert_string_equal(
        s, "{\"event\":\"posted\",\"channel\":\"news\",\"data\":\"{\\\"a\\\":\\\"b\\\"}\"}");
    free(s);
    hr_pusher_out_t w = {
        .event = SL("client-x"), .channel = SL("presence-r"), .data = SL("1"), .user_id = SL("7")};
    s = write_out(&w);
    assert_string_equal(s, "{\"event\":\"client-x\",\"channel\":\"presence-r\",\"data\":\"1\","
                           "\"user_id\":\"7\"}");
    free(s);
    hr_pusher_out_t e = {.event = SL("e"), .data = {"a\n\t\x01\\\xff", 6}};
    s = write_out(&e);
    /* a byte that is not UTF-8: U+FFFD, as UTF-8 (codec/json_str.h) */
    assert_string_equal(s, "{\"event\":\"e\",\"data\":\"a\\n\\t\\u0001\\\\\xef\xbf\xbd\"}");
    free(s);
    hr_pusher_out_t none = {0};
    s = write_out(&none);
    assert_string_equal(s, "{}");
    free(s);
    char b64[16];
    assert_int_equal(hr_pusher_base64(b64, (const uint8_t *)"\x00\x01\x02\xfa", 4), 8);
    assert_memory_equal(b64, "AAEC+g==", 8);
    assert_int_equal(hr_pusher_base64(NULL, NULL, 5), 8);
    assert_int_equal(hr_pusher_base64(b64, (const uint8_t *)"ab", 2), 4);
    assert_memory_equal(b64, "YWI=", 4);
    assert_int_equal(hr_pusher_base64(b64, (const uint8_t *)"abc", 3), 4);
    assert_memory_equal(b64, "YWJj", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_channel_data),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
