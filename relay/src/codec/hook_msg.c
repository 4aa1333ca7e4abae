/* SPDX-License-Identifier: MIT
 * hook_msg.c: hook request bodies, their signature, and the answers (see
 * hook_msg.h). The body is written by hand, measured first and then written
 * into one buffer, because a message's data is JSON text the relay already
 * checked and copies as is (jansson would parse it again); the answer comes
 * from the application and is read with jansson. */
#include "codec/hook_msg.h"
#include "codec/json_str.h"

#include "base/utf8.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the request body ---- */

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

/* A JSON string of s (codec/json_str.h). */
static void put_string(out_t *o, hr_slice_t s)
{
    o->n += hr_json_str(o->p ? o->p + o->n : NULL, s.p, s.len);
}

static void put_base64(out_t *o, hr_slice_t s)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *p = (const uint8_t *)s.p;
    PUT_LIT(o, "\"");
    size_t i = 0;
    for (; i + 3 <= s.len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], b64[(v >> 6) & 63], b64[v & 63]};
        put(o, q, 4);
    }
    if (i < s.len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < s.len ? (uint32_t)p[i + 1] << 8 : 0);
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < s.len ? b64[(v >> 6) & 63] : '=',
                     '='};
        put(o, q, 4);
    }
    PUT_LIT(o, "\"");
}

static void put_u64(out_t *o, uint64_t v)
{
    char d[24];
    int n = snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    put(o, d, (size_t)n);
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

const char *hr_hook_type_name(int type)
{
    static const char *const names[] = {"connect", "subscribe", "message", "disconnect"};
    return type >= 0 && (size_t)type < HR_ARRAY_SIZE(names) ? names[type] : NULL;
}

static void put_event(out_t *o, const hr_hook_event_t *e)
{
    const char *type = hr_hook_type_name(e->type);
    PUT_LIT(o, "{\"id\":");
    put_u64(o, e->id);
    put_key(o, "type");
    put_string(o, (hr_slice_t){type ? type : "", type ? strlen(type) : 0});
    put_key(o, "conn");
    put_string(o, (hr_slice_t){e->conn.p ? e->conn.p : "", e->conn.len});
    put_key(o, "user");
    if (e->user.p)
        put_string(o, e->user);
    else
        PUT_LIT(o, "null");
    put_member(o, "channel", e->channel);
    switch (e->data_mode) {
    case HR_HOOK_DATA_JSON:
        put_key(o, "data");
        if (e->data.p && e->data.len)
            put(o, e->data.p, e->data.len);
        else
            PUT_LIT(o, "null");
        break;
    case HR_HOOK_DATA_STRING:
        put_member(o, "data", (hr_slice_t){e->data.p ? e->data.p : "", e->data.len});
        break;
    case HR_HOOK_DATA_BASE64:
        put_key(o, "data");
        put_base64(o, e->data);
        PUT_LIT(o, ",\"binary\":true");
        break;
    default:
        break;
    }
    if (e->headers || e->type == HR_HOOK_CONNECT) {
        put_key(o, "headers");
        PUT_LIT(o, "{");
        for (size_t i = 0; i < e->nheaders; i++) {
            if (i)
                PUT_LIT(o, ",");
            put_string(o, (hr_slice_t){e->headers[i].name.p ? e->headers[i].name.p : "",
                                       e->headers[i].name.len});
            PUT_LIT(o, ":");
            put_string(o, (hr_slice_t){e->headers[i].value.p ? e->headers[i].value.p : "",
                                       e->headers[i].value.len});
        }
        PUT_LIT(o, "}");
    }
    put_member(o, "transport", e->transport);
    put_member(o, "ip", e->ip);
    PUT_LIT(o, "}");
}

static void put_body(out_t *o, const hr_hook_event_t *ev, size_t n)
{
    PUT_LIT(o, "{\"v\":1,\"events\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            PUT_LIT(o, ",");
        put_event(o, &ev[i]);
    }
    PUT_LIT(o, "]}");
}

hr_buf_t *hr_hook_body(const hr_hook_event_t *ev, size_t n)
{
    out_t m = {NULL, 0};
    put_body(&m, ev, n);
    if (m.n > UINT32_MAX)
        return NULL;
    hr_buf_t *b = hr_buf_new(m.n);
    out_t w = {b->data, 0};
    put_body(&w, ev, n);
    if (w.n != m.n)
        abort(); /* the measure and the writer disagree: a bug here */
    return b;
}

/* ---- the answer ---- */

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, arg);
    return -1;
}

