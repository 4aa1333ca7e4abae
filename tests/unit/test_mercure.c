/* SPDX-License-Identifier: MIT
 * test_mercure.c: unit tests for relay/src/codec/mercure.c: the string,
 * id, type and topic rules; the topic-to-channel encoding (the documented
 * examples, the injectivity edge cases, the hashed form, and that every
 * output is a channel name); the metadata blob's round trip and each
 * malformed form; the JWT's "mercure" claims; selector grants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "codec/channel_name.h"
#include "codec/jwt.h"
#include "codec/mercure.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_string_rules(void **state)
{
    assert_true(hr_mercure_string_valid(S("")));
    assert_true(hr_mercure_string_valid(S("https://example.com/books/1")));
    assert_true(hr_mercure_string_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")));
    assert_true(hr_mercure_string_valid(S("\xc2\xa0"))); /* U+00A0: not a control */
    assert_false(hr_mercure_string_valid(S("a\0b")));
    assert_false(hr_mercure_string_valid(S("a\nb")));
    assert_false(hr_mercure_string_valid(S("\x1f")));
    assert_false(hr_mercure_string_valid(S("\x7f")));
    assert_false(hr_mercure_string_valid(S("\xc2\x80")));  /* U+0080 */
    assert_false(hr_mercure_string_valid(S("x\xc2\x9f"))); /* U+009F */
    assert_false(hr_mercure_string_valid(S("\xff")));
    assert_false(hr_mercure_string_valid(S("\xc0\xaf")));         /* overlong */
    assert_false(hr_mercure_string_valid(S("\xed\xa0\x80")));     /* surrogate */
    assert_false(hr_mercure_string_valid(S("\xc3")));             /* cut */
    assert_false(hr_mercure_string_valid(S("\xf4\x90\x80\x80"))); /* > U+10FFFF */

    assert_true(hr_mercure_id_valid(S("urn:uuid:4e1e4bb6-1a4f-4b49-9d3e-4f0f6b1b3c34")));
    assert_true(hr_mercure_id_valid(S("earliest2")));
    assert_true(hr_mercure_id_valid(S("x#")));
    assert_false(hr_mercure_id_valid(S("")));
    assert_false(hr_mercure_id_valid(S("#1")));
    assert_false(hr_mercure_id_valid(S("earliest")));
    assert_false(hr_mercure_id_valid(S("a\rb")));
    char big[HR_MERCURE_TOPIC_MAX + 2];
    memset(big, 'a', sizeof big);
    assert_true(hr_mercure_id_valid(big, HR_MERCURE_ID_MAX));
    assert_false(hr_mercure_id_valid(big, HR_MERCURE_ID_MAX + 1));

    assert_true(hr_mercure_type_valid(S("")));
    assert_true(hr_mercure_type_valid(S("book.updated")));
    assert_true(hr_mercure_type_valid(S("mercure2")));
    assert_false(hr_mercure_type_valid(S("mercure")));
    assert_false(hr_mercure_type_valid(S("a\nb")));

    assert_true(hr_mercure_topic_valid(S("https://example.com/books/1")));
    assert_true(hr_mercure_topic_valid(S("**")));
    assert_true(hr_mercure_topic_valid(S("{x}")));
    assert_false(hr_mercure_topic_valid(S("*")));
    assert_false(hr_mercure_topic_valid(S("")));
    assert_false(hr_mercure_topic_valid(S("a\tb")));
    assert_true(hr_mercure_topic_valid(big, HR_MERCURE_TOPIC_MAX));
    assert_false(hr_mercure_topic_valid(big, HR_MERCURE_TOPIC_MAX + 1));
}

static void chan_is(const char *topic, size_t len, const char *want)
{
    char out[HR_CHANNEL_MAX + 1];
    memset(out, 'X', sizeof out);
    size_t n = hr_mercure_channel(topic, len, out);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, want);
    assert_true(hr_chan_name_valid(out, n));
}

