/* SPDX-License-Identifier: MIT
 * transport_sse.c: the Server-Sent Events transport. Opening a stream sends
 * the response head and a first block that sets the reconnection delay
 * (drawn per connection from [retry_min, retry_max], so a restart does not
 * bring every client back in the same instant) and, for a fresh stream, the
 * current position as an id with no data: it sets the browser's last event
 * id without dispatching any event, so even a client that has received
 * nothing yet resumes exactly after a disconnection. The broker finds that
 * position (hr_conn_fresh): at once with the local broker; with Redis only
 * once Redis said where its order stands, so the response is held until
 * then (conn->tstate keeps its head) and everything published after it
 * began reaches the stream.
 *
 * Resume: with a Last-Event-ID, the broker replays what the stream missed
 * on its channels (core/resume.h); if that cannot be exact on some channel,
 * or the id is foreign or malformed, a "herald.gap" event comes first
 * (docs/PROTOCOL.md). */
#include "net/transport_sse.h"
#include "base/log.h"
#include "base/utf8.h"
#include "codec/sse.h"
#include "core/broker.h"
#include "net/auth.h"
#include "net/app.h"
#include "net/conn.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_sse_cfg_t hr_sse_cfg;

static int check(char *err, size_t errlen)
{
    if (hr_sse_cfg.retry_min > hr_sse_cfg.retry_max) {
        snprintf(err, errlen, "retry_min (%ld) is above retry_max (%ld)", hr_sse_cfg.retry_min,
                 hr_sse_cfg.retry_max);
        return -1;
    }
    return 0;
}

#define C(field) (&hr_sse_cfg.field)
static const hr_opt_t opts[] = {
    {"retry_min", HR_OPT_LONG, C(retry_min), 0, 3600000, "1000",
     "lowest first retry: hint, ms (1000)"},
    {"retry_max", HR_OPT_LONG, C(retry_max), 0, 3600000, "3000",
     "highest first retry: hint, ms (3000)"},
    {"cors_origin", HR_OPT_STR, C(cors_origin), 0, 0, "",
     "origins allowed to read /sse, comma-separated, * for any (none)"},
};
#undef C

const hr_opt_group_t hr_sse_options = {opts, HR_ARRAY_SIZE(opts), check};

/* Per loop. */
typedef struct sse_loop {
    hr_buf_t *ping; /* ": ping" comment, shared by every stream */
} sse_loop_t;

static int slot = -1; /* the SSE bytes in the event's cache */

/* What an SSE stream receives: sse_emit and herald_publish, presence
 * (herald.join, herald.leave) and the application's herald_send. */
#define SSE_ACCEPTS (HR_TARGET_SSE | HR_TARGET_PRESENCE | HR_TARGET_DIRECT)

static void *sse_init(hr_net_t *net, int tidx)
{
    if (slot < 0)
        slot = hr_event_slot();
    sse_loop_t *s = hr_xcalloc(1, sizeof *s);
    s->ping = hr_buf_static(HR_SSE_PING, strlen(HR_SSE_PING));
    return s;
}

static void sse_fini(hr_net_t *net, void *data)
{
    sse_loop_t *s = data;
    free(s->ping);
    free(s);
}

static hr_buf_t *encode_event(const hr_event_t *ev, int chan)
{
    hr_slice_t id = {ev->id, ev->idlen};
    /* The application's message to this connection (herald_send, named
     * herald.send by ingest): no position of any channel, so no id (the
     * browser keeps its last). */
    if (ev->target == HR_TARGET_DIRECT)
        id = (hr_slice_t){NULL, 0};
    hr_buf_t *b = hr_buf_new(hr_sse_event_len(id, ev->name, ev->retry, ev->data));
    hr_sse_encode_event(b->data, id, ev->name, ev->retry, ev->data);
    return b;
}

static hr_buf_t *sse_encode(hr_conn_t *c, hr_event_t *ev, int chan)
{
    /* Bytes an event stream cannot carry: a binary herald_send. */
    if (ev->binary)
        return NULL;
    return hr_event_encoding(ev, slot, -1, encode_event);
}

static void sse_heartbeat(hr_conn_t *c, uint64_t now)
{
    uint64_t ping_ms = (uint64_t)hr_net_cfg.ping_interval * 1000;
    /* A response still held for its position has sent nothing yet. */
    if (now - c->last_write_ms >= ping_ms && !c->end_after_flush && c->tstate == NULL) {
        sse_loop_t *s = hr_conn_net(c)->tdata[c->tidx];
        hr_conn_send(c, s->ping);
    }
}

