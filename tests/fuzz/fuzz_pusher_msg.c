/* SPDX-License-Identifier: MIT
 * fuzz_pusher_msg.c: libFuzzer harness for relay/src/codec/pusher_msg.c,
 * the Pusher protocol's messages. Checks:
 *  1. the parser's verdict agrees with a reference read of the input by
 *     jansson (not an object -> not_json; an object -> never that), and an
 *     accepted message holds only what PROTOCOL.md 4 allows: a known type,
 *     a valid channel name where one is needed, a client event's data that
 *     is one JSON value, a status with a text and a label;
 *  2. channel_data: the input read as one either gives a user of 1-200
 *     bytes and an info that is JSON, or a reason;
 *  3. the writer: a message built from the input's bytes measures what it
 *     writes and is valid JSON whose data reads back as the input when that
 *     was UTF-8; base64 measures what it writes.
 * Any violation aborts. */
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/pusher_msg.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_pusher_msg: %s:%d: check failed: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_parse(const uint8_t *data, size_t size)
{
    hr_pusher_msg_t m;
    int st = hr_pusher_msg_parse(data, size, &m);
    json_t *ref = size ? json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL) : NULL;
    int is_obj = json_is_object(ref);
    json_decref(ref);
    CHECK((st == HR_PMSG_NOT_JSON) == !is_obj);
    CHECK(st >= 0 && st < HR_PMSG_STATUS_COUNT);
    CHECK(hr_pusher_msg_strerror(st) != NULL && hr_pusher_msg_reason(st) != NULL);
    if (st == HR_PMSG_OK) {
        CHECK(m.type >= HR_PMSG_PING && m.type <= HR_PMSG_CLIENT);
        CHECK(m.event.p != NULL);
        if (m.type == HR_PMSG_SUBSCRIBE || m.type == HR_PMSG_UNSUBSCRIBE ||
            m.type == HR_PMSG_CLIENT)
            CHECK(hr_chan_name_valid(m.channel.p, m.channel.len));
        if (m.type == HR_PMSG_CLIENT) {
            CHECK(m.event.len >= 7 && memcmp(m.event.p, "client-", 7) == 0);
            CHECK(m.event.len <= HR_PUSHER_EVENT_MAX);
            CHECK(m.data != NULL && strlen(m.data) == m.data_len);
            json_t *d = json_loadb(m.data, m.data_len, JSON_DECODE_ANY, NULL);
            CHECK(d != NULL);
            json_decref(d);
        }
    }
    hr_pusher_msg_free(&m);
}

static void check_channel_data(const uint8_t *data, size_t size)
{
    char user[HR_PUSHER_USER_MAX + 1];
    size_t ul, il;
    char *info;
    const char *why = NULL;
    if (hr_pusher_channel_data((const char *)data, size, user, &ul, &info, &il, &why) == 0) {
        CHECK(ul >= 1 && ul <= HR_PUSHER_USER_MAX && strlen(user) == ul);
        if (info) {
            CHECK(strlen(info) == il);
            json_t *i = json_loadb(info, il, JSON_DECODE_ANY, NULL);
            CHECK(i != NULL);
            json_decref(i);
        }
        free(info);
    } else {
        CHECK(why != NULL && info == NULL);
    }
}

static void check_write(const uint8_t *data, size_t size)
{
    hr_slice_t s = {(const char *)data, size};
    hr_pusher_out_t o = {.event = s, .channel = s, .data = s, .user_id = s};
    size_t n = hr_pusher_write(NULL, &o);
    char *out = malloc(n + 1);
    CHECK(hr_pusher_write(out, &o) == n);
    json_t *j = json_loadb(out, n, JSON_ALLOW_NUL, NULL);
    CHECK(json_is_object(j));
    json_t *d = json_object_get(j, "data");
    CHECK(json_is_string(d));
    if (hr_utf8_valid(data, size))
        CHECK(json_string_length(d) == size && memcmp(json_string_value(d), data, size) == 0);
    json_decref(j);
    free(out);
    size_t b = hr_pusher_base64(NULL, NULL, size);
    char *b64 = malloc(b + 1);
    CHECK(hr_pusher_base64(b64, data, size) == b && b % 4 == 0);
    free(b64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_channel_data(data, size);
    check_write(data, size);
    return 0;
}
