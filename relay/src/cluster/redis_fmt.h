/* SPDX-License-Identifier: MIT
 * redis_fmt.h: the pure half of the Redis broker (broker_redis.c does the I/O):
 * the --redis URL, Redis key names, the message body relays exchange
 * through Redis, the pub/sub payload, and the per-channel gap decision of a
 * resume. No sockets and no loop, so unit tests cover it directly. */
#ifndef HR_CLUSTER_FMT_H
#define HR_CLUSTER_FMT_H

#include "base/common.h"
#include "codec/channel_name.h"

/* Key and pub/sub channel prefixes. One namespace per Redis database. */
#define HR_CL_KEY_EPOCH  "herald:epoch"
#define HR_CL_KEY_SEQ    "herald:seq"
#define HR_CL_PFX_STREAM "herald:h:" /* Stream of a channel's messages (history) */
#define HR_CL_PFX_LAST   "herald:l:" /* last seq published on a channel (gap detection) */
#define HR_CL_PFX_PUBSUB "herald:m:" /* pub/sub channel a relay subscribes to */

typedef struct hr_cl_url {
    char host[256]; /* empty for a Unix socket */
    int port;
    char path[108]; /* Unix socket path, or empty */
} hr_cl_url_t;

/* "redis://HOST[:PORT][/]" or "unix:///path" (also "redis+unix:///path").
 * HOST should be an address: hiredis 0.14 resolves names with a blocking
 * getaddrinfo. Returns 0 or -1 (err filled). */
int hr_cl_parse_url(const char *url, hr_cl_url_t *u, char *err, size_t errlen);

/* prefix + name into out (room for 16 + HR_CHANNEL_MAX); returns length. */
size_t hr_cl_key(char *out, const char *prefix, const char *name, size_t len);

/* A published message as relays exchange it (inside Redis pub/sub payloads
 * and Stream entries): msgpack [t, binary, retry, event, data, [channels]],
 * t being 0 for SSE, 1 for WebSocket, 2 for all, then a seventh element,
 * true, when data is JSON text (ingest json: true), and an eighth, the
 * connection id it is kept from (except), when there is one (the seventh is
 * then written, true or false), and a ninth, the user who sent it, when
 * there is one (the eighth is then written, "" for none), and a tenth, a
 * Mercure update's metadata as bin (codec/mercure.h: the ninth is then
 * written, "" for none), which also sets the target. A message without them stays six elements
 * long, as relays before it wrote and read them (Streams written then are
 * read the same way). Carrying the fields rather than the
 * encoded event lets every relay put the global id into its own bytes. */
typedef struct hr_cl_body {
    int target; /* HR_TARGET_SSE, HR_TARGET_WS or HR_TARGET_ALL (codec/frame.h) */
    int binary;
    int json; /* data is JSON text: checked again on decode (codec/json_check.h) */
    long retry;
    hr_slice_t event, data;
    hr_slice_t except;  /* len 0: none */
    hr_slice_t user;    /* len 0: none */
    hr_slice_t mercure; /* a Mercure update's metadata (codec/mercure.h); len 0: none */
    size_t nchannels;
    hr_slice_t channels[100];
} hr_cl_body_t;

/* malloc'd encoding of b, *len bytes. */
char *hr_cl_body_encode(const hr_cl_body_t *b, size_t *len);
/* Decode into b, whose slices point into buf; 0 or -1. Any bytes are
 * safe: they are scanned (codec/mpscan.h) before msgpack-c unpacks them,
 * and data marked JSON must be UTF-8 text holding one JSON value, as at
 * ingest (anyone who can write to Redis reaches here). */
int hr_cl_body_decode(const char *buf, size_t len, hr_cl_body_t *b);

/* The pub/sub payload the publish script writes: "<epoch>:<seq>:<body>".
 * Returns 0 with the parts, or -1. */
int hr_cl_payload_parse(const char *p, size_t len, hr_slice_t *epoch, uint64_t *seq,
                        hr_slice_t *body);

/* A Stream entry id "<seq>-0" as the script writes it; 0 or -1. */
int hr_cl_parse_stream_id(const char *p, size_t len, uint64_t *seq);

/* Gap decision for one channel of a resume after `after`. The channel's
 * Stream returned n entries with seq > after, ascending: seq[i], prev[i]
 * (seq of the previous message on that channel) and t[i] (wall ms when
 * published). last is the channel's last published seq (0 when unknown or
 * expired). Entries older than ttl_ms count as gone. Sets *skip to how many
 * leading entries are gone and returns 1 when something after `after` on
 * this channel cannot be replayed. */
int hr_cl_gap(uint64_t after, uint64_t last, const uint64_t *seq, const uint64_t *prev,
              const uint64_t *t, size_t n, uint64_t now_ms, uint64_t ttl_ms, size_t *skip);

#endif
