/* SPDX-License-Identifier: MIT
 * broker_redis.c: the Redis broker (core/broker.h): several relays share one
 * order, one id space and one history through one Redis, with hiredis's
 * libuv adapter on the relay's own loop (no threads, nothing blocks).
 *
 * Two links: "cmd" runs the scripts (publish, position, read); "sub" is in
 * SUBSCRIBE mode (RESP2 cannot mix the two on one link) and carries
 * herald:m:<channel> for the channels local clients use.
 *
 * Publish: the script gives the message the next herald:seq (the global
 * order), appends the message to each channel's Stream of the current
 * epoch (exact MAXLEN history_size, PEXPIRE history_ttl) with the channel's
 * previous seq, and PUBLISHes "<epoch>:<seq>:<body>" on each channel,
 * atomically. Every relay, the publisher included, delivers what comes back
 * on pub/sub, so all relays deliver in one order. The script checks
 * everything before it writes anything, so it writes every channel or none;
 * it records what it ran under this relay's publish number, so a publish
 * sent again after a lost reply runs once; and it moves the cluster to a
 * new epoch when the counter is behind ids already handed out (a promoted
 * replica, an eviction, a reset), so ids are never handed out twice.
 *
 * Backlog: publishes wait in one queue, in release order, until Redis
 * answered them (at most MAX_INFLIGHT of them on the wire); while Redis is
 * away they stay queued, up to redis_backlog_bytes, and past that the
 * broker refuses (hr_broker_set_accepting). A lost link sends again what was
 * not answered; a flushed script cache (NOSCRIPT) sends the script's source.
 *
 * Resume: once Redis confirmed this relay's SUBSCRIBE of every requested
 * channel, the read script reads each channel's Stream after the id and its
 * last seq; live messages for the connection wait meanwhile, then the replay
 * (merged by seq, each once) goes first and the waiting live ones follow,
 * minus any the replay already carried. Redis ran the read after the
 * SUBSCRIBE took effect, so every message is in one of the two. An id of an
 * earlier epoch gets the gap and everything the current epoch holds. A
 * fresh stream is such a resume from a position Redis gave (the position
 * script) before its response began.
 *
 * Blips: when the sub link comes back, every channel with local subscribers
 * catches up from the Streams after what this relay delivered (live
 * messages wait meanwhile), with a gap notice where the Streams cannot cover
 * it; SSE streams stay open. Only if that cannot be done are they ended,
 * spread over END_SPREAD_MS, to resume from Redis.
 *
 * Workers: each loop has a broker of its own (its own links, relay name,
 * publish numbers and subscriptions) and no hub between them: the loops of
 * one relay meet in Redis exactly as relays do, so Redis carries each
 * message once per loop that subscribes to its channel. Nothing here is
 * process-wide but the configuration. /metrics adds the loops up (app/
 * metrics.c), the up gauges taking the smallest loop's. */
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
#include <sys/random.h>
#include <time.h>

#define MAX_INFLIGHT    1000               /* publishes on the wire at once */
#define RECORD_WINDOW   (2 * MAX_INFLIGHT) /* publish numbers Redis remembers per relay */
#define RECORD_TTL_MS   3600000            /* and for how long after the relay's last publish */
#define PUBREQ_COST     256                /* bytes of backlog a publish costs beyond its body */
#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  5000
#define CONNECT_TIMEOUT 2000 /* hiredis 0.14 has no async connect timeout */
#define PING_EVERY_MS   1000
#define PING_STALL_MS   5000  /* a cmd link with a PING this old is dropped */
#define UNSUB_IDLE_MS   5000  /* unused channels are unsubscribed this late */
#define LAST_TTL_S      86400 /* herald:l:<epoch>:<ch> outlives the Stream (gap rule) */
#define SUB_BATCH       100
#define END_SPREAD_MS   5000 /* streams ended after a failed catch-up: over this long */
#define END_TICK_MS     100
#define MAX_CHANNELS    HR_ARRAY_SIZE(((hr_cl_body_t *)0)->channels)

hr_cluster_cfg_t hr_cluster_cfg;

static const hr_opt_t opts[] = {
    {"redis", HR_OPT_STR, &hr_cluster_cfg.redis, 0, 0, "",
     "cluster mode: redis://HOST:PORT or unix:///path (off)"},
    {"redis_backlog_bytes", HR_OPT_LONG, &hr_cluster_cfg.backlog_bytes, 4096, 1L << 40, "16777216",
     "publishes kept while Redis is away, bytes; past it publishers are refused (16 MiB)"},
};

const hr_opt_group_t hr_cluster_options = {opts, HR_ARRAY_SIZE(opts), NULL};

/* The publish script. KEYS: herald:epoch, herald:seq, this relay's record
 * of what it published (herald:r:<relay>), then for a message kept in
 * history (every one now: herald.v1 resumes ws_publish messages too) each
 * channel's Stream and last-seq marker in the epoch the relay is in. ARGV:
 * 1 epoch for a new one, 2 '1' to keep it in history, 3 now ms, 4 maxlen, 5
 * history ttl ms, 6 ttl of the marker s, 7 body, 8 this relay's publish
 * number, 9 the epoch the relay is in, 10 the highest seq it has seen
 * there, 11 how many publish numbers to remember, 12 for how long ms,
 * 13... the channels' pub/sub names (herald:m:<ch>). Returns {epoch, seq}.
 * The keys of a channel carry the epoch; when the epoch is not the relay's
 * (it changed, or changes here) the script makes them itself, so it runs on
 * one Redis, not on Redis Cluster (as the several channels of one publish
 * did already).
 *
 * Everything that could fail is read first (each channel's marker, and the
 * type of a Stream without one: a Stream with a marker was made by this
 * script); the writes that follow cannot fail, so a publish writes every
 * channel or none (the counter may have moved on: seqs need not be
 * consecutive). A number already recorded returns its result and writes
 * nothing: the relay sends again what a lost link left unanswered. A
 * counter at or below a seq handed out in this epoch (by the relay's own
 * count or a channel's marker) means ids would be handed out twice: the
 * cluster moves to a new epoch, whose keys are new. The record keeps at
 * least the last ARGV[11] numbers: every 64th publish forgets the 64 before
 * them (one HDEL each time cost a twentieth of the script). */
static const char pub_script[] =
    "local rec = redis.call('HGET', KEYS[3], ARGV[8])\n"
    "if rec then\n"
    "  local c = string.find(rec, ':', 1, true)\n"
    "  return {string.sub(rec, 1, c - 1), string.sub(rec, c + 1)}\n"
    "end\n"
    "local e = redis.call('GET', KEYS[1])\n"
    "local new = not e\n"
    "if new then e = ARGV[1] end\n"
    "local s = redis.pcall('INCR', KEYS[2])\n"
    "if type(s) ~= 'number' then s = 1; redis.call('SET', KEYS[2], '1') end\n"
    "local keep = ARGV[2] == '1'\n"
    "local n = #ARGV - 12\n"
    "local hk, lk, prev = {}, {}, {}\n"
    "local function keys()\n"
    "  for i = 1, n do\n"
    "    local ch = string.sub(ARGV[12 + i], 10)\n"
    "    hk[i] = 'herald:h:' .. e .. ':' .. ch\n"
    "    lk[i] = 'herald:l:' .. e .. ':' .. ch\n"
    "  end\n"
    "end\n"
    "local floor = 0\n"
    "if keep then\n"
    "  if e == ARGV[9] then\n"
    "    for i = 1, n do hk[i], lk[i] = KEYS[2 + 2 * i], KEYS[3 + 2 * i] end\n"
    "  else\n"
    "    keys()\n"
    "  end\n"
    "  for i = 1, n do\n"
    "    local l = tonumber(redis.call('GET', lk[i]) or '0') or 0\n"
    "    if l == 0 then\n"
    "      local t = redis.call('TYPE', hk[i])['ok']\n"
    "      if t == 'stream' then\n"
    "        local top = redis.call('XREVRANGE', hk[i], '+', '-', 'COUNT', 1)[1]\n"
    "        if top then l = tonumber(string.match(top[1], '^%d+')) or 0 end\n"
    "      elseif t ~= 'none' then\n"
    "        return redis.error_reply('HERALD ' .. hk[i] .. ' is not a stream')\n"
    "      end\n"
    "    end\n"
    "    prev[i] = l\n"
    "    if l > floor then floor = l end\n"
    "  end\n"
    "end\n"
    "if e == ARGV[9] and tonumber(ARGV[10]) > floor then floor = tonumber(ARGV[10]) end\n"
    "if s <= floor then\n"
    "  local ne = ARGV[1]\n"
    "  if ne == e then ne = string.format('%x', (tonumber(e, 16) or 0) + 1) end\n"
    "  e = ne\n"
    "  new = true\n"
    "  if keep then keys() end\n"
    "  for i = 1, n do prev[i] = 0 end\n"
    "end\n"
    "if new then redis.call('SET', KEYS[1], e) end\n"
    "local ss = string.format('%d', s)\n"
    "local msg = e .. ':' .. ss .. ':' .. ARGV[7]\n"
    "for i = 1, n do\n"
    "  if keep then\n"
    "    redis.call('SET', lk[i], ss, 'EX', ARGV[6])\n"
    "    redis.call('XADD', hk[i], 'MAXLEN', ARGV[4], ss .. '-0', 'p', string.format('%d', "
    "prev[i]),"
    " 't', ARGV[3], 'm', ARGV[7])\n"
    "    redis.call('PEXPIRE', hk[i], ARGV[5])\n"
    "  end\n"
    "  redis.call('PUBLISH', ARGV[12 + i], msg)\n"
    "end\n"
    "local w = tonumber(ARGV[11])\n"
    "local num = tonumber(ARGV[8])\n"
    "redis.call('HSET', KEYS[3], ARGV[8], e .. ':' .. ss)\n"
    "redis.call('PEXPIRE', KEYS[3], ARGV[12])\n"
    "if num % 64 == 0 and num > w then\n"
    "  local old = {}\n"
    "  for k = math.max(1, num - w - 63), num - w do old[#old + 1] = string.format('%d', k) end\n"
    "  redis.call('HDEL', KEYS[3], unpack(old))\n"
    "end\n"
    "return {e, ss}\n";