static long draw_retry(void);

/* Shutdown (its drain): a last retry: hint, so that the browser comes back
 * after a delay of its own rather than with every other one, then the end
 * of the stream. */
static void sse_begin_close(hr_conn_t *c)
{
    char block[32];
    hr_conn_send_copy(c, block, hr_sse_retry(block, draw_retry()));
    hr_conn_end(c);
}

/* The held response head, then the first block's id: the position. */
static void sse_start(hr_conn_t *c, const char *position)
{
    char *head = c->tstate;
    if (head == NULL)
        return;
    c->tstate = NULL;
    size_t hl = strlen(head), pl = strlen(position);
    char *b = hr_xmalloc(hl + pl + 8);
    memcpy(b, head, hl);
    size_t n = hl + (size_t)sprintf(b + hl, "id: %s\n\n", position);
    hr_conn_send_copy(c, b, n);
    free(b);
    free(head);
}

static void sse_on_close(hr_conn_t *c)
{
    free(c->tstate);
    c->tstate = NULL;
}

/* The id as sent, as a JSON string. A browser sends UTF-8, but a header may
 * carry any byte >= 0x80, and json_dumps() fails (NULL) on a string that is
 * not UTF-8: each byte that does not start a valid character becomes
 * U+FFFD, as a decoder would show it. */
