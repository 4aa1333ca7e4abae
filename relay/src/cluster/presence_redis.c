/* SPDX-License-Identifier: MIT
 * presence_redis.c: cluster presence (presence_redis.h). The common part
 * (core/presence.c) counts this relay's tabs and runs the leave delay; this
 * file does the cross-relay steps in Redis, on a link of its own (hiredis's
 * libuv adapter on the relay's loop; the broker's links are the broker's).
 *
 * Keys (one Redis, like the broker's: the scripts name keys they build, so
 * not Redis Cluster):
 *   herald:p:<ch>   ZSET "<relay id>|<user>" scored by expiry (ms, Redis's clock)
 *   herald:pn:<ch>  HASH user -> entries of that user in herald:p:<ch>
 *   herald:pi:<ch>  HASH user -> info JSON (the last tab's, any relay)
 *   herald:pc       SET of presence channels with entries (what the sweep walks)
 * A user is a member while it has an entry: a join is published by whoever
 * makes its first entry, a leave by whoever removes its last, and the
 * scripts decide both atomically, so exactly one relay publishes each.
 *
 * Upsert (a first tab here; every presence_ttl_ms/3 for every member here,
 * batched; every member again after a reconnect): ZADD this relay's entry
 * with expiry now + presence_ttl_ms; the user's first entry -> join. Leave
 * (the delay passed): ZREM this relay's entry; the user's last -> leave.
 * Sweep (each relay, every HR_PRESENCE_SWEEP_MS): remove expired entries of
 * every channel in herald:pc; a user left with none -> leave (counted as
 * expired). A relay that died without a word stops refreshing, so its
 * members leave within presence_ttl_ms + HR_PRESENCE_SWEEP_MS.
 *
 * Redis away: a leave waits in a queue, sent first when the link is back,
 * then every member here is upserted again (entries a sweep removed
 * meanwhile come back, with a join). A leave whose reply the link lost is
 * sent again marked as a retry: the script then also answers "last" when
 * this relay's entry is already gone and the user has none, so the leave is
 * published at least once. An upsert whose reply was lost is not: its join
 * may be lost (rare: the link must drop between Redis running it and the
 * reply). Members queries answer "redis unavailable" meanwhile.
 *
 * Workers: each loop of a relay is a relay here, with its own link and its
 * own id (presence_redis.h), so a user's tabs on two loops are two entries
 * (one join, one leave) and one loop's stop hands over only its own. The
 * sweep, which walks every channel, runs on the first loop only.
 *
 * Clean stop: this relay's entries are handed over: they expire
 * presence_leave_ms later and another relay's sweep publishes the leaves
 * (this relay's broker stops right after, so it could not), unless the user
 * came back meanwhile through another relay: no flicker for a client that
 * reconnects. */
#include "cluster/presence_redis.h"
#include "base/log.h"
#include "cluster/redis_fmt.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  5000
#define CONNECT_TIMEOUT 2000 /* hiredis 0.14 has no async connect timeout */
#define STOP_TIMEOUT_MS 2000 /* a Redis that does not answer does not hold the exit */
#define BATCH           200  /* members per script call */

/* Redis's clock, for every expiry: relays' clocks may differ. */
#define NOW_LUA                                                                                    \
    "local t = redis.call('TIME')\n"                                                               \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* ARGV: relay id, ttl ms, then per member: channel, user, info, '1' to
 * write the info. Returns the indexes (from 1) of members whose entry is
 * the user's first: their join is the caller's to publish. */
static const char upsert_script[] = NOW_LUA
    "local rid, exp = ARGV[1], now + tonumber(ARGV[2])\n"
    "local out = {}\n"
    "for i = 1, (#ARGV - 2) / 4 do\n"
    "  local ch, u, info, set = ARGV[4 * i - 1], ARGV[4 * i], ARGV[4 * i + 1], ARGV[4 * i + 2]\n"
    "  local c = 0\n"
    "  if redis.call('ZADD', 'herald:p:' .. ch, exp, rid .. '|' .. u) == 1 then\n"
    "    c = redis.call('HINCRBY', 'herald:pn:' .. ch, u, 1)\n"
    "    redis.call('SADD', 'herald:pc', ch)\n"
    "  end\n"
    "  if c == 1 then out[#out + 1] = i end\n"
    "  if c == 1 or set == '1' then redis.call('HSET', 'herald:pi:' .. ch, u, info) end\n"
    "end\n"
    "return out\n";

