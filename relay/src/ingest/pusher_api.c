/* SPDX-License-Identifier: MIT
 * pusher_api.c: the Pusher HTTP API (pusher_api.h). A request goes through
 * these steps, each of which may refuse it with Pusher's status and a text
 * body, a counter and a debug line (never 200):
 *
 *   head    the path and app id (404), the method (405), the query (400),
 *           the signature: key, timestamp window, version, HMAC (401), all
 *           before any body byte is read: body_md5 is a signed parameter;
 *   body    framing and size (400, 411, 413), its MD5 (401), the JSON and
 *           the limits (400, 413): every event of a batch is checked before
 *           any is published;
 *   queue   stamped with the time the body was complete, released in the
 *           check phase after ingest's frames up to that time (as POST
 *           /publish, ingest/http_publish.c);
 *   broker  each event published in order, target ALL, except the
 *           socket_id's connection; then the info asked for (subscription
 *           counts of this relay, user counts from presence, which are the
 *           cluster's) and the answer.
 *
 * GETs answer from this relay's channel registries and from presence. With
 * workers every loop has its own registry: each is asked on its thread,
 * the counts are added up under the request's lock, and the last answer
 * goes back to the request's loop. A request is one record holding the
 * connection (hr_conn_pend); if the client goes away, queued events are
 * still published and nobody is answered; a record with questions out
 * lives until the last answer. */
#include "ingest/pusher_api.h"
#include "base/log.h"
#include "base/thread.h"
#include "codec/channel_name.h"
#include "codec/json_check.h"
#include "codec/pusher_sig.h"
#include "core/broker.h"
#include "core/chan.h"
#include "core/presence.h"
#include "ingest/release.h"
#include "net/conn.h"
#include "net/pusher.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_BYTES 200 /* an event name (Pusher's limit) */
#define SOCKET_ID_MAX  31

enum reason {
    R_NOT_FOUND,   /* 404: a path or app id that is not ours */
    R_METHOD,      /* 405 */
    R_QUERY,       /* 400: the query string */
    R_AUTH,        /* 401: key, version, signature */
    R_TIMESTAMP,   /* 401: outside pusher_timestamp_window */
    R_MD5,         /* 401: body_md5 */
    R_FRAMING,     /* 400, 411 */
    R_TOO_LARGE,   /* 413: the body or an event's data */
    R_INVALID,     /* 400: the JSON, a name, a channel, a limit */
    R_UNAVAILABLE, /* 503 */
    R_COUNT
};

static const char *const reason_labels[R_COUNT] = {
    [R_NOT_FOUND] = "reason=\"not_found\"", [R_METHOD] = "reason=\"method\"",
    [R_QUERY] = "reason=\"query\"",         [R_AUTH] = "reason=\"signature\"",
    [R_TIMESTAMP] = "reason=\"timestamp\"", [R_MD5] = "reason=\"body_md5\"",
    [R_FRAMING] = "reason=\"framing\"",     [R_TOO_LARGE] = "reason=\"too_large\"",
    [R_INVALID] = "reason=\"invalid\"",     [R_UNAVAILABLE] = "reason=\"unavailable\"",
};

enum kind { K_EVENTS, K_BATCH, K_CHANNELS, K_CHANNEL, K_USERS };

typedef struct preq preq_t;

struct hr_pusher_api {
    hr_loop_t *loop;
    hr_release_t rel; /* requests waiting for their turn (ingest/release.h) */
    uint64_t requests, events, pending, refused[R_COUNT];
    unsigned nloops; /* registries to ask (workers); 1: this loop's only */
    hr_pusher_call_fn call;
};

/* One event of a request; slices point into the request's JSON. */
typedef struct pmsg {
    hr_slice_t name, data, except, *channels;
    size_t nchannels;
    int json, info_users, info_subs;
    preq_t *rec;
} pmsg_t;

/* What the answer says of one channel. */
typedef struct pinfo {
    preq_t *rec;
    hr_slice_t name;
    int want_users, want_subs; /* asked of presence / of the registry */
    int show_users;            /* user_count in the answer */
    long users, subs;
    json_t *members; /* K_USERS: the presence JSON */
} pinfo_t;

