/* SPDX-License-Identifier: MIT
 * fcgi_probe.c: runs the relay's FastCGI pool (relay/src/hooks/fcgi_pool.c)
 * on a libuv loop against a real FastCGI server, for
 * tests/e2e/fcgi_pool.test.mjs. It submits N POST requests to SCRIPT,
 * keeping as many in flight as the pool has room for (-c), and prints one
 * JSON line per answer, in the order they end, then the pool's counters;
 * then it frees the pool, runs the loop until every handle is closed and
 * checks that no buffer is left.
 *
 *   fcgi_probe ADDRESS SCRIPT [-n N] [-c CONC] [-t TIMEOUT_MS] [-i IDLE_MS]
 *              [-m MAX_RESPONSE] [-b BODY] [-p NAME=VALUE]...
 *
 * Lines: {"started":true} once the first requests are submitted, then
 * {"i":K,"status":"ok|down|timeout|broken|protocol|cancelled","http":200,
 * "body":"...","stderr":"...","why":...} per request (K from 0; the body
 * sent is {"i":K} unless -b), then {"summary":true,"connections":..,
 * "connects":..,"retries":..,"ok":..,"down":..,"timeout":..,"broken":..,
 * "protocol":..}. Exits 0, or 1 on a usage error or a leak. */
#include "base/buf.h"
#include "base/log.h"
#include "codec/fastcgi.h"
#include "core/loop.h"
#include "hooks/fcgi_pool.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS 32

static const char *const status_names[] = {"ok",     "down",     "timeout",
                                           "broken", "protocol", "cancelled"};

typedef struct probe {
    hr_fcgi_pool_t *pool;
    const char *script, *body;
    hr_fcgi_param_t extra[MAX_PARAMS];
    size_t nextra;
    long n, submitted, finished;
} probe_t;

typedef struct one {
    probe_t *pr;
    long i;
} one_t;

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static json_t *bytes(const uint8_t *p, size_t n)
{
    /* Invalid UTF-8 would make jansson refuse the string: shown as \xNN. */
    json_t *s = json_stringn_nocheck("", 0);
    char *t = malloc(n * 4 + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f)
            t[k++] = (char)p[i];
        else if (p[i] == '\n' || p[i] == '\t' || p[i] == '\r' || p[i] >= 0x80)
            t[k++] = (char)p[i];
        else
            k += (size_t)sprintf(t + k, "\\x%02x", p[i]);
    }
    if (json_string_setn(s, t, k) != 0)
        json_string_setn_nocheck(s, "<not utf-8>", 11);
    free(t);
    return s;
}

static void submit_more(void *ud);

static void on_done(void *ud, const hr_fcgi_response_t *r)
{
    one_t *o = ud;
    probe_t *pr = o->pr;
    json_t *j = json_object();
    json_object_set_new(j, "i", json_integer(o->i));
    json_object_set_new(j, "status", json_string(status_names[r->status]));
    json_object_set_new(j, "http", json_integer(r->http_status));
    json_object_set_new(j, "body", bytes(r->body, r->len));
    json_object_set_new(j, "stderr", bytes(r->err_text, r->err_len));
    json_object_set_new(j, "why", r->why ? json_string(r->why) : json_null());
    print_json(j);
    free(o);
    pr->finished++;
}

static void submit_one(probe_t *pr)
{
    long i = pr->submitted++;
    char body[64];
    const char *b = pr->body;
    if (b == NULL) {
        snprintf(body, sizeof body, "{\"i\":%ld}", i);
        b = body;
    }
    char clen[24];
    snprintf(clen, sizeof clen, "%zu", strlen(b));
#define P(n, v) ((hr_fcgi_param_t){{n, sizeof(n) - 1}, {v, strlen(v)}})
    hr_fcgi_param_t params[MAX_PARAMS + 12] = {
        P("REQUEST_METHOD", "POST"),
        P("SCRIPT_FILENAME", pr->script),
        P("SCRIPT_NAME", "/herald/hooks"),
        P("REQUEST_URI", "/herald/hooks"),
        P("DOCUMENT_URI", "/herald/hooks"),
        P("CONTENT_TYPE", "application/json"),
        P("CONTENT_LENGTH", clen),
        P("SERVER_PROTOCOL", "HTTP/1.1"),
        P("GATEWAY_INTERFACE", "CGI/1.1"),
        P("REMOTE_ADDR", "127.0.0.1"),
        P("SERVER_SOFTWARE", "herald-fcgi-probe"),
    };
#undef P
    size_t np = 11;
    for (size_t k = 0; k < pr->nextra; k++)
        params[np++] = pr->extra[k];
    hr_buf_t *req = hr_fcgi_request(1, params, np, b, strlen(b));
    one_t *o = hr_xcalloc(1, sizeof *o);
    o->pr = pr;
    o->i = i;
    hr_fcgi_pool_submit(pr->pool, req, on_done, o);
    hr_buf_unref(req); /* the pool holds its own reference */
}

