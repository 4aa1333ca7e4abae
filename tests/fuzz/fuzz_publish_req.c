/* SPDX-License-Identifier: MIT
 * fuzz_publish_req.c: libFuzzer harness for relay/src/codec/publish_req.c,
 * the body of POST /publish. The input is a body as a client would send it
 * (the first byte also picks the message limit). The parser's verdict must
 * equal a reference verdict written here from PROTOCOL.md 3.2 over jansson's
 * own reading of the input; an accepted body must describe exactly what the
 * input says (channels, event, retry, transport, and data: the string, or a
 * compact JSON text that reads back as the same value and is its own dump);
 * a refused one leaves the request empty with a one-line reason. Any
 * violation aborts. */
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/frame.h"
#include "codec/publish_req.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_publish_req: %s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the reference ---------------------------------------------------------- */

/* A member by walking the object (not json_object_get). */
static json_t *member(json_t *o, const char *name)
{
    const char *k;
    size_t kl;
    json_t *v;
    json_object_keylen_foreach(o, k, kl, v)
    {
        if (kl == strlen(name) && memcmp(k, name, kl) == 0)
            return v;
    }
    return NULL;
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("_.:@=/,;-", c));
}

static int ref_name(json_t *s)
{
    if (!json_is_string(s))
        return 0;
    size_t n = json_string_length(s);
    const char *p = json_string_value(s);
    if (n < 1 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)p[i]))
            return 0;
    return 1;
}

static int ref_target(json_t *t)
{
    if (t == NULL || json_is_null(t))
        return HR_TARGET_ALL;
    if (!json_is_string(t))
        return 0;
    const char *s = json_string_value(t);
    if (json_string_length(t) != strlen(s))
        return 0;
    return strcmp(s, "sse") == 0   ? HR_TARGET_SSE
           : strcmp(s, "ws") == 0  ? HR_TARGET_WS
           : strcmp(s, "all") == 0 ? HR_TARGET_ALL
                                   : 0;
}

static int ref_message(json_t *m)
{
    if (!json_is_object(m))
        return 0;
    json_t *ch = member(m, "channel"), *ev = member(m, "event"), *rt = member(m, "retry");
    if (ch == NULL || member(m, "data") == NULL || ref_target(member(m, "transport")) == 0)
        return 0;
    if (json_is_array(ch)) {
        size_t n = json_array_size(ch);
        if (n < 1 || n > 100)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (!ref_name(json_array_get(ch, i)))
                return 0;
    } else if (!ref_name(ch)) {
        return 0;
    }
    if (ev != NULL && !json_is_null(ev)) {
        if (!json_is_string(ev) || json_string_length(ev) > 200)
            return 0;
        const char *p = json_string_value(ev);
        for (size_t i = 0; i < json_string_length(ev); i++)
            if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
                return 0;
    }
    if (rt != NULL && !json_is_null(rt) &&
        (!json_is_integer(rt) || json_integer_value(rt) <= 0 || json_integer_value(rt) > 86400000))
        return 0;
    return 1;
}

/* The messages of an acceptable body, or NULL (with *n 0). */
static json_t *ref_messages(json_t *root, size_t max, size_t *n)
{
    static const char *const single[] = {"channel", "data", "event", "retry", "transport"};
    *n = 0;
    if (!json_is_object(root))
        return NULL;
    json_t *list = member(root, "messages");
    if (list == NULL) {
        if (max < 1 || !ref_message(root))
            return NULL;
        *n = 1;
        return root;
    }
    for (size_t i = 0; i < 5; i++)
        if (member(root, single[i]))
            return NULL;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > max)
        return NULL;
    for (size_t i = 0; i < json_array_size(list); i++)
        if (!ref_message(json_array_get(list, i)))
            return NULL;
    *n = json_array_size(list);
    return list;
}

/* ---- the dump ---------------------------------------------------------------- */

