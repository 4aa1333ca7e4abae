/* SPDX-License-Identifier: MIT
 * metrics.c: the relay's own metrics (version, uptime). Every module
 * registers its own in the loop's registry (base/metrics.h); GET /metrics
 * renders the registry (app/router.c). */
#include "app/loops.h"
#include "app/server.h"
#include "app/version.h"
#include "base/alloc.h"
#include "base/thread.h"
#include "net/conn.h"
#include "net/net.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void render(hr_prom_t *o, void *ud)
{
    hr_loop_t *L = ud;
    hr_prom_printf(o, "# HELP herald_info Relay version.\n# TYPE herald_info gauge\n");
    hr_prom_printf(o, "herald_info{version=\"%s\"} 1\n", HR_VERSION);
    hr_prom_printf(o,
                   "# HELP herald_uptime_seconds Seconds since the relay started.\n"
                   "# TYPE herald_uptime_seconds gauge\nherald_uptime_seconds %.3f\n",
                   (double)(uv_hrtime() - L->start_ns) / 1e9);
    /* With workers, how the kernel spreads clients over the loops. */
    if (hr_threads > 1) {
        if (hr_thread_self == 0)
            hr_prom_printf(o, "# HELP herald_loop_connections Streams (SSE, WebSocket) on each "
                              "event loop (workers).\n# TYPE herald_loop_connections gauge\n");
        uint64_t streams = 0;
        for (size_t i = 0; L->net && i < L->net->ntransports; i++)
            streams += L->net->tstats[i].connections;
        hr_prom_printf(o, "herald_loop_connections{loop=\"%u\"} %llu\n", hr_thread_self,
                       (unsigned long long)streams);
    }
}

void hr_app_metrics(hr_loop_t *L)
{
    hr_metrics_add_fn(&L->metrics, render, L);
}

/* ---- one exposition for every loop (workers > 1) ----
 *
 * Each loop renders its own registry on its own thread (app/loops.h); the
 * loop that got the request adds the texts up, sample by sample. Counts
 * are summed: connections, deliveries and publishes are each one loop's.
 * A few are not counts of a loop's own: every loop keeps the same history
 * (the same events, by reference) and the same settings, so those samples
 * take the largest loop's value instead. Each loop holds its own Redis
 * links (cluster/broker_redis.c): their up gauges take the smallest loop's
 * value (1: every loop's links are up), and the last PING the slowest. */

static const char *const not_summed[] = {
    "herald_info",
    "herald_uptime_seconds",
    "herald_connections_max",
    "herald_history_bytes",
    "herald_history_messages",
    "herald_history_evictions_total",
    "herald_history_max_bytes",
    "herald_channels",
    "herald_draining",
    "herald_hook_batch_max",
    "herald_redis_ping_seconds",
};

static const char *const min_of_loops[] = {
    "herald_redis_up",
    "herald_redis_link_up",
    "herald_presence_redis_up",
};

typedef struct sample {
    const char *key; /* "name{labels}" */
    size_t keylen;
    uint64_t u;
    double d;
    int is_float;
} sample_t;

typedef struct family {
    const char *name;
    size_t namelen;
    const char *head; /* its # lines, as first seen */
    size_t headlen;
    int max, min;
    sample_t *s;
    size_t n, cap;
} family_t;

typedef struct merge {
    family_t *f;
    size_t n, cap;
} merge_t;

static family_t *family(merge_t *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->f[i].namelen == len && memcmp(m->f[i].name, name, len) == 0)
            return &m->f[i];
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->f = hr_xrealloc(m->f, m->cap * sizeof *m->f);
    }
    family_t *f = &m->f[m->n++];
    *f = (family_t){.name = name, .namelen = len};
    for (size_t i = 0; i < HR_ARRAY_SIZE(not_summed); i++)
        if (strlen(not_summed[i]) == len && memcmp(not_summed[i], name, len) == 0)
            f->max = 1;
    for (size_t i = 0; i < HR_ARRAY_SIZE(min_of_loops); i++)
        if (strlen(min_of_loops[i]) == len && memcmp(min_of_loops[i], name, len) == 0)
            f->min = 1;
    return f;
}

static void add_sample(family_t *f, const char *key, size_t keylen, const char *val, size_t vlen)
{
    char num[64];
    if (vlen >= sizeof num)
        vlen = sizeof num - 1;
    memcpy(num, val, vlen);
    num[vlen] = '\0';
    int is_float = strpbrk(num, ".eE") != NULL;
    uint64_t u = is_float ? 0 : strtoull(num, NULL, 10);
    double d = strtod(num, NULL);
    for (size_t i = 0; i < f->n; i++) {
        sample_t *s = &f->s[i];
        if (s->keylen != keylen || memcmp(s->key, key, keylen) != 0)
            continue;
        s->is_float |= is_float;
        if (f->max) {
            s->u = u > s->u ? u : s->u;
            s->d = d > s->d ? d : s->d;
        } else if (f->min) {
            s->u = u < s->u ? u : s->u;
            s->d = d < s->d ? d : s->d;
        } else {
            s->u += u;
            s->d += d;
        }
        return;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        f->s = hr_xrealloc(f->s, f->cap * sizeof *f->s);
    }
    f->s[f->n++] = (sample_t){key, keylen, u, d, is_float};
}

