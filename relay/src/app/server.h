/* SPDX-License-Identifier: MIT
 * server.h: the app layer's state for one loop: the HTTP listener, the
 * loop's fixed handles (prepare/check around each poll, the sweep timer,
 * signals), the routes, readiness and the graceful shutdown. It wires the
 * layers below together; main.c decides which transports and broker. */
#ifndef HR_SERVER_H
#define HR_SERVER_H

#include "core/loop.h"
#include "ingest/ingest.h"
#include "net/net.h"
#include "net/transport.h"

#include <uv.h>

#define HR_ROUTES_MAX   16
#define HR_RELEASES_MAX 4

/* A route that takes any method and reads the request itself, its body
 * too (net/conn.h: hr_conn_read_body): the publish API, later the Pusher
 * and Mercure HTTP APIs. rest: bytes the client sent after the head. */
typedef void (*hr_request_route_fn)(void *ud, struct hr_conn *c, const hr_http_request_t *req,
                                    uint8_t *rest, size_t rest_len);

/* A publisher other than ingest releases what it holds (stopping: the
 * last time, at shutdown). */
typedef void (*hr_release_fn)(void *ud, int stopping);

typedef struct hr_route {
    const char *path;
    hr_open_fn open;             /* GET streams (transports), or NULL */
    hr_request_route_fn request; /* or this, with ud */
    void *ud;
} hr_route_t;

typedef struct hr_server {
    hr_loop_t *loop;
    hr_net_t *net;
    hr_ingest_t *ingest;    /* NULL: no publishers (unit tests) */
    struct hr_hooks *hooks; /* application hooks (hooks/hooks.h), or NULL */
    uv_tcp_t listener;
    uv_tcp_t metrics_listener; /* metrics_listen, when set */
    char url[300];             /* http://HOST:PORT of the listener, for logs */
    uv_prepare_t prepare;
    uv_check_t check;
    uv_timer_t sweep;
    uv_poll_t signals; /* the process's signalfd (hr_server_signals_init) */
    uv_timer_t shutdown_timer;
    uv_timer_t drain_timer;
    hr_route_t routes[HR_ROUTES_MAX];
    size_t nroutes;
    struct {
        hr_release_fn fn;
        void *ud;
    } releases[HR_RELEASES_MAX];
    size_t nreleases;
    int shutting_down; /* /healthz answers 503 from the signal on */
    int draining;      /* closing clients spread over drain_ms; still serving */
    uint64_t drain_start_ms;
    size_t drain_planned, drain_closed; /* streams at the signal; closed so far */
    struct hr_conn *drain_cursor;       /* where the drain goes on in the list */
    uint64_t drain_gauge, drain_closes; /* herald_draining, herald_drain_closes_total */
    int listening;                      /* HTTP listener accepting */
    int state_armed;                    /* the state file is saved at a clean stop (app/state.c) */
    uint64_t limit_url;                 /* requests refused past max_url_bytes */
} hr_server_t;

/* The app state of L with its net state (at most max_conns clients); sets
 * L->app and the registry's delivery. */
hr_server_t *hr_server_new(hr_loop_t *L, size_t max_conns);

/* Route GET path to open (app/router.c answers /healthz and /metrics). */
void hr_server_route(hr_server_t *s, const char *path, hr_open_fn open);

/* Route every request for path, whatever its method, to fn. */
void hr_server_route_request(hr_server_t *s, const char *path, hr_request_route_fn fn, void *ud);

/* fn runs in each check phase right after ingest released its frames, so
 * that a publisher other than ingest (the publish API) keeps ingest's order
 * across publishers (PROTOCOL.md 1.5), and once more at shutdown (stopping
 * 1) after ingest's last release and before the broker stops. */
void hr_server_on_release(hr_server_t *s, hr_release_fn fn, void *ud);

/* Listen on hr_app_cfg.listen (or on listen when not NULL) and start the
 * loop's handles; 0 or a negative libuv error (logged). */
int hr_server_start(hr_server_t *s, const char *listen);

/* Listen on the port of first, which started (hr_server_start) with
 * workers > 1: another loop's own listener on it (SO_REUSEPORT). */
int hr_server_start_beside(hr_server_t *s, const hr_server_t *first);

/* Listener tags (net/conn.h listener_tag). */
enum { HR_LISTENER_MAIN, HR_LISTENER_METRICS };

/* The port the listener is bound to (after start). */
int hr_server_port(const hr_server_t *s);

/* Begin a graceful shutdown (signals call it). With drain_ms, /healthz
 * answers 503 at once, new streams are refused, publishes still go out, and
 * the streams are closed one by one spread over drain_ms (each as its
 * transport says: SSE with a retry: hint); at its end the publishers are
 * stopped, the state file is written, and the last clients are closed.
 * Called again during the drain (a second signal), it ends the drain now.
 * Without drain_ms (or before the relay listens), all of that at once. */
void hr_server_shutdown(hr_server_t *s, const char *why);

/* 1 when the relay takes clients and publishers: /healthz. */
int hr_server_ready(const hr_server_t *s);

/* After the loop ended. */
void hr_server_free(hr_server_t *s);

/* SIGTERM, SIGINT and SIGHUP come through a signalfd that every loop's
 * server polls (whoever reads a signal tells every loop), not through an
 * asynchronous handler: before any thread starts, main blocks them (every
 * thread inherits that) and opens it here. 0, or -1 (errno). */
int hr_server_signals_init(void);
void hr_server_signals_free(void);

/* The request handler of the net layer (app/router.c). */
void hr_route(struct hr_conn *c, const hr_http_request_t *req, uint8_t *rest, size_t rest_len);

/* The app's own metrics (version, uptime): registered first. */
void hr_app_metrics(hr_loop_t *L);

/* Answer GET /metrics on c with every loop's registry added up (workers >
 * 1; app/loops.h): later, once each loop rendered its own. */
void hr_metrics_gather(struct hr_conn *c);

/* Several loops' expositions as one: samples of the same name and labels
 * summed (or, for the few that every loop holds alike, the largest). */
char *hr_metrics_merge(const char *const *texts, size_t n, size_t *len);

#endif
