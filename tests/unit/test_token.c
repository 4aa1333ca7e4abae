/* SPDX-License-Identifier: MIT
 * test_token.c: unit tests for relay/src/codec/token.c. Tokens are minted here
 * with OpenSSL's HMAC and a base64url encoder written for the test, then
 * verified: the good path, each refusal the issue names (alg none, a
 * tampered payload, a wrong secret, expired, a channel outside the claims)
 * and the malformed shapes around them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec/token.h"

#define NOW  1700000000LL
#define SKEW 30
static const char secret[] = "s3cret-for-tests";

static size_t b64url(const void *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const uint8_t *s = in;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        out[o++] = a[s[i] >> 2];
        out[o++] = a[(s[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 8 | s[i + 1];
        out[o++] = a[v >> 10];
        out[o++] = a[(v >> 4) & 63];
        out[o++] = a[(v & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

/* header.payload.signature with the given JSON texts and key. */
static char *mint(const char *header, const char *payload, const char *key)
{
    char *t = malloc(8192);
    size_t n = b64url(header, strlen(header), t);
    t[n++] = '.';
    n += b64url(payload, strlen(payload), t + n);
    uint8_t mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (uint8_t *)t, n, mac, &ml);
    t[n++] = '.';
    b64url(mac, 32, t + n);
    return t;
}

static const char *H = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static int verify(const char *tok, hr_token_t **out)
{
    return hr_token_verify(tok, strlen(tok), (const uint8_t *)secret, strlen(secret), NOW, SKEW,
                           out);
}

static int verify_claims(const char *header, const char *payload)
{
    char *t = mint(header, payload, secret);
    hr_token_t *tk = NULL;
    int st = verify(t, &tk);
    assert_true((st == HR_TOKEN_OK) == (tk != NULL));
    free(tk);
    free(t);
    return st;
}

static void test_valid(void **state)
{
    char p[256];
    snprintf(p, sizeof p, "{\"channels\":[\"private-a\",\"team-*\"],\"exp\":%lld,\"nbf\":%lld}",
             NOW + 60, NOW - 5);
    char *t = mint(H, p, secret);
    hr_token_t *tk = NULL;
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    assert_non_null(tk);
    assert_int_equal(tk->n, 2);
    assert_int_equal(tk->exp, NOW + 60);
    assert_int_equal(tk->nbf, NOW - 5);
    assert_true(hr_token_allows(tk, "private-a", 9));
    assert_false(hr_token_allows(tk, "private-ab", 10));
    assert_false(hr_token_allows(tk, "private-", 8));
    assert_true(hr_token_allows(tk, "team-", 5));
    assert_true(hr_token_allows(tk, "team-42", 7));
    assert_false(hr_token_allows(tk, "team", 4));
    assert_false(hr_token_allows(tk, "private-b", 9));
    assert_false(hr_token_allows(NULL, "team-1", 6));
    free(tk);
    free(t);
}

/* "sub" names the user (presence, herald_send_user); a non-string one
 * makes the claims bad. */
static void test_sub_claim(void **state)
{
    char p[256];
    snprintf(p, sizeof p,
             "{\"channels\":[\"a\"],\"publish\":[\"b\"],\"sub\":\"ana@x\",\"exp\":%lld}", NOW + 60);
    char *t = mint(H, p, secret);
    hr_token_t *tk = NULL;
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    assert_int_equal(tk->sub.len, 5);
    assert_memory_equal(tk->sub.p, "ana@x", 5);
    assert_true(hr_token_allows(tk, "a", 1));
    assert_true(hr_token_allows_publish(tk, "b", 1));
    free(tk);
    free(t);
    snprintf(p, sizeof p, "{\"channels\":[\"a\"],\"exp\":%lld}", NOW + 60);
    t = mint(H, p, secret);
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    assert_null(tk->sub.p);
    free(tk);
    free(t);
    snprintf(p, sizeof p, "{\"channels\":[\"a\"],\"sub\":42,\"exp\":%lld}", NOW + 60);
    assert_int_equal(verify_claims(H, p), HR_TOKEN_CLAIMS);
}

