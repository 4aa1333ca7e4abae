/* SPDX-License-Identifier: MIT
 * transport_herald.c: the herald.v1 WebSocket subprotocol (docs/PROTOCOL.md
 * 2.8). The WebSocket part (frames, pings, close, rate, heartbeat) is the
 * session both WebSocket transports share (ws_session.c); envelopes are
 * read and written by codec/envelope.c. What is this file's own:
 *
 * Delivery. A subscriber accepts every publish target. A message published
 * to several channels of one connection arrives once per channel: the
 * connection keeps, per channel, the seq of the last message it sent on it
 * (admit), which also drops what a resume's replay already carried. Each
 * (message, channel) envelope is encoded once, in the event's cache.
 *
 * Subscriptions. A subscribe is a resume of one channel: with since, from
 * there (conn.c's hr_conn_resume); without, from the broker's position
 * (hr_conn_fresh, which in cluster mode waits for Redis). A connection has
 * one resume in progress at a time (its live events are held meanwhile,
 * core/resume.h), so subscribes and unsubscribes queue and run in the order
 * they came; with the local broker each runs to its end at once. The
 * subscribed answer goes out before the replay: with since at once, else
 * when the position is known (start). */
#include "net/transport_herald.h"
#include "base/log.h"
#include "codec/envelope.h"
#include "core/broker.h"
#include "core/presence.h"
#include "net/auth.h"
#include "net/app.h"
#include "net/conn.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Labels of herald_ws_envelope_errors_total{reason}: the envelope
 * codec's (hr_env_reason) and the transport's own. */
enum {
    E_NOT_JSON,
    E_UNKNOWN_TYPE,
    E_CHANNEL,
    E_SINCE,
    E_TOO_MANY,
    E_AUTH,
    E_REF,
    E_BINARY,
    E_SEND,
    E_FIXED,
    E_BUSY,
    E_COUNT
};

static const char *const error_labels[E_COUNT] = {
    "reason=\"not_json\"",
    "reason=\"unknown_type\"",
    "reason=\"channel\"",
    "reason=\"since\"",
    "reason=\"too_many_channels\"",
    "reason=\"auth\"",
    "reason=\"ref\"",
    "reason=\"binary_layout\"",
    "reason=\"send\"",
    "reason=\"fixed\"",
    "reason=\"busy\"",
};

/* Per loop. */
typedef struct herald_loop {
    uint64_t errors[E_COUNT];
} herald_loop_t;

/* A channel of the connection and where it is. */
typedef struct hchan {
    struct hchan *next;
    uint64_t last_seq; /* the last message sent on it */
    size_t len;
    char name[];
} hchan_t;

/* A subscribe or unsubscribe waiting for the one before it to finish. */
enum { OP_SUB, OP_UNSUB };
typedef struct op {
    struct op *next;
    int kind;
    int preauth;  /* from the upgrade's query: checked there already */
    int approved; /* the application allowed it (or need not be asked) */
    int asking;   /* waiting for the application's answer */
    hr_slice_t channel, since, token;
    char ref[HR_ENV_REF_MAX + 1];
    size_t ref_len;
    char bytes[]; /* channel, since, token */
} op_t;

typedef struct herald_conn {
    hr_ws_session_t ws;
    hchan_t *chans;
    op_t *ops, **ops_tail; /* waiting */
    uint32_t nops;         /* how many: at most max_channels (a hostile client
                              cannot queue without bound behind a slow resume) */
    op_t *cur;             /* running: its resume is in progress */
    uint8_t running;       /* in run_ops (a resume may finish inside it) */
    /* The connection may close under any call that sends (a slow
     * consumer) or resumes (a failed one): while busy, on_close only marks
     * it dead and the outermost call frees the state. */
    uint8_t busy, dead;
} herald_conn_t;

static int slot = -1;  /* the envelopes in the event's cache, one per channel */
static int dslot = -1; /* the same, compressed (permessage-deflate), per window */

/* What a herald.v1 subscriber receives: every publish, presence (join,
 * leave) and the application's herald_send. */
