/* SPDX-License-Identifier: MIT
 * broker_redis.c: the Redis broker (core/broker.h): several relays share one
 * order, one id space and one history through one Redis, with hiredis's
 * libuv adapter on the relay's own loop (no threads, nothing blocks).
 *
 * Two links: "cmd" runs the publish script (EVALSHA) and resume reads;
 * "sub" is in SUBSCRIBE mode (RESP2 cannot mix the two on one link) and
 * carries herald:m:<channel> for the channels local clients use.
 *
 * Publish: the script INCRs herald:seq (the global order), appends SSE
 * messages to each channel's Stream (exact MAXLEN history_size, PEXPIRE
 * history_ttl) with the channel's previous seq, and PUBLISHes
 * "<epoch>:<seq>:<body>" on each channel, atomically. Every relay, the
 * publisher included, delivers what comes back on pub/sub, so all relays
 * deliver in one order and there is nothing to de-duplicate against a local
 * copy. Ids are "<epoch>-<seq>": the epoch is herald:epoch, created by the
 * first relay; if Redis loses its data the epoch changes with the counter,
 * so old ids read as foreign (gap), never as positions.
 *
 * Resume: once Redis confirmed this relay's SUBSCRIBE of every requested
 * channel, read each channel's Stream after the id (XRANGE) and its last
 * seq; live messages for the connection wait meanwhile, then the replay
 * (merged by seq, each once) goes first and the waiting live ones follow,
 * minus any the replay already carried. Redis ran the XRANGE after the
 * SUBSCRIBE took effect, so every message is in one of the two.
 *
 * Failure: every queue is bounded (publishes in flight, live messages held
 * for a resume); while Redis is away publishes fail at once (nacked,
 * counted, logged), local clients stay connected, and both links reconnect
 * with backoff. When the sub link comes back, streams of resumable transports
 * are ended so browsers resume from Redis with their last id (what was
 * published meanwhile reaches them exactly); the others stay. */
#include "cluster/broker_redis.h"
#include "base/log.h"
#include "base/num.h"
#include "cluster/redis_fmt.h"
#include "net/conn.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INFLIGHT       10000       /* publishes waiting for Redis; past it, nack */
#define MAX_INFLIGHT_BYTES (64u << 20) /* and their bytes, which hiredis buffers */
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define CONNECT_TIMEOUT    2000 /* hiredis 0.14 has no async connect timeout */
#define PING_EVERY_MS      1000
#define PING_STALL_MS      5000  /* a cmd link with a PING this old is dropped */
#define UNSUB_IDLE_MS      5000  /* unused channels are unsubscribed this late */
#define LAST_TTL_S         86400 /* herald:l:<ch> outlives the Stream (gap rule) */
#define SUB_BATCH          100

hr_cluster_cfg_t hr_cluster_cfg;

static const hr_opt_t opts[] = {
    {"redis", HR_OPT_STR, &hr_cluster_cfg.redis, 0, 0, "",
     "cluster mode: redis://HOST:PORT or unix:///path (off)"},
};

const hr_opt_group_t hr_cluster_options = {opts, HR_ARRAY_SIZE(opts), NULL};

/* KEYS: epoch, seq, then per SSE channel its Stream and last-seq key.
 * ARGV: epoch candidate, sse flag, now ms, maxlen, ttl ms, last ttl s,
 * body, then the pub/sub channel names. Returns {epoch, seq}. */
static const char script[] =
    "local e = redis.call('GET', KEYS[1])\n"
    "if not e then e = ARGV[1]; redis.call('SET', KEYS[1], e) end\n"
    "local seq = redis.call('INCR', KEYS[2])\n"
    "local s = string.format('%d', seq)\n"
    "local msg = e .. ':' .. s .. ':' .. ARGV[7]\n"
    "for i = 8, #ARGV do\n"
    "  if ARGV[2] == '1' then\n"
    "    local k = 3 + (i - 8) * 2\n"
    "    local prev = redis.call('GET', KEYS[k + 1]) or '0'\n"
    "    redis.call('SET', KEYS[k + 1], s, 'EX', ARGV[6])\n"
    "    redis.call('XADD', KEYS[k], 'MAXLEN', ARGV[4], s .. '-0', 'p', prev, 't', ARGV[3],"
    " 'm', ARGV[7])\n"
    "    redis.call('PEXPIRE', KEYS[k], ARGV[5])\n"
    "  end\n"
    "  redis.call('PUBLISH', ARGV[i], msg)\n"
    "end\n"
    "return {e, s}\n";

typedef struct rb rb_t;

typedef struct link {
    redisAsyncContext *ac;
    uv_timer_t timer; /* reconnect backoff, connect timeout */
    rb_t *rb;
    const char *name;
    int up, ever_up;
    uint64_t backoff_ms;
} link_t;

/* A channel this relay has (or wants) in Redis. */
typedef struct subent {
    hr_hnode_t node;
    uint8_t state;    /* S_* */
    uint8_t used;     /* local subscribers now */
    uint64_t idle_ms; /* when it lost its last local subscriber */
    size_t len;
    char name[];
} subent_t;

enum { S_NONE, S_SENT, S_CONFIRMED, S_UNSUB };