static void test_alg(void **state)
{
    char p[128];
    snprintf(p, sizeof p, "{\"channels\":[\"private-a\"],\"exp\":%lld}", NOW + 60);
    assert_int_equal(verify_claims("{\"alg\":\"none\"}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"alg\":\"HS512\"}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"alg\":\"hs256\"}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"alg\":\"RS256\"}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"typ\":\"JWT\"}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"alg\":null}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\\u0000\"}", p), HR_TOKEN_MALFORMED);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\",\"crit\":[\"b64\"]}", p), HR_TOKEN_ALG);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\"}", p), HR_TOKEN_OK);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", p), HR_TOKEN_OK);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\",\"typ\":\"JOSE\"}", p), HR_TOKEN_MALFORMED);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\",\"typ\":1}", p), HR_TOKEN_MALFORMED);
    assert_int_equal(verify_claims("{\"alg\":\"HS256\",\"alg\":\"HS256\"}", p), HR_TOKEN_MALFORMED);
    assert_int_equal(verify_claims("[\"HS256\"]", p), HR_TOKEN_MALFORMED);

    /* The classic "alg": "none" token: header, payload, empty signature. */
    char t[512], h[64];
    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, h);
    size_t n = (size_t)snprintf(t, sizeof t, "%s.", h);
    n += b64url(p, strlen(p), t + n);
    t[n++] = '.';
    t[n] = '\0';
    hr_token_t *tk = NULL;
    assert_int_equal(verify(t, &tk), HR_TOKEN_ALG);
    assert_null(tk);
    /* The same with an HS256 header and no signature. */
    b64url(H, strlen(H), h);
    n = (size_t)snprintf(t, sizeof t, "%s.", h);
    n += b64url(p, strlen(p), t + n);
    t[n++] = '.';
    t[n] = '\0';
    assert_int_equal(verify(t, &tk), HR_TOKEN_SIGNATURE);
}

static void test_signature(void **state)
{
    char p[128];
    snprintf(p, sizeof p, "{\"channels\":[\"private-a\"],\"exp\":%lld}", NOW + 60);
    hr_token_t *tk = NULL;

    /* Wrong secret. */
    char *t = mint(H, p, "another-secret");
    assert_int_equal(verify(t, &tk), HR_TOKEN_SIGNATURE);
    assert_null(tk);
    free(t);

    /* Tampered payload: the claims of a wider token under a good signature. */
    t = mint(H, p, secret);
    char wide[128], enc[256];
    snprintf(wide, sizeof wide, "{\"channels\":[\"*\"],\"exp\":%lld}", NOW + 60);
    b64url(wide, strlen(wide), enc);
    char *d1 = strchr(t, '.'), *d2 = strchr(d1 + 1, '.');
    char forged[1024];
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - t), t, enc, d2);
    assert_int_equal(verify(forged, &tk), HR_TOKEN_SIGNATURE);

    /* Every single-character change anywhere is refused. */
    size_t len = strlen(t);
    for (size_t i = 0; i < len; i++) {
        char save = t[i];
        t[i] = t[i] == 'A' ? 'B' : 'A';
        if (t[i] != save)
            assert_int_not_equal(verify(t, &tk), HR_TOKEN_OK);
        t[i] = save;
    }
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    free(tk);
    tk = NULL;

    /* A signature one character longer or shorter. */
    t[len - 1] = '\0';
    assert_int_equal(verify(t, &tk), HR_TOKEN_SIGNATURE);
    free(t);

    /* No secret configured: nothing verifies. */
    t = mint(H, p, "");
    assert_int_equal(hr_token_verify(t, strlen(t), (const uint8_t *)"", 0, NOW, SKEW, &tk),
                     HR_TOKEN_NO_SECRET);
    assert_int_equal(hr_token_verify(t, strlen(t), NULL, 0, NOW, SKEW, &tk), HR_TOKEN_NO_SECRET);
    free(t);
}

static void test_time(void **state)
{
    char p[160];
    snprintf(p, sizeof p, "{\"channels\":[\"a\"],\"exp\":%lld}", NOW - SKEW - 1);
    assert_int_equal(verify_claims(H, p), HR_TOKEN_EXPIRED);
    snprintf(p, sizeof p, "{\"channels\":[\"a\"],\"exp\":%lld}", NOW - SKEW);
    assert_int_equal(verify_claims(H, p), HR_TOKEN_OK);
    snprintf(p, sizeof p, "{\"channels\":[\"a\"],\"exp\":%lld,\"nbf\":%lld}", NOW + 60,
             NOW + SKEW + 1);
    assert_int_equal(verify_claims(H, p), HR_TOKEN_NOT_YET);
    snprintf(p, sizeof p, "{\"channels\":[\"a\"],\"exp\":%lld,\"nbf\":%lld}", NOW + 60, NOW + SKEW);
    assert_int_equal(verify_claims(H, p), HR_TOKEN_OK);
    /* The ends of the integer range do not overflow the comparisons. */
    assert_int_equal(verify_claims(H, "{\"channels\":[\"a\"],\"exp\":9223372036854775807,"
                                      "\"nbf\":-9223372036854775808}"),
                     HR_TOKEN_OK);
    assert_int_equal(verify_claims(H, "{\"channels\":[\"a\"],\"exp\":-9223372036854775808}"),
                     HR_TOKEN_EXPIRED);
    assert_int_equal(verify_claims(H, "{\"channels\":[\"a\"],\"exp\":9223372036854775807,"
                                      "\"nbf\":9223372036854775807}"),
                     HR_TOKEN_NOT_YET);
}

