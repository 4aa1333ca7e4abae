/* SPDX-License-Identifier: MIT
 * test_envelope.c: unit tests of relay/src/codec/envelope.c, the herald.v1
 * envelopes: every client envelope type, every refusal of docs/PROTOCOL.md
 * 2.8's error table with its text and reason label, the binary layout
 * (also every prefix of a good one), ref rules, and the writer's exact bytes
 * (key order, escaping, U+FFFD for bytes that are not UTF-8, measure equal
 * to write). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/envelope.h"

static int parse(const char *text, hr_envelope_t *e)
{
    return hr_envelope_parse((const uint8_t *)text, strlen(text), 0, e);
}

static int slice_is(hr_slice_t s, const char *want)
{
    return s.p != NULL && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_types(void **state)
{
    hr_envelope_t e;
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"a.b\",\"since\":\"19ab-42\","
                           "\"token\":\"t\",\"ref\":1,\"x\":[1]}",
                           &e),
                     HR_ENV_OK);
    assert_int_equal(e.type, HR_ENV_SUBSCRIBE);
    assert_true(slice_is(e.channel, "a.b"));
    assert_true(slice_is(e.since, "19ab-42"));
    assert_true(slice_is(e.token, "t"));
    assert_string_equal(e.ref, "1");
    assert_int_equal(e.ref_len, 1);
    hr_envelope_free(&e);

    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"a\",\"since\":null}", &e),
                     HR_ENV_OK);
    assert_null(e.since.p);
    assert_int_equal(e.ref_len, 0);
    hr_envelope_free(&e);

    assert_int_equal(parse("{\"type\":\"unsubscribe\",\"channel\":\"a\",\"ref\":\"x\"}", &e),
                     HR_ENV_OK);
    assert_int_equal(e.type, HR_ENV_UNSUBSCRIBE);
    assert_string_equal(e.ref, "\"x\"");
    hr_envelope_free(&e);

    assert_int_equal(parse("{\"type\":\"send\",\"data\":null}", &e), HR_ENV_OK);
    assert_int_equal(e.type, HR_ENV_SEND);
    assert_true(e.has_data);
    assert_null(e.channel.p);
    hr_envelope_free(&e);

    assert_int_equal(parse("{\"type\":\"presence\",\"channel\":\"p\",\"ref\":2}", &e), HR_ENV_OK);
    assert_int_equal(e.type, HR_ENV_PRESENCE);
    hr_envelope_free(&e);

    assert_int_equal(parse("{\"type\":\"ping\"}", &e), HR_ENV_OK);
    assert_int_equal(e.type, HR_ENV_PING);
    hr_envelope_free(&e);
}

static void test_errors(void **state)
{
    static const struct {
        const char *in;
        int status;
        const char *error, *reason;
    } rows[] = {
        {"nope", HR_ENV_NOT_JSON, "envelope is not a JSON object", "not_json"},
        {"", HR_ENV_NOT_JSON, "envelope is not a JSON object", "not_json"},
        {"[]", HR_ENV_NOT_JSON, "envelope is not a JSON object", "not_json"},
        {"\"s\"", HR_ENV_NOT_JSON, "envelope is not a JSON object", "not_json"},
        {"{\"type\":\"ping\"} x", HR_ENV_NOT_JSON, "envelope is not a JSON object", "not_json"},
        {"{\"a\":1,\"a\":2}", HR_ENV_NOT_JSON, "envelope is not a JSON object", "not_json"},
        {"{}", HR_ENV_UNKNOWN_TYPE, "unknown type", "unknown_type"},
        {"{\"type\":null}", HR_ENV_UNKNOWN_TYPE, "unknown type", "unknown_type"},
        {"{\"type\":\"PING\"}", HR_ENV_UNKNOWN_TYPE, "unknown type", "unknown_type"},
        {"{\"type\":\"ping\\u0000x\"}", HR_ENV_UNKNOWN_TYPE, "unknown type", "unknown_type"},
        {"{\"type\":\"subscribe\"}", HR_ENV_CHANNEL_TYPE, "channel must be a string", "channel"},
        {"{\"type\":\"subscribe\",\"channel\":null}", HR_ENV_CHANNEL_TYPE,
         "channel must be a string", "channel"},
        {"{\"type\":\"presence\",\"channel\":[]}", HR_ENV_CHANNEL_TYPE, "channel must be a string",
         "channel"},
        {"{\"type\":\"send\",\"channel\":1,\"data\":1}", HR_ENV_CHANNEL_TYPE,
         "channel must be a string", "channel"},
        {"{\"type\":\"unsubscribe\",\"channel\":\"a b\"}", HR_ENV_CHANNEL_NAME,
         "invalid channel name", "channel"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\\u0000\"}", HR_ENV_CHANNEL_NAME,
         "invalid channel name", "channel"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"since\":1}", HR_ENV_SINCE,
         "since is not an event id", "since"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"since\":\"\"}", HR_ENV_SINCE,
         "since is not an event id", "since"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"since\":\"ABC-1\"}", HR_ENV_SINCE,
         "since is not an event id", "since"},
        {"{\"type\":\"subscribe\",\"channel\":\"a\",\"token\":1}", HR_ENV_TOKEN, "invalid token",
         "auth"},
        {"{\"type\":\"ping\",\"ref\":true}", HR_ENV_REF, "invalid ref", "ref"},
        {"{\"type\":\"ping\",\"ref\":0.5}", HR_ENV_REF, "invalid ref", "ref"},
        {"{\"type\":\"ping\",\"ref\":-9007199254740993}", HR_ENV_REF, "invalid ref", "ref"},
        {"{\"type\":\"hello\",\"ref\":[1]}", HR_ENV_REF, "invalid ref", "ref"},
        {"{\"type\":\"send\"}", HR_ENV_SEND_DATA, "send needs data", "send"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hr_envelope_t e;
        int st = parse(rows[i].in, &e);
        if (st != rows[i].status)
            fail_msg("%s: status %d, want %d", rows[i].in, st, rows[i].status);
        assert_string_equal(hr_env_strerror(st), rows[i].error);
        assert_string_equal(hr_env_reason(st), rows[i].reason);
        hr_envelope_free(&e);
    }
}

/* A refused envelope still names its ref and channel for the error reply. */
static void test_error_context(void **state)
{
    hr_envelope_t e;
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"a b\",\"ref\":\"r\"}", &e),
                     HR_ENV_CHANNEL_NAME);
    assert_string_equal(e.ref, "\"r\"");
    assert_true(slice_is(e.channel, "a b"));
    hr_envelope_free(&e);
    assert_int_equal(parse("{\"type\":\"nope\",\"ref\":9007199254740992}", &e),
                     HR_ENV_UNKNOWN_TYPE);
    assert_string_equal(e.ref, "9007199254740992");
    hr_envelope_free(&e);
}

