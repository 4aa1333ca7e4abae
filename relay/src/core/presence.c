/* SPDX-License-Identifier: MIT
 * presence.c: the common part of presence (presence.h) and the local
 * backend. The table holds this relay's members: channel -> user -> tabs
 * here, the last tab's info, and the deadline of a pending leave. A user's
 * last tab starts the leave delay; a tab within it cancels the leave (a
 * reload: no leave, no join). Pending leaves are kept in deadline order (the
 * delay is one setting, so a new one always goes last) under one timer set
 * to the first: the app's sweep ticks once a second, too coarse for a
 * two-second delay. The local backend is the whole cluster: a first tab
 * here is the first anywhere (join), a leave here is the last (leave). */
#include "core/presence.h"
#include "codec/json_str.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/utf8.h"
#include "codec/channel_name.h"
#include "codec/json_check.h"
#include "codec/token.h"
#include "core/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

hr_presence_cfg_t hr_presence_cfg;

static const hr_opt_t opts[] = {
    {"presence_prefixes", HR_OPT_STR, &hr_presence_cfg.prefixes, 0, 0, "presence-",
     "channel prefixes (comma-separated) of presence channels"},
    {"presence_leave_ms", HR_OPT_LONG, &hr_presence_cfg.leave_ms, 0, 600000, "2000",
     "a user's leave waits this long after the last tab (a reload is no leave)"},
    {"presence_ttl_ms", HR_OPT_LONG, &hr_presence_cfg.ttl_ms, 1000, 3600000, "15000",
     "cluster mode: a dead relay's members expire after this long"},
};

const hr_opt_group_t hr_presence_options = {opts, sizeof opts / sizeof opts[0], NULL};

const char *hr_relay_id(void)
{
    static char id[9];
    if (id[0] == '\0') {
        uint64_t k[2];
        hr_hash_random_key(k);
        snprintf(id, sizeof id, "%08x", (unsigned)(k[0] ^ (k[0] >> 32) ^ k[1]));
    }
    return id;
}

int hr_presence_is(const char *name, size_t len)
{
    return hr_token_is_private(hr_presence_cfg.prefixes, name, len);
}

/* ---- JSON ---- */

int hr_presence_info_ok(hr_slice_t info)
{
    return info.len > 0 && info.len <= HR_PRESENCE_INFO_MAX &&
           hr_utf8_valid((const uint8_t *)info.p, info.len) &&
           hr_json_check(info.p, info.len, NULL) == NULL;
}

/* s as a JSON string (codec/json_str.h). Users are the channel alphabet,
 * but nothing here relies on it. */
static size_t put_string(char *o, hr_slice_t s)
{
    return hr_json_str(o, s.p, s.len);
}

static size_t put_raw(char *o, const char *s, size_t len)
{
    memcpy(o, s, len);
    return len;
}

#define PUT_LIT(o, s) put_raw(o, s, sizeof s - 1)

static size_t put_info(char *o, hr_slice_t info)
{
    if (!hr_presence_info_ok(info))
        return PUT_LIT(o, "null");
    return put_raw(o, info.p, info.len);
}

static size_t info_room(hr_slice_t info)
{
    return info.len > 4 ? info.len : 4;
}

static int entry_cmp(const void *a, const void *b)
{
    const hr_presence_entry_t *x = a, *y = b;
    size_t n = x->user.len < y->user.len ? x->user.len : y->user.len;
    int c = n ? memcmp(x->user.p, y->user.p, n) : 0;
    if (c)
        return c;
    return x->user.len < y->user.len ? -1 : x->user.len > y->user.len;
}

char *hr_presence_json(hr_presence_entry_t *u, size_t n, size_t *len)
{
    size_t room = 2;
    for (size_t i = 0; i < n; i++)
        room += 20 + HR_JSON_STR_ROOM(u[i].user.len) + info_room(u[i].info);
    if (n > 1)
        qsort(u, n, sizeof *u, entry_cmp);
    char *o = hr_xmalloc(room);
    size_t w = 0;
    o[w++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            o[w++] = ',';
        w += PUT_LIT(o + w, "{\"user\":");
        w += put_string(o + w, u[i].user);
        w += PUT_LIT(o + w, ",\"info\":");
        w += put_info(o + w, u[i].info);
        o[w++] = '}';
    }
    o[w++] = ']';
    *len = w;
    return o;
}