#define HERALD_ACCEPTS (HR_TARGET_ALL | HR_TARGET_PRESENCE | HR_TARGET_DIRECT)

static void *herald_init(hr_net_t *net, int tidx)
{
    if (slot < 0) {
        slot = hr_event_slot();
        dslot = hr_event_slot();
    }
    hr_ws_loop_init(net);
    herald_loop_t *h = hr_xcalloc(1, sizeof *h);
    for (int i = 0; i < E_COUNT; i++)
        hr_metrics_add(&net->loop->metrics, "herald_ws_envelope_errors_total", HR_COUNTER,
                       "herald.v1 client envelopes refused, by reason.", error_labels[i],
                       &h->errors[i]);
    return h;
}

static void herald_fini(hr_net_t *net, void *data)
{
    hr_ws_loop_fini(net);
    free(data);
}

static herald_loop_t *loop_state(hr_conn_t *c)
{
    return hr_conn_net(c)->tdata[c->tidx];
}

/* ---- envelopes out ---- */

static void send_env(hr_conn_t *c, const hr_env_out_t *o)
{
    size_t n = hr_env_write(NULL, o);
    hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + n);
    size_t h = hr_ws_frame_header((uint8_t *)b->data, HR_WS_OP_TEXT, n);
    hr_env_write(b->data + h, o);
    b->len = (uint32_t)(h + n);
    hr_conn_send(c, b);
    hr_buf_unref(b);
}

static hr_slice_t sl(const char *s)
{
    return (hr_slice_t){s, s ? strlen(s) : 0};
}

static void send_error_sl(hr_conn_t *c, const char *ref, size_t ref_len, hr_slice_t channel,
                          hr_slice_t error)
{
    hr_env_out_t o = {.type = "error", .channel = channel, .error = error};
    if (ref_len)
        o.ref = (hr_slice_t){ref, ref_len};
    send_env(c, &o);
}

static void send_error(hr_conn_t *c, const char *ref, size_t ref_len, hr_slice_t channel,
                       const char *error)
{
    send_error_sl(c, ref, ref_len, channel, sl(error));
}

/* An error of the table in 2.8: answered and counted. */
static void refuse(hr_conn_t *c, int label, const char *ref, size_t ref_len, hr_slice_t channel,
                   const char *error)
{
    loop_state(c)->errors[label]++;
    send_error(c, ref, ref_len, channel, error);
}

static void send_answer(hr_conn_t *c, const char *type, const op_t *op, const char *id)
{
    hr_env_out_t o = {.type = type, .channel = op->channel, .id = sl(id)};
    if (op->ref_len)
        o.ref = (hr_slice_t){op->ref, op->ref_len};
    send_env(c, &o);
}

/* The message envelope of ev on its channel chan: text with data as a
 * JSON string or, for a payload published as JSON, as the value; binary
 * data in the binary layout (4-byte length, envelope, payload). */
static hr_buf_t *text_frame(const char *a, size_t alen, const char *b, size_t blen)
{
    hr_buf_t *f = hr_buf_new(HR_WS_MAX_HEADER + alen + blen);
    size_t h = hr_ws_frame_header((uint8_t *)f->data, HR_WS_OP_TEXT, alen + blen);
    memcpy(f->data + h, a, alen);
    if (blen)
        memcpy(f->data + h + alen, b, blen);
    f->len = (uint32_t)(h + alen + blen);
    return f;
}

/* join or leave: the data the presence module published is the object
 * {"channel","user","info"}; the envelope is that object with its type. */
static hr_buf_t *encode_presence(const hr_event_t *ev)
{
    int join = ev->name.len == 11 && memcmp(ev->name.p, "herald.join", 11) == 0;
    const char *head = join ? "{\"type\":\"join\"," : "{\"type\":\"leave\",";
    if (ev->data.len < 2 || ev->data.p[0] != '{')
        return text_frame(head, strlen(head) - 1, "}", 1);
    return text_frame(head, strlen(head), ev->data.p + 1, ev->data.len - 1);
}

