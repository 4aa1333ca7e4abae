/* SPDX-License-Identifier: MIT
 * transport_ws.c: the WebSocket transport: handshake checks (400 for a bad
 * request, 426 for a version other than 13), then client frames through the
 * pure reader in codec/ws.c. Client text messages {"type":"subscribe",
 * "channel":"A"} and {"type":"unsubscribe",...} change subscriptions and
 * are answered with "subscribed"/"unsubscribed" or "error"; any other
 * client message is counted and ignored (reserved for a later path to the
 * application), never a reason to close. Payloads are sent as published,
 * one frame each (Contract 2's raw mode). */
#include "net/transport_ws.h"
#include "base/log.h"
#include "codec/ws.h"
#include "net/auth.h"
#include "net/conn.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_ws_cfg_t hr_ws_cfg;

#define C(field) (&hr_ws_cfg.field)
static const hr_opt_t opts[] = {
    {"ws_max_message", HR_OPT_LONG, C(max_message), 125, 1L << 30, "65536",
     "largest client WebSocket message (65536)"},
    {"ws_origins", HR_OPT_STR, C(origins), 0, 0, "",
     "Origins allowed on /ws, comma-separated (any)"},
    {"ws_max_messages_per_sec", HR_OPT_LONG, C(max_messages_per_sec), 1, 1000000, "100",
     "WebSocket messages a client may send per second (100)"},
};
#undef C

const hr_opt_group_t hr_ws_options = {opts, HR_ARRAY_SIZE(opts), NULL};

/* Per loop. */
typedef struct ws_loop {
    hr_buf_t *ping;           /* empty ping frame */
    uint64_t client_ignored;  /* client messages that are not subscribe/unsubscribe */
    uint64_t protocol_errors; /* connections closed with 1002/1007/1009 */
    uint64_t rate_limited;    /* closed past ws_max_messages_per_sec */
} ws_loop_t;

/* Per connection. */
typedef struct ws_conn {
    hr_ws_reader_t reader;
    hr_token_t *claims;    /* verified token of the upgrade (later subscribes) */
    uint64_t window_ms;    /* start of the current one-second message window */
    uint32_t window_count; /* client messages in that window */
    uint8_t close_sent;
    uint8_t ping_outstanding;
    uint8_t fixed_channels; /* the proxy fixed the channels (hand-off) */
} ws_conn_t;

static int slot = -1; /* the frame in the event's cache */

static void *ws_init(hr_net_t *net, int tidx)
{
    if (slot < 0)
        slot = hr_event_slot();
    ws_loop_t *w = hr_xcalloc(1, sizeof *w);
    w->ping = hr_buf_static("\x89\x00", 2);
    hr_metrics_t *reg = &net->loop->metrics;
    hr_metrics_add(reg, "herald_ws_client_messages_ignored_total", HR_COUNTER,
                   "WebSocket client messages other than subscribe/unsubscribe.", NULL,
                   &w->client_ignored);
    hr_metrics_add(reg, "herald_ws_protocol_errors_total", HR_COUNTER,
                   "WebSocket connections closed for breaking RFC 6455.", NULL,
                   &w->protocol_errors);
    hr_metrics_add(reg, "herald_limit_hits_total", HR_COUNTER,
                   "Requests or connections refused by a limit.", "limit=\"ws_messages_per_sec\"",
                   &w->rate_limited);
    return w;
}

static void ws_fini(hr_net_t *net, void *data)
{
    ws_loop_t *w = data;
    free(w->ping);
    free(w);
}

static ws_loop_t *loop_state(hr_conn_t *c)
{
    return hr_conn_net(c)->tdata[c->tidx];
}

static hr_buf_t *encode_frame(const hr_event_t *ev, int chan)
{
    uint8_t h[HR_WS_MAX_HEADER];
    size_t hl = hr_ws_frame_header(h, ev->binary ? HR_WS_OP_BINARY : HR_WS_OP_TEXT, ev->data.len);
    hr_buf_t *b = hr_buf_new(hl + ev->data.len);
    memcpy(b->data, h, hl);
    if (ev->data.len)
        memcpy(b->data + hl, ev->data.p, ev->data.len);
    return b;
}

static hr_buf_t *ws_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    return hr_event_encoding(ev, slot, -1, encode_frame);
}

/* Send a close frame with code and reason, then end the connection. */
static void ws_close(hr_conn_t *c, uint16_t code, const char *reason)
{
    ws_conn_t *w = c->tstate;
    if (c->closing || w->close_sent)
        return;
    uint8_t frame[4 + 123];
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 123)
        rlen = 123;
    size_t n = hr_ws_close_frame(frame, code, reason, rlen);
    w->close_sent = 1;
    hr_conn_send_copy(c, frame, n);
    hr_conn_end(c);
}

static void ws_begin_close(hr_conn_t *c)
{
    ws_close(c, HR_WS_CLOSE_GOING_AWAY, "relay shutting down");
}

