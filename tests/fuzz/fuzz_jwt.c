/* SPDX-License-Identifier: MIT
 * fuzz_jwt.c: libFuzzer harness for relay/src/codec/jwt.c. The first byte
 * picks what the rest is:
 *  0: a key and a token (the next byte is the key's length): the key is
 *     loaded as HS256 and as RS256 (the PEM decoder on fuzzed text), the
 *     token verified with it and with the fixed keys; nothing may crash,
 *     and a payload comes back exactly when the status is OK;
 *  1: a payload signed here with the fixed HS256 key: it must never fail
 *     on its signature or algorithm, and one flipped signature bit must
 *     always be refused; OK only when the payload is a JSON object;
 *  2: a header signed with the fixed HS256 key: OK only if it names HS256
 *     exactly and has no crit;
 *  3: a payload signed with the fixed RSA key (RS256; slow, so rarer in
 *     practice as libFuzzer weighs by speed): as 1, for RS256.
 * Any mismatch aborts. */
#include "codec/jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_jwt: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW  1700000000LL
#define SKEW 30
static const char secret[] = "fuzz-secret";
static hr_jwt_key_t *hs_key, *rs_key;
static EVP_PKEY *rsa;

static size_t b64url(const uint8_t *s, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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
    return o;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[160];
    if (hr_jwt_key_new("HS256", secret, sizeof secret - 1, &hs_key, err, sizeof err) != 0)
        abort();
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    CHECK(rsa != NULL);
    /* The public half as SubjectPublicKeyInfo PEM. */
    unsigned char *der = NULL;
    int dl = i2d_PUBKEY(rsa, &der);
    CHECK(dl > 0);
    char pem[2048];
    size_t n = (size_t)snprintf(pem, sizeof pem, "-----BEGIN PUBLIC KEY-----\n");
    unsigned char b64[1024];
    int bl = EVP_EncodeBlock(b64, der, dl);
    for (int i = 0; i < bl; i += 64)
        n +=
            (size_t)snprintf(pem + n, sizeof pem - n, "%.*s\n", bl - i < 64 ? bl - i : 64, b64 + i);
    n += (size_t)snprintf(pem + n, sizeof pem - n, "-----END PUBLIC KEY-----\n");
    OPENSSL_free(der);
    if (hr_jwt_key_new("RS256", pem, n, &rs_key, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_jwt: %s\n", err);
        abort();
    }
    return 0;
}

static int verify(const char *tok, size_t len, const hr_jwt_key_t *k)
{
    json_t *p = NULL;
    int st = hr_jwt_verify(tok, len, k, NOW, SKEW, &p);
    CHECK(st >= HR_JWT_OK && st <= HR_JWT_CLAIMS);
    CHECK((st == HR_JWT_OK) == (p != NULL));
    CHECK(p == NULL || json_is_object(p));
    json_decref(p);
    return st;
}

/* header.payload.signature: b64url(h).b64url(p). signed by hs_key's secret
 * or the RSA key. Returns the length; *sig the signature's offset. */
static size_t sign(const uint8_t *h, size_t hl, const uint8_t *p, size_t pl, int rs, char *out,
                   size_t *sig)
{
    size_t n = b64url(h, hl, out);
    out[n++] = '.';
    n += b64url(p, pl, out + n);
    uint8_t mac[512];
    size_t ml = 0;
    if (rs) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ml = sizeof mac;
        CHECK(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, rsa) == 1);
        CHECK(EVP_DigestSign(ctx, mac, &ml, (uint8_t *)out, n) == 1);
        EVP_MD_CTX_free(ctx);
    } else {
        unsigned int l = 0;
        HMAC(EVP_sha256(), secret, sizeof secret - 1, (uint8_t *)out, n, mac, &l);
        ml = l;
    }
    out[n++] = '.';
    *sig = n;
    return n + b64url(mac, ml, out + n);
}