static void sha_channel(const char *topic, size_t len, char *want)
{
    uint8_t md[32];
    unsigned int ml = 0;
    EVP_Digest(topic, len, md, &ml, EVP_sha256(), NULL);
    strcpy(want, "=S");
    for (int i = 0; i < 32; i++)
        sprintf(want + 2 + 2 * i, "%02x", md[i]);
}

static void test_channel_examples(void **state)
{
    chan_is(S("https://example.com/books/1"), "https://example.com/books/1");
    chan_is(S("https://x/?a=1"), "https://x/=3Fa=3D1");
    chan_is(S("="), "=3D");
    chan_is(S("=3D"), "=3D3D");
    chan_is(S("a b"), "a=20b");
    chan_is(S("caf\xc3\xa9"), "caf=C3=A9");
    chan_is(S("\xff"), "=FF");
    chan_is(S("a\0b"), "a=00b");
    chan_is(S("_.:@/,;-AZaz09"), "_.:@/,;-AZaz09");
    chan_is(S("#mercure"), "=23mercure");
    chan_is(S("*"), "=2A");
    chan_is(S("{id}%20~!$&'()+[]"), "=7Bid=7D=2520=7E=21=24=26=27=28=29=2B=5B=5D");
    /* Empty (not a topic): the hashed form, still a channel name. */
    chan_is("", 0, "=Se3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_channel_lengths(void **state)
{
    char t[HR_MERCURE_TOPIC_MAX + 1], want[HR_CHANNEL_MAX + 1];
    /* 200 kept bytes stay; 201 are hashed. */
    memset(t, 'a', sizeof t);
    memcpy(want, t, 200);
    want[200] = '\0';
    chan_is(t, 200, want);
    sha_channel(t, 201, want);
    chan_is(t, 201, want);
    sha_channel(t, HR_MERCURE_TOPIC_MAX, want);
    chan_is(t, HR_MERCURE_TOPIC_MAX, want);
    /* Escapes count: 66 escaped bytes + 2 kept = 200; one more kept: 201. */
    memset(t, '?', 66);
    t[66] = 'a';
    t[67] = 'b';
    t[68] = 'c';
    char *o = want;
    for (int i = 0; i < 66; i++, o += 3)
        memcpy(o, "=3F", 3);
    memcpy(o, "ab", 3);
    chan_is(t, 68, want);
    sha_channel(t, 69, want);
    chan_is(t, 69, want);
    /* 67 escapes = 201: hashed. */
    memset(t, '?', 67);
    sha_channel(t, 67, want);
    chan_is(t, 67, want);
}

/* Every string of up to 3 bytes over an alphabet of the tricky bytes maps
 * to a distinct, valid channel. */
static void test_channel_injective(void **state)
{
    static const uint8_t alpha[] = {'=', '3', 'D', 'S', 'a', '?', 0x00, 0x80, 0xff, 'F'};
    enum { K = sizeof alpha };
    size_t total = 1 + K + K * K + K * K * K;
    char(*outs)[HR_CHANNEL_MAX + 1] = calloc(total, sizeof *outs);
    size_t n = 0;
    for (size_t len = 0; len <= 3; len++) {
        size_t count = len == 0 ? 1 : len == 1 ? K : len == 2 ? K * K : K * K * K;
        for (size_t c = 0; c < count; c++) {
            uint8_t s[3];
            size_t v = c;
            for (size_t i = 0; i < len; i++, v /= K)
                s[i] = alpha[v % K];
            size_t l = hr_mercure_channel((const char *)s, len, outs[n]);
            assert_true(hr_chan_name_valid(outs[n], l));
            n++;
        }
    }
    assert_int_equal(n, total);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(outs[i], outs[j]);
    free(outs);
    /* Every single byte. */
    char all[256][HR_CHANNEL_MAX + 1];
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        hr_mercure_channel(&c, 1, all[b]);
        for (int p = 0; p < b; p++)
            assert_string_not_equal(all[p], all[b]);
    }
}

static hr_mercure_meta_t meta(const char *id, int priv, size_t n, const char **topics)
{
    hr_mercure_meta_t m = {.id = {id, strlen(id)}, .priv = priv, .ntopics = n};
    for (size_t i = 0; i < n; i++)
        m.topics[i] = (hr_slice_t){topics[i], strlen(topics[i])};
    return m;
}

/* Encode m, check the bytes against want (if given), parse them back. */
static void round_trip(const hr_mercure_meta_t *m, const uint8_t *want, size_t wantlen)
{
    size_t n = hr_mercure_meta_len(m);
    uint8_t *b = malloc(n);
    hr_mercure_meta_encode(b, m);
    if (want) {
        assert_int_equal(n, wantlen);
        assert_memory_equal(b, want, n);
    }
    hr_mercure_meta_t p;
    assert_int_equal(hr_mercure_meta_parse(b, n, &p), 0);
    assert_true(hr_slice_eq(p.id, m->id));
    assert_int_equal(p.priv, !!m->priv);
    assert_int_equal(p.ntopics, m->ntopics);
    for (size_t i = 0; i < m->ntopics; i++)
        assert_true(hr_slice_eq(p.topics[i], m->topics[i]));
    /* Every proper prefix and one byte more are refused. */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(hr_mercure_meta_parse(b, k, &p), -1);
    uint8_t *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_int_equal(hr_mercure_meta_parse(longer, n + 1, &p), -1);
    free(longer);
    free(b);
}

static void test_meta_round_trip(void **state)
{
    const char *one[] = {"https://a/1"};
    hr_mercure_meta_t m = meta("id1", 0, 1, one);
    static const uint8_t want[] = {0,   0,   3,   'i', 'd', '1', 1,   0,   11,  'h',
                                   't', 't', 'p', 's', ':', '/', '/', 'a', '/', '1'};
    round_trip(&m, want, sizeof want);
    const char *two[] = {"a", "caf\xc3\xa9"};
    m = meta("urn:uuid:x", 1, 2, two);
    round_trip(&m, NULL, 0);
    assert_int_equal(hr_mercure_meta_len(&m), 1 + 2 + 10 + 1 + 2 + 1 + 2 + 5);
    /* The largest: a 256-byte id, 32 topics of 2048 bytes. */
    char *big = malloc(HR_MERCURE_TOPIC_MAX);
    memset(big, 'x', HR_MERCURE_TOPIC_MAX);
    m = (hr_mercure_meta_t){.id = {big, HR_MERCURE_ID_MAX}, .priv = 1};
    for (size_t i = 0; i < HR_MERCURE_TOPICS_MAX; i++)
        m.topics[m.ntopics++] = (hr_slice_t){big, HR_MERCURE_TOPIC_MAX - i};
    round_trip(&m, NULL, 0);
    free(big);
}

static int parses(const uint8_t *b, size_t len)
{
    hr_mercure_meta_t m;
    return hr_mercure_meta_parse(b, len, &m);
}

#define P(...)                                                                                     \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        assert_int_equal(parses(b_, sizeof b_), -1);                                               \
    } while (0)

