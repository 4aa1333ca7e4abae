/* SPDX-License-Identifier: MIT
 * fuzz_envelope.c: libFuzzer harness for relay/src/codec/envelope.c, the
 * herald.v1 envelopes. The first input byte picks text or binary layout;
 * the rest is a client message. Checks:
 *  1. the parser's verdict agrees with a reference read of the input by
 *     jansson (not an object -> not_json / binary_layout; an object ->
 *     never those), and an accepted envelope holds only what 2.8 allows: a
 *     known type, a valid channel name where one is needed, a since in id
 *     form, a ref that reads back as a string or an integer of at most 64
 *     bytes of JSON, a payload inside the input;
 *  2. the writer: an envelope built from the input's bytes (as channel,
 *     event, data string, and data as JSON when the input is JSON) measures
 *     what it writes, is valid JSON, and gives the input's string back when
 *     that was UTF-8.
 * Any violation aborts. */
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/envelope.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_envelope: %s:%d: check failed: %s\n", __FILE__, __LINE__,        \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static json_t *load(const uint8_t *p, size_t n)
{
    json_error_t err;
    json_t *o =
        n ? json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err) : NULL;
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static void check_parse(const uint8_t *data, size_t size, int binary)
{
    hr_envelope_t e;
    int st = hr_envelope_parse(data, size, binary, &e);
    CHECK(st >= 0 && st < HR_ENV_STATUS_COUNT);
    CHECK(hr_env_strerror(st) != NULL && hr_env_reason(st) != NULL);
    const uint8_t *json = data;
    size_t jlen = size;
    if (binary) {
        if (size < 4) {
            CHECK(st == HR_ENV_BINARY_SHORT);
            goto out;
        }
        size_t n = (size_t)data[0] << 24 | (size_t)data[1] << 16 | (size_t)data[2] << 8 | data[3];
        if (n > size - 4) {
            CHECK(st == HR_ENV_BINARY_LENGTH);
            goto out;
        }
        json = data + 4;
        jlen = n;
    }
    json_t *ref = load(json, jlen);
    if (ref == NULL)
        CHECK(st == (binary ? HR_ENV_BINARY_ENVELOPE : HR_ENV_NOT_JSON));
    else
        CHECK(st != HR_ENV_NOT_JSON && st != HR_ENV_BINARY_ENVELOPE && st != HR_ENV_BINARY_SHORT &&
              st != HR_ENV_BINARY_LENGTH);
    json_decref(ref);
    if (e.ref_len) {
        CHECK(e.ref_len <= HR_ENV_REF_MAX && strlen(e.ref) == e.ref_len);
        json_error_t err;
        json_t *r = json_loadb(e.ref, e.ref_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        CHECK(r != NULL && (json_is_string(r) || json_is_integer(r)));
        json_decref(r);
    }
    if (st == HR_ENV_OK) {
        CHECK(e.type >= HR_ENV_SUBSCRIBE && e.type <= HR_ENV_PING);
        if (e.type == HR_ENV_SUBSCRIBE || e.type == HR_ENV_UNSUBSCRIBE || e.type == HR_ENV_PRESENCE)
            CHECK(e.channel.p && hr_chan_name_valid(e.channel.p, e.channel.len));
        if (e.type == HR_ENV_SEND)
            CHECK(e.has_data &&
                  (e.channel.p == NULL || hr_chan_name_valid(e.channel.p, e.channel.len)));
        if (e.since.p)
            CHECK(e.type == HR_ENV_SUBSCRIBE && hr_env_id_form(e.since));
        if (binary)
            CHECK((const uint8_t *)e.payload.p == json + jlen && e.payload.len == size - 4 - jlen);
    }
out:
    hr_envelope_free(&e);
}

static void check_write(const uint8_t *data, size_t size)
{
    hr_slice_t s = {(const char *)data, size};
    json_error_t err;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);
    for (int mode = HR_ENV_DATA_NONE; mode <= HR_ENV_DATA_JSON; mode++) {
        if (mode == HR_ENV_DATA_JSON && v == NULL)
            continue;
        hr_env_out_t o = {.type = "message",
                          .channel = s,
                          .id = {"1-2", 3},
                          .event = s,
                          .data = s,
                          .data_mode = mode,
                          .ref = {"\"r\"", 3}};
        size_t n = hr_env_write(NULL, &o);
        char *out = malloc(n ? n : 1);
        CHECK(hr_env_write(out, &o) == n);
        json_t *back = json_loadb(out, n, JSON_ALLOW_NUL, &err);
        CHECK(back != NULL && json_is_object(back));
        CHECK(strcmp(json_string_value(json_object_get(back, "ref")), "r") == 0);
        json_t *ch = json_object_get(back, "channel");
        CHECK(json_is_string(ch));
        if (hr_utf8_valid(data, size))
            CHECK(json_string_length(ch) == size && memcmp(json_string_value(ch), data, size) == 0);
        if (mode == HR_ENV_DATA_JSON)
            CHECK(json_equal(json_object_get(back, "data"), v));
        json_decref(back);
        free(out);
    }
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int binary = data[0] & 1;
    check_parse(data + 1, size - 1, binary);
    if (!binary)
        check_write(data + 1, size - 1);
    return 0;
}
