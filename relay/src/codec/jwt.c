/* SPDX-License-Identifier: MIT
 * jwt.c: compact JWS verification with one pinned algorithm per key
 * (jwt.h). The base64url decoder is token.c's (strict: no padding, unused
 * bits zero), so a token has one encoding and cannot be varied without
 * changing its signature input. */
#include "codec/jwt.h"

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ALG_HS256 = 1, ALG_RS256 };

struct hr_jwt_key {
    int alg;
    uint8_t *secret; /* HS256 */
    size_t secret_len;
    EVP_PKEY *pkey; /* RS256 */
};

static int has(const char *s, size_t len, const char *what)
{
    return memmem(s, len, what, strlen(what)) != NULL;
}

static int rsa_key(const char *pem, size_t len, EVP_PKEY **out, char *err, size_t errlen)
{
    /* A public key only: a private key here means the wrong file was
     * configured, and it would sit in the relay's memory for nothing. */
    if (has(pem, len, "PRIVATE KEY") || !(has(pem, len, "-----BEGIN PUBLIC KEY-----") ||
                                          has(pem, len, "-----BEGIN RSA PUBLIC KEY-----"))) {
        snprintf(err, errlen,
                 "RS256 needs a PEM RSA public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)");
        return -1;
    }
    EVP_PKEY *pkey = NULL;
    /* No structure named: the PEM decoder takes both SubjectPublicKeyInfo
     * and PKCS#1 ("type-specific") bodies. */
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    const unsigned char *p = (const unsigned char *)pem;
    size_t left = len;
    int ok = dctx != NULL && OSSL_DECODER_from_data(dctx, &p, &left) == 1 && pkey != NULL;
    OSSL_DECODER_CTX_free(dctx);
    ERR_clear_error();
    if (!ok || !EVP_PKEY_is_a(pkey, "RSA")) {
        EVP_PKEY_free(pkey);
        snprintf(err, errlen, "RS256 key is not a readable PEM RSA public key");
        return -1;
    }
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < HR_JWT_RSA_MIN_BITS) {
        EVP_PKEY_free(pkey);
        snprintf(err, errlen, "RS256 key has %d bits: at least %d are required", bits,
                 HR_JWT_RSA_MIN_BITS);
        return -1;
    }
    *out = pkey;
    return 0;
}

int hr_jwt_key_new(const char *alg, const char *key, size_t len, hr_jwt_key_t **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    if (alg != NULL && strcmp(alg, "HS256") == 0) {
        if (key == NULL || len == 0) {
            snprintf(err, errlen, "HS256 key is empty");
            return -1;
        }
        hr_jwt_key_t *k = hr_xcalloc(1, sizeof *k);
        k->alg = ALG_HS256;
        k->secret = hr_xmalloc(len);
        memcpy(k->secret, key, len);
        k->secret_len = len;
        *out = k;
        return 0;
    }
    if (alg != NULL && strcmp(alg, "RS256") == 0) {
        EVP_PKEY *pkey = NULL;
        if (key == NULL || rsa_key(key, len, &pkey, err, errlen) != 0)
            return -1;
        hr_jwt_key_t *k = hr_xcalloc(1, sizeof *k);
        k->alg = ALG_RS256;
        k->pkey = pkey;
        *out = k;
        return 0;
    }
    snprintf(err, errlen, "JWT algorithm must be HS256 or RS256");
    return -1;
}

void hr_jwt_key_free(hr_jwt_key_t *k)
{
    if (k == NULL)
        return;
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        free(k->secret);
    }
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *hr_jwt_key_alg(const hr_jwt_key_t *k)
{
    return k->alg == ALG_HS256 ? "HS256" : "RS256";
}

static const int8_t b64url[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
}; /* value + 1; 0 marks a byte outside the alphabet */

