/* SPDX-License-Identifier: MIT
 * test_chan.c: channel registry, subscriptions, fan-out, history bounds and
 * resume (exact, deduplicated, ordered, gaps). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chan.h"

typedef struct fake_conn {
    int id;
    hr_sub_t *subs;
    uint64_t got[64];
    size_t n;
} fake_conn_t;

static void deliver(void *conn, hr_event_t *ev, int chan)
{
    fake_conn_t *c = conn;
    c->got[c->n++] = ev->seq;
}

static void init(hr_chans_t *r, uint32_t size, uint64_t ttl_ms)
{
    hr_chans_init(r, size, ttl_ms);
    r->deliver = deliver;
}

/* An event on n channels, as a broker places it. */
static hr_event_t *event(int t, uint64_t seq, uint64_t time, const char **names, size_t n)
{
    hr_slice_t ch[4];
    for (size_t i = 0; i < n; i++)
        ch[i] = (hr_slice_t){names[i], strlen(names[i])};
    hr_event_t *ev = hr_event_new(t, 0, 0, (hr_slice_t){NULL, 0}, (hr_slice_t){"x", 1}, ch, n);
    hr_event_place(ev, (hr_slice_t){"e", 1}, seq, time);
    return ev;
}

/* What a local broker does: history for SSE, then delivery, per channel. */
static void fanout(hr_chans_t *r, hr_event_t *ev)
{
    for (int i = 0; i < ev->nchannels; i++) {
        hr_chan_t *ch = hr_chan_get(r, ev->channels[i].p, ev->channels[i].len);
        if (ev->target & HR_TARGET_SSE)
            hr_chan_keep(r, ch, ev);
        hr_chan_publish(r, ch, ev, i);
    }
}

static void publish(hr_chans_t *r, const char *name, int t, uint64_t seq, uint64_t now)
{
    hr_event_t *ev = event(t, seq, now, &name, 1);
    fanout(r, ev);
    hr_event_unref(ev);
}

static void test_names(void **state)
{
    assert_true(hr_chan_name_valid("a", 1));
    assert_true(hr_chan_name_valid("chat.42:room@x=y/z-_", 20));
    assert_false(hr_chan_name_valid("", 0));
    assert_false(hr_chan_name_valid("a b", 3));
    assert_false(hr_chan_name_valid("a\nb", 3));
    assert_false(hr_chan_name_valid("caf\xc3\xa9", 5));
    char big[202];
    memset(big, 'a', sizeof big);
    assert_true(hr_chan_name_valid(big, 200));
    assert_false(hr_chan_name_valid(big, 201));
}

