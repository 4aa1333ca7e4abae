/* SPDX-License-Identifier: MIT
 * test_metrics.c: unit tests for relay/src/base/metrics.c: the Prometheus
 * exposition of one registry, and the sum of several (one per worker loop)
 * from snapshots or in place, matched by name and labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/metrics.h"

/* One worker's counters, registered the way the modules do. */
typedef struct {
    uint64_t conns_sse, conns_ws, msgs, redis_up;
    hr_metrics_t reg;
} worker_t;

static void render_info(hr_prom_t *o, void *ud)
{
    (void)ud;
    hr_prom_printf(o, "herald_info 1\n");
}

static void worker_init(worker_t *w, int first)
{
    hr_metrics_init(&w->reg);
    if (first)
        hr_metrics_add_fn(&w->reg, render_info, NULL);
    hr_metrics_add(&w->reg, "herald_connections", HR_GAUGE, "Open connections.",
                   "transport=\"sse\"", &w->conns_sse);
    hr_metrics_add(&w->reg, "herald_messages_total", HR_COUNTER, "Messages.", NULL, &w->msgs);
    /* A second sample of the first name, registered later. */
    hr_metrics_add(&w->reg, "herald_connections", HR_GAUGE, "Open connections.", "transport=\"ws\"",
                   &w->conns_ws);
    /* Process-wide: only worker 0 has it. */
    if (first)
        hr_metrics_add(&w->reg, "herald_redis_up", HR_GAUGE, "Redis link.", NULL, &w->redis_up);
}

static const char one[] = "herald_info 1\n"
                          "# HELP herald_connections Open connections.\n"
                          "# TYPE herald_connections gauge\n"
                          "herald_connections{transport=\"sse\"} 3\n"
                          "herald_connections{transport=\"ws\"} 4\n"
                          "# HELP herald_messages_total Messages.\n"
                          "# TYPE herald_messages_total counter\n"
                          "herald_messages_total 10\n"
                          "# HELP herald_redis_up Redis link.\n"
                          "# TYPE herald_redis_up gauge\n"
                          "herald_redis_up 1\n";

static void test_render_one(void **state)
{
    (void)state;
    worker_t w = {.conns_sse = 3, .conns_ws = 4, .msgs = 10, .redis_up = 1};
    worker_init(&w, 1);
    size_t len;
    char *text = hr_metrics_render(&w.reg, &len);
    assert_int_equal(len, strlen(one));
    assert_memory_equal(text, one, len);
    free(text);
    hr_metrics_free(&w.reg);
}

static const char sum[] = "herald_info 1\n"
                          "# HELP herald_connections Open connections.\n"
                          "# TYPE herald_connections gauge\n"
                          "herald_connections{transport=\"sse\"} 5\n"
                          "herald_connections{transport=\"ws\"} 404\n"
                          "# HELP herald_messages_total Messages.\n"
                          "# TYPE herald_messages_total counter\n"
                          "herald_messages_total 30\n"
                          "# HELP herald_redis_up Redis link.\n"
                          "# TYPE herald_redis_up gauge\n"
                          "herald_redis_up 1\n";

static void test_sum_in_place_and_from_snapshots(void **state)
{
    (void)state;
    worker_t a = {.conns_sse = 3, .conns_ws = 4, .msgs = 10, .redis_up = 1};
    worker_t b = {.conns_sse = 2, .conns_ws = 400, .msgs = 20, .redis_up = 1};
    worker_init(&a, 1);
    worker_init(&b, 0); /* other indexes: matched by name and labels */
    const hr_metrics_t *regs[] = {&a.reg, &b.reg};
    size_t len;
    char *text = hr_metrics_render_sum(regs, NULL, 2, &len);
    assert_int_equal(len, strlen(sum));
    assert_memory_equal(text, sum, len);
    free(text);

    /* Snapshots taken, then the counters move on: the sum is the snapshot's. */
    uint64_t va[8], vb[8];
    hr_metrics_snapshot(&a.reg, va);
    hr_metrics_snapshot(&b.reg, vb);
    a.msgs = b.msgs = 999;
    const uint64_t *vals[] = {va, vb};
    text = hr_metrics_render_sum(regs, vals, 2, &len);
    assert_int_equal(len, strlen(sum));
    assert_memory_equal(text, sum, len);
    free(text);
    hr_metrics_free(&a.reg);
    hr_metrics_free(&b.reg);
}

static void test_empty(void **state)
{
    (void)state;
    hr_metrics_t r;
    hr_metrics_init(&r);
    size_t len = 1;
    char *text = hr_metrics_render(&r, &len);
    assert_int_equal(len, 0);
    free(text);
    hr_metrics_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_one),
        cmocka_unit_test(test_sum_in_place_and_from_snapshots),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
