/* SPDX-License-Identifier: MIT
 * pusher.h: what the Pusher front's parts share (Contract 6): its settings,
 * and the sink through which the WebSocket front reports the events that
 * webhooks announce, without knowing the module that sends them (hooks/
 * webhooks.c registers itself as net->pusher_sink). The front is on when
 * pusher_app_id, pusher_key and pusher_secret are all set. One app per
 * relay. */
#ifndef HR_PUSHER_H
#define HR_PUSHER_H

#include "base/common.h"
#include "base/opt.h"

struct hr_net;

typedef struct hr_pusher_cfg {
    char *app_id, *key, *secret, *secret_file;
    long activity_timeout;       /* s: a silent client is pinged after this */
    long pong_timeout;           /* s: and closed (4201) when no answer came within this */
    long max_event_bytes;        /* data of one event (HTTP API, client events) */
    long client_events_per_sec;  /* per connection */
    long max_channels_per_event; /* HTTP API */
    long max_batch;              /* HTTP API batch_events */
    long timestamp_window;       /* s: HTTP API auth_timestamp tolerance */
    char *webhook_url;           /* http://host:port/path, or empty */
    long webhook_fastcgi;        /* 1: also through the app's FastCGI pool */
    char *webhook_uri;           /* REQUEST_URI of a FastCGI webhook */
    char *webhook_script;        /* SCRIPT_FILENAME of one; empty: app_script */
    char *webhook_events;        /* comma-separated names */
} hr_pusher_cfg_t;

extern hr_pusher_cfg_t hr_pusher_cfg;
extern const hr_opt_group_t hr_pusher_options;

/* 1 if the front is configured. */
int hr_pusher_enabled(void);

/* Where webhook events go (hooks/webhooks.c). Slices valid during the call
 * only; p NULL: absent. name: "client_event", ... */
typedef struct hr_pusher_sink {
    void *ud;
    void (*event)(void *ud, const char *name, hr_slice_t channel, hr_slice_t event, hr_slice_t data,
                  hr_slice_t socket_id, hr_slice_t user_id);
} hr_pusher_sink_t;

/* Report a webhook event through net->pusher_sink, if one is registered. */
void hr_pusher_webhook(struct hr_net *net, const char *name, hr_slice_t channel, hr_slice_t event,
                       hr_slice_t data, hr_slice_t socket_id, hr_slice_t user_id);

#endif