static hr_buf_t *encode_envelope(const hr_event_t *ev, int chan)
{
    if (ev->target == HR_TARGET_PRESENCE)
        return encode_presence(ev);
    hr_env_out_t o = {
        .type = "message",
        .channel = ev->channels[chan],
        .id = {ev->id, ev->idlen},
    };
    if (ev->target == HR_TARGET_DIRECT) {
        /* herald_send: a reply without ref, the application's own message
         * to this connection (PROTOCOL.md 3). */
        o = (hr_env_out_t){.type = "reply"};
    }
    if (ev->name.len && ev->target != HR_TARGET_DIRECT)
        o.event = ev->name;
    if (!ev->binary) {
        o.data = ev->data;
        o.data_mode = ev->json ? HR_ENV_DATA_JSON : HR_ENV_DATA_STRING;
        size_t n = hr_env_write(NULL, &o);
        hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + n);
        size_t h = hr_ws_frame_header((uint8_t *)b->data, HR_WS_OP_TEXT, n);
        hr_env_write(b->data + h, &o);
        b->len = (uint32_t)(h + n);
        return b;
    }
    size_t n = hr_env_write(NULL, &o);
    size_t total = 4 + n + ev->data.len;
    hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + total);
    uint8_t *p = (uint8_t *)b->data;
    size_t h = hr_ws_frame_header(p, HR_WS_OP_BINARY, total);
    p[h] = (uint8_t)(n >> 24);
    p[h + 1] = (uint8_t)(n >> 16);
    p[h + 2] = (uint8_t)(n >> 8);
    p[h + 3] = (uint8_t)n;
    hr_env_write(b->data + h + 4, &o);
    if (ev->data.len)
        memcpy(b->data + h + 4 + n, ev->data.p, ev->data.len);
    b->len = (uint32_t)(h + total);
    return b;
}

static hr_buf_t *herald_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    herald_conn_t *h = c->tstate;
    return hr_ws_encode(c, &h->ws, ev, slot, dslot, chan, encode_envelope);
}

/* ---- the connection's channels ---- */

static hchan_t *find_chan(herald_conn_t *h, const char *name, size_t len)
{
    for (hchan_t *k = h->chans; k; k = k->next)
        if (k->len == len && memcmp(k->name, name, len) == 0)
            return k;
    return NULL;
}

static void drop_chan(herald_conn_t *h, const char *name, size_t len)
{
    for (hchan_t **pp = &h->chans; *pp; pp = &(*pp)->next)
        if ((*pp)->len == len && memcmp((*pp)->name, name, len) == 0) {
            hchan_t *k = *pp;
            *pp = k->next;
            free(k);
            return;
        }
}

static hchan_t *add_chan(herald_conn_t *h, const char *name, size_t len)
{
    hchan_t *k = hr_xcalloc(1, sizeof *k + len);
    memcpy(k->name, name, len);
    k->len = len;
    k->next = h->chans;
    h->chans = k;
    return k;
}

/* Once per (message, channel): a message is new on a channel when its seq
 * is past the last one sent there. */
static int herald_admit(hr_conn_t *c, hr_event_t *ev, int chan)
{
    herald_conn_t *h = c->tstate;
    if (ev->target == HR_TARGET_DIRECT)
        return 1; /* one internal channel each, never resumed */
    hchan_t *k = find_chan(h, ev->channels[chan].p, ev->channels[chan].len);
    if (k == NULL || ev->seq <= k->last_seq)
        return 0;
    k->last_seq = ev->seq;
    /* The connection's own mark: a cluster's catch-up starts from the
     * lowest of them (cluster/broker_redis.c). */
    if (ev->seq > c->last_seq)
        c->last_seq = ev->seq;
    return 1;
}

/* A missed message of the subscription being resumed (only its channel:
 * the others are live, and get theirs in order as live messages). */
static void herald_replay(hr_conn_t *c, hr_event_t *ev)
{
    herald_conn_t *h = c->tstate;
    for (int i = 0; i < ev->nchannels; i++) {
        if (h->cur && !hr_slice_eq(ev->channels[i], h->cur->channel))
            continue;
        if (!herald_admit(c, ev, i))
            continue;
        hr_buf_t *b = herald_encode(c, ev, i);
        if (hr_conn_send_uncapped(c, b) == 0)
            hr_conn_net(c)->tstats[c->tidx].delivered++;
    }
}

