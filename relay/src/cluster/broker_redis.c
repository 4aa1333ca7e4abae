/* SPDX-License-Identifier: MIT
 * cluster.c: cluster mode through one Redis, with hiredis's libuv adapter
 * on the relay's own loop (no threads, nothing blocks).
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
 * with backoff. When the sub link comes back, SSE streams are ended so
 * browsers resume from Redis with their Last-Event-ID (what was published
 * meanwhile reaches them exactly); WebSockets have no resume and stay. */
#include "cluster/broker_redis.h"
#include "cluster/redis_fmt.h"
#include "app/config.h"
#include "base/log.h"
#include "app/metrics.h"
#include "app/relay.h"
#include "codec/sse.h"

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

int hr_cluster_on;

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

typedef struct link {
    redisAsyncContext *ac;
    uv_timer_t timer; /* reconnect backoff, connect timeout */
    const char *name;
    int up, ever_up;
    uint64_t backoff_ms;
} link_t;

/* A channel this relay has (or wants) in Redis. */
typedef struct subent {
    struct subent *next;
    uint8_t state;    /* S_* */
    uint8_t used;     /* local subscribers now */
    uint64_t idle_ms; /* when it lost its last local subscriber */
    size_t len;
    char name[];
} subent_t;

enum { S_NONE, S_SENT, S_CONFIRMED, S_UNSUB };

/* A Stream entry kept for a replay. */
typedef struct entry {
    uint64_t seq;
    char *body;
    size_t len;
} entry_t;

/* A resume in progress: replies and live messages it holds. */
typedef struct resume {
    struct resume *next; /* waiting for SUBSCRIBE confirmations */
    hr_conn_t *conn;     /* NULL once the connection closed */
    uint64_t after;
    hr_slice_t last_id; /* as sent (copied) */
    size_t n, replies;  /* channels; replies still to come */
    int failed, started;
    char **names;
    size_t *name_lens;
    uint64_t *last;    /* per channel: herald:l value */
    uint8_t *gap;      /* per channel: something after the id is gone */
    struct entry *all; /* replayable entries of every channel (bodies copied) */
    size_t nall, capall;
    hr_msg_t **held; /* live messages that came meanwhile */
    size_t nheld, capheld, heldbytes;
} resume_t;

static struct {
    hr_cl_url_t url;
    link_t cmd, sub;
    char sha[41];
    uv_timer_t tick;
    uv_timer_t stop_timer; /* shutdown: a Redis that never answers does not hold the exit */
    int stop_timer_on;
    int stopping;
    subent_t **buckets;
    size_t nbuckets, nsubents;
    resume_t *waiting;
    uint64_t inflight, inflight_bytes;
    uint64_t last_rx_seq; /* pub/sub is in seq order: one delivery per message */
    uint64_t ping_sent_ns;
    uint64_t last_unpublished_log_ms;
    /* metrics */
    uint64_t reconnects, msgs_out, msgs_in, unpublished, resumes;
    uint64_t pub_lat_sum_ns, pub_lat_count, ping_rtt_ns;
} cl;

/* ---- ids ---- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Take the cluster's epoch and the latest seq seen. A new epoch (first
 * contact, or Redis lost its data) restarts the id space. */
static void adopt(const char *epoch, size_t len, uint64_t seq)
{
    if (len == 0 || len >= sizeof hr_relay.boot)
        return;
    if (len != hr_relay.boot_len || memcmp(epoch, hr_relay.boot, len) != 0) {
        hr_log(HR_LOG_INFO, "cluster: epoch %.*s (was %s)", (int)len, epoch, hr_relay.boot);
        memcpy(hr_relay.boot, epoch, len);
        hr_relay.boot[len] = '\0';
        hr_relay.boot_len = len;
        hr_relay.seq = seq;
        cl.last_rx_seq = 0;
        for (hr_conn_t *c = hr_relay.conns; c; c = c->next)
            c->last_seq = 0;
        return;
    }
    if (seq > hr_relay.seq)
        hr_relay.seq = seq;
}

/* ---- the set of channels subscribed in Redis ---- */

