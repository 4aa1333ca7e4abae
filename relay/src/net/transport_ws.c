/* SPDX-License-Identifier: MIT
 * ws_conn.c: the WebSocket transport: handshake checks (400 for a bad
 * request, 426 for a version other than 13), then client frames through
 * the pure reader in ws.c. Client text messages {"type":"subscribe",
 * "channel":"A"} and {"type":"unsubscribe",...} change subscriptions and
 * are answered with "subscribed"/"unsubscribed" or "error"; any other
 * client message is counted and ignored (reserved for a later path to the
 * application), never a reason to close. */
#include "app/config.h"
#include "base/log.h"
#include "app/metrics.h"
#include "app/relay.h"
#include "app/router.h"
#include "codec/token.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Send a short text frame built from a JSON object (consumed). */
static void send_json(hr_conn_t *c, json_t *o)
{
    char *js = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    size_t len = strlen(js);
    hr_msg_t *m = hr_msg_new(HR_WS_MAX_HEADER + len);
    size_t h = hr_ws_frame_header((uint8_t *)m->data, HR_WS_OP_TEXT, len);
    memcpy(m->data + h, js, len);
    m->len = (uint32_t)(h + len);
    hr_conn_send(c, m);
    hr_msg_unref(m);
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

static size_t count_subs(const hr_conn_t *c)
{
    size_t n = 0;
    for (const hr_sub_t *s = c->subs; s; s = s->conn_next)
        n++;
    return n;
}

static void on_text(hr_conn_t *c, const uint8_t *data, size_t len)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type = o ? json_string_value(json_object_get(o, "type")) : NULL;
    int sub = type && strcmp(type, "subscribe") == 0;
    int unsub = type && strcmp(type, "unsubscribe") == 0;
    if (!sub && !unsub) {
        hr_metrics.ws_client_ignored++;
        json_decref(o);
        return;
    }
    json_t *jch = json_object_get(o, "channel");
    const char *ch = json_string_value(jch);
    size_t chlen = ch ? json_string_length(jch) : 0;
    if (c->fixed_channels) {
        /* The application chose this connection's channels (nginx hand-off,
         * docs/OPERATIONS.md); the browser may not widen them. */
        reply(c, "error", ch, ch ? chlen : 0, "channels are fixed on this connection");
    } else if (ch == NULL) {
        reply(c, "error", NULL, 0, "channel must be a string");
    } else if (!hr_chan_name_valid(ch, chlen)) {
        reply(c, "error", ch, chlen, "invalid channel name");
    } else if (sub && hr_token_is_private(hr_cfg.private_prefixes, ch, chlen)) {
        /* A private channel: the token given at the upgrade must allow it,
         * and must still be in date. Refusal is an error reply, then close
         * 1008 (policy violation), as docs/PROTOCOL.md says. */
        const char *why = NULL;
        int reason = HR_AUTH_FORBIDDEN;
        if (hr_cfg.secret[0] == '\0') {
            why = hr_token_strerror(HR_TOKEN_NO_SECRET);
            reason = HR_AUTH_NO_SECRET;
        } else if (c->claims == NULL) {
            why = "token required";
            reason = HR_AUTH_NO_TOKEN;
        } else if (c->claims->exp < (int64_t)time(NULL) - hr_cfg.token_skew) {
            why = hr_token_strerror(HR_TOKEN_EXPIRED);
            reason = HR_AUTH_INVALID;
        } else if (!hr_token_allows(c->claims, ch, chlen)) {
            why = "token does not allow this channel";
        }
        if (why) {
            hr_metrics.auth_refused[reason]++;
            reply(c, "error", ch, chlen, why);
            hr_ws_conn_close(c, HR_WS_CLOSE_POLICY, why);
        } else if (count_subs(c) >= (size_t)hr_cfg.max_channels) {
            reply(c, "error", ch, chlen, "too many channels");
        } else {
            hr_chan_subscribe(&hr_relay.chans, ch, chlen, c, HR_T_WS, &c->subs);
            reply(c, "subscribed", ch, chlen, NULL);
        }
    } else if (sub) {
        if (count_subs(c) >= (size_t)hr_cfg.max_channels)
            reply(c, "error", ch, chlen, "too many channels");
        else {
            hr_chan_subscribe(&hr_relay.chans, ch, chlen, c, HR_T_WS, &c->subs);
            reply(c, "subscribed", ch, chlen, NULL);
        }
    } else {
        hr_chan_unsubscribe(&hr_relay.chans, ch, chlen, &c->subs);
        reply(c, "unsubscribed", ch, chlen, NULL);
    }
    json_decref(o);
}

