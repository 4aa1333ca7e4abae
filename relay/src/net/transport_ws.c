/* SPDX-License-Identifier: MIT
 * transport_ws.c: the WebSocket route (GET /ws) and raw mode, Contract 2.
 * The route checks the upgrade (ws_session.c) and hands a client that
 * offers the herald.v1 subprotocol to that transport (transport_herald.c);
 * any other gets raw mode here. Client text messages {"type":"subscribe",
 * "channel":"A"} and {"type":"unsubscribe",...} change subscriptions and
 * are answered with "subscribed"/"unsubscribed" or "error"; any other
 * client message is counted and ignored (reserved for a later path to the
 * application), never a reason to close. Payloads are sent as published,
 * one frame each. */
#include "net/transport_ws.h"
#include "base/log.h"
#include "net/auth.h"
#include "net/app.h"
#include "net/conn.h"
#include "net/transport_herald.h"
#include "net/ws_session.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per loop. */
typedef struct ws_loop {
    uint64_t client_ignored; /* client messages that are not subscribe/unsubscribe */
} ws_loop_t;

static int slot = -1;  /* the frame in the event's cache */
static int dslot = -1; /* the same, compressed (permessage-deflate), per window */

static void *ws_init(hr_net_t *net, int tidx)
{
    if (slot < 0) {
        slot = hr_event_slot();
        dslot = hr_event_slot();
    }
    hr_ws_loop_init(net);
    ws_loop_t *w = hr_xcalloc(1, sizeof *w);
    hr_metrics_add(&net->loop->metrics, "herald_ws_client_messages_ignored_total", HR_COUNTER,
                   "WebSocket client messages other than subscribe/unsubscribe.", NULL,
                   &w->client_ignored);
    return w;
}

static void ws_fini(hr_net_t *net, void *data)
{
    hr_ws_loop_fini(net);
    free(data);
}

static ws_loop_t *loop_state(hr_conn_t *c)
{
    return hr_conn_net(c)->tdata[c->tidx];
}

static hr_buf_t *encode_frame(const hr_event_t *ev, int chan)
{
    return hr_ws_frame(ev->binary ? HR_WS_OP_BINARY : HR_WS_OP_TEXT, ev->data.p, ev->data.len);
}

static hr_buf_t *ws_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    return hr_ws_encode(c, c->tstate, ev, slot, dslot, -1, encode_frame);
}

static void ws_begin_close(hr_conn_t *c)
{
    hr_ws_session_close(c, c->tstate, HR_WS_CLOSE_GOING_AWAY, "relay shutting down");
}

static void ws_heartbeat(hr_conn_t *c, uint64_t now)
{
    hr_ws_session_heartbeat(c, c->tstate, now);
}

static void ws_gap(hr_conn_t *c, const hr_resume_t *r, const char *position)
{
    /* Raw WebSocket has no resume (Contract 2): never asked. */
}

static void ws_on_close(hr_conn_t *c)
{
    hr_ws_session_t *s = c->tstate;
    if (s == NULL)
        return;
    hr_ws_session_free(s);
    free(s);
    c->tstate = NULL;
}

/* Send a short text frame built from a JSON object (consumed). */
static void send_json(hr_conn_t *c, json_t *o)
{
    char *js = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    hr_ws_send_text(c, js, strlen(js));
    free(js);
}

static void reply(hr_conn_t *c, const char *type, const char *channel, size_t len,
                  const char *error)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    if (channel)
        json_object_set_new(o, "channel", json_stringn(channel, len));
    if (error)
        json_object_set_new(o, "error", json_string(error));
    send_json(c, o);
}

static void subscribe(hr_conn_t *c, const char *ch, size_t chlen)
{
    /* Subscribing again to a channel it has is harmless, also at the limit. */
    if (!hr_chan_has(c->subs, ch, chlen) &&
        hr_conn_app_channels(c) >= (size_t)hr_net_cfg.max_channels) {
        reply(c, "error", ch, chlen, "too many channels");
        return;
    }
    hr_conn_subscribe(c, ch, chlen, HR_TARGET_WS);
    reply(c, "subscribed", ch, chlen, NULL);
}

