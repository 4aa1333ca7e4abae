/* SPDX-License-Identifier: MIT
 * fuzz_hook_msg.c: libFuzzer harness for relay/src/codec/hook_msg.c. The
 * first input byte picks the check:
 *  even: the rest is an application's answer. hr_hook_results_parse agrees
 *     with jansson on whether it is {"results":[...]}; every result kept is
 *     of that array with an unsigned id and a boolean ok, kept + skipped is
 *     the array's size, user and error are the strings given, info and
 *     reply read back as the JSON values given;
 *  odd: the rest describes up to 4 events (each field's length and bytes
 *     taken from the input). The body hr_hook_body writes must parse with
 *     jansson, hold the events in order with their ids and types, each
 *     string as given when it was UTF-8, JSON data as given, and binary data
 *     as OpenSSL's base64 of it.
 * Any violation aborts. */
#include "base/utf8.h"
#include "codec/hook_msg.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_hook_msg: %s:%d: check failed: %s\n", __FILE__, __LINE__,        \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int slice_is_string(hr_slice_t s, json_t *v)
{
    return json_is_string(v) && json_string_length(v) == s.len &&
           memcmp(json_string_value(v), s.p, s.len) == 0;
}

static int absent_or(json_t *o, const char *key, json_type type)
{
    json_t *v = json_object_get(o, key);
    return v == NULL || json_is_null(v) || json_typeof(v) == type;
}

/* The rules of a result, read independently. */
static int valid(json_t *e)
{
    json_t *id = json_object_get(e, "id"), *ok = json_object_get(e, "ok");
    json_t *close = json_object_get(e, "close");
    return json_is_object(e) && json_is_integer(id) && json_integer_value(id) >= 0 &&
           json_is_boolean(ok) && absent_or(e, "user", JSON_STRING) &&
           absent_or(e, "error", JSON_STRING) &&
           (close == NULL || json_is_null(close) || json_is_boolean(close));
}

static void check_results(const uint8_t *p, size_t n)
{
    hr_hook_results_t r;
    char err[128];
    int st = hr_hook_results_parse(p, n, &r, err, sizeof err);
    json_error_t je;
    json_t *ref = json_loadb((const char *)p, n, 0, &je);
    json_t *arr = json_is_object(ref) ? json_object_get(ref, "results") : NULL;
    CHECK((st == 0) == (json_is_array(arr) != 0));
    if (st != 0) {
        CHECK(err[0] != '\0' && r.n == 0 && r.r == NULL);
        json_decref(ref);
        return;
    }
    CHECK(r.n + r.skipped == json_array_size(arr));
    size_t k = 0;
    for (size_t i = 0; i < r.n; i++) {
        const hr_hook_result_t *x = &r.r[i];
        /* The next element of the array with this id and ok. */
        json_t *o = NULL;
        for (; k < json_array_size(arr); k++) {
            json_t *e = json_array_get(arr, k);
            json_t *id = json_object_get(e, "id"), *ok = json_object_get(e, "ok");
            if (valid(e)) {
                CHECK(json_is_integer(id) && (uint64_t)json_integer_value(id) == x->id);
                CHECK(json_is_boolean(ok) && json_is_true(ok) == x->ok);
                o = e;
                k++;
                break;
            }
        }
        CHECK(o != NULL);
        json_t *u = json_object_get(o, "user"), *e = json_object_get(o, "error");
        CHECK(x->user.p ? slice_is_string(x->user, u) : (u == NULL || json_is_null(u)));
        CHECK(x->error.p ? slice_is_string(x->error, e) : (e == NULL || json_is_null(e)));
        CHECK(x->close == json_is_true(json_object_get(o, "close")));
        const char *keys[2] = {"info", "reply"};
        hr_slice_t vals[2] = {x->info, x->reply};
        for (int j = 0; j < 2; j++) {
            json_t *v = json_object_get(o, keys[j]);
            if (vals[j].p == NULL) {
                CHECK(v == NULL || json_is_null(v));
                continue;
            }
            json_t *back = json_loadb(vals[j].p, vals[j].len, JSON_DECODE_ANY, &je);
            CHECK(back != NULL && json_equal(back, v));
            json_decref(back);
        }
    }
    for (; k < json_array_size(arr); k++)
        CHECK(!valid(json_array_get(arr, k)));
    hr_hook_results_free(&r);
    json_decref(ref);
}

/* ---- events ---- */

typedef struct in {
    const uint8_t *p;
    size_t n, at;
} in_t;

static uint8_t byte(in_t *in)
{
    return in->at < in->n ? in->p[in->at++] : 0;
}

/* A slice of the next byte's length (255: absent). */
static hr_slice_t slice(in_t *in)
{
    uint8_t l = byte(in);
    if (l == 255)
        return (hr_slice_t){NULL, 0};
    size_t len = l & 63;
    if (len > in->n - in->at)
        len = in->n - in->at;
    hr_slice_t s = {(const char *)in->p + in->at, len};
    in->at += len;
    return s;
}

