/* SPDX-License-Identifier: MIT
 * pusher_msg.c: the Pusher protocol's messages (pusher_msg.h). */
#include "codec/pusher_msg.h"
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/json_str.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hr_slice_t str_of(json_t *v)
{
    return (hr_slice_t){json_string_value(v), json_string_length(v)};
}

static int starts(hr_slice_t s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

static int is(hr_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* A channel member: a string that is a valid channel name. */
static int read_channel(json_t *v, hr_pusher_msg_t *m)
{
    if (!json_is_string(v))
        return HR_PMSG_CHANNEL;
    m->channel = str_of(v);
    return hr_chan_name_valid(m->channel.p, m->channel.len) ? HR_PMSG_OK : HR_PMSG_CHANNEL;
}

static int read_subscribe(json_t *data, hr_pusher_msg_t *m, int subscribe)
{
    json_t *obj = data;
    if (json_is_string(data)) {
        /* Old clients send the object as a string: kept in root's tree so
         * the slices live as long as the message. */
        obj = json_loadb(json_string_value(data), json_string_length(data), JSON_REJECT_DUPLICATES,
                         NULL);
        if (obj == NULL)
            return HR_PMSG_DATA;
        json_object_set_new(m->root, "\x01parsed", obj);
    }
    if (!json_is_object(obj))
        return HR_PMSG_DATA;
    int st = read_channel(json_object_get(obj, "channel"), m);
    if (st != HR_PMSG_OK || !subscribe)
        return st;
    json_t *auth = json_object_get(obj, "auth");
    json_t *cd = json_object_get(obj, "channel_data");
    if ((auth && !json_is_null(auth) && !json_is_string(auth)) ||
        (cd && !json_is_null(cd) && !json_is_string(cd)))
        return HR_PMSG_AUTH;
    if (json_is_string(auth))
        m->auth = str_of(auth);
    if (json_is_string(cd))
        m->channel_data = str_of(cd);
    return HR_PMSG_OK;
}

int hr_pusher_msg_parse(const uint8_t *data, size_t len, hr_pusher_msg_t *m)
{
    memset(m, 0, sizeof *m);
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        return HR_PMSG_NOT_JSON;
    }
    m->root = root;
    json_t *ev = json_object_get(root, "event");
    if (!json_is_string(ev))
        return HR_PMSG_NO_EVENT;
    m->event = str_of(ev);
    json_t *d = json_object_get(root, "data");
    if (starts(m->event, "pusher:")) {
        if (is(m->event, "pusher:ping"))
            m->type = HR_PMSG_PING;
        else if (is(m->event, "pusher:pong"))
            m->type = HR_PMSG_PONG;
        else if (is(m->event, "pusher:subscribe"))
            m->type = HR_PMSG_SUBSCRIBE;
        else if (is(m->event, "pusher:unsubscribe"))
            m->type = HR_PMSG_UNSUBSCRIBE;
        else if (is(m->event, "pusher:signin"))
            m->type = HR_PMSG_SIGNIN;
        else
            return HR_PMSG_UNKNOWN_EVENT;
        if (m->type == HR_PMSG_SUBSCRIBE || m->type == HR_PMSG_UNSUBSCRIBE)
            return read_subscribe(d, m, m->type == HR_PMSG_SUBSCRIBE);
        return HR_PMSG_OK;
    }
    if (!starts(m->event, "client-"))
        return HR_PMSG_UNKNOWN_EVENT;
    m->type = HR_PMSG_CLIENT;
    if (m->event.len > HR_PUSHER_EVENT_MAX)
        return HR_PMSG_EVENT_NAME;
    int st = read_channel(json_object_get(root, "channel"), m);
    if (st != HR_PMSG_OK)
        return st;
    m->data = json_dumps(d ? d : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    if (m->data == NULL)
        m->data = strdup("null");
    m->data_len = strlen(m->data);
    return HR_PMSG_OK;
}

void hr_pusher_msg_free(hr_pusher_msg_t *m)
{
    free(m->data);
    json_decref(m->root);
    memset(m, 0, sizeof *m);
}

static const char *const errors[HR_PMSG_STATUS_COUNT] = {
    [HR_PMSG_OK] = "ok",
    [HR_PMSG_NOT_JSON] = "Invalid message: not a JSON object",
    [HR_PMSG_NO_EVENT] = "Invalid message: no event",
    [HR_PMSG_UNKNOWN_EVENT] = "Unsupported event: neither a known pusher: event nor client-",
    [HR_PMSG_DATA] = "Invalid subscribe: data is not an object",
    [HR_PMSG_CHANNEL] = "Invalid channel: missing, not a string, or not a valid channel name",
    [HR_PMSG_AUTH] = "Invalid subscribe: auth and channel_data must be strings",
    [HR_PMSG_EVENT_NAME] = "Invalid client event: name longer than 200 bytes",
};

static const char *const reasons[HR_PMSG_STATUS_COUNT] = {
    [HR_PMSG_OK] = "ok",
    [HR_PMSG_NOT_JSON] = "not_json",
    [HR_PMSG_NO_EVENT] = "no_event",
    [HR_PMSG_UNKNOWN_EVENT] = "unknown_event",
    [HR_PMSG_DATA] = "data",
    [HR_PMSG_CHANNEL] = "channel",
    [HR_PMSG_AUTH] = "auth_type",
    [HR_PMSG_EVENT_NAME] = "event_name",
};

const char *hr_pusher_msg_strerror(int status)
{
    return status >= 0 && status < HR_PMSG_STATUS_COUNT ? errors[status] : "invalid";
}

const char *hr_pusher_msg_reason(int status)
{
    return status >= 0 && status < HR_PMSG_STATUS_COUNT ? reasons[status] : "invalid";
}

int hr_pusher_channel_data(const char *text, size_t len, char user[HR_PUSHER_USER_MAX + 1],
                           size_t *user_len, char **info, size_t *info_len, const char **why)
{
    *user_len = 0;
    user[0] = '\0';
    *info = NULL;
    *info_len = 0;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = -1;
    if (!json_is_object(o)) {
        *why = "channel_data is not a JSON object";
        goto out;
    }
    json_t *id = json_object_get(o, "user_id");
    if (json_is_string(id)) {
        size_t n = json_string_length(id);
        if (n == 0 || n > HR_PUSHER_USER_MAX) {
            *why = "channel_data.user_id must be 1 to 200 bytes";
            goto out;
        }
        memcpy(user, json_string_value(id), n);
        user[n] = '\0';
        *user_len = n;
    } else if (json_is_integer(id)) {
        int n =
            snprintf(user, HR_PUSHER_USER_MAX + 1, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        *user_len = (size_t)n;
    } else {
        *why = "channel_data.user_id must be a string or an integer";
        goto out;
    }
    json_t *ui = json_object_get(o, "user_info");
    if (ui && !json_is_null(ui)) {
        *info = json_dumps(ui, JSON_COMPACT | JSON_ENCODE_ANY);
        *info_len = *info ? strlen(*info) : 0;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- writing ---- */

static size_t put(char *out, size_t w, const char *lit)
{
    size_t n = strlen(lit);
    if (out)
        memcpy(out + w, lit, n);
    return n;
}

size_t hr_pusher_write(char *out, const hr_pusher_out_t *o)
{
    size_t w = 0;
    const char *sep = "{";
    const struct {
        const char *key;
        hr_slice_t v;
    } members[] = {
        {"\"event\":", o->event},
        {"\"channel\":", o->channel},
        {"\"data\":", o->data},
        {"\"user_id\":", o->user_id},
    };
    for (size_t i = 0; i < HR_ARRAY_SIZE(members); i++) {
        if (members[i].v.p == NULL)
            continue;
        w += put(out, w, sep);
        w += put(out, w, members[i].key);
        w += hr_json_str(out ? out + w : NULL, members[i].v.p, members[i].v.len);
        sep = ",";
    }
    if (w == 0)
        w += put(out, w, "{");
    w += put(out, w, "}");
    return w;
}

size_t hr_pusher_base64(char *out, const uint8_t *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = (len + 2) / 3 * 4;
    if (out == NULL)
        return n;
    size_t w = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[w++] = tab[v >> 18];
        out[w++] = tab[(v >> 12) & 63];
        out[w++] = tab[(v >> 6) & 63];
        out[w++] = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[w++] = tab[v >> 18];
        out[w++] = tab[(v >> 12) & 63];
        out[w++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[w++] = '=';
    }
    return w;
}
