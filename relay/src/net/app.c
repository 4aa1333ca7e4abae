/* SPDX-License-Identifier: MIT
 * app.c: what the relay keeps of a connection the application knows
 * (net/app.h). Ids are "<relay>.<n>": the relay part is drawn at random
 * once per process (hr_relay_id), so that ids of different relays (and runs) never meet
 * and herald_send can name a connection anywhere in a cluster; delivery to
 * it is the broker's, on the connection's internal channel. */
#include "net/app.h"
#include "base/alloc.h"
#include "base/log.h"
#include "codec/channel_name.h"
#include "codec/frame.h"
#include "codec/token.h"
#include "core/presence.h"
#include "net/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_id;

int hr_user_valid(const char *name, size_t len)
{
    return len >= 1 && len <= HR_USER_MAX && hr_chan_name_valid(name, len);
}

static void on_close(void *ud, hr_conn_t *c)
{
    (void)ud;
    hr_conn_app_closed(c);
}

hr_conn_app_t *hr_conn_app(hr_conn_t *c)
{
    if (c->app)
        return c->app;
    hr_net_t *net = hr_conn_net(c);
    if (!net->app_records) {
        /* After the hooks' own close hook (registered at start): a
         * disconnect still finds the record. */
        net->app_records = 1;
        hr_net_add_close_hook(net, on_close, NULL);
    }
    hr_conn_app_t *a = hr_xcalloc(1, sizeof *a);
    a->refs = 1;
    a->conn = c;
    uint64_t n = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
    /* "<relay>.<n>", both decimal: the shape of a Pusher socket id
     * (^\d+\.\d+$, which Pusher's clients and libraries check), so one id
     * serves herald_send, the hooks and the Pusher front's socket_id. */
    a->id_len = (uint8_t)snprintf(a->id, sizeof a->id, "%lu.%llu", strtoul(hr_relay_id(), NULL, 16),
                                  (unsigned long long)n);
    c->app = a;
    return a;
}

/* "#c.<id>" or "#u.<user>": outside the channel alphabet, so no client can
 * subscribe to one. */
static size_t internal_name(char *out, char kind, const char *name, size_t len)
{
    out[0] = '#';
    out[1] = kind;
    out[2] = '.';
    memcpy(out + 3, name, len);
    return len + 3;
}

static void subscribe_user(hr_conn_t *c, hr_conn_app_t *a)
{
    char name[HR_USER_MAX + 4];
    size_t n = internal_name(name, 'u', a->user, a->user_len);
    hr_conn_subscribe(c, name, n, HR_TARGET_DIRECT);
}

int hr_conn_app_set_user(hr_conn_t *c, const char *user, size_t len)
{
    if (!hr_user_valid(user, len))
        return -1;
    hr_conn_app_t *a = hr_conn_app(c);
    if (a->user_len == len && memcmp(a->user, user, len) == 0)
        return 0;
    if (a->attached && a->user_len) {
        char name[HR_USER_MAX + 4];
        hr_conn_unsubscribe(c, name, internal_name(name, 'u', a->user, a->user_len));
    }
    memcpy(a->user, user, len);
    a->user[len] = '\0';
    a->user_len = (uint8_t)len;
    if (a->attached)
        subscribe_user(c, a);
    return 0;
}

void hr_conn_app_token_user(hr_conn_t *c, const hr_token_t *claims)
{
    if (claims == NULL || claims->sub.p == NULL || (c->app && c->app->user_len))
        return;
    if (hr_conn_app_set_user(c, claims->sub.p, claims->sub.len) != 0)
        hr_log(HR_LOG_DEBUG, "client %p: token sub is not a user name: ignored", (void *)c);
}

void hr_conn_app_attach(hr_conn_t *c)
{
    hr_conn_app_t *a = hr_conn_app(c);
    if (a->attached || c->closing)
        return;
    a->attached = 1;
    char name[HR_CONN_ID_MAX + 4];
    hr_conn_subscribe(c, name, internal_name(name, 'c', a->id, a->id_len), HR_TARGET_DIRECT);
    if (a->user_len)
        subscribe_user(c, a);
}

static hr_grant_t *find_grant(const hr_conn_app_t *a, const char *ch, size_t len)
{
    for (hr_grant_t *g = a ? a->grants : NULL; g; g = g->next)
        if (g->len == len && memcmp(g->name, ch, len) == 0)
            return g;
    return NULL;
}

void hr_conn_app_grant(hr_conn_t *c, hr_slice_t ch, hr_slice_t info)
{
    hr_conn_app_t *a = hr_conn_app(c);
    hr_grant_t *g = find_grant(a, ch.p, ch.len);
    if (g == NULL) {
        g = hr_xcalloc(1, sizeof *g + ch.len);
        memcpy(g->name, ch.p, ch.len);
        g->len = ch.len;
        g->next = a->grants;
        a->grants = g;
    }
    free(g->info);
    g->info = info.p ? hr_xstrndup(info.p, info.len) : NULL;
    g->info_len = info.p ? info.len : 0;
}

int hr_conn_app_granted(const hr_conn_t *c, const char *ch, size_t len)
{
    return find_grant(c->app, ch, len) != NULL;
}

void hr_conn_app_joined(hr_conn_t *c, const char *ch, size_t len)
{
    hr_conn_app_t *a = c->app;
    hr_loop_t *L = hr_conn_loop(c);
    if (a == NULL || a->user_len == 0 || L->presence == NULL || !hr_presence_is(ch, len))
        return;
    hr_grant_t *g = find_grant(a, ch, len);
    if (g == NULL) {
        hr_conn_app_grant(c, (hr_slice_t){ch, len}, (hr_slice_t){NULL, 0});
        g = find_grant(a, ch, len);
    }
    if (g->joined)
        return;
    g->joined = 1;
    hr_presence_add(L->presence, (hr_slice_t){ch, len}, (hr_slice_t){a->user, a->user_len},
                    (hr_slice_t){g->info, g->info_len});
}

static void leave(hr_loop_t *L, hr_conn_app_t *a, hr_grant_t *g)
{
    if (!g->joined)
        return;
    g->joined = 0;
    if (L->presence)
        hr_presence_remove(L->presence, (hr_slice_t){g->name, g->len},
                           (hr_slice_t){a->user, a->user_len});
}

void hr_conn_app_left(hr_conn_t *c, const char *ch, size_t len)
{
    hr_grant_t *g = find_grant(c->app, ch, len);
    if (g)
        leave(hr_conn_loop(c), c->app, g);
}

size_t hr_conn_app_channels(const hr_conn_t *c)
{
    size_t n = hr_chan_count(c->subs);
    const hr_conn_app_t *a = c->app;
    if (a && a->attached)
        n -= 1 + (a->user_len > 0);
    return n;
}

hr_conn_app_t *hr_conn_app_ref(hr_conn_app_t *a)
{
    a->refs++;
    return a;
}

void hr_conn_app_unref(hr_conn_app_t *a)
{
    if (a == NULL || --a->refs)
        return;
    while (a->grants) {
        hr_grant_t *g = a->grants;
        a->grants = g->next;
        free(g->info);
        free(g);
    }
    free(a);
}

void hr_conn_app_closed(hr_conn_t *c)
{
    hr_conn_app_t *a = c->app;
    if (a == NULL)
        return;
    hr_loop_t *L = hr_conn_loop(c);
    for (hr_grant_t *g = a->grants; g; g = g->next)
        leave(L, a, g);
    a->conn = NULL;
    c->app = NULL;
    hr_conn_app_unref(a);
}
