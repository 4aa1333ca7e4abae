/* SPDX-License-Identifier: MIT
 * fuzz_token.c: libFuzzer harness for relay/src/codec/token.c. Three checks per
 * input:
 *  1. the input as a token, verified with a fixed secret: it must not crash,
 *     and whatever verifies must hold only valid channel entries;
 *  2. the input as a claims payload, signed here with the same secret: a
 *     signed token must never fail on its signature or algorithm, and one
 *     flipped signature bit must always be refused;
 *  3. base64url: encoding the input and decoding it gives the input back.
 * Any mismatch aborts. */
#include "core/chan.h"
#include "codec/token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_token: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const uint8_t secret[] = "fuzz-secret";
#define NOW 1700000000LL

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

/* Each entry of a list is valid and allows itself through allows(); the
 * two lists grant separately (an exact entry of one list is allowed by the
 * other only if that list has a matching entry of its own). */
static void check_list(const hr_token_t *t, const hr_slice_t *list, size_t n,
                       const hr_slice_t *other, size_t nother,
                       int (*allows)(const hr_token_t *, const char *, size_t),
                       int (*other_allows)(const hr_token_t *, const char *, size_t))
{
    CHECK(n <= HR_TOKEN_MAX_CHANNELS);
    for (size_t i = 0; i < n; i++) {
        hr_slice_t e = list[i];
        int star = e.len > 0 && e.p[e.len - 1] == '*';
        CHECK(star ? (e.len == 1 || hr_chan_name_valid(e.p, e.len - 1))
                   : hr_chan_name_valid(e.p, e.len));
        if (star)
            continue;
        CHECK(allows(t, e.p, e.len));
        int matched = 0;
        for (size_t j = 0; j < nother && !matched; j++) {
            hr_slice_t o = other[j];
            if (o.len > 0 && o.p[o.len - 1] == '*')
                matched = e.len >= o.len - 1 && memcmp(e.p, o.p, o.len - 1) == 0;
            else
                matched = o.len == e.len && memcmp(o.p, e.p, e.len) == 0;
        }
        CHECK(other_allows(t, e.p, e.len) == matched);
    }
}

static void check_claims(const hr_token_t *t)
{
    CHECK(t->n + t->npublish > 0);
    CHECK(t->n == 0 || t->channels != NULL);
    CHECK(t->npublish == 0 || t->publish != NULL);
    check_list(t, t->channels, t->n, t->publish, t->npublish, hr_token_allows,
               hr_token_allows_publish);
    check_list(t, t->publish, t->npublish, t->channels, t->n, hr_token_allows_publish,
               hr_token_allows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hr_token_t *t = NULL;

    /* 1. The input as a token. */
    int st = hr_token_verify((const char *)data, size, secret, sizeof secret - 1, NOW, 30, &t);
    CHECK((st == HR_TOKEN_OK) == (t != NULL));
    if (t)
        check_claims(t);
    free(t);
    t = NULL;

    /* 2. The input as claims, signed. */
    if (size <= 2048) {
        static const char h[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; /* HS256, JWT */
        char *tok = malloc(sizeof h + size * 4 / 3 + 64);
        size_t n = sizeof h - 1;
        memcpy(tok, h, n);
        tok[n++] = '.';
        n += b64url(data, size, tok + n);
        uint8_t mac[32];
        unsigned int ml = 0;
        HMAC(EVP_sha256(), secret, sizeof secret - 1, (uint8_t *)tok, n, mac, &ml);
        tok[n++] = '.';
        size_t sig = n;
        n += b64url(mac, 32, tok + n);
        st = hr_token_verify(tok, n, secret, sizeof secret - 1, NOW, 30, &t);
        CHECK(st != HR_TOKEN_SIGNATURE && st != HR_TOKEN_ALG && st != HR_TOKEN_NO_SECRET);
        CHECK((st == HR_TOKEN_OK) == (t != NULL));
        if (t)
            check_claims(t);
        free(t);
        t = NULL;
        if (size > 0) {
            tok[sig + data[0] % 42] ^= 0x01; /* a base64url character's low bit */
            st = hr_token_verify(tok, n, secret, sizeof secret - 1, NOW, 30, &t);
            CHECK(st != HR_TOKEN_OK && t == NULL);
        }
        free(tok);
    }

    /* 3. base64url round trip. */
    char *enc = malloc(size * 4 / 3 + 4);
    uint8_t *dec = malloc(size + 4);
    size_t el = b64url(data, size, enc);
    ssize_t dl = hr_base64url_decode(enc, el, dec);
    CHECK(dl == (ssize_t)size && memcmp(dec, data, size) == 0);
    /* And decoding arbitrary text never writes past len * 3 / 4 + 1. */
    uint8_t *raw = malloc(size * 3 / 4 + 1);
    (void)hr_base64url_decode((const char *)data, size, raw);
    free(raw);
    free(enc);
    free(dec);

    /* Private-prefix matching on arbitrary lists must not crash. */
    if (size > 0) {
        size_t cut = data[0] % size;
        char *list = malloc(cut + 1);
        memcpy(list, data, cut);
        list[cut] = '\0';
        (void)hr_token_is_private(list, (const char *)data + cut, size - cut);
        free(list);
    }
    return 0;
}
