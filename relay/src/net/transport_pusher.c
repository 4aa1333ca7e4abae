/* SPDX-License-Identifier: MIT
 * transport_pusher.c: the Pusher Channels protocol 7 (docs/PROTOCOL.md 4).
 * The WebSocket part (frames, close, the message rate) is the session every
 * WebSocket transport shares (ws_session.c); messages are read and written
 * by codec/pusher_msg.c, channel signatures checked by codec/pusher_auth.c.
 * What is this file's own:
 *
 * Delivery. A subscriber accepts every publish that reaches SSE or
 * WebSocket subscribers, and presence joins and leaves, which arrive as
 * pusher_internal:member_added/removed, never to a connection of the user
 * they are about (pusher-js would list itself twice). Like herald.v1, a
 * message published to several channels of one connection arrives once per
 * channel (admit keeps the last seq sent per channel), and each
 * (message, channel) is encoded once, in the event's cache.
 *
 * Subscriptions. A subscribe is checked (signature, presence user, the
 * application's approval through net/app.h), then started like a herald.v1
 * one without since (hr_conn_fresh: in a cluster it waits for Redis, live
 * events held meanwhile), so subscribes run one at a time, queued in order.
 * subscription_succeeded goes out when the position is known (start); on a
 * presence channel when the members are known too (hr_presence_members,
 * correct across relays): until then that channel's events wait in a short
 * list of their own, and joins and leaves the member list already reflects
 * are dropped from it. */
#include "net/transport_pusher.h"
#include "base/log.h"
#include "codec/json_str.h"
#include "codec/pusher_auth.h"
#include "codec/pusher_msg.h"
#include "codec/token.h"
#include "core/broker.h"
#include "core/presence.h"
#include "net/app.h"
#include "net/auth.h"
#include "net/conn.h"
#include "net/pusher.h"
#include "net/ws_session.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pusher's close and error codes (docs/PROTOCOL.md 4.6). */
enum {
    P_APP_UNKNOWN = 4001,
    P_PROTOCOL_UNSUPPORTED = 4007,
    P_PROTOCOL_MISSING = 4008,
    P_OVER_CAPACITY = 4100,
    P_RECONNECT = 4200,
    P_NO_PONG = 4201,
    P_RATE = 4301,
};

#define HOLD_MAX 1024 /* events a presence channel keeps until its members are known */

/* Labels of herald_pusher_errors_total{code}. */
enum { E_NULL, E_4001, E_4007, E_4008, E_4201, E_4301, E_SUBSCRIPTION, E_COUNT };

static const char *const error_labels[E_COUNT] = {
    "code=\"null\"",
    "code=\"4001\"",
    "code=\"4007\"",
    "code=\"4008\"",
    "code=\"4201\"",
    "code=\"4301\"",
    "code=\"subscription_error\"",
};

/* Per loop. */
typedef struct pusher_loop {
    uint64_t errors[E_COUNT];
    uint64_t subscribed;    /* subscription_succeeded sent */
    uint64_t client_events; /* client events published */
    uint64_t held_dropped;  /* events past HOLD_MAX while members were asked */
} pusher_loop_t;

/* An event waiting for its presence channel's members. */
typedef struct held {
    struct held *next;
    hr_event_t *ev;
    int chan;
} held_t;

/* A channel of the connection. */
typedef struct pchan {
    struct pchan *next;
    uint64_t last_seq; /* the last message sent on it */
    uint32_t gen;      /* names this subscription in a members query */
    uint8_t presence;
    uint8_t ready; /* subscription_succeeded went out: events flow */
    held_t *held, **held_tail;
    uint32_t nheld;
    size_t len;
    char name[];
} pchan_t;

/* A subscribe or unsubscribe waiting for the one before it. */
enum { OP_SUB, OP_UNSUB };
typedef struct op {
    struct op *next;
    int kind;
    int approved; /* the application allowed it (or need not be asked) */
    int asking;   /* waiting for the application's answer */
    hr_slice_t channel;
    hr_slice_t info; /* presence: the member's user_info (JSON text), p NULL: none */
    char bytes[];
} op_t;

typedef struct pusher_conn {
    hr_ws_session_t ws;
    pchan_t *chans;
    op_t *ops, **ops_tail;
    uint32_t nops;
    op_t *cur; /* running: waits for the application or a resume */
    uint8_t running;
    uint8_t busy, dead; /* as in transport_herald.c */
    uint32_t gen;
    uint64_t ping_sent_ms; /* a server pusher:ping waits for an answer; 0: none */
    uint64_t cev_window_ms;
    uint32_t cev_count; /* client events in the current second */
} pusher_conn_t;

static int slot = -1;      /* the messages in the event's cache, one per channel */
static int dslot = -1;     /* the same, compressed (permessage-deflate), per window */
static int user_slot = -1; /* a presence event's user, cached as "bytes" */

