/* SPDX-License-Identifier: MIT
 * net.h: the client side of one loop: its connections, the transports they
 * speak, the settings and counters of this layer. The app layer makes one
 * per loop (hr_net_new), adds the transports (SSE, WebSocket, ...) and
 * routes requests (on_request); connections find it through their loop. */
#ifndef HR_NET_H
#define HR_NET_H

#include "base/buf.h"
#include "base/opt.h"
#include "codec/http.h"
#include "core/loop.h"
#include "net/iplimit.h"

#define HR_READ_BUF      (64 * 1024)
#define HR_TRANSPORT_MAX 8

struct hr_conn;
struct hr_transport;

/* Settings of the net layer (INI keys and flags; base/opt.h). */
typedef struct hr_net_cfg {
    long ping_interval;          /* seconds of silence before a heartbeat */
    long header_timeout;         /* seconds a client has to send its request head */
    long max_header_bytes;       /* request head limit (431 past it) */
    long max_queued_bytes;       /* per subscriber; past it the subscriber is cut off */
    long max_channels;           /* channels per client connection */
    long max_connections;        /* 0: derived from the descriptor limit */
    long max_connections_per_ip; /* client connections from one address (0: no limit) */
    long tcp_user_timeout_ms;    /* unacknowledged data this old: the peer is gone (0: kernel's) */
    long body_timeout;           /* seconds a client has to send a request body */
    long keepalive_timeout; /* seconds an idle connection waits for its next request (0: none) */
} hr_net_cfg_t;

extern hr_net_cfg_t hr_net_cfg;
extern const hr_opt_group_t hr_net_options;

/* Why a subscription or an upgrade was refused (net/auth.c counts them). */
enum hr_auth_reason {
    HR_AUTH_NO_TOKEN,  /* private channel, no token (401) */
    HR_AUTH_INVALID,   /* token refused: signature, alg, expiry, shape (401) */
    HR_AUTH_FORBIDDEN, /* valid token, channel outside its claims (403) */
    HR_AUTH_NO_SECRET, /* private channel but the relay has no secret (403) */
    HR_AUTH_ORIGIN,    /* WebSocket Origin not allowed (403) */
    HR_AUTH_HANDOFF,   /* X-Herald-Handoff present but not the relay's secret (403) */
    HR_AUTH_COUNT
};

/* A transport's counters, per loop. */
typedef struct hr_tstats {
    uint64_t connections; /* gauge */
    uint64_t delivered;   /* events queued to its subscribers */
    char label[32];       /* transport="<name>" */
} hr_tstats_t;

/* A complete request head: the app decides what the connection becomes.
 * rest holds bytes the client sent after the head (first WebSocket frames). */
typedef void (*hr_request_fn)(struct hr_conn *c, const hr_http_request_t *req, uint8_t *rest,
                              size_t rest_len);

/* Told about every connection that closes (modules above the net layer). */
typedef void (*hr_close_fn)(void *ud, struct hr_conn *c);

typedef struct hr_net {
    hr_loop_t *loop;
    struct hr_conn *conns;      /* every client connection */
    struct hr_conn *flush_list; /* connections with output to write this turn */
    size_t nconns;
    uint64_t max_conns;
    int stopping; /* shutdown: answer and close, no lingering */
    hr_request_fn on_request;
    const struct hr_app_iface *app;           /* application hooks (net/app.h), or NULL */
    int app_records;                          /* net/app.c's close hook is registered */
    const struct hr_pusher_sink *pusher_sink; /* Pusher webhooks (net/pusher.h), or NULL */
    const struct hr_transport *transports[HR_TRANSPORT_MAX];
    void *tdata[HR_TRANSPORT_MAX]; /* each transport's per-loop state */
    void *ws;                      /* what the WebSocket transports share per loop (ws_session.c) */
    hr_tstats_t tstats[HR_TRANSPORT_MAX];
    size_t ntransports;
    struct {
        hr_close_fn fn;
        void *ud;
    } close_hooks[8];
    size_t nclose_hooks;
    hr_iplimit_t iplimit;
    /* Shared by the loops of one relay (workers > 1; hr_net_share): the
     * per-address counts and the clients of every loop. */
    hr_iplimit_t *ipl; /* &iplimit, or the first loop's */
    size_t own_total;  /* atomic: clients of every loop sharing it */
    size_t *total;     /* &own_total, or the first loop's */
    /* The last encoding delivered: the subscribers of one publish on one
     * channel share it without asking their transport (a reference). */
    struct {
        uint64_t serial; /* hr_event_t.serial, 0: none */
        hr_buf_t *buf;
        int chan;
        int tidx;
        int variant; /* hr_conn_t.enc_variant */
    } last;
    /* counters and gauges */
    uint64_t connections_http; /* gauge: clients still sending a request */
    uint64_t connections_total, connections_rejected;
    uint64_t bytes_out, slow_consumers, http_errors;
    uint64_t limit_per_ip;
    uint64_t limit_body_timeout; /* bodies not complete in body_timeout (408) */
    uint64_t auth_refused[HR_AUTH_COUNT];
    char readbuf[HR_READ_BUF]; /* lent to whichever connection is reading */
} hr_net_t;

/* The net state of L, for at most max_conns client connections. */
hr_net_t *hr_net_new(hr_loop_t *L, size_t max_conns, hr_request_fn on_request);

/* net (another loop of the same relay) counts its clients against the
 * first loop's limits: max_connections and max_connections_per_ip hold for
 * the relay, not per loop. Before either loop runs. */
void hr_net_share(hr_net_t *net, hr_net_t *first);

/* Clients of every loop sharing net's count. */
static inline size_t hr_net_total(const hr_net_t *net)
{
    return __atomic_load_n(net->total, __ATOMIC_RELAXED);
}

/* After every connection closed. */
void hr_net_free(hr_net_t *net);

/* Add a transport; returns its index (conn->tidx). */
int hr_net_add_transport(hr_net_t *net, const struct hr_transport *t);

/* The index of the transport with this name, or -1. */
int hr_net_transport(const hr_net_t *net, const char *name);

void hr_net_add_close_hook(hr_net_t *net, hr_close_fn fn, void *ud);

static inline hr_net_t *hr_net_of(const uv_handle_t *h)
{
    return hr_loop_of(h)->net;
}

#endif