static void test_subscribe_fanout_unsubscribe(void **state)
{
    hr_chans_t r;
    init(&r, 10, 60000);
    fake_conn_t a = {.id = 1}, b = {.id = 2}, w = {.id = 3};
    assert_non_null(hr_chan_subscribe(&r, "news", 4, &a, HR_TARGET_SSE, &a.subs));
    assert_null(hr_chan_subscribe(&r, "news", 4, &a, HR_TARGET_SSE, &a.subs)); /* duplicate */
    assert_non_null(hr_chan_subscribe(&r, "news", 4, &b, HR_TARGET_SSE, &b.subs));
    assert_non_null(hr_chan_subscribe(&r, "news", 4, &w, HR_TARGET_WS, &w.subs));
    publish(&r, "news", HR_TARGET_SSE, 1, 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(w.n, 0); /* SSE messages do not reach WebSocket subscribers */
    publish(&r, "news", HR_TARGET_WS, 2, 0);
    assert_int_equal(w.n, 1);
    assert_int_equal(a.n, 1);
    assert_int_equal(hr_chan_unsubscribe(&r, "news", 4, &a.subs), 1);
    assert_int_equal(hr_chan_unsubscribe(&r, "news", 4, &a.subs), 0);
    publish(&r, "news", HR_TARGET_SSE, 3, 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 2);
    hr_chan_unsubscribe_all(&r, &b.subs);
    hr_chan_unsubscribe_all(&r, &w.subs);
    assert_null(b.subs);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

static void test_history_bounded_by_count(void **state)
{
    hr_chans_t r;
    init(&r, 3, 60000);
    for (uint64_t s = 1; s <= 5; s++)
        publish(&r, "c", HR_TARGET_SSE, s, 0);
    hr_chan_t *ch = hr_chan_find(&r, "c", 1);
    assert_non_null(ch);
    assert_int_equal(ch->hist.count, 3);
    assert_int_equal(ch->hist.dropped_seq, 2);
    assert_int_equal(r.history_messages, 3);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
    assert_int_equal(hr_event_live, 0);
}

typedef struct seqs {
    uint64_t s[64];
    size_t n;
} seqs_t;

static void emit(hr_event_t *ev, void *ud)
{
    seqs_t *o = ud;
    o->s[o->n++] = ev->seq;
}

/* A subscriber that accepts both targets (herald.v1's kind) gets every
 * publish; one that accepts one gets its own and "all". */
static void test_accept_masks(void **state)
{
    hr_chans_t r;
    init(&r, 10, 60000);
    fake_conn_t s = {0}, w = {0}, both = {0};
    hr_chan_subscribe(&r, "n", 1, &s, HR_TARGET_SSE, &s.subs);
    hr_chan_subscribe(&r, "n", 1, &w, HR_TARGET_WS, &w.subs);
    hr_chan_subscribe(&r, "n", 1, &both, HR_TARGET_ALL, &both.subs);
    publish(&r, "n", HR_TARGET_SSE, 1, 0);
    publish(&r, "n", HR_TARGET_WS, 2, 0);
    publish(&r, "n", HR_TARGET_ALL, 3, 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.got[1], 3);
    assert_int_equal(w.n, 2);
    assert_int_equal(w.got[0], 2);
    assert_int_equal(both.n, 3);
    /* A replay for SSE skips what was only for WebSocket. */
    hr_slice_t names[1] = {{"n", 1}};
    uint8_t gap[1];
    seqs_t out = {0};
    hr_chans_replay(&r, names, 1, 0, HR_TARGET_SSE, 0, gap, emit, &out);
    assert_int_equal(out.n, 2);
    hr_chan_unsubscribe_all(&r, &s.subs);
    hr_chan_unsubscribe_all(&r, &w.subs);
    hr_chan_unsubscribe_all(&r, &both.subs);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

static void test_replay_exact_multichannel(void **state)
{
    hr_chans_t r;
    init(&r, 100, 60000);
    /* Seq 3 goes to both a and b, as one publish to two channels does. */
    publish(&r, "a", HR_TARGET_SSE, 1, 0);
    publish(&r, "b", HR_TARGET_SSE, 2, 0);
    const char *ab[] = {"a", "b"};
    hr_event_t *ev = event(HR_TARGET_SSE, 3, 0, ab, 2);
    fanout(&r, ev);
    hr_event_unref(ev);
    publish(&r, "a", HR_TARGET_SSE, 4, 0);
    publish(&r, "other", HR_TARGET_SSE, 5, 0);
    publish(&r, "b", HR_TARGET_SSE, 6, 0);

    hr_slice_t names[2] = {{"b", 1}, {"a", 1}};
    uint8_t gap[2];
    seqs_t out = {0};
    assert_int_equal(hr_chans_replay(&r, names, 2, 1, HR_TARGET_SSE, 0, gap, emit, &out), 0);
    assert_int_equal(out.n, 4);
    uint64_t want[] = {2, 3, 4, 6}; /* in order, 3 once, 5 not ours, 1 already seen */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(out.s[i], want[i]);
    assert_int_equal(gap[0] | gap[1], 0);

    out.n = 0;
    assert_int_equal(hr_chans_replay(&r, names, 2, 6, HR_TARGET_SSE, 0, gap, emit, &out), 0);
    assert_int_equal(out.n, 0);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

static void test_replay_gap_when_evicted(void **state)
{
    hr_chans_t r;
    init(&r, 2, 60000);
    for (uint64_t s = 1; s <= 4; s++)
        publish(&r, "a", HR_TARGET_SSE, s, 0);
    publish(&r, "b", HR_TARGET_SSE, 5, 0);
    hr_slice_t names[3] = {{"a", 1}, {"b", 1}, {"never", 5}};
    uint8_t gap[3];
    seqs_t out = {0};
    /* After 1: a dropped 1..2, so a has a gap; b holds all after 1. */
    assert_int_equal(hr_chans_replay(&r, names, 3, 1, HR_TARGET_SSE, 0, gap, emit, &out), 1);
    assert_int_equal(gap[0], 1);
    assert_int_equal(gap[1], 0);
    assert_int_equal(gap[2], 0);
    assert_int_equal(out.n, 3); /* 3, 4 of a and 5 of b are still replayed */
    /* After 2: nothing missing. */
    out.n = 0;
    assert_int_equal(hr_chans_replay(&r, names, 3, 2, HR_TARGET_SSE, 0, gap, emit, &out), 0);
    assert_int_equal(out.n, 3);
    hr_chans_free(&r);
}

static void test_expiry_by_age_and_freed_channel_watermark(void **state)
{
    hr_chans_t r;
    init(&r, 100, 1000);
    publish(&r, "a", HR_TARGET_SSE, 1, 0);
    publish(&r, "a", HR_TARGET_SSE, 2, 500);
    hr_chans_expire(&r, 1000); /* 1 is 1000 ms old: gone; 2 stays */
    hr_chan_t *ch = hr_chan_find(&r, "a", 1);
    assert_non_null(ch);
    assert_int_equal(ch->hist.count, 1);
    assert_int_equal(ch->hist.dropped_seq, 1);
    hr_chans_expire(&r, 1500); /* all gone, no subscribers: the channel is freed */
    assert_null(hr_chan_find(&r, "a", 1));
    assert_int_equal(r.tab.count, 0);
    /* A later resume on a freed channel cannot be exact from before seq 2. */
    hr_slice_t names[1] = {{"a", 1}};
    uint8_t gap[1];
    seqs_t out = {0};
    assert_int_equal(hr_chans_replay(&r, names, 1, 1, HR_TARGET_SSE, 2000, gap, emit, &out), 1);
    assert_int_equal(hr_chans_replay(&r, names, 1, 2, HR_TARGET_SSE, 2000, gap, emit, &out), 0);
    /* Other names do not inherit a's watermark (only a name sharing its
     * hash slot would): of these 16, most resume exactly. */
    int exact = 0;
    for (int i = 0; i < 16; i++) {
        char nm[8];
        int len = snprintf(nm, sizeof nm, "q%d", i);
        hr_slice_t other[1] = {{nm, (size_t)len}};
        size_t before = hr_chans_replay(&r, other, 1, 1, HR_TARGET_SSE, 2000, gap, emit, &out);
        hr_chan_get(&r, nm, (size_t)len); /* created: the same answer */
        size_t after = hr_chans_replay(&r, other, 1, 1, HR_TARGET_SSE, 2000, gap, emit, &out);
        assert_int_equal(before, after);
        exact += before == 0;
    }
    assert_true(exact >= 14);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

static void test_history_disabled_every_resume_is_a_gap(void **state)
{
    hr_chans_t r;
    init(&r, 0, 1000);
    fake_conn_t a = {0};
    hr_chan_subscribe(&r, "a", 1, &a, HR_TARGET_SSE, &a.subs);
    publish(&r, "a", HR_TARGET_SSE, 7, 0);
    assert_int_equal(a.n, 1);
    hr_slice_t names[1] = {{"a", 1}};
    uint8_t gap[1];
    seqs_t out = {0};
    assert_int_equal(hr_chans_replay(&r, names, 1, 6, HR_TARGET_SSE, 0, gap, emit, &out), 1);
    assert_int_equal(out.n, 0);
    hr_chan_unsubscribe_all(&r, &a.subs);
    hr_chans_free(&r);
}

/* One SSE publish of data on name (a broker's fan-out). */
static void publish_data(hr_chans_t *r, const char *name, uint64_t seq, uint64_t now,
                         const char *data)
{
    hr_slice_t ch = {name, strlen(name)};
    hr_event_t *ev = hr_event_new(HR_TARGET_SSE, 0, 0, (hr_slice_t){NULL, 0},
                                  (hr_slice_t){data, strlen(data)}, &ch, 1);
    hr_event_place(ev, (hr_slice_t){"e", 1}, seq, now);
    fanout(r, ev);
    hr_event_unref(ev);
}

static size_t size_of(const char *name, const char *data)
{
    hr_slice_t ch = {name, strlen(name)};
    hr_event_t *ev = hr_event_new(HR_TARGET_SSE, 0, 0, (hr_slice_t){NULL, 0},
                                  (hr_slice_t){data, strlen(data)}, &ch, 1);
    size_t n = hr_event_size(ev);
    hr_event_unref(ev);
    return n;
}

/* history_max_bytes: past it the oldest events of every channel together
 * leave first, whatever their channel; a resume from before them is a gap;
 * channels left with nothing and nobody are freed. */
static void test_history_bounded_by_bytes(void **state)
{
    hr_chans_t r;
    init(&r, 100, 60000);
    size_t one = size_of("a", "x");
    r.hist_max_bytes = 3 * one;
    fake_conn_t sub = {0};
    hr_chan_subscribe(&r, "b", 1, &sub, HR_TARGET_SSE, &sub.subs);
    publish_data(&r, "a", 1, 0, "x");
    publish_data(&r, "b", 2, 0, "x");
    publish_data(&r, "a", 3, 0, "x");
    assert_int_equal(r.history_messages, 3);
    assert_int_equal(r.evicted[HR_EVICT_BYTES], 0);
    /* A fourth: the oldest of all (1, on a) goes, not a's newest nor b's. */
    publish_data(&r, "c", 4, 0, "x");
    assert_int_equal(r.history_messages, 3);
    assert_int_equal(r.history_bytes, 3 * one);
    assert_int_equal(r.evicted[HR_EVICT_BYTES], 1);
    assert_int_equal(hr_chan_find(&r, "a", 1)->hist.dropped_seq, 1);
    assert_int_equal(hr_chan_find(&r, "a", 1)->hist.count, 1);
    /* Two more: 2 (b's only event) and 3 (a's last) go. b keeps its
     * subscriber; a, empty and unused, is freed but remembers. */
    publish_data(&r, "c", 5, 0, "x");
    publish_data(&r, "c", 6, 0, "x");
    assert_int_equal(r.evicted[HR_EVICT_BYTES], 3);
    assert_null(hr_chan_find(&r, "a", 1));
    hr_chan_t *b = hr_chan_find(&r, "b", 1);
    assert_non_null(b);
    assert_int_equal(b->hist.count, 0);
    assert_int_equal(b->hist.dropped_seq, 2);
    assert_int_equal(sub.n, 1); /* live delivery is not history's business */
    hr_slice_t names[3] = {{"a", 1}, {"b", 1}, {"c", 1}};
    uint8_t gap[3];
    seqs_t out = {0};
    assert_int_equal(hr_chans_replay(&r, names, 3, 1, HR_TARGET_SSE, 0, gap, emit, &out), 2);
    assert_int_equal(gap[0] + gap[1] + gap[2], 2);
    assert_int_equal(gap[2], 0);
    assert_int_equal(out.n, 3); /* 4, 5, 6 of c */
    out.n = 0;
    assert_int_equal(hr_chans_replay(&r, names, 3, 3, HR_TARGET_SSE, 0, gap, emit, &out), 0);
    assert_int_equal(out.n, 3);
    /* One event larger than the cap: kept, then evicted at once with all
     * else; its channel (no subscriber) survives the fan-out that follows,
     * which frees it only afterwards (ASan checks). */
    char big[1024];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    publish_data(&r, "d", 7, 0, big);
    assert_int_equal(r.history_messages, 0);
    assert_int_equal(r.history_bytes, 0);
    assert_int_equal(r.nheap, 0);
    assert_null(hr_chan_find(&r, "d", 1));
    assert_int_equal(hr_chan_find(&r, "b", 1)->hist.dropped_seq, 2);
    out.n = 0;
    hr_slice_t d[1] = {{"d", 1}};
    assert_int_equal(hr_chans_replay(&r, d, 1, 6, HR_TARGET_SSE, 0, gap, emit, &out), 1);
    hr_chan_unsubscribe_all(&r, &sub.subs);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

/* Expiry takes the oldest first across channels and stops at the first
 * young one; channels emptied and unused are freed. */
static void test_expiry_across_channels(void **state)
{
    hr_chans_t r;
    init(&r, 100, 1000);
    publish(&r, "a", HR_TARGET_SSE, 1, 0);
    publish(&r, "b", HR_TARGET_SSE, 2, 100);
    publish(&r, "a", HR_TARGET_SSE, 3, 200);
    publish(&r, "c", HR_TARGET_SSE, 4, 300);
    hr_chans_expire(&r, 1150); /* 1 and 2 are old */
    assert_int_equal(r.history_messages, 2);
    assert_int_equal(r.evicted[HR_EVICT_AGE], 2);
    assert_null(hr_chan_find(&r, "b", 1));
    assert_int_equal(hr_chan_find(&r, "a", 1)->hist.dropped_seq, 1);
    hr_chans_expire(&r, 1250);
    assert_null(hr_chan_find(&r, "a", 1));
    assert_int_equal(hr_chan_find(&r, "c", 1)->hist.count, 1);
    hr_chans_expire(&r, 1300);
    assert_int_equal(r.history_messages, 0);
    assert_int_equal(r.nheap, 0);
    assert_int_equal(r.tab.count, 0);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

/* The registry against a model: random publishes on many channels with
 * count and byte bounds; after each, history holds exactly what the model
 * does (per channel the newest hist_size, then the oldest of all evicted
 * until the bytes fit). Deterministic (a fixed seed). */
#define M_CHANS 40
#define M_PUBS  5000
static void history_bounds_model(uint32_t per_chan)
{
    hr_chans_t r;
    init(&r, per_chan, 1000000);
    size_t one = size_of("m00", "x");
    r.hist_max_bytes = (M_CHANS * per_chan * 7 / 10) * one; /* both bounds bite */
    static uint64_t held[M_PUBS + 1]; /* seq -> channel + 1 while held, else 0 */
    memset(held, 0, sizeof held);
    uint64_t x = 42;
    size_t bytes = 0;
    for (uint64_t seq = 1; seq <= M_PUBS; seq++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int c = (int)(x % M_CHANS);
        char name[16];
        snprintf(name, sizeof name, "m%02d", c);
        publish_data(&r, name, seq, 0, "x");
        /* The model: count bound on c, then the byte bound. */
        held[seq] = (uint64_t)c + 1;
        bytes += one;
        size_t n = 0;
        for (uint64_t s = seq; s >= 1; s--)
            if (held[s] == (uint64_t)c + 1 && ++n > per_chan) {
                held[s] = 0;
                bytes -= one;
            }
        for (uint64_t s = 1; s <= seq && bytes > r.hist_max_bytes; s++)
            if (held[s]) {
                held[s] = 0;
                bytes -= one;
            }
        assert_int_equal(r.history_bytes, bytes);
        if (seq % 97 != 0 && seq != M_PUBS)
            continue;
        /* Compare every channel's ring with the model. */
        for (int k = 0; k < M_CHANS; k++) {
            snprintf(name, sizeof name, "m%02d", k);
            hr_chan_t *ch = hr_chan_find(&r, name, 3);
            uint32_t i = 0;
            for (uint64_t s = 1; s <= seq; s++) {
                if (held[s] != (uint64_t)k + 1)
                    continue;
                assert_non_null(ch);
                assert_true(i < ch->hist.count);
                assert_int_equal(ch->hist.ring[(ch->hist.head + i) % ch->hist.cap]->seq, s);
                i++;
            }
            assert_int_equal(ch ? ch->hist.count : 0, i);
        }
    }
    assert_true(r.evicted[HR_EVICT_BYTES] > 0);
    assert_true(r.evicted[HR_EVICT_COUNT] > 0);
    /* The heap holds each channel with history once. */
    uint32_t with_hist = 0;
    size_t b = 0;
    for (hr_hnode_t *n = hr_htab_next(&r.tab, &b, NULL); n; n = hr_htab_next(&r.tab, &b, n))
        with_hist += hr_container_of(n, hr_chan_t, node)->hist.count > 0;
    assert_int_equal(r.nheap, with_hist);
    hr_chans_free(&r);
    assert_int_equal(hr_event_live, 0);
}

static void test_history_bounds_model(void **state)
{
    history_bounds_model(8);
    history_bounds_model(2);
    history_bounds_model(1); /* the count bound empties a ring and refills it */
}

/* deliver() that drops the subscriber mid fan-out, as a slow consumer is. */
static hr_chans_t *g_r;
static void deliver_and_drop(void *conn, hr_event_t *ev, int chan)
{
    fake_conn_t *c = conn;
    c->got[c->n++] = ev->seq;
    hr_chan_unsubscribe_all(g_r, &c->subs);
}

static void test_unsubscribe_during_fanout(void **state)
{
    hr_chans_t r;
    init(&r, 0, 1000);
    g_r = &r;
    fake_conn_t c[5] = {0};
    for (int i = 0; i < 5; i++)
        hr_chan_subscribe(&r, "ws", 2, &c[i], HR_TARGET_WS, &c[i].subs);
    const char *ws = "ws";
    hr_event_t *ev = event(HR_TARGET_WS, 1, 0, &ws, 1);
    r.deliver = deliver_and_drop;
    hr_chan_t *ch = hr_chan_find(&r, "ws", 2);
    assert_int_equal(hr_chan_publish(&r, ch, ev, 0), 5);
    hr_event_unref(ev);
    for (int i = 0; i < 5; i++)
        assert_int_equal(c[i].n, 1);
    assert_null(hr_chan_find(&r, "ws", 2)); /* freed after the walk, not during */
    hr_chans_free(&r);
}

static void test_many_channels_rehash(void **state)
{
    hr_chans_t r;
    init(&r, 1, 60000);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof name, "ch.%d", i);
        hr_chan_get(&r, name, (size_t)n);
    }
    assert_int_equal(r.tab.count, 5000);
    assert_true(r.tab.nbuckets >= 4096);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(name, sizeof name, "ch.%d", i);
        hr_chan_t *ch = hr_chan_find(&r, name, (size_t)n);
        assert_non_null(ch);
        assert_memory_equal(ch->name, name, (size_t)n);
    }
    assert_int_equal(r.channels, 5000);
    hr_chans_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_subscribe_fanout_unsubscribe),
        cmocka_unit_test(test_accept_masks),
        cmocka_unit_test(test_history_bounded_by_count),
        cmocka_unit_test(test_replay_exact_multichannel),
        cmocka_unit_test(test_replay_gap_when_evicted),
        cmocka_unit_test(test_expiry_by_age_and_freed_channel_watermark),
        cmocka_unit_test(test_history_disabled_every_resume_is_a_gap),
        cmocka_unit_test(test_unsubscribe_during_fanout),
        cmocka_unit_test(test_many_channels_rehash),
        cmocka_unit_test(test_history_bounded_by_bytes),
        cmocka_unit_test(test_expiry_across_channels),
        cmocka_unit_test(test_history_bounds_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