static void merge_text(merge_t *m, const char *t)
{
    while (*t) {
        const char *eol = strchr(t, '\n');
        size_t len = eol ? (size_t)(eol - t) : strlen(t);
        if (len > 7 && t[0] == '#' && (!memcmp(t, "# HELP ", 7) || !memcmp(t, "# TYPE ", 7))) {
            const char *name = t + 7;
            size_t nl = strcspn(name, " \n");
            family_t *f = family(m, name, nl);
            /* The head is the HELP line through the TYPE line, once. */
            if (f->head == NULL && t[2] == 'H')
                f->head = t;
            if (f->head && f->headlen == 0 && t[2] == 'T')
                f->headlen = (size_t)(t + len + 1 - f->head);
        } else if (len > 0 && t[0] != '#') {
            const char *sp = memrchr(t, ' ', len);
            if (sp) {
                size_t nl = strcspn(t, "{ ");
                family_t *f = family(m, t, nl);
                add_sample(f, t, (size_t)(sp - t), sp + 1, len - (size_t)(sp + 1 - t));
            }
        }
        t += len + (eol != NULL);
    }
}

char *hr_metrics_merge(const char *const *texts, size_t n, size_t *len)
{
    merge_t m = {0};
    for (size_t i = 0; i < n; i++)
        if (texts[i])
            merge_text(&m, texts[i]);
    hr_prom_t o = {.p = hr_xmalloc(8192), .cap = 8192};
    for (size_t i = 0; i < m.n; i++) {
        family_t *f = &m.f[i];
        if (f->headlen)
            hr_prom_printf(&o, "%.*s", (int)f->headlen, f->head);
        for (size_t k = 0; k < f->n; k++) {
            sample_t *s = &f->s[k];
            if (s->is_float)
                hr_prom_printf(&o, "%.*s %.3f\n", (int)s->keylen, s->key, s->d);
            else
                hr_prom_printf(&o, "%.*s %llu\n", (int)s->keylen, s->key, (unsigned long long)s->u);
        }
        free(f->s);
    }
    free(m.f);
    *len = o.len;
    return o.p;
}

/* A scrape in flight: the texts of every loop, then the answer. */
typedef struct gather {
    hr_conn_pending_t pending; /* first: the connection's hold */
    hr_conn_t *c;              /* NULL once the client went */
    unsigned home;             /* the loop of c */
    unsigned left;             /* loops still to answer (under lock) */
    pthread_mutex_t lock;
    char **texts;
} gather_t;

static void gather_gone(hr_conn_pending_t *p)
{
    ((gather_t *)p)->c = NULL;
}

static void gather_free(gather_t *g)
{
    for (unsigned i = 0; i < hr_loops_count(); i++)
        free(g->texts[i]);
    free(g->texts);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void gather_answer(hr_loop_t *L, void *ud)
{
    (void)L;
    gather_t *g = ud;
    if (g->c) {
        size_t len;
        char *body = hr_metrics_merge((const char *const *)g->texts, hr_loops_count(), &len);
        hr_conn_reply(g->c, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", body,
                      len);
        free(body);
    }
    gather_free(g);
}

/* One loop's part done (its text, or NULL: that loop ended). */
static void gather_done(gather_t *g)
{
    pthread_mutex_lock(&g->lock);
    int last = --g->left == 0;
    pthread_mutex_unlock(&g->lock);
    /* The home loop ended only once its clients had gone: then nobody
     * waits for the answer. */
    if (last && hr_loops_call(g->home, gather_answer, g) != 0)
        gather_free(g);
}

static void gather_render(hr_loop_t *L, void *ud)
{
    gather_t *g = ud;
    size_t len;
    char *text = hr_metrics_render(&L->metrics, &len);
    unsigned i = hr_thread_self;
    g->texts[i] = text; /* only loop i writes its slot */
    gather_done(g);
}

void hr_metrics_gather(hr_conn_t *c)
{
    unsigned n = hr_loops_count();
    gather_t *g = hr_xcalloc(1, sizeof *g);
    g->pending.gone = gather_gone;
    g->c = c;
    g->home = hr_thread_self;
    g->left = n;
    g->texts = hr_xcalloc(n, sizeof *g->texts);
    pthread_mutex_init(&g->lock, NULL);
    hr_conn_pend(c, &g->pending);
    for (unsigned i = 0; i < n; i++)
        if (hr_loops_call(i, gather_render, g) != 0)
            gather_done(g);
}