/* ---- publishing ---- */

static void on_published(void *ud, const char *id, size_t idlen, const char *err)
{
    hr_presence_t *p = ud;
    if (err) {
        p->unpublished++;
        hr_log(HR_LOG_WARN, "presence: join/leave not published: %s", err);
    }
}

void hr_presence_publish(hr_presence_t *p, enum hr_presence_kind kind, hr_slice_t ch,
                         hr_slice_t user, hr_slice_t info)
{
    hr_broker_t *b = p->loop->broker;
    size_t room = 40 + HR_JSON_STR_ROOM(ch.len) + HR_JSON_STR_ROOM(user.len) + info_room(info);
    char *data = hr_xmalloc(room);
    size_t w = 0;
    w += PUT_LIT(data + w, "{\"channel\":");
    w += put_string(data + w, ch);
    w += PUT_LIT(data + w, ",\"user\":");
    w += put_string(data + w, user);
    w += PUT_LIT(data + w, ",\"info\":");
    w += put_info(data + w, info);
    data[w++] = '}';
    const char *ev = kind == HR_PRESENCE_JOIN ? "herald.join" : "herald.leave";
    hr_publish_t pub = {
        .target = HR_TARGET_PRESENCE,
        .json = 1,
        .event = {ev, strlen(ev)},
        .data = {data, w},
        .channels = &ch,
        .nchannels = 1,
    };
    if (kind == HR_PRESENCE_JOIN)
        p->joins++;
    else
        p->leaves++;
    if (kind == HR_PRESENCE_EXPIRED)
        p->expired++;
    hr_log(HR_LOG_DEBUG, "presence: %s %.*s on %.*s", ev, (int)user.len, user.p, (int)ch.len, ch.p);
    b->ops->publish(b, &pub, on_published, p);
    free(data);
    if (p->observer)
        p->observer(p->observer_ud, kind == HR_PRESENCE_JOIN, ch, user);
}

void hr_presence_observe(hr_presence_t *p, hr_presence_observer_fn fn, void *ud)
{
    p->observer = fn;
    p->observer_ud = ud;
}

/* ---- the table ---- */

static int chan_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const hr_pchan_t *c = hr_container_of(n, hr_pchan_t, node);
    return c->name_len == len && memcmp(c->name, key, len) == 0;
}

static int member_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const hr_pmember_t *m = hr_container_of(n, hr_pmember_t, node);
    return m->user_len == len && memcmp(m->user, key, len) == 0;
}

static hr_pchan_t *chan_find(hr_presence_t *p, hr_slice_t ch)
{
    hr_hnode_t *n = hr_htab_find(&p->chans, hr_hash(ch.p, ch.len), ch.p, ch.len, chan_eq);
    return n ? hr_container_of(n, hr_pchan_t, node) : NULL;
}

hr_pmember_t *hr_presence_find(hr_presence_t *p, hr_slice_t ch, hr_slice_t user)
{
    hr_pchan_t *c = chan_find(p, ch);
    if (c == NULL)
        return NULL;
    hr_hnode_t *n = hr_htab_find(&c->users, hr_hash(user.p, user.len), user.p, user.len, member_eq);
    return n ? hr_container_of(n, hr_pmember_t, node) : NULL;
}

