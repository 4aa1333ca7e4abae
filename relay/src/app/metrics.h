/* SPDX-License-Identifier: MIT
 * metrics.h: one struct of counters and gauges, bumped in place by every
 * module, rendered in Prometheus text format by GET /metrics. */
#ifndef HR_METRICS_H
#define HR_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum hr_transport { HR_T_SSE, HR_T_WS, HR_T_COUNT };

/* Limits without a metric of their own (SECURITY.md lists them all). */
enum hr_limit { HR_LIMIT_URL, HR_LIMIT_PER_IP, HR_LIMIT_WS_RATE, HR_LIMIT_COUNT };
/* Why a subscription or an upgrade was refused. */
enum hr_auth_reason {
    HR_AUTH_NO_TOKEN,  /* private channel, no token (401) */
    HR_AUTH_INVALID,   /* token refused: signature, alg, expiry, shape (401) */
    HR_AUTH_FORBIDDEN, /* valid token, channel outside its claims (403) */
    HR_AUTH_NO_SECRET, /* private channel but the relay has no secret (403) */
    HR_AUTH_ORIGIN,    /* WebSocket Origin not allowed (403) */
    HR_AUTH_COUNT
};

typedef struct hr_metrics {
    uint64_t connections[HR_T_COUNT]; /* gauge: streaming clients by transport */
    uint64_t connections_http;        /* gauge: clients still sending a request */
    uint64_t connections_total;       /* accepted client connections */
    uint64_t connections_rejected;    /* answered 503: connection table full */
    uint64_t ingest_connections;      /* gauge */
    uint64_t ingest_connections_total;
    uint64_t ingest_frames;      /* valid msgpack values read */
    uint64_t ingest_rejected;    /* frames rejected alone (invalid) */
    uint64_t ingest_malformed;   /* connections closed on bytes that are not msgpack */
    uint64_t ingest_too_big;     /* connections closed on a frame past max_frame_bytes */
    uint64_t ingest_rings;       /* gauge: shared-memory rings mapped */
    uint64_t ingest_rings_awake; /* gauge: rings polled each turn (the others sleep) */
    uint64_t ingest_ring_frames; /* frames read from rings (also in ingest_frames) */
    uint64_t ingest_ring_wakes;  /* wake frames: a publisher woke a sleeping ring */
    uint64_t published[HR_T_COUNT];
    uint64_t delivered[HR_T_COUNT];
    uint64_t bytes_out;
    uint64_t slow_consumers;
    uint64_t http_errors; /* 4xx/5xx answers */
    uint64_t resumes_exact;
    uint64_t resumes_gap;
    uint64_t ws_client_ignored;           /* client messages that are not subscribe/unsubscribe */
    uint64_t ws_protocol_errors;          /* connections closed with 1002/1007/1009 */
    uint64_t history_messages;            /* gauge */
    uint64_t history_bytes;               /* gauge */
    uint64_t channels;                    /* gauge */
    uint64_t subscriptions;               /* gauge */
    uint64_t limit_hits[HR_LIMIT_COUNT];  /* requests or connections refused by a limit */
    uint64_t auth_refused[HR_AUTH_COUNT]; /* subscriptions refused, by reason */
} hr_metrics_t;

extern hr_metrics_t hr_metrics;

/* Render all metrics; returns a malloc'd string of *len bytes. */
char *hr_metrics_render(size_t *len, uint64_t max_connections, double uptime_s);

#endif