/* ARGV: relay id, then per member: channel, user, '1' for a retry. Returns
 * {index, info, ...} for members that were the user's last entry. */
static const char leave_script[] =
    "local rid = ARGV[1]\n"
    "local out = {}\n"
    "for i = 1, (#ARGV - 1) / 3 do\n"
    "  local ch, u, retry = ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]\n"
    "  local pn, pi = 'herald:pn:' .. ch, 'herald:pi:' .. ch\n"
    "  local c = 1\n"
    "  if redis.call('ZREM', 'herald:p:' .. ch, rid .. '|' .. u) == 1 then\n"
    "    c = redis.call('HINCRBY', pn, u, -1)\n"
    "  elseif retry == '1' then\n"
    "    c = tonumber(redis.call('HGET', pn, u) or '0') or 0\n"
    "  end\n"
    "  if c <= 0 then\n"
    "    out[#out + 1] = i\n"
    "    out[#out + 1] = redis.call('HGET', pi, u) or ''\n"
    "    redis.call('HDEL', pn, u)\n"
    "    redis.call('HDEL', pi, u)\n"
    "  end\n"
    "end\n"
    "return out\n";

/* No ARGV. Removes expired entries; returns {channel, user, info, ...}
 * for users left with none (their leave is the caller's to publish). */
static const char sweep_script[] =
    NOW_LUA "local out = {}\n"
            "for _, ch in ipairs(redis.call('SMEMBERS', 'herald:pc')) do\n"
            "  local zk, pn, pi = 'herald:p:' .. ch, 'herald:pn:' .. ch, 'herald:pi:' .. ch\n"
            "  local ex = redis.call('ZRANGEBYSCORE', zk, '-inf', '(' .. now)\n"
            "  if #ex > 0 then\n"
            "    redis.call('ZREMRANGEBYSCORE', zk, '-inf', '(' .. now)\n"
            "    for _, m in ipairs(ex) do\n"
            "      local u = string.sub(m, (string.find(m, '|', 1, true) or 0) + 1)\n"
            "      if redis.call('HINCRBY', pn, u, -1) <= 0 then\n"
            "        out[#out + 1] = ch\n"
            "        out[#out + 1] = u\n"
            "        out[#out + 1] = redis.call('HGET', pi, u) or ''\n"
            "        redis.call('HDEL', pn, u)\n"
            "        redis.call('HDEL', pi, u)\n"
            "      end\n"
            "    end\n"
            "  end\n"
            "  if redis.call('ZCARD', zk) == 0 then\n"
            "    redis.call('SREM', 'herald:pc', ch)\n"
            "    redis.call('DEL', pn, pi)\n"
            "  end\n"
            "end\n"
            "return out\n";

/* ARGV: relay id, delay ms, then per member: channel, user. This relay's
 * entries expire after the delay (only those still there). */
static const char handover_script[] = NOW_LUA "local rid, exp = ARGV[1], now + tonumber(ARGV[2])\n"
                                              "for i = 1, (#ARGV - 2) / 2 do\n"
                                              "  redis.call('ZADD', 'herald:p:' .. ARGV[2 * i + "
                                              "1], 'XX', exp, rid .. '|' .. ARGV[2 * i + 2])\n"
                                              "end\n"
                                              "return 0\n";

/* KEYS: herald:p:<ch>, herald:pi:<ch>. Returns {user, info, ...} of
 * users with an unexpired entry, each once. */
static const char members_script[] =
    NOW_LUA "local seen, users, out = {}, {}, {}\n"
            "for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do\n"
            "  local u = string.sub(m, (string.find(m, '|', 1, true) or 0) + 1)\n"
            "  if not seen[u] then seen[u] = true; users[#users + 1] = u end\n"
            "end\n"
            "for i = 1, #users, 500 do\n"
            "  local part = {}\n"
            "  for j = i, math.min(i + 499, #users) do part[#part + 1] = users[j] end\n"
            "  local infos = redis.call('HMGET', KEYS[2], unpack(part))\n"
            "  for j = 1, #part do\n"
            "    out[#out + 1] = part[j]\n"
            "    out[#out + 1] = infos[j] or ''\n"
            "  end\n"
            "end\n"
            "return out\n";

