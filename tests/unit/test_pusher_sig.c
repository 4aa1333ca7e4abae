/* SPDX-License-Identifier: MIT
 * test_pusher_sig.c: the HTTP API signature of codec/pusher_sig.c against
 * the worked example of Pusher's documentation (HTTP API reference,
 * "Worked authentication example"), and the refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "codec/pusher_sig.h"

#define KEY    "278d425bdf160c739803"
#define SECRET "7ad3773142a6692b25b8"
#define TS     1353088179
#define BODY                                                                                       \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"
#define MD5   "ec365a775a4cd0599faeb73354201b6f"
#define SIG   "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
#define SL(x) ((hr_slice_t){x, strlen(x)})

static int check(const char *query, const char *method, const char *path, int64_t now)
{
    hr_pusher_query_t q;
    char err[600];
    if (hr_pusher_query_parse(query, strlen(query), &q, err, sizeof err) != 0)
        return -1;
    return hr_pusher_sig_check(&q, SL(method), SL(path), KEY, SECRET, now, 600, err, sizeof err);
}

static void test_md5(void **state)
{
    char out[33];
    hr_pusher_md5_hex(BODY, strlen(BODY), out);
    assert_string_equal(out, MD5);
    hr_pusher_md5_hex("", 0, out);
    assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_worked_example(void **state)
{
    const char *q = "auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" MD5
                    "&auth_signature=" SIG;
    hr_pusher_query_t pq;
    char err[600], str[300];
    assert_int_equal(hr_pusher_query_parse(q, strlen(q), &pq, err, sizeof err), 0);
    hr_pusher_sig_string(SL("POST"), SL("/apps/3/events"), &pq, str, sizeof str);
    assert_string_equal(str, "POST\n/apps/3/events\nauth_key=" KEY
                             "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" MD5);
    assert_int_equal(check(q, "POST", "/apps/3/events", TS), HR_PSIG_OK);
    assert_int_equal(hr_pusher_sig_body(&pq, BODY, strlen(BODY), err, sizeof err), HR_PSIG_OK);
    /* the window: both sides */
    assert_int_equal(check(q, "POST", "/apps/3/events", TS + 600), HR_PSIG_OK);
    assert_int_equal(check(q, "POST", "/apps/3/events", TS + 601), HR_PSIG_EXPIRED);
    assert_int_equal(check(q, "POST", "/apps/3/events", TS - 601), HR_PSIG_EXPIRED);
    /* another path, method, body */
    assert_int_equal(check(q, "POST", "/apps/4/events", TS), HR_PSIG_BAD_SIGNATURE);
    assert_int_equal(check(q, "GET", "/apps/3/events", TS), HR_PSIG_BAD_SIGNATURE);
    assert_int_equal(hr_pusher_sig_body(&pq, "{}", 2, err, sizeof err), HR_PSIG_BAD_MD5);
}

static void test_order_and_case(void **state)
{
    /* Any order on the wire, keys in any case, escapes: the same string. */
    const char *q = "body_md5=" MD5 "&AUTH_VERSION=1.0&auth_signature=" SIG
                    "&auth_timestamp=1353088179&auth_%6Bey=" KEY;
    assert_int_equal(check(q, "POST", "/apps/3/events", TS), HR_PSIG_OK);
    /* an extra parameter is signed too */
    const char *extra = "auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" MD5
                        "&auth_signature=" SIG "&info=user_count";
    assert_int_equal(check(extra, "POST", "/apps/3/events", TS), HR_PSIG_BAD_SIGNATURE);
}

static void test_refusals(void **state)
{
    assert_int_equal(check("auth_timestamp=1&auth_version=1.0", "GET", "/", TS), HR_PSIG_NO_KEY);
    assert_int_equal(check("auth_key=nope&auth_timestamp=1", "GET", "/", TS), HR_PSIG_BAD_KEY);
    assert_int_equal(check("auth_key=" KEY, "GET", "/", TS), HR_PSIG_BAD_TIMESTAMP);
    assert_int_equal(check("auth_key=" KEY "&auth_timestamp=12a", "GET", "/", TS),
                     HR_PSIG_BAD_TIMESTAMP);
    assert_int_equal(
        check("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=2", "GET", "/", TS),
        HR_PSIG_BAD_VERSION);
    assert_int_equal(
        check("auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0", "GET", "/", TS),
        HR_PSIG_NO_SIGNATURE);
    /* a key twice, bad escapes, NUL: no query */
    assert_int_equal(check("auth_key=a&auth_key=" KEY, "GET", "/", TS), -1);
    assert_int_equal(check("a=%zz", "GET", "/", TS), -1);
    assert_int_equal(check("a=%4", "GET", "/", TS), -1);
    assert_int_equal(check("a=%00", "GET", "/", TS), -1);
    /* no body: no body_md5 needed; a body needs one */
    hr_pusher_query_t q;
    char err[200];
    assert_int_equal(hr_pusher_query_parse("", 0, &q, err, sizeof err), 0);
    assert_int_equal(hr_pusher_sig_body(&q, "", 0, err, sizeof err), HR_PSIG_OK);
    assert_int_equal(hr_pusher_sig_body(&q, "{}", 2, err, sizeof err), HR_PSIG_BAD_MD5);
}

static void test_too_many(void **state)
{
    char q[4096];
    size_t o = 0;
    for (int i = 0; i <= HR_PUSHER_QUERY_PARAMS; i++)
        o += (size_t)snprintf(q + o, sizeof q - o, "k%d=v&", i);
    hr_pusher_query_t pq;
    char err[200];
    assert_int_equal(hr_pusher_query_parse(q, o, &pq, err, sizeof err), -1);
    /* a long canonical string goes through the heap */
    char big[1800];
    memset(big, 'a', sizeof big);
    memcpy(big, "x=", 2);
    assert_int_equal(hr_pusher_query_parse(big, sizeof big, &pq, err, sizeof err), 0);
    char out[8];
    assert_int_equal(hr_pusher_sig_string(SL("GET"), SL("/p"), &pq, out, sizeof out),
                     4 + 3 + sizeof big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_order_and_case),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_too_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
