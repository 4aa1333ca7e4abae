/* SPDX-License-Identifier: MIT
 * ws_session.c: the WebSocket machinery both WebSocket transports share
 * (ws_session.h): settings, the upgrade, and a session's frames, rate
 * limit, close handshake and heartbeat. */
#include "net/ws_session.h"
#include "base/log.h"
#include "base/utf8.h"
#include "net/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

hr_ws_cfg_t hr_ws_cfg;

#define C(field) (&hr_ws_cfg.field)
static const hr_opt_t opts[] = {
    {"ws_max_message", HR_OPT_LONG, C(max_message), 125, 1L << 30, "65536",
     "largest client WebSocket message (65536)"},
    {"ws_origins", HR_OPT_STR, C(origins), 0, 0, "",
     "Origins allowed on /ws, comma-separated (any)"},
    {"ws_max_messages_per_sec", HR_OPT_LONG, C(max_messages_per_sec), 1, 1000000, "100",
     "WebSocket messages a client may send per second (100)"},
    {"ws_deflate", HR_OPT_LONG, C(deflate), 0, 1, "1",
     "permessage-deflate (RFC 7692) for clients that offer it: 1 on, 0 off (1)"},
    {"ws_deflate_min_bytes", HR_OPT_LONG, C(deflate_min_bytes), 0, 1L << 30, "256",
     "messages shorter than this go uncompressed (256)"},
    {"ws_deflate_level", HR_OPT_LONG, C(deflate_level), 1, 9, "6",
     "zlib level of permessage-deflate, 1 fast .. 9 small (6)"},
    {"ws_deflate_client_context", HR_OPT_LONG, C(deflate_client_context), 0, 1, "1",
     "let deflate clients keep their context (about 40 KB each in the relay); 0: "
     "client_no_context_takeover (1)"},
};
#undef C

const hr_opt_group_t hr_ws_options = {opts, HR_ARRAY_SIZE(opts), NULL};

/* Per loop, shared by the WebSocket transports (net->ws). */
typedef struct ws_loop {
    int users;                /* transports that called hr_ws_loop_init */
    hr_buf_t *ping;           /* empty ping frame */
    uint64_t protocol_errors; /* connections closed with 1002/1007/1009 */
    uint64_t rate_limited;    /* closed past ws_max_messages_per_sec */
    /* permessage-deflate: a compressor per window in use (reset per
     * message), and one inflater for the clients that keep no context. */
    hr_deflater_t *deflaters[16];
    hr_inflater_t *inflater;
    uint64_t deflate_negotiated, deflate_declined; /* upgrades that offered it */
    uint64_t deflate_bad_rsv, deflate_corrupt, deflate_too_big;
    uint64_t deflate_out_raw, deflate_out_compressed; /* once per event and window */
    uint64_t deflate_in_raw, deflate_in_compressed;
} ws_loop_t;

static void add_deflate_metrics(hr_metrics_t *reg, ws_loop_t *w)
{
    static const char help[] =
        "permessage-deflate: upgrades that agreed it or declined every offer, and client "
        "messages refused (RSV1 misused: 1002, corrupt: 1007, too big inflated: 1009).";
    static const char bytes_help[] =
        "Bytes through permessage-deflate: out, each message once per window size; in, client "
        "messages.";
    hr_metrics_add(reg, "herald_ws_deflate_total", HR_COUNTER, help, "result=\"negotiated\"",
                   &w->deflate_negotiated);
    hr_metrics_add(reg, "herald_ws_deflate_total", HR_COUNTER, help, "result=\"declined\"",
                   &w->deflate_declined);
    hr_metrics_add(reg, "herald_ws_deflate_total", HR_COUNTER, help, "result=\"bad_rsv\"",
                   &w->deflate_bad_rsv);
    hr_metrics_add(reg, "herald_ws_deflate_total", HR_COUNTER, help, "result=\"corrupt\"",
                   &w->deflate_corrupt);
    hr_metrics_add(reg, "herald_ws_deflate_total", HR_COUNTER, help, "result=\"too_big\"",
                   &w->deflate_too_big);
    hr_metrics_add(reg, "herald_ws_deflate_bytes_total", HR_COUNTER, bytes_help,
                   "dir=\"out\",kind=\"raw\"", &w->deflate_out_raw);
    hr_metrics_add(reg, "herald_ws_deflate_bytes_total", HR_COUNTER, bytes_help,
                   "dir=\"out\",kind=\"compressed\"", &w->deflate_out_compressed);
    hr_metrics_add(reg, "herald_ws_deflate_bytes_total", HR_COUNTER, bytes_help,
                   "dir=\"in\",kind=\"raw\"", &w->deflate_in_raw);
    hr_metrics_add(reg, "herald_ws_deflate_bytes_total", HR_COUNTER, bytes_help,
                   "dir=\"in\",kind=\"compressed\"", &w->deflate_in_compressed);
}