/* A channel the application approves, and has not for this connection
 * (at the upgrade): raw mode has no way to wait for its answer. */
static int app_only(hr_conn_t *c, const char *ch, size_t len)
{
    const hr_app_iface_t *app = hr_conn_net(c)->app;
    return app && app->approves(app->ud, ch, len) && !hr_conn_app_granted(c, ch, len);
}

static void on_text(hr_conn_t *c, const uint8_t *data, size_t len)
{
    hr_ws_session_t *w = c->tstate;
    json_error_t jerr;
    json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = o ? json_string_value(json_object_get(o, "type")) : NULL;
    int sub = type && strcmp(type, "subscribe") == 0;
    int unsub = type && strcmp(type, "unsubscribe") == 0;
    if (!sub && !unsub) {
        loop_state(c)->client_ignored++;
        json_decref(o);
        return;
    }
    json_t *jch = json_object_get(o, "channel");
    const char *ch = json_string_value(jch);
    size_t chlen = ch ? json_string_length(jch) : 0;
    const char *why;
    if (w->fixed_channels) {
        /* The application chose this connection's channels (nginx hand-off,
         * docs/OPERATIONS.md); the browser may not widen them. */
        reply(c, "error", ch, ch ? chlen : 0, "channels are fixed on this connection");
    } else if (ch == NULL) {
        reply(c, "error", NULL, 0, "channel must be a string");
    } else if (!hr_chan_name_valid(ch, chlen)) {
        reply(c, "error", ch, chlen, "invalid channel name");
    } else if (sub && app_only(c, ch, chlen)) {
        reply(c, "error", ch, chlen, "this channel needs the application's approval (herald.v1)");
    } else if (sub && (why = hr_auth_channel(hr_conn_net(c), w->claims, ch, chlen)) != NULL) {
        /* A private channel: the token given at the upgrade must allow it,
         * and must still be in date. Refusal is an error reply, then close
         * 1008 (policy violation), as docs/PROTOCOL.md says. */
        reply(c, "error", ch, chlen, why);
        hr_ws_session_close(c, w, HR_WS_CLOSE_POLICY, why);
    } else if (sub) {
        subscribe(c, ch, chlen);
    } else {
        hr_conn_unsubscribe(c, ch, chlen);
        reply(c, "unsubscribed", ch, chlen, NULL);
    }
    json_decref(o);
}

static void on_message(hr_conn_t *c, int binary, const uint8_t *data, size_t len)
{
    if (binary)
        loop_state(c)->client_ignored++;
    else
        on_text(c, data, len);
}

static void ws_on_read(hr_conn_t *c, uint8_t *data, size_t len)
{
    hr_ws_session_read(c, c->tstate, data, len);
}

const hr_transport_t hr_transport_ws = {
    .name = "ws",
    .init = ws_init,
    .fini = ws_fini,
    .on_read = ws_on_read,
    .encode = ws_encode,
    .heartbeat = ws_heartbeat,
    .gap = ws_gap,
    .begin_close = ws_begin_close,
    .on_close = ws_on_close,
};

void hr_ws_open(hr_conn_t *c, const hr_http_request_t *req, const hr_query_t *q, uint8_t *rest,
                size_t rest_len)
{
    int herald = hr_ws_offers(req, HR_HERALD_PROTOCOL);
    hr_ws_upgrade_t u;
    if (hr_ws_upgrade(c, req, q, herald ? HR_HERALD_PROTOCOL : NULL, &u) != 0)
        return;
    if (herald) {
        hr_herald_start(c, &u, q, rest, rest_len);
        return;
    }
    hr_ws_session_t *w = hr_xmalloc(sizeof *w);
    hr_ws_session_init(w, &u, on_message);
    c->tstate = w;
    hr_conn_set_transport(c, hr_net_transport(hr_conn_net(c), hr_transport_ws.name));
    if (hr_conn_send_copy(c, u.head, u.head_len) != 0)
        return;
    for (size_t i = 0; i < q->n; i++)
        hr_conn_subscribe(c, q->channels[i].p, q->channels[i].len, HR_TARGET_WS);
    if (c->app)
        hr_conn_app_attach(c);
    if (rest_len)
        ws_on_read(c, rest, rest_len);
}
