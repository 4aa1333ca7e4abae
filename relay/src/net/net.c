/* SPDX-License-Identifier: MIT
 * net.c: a loop's net state (net.h): settings, transports, metrics. */
#include "net/net.h"
#include "net/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hr_net_cfg_t hr_net_cfg;

#define C(field) (&hr_net_cfg.field)
static const hr_opt_t opts[] = {
    {"ping_interval", HR_OPT_LONG, C(ping_interval), 1, 3600, "15",
     "heartbeat after N idle seconds (15)"},
    {"header_timeout", HR_OPT_LONG, C(header_timeout), 1, 3600, "10",
     "seconds to send a request (10)"},
    {"max_header_bytes", HR_OPT_LONG, C(max_header_bytes), 256, 1 << 20, "8192",
     "request head limit (8192)"},
    {"max_queued_bytes", HR_OPT_LONG, C(max_queued_bytes), 4096, 1L << 34, "1048576",
     "queued bytes before a slow subscriber is cut off (1048576)"},
    {"max_channels", HR_OPT_LONG, C(max_channels), 1, 100000, "64", "channels per connection (64)"},
    {"max_connections", HR_OPT_LONG, C(max_connections), 0, 100000000, "0",
     "client connections (0: from the descriptor limit)"},
    {"max_connections_per_ip", HR_OPT_LONG, C(max_connections_per_ip), 0, 100000000, "0",
     "client connections per address (0: no limit)"},
    {"tcp_user_timeout_ms", HR_OPT_LONG, C(tcp_user_timeout_ms), 0, 3600000, "60000",
     "ms a client may leave sent data unacknowledged before it counts as gone (60000)"},
    {"body_timeout", HR_OPT_LONG, C(body_timeout), 1, 3600, "30",
     "seconds to send a request body after its head (30)"},
    {"keepalive_timeout", HR_OPT_LONG, C(keepalive_timeout), 0, 3600, "30",
     "seconds an idle HTTP connection waits for its next request (30; 0: one per connection)"},
};
#undef C

const hr_opt_group_t hr_net_options = {opts, HR_ARRAY_SIZE(opts), NULL};

static const char *const auth_labels[HR_AUTH_COUNT] = {
    [HR_AUTH_NO_TOKEN] = "reason=\"no_token\"",   [HR_AUTH_INVALID] = "reason=\"invalid_token\"",
    [HR_AUTH_FORBIDDEN] = "reason=\"forbidden\"", [HR_AUTH_NO_SECRET] = "reason=\"no_secret\"",
    [HR_AUTH_ORIGIN] = "reason=\"origin\"",       [HR_AUTH_HANDOFF] = "reason=\"handoff\"",
};

void hr_net_share(hr_net_t *net, hr_net_t *first)
{
    net->ipl = first->ipl;
    net->total = first->total;
}

hr_net_t *hr_net_new(hr_loop_t *L, size_t max_conns, hr_request_fn on_request)
{
    hr_net_t *net = hr_xcalloc(1, sizeof *net);
    net->loop = L;
    net->max_conns = max_conns;
    net->on_request = on_request;
    hr_iplimit_init(&net->iplimit);
    net->ipl = &net->iplimit;
    net->total = &net->own_total;
    L->net = net;
    hr_metrics_t *reg = &L->metrics;
    hr_metrics_add(reg, "herald_connections_pending", HR_GAUGE,
                   "Client connections still sending their request.", NULL, &net->connections_http);
    hr_metrics_add(reg, "herald_connections_total", HR_COUNTER, "Client connections accepted.",
                   NULL, &net->connections_total);
    hr_metrics_add(reg, "herald_connections_rejected_total", HR_COUNTER,
                   "Client connections answered 503 because the table was full.", NULL,
                   &net->connections_rejected);
    hr_metrics_add(reg, "herald_connections_max", HR_GAUGE, "Client connections the relay accepts.",
                   NULL, &net->max_conns);
    hr_metrics_add(reg, "herald_bytes_out_total", HR_COUNTER, "Bytes written to clients.", NULL,
                   &net->bytes_out);
    hr_metrics_add(reg, "herald_slow_consumer_disconnects_total", HR_COUNTER,
                   "Subscribers cut off past max_queued_bytes.", NULL, &net->slow_consumers);
    hr_metrics_add(reg, "herald_http_errors_total", HR_COUNTER,
                   "Requests answered with 4xx or 5xx.", NULL, &net->http_errors);
    hr_metrics_add(reg, "herald_limit_hits_total", HR_COUNTER,
                   "Requests or connections refused by a limit.", "limit=\"connections_per_ip\"",
                   &net->limit_per_ip);
    hr_metrics_add(reg, "herald_limit_hits_total", HR_COUNTER,
                   "Requests or connections refused by a limit.", "limit=\"body_timeout\"",
                   &net->limit_body_timeout);
    for (int i = 0; i < HR_AUTH_COUNT; i++)
        hr_metrics_add(reg, "herald_auth_refused_total", HR_COUNTER,
                       "Subscriptions or upgrades refused, by reason.", auth_labels[i],
                       &net->auth_refused[i]);
    return net;
}

int hr_net_add_transport(hr_net_t *net, const hr_transport_t *t)
{
    if (net->ntransports == HR_TRANSPORT_MAX)
        abort(); /* a programming error */
    int i = (int)net->ntransports++;
    hr_tstats_t *st = &net->tstats[i];
    net->transports[i] = t;
    snprintf(st->label, sizeof st->label, "transport=\"%s\"", t->name);
    hr_metrics_t *reg = &net->loop->metrics;
    hr_metrics_add(reg, "herald_connections", HR_GAUGE, "Streaming client connections.", st->label,
                   &st->connections);
    hr_metrics_add(reg, "herald_messages_delivered_total", HR_COUNTER,
                   "Messages queued to subscribers (one per subscriber).", st->label,
                   &st->delivered);
    net->tdata[i] = t->init ? t->init(net, i) : NULL;
    return i;
}

int hr_net_transport(const hr_net_t *net, const char *name)
{
    for (size_t i = 0; i < net->ntransports; i++)
        if (strcmp(net->transports[i]->name, name) == 0)
            return (int)i;
    return -1;
}

void hr_net_add_close_hook(hr_net_t *net, hr_close_fn fn, void *ud)
{
    if (net->nclose_hooks == HR_ARRAY_SIZE(net->close_hooks))
        abort(); /* a programming error */
    net->close_hooks[net->nclose_hooks].fn = fn;
    net->close_hooks[net->nclose_hooks].ud = ud;
    net->nclose_hooks++;
}

void hr_net_free(hr_net_t *net)
{
    for (size_t i = 0; i < net->ntransports; i++)
        if (net->transports[i]->fini)
            net->transports[i]->fini(net, net->tdata[i]);
    hr_iplimit_free(&net->iplimit);
    if (net->last.buf)
        hr_buf_unref(net->last.buf);
    if (net->loop->net == net)
        net->loop->net = NULL;
    free(net);
}