static uint32_t hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static subent_t **sub_slot(const char *name, size_t len)
{
    subent_t **pp = &cl.buckets[hash(name, len) & (cl.nbuckets - 1)];
    while (*pp && ((*pp)->len != len || memcmp((*pp)->name, name, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void sub_grow(void)
{
    size_t n = cl.nbuckets * 2;
    subent_t **b = hr_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < cl.nbuckets; i++)
        for (subent_t *e = cl.buckets[i], *next; e; e = next) {
            next = e->next;
            size_t k = hash(e->name, e->len) & (n - 1);
            e->next = b[k];
            b[k] = e;
        }
    free(cl.buckets);
    cl.buckets = b;
    cl.nbuckets = n;
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv);

/* SUBSCRIBE (or UNSUBSCRIBE) up to SUB_BATCH channels in one command. */
static void send_sub(const char *cmd, subent_t **ents, size_t n)
{
    if (n == 0 || !cl.sub.up)
        return;
    const char *argv[SUB_BATCH + 1];
    size_t lens[SUB_BATCH + 1];
    char *keys = hr_xmalloc(n * (sizeof HR_CL_PFX_PUBSUB + HR_CHANNEL_MAX));
    argv[0] = cmd;
    lens[0] = strlen(cmd);
    for (size_t i = 0; i < n; i++) {
        char *k = keys + i * (sizeof HR_CL_PFX_PUBSUB + HR_CHANNEL_MAX);
        lens[i + 1] = hr_cl_key(k, HR_CL_PFX_PUBSUB, ents[i]->name, ents[i]->len);
        argv[i + 1] = k;
    }
    redisAsyncCommandArgv(cl.sub.ac, on_sub_reply, NULL, (int)n + 1, argv, lens);
    free(keys);
}

static void on_used(const char *name, size_t len, int used)
{
    subent_t **pp = sub_slot(name, len), *e = *pp;
    if (e == NULL) {
        if (!used)
            return;
        if (cl.nsubents >= cl.nbuckets)
            sub_grow(), pp = sub_slot(name, len);
        e = hr_xcalloc(1, sizeof *e + len + 1);
        memcpy(e->name, name, len);
        e->len = len;
        *pp = e;
        cl.nsubents++;
    }
    e->used = (uint8_t)used;
    if (!used) {
        e->idle_ms = hr_now_ms(); /* unsubscribed later by the tick: see on_tick */
        return;
    }
    if (e->state == S_NONE) {
        e->state = S_SENT;
        send_sub("SUBSCRIBE", &e, 1);
    }
    /* S_UNSUB: resubscribed when the UNSUBSCRIBE is confirmed. */
}

/* ---- live delivery ---- */

static void resume_hold(resume_t *r, hr_msg_t *m);

static void deliver(void *conn, hr_msg_t *m, void *ud)
{
    hr_conn_t *c = conn;
    int t = (int)(intptr_t)ud;
    /* Seqs reach a connection in increasing order, so one comparison drops
     * both a message published to several of its channels and one a resume
     * replay already carried. */
    if (m->seq <= c->last_seq)
        return;
    if (c->cluster) {
        resume_hold(c->cluster, m);
        return;
    }
    c->last_seq = m->seq;
    if (hr_conn_send(c, m) == 0)
        hr_metrics.delivered[t]++;
}

/* Encode a message for its transport with its global id. */
static hr_msg_t *encode(const hr_cl_body_t *b, uint64_t seq)
{
    hr_msg_t *m;
    if (b->transport == HR_T_SSE) {
        char id[48];
        hr_slice_t ids = {id, hr_relay_format_id(id, seq)};
        m = hr_msg_new(hr_sse_event_len(ids, b->event, b->retry, b->data));
        hr_sse_encode_event(m->data, ids, b->event, b->retry, b->data);
    } else {
        uint8_t h[HR_WS_MAX_HEADER];
        size_t hl = hr_ws_frame_header(h, b->binary ? HR_WS_OP_BINARY : HR_WS_OP_TEXT, b->data.len);
        m = hr_msg_new(hl + b->data.len);
        memcpy(m->data, h, hl);
        if (b->data.len)
            memcpy(m->data + hl, b->data.p, b->data.len);
    }
    m->seq = seq;
    m->time_ms = hr_now_ms();
    return m;
}

static void on_message(const char *p, size_t len)
{
    hr_slice_t epoch, body;
    uint64_t seq;
    hr_cl_body_t b;
    if (hr_cl_payload_parse(p, len, &epoch, &seq, &body) != 0 ||
        hr_cl_body_decode(body.p, body.len, &b) != 0) {
        hr_log(HR_LOG_WARN, "cluster: ignoring a malformed pub/sub message");
        return;
    }
    adopt(epoch.p, epoch.len, seq);
    /* The script publishes a message on each of its channels in a row. */
    if (seq <= cl.last_rx_seq)
        return;
    cl.last_rx_seq = seq;
    cl.msgs_in++;
    hr_msg_t *m = encode(&b, seq);
    for (size_t i = 0; i < b.nchannels; i++) {
        hr_chan_t *ch = hr_chan_find(&hr_relay.chans, b.channels[i].p, b.channels[i].len);
        if (ch)
            hr_chan_publish(&hr_relay.chans, ch, b.transport, m, deliver,
                            (void *)(intptr_t)b.transport);
    }
    hr_msg_unref(m);
}

static void start_ready_resumes(void);
static void sub_resubscribe_wanted(void);

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *rep = r;
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str;
    redisReply *chr = rep->element[1];
    if (strcmp(kind, "message") == 0) {
        if (rep->element[2]->type == REDIS_REPLY_STRING)
            on_message(rep->element[2]->str, rep->element[2]->len);
        return;
    }
    if (chr->type != REDIS_REPLY_STRING || chr->len <= sizeof HR_CL_PFX_PUBSUB - 1)
        return;
    const char *name = chr->str + sizeof HR_CL_PFX_PUBSUB - 1;
    size_t len = chr->len - (sizeof HR_CL_PFX_PUBSUB - 1);
    subent_t **pp = sub_slot(name, len), *e = *pp;
    if (e == NULL)
        return;
    if (strcmp(kind, "subscribe") == 0 && e->state == S_SENT) {
        e->state = S_CONFIRMED;
        start_ready_resumes();
    } else if (strcmp(kind, "unsubscribe") == 0 && e->state == S_UNSUB) {
        if (e->used) {
            /* Wanted again while the UNSUBSCRIBE travelled. */
            e->state = S_SENT;
            send_sub("SUBSCRIBE", &e, 1);
        } else {
            *pp = e->next;
            cl.nsubents--;
            free(e);
        }
    }
}

/* ---- resume ---- */

static void resume_hold(resume_t *r, hr_msg_t *m)
{
    /* Bounded like a subscriber's queue: past it, the client reconnects
     * and resumes again rather than the relay growing. */
    if (r->heldbytes + m->len > (size_t)hr_cfg.max_queued_bytes) {
        hr_conn_t *c = r->conn;
        hr_metrics.slow_consumers++;
        hr_conn_close(c, "too much live traffic during a resume");
        return;
    }
    if (r->nheld == r->capheld) {
        r->capheld = r->capheld ? r->capheld * 2 : 16;
        r->held = hr_xrealloc(r->held, r->capheld * sizeof *r->held);
    }
    r->held[r->nheld++] = hr_msg_ref(m);
    r->heldbytes += m->len;
}

static void resume_free(resume_t *r)
{
    for (size_t i = 0; i < r->nheld; i++)
        hr_msg_unref(r->held[i]);
    for (size_t i = 0; i < r->n; i++)
        free(r->names[i]);
    for (size_t i = 0; i < r->nall; i++)
        free(r->all[i].body);
    free(r->all);
    free(r->gap);
    free(r->held);
    free(r->last);
    free(r->names);
    free(r->name_lens);
    free((char *)r->last_id.p);
    free(r);
}

/* Detach from the connection; the struct lives on while replies are due. */
static void resume_detach(resume_t *r)
{
    if (r->conn) {
        r->conn->cluster = NULL;
        r->conn = NULL;
    }
    for (size_t i = 0; i < r->nheld; i++)
        hr_msg_unref(r->held[i]);
    r->nheld = r->heldbytes = 0;
}

static void waiting_remove(resume_t *r)
{
    for (resume_t **pp = &cl.waiting; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

void hr_cluster_conn_closed(hr_conn_t *c)
{
    resume_t *r = c->cluster;
    resume_detach(r);
    if (!r->started) {
        waiting_remove(r);
        resume_free(r);
    }
}

/* The herald.gap event, as sse_conn.c sends it. */
static void send_gap(hr_conn_t *c, resume_t *r, const uint8_t *gap, int with_position)
{
    /* Names are channel names: [A-Za-z0-9_.:@=/-], no JSON escaping needed. */
    size_t cap = 64 + r->last_id.len * 6;
    for (size_t i = 0; i < r->n; i++)
        cap += r->name_lens[i] + 3;
    char *js = hr_xmalloc(cap);
    size_t n = (size_t)snprintf(js, cap, "{\"last_event_id\":\"");
    for (size_t i = 0; i < r->last_id.len; i++) {
        unsigned char ch = (unsigned char)r->last_id.p[i];
        if (ch < 0x20 || ch == '"' || ch == '\\' || ch >= 0x7f)
            n += (size_t)snprintf(js + n, cap - n, "\\u%04x", ch);
        else
            js[n++] = (char)ch;
    }
    n += (size_t)snprintf(js + n, cap - n, "\",\"channels\":[");
    int first = 1;
    for (size_t i = 0; i < r->n; i++)
        if (gap[i]) {
            n += (size_t)snprintf(js + n, cap - n, "%s\"%.*s\"", first ? "" : ",",
                                  (int)r->name_lens[i], r->names[i]);
            first = 0;
        }
    n += (size_t)snprintf(js + n, cap - n, "]}");
    char id[48];
    hr_slice_t ids = {id, with_position ? hr_relay_format_id(id, hr_relay.seq) : 0};
    hr_slice_t ev = {"herald.gap", 10}, data = {js, n};
    hr_msg_t *m = hr_msg_new(hr_sse_event_len(ids, ev, 0, data));
    hr_sse_encode_event(m->data, ids, ev, 0, data);
    hr_conn_send(c, m);
    hr_msg_unref(m);
    free(js);
}

static int cmp_entry(const void *a, const void *b)
{
    uint64_t x = ((const entry_t *)a)->seq, y = ((const entry_t *)b)->seq;
    return x < y ? -1 : x > y;
}

static redisReply *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0 &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1];
    return NULL;
}

/* One channel's XRANGE: decide its gap, keep what can be replayed. hiredis
 * frees the reply after the callback, so the bodies are copied. */
static void take_xrange(resume_t *r, size_t idx, const redisReply *rep)
{
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
            hr_cl_parse_u64(pv->str, pv->len, &p[good]) != 0 ||
            hr_cl_parse_u64(tv->str, tv->len, &t[good]) != 0)
            continue;
        good++;
    }
    size_t skip;
    r->gap[idx] = (uint8_t)hr_cl_gap(r->after, r->last[idx], s, p, t, good, wall_ms(),
                                     (uint64_t)hr_cfg.history_ttl * 1000, &skip);
    for (size_t j = skip; j < good; j++) {
        if (r->nall == r->capall) {
            r->capall = r->capall ? r->capall * 2 : 16;
            r->all = hr_xrealloc(r->all, r->capall * sizeof *r->all);
        }
        char *b = hr_xmalloc(m[j]->len + 1);
        memcpy(b, m[j]->str, m[j]->len);
        r->all[r->nall++] = (entry_t){s[j], b, m[j]->len};
    }
    free(m);
    free(s);
}