/* A fresh subscription has its position: subscribed names it. */
static void herald_start(hr_conn_t *c, const char *position)
{
    herald_conn_t *h = c->tstate;
    op_t *op = h->cur;
    if (op == NULL || op->kind != OP_SUB || op->since.p)
        return;
    hchan_t *k = find_chan(h, op->channel.p, op->channel.len);
    uint64_t seq = 0;
    if (k && hr_broker_parse_id(hr_conn_loop(c)->broker, sl(position), &seq))
        k->last_seq = seq;
    send_answer(c, "subscribed", op, position);
}

static void herald_gap(hr_conn_t *c, const hr_resume_t *r, const char *position)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!r->gap[i])
            continue;
        hr_env_out_t o = {.type = "gap", .channel = r->channels[i], .since = r->since};
        if (position)
            o.id = sl(position);
        send_env(c, &o);
    }
    hr_log(HR_LOG_DEBUG, "client %p: resume from '%.*s': gap", (void *)c,
           (int)(r->since.len > 64 ? 64 : r->since.len), r->since.p);
}

static void release(hr_conn_t *c, herald_conn_t *h);

/* ---- subscribe and unsubscribe, in order ---- */

static op_t *op_new(int kind, hr_slice_t channel, hr_slice_t since, hr_slice_t token,
                    const char *ref, size_t ref_len)
{
    op_t *op = hr_xcalloc(1, sizeof *op + channel.len + since.len + token.len + 3);
    char *w = op->bytes;
    op->kind = kind;
    hr_slice_t *dst[3] = {&op->channel, &op->since, &op->token};
    hr_slice_t src[3] = {channel, since, token};
    for (int i = 0; i < 3; i++) {
        if (src[i].p == NULL)
            continue;
        memcpy(w, src[i].p, src[i].len);
        w[src[i].len] = '\0';
        *dst[i] = (hr_slice_t){w, src[i].len};
        w += src[i].len + 1;
    }
    memcpy(op->ref, ref, ref_len);
    op->ref_len = ref_len;
    return op;
}

static void enqueue(herald_conn_t *h, op_t *op)
{
    *h->ops_tail = op;
    h->ops_tail = &op->next;
    h->nops++;
}

static void subscribe_answered(hr_conn_t *c, const char *ref, size_t ref_len,
                               const hr_app_verdict_t *v);

/* Subscribe, checked and allowed. Returns 1 when a resume is in progress
 * (the op stays current until it is handed over), else 0. */
static int proceed_subscribe(hr_conn_t *c, herald_conn_t *h, op_t *op)
{
    /* Subscribing again starts over from what this subscribe asks. */
    hr_conn_unsubscribe(c, op->channel.p, op->channel.len);
    drop_chan(h, op->channel.p, op->channel.len);
    hr_conn_subscribe(c, op->channel.p, op->channel.len, HERALD_ACCEPTS);
    add_chan(h, op->channel.p, op->channel.len);
    h->cur = op;
    if (op->since.p) {
        send_answer(c, "subscribed", op, op->since.p);
        hr_conn_resume(c, HERALD_ACCEPTS, op->since, &op->channel, 1);
    } else {
        hr_conn_fresh(c, HERALD_ACCEPTS, &op->channel, 1);
    }
    /* A presence member once its subscription began: its own join comes
     * after subscribed (held behind a resume still in progress). */
    if (!h->dead && !c->closing)
        hr_conn_app_joined(c, op->channel.p, op->channel.len);
    /* The local broker finishes at once (resumed() ran, or, for a fresh
     * one, no resume was needed); a failed one closed the connection. */
    if (c->resume == NULL || h->dead) {
        h->cur = NULL;
        return 0;
    }
    return 1;
}

/* Check and begin a subscribe. Returns 1 when it waits (for the
 * application's answer, or a resume in progress): the op stays current
 * until then; else 0. */