static hr_pmember_t *member_new(hr_presence_t *p, hr_slice_t ch, hr_slice_t user)
{
    hr_pchan_t *c = chan_find(p, ch);
    if (c == NULL) {
        c = hr_xcalloc(1, sizeof *c + ch.len + 1);
        memcpy(c->name, ch.p, ch.len);
        c->name_len = ch.len;
        hr_htab_init(&c->users, 8);
        hr_htab_add(&p->chans, &c->node, hr_hash(ch.p, ch.len));
    }
    hr_pmember_t *m = hr_xcalloc(1, sizeof *m + user.len + 1);
    memcpy(m->user, user.p, user.len);
    m->user_len = user.len;
    m->ch = c;
    hr_htab_add(&c->users, &m->node, hr_hash(user.p, user.len));
    return m;
}

/* Free a member taken out of its channel's table (a channel left empty
 * goes too). */
static void member_drop(hr_presence_t *p, hr_pmember_t *m)
{
    hr_pchan_t *c = m->ch;
    free(m->info);
    free(m);
    if (c->users.count == 0) {
        hr_htab_del(&p->chans, &c->node);
        hr_htab_free(&c->users);
        free(c);
    }
}

/* Keep info as the member's; 1 if it changed. */
static int set_info(hr_pmember_t *m, hr_slice_t info)
{
    if (!hr_presence_info_ok(info))
        info.len = 0;
    if (info.len == m->info_len && (info.len == 0 || memcmp(info.p, m->info, info.len) == 0))
        return 0;
    free(m->info);
    m->info = info.len ? hr_xstrndup(info.p, info.len) : NULL;
    m->info_len = info.len;
    return 1;
}

void hr_presence_each(hr_presence_t *p, void (*fn)(void *ud, hr_pmember_t *m), void *ud)
{
    size_t cb = 0;
    for (hr_hnode_t *cn = hr_htab_next(&p->chans, &cb, NULL); cn;
         cn = hr_htab_next(&p->chans, &cb, cn)) {
        hr_pchan_t *c = hr_container_of(cn, hr_pchan_t, node);
        size_t ub = 0;
        for (hr_hnode_t *un = hr_htab_next(&c->users, &ub, NULL); un;
             un = hr_htab_next(&c->users, &ub, un))
            fn(ud, hr_container_of(un, hr_pmember_t, node));
    }
}

/* ---- pending leaves ---- */

static void on_leave_timer(uv_timer_t *t);

static void pending_unlink(hr_presence_t *p, hr_pmember_t *m)
{
    if (m->lprev)
        m->lprev->lnext = m->lnext;
    else
        p->pending_head = m->lnext;
    if (m->lnext)
        m->lnext->lprev = m->lprev;
    else
        p->pending_tail = m->lprev;
    m->lprev = m->lnext = NULL;
    m->leave_at = 0;
}

static void pending_append(hr_presence_t *p, hr_pmember_t *m, uint64_t at)
{
    m->leave_at = at;
    m->lprev = p->pending_tail;
    m->lnext = NULL;
    if (p->pending_tail)
        p->pending_tail->lnext = m;
    else
        p->pending_head = m;
    p->pending_tail = m;
}

/* The timer follows the first pending deadline. */
static void rearm(hr_presence_t *p)
{
    if (p->stopped)
        return;
    hr_pmember_t *h = p->pending_head;
    if (h == NULL) {
        if (p->timer_at)
            uv_timer_stop(&p->leave_timer);
        p->timer_at = 0;
        return;
    }
    if (p->timer_at == h->leave_at)
        return;
    uint64_t now = hr_loop_now_ms(p->loop);
    p->timer_at = h->leave_at;
    uv_timer_start(&p->leave_timer, on_leave_timer, h->leave_at > now ? h->leave_at - now : 0, 0);
}

/* Every leave due by now goes to the backend. The member leaves the table
 * first: should a publish bring its user back at once, that is a new
 * member, not this one freed under it. */
static void fire_due(hr_presence_t *p, uint64_t now)
{
    hr_pmember_t *m;
    while ((m = p->pending_head) != NULL && m->leave_at <= now) {
        pending_unlink(p, m);
        hr_htab_del(&m->ch->users, &m->node);
        p->ops->gone(p, m);
        member_drop(p, m);
    }
}