/* Subscribers accept what SSE and WebSocket clients receive, and presence;
 * not herald_send (DIRECT), which speaks to one herald connection. */
#define PUSHER_ACCEPTS (HR_TARGET_ALL | HR_TARGET_PRESENCE)

static void *pusher_init(hr_net_t *net, int tidx)
{
    (void)tidx;
    if (slot < 0) {
        slot = hr_event_slot();
        user_slot = hr_event_slot();
        dslot = hr_event_slot();
    }
    hr_ws_loop_init(net);
    pusher_loop_t *pl = hr_xcalloc(1, sizeof *pl);
    hr_metrics_t *reg = &net->loop->metrics;
    for (int i = 0; i < E_COUNT; i++)
        hr_metrics_add(reg, "herald_pusher_errors_total", HR_COUNTER,
                       "Pusher front: errors sent to clients (pusher:error, "
                       "pusher:subscription_error, closes), by code.",
                       error_labels[i], &pl->errors[i]);
    hr_metrics_add(reg, "herald_pusher_subscriptions_total", HR_COUNTER,
                   "Pusher front: subscriptions that succeeded.", NULL, &pl->subscribed);
    hr_metrics_add(reg, "herald_pusher_client_events_total", HR_COUNTER,
                   "Pusher front: client events published.", NULL, &pl->client_events);
    hr_metrics_add(reg, "herald_pusher_held_dropped_total", HR_COUNTER,
                   "Pusher front: events dropped while a presence channel's members were asked.",
                   NULL, &pl->held_dropped);
    return pl;
}

static void pusher_fini(hr_net_t *net, void *data)
{
    hr_ws_loop_fini(net);
    free(data);
}

static pusher_loop_t *loop_state(hr_conn_t *c)
{
    return hr_conn_net(c)->tdata[c->tidx];
}

static hr_slice_t sl(const char *s)
{
    return (hr_slice_t){s, s ? strlen(s) : 0};
}

/* ---- messages out ---- */

static hr_buf_t *frame_of(const hr_pusher_out_t *o)
{
    size_t n = hr_pusher_write(NULL, o);
    hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + n);
    size_t h = hr_ws_frame_header((uint8_t *)b->data, HR_WS_OP_TEXT, n);
    hr_pusher_write(b->data + h, o);
    b->len = (uint32_t)(h + n);
    return b;
}

static void send_out(hr_conn_t *c, const hr_pusher_out_t *o)
{
    hr_buf_t *b = frame_of(o);
    hr_conn_send(c, b);
    hr_buf_unref(b);
}

/* pusher:error {code, message}; code 0: null. Counted. */
static void send_error(hr_conn_t *c, int code, const char *message)
{
    int label = code == P_APP_UNKNOWN            ? E_4001
                : code == P_PROTOCOL_UNSUPPORTED ? E_4007
                : code == P_PROTOCOL_MISSING     ? E_4008
                : code == P_NO_PONG              ? E_4201
                : code == P_RATE                 ? E_4301
                                                 : E_NULL;
    loop_state(c)->errors[label]++;
    size_t ml = hr_json_str(NULL, message, strlen(message));
    char *data = hr_xmalloc(ml + 40);
    int n = snprintf(data, 40, "{\"code\":");
    n += code ? snprintf(data + n, 20, "%d", code) : snprintf(data + n, 20, "null");
    n += snprintf(data + n, 20, ",\"message\":");
    n += (int)hr_json_str(data + n, message, strlen(message));
    data[n++] = '}';
    hr_pusher_out_t o = {.event = sl("pusher:error"), .data = {data, (size_t)n}};
    send_out(c, &o);
    free(data);
}

/* pusher:subscription_error, what Echo's .error() hears. */
static void send_sub_error(hr_conn_t *c, hr_slice_t channel, int status, const char *type,
                           const char *error)
{
    loop_state(c)->errors[E_SUBSCRIPTION]++;
    json_t *d = json_pack("{s:s,s:s,s:i}", "type", type, "error", error, "status", status);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    hr_pusher_out_t o = {
        .event = sl("pusher:subscription_error"),
        .channel = channel,
        .data = sl(text),
    };
    send_out(c, &o);
    free(text);
}

static void close_with(hr_conn_t *c, int code, const char *message)
{
    pusher_conn_t *p = c->tstate;
    send_error(c, code, message);
    hr_ws_session_close(c, &p->ws, (uint16_t)code, message);
}

/* ---- encoding ---- */

/* member_added {"user_id","user_info"} / member_removed {"user_id"} from
 * the presence module's {"channel","user","info"}. */
