/* SPDX-License-Identifier: MIT
 * metrics.h: the registry of a loop's metrics. Each module keeps its own
 * counters and gauges (plain uint64_t in its own state) and registers them
 * here once, with name, help and labels; app/metrics.c renders the registry
 * in the Prometheus text format for GET /metrics. A module with values to
 * compute at scrape time registers a function instead. No module writes
 * another module's counters. */
#ifndef HR_METRICS_H
#define HR_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum hr_metric_kind { HR_COUNTER, HR_GAUGE };

/* Text being rendered. */
typedef struct hr_prom {
    char *p;
    size_t len, cap;
} hr_prom_t;

/* Writes its own lines (HELP, TYPE and samples) into out at scrape time. */
typedef void (*hr_metrics_fn)(hr_prom_t *out, void *ud);

typedef struct hr_metric {
    const char *name;
    const char *help;
    const char *labels;    /* `reason="invalid"`, or NULL */
    const uint64_t *value; /* NULL: fn renders */
    hr_metrics_fn fn;
    void *ud;
    uint8_t kind;
} hr_metric_t;

typedef struct hr_metrics {
    hr_metric_t *m;
    size_t n, cap;
} hr_metrics_t;

void hr_metrics_init(hr_metrics_t *r);
void hr_metrics_free(hr_metrics_t *r);

/* Register a value read at each scrape. Samples of one name (several label
 * sets) are rendered together under one HELP and TYPE, wherever they were
 * registered; name, help and labels must outlive the registry. */
void hr_metrics_add(hr_metrics_t *r, const char *name, enum hr_metric_kind kind, const char *help,
                    const char *labels, const uint64_t *value);

void hr_metrics_add_fn(hr_metrics_t *r, hr_metrics_fn fn, void *ud);

/* The whole exposition, malloc'd, *len bytes. */
char *hr_metrics_render(const hr_metrics_t *r, size_t *len);

/* Workers: one registry per loop, each with its own counters. /metrics
 * answers for the whole process with the sum of every worker's values.
 *
 * hr_metrics_snapshot() copies r's values into vals[0..r->n) (0 for a
 * function entry). Call it on r's own loop: the counters are plain
 * uint64_t that only that loop writes; the copy then crosses threads under
 * the caller's lock or message. */
void hr_metrics_snapshot(const hr_metrics_t *r, uint64_t *vals);

/* The exposition of regs[0] with each value summed over every registry
 * that registered the same name and labels (the same index first, else a
 * search): regs[0] must register every metric the others do. vals[k] is a
 * snapshot of regs[k]; vals NULL reads the values in place (one thread).
 * Function entries are rendered from regs[0] only: register process-wide
 * values (version, uptime, the Redis link) in worker 0, or render a sum
 * from the function itself. Counters and gauges alike are summed (clients,
 * bytes queued: the process's total). */
char *hr_metrics_render_sum(const hr_metrics_t *const *regs, const uint64_t *const *vals,
                            size_t nregs, size_t *len);

/* For render functions. */
void hr_prom_printf(hr_prom_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