/* dump(v) reads back as v and is its own dump. */
static void check_dump(json_t *v, const char *text, size_t len)
{
    json_t *back = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(back != NULL);
    CHECK(json_equal(v, back));
    size_t n = hr_publish_req_dump(back, NULL);
    CHECK(n == len);
    char *again = malloc(n + 1);
    CHECK(hr_publish_req_dump(back, again) == n);
    CHECK(memcmp(again, text, n) == 0);
    free(again);
    json_decref(back);
    CHECK(hr_utf8_valid((const uint8_t *)text, len));
}

static int slice_is_string(hr_slice_t s, json_t *str)
{
    return s.len == json_string_length(str) && memcmp(s.p, json_string_value(str), s.len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max = size ? 1 + data[0] % 8 : 1;
    const char *body = (const char *)data;
    char err[128];
    hr_publish_req_t req;

    memset(err, 'x', sizeof err);
    int rc = hr_publish_req_parse(body, size, max, &req, err, sizeof err);
    CHECK(rc == 0 || rc == HR_PUBLISH_REQ_INVALID || rc == HR_PUBLISH_REQ_TOO_MANY);

    json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    size_t n = 0;
    json_t *list = root ? ref_messages(root, max, &n) : NULL;
    /* Sizes past the SSE limit need gigabytes: not reachable here. */
    CHECK((rc == 0) == (list != NULL));
    /* Too many: a well-formed "messages" array (no single-message keys
     * beside it) longer than the limit, whatever its messages are. */
    size_t big = 0;
    if (root && ref_messages(root, SIZE_MAX, &big) == NULL) {
        json_t *l = json_is_object(root) ? member(root, "messages") : NULL;
        int clean = l && json_is_array(l);
        static const char *const single[] = {"channel", "data", "event", "retry", "transport"};
        for (size_t i = 0; clean && i < 5; i++)
            clean = member(root, single[i]) == NULL;
        big = clean && json_array_size(l) > max ? 1 : 0;
    } else {
        big = big > max;
    }
    CHECK((rc == HR_PUBLISH_REQ_TOO_MANY) == (big != 0));
    if (rc != 0) {
        CHECK(req.n == 0 && req.msgs == NULL);
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        CHECK(strchr(err, '\n') == NULL && strlen(err) > 0);
    } else {
        CHECK(req.n == n && n >= 1 && n <= max);
        for (size_t i = 0; i < n; i++) {
            json_t *m = list == root ? root : json_array_get(list, i);
            const hr_publish_msg_t *pm = &req.msgs[i];
            json_t *ch = member(m, "channel"), *d = member(m, "data");
            json_t *ev = member(m, "event"), *rt = member(m, "retry");
            CHECK(pm->target == ref_target(member(m, "transport")));
            size_t nch = json_is_array(ch) ? json_array_size(ch) : 1;
            CHECK(pm->nchannels == nch);
            for (size_t j = 0; j < nch; j++) {
                CHECK(hr_chan_name_valid(pm->channels[j].p, pm->channels[j].len));
                CHECK(slice_is_string(pm->channels[j],
                                      json_is_array(ch) ? json_array_get(ch, j) : ch));
            }
            if (json_is_string(ev))
                CHECK(slice_is_string(pm->event, ev));
            else
                CHECK(pm->event.len == 0);
            CHECK(pm->retry == (json_is_integer(rt) ? (long)json_integer_value(rt) : 0));
            CHECK(pm->json == !json_is_string(d));
            if (json_is_string(d))
                CHECK(slice_is_string(pm->data, d));
            else
                check_dump(d, pm->data.p, pm->data.len);
        }
        hr_publish_req_free(&req);
    }
    /* Any document jansson reads, dumped. */
    json_t *any = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (any) {
        size_t len = hr_publish_req_dump(any, NULL);
        char *text = malloc(len + 1);
        CHECK(hr_publish_req_dump(any, text) == len);
        check_dump(any, text, len);
        free(text);
        json_decref(any);
    }
    json_decref(root);
    return 0;
}
