/* SPDX-License-Identifier: MIT
 * herald_token.h: herald_token() and its INI entry herald.secret, kept in
 * their own file so the token code has one owner (herald_token.c), and the
 * HMAC it signs with, which herald_hooks.c shares. */
#ifndef HERALD_TOKEN_H
#define HERALD_TOKEN_H

#include "php.h"

/* Register herald.secret; called from the module's MINIT. */
void php_herald_token_minit(int type, int module_number);

/* HMAC-SHA256 of msg[0..len) with key (PHP's ext/hash); out gets 32 bytes.
 * false when ext/hash has no SHA-256. herald_hooks.c checks the relay's
 * signature of a hook request with it. */
bool php_herald_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len,
	unsigned char *out);

/* The shortest herald.secret accepted (the relay asks the same). */
#define HERALD_TOKEN_MIN_SECRET 16

#endif /* HERALD_TOKEN_H */