/* What a resume needs from Redis (hr_resume_t.bstate). */
typedef struct rres {
    struct rres *next; /* waiting for SUBSCRIBE confirmations */
    hr_resume_t *r;
    rb_t *rb;
    uint64_t after;
    size_t replies; /* still to come */
    int started;
    uint64_t *last; /* per channel: herald:l value */
} rres_t;

struct rb {
    hr_broker_t base;
    hr_cl_url_t url;
    link_t cmd, sub;
    char sha[41];
    uv_timer_t tick;
    uv_timer_t stop_timer; /* shutdown: a Redis that never answers does not hold the exit */
    int stop_timer_on;
    int stopping;
    long stop_timeout_ms;
    hr_htab_t subents;
    rres_t *waiting;
    uint64_t inflight, inflight_bytes;
    uint64_t last_rx_seq; /* pub/sub is in seq order: one delivery per message */
    uint64_t ping_sent_ns;
    uint64_t last_unpublished_log_ms;
    /* metrics */
    uint64_t reconnects, msgs_out, msgs_in, unpublished, resumes;
    uint64_t pub_lat_sum_ns, pub_lat_count, ping_rtt_ns;
};

static uint64_t now_ms(rb_t *rb)
{
    return hr_loop_now_ms(rb->base.loop);
}

/* ---- ids ---- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Take the cluster's epoch and the latest seq seen. A new epoch (first
 * contact, or Redis lost its data) restarts the id space: connections'
 * positions of the old one mean nothing in the new one. */
static void adopt(rb_t *rb, const char *epoch, size_t len, uint64_t seq)
{
    hr_broker_t *b = &rb->base;
    if (len == 0 || len > HR_EPOCH_MAX)
        return;
    if (len != b->epoch_len || memcmp(epoch, b->epoch, len) != 0) {
        hr_log(HR_LOG_INFO, "cluster: epoch %.*s (was %s)", (int)len, epoch, b->epoch);
        memcpy(b->epoch, epoch, len);
        b->epoch[len] = '\0';
        b->epoch_len = len;
        b->seq = seq;
        rb->last_rx_seq = 0;
        hr_net_t *net = b->loop->net;
        for (hr_conn_t *c = net ? net->conns : NULL; c; c = c->next)
            c->last_seq = 0;
        return;
    }
    if (seq > b->seq)
        b->seq = seq;
}

/* ---- the set of channels subscribed in Redis ---- */

static int subent_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const subent_t *e = hr_container_of(n, subent_t, node);
    return e->len == len && memcmp(e->name, key, len) == 0;
}

static subent_t *sub_find(rb_t *rb, const char *name, size_t len)
{
    hr_hnode_t *n = hr_htab_find(&rb->subents, hr_hash(name, len), name, len, subent_eq);
    return n ? hr_container_of(n, subent_t, node) : NULL;
}

static void sub_remove(rb_t *rb, subent_t *e)
{
    hr_htab_del(&rb->subents, &e->node);
    free(e);
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv);

/* SUBSCRIBE (or UNSUBSCRIBE) up to SUB_BATCH channels in one command. */
static void send_sub(rb_t *rb, const char *cmd, subent_t **ents, size_t n)
{
    if (n == 0 || !rb->sub.up)
        return;
    const char *argv[SUB_BATCH + 1];
    size_t lens[SUB_BATCH + 1];
    size_t keysz = sizeof HR_CL_PFX_PUBSUB + HR_CHANNEL_MAX;
    char *keys = hr_xmalloc(n * keysz);
    argv[0] = cmd;
    lens[0] = strlen(cmd);
    for (size_t i = 0; i < n; i++) {
        char *k = keys + i * keysz;
        lens[i + 1] = hr_cl_key(k, HR_CL_PFX_PUBSUB, ents[i]->name, ents[i]->len);
        argv[i + 1] = k;
    }
    redisAsyncCommandArgv(rb->sub.ac, on_sub_reply, NULL, (int)n + 1, argv, lens);
    free(keys);
}

static void channel_used(hr_broker_t *b, const char *name, size_t len, int used)
{
    rb_t *rb = (rb_t *)b;
    if (rb->stopping)
        return;
    subent_t *e = sub_find(rb, name, len);
    if (e == NULL) {
        if (!used)
            return;
        e = hr_xcalloc(1, sizeof *e + len + 1);
        memcpy(e->name, name, len);
        e->len = len;
        hr_htab_add(&rb->subents, &e->node, hr_hash(name, len));
    }
    e->used = (uint8_t)used;
    if (!used) {
        e->idle_ms = now_ms(rb); /* unsubscribed later by the tick: see on_tick */
        return;
    }
    if (e->state == S_NONE) {
        e->state = S_SENT;
        send_sub(rb, "SUBSCRIBE", &e, 1);
    }
    /* S_UNSUB: resubscribed when the UNSUBSCRIBE is confirmed. */
}

/* ---- live delivery ---- */

static hr_event_t *event_of(rb_t *rb, const hr_cl_body_t *body, uint64_t seq)
{
    hr_event_t *ev = hr_event_new(body->target, body->binary, body->retry, body->event, body->data,
                                  body->channels, body->nchannels);
    hr_event_place(ev, (hr_slice_t){rb->base.epoch, rb->base.epoch_len}, seq, now_ms(rb));
    return ev;
}