/* What check_times allows: exp/nbf absent or numbers within range. */
static int expect_ok(json_t *c)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)))
        return 0;
    if (exp && json_number_value(exp) < (double)(NOW - SKEW) - 1)
        return 0;
    if (nbf && json_number_value(nbf) > (double)(NOW + SKEW) + 1)
        return 0;
    return -1; /* probably OK; the boundary is the unit tests' */
}

static void signed_payload(const uint8_t *d, size_t n, int rs)
{
    static const char h_hs[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char h_rs[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    const char *h = rs ? h_rs : h_hs;
    char *tok = malloc(n * 4 / 3 + 1024);
    size_t sig;
    size_t tl = sign((const uint8_t *)h, strlen(h), d, n, rs, tok, &sig);
    const hr_jwt_key_t *k = rs ? rs_key : hs_key;
    int st = verify(tok, tl, k);
    CHECK(st != HR_JWT_SIGNATURE && st != HR_JWT_ALG && st != HR_JWT_MISSING);
    if (tl > HR_JWT_MAX) {
        CHECK(st == HR_JWT_MALFORMED);
    } else {
        json_t *c = n ? json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(c))
            CHECK(st == HR_JWT_MALFORMED);
        else if (expect_ok(c) == 0)
            CHECK(st != HR_JWT_OK);
        json_decref(c);
    }
    /* The other key: refused on the algorithm (an empty payload or too
     * long a token: on the shape, first). */
    int shape = tl > HR_JWT_MAX || n == 0;
    CHECK(verify(tok, tl, rs ? hs_key : rs_key) == (shape ? HR_JWT_MALFORMED : HR_JWT_ALG));
    if (n > 0 && tl > sig) {
        tok[sig + d[0] % (tl - sig)] ^= 0x01;
        CHECK(verify(tok, tl, k) != HR_JWT_OK);
    }
    free(tok);
}

static void signed_header(const uint8_t *d, size_t n)
{
    static const char p[] = "{\"exp\":1700000100}";
    char *tok = malloc(n * 4 / 3 + 1024);
    size_t sig;
    size_t tl = sign(d, n, (const uint8_t *)p, sizeof p - 1, 0, tok, &sig);
    int st = verify(tok, tl, hs_key);
    CHECK(st != HR_JWT_SIGNATURE);
    if (st == HR_JWT_OK) {
        json_t *h = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL);
        CHECK(json_is_object(h));
        json_t *alg = json_object_get(h, "alg");
        CHECK(json_is_string(alg) && json_string_length(alg) == 5 &&
              memcmp(json_string_value(alg), "HS256", 5) == 0);
        CHECK(json_object_get(h, "crit") == NULL);
        json_decref(h);
    }
    free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: {
        size_t kl = n ? d[0] : 0;
        if (n)
            d++, n--;
        if (kl > n)
            kl = n;
        const char *tok = (const char *)d + kl;
        size_t tl = n - kl;
        hr_jwt_key_t *k = NULL;
        char err[160];
        if (hr_jwt_key_new("HS256", (const char *)d, kl, &k, err, sizeof err) == 0) {
            CHECK(kl > 0);
            verify(tok, tl, k);
            hr_jwt_key_free(k);
        }
        /* The PEM decoder on the whole rest (a PEM is longer than 255). */
        if (hr_jwt_key_new("RS256", (const char *)d, n, &k, err, sizeof err) == 0) {
            CHECK(strcmp(hr_jwt_key_alg(k), "RS256") == 0);
            verify(tok, tl, k);
            hr_jwt_key_free(k);
        }
        verify(tok, tl, hs_key);
        verify(tok, tl, rs_key);
        verify((const char *)d, n, hs_key);
        break;
    }
    case 1:
        signed_payload(d, n, 0);
        break;
    case 2:
        signed_header(d, n);
        break;
    case 3:
        signed_payload(d, n, 1);
        break;
    }
    return 0;
}
