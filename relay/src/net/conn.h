/* SPDX-License-Identifier: MIT
 * conn.h: a client connection (browser side, or an HTTP publisher). It
 * starts reading a request head; the app's router then answers it (a
 * one-shot reply), hands it to a transport (transport.h), which streams, or
 * gives it to a route that reads the request's body first
 * (hr_conn_read_body) and may keep the connection for the next request
 * (hr_conn_respond). Output goes through a write queue of buffer references
 * that the flush writes once per loop turn with a single writev. Idle
 * connections hold no read buffer: reads land in one buffer the loop's net
 * state lends to whoever is reading; only a request still arriving (a
 * partial head, a body) is copied aside. */
#ifndef HR_CONN_H
#define HR_CONN_H

#include "base/buf.h"
#include "core/chan.h"
#include "core/resume.h"
#include "net/net.h"
#include "net/transport.h"

#include <uv.h>

enum hr_conn_kind {
    HR_CONN_HTTP,   /* reading a request head, or idle between two requests */
    HR_CONN_STREAM, /* handed to a transport (tidx) */
    HR_CONN_REPLY,  /* the route has the request: one response, then close
                       (or, after hr_conn_respond, the next request) */
    HR_CONN_BODY,   /* reading a request body for its route */
};

struct hr_conn_body;
struct hr_conn_app;

/* Write queue: a ring of buffer references; off bytes of the first one
 * are already written. */
typedef struct hr_wq {
    hr_buf_t **ring;
    uint32_t head, count, cap;
    uint32_t off;
    uint32_t inflight; /* buffers handed to a uv_write in progress */
    size_t bytes;      /* queued bytes not yet written */
} hr_wq_t;

typedef struct hr_conn {
    uv_tcp_t tcp;                /* libuv uses it until the close callback */
    struct hr_conn *prev, *next; /* all connections (sweep, shutdown) */
    struct hr_conn *flush_next;  /* connections with output to write this turn */
    hr_wq_t wq;
    hr_sub_t *subs;                  /* subscriptions */
    hr_resume_t *resume;             /* a resume in progress: live events are held */
    void *tstate;                    /* the transport's per-connection state */
    struct hr_conn_body *body;       /* BODY: the request so far */
    struct hr_conn_pending *pending; /* REPLY, BODY: a route's hold (hr_conn_pend) */
    struct hr_conn_app *app;         /* known to the application (net/app.h), or NULL */
    uint64_t last_seq;               /* last event queued: one delivery per publish */
    uint64_t last_write_ms;          /* heartbeats go to connections idle since */
    uint64_t last_read_ms;           /* dead-peer checks */
    uint64_t deadline_ms;            /* HTTP: request head must be complete by then
                                        (between requests: the keep-alive ends then);
                                        BODY: the body */
    char *head;                      /* partial request head, only while incomplete */
    uint32_t head_len;
    uint8_t kind;    /* hr_conn_kind */
    uint8_t tidx;    /* transport, once HR_CONN_STREAM */
    uint8_t closing; /* hr_conn_close called */
    uint8_t flush_marked;
    uint8_t writing;         /* a uv_write is in progress */
    uint8_t end_after_flush; /* shut down once the queue drains */
    uint8_t ip_counted;      /* counted in the per-address table (iplimit.c) */
    uint8_t listener_tag;    /* which listener accepted it (hr_conn_accept) */
    uint8_t ip_len;          /* 4 or 16 */
    uint8_t keep_alive;      /* the request in hand lets the connection go on */
    uint8_t peer_done;       /* the client half-closed (FIN) with its answer still to go */
    uint8_t idle;            /* HTTP between requests: nothing of the next yet */
    /* Which of its transport's encodings the connection takes (the
     * permessage-deflate window, ws_session.c; 0: the plain one): the
     * subscribers of a publish share net->last only within one. */
    uint8_t enc_variant;
    uint8_t ip[16]; /* client address, for max_connections_per_ip */
} hr_conn_t;

static inline hr_net_t *hr_conn_net(const hr_conn_t *c)
{
    return hr_net_of((const uv_handle_t *)&c->tcp);
}

static inline hr_loop_t *hr_conn_loop(const hr_conn_t *c)
{
    return hr_loop_of((const uv_handle_t *)&c->tcp);
}

static inline const hr_transport_t *hr_conn_transport(const hr_conn_t *c)
{
    return hr_conn_net(c)->transports[c->tidx];
}

/* The client's address (4 or 16 bytes into out), or 0. */
size_t hr_conn_peer(hr_conn_t *c, uint8_t out[16]);

/* Accept a client on the listener; tag tells the router which one. */
void hr_conn_accept(uv_stream_t *listener, int tag);

/* The connection now speaks transport tidx (keeps the gauges right). */
void hr_conn_set_transport(hr_conn_t *c, int tidx);

/* Queue b (takes a new reference) and arrange a flush this loop turn.
 * Returns -1 and closes the connection if that would put it past
 * max_queued_bytes (a slow consumer). */