static void on_leave_timer(uv_timer_t *t)
{
    hr_presence_t *p = t->data;
    p->timer_at = 0;
    fire_due(p, hr_loop_now_ms(p->loop));
    rearm(p);
}

/* ---- the interface ---- */

void hr_presence_init(hr_presence_t *p, const hr_presence_ops_t *ops, hr_loop_t *L)
{
    p->ops = ops;
    p->loop = L;
    memcpy(p->relay_id, hr_relay_id(), sizeof p->relay_id);
    hr_htab_init(&p->chans, 64);
    uv_timer_init(L->uv, &p->leave_timer);
    p->leave_timer.data = p;
    L->presence = p;
    hr_metrics_t *reg = &L->metrics;
    hr_metrics_add(reg, "herald_presence_members", HR_GAUGE,
                   "Presence members (user and channel) with a tab on this relay.", NULL,
                   &p->here_users);
    hr_metrics_add(reg, "herald_presence_joins_total", HR_COUNTER,
                   "Presence joins this relay published.", NULL, &p->joins);
    hr_metrics_add(reg, "herald_presence_leaves_total", HR_COUNTER,
                   "Presence leaves this relay published (expired ones included).", NULL,
                   &p->leaves);
    hr_metrics_add(reg, "herald_presence_expired_total", HR_COUNTER,
                   "Presence leaves this relay published for members of relays that stopped "
                   "refreshing them (cluster mode).",
                   NULL, &p->expired);
    hr_metrics_add(reg, "herald_presence_unpublished_total", HR_COUNTER,
                   "Presence joins and leaves the broker refused.", NULL, &p->unpublished);
}

void hr_presence_deinit(hr_presence_t *p)
{
    size_t b = 0;
    hr_hnode_t *cn = hr_htab_next(&p->chans, &b, NULL);
    while (cn) {
        hr_hnode_t *cnext = hr_htab_next(&p->chans, &b, cn);
        hr_pchan_t *c = hr_container_of(cn, hr_pchan_t, node);
        size_t ub = 0;
        hr_hnode_t *un = hr_htab_next(&c->users, &ub, NULL);
        while (un) {
            hr_hnode_t *unext = hr_htab_next(&c->users, &ub, un);
            hr_pmember_t *m = hr_container_of(un, hr_pmember_t, node);
            free(m->info);
            free(m);
            un = unext;
        }
        hr_htab_free(&c->users);
        free(c);
        cn = cnext;
    }
    hr_htab_free(&p->chans);
    p->pending_head = p->pending_tail = NULL;
}

static int names_ok(hr_slice_t ch, hr_slice_t user)
{
    return ch.len > 0 && ch.len <= HR_CHANNEL_MAX && user.len > 0 &&
           user.len <= HR_PRESENCE_USER_MAX;
}

void hr_presence_add(hr_presence_t *p, hr_slice_t ch, hr_slice_t user, hr_slice_t info)
{
    if (p->stopped || !names_ok(ch, user))
        return;
    hr_pmember_t *m = hr_presence_find(p, ch, user);
    int first = m == NULL;
    if (first)
        m = member_new(p, ch, user);
    if (m->tabs == 0) {
        p->here_users++;
        if (m->leave_at) {
            /* A reload: the tab came back within the delay. */
            pending_unlink(p, m);
            rearm(p);
        }
    }
    m->tabs++;
    int changed = set_info(m, info);
    if (first)
        p->ops->here(p, m, 1);
    else if (changed)
        p->ops->here(p, m, 0);
}

void hr_presence_remove(hr_presence_t *p, hr_slice_t ch, hr_slice_t user)
{
    if (p->stopped)
        return;
    hr_pmember_t *m = hr_presence_find(p, ch, user);
    if (m == NULL || m->tabs == 0)
        return;
    if (--m->tabs > 0)
        return;
    p->here_users--;
    long d = hr_presence_cfg.leave_ms > 0 ? hr_presence_cfg.leave_ms : 0;
    pending_append(p, m, hr_loop_now_ms(p->loop) + (uint64_t)d);
    rearm(p);
}

