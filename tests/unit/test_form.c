/* SPDX-License-Identifier: MIT
 * test_form.c: application/x-www-form-urlencoded bodies (codec/form.c): a
 * Mercure publish as symfony/mercure sends it (http_build_query of topic[],
 * data, private, id, type, retry, with its brackets escaped), the decoding
 * rules, the refusals and the bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/form.h"

#define SL(x) ((hr_slice_t){x, strlen(x)})

static void assert_slice(const hr_slice_t *s, const char *want)
{
    assert_non_null(s);
    assert_int_equal(s->len, strlen(want));
    assert_memory_equal(s->p, want, s->len);
}

static void test_mercure_publish(void **state)
{
    /* Two topics, data with spaces, JSON and a newline, private, id, type, retry. */
    const char *body =
        "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&topic=https%3A%2F%2Fexample.com%"
        "2Fusers%2Fdunglas&data=%7B%22status%22%3A+%22out+of%0Astock%22%7D&private="
        "on&id=urn%3Auuid%3A1&type=update&retry=3000";
    hr_form_t f;
    char err[200];
    assert_int_equal(hr_form_parse(body, strlen(body), &f, err, sizeof err), 0);
    assert_int_equal(f.n, 7);
    assert_int_equal(hr_form_count(&f, "topic"), 2);
    assert_slice(hr_form_get(&f, "topic", 0), "https://example.com/books/1");
    assert_slice(hr_form_get(&f, "topic", 1), "https://example.com/users/dunglas");
    assert_null(hr_form_get(&f, "topic", 2));
    assert_slice(hr_form_get(&f, "data", 0), "{\"status\": \"out of\nstock\"}");
    assert_slice(hr_form_get(&f, "private", 0), "on");
    assert_slice(hr_form_get(&f, "id", 0), "urn:uuid:1");
    assert_slice(hr_form_get(&f, "type", 0), "update");
    assert_slice(hr_form_get(&f, "retry", 0), "3000");
    assert_int_equal(hr_form_count(&f, "missing"), 0);
    assert_null(hr_form_get(&f, "missing", 0));
    hr_form_free(&f);
}

static void test_rules(void **state)
{
    hr_form_t f;
    char err[200];
    /* empty pairs skipped, no '=' is an empty value, the first '=' splits,
     * an empty name is a name, '+' and %2B, keys are decoded too, and
     * matched exactly (case and all) */
    const char *body = "&&a&b=&=c&d=e=f&g+h=%2B+&%74opic=x&Topic=y&";
    assert_int_equal(hr_form_parse(body, strlen(body), &f, err, sizeof err), 0);
    assert_int_equal(f.n, 7);
    assert_slice(hr_form_get(&f, "a", 0), "");
    assert_slice(hr_form_get(&f, "b", 0), "");
    assert_slice(hr_form_get(&f, "", 0), "c");
    assert_slice(hr_form_get(&f, "d", 0), "e=f");
    assert_slice(hr_form_get(&f, "g h", 0), "+ ");
    assert_slice(hr_form_get(&f, "topic", 0), "x");
    assert_int_equal(hr_form_count(&f, "topic"), 1);
    assert_slice(&f.pairs[6].key, "Topic");
    hr_form_free(&f);
    /* bytes pass as they are: UTF-8, and any other byte */
    assert_int_equal(hr_form_parse("k=%C3%A9%ff\xc3\xa9", 13, &f, err, sizeof err), 0);
    assert_slice(hr_form_get(&f, "k", 0), "\xc3\xa9\xff\xc3\xa9");
    hr_form_free(&f);
    /* an empty body has no pairs */
    assert_int_equal(hr_form_parse("", 0, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 0);
    hr_form_free(&f);
    assert_int_equal(hr_form_parse("&&&", 3, &f, err, sizeof err), 0);
    assert_int_equal(f.n, 0);
    hr_form_free(&f);
}

static void expect_error(const char *body, size_t len, const char *reason)
{
    hr_form_t f;
    char err[200] = "";
    assert_int_equal(hr_form_parse(body, len, &f, err, sizeof err), -1);
    assert_null(f.pairs);
    if (strstr(err, reason) == NULL)
        fail_msg("%s: got \"%s\", expected \"%s\"", body, err, reason);
}

#define ERR(body, reason) expect_error(body, sizeof(body) - 1, reason)

static void test_refusals(void **state)
{
    ERR("data=50%", "pair 1: bad %XX escape in the value");
    ERR("data=50%2", "pair 1: bad %XX escape in the value");
    ERR("data=%zz", "pair 1: bad %XX escape in the value");
    ERR("a=1&da%ta=1", "pair 2: bad %XX escape in the name");
    ERR("a=1&data=%00", "pair 2: NUL (%00) in the value");
    ERR("a=1&data=x\0y", "pair 2: NUL in the value");
    ERR("a\0=1", "pair 1: NUL in the name");
    ERR("topic=a;b", "pair 1: a raw ';'");
    ERR("topic=a&b;c=d", "pair 2: a raw ';'");
    /* the escape is fine: %3B */
    hr_form_t f;
    char err[200];
    assert_int_equal(hr_form_parse("topic=a%3Bb", 11, &f, err, sizeof err), 0);
    assert_slice(hr_form_get(&f, "topic", 0), "a;b");
    hr_form_free(&f);
}

static void test_bounds(void **state)
{
    static char body[HR_FORM_MAX_PAIRS * 12 + 16];
    size_t o = 0;
    for (int i = 0; i < HR_FORM_MAX_PAIRS; i++)
        o += (size_t)snprintf(body + o, sizeof body - o, "topic=%d&", i);
    hr_form_t f;
    char err[200];
    assert_int_equal(hr_form_parse(body, o, &f, err, sizeof err), 0);
    assert_int_equal(hr_form_count(&f, "topic"), HR_FORM_MAX_PAIRS);
    assert_slice(hr_form_get(&f, "topic", HR_FORM_MAX_PAIRS - 1), "255");
    hr_form_free(&f);
    /* empty pairs do not count, one more pair does */
    memcpy(body + o, "&&&x", 4);
    expect_error(body, o + 4, "more than 256 pairs");
}

static void test_iterator(void **state)
{
    /* a caller's buffer: exactly the room a pair needs, then one byte less */
    const char *body = "k%41=v+1&x=%2525";
    hr_form_iter_t it;
    hr_form_pair_t p;
    char buf[5], err[200];
    hr_form_iter_init(&it, body, strlen(body));
    assert_int_equal(hr_form_next(&it, buf, 5, &p, err, sizeof err), 1);
    assert_slice(&p.key, "kA");
    assert_slice(&p.val, "v 1");
    assert_int_equal(hr_form_next(&it, buf, 3, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "pair 2: no room to decode the value"));
    /* the iterator stays at the pair */
    assert_int_equal(hr_form_next(&it, buf, 4, &p, err, sizeof err), 1);
    assert_slice(&p.key, "x");
    assert_slice(&p.val, "%25");
    assert_int_equal(hr_form_next(&it, buf, 4, &p, err, sizeof err), 0);
    assert_int_equal(hr_form_next(&it, buf, 4, &p, err, sizeof err), 0);
    /* in place */
    char s[] = "a%20b+c";
    assert_int_equal(hr_form_decode(s, strlen(s), s, sizeof s), 5);
    assert_memory_equal(s, "a b c", 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mercure_publish), cmocka_unit_test(test_rules),
        cmocka_unit_test(test_refusals),        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_iterator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