int hr_conn_send(hr_conn_t *c, hr_buf_t *b);
/* The same without the cap: history replay, bounded by history itself. */
int hr_conn_send_uncapped(hr_conn_t *c, hr_buf_t *b);
/* Queue a copy of bytes. */
int hr_conn_send_copy(hr_conn_t *c, const void *bytes, size_t len);

/* Send a complete HTTP response with a text body and close afterwards. */
void hr_conn_reply(hr_conn_t *c, int status, const char *extra_headers, const char *body,
                   size_t body_len);

/* The same, but the connection then reads the next request when it may: the
 * client allows it (codec/http.h, hr_http_persistent), the whole request was
 * read (a body the route did not ask for was not), no byte of a next
 * request arrived before this answer (pipelining is not served: such a
 * client is answered "Connection: close" and resends the rest), the relay
 * is not stopping and keepalive_timeout is not 0. Then the answer carries
 * "Keep-Alive: timeout=<keepalive_timeout>" and the connection, idle, holds
 * no buffer; it is closed quietly if the next request has not begun when
 * that timeout ends. Otherwise this is hr_conn_reply. */
void hr_conn_respond(hr_conn_t *c, int status, const char *extra_headers, const char *body,
                     size_t body_len);

/* A route that answers a request later (after a broker's reply, say) holds
 * the connection with one of these, first in a record of its own. If the
 * connection closes, or answers the request itself (a body that did not
 * arrive in time: 408), before the route answered, gone() is called once and
 * the route must not touch the connection again. The route's answer
 * (hr_conn_reply, hr_conn_respond) ends the hold. */
typedef struct hr_conn_pending {
    void (*gone)(struct hr_conn_pending *p);
} hr_conn_pending_t;

void hr_conn_pend(hr_conn_t *c, hr_conn_pending_t *p);

/* The route takes the connection back without answering (it streams
 * after all): the hold ends and gone() will not be called. */
void hr_conn_unpend(hr_conn_t *c);

/* The head of a request and its body, for the route that asked for it;
 * both valid during the call only. */
typedef void (*hr_body_fn)(void *ud, hr_conn_t *c, const hr_http_request_t *req,
                           const uint8_t *body, size_t len);

/* Read the body req announces (Content-Length) and call fn with head and
 * body: at once when rest (what the route was given with the head) already
 * holds it, else from later reads, with "100 Continue" sent first when the
 * client waits for it. Returns 0, or, having started nothing, the status to
 * answer with: 400 broken framing, 411 no Content-Length (chunked bodies are
 * not read), 413 longer than max, 417 an unknown expectation. A body that
 * has not arrived within body_timeout seconds is answered 408 by the
 * connection (herald_limit_hits_total{limit="body_timeout"}). Call it from
 * the route, before anything was sent on c. */
int hr_conn_read_body(hr_conn_t *c, const hr_http_request_t *req, const uint8_t *rest,
                      size_t rest_len, size_t max, hr_body_fn fn, void *ud);

/* Subscribe to a channel, accepting the publish targets in accepts; the
 * connection's subscriptions go when it closes. NULL if already subscribed. */
hr_sub_t *hr_conn_subscribe(hr_conn_t *c, const char *name, size_t len, int accepts);
int hr_conn_unsubscribe(hr_conn_t *c, const char *name, size_t len);

/* Resume from the id since on the channels the connection is subscribed to
 * (core/resume.h): the broker replays or says gap through the transport. */
void hr_conn_resume(hr_conn_t *c, int accepts, hr_slice_t since, const hr_slice_t *channels,
                    size_t n);

/* A stream without an id, subscribed to its channels already: the broker
 * finds the position it starts from (at once, or once Redis answered) and
 * the transport's start() begins the output with it; live events are held
 * meanwhile, and what was published after the position but before the
 * broker's subscription took effect is replayed (core/broker.h, fresh). */
void hr_conn_fresh(hr_conn_t *c, int accepts, const hr_slice_t *channels, size_t n);

/* The delivery function of the loop's channel registry (core/chan.h). */
void hr_conn_deliver(void *owner, hr_event_t *ev, int chan);

/* Flush, then shut down the write side and close. */
void hr_conn_end(hr_conn_t *c);

/* Close now (idempotent); memory is freed in the close callback. */
void hr_conn_close(hr_conn_t *c, const char *why);

/* Write every connection marked this turn (the loop's check phase). */
void hr_conn_flush_all(hr_net_t *net);

/* Heartbeats and timeouts for every connection (the sweep timer). */
void hr_conn_sweep(hr_net_t *net, uint64_t now_ms);

/* Start ending every client for shutdown (each as its transport says). */
void hr_conn_shutdown_all(hr_net_t *net);

/* Close every client now (the shutdown timeout). */
void hr_conn_close_all(hr_net_t *net, const char *why);

#endif