static void test_ref_length(void **state)
{
    char in[200];
    hr_envelope_t e;
    /* 62 characters and two quotes: 64 bytes, the most. */
    snprintf(in, sizeof in, "{\"type\":\"ping\",\"ref\":\"%062d\"}", 0);
    assert_int_equal(parse(in, &e), HR_ENV_OK);
    assert_int_equal(e.ref_len, 64);
    hr_envelope_free(&e);
    snprintf(in, sizeof in, "{\"type\":\"ping\",\"ref\":\"%063d\"}", 0);
    assert_int_equal(parse(in, &e), HR_ENV_REF);
    hr_envelope_free(&e);
    /* The JSON text counts: an escaped character is its escape. */
    snprintf(in, sizeof in, "{\"type\":\"ping\",\"ref\":\"\\n%060d\"}", 0);
    assert_int_equal(parse(in, &e), HR_ENV_OK);
    assert_int_equal(e.ref_len, 64);
    hr_envelope_free(&e);
}

static size_t layout(uint8_t *out, const char *env, const char *payload, size_t plen)
{
    size_t n = strlen(env);
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, env, n);
    memcpy(out + 4 + n, payload, plen);
    return 4 + n + plen;
}

static void test_binary(void **state)
{
    uint8_t buf[256];
    hr_envelope_t e;
    size_t len = layout(buf, "{\"type\":\"send\",\"channel\":\"c\",\"ref\":1}", "\x00\xff\x01", 3);
    assert_int_equal(hr_envelope_parse(buf, len, 1, &e), HR_ENV_OK);
    assert_int_equal(e.type, HR_ENV_SEND);
    assert_true(e.binary && e.has_data);
    assert_int_equal(e.payload.len, 3);
    assert_memory_equal(e.payload.p, "\x00\xff\x01", 3);
    hr_envelope_free(&e);
    /* Every shorter prefix of it is refused, each for the right reason. */
    for (size_t n = 0; n < len; n++) {
        int st = hr_envelope_parse(buf, n, 1, &e);
        int want = n < 4 ? HR_ENV_BINARY_SHORT : n < len - 3 ? HR_ENV_BINARY_LENGTH : HR_ENV_OK;
        if (st != want)
            fail_msg("prefix %zu: status %d, want %d", n, st, want);
        hr_envelope_free(&e);
    }
    len = layout(buf, "[1]", "x", 1);
    assert_int_equal(hr_envelope_parse(buf, len, 1, &e), HR_ENV_BINARY_ENVELOPE);
    assert_string_equal(hr_env_reason(HR_ENV_BINARY_ENVELOPE), "binary_layout");
    hr_envelope_free(&e);
    len = layout(buf, "", "", 0);
    assert_int_equal(hr_envelope_parse(buf, len, 1, &e), HR_ENV_BINARY_ENVELOPE);
    hr_envelope_free(&e);
    /* A binary send has its data: the payload, empty or not. */
    len = layout(buf, "{\"type\":\"send\"}", "", 0);
    assert_int_equal(hr_envelope_parse(buf, len, 1, &e), HR_ENV_OK);
    hr_envelope_free(&e);
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, '{', '}'};
    assert_int_equal(hr_envelope_parse(huge, sizeof huge, 1, &e), HR_ENV_BINARY_LENGTH);
    hr_envelope_free(&e);
}