void hr_ws_loop_init(hr_net_t *net)
{
    ws_loop_t *w = net->ws;
    if (w) {
        w->users++;
        return;
    }
    w = hr_xcalloc(1, sizeof *w);
    w->users = 1;
    w->ping = hr_buf_static("\x89\x00", 2);
    hr_metrics_t *reg = &net->loop->metrics;
    hr_metrics_add(reg, "herald_ws_protocol_errors_total", HR_COUNTER,
                   "WebSocket connections closed for breaking RFC 6455.", NULL,
                   &w->protocol_errors);
    hr_metrics_add(reg, "herald_limit_hits_total", HR_COUNTER,
                   "Requests or connections refused by a limit.", "limit=\"ws_messages_per_sec\"",
                   &w->rate_limited);
    add_deflate_metrics(reg, w);
    net->ws = w;
}

void hr_ws_loop_fini(hr_net_t *net)
{
    ws_loop_t *w = net->ws;
    if (w == NULL || --w->users > 0)
        return;
    free(w->ping);
    for (size_t i = 0; i < HR_ARRAY_SIZE(w->deflaters); i++)
        hr_deflater_free(w->deflaters[i]);
    hr_inflater_free(w->inflater);
    free(w);
    net->ws = NULL;
}

static ws_loop_t *loop_state(hr_conn_t *c)
{
    return hr_conn_net(c)->ws;
}

hr_buf_t *hr_ws_frame(unsigned opcode, const void *bytes, size_t len)
{
    hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + len);
    size_t h = hr_ws_frame_header((uint8_t *)b->data, opcode, len);
    if (len)
        memcpy(b->data + h, bytes, len);
    b->len = (uint32_t)(h + len);
    return b;
}

void hr_ws_send_text(hr_conn_t *c, const char *bytes, size_t len)
{
    hr_buf_t *b = hr_ws_frame(HR_WS_OP_TEXT, bytes, len);
    hr_conn_send(c, b);
    hr_buf_unref(b);
}

void hr_ws_session_init(hr_ws_session_t *s, hr_ws_upgrade_t *u, hr_ws_message_fn on_message)
{
    memset(s, 0, sizeof *s);
    hr_ws_reader_init(&s->reader, (size_t)hr_ws_cfg.max_message);
    s->claims = u->claims;
    u->claims = NULL;
    s->fixed_channels = (uint8_t)u->fixed_channels;
    s->on_message = on_message;
    if (u->deflate) {
        s->reader.deflate = 1;
        s->deflate_bits = u->deflate_params.server_bits;
        s->client_no_context = u->deflate_params.client_no_context;
    }
}

void hr_ws_session_free(hr_ws_session_t *s)
{
    hr_ws_reader_free(&s->reader);
    hr_inflater_free(s->inflater);
    s->inflater = NULL;
    free(s->claims);
    s->claims = NULL;
}