static hr_buf_t *encode_presence(const hr_event_t *ev, int chan)
{
    int join = ev->name.len == 11 && memcmp(ev->name.p, "herald.join", 11) == 0;
    json_t *in = json_loadb(ev->data.p, ev->data.len, 0, NULL);
    json_t *user = json_object_get(in, "user");
    json_t *out = json_object();
    json_object_set(out, "user_id", json_is_string(user) ? user : json_string(""));
    if (join) {
        json_t *info = json_object_get(in, "info");
        json_object_set(out, "user_info", info ? info : json_null());
    }
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    json_decref(in);
    hr_pusher_out_t o = {
        .event = sl(join ? "pusher_internal:member_added" : "pusher_internal:member_removed"),
        .channel = ev->channels[chan],
        .data = sl(text),
    };
    hr_buf_t *b = frame_of(&o);
    free(text);
    return b;
}

/* {"event":E,"channel":C,"data":D}: E the event's name or "message", D
 * its data as a string: JSON as its text, text as itself, bytes in
 * base64. */
static hr_buf_t *encode_message(const hr_event_t *ev, int chan)
{
    if (ev->target == HR_TARGET_PRESENCE)
        return encode_presence(ev, chan);
    hr_pusher_out_t o = {
        .event = ev->name.len ? ev->name : sl("message"),
        .channel = ev->channels[chan],
        .data = ev->data,
        .user_id = ev->user, /* a client event on a presence channel: its sender */
    };
    if (o.data.p == NULL)
        o.data = sl("");
    char *b64 = NULL;
    if (ev->binary) {
        b64 = hr_xmalloc(hr_pusher_base64(NULL, NULL, ev->data.len) + 1);
        o.data =
            (hr_slice_t){b64, hr_pusher_base64(b64, (const uint8_t *)ev->data.p, ev->data.len)};
    }
    hr_buf_t *b = frame_of(&o);
    free(b64);
    return b;
}

static hr_buf_t *pusher_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    pusher_conn_t *p = c->tstate;
    return hr_ws_encode(c, &p->ws, ev, slot, dslot, chan, encode_message);
}

/* The user a presence event is about, cached in the event: "bytes". */
static hr_buf_t *extract_user(const hr_event_t *ev, int chan)
{
    (void)chan;
    json_t *in = json_loadb(ev->data.p, ev->data.len, 0, NULL);
    json_t *user = json_object_get(in, "user");
    hr_buf_t *b = json_is_string(user)
                      ? hr_buf_from(json_string_value(user), json_string_length(user))
                      : hr_buf_from("", 0);
    json_decref(in);
    return b;
}

static int own_user(hr_conn_t *c, hr_event_t *ev)
{
    if (c->app == NULL || c->app->user_len == 0)
        return 0;
    hr_buf_t *u = hr_event_encoding(ev, user_slot, -1, extract_user);
    return u->len == c->app->user_len && memcmp(u->data, c->app->user, u->len) == 0;
}

/* ---- the connection's channels ---- */

static pchan_t *find_chan(pusher_conn_t *p, const char *name, size_t len)
{
    for (pchan_t *k = p->chans; k; k = k->next)
        if (k->len == len && memcmp(k->name, name, len) == 0)
            return k;
    return NULL;
}

static void free_chan(pchan_t *k)
{
    while (k->held) {
        held_t *h = k->held;
        k->held = h->next;
        hr_event_unref(h->ev);
        free(h);
    }
    free(k);
}

static void drop_chan(pusher_conn_t *p, const char *name, size_t len)
{
    for (pchan_t **pp = &p->chans; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && memcmp((*pp)->name, name, len) == 0) {
            pchan_t *k = *pp;
            *pp = k->next;
            free_chan(k);
            return;
        }
}

static pchan_t *add_chan(pusher_conn_t *p, const char *name, size_t len)
{
    pchan_t *k = hr_xcalloc(1, sizeof *k + len);
    memcpy(k->name, name, len);
    k->len = len;
    k->gen = ++p->gen;
    k->held_tail = &k->held;
    k->presence = (uint8_t)hr_presence_is(name, len);
    k->next = p->chans;
    p->chans = k;
    return k;
}

/* Once per (message, channel), never a presence event about the
 * connection's own user; held while a presence channel waits for its
 * members. */
static int pusher_admit(hr_conn_t *c, hr_event_t *ev, int chan)
{
    pusher_conn_t *p = c->tstate;
    pchan_t *k = find_chan(p, ev->channels[chan].p, ev->channels[chan].len);
    if (k == NULL || ev->seq <= k->last_seq)
        return 0;
    k->last_seq = ev->seq;
    if (ev->seq > c->last_seq)
        c->last_seq = ev->seq;
    if (ev->target == HR_TARGET_PRESENCE && own_user(c, ev))
        return 0;
    if (!k->ready) {
        if (k->nheld >= HOLD_MAX) {
            loop_state(c)->held_dropped++;
            return 0;
        }
        held_t *h = hr_xmalloc(sizeof *h);
        h->ev = hr_event_ref(ev);
        h->chan = chan;
        h->next = NULL;
        *k->held_tail = h;
        k->held_tail = &h->next;
        k->nheld++;
        return 0;
    }
    return 1;
}