static void test_id_form(void **state)
{
    static const char *good[] = {"0-0", "19ab3c4d5e6-41", "ffffffffffffffff-18446744073709551615"};
    static const char *bad[] = {"",
                                "-1",
                                "a-",
                                "a--1",
                                "g-1",
                                "A-1",
                                "1-1a",
                                "1- 1",
                                "1-+1",
                                "1-1.0",
                                "x",
                                "1_1",
                                "11111111111111111-1",
                                "1-18446744073709551616"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(hr_env_id_form((hr_slice_t){good[i], strlen(good[i])}));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hr_env_id_form((hr_slice_t){bad[i], strlen(bad[i])}))
            fail_msg("'%s' taken as an id", bad[i]);
}

/* Writes into a heap buffer of exactly the measured size (ASan sees any
 * write past it) and returns it NUL-terminated. */
static char *write_env(const hr_env_out_t *o)
{
    size_t n = hr_env_write(NULL, o);
    char *out = malloc(n);
    assert_int_equal(hr_env_write(out, o), n);
    char *s = malloc(n + 1);
    memcpy(s, out, n);
    s[n] = '\0';
    free(out);
    return s;
}

#define SL(lit) ((hr_slice_t){lit, sizeof(lit) - 1})

static void test_write(void **state)
{
    char *s;
    hr_env_out_t m = {.type = "message",
                      .channel = SL("c"),
                      .id = SL("1a-2"),
                      .event = SL("ev"),
                      .data = SL("a\"b\\c\n\x01/\xc3\xa9"),
                      .data_mode = HR_ENV_DATA_STRING};
    s = write_env(&m);
    assert_string_equal(
        s, "{\"type\":\"message\",\"channel\":\"c\",\"id\":\"1a-2\",\"event\":\"ev\",\"data\":"
           "\"a\\\"b\\\\c\\n\\u0001/\xc3\xa9\"}");
    free(s);
    /* Not UTF-8: a stray continuation byte, a truncated sequence, an
     * overlong one; each bad byte is U+FFFD. */
    m.event = (hr_slice_t){NULL, 0};
    m.data = SL("\x80x\xe2\x82\xc0\xaf");
    s = write_env(&m);
    assert_string_equal(s, "{\"type\":\"message\",\"channel\":\"c\",\"id\":\"1a-2\",\"data\":"
                           "\"\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}");
    free(s);
    m.data = SL("{\"k\":[1,2]}");
    m.data_mode = HR_ENV_DATA_JSON;
    s = write_env(&m);
    assert_string_equal(
        s, "{\"type\":\"message\",\"channel\":\"c\",\"id\":\"1a-2\",\"data\":{\"k\":[1,2]}}");
    free(s);
    m.data = (hr_slice_t){NULL, 0};
    m.data_mode = HR_ENV_DATA_STRING;
    s = write_env(&m);
    assert_string_equal(s,
                        "{\"type\":\"message\",\"channel\":\"c\",\"id\":\"1a-2\",\"data\":\"\"}");
    free(s);
    m.data_mode = HR_ENV_DATA_NONE;
    s = write_env(&m);
    assert_string_equal(s, "{\"type\":\"message\",\"channel\":\"c\",\"id\":\"1a-2\"}");
    free(s);

    hr_env_out_t sub = {.type = "subscribed", .channel = SL("c"), .id = SL("1-0"), .ref = SL("7")};
    s = write_env(&sub);
    assert_string_equal(s, "{\"type\":\"subscribed\",\"channel\":\"c\",\"id\":\"1-0\",\"ref\":7}");
    free(s);
    hr_env_out_t err = {
        .type = "error", .ref = SL("\"r\""), .channel = SL("c"), .error = SL("invalid ref")};
    s = write_env(&err);
    assert_string_equal(
        s, "{\"type\":\"error\",\"ref\":\"r\",\"channel\":\"c\",\"error\":\"invalid ref\"}");
    free(s);
    hr_env_out_t gap = {.type = "gap", .channel = SL("c"), .since = SL("0-0"), .id = SL("1-5")};
    s = write_env(&gap);
    assert_string_equal(s, "{\"type\":\"gap\",\"channel\":\"c\",\"since\":\"0-0\",\"id\":\"1-5\"}");
    free(s);
    hr_env_out_t pong = {.type = "pong"};
    s = write_env(&pong);
    assert_string_equal(s, "{\"type\":\"pong\"}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_context), cmocka_unit_test(test_ref_length),
        cmocka_unit_test(test_binary),        cmocka_unit_test(test_id_form),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