void hr_ws_session_close(hr_conn_t *c, hr_ws_session_t *s, uint16_t code, const char *reason)
{
    if (c->closing || s->close_sent)
        return;
    uint8_t frame[4 + 123];
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > 123)
        rlen = 123;
    size_t n = hr_ws_close_frame(frame, code, reason, rlen);
    s->close_sent = 1;
    hr_conn_send_copy(c, frame, n);
    hr_conn_end(c);
}

void hr_ws_session_heartbeat(hr_conn_t *c, hr_ws_session_t *s, uint64_t now)
{
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
                (now - c->last_read_ms >= ping_ms && !s->ping_outstanding))) {
        s->ping_outstanding = 1;
        hr_conn_send(c, loop_state(c)->ping);
    }
}

/* ---- permessage-deflate ---- */

static size_t frame_header_len(const hr_buf_t *b)
{
    unsigned l = (uint8_t)b->data[1] & 0x7F;
    return l == 126 ? 4 : l == 127 ? 10 : 2;
}

/* plain (a frame) compressed with this window: a new frame with RSV1, or
 * plain again (a new reference) when compression does not pay or fails,
 * decided once for every subscriber. */
static hr_buf_t *deflate_frame(ws_loop_t *w, hr_buf_t *plain, size_t h, int bits)
{
    hr_deflater_t **d = &w->deflaters[bits];
    if (*d == NULL)
        *d = hr_deflater_new(bits, (int)hr_ws_cfg.deflate_level);
    size_t n = plain->len - h;
    uint8_t *z = NULL;
    long zn = *d ? hr_deflater_compress(*d, (const uint8_t *)plain->data + h, n, 0, &z) : -1;
    w->deflate_out_raw += n;
    if (zn < 0 || (size_t)zn >= n) {
        free(z);
        w->deflate_out_compressed += n;
        return hr_buf_ref(plain);
    }
    w->deflate_out_compressed += (uint64_t)zn;
    hr_buf_t *b = hr_buf_new(HR_WS_MAX_HEADER + (size_t)zn);
    size_t zh = hr_ws_frame_header((uint8_t *)b->data, (uint8_t)plain->data[0] & 0x0F, (size_t)zn);
    b->data[0] = (char)((uint8_t)b->data[0] | 0x40); /* RSV1: compressed (RFC 7692 6) */
    memcpy(b->data + zh, z, (size_t)zn);
    b->len = (uint32_t)(zh + (size_t)zn);
    free(z);
    return b;
}

hr_buf_t *hr_ws_encode(hr_conn_t *c, hr_ws_session_t *s, hr_event_t *ev, int slot, int dslot,
                       int chan, hr_encode_fn fn)
{
    hr_buf_t *plain = hr_event_encoding(ev, slot, chan, fn);
    if (plain == NULL || s->deflate_bits == 0)
        return plain;
    size_t h = frame_header_len(plain);
    if (plain->len - h < (size_t)hr_ws_cfg.deflate_min_bytes)
        return plain;
    /* One compressed frame per (channel, window): the window in the low
     * three bits of the key (9..15 -> 1..7; chan -1 stays negative). */
    int key = chan * 8 + (s->deflate_bits - 8);
    hr_buf_t *z = hr_event_cached(ev, dslot, key);
    if (z == NULL)
        z = hr_event_cache_put(ev, dslot, key,
                               deflate_frame(loop_state(c), plain, h, s->deflate_bits));
    return z;
}

/* A compressed client message: inflate it (under ws_max_message), check a
 * text one's UTF-8, hand it on. Returns 1 when the connection is closing. */
