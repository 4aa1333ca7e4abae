/* SPDX-License-Identifier: MIT
 * jwt.h: generic compact JWS (RFC 7515) verification for tokens the relay
 * did not mint: the Mercure front's publisher and subscriber JWTs. A key
 * has one algorithm, HS256 (a shared secret) or RS256 (an RSA public key,
 * PEM); a token's header must name exactly that algorithm, so a token can
 * never choose how it is checked (no "none", no HS256 with an RSA key's
 * PEM as the secret). Pure apart from OpenSSL: no sockets, no clock; the
 * caller passes the time.
 *
 * Order of checks: length and shape, the header (alg, crit), the signature
 * (HMAC compared in constant time, or EVP_DigestVerify), and only then the
 * payload, so nothing unsigned reaches more than the base64url decoder and
 * a small JSON header. "exp" and "nbf" are optional; when present they must
 * be numbers (RFC 7519 NumericDate, fractions allowed). What the other
 * claims mean is the caller's business (codec/mercure.h for Mercure's). */
#ifndef HR_JWT_H
#define HR_JWT_H

#include "base/common.h"

#include <jansson.h>
#include <stdint.h>

/* Longest token accepted (Mercure's claims can list many selectors). */
#define HR_JWT_MAX 8192
/* Shortest RSA modulus accepted for RS256 keys (RFC 7518 3.3). */
#define HR_JWT_RSA_MIN_BITS 2048

enum hr_jwt_status {
    HR_JWT_OK = 0,
    HR_JWT_MISSING,   /* no token given */
    HR_JWT_MALFORMED, /* not three base64url parts, header or payload not a JSON object, too long */
    HR_JWT_ALG,       /* header alg is not the key's (includes "none"), or a crit header */
    HR_JWT_SIGNATURE, /* signature does not verify */
    HR_JWT_EXPIRED,   /* now > exp + skew */
    HR_JWT_NOT_YET,   /* now + skew < nbf */
    HR_JWT_CLAIMS,    /* exp or nbf not a number; callers use it for their own claims too */
};

typedef struct hr_jwt_key hr_jwt_key_t;

/* A verification key for alg "HS256" (key[0..len): the raw secret, not
 * empty) or "RS256" (key[0..len): a PEM RSA public key, "BEGIN PUBLIC KEY"
 * or "BEGIN RSA PUBLIC KEY", of at least HR_JWT_RSA_MIN_BITS bits). 0 and
 * *out, or -1 with a reason in err. */
int hr_jwt_key_new(const char *alg, const char *key, size_t len, hr_jwt_key_t **out, char *err,
                   size_t errlen);
void hr_jwt_key_free(hr_jwt_key_t *k);

/* "HS256" or "RS256". */
const char *hr_jwt_key_alg(const hr_jwt_key_t *k);

/* Verify tok[0..len) with key at time now (seconds since the epoch),
 * allowing skew seconds either way. HR_JWT_OK and *payload (a JSON object,
 * the caller json_decref()s it), or another status with *payload NULL. A
 * NULL key verifies nothing (HR_JWT_ALG). */
int hr_jwt_verify(const char *tok, size_t len, const hr_jwt_key_t *key, int64_t now, long skew,
                  json_t **payload);

/* A short, fixed reason for logs and error replies. */
const char *hr_jwt_strerror(int status);

/* One base64url part of a compact JWS (header or payload) parsed as a JSON
 * object, or NULL if it is not one. Duplicate names are refused: a claim
 * must not mean one thing to us and another to whoever minted the token.
 * Shared with codec/token.c (Herald's own HS256 tokens). */
json_t *hr_jwt_decode_part(const char *p, size_t len);

/* Decode unpadded base64url (RFC 4648 section 5) strictly: no padding, no
 * whitespace, unused trailing bits zero. Returns the decoded length or -1;
 * out must hold len * 3 / 4 + 1 bytes. */
ssize_t hr_base64url_decode(const char *in, size_t len, uint8_t *out);

#endif