static void check_string(json_t *v, hr_slice_t s)
{
    CHECK(json_is_string(v));
    if (hr_utf8_valid((const uint8_t *)s.p, s.len))
        CHECK(json_string_length(v) == s.len && memcmp(json_string_value(v), s.p, s.len) == 0);
}

static void check_member(json_t *o, const char *key, hr_slice_t s)
{
    json_t *v = json_object_get(o, key);
    if (s.p == NULL)
        CHECK(v == NULL);
    else
        check_string(v, s);
}

static void check_body(const uint8_t *p, size_t n)
{
    in_t in = {p, n, 0};
    hr_hook_event_t ev[4];
    hr_hook_header_t hd[4][3];
    json_t *data_ref[4] = {0};
    size_t nev = byte(&in) % 5;
    for (size_t i = 0; i < nev; i++) {
        hr_hook_event_t *e = &ev[i];
        memset(e, 0, sizeof *e);
        uint8_t b = byte(&in);
        e->id = (uint64_t)byte(&in) << 55 | (uint64_t)byte(&in) << 8 | byte(&in); /* < 2^63 */
        e->type = b & 3;
        e->data_mode = (b >> 2) & 3;
        e->conn = slice(&in);
        e->user = slice(&in);
        e->channel = slice(&in);
        e->data = slice(&in);
        e->transport = slice(&in);
        e->ip = slice(&in);
        if (e->data_mode == HR_HOOK_DATA_JSON) {
            json_error_t je;
            data_ref[i] = e->data.len ? json_loadb(e->data.p, e->data.len, JSON_DECODE_ANY, &je)
                                      : json_null();
            if (data_ref[i] == NULL)
                e->data_mode = HR_HOOK_DATA_STRING; /* the caller only passes JSON it checked */
        }
        e->nheaders = (b >> 4) % 4;
        for (size_t h = 0; h < e->nheaders; h++) {
            hd[i][h].name = slice(&in);
            /* Valid JSON, but jansson reads no NUL in a key (and header names
             * are HTTP tokens): the name ends at its first NUL. */
            const char *z = hd[i][h].name.p ? memchr(hd[i][h].name.p, 0, hd[i][h].name.len) : NULL;
            if (z)
                hd[i][h].name.len = (size_t)(z - hd[i][h].name.p);
            hd[i][h].value = slice(&in);
        }
        e->headers = e->nheaders ? hd[i] : NULL;
    }
    hr_buf_t *body = hr_hook_body(ev, nev);
    CHECK(body != NULL);
    json_error_t je;
    json_t *root = json_loadb(body->data, body->len, JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        fprintf(stderr, "%s: %.*s\n", je.text, (int)body->len, body->data);
        CHECK(root != NULL);
    }
    CHECK(json_integer_value(json_object_get(root, "v")) == 1);
    json_t *events = json_object_get(root, "events");
    CHECK(json_array_size(events) == nev);
    for (size_t i = 0; i < nev; i++) {
        const hr_hook_event_t *e = &ev[i];
        json_t *o = json_array_get(events, i);
        CHECK((uint64_t)json_integer_value(json_object_get(o, "id")) == e->id);
        CHECK(strcmp(json_string_value(json_object_get(o, "type")), hr_hook_type_name(e->type)) ==
              0);
        check_string(json_object_get(o, "conn"),
                     (hr_slice_t){e->conn.p ? e->conn.p : "", e->conn.len});
        if (e->user.p)
            check_string(json_object_get(o, "user"), e->user);
        else
            CHECK(json_is_null(json_object_get(o, "user")));
        check_member(o, "channel", e->channel);
        check_member(o, "transport", e->transport);
        check_member(o, "ip", e->ip);
        json_t *d = json_object_get(o, "data");
        switch (e->data_mode) {
        case HR_HOOK_DATA_NONE:
            CHECK(d == NULL);
            break;
        case HR_HOOK_DATA_JSON:
            CHECK(json_equal(d, data_ref[i]));
            break;
        case HR_HOOK_DATA_STRING:
            check_string(d, (hr_slice_t){e->data.p ? e->data.p : "", e->data.len});
            break;
        case HR_HOOK_DATA_BASE64: {
            unsigned char b64[4 * 64 / 3 + 8];
            int bl = EVP_EncodeBlock(b64, (const unsigned char *)(e->data.p ? e->data.p : ""),
                                     (int)e->data.len);
            CHECK(json_is_string(d) && json_string_length(d) == (size_t)bl &&
                  memcmp(json_string_value(d), b64, (size_t)bl) == 0);
            CHECK(json_is_true(json_object_get(o, "binary")));
            break;
        }
        }
        json_t *h = json_object_get(o, "headers");
        if (e->type == HR_HOOK_CONNECT || e->headers)
            CHECK(json_is_object(h) && json_object_size(h) <= e->nheaders);
        else
            CHECK(h == NULL);
        json_decref(data_ref[i]);
    }
    json_decref(root);
    hr_buf_unref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        check_body(data + 1, size - 1);
    else
        check_results(data + 1, size - 1);
    return 0;
}