/* The position script: where the cluster's order stands, {epoch, seq}.
 * KEYS: herald:epoch, herald:seq. ARGV: 1 epoch for a new one, 2 the epoch
 * the relay is in, 3 the highest seq it has seen there, 4 '1' when the
 * relay saw that epoch hand out an id twice. An empty Redis gets an epoch;
 * a counter behind what the relay saw in the current epoch moves the
 * cluster to a new one (see the publish script). */
static const char pos_script[] =
    "local e = redis.call('GET', KEYS[1])\n"
    "local s = redis.call('GET', KEYS[2]) or '0'\n"
    "if not e or (e == ARGV[2] and (ARGV[4] == '1' or"
    " (tonumber(s) or 0) < (tonumber(ARGV[3]) or 0))) then\n"
    "  local ne = ARGV[1]\n"
    "  if ne == e then ne = string.format('%x', (tonumber(e, 16) or 0) + 1) end\n"
    "  e = ne\n"
    "  redis.call('SET', KEYS[1], e)\n"
    "end\n"
    "return {e, s}\n";

/* The read script, for resumes and catching up. KEYS: herald:epoch,
 * herald:seq. ARGV: 1 the epoch of the position, 2 the first Stream id
 * wanted, 3... channel names. Returns {epoch, seq, then per channel its
 * last seq and its Stream entries}; a position of another epoch reads the
 * current epoch's Streams from their start. */
static const char read_script[] =
    "local e = redis.call('GET', KEYS[1]) or ''\n"
    "local s = redis.call('GET', KEYS[2]) or '0'\n"
    "local from = ARGV[2]\n"
    "if e ~= ARGV[1] then from = '-' end\n"
    "local out = {e, s}\n"
    "for i = 3, #ARGV do\n"
    "  local l = redis.pcall('GET', 'herald:l:' .. e .. ':' .. ARGV[i])\n"
    "  if type(l) ~= 'string' then l = '0' end\n"
    "  local h = 'herald:h:' .. e .. ':' .. ARGV[i]\n"
    "  local x = {}\n"
    "  if redis.call('TYPE', h)['ok'] == 'stream' then x = redis.call('XRANGE', h, from, '+') end\n"
    "  out[#out + 1] = l\n"
    "  out[#out + 1] = x\n"
    "end\n"
    "return out\n";

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

/* Where a resume (or a fresh stream) is on its way. */
enum {
    R_POS_WAIT,  /* fresh: wants a position from a query not sent yet */
    R_POS_ASKED, /* fresh: the position query in flight covers it */
    R_SUB_WAIT,  /* waiting for the SUBSCRIBE confirmation of its channels */
    R_READING,   /* the read script is in flight */
};

/* What a resume needs from Redis (hr_resume_t.bstate). */
typedef struct rres {
    struct rres *next;
    hr_resume_t *r;
    rb_t *rb;
    uint8_t where;                /* R_* */
    char epoch[HR_EPOCH_MAX + 1]; /* of the position; "" when it is foreign */
    uint64_t after;
} rres_t;

/* A publish waiting for Redis's answer, in release order. */
typedef struct pubreq {
    struct pubreq *next;
    hr_published_fn done;
    void *ud;
    uint64_t n;       /* this relay's publish number: Redis runs it once */
    uint64_t sent_ns; /* latency of the round trip */
    size_t bytes;     /* what it counts in the backlog */
    uint8_t target;
    uint8_t sent;     /* on the wire, its answer due */
    uint8_t was_sent; /* sent before: sending again counts */
    uint16_t nch;
    uint16_t chlen[MAX_CHANNELS];
    size_t bodylen;
    char *body;
    char names[]; /* the channel names, one after another */
} pubreq_t;

/* A live message held while the relay catches up after a blip. */
typedef struct held {
    hr_event_t *ev;
    uint32_t gen; /* the positions it was received under (rb.epoch_gen) */
} held_t;

/* One read script of a catch-up (up to SUB_BATCH channels). */
typedef struct cubatch {
    rb_t *rb;
    uint32_t gen;
    size_t n;
    char **names;
    size_t *lens;
} cubatch_t;

enum { CU_NONE, CU_WAIT, CU_READING };

struct rb {
    hr_broker_t base;
    hr_cl_url_t url;
    link_t cmd, sub;
    char rid[17];    /* this relay's name in Redis (random per start) */
    char reckey[32]; /* herald:r:<rid>: what it published, by number */
    char *pub_src;   /* the publish script, named for this relay */
    char sha[41];
    uv_timer_t tick;
    uv_timer_t end_timer; /* streams ended spread over time */
    int end_timer_on;
    size_t end_per_tick;
    uv_timer_t stop_timer; /* shutdown: a Redis that never answers does not hold the exit */
    int stop_timer_on;
    int stopping;
    long stop_timeout_ms;
    hr_htab_t subents;
    rres_t *waiting;   /* R_SUB_WAIT */
    rres_t *pos_wait;  /* R_POS_WAIT */
    rres_t *pos_asked; /* R_POS_ASKED */
    int pos_busy;      /* a position query is in flight */
    /* The publish queue: everything Redis has not answered, in order.
     * Those on the wire come first; q_next is the first to send. */
    pubreq_t *q_head, *q_tail, *q_next;
    uint64_t q_count, q_bytes, q_sent;
    uint64_t next_n;
    int q_hold;          /* some came back unrun: send nothing until all are back */
    int q_eval_next;     /* NOSCRIPT: the next one carries the script's source */
    uint64_t q_retry_ms; /* Redis was loading its data: not before then */
    /* The sub link: in seq order, one delivery per message. */
    uint64_t last_rx_seq, last_rx_hash;
    uint32_t epoch_gen; /* positions restarted (an epoch change) */
    int adopted;        /* took the cluster's epoch once */
    /* Catching up after a blip of the sub link. */
    struct {
        int state;
        uint32_t gen; /* replies of an abandoned read are ignored */
        uint64_t after;
        char epoch[HR_EPOCH_MAX + 1];
        held_t *held;
        size_t nheld, capheld, heldbytes;
        hr_event_t **replay;
        size_t nreplay, capreplay;
        size_t replies;
        int failed, retry;
        int reset; /* positions restarted meanwhile (reset_positions) */
        char cur_epoch[HR_EPOCH_MAX + 1];
        uint64_t cur_seq;
        int foreign;
        char **gapped;
        size_t *gappedlen;
        size_t ngapped, capgapped;
    } cu;
    uint64_t ping_sent_ns;
    uint64_t last_unpublished_log_ms;
    /* metrics */
    uint64_t reconnects, msgs_out, msgs_in, unpublished, resumes, resent, epoch_changes;
    uint64_t catchups[3]; /* exact, gap, ended */
    uint64_t pub_lat_sum_ns, pub_lat_count, ping_rtt_ns;
};

enum { CATCHUP_EXACT, CATCHUP_GAP, CATCHUP_ENDED };

static uint64_t now_ms(rb_t *rb)
{
    return hr_loop_now_ms(rb->base.loop);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The cmd link takes commands (not down, not being torn down). */
static int cmd_ready(rb_t *rb)
{
    return rb->cmd.up && rb->cmd.ac &&
           !(rb->cmd.ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

static int is_error(const redisReply *rep, const char *prefix)
{
    return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, prefix, strlen(prefix)) == 0;
}

/* {epoch, seq, ...} as the scripts return it; 0 or -1. */
static int epoch_seq(const redisReply *rep, hr_slice_t *epoch, uint64_t *seq)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING || rep->element[0]->len > HR_EPOCH_MAX ||
        hr_parse_u64(rep->element[1]->str, rep->element[1]->len, seq) != 0)
        return -1;
    *epoch = (hr_slice_t){rep->element[0]->str, rep->element[0]->len};
    return 0;
}

