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

char *hr_metrics_render(const hr_metrics_t *r, size_t *len)
{
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
            if (s->labels)
                hr_prom_printf(&o, "%s{%s} %llu\n", s->name, s->labels,
                               (unsigned long long)*s->value);
            else
                hr_prom_printf(&o, "%s %llu\n", s->name, (unsigned long long)*s->value);
        }
    }
    free(done);
    *len = o.len;
    return o.p;
}