static void on_message(rb_t *rb, const char *p, size_t len)
{
    hr_slice_t epoch, body;
    uint64_t seq;
    hr_cl_body_t b;
    if (hr_cl_payload_parse(p, len, &epoch, &seq, &body) != 0 ||
        hr_cl_body_decode(body.p, body.len, &b) != 0) {
        hr_log(HR_LOG_WARN, "cluster: ignoring a malformed pub/sub message");
        return;
    }
    adopt(rb, epoch.p, epoch.len, seq);
    /* The script publishes a message on each of its channels in a row. */
    if (seq <= rb->last_rx_seq)
        return;
    rb->last_rx_seq = seq;
    rb->msgs_in++;
    hr_event_t *ev = event_of(rb, &b, seq);
    /* History lives in Redis: nothing kept here. */
    hr_broker_fanout(&rb->base, ev, 0);
    hr_event_unref(ev);
}

static void start_ready_resumes(rb_t *rb);

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
    rb_t *rb = ((link_t *)ac->data)->rb;
    redisReply *rep = r;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    redisReply *chr = rep->element[1];
    if (strcmp(kind, "message") == 0) {
        if (rep->element[2]->type == REDIS_REPLY_STRING)
            on_message(rb, rep->element[2]->str, rep->element[2]->len);
        return;
    }
    if (chr->type != REDIS_REPLY_STRING || chr->len <= sizeof HR_CL_PFX_PUBSUB - 1)
        return;
    const char *name = chr->str + sizeof HR_CL_PFX_PUBSUB - 1;
    size_t len = chr->len - (sizeof HR_CL_PFX_PUBSUB - 1);
    subent_t *e = sub_find(rb, name, len);
    if (e == NULL)
        return;
    if (strcmp(kind, "subscribe") == 0 && e->state == S_SENT) {
        e->state = S_CONFIRMED;
        start_ready_resumes(rb);
    } else if (strcmp(kind, "unsubscribe") == 0 && e->state == S_UNSUB) {
        if (e->used) {
            /* Wanted again while the UNSUBSCRIBE travelled. */
            e->state = S_SENT;
            send_sub(rb, "SUBSCRIBE", &e, 1);
        } else {
            sub_remove(rb, e);
        }
    }
}

/* ---- resume ---- */

static void rres_free(rres_t *q)
{
    free(q->last);
    free(q);
}

static void waiting_remove(rb_t *rb, rres_t *q)
{
    for (rres_t **pp = &rb->waiting; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            return;
        }
}

static void conn_closed(hr_broker_t *b, hr_resume_t *r)
{
    rres_t *q = r->bstate;
    if (q == NULL || q->started)
        return; /* replies are due: freed when they are in */
    waiting_remove((rb_t *)b, q);
    rres_free(q);
    hr_resume_free(r);
}

static redisReply *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0 &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1];
    return NULL;
}

/* One channel's XRANGE: decide its gap, keep what can be replayed. */
static void take_xrange(rres_t *q, size_t idx, const redisReply *rep)
{
    hr_resume_t *r = q->r;
    size_t n = rep->elements, good = 0;
    uint64_t *s = hr_xcalloc(3 * (n + 1), sizeof *s), *p = s + n + 1, *t = p + n + 1;
    const redisReply **m = hr_xcalloc(n + 1, sizeof *m);
    for (size_t j = 0; j < n; j++) {
        const redisReply *e = rep->element[j], *pv, *tv;
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
            hr_cl_parse_stream_id(e->element[0]->str, e->element[0]->len, &s[good]) != 0 ||
            (pv = field(e->element[1], "p")) == NULL || (tv = field(e->element[1], "t")) == NULL ||
            (m[good] = field(e->element[1], "m")) == NULL ||
            hr_parse_u64(pv->str, pv->len, &p[good]) != 0 ||
            hr_parse_u64(tv->str, tv->len, &t[good]) != 0)
            continue;
        good++;
    }
    size_t skip;
    r->gap[idx] = (uint8_t)hr_cl_gap(q->after, q->last[idx], s, p, t, good, wall_ms(),
                                     (uint64_t)hr_history_cfg.history_ttl * 1000, &skip);
    for (size_t j = skip; j < good; j++) {
        hr_cl_body_t b;
        if (hr_cl_body_decode(m[j]->str, m[j]->len, &b) != 0)
            continue;
        hr_event_t *ev = event_of(q->rb, &b, s[j]);
        hr_resume_add(r, ev);
        hr_event_unref(ev);
    }
    free(m);
    free(s);
}

/* All replies are in: the owner gets the gap, the replay, what was held. */
static void resume_finish(rres_t *q)
{
    hr_resume_t *r = q->r;
    rb_t *rb = q->rb;
    r->bstate = NULL;
    hr_broker_position(&rb->base, r->position);
    if (r->owner && !r->failed)
        hr_log(HR_LOG_DEBUG, "client %p: resume from Redis: %zu replayed, %zu live held", r->owner,
               r->nreplay, r->nheld);
    rres_free(q);
    hr_broker_resume_done(&rb->base, r);
}