static void ws_heartbeat(hr_conn_t *c, uint64_t now)
{
    ws_conn_t *w = c->tstate;
    uint64_t ping_ms = (uint64_t)hr_net_cfg.ping_interval * 1000;
    /* Ping when we have written nothing for an interval (keeps proxies from
     * timing out), and also when the client has said nothing for one: a
     * browser only ever answers, so on a busy channel, where the write side
     * is never idle, it would otherwise never be asked and be cut as dead
     * after three. */
    if (now - c->last_read_ms >= 3 * ping_ms) {
        hr_conn_close(c, "no pong");
    } else if (!c->end_after_flush &&
               (now - c->last_write_ms >= ping_ms ||
                (now - c->last_read_ms >= ping_ms && !w->ping_outstanding))) {
        w->ping_outstanding = 1;
        hr_conn_send(c, loop_state(c)->ping);
    }
}

static void ws_gap(hr_conn_t *c, const hr_resume_t *r, const char *position)
{
    /* Raw WebSocket has no resume (Contract 2): never asked. */
}

static void ws_on_close(hr_conn_t *c)
{
    ws_conn_t *w = c->tstate;
    if (w == NULL)
        return;
    hr_ws_reader_free(&w->reader);
    free(w->claims);
    free(w);
    c->tstate = NULL;
}

/* Send a short text frame built from a JSON object (consumed). */
static void send_json(hr_conn_t *c, json_t *o)
{
    char *js = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t len = strlen(js);
    hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + len);
    size_t h = hr_ws_frame_header((uint8_t *)b->data, HR_WS_OP_TEXT, len);
    memcpy(b->data + h, js, len);
    b->len = (uint32_t)(h + len);
    hr_conn_send(c, b);
    hr_buf_unref(b);
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
        hr_chan_count(c->subs) >= (size_t)hr_net_cfg.max_channels) {
        reply(c, "error", ch, chlen, "too many channels");
        return;
    }
    hr_conn_subscribe(c, ch, chlen, HR_TARGET_WS);
    reply(c, "subscribed", ch, chlen, NULL);
}

static void on_text(hr_conn_t *c, const uint8_t *data, size_t len)
{
    ws_conn_t *w = c->tstate;
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
    } else if (sub && (why = hr_auth_channel(hr_conn_net(c), w->claims, ch, chlen)) != NULL) {
        /* A private channel: the token given at the upgrade must allow it,
         * and must still be in date. Refusal is an error reply, then close
         * 1008 (policy violation), as docs/PROTOCOL.md says. */
        reply(c, "error", ch, chlen, why);
        ws_close(c, HR_WS_CLOSE_POLICY, why);
    } else if (sub) {
        subscribe(c, ch, chlen);
    } else {
        hr_conn_unsubscribe(c, ch, chlen);
        reply(c, "unsubscribed", ch, chlen, NULL);
    }
    json_decref(o);
}

static int on_event(void *ud, hr_ws_event_t ev, const uint8_t *data, size_t len, uint16_t code)
{
    hr_conn_t *c = ud;
    ws_conn_t *w = c->tstate;
    /* ws_max_messages_per_sec: every message and control frame but close
     * counts, so neither a chat flood nor a ping flood can hold the loop. */
    if (ev != HR_WS_EV_CLOSE) {
        uint64_t now = hr_loop_now_ms(hr_conn_loop(c));
        if (now - w->window_ms >= 1000) {
            w->window_ms = now;
            w->window_count = 0;
        }
        if (++w->window_count > (uint64_t)hr_ws_cfg.max_messages_per_sec) {
            loop_state(c)->rate_limited++;
            hr_log(HR_LOG_DEBUG, "client %p: more than %ld WebSocket messages a second", (void *)c,
                   hr_ws_cfg.max_messages_per_sec);
            ws_close(c, HR_WS_CLOSE_POLICY, "message rate exceeded");
            return 1;
        }
    }
    switch (ev) {
    case HR_WS_EV_TEXT:
        on_text(c, data, len);
        break;
    case HR_WS_EV_BINARY:
        loop_state(c)->client_ignored++;
        break;
    case HR_WS_EV_PING: {
        uint8_t frame[HR_WS_MAX_HEADER + 125];
        size_t h = hr_ws_frame_header(frame, HR_WS_OP_PONG, len);
        memcpy(frame + h, data, len);
        hr_conn_send_copy(c, frame, h + len);
        break;
    }
    case HR_WS_EV_PONG:
        break;
    case HR_WS_EV_CLOSE:
        /* Echo the peer's code (an empty close gets an empty close), then
         * the server closes the TCP connection (RFC 6455 7.1.1). */
        ws_close(c, code == HR_WS_CLOSE_NO_STATUS ? 0 : code, NULL);
        return 1;
    }
    return c->closing || c->end_after_flush;
}