struct preq {
    hr_conn_pending_t hold; /* first: the connection's hold on this request */
    hr_pusher_api_t *api;
    hr_conn_t *c; /* NULL once the client is gone */
    enum kind kind;
    hr_pusher_query_t q;
    json_t *root;
    pmsg_t *msgs;
    size_t n;
    hr_release_item_t item; /* its place in the order */
    uint8_t queued; /* in the queue, publishing or asking presence: outlives its connection */
    size_t answered, failed;
    char error[160];
    pinfo_t *infos;
    size_t ninfos, info_pending;
    char *names; /* K_CHANNELS, K_CHANNEL: the channel names copied */
    /* Subscription counts of every loop (workers): answers still out,
     * and what they added up (K_CHANNELS: name -> subscriptions). */
    pthread_mutex_t lock;
    uint8_t has_lock;
    unsigned home, left;
    hr_pusher_call_fn call; /* the api's: read where the api may be gone */
    json_t *found;
};

static const char text_headers[] = "Content-Type: text/plain; charset=utf-8\r\n";
static const char json_headers[] = "Content-Type: application/json\r\nCache-Control: no-store\r\n";

static void refuse(hr_pusher_api_t *api, hr_conn_t *c, int keep, int status, enum reason r,
                   const char *headers, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void refuse(hr_pusher_api_t *api, hr_conn_t *c, int keep, int status, enum reason r,
                   const char *headers, const char *fmt, ...)
{
    char body[1400], hdr[200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof body - 2)
        n = (int)sizeof body - 2;
    body[n++] = '\n';
    api->refused[r]++;
    hr_log(HR_LOG_DEBUG, "pusher api: client %p: %d: %.*s", (void *)c, status, n - 1, body);
    snprintf(hdr, sizeof hdr, "%s%s", text_headers, headers ? headers : "");
    /* Before the signature passed the connection closes; after, it may
     * carry the next request. */
    if (keep)
        hr_conn_respond(c, status, hdr, body, (size_t)n);
    else
        hr_conn_reply(c, status, hdr, body, (size_t)n);
}

static void rec_free(preq_t *rec)
{
    if (rec->root)
        json_decref(rec->root);
    for (size_t i = 0; i < rec->n; i++)
        free(rec->msgs[i].channels);
    free(rec->msgs);
    for (size_t i = 0; i < rec->ninfos; i++)
        if (rec->infos[i].members)
            json_decref(rec->infos[i].members);
    free(rec->infos);
    free(rec->names);
    if (rec->found)
        json_decref(rec->found);
    if (rec->has_lock)
        pthread_mutex_destroy(&rec->lock);
    free(rec);
}

static void on_gone(hr_conn_pending_t *p)
{
    preq_t *rec = (preq_t *)p;
    rec->c = NULL;
    if (!rec->queued)
        rec_free(rec);
}

static void answer_json(preq_t *rec, json_t *j)
{
    hr_conn_t *c = rec->c;
    rec->c = NULL;
    if (c == NULL) {
        json_decref(j);
        return;
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL) {
        refuse(rec->api, c, 1, 503, R_UNAVAILABLE, NULL, "out of memory");
        return;
    }
    hr_conn_respond(c, 200, json_headers, s, strlen(s));
    free(s);
}

/* ---- info: subscription counts of every loop, user counts from presence ---- */

static void infos_done(preq_t *rec);
static int parse_info(const hr_slice_t *info, int *users, int *subs);

static void info_members(void *ud, const char *js, size_t len, const char *err)
{
    pinfo_t *in = ud;
    preq_t *rec = in->rec;
    if (err == NULL) {
        json_t *arr = json_loadb(js, len, 0, NULL);
        in->users = json_is_array(arr) ? (long)json_array_size(arr) : 0;
        if (rec->kind == K_USERS)
            in->members = arr;
        else
            json_decref(arr);
    } else if (rec->failed++ == 0) {
        snprintf(rec->error, sizeof rec->error, "presence: %s", err);
    }
    if (--rec->info_pending == 0)
        infos_done(rec);
}

/* Ask presence for the users wanted, then infos_done (maybe before this
 * returns). */
static void users_collect(preq_t *rec)
{
    hr_loop_t *L = rec->api->loop;
    rec->info_pending = 1; /* until every question is asked */
    for (size_t i = 0; i < rec->ninfos; i++) {
        pinfo_t *in = &rec->infos[i];
        if (in->want_users && L->presence) {
            rec->info_pending++;
            hr_presence_members(L->presence, in->name, info_members, in);
        }
    }
    if (--rec->info_pending == 0)
        infos_done(rec);
}

static int has_prefix(const hr_chan_t *ch, const hr_slice_t *prefix)
{
    return prefix == NULL ||
           (ch->name_len >= prefix->len && memcmp(ch->name, prefix->p, prefix->len) == 0);
}

/* Add loop L's subscriptions to rec: K_CHANNELS, every channel with a
 * subscriber under the prefix into rec->found; else each info's count. */
static void counts_here(hr_loop_t *L, preq_t *rec)
{
    if (rec->kind != K_CHANNELS) {
        for (size_t i = 0; i < rec->ninfos; i++) {
            pinfo_t *in = &rec->infos[i];
            hr_chan_t *ch = hr_chan_find(&L->chans, in->name.p, in->name.len);
            in->subs += ch ? (long)ch->nsubs : 0;
        }
        return;
    }
    const hr_slice_t *prefix = hr_pusher_query_get(&rec->q, "filter_by_prefix");
    hr_htab_t *tab = &L->chans.tab;
    size_t b = 0;
    for (hr_hnode_t *hn = hr_htab_next(tab, &b, NULL); hn; hn = hr_htab_next(tab, &b, hn)) {
        hr_chan_t *ch = hr_container_of(hn, hr_chan_t, node);
        if (ch->nsubs == 0 || ch->name[0] == '#' || !has_prefix(ch, prefix))
            continue; /* history only; internal; not asked for */
        json_t *n = json_object_getn(rec->found, ch->name, ch->name_len);
        json_int_t subs = (json_int_t)ch->nsubs + (n ? json_integer_value(n) : 0);
        json_object_setn_new(rec->found, ch->name, ch->name_len, json_integer(subs));
    }
}

/* Every loop answered: K_CHANNELS lists what they found; then the users. */
static void counts_done(preq_t *rec)
{
    if (rec->kind == K_CHANNELS) {
        int users = 0, subs = 0;
        parse_info(hr_pusher_query_get(&rec->q, "info"), &users, &subs);
        size_t n = json_object_size(rec->found), bytes = 0, k = 0, o = 0;
        const char *key;
        size_t klen;
        json_t *v;
        json_object_keylen_foreach(rec->found, key, klen, v) bytes += klen;
        rec->names = hr_xmalloc(bytes + 1);
        rec->infos = hr_xcalloc(n + 1, sizeof *rec->infos);
        json_object_keylen_foreach(rec->found, key, klen, v)
        {
            memcpy(rec->names + o, key, klen);
            rec->infos[k++] = (pinfo_t){.name = {rec->names + o, klen},
                                        .want_users = users,
                                        .show_users = users,
                                        .want_subs = subs,
                                        .subs = (long)json_integer_value(v)};
            o += klen;
        }
        rec->ninfos = n;
    }
    for (size_t i = 0; i < rec->ninfos; i++)
        rec->infos[i].rec = rec;
    users_collect(rec);
}

static void counted(hr_loop_t *L, void *ud)
{
    (void)L;
    counts_done(ud);
}

/* One loop's part done (or refused: that loop ended, its count is 0). */
static void count_answered(preq_t *rec)
{
    pthread_mutex_lock(&rec->lock);
    int last = --rec->left == 0;
    pthread_mutex_unlock(&rec->lock);
    /* The request's loop ended only once its client had gone: nobody
     * waits for the answer. */
    if (last && rec->call(rec->home, counted, rec) != 0)
        rec_free(rec);
}

static void count_asked(hr_loop_t *L, void *ud)
{
    preq_t *rec = ud;
    pthread_mutex_lock(&rec->lock);
    counts_here(L, rec);
    pthread_mutex_unlock(&rec->lock);
    count_answered(rec);
}

/* Fill every info, then infos_done (maybe before this returns): the
 * subscriptions of every loop, then the users. */
static void infos_collect(preq_t *rec)
{
    hr_pusher_api_t *api = rec->api;
    if (rec->kind == K_CHANNELS)
        rec->found = json_object();
    if (api->nloops <= 1 || rec->kind == K_USERS) { /* users: members only */
        counts_here(api->loop, rec);
        counts_done(rec);
        return;
    }
    pthread_mutex_init(&rec->lock, NULL);
    rec->has_lock = 1;
    rec->home = hr_thread_self;
    rec->left = api->nloops;
    rec->call = api->call;
    for (unsigned i = 0; i < api->nloops; i++)
        if (api->call(i, count_asked, rec) != 0)
            count_answered(rec);
}

static json_t *info_object(const pinfo_t *in)
{
    json_t *o = json_object();
    if (in->show_users)
        json_object_set_new(o, "user_count", json_integer(in->users));
    if (in->want_subs)
        json_object_set_new(o, "subscription_count", json_integer(in->subs));
    return o;
}

static void finish_request(preq_t *rec)
{
    hr_pusher_api_t *api = rec->api;
    if (rec->queued && rec->kind <= K_BATCH)
        api->pending--;
    rec->queued = 0;
    if (rec->c == NULL) {
        rec_free(rec);
        return;
    }
    if (rec->failed) {
        hr_conn_t *c = rec->c;
        rec->c = NULL;
        refuse(api, c, 1, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "%s", rec->error);
        rec_free(rec);
        return;
    }
    json_t *j = json_object();
    if (rec->kind == K_EVENTS) {
        json_t *chs = NULL;
        for (size_t i = 0; i < rec->ninfos; i++) {
            if (chs == NULL)
                chs = json_object();
            json_object_setn_new(chs, rec->infos[i].name.p, rec->infos[i].name.len,
                                 info_object(&rec->infos[i]));
        }
        if (chs)
            json_object_set_new(j, "channels", chs);
    } else if (rec->kind == K_BATCH) {
        /* One object per event: its channel's attributes when info asked. */
        json_t *arr = json_array();
        size_t k = 0;
        for (size_t i = 0; i < rec->n; i++) {
            const pmsg_t *m = &rec->msgs[i];
            if (m->info_users || m->info_subs)
                json_array_append_new(arr, info_object(&rec->infos[k++]));
            else
                json_array_append_new(arr, json_object());
        }
        json_object_set_new(j, "batch", arr);
    } else if (rec->kind == K_CHANNELS) {
        json_t *chs = json_object();
        for (size_t i = 0; i < rec->ninfos; i++)
            json_object_setn_new(chs, rec->infos[i].name.p, rec->infos[i].name.len,
                                 info_object(&rec->infos[i]));
        json_object_set_new(j, "channels", chs);
    } else if (rec->kind == K_CHANNEL) {
        const pinfo_t *in = &rec->infos[0];
        /* Occupied: a subscriber here, or (presence) a member anywhere. */
        json_object_set_new(j, "occupied", json_boolean(in->subs > 0 || in->users > 0));
        if (in->show_users)
            json_object_set_new(j, "user_count", json_integer(in->users));
        if (in->want_subs)
            json_object_set_new(j, "subscription_count", json_integer(in->subs));
    } else {
        json_t *users = json_array();
        json_t *m = rec->infos[0].members;
        size_t i;
        json_t *v;
        json_array_foreach(m, i, v)
        {
            json_t *u = json_object_get(v, "user");
            if (u)
                json_array_append_new(users, json_pack("{sO}", "id", u));
        }
        json_object_set_new(j, "users", users);
    }
    answer_json(rec, j);
    rec_free(rec);
}

static void infos_done(preq_t *rec)
{
    finish_request(rec);
}

/* ---- the head ---- */

static int slice_eq(hr_slice_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* The info list: which attributes are asked for; -1 for an unknown one. */
static int parse_info(const hr_slice_t *info, int *users, int *subs)
{
    *users = *subs = 0;
    if (info == NULL)
        return 0;
    const char *p = info->p, *end = p + info->len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        hr_slice_t w = {p, (size_t)((comma ? comma : end) - p)};
        p = comma ? comma + 1 : end;
        if (slice_eq(w, "user_count"))
            *users = 1;
        else if (slice_eq(w, "subscription_count"))
            *subs = 1;
        else if (w.len)
            return -1;
    }
    return 0;
}

static void on_body(void *ud, hr_conn_t *c, const hr_http_request_t *req, const uint8_t *body,
                    size_t len);
static void get_request(preq_t *rec, hr_slice_t name);

static size_t body_cap(void)
{
    const hr_pusher_cfg_t *cfg = &hr_pusher_cfg;
    /* Escapes may double the data; channel names in quotes and commas. */
    size_t one = 2 * (size_t)cfg->max_event_bytes +
                 (size_t)cfg->max_channels_per_event * (HR_CHANNEL_MAX + 3) + 2048;
    return one * (size_t)cfg->max_batch;
}

void hr_pusher_api_request(void *ud, hr_conn_t *c, const hr_http_request_t *req, uint8_t *rest,
                           size_t rest_len)
{
    hr_pusher_api_t *api = ud;
    const hr_pusher_cfg_t *cfg = &hr_pusher_cfg;
    api->requests++;
    if (api->rel.stopped) {
        refuse(api, c, 0, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "relay shutting down");
        return;
    }
    /* /apps/{id}/{resource} */
    hr_slice_t path = req->path;
    const char *p = path.p + 6, *end = path.p + path.len;
    const char *slash = p < end ? memchr(p, '/', (size_t)(end - p)) : NULL;
    hr_slice_t id = {p, (size_t)((slash ? slash : end) - p)};
    if (!hr_pusher_enabled() || slash == NULL || !slice_eq(id, cfg->app_id)) {
        refuse(api, c, 0, 404, R_NOT_FOUND, NULL, "Unknown app");
        return;
    }
    hr_slice_t res = {slash + 1, (size_t)(end - slash - 1)};
    enum kind kind;
    hr_slice_t name = {NULL, 0};
    if (slice_eq(res, "events")) {
        kind = K_EVENTS;
    } else if (slice_eq(res, "batch_events")) {
        kind = K_BATCH;
    } else if (slice_eq(res, "channels")) {
        kind = K_CHANNELS;
    } else if (res.len > 9 && memcmp(res.p, "channels/", 9) == 0) {
        name = (hr_slice_t){res.p + 9, res.len - 9};
        kind = K_CHANNEL;
        if (name.len > 6 && memcmp(name.p + name.len - 6, "/users", 6) == 0) {
            name.len -= 6;
            kind = K_USERS;
        }
        if (!hr_chan_name_valid(name.p, name.len)) {
            refuse(api, c, 0, 400, R_INVALID, NULL, "Invalid channel name");
            return;
        }
    } else {
        refuse(api, c, 0, 404, R_NOT_FOUND, NULL, "Not found");
        return;
    }
    int post = kind <= K_BATCH;
    if (!slice_eq(req->method, post ? "POST" : "GET")) {
        refuse(api, c, 0, 405, R_METHOD, post ? "Allow: POST\r\n" : "Allow: GET\r\n",
               "Method not allowed: use %s", post ? "POST" : "GET");
        return;
    }
    preq_t *rec = hr_xcalloc(1, sizeof *rec);
    rec->hold.gone = on_gone;
    rec->api = api;
    rec->c = c;
    rec->kind = kind;
    char err[1300];
    if (hr_pusher_query_parse(req->query.p, req->query.len, &rec->q, err, sizeof err) != 0) {
        rec_free(rec);
        refuse(api, c, 0, 400, R_QUERY, NULL, "%s", err);
        return;
    }
    int st = hr_pusher_sig_check(&rec->q, req->method, req->path, cfg->key, cfg->secret,
                                 (int64_t)time(NULL), cfg->timestamp_window, err, sizeof err);
    if (st != HR_PSIG_OK) {
        rec_free(rec);
        refuse(api, c, 0, 401, st == HR_PSIG_EXPIRED ? R_TIMESTAMP : R_AUTH, NULL, "%s", err);
        return;
    }
    hr_conn_pend(c, &rec->hold);
    if (!post) {
        get_request(rec, name);
        return;
    }
    st = hr_conn_read_body(c, req, rest, rest_len, body_cap(), on_body, rec);
    if (st == 0)
        return; /* on_body has run, or will */
    rec_free(rec);
    switch (st) {
    case 411:
        refuse(api, c, 0, 411, R_FRAMING, NULL, "Content-Length required");
        break;
    case 413:
        refuse(api, c, 0, 413, R_TOO_LARGE, NULL, "Request body too large (%zu bytes at most)",
               body_cap());
        break;
    case 417:
        refuse(api, c, 0, 417, R_FRAMING, NULL, "the only expectation served is 100-continue");
        break;
    default:
        refuse(api, c, 0, 400, R_FRAMING, NULL, "Bad body framing");
        break;
    }
}

/* ---- GET ---- */

static void get_request(preq_t *rec, hr_slice_t name)
{
    hr_pusher_api_t *api = rec->api;
    hr_conn_t *c = rec->c;
    int users, subs;
    if (parse_info(hr_pusher_query_get(&rec->q, "info"), &users, &subs) != 0) {
        rec->c = NULL;
        rec_free(rec);
        refuse(api, c, 1, 400, R_INVALID, NULL,
               "info may hold user_count and subscription_count only");
        return;
    }
    if (rec->kind == K_CHANNEL || rec->kind == K_USERS) {
        int presence = hr_presence_is(name.p, name.len);
        if ((rec->kind == K_USERS || users) && !presence) {
            int k = rec->kind;
            rec->c = NULL;
            rec_free(rec);
            refuse(api, c, 1, 400, R_INVALID, NULL,
                   k == K_USERS ? "users are only available for presence channels"
                                : "user_count is only available for presence channels");
            return;
        }
        rec->names = hr_xstrndup(name.p, name.len);
        rec->infos = hr_xcalloc(1, sizeof *rec->infos);
        rec->ninfos = 1;
        /* Occupancy of a presence channel counts its members anywhere. */
        rec->infos[0] = (pinfo_t){.name = {rec->names, name.len},
                                  .want_users = presence,
                                  .show_users = users,
                                  .want_subs = subs};
        rec->queued = 1;
        infos_collect(rec);
        return;
    }
    /* Every channel with a subscriber on this relay under the prefix: the
     * registries tell (infos_collect). */
    const hr_slice_t *prefix = hr_pusher_query_get(&rec->q, "filter_by_prefix");
    if (users && (prefix == NULL || !hr_presence_is(prefix->p, prefix->len))) {
        rec->c = NULL;
        rec_free(rec);
        refuse(api, c, 1, 400, R_INVALID, NULL,
               "info=user_count needs filter_by_prefix of presence channels");
        return;
    }
    rec->queued = 1;
    infos_collect(rec);
}

/* ---- POST: the body ---- */

static int socket_id_ok(const char *s, size_t len)
{
    size_t i = 0, a = 0, b = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, a++;
    if (i == len || s[i] != '.')
        return 0;
    i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++, b++;
    return i == len && a > 0 && b > 0 && len <= SOCKET_ID_MAX;
}

static hr_slice_t str_slice(json_t *s)
{
    return (hr_slice_t){json_string_value(s), json_string_length(s)};
}

/* Check event j into m; 0, or the status with the reason in err. */
static int check_event(json_t *j, pmsg_t *m, int in_batch, char *err, size_t errlen)
{
    const hr_pusher_cfg_t *cfg = &hr_pusher_cfg;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "an event must be a JSON object");
        return 400;
    }
    json_t *name = json_object_get(j, "name"), *data = json_object_get(j, "data");
    json_t *chs = json_object_get(j, "channels"), *ch = json_object_get(j, "channel");
    json_t *sid = json_object_get(j, "socket_id"), *info = json_object_get(j, "info");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > NAME_MAX_BYTES) {
        snprintf(err, errlen, "name must be a string of 1 to %d bytes", NAME_MAX_BYTES);
        return 400;
    }
    m->name = str_slice(name);
    if ((m->name.len >= 7 && memcmp(m->name.p, "pusher:", 7) == 0) ||
        (m->name.len >= 16 && memcmp(m->name.p, "pusher_internal:", 16) == 0)) {
        snprintf(err, errlen, "event names starting with pusher: are reserved");
        return 400;
    }
    if (!json_is_string(data)) {
        snprintf(err, errlen, "data must be a string");
        return 400;
    }
    m->data = str_slice(data);
    if (m->data.len > (size_t)cfg->max_event_bytes) {
        snprintf(err, errlen, "Event data too large: %zu bytes, at most %ld", m->data.len,
                 cfg->max_event_bytes);
        return 413;
    }
    m->json = hr_json_check(m->data.p, m->data.len, NULL) == NULL;
    size_t n = chs ? (json_is_array(chs) ? json_array_size(chs) : 0) : (ch ? 1 : 0);
    if ((chs && ch) || (chs && !json_is_array(chs)) || (ch && !json_is_string(ch)) || n == 0) {
        snprintf(err, errlen, "give channels (an array of names) or channel (a name)");
        return 400;
    }
    if (n > (size_t)cfg->max_channels_per_event) {
        snprintf(err, errlen, "too many channels: %zu, at most %ld", n,
                 cfg->max_channels_per_event);
        return 400;
    }
    m->channels = hr_xcalloc(n, sizeof *m->channels);
    for (size_t i = 0; i < n; i++) {
        json_t *c = chs ? json_array_get(chs, i) : ch;
        if (!json_is_string(c) ||
            !hr_chan_name_valid(json_string_value(c), json_string_length(c))) {
            snprintf(err, errlen, "invalid channel name%s%.*s", json_is_string(c) ? ": " : "",
                     json_is_string(c) ? 200 : 0, json_is_string(c) ? json_string_value(c) : "");
            return 400;
        }
        hr_slice_t s = str_slice(c);
        int dup = 0;
        for (size_t k = 0; k < m->nchannels && !dup; k++)
            dup = m->channels[k].len == s.len && memcmp(m->channels[k].p, s.p, s.len) == 0;
        if (!dup)
            m->channels[m->nchannels++] = s;
    }
    if (sid && !json_is_null(sid)) {
        if (!json_is_string(sid) ||
            !socket_id_ok(json_string_value(sid), json_string_length(sid))) {
            snprintf(err, errlen, "socket_id must look like 1234.5678");
            return 400;
        }
        m->except = str_slice(sid);
    }
    if (info && !json_is_null(info)) {
        hr_slice_t is = json_is_string(info) ? str_slice(info) : (hr_slice_t){NULL, 0};
        if (!json_is_string(info) || parse_info(&is, &m->info_users, &m->info_subs) != 0) {
            snprintf(err, errlen, "info may hold user_count and subscription_count only");
            return 400;
        }
        /* Pusher's rule: user_count only of presence channels; a batch
         * event's info is its one channel's. */
        for (size_t i = 0; i < m->nchannels && m->info_users; i++)
            if (!hr_presence_is(m->channels[i].p, m->channels[i].len)) {
                snprintf(err, errlen, "user_count is only available for presence channels");
                return 400;
            }
        if (in_batch && m->nchannels != 1 && (m->info_users || m->info_subs)) {
            snprintf(err, errlen, "info in a batch needs one channel per event");
            return 400;
        }
    }
    return 0;
}