static int run_subscribe(hr_conn_t *c, herald_conn_t *h, op_t *op)
{
    hr_net_t *net = hr_conn_net(c);
    const char *ref = op->ref;
    size_t rl = op->ref_len;
    if (!op->preauth) {
        if (h->ws.fixed_channels) {
            refuse(c, E_FIXED, ref, rl, op->channel, "channels are fixed on this connection");
            return 0;
        }
        const char *why;
        hr_token_t *claims = NULL;
        if (op->token.p) {
            /* Its own token: checked for this channel instead of the
             * connection's, and kept for later subscribes if it is valid
             * and the subscribe is taken (a client refreshes it so). */
            why = hr_auth_channel_token(net, op->token.p, op->token.len, op->channel.p,
                                        op->channel.len, &claims);
        } else {
            why = hr_auth_channel(net, h->ws.claims, op->channel.p, op->channel.len);
        }
        int has = hr_chan_has(c->subs, op->channel.p, op->channel.len);
        if (why) {
            refuse(c, E_AUTH, ref, rl, op->channel, why);
        } else if (!has && hr_conn_app_channels(c) >= (size_t)hr_net_cfg.max_channels) {
            why = "too many channels";
            refuse(c, E_TOO_MANY, ref, rl, op->channel, why);
        } else if (claims) {
            free(h->ws.claims);
            h->ws.claims = claims;
            claims = NULL;
            hr_conn_app_token_user(c, h->ws.claims); /* its sub, if none yet */
        }
        free(claims);
        if (why)
            return 0;
    }
    /* A presence channel counts users: it needs one (named by the
     * application's connect hook). */
    if (hr_conn_loop(c)->presence && hr_presence_is(op->channel.p, op->channel.len) &&
        (c->app == NULL || c->app->user_len == 0)) {
        refuse(c, E_AUTH, ref, rl, op->channel, "presence channels need a user");
        return 0;
    }
    /* The application decides on its channels (app_channels, presence):
     * the op waits for its answer; the others behind it wait too, so
     * answers keep the order of the requests. */
    const hr_app_iface_t *app = net->app;
    if (app && !op->approved && app->approves(app->ud, op->channel.p, op->channel.len) &&
        !hr_conn_app_granted(c, op->channel.p, op->channel.len)) {
        hr_app_question_t q = {
            .type = HR_APP_SUBSCRIBE,
            .channel = op->channel,
            .ref = op->ref,
            .ref_len = op->ref_len,
            .done = subscribe_answered,
        };
        /* Waiting before asking: an answer is never taken for a
         * subscribe that is not current. */
        const char *why = NULL;
        op->asking = 1;
        h->cur = op;
        if (app->ask(app->ud, c, &q, &why) != 0) {
            op->asking = 0;
            h->cur = NULL;
            send_error(c, ref, rl, op->channel, why);
            return 0;
        }
        return 1;
    }
    return proceed_subscribe(c, h, op);
}

static void run_ops(hr_conn_t *c);

/* The application answered the current subscribe. */
static void subscribe_answered(hr_conn_t *c, const char *ref, size_t ref_len,
                               const hr_app_verdict_t *v)
{
    (void)ref, (void)ref_len;
    herald_conn_t *h = c->tstate;
    op_t *op = h ? h->cur : NULL;
    if (op == NULL || !op->asking)
        return;
    op->asking = 0;
    h->cur = NULL;
    h->busy++;
    if (v->ok && !v->failed) {
        /* Checked already: it runs again first, from run_ops (which
         * owns the resume's bookkeeping). */
        hr_conn_app_grant(c, op->channel, v->info);
        op->approved = 1;
        op->preauth = 1;
        op->next = h->ops;
        if (h->ops == NULL)
            h->ops_tail = &op->next;
        h->ops = op;
        h->nops++;
    } else {
        hr_slice_t why = v->error.p  ? v->error
                         : v->failed ? sl("application unavailable")
                                     : sl("refused by the application");
        send_error_sl(c, op->ref, op->ref_len, op->channel, why);
        free(op);
    }
    if (!h->dead)
        run_ops(c);
    if (--h->busy == 0 && h->dead)
        release(c, h);
}

