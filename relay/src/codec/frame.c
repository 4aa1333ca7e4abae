/* SPDX-License-Identifier: MIT
 * frame.c: validation of ingest frames. Everything a publisher controls is
 * checked here, before anything is encoded for clients: channel names,
 * event names (no CR/LF: no injected SSE fields), UTF-8 of text payloads. */
#include "codec/frame.h"
#include "codec/channel_name.h"
#include "codec/json_check.h"
#include "codec/sse.h"
#include "base/utf8.h"

#include <stdio.h>
#include <string.h>

static int key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, s, n) == 0;
}

static int is_text(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR;
}

static hr_slice_t text(const msgpack_object *o)
{
    return (hr_slice_t){o->via.str.ptr, o->via.str.size};
}

size_t hr_frame_max_encoded = HR_FRAME_MAX_ENCODED;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return -1;                                                                                 \
    } while (0)

/* data, "json" and (send) "binary" of a pub or send frame, checked: what
 * its subscribers' encodings need. sse: SSE subscribers may get it. */
static int parse_data(hr_frame_t *f, const msgpack_object *data, const msgpack_object *json,
                      const msgpack_object *binary, const char *op, int sse, char *err,
                      size_t errlen)
{
    if (data == NULL)
        FAIL("%s: missing data", op);
    if (data->type == MSGPACK_OBJECT_STR)
        f->data = text(data);
    else if (data->type == MSGPACK_OBJECT_BIN) {
        f->data = (hr_slice_t){data->via.bin.ptr, data->via.bin.size};
        f->binary = 1;
    } else
        FAIL("%s: data must be str or bin", op);
    if (binary != NULL && binary->type != MSGPACK_OBJECT_NIL) {
        if (binary->type != MSGPACK_OBJECT_BOOLEAN)
            FAIL("%s: binary must be a boolean", op);
        f->binary |= binary->via.boolean;
    }
    if (json != NULL && json->type != MSGPACK_OBJECT_NIL) {
        if (json->type != MSGPACK_OBJECT_BOOLEAN)
            FAIL("%s: json must be a boolean", op);
        f->json = json->via.boolean;
    }
    if (f->json && f->binary)
        FAIL("%s: json data must be a str, not bin", op);
    /* SSE is a UTF-8 text stream and WebSocket text frames must be UTF-8;
     * "all" reaches SSE too, so its data is text. */
    if ((sse || !f->binary) && !hr_utf8_valid((const uint8_t *)f->data.p, f->data.len))
        FAIL("%s: data is not valid UTF-8", op);
    if (sse)
        f->binary = 0;
    /* herald.v1 puts JSON data into its envelopes as a value: text that is
     * not one JSON value would break them (or smuggle keys into them). */
    if (f->json) {
        size_t at = 0;
        const char *why = hr_json_check(f->data.p, f->data.len, &at);
        if (why)
            FAIL("%s: data is not valid JSON (%s at byte %zu)", op, why, at);
    }
    return 0;
}

/* SSE framing can make data seven times longer (a "data: " line per line
 * break): its bytes must still fit one buffer (base/buf.h). */
static int check_sse_size_id(const hr_frame_t *f, hr_slice_t id, hr_slice_t event, const char *op,
                             char *err, size_t errlen)
{
    size_t n = hr_sse_event_len(id, event, f->retry, f->data);
    if (n > hr_frame_max_encoded)
        FAIL("%s: data too large once encoded as SSE (%zu bytes)", op, n);
    return 0;
}

static int check_sse_size(const hr_frame_t *f, hr_slice_t event, const char *op, char *err,
                          size_t errlen)
{
    char id[HR_FRAME_ID_MAX];
    memset(id, '9', sizeof id);
    return check_sse_size_id(f, (hr_slice_t){id, sizeof id}, event, op, err, errlen);
}

static int conn_id_valid(hr_slice_t s)
{
    if (s.len == 0 || s.len > HR_FRAME_CONN_MAX)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'))
            return 0;
    }
    return 1;
}

/* {"op":"send","conn":C | "user":U,"data":D,"binary"?,"json"?,"ack"?,"ts"?}:
 * one message to one connection, or to every connection of one user. */