static void pusher_replay(hr_conn_t *c, hr_event_t *ev)
{
    for (int i = 0; i < ev->nchannels; i++) {
        if (!pusher_admit(c, ev, i))
            continue;
        hr_buf_t *b = pusher_encode(c, ev, i);
        if (hr_conn_send_uncapped(c, b) == 0)
            hr_conn_net(c)->tstats[c->tidx].delivered++;
    }
}

/* subscription_succeeded; on a presence channel with the members, then
 * what waited (less the joins and leaves the list already has). */
static void succeeded(hr_conn_t *c, pchan_t *k, json_t *members)
{
    pusher_conn_t *p = c->tstate;
    char *text = NULL;
    json_t *hash = NULL;
    if (members) {
        json_t *ids = json_array();
        hash = json_object();
        size_t i;
        json_t *m;
        json_array_foreach(members, i, m)
        {
            json_t *u = json_object_get(m, "user");
            if (!json_is_string(u))
                continue;
            json_array_append(ids, u);
            json_t *info = json_object_get(m, "info");
            json_object_set(hash, json_string_value(u), info ? info : json_null());
        }
        json_t *d = json_pack("{s:{s:o,s:O,s:I}}", "presence", "ids", ids, "hash", hash, "count",
                              (json_int_t)json_array_size(ids));
        text = json_dumps(d, JSON_COMPACT);
        json_decref(d);
    }
    hr_pusher_out_t o = {
        .event = sl("pusher_internal:subscription_succeeded"),
        .channel = {k->name, k->len},
        .data = sl(text ? text : "{}"),
    };
    send_out(c, &o);
    free(text);
    loop_state(c)->subscribed++;
    k->ready = 1;
    while (k->held && !p->dead && !c->closing) {
        held_t *h = k->held;
        k->held = h->next;
        k->nheld--;
        int skip = 0;
        if (h->ev->target == HR_TARGET_PRESENCE && hash) {
            int join = h->ev->name.len == 11 && memcmp(h->ev->name.p, "herald.join", 11) == 0;
            hr_buf_t *u = hr_event_encoding(h->ev, user_slot, -1, extract_user);
            char user[HR_USER_MAX + 1];
            size_t ul = u->len < HR_USER_MAX ? u->len : HR_USER_MAX;
            memcpy(user, u->data, ul);
            user[ul] = '\0';
            int listed = json_object_get(hash, user) != NULL;
            skip = join ? listed : !listed;
        }
        if (!skip) {
            hr_buf_t *b = pusher_encode(c, h->ev, h->chan);
            if (hr_conn_send(c, b) == 0)
                hr_conn_net(c)->tstats[c->tidx].delivered++;
        }
        hr_event_unref(h->ev);
        free(h);
    }
    if (k->held == NULL)
        k->held_tail = &k->held;
    json_decref(hash);
}

/* ---- presence members ---- */

typedef struct pquery {
    hr_conn_app_t *link;
    uint32_t gen;
    size_t len;
    char channel[];
} pquery_t;

static void members_answered(void *ud, const char *json, size_t len, const char *err)
{
    pquery_t *q = ud;
    hr_conn_t *c = q->link->conn;
    pusher_conn_t *p = c ? c->tstate : NULL;
    if (p && !p->dead && !c->end_after_flush) {
        pchan_t *k = find_chan(p, q->channel, q->len);
        if (k && k->gen == q->gen && !k->ready) {
            p->busy++;
            json_t *members = json ? json_loadb(json, len, 0, NULL) : NULL;
            if (!json_is_array(members)) {
                hr_slice_t ch = {k->name, k->len};
                hr_conn_app_left(c, k->name, k->len);
                hr_conn_unsubscribe(c, k->name, k->len);
                send_sub_error(c, ch, 500, "PresenceError", err ? err : "presence unavailable");
                drop_chan(p, q->channel, q->len);
            } else {
                succeeded(c, k, members);
            }
            json_decref(members);
            p->busy--;
        }
    }
    hr_conn_app_unref(q->link);
    free(q);
}

static void ask_members(hr_conn_t *c, pchan_t *k)
{
    hr_presence_t *pr = hr_conn_loop(c)->presence;
    pquery_t *q = hr_xcalloc(1, sizeof *q + k->len);
    q->link = hr_conn_app_ref(hr_conn_app(c));
    q->gen = k->gen;
    q->len = k->len;
    memcpy(q->channel, k->name, k->len);
    hr_presence_members(pr, (hr_slice_t){k->name, k->len}, members_answered, q);
}

/* ---- subscribe and unsubscribe, in order ---- */

static void release(hr_conn_t *c, pusher_conn_t *p);
static void run_ops(hr_conn_t *c);

