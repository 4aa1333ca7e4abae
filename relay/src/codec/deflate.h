/* SPDX-License-Identifier: MIT
 * deflate.h: permessage-deflate (RFC 7692) for the server side. Pure: no
 * sockets, no libuv, zlib only.
 * - negotiation: the client's Sec-WebSocket-Extensions offers, read in
 *   order, the first acceptable one taken, and the answer to send;
 * - compression of one message without context takeover (the relay always
 *   answers server_no_context_takeover, so a compressed message is the same
 *   bytes for every subscriber that agreed the same window: compressed once,
 *   shared);
 * - inflation of one client message, with the client's context kept when it
 *   did not say client_no_context_takeover, and a cap on the inflated size
 *   (a decompression bomb stops at the cap, never allocates past it). */
#ifndef HR_DEFLATE_H
#define HR_DEFLATE_H

#include "base/common.h"

/* ---- negotiation ---- */

/* What one accepted offer agreed. */
typedef struct hr_deflate_params {
    uint8_t server_bits;       /* window the relay compresses with, 9..15 */
    uint8_t server_bits_named; /* the offer named server_max_window_bits: say it */
    uint8_t client_bits;       /* client_max_window_bits=N offered: N (echoed); 0 none */
    uint8_t client_no_context; /* client_no_context_takeover: reset per message */
} hr_deflate_params_t;

/* Room for the longest answer hr_deflate_answer writes, every parameter
 * with a two-digit window (130 bytes with the NUL), and to spare. */
#define HR_DEFLATE_ANSWER_MAX 160

/* Read one Sec-WebSocket-Extensions header value (extensions separated by
 * commas, parameters by semicolons, RFC 7230 tokens or quoted strings) and
 * take the first acceptable permessage-deflate offer (RFC 7692 section 7):
 * an unknown or duplicate parameter, a value out of 8..15, a value where
 * none belongs, or server_max_window_bits=8 (zlib's raw deflate has no
 * 256-byte window) makes an offer unacceptable, and the next one is tried.
 * Returns 1 with *p filled, 0 when no offer is acceptable (*declined set to
 * 1 when at least one permessage-deflate offer was seen). */
int hr_deflate_offer(const char *value, size_t len, hr_deflate_params_t *p, int *declined);

/* The extension to answer with: "permessage-deflate;
 * server_no_context_takeover" and the window parameters. Returns its
 * length (< HR_DEFLATE_ANSWER_MAX), out NUL-terminated. */
size_t hr_deflate_answer(const hr_deflate_params_t *p, char out[HR_DEFLATE_ANSWER_MAX]);

/* ---- compression (relay to client) ---- */

typedef struct hr_deflater hr_deflater_t;

/* A compressor for window bits (9..15) and level (1..9); NULL when zlib
 * has no memory. Reused across messages (reset, not rebuilt, per message). */
hr_deflater_t *hr_deflater_new(int bits, int level);
void hr_deflater_free(hr_deflater_t *d);

/* Compress in[0..len) as one message, its context dropped after it:
 * a raw deflate stream ending with a sync flush whose 00 00 ff ff is
 * removed (RFC 7692 7.2.1). The bytes are written to out + head (the caller
 * keeps head bytes in front, for a frame header); *out is malloc'd.
 * Returns the compressed length, or -1 (zlib failed: send it plain). */
long hr_deflater_compress(hr_deflater_t *d, const uint8_t *in, size_t len, size_t head,
                          uint8_t **out);

/* ---- inflation (client to relay) ---- */

enum hr_inflate_status {
    HR_INFLATE_OK = 0,
    HR_INFLATE_TOO_BIG = 1, /* past the cap: close 1009 */
    HR_INFLATE_CORRUPT = 2, /* not a deflate stream: close 1007 */
};

typedef struct hr_inflater hr_inflater_t;

/* A decompressor (raw inflate, 32 KiB window: reads any client window);
 * NULL when zlib has no memory. */
hr_inflater_t *hr_inflater_new(void);
void hr_inflater_free(hr_inflater_t *z);

/* Inflate one message in[0..len) (00 00 ff ff appended here) into *out,
 * malloc'd, *out_len bytes, never more than cap bytes inflated and never a
 * buffer larger than cap + 1. keep: the client keeps its context (the next
 * message may refer to this one); else the inflater is reset after it.
 * After TOO_BIG or CORRUPT the inflater is unusable (the connection
 * closes); *out is then NULL. */
int hr_inflater_message(hr_inflater_t *z, const uint8_t *in, size_t len, size_t cap, int keep,
                        uint8_t **out, size_t *out_len);

#endif
