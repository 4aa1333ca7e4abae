/* SPDX-License-Identifier: MIT
 * redis_fmt.c: URL parsing, key names, body and payload codecs and the
 * gap rule of cluster mode (see redis_fmt.h and docs/ARCHITECTURE.md). */
#include "cluster/redis_fmt.h"
#include "base/num.h"
#include "base/utf8.h"
#include "codec/frame.h"
#include "codec/json_check.h"
#include "codec/mercure.h"
#include "codec/mpscan.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A body's target on the wire: 0 sse, 1 ws, 2 all (the first format),
 * 3 presence, 4 direct. */
static const uint8_t targets[] = {HR_TARGET_SSE, HR_TARGET_WS, HR_TARGET_ALL, HR_TARGET_PRESENCE,
                                  HR_TARGET_DIRECT};

static int wire_target(int target)
{
    for (size_t i = 0; i < HR_ARRAY_SIZE(targets); i++)
        if (targets[i] == target)
            return (int)i;
    return 0;
}

#define MAX_RETRY_MS 86400000 /* a day, as for an ingest frame */

int hr_cl_parse_url(const char *url, hr_cl_url_t *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    const char *rest;
    if (strncmp(url, "unix://", 7) == 0 || strncmp(url, "redis+unix://", 13) == 0) {
        rest = strstr(url, "://") + 3;
        if (rest[0] != '/' || strlen(rest) >= sizeof u->path) {
            snprintf(err, errlen, "redis: '%s': want unix:///absolute/path", url);
            return -1;
        }
        snprintf(u->path, sizeof u->path, "%s", rest);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis: '%s': want redis://HOST[:PORT] or unix:///path", url);
        return -1;
    }
    rest = url + 8;
    size_t hl = strcspn(rest, ":/");
    if (hl == 0 || hl >= sizeof u->host || memchr(rest, '@', hl)) {
        snprintf(err, errlen, "redis: '%s': bad host (no credentials in the URL)", url);
        return -1;
    }
    memcpy(u->host, rest, hl);
    u->port = 6379;
    rest += hl;
    if (*rest == ':') {
        char *end;
        long p = strtol(rest + 1, &end, 10);
        if (end == rest + 1 || p < 1 || p > 65535) {
            snprintf(err, errlen, "redis: '%s': bad port", url);
            return -1;
        }
        u->port = (int)p;
        rest = end;
    }
    if (strcmp(rest, "") != 0 && strcmp(rest, "/") != 0) {
        snprintf(err, errlen, "redis: '%s': unexpected '%s' (databases are not supported)", url,
                 rest);
        return -1;
    }
    return 0;
}

size_t hr_cl_key(char *out, const char *prefix, const char *name, size_t len)
{
    size_t pl = strlen(prefix);
    memcpy(out, prefix, pl);
    memcpy(out + pl, name, len);
    out[pl + len] = '\0';
    return pl + len;
}

static void pack_str(msgpack_packer *pk, hr_slice_t s)
{
    msgpack_pack_str(pk, s.len);
    if (s.len)
        msgpack_pack_str_body(pk, s.p, s.len);
}

char *hr_cl_body_encode(const hr_cl_body_t *b, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int n = b->mercure.len ? 10 : b->user.len ? 9 : b->except.len ? 8 : b->json ? 7 : 6;
    msgpack_pack_array(&pk, n);
    /* A Mercure update's target follows from its metadata (decode). */
    msgpack_pack_int(&pk, wire_target(b->mercure.len ? HR_TARGET_ALL : b->target));
    msgpack_pack_int(&pk, b->binary);
    msgpack_pack_long(&pk, b->retry);
    pack_str(&pk, b->event);
    msgpack_pack_bin(&pk, b->data.len);
    msgpack_pack_bin_body(&pk, b->data.p, b->data.len);
    msgpack_pack_array(&pk, b->nchannels);
    for (size_t i = 0; i < b->nchannels; i++)
        pack_str(&pk, b->channels[i]);
    if (n >= 8) {
        if (b->json)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        pack_str(&pk, b->except);
        if (n >= 9)
            pack_str(&pk, b->user);
        if (n == 10) {
            msgpack_pack_bin(&pk, b->mercure.len);
            msgpack_pack_bin_body(&pk, b->mercure.p, b->mercure.len);
        }
    } else if (b->json)
        msgpack_pack_true(&pk);
    *len = sb.size;
    return sb.data;
}

static int get_slice(const msgpack_object *o, hr_slice_t *s)
{
    if (o->type == MSGPACK_OBJECT_STR)
        *s = (hr_slice_t){o->via.str.ptr, o->via.str.size};
    else if (o->type == MSGPACK_OBJECT_BIN)
        *s = (hr_slice_t){o->via.bin.ptr, o->via.bin.size};
    else
        return -1;
    return 0;
}

