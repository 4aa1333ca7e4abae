/* SPDX-License-Identifier: MIT
 * pusher_auth.h: the HMAC-SHA256 signatures of the Pusher protocol, shared
 * by the WebSocket front (channel auth: what Laravel's /broadcasting/auth
 * returns) and the HTTP API and webhooks. Pure. */
#ifndef HR_PUSHER_AUTH_H
#define HR_PUSHER_AUTH_H

#include <stddef.h>

#define HR_PUSHER_HEX_LEN 64 /* hex digits of a HMAC-SHA256 */

/* out = the lowercase hex HMAC-SHA256 of msg under key, NUL-terminated. */
void hr_pusher_hmac_hex(const char *key, size_t keylen, const void *msg, size_t msglen,
                        char out[HR_PUSHER_HEX_LEN + 1]);

/* 1 if a and b are the same bytes, in time that depends on the lengths only. */
int hr_pusher_equal(const char *a, size_t alen, const char *b, size_t blen);

/* 1 if auth is "<key>:<hex HMAC-SHA256 of socket_id:channel[:channel_data]
 * under secret>" (channel_data_len 0: none), the channel auth of a private,
 * presence or encrypted channel. */
int hr_pusher_channel_auth_ok(const char *key, const char *secret, const char *socket_id,
                              size_t socket_id_len, const char *channel, size_t channel_len,
                              const char *channel_data, size_t channel_data_len, const char *auth,
                              size_t auth_len);

#endif
