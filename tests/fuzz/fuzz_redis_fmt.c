/* SPDX-License-Identifier: MIT
 * fuzz_redis_fmt.c: the pure half of cluster mode (relay/src/cluster/
 * redis_fmt.c), which reads what comes back from Redis: the message body
 * relays exchange (msgpack), the pub/sub payload "<epoch>:<seq>:<body>",
 * Stream entry ids, the gap rule over Stream entries, and the --redis URL.
 * The first byte picks the parser, the rest is its input (copied, so any
 * read past it is caught). Checks: what a parser accepts stays inside its
 * input, a decoded body encodes and decodes back to the same fields, and
 * the gap rule's answer is within bounds. */
#include "base/utf8.h"
#include "cluster/redis_fmt.h"
#include "codec/frame.h"
#include "codec/json_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int inside(hr_slice_t s, const char *p, size_t len)
{
    return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

static int same(hr_slice_t a, hr_slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void body(const char *p, size_t len)
{
    hr_cl_body_t b;
    if (hr_cl_body_decode(p, len, &b) != 0)
        return;
    if (b.nchannels > HR_ARRAY_SIZE(b.channels) ||
        (b.target != HR_TARGET_SSE && b.target != HR_TARGET_WS && b.target != HR_TARGET_ALL &&
         b.target != HR_TARGET_PRESENCE && b.target != HR_TARGET_DIRECT) ||
        !inside(b.event, p, len) || !inside(b.data, p, len))
        abort();
    /* Data marked JSON is one JSON value in UTF-8, never bytes. */
    if (b.json && (b.binary || !hr_utf8_valid((const uint8_t *)b.data.p, b.data.len) ||
                   hr_json_check(b.data.p, b.data.len, NULL) != NULL))
        abort();
    for (size_t i = 0; i < b.nchannels; i++)
        if (!inside(b.channels[i], p, len))
            abort();
    size_t elen;
    char *enc = hr_cl_body_encode(&b, &elen);
    hr_cl_body_t d;
    if (hr_cl_body_decode(enc, elen, &d) != 0 || d.target != b.target || d.binary != b.binary ||
        d.json != b.json || d.retry != b.retry || !same(d.event, b.event) ||
        !same(d.data, b.data) || d.nchannels != b.nchannels)
        abort();
    for (size_t i = 0; i < b.nchannels; i++)
        if (!same(d.channels[i], b.channels[i]))
            abort();
    free(enc);
}

static void payload(const char *p, size_t len)
{
    hr_slice_t epoch, rest;
    uint64_t seq;
    if (hr_cl_payload_parse(p, len, &epoch, &seq, &rest) != 0)
        return;
    if (epoch.len == 0 || epoch.len > 16 || seq == 0 || !inside(epoch, p, len) ||
        !inside(rest, p, len))
        abort();
    body(rest.p, rest.len);
}

/* n entries of 3 x 8 bytes after two u64s (after, last) and now/ttl. */
static uint64_t u64(const uint8_t *b)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | b[i];
    return x;
}

static void gap(const uint8_t *p, size_t len)
{
    if (len < 32)
        return;
    uint64_t after = u64(p), last = u64(p + 8), now = u64(p + 16), ttl = u64(p + 24) >> 32;
    p += 32;
    len -= 32;
    size_t n = len / 24;
    if (n > 64)
        n = 64;
    uint64_t seq[64], prev[64], t[64], s = after;
    for (size_t i = 0; i < n; i++) {
        s += 1 + (p[24 * i] & 7); /* ascending, as a Stream returns them */
        seq[i] = s;
        prev[i] = u64(p + 24 * i + 8);
        t[i] = u64(p + 24 * i + 16) >> 16;
    }
    size_t skip = (size_t)-1;
    int g = hr_cl_gap(after, last, seq, prev, t, n, now, ttl, &skip);
    if ((g != 0 && g != 1) || skip > n)
        abort();
    /* Nothing published after the position and nothing held: exact. */
    if (n == 0 && last <= after && g != 0)
        abort();
}

static void url(const char *p, size_t len)
{
    char *z = malloc(len + 1);
    memcpy(z, p, len);
    z[len] = '\0';
    hr_cl_url_t u;
    char err[256];
    if (hr_cl_parse_url(z, &u, err, sizeof err) == 0) {
        if (memchr(u.host, '\0', sizeof u.host) == NULL ||
            memchr(u.path, '\0', sizeof u.path) == NULL ||
            (u.path[0] == '\0' && (u.host[0] == '\0' || u.port < 1 || u.port > 65535)))
            abort();
    } else if (memchr(err, '\0', sizeof err) == NULL) {
        abort();
    }
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0];
    size--;
    char *p = malloc(size ? size : 1);
    memcpy(p, data + 1, size);
    switch (which % 5) {
    case 0:
        body(p, size);
        break;
    case 1:
        payload(p, size);
        break;
    case 2: {
        uint64_t seq;
        hr_cl_parse_stream_id(p, size, &seq);
        break;
    }
    case 3:
        gap((const uint8_t *)p, size);
        break;
    case 4:
        url(p, size);
        break;
    }
    free(p);
    return 0;
}