static void run_unsubscribe(hr_conn_t *c, herald_conn_t *h, op_t *op)
{
    if (h->ws.fixed_channels) {
        refuse(c, E_FIXED, op->ref, op->ref_len, op->channel,
               "channels are fixed on this connection");
        return;
    }
    hr_conn_app_left(c, op->channel.p, op->channel.len);
    hr_conn_unsubscribe(c, op->channel.p, op->channel.len);
    drop_chan(h, op->channel.p, op->channel.len);
    send_answer(c, "unsubscribed", op, NULL);
}

static void run_ops(hr_conn_t *c)
{
    herald_conn_t *h = c->tstate;
    if (h->running)
        return;
    h->running = 1;
    h->busy++;
    while (h->cur == NULL && h->ops && !h->dead && !c->end_after_flush) {
        op_t *op = h->ops;
        h->ops = op->next;
        if (h->ops == NULL)
            h->ops_tail = &h->ops;
        h->nops--;
        int pending = 0;
        if (op->kind == OP_SUB)
            pending = run_subscribe(c, h, op);
        else
            run_unsubscribe(c, h, op);
        if (!pending)
            free(op);
    }
    h->running = 0;
    if (--h->busy == 0 && h->dead)
        release(c, h);
}

/* The resume of the current subscribe was handed over: the next op. */
static void herald_resumed(hr_conn_t *c)
{
    herald_conn_t *h = c->tstate;
    op_t *op = h->cur;
    if (op == NULL)
        return;
    h->cur = NULL;
    if (h->running)
        return; /* run_subscribe is still on the stack: it frees op */
    free(op);
    run_ops(c);
}

/* ---- the application (Contract 5) and presence ---- */

/* The application's answer to a send: its reply (null when it gave none
 * and the client asked with a ref), or an error; then a close if asked. */
static void message_answered(hr_conn_t *c, const char *ref, size_t ref_len,
                             const hr_app_verdict_t *v)
{
    herald_conn_t *h = c->tstate;
    if (h == NULL || h->dead)
        return;
    h->busy++;
    hr_slice_t none = {NULL, 0};
    if (v->failed || !v->ok) {
        hr_slice_t why = v->error.p  ? v->error
                         : v->failed ? sl("application unavailable")
                                     : sl("refused by the application");
        send_error_sl(c, ref, ref_len, none, why);
    } else if (v->reply.p || ref_len) {
        hr_env_out_t o = {.type = "reply", .data = v->reply.p ? v->reply : sl("null")};
        o.data_mode = HR_ENV_DATA_JSON;
        if (ref_len)
            o.ref = (hr_slice_t){ref, ref_len};
        send_env(c, &o);
    }
    if (v->close && !h->dead)
        hr_ws_session_close(c, &h->ws, 4000, "closed by the application");
    if (--h->busy == 0 && h->dead)
        release(c, h);
}

/* A send: to the application's message hook, data as the client sent it
 * (a JSON value, or the binary layout's payload). */
static void to_app(hr_conn_t *c, const hr_envelope_t *e)
{
    const hr_app_iface_t *app = hr_conn_net(c)->app;
    hr_slice_t none = {NULL, 0};
    if (app == NULL || !app->messages) {
        send_error(c, e->ref, e->ref_len, none, "no application hooks");
        return;
    }
    hr_app_question_t q = {
        .type = HR_APP_MESSAGE,
        .channel = e->channel,
        .ref = e->ref,
        .ref_len = e->ref_len,
        .done = message_answered,
    };
    char *text = NULL;
    if (e->binary) {
        q.data = e->payload;
        q.data_mode = HR_APP_DATA_BASE64;
    } else {
        json_t *d = json_object_get(e->root, "data");
        text = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        q.data = sl(text);
        q.data_mode = HR_APP_DATA_JSON;
    }
    const char *why = NULL;
    if (app->ask(app->ud, c, &q, &why) != 0)
        send_error(c, e->ref, e->ref_len, none, why);
    free(text);
}