static op_t *op_new(int kind, hr_slice_t channel, hr_slice_t info)
{
    op_t *op = hr_xcalloc(1, sizeof *op + channel.len + info.len + 2);
    op->kind = kind;
    memcpy(op->bytes, channel.p, channel.len);
    op->channel = (hr_slice_t){op->bytes, channel.len};
    if (info.p) {
        char *w = op->bytes + channel.len + 1;
        memcpy(w, info.p, info.len);
        op->info = (hr_slice_t){w, info.len};
    }
    return op;
}

static void enqueue(pusher_conn_t *p, op_t *op)
{
    *p->ops_tail = op;
    p->ops_tail = &op->next;
    p->nops++;
}

/* A fresh subscription has its position. */
static void pusher_start(hr_conn_t *c, const char *position)
{
    pusher_conn_t *p = c->tstate;
    op_t *op = p->cur;
    if (op == NULL || op->kind != OP_SUB)
        return;
    pchan_t *k = find_chan(p, op->channel.p, op->channel.len);
    if (k == NULL)
        return;
    uint64_t seq = 0;
    if (hr_broker_parse_id(hr_conn_loop(c)->broker, sl(position), &seq))
        k->last_seq = seq;
    if (!k->presence)
        succeeded(c, k, NULL);
}

/* Allowed: subscribe. Returns 1 when a resume is in progress. */
static int proceed_subscribe(hr_conn_t *c, pusher_conn_t *p, op_t *op)
{
    hr_slice_t ch = op->channel;
    /* Subscribing again starts over (pusher-js does so after a reconnect
     * of its own only, on a new connection). */
    if (find_chan(p, ch.p, ch.len)) {
        hr_conn_app_left(c, ch.p, ch.len);
        hr_conn_unsubscribe(c, ch.p, ch.len);
        drop_chan(p, ch.p, ch.len);
    }
    pchan_t *k = add_chan(p, ch.p, ch.len);
    if (k->presence)
        hr_conn_app_grant(c, ch, op->info);
    hr_conn_subscribe(c, ch.p, ch.len, PUSHER_ACCEPTS);
    p->cur = op;
    hr_conn_fresh(c, PUSHER_ACCEPTS, &op->channel, 1);
    if (!p->dead && !c->closing && k->presence) {
        /* The member joins first, so that the list has it. */
        hr_conn_app_joined(c, ch.p, ch.len);
        if (!p->dead && !c->closing)
            ask_members(c, k);
    }
    if (c->resume == NULL || p->dead) {
        p->cur = NULL;
        return 0;
    }
    return 1;
}

static void subscribe_answered(hr_conn_t *c, const char *ref, size_t ref_len,
                               const hr_app_verdict_t *v);

/* 1 if the channel needs a Pusher signature. */
static int needs_auth(hr_slice_t ch)
{
    return (ch.len >= 8 && memcmp(ch.p, "private-", 8) == 0) || hr_presence_is(ch.p, ch.len) ||
           hr_token_is_private(hr_auth_cfg.private_prefixes, ch.p, ch.len);
}

/* Check a subscribe (data of the message: auth, channel_data); returns the
 * op to run, or NULL when refused (answered). */
static op_t *check_subscribe(hr_conn_t *c, pusher_conn_t *p, const hr_pusher_msg_t *m)
{
    hr_slice_t ch = m->channel;
    hr_slice_t info = {NULL, 0};
    char *info_buf = NULL;
    if (needs_auth(ch)) {
        const char *sock = hr_conn_app(c)->id;
        int presence = hr_presence_is(ch.p, ch.len);
        if (m->auth.p == NULL) {
            send_sub_error(c, ch, 401, "AuthError",
                           "auth missing: a private channel needs a "
                           "signature from the auth endpoint");
            return NULL;
        }
        if (presence && m->channel_data.p == NULL) {
            send_sub_error(c, ch, 401, "AuthError", "channel_data missing on a presence channel");
            return NULL;
        }
        if (!hr_pusher_channel_auth_ok(hr_pusher_cfg.key, hr_pusher_cfg.secret, sock, strlen(sock),
                                       ch.p, ch.len, presence ? m->channel_data.p : NULL,
                                       presence ? m->channel_data.len : 0, m->auth.p,
                                       m->auth.len)) {
            send_sub_error(c, ch, 401, "AuthError",
                           "Invalid signature: the auth does not match "
                           "this socket id, channel and channel_data");
            return NULL;
        }
        if (presence) {
            char user[HR_PUSHER_USER_MAX + 1];
            size_t ul, il;
            const char *why = NULL;
            if (hr_pusher_channel_data(m->channel_data.p, m->channel_data.len, user, &ul, &info_buf,
                                       &il, &why) != 0) {
                send_sub_error(c, ch, 400, "AuthError", why);
                return NULL;
            }
            if (!hr_user_valid(user, ul)) {
                send_sub_error(c, ch, 400, "AuthError",
                               "channel_data.user_id is not a valid user name (1-200 bytes of the "
                               "channel alphabet)");
                free(info_buf);
                return NULL;
            }
            hr_conn_app_t *a = hr_conn_app(c);
            if (a->user_len && (a->user_len != ul || memcmp(a->user, user, ul) != 0)) {
                send_sub_error(c, ch, 403, "AuthError",
                               "this connection is another user's: one user_id per connection");
                free(info_buf);
                return NULL;
            }
            if (a->user_len == 0)
                hr_conn_app_set_user(c, user, ul);
            if (info_buf)
                info = (hr_slice_t){info_buf, il};
        }
    }
    if (!find_chan(p, ch.p, ch.len) && hr_conn_app_channels(c) >= (size_t)hr_net_cfg.max_channels) {
        send_sub_error(c, ch, 400, "LimitError", "too many channels on this connection");
        free(info_buf);
        return NULL;
    }
    op_t *op = op_new(OP_SUB, ch, info);
    free(info_buf);
    return op;
}