static void on_resume_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    redisReply *rep = rp;
    rres_t *q = priv;
    hr_resume_t *r = q->r;
    /* Replies come in command order, two per channel (GET, XRANGE). */
    size_t done = 2 * r->n - q->replies, idx = done / 2;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
        r->failed = 1;
    else if (done % 2 == 0 && rep->type == REDIS_REPLY_STRING)
        hr_parse_u64(rep->str, rep->len, &q->last[idx]);
    else if (done % 2 == 1 && rep->type == REDIS_REPLY_ARRAY && !r->failed)
        take_xrange(q, idx, rep);
    else if (done % 2 == 1)
        r->failed = 1;
    if (--q->replies == 0)
        resume_finish(q);
}

static void resume_start(rres_t *q)
{
    rb_t *rb = q->rb;
    hr_resume_t *r = q->r;
    q->started = 1;
    if (!rb->cmd.up) {
        r->failed = 1;
        resume_finish(q);
        return;
    }
    char start[32];
    snprintf(start, sizeof start, "%" PRIu64 "-0", q->after + 1);
    q->replies = 2 * r->n;
    rb->resumes++;
    for (size_t i = 0; i < r->n; i++) {
        char key[sizeof HR_CL_PFX_STREAM + HR_CHANNEL_MAX];
        size_t kl = hr_cl_key(key, HR_CL_PFX_LAST, r->channels[i].p, r->channels[i].len);
        const char *a1[] = {"GET", key};
        size_t l1[] = {3, kl};
        redisAsyncCommandArgv(rb->cmd.ac, on_resume_reply, q, 2, a1, l1);
        kl = hr_cl_key(key, HR_CL_PFX_STREAM, r->channels[i].p, r->channels[i].len);
        const char *a2[] = {"XRANGE", key, start, "+"};
        size_t l2[] = {6, kl, strlen(start), 1};
        redisAsyncCommandArgv(rb->cmd.ac, on_resume_reply, q, 4, a2, l2);
    }
}

static int resume_ready(rres_t *q)
{
    for (size_t i = 0; i < q->r->n; i++) {
        subent_t *e = sub_find(q->rb, q->r->channels[i].p, q->r->channels[i].len);
        if (e == NULL || e->state != S_CONFIRMED)
            return 0;
    }
    return 1;
}

static void start_ready_resumes(rb_t *rb)
{
    for (rres_t **pp = &rb->waiting; *pp;) {
        rres_t *q = *pp;
        if (resume_ready(q)) {
            *pp = q->next;
            resume_start(q);
        } else {
            pp = &q->next;
        }
    }
}

static void resume(hr_broker_t *b, hr_resume_t *r)
{
    rb_t *rb = (rb_t *)b;
    uint64_t after;
    if (!hr_broker_parse_id(b, r->since, &after)) {
        /* Not of this cluster's epoch: nothing can be positioned. */
        for (size_t i = 0; i < r->n; i++)
            r->gap[i] = 1;
        hr_broker_position(b, r->position);
        hr_broker_resume_done(b, r);
        return;
    }
    rres_t *q = hr_xcalloc(1, sizeof *q);
    q->r = r;
    q->rb = rb;
    q->after = after;
    q->last = hr_xcalloc(r->n ? r->n : 1, sizeof *q->last);
    r->bstate = q;
    if (resume_ready(q)) {
        resume_start(q);
    } else {
        q->next = rb->waiting;
        rb->waiting = q;
    }
}

/* ---- publish ---- */

typedef struct pubreq {
    rb_t *rb;
    hr_published_fn done;
    void *ud;
    uint64_t sent_ns;
    size_t bytes;
    int target;
} pubreq_t;

static void count_unpublished(rb_t *rb, const char *why)
{
    rb->unpublished++;
    uint64_t now = now_ms(rb);
    /* One line a second at most: an outage must not flood the log. */
    if (now - rb->last_unpublished_log_ms >= 1000 || rb->last_unpublished_log_ms == 0) {
        rb->last_unpublished_log_ms = now;
        hr_log(HR_LOG_WARN, "cluster: message not published: %s (%llu so far)", why,
               (unsigned long long)rb->unpublished);
    }
}

static void on_publish_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    redisReply *rep = rp;
    pubreq_t *q = priv;
    rb_t *rb = q->rb;
    rb->inflight--;
    rb->inflight_bytes -= q->bytes;
    const char *err = NULL;
    char ebuf[160];
    uint64_t seq = 0;
    if (rep == NULL) {
        err = "redis connection lost";
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(ebuf, sizeof ebuf, "redis: %.140s", rep->str);
        err = ebuf;
        if (strncmp(rep->str, "NOSCRIPT", 8) == 0 && rb->cmd.up) {
            /* Someone flushed the script cache: load it again. */
            redisAsyncCommand(rb->cmd.ac, NULL, NULL, "SCRIPT LOAD %s", script);
        }
    } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
               rep->element[0]->type != REDIS_REPLY_STRING ||
               rep->element[1]->type != REDIS_REPLY_STRING ||
               hr_parse_u64(rep->element[1]->str, rep->element[1]->len, &seq) != 0) {
        err = "redis: unexpected reply";
    }
    if (err) {
        count_unpublished(rb, err);
        q->done(q->ud, NULL, 0, err);
        free(q);
        return;
    }
    adopt(rb, rep->element[0]->str, rep->element[0]->len, seq);
    rb->msgs_out++;
    rb->base.published[q->target]++;
    rb->pub_lat_sum_ns += uv_hrtime() - q->sent_ns;
    rb->pub_lat_count++;
    char id[HR_ID_MAX];
    size_t idlen = hr_id_format(id, (hr_slice_t){rep->element[0]->str, rep->element[0]->len}, seq);
    q->done(q->ud, id, idlen, NULL);
    free(q);
}