/* All replies are in: the gap event if any, the merged replay, then the
 * live messages held meanwhile. */
static void resume_finish(resume_t *r)
{
    hr_conn_t *c = r->conn;
    if (c)
        c->cluster = NULL; /* live messages go straight to it again */
    r->conn = NULL;
    if (c == NULL || c->closing) {
        resume_free(r);
        return;
    }
    if (r->failed) {
        /* Redis went away mid-read: the client reconnects with the same
         * id and tries again, which loses nothing. */
        resume_free(r);
        hr_conn_close(c, "resume: redis unavailable");
        return;
    }
    size_t gaps = 0, sent = 0;
    for (size_t i = 0; i < r->n; i++)
        gaps += r->gap[i];
    qsort(r->all, r->nall, sizeof *r->all, cmp_entry);
    for (size_t i = 0; i < r->nall; i++)
        if (i == 0 || r->all[i].seq != r->all[i - 1].seq)
            sent++;
    if (gaps) {
        hr_metrics.resumes_gap++;
        send_gap(c, r, r->gap, sent == 0);
    } else {
        hr_metrics.resumes_exact++;
    }
    for (size_t i = 0; i < r->nall && !c->closing; i++) {
        hr_cl_body_t b;
        if ((i > 0 && r->all[i].seq == r->all[i - 1].seq) ||
            hr_cl_body_decode(r->all[i].body, r->all[i].len, &b) != 0)
            continue;
        hr_msg_t *msg = encode(&b, r->all[i].seq);
        if (msg->seq > c->last_seq)
            c->last_seq = msg->seq;
        hr_metrics.delivered[HR_T_SSE]++;
        hr_conn_send_uncapped(c, msg);
        hr_msg_unref(msg);
    }
    /* Live messages that came while Redis answered; those the replay
     * already carried are at or below last_seq, and deliver() drops them. */
    hr_log(HR_LOG_DEBUG, "client %p: resume from Redis: %zu replayed, %zu live held, gap on %zu",
           (void *)c, sent, r->nheld, gaps);
    for (size_t i = 0; i < r->nheld && !c->closing; i++)
        deliver(c, r->held[i], (void *)(intptr_t)HR_T_SSE);
    resume_free(r);
}

