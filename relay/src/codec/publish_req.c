/* SPDX-License-Identifier: MIT
 * publish_req.c: the HTTP publish API's request body (publish_req.h). Two
 * passes over the parsed document: the first checks every message and adds
 * up the bytes the result needs, the second copies into one allocation, so
 * a refused body allocates nothing past jansson's document and an accepted
 * one frees that document before returning. */
#include "codec/publish_req.h"
#include "codec/json_str.h"
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/frame.h"
#include "codec/sse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the compact dump ---- */

/* Output that counts when p is NULL. */
typedef struct sink {
    char *p;
    size_t n;
} sink_t;

static void put(sink_t *s, const char *b, size_t n)
{
    if (s->p)
        memcpy(s->p + s->n, b, n);
    s->n += n;
}

/* A JSON string of str (codec/json_str.h). */
static void put_string(sink_t *s, const char *str, size_t len)
{
    s->n += hr_json_str(s->p ? s->p + s->n : NULL, str, len);
}

/* The shortest decimal that strtod reads back as d (a finite double: JSON
 * has no others, and jansson refuses overflow). */
static size_t format_real(double d, char out[40])
{
    int p, x = 0;
    for (p = 1; p < 17; p++) {
        snprintf(out, 40, "%.*e", p - 1, d);
        if (strtod(out, NULL) == d)
            break;
    }
    snprintf(out, 40, "%.*e", p - 1, d);
    const char *e = strchr(out, 'e');
    if (e != NULL)
        x = atoi(e + 1);
    int n;
    if (x >= -4 && x < 16)
        n = snprintf(out, 40, "%.*f", p - 1 - x > 0 ? p - 1 - x : 0, d);
    else
        n = (int)strlen(out);
    /* A real stays a real: "100" would read back as an integer. */
    if (strpbrk(out, ".e") == NULL)
        n += snprintf(out + n, 40 - (size_t)n, ".0");
    return (size_t)n;
}

static void put_value(sink_t *s, const json_t *v)
{
    char num[40];
    size_t i, n;
    const char *key;
    size_t klen;
    json_t *m;
    int first = 1;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put(s, "{", 1);
        json_object_keylen_foreach((json_t *)v, key, klen, m)
        {
            if (!first)
                put(s, ",", 1);
            first = 0;
            put_string(s, key, klen);
            put(s, ":", 1);
            put_value(s, m);
        }
        put(s, "}", 1);
        break;
    case JSON_ARRAY:
        put(s, "[", 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (i)
                put(s, ",", 1);
            put_value(s, json_array_get(v, i));
        }
        put(s, "]", 1);
        break;
    case JSON_STRING:
        put_string(s, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        n = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(s, num, n);
        break;
    case JSON_REAL:
        n = format_real(json_real_value(v), num);
        put(s, num, n);
        break;
    case JSON_TRUE:
        put(s, "true", 4);
        break;
    case JSON_FALSE:
        put(s, "false", 5);
        break;
    case JSON_NULL:
        put(s, "null", 4);
        break;
    }
}

size_t hr_publish_req_dump(const void *json, char *out)
{
    sink_t s = {out, 0};
    put_value(&s, json);
    return s.n;
}

/* ---- checking ---- */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fail(err, errlen, where, __VA_ARGS__);                                                     \
        return -1;                                                                                 \
    } while (0)

static void fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "%s", where);
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A name for messages: at most 64 bytes of it, with anything that is not
 * printable ASCII as '?', so that an error text stays one readable line. */
static const char *shown(const char *s, size_t len, char buf[68])
{
    size_t n = len > 64 ? 64 : len;
    for (size_t i = 0; i < n; i++)
        buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    memcpy(buf + n, len > 64 ? "..." : "", len > 64 ? 4 : 1);
    return buf;
}

/* What pass 1 learns about one message. */
typedef struct plan {
    size_t nchannels;
    size_t bytes; /* channel names, event, data */
} plan_t;

/* The target "transport" names: absent or null is every transport (what
 * herald_publish() reaches); -1 for anything else. */
