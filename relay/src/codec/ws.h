/* SPDX-License-Identifier: MIT
 * ws.h: RFC 6455 codec for the server side. Pure: no sockets, no libuv.
 * - handshake: validating Sec-WebSocket-Key and computing the accept value;
 * - server frame encoding (unmasked, FIN set) for data, ping, pong, close;
 * - hr_ws_reader_t: an incremental reader of client frames that enforces
 *   masking, reserved bits/opcodes, control-frame rules, fragmentation with
 *   interleaved control frames, UTF-8 of text messages (also across
 *   fragments) and close payloads, and a message size limit. With
 *   permessage-deflate negotiated it lets RSV1 through on the first frame of
 *   a data message and hands the message up still compressed (the caller
 *   inflates it, codec/deflate.h, and checks its UTF-8).
 * The WebSocket transport feeds it bytes as they arrive and acts on the
 * callbacks. */
#ifndef HR_WS_H
#define HR_WS_H

#include "base/common.h"

enum hr_ws_opcode {
    HR_WS_OP_CONT = 0x0,
    HR_WS_OP_TEXT = 0x1,
    HR_WS_OP_BINARY = 0x2,
    HR_WS_OP_CLOSE = 0x8,
    HR_WS_OP_PING = 0x9,
    HR_WS_OP_PONG = 0xA,
};

/* RFC 6455 section 7.4.1 close codes the relay sends. */
enum hr_ws_close_code {
    HR_WS_CLOSE_NORMAL = 1000,
    HR_WS_CLOSE_GOING_AWAY = 1001,
    HR_WS_CLOSE_PROTOCOL_ERROR = 1002,
    HR_WS_CLOSE_NO_STATUS = 1005, /* never on the wire: "close had no code" */
    HR_WS_CLOSE_INVALID_DATA = 1007,
    HR_WS_CLOSE_POLICY = 1008,
    HR_WS_CLOSE_TOO_BIG = 1009,
    HR_WS_CLOSE_INTERNAL = 1011,
};

/* ---- handshake ---- */

#define HR_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* 1 if key is a valid Sec-WebSocket-Key: base64 that decodes to 16 bytes. */
int hr_ws_key_valid(const char *key, size_t len);

/* out = base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), NUL-terminated. */
void hr_ws_accept_key(const char *key, size_t len, char out[HR_WS_ACCEPT_LEN + 1]);

/* ---- server frames (what the relay sends) ---- */

#define HR_WS_MAX_HEADER 10 /* 2 bytes + 8-byte extended length; servers never mask */

/* Write the header of a final, unmasked frame with this opcode and payload
 * length into out; return its size (2, 4 or 10). */
size_t hr_ws_frame_header(uint8_t out[HR_WS_MAX_HEADER], unsigned opcode, uint64_t payload_len);

/* Write a whole close frame (header + 2-byte code + reason) into out, which
 * must hold 4 + reason_len bytes; reason_len <= 123. code 0 writes an empty
 * close frame. Returns the frame size. */
size_t hr_ws_close_frame(uint8_t *out, uint16_t code, const char *reason, size_t reason_len);

/* 1 if a peer may send this code in a close frame (1000-1003, 1007-1014,
 * 3000-4999), else 0 (1004-1006, 1015, <1000, 1016-2999 reserved, ...). */
int hr_ws_close_code_valid(uint16_t code);

/* ---- client frames (what the relay receives) ---- */

/* What the reader hands to the callback. For TEXT/BINARY, data is the whole
 * reassembled message (TEXT already validated as UTF-8). For PING/PONG, the
 * payload (<= 125 bytes). For CLOSE, code is the peer's code, or
 * HR_WS_CLOSE_NO_STATUS for an empty close, and data/len the reason (valid
 * UTF-8). data is valid only during the callback. */
typedef enum {
    HR_WS_EV_TEXT,
    HR_WS_EV_BINARY,
    HR_WS_EV_PING,
    HR_WS_EV_PONG,
    HR_WS_EV_CLOSE,
    /* A message whose first frame had RSV1 (permessage-deflate): data is
     * the compressed payload, not checked as UTF-8. */
    HR_WS_EV_TEXT_DEFLATED,
    HR_WS_EV_BINARY_DEFLATED,
} hr_ws_event_t;

/* Return 0 to continue, non-zero to stop feeding at once (the connection is
 * being closed); hr_ws_reader_feed then returns 0 and keeps no promise about
 * bytes not yet parsed. */
typedef int (*hr_ws_event_cb)(void *ud, hr_ws_event_t ev, const uint8_t *data, size_t len,
                              uint16_t code);

/* Reader state. Zero-initialise it (or hr_ws_reader_init) before use. It
 * owns heap memory only while a frame or a fragmented message is
 * incomplete, so an idle connection holds none. */
typedef struct hr_ws_reader {
    uint8_t *pend; /* bytes of an incomplete frame, or NULL */
    size_t pend_len, pend_cap;
    uint8_t *msg; /* fragments of the message in progress, or NULL */
    size_t msg_len, msg_cap;
    size_t max_message;   /* limit for a whole message; 0 means 64 KiB */
    uint32_t utf8;        /* validator state of the text message in progress */
    uint8_t msg_op;       /* HR_WS_OP_TEXT/BINARY while fragmented, else 0 */
    uint8_t closed;       /* a close frame or an error was seen: feed no more */
    uint8_t deflate;      /* permessage-deflate negotiated: RSV1 marks a message */
    uint8_t msg_deflated; /* the fragmented message in progress is compressed */
    uint8_t bad_rsv;      /* the error was a reserved bit (RSV1 unnegotiated or misplaced) */
} hr_ws_reader_t;

void hr_ws_reader_init(hr_ws_reader_t *r, size_t max_message);

/* Parse every complete frame in data[0..len), calling cb per event. The
 * buffer may be modified (unmasked in place). Returns 0 when all input was
 * taken (a partial frame is kept inside the reader), or a close code
 * (1002 protocol error, 1007 invalid UTF-8, 1009 too big) when the peer broke
 * the protocol: the caller sends a close frame with it and closes. After a
 * CLOSE event or an error, further feeds return 0 and do nothing. */
int hr_ws_reader_feed(hr_ws_reader_t *r, uint8_t *data, size_t len, hr_ws_event_cb cb, void *ud);

/* Free what the reader holds; it can be reused after hr_ws_reader_init. */
void hr_ws_reader_free(hr_ws_reader_t *r);

#endif