static void on_resume_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    redisReply *rep = rp;
    resume_t *r = priv;
    /* Replies come in command order, two per channel (GET, XRANGE). */
    size_t done = 2 * r->n - r->replies, idx = done / 2;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
        r->failed = 1;
    else if (done % 2 == 0 && rep->type == REDIS_REPLY_STRING)
        hr_cl_parse_u64(rep->str, rep->len, &r->last[idx]);
    else if (done % 2 == 1 && rep->type == REDIS_REPLY_ARRAY && !r->failed)
        take_xrange(r, idx, rep);
    else if (done % 2 == 1)
        r->failed = 1;
    if (--r->replies == 0)
        resume_finish(r);
}

static void resume_start(resume_t *r)
{
    r->started = 1;
    if (!cl.cmd.up) {
        r->replies = 1;
        r->failed = 1;
        resume_finish(r);
        return;
    }
    char start[32];
    snprintf(start, sizeof start, "%" PRIu64 "-0", r->after + 1);
    r->replies = 2 * r->n;
    cl.resumes++;
    for (size_t i = 0; i < r->n; i++) {
        char key[sizeof HR_CL_PFX_STREAM + HR_CHANNEL_MAX];
        size_t kl = hr_cl_key(key, HR_CL_PFX_LAST, r->names[i], r->name_lens[i]);
        const char *a1[] = {"GET", key};
        size_t l1[] = {3, kl};
        redisAsyncCommandArgv(cl.cmd.ac, on_resume_reply, r, 2, a1, l1);
        kl = hr_cl_key(key, HR_CL_PFX_STREAM, r->names[i], r->name_lens[i]);
        const char *a2[] = {"XRANGE", key, start, "+"};
        size_t l2[] = {6, kl, strlen(start), 1};
        redisAsyncCommandArgv(cl.cmd.ac, on_resume_reply, r, 4, a2, l2);
    }
}

