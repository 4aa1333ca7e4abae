/* SPDX-License-Identifier: MIT
 * envelope.c: herald.v1 envelopes (envelope.h). Client messages are read
 * with jansson; relay envelopes are written by hand in two passes (measure,
 * then write) so the transport allocates each once, with room for its frame
 * header. */
#include "codec/envelope.h"
#include "codec/json_str.h"
#include "base/num.h"
#include "base/utf8.h"
#include "codec/channel_name.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const errors[HR_ENV_STATUS_COUNT] = {
    [HR_ENV_OK] = "ok",
    [HR_ENV_NOT_JSON] = "envelope is not a JSON object",
    [HR_ENV_UNKNOWN_TYPE] = "unknown type",
    [HR_ENV_CHANNEL_TYPE] = "channel must be a string",
    [HR_ENV_CHANNEL_NAME] = "invalid channel name",
    [HR_ENV_SINCE] = "since is not an event id",
    [HR_ENV_TOKEN] = "invalid token",
    [HR_ENV_REF] = "invalid ref",
    [HR_ENV_BINARY_SHORT] = "binary frame layout: shorter than 4 bytes",
    [HR_ENV_BINARY_LENGTH] = "binary frame layout: the length passes the frame",
    [HR_ENV_BINARY_ENVELOPE] = "binary frame layout: the envelope is not a JSON object",
    [HR_ENV_SEND_DATA] = "send needs data",
};

static const char *const reasons[HR_ENV_STATUS_COUNT] = {
    [HR_ENV_OK] = "ok",
    [HR_ENV_NOT_JSON] = "not_json",
    [HR_ENV_UNKNOWN_TYPE] = "unknown_type",
    [HR_ENV_CHANNEL_TYPE] = "channel",
    [HR_ENV_CHANNEL_NAME] = "channel",
    [HR_ENV_SINCE] = "since",
    [HR_ENV_TOKEN] = "auth",
    [HR_ENV_REF] = "ref",
    [HR_ENV_BINARY_SHORT] = "binary_layout",
    [HR_ENV_BINARY_LENGTH] = "binary_layout",
    [HR_ENV_BINARY_ENVELOPE] = "binary_layout",
    [HR_ENV_SEND_DATA] = "send",
};

const char *hr_env_strerror(int status)
{
    return status >= 0 && status < HR_ENV_STATUS_COUNT ? errors[status] : "invalid envelope";
}

const char *hr_env_reason(int status)
{
    return status >= 0 && status < HR_ENV_STATUS_COUNT ? reasons[status] : "invalid";
}

int hr_env_id_form(hr_slice_t s)
{
    size_t i = 0;
    while (i < s.len && i < 17 &&
           ((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'a' && s.p[i] <= 'f')))
        i++;
    if (i == 0 || i > 16 || i >= s.len || s.p[i] != '-')
        return 0;
    uint64_t seq;
    return hr_parse_u64(s.p + i + 1, s.len - i - 1, &seq) == 0;
}

/* A member that is present and not null. */
static json_t *member(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v == NULL || json_is_null(v) ? NULL : v;
}

static hr_slice_t str_of(json_t *v)
{
    return (hr_slice_t){json_string_value(v), json_string_length(v)};
}

/* A ref: a string or an integer of magnitude at most 2^53 (what a
 * JavaScript number holds exactly), its JSON text at most 64 bytes. */
static int read_ref(json_t *v, hr_envelope_t *e)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        const json_int_t max = (json_int_t)1 << 53;
        if (n > max || n < -max)
            return -1;
    } else if (!json_is_string(v)) {
        return -1;
    }
    size_t n = json_dumpb(v, e->ref, HR_ENV_REF_MAX, JSON_ENCODE_ANY | JSON_COMPACT);
    if (n == 0 || n > HR_ENV_REF_MAX)
        return -1;
    e->ref[n] = '\0';
    e->ref_len = n;
    return 0;
}

static int type_of(const char *t)
{
    static const struct {
        const char *name;
        int type;
    } types[] = {
        {"subscribe", HR_ENV_SUBSCRIBE}, {"unsubscribe", HR_ENV_UNSUBSCRIBE},
        {"send", HR_ENV_SEND},           {"presence", HR_ENV_PRESENCE},
        {"ping", HR_ENV_PING},
    };
    for (size_t i = 0; t && i < HR_ARRAY_SIZE(types); i++)
        if (strcmp(t, types[i].name) == 0)
            return types[i].type;
    return 0;
}

/* The members of an envelope object, in the order the errors are told: the
 * ref first (so that every later error can carry it), then the type, then
 * what the type needs. */
