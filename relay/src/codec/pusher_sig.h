/* SPDX-License-Identifier: MIT
 * pusher_sig.h: the signature of a Pusher HTTP API request (Pusher's
 * "Authentication" of the REST API, as pusher-http-node and
 * pusher-php-server sign): the query's auth_key, auth_timestamp,
 * auth_version and body_md5, and auth_signature = hex HMAC-SHA256(secret,
 * "METHOD\nPATH\n" + every other parameter as k=v, keys lowercased, sorted,
 * joined by &, values decoded and unescaped). Pure; fuzzed by
 * tests/fuzz/fuzz_pusher_sig.c. */
#ifndef HR_PUSHER_SIG_H
#define HR_PUSHER_SIG_H

#include "base/common.h"

#include <stdint.h>

#define HR_PUSHER_QUERY_PARAMS 24   /* parameters in one query, at most */
#define HR_PUSHER_QUERY_BYTES  2048 /* decoded query, at most */

typedef struct hr_pusher_param {
    hr_slice_t key, val; /* decoded; key lowercased; into the query's arena */
} hr_pusher_param_t;

typedef struct hr_pusher_query {
    hr_pusher_param_t params[HR_PUSHER_QUERY_PARAMS]; /* sorted by key */
    size_t n, used;
    char arena[HR_PUSHER_QUERY_BYTES];
} hr_pusher_query_t;

/* Decode "k=v&k2=v2" (%XX decoded, '+' is a space, empty pairs skipped)
 * into q, keys lowercased and sorted. 0, or -1 with a reason in err: a bad
 * escape, a NUL, a key twice (which one is signed would be ambiguous), too
 * many parameters, too long. */
int hr_pusher_query_parse(const char *s, size_t len, hr_pusher_query_t *q, char *err,
                          size_t errlen);

/* The value of key (lowercase), or NULL. */
const hr_slice_t *hr_pusher_query_get(const hr_pusher_query_t *q, const char *key);

/* The signed string: "METHOD\nPATH\nk=v&..." without auth_signature, into
 * out (NUL-terminated when it fits). Returns its length; a result >= cap
 * means it did not fit. */
size_t hr_pusher_sig_string(hr_slice_t method, hr_slice_t path, const hr_pusher_query_t *q,
                            char *out, size_t cap);

/* out = the lowercase hex MD5 of data. */
void hr_pusher_md5_hex(const void *data, size_t len, char out[33]);

enum hr_pusher_sig_status {
    HR_PSIG_OK,
    HR_PSIG_NO_KEY,        /* auth_key missing */
    HR_PSIG_BAD_KEY,       /* not the app's key */
    HR_PSIG_BAD_TIMESTAMP, /* missing or not a number */
    HR_PSIG_EXPIRED,       /* outside the window */
    HR_PSIG_BAD_VERSION,   /* auth_version not 1.0 */
    HR_PSIG_NO_SIGNATURE,  /* auth_signature missing */
    HR_PSIG_BAD_SIGNATURE, /* the HMAC does not match */
    HR_PSIG_BAD_MD5,       /* a body without body_md5, or another body's */
};

/* Check the parameters of q (not the body: hr_pusher_sig_body). now and
 * window in seconds. err gets the text Pusher answers (401). */
int hr_pusher_sig_check(const hr_pusher_query_t *q, hr_slice_t method, hr_slice_t path,
                        const char *key, const char *secret, int64_t now, int64_t window, char *err,
                        size_t errlen);

/* The body against body_md5: a body (len > 0) needs a body_md5 equal to its
 * MD5; no body needs none, or the empty body's. HR_PSIG_OK or _BAD_MD5. */
int hr_pusher_sig_body(const hr_pusher_query_t *q, const void *body, size_t len, char *err,
                       size_t errlen);

#endif