void hr_presence_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud)
{
    p->ops->members(p, ch, fn, ud);
}

void hr_presence_forget(hr_presence_t *p, void *ud)
{
    if (p->ops->forget)
        p->ops->forget(p, ud);
}

void hr_presence_sweep(hr_presence_t *p, uint64_t now_ms)
{
    if (p->stopped)
        return;
    /* The timer does this on time; the sweep only covers a timer that has
     * not run yet in this turn. */
    fire_due(p, now_ms);
    rearm(p);
    if (p->ops->sweep)
        p->ops->sweep(p, now_ms);
}

void hr_presence_stop(hr_presence_t *p)
{
    if (p->stopped)
        return;
    p->stopped = 1;
    uv_timer_stop(&p->leave_timer);
    uv_close((uv_handle_t *)&p->leave_timer, NULL);
    p->ops->stop(p);
}

void hr_presence_free(hr_presence_t *p)
{
    if (p)
        p->ops->free(p);
}

/* ---- the local backend ---- */

static void local_here(hr_presence_t *p, hr_pmember_t *m, int first)
{
    if (first)
        hr_presence_publish(p, HR_PRESENCE_JOIN, (hr_slice_t){m->ch->name, m->ch->name_len},
                            (hr_slice_t){m->user, m->user_len}, (hr_slice_t){m->info, m->info_len});
}

static void local_gone(hr_presence_t *p, const hr_pmember_t *m)
{
    hr_presence_publish(p, HR_PRESENCE_LEAVE, (hr_slice_t){m->ch->name, m->ch->name_len},
                        (hr_slice_t){m->user, m->user_len}, (hr_slice_t){m->info, m->info_len});
}

/* The members of p's channel ch as JSON (hr_presence_json), malloc'd. */
static char *members_json(hr_presence_t *p, hr_slice_t ch, size_t *len)
{
    hr_pchan_t *c = chan_find(p, ch);
    size_t n = c ? c->users.count : 0, k = 0;
    hr_presence_entry_t *u = hr_xmalloc((n ? n : 1) * sizeof *u);
    size_t b = 0;
    for (hr_hnode_t *un = c ? hr_htab_next(&c->users, &b, NULL) : NULL; un;
         un = hr_htab_next(&c->users, &b, un)) {
        hr_pmember_t *m = hr_container_of(un, hr_pmember_t, node);
        u[k++] = (hr_presence_entry_t){{m->user, m->user_len}, {m->info, m->info_len}};
    }
    char *json = hr_presence_json(u, k, len);
    free(u);
    return json;
}

static void local_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud)
{
    size_t len;
    char *json = members_json(p, ch, &len);
    fn(ud, json, len, NULL);
    free(json);
}

/* The relay's memory goes with it: every member leaves now, so that
 * clients (and the history a state file keeps) see no one stay behind. */
static void leave_all(hr_presence_t *p)
{
    size_t b = 0;
    hr_hnode_t *cn = hr_htab_next(&p->chans, &b, NULL);
    while (cn) {
        hr_hnode_t *cnext = hr_htab_next(&p->chans, &b, cn);
        hr_pchan_t *c = hr_container_of(cn, hr_pchan_t, node);
        size_t ub = 0;
        hr_hnode_t *un = hr_htab_next(&c->users, &ub, NULL);
        while (un) {
            hr_hnode_t *unext = hr_htab_next(&c->users, &ub, un);
            hr_pmember_t *m = hr_container_of(un, hr_pmember_t, node);
            if (m->leave_at)
                pending_unlink(p, m);
            if (m->tabs)
                p->here_users--;
            hr_htab_del(&c->users, &m->node);
            p->ops->gone(p, m);
            int last = c->users.count == 0;
            member_drop(p, m); /* frees c with its last member */
            if (last)
                break;
            un = unext;
        }
        cn = cnext;
    }
}

static void local_stop(hr_presence_t *p)
{
    leave_all(p);
}