static int parse_send(hr_frame_t *f, const msgpack_object *conn, const msgpack_object *user,
                      const msgpack_object *data, const msgpack_object *json,
                      const msgpack_object *binary, char *err, size_t errlen)
{
    f->op = HR_OP_SEND;
    f->target = HR_TARGET_DIRECT;
    if (conn != NULL && conn->type == MSGPACK_OBJECT_NIL)
        conn = NULL;
    if (user != NULL && user->type == MSGPACK_OBJECT_NIL)
        user = NULL;
    if ((conn == NULL) == (user == NULL))
        FAIL("send: exactly one of conn and user is required");
    if (conn != NULL) {
        if (!is_text(conn) || !conn_id_valid(text(conn)))
            FAIL("send: conn must be a connection id (1 to %d bytes of a-z 0-9 .)",
                 HR_FRAME_CONN_MAX);
        f->conn = text(conn);
    } else {
        if (!is_text(user) || !hr_chan_name_valid(user->via.str.ptr, user->via.str.size))
            FAIL("send: user must be 1 to %d bytes of A-Z a-z 0-9 _ . : @ = / , ; -",
                 HR_CHANNEL_MAX);
        f->user = text(user);
    }
    if (parse_data(f, data, json, binary, "send", 0, err, errlen) != 0)
        return -1;
    /* SSE subscribers get a send as the event "herald.send". */
    if (!f->binary)
        return check_sse_size(f, (hr_slice_t){"herald.send", 11}, "send", err, errlen);
    return 0;
}

/* "mercure": {"id": str, "topics": [str, ...], "private": bool?}, a
 * Mercure update. The relay derives its channels from the topics and its
 * target from "private"; unknown keys in the map are ignored. */
static int parse_mercure(hr_frame_t *f, const msgpack_object *m, char *err, size_t errlen)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        FAIL("pub: mercure must be a map");
    const msgpack_object *id = NULL, *topics = NULL, *priv = NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key, *v = &m->via.map.ptr[i].val;
        if (key_is(k, "id"))
            id = v;
        else if (key_is(k, "topics"))
            topics = v;
        else if (key_is(k, "private"))
            priv = v;
    }
    if (id == NULL || !is_text(id) || !hr_mercure_id_valid(id->via.str.ptr, id->via.str.size))
        FAIL("pub: mercure.id must be 1 to %d bytes of UTF-8 without control characters, not "
             "starting with '#', not \"earliest\"",
             HR_MERCURE_ID_MAX);
    f->mercure.id = text(id);
    if (topics == NULL || topics->type != MSGPACK_OBJECT_ARRAY || topics->via.array.size < 1 ||
        topics->via.array.size > HR_MERCURE_TOPICS_MAX)
        FAIL("pub: mercure.topics must be 1 to %d topics of 1 to %d bytes", HR_MERCURE_TOPICS_MAX,
             HR_MERCURE_TOPIC_MAX);
    for (uint32_t i = 0; i < topics->via.array.size; i++) {
        const msgpack_object *t = &topics->via.array.ptr[i];
        if (!is_text(t) || !hr_mercure_topic_valid(t->via.str.ptr, t->via.str.size))
            FAIL("pub: mercure.topics[%u] is not a topic (1 to %d bytes of UTF-8 without control "
                 "characters, not \"*\")",
                 i, HR_MERCURE_TOPIC_MAX);
        f->mercure.topics[i] = text(t);
    }
    f->mercure.ntopics = topics->via.array.size;
    if (priv != NULL && priv->type != MSGPACK_OBJECT_NIL) {
        if (priv->type != MSGPACK_OBJECT_BOOLEAN)
            FAIL("pub: mercure.private must be a boolean");
        f->mercure.priv = priv->via.boolean;
    }
    f->has_mercure = 1;
    f->target = f->mercure.priv ? HR_TARGET_MERCURE : HR_TARGET_ALL | HR_TARGET_MERCURE;
    return 0;
}

/* {"op":"presence","ch":C,"ack":N}: the members of C, in the ack. */
static int parse_presence(hr_frame_t *f, const msgpack_object *ch, char *err, size_t errlen)
{
    f->op = HR_OP_PRESENCE;
    if (ch == NULL || !is_text(ch))
        FAIL("presence: ch must be one channel name");
    f->channels[0] = text(ch);
    f->nchannels = 1;
    if (!hr_chan_name_valid(f->channels[0].p, f->channels[0].len))
        FAIL("presence: invalid channel name '%.*s'",
             (int)(f->channels[0].len > 64 ? 64 : f->channels[0].len), f->channels[0].p);
    if (!f->has_ack)
        FAIL("presence: ack is required (the members come in its reply)");
    return 0;
}

