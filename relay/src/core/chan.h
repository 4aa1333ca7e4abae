/* SPDX-License-Identifier: MIT
 * chan.h: the channel registry. A channel has two subscriber lists (SSE and
 * WebSocket: each publish goes to one transport) and a history of its SSE
 * messages for resume, bounded by count and age. Subscriptions are
 * intrusive nodes on both the channel's list and the connection's list, so
 * subscribe and unsubscribe are O(1) apart from the duplicate check over the
 * connection's own (bounded) list. Pure: connections are opaque pointers and
 * delivery is a callback, so unit tests drive it without sockets. */
#ifndef HR_CHAN_H
#define HR_CHAN_H

#include "base/common.h"
#include "base/buf.h"

#define HR_CHANNEL_MAX 200

struct hr_chan;

typedef struct hr_sub {
    struct hr_chan *ch;
    void *conn;
    struct hr_sub *prev, *next; /* on the channel's list for this transport */
    struct hr_sub *conn_next;   /* on the connection's list */
    uint8_t transport;          /* HR_T_SSE or HR_T_WS */
} hr_sub_t;

typedef struct hr_hist {
    hr_msg_t **ring; /* oldest at head; seq increases along the ring */
    uint32_t head, count, cap;
    uint64_t dropped_seq; /* highest seq that left this history (evicted or expired) */
} hr_hist_t;

typedef struct hr_chan {
    struct hr_chan *hnext;             /* hash bucket chain */
    struct hr_chan *hprev_h, *hnext_h; /* list of channels holding history */
    hr_sub_t *subs[2];
    uint32_t nsubs[2];
    uint32_t hash;
    uint16_t name_len;
    uint8_t busy; /* fan-out in progress: do not free */
    hr_hist_t hist;
    char name[];
} hr_chan_t;

#define HR_FREED_SLOTS 256

typedef struct hr_chans {
    hr_chan_t **buckets;
    size_t nbuckets, count;
    hr_chan_t *with_hist; /* channels whose history is not empty */
    /* What freed channels had dropped, by name hash: a channel created again
     * inherits its slot (a resume stays exact or says gap), and only names
     * sharing a slot share a watermark (no gap from unrelated channels). */
    uint64_t freed_dropped[HR_FREED_SLOTS];
    uint32_t hist_size; /* messages per channel; 0 keeps none */
    uint64_t hist_ttl_ms;
    /* Cluster mode: told when a channel gets its first subscriber (used=1)
     * or loses its last (used=0), to (un)subscribe it in Redis. */
    void (*on_used)(const char *name, size_t len, int used);
} hr_chans_t;

/* 1 if name is a valid channel name: 1-200 bytes of [A-Za-z0-9_.:@=/-]. */
int hr_chan_name_valid(const char *name, size_t len);

void hr_chans_init(hr_chans_t *r, uint32_t hist_size, uint64_t hist_ttl_ms);
/* Frees every channel and history reference. Subscriptions must be gone. */
void hr_chans_free(hr_chans_t *r);

hr_chan_t *hr_chan_find(hr_chans_t *r, const char *name, size_t len);
/* Find or create. */
hr_chan_t *hr_chan_get(hr_chans_t *r, const char *name, size_t len);

/* Subscribe conn to the channel named name on transport t, linking the new
 * node onto *conn_subs. Returns the node, or NULL when conn already is
 * subscribed to it. */
hr_sub_t *hr_chan_subscribe(hr_chans_t *r, const char *name, size_t len, void *conn, int t,
                            hr_sub_t **conn_subs);

/* Remove conn's subscription to name; returns 1 if there was one. */
int hr_chan_unsubscribe(hr_chans_t *r, const char *name, size_t len, hr_sub_t **conn_subs);

/* Remove every subscription on the connection's list. */
void hr_chan_unsubscribe_all(hr_chans_t *r, hr_sub_t **conn_subs);

/* Deliver m to every t-subscriber of ch through deliver(conn, m, ud); SSE
 * messages are first added to the channel's history. The callback may
 * unsubscribe its own connection. Returns the subscribers reached. */
typedef void (*hr_deliver_fn)(void *conn, hr_msg_t *m, void *ud);
size_t hr_chan_publish(hr_chans_t *r, hr_chan_t *ch, int t, hr_msg_t *m, hr_deliver_fn deliver,
                       void *ud);

/* Drop history older than the TTL; free channels left with nothing. */
void hr_chans_expire(hr_chans_t *r, uint64_t now_ms);

/* Resume: collect the SSE messages with seq > after_seq held for any of the
 * n channels, in seq order, each once, and call emit for each. Sets
 * gap[i] = 1 for each channel whose history no longer holds everything
 * after after_seq. Returns the number of gapped channels. */
typedef void (*hr_emit_fn)(hr_msg_t *m, void *ud);
size_t hr_chans_replay(hr_chans_t *r, const hr_slice_t *names, size_t n, uint64_t after_seq,
                       uint64_t now_ms, uint8_t *gap, hr_emit_fn emit, void *ud);

#endif