static void test_meta_malformed(void **state)
{
    static const uint8_t ok[] = {0, 0, 1, 'i', 1, 0, 1, 't'};
    assert_int_equal(parses(ok, sizeof ok), 0);
    assert_int_equal(parses(NULL, 0), -1);
    P(2, 0, 1, 'i', 1, 0, 1, 't');    /* flags: unknown bit */
    P(0x81, 0, 1, 'i', 1, 0, 1, 't'); /* flags: unknown bit */
    P(0, 0, 0, 1, 0, 1, 't');         /* empty id */
    P(0, 0, 2, '#', 'i', 1, 0, 1, 't');
    P(0, 0, 8, 'e', 'a', 'r', 'l', 'i', 'e', 's', 't', 1, 0, 1, 't');
    P(0, 0, 1, '\n', 1, 0, 1, 't');
    P(0, 0, 1, 0xff, 1, 0, 1, 't');
    P(0, 0, 1, 'i', 0);               /* no topic */
    P(0, 0, 1, 'i', 33, 0, 1, 't');   /* too many (and short) */
    P(0, 0, 1, 'i', 1, 0, 0);         /* empty topic */
    P(0, 0, 1, 'i', 1, 0, 1, '*');    /* "*" */
    P(0, 0, 1, 'i', 1, 0, 2, 't', 0); /* control character */
    P(0, 0, 1, 'i', 1, 0, 2, 0xc2, 0x85);
    P(0, 0, 1, 'i', 2, 0, 1, 't');       /* one topic missing */
    P(0, 0, 1, 'i', 1, 0, 2, 't');       /* topic cut */
    P(0, 0xff, 0xff, 'i', 1, 0, 1, 't'); /* id length past the end */
    P(0, 0, 1, 'i', 1, 0, 1, 't', 0);    /* trailing byte */
    /* An id of 257 bytes; a topic of 2049 bytes. */
    uint8_t *b = malloc(8 + HR_MERCURE_TOPIC_MAX + 1);
    b[0] = 0;
    b[1] = 257 >> 8;
    b[2] = 257 & 255;
    memset(b + 3, 'i', 257);
    b[260] = 1;
    b[261] = 0;
    b[262] = 1;
    b[263] = 't';
    assert_int_equal(parses(b, 264), -1);
    b[1] = 0;
    b[2] = 1;
    b[4] = 1;
    b[5] = (HR_MERCURE_TOPIC_MAX + 1) >> 8;
    b[6] = (HR_MERCURE_TOPIC_MAX + 1) & 255;
    memset(b + 7, 't', HR_MERCURE_TOPIC_MAX + 1);
    assert_int_equal(parses(b, 7 + HR_MERCURE_TOPIC_MAX + 1), -1);
    b[6] -= 1;
    assert_int_equal(parses(b, 7 + HR_MERCURE_TOPIC_MAX), 0);
    free(b);
}