static void test_claims(void **state)
{
    static const char *bad[] = {
        "{\"channels\":[\"a\"]}",                        /* no exp */
        "{\"channels\":[\"a\"],\"exp\":\"1800000000\"}", /* exp a string */
        "{\"channels\":[\"a\"],\"exp\":1800000000.5}",   /* exp a real */
        "{\"channels\":[\"a\"],\"exp\":1800000000,\"nbf\":\"0\"}",
        "{\"exp\":1800000000}", /* neither channels nor publish */
        "{\"publish\":[],\"exp\":1800000000}",
        "{\"publish\":\"a\",\"exp\":1800000000}",
        "{\"publish\":[\"a b\"],\"exp\":1800000000}",
        "{\"channels\":[\"a\"],\"publish\":[],\"exp\":1800000000}",
        "{\"channels\":[],\"publish\":[\"a\"],\"exp\":1800000000}",
        "{\"channels\":null,\"publish\":[\"a\"],\"exp\":1800000000}",
        "{\"channels\":[],\"exp\":1800000000}",
        "{\"channels\":\"a\",\"exp\":1800000000}",
        "{\"channels\":[1],\"exp\":1800000000}",
        "{\"channels\":[\"a b\"],\"exp\":1800000000}", /* not a channel name */
        "{\"channels\":[\"\"],\"exp\":1800000000}",
        "{\"channels\":[\"a\\n\"],\"exp\":1800000000}",
        "{\"channels\":[\"a*b\"],\"exp\":1800000000}",
        "{\"channels\":[\"**\"],\"exp\":1800000000}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify_claims(H, bad[i]), HR_TOKEN_CLAIMS);
    assert_int_equal(verify_claims(H, "[1800000000]"), HR_TOKEN_MALFORMED);
    assert_int_equal(verify_claims(H, "{\"channels\":[\"a\"],\"exp\":1800000000,\"exp\":1}"),
                     HR_TOKEN_MALFORMED);
    assert_int_equal(verify_claims(H, "{\"channels\":[\"*\"],\"exp\":1800000000,\"sub\":\"u\"}"),
                     HR_TOKEN_OK);

    /* Past HR_TOKEN_MAX_CHANNELS entries. */
    char *p = malloc(8192);
    size_t n = (size_t)snprintf(p, 8192, "{\"exp\":1800000000,\"channels\":[");
    for (int i = 0; i <= HR_TOKEN_MAX_CHANNELS; i++)
        n += (size_t)snprintf(p + n, 8192 - n, "%s\"c%d\"", i ? "," : "", i);
    snprintf(p + n, 8192 - n, "]}");
    int st = verify_claims(H, p);
    free(p);
    assert_int_equal(st, HR_TOKEN_CLAIMS);
}

static void test_malformed(void **state)
{
    static const char *bad[] = {
        "", "a", "a.b", "..", "a..c", ".b.c", "a.b.c.d", "e30=.e30.AAAA", "e 30.e30.AAAA",
    };
    hr_token_t *tk = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = verify(bad[i], &tk);
        assert_true(st == HR_TOKEN_MALFORMED || st == HR_TOKEN_MISSING);
        assert_null(tk);
    }
    /* "{}" as the header: no alg. */
    assert_int_equal(verify("e30.e30.", &tk), HR_TOKEN_ALG);
    char *big = malloc(HR_TOKEN_MAX + 2);
    memset(big, 'A', HR_TOKEN_MAX + 1);
    big[10] = big[20] = '.';
    big[HR_TOKEN_MAX + 1] = '\0';
    assert_int_equal(verify(big, &tk), HR_TOKEN_MALFORMED);
    free(big);
    assert_int_equal(hr_token_verify(NULL, 0, (const uint8_t *)secret, 3, NOW, 0, &tk),
                     HR_TOKEN_MISSING);
}