static void local_free(hr_presence_t *p)
{
    hr_presence_deinit(p);
    free(p);
}

static const hr_presence_ops_t local_ops = {
    .name = "local",
    .here = local_here,
    .gone = local_gone,
    .members = local_members,
    .stop = local_stop,
    .free = local_free,
};

hr_presence_t *hr_presence_local_new(hr_loop_t *L)
{
    hr_presence_t *p = hr_xcalloc(1, sizeof *p);
    hr_presence_init(p, &local_ops, L);
    return p;
}

/* ---- the shared backend: the loops of one relay (workers > 1) ----
 *
 * Each loop counts its own tabs (the common part above, with its leave
 * delay); what the Redis backend does across relays is done here across
 * loops, under one lock: a table with, per member, the number of loops
 * where it is here. The join is published by the loop that brings it to
 * one, the leave by the one that brings it to zero, each after the lock
 * (a publish delivers on the loop, which must not wait for itself). */

struct hr_presence_shared {
    pthread_mutex_t lock;
    hr_presence_t table; /* chans and members only; tabs = loops */
};

hr_presence_shared_t *hr_presence_shared_new(void)
{
    hr_presence_shared_t *s = hr_xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    hr_htab_init(&s->table.chans, 64);
    return s;
}

void hr_presence_shared_free(hr_presence_shared_t *s)
{
    if (s == NULL)
        return;
    hr_presence_deinit(&s->table);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

typedef struct shared_loop {
    hr_presence_t p; /* first */
    hr_presence_shared_t *s;
} shared_loop_t;

static void shared_here(hr_presence_t *p, hr_pmember_t *m, int first)
{
    hr_presence_shared_t *s = ((shared_loop_t *)p)->s;
    hr_slice_t ch = {m->ch->name, m->ch->name_len}, user = {m->user, m->user_len};
    pthread_mutex_lock(&s->lock);
    hr_pmember_t *e = hr_presence_find(&s->table, ch, user);
    if (e == NULL)
        e = member_new(&s->table, ch, user);
    int join = first && e->tabs++ == 0;
    set_info(e, (hr_slice_t){m->info, m->info_len});
    pthread_mutex_unlock(&s->lock);
    if (join)
        hr_presence_publish(p, HR_PRESENCE_JOIN, ch, user, (hr_slice_t){m->info, m->info_len});
}

static void shared_gone(hr_presence_t *p, const hr_pmember_t *m)
{
    hr_presence_shared_t *s = ((shared_loop_t *)p)->s;
    hr_slice_t ch = {m->ch->name, m->ch->name_len}, user = {m->user, m->user_len};
    pthread_mutex_lock(&s->lock);
    hr_pmember_t *e = hr_presence_find(&s->table, ch, user);
    int leave = e != NULL && --e->tabs == 0;
    if (leave) {
        hr_htab_del(&e->ch->users, &e->node);
        member_drop(&s->table, e);
    }
    pthread_mutex_unlock(&s->lock);
    if (leave)
        hr_presence_publish(p, HR_PRESENCE_LEAVE, ch, user, (hr_slice_t){m->info, m->info_len});
}

static void shared_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud)
{
    hr_presence_shared_t *s = ((shared_loop_t *)p)->s;
    size_t len;
    pthread_mutex_lock(&s->lock);
    char *json = members_json(&s->table, ch, &len);
    pthread_mutex_unlock(&s->lock);
    fn(ud, json, len, NULL);
    free(json);
}

static const hr_presence_ops_t shared_ops = {
    .name = "shared",
    .here = shared_here,
    .gone = shared_gone,
    .members = shared_members,
    .stop = leave_all,
    .free = local_free,
};

hr_presence_t *hr_presence_shared_loop_new(hr_loop_t *L, hr_presence_shared_t *s)
{
    shared_loop_t *sl = hr_xcalloc(1, sizeof *sl);
    sl->s = s;
    hr_presence_init(&sl->p, &shared_ops, L);
    return &sl->p;
}
