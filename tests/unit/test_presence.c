/* SPDX-License-Identifier: MIT
 * test_presence.c: presence (core/presence.h) on a real loop with the real
 * local broker: what it publishes is read back from the channel's history
 * (hr_chans_replay), as a resuming client would get it. A user's two tabs
 * are one join; a reload within the delay is no leave and no join; the
 * last tab's leave comes after the delay; members are sorted by user with
 * the last tab's info; a clean stop leaves no one behind. The loop runs
 * until the event waited for is there, never for a fixed time: "no leave
 * for A" is proven by B's leave, due after A's would have been.
 *
 * The Redis backend (cluster/presence_redis.h) is tested against a real
 * redis-server started here on a Unix socket (skipped when there is none):
 * two "relays" (two loops, each with its local broker and its own relay
 * id) share members, join once and leave once between them, and a relay
 * that vanishes without a word has its members expire and leave. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/presence_redis.h"
#include "codec/json_check.h"
#include "core/broker.h"
#include "core/broker_local.h"
#include "core/presence.h"

/* ---- one relay: a loop, the local broker, presence ---- */

typedef struct relay {
    uv_loop_t uv;
    hr_loop_t L;
    hr_presence_t *p;
    struct {
        const char *ch;
        uint64_t seq;
    } seen[4];        /* history read up to seq, per channel */
    uv_timer_t sweep; /* the app's periodic sweep (Redis relays) */
    int sweeping;
} relay_t;

/* What was published on a presence channel: "join ann {...}" lines. */
typedef struct got {
    char lines[64][512];
    size_t n;
} got_t;

static void relay_start(relay_t *r)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->uv), 0);
    hr_loop_init(&r->L, &r->uv, 1000, 3600000);
    r->L.broker = hr_broker_local_new(&r->L);
    r->p = hr_presence_local_new(&r->L);
    assert_ptr_equal(r->L.presence, r->p);
}

static void relay_end(relay_t *r)
{
    if (r->sweeping)
        uv_close((uv_handle_t *)&r->sweep, NULL);
    uv_update_time(&r->uv); /* a relay whose loop stood still: its timers from now */
    hr_presence_stop(r->p);
    uv_run(&r->uv, UV_RUN_DEFAULT); /* the module's handles close */
    hr_presence_free(r->p);
    r->L.broker->ops->free(r->L.broker);
    hr_loop_free(&r->L);
    assert_int_equal(uv_loop_close(&r->uv), 0);
}

static void collect(hr_event_t *ev, void *ud)
{
    got_t *g = ud;
    assert_true(g->n < 64);
    assert_int_equal(ev->target, HR_TARGET_PRESENCE);
    assert_int_equal(ev->json, 1);
    assert_null(hr_json_check(ev->data.p, ev->data.len, NULL));
    const char *kind = ev->name.len == 11 && memcmp(ev->name.p, "herald.join", 11) == 0    ? "join"
                       : ev->name.len == 12 && memcmp(ev->name.p, "herald.leave", 12) == 0 ? "leave"
                                                                                           : "?";
    snprintf(g->lines[g->n++], sizeof g->lines[0], "%s %.*s", kind, (int)ev->data.len, ev->data.p);
}

/* What ch's history got since the last call for ch. */
static size_t events(relay_t *r, const char *ch, got_t *g)
{
    hr_slice_t name = {ch, strlen(ch)};
    uint8_t gap = 0;
    size_t i = 0;
    while (r->seen[i].ch && strcmp(r->seen[i].ch, ch) != 0)
        i++;
    assert_true(i < 4);
    r->seen[i].ch = ch;
    memset(g, 0, sizeof *g);
    hr_chans_replay(&r->L.chans, &name, 1, r->seen[i].seq, HR_TARGET_PRESENCE,
                    hr_loop_now_ms(&r->L), &gap, collect, g);
    r->seen[i].seq = r->L.broker->seq;
    return g->n;
}

/* Run the loop until ch's history holds more than it did at `seq`. */
static void run_until_published(relay_t *r, uint64_t seq)
{
    while (r->L.broker->seq == seq)
        uv_run(&r->uv, UV_RUN_ONCE);
}

static hr_slice_t S(const char *s)
{
    return (hr_slice_t){s, s ? strlen(s) : 0};
}