void hr_ws_conn_close(hr_conn_t *c, uint16_t code, const char *reason)
{
    if (c->closing || c->ws_close_sent)
        return;
    uint8_t frame[4 + 123];
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 123)
        rlen = 123;
    size_t n = hr_ws_close_frame(frame, code, reason, rlen);
    c->ws_close_sent = 1;
    hr_conn_send_copy(c, frame, n);
    hr_conn_end(c);
}

static int on_event(void *ud, hr_ws_event_t ev, const uint8_t *data, size_t len, uint16_t code)
{
    hr_conn_t *c = ud;
    /* ws_max_messages_per_sec: every message and control frame but close
     * counts, so neither a chat flood nor a ping flood can hold the loop. */
    if (ev != HR_WS_EV_CLOSE) {
        uint64_t now = hr_now_ms();
        if (now - c->ws_window_ms >= 1000) {
            c->ws_window_ms = now;
            c->ws_window_count = 0;
        }
        if (++c->ws_window_count > (uint64_t)hr_cfg.ws_max_messages_per_sec) {
            hr_metrics.limit_hits[HR_LIMIT_WS_RATE]++;
            hr_log(HR_LOG_DEBUG, "client %p: more than %ld WebSocket messages a second", (void *)c,
                   hr_cfg.ws_max_messages_per_sec);
            hr_ws_conn_close(c, HR_WS_CLOSE_POLICY, "message rate exceeded");
            return 1;
        }
    }
    switch (ev) {
    case HR_WS_EV_TEXT:
        on_text(c, data, len);
        break;
    case HR_WS_EV_BINARY:
        hr_metrics.ws_client_ignored++;
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
        hr_ws_conn_close(c, code == HR_WS_CLOSE_NO_STATUS ? 0 : code, NULL);
        return 1;
    }
    return c->closing || c->end_after_flush;
}

void hr_ws_conn_read(hr_conn_t *c, uint8_t *data, size_t len)
{
    if (c->ws == NULL || c->ws_close_sent)
        return;
    int code = hr_ws_reader_feed(c->ws, data, len, on_event, c);
    if (code > 0 && !c->closing) {
        hr_metrics.ws_protocol_errors++;
        hr_log(HR_LOG_DEBUG, "client %p: WebSocket protocol error, closing with %d", (void *)c,
               code);
        hr_ws_conn_close(c, (uint16_t)code,
                         code == HR_WS_CLOSE_INVALID_DATA ? "invalid UTF-8"
                         : code == HR_WS_CLOSE_TOO_BIG    ? "message too big"
                                                          : "protocol error");
    }
}

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

void hr_ws_open(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                size_t nchannels, uint8_t *rest, size_t rest_len)
{
    const hr_http_header_t *key = NULL;
    int status;
    const char *err = check_handshake(req, &key, &status);
    if (err) {
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
    hr_conn_set_kind(c, HR_CONN_WS);
    const hr_http_header_t *fixed = hr_http_header_find(req, "X-Herald-Fixed-Channels");
    c->fixed_channels = fixed != NULL && fixed->value.len == 1 && fixed->value.p[0] == '1';
    c->ws = hr_xmalloc(sizeof *c->ws);
    hr_ws_reader_init(c->ws, (size_t)hr_cfg.ws_max_message);
    if (hr_conn_send_copy(c, head, (size_t)n) != 0)
        return;
    for (size_t i = 0; i < nchannels; i++)
        hr_chan_subscribe(&hr_relay.chans, channels[i].p, channels[i].len, c, HR_T_WS, &c->subs);
    if (rest_len)
        hr_ws_conn_read(c, rest, rest_len);
}