static json_t *id_json(hr_slice_t s)
{
    if (hr_utf8_valid((const uint8_t *)s.p, s.len))
        return json_stringn(s.p, s.len);
    char *buf = hr_xmalloc(s.len * 3 + 1);
    size_t o = 0, i = 0;
    while (i < s.len) {
        uint32_t st = HR_UTF8_ACCEPT;
        size_t j = i;
        do
            st = hr_utf8_feed(st, (const uint8_t *)s.p + j++, 1);
        while (st != HR_UTF8_ACCEPT && st != HR_UTF8_REJECT && j < s.len);
        if (st == HR_UTF8_ACCEPT) {
            memcpy(buf + o, s.p + i, j - i);
            o += j - i;
            i = j;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *js = json_stringn(buf, o);
    free(buf);
    return js;
}

/* The herald.gap event: {"last_event_id": "<as sent>", "channels": [...]};
 * with the current position as its id when nothing is replayed after it. */
static void sse_gap(hr_conn_t *c, const hr_resume_t *r, const char *position)
{
    json_t *o = json_object();
    json_object_set_new(o, "last_event_id", id_json(r->since));
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n; i++)
        if (r->gap[i])
            json_array_append_new(arr, json_stringn(r->channels[i].p, r->channels[i].len));
    json_object_set_new(o, "channels", arr);
    char *js = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    hr_slice_t id = {position, position ? strlen(position) : 0};
    hr_slice_t ev = {"herald.gap", 10}, data = {js, strlen(js)};
    hr_buf_t *b = hr_buf_new(hr_sse_event_len(id, ev, 0, data));
    hr_sse_encode_event(b->data, id, ev, 0, data);
    hr_log(HR_LOG_DEBUG, "client %p: resume from '%.*s': gap", (void *)c,
           (int)(r->since.len > 64 ? 64 : r->since.len), r->since.p);
    hr_conn_send(c, b);
    hr_buf_unref(b);
    free(js);
}

const hr_transport_t hr_transport_sse = {
    .name = "sse",
    .resumable = 1,
    .init = sse_init,
    .fini = sse_fini,
    .encode = sse_encode,
    .heartbeat = sse_heartbeat,
    .start = sse_start,
    .gap = sse_gap,
    .begin_close = sse_begin_close,
    .on_close = sse_on_close,
};

static long draw_retry(void)
{
    long span = hr_sse_cfg.retry_max - hr_sse_cfg.retry_min;
    uint64_t x = uv_hrtime() ^ ((uint64_t)(uintptr_t)&x << 7);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return hr_sse_cfg.retry_min + (span > 0 ? (long)(x % (uint64_t)(span + 1)) : 0);
}

/* CORS for EventSource (cors_origin, a comma-separated allowlist): "*"
 * allows any page; an Origin on the list is echoed back with
 * Allow-Credentials, so an allowed page may send its cookies (a
 * herald_token cookie, say); with a single origin configured it is sent as
 * is, and the browser compares. The answer depends on Origin whenever the
 * list is not "*", so caches are told (Vary). */
static void cors_headers(const hr_http_request_t *req, char *out, size_t cap)
{
    const char *list = hr_sse_cfg.cors_origin;
    out[0] = '\0';
    if (list[0] == '\0')
        return;
    if (strcmp(list, "*") == 0) {
        snprintf(out, cap, "Access-Control-Allow-Origin: *\r\n");
        return;
    }
    const hr_http_header_t *o = hr_http_header_find(req, "Origin");
    if (o && o->value.len <= 256 && hr_origin_allowed(list, o->value.p, o->value.len))
        snprintf(out, cap,
                 "Access-Control-Allow-Origin: %.*s\r\nAccess-Control-Allow-Credentials: "
                 "true\r\nVary: Origin\r\n",
                 (int)o->value.len, o->value.p);
    else if (strchr(list, ',') == NULL && strlen(list) <= 256)
        snprintf(out, cap, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", list);
    else
        snprintf(out, cap, "Vary: Origin\r\n");
}

void hr_sse_open(hr_conn_t *c, const hr_http_request_t *req, const hr_query_t *q, uint8_t *rest,
                 size_t rest_len)
{
    static const char no_channel[] = "at least one channel= is required\n";
    if (q->n == 0) {
        hr_conn_reply(c, 400, NULL, no_channel, sizeof no_channel - 1);
        return;
    }
    hr_token_t *claims = NULL;
    if (hr_auth_request(c, req, q->channels, q->n, 1, &claims) != 0)
        return;
    hr_conn_app_token_user(c, claims);
    free(claims);
    /* The header wins: a reconnecting EventSource sends it while the URL
     * still carries the id the page started with. An empty id is what a page
     * that never saw an event has: browsers do not even send it, so it
     * means a fresh stream, not a gap. */
    hr_slice_t last = q->last_id;
    int has_last = q->has_last_id && last.len > 0;
    const hr_http_header_t *h = hr_http_header_find(req, "Last-Event-ID");
    if (h && h->value.len > 0) {
        last = h->value;
        has_last = 1;
    }

    /* A relay shutting down refuses new streams, but as an event stream
     * that ends after its first block: an EventSource retries after that
     * (a 503 would make it give up for good), and a fresh one learns the
     * position, from which the next relay resumes it (state_file). */
    int refuse = hr_conn_net(c)->stopping;
    char head[1024], cors[320];
    cors_headers(req, cors, sizeof cors);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\n"
                     "X-Accel-Buffering: no\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n",
                     cors);
    /* First block: retry hint, and for a fresh stream the position, which
     * the broker gives (sse_start), at once or once Redis answered. */
    n += snprintf(head + n, sizeof head - (size_t)n, "retry: %ld\n", draw_retry());
    if (refuse) {
        /* The position as this relay knows it: the next one continues it. */
        if (!has_last) {
            char id[HR_ID_MAX];
            size_t idlen = hr_broker_position(hr_conn_loop(c)->broker, id);
            n += snprintf(head + n, sizeof head - (size_t)n, "id: %.*s\n", (int)idlen, id);
        }
        head[n++] = '\n';
        if (hr_conn_send_copy(c, head, (size_t)n) == 0)
            hr_conn_end(c);
        return;
    }

    hr_conn_set_transport(c, hr_net_transport(hr_conn_net(c), hr_transport_sse.name));
    if (!has_last) {
        c->tstate = hr_xstrndup(head, (size_t)n);
    } else {
        head[n++] = '\n';
        if (hr_conn_send_copy(c, head, (size_t)n) != 0)
            return;
    }
    /* Subscribed first, then resumed: nothing falls between (resume.h). */
    for (size_t i = 0; i < q->n; i++)
        hr_conn_subscribe(c, q->channels[i].p, q->channels[i].len, SSE_ACCEPTS);
    if (c->app)
        hr_conn_app_attach(c); /* herald_send reaches it (hooks) */
    if (has_last)
        hr_conn_resume(c, SSE_ACCEPTS, last, q->channels, q->n);
    else
        hr_conn_fresh(c, SSE_ACCEPTS, q->channels, q->n);
    /* Its user is a member of the presence channels it streams, once the
     * stream began (the response head first; a join published meanwhile
     * waits behind a resume in progress). */
    for (size_t i = 0; c->app && !c->closing && i < q->n; i++)
        hr_conn_app_joined(c, q->channels[i].p, q->channels[i].len);
}