static void add(relay_t *r, const char *ch, const char *user, const char *info)
{
    hr_presence_add(r->p, S(ch), S(user), S(info));
}

static void rm(relay_t *r, const char *ch, const char *user)
{
    hr_presence_remove(r->p, S(ch), S(user));
}

/* Members answer, copied. */
typedef struct answer {
    int calls;
    char json[4096];
    char err[128];
} answer_t;

static void on_members(void *ud, const char *json, size_t len, const char *err)
{
    answer_t *a = ud;
    a->calls++;
    if (json) {
        assert_true(len < sizeof a->json);
        memcpy(a->json, json, len);
        a->json[len] = '\0';
        assert_null(hr_json_check(json, len, NULL));
    }
    if (err)
        snprintf(a->err, sizeof a->err, "%s", err);
}

static void members(relay_t *r, const char *ch, answer_t *a)
{
    memset(a, 0, sizeof *a);
    hr_presence_members(r->p, S(ch), on_members, a);
    assert_int_equal(a->calls, 1); /* local: at once */
}

static int setup(void **state)
{
    static char prefixes[] = "presence-, room-*";
    hr_presence_cfg.prefixes = prefixes;
    hr_presence_cfg.leave_ms = 30;
    hr_presence_cfg.ttl_ms = 15000;
    return 0;
}

/* ---- tests ---- */

static void test_prefixes(void **state)
{
    assert_true(hr_presence_is("presence-lobby", 14));
    assert_true(hr_presence_is("room-7", 6));
    assert_false(hr_presence_is("presence", 8));
    assert_false(hr_presence_is("news", 4));
    char *saved = hr_presence_cfg.prefixes;
    hr_presence_cfg.prefixes = "";
    assert_false(hr_presence_is("presence-lobby", 14));
    hr_presence_cfg.prefixes = saved;
    const char *id = hr_relay_id();
    assert_int_equal(strlen(id), 8);
    assert_int_equal(strspn(id, "0123456789abcdef"), 8);
    assert_ptr_equal(hr_relay_id(), id);
}

static void test_two_tabs_one_join_one_leave(void **state)
{
    relay_t r;
    got_t g;
    relay_start(&r);
    add(&r, "presence-a", "ann", "{\"n\":1}");
    add(&r, "presence-a", "ann", "{\"n\":1}");
    assert_int_equal(events(&r, "presence-a", &g), 1);
    assert_string_equal(g.lines[0],
                        "join {\"channel\":\"presence-a\",\"user\":\"ann\",\"info\":{\"n\":1}}");
    assert_int_equal(r.p->here_users, 1);
    rm(&r, "presence-a", "ann"); /* one tab left: nothing pending */
    assert_null(r.p->pending_head);
    uint64_t seq = r.L.broker->seq;
    rm(&r, "presence-a", "ann");
    assert_int_equal(r.p->here_users, 0);
    assert_non_null(r.p->pending_head);
    rm(&r, "presence-a", "ann"); /* one remove too many: ignored */
    run_until_published(&r, seq);
    assert_int_equal(events(&r, "presence-a", &g), 1);
    assert_string_equal(g.lines[0],
                        "leave {\"channel\":\"presence-a\",\"user\":\"ann\",\"info\":{\"n\":1}}");
    assert_int_equal(r.p->joins, 1);
    assert_int_equal(r.p->leaves, 1);
    assert_int_equal(r.p->chans.count, 0); /* the table is empty again */
    relay_end(&r);
}

static void test_reload_is_no_leave(void **state)
{
    relay_t r;
    got_t g;
    relay_start(&r);
    add(&r, "presence-a", "ann", NULL);
    rm(&r, "presence-a", "ann");
    add(&r, "presence-a", "ann", NULL); /* back within the delay */
    /* The sentinel: bob's leave is due after ann's would have been. */
    add(&r, "presence-a", "bob", NULL);
    uint64_t seq = r.L.broker->seq;
    rm(&r, "presence-a", "bob");
    run_until_published(&r, seq);
    assert_int_equal(events(&r, "presence-a", &g), 3);
    assert_string_equal(g.lines[0],
                        "join {\"channel\":\"presence-a\",\"user\":\"ann\",\"info\":null}");
    assert_string_equal(g.lines[1],
                        "join {\"channel\":\"presence-a\",\"user\":\"bob\",\"info\":null}");
    assert_string_equal(g.lines[2],
                        "leave {\"channel\":\"presence-a\",\"user\":\"bob\",\"info\":null}");
    answer_t a;
    members(&r, "presence-a", &a);
    assert_string_equal(a.json, "[{\"user\":\"ann\",\"info\":null}]");
    relay_end(&r);
}