/* Begin a checked subscribe; 1 when it waits (the application, a
 * resume): it stays current until then. */
static int run_subscribe(hr_conn_t *c, pusher_conn_t *p, op_t *op)
{
    const hr_app_iface_t *app = hr_conn_net(c)->app;
    if (app && !op->approved && app->approves(app->ud, op->channel.p, op->channel.len) &&
        !hr_conn_app_granted(c, op->channel.p, op->channel.len)) {
        hr_app_question_t q = {
            .type = HR_APP_SUBSCRIBE,
            .channel = op->channel,
            .done = subscribe_answered,
        };
        const char *why = NULL;
        op->asking = 1;
        p->cur = op;
        if (app->ask(app->ud, c, &q, &why) != 0) {
            op->asking = 0;
            p->cur = NULL;
            send_sub_error(c, op->channel, 503, "AuthError", why ? why : "application busy");
            return 0;
        }
        return 1;
    }
    return proceed_subscribe(c, p, op);
}

static void subscribe_answered(hr_conn_t *c, const char *ref, size_t ref_len,
                               const hr_app_verdict_t *v)
{
    (void)ref, (void)ref_len;
    pusher_conn_t *p = c->tstate;
    op_t *op = p ? p->cur : NULL;
    if (op == NULL || !op->asking)
        return;
    op->asking = 0;
    p->cur = NULL;
    p->busy++;
    if (v->ok && !v->failed) {
        /* The member's info is the signed channel_data's; the
         * application's grant only lets it in. */
        op->approved = 1;
        op->next = p->ops;
        if (p->ops == NULL)
            p->ops_tail = &op->next;
        p->ops = op;
        p->nops++;
    } else {
        char why[256];
        snprintf(why, sizeof why, "%.*s",
                 (int)(v->error.p  ? v->error.len
                       : v->failed ? 23
                                   : 25),
                 v->error.p  ? v->error.p
                 : v->failed ? "application unavailable"
                             : "refused by the application");
        send_sub_error(c, op->channel, v->failed ? 503 : 403, "AuthError", why);
        free(op);
    }
    if (!p->dead)
        run_ops(c);
    if (--p->busy == 0 && p->dead)
        release(c, p);
}

static void run_unsubscribe(hr_conn_t *c, pusher_conn_t *p, op_t *op)
{
    /* Pusher answers nothing; a channel not subscribed is ignored. */
    if (find_chan(p, op->channel.p, op->channel.len) == NULL)
        return;
    hr_conn_app_left(c, op->channel.p, op->channel.len);
    hr_conn_unsubscribe(c, op->channel.p, op->channel.len);
    drop_chan(p, op->channel.p, op->channel.len);
}

static void run_ops(hr_conn_t *c)
{
    pusher_conn_t *p = c->tstate;
    if (p->running)
        return;
    p->running = 1;
    p->busy++;
    while (p->cur == NULL && p->ops && !p->dead && !c->end_after_flush) {
        op_t *op = p->ops;
        p->ops = op->next;
        if (p->ops == NULL)
            p->ops_tail = &p->ops;
        p->nops--;
        int pending = 0;
        if (op->kind == OP_SUB)
            pending = run_subscribe(c, p, op);
        else
            run_unsubscribe(c, p, op);
        if (!pending)
            free(op);
    }
    p->running = 0;
    if (--p->busy == 0 && p->dead)
        release(c, p);
}

static void pusher_resumed(hr_conn_t *c)
{
    pusher_conn_t *p = c->tstate;
    op_t *op = p->cur;
    if (op == NULL)
        return;
    p->cur = NULL;
    if (p->running)
        return; /* run_subscribe is on the stack: run_ops frees op */
    free(op);
    run_ops(c);
}

/* ---- client events ---- */

static void on_client_published(void *ud, const char *id, size_t idlen, const char *err)
{
    (void)ud, (void)id, (void)idlen;
    if (err)
        hr_log(HR_LOG_INFO, "pusher: client event not published: %s", err);
}