static void publish(hr_broker_t *base, const hr_publish_t *p, hr_published_fn done, void *ud)
{
    rb_t *rb = (rb_t *)base;
    if (!rb->cmd.up || rb->cmd.ac == NULL) {
        count_unpublished(rb, "redis unavailable");
        done(ud, NULL, 0, "redis unavailable: message not published");
        return;
    }
    if (rb->inflight >= MAX_INFLIGHT || rb->inflight_bytes + p->data.len > MAX_INFLIGHT_BYTES) {
        count_unpublished(rb, "redis backlog full");
        done(ud, NULL, 0, "redis backlog full: message not published");
        return;
    }
    hr_cl_body_t b = {.target = p->target,
                      .binary = p->binary,
                      .retry = p->retry,
                      .event = p->event,
                      .data = p->data};
    /* A frame may name a channel twice: once in the Stream, once on pub/sub. */
    for (size_t i = 0; i < p->nchannels; i++) {
        size_t j = 0;
        while (j < b.nchannels && (b.channels[j].len != p->channels[i].len ||
                                   memcmp(b.channels[j].p, p->channels[i].p, p->channels[i].len)))
            j++;
        if (j == b.nchannels && b.nchannels < HR_ARRAY_SIZE(b.channels))
            b.channels[b.nchannels++] = p->channels[i];
    }
    size_t bodylen;
    char *body = hr_cl_body_encode(&b, &bodylen);
    int sse = (p->target & HR_TARGET_SSE) != 0;
    size_t nk = 2 + (sse ? 2 * b.nchannels : 0);
    size_t argc = 3 + 1 + nk + 7 + b.nchannels;
    const char **argv = hr_xmalloc(argc * sizeof *argv);
    size_t *lens = hr_xmalloc(argc * sizeof *lens);
    size_t keysz = sizeof HR_CL_PFX_STREAM + HR_CHANNEL_MAX;
    char *keys = hr_xmalloc((3 * b.nchannels + 1) * keysz);
    char nks[24], epoch[24], now[24], maxlen[24], ttl[24], lttl[24];
    size_t a = 0;
#define ARG(p, l) (argv[a] = (p), lens[a] = (l), a++)
    ARG("EVALSHA", 7);
    ARG(rb->sha, 40);
    ARG(nks, (size_t)snprintf(nks, sizeof nks, "%zu", nk));
    ARG(HR_CL_KEY_EPOCH, sizeof HR_CL_KEY_EPOCH - 1);
    ARG(HR_CL_KEY_SEQ, sizeof HR_CL_KEY_SEQ - 1);
    for (size_t i = 0; sse && i < b.nchannels; i++) {
        char *k1 = keys + (3 * i) * keysz, *k2 = k1 + keysz;
        ARG(k1, hr_cl_key(k1, HR_CL_PFX_STREAM, b.channels[i].p, b.channels[i].len));
        ARG(k2, hr_cl_key(k2, HR_CL_PFX_LAST, b.channels[i].p, b.channels[i].len));
    }
    uint64_t wall = wall_ms();
    long hsize = hr_history_cfg.history_size, httl = hr_history_cfg.history_ttl;
    ARG(epoch, (size_t)snprintf(epoch, sizeof epoch, "%" PRIx64, wall));
    ARG(sse ? "1" : "0", 1);
    ARG(now, (size_t)snprintf(now, sizeof now, "%" PRIu64, wall));
    ARG(maxlen, (size_t)snprintf(maxlen, sizeof maxlen, "%ld", hsize));
    ARG(ttl, (size_t)snprintf(ttl, sizeof ttl, "%ld", httl * 1000));
    long lt = httl * 2 > LAST_TTL_S ? httl * 2 : LAST_TTL_S;
    ARG(lttl, (size_t)snprintf(lttl, sizeof lttl, "%ld", lt));
    ARG(body, bodylen);
    for (size_t i = 0; i < b.nchannels; i++) {
        char *k = keys + (3 * i + 2) * keysz;
        ARG(k, hr_cl_key(k, HR_CL_PFX_PUBSUB, b.channels[i].p, b.channels[i].len));
    }
#undef ARG
    pubreq_t *q = hr_xmalloc(sizeof *q);
    *q = (pubreq_t){rb, done, ud, uv_hrtime(), 0, p->target};
    for (size_t i = 0; i < a; i++)
        q->bytes += lens[i];
    rb->inflight++;
    rb->inflight_bytes += q->bytes;
    if (redisAsyncCommandArgv(rb->cmd.ac, on_publish_reply, q, (int)a, argv, lens) != REDIS_OK) {
        rb->inflight--;
        rb->inflight_bytes -= q->bytes;
        free(q);
        count_unpublished(rb, "redis unavailable");
        done(ud, NULL, 0, "redis unavailable: message not published");
    }
    free(argv);
    free(lens);
    free(keys);
    free(body);
}