/* ---- ids ---- */

/* Every position held here restarts: a new epoch, or an old one that
 * handed out its ids again. */
static void reset_positions(rb_t *rb)
{
    rb->last_rx_seq = 0;
    rb->last_rx_hash = 0;
    rb->epoch_gen++;
    if (rb->cu.state != CU_NONE)
        rb->cu.reset = 1;
    hr_net_t *net = rb->base.loop->net;
    for (hr_conn_t *c = net ? net->conns : NULL; c; c = c->next)
        c->last_seq = 0;
}

/* Take the cluster's epoch and the latest seq seen. A new epoch (first
 * contact, Redis lost its data, or its counter went backwards) restarts the
 * id space: connections' positions of the old one mean nothing in it. */
static void adopt(rb_t *rb, const char *epoch, size_t len, uint64_t seq)
{
    hr_broker_t *b = &rb->base;
    if (len == 0 || len > HR_EPOCH_MAX)
        return;
    if (len != b->epoch_len || memcmp(epoch, b->epoch, len) != 0) {
        hr_log(HR_LOG_INFO, "cluster: epoch %.*s (was %s)", (int)len, epoch, b->epoch);
        if (rb->adopted)
            rb->epoch_changes++;
        memcpy(b->epoch, epoch, len);
        b->epoch[len] = '\0';
        b->epoch_len = len;
        b->seq = seq;
        reset_positions(rb);
    } else if (seq > b->seq) {
        b->seq = seq;
    }
    rb->adopted = 1;
}

static void on_position(redisAsyncContext *ac, void *rp, void *priv)
{
    hr_slice_t e;
    uint64_t s;
    if (epoch_seq(rp, &e, &s) == 0)
        adopt(priv, e.p, e.len, s);
}

/* The position script (see pos_script); force: this relay saw the current
 * epoch hand out an id twice. */
static int send_pos(rb_t *rb, redisCallbackFn *cb, void *priv, int force, uint64_t floor)
{
    if (!cmd_ready(rb))
        return -1;
    char cand[24], fl[24];
    const char *argv[] = {"EVAL", pos_script,     "2", HR_CL_KEY_EPOCH,  HR_CL_KEY_SEQ,
                          cand,   rb->base.epoch, fl,  force ? "1" : "0"};
    size_t lens[HR_ARRAY_SIZE(argv)];
    snprintf(cand, sizeof cand, "%" PRIx64, wall_ms());
    snprintf(fl, sizeof fl, "%" PRIu64, floor);
    for (size_t i = 0; i < HR_ARRAY_SIZE(argv); i++)
        lens[i] = strlen(argv[i]);
    return redisAsyncCommandArgv(rb->cmd.ac, cb, priv, (int)HR_ARRAY_SIZE(argv), argv, lens) ==
                   REDIS_OK
               ? 0
               : -1;
}

/* A message of the current epoch came with a seq at or below one this
 * relay delivered: the counter went backwards and the publisher did not
 * see it. Deliver from here, and move the cluster to a new epoch so that
 * the ids handed out twice are foreign everywhere. */
static void went_backwards(rb_t *rb, uint64_t seq)
{
    hr_log(HR_LOG_WARN,
           "cluster: seq %" PRIu64 " after %" PRIu64 " in epoch %s: Redis's counter went "
           "backwards (a failover, an eviction?); moving to a new epoch",
           seq, rb->last_rx_seq, rb->base.epoch);
    uint64_t floor = rb->last_rx_seq;
    reset_positions(rb);
    send_pos(rb, on_position, rb, 1, floor);
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

/* ---- events ---- */

static hr_event_t *event_of(rb_t *rb, hr_slice_t epoch, const hr_cl_body_t *body, uint64_t seq)
{
    hr_event_t *ev =
        hr_event_new_sent(body->target, body->binary, body->retry, body->event, body->data,
                          body->user, body->mercure, body->channels, body->nchannels);
    ev->json = (uint8_t)(body->json != 0);
    hr_event_set_except(ev, body->except);
    hr_event_place(ev, epoch, seq, now_ms(rb));
    return ev;
}

static redisReply *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0 &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1];
    return NULL;
}

typedef void (*take_fn)(void *ud, hr_event_t *ev);

/* One channel's Stream entries as the read script returns them: the gap
 * decision after `after` (1 on a foreign position: nothing can be placed),
 * and what can be replayed, through take. */
static int take_entries(rb_t *rb, hr_slice_t epoch, uint64_t after, uint64_t last, int foreign,
                        const redisReply *rep, take_fn take, void *ud)
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
            hr_parse_u64(pv->str, pv->len, &p[good]) != 0 ||
            hr_parse_u64(tv->str, tv->len, &t[good]) != 0)
            continue;
        good++;
    }
    size_t skip;
    int gap = hr_cl_gap(foreign ? 0 : after, last, s, p, t, good, wall_ms(),
                        (uint64_t)hr_history_cfg.history_ttl * 1000, &skip);
    for (size_t j = skip; j < good; j++) {
        hr_cl_body_t b;
        if (hr_cl_body_decode(m[j]->str, m[j]->len, &b) != 0)
            continue;
        hr_event_t *ev = event_of(rb, epoch, &b, s[j]);
        take(ud, ev);
        hr_event_unref(ev);
    }
    free(m);
    free(s);
    return foreign || gap;
}

/* The read script: epoch and first id wanted, then the channels. */
static int send_read(rb_t *rb, const char *epoch, uint64_t after, const hr_slice_t *chans, size_t n,
                     redisCallbackFn *cb, void *priv)
{
    if (!cmd_ready(rb))
        return -1;
    char from[32];
    snprintf(from, sizeof from, "%" PRIu64 "-0", after + 1);
    size_t argc = 7 + n;
    const char **argv = hr_xmalloc(argc * sizeof *argv);
    size_t *lens = hr_xmalloc(argc * sizeof *lens);
    const char *fixed[] = {"EVAL", read_script, "2", HR_CL_KEY_EPOCH, HR_CL_KEY_SEQ, epoch, from};
    for (size_t i = 0; i < 7; i++) {
        argv[i] = fixed[i];
        lens[i] = strlen(fixed[i]);
    }
    for (size_t i = 0; i < n; i++) {
        argv[7 + i] = chans[i].p;
        lens[7 + i] = chans[i].len;
    }
    int rc = redisAsyncCommandArgv(rb->cmd.ac, cb, priv, (int)argc, argv, lens);
    free(argv);
    free(lens);
    return rc == REDIS_OK ? 0 : -1;
}

/* The read script's reply: {epoch, seq, (last, entries) per channel}. */
static int read_reply_ok(const redisReply *rep, size_t n)
{
    hr_slice_t e;
    uint64_t s;
    if (epoch_seq(rep, &e, &s) != 0 || rep->elements != 2 + 2 * n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (rep->element[2 + 2 * i]->type != REDIS_REPLY_STRING ||
            rep->element[3 + 2 * i]->type != REDIS_REPLY_ARRAY)
            return 0;
    return 1;
}

/* ---- resume ---- */

static void rres_free(rres_t *q)
{
    free(q);
}

static void list_remove(rres_t **list, rres_t *q)
{
    for (rres_t **pp = list; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            return;
        }
}

static void conn_closed(hr_broker_t *b, hr_resume_t *r)
{
    rb_t *rb = (rb_t *)b;
    rres_t *q = r->bstate;
    if (q == NULL || q->where == R_READING)
        return; /* replies are due: freed when they are in */
    list_remove(q->where == R_POS_WAIT    ? &rb->pos_wait
                : q->where == R_POS_ASKED ? &rb->pos_asked
                                          : &rb->waiting,
                q);
    rres_free(q);
    hr_resume_free(r);
}

/* All replies are in: the owner gets the gap, the replay, what was held. */
static void resume_finish(rres_t *q)
{
    hr_resume_t *r = q->r;
    rb_t *rb = q->rb;
    r->bstate = NULL;
    if (r->position[0] == '\0')
        hr_broker_position(&rb->base, r->position);
    if (r->owner && !r->failed)
        hr_log(HR_LOG_DEBUG, "client %p: resume from Redis: %zu replayed, %zu live held", r->owner,
               r->nreplay, r->nheld);
    rres_free(q);
    hr_broker_resume_done(&rb->base, r);
}

/* The Streams hold every target's messages: a resume gets those its
 * transport accepts (as hr_chans_replay does for local history). */
static void take_replay(void *ud, hr_event_t *ev)
{
    hr_resume_t *r = ud;
    if (ev->target & r->accepts)
        hr_resume_add(r, ev);
}

static void on_resume_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    redisReply *rep = rp;
    rres_t *q = priv;
    hr_resume_t *r = q->r;
    rb_t *rb = q->rb;
    if (!read_reply_ok(rep, r->n)) {
        r->failed = 1;
        resume_finish(q);
        return;
    }
    hr_slice_t e;
    uint64_t cur;
    epoch_seq(rep, &e, &cur);
    /* A position of another epoch (or none here) cannot be placed: a gap on
     * every channel, and everything the current epoch holds. */
    int foreign =
        q->epoch[0] == '\0' || e.len != strlen(q->epoch) || memcmp(e.p, q->epoch, e.len) != 0;
    adopt(rb, e.p, e.len, cur);
    for (size_t i = 0; i < r->n; i++) {
        const redisReply *lv = rep->element[2 + 2 * i];
        uint64_t last = 0;
        hr_parse_u64(lv->str, lv->len, &last);
        r->gap[i] = (uint8_t)take_entries(rb, e, q->after, last, foreign, rep->element[3 + 2 * i],
                                          take_replay, r);
    }
    /* Where a client that gets nothing replayed resumes next time: the
     * read saw everything up to here. */
    if (e.len)
        hr_id_format(r->position, e, cur);
    resume_finish(q);
}