static void client_event(hr_conn_t *c, pusher_conn_t *p, const hr_pusher_msg_t *m)
{
    hr_slice_t ch = m->channel;
    int priv = (ch.len >= 8 && memcmp(ch.p, "private-", 8) == 0) || hr_presence_is(ch.p, ch.len);
    if (ch.len >= 18 && memcmp(ch.p, "private-encrypted-", 18) == 0)
        priv = 0; /* Pusher: no client events on encrypted channels */
    pchan_t *k = find_chan(p, ch.p, ch.len);
    if (!priv) {
        send_error(c, 0,
                   "Client event rejected: only private and presence channels take client "
                   "events");
        return;
    }
    if (k == NULL || !k->ready) {
        send_error(c, 0, "Client event rejected: not subscribed to this channel");
        return;
    }
    if (hr_pusher_cfg.client_events_per_sec == 0) {
        send_error(c, 0, "Client event rejected: client events are disabled");
        return;
    }
    uint64_t now = hr_loop_now_ms(hr_conn_loop(c));
    if (now - p->cev_window_ms >= 1000) {
        p->cev_window_ms = now;
        p->cev_count = 0;
    }
    if (++p->cev_count > (uint32_t)hr_pusher_cfg.client_events_per_sec) {
        send_error(c, P_RATE, "Client event rejected due to rate limit");
        return;
    }
    if (m->data_len > (size_t)hr_pusher_cfg.max_event_bytes) {
        send_error(c, 0, "Client event rejected: data too large");
        return;
    }
    hr_conn_app_t *a = hr_conn_app(c);
    /* On a presence channel the receivers learn who sent it (user_id). */
    hr_slice_t user = {NULL, 0};
    if (a->user_len && hr_presence_is(ch.p, ch.len))
        user = (hr_slice_t){a->user, a->user_len};
    hr_publish_t pub = {
        .target = HR_TARGET_ALL,
        .json = 1,
        .event = m->event,
        .data = {m->data, m->data_len},
        .channels = &ch,
        .nchannels = 1,
        .except = {a->id, a->id_len}, /* never back to its sender */
        .user = user,
    };
    hr_broker_t *b = hr_conn_loop(c)->broker;
    b->ops->publish(b, &pub, on_client_published, NULL);
    loop_state(c)->client_events++;
    hr_pusher_webhook(hr_conn_net(c), "client_event", ch, m->event,
                      (hr_slice_t){m->data, m->data_len}, (hr_slice_t){a->id, a->id_len}, user);
}

/* ---- messages in ---- */

static void on_message(hr_conn_t *c, int binary, const uint8_t *data, size_t len)
{
    pusher_conn_t *p = c->tstate;
    if (binary) {
        send_error(c, 0, "Invalid message: binary frames are not part of the protocol");
        return;
    }
    hr_pusher_msg_t m;
    int st = hr_pusher_msg_parse(data, len, &m);
    if (st != HR_PMSG_OK) {
        if (st == HR_PMSG_CHANNEL && m.type == HR_PMSG_SUBSCRIBE)
            send_sub_error(c, m.channel, 400, "InvalidChannel", hr_pusher_msg_strerror(st));
        else
            send_error(c, 0, hr_pusher_msg_strerror(st));
        hr_pusher_msg_free(&m);
        return;
    }
    switch (m.type) {
    case HR_PMSG_PING: {
        hr_pusher_out_t o = {.event = sl("pusher:pong"), .data = sl("{}")};
        send_out(c, &o);
        break;
    }
    case HR_PMSG_PONG:
        break; /* any read answers a ping */
    case HR_PMSG_SUBSCRIBE:
    case HR_PMSG_UNSUBSCRIBE: {
        if (p->nops >= (uint32_t)hr_net_cfg.max_channels) {
            send_error(c, 0, "too many subscribes waiting");
            break;
        }
        op_t *op = m.type == HR_PMSG_SUBSCRIBE ? check_subscribe(c, p, &m)
                                               : op_new(OP_UNSUB, m.channel, (hr_slice_t){0});
        if (op) {
            enqueue(p, op);
            run_ops(c);
        }
        break;
    }
    case HR_PMSG_SIGNIN:
        send_error(c, 0, "pusher:signin is not supported by this server");
        break;
    case HR_PMSG_CLIENT:
        client_event(c, p, &m);
        break;
    }
    hr_pusher_msg_free(&m);
}

/* ---- the transport ---- */

static void pusher_on_read(hr_conn_t *c, uint8_t *data, size_t len)
{
    pusher_conn_t *p = c->tstate;
    p->busy++;
    p->ping_sent_ms = 0; /* anything from the client answers a ping */
    hr_ws_session_read(c, &p->ws, data, len);
    if (--p->busy == 0 && p->dead)
        release(c, p);
}