static void on_body(void *ud, hr_conn_t *c, const hr_http_request_t *req, const uint8_t *body,
                    size_t len)
{
    preq_t *rec = ud;
    hr_pusher_api_t *api = rec->api;
    char err[400];
    if (hr_pusher_sig_body(&rec->q, body, len, err, sizeof err) != HR_PSIG_OK) {
        rec_free(rec);
        refuse(api, c, 1, 401, R_MD5, NULL, "%s", err);
        return;
    }
    json_error_t jerr;
    rec->root = json_loadb((const char *)body, len, 0, &jerr);
    json_t *evs = rec->root;
    if (rec->kind == K_BATCH) {
        evs = json_object_get(rec->root, "batch");
        if (!json_is_array(evs)) {
            rec_free(rec);
            refuse(api, c, 1, 400, R_INVALID, NULL, "the body must be {\"batch\":[events]}");
            return;
        }
        if (json_array_size(evs) > (size_t)hr_pusher_cfg.max_batch) {
            size_t n = json_array_size(evs);
            rec_free(rec);
            refuse(api, c, 1, 400, R_INVALID, NULL, "Batch too large: %zu events, at most %ld", n,
                   hr_pusher_cfg.max_batch);
            return;
        }
    } else if (rec->root == NULL) {
        rec_free(rec);
        refuse(api, c, 1, 400, R_INVALID, NULL, "the body is not JSON: %s", jerr.text);
        return;
    }
    size_t n = rec->kind == K_BATCH ? json_array_size(evs) : 1;
    rec->msgs = hr_xcalloc(n ? n : 1, sizeof *rec->msgs);
    size_t ninfos = 0;
    for (size_t i = 0; i < n; i++) {
        pmsg_t *m = &rec->msgs[i];
        rec->n = i + 1; /* rec_free frees its channels */
        int st = check_event(rec->kind == K_BATCH ? json_array_get(evs, i) : evs, m,
                             rec->kind == K_BATCH, err, sizeof err);
        if (st != 0) {
            int batch = rec->kind == K_BATCH;
            rec_free(rec);
            if (batch)
                refuse(api, c, 1, st, st == 413 ? R_TOO_LARGE : R_INVALID, NULL, "batch[%zu]: %s",
                       i, err);
            else
                refuse(api, c, 1, st, st == 413 ? R_TOO_LARGE : R_INVALID, NULL, "%s", err);
            return;
        }
        m->rec = rec;
        if (m->info_users || m->info_subs)
            ninfos += m->nchannels;
    }
    rec->n = n;
    if (ninfos) {
        rec->infos = hr_xcalloc(ninfos, sizeof *rec->infos);
        for (size_t i = 0; i < n; i++) {
            pmsg_t *m = &rec->msgs[i];
            if (!m->info_users && !m->info_subs)
                continue;
            for (size_t k = 0; k < m->nchannels; k++)
                rec->infos[rec->ninfos++] = (pinfo_t){.name = m->channels[k],
                                                      .want_users = m->info_users,
                                                      .show_users = m->info_users,
                                                      .want_subs = m->info_subs};
        }
    }
    if (api->rel.stopped) {
        rec_free(rec);
        refuse(api, c, 1, 503, R_UNAVAILABLE, "Retry-After: 1\r\n", "relay shutting down");
        return;
    }
    rec->queued = 1;
    api->pending++;
    hr_release_push(&api->rel, &rec->item);
}