/* A presence query waiting for the members (in cluster mode Redis
 * answers later: the record outlives a connection that closes). */
typedef struct pquery {
    hr_conn_app_t *link;
    size_t ref_len, channel_len;
    char ref[HR_ENV_REF_MAX + 1];
    char channel[];
} pquery_t;

static void presence_answered(void *ud, const char *json, size_t len, const char *err)
{
    pquery_t *q = ud;
    hr_conn_t *c = q->link->conn;
    herald_conn_t *h = c ? c->tstate : NULL;
    if (h && !h->dead && !c->end_after_flush) {
        hr_slice_t ch = {q->channel, q->channel_len};
        if (json == NULL) {
            send_error(c, q->ref, q->ref_len, ch, err ? err : "presence unavailable");
        } else {
            /* {"type":"presence","channel":C,"ref":R,"members":[...]}: the
             * channel is of the name alphabet, the ref JSON text. */
            size_t cap = 64 + q->channel_len + q->ref_len + len;
            char *b = hr_xmalloc(cap);
            int n =
                snprintf(b, cap, "{\"type\":\"presence\",\"channel\":\"%.*s\"%s%.*s,\"members\":",
                         (int)q->channel_len, q->channel, q->ref_len ? ",\"ref\":" : "",
                         (int)q->ref_len, q->ref);
            memcpy(b + n, json, len);
            b[(size_t)n + len] = '}';
            hr_ws_send_text(c, b, (size_t)n + len + 1);
            free(b);
        }
    }
    hr_conn_app_unref(q->link);
    free(q);
}

static void presence_query(hr_conn_t *c, herald_conn_t *h, const hr_envelope_t *e)
{
    hr_presence_t *p = hr_conn_loop(c)->presence;
    if (p == NULL || !hr_presence_is(e->channel.p, e->channel.len)) {
        send_error(c, e->ref, e->ref_len, e->channel, "not a presence channel");
        return;
    }
    if (find_chan(h, e->channel.p, e->channel.len) == NULL) {
        send_error(c, e->ref, e->ref_len, e->channel, "not subscribed");
        return;
    }
    pquery_t *q = hr_xcalloc(1, sizeof *q + e->channel.len);
    q->link = hr_conn_app_ref(hr_conn_app(c));
    memcpy(q->ref, e->ref, e->ref_len);
    q->ref_len = e->ref_len;
    memcpy(q->channel, e->channel.p, e->channel.len);
    q->channel_len = e->channel.len;
    hr_presence_members(p, e->channel, presence_answered, q);
}

/* ---- envelopes in ---- */

static void on_message(hr_conn_t *c, int binary, const uint8_t *data, size_t len)
{
    herald_conn_t *h = c->tstate;
    hr_envelope_t e;
    int st = hr_envelope_parse(data, len, binary, &e);
    static const int label_of[HR_ENV_STATUS_COUNT] = {
        [HR_ENV_NOT_JSON] = E_NOT_JSON,
        [HR_ENV_UNKNOWN_TYPE] = E_UNKNOWN_TYPE,
        [HR_ENV_CHANNEL_TYPE] = E_CHANNEL,
        [HR_ENV_CHANNEL_NAME] = E_CHANNEL,
        [HR_ENV_SINCE] = E_SINCE,
        [HR_ENV_TOKEN] = E_AUTH,
        [HR_ENV_REF] = E_REF,
        [HR_ENV_BINARY_SHORT] = E_BINARY,
        [HR_ENV_BINARY_LENGTH] = E_BINARY,
        [HR_ENV_BINARY_ENVELOPE] = E_BINARY,
        [HR_ENV_SEND_DATA] = E_SEND,
    };
    if (st != HR_ENV_OK) {
        refuse(c, label_of[st], e.ref, e.ref_len, e.channel, hr_env_strerror(st));
    } else {
        switch (e.type) {
        case HR_ENV_SUBSCRIBE:
        case HR_ENV_UNSUBSCRIBE:
            if (h->nops >= (uint32_t)hr_net_cfg.max_channels) {
                refuse(c, E_BUSY, e.ref, e.ref_len, e.channel,
                       "too many subscribes waiting for a resume");
                break;
            }
            enqueue(h, op_new(e.type == HR_ENV_SUBSCRIBE ? OP_SUB : OP_UNSUB, e.channel, e.since,
                              e.token, e.ref, e.ref_len));
            run_ops(c);
            break;
        case HR_ENV_SEND:
            to_app(c, &e);
            break;
        case HR_ENV_PRESENCE:
            presence_query(c, h, &e);
            break;
        case HR_ENV_PING: {
            hr_env_out_t o = {.type = "pong"};
            if (e.ref_len)
                o.ref = (hr_slice_t){e.ref, e.ref_len};
            send_env(c, &o);
            break;
        }
        }
    }
    hr_envelope_free(&e);
}

