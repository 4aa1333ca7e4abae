/* SPDX-License-Identifier: MIT
 * test_buf.c: unit tests for relay/src/base/buf.c: the reference count and
 * the live-buffer count stay exact when several threads (worker loops)
 * take and drop references to one shared buffer and allocate their own. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

#define ROUNDS 200000

static void *worker(void *arg)
{
    hr_buf_t *shared = arg;
    for (int i = 0; i < ROUNDS; i++) {
        hr_buf_t *own = hr_buf_from("x", 1);
        hr_buf_ref(shared);
        hr_buf_unref(own);
        hr_buf_unref(shared);
    }
    return NULL;
}

static void test_shared_across_threads(void **state)
{
    (void)state;
    int64_t live = hr_buf_live_count();
    hr_buf_t *shared = hr_buf_from("event", 5);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, shared), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(shared->refcnt, 1);
    assert_int_equal(hr_buf_live_count(), live + 1);
    hr_buf_unref(shared);
    assert_int_equal(hr_buf_live_count(), live);
}

static void test_static_is_not_counted(void **state)
{
    (void)state;
    int64_t live = hr_buf_live_count();
    hr_buf_t *s = hr_buf_static("ping", 4);
    assert_int_equal(hr_buf_live_count(), live);
    hr_buf_ref(s);
    hr_buf_unref(s);
    hr_buf_unref(s);
    assert_int_equal(s->refcnt, HR_BUF_STATIC);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_across_threads),
        cmocka_unit_test(test_static_is_not_counted),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