/* ---- links ---- */

static void link_connect(link_t *l);
static void on_link_timer(uv_timer_t *t);

static void schedule(link_t *l)
{
    if (l->rb->stopping)
        return;
    uint64_t d = l->backoff_ms;
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
    uv_timer_start(&l->timer, on_link_timer, d, 0);
}

static void on_link_timer(uv_timer_t *t)
{
    link_t *l = t->data;
    if (l->ac && !l->up) {
        /* Connect timed out: free (no callbacks for an unconnected link). */
        hr_log(HR_LOG_WARN, "cluster: %s link: connect timed out", l->name);
        redisAsyncContext *ac = l->ac;
        l->ac = NULL;
        redisAsyncFree(ac);
        schedule(l);
        return;
    }
    if (l->ac == NULL)
        link_connect(l);
}

static void on_hello(redisAsyncContext *ac, void *rp, void *priv)
{
    rb_t *rb = priv;
    redisReply *rep = rp;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        uint64_t seq = 0;
        if (rep->element[1]->type == REDIS_REPLY_STRING)
            hr_parse_u64(rep->element[1]->str, rep->element[1]->len, &seq);
        adopt(rb, rep->element[0]->str, rep->element[0]->len, seq);
    }
}

static void on_ping(redisAsyncContext *ac, void *rp, void *priv)
{
    rb_t *rb = priv;
    if (rp && rb->ping_sent_ns) {
        rb->ping_rtt_ns = uv_hrtime() - rb->ping_sent_ns;
        rb->ping_sent_ns = 0;
    }
}

/* Every stream that can resume does so from Redis after the sub link was
 * away: what was published meanwhile never reached this relay. */
static void end_resumable_streams(rb_t *rb)
{
    size_t n = 0;
    hr_net_t *net = rb->base.loop->net;
    for (hr_conn_t *c = net ? net->conns : NULL, *next; c; c = next) {
        next = c->next;
        if (c->kind == HR_CONN_STREAM && hr_conn_transport(c)->resumable && !c->closing &&
            !c->end_after_flush) {
            hr_conn_end(c);
            n++;
        }
    }
    if (n)
        hr_log(HR_LOG_INFO, "cluster: ended %zu stream(s) so they resume from Redis", n);
}

static void sub_resubscribe_wanted(rb_t *rb)
{
    subent_t *batch[SUB_BATCH];
    size_t nb = 0, bucket = 0;
    hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL);
    while (n) {
        hr_hnode_t *next = hr_htab_next(&rb->subents, &bucket, n);
        subent_t *e = hr_container_of(n, subent_t, node);
        if (!e->used) {
            sub_remove(rb, e);
        } else {
            e->state = S_SENT;
            batch[nb++] = e;
            if (nb == SUB_BATCH)
                send_sub(rb, "SUBSCRIBE", batch, nb), nb = 0;
        }
        n = next;
    }
    send_sub(rb, "SUBSCRIBE", batch, nb);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    link_t *l = ac->data;
    rb_t *rb = l->rb;
    if (status != REDIS_OK) {
        hr_log(HR_LOG_WARN, "cluster: %s link: %s", l->name, ac->errstr);
        l->ac = NULL; /* hiredis frees it */
        uv_timer_stop(&l->timer);
        schedule(l);
        return;
    }
    uv_timer_stop(&l->timer);
    /* TCP keepalive notices a Redis host that vanished; a Unix socket has
     * none (hiredis then fails with "Operation not supported"). */
    if (ac->c.connection_type == REDIS_CONN_TCP)
        redisEnableKeepAlive((redisContext *)&ac->c);
    l->up = 1;
    l->backoff_ms = BACKOFF_MIN_MS;
    if (l->ever_up)
        rb->reconnects++;
    hr_log(HR_LOG_INFO, "cluster: %s link up%s", l->name, l->ever_up ? " again" : "");
    int again = l->ever_up;
    l->ever_up = 1;
    if (l == &rb->cmd) {
        char epoch[24];
        snprintf(epoch, sizeof epoch, "%" PRIx64, wall_ms());
        redisAsyncCommand(l->ac, NULL, NULL, "SCRIPT LOAD %s", script);
        redisAsyncCommand(l->ac, NULL, NULL, "SET %s %s NX", HR_CL_KEY_EPOCH, epoch);
        redisAsyncCommand(l->ac, on_hello, rb, "MGET %s %s", HR_CL_KEY_EPOCH, HR_CL_KEY_SEQ);
    } else {
        sub_resubscribe_wanted(rb);
        if (again)
            end_resumable_streams(rb);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    link_t *l = ac->data;
    rb_t *rb = l->rb;
    l->ac = NULL;
    l->up = 0;
    if (rb->stopping) {
        /* The last replies came back (or the stop timer gave up). */
        if (l == &rb->cmd && rb->stop_timer_on) {
            rb->stop_timer_on = 0;
            uv_close((uv_handle_t *)&rb->stop_timer, NULL);
        }
        return;
    }
    hr_log(HR_LOG_WARN, "cluster: %s link down: %s", l->name,
           status == REDIS_OK ? "closed" : ac->errstr);
    if (l == &rb->sub) {
        size_t bucket = 0;
        for (hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL); n;
             n = hr_htab_next(&rb->subents, &bucket, n))
            hr_container_of(n, subent_t, node)->state = S_NONE;
    } else {
        rb->ping_sent_ns = 0;
    }
    schedule(l);
}