/* Pusher's own heartbeat (4.3): a pusher:ping after activity_timeout of
 * silence, a close 4201 when nothing came back within pong_timeout (30 s). */
static void pusher_heartbeat(hr_conn_t *c, uint64_t now)
{
    pusher_conn_t *p = c->tstate;
    if (c->end_after_flush || p->ws.close_sent)
        return;
    if (p->ping_sent_ms) {
        if (now - p->ping_sent_ms >= (uint64_t)hr_pusher_cfg.pong_timeout * 1000)
            close_with(c, P_NO_PONG, "Pong reply not received");
        return;
    }
    if (now - c->last_read_ms >= (uint64_t)hr_pusher_cfg.activity_timeout * 1000) {
        hr_pusher_out_t o = {.event = sl("pusher:ping"), .data = sl("{}")};
        send_out(c, &o);
        p->ping_sent_ms = now;
    }
}

static void pusher_begin_close(hr_conn_t *c)
{
    pusher_conn_t *p = c->tstate;
    hr_ws_session_close(c, &p->ws, P_RECONNECT, "relay restarting: reconnect");
}

static void release(hr_conn_t *c, pusher_conn_t *p)
{
    hr_ws_session_free(&p->ws);
    while (p->chans) {
        pchan_t *k = p->chans;
        p->chans = k->next;
        free_chan(k);
    }
    while (p->ops) {
        op_t *op = p->ops;
        p->ops = op->next;
        free(op);
    }
    free(p->cur);
    free(p);
    c->tstate = NULL;
}

static void pusher_on_close(hr_conn_t *c)
{
    pusher_conn_t *p = c->tstate;
    if (p == NULL)
        return;
    if (p->busy)
        p->dead = 1;
    else
        release(c, p);
}

const hr_transport_t hr_transport_pusher = {
    .name = HR_PUSHER_TRANSPORT,
    .init = pusher_init,
    .fini = pusher_fini,
    .on_read = pusher_on_read,
    .encode = pusher_encode,
    .heartbeat = pusher_heartbeat,
    .start = pusher_start,
    .admit = pusher_admit,
    .replay = pusher_replay,
    .resumed = pusher_resumed,
    .begin_close = pusher_begin_close,
    .on_close = pusher_on_close,
};

/* protocol= of the query: 0 missing, -1 not a number, else the version. */
static long query_protocol(const hr_http_request_t *req)
{
    size_t pos = 0;
    char key[32], val[64];
    int r;
    while ((r = hr_http_query_next(req->query, &pos, key, sizeof key, val, sizeof val)) != 0) {
        if (r < 0 || strcmp(key, "protocol") != 0)
            continue;
        char *end;
        long v = strtol(val, &end, 10);
        return end == val || *end ? -1 : v;
    }
    return 0;
}

void hr_pusher_open(hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest, size_t rest_len)
{
    static hr_query_t none; /* no channels in the query: Pusher subscribes in messages */
    hr_ws_upgrade_t u;
    if (hr_ws_upgrade(c, req, &none, NULL, &u) != 0)
        return;
    pusher_conn_t *p = hr_xcalloc(1, sizeof *p);
    hr_ws_session_init(&p->ws, &u, on_message);
    p->ws.rate_close = P_OVER_CAPACITY;
    p->ops_tail = &p->ops;
    p->busy = 1;
    c->tstate = p;
    hr_conn_set_transport(c, hr_net_transport(hr_conn_net(c), hr_transport_pusher.name));
    if (hr_conn_send_copy(c, u.head, u.head_len) != 0)
        goto out;
    /* After the upgrade, as Pusher does: a WebSocket client reads why. */
    const char *key = req->path.p + strlen(HR_PUSHER_PATH);
    size_t keylen = req->path.len - strlen(HR_PUSHER_PATH);
    long proto = query_protocol(req);
    if (!hr_pusher_equal(key, keylen, hr_pusher_cfg.key, strlen(hr_pusher_cfg.key))) {
        close_with(c, P_APP_UNKNOWN, "App key not in this relay");
        goto out;
    }
    if (proto == 0) {
        close_with(c, P_PROTOCOL_MISSING, "No protocol version supplied");
        goto out;
    }
    if (proto < 5 || proto > 7) {
        close_with(c, P_PROTOCOL_UNSUPPORTED, "Unsupported protocol version");
        goto out;
    }
    hr_conn_app_t *a = hr_conn_app(c);
    char data[128];
    int n = snprintf(data, sizeof data, "{\"socket_id\":\"%.*s\",\"activity_timeout\":%ld}",
                     (int)a->id_len, a->id, hr_pusher_cfg.activity_timeout);
    hr_pusher_out_t o = {.event = sl("pusher:connection_established"), .data = {data, (size_t)n}};
    send_out(c, &o);
    if (rest_len && !p->dead)
        pusher_on_read(c, rest, rest_len);
out:
    if (--p->busy == 0 && p->dead)
        release(c, p);
}