static void test_members_sorted_info_last_tab(void **state)
{
    relay_t r;
    got_t g;
    answer_t a;
    relay_start(&r);
    members(&r, "presence-a", &a);
    assert_string_equal(a.json, "[]");
    add(&r, "presence-a", "zed", "[1,2]");
    add(&r, "presence-a", "ann", "{\"v\":1}");
    add(&r, "presence-a", "Bob", "{bad"); /* not JSON: null */
    add(&r, "presence-a", "mia", "\"x\"");
    add(&r, "presence-b", "ann", "true");      /* another channel, another info */
    add(&r, "presence-a", "ann", "{\"v\":2}"); /* a second tab: its info is the user's now */
    assert_int_equal(events(&r, "presence-a", &g), 4);
    members(&r, "presence-a", &a);
    assert_string_equal(a.json, "[{\"user\":\"Bob\",\"info\":null},"
                                "{\"user\":\"ann\",\"info\":{\"v\":2}},"
                                "{\"user\":\"mia\",\"info\":\"x\"},"
                                "{\"user\":\"zed\",\"info\":[1,2]}]");
    members(&r, "presence-b", &a);
    assert_string_equal(a.json, "[{\"user\":\"ann\",\"info\":true}]");
    /* A pending leave is still a member: no leave was published yet. */
    rm(&r, "presence-a", "zed");
    members(&r, "presence-a", &a);
    assert_non_null(strstr(a.json, "zed"));
    uint64_t seq = r.L.broker->seq;
    run_until_published(&r, seq);
    members(&r, "presence-a", &a);
    assert_null(strstr(a.json, "zed"));
    /* The leave carries the last info. */
    rm(&r, "presence-a", "ann");
    rm(&r, "presence-a", "ann");
    seq = r.L.broker->seq;
    run_until_published(&r, seq);
    assert_int_equal(events(&r, "presence-a", &g), 2);
    assert_string_equal(g.lines[1],
                        "leave {\"channel\":\"presence-a\",\"user\":\"ann\",\"info\":{\"v\":2}}");
    assert_int_equal(r.p->here_users, 3); /* Bob, mia; ann on presence-b */
    relay_end(&r);
}

static void test_json_escapes_and_bounds(void **state)
{
    hr_presence_entry_t u[3] = {
        {{"q\"\\\x01", 4}, {"{\"a\":\"\xc3\xa9\"}", 10}},
        {{"\xff", 1}, {"\"\xff\"", 3}}, /* not UTF-8: U+FFFD (as UTF-8), info null */
        {{"a", 1}, {" 1 ", 3}},
    };
    size_t len;
    char *j = hr_presence_json(u, 3, &len);
    assert_null(hr_json_check(j, len, NULL));
    const char want[] = "[{\"user\":\"a\",\"info\": 1 },"
                        "{\"user\":\"q\\\"\\\\\\u0001\",\"info\":{\"a\":\"\xc3\xa9\"}},"
                        "{\"user\":\"\xef\xbf\xbd\",\"info\":null}]";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(j, want, len);
    free(j);
    char *big = malloc(HR_PRESENCE_INFO_MAX + 3);
    big[0] = '"';
    memset(big + 1, 'x', HR_PRESENCE_INFO_MAX);
    big[HR_PRESENCE_INFO_MAX + 1] = '"';
    assert_false(hr_presence_info_ok((hr_slice_t){big, HR_PRESENCE_INFO_MAX + 2}));
    big[HR_PRESENCE_INFO_MAX - 1] = '"';
    assert_true(hr_presence_info_ok((hr_slice_t){big, HR_PRESENCE_INFO_MAX}));
    free(big);
    /* Names out of bounds are ignored. */
    relay_t r;
    got_t g;
    relay_start(&r);
    char user[HR_PRESENCE_USER_MAX + 2];
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    add(&r, "presence-a", user, NULL);
    add(&r, "presence-a", "", NULL);
    assert_int_equal(events(&r, "presence-a", &g), 0);
    relay_end(&r);
}