/* ---- the transport ---- */

static void herald_on_read(hr_conn_t *c, uint8_t *data, size_t len)
{
    herald_conn_t *h = c->tstate;
    h->busy++;
    hr_ws_session_read(c, &h->ws, data, len);
    if (--h->busy == 0 && h->dead)
        release(c, h);
}

static void herald_heartbeat(hr_conn_t *c, uint64_t now)
{
    herald_conn_t *h = c->tstate;
    hr_ws_session_heartbeat(c, &h->ws, now);
}

static void herald_begin_close(hr_conn_t *c)
{
    herald_conn_t *h = c->tstate;
    hr_ws_session_close(c, &h->ws, HR_WS_CLOSE_GOING_AWAY, "relay shutting down");
}

static void release(hr_conn_t *c, herald_conn_t *h)
{
    hr_ws_session_free(&h->ws);
    while (h->chans) {
        hchan_t *k = h->chans;
        h->chans = k->next;
        free(k);
    }
    while (h->ops) {
        op_t *op = h->ops;
        h->ops = op->next;
        free(op);
    }
    free(h->cur);
    free(h);
    c->tstate = NULL;
}

static void herald_on_close(hr_conn_t *c)
{
    herald_conn_t *h = c->tstate;
    if (h == NULL)
        return;
    if (h->busy)
        h->dead = 1;
    else
        release(c, h);
}

const hr_transport_t hr_transport_herald = {
    .name = HR_HERALD_PROTOCOL,
    .resumable = 1,
    .init = herald_init,
    .fini = herald_fini,
    .on_read = herald_on_read,
    .encode = herald_encode,
    .heartbeat = herald_heartbeat,
    .start = herald_start,
    .gap = herald_gap,
    .admit = herald_admit,
    .replay = herald_replay,
    .resumed = herald_resumed,
    .begin_close = herald_begin_close,
    .on_close = herald_on_close,
};

void hr_herald_start(hr_conn_t *c, hr_ws_upgrade_t *u, const hr_query_t *q, uint8_t *rest,
                     size_t rest_len)
{
    herald_conn_t *h = hr_xcalloc(1, sizeof *h);
    hr_ws_session_init(&h->ws, u, on_message);
    h->ops_tail = &h->ops;
    h->busy = 1;
    c->tstate = h;
    hr_conn_set_transport(c, hr_net_transport(hr_conn_net(c), hr_transport_herald.name));
    if (hr_conn_send_copy(c, u->head, u->head_len) != 0)
        goto out;
    hr_conn_app_token_user(c, h->ws.claims);
    if (c->app)
        hr_conn_app_attach(c);
    /* The query's channels, checked at the upgrade, each a subscribe;
     * last_event_id resumes them like a since on each. */
    hr_slice_t since = {NULL, 0};
    if (q->has_last_id && q->last_id.len > 0)
        since = q->last_id;
    for (size_t i = 0; i < q->n; i++) {
        op_t *op = op_new(OP_SUB, q->channels[i], since, (hr_slice_t){NULL, 0}, "", 0);
        op->preauth = 1;
        enqueue(h, op);
    }
    run_ops(c);
    if (rest_len && !h->dead)
        herald_on_read(c, rest, rest_len);
out:
    if (--h->busy == 0 && h->dead)
        release(c, h);
}
