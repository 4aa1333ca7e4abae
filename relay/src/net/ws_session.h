/* SPDX-License-Identifier: MIT
 * ws_session.h: what both WebSocket transports (raw mode, transport_ws.c,
 * and herald.v1, transport_herald.c) share: the settings (ws_*), the
 * upgrade (origin, tokens, handshake checks, the 101 answer with the
 * negotiated subprotocol), and a session over an upgraded connection:
 * client frames through the pure reader (codec/ws.c) with the message rate
 * limit, pings answered, the close handshake, heartbeats, protocol errors.
 * A transport keeps a session in its per-connection state and is handed
 * each whole data message.
 *
 * permessage-deflate (RFC 7692, codec/deflate.h) is agreed here at the
 * upgrade (ws_deflate), per connection. The relay never keeps its own
 * context (server_no_context_takeover), so a compressed frame depends only
 * on the message and the window: hr_ws_encode compresses an event once per
 * (transport encoding, window) in the event's cache and every subscriber
 * that agreed that window shares it. Client messages are inflated under
 * ws_max_message. */
#ifndef HR_WS_SESSION_H
#define HR_WS_SESSION_H

#include "base/opt.h"
#include "codec/deflate.h"
#include "codec/token.h"
#include "codec/ws.h"
#include "net/conn.h"

typedef struct hr_ws_cfg {
    long max_message;            /* largest client WebSocket message (1009 past it) */
    long max_messages_per_sec;   /* client WebSocket messages per second (1008 past it) */
    char *origins;               /* Origins allowed to open /ws ("" any) */
    long deflate;                /* permessage-deflate for clients that offer it (1) */
    long deflate_min_bytes;      /* messages shorter go uncompressed */
    long deflate_level;          /* zlib level, 1..9 */
    long deflate_client_context; /* 0: answer client_no_context_takeover */
} hr_ws_cfg_t;

extern hr_ws_cfg_t hr_ws_cfg;
extern const hr_opt_group_t hr_ws_options;

/* A data message of the client (text: valid UTF-8); data valid during the
 * call only. */
typedef void (*hr_ws_message_fn)(hr_conn_t *c, int binary, const uint8_t *data, size_t len);

typedef struct hr_ws_session {
    hr_ws_reader_t reader;
    hr_token_t *claims;    /* verified token (later subscribes); owned */
    uint64_t window_ms;    /* start of the current one-second message window */
    uint32_t window_count; /* client messages in that window */
    uint8_t close_sent;
    uint8_t ping_outstanding;
    uint8_t fixed_channels;    /* the proxy fixed the channels (hand-off) */
    uint16_t rate_close;       /* close code past the message rate (0: 1008) */
    uint8_t deflate_bits;      /* permessage-deflate: the window of what the relay sends; 0 off */
    uint8_t client_no_context; /* the client resets its context per message */
    hr_inflater_t *inflater;   /* the client's context, from its first compressed message */
    hr_ws_message_fn on_message;
} hr_ws_session_t;

/* What the upgrade hands a transport: the 101 head to send first, the
 * token (ownership passes), the hand-off flag. */
typedef struct hr_ws_upgrade {
    char head[512];
    size_t head_len;
    hr_token_t *claims;
    int fixed_channels;
    int deflate; /* permessage-deflate agreed, with these parameters */
    hr_deflate_params_t deflate_params;
} hr_ws_upgrade_t;

/* 1 if the request offers the subprotocol name in Sec-WebSocket-Protocol
 * (a comma-separated list, possibly over several header lines). */
int hr_ws_offers(const hr_http_request_t *req, const char *name);

/* Check a GET /ws request (shutdown, Origin, tokens, RFC 6455 handshake)
 * and prepare the 101 answer, naming protocol when not NULL. Returns 0 to
 * go on with *u filled, or -1 when the request was answered (503, 403,
 * 401, 400, 426). */
int hr_ws_upgrade(hr_conn_t *c, const hr_http_request_t *req, const hr_query_t *q,
                  const char *protocol, hr_ws_upgrade_t *u);

/* Per loop: the counters both transports share. init/fini pair up (each
 * transport's init and fini call them). */
void hr_ws_loop_init(hr_net_t *net);
void hr_ws_loop_fini(hr_net_t *net);

void hr_ws_session_init(hr_ws_session_t *s, hr_ws_upgrade_t *u, hr_ws_message_fn on_message);
void hr_ws_session_free(hr_ws_session_t *s);

/* Bytes from the client. */
void hr_ws_session_read(hr_conn_t *c, hr_ws_session_t *s, uint8_t *data, size_t len);

/* Send a close frame with code (0: an empty one) and reason, then end the
 * connection. Idempotent. */
void hr_ws_session_close(hr_conn_t *c, hr_ws_session_t *s, uint16_t code, const char *reason);

/* The sweep: ping an idle connection, close a silent one. */
void hr_ws_session_heartbeat(hr_conn_t *c, hr_ws_session_t *s, uint64_t now_ms);

/* The frame of ev for the session's connection: the transport's plain
 * encoding (slot, chan, fn; hr_event_encoding), or, when the connection
 * agreed permessage-deflate and the payload has ws_deflate_min_bytes, the
 * same frame compressed (RSV1 set), cached in the event under dslot (a
 * slot the transport takes for it) and the window. Borrowed. */
hr_buf_t *hr_ws_encode(hr_conn_t *c, hr_ws_session_t *s, hr_event_t *ev, int slot, int dslot,
                       int chan, hr_encode_fn fn);

/* A frame of this opcode around bytes[0..len), as a new buffer (refcnt 1). */
hr_buf_t *hr_ws_frame(unsigned opcode, const void *bytes, size_t len);

/* Queue a text frame holding bytes[0..len). */
void hr_ws_send_text(hr_conn_t *c, const char *bytes, size_t len);

#endif