/* A pub's data, event, except and retry, once its target is known. A
 * Mercure update is an SSE event whoever receives it (its id is its own). */
static int parse_pub_rest(hr_frame_t *f, const msgpack_object *data, const msgpack_object *json,
                          const msgpack_object *event, const msgpack_object *except,
                          const msgpack_object *retry, char *err, size_t errlen)
{
    int sse = (f->target & HR_TARGET_SSE) || f->has_mercure;
    /* A pub has no "binary" key: bin data is what makes a ws frame binary. */
    if (parse_data(f, data, json, NULL, "pub", sse, err, errlen) != 0)
        return -1;
    if (event != NULL && event->type != MSGPACK_OBJECT_NIL) {
        if (!is_text(event))
            FAIL("pub: event must be a string");
        f->event = text(event);
        if (f->event.len > 200 || !hr_sse_field_valid(f->event) ||
            !hr_utf8_valid((const uint8_t *)f->event.p, f->event.len))
            FAIL("pub: invalid event name");
        /* A Mercure type: no control characters, and "mercure" is the hub's. */
        if (f->has_mercure && !hr_mercure_type_valid(f->event.p, f->event.len))
            FAIL("pub: invalid Mercure type (no control characters, not \"mercure\")");
    }
    /* The connection that must not receive it: the sender (Pusher's
     * socket_id, Laravel's toOthers()). */
    if (except != NULL && except->type != MSGPACK_OBJECT_NIL) {
        if (!is_text(except) || !conn_id_valid(text(except)))
            FAIL("pub: except must be a connection id (1 to %d bytes of a-z 0-9 .)",
                 HR_FRAME_CONN_MAX);
        f->except = text(except);
    }
    if (retry != NULL && retry->type != MSGPACK_OBJECT_NIL) {
        if (retry->type != MSGPACK_OBJECT_POSITIVE_INTEGER || retry->via.u64 == 0 ||
            retry->via.u64 > 86400000)
            FAIL("pub: retry must be a positive integer of ms");
        f->retry = (long)retry->via.u64;
    }
    if (f->has_mercure)
        return check_sse_size_id(f, f->mercure.id, f->event, "pub", err, errlen);
    if (f->target & HR_TARGET_SSE)
        return check_sse_size(f, f->event, "pub", err, errlen);
    return 0;
}