static void submit_more(void *ud)
{
    probe_t *pr = ud;
    while (pr->submitted < pr->n && hr_fcgi_pool_room(pr->pool) > 0)
        submit_one(pr);
}

static int usage(void)
{
    fprintf(stderr, "usage: fcgi_probe ADDRESS SCRIPT [-n N] [-c CONC] [-t TIMEOUT_MS] "
                    "[-i IDLE_MS] [-m MAX_RESPONSE] [-b BODY] [-p NAME=VALUE]...\n");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    probe_t pr = {.script = argv[2], .n = 1};
    hr_fcgi_pool_cfg_t cfg = {
        .address = argv[1], .max_conns = 1, .idle_ms = 1000, .timeout_ms = 5000};
    for (int a = 3; a < argc; a++) {
        if (a + 1 >= argc || argv[a][0] != '-' || argv[a][2] != '\0')
            return usage();
        const char *v = argv[++a];
        switch (argv[a - 1][1]) {
        case 'n':
            pr.n = atol(v);
            break;
        case 'c':
            cfg.max_conns = atol(v);
            break;
        case 't':
            cfg.timeout_ms = atol(v);
            break;
        case 'i':
            cfg.idle_ms = atol(v);
            break;
        case 'm':
            cfg.max_response = (size_t)atol(v);
            break;
        case 'b':
            pr.body = v;
            break;
        case 'p': {
            const char *eq = strchr(v, '=');
            if (eq == NULL || pr.nextra == MAX_PARAMS)
                return usage();
            pr.extra[pr.nextra++] =
                (hr_fcgi_param_t){{v, (size_t)(eq - v)}, {eq + 1, strlen(eq + 1)}};
            break;
        }
        default:
            return usage();
        }
    }
    signal(SIGPIPE, SIG_IGN); /* as the relay: a write to a closed connection is an error */
    const char *lvl = getenv("HERALD_LOG_LEVEL");
    if (lvl && hr_log_parse_level(lvl) >= 0)
        hr_log_level = hr_log_parse_level(lvl);

    uv_loop_t uv;
    uv_loop_init(&uv);
    hr_loop_t L;
    hr_loop_init(&L, &uv, 16, 0);
    pr.pool = hr_fcgi_pool_new(&L, &cfg);
    if (pr.pool == NULL)
        return usage();
    hr_fcgi_pool_on_room(pr.pool, submit_more, &pr);
    submit_more(&pr);
    print_json(json_pack("{sb}", "started", 1));
    while (pr.finished < pr.n)
        uv_run(&uv, UV_RUN_ONCE);

    const hr_fcgi_pool_stats_t *st = hr_fcgi_pool_stats(pr.pool);
    print_json(json_pack("{sb sI sI sI sI sI sI sI sI}", "summary", 1, "connections",
                         (json_int_t)st->connections, "connects", (json_int_t)st->connects,
                         "retries", (json_int_t)st->retries, "ok", (json_int_t)st->ok, "down",
                         (json_int_t)st->down, "timeout", (json_int_t)st->timeout, "broken",
                         (json_int_t)st->broken, "protocol", (json_int_t)st->protocol));
    hr_fcgi_pool_free(pr.pool);
    uv_run(&uv, UV_RUN_DEFAULT); /* the close callbacks */
    hr_loop_free(&L);
    int rc = uv_loop_close(&uv);
    if (rc != 0 || hr_buf_live != 0) {
        fprintf(stderr, "fcgi_probe: loop close %s, %lld buffers left\n", uv_strerror(rc),
                (long long)hr_buf_live);
        return 1;
    }
    return 0;
}
