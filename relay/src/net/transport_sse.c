/* SPDX-License-Identifier: MIT
 * sse_conn.c: the Server-Sent Events transport. Opening a stream sends the
 * response head and a first block that sets the reconnection delay (drawn
 * per connection from [retry_min, retry_max], so a restart does not bring
 * every client back in the same instant) and, for a fresh stream, the
 * current position as an id with no data: it sets the browser's last event
 * id without dispatching any event, so even a client that has received
 * nothing yet resumes exactly after a disconnection.
 *
 * Resume: with a Last-Event-ID of this relay's boot, every message after it
 * that history still holds for the requested channels is replayed in id
 * order, each once. If history no longer reaches back that far on some
 * channel, or the id is foreign or malformed, a "herald.gap" event comes
 * first (docs/PROTOCOL.md). Subscribing and replaying happen in one step of
 * the loop, so no live message can fall between them. */
#include "cluster/broker_redis.h"
#include "app/config.h"
#include "base/log.h"
#include "app/metrics.h"
#include "app/relay.h"
#include "app/router.h"
#include "codec/sse.h"
#include "base/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct replay {
    hr_msg_t **msgs;
    size_t n, cap;
} replay_t;

static void collect(hr_msg_t *m, void *ud)
{
    replay_t *r = ud;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->msgs = hr_xrealloc(r->msgs, r->cap * sizeof *r->msgs);
    }
    r->msgs[r->n++] = m;
}

static long draw_retry(void)
{
    long span = hr_cfg.retry_max - hr_cfg.retry_min;
    uint64_t x = uv_hrtime() ^ ((uint64_t)(uintptr_t)&x << 7);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return hr_cfg.retry_min + (span > 0 ? (long)(x % (uint64_t)(span + 1)) : 0);
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

/* The herald.gap event: {"last_event_id": "<as sent>", "channels": [...]}. */
static void send_gap(hr_conn_t *c, hr_slice_t last, const hr_slice_t *channels, size_t n,
                     const uint8_t *gap, int with_position)
{
    json_t *o = json_object();
    json_object_set_new(o, "last_event_id", id_json(last));
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (gap[i])
            json_array_append_new(arr, json_stringn(channels[i].p, channels[i].len));
    json_object_set_new(o, "channels", arr);
    char *js = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    char id[48];
    hr_slice_t ids = {id, 0};
    if (with_position)
        ids.len = hr_relay_format_id(id, hr_relay.seq);
    hr_slice_t ev = {"herald.gap", 10}, data = {js, strlen(js)};
    size_t len = hr_sse_event_len(ids, ev, 0, data);
    hr_msg_t *m = hr_msg_new(len);
    hr_sse_encode_event(m->data, ids, ev, 0, data);
    hr_conn_send(c, m);
    hr_msg_unref(m);
    free(js);
}

/* CORS for EventSource (cors_origin, a comma-separated allowlist): "*"
 * allows any page; an Origin on the list is echoed back with
 * Allow-Credentials, so an allowed page may send its cookies (a
 * herald_token cookie, say); with a single origin configured it is sent as
 * is, and the browser compares. The answer depends on Origin whenever the
 * list is not "*", so caches are told (Vary). */
static void cors_headers(const hr_http_request_t *req, char *out, size_t cap)
{
    const char *list = hr_cfg.cors_origin;
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

void hr_sse_open(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                 size_t nchannels, hr_slice_t last_event_id, int has_last_event_id)
{
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

    /* First block: retry hint, and for a fresh stream the current position. */
    long retry = draw_retry();
    n += snprintf(head + n, sizeof head - (size_t)n, "retry: %ld\n", retry);
    if (!has_last_event_id) {
        char id[48];
        size_t idlen = hr_relay_format_id(id, hr_relay.seq);
        n += snprintf(head + n, sizeof head - (size_t)n, "id: %.*s\n", (int)idlen, id);
    }
    head[n++] = '\n';

    hr_conn_set_kind(c, HR_CONN_SSE);
    if (hr_conn_send_copy(c, head, (size_t)n) != 0)
        return;
    for (size_t i = 0; i < nchannels; i++)
        hr_chan_subscribe(&hr_relay.chans, channels[i].p, channels[i].len, c, HR_T_SSE, &c->subs);

    if (!has_last_event_id)
        return;
    /* Cluster mode: history and ids are Redis's (cluster.c). */
    if (hr_cluster_on && hr_cluster_resume(c, channels, nchannels, last_event_id) == 0)
        return;

    uint64_t after = 0;
    uint8_t *gap = hr_xcalloc(nchannels, 1);
    replay_t r = {0};
    size_t gaps;
    if (hr_relay_parse_id(last_event_id.p, last_event_id.len, &after) && after <= hr_relay.seq) {
        gaps = hr_chans_replay(&hr_relay.chans, channels, nchannels, after, hr_now_ms(), gap,
                               collect, &r);
    } else {
        /* Foreign (another boot or relay), malformed or from the future:
         * nothing can be positioned, so every channel has a gap. */
        memset(gap, 1, nchannels);
        gaps = nchannels;
    }
    if (gaps) {
        hr_metrics.resumes_gap++;
        hr_log(HR_LOG_DEBUG, "client %p: resume from '%.*s': gap on %zu channel(s)", (void *)c,
               (int)(last_event_id.len > 64 ? 64 : last_event_id.len), last_event_id.p, gaps);
        send_gap(c, last_event_id, channels, nchannels, gap, r.n == 0);
    } else {
        hr_metrics.resumes_exact++;
    }
    for (size_t i = 0; i < r.n && !c->closing; i++) {
        c->last_seq = r.msgs[i]->seq;
        hr_metrics.delivered[HR_T_SSE]++;
        hr_conn_send_uncapped(c, r.msgs[i]);
    }
    free(r.msgs);
    free(gap);
}
