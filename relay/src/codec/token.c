/* SPDX-License-Identifier: MIT
 * token.c: HS256 JWT verification for private channels and the publish API
 * (token.h), on the compact-JWS parts of codec/jwt.c. The
 * order of checks is the point: shape and length, then the header's alg
 * (HS256 only), then the HMAC in constant time, and only then the claims,
 * so nothing an attacker can send without the secret reaches more than
 * the base64url decoder and a small JSON header. */
#include "codec/token.h"
#include "codec/jwt.h"
#include "base/opt.h"
#include "codec/channel_name.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int check_header(const char *p, size_t len)
{
    json_t *h = hr_jwt_decode_part(p, len);
    if (h == NULL)
        return HR_TOKEN_MALFORMED;
    int st = HR_TOKEN_OK;
    json_t *alg = json_object_get(h, "alg");
    json_t *typ = json_object_get(h, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5)
        st = HR_TOKEN_ALG;
    else if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0 ||
                     json_string_length(typ) != 3))
        st = HR_TOKEN_MALFORMED;
    else if (json_object_get(h, "crit"))
        st = HR_TOKEN_ALG; /* RFC 7515 4.1.11: extensions we do not know */
    json_decref(h);
    return st;
}

/* A "channels" or "publish" entry: a channel name, or a prefix of one followed by '*'
 * ("*" alone allows every channel: the application's choice). */
static int entry_valid(const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '*')
        return len == 1 || hr_chan_name_valid(s, len - 1);
    return hr_chan_name_valid(s, len);
}

/* A list claim ("channels", "publish"): absent (0, *n 0), or a non-empty
 * array of at most HR_TOKEN_MAX_CHANNELS valid entries (0, *n and *bytes
 * set); anything else is -1. */
static int list_claim(json_t *v, size_t *n, size_t *bytes)
{
    *n = 0;
    if (v == NULL)
        return 0;
    size_t k = json_is_array(v) ? json_array_size(v) : 0;
    if (k == 0 || k > HR_TOKEN_MAX_CHANNELS)
        return -1;
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || !entry_valid(json_string_value(e), json_string_length(e)))
            return -1;
        *bytes += json_string_length(e);
    }
    *n = k;
    return 0;
}

/* Copy a list claim's entries into out[] and their bytes to *dst. */
static void copy_list(json_t *v, size_t n, hr_slice_t *out, char **dst)
{
    for (size_t i = 0; i < n; i++) {
        json_t *en = json_array_get(v, i);
        size_t l = json_string_length(en);
        memcpy(*dst, json_string_value(en), l);
        out[i] = (hr_slice_t){*dst, l};
        *dst += l;
    }
}

static int parse_claims(const char *p, size_t len, int64_t now, long skew, hr_token_t **out)
{
    json_t *c = hr_jwt_decode_part(p, len);
    if (c == NULL)
        return HR_TOKEN_MALFORMED;
    int st = HR_TOKEN_CLAIMS;
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    json_t *chs = json_object_get(c, "channels"), *pubs = json_object_get(c, "publish");
    json_t *sub = json_object_get(c, "sub");
    size_t n = 0, np = 0, bytes = 0;
    if (sub && !json_is_string(sub))
        goto out;
    size_t sublen = sub ? json_string_length(sub) : 0;
    bytes += sublen;
    if (!json_is_integer(exp) || (nbf && !json_is_integer(nbf)) ||
        list_claim(chs, &n, &bytes) != 0 || list_claim(pubs, &np, &bytes) != 0 || n + np == 0)
        goto out;
    /* Subtractions, not additions: exp and nbf come from the token and may
     * sit at the ends of the range; now and skew are ours and small. */
    int64_t e = json_integer_value(exp), b = nbf ? json_integer_value(nbf) : 0;
    if (e < now - skew) {
        st = HR_TOKEN_EXPIRED;
        goto out;
    }
    if (nbf && b > now + skew) {
        st = HR_TOKEN_NOT_YET;
        goto out;
    }
    hr_token_t *t = hr_xmalloc(sizeof *t + (n + np) * sizeof t->entries[0] + bytes);
    char *dst = (char *)&t->entries[n + np];
    t->exp = e;
    t->nbf = b;
    t->n = n;
    t->channels = t->entries;
    t->npublish = np;
    t->publish = t->entries + n;
    copy_list(chs, n, t->entries, &dst);
    copy_list(pubs, np, t->entries + n, &dst);
    t->sub = (hr_slice_t){NULL, 0};
    if (sub) {
        memcpy(dst, json_string_value(sub), sublen);
        t->sub = (hr_slice_t){dst, sublen};
    }
    *out = t;
    st = HR_TOKEN_OK;
out:
    json_decref(c);
    return st;
}

