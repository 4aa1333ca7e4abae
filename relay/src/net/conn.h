/* SPDX-License-Identifier: MIT
 * conn.h: a client connection (browser side). It starts in HR_CONN_HTTP,
 * reading a request head; the router (server.c) then turns it into an SSE
 * stream, a WebSocket, or a one-shot response. Output goes through a write
 * queue of message references that flush.c-style logic in conn.c writes
 * once per loop turn with a single writev. Idle connections hold no read
 * buffer: reads land in one buffer the relay lends to whoever is reading. */
#ifndef HR_CONN_H
#define HR_CONN_H

#include "core/chan.h"
#include "base/buf.h"
#include "codec/ws.h"

#include <uv.h>

enum hr_conn_kind {
    HR_CONN_HTTP,  /* reading the request head */
    HR_CONN_SSE,   /* event stream */
    HR_CONN_WS,    /* WebSocket */
    HR_CONN_REPLY, /* one response, then close */
};

/* Write queue: a ring of message references; off bytes of the first one
 * are already written. */
typedef struct hr_wq {
    hr_msg_t **ring;
    uint32_t head, count, cap;
    uint32_t off;
    uint32_t inflight; /* messages handed to a uv_write in progress */
    size_t bytes;      /* queued bytes not yet written */
} hr_wq_t;

typedef struct hr_conn {
    uv_tcp_t tcp;                /* libuv uses it until on_closed runs */
    struct hr_conn *prev, *next; /* all connections (sweep, shutdown) */
    struct hr_conn *flush_next;  /* connections with output to write this turn */
    hr_wq_t wq;
    hr_sub_t *subs;           /* subscriptions */
    struct hr_token *claims;  /* WS: verified token of the upgrade (later subscribes) */
    uint64_t ws_window_ms;    /* WS: start of the current one-second message window */
    uint32_t ws_window_count; /* WS: client messages in that window */
    uint8_t ip_counted;       /* counted in the per-address table (iplimit.c) */
    uint8_t ip_len;           /* 4 or 16 */
    uint8_t ip[16];           /* client address, for max_connections_per_ip */
    uint64_t last_seq;        /* last message queued: one delivery per publish */
    uint64_t last_write_ms;   /* heartbeats go to connections idle since */
    uint64_t last_read_ms;
    uint64_t deadline_ms; /* HTTP: request head must be complete by then */
    char *head;           /* partial request head, only while incomplete */
    uint32_t head_len;
    uint8_t kind;
    uint8_t closing; /* hr_conn_close called */
    uint8_t flush_marked;
    uint8_t writing;         /* a uv_write is in progress */
    uint8_t end_after_flush; /* shut down once the queue drains */
    uint8_t ws_close_sent;
    uint8_t ping_outstanding;
    uint8_t fixed_channels; /* WS: the proxy fixed the channels (hand-off) */
    hr_ws_reader_t *ws;     /* WebSocket reader, while kind == HR_CONN_WS */
    void *cluster;          /* cluster mode: resume in progress (cluster.c) */
} hr_conn_t;

/* Accept a client on the listener. */
void hr_conn_accept(uv_stream_t *listener);

/* Queue m (takes a new reference) and arrange a flush this loop turn.
 * Returns -1 and closes the connection if that would put it past
 * max_queued_bytes (a slow consumer). */
int hr_conn_send(hr_conn_t *c, hr_msg_t *m);
/* The same without the cap: history replay, bounded by history itself. */
int hr_conn_send_uncapped(hr_conn_t *c, hr_msg_t *m);
/* Queue a copy of bytes. */
int hr_conn_send_copy(hr_conn_t *c, const void *bytes, size_t len);

/* Send a complete HTTP response with a text body and close afterwards. */
void hr_conn_reply(hr_conn_t *c, int status, const char *extra_headers, const char *body,
                   size_t body_len);

/* Flush, then shut down the write side and close. */
void hr_conn_end(hr_conn_t *c);

/* Close now (idempotent); memory is freed in the close callback. */
void hr_conn_close(hr_conn_t *c, const char *why);

/* Write every connection marked this turn (the loop's check phase). */
void hr_conn_flush_all(void);

/* Heartbeats and timeouts for every connection (the sweep timer). */
void hr_conn_sweep(uint64_t now_ms);

/* Start closing every client for shutdown (1001 to WebSockets). */
void hr_conn_shutdown_all(void);

size_t hr_conn_count(void);

#endif