int hr_frame_parse(const msgpack_object *obj, hr_frame_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (obj->type != MSGPACK_OBJECT_MAP)
        FAIL("frame is not a map");
    const msgpack_object_map *map = &obj->via.map;
    const msgpack_object *op = NULL, *t = NULL, *ch = NULL, *data = NULL, *event = NULL,
                         *retry = NULL, *ack = NULL, *json = NULL, *conn = NULL, *user = NULL,
                         *binary = NULL, *except = NULL, *mercure = NULL;
    int bad_key = 0;

    /* First pass: pick the keys we know, so ack can be nacked whatever fails. */
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            bad_key = 1; /* failed after the ack is known, to nack it */
            continue;
        }
        if (key_is(k, "op"))
            op = v;
        else if (key_is(k, "t"))
            t = v;
        else if (key_is(k, "ch"))
            ch = v;
        else if (key_is(k, "data"))
            data = v;
        else if (key_is(k, "event"))
            event = v;
        else if (key_is(k, "retry"))
            retry = v;
        else if (key_is(k, "ack"))
            ack = v;
        else if (key_is(k, "json"))
            json = v;
        else if (key_is(k, "conn"))
            conn = v;
        else if (key_is(k, "user"))
            user = v;
        else if (key_is(k, "binary"))
            binary = v;
        else if (key_is(k, "except"))
            except = v;
        else if (key_is(k, "mercure"))
            mercure = v;
        else if (key_is(k, "ts")) {
            if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                f->has_ts = 1;
                f->ts = v->via.u64;
            }
        } else if (key_is(k, "client") && is_text(v))
            f->client = text(v);
        else if (key_is(k, "v") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            f->version = (int64_t)v->via.u64;
        else if (key_is(k, "pid") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            f->pid = (int64_t)v->via.u64;
        else if (key_is(k, "ring") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            f->ring = v->via.u64;
    }
    /* An ack id is a uint; some encoders write whole numbers as floats
     * (JavaScript's, PHP's for a float): take those too, since the
     * publisher waits for the reply. Anything else cannot be answered. */
    if (ack != NULL) {
        double d = ack->type == MSGPACK_OBJECT_FLOAT64 || ack->type == MSGPACK_OBJECT_FLOAT32
                       ? ack->via.f64
                       : -1;
        if (ack->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            f->has_ack = 1;
            f->ack = ack->via.u64;
        } else if (d >= 0 && d <= 9007199254740992.0 && d == (double)(uint64_t)d) {
            f->has_ack = 1;
            f->ack = (uint64_t)d;
        } else
            FAIL("ack must be an unsigned integer");
    }
    if (bad_key)
        FAIL("frame key is not a string");
    if (op == NULL || !is_text(op))
        FAIL("missing op");
    hr_slice_t ops = text(op);
    if (ops.len == 5 && memcmp(ops.p, "hello", 5) == 0) {
        f->op = HR_OP_HELLO;
        return 0;
    }
    /* A publisher whose ring the relay stopped polling: look at it. */
    if (ops.len == 4 && memcmp(ops.p, "wake", 4) == 0) {
        f->op = HR_OP_WAKE;
        return 0;
    }
    if (ops.len == 4 && memcmp(ops.p, "send", 4) == 0)
        return parse_send(f, conn, user, data, json, binary, err, errlen);
    if (ops.len == 8 && memcmp(ops.p, "presence", 8) == 0)
        return parse_presence(f, ch, err, errlen);
    if (!(ops.len == 3 && memcmp(ops.p, "pub", 3) == 0))
        FAIL("unknown op '%.*s'", (int)(ops.len > 32 ? 32 : ops.len), ops.p);
    f->op = HR_OP_PUB;

    /* A Mercure update: its topics give the channels, "private" the target. */
    if (mercure != NULL && mercure->type != MSGPACK_OBJECT_NIL) {
        if (ch != NULL && ch->type != MSGPACK_OBJECT_NIL)
            FAIL("pub: ch must be absent with mercure (the relay derives the channels from the "
                 "topics)");
        if (parse_mercure(f, mercure, err, errlen) != 0)
            return -1;
        return parse_pub_rest(f, data, json, event, except, retry, err, errlen);
    }

    if (t == NULL || !is_text(t))
        FAIL("pub: missing t");
    hr_slice_t ts = text(t);
    if (ts.len == 3 && memcmp(ts.p, "sse", 3) == 0)
        f->target = HR_TARGET_SSE;
    else if (ts.len == 2 && memcmp(ts.p, "ws", 2) == 0)
        f->target = HR_TARGET_WS;
    else if (ts.len == 3 && memcmp(ts.p, "all", 3) == 0)
        f->target = HR_TARGET_ALL;
    else
        FAIL("pub: t must be \"sse\", \"ws\" or \"all\"");

    if (ch == NULL)
        FAIL("pub: missing ch");
    if (is_text(ch)) {
        f->channels[0] = text(ch);
        f->nchannels = 1;
    } else if (ch->type == MSGPACK_OBJECT_ARRAY) {
        if (ch->via.array.size == 0)
            FAIL("pub: ch is an empty array");
        if (ch->via.array.size > HR_FRAME_MAX_CHANNELS)
            FAIL("pub: more than %d channels", HR_FRAME_MAX_CHANNELS);
        for (uint32_t i = 0; i < ch->via.array.size; i++) {
            if (!is_text(&ch->via.array.ptr[i]))
                FAIL("pub: ch[%u] is not a string", i);
            f->channels[f->nchannels++] = text(&ch->via.array.ptr[i]);
        }
    } else
        FAIL("pub: ch must be a string or an array of strings");
    for (size_t i = 0; i < f->nchannels; i++)
        if (!hr_chan_name_valid(f->channels[i].p, f->channels[i].len))
            FAIL("pub: invalid channel name '%.*s'",
                 (int)(f->channels[i].len > 64 ? 64 : f->channels[i].len), f->channels[i].p);

    return parse_pub_rest(f, data, json, event, except, retry, err, errlen);
}
