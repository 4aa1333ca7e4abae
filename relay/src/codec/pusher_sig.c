/* SPDX-License-Identifier: MIT
 * pusher_sig.c: Pusher HTTP API request signatures (pusher_sig.h). */
#include "codec/pusher_sig.h"
#include "codec/pusher_auth.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..len) onto the arena; -1 on a bad escape, a NUL or no room. */
static int decode(hr_pusher_query_t *q, const char *s, size_t len, int lower, hr_slice_t *out)
{
    char *o = q->arena + q->used;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || q->used + w >= sizeof q->arena)
            return -1;
        if (lower && c >= 'A' && c <= 'Z')
            c += 32;
        o[w++] = (char)c;
    }
    *out = (hr_slice_t){o, w};
    q->used += w;
    return 0;
}

static int slice_cmp(hr_slice_t a, hr_slice_t b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = memcmp(a.p, b.p, n);
    if (r != 0)
        return r;
    return a.len < b.len ? -1 : a.len > b.len;
}

int hr_pusher_query_parse(const char *s, size_t len, hr_pusher_query_t *q, char *err, size_t errlen)
{
    q->n = q->used = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *amp = memchr(s + pos, '&', len - pos);
        size_t end = amp ? (size_t)(amp - s) : len;
        const char *p = s + pos;
        size_t plen = end - pos;
        pos = end + 1;
        if (plen == 0)
            continue;
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        if (q->n == HR_PUSHER_QUERY_PARAMS) {
            snprintf(err, errlen, "too many query parameters");
            return -1;
        }
        hr_pusher_param_t prm;
        if (decode(q, p, klen, 1, &prm.key) != 0 ||
            decode(q, eq ? eq + 1 : p + plen, eq ? plen - klen - 1 : 0, 0, &prm.val) != 0) {
            snprintf(err, errlen, "malformed query string");
            return -1;
        }
        /* Insert in order: the lists are short. */
        size_t i = q->n;
        while (i > 0) {
            int c = slice_cmp(q->params[i - 1].key, prm.key);
            if (c == 0) {
                snprintf(err, errlen, "query parameter '%.*s' given twice", (int)prm.key.len,
                         prm.key.p);
                return -1;
            }
            if (c < 0)
                break;
            q->params[i] = q->params[i - 1];
            i--;
        }
        q->params[i] = prm;
        q->n++;
    }
    return 0;
}

const hr_slice_t *hr_pusher_query_get(const hr_pusher_query_t *q, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < q->n; i++)
        if (q->params[i].key.len == n && memcmp(q->params[i].key.p, key, n) == 0)
            return &q->params[i].val;
    return NULL;
}

static size_t put(char *out, size_t cap, size_t o, const char *p, size_t n)
{
    if (o < cap) {
        size_t k = cap - o < n ? cap - o : n;
        memcpy(out + o, p, k);
    }
    return o + n;
}

size_t hr_pusher_sig_string(hr_slice_t method, hr_slice_t path, const hr_pusher_query_t *q,
                            char *out, size_t cap)
{
    size_t o = 0;
    o = put(out, cap, o, method.p, method.len);
    o = put(out, cap, o, "\n", 1);
    o = put(out, cap, o, path.p, path.len);
    o = put(out, cap, o, "\n", 1);
    int first = 1;
    for (size_t i = 0; i < q->n; i++) {
        const hr_pusher_param_t *p = &q->params[i];
        if (p->key.len == 14 && memcmp(p->key.p, "auth_signature", 14) == 0)
            continue;
        if (!first)
            o = put(out, cap, o, "&", 1);
        first = 0;
        o = put(out, cap, o, p->key.p, p->key.len);
        o = put(out, cap, o, "=", 1);
        o = put(out, cap, o, p->val.p, p->val.len);
    }
    if (o < cap)
        out[o] = '\0';
    else if (cap > 0)
        out[cap - 1] = '\0';
    return o;
}