static int claims(const char *json, hr_mercure_claims_t **out)
{
    json_error_t e;
    json_t *p = json_loads(json, 0, &e);
    if (p == NULL)
        fail_msg("bad test JSON: %s", e.text);
    int st = hr_mercure_claims(p, out);
    json_decref(p);
    assert_true((st == HR_JWT_OK) == (*out != NULL));
    return st;
}

static void test_claims(void **state)
{
    hr_mercure_claims_t *c = NULL;
    assert_int_equal(claims("{\"mercure\":{\"publish\":[\"*\",\"https://a/{id}\"],"
                            "\"subscribe\":[\"https://a/1\"],\"payload\":{\"user\":1}}}",
                            &c),
                     HR_JWT_OK);
    assert_true(c->has_publish);
    assert_true(c->has_subscribe);
    assert_int_equal(c->npublish, 2);
    assert_int_equal(c->nsubscribe, 1);
    assert_true(hr_slice_eq(c->publish[1], (hr_slice_t){S("https://a/{id}")}));
    assert_true(hr_slice_eq(c->subscribe[0], (hr_slice_t){S("https://a/1")}));
    free(c);
    /* Missing or null: nothing granted, not an error. */
    const char *none[] = {"{}", "{\"mercure\":null}", "{\"mercure\":{}}",
                          "{\"mercure\":{\"publish\":null,\"subscribe\":null}}",
                          "{\"mercure\":{\"payload\":[1,2]}}"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        assert_int_equal(claims(none[i], &c), HR_JWT_OK);
        assert_false(c->has_publish);
        assert_false(c->has_subscribe);
        assert_int_equal(c->npublish + c->nsubscribe, 0);
        free(c);
    }
    /* An empty list is there, and grants nothing. */
    assert_int_equal(claims("{\"mercure\":{\"subscribe\":[],\"publish\":[\"\"]}}", &c), HR_JWT_OK);
    assert_true(c->has_subscribe);
    assert_int_equal(c->nsubscribe, 0);
    assert_int_equal(c->npublish, 1);
    assert_int_equal(c->publish[0].len, 0);
    free(c);
    /* Wrong types, invalid strings. */
    const char *bad[] = {"[]",
                         "{\"mercure\":\"*\"}",
                         "{\"mercure\":[\"*\"]}",
                         "{\"mercure\":{\"publish\":\"*\"}}",
                         "{\"mercure\":{\"subscribe\":{\"0\":\"*\"}}}",
                         "{\"mercure\":{\"subscribe\":[1]}}",
                         "{\"mercure\":{\"subscribe\":[null]}}",
                         "{\"mercure\":{\"publish\":[\"a\\nb\"]}}",
                         "{\"mercure\":{\"publish\":[\"\\u0085\"]}}",
                         "{\"mercure\":{\"publish\":true}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(claims(bad[i], &c), HR_JWT_CLAIMS);
    assert_int_equal(hr_mercure_claims(NULL, &c), HR_JWT_CLAIMS);
}

static void test_claims_limits(void **state)
{
    /* 1000 entries pass, 1001 do not; 2048 bytes pass, 2049 do not. */
    size_t cap = 16 + (HR_MERCURE_CLAIMS_MAX + 1) * 4 + 2 * HR_MERCURE_TOPIC_MAX + 64;
    char *j = malloc(cap);
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)snprintf(j, cap, "{\"mercure\":{\"subscribe\":[");
        for (int i = 0; i < HR_MERCURE_CLAIMS_MAX + extra; i++)
            n += (size_t)snprintf(j + n, cap - n, "%s\"a\"", i ? "," : "");
        snprintf(j + n, cap - n, "]}}");
        hr_mercure_claims_t *c = NULL;
        assert_int_equal(claims(j, &c), extra ? HR_JWT_CLAIMS : HR_JWT_OK);
        if (c)
            assert_int_equal(c->nsubscribe, HR_MERCURE_CLAIMS_MAX);
        free(c);
    }
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = (size_t)snprintf(j, cap, "{\"mercure\":{\"publish\":[\"");
        memset(j + n, 'p', HR_MERCURE_TOPIC_MAX + extra);
        n += HR_MERCURE_TOPIC_MAX + extra;
        snprintf(j + n, cap - n, "\"]}}");
        hr_mercure_claims_t *c = NULL;
        assert_int_equal(claims(j, &c), extra ? HR_JWT_CLAIMS : HR_JWT_OK);
        if (c)
            assert_int_equal(c->publish[0].len, HR_MERCURE_TOPIC_MAX);
        free(c);
    }
    free(j);
}