typedef struct rp rp_t;

/* A member as a request carries it: copies, one allocation. */
typedef struct item {
    hr_slice_t ch, user, info;
    uint8_t flag; /* upsert: write the info; leave: a retry */
    char *mem;
} item_t;

enum { REQ_UPSERT, REQ_LEAVE, REQ_HANDOVER, REQ_SWEEP };

typedef struct req {
    struct req *next; /* in the leave queue */
    rp_t *rp;
    int kind;
    size_t n, cap;
    item_t *items;
} req_t;

typedef struct query {
    struct query *prev, *next;
    rp_t *rp;
    hr_presence_fn fn; /* NULL: forgotten */
    void *ud;
} query_t;

struct rp {
    hr_presence_t base;
    hr_cl_url_t url;
    redisAsyncContext *ac;
    uv_timer_t timer; /* reconnect backoff, connect timeout, stop timeout */
    int up, ever_up, stopping, closed;
    uint64_t backoff_ms;
    uint64_t next_refresh_ms, next_sweep_ms;
    int sweeping, sweeper;            /* sweeper: this loop runs the sweep */
    req_t *leaves_head, *leaves_tail; /* leaves waiting for the link */
    query_t *queries;
    /* metrics */
    uint64_t link_up, reconnects, errors;
};

/* ---- requests ---- */

static req_t *req_new(rp_t *rp, int kind)
{
    req_t *q = hr_xcalloc(1, sizeof *q);
    q->rp = rp;
    q->kind = kind;
    return q;
}

static void req_add(req_t *q, hr_slice_t ch, hr_slice_t user, hr_slice_t info, int flag)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 8;
        q->items = hr_xrealloc(q->items, q->cap * sizeof *q->items);
    }
    item_t *it = &q->items[q->n++];
    it->mem = hr_xmalloc(ch.len + user.len + info.len + 1);
    memcpy(it->mem, ch.p, ch.len);
    memcpy(it->mem + ch.len, user.p, user.len);
    if (info.len)
        memcpy(it->mem + ch.len + user.len, info.p, info.len);
    it->ch = (hr_slice_t){it->mem, ch.len};
    it->user = (hr_slice_t){it->mem + ch.len, user.len};
    it->info = (hr_slice_t){it->mem + ch.len + user.len, info.len};
    it->flag = (uint8_t)flag;
}

static void req_free(req_t *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->items[i].mem);
    free(q->items);
    free(q);
}

