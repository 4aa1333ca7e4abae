/* SPDX-License-Identifier: MIT
 * transport.h: what the connection code needs from a protocol spoken over a
 * client connection, in the spirit of nchan's per-transport subscriber
 * functions. conn.c and the flush know no transport by name: a connection
 * that left the request-head state carries the index of its transport
 * (conn->tidx) and its own state (conn->tstate), and everything
 * protocol-specific goes through these functions. A new transport is one new
 * file with one of these, added by the app (hr_net_add_transport) and
 * reached by a route (hr_open_fn). */
#ifndef HR_TRANSPORT_H
#define HR_TRANSPORT_H

#include "base/buf.h"
#include "codec/http.h"
#include "core/event.h"
#include "core/resume.h"

struct hr_conn;
struct hr_net;

typedef struct hr_transport {
    const char *name; /* label of its metrics: "sse", "ws" */
    /* Its clients come back with their last id and resume: such a stream
     * may be ended to make it resume (a broker that lost track). */
    int resumable;
    /* The bytes of an event differ from one connection to another (a
     * negotiated extension): the subscribers of a publish cannot share the
     * last encoding without asking encode() again. */
    int encode_per_conn;
    /* Per-loop state (statics, counters; register metrics); may be NULL. */
    void *(*init)(struct hr_net *net, int tidx);
    void (*fini)(struct hr_net *net, void *data);
    /* Bytes from the client. */
    void (*on_read)(struct hr_conn *c, uint8_t *data, size_t len);
    /* The bytes of ev for this connection (chan: index in ev->channels),
     * usually a cached encoding (hr_event_encoding): borrowed. NULL: skip. */
    hr_buf_t *(*encode)(struct hr_conn *c, hr_event_t *ev, int chan);
    /* The periodic sweep: heartbeats, dead peers. */
    void (*heartbeat)(struct hr_conn *c, uint64_t now_ms);
    /* A stream that waited for its first position (hr_conn_fresh) has it:
     * begin the output, naming it. May be NULL for a transport that never
     * waits. */
    void (*start)(struct hr_conn *c, const char *position);
    /* A resume could not be exact (core/resume.h). */
    void (*gap)(struct hr_conn *c, const hr_resume_t *r, const char *position);
    /* Which deliveries reach the connection. NULL: one per publish (an
     * event published to several of its channels arrives once; conn.c
     * keeps the last seq). A transport that delivers once per channel says
     * here, per (event, channel), whether it is new: 1 to send it. */
    int (*admit)(struct hr_conn *c, hr_event_t *ev, int chan);
    /* A missed event of a resume, to send whatever the queue holds. NULL:
     * encode(c, ev, 0), sent once per event. */
    void (*replay)(struct hr_conn *c, hr_event_t *ev);
    /* A resume (hr_conn_resume, hr_conn_fresh) was handed over in full:
     * the connection may start another. May be NULL. */
    void (*resumed)(struct hr_conn *c);
    /* Shutdown: end the connection as the protocol says (a close frame). */
    void (*begin_close)(struct hr_conn *c);
    /* The connection is closing: free conn->tstate. */
    void (*on_close)(struct hr_conn *c);
} hr_transport_t;

/* The query of a streaming request, as the router decoded it. */
typedef struct hr_query {
    hr_slice_t channels[256];
    size_t n;
    hr_slice_t last_id; /* last_event_id=, len 0: none */
    int has_last_id;
    char arena[256 * (200 + 1)];
    size_t used;
    char last_id_buf[512];
} hr_query_t;

/* What a route does with a request (app/router.c maps paths to these). */
typedef void (*hr_open_fn)(struct hr_conn *c, const hr_http_request_t *req, const hr_query_t *q,
                           uint8_t *rest, size_t rest_len);

#endif
