/* SPDX-License-Identifier: MIT
 * metrics.c: the metrics registry and its Prometheus text exposition
 * (format 0.0.4). */
#include "base/metrics.h"
#include "base/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hr_metrics_init(hr_metrics_t *r)
{
    memset(r, 0, sizeof *r);
}

void hr_metrics_free(hr_metrics_t *r)
{
    free(r->m);
    memset(r, 0, sizeof *r);
}

static hr_metric_t *push(hr_metrics_t *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->m = hr_xrealloc(r->m, r->cap * sizeof *r->m);
    }
    hr_metric_t *m = &r->m[r->n++];
    memset(m, 0, sizeof *m);
    return m;
}

void hr_metrics_add(hr_metrics_t *r, const char *name, enum hr_metric_kind kind, const char *help,
                    const char *labels, const uint64_t *value)
{
    hr_metric_t *m = push(r);
    m->name = name;
    m->help = help;
    m->labels = labels;
    m->value = value;
    m->kind = (uint8_t)kind;
}

void hr_metrics_add_fn(hr_metrics_t *r, hr_metrics_fn fn, void *ud)
{
    hr_metric_t *m = push(r);
    m->fn = fn;
    m->ud = ud;
}

void hr_prom_printf(hr_prom_t *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap *= 2;
        o->p = hr_xrealloc(o->p, o->cap);
    }
}

static const char *kind_name(int kind)
{
    return kind == HR_GAUGE ? "gauge" : "counter";
}

static int same_metric(const hr_metric_t *a, const hr_metric_t *b)
{
    if (a->fn || b->fn || strcmp(a->name, b->name) != 0)
        return 0;
    if (a->labels == NULL || b->labels == NULL)
        return a->labels == b->labels;
    return strcmp(a->labels, b->labels) == 0;
}

/* The value of regs[0]->m[i] summed over every registry. */
static uint64_t sum_of(const hr_metrics_t *const *regs, const uint64_t *const *vals, size_t nregs,
                       size_t i)
{
    const hr_metric_t *m = &regs[0]->m[i];
    uint64_t sum = 0;
    for (size_t k = 0; k < nregs; k++) {
        const hr_metrics_t *r = regs[k];
        size_t j = i;
        if (j >= r->n || !same_metric(m, &r->m[j]))
            for (j = 0; j < r->n && !same_metric(m, &r->m[j]); j++)
                ;
        if (j < r->n)
            sum += vals ? vals[k][j] : *r->m[j].value;
    }
    return sum;
}

void hr_metrics_snapshot(const hr_metrics_t *r, uint64_t *vals)
{
    for (size_t i = 0; i < r->n; i++)
        vals[i] = r->m[i].fn ? 0 : *r->m[i].value;
}

char *hr_metrics_render_sum(const hr_metrics_t *const *regs, const uint64_t *const *vals,
                            size_t nregs, size_t *len)
{
    const hr_metrics_t *r = regs[0];
    hr_prom_t o = {.p = hr_xmalloc(8192), .cap = 8192};
    uint8_t *done = hr_xcalloc(r->n ? r->n : 1, 1);
    for (size_t i = 0; i < r->n; i++) {
        const hr_metric_t *m = &r->m[i];
        if (done[i])
            continue;
        if (m->fn) {
            m->fn(&o, m->ud);
            continue;
        }
        hr_prom_printf(&o, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                       kind_name(m->kind));
        for (size_t j = i; j < r->n; j++) {
            const hr_metric_t *s = &r->m[j];
            if (s->fn || done[j] || strcmp(s->name, m->name) != 0)
                continue;
            done[j] = 1;
            unsigned long long v = (unsigned long long)sum_of(regs, vals, nregs, j);
            if (s->labels)
                hr_prom_printf(&o, "%s{%s} %llu\n", s->name, s->labels, v);
            else
                hr_prom_printf(&o, "%s %llu\n", s->name, v);
        }
    }
    free(done);
    *len = o.len;
    return o.p;
}

/* One registry: the sum over itself alone. */
char *hr_metrics_render(const hr_metrics_t *r, size_t *len)
{
    return hr_metrics_render_sum(&r, NULL, 1, len);
}