static void resume_start(rres_t *q)
{
    rb_t *rb = q->rb;
    hr_resume_t *r = q->r;
    q->where = R_READING;
    if (!r->fresh)
        rb->resumes++;
    if (send_read(rb, q->epoch, q->after, r->channels, r->n, on_resume_reply, q) != 0) {
        r->failed = 1;
        resume_finish(q);
    }
}

static int channels_confirmed(rb_t *rb, const hr_resume_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        subent_t *e = sub_find(rb, r->channels[i].p, r->channels[i].len);
        if (e == NULL || e->state != S_CONFIRMED)
            return 0;
    }
    return 1;
}

/* Read once Redis confirmed the SUBSCRIBE of every channel. */
static void read_when_subscribed(rres_t *q)
{
    rb_t *rb = q->rb;
    if (channels_confirmed(rb, q->r)) {
        resume_start(q);
    } else {
        q->where = R_SUB_WAIT;
        q->next = rb->waiting;
        rb->waiting = q;
    }
}

static void start_ready_resumes(rb_t *rb)
{
    for (rres_t **pp = &rb->waiting; *pp;) {
        rres_t *q = *pp;
        if (channels_confirmed(rb, q->r)) {
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
    rres_t *q = hr_xcalloc(1, sizeof *q);
    q->r = r;
    q->rb = rb;
    r->bstate = q;
    uint64_t after;
    if (hr_broker_parse_id(b, r->since, &after)) {
        memcpy(q->epoch, b->epoch, b->epoch_len + 1);
        q->after = after;
        r->sink->start(r->owner, NULL, after);
    } else if (!rb->adopted) {
        /* A relay just started does not know the cluster's epoch before
         * Redis first answers: the read's reply, which names it, decides
         * whether the position is of it (an exact resume) or foreign. */
        const char *dash = memrchr(r->since.p, '-', r->since.len);
        size_t elen = dash ? (size_t)(dash - r->since.p) : 0;
        if (elen > 0 && elen <= HR_EPOCH_MAX &&
            hr_id_parse((hr_slice_t){r->since.p, elen}, r->since, &after)) {
            memcpy(q->epoch, r->since.p, elen);
            q->epoch[elen] = '\0';
            q->after = after;
        }
    }
    read_when_subscribed(q);
}

/* ---- fresh streams ---- */

/* A fresh stream has its position: its output begins, and it is a resume
 * from there. */
static void positioned(rres_t *q, hr_slice_t epoch, uint64_t seq)
{
    hr_resume_t *r = q->r;
    char id[HR_ID_MAX];
    size_t idlen = hr_id_format(id, epoch, seq);
    free((char *)r->since.p);
    r->since = (hr_slice_t){hr_xstrndup(id, idlen), idlen};
    memcpy(q->epoch, epoch.p, epoch.len);
    q->epoch[epoch.len] = '\0';
    q->after = seq;
    /* Should the owner close while its output begins, conn_closed leaves
     * q to this function (as when replies are due). */
    q->where = R_READING;
    r->sink->start(r->owner, id, seq);
    if (r->owner == NULL)
        resume_finish(q);
    else
        read_when_subscribed(q);
}

static void position_now(rb_t *rb, rres_t *q)
{
    positioned(q, (hr_slice_t){rb->base.epoch, rb->base.epoch_len}, rb->base.seq);
}

static void ask_position(rb_t *rb);

/* The position query's answer, for every fresh stream it covers. A lost
 * link leaves them the last position this relay saw. */
static void on_fresh_position(redisAsyncContext *ac, void *rp, void *priv)
{
    rb_t *rb = priv;
    rres_t *list = rb->pos_asked;
    rb->pos_asked = NULL;
    rb->pos_busy = 0;
    hr_slice_t e;
    uint64_t s;
    if (epoch_seq(rp, &e, &s) == 0) {
        adopt(rb, e.p, e.len, s);
        if (e.len != rb->base.epoch_len || memcmp(e.p, rb->base.epoch, e.len) != 0)
            e = (hr_slice_t){rb->base.epoch, rb->base.epoch_len}, s = rb->base.seq;
    } else {
        e = (hr_slice_t){rb->base.epoch, rb->base.epoch_len};
        s = rb->base.seq;
    }
    char ebuf[HR_EPOCH_MAX + 1];
    memcpy(ebuf, e.p, e.len);
    e.p = ebuf;
    while (list) {
        rres_t *q = list;
        list = q->next;
        positioned(q, e, s);
    }
    ask_position(rb);
}

/* One query at a time, for every fresh stream that came before it was
 * sent: Redis ran it after they began waiting, so whatever is published
 * after their response begins has a higher seq. */
static void ask_position(rb_t *rb)
{
    if (rb->pos_busy || rb->pos_wait == NULL)
        return;
    if (!cmd_ready(rb)) {
        /* Redis is away: the last position this relay saw. */
        while (rb->pos_wait) {
            rres_t *q = rb->pos_wait;
            rb->pos_wait = q->next;
            position_now(rb, q);
        }
        return;
    }
    rb->pos_asked = rb->pos_wait;
    rb->pos_wait = NULL;
    for (rres_t *q = rb->pos_asked; q; q = q->next)
        q->where = R_POS_ASKED;
    rb->pos_busy = 1;
    if (send_pos(rb, on_fresh_position, rb, 0, rb->base.seq) != 0)
        on_fresh_position(rb->cmd.ac, NULL, rb);
}

static void fresh(hr_broker_t *b, hr_resume_t *r)
{
    rb_t *rb = (rb_t *)b;
    rres_t *q = hr_xcalloc(1, sizeof *q);
    q->r = r;
    q->rb = rb;
    r->bstate = q;
    if (channels_confirmed(rb, r)) {
        /* Redis sends this relay every message of these channels already:
         * the last one it saw is a position nothing after it can miss. */
        char id[HR_ID_MAX];
        hr_broker_position(b, id);
        memcpy(r->position, id, sizeof id);
        r->bstate = NULL;
        rres_free(q);
        r->sink->start(r->owner, id, b->seq);
        hr_broker_resume_done(b, r);
        return;
    }
    /* Otherwise the position comes from Redis before the response begins;
     * then what was published after it and before the SUBSCRIBE took
     * effect is read from the Streams. */
    q->where = R_POS_WAIT;
    q->next = rb->pos_wait;
    rb->pos_wait = q;
    ask_position(rb);
}

/* ---- catching up after a blip of the sub link ---- */

static int resumable_stream(const hr_conn_t *c)
{
    return c->kind == HR_CONN_STREAM && hr_conn_transport(c)->resumable && !c->closing &&
           !c->end_after_flush;
}

/* Where catching up starts: everything up to the last seq this relay
 * received was delivered; a stream that began later than that (its
 * position is past it) lost nothing before its position either. */
static uint64_t catchup_from(rb_t *rb, int *any)
{
    uint64_t low = UINT64_MAX;
    *any = 0;
    hr_net_t *net = rb->base.loop->net;
    for (hr_conn_t *c = net ? net->conns : NULL; c; c = c->next)
        if (resumable_stream(c) && c->subs) {
            *any = 1;
            if (c->resume == NULL && c->last_seq < low)
                low = c->last_seq;
        }
    return low != UINT64_MAX && low > rb->last_rx_seq ? low : rb->last_rx_seq;
}

static void cu_clear_read(rb_t *rb)
{
    for (size_t i = 0; i < rb->cu.nreplay; i++)
        hr_event_unref(rb->cu.replay[i]);
    rb->cu.nreplay = 0;
    for (size_t i = 0; i < rb->cu.ngapped; i++)
        free(rb->cu.gapped[i]);
    rb->cu.ngapped = 0;
    rb->cu.failed = rb->cu.retry = rb->cu.foreign = 0;
    rb->cu.cur_epoch[0] = '\0';
    rb->cu.replies = 0;
    rb->cu.gen++;
}

static void cu_free(rb_t *rb)
{
    cu_clear_read(rb);
    for (size_t i = 0; i < rb->cu.nheld; i++)
        hr_event_unref(rb->cu.held[i].ev);
    free(rb->cu.held);
    free(rb->cu.replay);
    free(rb->cu.gapped);
    free(rb->cu.gappedlen);
    rb->cu.held = NULL;
    rb->cu.replay = NULL;
    rb->cu.gapped = NULL;
    rb->cu.gappedlen = NULL;
    rb->cu.nheld = rb->cu.capheld = rb->cu.heldbytes = 0;
    rb->cu.capreplay = rb->cu.capgapped = 0;
    rb->cu.reset = 0;
    rb->cu.state = CU_NONE;
}

/* Live messages wait while the relay catches up (they come after). */
static void cu_deliver_held(rb_t *rb)
{
    for (size_t i = 0; i < rb->cu.nheld; i++) {
        held_t *h = &rb->cu.held[i];
        /* Of positions since restarted: told by the gap, not delivered. */
        if (h->gen == rb->epoch_gen)
            hr_broker_fanout(&rb->base, h->ev, 0);
        hr_event_unref(h->ev);
    }
    rb->cu.nheld = rb->cu.heldbytes = 0;
}

static void on_end_tick(uv_timer_t *t)
{
    rb_t *rb = t->data;
    size_t n = 0;
    hr_net_t *net = rb->base.loop->net;
    for (hr_conn_t *c = net ? net->conns : NULL, *next; c && n < rb->end_per_tick; c = next) {
        next = c->next;
        if (resumable_stream(c) && c->subs == NULL) {
            hr_conn_end(c);
            n++;
        }
    }
    if (n < rb->end_per_tick) {
        uv_timer_stop(t);
        rb->end_timer_on = 0;
    }
}

/* Catching up cannot be done: the streams that can resume are cut off
 * from live messages now (nothing may arrive after the hole; one in a
 * resume still gets its replay) and ended over END_SPREAD_MS, so their
 * browsers come back paced and resume from Redis with their last id. The
 * others stay. */
static void end_streams_spread(rb_t *rb, const char *why)
{
    size_t n = 0;
    hr_net_t *net = rb->base.loop->net;
    for (hr_conn_t *c = net ? net->conns : NULL; c; c = c->next)
        if (resumable_stream(c) && c->subs) {
            hr_chan_unsubscribe_all(&rb->base.loop->chans, &c->subs);
            n++;
        }
    hr_log(HR_LOG_WARN, "cluster: cannot catch up (%s): ending %zu stream(s) over %d ms", why, n,
           END_SPREAD_MS);
    if (n == 0 || rb->stopping)
        return;
    rb->end_per_tick = n / (END_SPREAD_MS / END_TICK_MS) + 1;
    if (!rb->end_timer_on) {
        rb->end_timer_on = 1;
        uv_timer_start(&rb->end_timer, on_end_tick, END_TICK_MS, END_TICK_MS);
    }
}

static void cu_fail(rb_t *rb, const char *why)
{
    rb->catchups[CATCHUP_ENDED]++;
    end_streams_spread(rb, why);
    cu_deliver_held(rb);
    cu_free(rb);
}

static void cu_hold(rb_t *rb, hr_event_t *ev)
{
    if (rb->cu.nheld == rb->cu.capheld) {
        rb->cu.capheld = rb->cu.capheld ? 2 * rb->cu.capheld : 64;
        rb->cu.held = hr_xrealloc(rb->cu.held, rb->cu.capheld * sizeof *rb->cu.held);
    }
    rb->cu.held[rb->cu.nheld++] = (held_t){hr_event_ref(ev), rb->epoch_gen};
    rb->cu.heldbytes += hr_event_size(ev);
    if (rb->cu.heldbytes > (size_t)hr_cluster_cfg.backlog_bytes)
        cu_fail(rb, "too much arrived meanwhile");
}

static void cu_take(void *ud, hr_event_t *ev)
{
    rb_t *rb = ud;
    if (rb->cu.nreplay == rb->cu.capreplay) {
        rb->cu.capreplay = rb->cu.capreplay ? 2 * rb->cu.capreplay : 64;
        rb->cu.replay = hr_xrealloc(rb->cu.replay, rb->cu.capreplay * sizeof *rb->cu.replay);
    }
    rb->cu.replay[rb->cu.nreplay++] = hr_event_ref(ev);
}

static void cu_gapped(rb_t *rb, const char *name, size_t len)
{
    if (rb->cu.ngapped == rb->cu.capgapped) {
        rb->cu.capgapped = rb->cu.capgapped ? 2 * rb->cu.capgapped : 16;
        rb->cu.gapped = hr_xrealloc(rb->cu.gapped, rb->cu.capgapped * sizeof *rb->cu.gapped);
        rb->cu.gappedlen =
            hr_xrealloc(rb->cu.gappedlen, rb->cu.capgapped * sizeof *rb->cu.gappedlen);
    }
    rb->cu.gapped[rb->cu.ngapped] = hr_xstrndup(name, len);
    rb->cu.gappedlen[rb->cu.ngapped++] = len;
}

static int cu_is_gapped(rb_t *rb, const char *name, size_t len)
{
    for (size_t i = 0; i < rb->cu.ngapped; i++)
        if (rb->cu.gappedlen[i] == len && memcmp(rb->cu.gapped[i], name, len) == 0)
            return 1;
    return 0;
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = (*(hr_event_t *const *)a)->seq, y = (*(hr_event_t *const *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Every stream on a gapped channel is told, before the replay. */
static void cu_send_gaps(rb_t *rb, const char *position)
{
    hr_net_t *net = rb->base.loop->net;
    for (hr_conn_t *c = net ? net->conns : NULL; c; c = c->next) {
        if (!resumable_stream(c) || c->resume)
            continue; /* one resuming is told by its own resume */
        hr_slice_t chans[256];
        size_t k = 0;
        int accepts = 0;
        for (hr_sub_t *s = c->subs; s && k < HR_ARRAY_SIZE(chans); s = s->owner_next)
            if (rb->cu.foreign || cu_is_gapped(rb, s->ch->name, s->ch->name_len)) {
                chans[k++] = (hr_slice_t){s->ch->name, s->ch->name_len};
                accepts |= s->accepts;
            }
        if (k == 0)
            continue;
        /* The gap carries the position as its id only when no replayed
         * message for this stream follows: else a client that reconnects
         * between the two would resume past the replay. A message of a
         * target the stream does not accept (the Streams hold every
         * target's) does not reach it. */
        int replayed = 0;
        for (size_t i = 0; i < rb->cu.nreplay && !replayed; i++)
            for (size_t j = 0; j < rb->cu.replay[i]->nchannels && !replayed &&
                               (rb->cu.replay[i]->target & accepts);
                 j++)
                for (size_t m = 0; m < k && !replayed; m++)
                    replayed = hr_slice_eq(rb->cu.replay[i]->channels[j], chans[m]);
        char since[HR_ID_MAX];
        size_t sl =
            hr_id_format(since, (hr_slice_t){rb->cu.epoch, strlen(rb->cu.epoch)}, c->last_seq);
        hr_resume_t *g =
            hr_resume_new(NULL, NULL, HR_TARGET_SSE, (hr_slice_t){since, sl}, chans, k);
        memset(g->gap, 1, g->n);
        hr_conn_transport(c)->gap(c, g, replayed ? NULL : position);
        hr_resume_free(g);
    }
}

static void cu_finish(rb_t *rb)
{
    if (rb->cu.retry) {
        /* The cmd link went away meanwhile: again when it is back. */
        cu_clear_read(rb);
        rb->cu.state = CU_WAIT;
        return;
    }
    if (rb->cu.failed) {
        cu_fail(rb, "Redis refused the read");
        return;
    }
    if (rb->cu.nreplay > 1)
        qsort(rb->cu.replay, rb->cu.nreplay, sizeof *rb->cu.replay, cmp_seq);
    hr_slice_t cur = {rb->cu.cur_epoch, strlen(rb->cu.cur_epoch)};
    if (cur.len == 0) {
        /* Redis holds no epoch at all: nothing to place anything in. */
        cur = (hr_slice_t){rb->base.epoch, rb->base.epoch_len};
        rb->cu.cur_seq = rb->base.seq;
    }
    /* The relay is in the epoch of the blip or of the read. Positions
     * restarted meanwhile in the same epoch (the counter went backwards), or
     * an epoch other than both: what was held cannot be placed; the
     * streams resume on their own. */
    hr_slice_t now = {rb->base.epoch, rb->base.epoch_len};
    int in_cur = now.len == cur.len && memcmp(now.p, cur.p, cur.len) == 0;
    int in_blip = strlen(rb->cu.epoch) == now.len && memcmp(rb->cu.epoch, now.p, now.len) == 0;
    if ((!in_cur && !in_blip) || (!rb->cu.foreign && rb->cu.reset)) {
        cu_fail(rb, "the epoch changed meanwhile");
        return;
    }
    char position[HR_ID_MAX];
    hr_id_format(position, cur, rb->cu.cur_seq);
    int gaps = rb->cu.foreign || rb->cu.ngapped > 0;
    if (gaps)
        cu_send_gaps(rb, position);
    /* An epoch change under the blip: positions of the old one restart. */
    adopt(rb, cur.p, cur.len, rb->cu.cur_seq);
    size_t sent = 0;
    for (size_t i = 0; i < rb->cu.nreplay; i++)
        if (i == 0 || rb->cu.replay[i]->seq != rb->cu.replay[i - 1]->seq) {
            hr_broker_fanout(&rb->base, rb->cu.replay[i], 0);
            sent++;
        }
    hr_log(HR_LOG_INFO, "cluster: caught up after %" PRIu64 ": %zu message(s)%s", rb->cu.after,
           sent, gaps ? ", with a gap" : "");
    rb->catchups[gaps ? CATCHUP_GAP : CATCHUP_EXACT]++;
    cu_deliver_held(rb);
    cu_free(rb);
}

static void on_catchup_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    cubatch_t *bt = priv;
    rb_t *rb = bt->rb;
    redisReply *rep = rp;
    if (bt->gen == rb->cu.gen && rb->cu.state == CU_READING) {
        hr_slice_t *chans = hr_xmalloc((bt->n ? bt->n : 1) * sizeof *chans);
        for (size_t i = 0; i < bt->n; i++)
            chans[i] = (hr_slice_t){bt->names[i], bt->lens[i]};
        hr_slice_t e;
        uint64_t cur;
        if (rep == NULL) {
            rb->cu.retry = 1;
        } else if (!read_reply_ok(rep, bt->n) || epoch_seq(rep, &e, &cur) != 0) {
            rb->cu.failed = 1;
        } else if (rb->cu.cur_epoch[0] &&
                   (e.len != strlen(rb->cu.cur_epoch) || memcmp(e.p, rb->cu.cur_epoch, e.len))) {
            rb->cu.failed = 1; /* the epoch changed between two reads */
        } else if (!rb->cu.failed && !rb->cu.retry) {
            memcpy(rb->cu.cur_epoch, e.p, e.len);
            rb->cu.cur_epoch[e.len] = '\0';
            if (cur > rb->cu.cur_seq)
                rb->cu.cur_seq = cur;
            rb->cu.foreign = e.len == 0 || strcmp(rb->cu.cur_epoch, rb->cu.epoch) != 0;
            for (size_t i = 0; i < bt->n; i++) {
                const redisReply *lv = rep->element[2 + 2 * i];
                uint64_t last = 0;
                hr_parse_u64(lv->str, lv->len, &last);
                if (take_entries(rb, e, rb->cu.after, last, rb->cu.foreign, rep->element[3 + 2 * i],
                                 cu_take, rb) &&
                    !rb->cu.foreign)
                    cu_gapped(rb, chans[i].p, chans[i].len);
            }
        }
        free(chans);
        if (--rb->cu.replies == 0)
            cu_finish(rb);
    }
    for (size_t i = 0; i < bt->n; i++)
        free(bt->names[i]);
    free(bt->names);
    free(bt->lens);
    free(bt);
}

/* Read every used channel once Redis confirmed all of them (and the cmd
 * link is there). */
static void cu_try(rb_t *rb)
{
    if (rb->cu.state != CU_WAIT || !rb->sub.up || !cmd_ready(rb))
        return;
    size_t bucket = 0, used = 0;
    for (hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL); n;
         n = hr_htab_next(&rb->subents, &bucket, n)) {
        subent_t *e = hr_container_of(n, subent_t, node);
        if (!e->used)
            continue;
        if (e->state != S_CONFIRMED)
            return;
        used++;
    }
    if (used == 0) {
        cu_deliver_held(rb);
        cu_free(rb);
        return;
    }
    rb->cu.state = CU_READING;
    rb->cu.replies = 1; /* held until every batch is sent */
    cubatch_t *bt = NULL;
    bucket = 0;
    for (hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL); n;
         n = hr_htab_next(&rb->subents, &bucket, n)) {
        subent_t *e = hr_container_of(n, subent_t, node);
        if (!e->used)
            continue;
        if (bt == NULL) {
            bt = hr_xcalloc(1, sizeof *bt);
            bt->rb = rb;
            bt->gen = rb->cu.gen;
            bt->names = hr_xmalloc(SUB_BATCH * sizeof *bt->names);
            bt->lens = hr_xmalloc(SUB_BATCH * sizeof *bt->lens);
        }
        bt->names[bt->n] = hr_xstrndup(e->name, e->len);
        bt->lens[bt->n++] = e->len;
        used--;
        if (bt->n == SUB_BATCH || used == 0) {
            hr_slice_t chans[SUB_BATCH];
            for (size_t i = 0; i < bt->n; i++)
                chans[i] = (hr_slice_t){bt->names[i], bt->lens[i]};
            rb->cu.replies++;
            if (send_read(rb, rb->cu.epoch, rb->cu.after, chans, bt->n, on_catchup_reply, bt) != 0)
                on_catchup_reply(rb->cmd.ac, NULL, bt);
            bt = NULL;
        }
    }
    if (--rb->cu.replies == 0 && rb->cu.state == CU_READING)
        cu_finish(rb);
}

/* The sub link is gone: what is published meanwhile never reaches this
 * relay. When it is back, catch up from after what was delivered. */
static void cu_begin(rb_t *rb)
{
    if (rb->cu.state == CU_READING) {
        cu_clear_read(rb);
        rb->cu.state = CU_WAIT;
        return;
    }
    if (rb->cu.state == CU_WAIT)
        return;
    int any;
    rb->cu.after = catchup_from(rb, &any);
    if (!any)
        return; /* no stream that could be told: WebSockets miss what comes meanwhile */
    memcpy(rb->cu.epoch, rb->base.epoch, rb->base.epoch_len + 1);
    rb->cu.reset = 0;
    rb->cu.state = CU_WAIT;
}

/* ---- live delivery ---- */

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
    uint64_t h = hr_hash(p, len);
    if (epoch.len == rb->base.epoch_len && memcmp(epoch.p, rb->base.epoch, epoch.len) == 0 &&
        rb->last_rx_seq) {
        /* The script publishes a message on each of its channels in a row. */
        if (seq == rb->last_rx_seq && h == rb->last_rx_hash)
            return;
        if (seq <= rb->last_rx_seq)
            went_backwards(rb, seq);
    }
    adopt(rb, epoch.p, epoch.len, seq);
    rb->last_rx_seq = seq;
    rb->last_rx_hash = h;
    rb->msgs_in++;
    hr_event_t *ev = event_of(rb, epoch, &b, seq);
    /* History lives in Redis: nothing kept here. */
    if (rb->cu.state != CU_NONE)
        cu_hold(rb, ev);
    else
        hr_broker_fanout(&rb->base, ev, 0);
    hr_event_unref(ev);
}

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
        cu_try(rb);
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

/* ---- publish ---- */

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

static void on_publish_reply(redisAsyncContext *ac, void *rp, void *priv);

/* Put q on the wire: EVALSHA, or EVAL with the source after a NOSCRIPT.
 * 0, or -1 when the link takes no command (it is going away). */
static int send_pub(rb_t *rb, pubreq_t *q)
{
    char cand[24], now[24], maxlen[24], ttl[24], lttl[24], n[24], floor[24], win[24], rttl[24];
    const char *argv[19 + 3 * MAX_CHANNELS];
    size_t lens[19 + 3 * MAX_CHANNELS];
    /* Every message goes into its channels' Streams, whatever its target:
     * a resume replays what the subscriber's transport accepts. */
    int keep = 1;
    /* The channels' keys in the relay's epoch, and their pub/sub names. */
    size_t keysz = sizeof HR_CL_PFX_STREAM + HR_EPOCH_MAX + 1 + HR_CHANNEL_MAX;
    char *keys = hr_xmalloc(3 * (q->nch ? q->nch : 1) * keysz);
    size_t a = 0, nk = 3 + (keep ? 2 * (size_t)q->nch : 0);
    int eval = rb->q_eval_next;
    char nks[24];
#define ARG(p, l) (argv[a] = (p), lens[a] = (l), a++)
#define ARGS(s)   ARG(s, strlen(s))
    ARGS(eval ? "EVAL" : "EVALSHA");
    ARGS(eval ? rb->pub_src : rb->sha);
    snprintf(nks, sizeof nks, "%zu", nk);
    ARGS(nks);
    ARGS(HR_CL_KEY_EPOCH);
    ARGS(HR_CL_KEY_SEQ);
    ARGS(rb->reckey);
    const char *name = q->names;
    for (size_t i = 0; keep && i < q->nch; i++) {
        char *h = keys + 3 * i * keysz, *l = h + keysz;
        ARG(h, (size_t)snprintf(h, keysz, "%s%s:%.*s", HR_CL_PFX_STREAM, rb->base.epoch,
                                (int)q->chlen[i], name));
        ARG(l, (size_t)snprintf(l, keysz, "%s%s:%.*s", HR_CL_PFX_LAST, rb->base.epoch,
                                (int)q->chlen[i], name));
        name += q->chlen[i];
    }
    uint64_t wall = wall_ms();
    long httl = hr_history_cfg.history_ttl;
    snprintf(cand, sizeof cand, "%" PRIx64, wall);
    snprintf(now, sizeof now, "%" PRIu64, wall);
    snprintf(maxlen, sizeof maxlen, "%ld", hr_history_cfg.history_size);
    snprintf(ttl, sizeof ttl, "%ld", httl * 1000);
    snprintf(lttl, sizeof lttl, "%ld", httl * 2 > LAST_TTL_S ? httl * 2 : LAST_TTL_S);
    snprintf(n, sizeof n, "%" PRIu64, q->n);
    snprintf(floor, sizeof floor, "%" PRIu64, rb->base.seq);
    snprintf(win, sizeof win, "%d", RECORD_WINDOW);
    snprintf(rttl, sizeof rttl, "%d", RECORD_TTL_MS);
    ARGS(cand);
    ARGS(keep ? "1" : "0");
    ARGS(now);
    ARGS(maxlen);
    ARGS(ttl);
    ARGS(lttl);
    ARG(q->body, q->bodylen);
    ARGS(n);
    ARG(rb->base.epoch, rb->base.epoch_len);
    ARGS(floor);
    ARGS(win);
    ARGS(rttl);
    name = q->names;
    for (size_t i = 0; i < q->nch; i++) {
        char *m = keys + (3 * i + 2) * keysz;
        ARG(m, hr_cl_key(m, HR_CL_PFX_PUBSUB, name, q->chlen[i]));
        name += q->chlen[i];
    }
#undef ARGS
#undef ARG
    int rc = redisAsyncCommandArgv(rb->cmd.ac, on_publish_reply, q, (int)a, argv, lens);
    free(keys);
    if (rc != REDIS_OK)
        return -1;
    rb->q_eval_next = 0;
    if (q->was_sent)
        rb->resent++;
    q->was_sent = 1;
    q->sent = 1;
    q->sent_ns = uv_hrtime();
    rb->q_sent++;
    return 0;
}

/* Send what waits, in order, MAX_INFLIGHT on the wire at most. */
static void pump(rb_t *rb)
{
    if (!cmd_ready(rb) || rb->q_hold)
        return;
    if (rb->q_retry_ms && now_ms(rb) < rb->q_retry_ms)
        return;
    rb->q_retry_ms = 0;
    while (rb->q_next && (rb->q_sent < MAX_INFLIGHT || rb->stopping)) {
        pubreq_t *q = rb->q_next;
        if (send_pub(rb, q) != 0)
            return;
        rb->q_next = q->next;
    }
}

/* Take q off the queue (it was answered) and account for it. */
static void q_remove(rb_t *rb, pubreq_t *q)
{
    pubreq_t **pp = &rb->q_head, *prev = NULL;
    while (*pp && *pp != q)
        prev = *pp, pp = &(*pp)->next;
    if (*pp == NULL)
        return;
    *pp = q->next;
    if (rb->q_tail == q)
        rb->q_tail = prev;
    if (rb->q_next == q)
        rb->q_next = q->next;
    rb->q_count--;
    rb->q_bytes -= q->bytes;
    /* Taking publishes again once the backlog is down to half its cap. */
    if (rb->base.refusing && rb->q_bytes <= (uint64_t)hr_cluster_cfg.backlog_bytes / 2)
        hr_broker_set_accepting(&rb->base, NULL);
}

static void pubreq_free(pubreq_t *q)
{
    free(q->body);
    free(q);
}

static void fail_pub(rb_t *rb, pubreq_t *q, const char *err)
{
    q_remove(rb, q);
    count_unpublished(rb, err);
    q->done(q->ud, NULL, 0, err);
    pubreq_free(q);
}

/* Every answer is in after some came back unrun: send again from the
 * start of the queue, in order. */
static void release_hold(rb_t *rb)
{
    if (rb->q_hold && rb->q_sent == 0) {
        rb->q_hold = 0;
        rb->q_next = rb->q_head;
    }
}

static void on_publish_reply(redisAsyncContext *ac, void *rp, void *priv)
{
    redisReply *rep = rp;
    pubreq_t *q = priv;
    rb_t *rb = ((link_t *)ac->data)->rb;
    rb->q_sent--;
    q->sent = 0;
    /* Not run: the link went away (perhaps after Redis ran it: the script
     * knows this relay's publish numbers), the script cache was flushed,
     * or Redis is still loading its data. Sent again, in order, once
     * every answer on the wire is in (those behind it were not run either:
     * the script is named for this relay, so no one else can have loaded
     * it meanwhile). */
    int noscript = is_error(rep, "NOSCRIPT"), loading = is_error(rep, "LOADING");
    if (!rb->stopping && (rep == NULL || noscript || loading)) {
        if (noscript && !rb->q_hold)
            rb->q_eval_next = 1;
        if (loading)
            rb->q_retry_ms = now_ms(rb) + BACKOFF_MIN_MS;
        rb->q_hold = 1;
        release_hold(rb);
        pump(rb);
        return;
    }
    char ebuf[160];
    hr_slice_t epoch;
    uint64_t seq = 0;
    const char *err = NULL;
    if (rep == NULL) {
        err = "redis connection lost";
    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(ebuf, sizeof ebuf, "redis: %.140s", rep->str);
        err = ebuf;
    } else if (epoch_seq(rep, &epoch, &seq) != 0 || rep->elements != 2 || epoch.len == 0) {
        err = "redis: unexpected reply";
    }
    if (err) {
        fail_pub(rb, q, err);
    } else {
        adopt(rb, epoch.p, epoch.len, seq);
        rb->msgs_out++;
        hr_broker_count(&rb->base, q->target);
        rb->pub_lat_sum_ns += uv_hrtime() - q->sent_ns;
        rb->pub_lat_count++;
        char id[HR_ID_MAX];
        size_t idlen = hr_id_format(id, epoch, seq);
        q_remove(rb, q);
        q->done(q->ud, id, idlen, NULL);
        pubreq_free(q);
    }
    release_hold(rb);
    pump(rb);
}

static void publish(hr_broker_t *base, const hr_publish_t *p, hr_published_fn done, void *ud)
{
    rb_t *rb = (rb_t *)base;
    hr_cl_body_t b = {.target = p->target,
                      .binary = p->binary,
                      .json = p->json,
                      .retry = p->retry,
                      .event = p->event,
                      .data = p->data,
                      .except = p->except,
                      .user = p->user,
                      .mercure = p->mercure};
    /* A frame may name a channel twice: once in the Stream, once on pub/sub. */
    size_t names = 0;
    for (size_t i = 0; i < p->nchannels; i++) {
        size_t j = 0;
        while (j < b.nchannels && (b.channels[j].len != p->channels[i].len ||
                                   memcmp(b.channels[j].p, p->channels[i].p, p->channels[i].len)))
            j++;
        if (j == b.nchannels && b.nchannels < MAX_CHANNELS) {
            b.channels[b.nchannels++] = p->channels[i];
            names += p->channels[i].len;
        }
    }
    size_t bodylen;
    char *body = hr_cl_body_encode(&b, &bodylen);
    size_t bytes = PUBREQ_COST + bodylen + names;
    /* Past the cap (Redis away, or slower than the publishers) the relay
     * says so instead of growing: publishers' calls return false. One
     * publish is always taken, however large (max_frame_bytes bounds it). */
    uint64_t cap = (uint64_t)hr_cluster_cfg.backlog_bytes;
    if (rb->base.refusing && rb->q_bytes <= cap / 2)
        hr_broker_set_accepting(&rb->base, NULL);
    if (rb->q_count > 0 && (rb->base.refusing || rb->q_bytes + bytes > cap)) {
        hr_broker_set_accepting(&rb->base, "redis unavailable, backlog full");
        count_unpublished(rb, "redis backlog full");
        done(ud, NULL, 0, "redis backlog full: message not published");
        free(body);
        return;
    }
    pubreq_t *q = hr_xcalloc(1, sizeof *q + names);
    q->done = done;
    q->ud = ud;
    q->n = ++rb->next_n;
    q->bytes = bytes;
    q->target = (uint8_t)p->target;
    q->body = body;
    q->bodylen = bodylen;
    q->nch = (uint16_t)b.nchannels;
    char *w = q->names;
    for (size_t i = 0; i < b.nchannels; i++) {
        q->chlen[i] = (uint16_t)b.channels[i].len;
        memcpy(w, b.channels[i].p, b.channels[i].len);
        w += b.channels[i].len;
    }
    if (rb->q_tail)
        rb->q_tail->next = q;
    else
        rb->q_head = q;
    rb->q_tail = q;
    if (rb->q_next == NULL)
        rb->q_next = q;
    rb->q_count++;
    rb->q_bytes += bytes;
    pump(rb);
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

static void on_ping(redisAsyncContext *ac, void *rp, void *priv)
{
    rb_t *rb = priv;
    if (rp && rb->ping_sent_ns) {
        rb->ping_rtt_ns = uv_hrtime() - rb->ping_sent_ns;
        rb->ping_sent_ns = 0;
    }
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
    l->ever_up = 1;
    if (l == &rb->cmd) {
        /* The script first, then where the order stands (a counter behind
         * what this relay saw moves the cluster to a new epoch), then what
         * waited: all in this order on the link. */
        const char *argv[] = {"SCRIPT", "LOAD", rb->pub_src};
        size_t lens[] = {6, 4, strlen(rb->pub_src)};
        redisAsyncCommandArgv(l->ac, NULL, NULL, 3, argv, lens);
        send_pos(rb, on_position, rb, 0, rb->base.seq);
        pump(rb);
        ask_position(rb);
        cu_try(rb);
    } else {
        sub_resubscribe_wanted(rb);
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
        cu_begin(rb);
    } else {
        rb->ping_sent_ns = 0;
        ask_position(rb); /* fresh streams start from what this relay saw */
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

/* Once a second: latency probe and stall check on the cmd link, what
 * waits for a retry (Redis was loading), and UNSUBSCRIBE of channels idle
 * for a while (not at once: hiredis 0.14 loses the callback when
 * SUBSCRIBE follows an UNSUBSCRIBE still in flight, and clients often come
 * back right away). */
static void on_tick(uv_timer_t *t)
{
    rb_t *rb = t->data;
    uint64_t now = now_ms(rb);
    if (rb->cmd.up) {
        if (rb->ping_sent_ns && uv_hrtime() - rb->ping_sent_ns > PING_STALL_MS * 1000000ULL) {
            hr_log(HR_LOG_WARN, "cluster: cmd link stalled; reconnecting");
            redisAsyncFree(rb->cmd.ac); /* what is in flight is sent again on the next link */
        } else if (rb->ping_sent_ns == 0) {
            rb->ping_sent_ns = uv_hrtime();
            redisAsyncCommand(rb->cmd.ac, on_ping, rb, "PING");
        }
    }
    pump(rb);
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

static void drop_list(rres_t **list)
{
    while (*list) {
        rres_t *q = *list;
        *list = q->next;
        hr_resume_t *r = q->r;
        if (r->owner)
            r->sink->done(r->owner);
        rres_free(q);
        hr_resume_free(r);
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
    uv_close((uv_handle_t *)&rb->end_timer, NULL);
    drop_list(&rb->waiting);
    drop_list(&rb->pos_wait);
    drop_list(&rb->pos_asked);
    rb->cu.gen++;
    cu_free(rb);
    /* What can still go to Redis goes (no cap on the wire now); what
     * cannot is refused, and counted. */
    pump(rb);
    for (pubreq_t *q = rb->q_head, *next; q; q = next) {
        next = q->next;
        if (!q->sent)
            fail_pub(rb, q, "redis unavailable: message not published (relay stopping)");
    }
    if (cmd_ready(rb)) {
        /* After the last publishes: their numbers need no remembering. */
        const char *argv[] = {"DEL", rb->reckey};
        size_t lens[] = {3, strlen(rb->reckey)};
        redisAsyncCommandArgv(rb->cmd.ac, NULL, NULL, 2, argv, lens);
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
    hr_htab_free_entries(&rb->subents, offsetof(subent_t, node));
}

static void sweep(hr_broker_t *b, uint64_t now)
{
    /* Redis expires history itself (PEXPIRE, the gap rule). */
}

static void broker_free(hr_broker_t *b)
{
    rb_t *rb = (rb_t *)b;
    free(rb->pub_src);
    free(rb);
}

static void render(hr_prom_t *o, void *ud)
{
    rb_t *rb = ud;
    size_t subscribing = 0, bucket = 0;
    for (hr_hnode_t *n = hr_htab_next(&rb->subents, &bucket, NULL); n;
         n = hr_htab_next(&rb->subents, &bucket, n)) {
        subent_t *e = hr_container_of(n, subent_t, node);
        subscribing += e->used && e->state != S_CONFIRMED;
    }
    hr_prom_printf(
        o,
        "# HELP herald_redis_up 1 when both Redis links (commands, pub/sub) of every loop are "
        "connected.\n"
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
        "# HELP herald_redis_unpublished_total Messages not published: refused by Redis, or "
        "the backlog full.\n"
        "# TYPE herald_redis_unpublished_total counter\n"
        "herald_redis_unpublished_total %llu\n"
        "# HELP herald_redis_pending Publishes on the wire, waiting for Redis's answer.\n"
        "# TYPE herald_redis_pending gauge\nherald_redis_pending %llu\n"
        "# HELP herald_redis_backlog_messages Publishes Redis has not answered yet (on the "
        "wire or waiting for it).\n"
        "# TYPE herald_redis_backlog_messages gauge\nherald_redis_backlog_messages %llu\n"
        "# HELP herald_redis_backlog_bytes What they take, against redis_backlog_bytes.\n"
        "# TYPE herald_redis_backlog_bytes gauge\nherald_redis_backlog_bytes %llu\n"
        "# HELP herald_redis_resent_total Publishes sent again (a lost link, a flushed "
        "script cache); Redis runs each once.\n"
        "# TYPE herald_redis_resent_total counter\nherald_redis_resent_total %llu\n"
        "# HELP herald_redis_epoch_changes_total The cluster moved to a new epoch (Redis "
        "lost its data, or its counter went backwards).\n"
        "# TYPE herald_redis_epoch_changes_total counter\n"
        "herald_redis_epoch_changes_total %llu\n"
        "# HELP herald_redis_catchups_total Catching up from the Streams after the "
        "subscriber link was away, by result.\n"
        "# TYPE herald_redis_catchups_total counter\n"
        "herald_redis_catchups_total{result=\"exact\"} %llu\n"
        "herald_redis_catchups_total{result=\"gap\"} %llu\n"
        "herald_redis_catchups_total{result=\"ended\"} %llu\n"
        "# HELP herald_redis_channels Channels this relay subscribes to in Redis (each loop "
        "its own).\n"
        "# TYPE herald_redis_channels gauge\nherald_redis_channels %zu\n"
        "# HELP herald_redis_subscribing Channels with local subscribers whose SUBSCRIBE Redis "
        "has not confirmed yet.\n"
        "# TYPE herald_redis_subscribing gauge\nherald_redis_subscribing %zu\n"
        "# HELP herald_redis_resumes_total Resumes read from Redis.\n"
        "# TYPE herald_redis_resumes_total counter\nherald_redis_resumes_total %llu\n",
        rb->cmd.up && rb->sub.up, rb->cmd.up, rb->sub.up, (unsigned long long)rb->reconnects,
        (double)rb->ping_rtt_ns / 1e9, (double)rb->pub_lat_sum_ns / 1e9,
        (unsigned long long)rb->pub_lat_count, (unsigned long long)rb->msgs_out,
        (unsigned long long)rb->msgs_in, (unsigned long long)rb->unpublished,
        (unsigned long long)rb->q_sent, (unsigned long long)rb->q_count,
        (unsigned long long)rb->q_bytes, (unsigned long long)rb->resent,
        (unsigned long long)rb->epoch_changes, (unsigned long long)rb->catchups[CATCHUP_EXACT],
        (unsigned long long)rb->catchups[CATCHUP_GAP],
        (unsigned long long)rb->catchups[CATCHUP_ENDED], rb->subents.count, subscribing,
        (unsigned long long)rb->resumes);
}

static const hr_broker_ops_t redis_ops = {
    .name = "redis",
    .publish = publish,
    .resume = resume,
    .fresh = fresh,
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
    /* Until Redis is reached, ids name this relay's start, as a single
     * relay's do. */
    rb->base.epoch_len =
        (size_t)snprintf(rb->base.epoch, sizeof rb->base.epoch, "%" PRIx64, wall_ms());
    /* This relay's name in Redis, random per start: the publish script is
     * named for it (a NOSCRIPT cannot be undone behind its back by someone
     * else loading the same script), and its publish numbers are recorded
     * under it. */
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t x = uv_hrtime() ^ (uint64_t)(uintptr_t)rb;
        memcpy(rnd, &x, sizeof rnd);
    }
    for (int i = 0; i < 8; i++)
        snprintf(rb->rid + 2 * i, 3, "%02x", rnd[i]);
    snprintf(rb->reckey, sizeof rb->reckey, "herald:r:%s", rb->rid);
    size_t srclen = strlen(pub_script) + 64;
    rb->pub_src = hr_xmalloc(srclen);
    snprintf(rb->pub_src, srclen, "-- herald relay %s\n%s", rb->rid, pub_script);
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)rb->pub_src, strlen(rb->pub_src), d);
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
    uv_timer_init(L->uv, &rb->end_timer);
    rb->end_timer.data = rb;
    hr_log(HR_LOG_INFO, "cluster: redis %s (relay %s)", url, rb->rid);
    return &rb->base;
}