void hr_pusher_md5_hex(const void *data, size_t len, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    static const uint8_t empty[1];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_Digest(len ? data : empty, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16) {
        memset(out, 'x', 32); /* matches no hex digest */
        out[32] = '\0';
        return;
    }
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

static int slice_is(const hr_slice_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return s && s->len == n && memcmp(s->p, lit, n) == 0;
}

int hr_pusher_sig_check(const hr_pusher_query_t *q, hr_slice_t method, hr_slice_t path,
                        const char *key, const char *secret, int64_t now, int64_t window, char *err,
                        size_t errlen)
{
    const hr_slice_t *k = hr_pusher_query_get(q, "auth_key");
    if (k == NULL) {
        snprintf(err, errlen, "Missing auth_key");
        return HR_PSIG_NO_KEY;
    }
    if (!hr_pusher_equal(k->p, k->len, key, strlen(key))) {
        snprintf(err, errlen, "Unknown auth_key");
        return HR_PSIG_BAD_KEY;
    }
    const hr_slice_t *t = hr_pusher_query_get(q, "auth_timestamp");
    int64_t ts = 0;
    int digits = t && t->len > 0 && t->len <= 15;
    for (size_t i = 0; digits && i < t->len; i++) {
        if (t->p[i] < '0' || t->p[i] > '9')
            digits = 0;
        else
            ts = ts * 10 + (t->p[i] - '0');
    }
    if (!digits) {
        snprintf(err, errlen, "Missing or invalid auth_timestamp");
        return HR_PSIG_BAD_TIMESTAMP;
    }
    if (ts < now - window || ts > now + window) {
        snprintf(err, errlen,
                 "Timestamp expired: Given timestamp (%lld) not within %lld seconds of server "
                 "time (%lld)",
                 (long long)ts, (long long)window, (long long)now);
        return HR_PSIG_EXPIRED;
    }
    if (!slice_is(hr_pusher_query_get(q, "auth_version"), "1.0")) {
        snprintf(err, errlen, "auth_version must be 1.0");
        return HR_PSIG_BAD_VERSION;
    }
    const hr_slice_t *sig = hr_pusher_query_get(q, "auth_signature");
    if (sig == NULL) {
        snprintf(err, errlen, "Missing auth_signature");
        return HR_PSIG_NO_SIGNATURE;
    }
    char stack[1024];
    size_t need = hr_pusher_sig_string(method, path, q, stack, sizeof stack);
    char *str = need < sizeof stack ? stack : malloc(need + 1);
    if (str == NULL) {
        snprintf(err, errlen, "Invalid signature");
        return HR_PSIG_BAD_SIGNATURE;
    }
    if (str != stack)
        hr_pusher_sig_string(method, path, q, str, need + 1);
    char want[HR_PUSHER_HEX_LEN + 1];
    hr_pusher_hmac_hex(secret, strlen(secret), str, need, want);
    if (str != stack)
        free(str);
    if (!hr_pusher_equal(sig->p, sig->len, want, HR_PUSHER_HEX_LEN)) {
        /* Pusher tells the string it expected signed: the key holder's
         * own debugging aid; it holds no secret. */
        snprintf(err, errlen,
                 "Invalid signature: you should have sent HmacSHA256Hex(\"%.*s\", "
                 "your_secret_key), but you sent \"%.*s\"",
                 need < sizeof stack ? (int)need : 6, need < sizeof stack ? stack : "(long)",
                 (int)(sig->len < 80 ? sig->len : 80), sig->p);
        return HR_PSIG_BAD_SIGNATURE;
    }
    return HR_PSIG_OK;
}

int hr_pusher_sig_body(const hr_pusher_query_t *q, const void *body, size_t len, char *err,
                       size_t errlen)
{
    const hr_slice_t *m = hr_pusher_query_get(q, "body_md5");
    if (m == NULL && len == 0)
        return HR_PSIG_OK;
    char want[33];
    hr_pusher_md5_hex(body, len, want);
    char got[33];
    size_t n = m ? m->len : 0;
    for (size_t i = 0; i < n && i < 32; i++)
        got[i] = (char)(m->p[i] >= 'A' && m->p[i] <= 'F' ? m->p[i] + 32 : m->p[i]);
    if (m == NULL || n != 32 || !hr_pusher_equal(got, 32, want, 32)) {
        snprintf(err, errlen, m ? "body_md5 does not match the body" : "Missing body_md5");
        return HR_PSIG_BAD_MD5;
    }
    return HR_PSIG_OK;
}