/* ---- publishing ---- */

static void on_published(void *ud, const char *id, size_t idlen, const char *err)
{
    pmsg_t *m = ud;
    preq_t *rec = m->rec;
    if (err != NULL) {
        if (rec->failed++ == 0)
            snprintf(rec->error, sizeof rec->error, "not published: %s", err);
    } else {
        rec->api->events++;
    }
    if (++rec->answered == rec->n) {
        if (rec->failed || rec->ninfos == 0)
            finish_request(rec);
        else
            infos_collect(rec);
    }
}

static void publish_all(hr_pusher_api_t *api, preq_t *rec)
{
    hr_broker_t *b = api->loop->broker;
    size_t n = rec->n;
    for (size_t i = 0; i < n; i++) {
        const pmsg_t *m = &rec->msgs[i];
        hr_publish_t pub = {
            .target = HR_TARGET_ALL,
            .json = m->json,
            .event = m->name,
            .data = m->data,
            .except = m->except, /* socket_id: Pusher's exclusion */
            .channels = m->channels,
            .nchannels = m->nchannels,
        };
        /* The last callback may free rec: nothing of it is read after. */
        b->ops->publish(b, &pub, on_published, &rec->msgs[i]);
    }
}

static void publish_item(void *ud, hr_release_item_t *it)
{
    publish_all(ud, hr_container_of(it, preq_t, item));
}