/* An optional string member: 1 (set or absent) or 0 (of another type). */
static int opt_string(json_t *o, const char *key, hr_slice_t *s)
{
    json_t *v = json_object_get(o, key);
    *s = (hr_slice_t){NULL, 0};
    if (v == NULL || json_is_null(v))
        return 1;
    if (!json_is_string(v))
        return 0;
    *s = (hr_slice_t){json_string_value(v), json_string_length(v)};
    return 1;
}

/* Reads result o into *r (info and reply not yet: their texts come later).
 * 0 when o is not a valid result. */
static int read_result(json_t *o, hr_hook_result_t *r)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(o))
        return 0;
    json_t *id = json_object_get(o, "id"), *ok = json_object_get(o, "ok");
    json_t *close = json_object_get(o, "close");
    if (!json_is_integer(id) || json_integer_value(id) < 0 || !json_is_boolean(ok))
        return 0;
    if (close && !json_is_null(close) && !json_is_boolean(close))
        return 0;
    r->id = (uint64_t)json_integer_value(id);
    r->ok = json_is_true(ok);
    r->close = json_is_true(close);
    return opt_string(o, "user", &r->user) && opt_string(o, "error", &r->error);
}

static json_t *opt_json(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

int hr_hook_results_parse(const uint8_t *body, size_t len, hr_hook_results_t *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb((const char *)body, len, 0, &je);
    if (root == NULL)
        return fail(err, errlen, "answer not JSON: %s", je.text);
    json_t *results = json_is_object(root) ? json_object_get(root, "results") : NULL;
    if (!json_is_array(results)) {
        const char *why =
            json_is_object(root) ? "answer without a results array" : "answer not a JSON object";
        json_decref(root);
        return fail(err, errlen, "%s", why);
    }
    size_t n = json_array_size(results), text = 0;
    out->r = hr_xcalloc(n ? n : 1, sizeof *out->r);
    out->root = root;
    /* First pass: the results, and the room their info and reply texts take. */
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(results, i);
        hr_hook_result_t *r = &out->r[out->n];
        if (!read_result(o, r)) {
            out->skipped++;
            continue;
        }
        json_t *info = opt_json(o, "info"), *reply = opt_json(o, "reply");
        if (info)
            text += json_dumpb(info, NULL, 0, DUMP_FLAGS);
        if (reply)
            text += json_dumpb(reply, NULL, 0, DUMP_FLAGS);
        out->n++;
    }
    /* Second pass: the texts, one allocation. */
    out->text = hr_xmalloc(text ? text : 1);
    size_t at = 0, k = 0;
    for (size_t i = 0; i < n && k < out->n; i++) {
        json_t *o = json_array_get(results, i);
        hr_hook_result_t tmp;
        if (!read_result(o, &tmp))
            continue;
        hr_hook_result_t *r = &out->r[k++];
        json_t *info = opt_json(o, "info"), *reply = opt_json(o, "reply");
        if (info) {
            size_t m = json_dumpb(info, out->text + at, text - at, DUMP_FLAGS);
            r->info = (hr_slice_t){out->text + at, m};
            at += m;
        }
        if (reply) {
            size_t m = json_dumpb(reply, out->text + at, text - at, DUMP_FLAGS);
            r->reply = (hr_slice_t){out->text + at, m};
            at += m;
        }
    }
    return 0;
}

void hr_hook_results_free(hr_hook_results_t *r)
{
    free(r->r);
    free(r->text);
    if (r->root)
        json_decref(r->root);
    memset(r, 0, sizeof *r);
}

/* ---- the signature ---- */

void hr_hook_sign(const uint8_t *key, size_t keylen, const uint8_t *body, size_t len, char out[72])
{
    static const uint8_t empty[1];
    static const char hex[] = "0123456789abcdef";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen, len ? body : empty, len, md,
             &mdlen) == NULL ||
        mdlen != 32)
        abort(); /* only on OOM inside OpenSSL */
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < 32; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[HR_HOOK_SIG_LEN] = '\0';
}
