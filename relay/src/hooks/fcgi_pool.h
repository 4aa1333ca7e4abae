/* SPDX-License-Identifier: MIT
 * fcgi_pool.h: the relay's FastCGI client: a small pool of connections to
 * the application's FastCGI server (php-fpm), on the loop, never blocking
 * it. The hooks module submits encoded requests (codec/fastcgi.h) while
 * hr_fcgi_pool_room() allows and gets each answer, or why there is none,
 * in a callback.
 *
 * One request in flight per connection (php-fpm serves one at a time), at
 * most max_conns of them. A finished connection is kept (FCGI_KEEP_CONN)
 * for the next request and closed after idle_ms unused: a kept connection
 * pins an FPM worker. A request that never reached the server is retried:
 * a connect that fails, again after 50 ms doubling up to 1 s; a kept
 * connection found closed (EOF or reset before any byte of the answer,
 * as when php-fpm's pm.max_requests ended its worker), at once on a new
 * connection. Nothing is retried once the server may have run the script,
 * and timeout_ms bounds a request's whole life, retries included.
 * Writing to a connection the server closed raises SIGPIPE: the process
 * ignores it (the relay's main does), the write then fails with EPIPE. */
#ifndef HR_FCGI_POOL_H
#define HR_FCGI_POOL_H

#include "base/buf.h"
#include "core/loop.h"

typedef struct hr_fcgi_pool hr_fcgi_pool_t;

/* The FPM workers several pools may take between them (workers = N: one
 * pool per loop, one relay). A slot is a request in flight or a kept
 * connection; the pools sharing one hold max of them at most. A pool that
 * needs one more waits in line (first come, first served): a request that
 * ends while another pool waits closes its connection and hands its slot
 * to the first in line (woken on its own loop), and a pool that joins the
 * line has the others close their kept connections. Thread-safe; the last
 * of hr_fcgi_share_unref and the pools made with it frees it. */
typedef struct hr_fcgi_share hr_fcgi_share_t;

hr_fcgi_share_t *hr_fcgi_share_new(size_t max);
void hr_fcgi_share_unref(hr_fcgi_share_t *s);

typedef struct hr_fcgi_pool_cfg {
    const char *address;    /* "unix:/path", "IPv4:PORT", "[IPv6]:PORT" (or IPv6:PORT) */
    long max_conns;         /* requests in flight = connections, at most (<= 0: 1) */
    long idle_ms;           /* close a kept connection idle this long (<= 0: keep none) */
    long timeout_ms;        /* a request's whole life, connect retries included (<= 0: 5000) */
    size_t max_response;    /* stdout + stderr bytes of an answer at most (0: 16 MiB) */
    hr_fcgi_share_t *share; /* NULL: this pool's max_conns alone; else the share's too */
} hr_fcgi_pool_cfg_t;

enum hr_fcgi_status {
    HR_FCGI_OK,        /* an answer: http_status, body, err_text */
    HR_FCGI_DOWN,      /* never started: no connection (or only kept ones found closed) until
                          the timeout */
    HR_FCGI_TIMEOUT,   /* sent, not answered in time; its connection was closed */
    HR_FCGI_BROKEN,    /* the connection was lost after the request was sent */
    HR_FCGI_PROTOCOL,  /* bad FastCGI records or CGI headers, or the answer passed max_response */
    HR_FCGI_CANCELLED, /* the pool was freed (or there was no room) */
};

typedef struct hr_fcgi_response {
    int status;          /* hr_fcgi_status */
    int http_status;     /* OK: the CGI Status (200 without one); else 0 */
    const uint8_t *body; /* OK: stdout after the CGI headers */
    size_t len;
    const uint8_t *err_text; /* what the script wrote to FCGI_STDERR (also when not OK) */
    size_t err_len;
    const char *why; /* not OK: a line for the log */
} hr_fcgi_response_t;

/* The response and every pointer in it are valid during the call only. */
typedef void (*hr_fcgi_done_fn)(void *ud, const hr_fcgi_response_t *r);

/* Counters, also registered as metrics. */
typedef struct hr_fcgi_pool_stats {
    uint64_t connections; /* established and open now (herald_hook_fpm_connections) */
    uint64_t connects;    /* connections established (herald_hook_fpm_connects_total) */
    uint64_t retries;     /* attempts after a failed connect or a kept connection found closed */
    uint64_t ok, down, timeout, broken, protocol; /* requests ended, by result */
} hr_fcgi_pool_stats_t;

/* A pool for cfg->address, or NULL (logged) when the address is not one of
 * the forms above. Nothing connects before the first request. Registers
 * its metrics in L->metrics, which point into the pool: free the pool only
 * once the registry is rendered no more (at exit). */
hr_fcgi_pool_t *hr_fcgi_pool_new(hr_loop_t *L, const hr_fcgi_pool_cfg_t *cfg);

/* Requests that may be submitted now (max_conns minus those in flight). */
size_t hr_fcgi_pool_room(const hr_fcgi_pool_t *p);

/* 1: a request submitted now starts now (with a share, a slot is kept for
 * it: submit next); 0: not now, and with a share the pool waits in line:
 * on_room is called once there is a slot for it. */
int hr_fcgi_pool_take(hr_fcgi_pool_t *p);

/* Start a request: request is a whole encoded FastCGI request of request
 * id 1 (hr_fcgi_request); the pool takes its own reference. done is called
 * exactly once, never before submit returns. Requires hr_fcgi_pool_take()
 * just before (room > 0 will do without a share); without room (or once
 * the pool is being freed) the request is not sent and done gets
 * HR_FCGI_CANCELLED from the loop. */
void hr_fcgi_pool_submit(hr_fcgi_pool_t *p, hr_buf_t *request, hr_fcgi_done_fn done, void *ud);

/* fn(ud) is called after a request ended (after its done) while room > 0,
 * and with a share when a slot was handed to the pool. */
void hr_fcgi_pool_on_room(hr_fcgi_pool_t *p, void (*fn)(void *ud), void *ud);

const hr_fcgi_pool_stats_t *hr_fcgi_pool_stats(const hr_fcgi_pool_t *p);

/* Every request in flight gets HR_FCGI_CANCELLED (done is called from here),
 * every connection is closed; the memory goes once libuv has closed the
 * handles, so run the loop after this (as at any exit) for that to happen. */
void hr_fcgi_pool_free(hr_fcgi_pool_t *p);

#endif