static int resume_ready(const resume_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        subent_t *e = *sub_slot(r->names[i], r->name_lens[i]);
        if (e == NULL || e->state != S_CONFIRMED)
            return 0;
    }
    return 1;
}

static void start_ready_resumes(void)
{
    for (resume_t **pp = &cl.waiting; *pp;) {
        resume_t *r = *pp;
        if (resume_ready(r)) {
            *pp = r->next;
            resume_start(r);
        } else {
            pp = &r->next;
        }
    }
}

int hr_cluster_resume(hr_conn_t *c, const hr_slice_t *channels, size_t n, hr_slice_t last_id)
{
    uint64_t after;
    if (!hr_relay_parse_id(last_id.p, last_id.len, &after))
        return -1;
    resume_t *r = hr_xcalloc(1, sizeof *r);
    r->conn = c;
    r->after = after;
    r->last_id = (hr_slice_t){hr_xstrndup(last_id.p, last_id.len), last_id.len};
    r->names = hr_xcalloc(n, sizeof *r->names);
    r->name_lens = hr_xcalloc(n, sizeof *r->name_lens);
    r->last = hr_xcalloc(n, sizeof *r->last);
    r->gap = hr_xcalloc(n, 1);
    /* A channel named twice is read once. */
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < r->n && (r->name_lens[j] != channels[i].len ||
                            memcmp(r->names[j], channels[i].p, channels[i].len) != 0))
            j++;
        if (j < r->n)
            continue;
        r->names[r->n] = hr_xstrndup(channels[i].p, channels[i].len);
        r->name_lens[r->n++] = channels[i].len;
    }
    c->cluster = r;
    if (resume_ready(r)) {
        resume_start(r);
    } else {
        r->next = cl.waiting;
        cl.waiting = r;
    }
    return 0;
}

/* ---- publish ---- */

typedef struct pubreq {
    hr_cluster_done_fn done;
    void *ud;
    uint64_t sent_ns;
    size_t bytes;
    int transport;
} pubreq_t;

static void count_unpublished(const char *why)
{
    cl.unpublished++;
    uint64_t now = hr_now_ms();
    /* One line a second at most: an outage must not flood the log. */
    if (now - cl.last_unpublished_log_ms >= 1000 || cl.last_unpublished_log_ms == 0) {
        cl.last_unpublished_log_ms = now;
        hr_log(HR_LOG_WARN, "cluster: message not published: %s (%llu so far)", why,
               (unsigned long long)cl.unpublished);
    }
}

static void on_publish_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    redisReply *rep = rp;
    pubreq_t *q = priv;
    cl.inflight--;
    cl.inflight_bytes -= q->bytes;
    const char *err = NULL;
    char ebuf[160];
    if (rep == NULL) {
        err = "redis connection lost";
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(ebuf, sizeof ebuf, "redis: %.140s", rep->str);
        err = ebuf;
        if (strncmp(rep->str, "NOSCRIPT", 8) == 0 && cl.cmd.up) {
            /* Someone flushed the script cache: load it again. */
            redisAsyncCommand(cl.cmd.ac, NULL, NULL, "SCRIPT LOAD %s", script);
        }
    } else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
               rep->element[0]->type != REDIS_REPLY_STRING ||
               rep->element[1]->type != REDIS_REPLY_STRING) {
        err = "redis: unexpected reply";
    }
    if (err) {
        count_unpublished(err);
        q->done(q->ud, NULL, 0, err);
        free(q);
        return;
    }
    uint64_t seq;
    hr_cl_parse_u64(rep->element[1]->str, rep->element[1]->len, &seq);
    adopt(rep->element[0]->str, rep->element[0]->len, seq);
    cl.msgs_out++;
    hr_metrics.published[q->transport]++;
    cl.pub_lat_sum_ns += uv_hrtime() - q->sent_ns;
    cl.pub_lat_count++;
    char id[48];
    size_t idlen = (size_t)snprintf(id, sizeof id, "%.*s-%" PRIu64, (int)rep->element[0]->len,
                                    rep->element[0]->str, seq);
    q->done(q->ud, id, idlen, NULL);
    free(q);
}