ssize_t hr_base64url_decode(const char *in, size_t len, uint8_t *out)
{
    /* A lone trailing character carries 6 bits: never a whole byte. */
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url[(uint8_t)in[i]];
        if (v == 0)
            return -1;
        acc = (acc << 6) | (uint32_t)(v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Unused bits must be zero: one encoding per byte string, so a token
     * cannot be varied without changing its signature input. */
    if (acc != 0)
        return -1;
    return (ssize_t)o;
}

json_t *hr_jwt_decode_part(const char *p, size_t len)
{
    uint8_t *buf = hr_xmalloc(len * 3 / 4 + 1);
    ssize_t n = hr_base64url_decode(p, len, buf);
    json_t *o = NULL;
    if (n > 0)
        o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static int check_header(const char *p, size_t len, const hr_jwt_key_t *key)
{
    json_t *h = hr_jwt_decode_part(p, len);
    if (h == NULL)
        return HR_JWT_MALFORMED;
    const char *want = hr_jwt_key_alg(key);
    json_t *alg = json_object_get(h, "alg");
    int st = HR_JWT_OK;
    if (!json_is_string(alg) || json_string_length(alg) != strlen(want) ||
        memcmp(json_string_value(alg), want, strlen(want)) != 0)
        st = HR_JWT_ALG;
    else if (json_object_get(h, "crit"))
        st = HR_JWT_ALG; /* RFC 7515 4.1.11: extensions we do not know */
    json_decref(h);
    return st;
}

static int check_hs256(const hr_jwt_key_t *key, const char *input, size_t inlen, const char *s,
                       size_t slen)
{
    /* Any other length than 43 characters (32 bytes) cannot match. */
    uint8_t sig[48], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (slen != 43 || hr_base64url_decode(s, slen, sig) != 32)
        return HR_JWT_SIGNATURE;
    if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len, (const unsigned char *)input, inlen,
             mac, &maclen) == NULL ||
        maclen != 32)
        return HR_JWT_SIGNATURE;
    return CRYPTO_memcmp(sig, mac, 32) == 0 ? HR_JWT_OK : HR_JWT_SIGNATURE;
}

static int check_rs256(const hr_jwt_key_t *key, const char *input, size_t inlen, const char *s,
                       size_t slen)
{
    uint8_t sig[HR_JWT_MAX * 3 / 4 + 1];
    ssize_t n = hr_base64url_decode(s, slen, sig);
    if (n <= 0 || n != EVP_PKEY_get_size(key->pkey))
        return HR_JWT_SIGNATURE;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, (size_t)n, (const unsigned char *)input, inlen) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); /* a bad signature leaves a reason on the thread's queue */
    return ok ? HR_JWT_OK : HR_JWT_SIGNATURE;
}

/* exp and nbf: absent, or numbers. Integers are compared exactly, reals
 * as doubles. Subtractions on our side: the token's values may sit at the
 * ends of the range, now and skew are ours and small. */
static int check_times(json_t *c, int64_t now, long skew)
{
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)))
        return HR_JWT_CLAIMS;
    int64_t lo = now - skew, hi = now + skew;
    if (exp &&
        (json_is_integer(exp) ? json_integer_value(exp) < lo : json_real_value(exp) < (double)lo))
        return HR_JWT_EXPIRED;
    if (nbf &&
        (json_is_integer(nbf) ? json_integer_value(nbf) > hi : json_real_value(nbf) > (double)hi))
        return HR_JWT_NOT_YET;
    return HR_JWT_OK;
}

int hr_jwt_verify(const char *tok, size_t len, const hr_jwt_key_t *key, int64_t now, long skew,
                  json_t **payload)
{
    *payload = NULL;
    if (tok == NULL || len == 0)
        return HR_JWT_MISSING;
    if (key == NULL)
        return HR_JWT_ALG;
    if (len > HR_JWT_MAX)
        return HR_JWT_MALFORMED;
    const char *d1 = memchr(tok, '.', len);
    if (d1 == NULL)
        return HR_JWT_MALFORMED;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
        return HR_JWT_MALFORMED;
    size_t hlen = (size_t)(d1 - tok), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - tok);
    if (hlen == 0 || plen == 0)
        return HR_JWT_MALFORMED;
    int st = check_header(tok, hlen, key);
    if (st != HR_JWT_OK)
        return st;
    /* The signature covers "header.payload" as sent. */
    size_t inlen = (size_t)(d2 - tok);
    st = key->alg == ALG_HS256 ? check_hs256(key, tok, inlen, d2 + 1, slen)
                               : check_rs256(key, tok, inlen, d2 + 1, slen);
    if (st != HR_JWT_OK)
        return st;
    json_t *c = hr_jwt_decode_part(d1 + 1, plen);
    if (c == NULL)
        return HR_JWT_MALFORMED;
    st = check_times(c, now, skew);
    if (st != HR_JWT_OK) {
        json_decref(c);
        return st;
    }
    *payload = c;
    return HR_JWT_OK;
}

const char *hr_jwt_strerror(int status)
{
    switch (status) {
    case HR_JWT_OK:
        return "ok";
    case HR_JWT_MISSING:
        return "token required";
    case HR_JWT_MALFORMED:
        return "malformed token";
    case HR_JWT_ALG:
        return "token algorithm not accepted";
    case HR_JWT_SIGNATURE:
        return "invalid token signature";
    case HR_JWT_EXPIRED:
        return "token expired";
    case HR_JWT_NOT_YET:
        return "token not yet valid";
    case HR_JWT_CLAIMS:
        return "invalid token claims";
    }
    return "invalid token";
}