static int on_deflated(hr_conn_t *c, hr_ws_session_t *s, int binary, const uint8_t *data,
                       size_t len)
{
    ws_loop_t *w = loop_state(c);
    int keep = !s->client_no_context;
    hr_inflater_t **z = keep ? &s->inflater : &w->inflater;
    if (*z == NULL)
        *z = hr_inflater_new();
    if (*z == NULL) {
        hr_ws_session_close(c, s, HR_WS_CLOSE_INTERNAL, "out of memory");
        return 1;
    }
    uint8_t *m;
    size_t n;
    int rc = hr_inflater_message(*z, data, len, (size_t)hr_ws_cfg.max_message, keep, &m, &n);
    if (rc != HR_INFLATE_OK) {
        /* A failed inflater is spent: the shared one is made again. */
        hr_inflater_free(*z);
        *z = NULL;
        w->protocol_errors++;
        if (rc == HR_INFLATE_TOO_BIG)
            w->deflate_too_big++;
        else
            w->deflate_corrupt++;
        hr_log(HR_LOG_DEBUG, "client %p: compressed message %s", (void *)c,
               rc == HR_INFLATE_TOO_BIG ? "too big" : "corrupt");
        hr_ws_session_close(
            c, s, rc == HR_INFLATE_TOO_BIG ? HR_WS_CLOSE_TOO_BIG : HR_WS_CLOSE_INVALID_DATA,
            rc == HR_INFLATE_TOO_BIG ? "message too big" : "invalid compressed data");
        return 1;
    }
    w->deflate_in_compressed += len;
    w->deflate_in_raw += n;
    if (!binary && !hr_utf8_valid(m, n)) {
        free(m);
        w->protocol_errors++;
        hr_ws_session_close(c, s, HR_WS_CLOSE_INVALID_DATA, "invalid UTF-8");
        return 1;
    }
    s->on_message(c, binary, m, n);
    free(m);
    return 0;
}

typedef struct feed {
    hr_conn_t *c;
    hr_ws_session_t *s;
} feed_t;

static int on_event(void *ud, hr_ws_event_t ev, const uint8_t *data, size_t len, uint16_t code)
{
    feed_t *f = ud;
    hr_conn_t *c = f->c;
    hr_ws_session_t *s = f->s;
    /* ws_max_messages_per_sec: every message and control frame but close
     * counts, so neither a chat flood nor a ping flood can hold the loop. */
    if (ev != HR_WS_EV_CLOSE) {
        uint64_t now = hr_loop_now_ms(hr_conn_loop(c));
        if (now - s->window_ms >= 1000) {
            s->window_ms = now;
            s->window_count = 0;
        }
        if (++s->window_count > (uint64_t)hr_ws_cfg.max_messages_per_sec) {
            loop_state(c)->rate_limited++;
            hr_log(HR_LOG_DEBUG, "client %p: more than %ld WebSocket messages a second", (void *)c,
                   hr_ws_cfg.max_messages_per_sec);
            hr_ws_session_close(c, s, s->rate_close ? s->rate_close : HR_WS_CLOSE_POLICY,
                                "message rate exceeded");
            return 1;
        }
    }
    switch (ev) {
    case HR_WS_EV_TEXT:
    case HR_WS_EV_BINARY:
        s->on_message(c, ev == HR_WS_EV_BINARY, data, len);
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
    case HR_WS_EV_TEXT_DEFLATED:
    case HR_WS_EV_BINARY_DEFLATED:
        if (on_deflated(c, s, ev == HR_WS_EV_BINARY_DEFLATED, data, len))
            return 1;
        break;
    case HR_WS_EV_CLOSE:
        /* Echo the peer's code (an empty close gets an empty close), then
         * the server closes the TCP connection (RFC 6455 7.1.1). */
        hr_ws_session_close(c, s, code == HR_WS_CLOSE_NO_STATUS ? 0 : code, NULL);
        return 1;
    }
    return c->closing || c->end_after_flush;
}

