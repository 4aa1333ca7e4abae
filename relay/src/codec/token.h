/* SPDX-License-Identifier: MIT
 * token.h: tokens for private channels and for the HTTP publish API: a
 * compact JWT (RFC 7519) signed with HMAC-SHA256 by the application's
 * shared secret (PHP's herald_token()). Pure: no sockets, no clock; the caller passes
 * the time. The relay accepts exactly one algorithm, HS256: a header that
 * names another (or "none") is refused before the signature is looked at,
 * so a token can never choose how it is checked.
 *
 * Claims: "exp" (required, integer seconds since the epoch), "nbf"
 * (optional), "channels" (channels it may subscribe to) and "publish"
 * (channels it may publish to, POST /publish), each a non-empty array of
 * channel names or "prefix*" patterns; at least one of the two is required.
 * A token grants exactly what its claims list: a publish-only token
 * subscribes to nothing, a subscribe-only token publishes nothing. Other
 * claims are ignored. */
#ifndef HR_TOKEN_H
#define HR_TOKEN_H

#include "base/common.h"
#include "codec/jwt.h"

#include <stdint.h>

/* Longest token accepted: far above what a page's channel list needs, and
 * small enough to fit in a request head. */
#define HR_TOKEN_MAX 4096
/* Most entries in "channels", and in "publish". */
#define HR_TOKEN_MAX_CHANNELS 256

enum hr_token_status {
    HR_TOKEN_OK = 0,
    HR_TOKEN_MISSING,   /* no token given */
    HR_TOKEN_MALFORMED, /* not three base64url parts, bad JSON, too long */
    HR_TOKEN_ALG,       /* header alg is not HS256 (includes "none"), or crit */
    HR_TOKEN_SIGNATURE, /* signature does not match */
    HR_TOKEN_EXPIRED,   /* now > exp + skew */
    HR_TOKEN_NOT_YET,   /* now + skew < nbf */
    HR_TOKEN_CLAIMS,    /* exp missing, channels and publish both missing, or a wrong type */
    HR_TOKEN_NO_SECRET, /* the relay has no secret: nothing can be verified */
};

/* Verified claims: one allocation, released with free(). */
typedef struct hr_token {
    int64_t exp;
    int64_t nbf;                /* 0 when absent */
    size_t n;                   /* "channels": may subscribe (0: none) */
    const hr_slice_t *channels; /* names or "prefix*" */
    size_t npublish;            /* "publish": may publish (0: none) */
    const hr_slice_t *publish;
    hr_slice_t sub;       /* "sub": the user (presence, herald_send_user); p NULL: none */
    hr_slice_t entries[]; /* both lists; the bytes follow the array */
} hr_token_t;

/* Verify tok[0..len) against secret at time now (seconds) allowing skew
 * seconds either way. Returns HR_TOKEN_OK and sets *out (caller frees), or
 * another status with *out NULL. The signature is checked (in constant
 * time) before the claims are parsed, so unsigned input never reaches the
 * claim parser. */
int hr_token_verify(const char *tok, size_t len, const uint8_t *secret, size_t secret_len,
                    int64_t now, long skew, hr_token_t **out);

/* 1 if the claims let the bearer subscribe to channel name[0..len) (its
 * "channels"): an exact entry, or an entry "p*" with name starting with p. */
int hr_token_allows(const hr_token_t *t, const char *name, size_t len);

/* The same for publishing (its "publish" claim). */
int hr_token_allows_publish(const hr_token_t *t, const char *name, size_t len);

/* 1 if name matches the comma-separated list of private prefixes (each
 * entry is a prefix; a trailing '*' is allowed and means the same; spaces
 * around entries are ignored; "" means no private channels). */
int hr_token_is_private(const char *prefixes, const char *name, size_t len);

/* A short, fixed reason for logs and error replies. */
const char *hr_token_strerror(int status);

/* hr_base64url_decode: codec/jwt.h. */

#endif
