/* SPDX-License-Identifier: MIT
 * test_metrics_merge.c: unit tests for hr_metrics_merge (app/metrics.c):
 * the /metrics of several loops as one: counts summed, what every loop
 * holds alike taken once (the largest), and the Redis link gauges the
 * smallest (1 only when every loop's links are up). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/server.h"

static const char loop0[] =
    "# HELP herald_redis_up Up.\n# TYPE herald_redis_up gauge\nherald_redis_up 1\n"
    "# HELP herald_redis_link_up Links.\n# TYPE herald_redis_link_up gauge\n"
    "herald_redis_link_up{link=\"cmd\"} 1\nherald_redis_link_up{link=\"sub\"} 1\n"
    "# HELP herald_redis_ping_seconds Ping.\n# TYPE herald_redis_ping_seconds gauge\n"
    "herald_redis_ping_seconds 0.002000\n"
    "# HELP herald_redis_messages_in_total In.\n# TYPE herald_redis_messages_in_total counter\n"
    "herald_redis_messages_in_total 5\n";

static const char loop1[] =
    "# HELP herald_redis_up Up.\n# TYPE herald_redis_up gauge\nherald_redis_up 0\n"
    "# HELP herald_redis_link_up Links.\n# TYPE herald_redis_link_up gauge\n"
    "herald_redis_link_up{link=\"cmd\"} 1\nherald_redis_link_up{link=\"sub\"} 0\n"
    "# HELP herald_redis_ping_seconds Ping.\n# TYPE herald_redis_ping_seconds gauge\n"
    "herald_redis_ping_seconds 0.005000\n"
    "# HELP herald_redis_messages_in_total In.\n# TYPE herald_redis_messages_in_total counter\n"
    "herald_redis_messages_in_total 7\n";

static void test_redis_gauges(void **state)
{
    (void)state;
    const char *texts[] = {loop0, loop1};
    size_t len;
    char *out = hr_metrics_merge(texts, 2, &len);
    assert_int_equal(len, strlen(out));
    assert_non_null(strstr(out, "\nherald_redis_up 0\n"));
    assert_non_null(strstr(out, "\nherald_redis_link_up{link=\"cmd\"} 1\n"));
    assert_non_null(strstr(out, "\nherald_redis_link_up{link=\"sub\"} 0\n"));
    assert_non_null(strstr(out, "\nherald_redis_ping_seconds 0.005\n"));
    assert_non_null(strstr(out, "\nherald_redis_messages_in_total 12\n"));
    free(out);
    /* Both loops up: 1, not 2. */
    const char *up[] = {loop0, loop0};
    out = hr_metrics_merge(up, 2, &len);
    assert_non_null(strstr(out, "\nherald_redis_up 1\n"));
    assert_non_null(strstr(out, "\nherald_redis_link_up{link=\"sub\"} 1\n"));
    assert_non_null(strstr(out, "\nherald_redis_messages_in_total 10\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_gauges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