static void test_stop_leaves_no_one(void **state)
{
    relay_t r;
    got_t g;
    relay_start(&r);
    add(&r, "presence-a", "ann", NULL);
    add(&r, "presence-a", "bob", NULL);
    add(&r, "room-1", "ann", NULL);
    rm(&r, "presence-a", "bob"); /* pending: leaves at the stop, not later */
    assert_int_equal(events(&r, "presence-a", &g), 2);
    hr_presence_stop(r.p);
    assert_int_equal(events(&r, "presence-a", &g), 2);
    assert_non_null(strstr(g.lines[0], "leave"));
    assert_non_null(strstr(g.lines[1], "leave"));
    assert_int_equal(events(&r, "room-1", &g), 2); /* its join, then its leave */
    assert_int_equal(r.p->here_users, 0);
    add(&r, "presence-a", "ann", NULL); /* after the stop: ignored */
    assert_int_equal(events(&r, "presence-a", &g), 0);
    relay_end(&r); /* stops again: nothing */
}

/* ---- the Redis backend, against a real redis-server ---- */

extern char **environ;
static pid_t redis_pid;
static char redis_dir[64], redis_sock[128], redis_url[160];

static redisContext *redis_sync(void)
{
    redisContext *c = redisConnectUnix(redis_sock);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    return c;
}

/* An integer answer of a command on a fresh synchronous connection (a nil
 * answer is 0). */
static long long redis_int(const char *fmt, const char *a, const char *b)
{
    redisContext *c = redis_sync();
    redisReply *r = redisCommand(c, fmt, a, b);
    assert_non_null(r);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                                  : 0;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* redis-server on a Unix socket of its own; 0, or -1 when there is none. */
static int redis_start(void)
{
    snprintf(redis_dir, sizeof redis_dir, "/tmp/hr-presence-XXXXXX");
    if (mkdtemp(redis_dir) == NULL)
        return -1;
    snprintf(redis_sock, sizeof redis_sock, "%s/redis.sock", redis_dir);
    snprintf(redis_url, sizeof redis_url, "unix://%s", redis_sock);
    char *argv[] = {
        "redis-server", "--port", "0",     "--unixsocket", redis_sock,   "--save",  "",
        "--appendonly", "no",     "--dir", redis_dir,      "--loglevel", "warning", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&redis_pid, "redis-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        rmdir(redis_dir);
        return -1;
    }
    /* Until it answers a PING (the socket appears once it listens). */
    for (int i = 0; i < 1000; i++) {
        redisContext *c = redisConnectUnix(redis_sock);
        int ok = 0;
        if (c && !c->err) {
            redisReply *r = redisCommand(c, "PING");
            ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
        }
        if (c)
            redisFree(c);
        if (ok)
            return 0;
        int st;
        if (waitpid(redis_pid, &st, WNOHANG) == redis_pid)
            return -1;
        usleep(10000);
    }
    return -1;
}

static void redis_stop(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
    unlink(redis_sock);
    rmdir(redis_dir);
}

static int have_redis;

static int redis_group_setup(void **state)
{
    have_redis = redis_start() == 0;
    return 0;
}

static int redis_group_teardown(void **state)
{
    if (have_redis)
        redis_stop();
    return 0;
}

static void on_sweep(uv_timer_t *t)
{
    relay_t *r = t->data;
    hr_presence_sweep(r->p, hr_loop_now_ms(&r->L));
}

/* A relay of the cluster: its own loop, local broker and relay id. */
static void redis_relay_start(relay_t *r, const char *id)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->uv), 0);
    hr_loop_init(&r->L, &r->uv, 1000, 3600000);
    r->L.broker = hr_broker_local_new(&r->L);
    r->p = hr_presence_redis_new(&r->L, redis_url, 0);
    assert_non_null(r->p);
    memcpy(r->p->relay_id, id, 9);
    uv_timer_init(&r->uv, &r->sweep);
    r->sweep.data = r;
    uv_timer_start(&r->sweep, on_sweep, 20, 20);
    r->sweeping = 1;
}