void hr_cluster_publish(int transport, int binary, long retry, hr_slice_t event, hr_slice_t data,
                        const hr_slice_t *channels, size_t n, hr_cluster_done_fn done, void *ud)
{
    if (!cl.cmd.up || cl.cmd.ac == NULL) {
        count_unpublished("redis unavailable");
        done(ud, NULL, 0, "redis unavailable: message not published");
        return;
    }
    if (cl.inflight >= MAX_INFLIGHT || cl.inflight_bytes + data.len > MAX_INFLIGHT_BYTES) {
        count_unpublished("redis backlog full");
        done(ud, NULL, 0, "redis backlog full: message not published");
        return;
    }
    hr_cl_body_t b = {
        .transport = transport, .binary = binary, .retry = retry, .event = event, .data = data};
    /* A frame may name a channel twice: once in the Stream, once on pub/sub. */
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < b.nchannels && (b.channels[j].len != channels[i].len ||
                                   memcmp(b.channels[j].p, channels[i].p, channels[i].len)))
            j++;
        if (j == b.nchannels && b.nchannels < HR_ARRAY_SIZE(b.channels))
            b.channels[b.nchannels++] = channels[i];
    }
    size_t bodylen;
    char *body = hr_cl_body_encode(&b, &bodylen);
    int sse = transport == HR_T_SSE;
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
    ARG(cl.sha, 40);
    ARG(nks, (size_t)snprintf(nks, sizeof nks, "%zu", nk));
    ARG(HR_CL_KEY_EPOCH, sizeof HR_CL_KEY_EPOCH - 1);
    ARG(HR_CL_KEY_SEQ, sizeof HR_CL_KEY_SEQ - 1);
    for (size_t i = 0; sse && i < b.nchannels; i++) {
        char *k1 = keys + (3 * i) * keysz, *k2 = k1 + keysz;
        ARG(k1, hr_cl_key(k1, HR_CL_PFX_STREAM, b.channels[i].p, b.channels[i].len));
        ARG(k2, hr_cl_key(k2, HR_CL_PFX_LAST, b.channels[i].p, b.channels[i].len));
    }
    uint64_t wall = wall_ms();
    ARG(epoch, (size_t)snprintf(epoch, sizeof epoch, "%" PRIx64, wall));
    ARG(sse ? "1" : "0", 1);
    ARG(now, (size_t)snprintf(now, sizeof now, "%" PRIu64, wall));
    ARG(maxlen, (size_t)snprintf(maxlen, sizeof maxlen, "%ld", hr_cfg.history_size));
    ARG(ttl, (size_t)snprintf(ttl, sizeof ttl, "%ld", hr_cfg.history_ttl * 1000));
    long lt = hr_cfg.history_ttl * 2 > LAST_TTL_S ? hr_cfg.history_ttl * 2 : LAST_TTL_S;
    ARG(lttl, (size_t)snprintf(lttl, sizeof lttl, "%ld", lt));
    ARG(body, bodylen);
    for (size_t i = 0; i < b.nchannels; i++) {
        char *k = keys + (3 * i + 2) * keysz;
        ARG(k, hr_cl_key(k, HR_CL_PFX_PUBSUB, b.channels[i].p, b.channels[i].len));
    }
#undef ARG
    pubreq_t *q = hr_xmalloc(sizeof *q);
    *q = (pubreq_t){done, ud, uv_hrtime(), 0, transport};
    for (size_t i = 0; i < a; i++)
        q->bytes += lens[i];
    cl.inflight++;
    cl.inflight_bytes += q->bytes;
    if (redisAsyncCommandArgv(cl.cmd.ac, on_publish_reply, q, (int)a, argv, lens) != REDIS_OK) {
        cl.inflight--;
        cl.inflight_bytes -= q->bytes;
        free(q);
        count_unpublished("redis unavailable");
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
    if (cl.stopping)
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
    redisReply *rep = rp;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        uint64_t seq = 0;
        if (rep->element[1]->type == REDIS_REPLY_STRING)
            hr_cl_parse_u64(rep->element[1]->str, rep->element[1]->len, &seq);
        adopt(rep->element[0]->str, rep->element[0]->len, seq);
    }
}