static void ws_on_read(hr_conn_t *c, uint8_t *data, size_t len)
{
    ws_conn_t *w = c->tstate;
    w->ping_outstanding = 0; /* anything from the client answers a ping */
    if (w->close_sent)
        return;
    int code = hr_ws_reader_feed(&w->reader, data, len, on_event, c);
    if (code > 0 && !c->closing) {
        loop_state(c)->protocol_errors++;
        hr_log(HR_LOG_DEBUG, "client %p: WebSocket protocol error, closing with %d", (void *)c,
               code);
        ws_close(c, (uint16_t)code,
                 code == HR_WS_CLOSE_INVALID_DATA ? "invalid UTF-8"
                 : code == HR_WS_CLOSE_TOO_BIG    ? "message too big"
                                                  : "protocol error");
    }
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

static const char *check_handshake(const hr_http_request_t *req, const hr_http_header_t **key,
                                   int *status)
{
    *status = 400;
    if (req->minor_version < 1)
        return "WebSocket needs HTTP/1.1\n";
    if (hr_http_header_find(req, "Host") == NULL)
        return "missing Host\n";
    const hr_http_header_t *up = hr_http_header_find(req, "Upgrade");
    if (up == NULL || !hr_http_has_token(up->value, "websocket"))
        return "expected Upgrade: websocket\n";
    const hr_http_header_t *conn = hr_http_header_find(req, "Connection");
    if (conn == NULL || !hr_http_has_token(conn->value, "upgrade"))
        return "expected Connection: Upgrade\n";
    *key = hr_http_header_find(req, "Sec-WebSocket-Key");
    if (*key == NULL || !hr_ws_key_valid((*key)->value.p, (*key)->value.len))
        return "missing or invalid Sec-WebSocket-Key\n";
    const hr_http_header_t *ver = hr_http_header_find(req, "Sec-WebSocket-Version");
    if (ver == NULL || ver->value.len != 2 || memcmp(ver->value.p, "13", 2) != 0) {
        *status = 426;
        return "unsupported WebSocket version: 13 only\n";
    }
    return NULL;
}

/* Origin allowlist (ws_origins): against cross-site WebSocket hijacking,
 * where a page on another site opens a socket that carries the user's
 * cookies. Browsers always send Origin; a request without one is not from a
 * browser page and is let through (it carries no ambient credentials a page
 * could abuse). Returns 1 to go on, 0 when answered. */
static int origin_ok(hr_conn_t *c, const hr_http_request_t *req)
{
    static const char refused[] = "origin not allowed\n";
    if (hr_ws_cfg.origins[0] == '\0')
        return 1;
    const hr_http_header_t *o = hr_http_header_find(req, "Origin");
    if (o == NULL || hr_origin_allowed(hr_ws_cfg.origins, o->value.p, o->value.len))
        return 1;
    hr_auth_refused(hr_conn_net(c), HR_AUTH_ORIGIN);
    hr_conn_reply(c, 403, NULL, refused, sizeof refused - 1);
    return 0;
}

void hr_ws_open(hr_conn_t *c, const hr_http_request_t *req, const hr_query_t *q, uint8_t *rest,
                size_t rest_len)
{
    static const char stopping[] = "shutting down\n";
    if (hr_conn_net(c)->stopping) {
        /* A relay shutting down takes no new socket; clients back off. */
        hr_conn_reply(c, 503, "Retry-After: 5\r\nContent-Type: text/plain\r\n", stopping,
                      sizeof stopping - 1);
        return;
    }
    hr_token_t *claims = NULL;
    if (!origin_ok(c, req) || hr_auth_request(c, req, q->channels, q->n, 1, &claims) != 0)
        return;
    const hr_http_header_t *key = NULL;
    int status;
    const char *err = check_handshake(req, &key, &status);
    if (err) {
        free(claims);
        hr_conn_reply(c, status,
                      status == 426 ? "Sec-WebSocket-Version: 13\r\nContent-Type: text/plain\r\n"
                                    : NULL,
                      err, strlen(err));
        return;
    }
    char accept[HR_WS_ACCEPT_LEN + 1];
    hr_ws_accept_key(key->value.p, key->value.len, accept);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    ws_conn_t *w = hr_xcalloc(1, sizeof *w);
    hr_ws_reader_init(&w->reader, (size_t)hr_ws_cfg.max_message);
    w->claims = claims;
    const hr_http_header_t *fixed = hr_http_header_find(req, "X-Herald-Fixed-Channels");
    w->fixed_channels = fixed != NULL && fixed->value.len == 1 && fixed->value.p[0] == '1';
    c->tstate = w;
    hr_conn_set_transport(c, hr_net_transport(hr_conn_net(c), hr_transport_ws.name));
    if (hr_conn_send_copy(c, head, (size_t)n) != 0)
        return;
    for (size_t i = 0; i < q->n; i++)
        hr_conn_subscribe(c, q->channels[i].p, q->channels[i].len, HR_TARGET_WS);
    if (rest_len)
        ws_on_read(c, rest, rest_len);
}