void hr_ws_session_read(hr_conn_t *c, hr_ws_session_t *s, uint8_t *data, size_t len)
{
    s->ping_outstanding = 0; /* anything from the client answers a ping */
    if (s->close_sent)
        return;
    feed_t f = {c, s};
    int code = hr_ws_reader_feed(&s->reader, data, len, on_event, &f);
    if (code > 0 && !c->closing) {
        loop_state(c)->protocol_errors++;
        if (s->reader.bad_rsv)
            loop_state(c)->deflate_bad_rsv++;
        hr_log(HR_LOG_DEBUG, "client %p: WebSocket protocol error, closing with %d", (void *)c,
               code);
        hr_ws_session_close(c, s, (uint16_t)code,
                            code == HR_WS_CLOSE_INVALID_DATA ? "invalid UTF-8"
                            : code == HR_WS_CLOSE_TOO_BIG    ? "message too big"
                                                             : "protocol error");
    }
}

/* ---- the upgrade ---- */

int hr_ws_offers(const hr_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len == 22 && strncasecmp(h->name.p, "Sec-WebSocket-Protocol", 22) == 0 &&
            hr_http_has_token(h->value, name))
            return 1;
    }
    return 0;
}

/* The first acceptable permessage-deflate offer, over every
 * Sec-WebSocket-Extensions line in order. Returns 1 when one is taken. */
static int negotiate(hr_conn_t *c, const hr_http_request_t *req, hr_deflate_params_t *p)
{
    int declined = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len == 24 && strncasecmp(h->name.p, "Sec-WebSocket-Extensions", 24) == 0 &&
            hr_deflate_offer(h->value.p, h->value.len, p, &declined)) {
            loop_state(c)->deflate_negotiated++;
            return 1;
        }
    }
    if (declined)
        loop_state(c)->deflate_declined++;
    return 0;
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

int hr_ws_upgrade(hr_conn_t *c, const hr_http_request_t *req, const hr_query_t *q,
                  const char *protocol, hr_ws_upgrade_t *u)
{
    static const char stopping[] = "shutting down\n";
    memset(u, 0, sizeof *u);
    if (hr_conn_net(c)->stopping) {
        /* A relay shutting down takes no new socket; clients back off. */
        hr_conn_reply(c, 503, "Retry-After: 5\r\nContent-Type: text/plain\r\n", stopping,
                      sizeof stopping - 1);
        return -1;
    }
    hr_token_t *claims = NULL;
    if (!origin_ok(c, req) || hr_auth_request(c, req, q->channels, q->n, 1, &claims) != 0)
        return -1;
    const hr_http_header_t *key = NULL;
    int status;
    const char *err = check_handshake(req, &key, &status);
    if (err) {
        free(claims);
        hr_conn_reply(c, status,
                      status == 426 ? "Sec-WebSocket-Version: 13\r\nContent-Type: text/plain\r\n"
                                    : NULL,
                      err, strlen(err));
        return -1;
    }
    char accept[HR_WS_ACCEPT_LEN + 1];
    hr_ws_accept_key(key->value.p, key->value.len, accept);
    char proto[64] = "";
    if (protocol)
        snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %s\r\n", protocol);
    char ext[HR_DEFLATE_ANSWER_MAX + 32] = "";
    if (hr_ws_cfg.deflate && negotiate(c, req, &u->deflate_params)) {
        char answer[HR_DEFLATE_ANSWER_MAX];
        /* RFC 7692 7.1.1.2: the server may ask it of any client. */
        if (!hr_ws_cfg.deflate_client_context)
            u->deflate_params.client_no_context = 1;
        hr_deflate_answer(&u->deflate_params, answer);
        snprintf(ext, sizeof ext, "Sec-WebSocket-Extensions: %s\r\n", answer);
        u->deflate = 1;
        c->enc_variant = u->deflate_params.server_bits;
    }
    int n = snprintf(u->head, sizeof u->head,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s%s\r\n",
                     accept, proto, ext);
    u->head_len = (size_t)n;
    u->claims = claims;
    const hr_http_header_t *fixed = hr_http_header_find(req, "X-Herald-Fixed-Channels");
    u->fixed_channels = fixed != NULL && fixed->value.len == 1 && fixed->value.p[0] == '1';
    return 0;
}