/* "publish" grants publishing only, "channels" subscribing only. */
static void test_publish_claim(void **state)
{
    char p[256];
    hr_token_t *tk = NULL;

    snprintf(p, sizeof p, "{\"publish\":[\"news\",\"chat.*\"],\"exp\":%lld}", NOW + 60);
    char *t = mint(H, p, secret);
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    assert_int_equal(tk->n, 0);
    assert_int_equal(tk->npublish, 2);
    assert_true(hr_token_allows_publish(tk, "news", 4));
    assert_true(hr_token_allows_publish(tk, "chat.42", 7));
    assert_true(hr_token_allows_publish(tk, "chat.", 5));
    assert_false(hr_token_allows_publish(tk, "chat", 4));
    assert_false(hr_token_allows_publish(tk, "newsx", 5));
    assert_false(hr_token_allows(tk, "news", 4)); /* publish-only: subscribes to nothing */
    assert_false(hr_token_allows_publish(NULL, "news", 4));
    free(tk);
    free(t);

    snprintf(p, sizeof p, "{\"channels\":[\"news\"],\"exp\":%lld}", NOW + 60);
    t = mint(H, p, secret);
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    assert_int_equal(tk->npublish, 0);
    assert_true(hr_token_allows(tk, "news", 4));
    assert_false(hr_token_allows_publish(tk, "news", 4)); /* subscribe-only */
    free(tk);
    free(t);

    snprintf(p, sizeof p, "{\"channels\":[\"a\",\"private-*\"],\"publish\":[\"*\"],\"exp\":%lld}",
             NOW + 60);
    t = mint(H, p, secret);
    assert_int_equal(verify(t, &tk), HR_TOKEN_OK);
    assert_int_equal(tk->n, 2);
    assert_int_equal(tk->npublish, 1);
    assert_true(hr_token_allows(tk, "private-x", 9));
    assert_false(hr_token_allows(tk, "b", 1));
    assert_true(hr_token_allows_publish(tk, "b", 1));
    assert_true(hr_token_allows_publish(tk, "private-x", 9));
    assert_int_equal(tk->channels[1].len, 9);
    assert_memory_equal(tk->publish[0].p, "*", 1);
    free(tk);
    free(t);
}

static void test_base64url(void **state)
{
    uint8_t out[16];
    assert_int_equal(hr_base64url_decode("", 0, out), 0);
    assert_int_equal(hr_base64url_decode("YQ", 2, out), 1);
    assert_memory_equal(out, "a", 1);
    assert_int_equal(hr_base64url_decode("YWI", 3, out), 2);
    assert_int_equal(hr_base64url_decode("YWJj", 4, out), 3);
    assert_memory_equal(out, "abc", 3);
    assert_int_equal(hr_base64url_decode("-_8", 3, out), 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(hr_base64url_decode("YR", 2, out), -1); /* stray bits */
    assert_int_equal(hr_base64url_decode("YWI", 3, out), 2);
    assert_int_equal(hr_base64url_decode("YWJ", 3, out), -1); /* stray bits */
    assert_int_equal(hr_base64url_decode("Y", 1, out), -1);
    assert_int_equal(hr_base64url_decode("YQ==", 4, out), -1); /* padding */
    assert_int_equal(hr_base64url_decode("+/8", 3, out), -1);  /* base64, not url */
    assert_int_equal(hr_base64url_decode("Y\0", 2, out), -1);
}

static void test_is_private(void **state)
{
    assert_true(hr_token_is_private("private-", "private-x", 9));
    assert_true(hr_token_is_private("private-", "private-", 8));
    assert_false(hr_token_is_private("private-", "privatex", 8));
    assert_false(hr_token_is_private("private-", "public", 6));
    assert_false(hr_token_is_private("", "private-x", 9));
    assert_true(hr_token_is_private("user-*, private-", "private-x", 9));
    assert_true(hr_token_is_private("user-*, private-", "user-1", 6));
    assert_false(hr_token_is_private("user-*, private-", "use", 3));
    assert_false(hr_token_is_private(",,", "x", 1));
    assert_false(hr_token_is_private(" , ", "x", 1));
    assert_true(hr_token_is_private("*", "anything", 8));
    assert_true(hr_token_is_private("a,*", "b", 1));
}

static void test_strerror(void **state)
{
    for (int s = HR_TOKEN_OK; s <= HR_TOKEN_NO_SECRET; s++)
        assert_non_null(hr_token_strerror(s));
    assert_string_equal(hr_token_strerror(99), "invalid token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),     cmocka_unit_test(test_alg),
        cmocka_unit_test(test_signature), cmocka_unit_test(test_time),
        cmocka_unit_test(test_claims),    cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_base64url), cmocka_unit_test(test_is_private),
        cmocka_unit_test(test_strerror),  cmocka_unit_test(test_publish_claim),
        cmocka_unit_test(test_sub_claim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
