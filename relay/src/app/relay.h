/* SPDX-License-Identifier: MIT
 * relay.h: the relay's process-wide state: the loop and its handles, the
 * channel registry, the id space, the connection lists. One loop, one
 * thread; every module reaches the state through hr_relay. */
#ifndef HR_RELAY_H
#define HR_RELAY_H

#include "core/chan.h"
#include "net/conn.h"

#include <uv.h>

#define HR_READ_BUF (64 * 1024)

typedef struct hr_relay {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t sweep;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t shutdown_timer;
    hr_chans_t chans;
    char boot[17]; /* id prefix: this process's start, hex ms since the epoch */
    size_t boot_len;
    uint64_t seq;           /* last id handed out */
    uint64_t poll_start_ns; /* uv_hrtime() just before the loop last polled */
    uint64_t start_ns;
    hr_conn_t *conns;      /* every client connection */
    hr_conn_t *flush_list; /* connections with output to write this turn */
    size_t nconns;
    size_t max_conns;
    int shutting_down;
    int listening;             /* HTTP listener accepting */
    int ingest_ready;          /* ingest socket accepting */
    char readbuf[HR_READ_BUF]; /* lent to whichever connection is reading */
} hr_relay_t;

extern hr_relay_t hr_relay;

static inline uint64_t hr_now_ms(void)
{
    return uv_now(hr_relay.loop);
}

/* Format the id of message seq ("<boot>-<seq>") into out (>= 40 bytes). */
size_t hr_relay_format_id(char *out, uint64_t seq);

/* Parse an id; returns 1 and sets *seq when it is one of ours (this boot),
 * 0 when foreign or malformed. */
int hr_relay_parse_id(const char *id, size_t len, uint64_t *seq);

/* Start the HTTP listener; returns 0 or a negative libuv error. */
int hr_server_start(void);

/* Begin a graceful shutdown (signals call it). */
void hr_relay_shutdown(const char *why);

#endif
