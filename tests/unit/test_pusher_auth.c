/* SPDX-License-Identifier: MIT
 * test_pusher_auth.c: the channel auth of codec/pusher_auth.c against the
 * worked examples of Pusher's documentation (authorizing channels). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "codec/pusher_auth.h"

#define KEY    "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"
#define S(x)   x, strlen(x)

static void test_private(void **state)
{
    const char *auth = KEY ":58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
    assert_true(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("private-foobar"), NULL, 0,
                                          S(auth)));
    /* another socket, channel, key, or a changed digit: refused */
    assert_false(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1235"), S("private-foobar"), NULL,
                                           0, S(auth)));
    assert_false(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("private-foobaz"), NULL,
                                           0, S(auth)));
    assert_false(hr_pusher_channel_auth_ok("278d425bdf160c739804", SECRET, S("1234.1234"),
                                           S("private-foobar"), NULL, 0, S(auth)));
    char bad[128];
    strcpy(bad, auth);
    bad[strlen(bad) - 1] = '5';
    assert_false(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("private-foobar"), NULL,
                                           0, S(bad)));
    assert_false(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("private-foobar"), NULL,
                                           0, S(KEY ":")));
    assert_false(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("private-foobar"), NULL,
                                           0, S("")));
}

static void test_presence(void **state)
{
    const char *data = "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Channels\"}}";
    const char *auth = KEY ":31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80";
    char want[HR_PUSHER_HEX_LEN + 1];
    char msg[256];
    snprintf(msg, sizeof msg, "1234.1234:presence-foobar:%s", data);
    hr_pusher_hmac_hex(S(SECRET), msg, strlen(msg), want);
    assert_string_equal(want, auth + strlen(KEY) + 1);
    assert_true(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("presence-foobar"),
                                          S(data), S(auth)));
    assert_false(hr_pusher_channel_auth_ok(KEY, SECRET, S("1234.1234"), S("presence-foobar"), NULL,
                                           0, S(auth)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private),
        cmocka_unit_test(test_presence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