static void link_connect(link_t *l)
{
    rb_t *rb = l->rb;
    if (rb->stopping || l->ac)
        return;
    redisAsyncContext *ac = rb->url.path[0] ? redisAsyncConnectUnix(rb->url.path)
                                            : redisAsyncConnect(rb->url.host, rb->url.port);
    if (ac == NULL || ac->err) {
        hr_log(HR_LOG_WARN, "cluster: %s link: %s", l->name, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule(l);
        return;
    }
    ac->data = l;
    l->ac = ac;
    redisLibuvAttach(ac, rb->base.loop->uv);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    uv_timer_start(&l->timer, on_link_timer, CONNECT_TIMEOUT, 0);
}

/* Once a second: latency probe and stall check on the cmd link, and
 * UNSUBSCRIBE of channels idle for a while (not at once: hiredis 0.14
 * loses the callback when SUBSCRIBE follows an UNSUBSCRIBE still in
 * flight, and clients often come back right away). */
static void on_tick(uv_timer_t *t)
{
    rb_t *rb = t->data;
    uint64_t now = now_ms(rb);
    if (rb->cmd.up) {
        if (rb->ping_sent_ns && uv_hrtime() - rb->ping_sent_ns > PING_STALL_MS * 1000000ULL) {
            hr_log(HR_LOG_WARN, "cluster: cmd link stalled; reconnecting");
            redisAsyncFree(rb->cmd.ac); /* replies in flight fail: nacked */
        } else if (rb->ping_sent_ns == 0) {
            rb->ping_sent_ns = uv_hrtime();
            redisAsyncCommand(rb->cmd.ac, on_ping, rb, "PING");
        }
    }
    if (!rb->sub.up)
        return;
    subent_t *batch[SUB_BATCH];
    size_t nb = 0, bucket = 0;
    for (hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL); n;
         n = hr_htab_next(&rb->subents, &bucket, n)) {
        subent_t *e = hr_container_of(n, subent_t, node);
        if (!e->used && e->state == S_CONFIRMED && now - e->idle_ms >= UNSUB_IDLE_MS) {
            e->state = S_UNSUB;
            batch[nb++] = e;
            if (nb == SUB_BATCH)
                send_sub(rb, "UNSUBSCRIBE", batch, nb), nb = 0;
        }
    }
    send_sub(rb, "UNSUBSCRIBE", batch, nb);
}

static void on_stop_timer(uv_timer_t *t)
{
    rb_t *rb = t->data;
    hr_log(HR_LOG_WARN, "cluster: Redis did not answer the last publishes in time");
    rb->stop_timer_on = 0;
    uv_close((uv_handle_t *)t, NULL);
    if (rb->cmd.ac) {
        redisAsyncContext *ac = rb->cmd.ac;
        rb->cmd.ac = NULL;
        redisAsyncFree(ac); /* what is still in flight is nacked */
    }
}

static void stop(hr_broker_t *b)
{
    rb_t *rb = (rb_t *)b;
    if (rb->stopping)
        return;
    rb->stopping = 1;
    uv_close((uv_handle_t *)&rb->tick, NULL);
    uv_close((uv_handle_t *)&rb->cmd.timer, NULL);
    uv_close((uv_handle_t *)&rb->sub.timer, NULL);
    while (rb->waiting) {
        rres_t *q = rb->waiting;
        rb->waiting = q->next;
        hr_resume_t *r = q->r;
        if (r->owner)
            r->sink->done(r->owner);
        rres_free(q);
        hr_resume_free(r);
    }
    /* Disconnect waits for the replies in flight (the last acks), then
     * closes; a link still connecting is simply freed. */
    link_t *links[] = {&rb->cmd, &rb->sub};
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = links[i]->ac;
        if (ac == NULL)
            continue;
        if (links[i]->up && links[i] == &rb->cmd) {
            /* The timer first: with nothing in flight, the disconnect
             * (and on_disconnect) happens right here. */
            uv_timer_init(b->loop->uv, &rb->stop_timer);
            rb->stop_timer.data = rb;
            uv_timer_start(&rb->stop_timer, on_stop_timer, (uint64_t)rb->stop_timeout_ms, 0);
            rb->stop_timer_on = 1;
            redisAsyncDisconnect(ac);
        } else {
            links[i]->ac = NULL;
            links[i]->up = 0;
            redisAsyncFree(ac);
        }
    }
    b->loop->chans.on_used = NULL;
    size_t bucket = 0;
    hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL);
    while (n) {
        hr_hnode_t *next = hr_htab_next(&rb->subents, &bucket, n);
        free(hr_container_of(n, subent_t, node));
        n = next;
    }
    hr_htab_free(&rb->subents);
}

