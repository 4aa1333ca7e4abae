/* SPDX-License-Identifier: MIT
 * metrics.c: Prometheus text exposition (version 0.0.4) of hr_metrics. */
#include "app/metrics.h"
#include "cluster/broker_redis.h"
#include "base/common.h"
#include "app/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

hr_metrics_t hr_metrics;

typedef struct out {
    char *p;
    size_t len, cap;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap *= 2;
        o->p = hr_xrealloc(o->p, o->cap);
    }
}

static void metric(out_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
        (unsigned long long)v);
}

static void by_transport(out_t *o, const char *name, const char *type, const char *help,
                         const uint64_t v[HR_T_COUNT])
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    put(o, "%s{transport=\"sse\"} %llu\n%s{transport=\"ws\"} %llu\n", name,
        (unsigned long long)v[HR_T_SSE], name, (unsigned long long)v[HR_T_WS]);
}

char *hr_metrics_render(size_t *len, uint64_t max_connections, double uptime_s)
{
    out_t o = {.p = hr_xmalloc(4096), .cap = 4096};
    const hr_metrics_t *m = &hr_metrics;
    put(&o, "# HELP herald_info Relay version.\n# TYPE herald_info gauge\n");
    put(&o, "herald_info{version=\"%s\"} 1\n", HR_VERSION);
    put(&o,
        "# HELP herald_uptime_seconds Seconds since the relay started.\n"
        "# TYPE herald_uptime_seconds gauge\nherald_uptime_seconds %.3f\n",
        uptime_s);
    by_transport(&o, "herald_connections", "gauge", "Streaming client connections.",
                 m->connections);
    metric(&o, "herald_connections_pending", "gauge",
           "Client connections still sending their request.", m->connections_http);
    metric(&o, "herald_connections_total", "counter", "Client connections accepted.",
           m->connections_total);
    metric(&o, "herald_connections_rejected_total", "counter",
           "Client connections answered 503 because the table was full.", m->connections_rejected);
    metric(&o, "herald_connections_max", "gauge", "Client connections the relay accepts.",
           max_connections);
    metric(&o, "herald_ingest_connections", "gauge", "Publisher connections on the ingest socket.",
           m->ingest_connections);
    metric(&o, "herald_ingest_connections_total", "counter", "Publisher connections accepted.",
           m->ingest_connections_total);
    metric(&o, "herald_ingest_frames_total", "counter", "Frames read from publishers.",
           m->ingest_frames);
    put(&o,
        "# HELP herald_ingest_rejects_total Frames or connections refused, by reason.\n"
        "# TYPE herald_ingest_rejects_total counter\n"
        "herald_ingest_rejects_total{reason=\"invalid\"} %llu\n"
        "herald_ingest_rejects_total{reason=\"malformed\"} %llu\n"
        "herald_ingest_rejects_total{reason=\"too_big\"} %llu\n",
        (unsigned long long)m->ingest_rejected, (unsigned long long)m->ingest_malformed,
        (unsigned long long)m->ingest_too_big);
    metric(&o, "herald_ingest_rings", "gauge", "Shared-memory rings mapped (one per publisher).",
           m->ingest_rings);
    metric(&o, "herald_ingest_rings_awake", "gauge",
           "Rings the relay polls each turn; the others sleep until their publisher wakes them.",
           m->ingest_rings_awake);
    metric(&o, "herald_ingest_ring_frames_total", "counter",
           "Frames read from shared-memory rings.", m->ingest_ring_frames);
    metric(&o, "herald_ingest_ring_wakes_total", "counter",
           "Wake frames: a publisher woke the relay to read its ring.", m->ingest_ring_wakes);
    by_transport(&o, "herald_messages_published_total", "counter", "Messages published.",
                 m->published);
    by_transport(&o, "herald_messages_delivered_total", "counter",
                 "Messages queued to subscribers (one per subscriber).", m->delivered);
    metric(&o, "herald_bytes_out_total", "counter", "Bytes written to clients.", m->bytes_out);
    metric(&o, "herald_slow_consumer_disconnects_total", "counter",
           "Subscribers cut off past max_queued_bytes.", m->slow_consumers);
    metric(&o, "herald_http_errors_total", "counter", "Requests answered with 4xx or 5xx.",
           m->http_errors);
    put(&o,
        "# HELP herald_resumes_total SSE reconnections with a Last-Event-ID, by result.\n"
        "# TYPE herald_resumes_total counter\n"
        "herald_resumes_total{result=\"exact\"} %llu\nherald_resumes_total{result=\"gap\"} "
        "%llu\n",
        (unsigned long long)m->resumes_exact, (unsigned long long)m->resumes_gap);
    metric(&o, "herald_ws_client_messages_ignored_total", "counter",
           "WebSocket client messages other than subscribe/unsubscribe.", m->ws_client_ignored);
    metric(&o, "herald_ws_protocol_errors_total", "counter",
           "WebSocket connections closed for breaking RFC 6455.", m->ws_protocol_errors);
    metric(&o, "herald_history_messages", "gauge", "Messages held in history.",
           m->history_messages);
    metric(&o, "herald_history_bytes", "gauge", "Bytes of messages held in history.",
           m->history_bytes);
    metric(&o, "herald_channels", "gauge", "Channels with subscribers or history.", m->channels);
    metric(&o, "herald_subscriptions", "gauge", "Subscriptions (connection, channel).",
           m->subscriptions);
    if (hr_cluster_on) {
        size_t cl;
        char *c = hr_cluster_metrics(&cl);
        put(&o, "%.*s", (int)cl, c);
        free(c);
    }
    put(&o,
        "# HELP herald_limit_hits_total Requests or connections refused by a limit.\n"
        "# TYPE herald_limit_hits_total counter\n"
        "herald_limit_hits_total{limit=\"url_bytes\"} %llu\n"
        "herald_limit_hits_total{limit=\"connections_per_ip\"} %llu\n"
        "herald_limit_hits_total{limit=\"ws_messages_per_sec\"} %llu\n",
        (unsigned long long)m->limit_hits[HR_LIMIT_URL],
        (unsigned long long)m->limit_hits[HR_LIMIT_PER_IP],
        (unsigned long long)m->limit_hits[HR_LIMIT_WS_RATE]);
    put(&o,
        "# HELP herald_auth_refused_total Subscriptions or upgrades refused, by reason.\n"
        "# TYPE herald_auth_refused_total counter\n"
        "herald_auth_refused_total{reason=\"no_token\"} %llu\n"
        "herald_auth_refused_total{reason=\"invalid_token\"} %llu\n"
        "herald_auth_refused_total{reason=\"forbidden\"} %llu\n"
        "herald_auth_refused_total{reason=\"no_secret\"} %llu\n"
        "herald_auth_refused_total{reason=\"origin\"} %llu\n",
        (unsigned long long)m->auth_refused[HR_AUTH_NO_TOKEN],
        (unsigned long long)m->auth_refused[HR_AUTH_INVALID],
        (unsigned long long)m->auth_refused[HR_AUTH_FORBIDDEN],
        (unsigned long long)m->auth_refused[HR_AUTH_NO_SECRET],
        (unsigned long long)m->auth_refused[HR_AUTH_ORIGIN]);
    *len = o.len;
    return o.p;
}