int hr_token_verify(const char *tok, size_t len, const uint8_t *secret, size_t secret_len,
                    int64_t now, long skew, hr_token_t **out)
{
    *out = NULL;
    if (secret == NULL || secret_len == 0)
        return HR_TOKEN_NO_SECRET;
    if (tok == NULL || len == 0)
        return HR_TOKEN_MISSING;
    if (len > HR_TOKEN_MAX)
        return HR_TOKEN_MALFORMED;
    const char *d1 = memchr(tok, '.', len);
    if (d1 == NULL)
        return HR_TOKEN_MALFORMED;
    const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
        return HR_TOKEN_MALFORMED;
    size_t hlen = (size_t)(d1 - tok), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - tok);
    if (hlen == 0 || plen == 0)
        return HR_TOKEN_MALFORMED;
    int st = check_header(tok, hlen);
    if (st != HR_TOKEN_OK)
        return st;

    /* HMAC-SHA256 over "header.payload" as sent. A signature of any other
     * length than 43 characters (32 bytes) cannot match. */
    uint8_t sig[48], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (slen != 43 || hr_base64url_decode(d2 + 1, slen, sig) != 32)
        return HR_TOKEN_SIGNATURE;
    if (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)tok, (size_t)(d2 - tok),
             mac, &maclen) == NULL ||
        maclen != 32)
        return HR_TOKEN_SIGNATURE;
    if (CRYPTO_memcmp(sig, mac, 32) != 0)
        return HR_TOKEN_SIGNATURE;
    return parse_claims(d1 + 1, plen, now, skew, out);
}

static int list_allows(const hr_slice_t *list, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        hr_slice_t e = list[i];
        if (e.len > 0 && e.p[e.len - 1] == '*') {
            if (len >= e.len - 1 && memcmp(name, e.p, e.len - 1) == 0)
                return 1;
        } else if (e.len == len && memcmp(name, e.p, len) == 0) {
            return 1;
        }
    }
    return 0;
}

int hr_token_allows(const hr_token_t *t, const char *name, size_t len)
{
    return t != NULL && list_allows(t->channels, t->n, name, len);
}

int hr_token_allows_publish(const hr_token_t *t, const char *name, size_t len)
{
    return t != NULL && list_allows(t->publish, t->npublish, name, len);
}

int hr_token_is_private(const char *prefixes, const char *name, size_t len)
{
    const char *p = prefixes, *s;
    size_t n;
    while (hr_opt_list_next(&p, &s, &n)) {
        int star = n && s[n - 1] == '*';
        n -= (size_t)star;
        /* An empty entry (",," or "*") would make every channel private;
         * say so with a pattern that means it, not by accident. */
        if (n > 0 && len >= n && memcmp(name, s, n) == 0)
            return 1;
        if (n == 0 && star)
            return 1;
    }
    return 0;
}

const char *hr_token_strerror(int status)
{
    switch (status) {
    case HR_TOKEN_OK:
        return "ok";
    case HR_TOKEN_MISSING:
        return "token required";
    case HR_TOKEN_MALFORMED:
        return "malformed token";
    case HR_TOKEN_ALG:
        return "token algorithm not accepted";
    case HR_TOKEN_SIGNATURE:
        return "invalid token signature";
    case HR_TOKEN_EXPIRED:
        return "token expired";
    case HR_TOKEN_NOT_YET:
        return "token not yet valid";
    case HR_TOKEN_CLAIMS:
        return "invalid token claims";
    case HR_TOKEN_NO_SECRET:
        return "private channels are not configured (no secret)";
    }
    return "invalid token";
}