static int link_ready(rp_t *rp)
{
    return rp->up && rp->ac && !(rp->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

static void on_req_reply(redisAsyncContext *ac, void *rep, void *priv);

/* EVAL the request's script over its members; the request is the reply's
 * (freed there). Presence scripts run on a user's first and last tab and at
 * the refresh, so their source travels each time: no script cache to lose. */
static void req_send(rp_t *rp, req_t *q)
{
    const char *src = q->kind == REQ_UPSERT  ? upsert_script
                      : q->kind == REQ_LEAVE ? leave_script
                      : q->kind == REQ_SWEEP ? sweep_script
                                             : handover_script;
    size_t per = q->kind == REQ_UPSERT ? 4 : q->kind == REQ_LEAVE ? 3 : 2;
    if (q->kind == REQ_SWEEP)
        per = 0;
    size_t max = 5 + per * q->n;
    const char **argv = hr_xmalloc(max * sizeof *argv);
    size_t *lens = hr_xmalloc(max * sizeof *lens);
    char num[24];
    size_t a = 0;
#define ARG(p, l) (argv[a] = (p), lens[a] = (l), a++)
    ARG("EVAL", 4);
    ARG(src, strlen(src));
    ARG("0", 1);
    if (q->kind != REQ_SWEEP)
        ARG(rp->base.relay_id, strlen(rp->base.relay_id));
    if (q->kind == REQ_UPSERT || q->kind == REQ_HANDOVER) {
        long v = q->kind == REQ_UPSERT ? hr_presence_cfg.ttl_ms : hr_presence_cfg.leave_ms;
        ARG(num, (size_t)snprintf(num, sizeof num, "%ld", v > 0 ? v : 0));
    }
    for (size_t i = 0; per && i < q->n; i++) {
        item_t *it = &q->items[i];
        ARG(it->ch.p, it->ch.len);
        ARG(it->user.p, it->user.len);
        if (q->kind == REQ_UPSERT)
            it->info.len ? ARG(it->info.p, it->info.len) : ARG("null", 4);
        if (q->kind != REQ_HANDOVER)
            ARG(it->flag ? "1" : "0", 1);
    }
#undef ARG
    int rc = redisAsyncCommandArgv(rp->ac, on_req_reply, q, (int)a, argv, lens);
    free(argv);
    free(lens);
    if (rc != REDIS_OK) {
        /* The link is going away: the reply handler's "lost" path. */
        on_req_reply(NULL, NULL, q);
    }
}

/* Send a request in batches of BATCH members (moves the items). */
static void send_batched(rp_t *rp, req_t *q)
{
    if (q->n <= BATCH) {
        req_send(rp, q);
        return;
    }
    for (size_t i = 0; i < q->n; i += BATCH) {
        req_t *part = req_new(rp, q->kind);
        size_t k = q->n - i < BATCH ? q->n - i : BATCH;
        part->items = hr_xmalloc(k * sizeof *part->items);
        memcpy(part->items, q->items + i, k * sizeof *part->items);
        part->n = part->cap = k;
        req_send(rp, part);
    }
    q->n = 0;
    req_free(q);
}

static void queue_leave(rp_t *rp, req_t *q)
{
    q->next = NULL;
    if (rp->leaves_tail)
        rp->leaves_tail->next = q;
    else
        rp->leaves_head = q;
    rp->leaves_tail = q;
}

/* A string of a script's array reply, or an empty slice. */
static hr_slice_t str_at(const redisReply *r, size_t i)
{
    if (i < r->elements && r->element[i]->type == REDIS_REPLY_STRING)
        return (hr_slice_t){r->element[i]->str, r->element[i]->len};
    return (hr_slice_t){"", 0};
}

static size_t int_at(const redisReply *r, size_t i)
{
    if (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer > 0)
        return (size_t)r->element[i]->integer;
    return 0;
}

/* info as Redis has it ("null" for none), else the relay's own copy. */
static hr_slice_t info_of(hr_slice_t redis_info, hr_slice_t own)
{
    if (redis_info.len == 4 && memcmp(redis_info.p, "null", 4) == 0)
        return (hr_slice_t){"", 0};
    return redis_info.len ? redis_info : own;
}

static void on_req_reply(redisAsyncContext *ac, void *rep, void *priv)
{
    req_t *q = priv;
    rp_t *rp = q->rp;
    redisReply *r = rep;
    if (r == NULL) {
        /* The link went away with it: a leave is sent again (at least once),
         * the rest is redone by the upsert after the reconnect. */
        if (q->kind == REQ_LEAVE && !rp->stopping) {
            for (size_t i = 0; i < q->n; i++)
                q->items[i].flag = 1;
            queue_leave(rp, q);
            return;
        }
        if (q->kind == REQ_SWEEP)
            rp->sweeping = 0;
        req_free(q);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        rp->errors++;
        hr_log(HR_LOG_WARN, "presence: redis: %s", r->str);
    } else if (r->type == REDIS_REPLY_ARRAY) {
        switch (q->kind) {
        case REQ_UPSERT:
            for (size_t i = 0; i < r->elements; i++) {
                size_t k = int_at(r, i);
                if (k >= 1 && k <= q->n)
                    hr_presence_publish(&rp->base, HR_PRESENCE_JOIN, q->items[k - 1].ch,
                                        q->items[k - 1].user, q->items[k - 1].info);
            }
            break;
        case REQ_LEAVE:
            for (size_t i = 0; i + 1 < r->elements; i += 2) {
                size_t k = int_at(r, i);
                if (k >= 1 && k <= q->n)
                    hr_presence_publish(&rp->base, HR_PRESENCE_LEAVE, q->items[k - 1].ch,
                                        q->items[k - 1].user,
                                        info_of(str_at(r, i + 1), q->items[k - 1].info));
            }
            break;
        case REQ_SWEEP:
            for (size_t i = 0; i + 2 < r->elements; i += 3) {
                hr_slice_t ch = str_at(r, i), user = str_at(r, i + 1);
                if (ch.len && user.len)
                    hr_presence_publish(&rp->base, HR_PRESENCE_EXPIRED, ch, user,
                                        info_of(str_at(r, i + 2), (hr_slice_t){"", 0}));
            }
            break;
        }
    }
    if (q->kind == REQ_SWEEP)
        rp->sweeping = 0;
    req_free(q);
}

/* ---- members here, to Redis ---- */

static void add_member(void *ud, hr_pmember_t *m)
{
    req_t *q = ud;
    req_add(q, (hr_slice_t){m->ch->name, m->ch->name_len}, (hr_slice_t){m->user, m->user_len},
            (hr_slice_t){m->info, m->info_len}, 0);
}

/* Every member here, upserted (setinfo: write their infos too) or handed
 * over. */
static void send_all(rp_t *rp, int kind, int setinfo)
{
    req_t *q = req_new(rp, kind);
    hr_presence_each(&rp->base, add_member, q);
    for (size_t i = 0; i < q->n; i++)
        q->items[i].flag = (uint8_t)setinfo;
    if (q->n == 0) {
        req_free(q);
        return;
    }
    send_batched(rp, q);
}

/* Drop a queued leave of (ch, user): the user is back before Redis heard
 * of the leave. */
static void unqueue_leave(rp_t *rp, hr_slice_t ch, hr_slice_t user)
{
    for (req_t *q = rp->leaves_head; q; q = q->next)
        for (size_t i = 0; i < q->n; i++)
            if (hr_slice_eq(q->items[i].ch, ch) && hr_slice_eq(q->items[i].user, user)) {
                free(q->items[i].mem);
                q->items[i] = q->items[--q->n];
                i--;
            }
}

static void rp_here(hr_presence_t *p, hr_pmember_t *m, int first)
{
    rp_t *rp = (rp_t *)p;
    hr_slice_t ch = {m->ch->name, m->ch->name_len}, user = {m->user, m->user_len};
    if (first)
        unqueue_leave(rp, ch, user);
    if (!link_ready(rp))
        return; /* the upsert after the reconnect has it */
    req_t *q = req_new(rp, REQ_UPSERT);
    req_add(q, ch, user, (hr_slice_t){m->info, m->info_len}, 1);
    req_send(rp, q);
}

static void rp_gone(hr_presence_t *p, const hr_pmember_t *m)
{
    rp_t *rp = (rp_t *)p;
    req_t *q = req_new(rp, REQ_LEAVE);
    req_add(q, (hr_slice_t){m->ch->name, m->ch->name_len}, (hr_slice_t){m->user, m->user_len},
            (hr_slice_t){m->info, m->info_len}, 0);
    if (link_ready(rp))
        req_send(rp, q);
    else
        queue_leave(rp, q);
}

/* ---- members query ---- */

static void on_members_reply(redisAsyncContext *ac, void *rep, void *priv)
{
    query_t *mq = priv;
    rp_t *rp = mq->rp;
    redisReply *r = rep;
    if (mq->prev)
        mq->prev->next = mq->next;
    else
        rp->queries = mq->next;
    if (mq->next)
        mq->next->prev = mq->prev;
    if (mq->fn == NULL) {
        free(mq);
        return;
    }
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR) {
            rp->errors++;
            hr_log(HR_LOG_WARN, "presence: redis: %s", r->str);
        }
        mq->fn(mq->ud, NULL, 0, r ? "redis error" : "redis unavailable");
        free(mq);
        return;
    }
    size_t n = r->elements / 2, len;
    hr_presence_entry_t *u = hr_xmalloc((n ? n : 1) * sizeof *u);
    for (size_t i = 0; i < n; i++)
        u[i] = (hr_presence_entry_t){str_at(r, 2 * i),
                                     info_of(str_at(r, 2 * i + 1), (hr_slice_t){"", 0})};
    char *json = hr_presence_json(u, n, &len);
    free(u);
    mq->fn(mq->ud, json, len, NULL);
    free(json);
    free(mq);
}

