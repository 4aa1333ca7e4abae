/* SPDX-License-Identifier: MIT
 * pusher_auth.c: Pusher's signatures (pusher_auth.h). */
#include "codec/pusher_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void hr_pusher_hmac_hex(const char *key, size_t keylen, const void *msg, size_t msglen,
                        char out[HR_PUSHER_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    static const uint8_t empty[1];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (HMAC(EVP_sha256(), keylen ? key : (const char *)empty, (int)keylen,
             msglen ? msg : (const void *)empty, msglen, md, &mdlen) == NULL ||
        mdlen != 32) {
        memset(out, '0', HR_PUSHER_HEX_LEN); /* never matches a real signature's randomness */
        out[HR_PUSHER_HEX_LEN] = '\0';
        return;
    }
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[HR_PUSHER_HEX_LEN] = '\0';
}

int hr_pusher_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

int hr_pusher_channel_auth_ok(const char *key, const char *secret, const char *socket_id,
                              size_t socket_id_len, const char *channel, size_t channel_len,
                              const char *channel_data, size_t channel_data_len, const char *auth,
                              size_t auth_len)
{
    size_t klen = strlen(key);
    if (klen == 0 || auth_len != klen + 1 + HR_PUSHER_HEX_LEN || memcmp(auth, key, klen) != 0 ||
        auth[klen] != ':')
        return 0;
    size_t n = socket_id_len + 1 + channel_len + (channel_data_len ? 1 + channel_data_len : 0);
    char *msg = malloc(n ? n : 1);
    if (msg == NULL)
        return 0;
    size_t o = 0;
    memcpy(msg + o, socket_id, socket_id_len), o += socket_id_len;
    msg[o++] = ':';
    memcpy(msg + o, channel, channel_len), o += channel_len;
    if (channel_data_len) {
        msg[o++] = ':';
        memcpy(msg + o, channel_data, channel_data_len), o += channel_data_len;
    }
    char want[HR_PUSHER_HEX_LEN + 1];
    hr_pusher_hmac_hex(secret, strlen(secret), msg, o, want);
    free(msg);
    return hr_pusher_equal(auth + klen + 1, HR_PUSHER_HEX_LEN, want, HR_PUSHER_HEX_LEN);
}