static void sweep(hr_broker_t *b, uint64_t now)
{
    /* Redis expires history itself (PEXPIRE, the gap rule). */
}

static void broker_free(hr_broker_t *b)
{
    free(b);
}

static void render(hr_prom_t *o, void *ud)
{
    rb_t *rb = ud;
    hr_prom_printf(
        o,
        "# HELP herald_redis_up 1 when both Redis links (commands, pub/sub) are connected.\n"
        "# TYPE herald_redis_up gauge\nherald_redis_up %d\n"
        "# HELP herald_redis_link_up Redis links by role.\n# TYPE herald_redis_link_up gauge\n"
        "herald_redis_link_up{link=\"cmd\"} %d\nherald_redis_link_up{link=\"sub\"} %d\n"
        "# HELP herald_redis_reconnects_total Redis links re-established after a loss.\n"
        "# TYPE herald_redis_reconnects_total counter\nherald_redis_reconnects_total %llu\n"
        "# HELP herald_redis_ping_seconds Last PING round trip on the command link.\n"
        "# TYPE herald_redis_ping_seconds gauge\nherald_redis_ping_seconds %.6f\n"
        "# HELP herald_redis_publish_seconds Publish script round trips.\n"
        "# TYPE herald_redis_publish_seconds summary\n"
        "herald_redis_publish_seconds_sum %.6f\nherald_redis_publish_seconds_count %llu\n"
        "# HELP herald_redis_messages_out_total Messages Redis accepted from this relay.\n"
        "# TYPE herald_redis_messages_out_total counter\nherald_redis_messages_out_total %llu\n"
        "# HELP herald_redis_messages_in_total Messages received from Redis pub/sub.\n"
        "# TYPE herald_redis_messages_in_total counter\nherald_redis_messages_in_total %llu\n"
        "# HELP herald_redis_unpublished_total Messages not published: Redis away, "
        "refused, or backlog full.\n"
        "# TYPE herald_redis_unpublished_total counter\n"
        "herald_redis_unpublished_total %llu\n"
        "# HELP herald_redis_pending Publishes waiting for Redis.\n"
        "# TYPE herald_redis_pending gauge\nherald_redis_pending %llu\n"
        "# HELP herald_redis_channels Channels this relay subscribes to in Redis.\n"
        "# TYPE herald_redis_channels gauge\nherald_redis_channels %zu\n"
        "# HELP herald_redis_resumes_total Resumes read from Redis.\n"
        "# TYPE herald_redis_resumes_total counter\nherald_redis_resumes_total %llu\n",
        rb->cmd.up && rb->sub.up, rb->cmd.up, rb->sub.up, (unsigned long long)rb->reconnects,
        (double)rb->ping_rtt_ns / 1e9, (double)rb->pub_lat_sum_ns / 1e9,
        (unsigned long long)rb->pub_lat_count, (unsigned long long)rb->msgs_out,
        (unsigned long long)rb->msgs_in, (unsigned long long)rb->unpublished,
        (unsigned long long)rb->inflight, rb->subents.count, (unsigned long long)rb->resumes);
}

static const hr_broker_ops_t redis_ops = {
    .name = "redis",
    .publish = publish,
    .resume = resume,
    .channel_used = channel_used,
    .conn_closed = conn_closed,
    .sweep = sweep,
    .stop = stop,
    .free = broker_free,
};

hr_broker_t *hr_broker_redis_new(hr_loop_t *L, const char *url, long stop_timeout_ms)
{
    char err[256];
    rb_t *rb = hr_xcalloc(1, sizeof *rb);
    if (hr_cl_parse_url(url, &rb->url, err, sizeof err) != 0) {
        hr_log(HR_LOG_ERROR, "%s", err);
        free(rb);
        return NULL;
    }
    hr_broker_init(&rb->base, &redis_ops, L);
    hr_metrics_add_fn(&L->metrics, render, rb);
    rb->stop_timeout_ms = stop_timeout_ms;
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, strlen(script), d);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(rb->sha + 2 * i, 3, "%02x", d[i]);
    hr_htab_init(&rb->subents, 256);
    /* History lives in Redis: no local copy to keep. */
    L->chans.hist_size = 0;
    rb->cmd.name = "cmd";
    rb->sub.name = "sub";
    link_t *links[] = {&rb->cmd, &rb->sub};
    for (int i = 0; i < 2; i++) {
        links[i]->rb = rb;
        uv_timer_init(L->uv, &links[i]->timer);
        links[i]->timer.data = links[i];
        links[i]->backoff_ms = BACKOFF_MIN_MS;
        link_connect(links[i]);
    }
    uv_timer_init(L->uv, &rb->tick);
    rb->tick.data = rb;
    uv_timer_start(&rb->tick, on_tick, PING_EVERY_MS, PING_EVERY_MS);
    hr_log(HR_LOG_INFO, "cluster: redis %s", url);
    return &rb->base;
}