static int target_of(const json_t *tr)
{
    if (tr == NULL || json_is_null(tr))
        return HR_TARGET_ALL;
    if (!json_is_string(tr))
        return -1;
    const char *t = json_string_value(tr);
    size_t n = json_string_length(tr);
    if (n == 3 && memcmp(t, "sse", 3) == 0)
        return HR_TARGET_SSE;
    if (n == 2 && memcmp(t, "ws", 2) == 0)
        return HR_TARGET_WS;
    if (n == 3 && memcmp(t, "all", 3) == 0)
        return HR_TARGET_ALL;
    return -1;
}

/* Check message m; where prefixes error texts ("" or "messages[i]: "). */
static int check_message(const json_t *m, const char *where, plan_t *pl, char *err, size_t errlen)
{
    char nb[68];
    if (!json_is_object(m))
        FAIL("a message must be a JSON object");
    json_t *ch = json_object_get(m, "channel"), *data = json_object_get(m, "data");
    json_t *ev = json_object_get(m, "event"), *retry = json_object_get(m, "retry");
    json_t *tr = json_object_get(m, "transport");
    pl->nchannels = 0;
    pl->bytes = 0;

    if (ch == NULL)
        FAIL("\"channel\" is required");
    if (json_is_string(ch)) {
        pl->nchannels = 1;
    } else if (json_is_array(ch)) {
        pl->nchannels = json_array_size(ch);
        if (pl->nchannels == 0)
            FAIL("\"channel\" is an empty array");
        if (pl->nchannels > HR_PUBLISH_REQ_MAX_CHANNELS)
            FAIL("more than %d channels", HR_PUBLISH_REQ_MAX_CHANNELS);
    } else {
        FAIL("\"channel\" must be a string or an array of strings");
    }
    for (size_t i = 0; i < pl->nchannels; i++) {
        const json_t *c = json_is_string(ch) ? ch : json_array_get(ch, i);
        if (!json_is_string(c))
            FAIL("\"channel\"[%zu] is not a string", i);
        const char *name = json_string_value(c);
        size_t len = json_string_length(c);
        if (!hr_chan_name_valid(name, len))
            FAIL("invalid channel name '%s' (1-200 bytes of A-Z a-z 0-9 _ . : @ = / -)",
                 shown(name, len, nb));
        pl->bytes += len;
    }

    int target = target_of(tr);
    if (target < 0)
        FAIL("\"transport\" must be \"sse\", \"ws\" or \"all\"");

    if (data == NULL)
        FAIL("\"data\" is required");
    size_t dlen;
    if (json_is_string(data)) {
        dlen = json_string_length(data);
        /* jansson accepts only UTF-8 (and no lone surrogate in \u escapes),
         * but this is the promise SSE and WebSocket text frames rest on. */
        if (!hr_utf8_valid((const uint8_t *)json_string_value(data), dlen))
            FAIL("\"data\" is not valid UTF-8");
    } else {
        dlen = hr_publish_req_dump(data, NULL);
    }
    pl->bytes += dlen;

    if (ev != NULL && !json_is_null(ev)) {
        if (!json_is_string(ev))
            FAIL("\"event\" must be a string");
        size_t elen = json_string_length(ev);
        hr_slice_t e = {json_string_value(ev), elen};
        if (elen > 200 || !hr_sse_field_valid(e))
            FAIL("invalid \"event\": at most 200 bytes, no CR, LF or NUL");
        pl->bytes += elen;
    }
    if (retry != NULL && !json_is_null(retry) &&
        (!json_is_integer(retry) || json_integer_value(retry) < 1 ||
         json_integer_value(retry) > 86400000))
        FAIL("\"retry\" must be an integer of ms, 1 to 86400000");
    /* As for ingest frames, the SSE encoding of the data must fit one
     * buffer (base/buf.h): each byte can add at most one "data: " line. The
     * body limit keeps far below this; the check does not rely on it. */
    if ((target & HR_TARGET_SSE) && dlen > (hr_frame_max_encoded - 4096) / 8)
        FAIL("\"data\" too large once encoded as SSE");
    return 0;
}

/* Copy message m (checked) into *out, its channels into *chans and its
 * bytes to *w. */