int hr_cl_body_decode(const char *buf, size_t len, hr_cl_body_t *b)
{
    /* msgpack-c's zone-less parse would copy; a one-shot unpack into a
     * zone and slices into buf (str/bin point into the input) is enough. */
    msgpack_zone z;
    msgpack_object o;
    size_t off = 0;
    int rc = -1;
    memset(b, 0, sizeof *b);
    /* Whatever is in Redis reaches here (anyone who can PUBLISH or XADD
     * there): msgpack-c allocates a container's elements as soon as it
     * reads the header, so five bytes could ask it for 96 GiB. The scanner
     * lets through one whole value of these bytes, within its limits. */
    hr_mpscan_t scan;
    memset(&scan, 0, sizeof scan);
    if (hr_mpscan_feed(&scan, (const uint8_t *)buf, len, len) != 1 || !hr_mpscan_idle(&scan))
        return -1;
    msgpack_zone_init(&z, 1024);
    if (msgpack_unpack(buf, len, &off, &z, &o) != MSGPACK_UNPACK_SUCCESS || off != len)
        goto out;
    if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size < 6 || o.via.array.size > 10)
        goto out;
    const msgpack_object *a = o.via.array.ptr;
    /* retry within the bound an ingest frame has (codec/frame.c). */
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 >= HR_ARRAY_SIZE(targets) ||
        a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        a[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[2].via.u64 > MAX_RETRY_MS ||
        a[5].type != MSGPACK_OBJECT_ARRAY || a[5].via.array.size > HR_ARRAY_SIZE(b->channels))
        goto out;
    b->target = targets[a[0].via.u64];
    b->binary = a[1].via.u64 != 0;
    b->retry = (long)a[2].via.u64;
    if (get_slice(&a[3], &b->event) != 0 || get_slice(&a[4], &b->data) != 0)
        goto out;
    b->nchannels = a[5].via.array.size;
    for (size_t i = 0; i < b->nchannels; i++)
        if (get_slice(&a[5].via.array.ptr[i], &b->channels[i]) != 0)
            goto out;
    if (o.via.array.size >= 7) {
        if (a[6].type != MSGPACK_OBJECT_BOOLEAN)
            goto out;
        b->json = a[6].via.boolean;
    }
    /* except may be "" when a user follows; the user, 1-200 bytes. */
    if (o.via.array.size >= 8 &&
        (a[7].type != MSGPACK_OBJECT_STR || get_slice(&a[7], &b->except) != 0 ||
         b->except.len > 64 || (b->except.len == 0 && o.via.array.size == 8)))
        goto out;
    /* The user may be "" when Mercure metadata follows. */
    if (o.via.array.size >= 9 &&
        (a[8].type != MSGPACK_OBJECT_STR || get_slice(&a[8], &b->user) != 0 ||
         (b->user.len == 0 && o.via.array.size == 9) || b->user.len > 200))
        goto out;
    /* A Mercure update: its metadata, checked as at ingest, sets its target
     * (a private update reaches Mercure subscribers only). */
    if (o.via.array.size == 10) {
        hr_mercure_meta_t m;
        if (a[9].type != MSGPACK_OBJECT_BIN || get_slice(&a[9], &b->mercure) != 0 ||
            hr_mercure_meta_parse((const uint8_t *)b->mercure.p, b->mercure.len, &m) != 0)
            goto out;
        b->target = m.priv ? HR_TARGET_MERCURE : HR_TARGET_ALL | HR_TARGET_MERCURE;
    }
    /* herald.v1 embeds JSON data as a value: it must be one, as at ingest. */
    if (b->json && (b->binary || !hr_utf8_valid((const uint8_t *)b->data.p, b->data.len) ||
                    hr_json_check(b->data.p, b->data.len, NULL) != NULL))
        goto out;
    rc = 0;
out:
    /* Slices point into buf, not into the zone: str/bin objects reference
     * the input buffer, so destroying the zone keeps them valid. */
    msgpack_zone_destroy(&z);
    return rc;
}

int hr_cl_payload_parse(const char *p, size_t len, hr_slice_t *epoch, uint64_t *seq,
                        hr_slice_t *body)
{
    const char *c1 = memchr(p, ':', len);
    if (c1 == NULL || c1 == p || c1 - p > 16)
        return -1;
    const char *c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p));
    if (c2 == NULL || hr_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), seq) != 0 || *seq == 0)
        return -1;
    *epoch = (hr_slice_t){p, (size_t)(c1 - p)};
    *body = (hr_slice_t){c2 + 1, len - (size_t)(c2 + 1 - p)};
    return 0;
}

int hr_cl_parse_stream_id(const char *p, size_t len, uint64_t *seq)
{
    if (len < 3 || p[len - 2] != '-' || p[len - 1] != '0')
        return -1;
    return hr_parse_u64(p, len - 2, seq);
}

int hr_cl_gap(uint64_t after, uint64_t last, const uint64_t *seq, const uint64_t *prev,
              const uint64_t *t, size_t n, uint64_t now_ms, uint64_t ttl_ms, size_t *skip)
{
    size_t k = 0;
    while (k < n && t[k] + ttl_ms <= now_ms)
        k++;
    *skip = k;
    if (n && seq[n - 1] > last)
        last = seq[n - 1]; /* the marker expired before the Stream: trust the Stream */
    if (last <= after)
        return 0; /* nothing was published on the channel after that id */
    if (k == n)
        return 1; /* published after it, and none of it is left */
    /* Exact only when nothing is missing between the id and the first
     * message still held: the entry names its predecessor on the channel. */
    return k > 0 || prev[k] > after;
}