static void rp_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud)
{
    rp_t *rp = (rp_t *)p;
    if (!link_ready(rp) || rp->stopping || ch.len > HR_CHANNEL_MAX) {
        fn(ud, NULL, 0, ch.len > HR_CHANNEL_MAX ? "bad channel" : "redis unavailable");
        return;
    }
    char zk[32 + HR_CHANNEL_MAX], ik[32 + HR_CHANNEL_MAX];
    size_t zl = hr_cl_key(zk, "herald:p:", ch.p, ch.len);
    size_t il = hr_cl_key(ik, "herald:pi:", ch.p, ch.len);
    const char *argv[] = {"EVAL", members_script, "2", zk, ik};
    size_t lens[] = {4, strlen(members_script), 1, zl, il};
    query_t *mq = hr_xcalloc(1, sizeof *mq);
    mq->rp = rp;
    mq->fn = fn;
    mq->ud = ud;
    mq->next = rp->queries;
    if (rp->queries)
        rp->queries->prev = mq;
    rp->queries = mq;
    if (redisAsyncCommandArgv(rp->ac, on_members_reply, mq, 5, argv, lens) != REDIS_OK)
        on_members_reply(NULL, NULL, mq);
}

static void rp_forget(hr_presence_t *p, void *ud)
{
    rp_t *rp = (rp_t *)p;
    for (query_t *mq = rp->queries; mq; mq = mq->next)
        if (mq->ud == ud)
            mq->fn = NULL;
}