static void copy_message(const json_t *m, hr_publish_msg_t *out, hr_slice_t *chans, char **w)
{
    json_t *ch = json_object_get(m, "channel"), *data = json_object_get(m, "data");
    json_t *ev = json_object_get(m, "event"), *retry = json_object_get(m, "retry");
    json_t *tr = json_object_get(m, "transport");
    size_t n = json_is_string(ch) ? 1 : json_array_size(ch);

    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_is_string(ch) ? ch : json_array_get(ch, i);
        size_t len = json_string_length(c);
        memcpy(*w, json_string_value(c), len);
        chans[i] = (hr_slice_t){*w, len};
        *w += len;
    }
    out->channels = chans;
    out->nchannels = n;
    out->target = target_of(tr);
    out->retry = json_is_integer(retry) ? (long)json_integer_value(retry) : 0;
    out->event = (hr_slice_t){*w, 0};
    if (json_is_string(ev)) {
        out->event.len = json_string_length(ev);
        if (out->event.len)
            memcpy(*w, json_string_value(ev), out->event.len);
        *w += out->event.len;
    }
    out->json = !json_is_string(data);
    if (out->json) {
        out->data = (hr_slice_t){*w, hr_publish_req_dump(data, *w)};
    } else {
        out->data = (hr_slice_t){*w, json_string_length(data)};
        if (out->data.len)
            memcpy(*w, json_string_value(data), out->data.len);
    }
    *w += out->data.len;
}

int hr_publish_req_parse(const char *body, size_t len, size_t max_messages, hr_publish_req_t *req,
                         char *err, size_t errlen)
{
    static const char *const single_keys[] = {"channel", "data", "event", "retry", "transport"};
    json_error_t je;
    char where[40] = "";
    int rc = HR_PUBLISH_REQ_INVALID;

    req->n = 0;
    req->msgs = NULL;
    /* Duplicate keys are refused: two "channel"s would mean whichever the
     * parser kept. NUL is allowed in strings (data may hold it, as an ingest
     * frame's may); names are checked with their lengths. */
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        /* jansson quotes the input near the error: keep the text one line. */
        for (char *c = je.text; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        snprintf(err, errlen, "malformed JSON at byte %d: %s", je.position, je.text);
        return HR_PUBLISH_REQ_INVALID;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the body must be a JSON object");
        goto out;
    }
    json_t *list = json_object_get(root, "messages");
    size_t n = 1;
    if (list != NULL) {
        for (size_t i = 0; i < HR_ARRAY_SIZE(single_keys); i++)
            if (json_object_get(root, single_keys[i]) != NULL) {
                snprintf(err, errlen, "\"messages\" and \"%s\" in one body: send one or the other",
                         single_keys[i]);
                goto out;
            }
        if (!json_is_array(list) || json_array_size(list) == 0) {
            snprintf(err, errlen, "\"messages\" must be a non-empty array");
            goto out;
        }
        n = json_array_size(list);
    }
    if (n > max_messages) {
        snprintf(err, errlen, "more than %zu messages in one request", max_messages);
        rc = HR_PUBLISH_REQ_TOO_MANY;
        goto out;
    }

    size_t nchannels = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        plan_t pl;
        if (list)
            snprintf(where, sizeof where, "messages[%zu]: ", i);
        if (check_message(list ? json_array_get(list, i) : root, where, &pl, err, errlen) != 0)
            goto out;
        nchannels += pl.nchannels;
        bytes += pl.bytes;
    }

    char *mem = hr_xmalloc(n * sizeof(hr_publish_msg_t) + nchannels * sizeof(hr_slice_t) + bytes);
    hr_publish_msg_t *msgs = (hr_publish_msg_t *)mem;
    hr_slice_t *chans = (hr_slice_t *)(msgs + n);
    char *w = (char *)(chans + nchannels);
    for (size_t i = 0; i < n; i++) {
        copy_message(list ? json_array_get(list, i) : root, &msgs[i], chans, &w);
        chans += msgs[i].nchannels;
    }
    req->n = n;
    req->msgs = msgs;
    rc = 0;
out:
    json_decref(root);
    return rc;
}

void hr_publish_req_free(hr_publish_req_t *req)
{
    free(req->msgs);
    req->msgs = NULL;
    req->n = 0;
}
