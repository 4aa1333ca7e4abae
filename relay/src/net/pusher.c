/* SPDX-License-Identifier: MIT
 * pusher.c: the Pusher front's settings and webhook sink (pusher.h). */
#include "net/pusher.h"
#include "net/auth.h"
#include "net/net.h"

#include <stdio.h>
#include <string.h>

hr_pusher_cfg_t hr_pusher_cfg;

#define C(f) &hr_pusher_cfg.f
static const hr_opt_t opts[] = {
    {"pusher_app_id", HR_OPT_STR, C(app_id), 0, 0, "", "Pusher front: the app id (HTTP API path)"},
    {"pusher_key", HR_OPT_STR, C(key), 0, 0, "", "Pusher front: the app key (/app/{key})"},
    {"pusher_secret", HR_OPT_STR, C(secret), 0, 0, "",
     "Pusher front: the app secret (prefer pusher_secret_file)"},
    {"pusher_secret_file", HR_OPT_STR, C(secret_file), 0, 0, "",
     "Pusher front: a file holding the app secret"},
    {"pusher_activity_timeout", HR_OPT_LONG, C(activity_timeout), 10, 3600, "120",
     "Pusher front: seconds of silence before the relay pings a client"},
    {"pusher_pong_timeout", HR_OPT_LONG, C(pong_timeout), 1, 600, "30",
     "Pusher front: seconds a pinged client has to answer before it is closed (4201)"},
    {"pusher_max_event_bytes", HR_OPT_LONG, C(max_event_bytes), 256, 16 << 20, "10240",
     "Pusher front: largest event data (HTTP API, client events)"},
    {"pusher_client_events_per_sec", HR_OPT_LONG, C(client_events_per_sec), 0, 100000, "10",
     "Pusher front: client events a connection may send per second (0: none)"},
    {"pusher_max_channels_per_event", HR_OPT_LONG, C(max_channels_per_event), 1, 1000, "100",
     "Pusher HTTP API: channels of one event"},
    {"pusher_max_batch", HR_OPT_LONG, C(max_batch), 1, 1000, "10",
     "Pusher HTTP API: events of one batch_events"},
    {"pusher_timestamp_window", HR_OPT_LONG, C(timestamp_window), 1, 86400, "600",
     "Pusher HTTP API: seconds an auth_timestamp may be off (replay window)"},
    {"pusher_webhook_url", HR_OPT_STR, C(webhook_url), 0, 0, "",
     "Pusher webhooks: POST them to this http:// URL"},
    {"pusher_webhook_fastcgi", HR_OPT_LONG, C(webhook_fastcgi), 0, 1, "0",
     "Pusher webhooks: 1 to POST them through the app's FastCGI pool (app_fastcgi)"},
    {"pusher_webhook_uri", HR_OPT_STR, C(webhook_uri), 0, 0, "/pusher/webhook",
     "Pusher webhooks: REQUEST_URI of a FastCGI webhook"},
    {"pusher_webhook_script", HR_OPT_STR, C(webhook_script), 0, 0, "",
     "Pusher webhooks: SCRIPT_FILENAME of a FastCGI webhook (empty: app_script)"},
    {"pusher_webhook_events", HR_OPT_STR, C(webhook_events), 0, 0,
     "channel_occupied,channel_vacated,member_added,member_removed,client_event",
     "Pusher webhooks: which events are sent (comma-separated)"},
};
#undef C

static int check(char *err, size_t errlen)
{
    hr_pusher_cfg_t *cfg = &hr_pusher_cfg;
    if (hr_auth_read_secret("pusher_secret_file", cfg->secret_file, &cfg->secret, err, errlen) != 0)
        return -1;
    int set = (cfg->app_id[0] != '\0') + (cfg->key[0] != '\0') + (cfg->secret[0] != '\0');
    if (set != 0 && set != 3) {
        snprintf(err, errlen, "the Pusher front needs pusher_app_id, pusher_key and pusher_secret");
        return -1;
    }
    return 0;
}

const hr_opt_group_t hr_pusher_options = {opts, HR_ARRAY_SIZE(opts), check};

int hr_pusher_enabled(void)
{
    return hr_pusher_cfg.app_id && hr_pusher_cfg.app_id[0] != '\0';
}

void hr_pusher_webhook(hr_net_t *net, const char *name, hr_slice_t channel, hr_slice_t event,
                       hr_slice_t data, hr_slice_t socket_id, hr_slice_t user_id)
{
    if (net->pusher_sink && net->pusher_sink->event)
        net->pusher_sink->event(net->pusher_sink->ud, name, channel, event, data, socket_id,
                                user_id);
}