static void on_ping(redisAsyncContext *ac, void *rp, void *priv)
{
    if (rp && cl.ping_sent_ns) {
        cl.ping_rtt_ns = uv_hrtime() - cl.ping_sent_ns;
        cl.ping_sent_ns = 0;
    }
}

/* Every SSE stream resumes from Redis after the sub link was away: what
 * was published meanwhile never reached this relay. */
static void end_sse_streams(void)
{
    size_t n = 0;
    for (hr_conn_t *c = hr_relay.conns, *next; c; c = next) {
        next = c->next;
        if (c->kind == HR_CONN_SSE && !c->closing && !c->end_after_flush) {
            if (c->cluster)
                hr_cluster_conn_closed(c);
            hr_conn_end(c);
            n++;
        }
    }
    if (n)
        hr_log(HR_LOG_INFO, "cluster: ended %zu SSE stream(s) so they resume from Redis", n);
}

static void sub_resubscribe_wanted(void)
{
    subent_t *batch[SUB_BATCH];
    size_t nb = 0;
    for (size_t i = 0; i < cl.nbuckets; i++)
        for (subent_t **pp = &cl.buckets[i]; *pp;) {
            subent_t *e = *pp;
            if (!e->used) {
                *pp = e->next;
                cl.nsubents--;
                free(e);
                continue;
            }
            e->state = S_SENT;
            batch[nb++] = e;
            if (nb == SUB_BATCH)
                send_sub("SUBSCRIBE", batch, nb), nb = 0;
            pp = &e->next;
        }
    send_sub("SUBSCRIBE", batch, nb);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    link_t *l = ac->data;
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
        cl.reconnects++;
    hr_log(HR_LOG_INFO, "cluster: %s link up%s", l->name, l->ever_up ? " again" : "");
    int again = l->ever_up;
    l->ever_up = 1;
    if (l == &cl.cmd) {
        char epoch[24];
        snprintf(epoch, sizeof epoch, "%" PRIx64, wall_ms());
        redisAsyncCommand(l->ac, NULL, NULL, "SCRIPT LOAD %s", script);
        redisAsyncCommand(l->ac, NULL, NULL, "SET %s %s NX", HR_CL_KEY_EPOCH, epoch);
        redisAsyncCommand(l->ac, on_hello, NULL, "MGET %s %s", HR_CL_KEY_EPOCH, HR_CL_KEY_SEQ);
    } else {
        sub_resubscribe_wanted();
        if (again)
            end_sse_streams();
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    link_t *l = ac->data;
    l->ac = NULL;
    l->up = 0;
    if (cl.stopping) {
        /* The last replies came back (or the stop timer gave up). */
        if (l == &cl.cmd && cl.stop_timer_on) {
            cl.stop_timer_on = 0;
            uv_close((uv_handle_t *)&cl.stop_timer, NULL);
        }
        return;
    }
    hr_log(HR_LOG_WARN, "cluster: %s link down: %s", l->name,
           status == REDIS_OK ? "closed" : ac->errstr);
    if (l == &cl.sub) {
        for (size_t i = 0; i < cl.nbuckets; i++)
            for (subent_t *e = cl.buckets[i]; e; e = e->next)
                e->state = S_NONE;
    } else {
        cl.ping_sent_ns = 0;
    }
    schedule(l);
}

static void link_connect(link_t *l)
{
    if (cl.stopping || l->ac)
        return;
    redisAsyncContext *ac = cl.url.path[0] ? redisAsyncConnectUnix(cl.url.path)
                                           : redisAsyncConnect(cl.url.host, cl.url.port);
    if (ac == NULL || ac->err) {
        hr_log(HR_LOG_WARN, "cluster: %s link: %s", l->name, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule(l);
        return;
    }
    ac->data = l;
    l->ac = ac;
    redisLibuvAttach(ac, hr_relay.loop);
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
    uint64_t now = hr_now_ms();
    if (cl.cmd.up) {
        if (cl.ping_sent_ns && uv_hrtime() - cl.ping_sent_ns > PING_STALL_MS * 1000000ULL) {
            hr_log(HR_LOG_WARN, "cluster: cmd link stalled; reconnecting");
            redisAsyncContext *ac = cl.cmd.ac;
            redisAsyncFree(ac); /* replies in flight fail: nacked */
        } else if (cl.ping_sent_ns == 0) {
            cl.ping_sent_ns = uv_hrtime();
            redisAsyncCommand(cl.cmd.ac, on_ping, NULL, "PING");
        }
    }
    if (!cl.sub.up)
        return;
    subent_t *batch[SUB_BATCH];
    size_t nb = 0;
    for (size_t i = 0; i < cl.nbuckets; i++)
        for (subent_t *e = cl.buckets[i]; e; e = e->next)
            if (!e->used && e->state == S_CONFIRMED && now - e->idle_ms >= UNSUB_IDLE_MS) {
                e->state = S_UNSUB;
                batch[nb++] = e;
                if (nb == SUB_BATCH)
                    send_sub("UNSUBSCRIBE", batch, nb), nb = 0;
            }
    send_sub("UNSUBSCRIBE", batch, nb);
}

int hr_cluster_start(const char *url)
{
    char err[256];
    if (hr_cl_parse_url(url, &cl.url, err, sizeof err) != 0) {
        hr_log(HR_LOG_ERROR, "%s", err);
        return -1;
    }
    hr_cluster_on = 1;
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, strlen(script), d);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(cl.sha + 2 * i, 3, "%02x", d[i]);
    cl.nbuckets = 256;
    cl.buckets = hr_xcalloc(cl.nbuckets, sizeof *cl.buckets);
    hr_relay.chans.on_used = on_used;
    /* History lives in Redis: no local copy to keep. */
    hr_relay.chans.hist_size = 0;
    cl.cmd.name = "cmd";
    cl.sub.name = "sub";
    link_t *links[] = {&cl.cmd, &cl.sub};
    for (int i = 0; i < 2; i++) {
        uv_timer_init(hr_relay.loop, &links[i]->timer);
        links[i]->timer.data = links[i];
        links[i]->backoff_ms = BACKOFF_MIN_MS;
        link_connect(links[i]);
    }
    uv_timer_init(hr_relay.loop, &cl.tick);
    uv_timer_start(&cl.tick, on_tick, PING_EVERY_MS, PING_EVERY_MS);
    hr_log(HR_LOG_INFO, "cluster: redis %s", url);
    return 0;
}

static void on_stop_timer(uv_timer_t *t)
{
    hr_log(HR_LOG_WARN, "cluster: Redis did not answer the last publishes in time");
    cl.stop_timer_on = 0;
    uv_close((uv_handle_t *)t, NULL);
    if (cl.cmd.ac) {
        redisAsyncContext *ac = cl.cmd.ac;
        cl.cmd.ac = NULL;
        redisAsyncFree(ac); /* what is still in flight is nacked */
    }
}

void hr_cluster_stop(void)
{
    if (!hr_cluster_on || cl.stopping)
        return;
    cl.stopping = 1;
    uv_close((uv_handle_t *)&cl.tick, NULL);
    uv_close((uv_handle_t *)&cl.cmd.timer, NULL);
    uv_close((uv_handle_t *)&cl.sub.timer, NULL);
    while (cl.waiting) {
        resume_t *r = cl.waiting;
        cl.waiting = r->next;
        resume_detach(r);
        resume_free(r);
    }
    /* Disconnect waits for the replies in flight (the last acks), then
     * closes; a link still connecting is simply freed. */
    link_t *links[] = {&cl.cmd, &cl.sub};
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = links[i]->ac;
        if (ac == NULL)
            continue;
        if (links[i]->up && links[i] == &cl.cmd) {
            /* The timer first: with nothing in flight, the disconnect
             * (and on_disconnect) happens right here. */
            uv_timer_init(hr_relay.loop, &cl.stop_timer);
            uv_timer_start(&cl.stop_timer, on_stop_timer, (uint64_t)hr_cfg.shutdown_timeout, 0);
            cl.stop_timer_on = 1;
            redisAsyncDisconnect(ac);
        } else {
            links[i]->ac = NULL;
            links[i]->up = 0;
            redisAsyncFree(ac);
        }
    }
    hr_relay.chans.on_used = NULL;
    for (size_t i = 0; i < cl.nbuckets; i++)
        for (subent_t *e = cl.buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(cl.buckets);
    cl.buckets = NULL;
    cl.nbuckets = cl.nsubents = 0;
}

char *hr_cluster_metrics(size_t *len)
{
    char *out = NULL;
    size_t cap = 0;
    FILE *f = open_memstream(&out, &cap);
    if (f == NULL) {
        *len = 0;
        return hr_xstrndup("", 0);
    }
    fprintf(f,
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
            cl.cmd.up && cl.sub.up, cl.cmd.up, cl.sub.up, (unsigned long long)cl.reconnects,
            (double)cl.ping_rtt_ns / 1e9, (double)cl.pub_lat_sum_ns / 1e9,
            (unsigned long long)cl.pub_lat_count, (unsigned long long)cl.msgs_out,
            (unsigned long long)cl.msgs_in, (unsigned long long)cl.unpublished,
            (unsigned long long)cl.inflight, cl.nsubents, (unsigned long long)cl.resumes);
    fclose(f);
    *len = cap;
    return out;
}