/* One turn of each loop given (NULL: not run: a relay that is dead). */
static void spin(relay_t *a, relay_t *b)
{
    if (a)
        uv_run(&a->uv, UV_RUN_NOWAIT);
    if (b)
        uv_run(&b->uv, UV_RUN_NOWAIT);
    usleep(1000);
}

#define SPIN_UNTIL(a, b, cond)                                                                     \
    do {                                                                                           \
        int i_ = 0;                                                                                \
        while (!(cond)) {                                                                          \
            assert_true(++i_ < 20000);                                                             \
            spin(a, b);                                                                            \
        }                                                                                          \
    } while (0)

static void flushall(void)
{
    redisContext *c = redis_sync();
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    redisFree(c);
}

/* A members query on r answered (behind every reply r's link had due). */
static void redis_members(relay_t *r, relay_t *other, const char *ch, answer_t *a)
{
    memset(a, 0, sizeof *a);
    hr_presence_members(r->p, S(ch), on_members, a);
    SPIN_UNTIL(r, other, a->calls == 1);
}

#define TOTAL(field) (A.p->field + B.p->field)

static void test_redis_two_relays_one_join_one_leave(void **state)
{
    if (!have_redis)
        skip();
    flushall();
    relay_t A, B;
    got_t g;
    answer_t a;
    redis_relay_start(&A, "aaaaaaaa");
    redis_relay_start(&B, "bbbbbbbb");
    /* Before the links are up: the upsert after the connect has them. */
    add(&A, "presence-a", "ann", "{\"t\":1}");
    add(&B, "presence-a", "ann", "{\"t\":1}");
    SPIN_UNTIL(&A, &B, redis_int("HGET herald:pn:%s %s", "presence-a", "ann") == 2);
    redis_members(&A, &B, "presence-a", &a);
    redis_members(&B, &A, "presence-a", &a);
    assert_string_equal(a.json, "[{\"user\":\"ann\",\"info\":{\"t\":1}}]");
    assert_int_equal(TOTAL(joins), 1);
    assert_int_equal(events(&A, "presence-a", &g) + events(&B, "presence-a", &g), 1);
    /* Both tabs go: one leave, from whichever relay removed the last entry. */
    rm(&A, "presence-a", "ann");
    rm(&B, "presence-a", "ann");
    SPIN_UNTIL(&A, &B, TOTAL(leaves) == 1);
    SPIN_UNTIL(&A, &B, redis_int("EXISTS herald:p:%s", "presence-a", NULL) == 0);
    redis_members(&A, &B, "presence-a", &a); /* behind both leave replies */
    redis_members(&B, &A, "presence-a", &a);
    assert_string_equal(a.json, "[]");
    assert_int_equal(TOTAL(leaves), 1);
    assert_int_equal(TOTAL(expired), 0);
    assert_int_equal(redis_int("EXISTS herald:pi:%s", "presence-a", NULL), 0);
    relay_end(&A);
    relay_end(&B);
}

static void test_redis_reload_across_relays(void **state)
{
    if (!have_redis)
        skip();
    flushall();
    relay_t A, B;
    answer_t a;
    redis_relay_start(&A, "aaaaaaaa");
    redis_relay_start(&B, "bbbbbbbb");
    add(&A, "presence-a", "dan", NULL);
    SPIN_UNTIL(&A, &B, TOTAL(joins) == 1);
    redis_members(&B, &A, "presence-a", &a); /* B's link is up */
    rm(&A, "presence-a", "dan");             /* A's leave is pending ... */
    add(&B, "presence-a", "dan", NULL);      /* ... and the user is back, through B */
    SPIN_UNTIL(NULL, &B, redis_int("HGET herald:pn:%s %s", "presence-a", "dan") == 2);
    SPIN_UNTIL(&A, &B, A.p->pending_head == NULL);
    SPIN_UNTIL(&A, &B, redis_int("HGET herald:pn:%s %s", "presence-a", "dan") == 1);
    redis_members(&A, &B, "presence-a", &a);
    assert_string_equal(a.json, "[{\"user\":\"dan\",\"info\":null}]");
    assert_int_equal(TOTAL(joins), 1);
    assert_int_equal(TOTAL(leaves), 0);
    relay_end(&A);
    relay_end(&B);
}