static int read_object(json_t *o, hr_envelope_t *e)
{
    json_t *ref = member(o, "ref");
    if (ref && read_ref(ref, e) != 0)
        return HR_ENV_REF;
    json_t *type = json_object_get(o, "type");
    /* A type holding a NUL byte is no known type (strcmp would stop at it). */
    if (!json_is_string(type) || strlen(json_string_value(type)) != json_string_length(type) ||
        (e->type = type_of(json_string_value(type))) == 0)
        return HR_ENV_UNKNOWN_TYPE;
    if (e->type == HR_ENV_PING)
        return HR_ENV_OK;
    json_t *ch = e->type == HR_ENV_SEND ? member(o, "channel") : json_object_get(o, "channel");
    if (ch && json_is_string(ch))
        e->channel = str_of(ch);
    if (e->type != HR_ENV_SEND || ch != NULL) {
        if (!json_is_string(ch))
            return HR_ENV_CHANNEL_TYPE;
        if (!hr_chan_name_valid(e->channel.p, e->channel.len))
            return HR_ENV_CHANNEL_NAME;
    }
    if (e->type == HR_ENV_SUBSCRIBE) {
        json_t *since = member(o, "since");
        if (since) {
            if (!json_is_string(since) || !hr_env_id_form(str_of(since)))
                return HR_ENV_SINCE;
            e->since = str_of(since);
        }
        json_t *token = member(o, "token");
        if (token) {
            if (!json_is_string(token))
                return HR_ENV_TOKEN;
            e->token = str_of(token);
        }
    }
    if (e->type == HR_ENV_SEND) {
        if (!e->binary)
            e->has_data = json_object_get(o, "data") != NULL;
        if (!e->has_data)
            return HR_ENV_SEND_DATA;
    }
    return HR_ENV_OK;
}

int hr_envelope_parse(const uint8_t *data, size_t len, int binary, hr_envelope_t *e)
{
    memset(e, 0, sizeof *e);
    e->binary = binary;
    const uint8_t *json = data;
    size_t jlen = len;
    if (binary) {
        if (len < 4)
            return HR_ENV_BINARY_SHORT;
        uint32_t n = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
                     (uint32_t)data[3];
        if (n > len - 4)
            return HR_ENV_BINARY_LENGTH;
        json = data + 4;
        jlen = n;
        e->payload = (hr_slice_t){(const char *)data + 4 + n, len - 4 - n};
        e->has_data = 1;
    }
    json_error_t jerr;
    /* Duplicate keys make an envelope mean two things: refused as not an
     * object. NUL bytes in strings are kept (lengths are used throughout). */
    json_t *o =
        jlen ? json_loadb((const char *)json, jlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr)
             : NULL;
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    if (o == NULL)
        return binary ? HR_ENV_BINARY_ENVELOPE : HR_ENV_NOT_JSON;
    e->root = o;
    int st = read_object(o, e);
    return st;
}

void hr_envelope_free(hr_envelope_t *e)
{
    if (e->root)
        json_decref(e->root);
    e->root = NULL;
}

/* ---- writing ---- */

typedef struct out {
    char *p; /* NULL: measuring */
    size_t n;
} out_t;

static void put(out_t *o, const void *s, size_t len)
{
    if (o->p && len)
        memcpy(o->p + o->n, s, len);
    o->n += len;
}

#define PUT_LIT(o, lit) put(o, lit, sizeof(lit) - 1)

/* A JSON string of s (codec/json_str.h: bytes that are not UTF-8 become
 * U+FFFD, so the frame stays valid text whatever a publisher sent). */
static void put_string(out_t *o, hr_slice_t s)
{
    o->n += hr_json_str(o->p ? o->p + o->n : NULL, s.p, s.len);
}

static void put_key(out_t *o, const char *key)
{
    PUT_LIT(o, ",\"");
    put(o, key, strlen(key));
    PUT_LIT(o, "\":");
}

static void put_member(out_t *o, const char *key, hr_slice_t v)
{
    if (v.p == NULL)
        return;
    put_key(o, key);
    put_string(o, v);
}

size_t hr_env_write(char *dst, const hr_env_out_t *e)
{
    out_t o = {dst, 0};
    int ref_first = strcmp(e->type, "error") == 0 || strcmp(e->type, "pong") == 0 ||
                    strcmp(e->type, "reply") == 0;
    PUT_LIT(&o, "{\"type\":");
    put_string(&o, (hr_slice_t){e->type, strlen(e->type)});
    if (ref_first && e->ref.p) {
        put_key(&o, "ref");
        put(&o, e->ref.p, e->ref.len);
    }
    put_member(&o, "channel", e->channel);
    put_member(&o, "since", e->since);
    put_member(&o, "id", e->id);
    put_member(&o, "event", e->event);
    if (e->data_mode == HR_ENV_DATA_STRING) {
        put_member(&o, "data", (hr_slice_t){e->data.p ? e->data.p : "", e->data.len});
    } else if (e->data_mode == HR_ENV_DATA_JSON) {
        put_key(&o, "data");
        put(&o, e->data.p, e->data.len);
    }
    put_member(&o, "error", e->error);
    if (!ref_first && e->ref.p) {
        put_key(&o, "ref");
        put(&o, e->ref.p, e->ref.len);
    }
    PUT_LIT(&o, "}");
    return o.n;
}