/* ---- the link ---- */

static void link_connect(rp_t *rp);

static void on_timer(uv_timer_t *t)
{
    rp_t *rp = t->data;
    if (rp->stopping) {
        /* Redis did not answer the handover in time. */
        hr_log(HR_LOG_WARN, "presence: redis did not answer the handover in time");
        if (rp->ac) {
            redisAsyncContext *ac = rp->ac;
            rp->ac = NULL;
            redisAsyncFree(ac);
        }
        if (!rp->closed) {
            rp->closed = 1;
            uv_close((uv_handle_t *)&rp->timer, NULL);
        }
        return;
    }
    if (rp->ac && !rp->up) {
        hr_log(HR_LOG_WARN, "presence: redis link: connect timed out");
        redisAsyncContext *ac = rp->ac;
        rp->ac = NULL;
        redisAsyncFree(ac); /* no callbacks for a link not connected */
    }
    if (rp->ac == NULL)
        link_connect(rp);
}

static void schedule(rp_t *rp)
{
    if (rp->stopping)
        return;
    uint64_t d = rp->backoff_ms;
    rp->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
    uv_timer_start(&rp->timer, on_timer, d, 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rp_t *rp = ac->data;
    uv_timer_stop(&rp->timer);
    if (status != REDIS_OK) {
        hr_log(HR_LOG_WARN, "presence: redis link: %s", ac->errstr);
        rp->ac = NULL; /* hiredis frees it */
        schedule(rp);
        return;
    }
    if (ac->c.connection_type == REDIS_CONN_TCP)
        redisEnableKeepAlive((redisContext *)&ac->c);
    rp->up = 1;
    rp->link_up = 1;
    rp->backoff_ms = BACKOFF_MIN_MS;
    if (rp->ever_up)
        rp->reconnects++;
    hr_log(HR_LOG_INFO, "presence: redis link up%s (relay %s)", rp->ever_up ? " again" : "",
           rp->base.relay_id);
    rp->ever_up = 1;
    /* The leaves that waited first, then every member here again, in this
     * order on the link: a user who left and came back meanwhile gets
     * their leave and then their join. */
    req_t *q = rp->leaves_head;
    rp->leaves_head = rp->leaves_tail = NULL;
    while (q) {
        req_t *next = q->next;
        if (q->n)
            send_batched(rp, q);
        else
            req_free(q);
        q = next;
    }
    send_all(rp, REQ_UPSERT, 1);
    rp->next_refresh_ms = hr_loop_now_ms(rp->base.loop) + (uint64_t)hr_presence_cfg.ttl_ms / 3;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rp_t *rp = ac->data;
    rp->ac = NULL;
    rp->up = 0;
    rp->link_up = 0;
    if (rp->stopping) {
        if (!rp->closed) {
            rp->closed = 1;
            uv_close((uv_handle_t *)&rp->timer, NULL);
        }
        return;
    }
    hr_log(HR_LOG_WARN, "presence: redis link down: %s",
           status == REDIS_OK ? "closed" : ac->errstr);
    schedule(rp);
}

static void link_connect(rp_t *rp)
{
    if (rp->stopping || rp->ac)
        return;
    redisAsyncContext *ac = rp->url.path[0] ? redisAsyncConnectUnix(rp->url.path)
                                            : redisAsyncConnect(rp->url.host, rp->url.port);
    if (ac == NULL || ac->err) {
        hr_log(HR_LOG_WARN, "presence: redis link: %s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule(rp);
        return;
    }
    ac->data = rp;
    rp->ac = ac;
    redisLibuvAttach(ac, rp->base.loop->uv);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    uv_timer_start(&rp->timer, on_timer, CONNECT_TIMEOUT, 0);
}

/* ---- sweep, stop ---- */

static void rp_sweep(hr_presence_t *p, uint64_t now)
{
    rp_t *rp = (rp_t *)p;
    if (!link_ready(rp) || rp->stopping)
        return;
    if (now >= rp->next_refresh_ms) {
        rp->next_refresh_ms = now + (uint64_t)hr_presence_cfg.ttl_ms / 3;
        send_all(rp, REQ_UPSERT, 0);
    }
    if (rp->sweeper && now >= rp->next_sweep_ms && !rp->sweeping) {
        rp->next_sweep_ms = now + HR_PRESENCE_SWEEP_MS;
        rp->sweeping = 1;
        req_send(rp, req_new(rp, REQ_SWEEP));
    }
}

static void rp_stop(hr_presence_t *p)
{
    rp_t *rp = (rp_t *)p;
    if (rp->stopping)
        return;
    rp->stopping = 1;
    uv_timer_stop(&rp->timer);
    if (link_ready(rp)) {
        send_all(rp, REQ_HANDOVER, 0);
        /* Disconnect waits for the replies in flight; the timer bounds it. */
        uv_timer_start(&rp->timer, on_timer, STOP_TIMEOUT_MS, 0);
        redisAsyncDisconnect(rp->ac);
        return;
    }
    if (rp->ac) {
        redisAsyncContext *ac = rp->ac;
        rp->ac = NULL;
        rp->up = 0;
        redisAsyncFree(ac);
    }
    if (!rp->closed) {
        rp->closed = 1;
        uv_close((uv_handle_t *)&rp->timer, NULL);
    }
}

static void rp_free(hr_presence_t *p)
{
    rp_t *rp = (rp_t *)p;
    while (rp->leaves_head) {
        req_t *q = rp->leaves_head;
        rp->leaves_head = q->next;
        req_free(q);
    }
    while (rp->queries) {
        query_t *mq = rp->queries;
        rp->queries = mq->next;
        free(mq);
    }
    hr_presence_deinit(p);
    free(rp);
}

static const hr_presence_ops_t redis_ops = {
    .name = "redis",
    .here = rp_here,
    .gone = rp_gone,
    .members = rp_members,
    .forget = rp_forget,
    .sweep = rp_sweep,
    .stop = rp_stop,
    .free = rp_free,
};

hr_presence_t *hr_presence_redis_new(hr_loop_t *L, const char *redis_url, unsigned loop)
{
    char err[256];
    rp_t *rp = hr_xcalloc(1, sizeof *rp);
    if (hr_cl_parse_url(redis_url, &rp->url, err, sizeof err) != 0) {
        hr_log(HR_LOG_ERROR, "presence: %s", err);
        free(rp);
        return NULL;
    }
    hr_presence_init(&rp->base, &redis_ops, L);
    /* Loop 0 keeps the relay's id; loop i flips its low bits: distinct
     * within the process, still 8 hex digits. */
    if (loop > 0)
        snprintf(rp->base.relay_id, sizeof rp->base.relay_id, "%08lx",
                 strtoul(hr_relay_id(), NULL, 16) ^ loop);
    rp->sweeper = loop == 0;
    hr_metrics_add(&L->metrics, "herald_presence_redis_up", HR_GAUGE,
                   "1 when the presence link to Redis is connected.", NULL, &rp->link_up);
    hr_metrics_add(&L->metrics, "herald_presence_redis_errors_total", HR_COUNTER,
                   "Presence scripts Redis answered with an error.", NULL, &rp->errors);
    uv_timer_init(L->uv, &rp->timer);
    rp->timer.data = rp;
    rp->backoff_ms = BACKOFF_MIN_MS;
    link_connect(rp);
    return &rp->base;
}