static void test_selectors_grant(void **state)
{
    hr_slice_t sel[] = {{S("https://example.com/books/{id}")}, {S("https://x/exact")}};
    assert_true(hr_mercure_selectors_grant(sel, 2, S("https://example.com/books/1")));
    assert_false(hr_mercure_selectors_grant(sel, 2, S("https://example.com/books/1/2")));
    assert_true(hr_mercure_selectors_grant(sel, 2, S("https://x/exact")));
    assert_false(hr_mercure_selectors_grant(sel, 2, S("https://x/exactly")));
    assert_false(hr_mercure_selectors_grant(sel, 1, S("https://x/exact")));
    assert_false(hr_mercure_selectors_grant(sel, 0, S("https://x/exact")));
    hr_slice_t all[] = {{S("*")}};
    assert_true(hr_mercure_selectors_grant(all, 1, S("anything at all")));
    /* A selector that is not a template matches only itself. */
    hr_slice_t raw[] = {{S("https://a/{")}};
    assert_true(hr_mercure_selectors_grant(raw, 1, S("https://a/{")));
    assert_false(hr_mercure_selectors_grant(raw, 1, S("https://a/x")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_rules),    cmocka_unit_test(test_channel_examples),
        cmocka_unit_test(test_channel_lengths), cmocka_unit_test(test_channel_injective),
        cmocka_unit_test(test_meta_round_trip), cmocka_unit_test(test_meta_malformed),
        cmocka_unit_test(test_claims),          cmocka_unit_test(test_claims_limits),
        cmocka_unit_test(test_selectors_grant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
