/* SPDX-License-Identifier: MIT
 * fuzz_pusher_sig.c: libFuzzer harness for relay/src/codec/pusher_sig.c, the
 * query and signature of a Pusher HTTP API request. The input is a query
 * string. A parsed query must hold sorted, distinct, lowercase keys with no
 * NUL, all inside its arena; the signed string must be the same whatever
 * room it is given; and the query rebuilt from the parse (every byte
 * escaped, shuffled, a valid auth_key/timestamp/version/signature added)
 * must parse to the same parameters and pass the check, while a one-byte
 * change of its signature must not. Any violation aborts. */
#include "codec/pusher_auth.h"
#include "codec/pusher_sig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_pusher_sig: %s:%d: check failed: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define KEY    "app-key"
#define SECRET "app-secret"
#define NOW    1700000000

static int is_auth(hr_slice_t k)
{
    return k.len >= 5 && memcmp(k.p, "auth_", 5) == 0;
}

static size_t escape(char *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hr_pusher_query_t q, r;
    char err[1200];
    if (hr_pusher_query_parse((const char *)data, size, &q, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        return 0;
    }
    CHECK(q.n <= HR_PUSHER_QUERY_PARAMS && q.used <= sizeof q.arena);
    for (size_t i = 0; i < q.n; i++) {
        hr_pusher_param_t *p = &q.params[i];
        CHECK(p->key.p >= q.arena && p->key.p + p->key.len <= q.arena + q.used);
        CHECK(p->val.p >= q.arena && p->val.p + p->val.len <= q.arena + q.used);
        CHECK(memchr(p->key.p, 0, p->key.len) == NULL && memchr(p->val.p, 0, p->val.len) == NULL);
        for (size_t j = 0; j < p->key.len; j++)
            CHECK(p->key.p[j] < 'A' || p->key.p[j] > 'Z');
        if (i > 0) {
            hr_pusher_param_t *a = &q.params[i - 1];
            size_t n = a->key.len < p->key.len ? a->key.len : p->key.len;
            int c = memcmp(a->key.p, p->key.p, n);
            CHECK(c < 0 || (c == 0 && a->key.len < p->key.len));
        }
    }
    hr_slice_t m = {"POST", 4}, path = {"/apps/1/events", 14};
    static char full[8192], small[16];
    size_t n1 = hr_pusher_sig_string(m, path, &q, full, sizeof full);
    size_t n2 = hr_pusher_sig_string(m, path, &q, small, sizeof small);
    CHECK(n1 == n2);
    if (n1 < sizeof full)
        CHECK(strlen(full) == n1);

    /* Rebuild: the non-auth parameters escaped, in reverse order, then a
     * valid signature over them. */
    static char rq[3 * HR_PUSHER_QUERY_BYTES + 1024];
    size_t o = 0;
    size_t kept = 0;
    for (size_t i = q.n; i-- > 0;) {
        hr_pusher_param_t *p = &q.params[i];
        if (is_auth(p->key))
            continue;
        o += escape(rq + o, p->key.p, p->key.len);
        rq[o++] = '=';
        o += escape(rq + o, p->val.p, p->val.len);
        rq[o++] = '&';
        kept++;
    }
    if (kept + 3 > HR_PUSHER_QUERY_PARAMS || q.used + 64 > sizeof q.arena)
        return 0;
    o += (size_t)snprintf(rq + o, sizeof rq - o,
                          "auth_key=" KEY "&auth_timestamp=%d&auth_version=1.0", NOW);
    if (hr_pusher_query_parse(rq, o, &r, err, sizeof err) != 0)
        return 0; /* the auth_ parameters made it too long */
    CHECK(r.n == kept + 3);
    size_t need = hr_pusher_sig_string(m, path, &r, NULL, 0);
    char *str = malloc(need + 1);
    hr_pusher_sig_string(m, path, &r, str, need + 1);
    char sig[HR_PUSHER_HEX_LEN + 1];
    hr_pusher_hmac_hex(SECRET, strlen(SECRET), str, need, sig);
    free(str);
    o += (size_t)snprintf(rq + o, sizeof rq - o, "&auth_signature=%s", sig);
    if (hr_pusher_query_parse(rq, o, &r, err, sizeof err) != 0)
        return 0;
    CHECK(hr_pusher_sig_check(&r, m, path, KEY, SECRET, NOW, 600, err, sizeof err) == HR_PSIG_OK);
    rq[o - 1] = rq[o - 1] == '0' ? '1' : '0';
    CHECK(hr_pusher_query_parse(rq, o, &r, err, sizeof err) == 0);
    CHECK(hr_pusher_sig_check(&r, m, path, KEY, SECRET, NOW, 600, err, sizeof err) ==
          HR_PSIG_BAD_SIGNATURE);
    return 0;
}