void hr_pusher_api_release(void *ud, int stopping)
{
    hr_pusher_api_t *api = ud;
    hr_release_run(&api->rel, stopping);
}

hr_pusher_api_t *hr_pusher_api_new(hr_loop_t *L)
{
    hr_pusher_api_t *api = hr_xcalloc(1, sizeof *api);
    api->loop = L;
    api->nloops = 1;
    hr_release_init(&api->rel, L, publish_item, api);
    hr_metrics_t *r = &L->metrics;
    hr_metrics_add(r, "herald_pusher_api_requests_total", HR_COUNTER,
                   "Requests to the Pusher HTTP API (/apps/...).", NULL, &api->requests);
    hr_metrics_add(r, "herald_pusher_api_events_total", HR_COUNTER,
                   "Events the Pusher HTTP API handed to the broker and it took.", NULL,
                   &api->events);
    hr_metrics_add(r, "herald_pusher_api_pending", HR_GAUGE,
                   "Pusher HTTP API publishes accepted and not answered yet.", NULL, &api->pending);
    for (int i = 0; i < R_COUNT; i++)
        hr_metrics_add(r, "herald_pusher_api_refused_total", HR_COUNTER,
                       "Pusher HTTP API requests refused, by reason.", reason_labels[i],
                       &api->refused[i]);
    return api;
}

void hr_pusher_api_across(hr_pusher_api_t *api, unsigned nloops, hr_pusher_call_fn call)
{
    if (api == NULL)
        return;
    api->nloops = nloops;
    api->call = call;
}

void hr_pusher_api_free(hr_pusher_api_t *api)
{
    if (api == NULL)
        return;
    hr_release_item_t *it;
    while ((it = hr_release_pop(&api->rel)) != NULL)
        rec_free(hr_container_of(it, preq_t, item));
    free(api);
}