static void test_redis_dead_relay_expires(void **state)
{
    if (!have_redis)
        skip();
    flushall();
    long ttl = hr_presence_cfg.ttl_ms;
    hr_presence_cfg.ttl_ms = 300;
    relay_t A, B;
    got_t g;
    answer_t a;
    redis_relay_start(&A, "aaaaaaaa");
    redis_relay_start(&B, "bbbbbbbb");
    add(&A, "presence-a", "bob", NULL);
    add(&B, "presence-a", "carl", "{\"c\":1}");
    SPIN_UNTIL(&A, &B, TOTAL(joins) == 2);
    /* B stops answering (its loop no longer runs: no refresh). A's sweep
     * finds carl's entry expired and publishes his leave. */
    SPIN_UNTIL(&A, NULL, A.p->expired == 1);
    assert_int_equal(events(&A, "presence-a", &g), 2);
    assert_string_equal(g.lines[1],
                        "leave {\"channel\":\"presence-a\",\"user\":\"carl\",\"info\":{\"c\":1}}");
    redis_members(&A, NULL, "presence-a", &a);
    assert_string_equal(a.json, "[{\"user\":\"bob\",\"info\":null}]");
    assert_int_equal(A.p->leaves, 1);
    relay_end(&B);
    relay_end(&A);
    hr_presence_cfg.ttl_ms = ttl;
}

static void test_redis_clean_stop_hands_over(void **state)
{
    if (!have_redis)
        skip();
    flushall();
    relay_t A, B;
    got_t g;
    answer_t a;
    redis_relay_start(&A, "aaaaaaaa");
    redis_relay_start(&B, "bbbbbbbb");
    add(&A, "presence-a", "eve", "[1]");
    SPIN_UNTIL(&A, &B, TOTAL(joins) == 1);
    redis_members(&B, &A, "presence-a", &a);
    assert_string_equal(a.json, "[{\"user\":\"eve\",\"info\":[1]}]");
    relay_end(&A); /* eve's entry expires presence_leave_ms later */
    SPIN_UNTIL(NULL, &B, B.p->expired == 1);
    assert_int_equal(events(&B, "presence-a", &g), 1);
    assert_string_equal(g.lines[0],
                        "leave {\"channel\":\"presence-a\",\"user\":\"eve\",\"info\":[1]}");
    relay_end(&B);
}

static void test_redis_unavailable(void **state)
{
    relay_t r;
    answer_t a;
    memset(&r, 0, sizeof r);
    assert_int_equal(uv_loop_init(&r.uv), 0);
    hr_loop_init(&r.L, &r.uv, 1000, 3600000);
    r.L.broker = hr_broker_local_new(&r.L);
    assert_null(hr_presence_redis_new(&r.L, "http://nope", 0));
    r.p = hr_presence_redis_new(&r.L, "unix:///nonexistent/redis.sock", 0);
    assert_non_null(r.p);
    add(&r, "presence-a", "ann", NULL);
    memset(&a, 0, sizeof a);
    hr_presence_members(r.p, S("presence-a"), on_members, &a);
    assert_int_equal(a.calls, 1);
    assert_string_equal(a.err, "redis unavailable");
    relay_end(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_prefixes, setup),
        cmocka_unit_test_setup(test_two_tabs_one_join_one_leave, setup),
        cmocka_unit_test_setup(test_reload_is_no_leave, setup),
        cmocka_unit_test_setup(test_members_sorted_info_last_tab, setup),
        cmocka_unit_test_setup(test_json_escapes_and_bounds, setup),
        cmocka_unit_test_setup(test_stop_leaves_no_one, setup),
    };
    const struct CMUnitTest redis_tests[] = {
        cmocka_unit_test_setup(test_redis_two_relays_one_join_one_leave, setup),
        cmocka_unit_test_setup(test_redis_reload_across_relays, setup),
        cmocka_unit_test_setup(test_redis_dead_relay_expires, setup),
        cmocka_unit_test_setup(test_redis_clean_stop_hands_over, setup),
        cmocka_unit_test_setup(test_redis_unavailable, setup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed + cmocka_run_group_tests_name("redis", redis_tests, redis_group_setup,
                                                redis_group_teardown);
}
