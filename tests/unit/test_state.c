/* SPDX-License-Identifier: MIT
 * test_state.c: the state file's codec (core/state.c): a round trip keeps
 * ids, history, fields, ages and gap watermarks; a restored registry
 * answers resumes as the saved one did; the decoder refuses every prefix,
 * every flipped byte, and each kind of malformed content (built field by
 * field here, with a correct checksum, so the checks behind it are reached). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "codec/mercure.h"
#include "core/state.h"

static void deliver(void *conn, hr_event_t *ev, int chan)
{
}

static void init(hr_chans_t *r, uint32_t size, uint64_t ttl_ms)
{
    hr_chans_init(r, size, ttl_ms);
    r->deliver = deliver;
}

/* As the brokers do: every target's message is kept (a replay filters). */
static void publish(hr_chans_t *r, int target, int binary, long retry, const char *name,
                    const char *data, const char **chans, size_t n, uint64_t seq, uint64_t time)
{
    hr_slice_t ch[8];
    for (size_t i = 0; i < n; i++)
        ch[i] = (hr_slice_t){chans[i], strlen(chans[i])};
    hr_event_t *ev = hr_event_new(target, binary, retry, (hr_slice_t){name, strlen(name)},
                                  (hr_slice_t){data, strlen(data)}, ch, n);
    ev->json = data[0] == '{'; /* the tests' JSON payloads are objects */
    hr_event_place(ev, (hr_slice_t){"1a2b", 4}, seq, time);
    for (int i = 0; i < ev->nchannels; i++) {
        hr_chan_t *c = hr_chan_get(r, ev->channels[i].p, ev->channels[i].len);
        hr_chan_keep(r, c, ev);
        hr_chan_publish(r, c, ev, i);
    }
    hr_event_unref(ev);
}

static void pub1(hr_chans_t *r, const char *chan, uint64_t seq, uint64_t time)
{
    char data[32];
    snprintf(data, sizeof data, "m%llu", (unsigned long long)seq);
    publish(r, HR_TARGET_SSE, 0, 0, "", data, &chan, 1, seq, time);
}

typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
    int fail_after; /* fail the sink call after this many; 0: never */
    int calls;
} membuf_t;

static int sink(void *ud, const void *p, size_t len)
{
    membuf_t *m = ud;
    if (m->fail_after && ++m->calls > m->fail_after)
        return -1;
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->len, p, len);
    m->len += len;
    return 0;
}

static const hr_slice_t IDENT = {"/run/herald/herald.sock", 23};

static membuf_t save(const hr_chans_t *r, uint64_t seq, uint64_t wall, uint64_t loop)
{
    membuf_t m = {0};
    hr_state_meta_t meta = {IDENT, {"0.1.0", 5}, wall, loop};
    hr_state_stats_t st;
    assert_int_equal(hr_state_encode(&meta, (hr_slice_t){"1a2b", 4}, seq, r, sink, &m, &st), 0);
    assert_int_equal(st.bytes, m.len);
    return m;
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

/* Replay after `after` on one channel: the gap flag and the seqs. */
static int replay(hr_chans_t *r, const char *name, uint64_t after, uint64_t now, seqs_t *out)
{
    hr_slice_t names[1] = {{name, strlen(name)}};
    uint8_t gap[1];
    out->n = 0;
    hr_chans_replay(r, names, 1, after, HR_TARGET_SSE, now, gap, emit, out);
    return gap[0];
}

static void test_round_trip(void **state)
{
    hr_chans_t a;
    init(&a, 3, 60000);
    a.slot_key[0] = 0x1234;
    a.slot_key[1] = 0x5678;
    const char *ab[] = {"a", "b"};
    const char *b = "b";
    pub1(&a, "a", 1, 1000);
    pub1(&a, "a", 2, 1000);
    publish(&a, HR_TARGET_SSE, 0, 2500, "upd", "line1\nline2", ab, 2, 3, 1500);
    publish(&a, HR_TARGET_WS, 1, 0, "", "ws only", &b, 1, 4, 1600);
    publish(&a, HR_TARGET_ALL, 1, 0, "", "\xff\x00 bytes", &b, 1, 5, 1700);
    pub1(&a, "a", 6, 2000); /* a keeps 3: 1 leaves, dropped 1 */
    pub1(&a, "gone", 7, 2000);
    pub1(&a, "gone", 8, 2000);
    /* "gone" expires and is freed: its watermark goes to its slot. */
    hr_chans_expire(&a, 2000 + 60000);
    assert_null(hr_chan_find(&a, "gone", 4));
    /* (everything expired: keep a and b young instead) */
    hr_chans_free(&a);

    init(&a, 3, 60000);
    a.slot_key[0] = 0x1234;
    a.slot_key[1] = 0x5678;
    pub1(&a, "gone", 1, 0);
    pub1(&a, "gone", 2, 0);
    hr_chans_expire(&a, 60000);
    assert_null(hr_chan_find(&a, "gone", 4));
    pub1(&a, "a", 3, 59000);
    pub1(&a, "a", 4, 59000);
    publish(&a, HR_TARGET_SSE, 0, 2500, "upd", "line1\nline2", ab, 2, 5, 59500);
    publish(&a, HR_TARGET_WS, 0, 0, "", "{\"ws\":[1,2]}", &b, 1, 6, 59600); /* JSON */
    publish(&a, HR_TARGET_ALL, 1, 0, "", "\xff\x00 bytes", &b, 1, 7, 59700);
    pub1(&a, "a", 8, 60000); /* a holds 4, 5, 8: 3 left, dropped 3 */
    assert_int_equal(hr_chan_find(&a, "a", 1)->hist.dropped_seq, 3);

    /* Saved at wall 10 000 000 when the loop said 60 000; loaded 500 ms of
     * wall time later by a process whose loop says 7 000 000. */
    membuf_t m = save(&a, 8, 10000000, 60000);
    hr_state_t st;
    char err[256];
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    assert_string_equal(st.epoch, "1a2b");
    assert_int_equal(st.seq, 8);
    assert_string_equal(st.writer, "0.1.0");
    assert_int_equal(st.nevents, 5); /* 4, 5, 6 (WebSocket only: kept too), 7, 8 */
    assert_int_equal(st.events[0]->seq, 4);

    hr_chans_t c;
    init(&c, 3, 60000);
    hr_state_apply(&st, &c, 10000500, 7000000);
    hr_state_free(&st);
    assert_int_equal(c.slot_key[0], 0x1234);
    assert_int_equal(c.history_messages, a.history_messages);
    assert_int_equal(c.history_bytes, a.history_bytes);

    /* Same rings, same watermarks. */
    const char *names[] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        hr_chan_t *x = hr_chan_find(&a, names[i], 1), *y = hr_chan_find(&c, names[i], 1);
        assert_non_null(y);
        assert_int_equal(x->hist.count, y->hist.count);
        assert_int_equal(x->hist.dropped_seq, y->hist.dropped_seq);
        for (uint32_t k = 0; k < x->hist.count; k++) {
            hr_event_t *ex = x->hist.ring[(x->hist.head + k) % x->hist.cap];
            hr_event_t *ey = y->hist.ring[(y->hist.head + k) % y->hist.cap];
            assert_int_equal(ex->seq, ey->seq);
            assert_int_equal(ex->target, ey->target);
            assert_int_equal(ex->binary, ey->binary);
            assert_int_equal(ex->json, ey->json);
            assert_int_equal(ex->retry, ey->retry);
            assert_int_equal(ex->idlen, ey->idlen);
            assert_memory_equal(ex->id, ey->id, ex->idlen);
            assert_int_equal(ex->name.len, ey->name.len);
            assert_memory_equal(ex->name.p, ey->name.p, ex->name.len);
            assert_int_equal(ex->data.len, ey->data.len);
            assert_memory_equal(ex->data.p, ey->data.p, ex->data.len);
            assert_int_equal(ex->nchannels, ey->nchannels);
            /* Ages kept: 60 000 - t on one clock, 7 000 500 - t' on the other. */
            assert_int_equal(60000 - ex->time_ms + 500, 7000000 - ey->time_ms);
        }
    }
    /* Resumes answer as they did. */
    seqs_t out;
    assert_int_equal(replay(&c, "a", 2, 7000000, &out), 1); /* 3 left a */
    assert_int_equal(replay(&c, "a", 3, 7000000, &out), 0);
    assert_int_equal(out.n, 3);
    assert_int_equal(out.s[0], 4);
    assert_int_equal(out.s[2], 8);
    assert_int_equal(replay(&c, "b", 4, 7000000, &out), 0);
    assert_int_equal(out.n, 2); /* 5 and 7, not the WebSocket-only 6 */
    /* A subscriber taking every target (herald.v1) gets 6 too, as JSON. */
    uint8_t gap[1];
    out.n = 0;
    hr_chans_replay(&c, (hr_slice_t[]){{"b", 1}}, 1, 4, HR_TARGET_ALL, 7000000, gap, emit, &out);
    assert_int_equal(out.n, 3);
    assert_int_equal(out.s[1], 6);
    hr_chan_t *cb = hr_chan_find(&c, "b", 1);
    assert_int_equal(cb->hist.ring[(cb->hist.head + 1) % cb->hist.cap]->json, 1);
    assert_int_equal(cb->hist.ring[(cb->hist.head + 1) % cb->hist.cap]->target, HR_TARGET_WS);
    /* The freed channel's watermark: a gap from before 2, exact after. */
    assert_int_equal(replay(&c, "gone", 1, 7000000, &out), 1);
    assert_int_equal(replay(&c, "gone", 2, 7000000, &out), 0);
    /* History ages on: 4 was 1.5 s old at the load, 5 was 1 s old. */
    hr_chans_expire(&c, 7000000 + 60000 - 1500);
    assert_int_equal(hr_chan_find(&c, "a", 1)->hist.dropped_seq, 4);
    assert_int_equal(hr_chan_find(&c, "a", 1)->hist.count, 2);
    hr_chans_free(&a);
    hr_chans_free(&c);
    free(m.p);
    assert_int_equal(hr_event_live, 0);
}

/* The loading relay's own bounds apply: fewer per channel, a smaller byte
 * cap (the oldest of all go), a TTL the saved events passed. */
static void test_apply_under_smaller_bounds(void **state)
{
    hr_chans_t a;
    init(&a, 100, 600000);
    for (uint64_t s = 1; s <= 10; s++)
        pub1(&a, s % 2 ? "odd" : "even", s, s * 1000);
    membuf_t m = save(&a, 10, 50000, 10000);
    hr_state_t st;
    char err[256];

    hr_chans_t c;
    init(&c, 2, 600000); /* history_size 2 */
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    hr_state_apply(&st, &c, 50000, 10000);
    hr_state_free(&st);
    seqs_t out;
    assert_int_equal(replay(&c, "odd", 3, 10000, &out), 1);
    assert_int_equal(replay(&c, "odd", 5, 10000, &out), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(c.evicted[HR_EVICT_COUNT], 6);
    hr_chans_free(&c);

    init(&c, 100, 600000);
    /* Room for the 4 newest of all, 7 to 10. */
    hr_chan_t *odd = hr_chan_find(&a, "odd", 3), *even = hr_chan_find(&a, "even", 4);
    c.hist_max_bytes = 0;
    for (uint32_t k = 3; k < 5; k++)
        c.hist_max_bytes += hr_event_size(odd->hist.ring[k]) + hr_event_size(even->hist.ring[k]);
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    hr_state_apply(&st, &c, 50000, 10000);
    hr_state_free(&st);
    assert_int_equal(c.history_messages, 4);
    assert_int_equal(c.evicted[HR_EVICT_BYTES], 6);
    assert_int_equal(replay(&c, "odd", 4, 10000, &out), 1);
    assert_int_equal(replay(&c, "odd", 5, 10000, &out), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(replay(&c, "even", 5, 10000, &out), 1);
    assert_int_equal(replay(&c, "even", 6, 10000, &out), 0);
    assert_int_equal(out.n, 2);
    hr_chans_free(&c);

    init(&c, 100, 4500); /* 4.5 s: events 1..5 (5 to 9 s old at the save) are past it */
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    hr_state_apply(&st, &c, 50000, 1000000);
    hr_state_free(&st);
    assert_int_equal(c.history_messages, 5); /* 6..10 */
    assert_int_equal(c.evicted[HR_EVICT_AGE], 5);
    assert_int_equal(replay(&c, "even", 4, 1000000, &out), 0);
    assert_int_equal(out.n, 3);
    assert_int_equal(replay(&c, "even", 3, 1000000, &out), 1);
    hr_chans_free(&c);
    hr_chans_free(&a);
    free(m.p);
    assert_int_equal(hr_event_live, 0);
}

static void test_empty_and_sink_failure(void **state)
{
    hr_chans_t a;
    init(&a, 100, 60000);
    membuf_t m = save(&a, 0, 1, 1);
    hr_state_t st;
    char err[256];
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    assert_int_equal(st.nevents, 0);
    assert_int_equal(st.seq, 0);
    hr_state_free(&st);
    free(m.p);
    for (uint64_t s = 1; s <= 200; s++)
        publish(&a, HR_TARGET_SSE, 0, 0, "", "0123456789012345678901234567890123456789012345678",
                (const char *[]){"c"}, 1, s, 0);
    membuf_t f = {.fail_after = 1};
    hr_state_meta_t meta = {IDENT, {"0.1.0", 5}, 1, 1};
    assert_int_equal(hr_state_encode(&meta, (hr_slice_t){"1a2b", 4}, 200, &a, sink, &f, NULL), -1);
    free(f.p);
    hr_chans_free(&a);
    assert_int_equal(hr_event_live, 0);
}

/* A channel alive at the save keeps its own watermark at the load, not
 * that of its hash slot, where another name may since have dropped more:
 * resumes that were exact stay exact. */
static void test_restored_channel_keeps_own_watermark(void **state)
{
    hr_chans_t a;
    init(&a, 100, 60000);
    a.slot_key[0] = 7;
    uint64_t want = hr_hash_keyed(a.slot_key, "x", 1) & (HR_FREED_SLOTS - 1);
    char other[16];
    int len = 0;
    for (int i = 0; i < 100000; i++) {
        len = snprintf(other, sizeof other, "o%d", i);
        if ((hr_hash_keyed(a.slot_key, other, (size_t)len) & (HR_FREED_SLOTS - 1)) == want)
            break;
    }
    pub1(&a, "x", 1, 0);
    pub1(&a, "x", 2, 0);
    /* other keeps nothing, and goes at once: its slot, also x's, says 3. */
    a.hist_size = 0;
    pub1(&a, other, 3, 0);
    a.hist_size = 100;
    assert_null(hr_chan_find(&a, other, (size_t)len));
    seqs_t out;
    assert_int_equal(replay(&a, "x", 2, 0, &out), 0);
    assert_int_equal(replay(&a, other, 2, 0, &out), 1);

    membuf_t m = save(&a, 3, 1000, 0);
    hr_state_t st;
    char err[256];
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    hr_chans_t c;
    init(&c, 100, 60000);
    hr_state_apply(&st, &c, 1000, 0);
    hr_state_free(&st);
    assert_int_equal(replay(&c, "x", 2, 0, &out), 0);
    assert_int_equal(replay(&c, "x", 0, 0, &out), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(replay(&c, other, 2, 0, &out), 1);
    hr_chans_free(&a);
    hr_chans_free(&c);
    free(m.p);
    assert_int_equal(hr_event_live, 0);
}

/* A saved registry with a little of everything, as bytes. */
static membuf_t sample(void)
{
    hr_chans_t a;
    init(&a, 100, 60000);
    const char *ab[] = {"a", "b"};
    pub1(&a, "a", 1, 10);
    publish(&a, HR_TARGET_SSE, 0, 100, "e", "x", ab, 2, 2, 20);
    pub1(&a, "b", 3, 30);
    membuf_t m = save(&a, 3, 1000, 100);
    hr_chans_free(&a);
    return m;
}

static void test_every_prefix_and_flipped_byte_refused(void **state)
{
    membuf_t m = sample();
    hr_state_t st;
    char err[256];
    for (size_t n = 0; n < m.len; n++) {
        assert_int_equal(hr_state_decode(m.p, n, IDENT, &st, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    for (size_t i = 0; i < m.len; i++) {
        m.p[i] ^= 0x20;
        assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), -1);
        m.p[i] ^= 0x20;
    }
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), 0);
    hr_state_free(&st);
    /* Another relay's file, one that another format wrote. */
    assert_int_equal(
        hr_state_decode(m.p, m.len, (hr_slice_t){"/tmp/other.sock", 15}, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "written by the relay of '/run/herald/herald.sock'"));
    m.p[8] = 4;
    assert_int_equal(hr_state_decode(m.p, m.len, IDENT, &st, err, sizeof err), -1);
    assert_string_equal(err, "format 4, this relay reads 1 to 3");
    free(m.p);
    assert_int_equal(hr_event_live, 0);
}

/* ---- files built field by field ---- */

typedef struct builder {
    membuf_t m;
    int format; /* 0: 1, the first (no json byte) */
    int json;   /* the json byte b_event writes in format 2 */
} builder_t;

static void b_uint(builder_t *b, uint64_t v, int n)
{
    uint8_t x[8];
    for (int i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    sink(&b->m, x, (size_t)n);
}

static void b_str(builder_t *b, const char *s, int n)
{
    b_uint(b, strlen(s), n);
    sink(&b->m, s, strlen(s));
}

/* The header with seq, no freed watermarks. */
static void b_head(builder_t *b, const char *epoch, uint64_t seq)
{
    sink(&b->m, "HRLDSTAT", 8);
    b_uint(b, b->format ? (uint64_t)b->format : 1, 4);
    b_str(b, "0.1.0", 1);
    b_str(b, "/run/herald/herald.sock", 2);
    b_uint(b, 100000, 8); /* written */
    b_str(b, epoch, 1);
    b_uint(b, seq, 8);
    b_uint(b, 1, 8);
    b_uint(b, 2, 8);
    for (int i = 0; i < HR_FREED_SLOTS; i++)
        b_uint(b, 0, 8);
}

static void b_event(builder_t *b, uint64_t seq, uint64_t time, int target, int binary,
                    uint32_t retry, const char *name, const char *data, const char *chan)
{
    b_uint(b, seq, 8);
    b_uint(b, time, 8);
    b_uint(b, (uint64_t)target, 1);
    b_uint(b, (uint64_t)binary, 1);
    if (b->format >= 2)
        b_uint(b, (uint64_t)b->json, 1);
    b_uint(b, retry, 4);
    b_str(b, name, 1);
    b_str(b, data, 4);
    b_uint(b, 1, 2);
    b_str(b, chan, 1);
}

static void b_chan(builder_t *b, const char *name, uint64_t dropped, const uint64_t *seqs, size_t n)
{
    b_str(b, name, 1);
    b_uint(b, dropped, 8);
    b_uint(b, n, 4);
    for (size_t i = 0; i < n; i++)
        b_uint(b, seqs[i], 8);
}

static void b_sum(builder_t *b)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned len;
    EVP_Digest(b->m.p, b->m.len, md, &len, EVP_sha256(), NULL);
    sink(&b->m, md, 32);
}

/* Decode what b holds: 0, or -1 with err containing want. */
static int b_decode(builder_t *b, const char *want)
{
    b_sum(b);
    hr_state_t st;
    char err[256];
    int rc = hr_state_decode(b->m.p, b->m.len, IDENT, &st, err, sizeof err);
    if (rc == 0)
        hr_state_free(&st);
    else if (want && strstr(err, want) == NULL)
        fail_msg("error '%s' does not say '%s'", err, want);
    free(b->m.p);
    b->m = (membuf_t){0};
    return rc;
}

static void test_malformed_content_refused(void **state)
{
    builder_t b = {0};
    const uint64_t one[] = {1}, two[] = {1, 2}, back[] = {2, 1};

    /* A well-formed file first: the builder is right. */
    b_head(&b, "1a2b", 2);
    b_uint(&b, 2, 4);
    b_event(&b, 1, 10, HR_TARGET_SSE, 0, 0, "", "x", "a");
    b_event(&b, 2, 20, HR_TARGET_SSE, 0, 0, "ev", "y", "a");
    b_uint(&b, 1, 4);
    b_chan(&b, "a", 0, two, 2);
    assert_int_equal(b_decode(&b, NULL), 0);

    struct {
        const char *epoch;
        uint64_t seq;
        uint64_t ev_seq, ev_time;
        int target, binary;
        uint32_t retry;
        const char *name, *data, *chan;
        const char *rec_name;
        uint64_t rec_dropped;
        const char *want;
    } cases[] = {
        {"1A2B", 1, 1, 10, 1, 0, 0, "", "x", "a", "a", 0, "bad epoch"},
        {"", 1, 1, 10, 1, 0, 0, "", "x", "a", "a", 0, "bad epoch"},
        {"12345678901234567", 1, 1, 10, 1, 0, 0, "", "x", "a", "a", 0, "bad epoch"},
        {"ab", 0, 1, 10, 1, 0, 0, "", "x", "a", "a", 0, "past the last"},
        {"ab", 1, 0, 10, 1, 0, 0, "", "x", "a", "a", 0, "out of order"},
        {"ab", 1, 1, 200000, 1, 0, 0, "", "x", "a", "a", 0, "after the file was written"},
        {"ab", 1, 1, 10, 2, 0, 0, "", "x", "a", "a", 0, "has no history"},
        {"ab", 1, 1, 10, 0, 0, 0, "", "x", "a", "a", 0, "has no history"},
        {"ab", 1, 1, 10, 1, 1, 0, "", "x", "a", "a", 0, "binary"},
        {"ab", 1, 1, 10, 3, 2, 0, "", "x", "a", "a", 0, "binary"},
        {"ab", 1, 1, 10, 1, 0, 86400001, "", "x", "a", "a", 0, "retry"},
        {"ab", 1, 1, 10, 1, 0, 0, "a\nb", "x", "a", "a", 0, "event name"},
        {"ab", 1, 1, 10, 1, 0, 0, "\xc3", "x", "a", "a", 0, "event name"},
        {"ab", 1, 1, 10, 1, 0, 0, "", "\xff", "a", "a", 0, "not UTF-8"},
        {"ab", 1, 1, 10, 1, 0, 0, "", "x", "a b", "a b", 0, "invalid channel name"},
        {"ab", 1, 1, 10, 1, 0, 0, "", "x", "a", "", 0, "invalid name"},
        {"ab", 1, 1, 10, 1, 0, 0, "", "x", "a", "a", 2, "watermark past"},
        {"ab", 1, 1, 10, 1, 0, 0, "", "x", "a", "a", 1, "under its watermark"},
        {"ab", 1, 1, 10, 1, 0, 0, "", "x", "a", "b", 0, "was not published to it"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        b_head(&b, cases[i].epoch, cases[i].seq);
        b_uint(&b, 1, 4);
        b_event(&b, cases[i].ev_seq, cases[i].ev_time, cases[i].target, cases[i].binary,
                cases[i].retry, cases[i].name, cases[i].data, cases[i].chan);
        b_uint(&b, 1, 4);
        b_chan(&b, cases[i].rec_name, cases[i].rec_dropped, one, 1);
        if (b_decode(&b, cases[i].want) != -1)
            fail_msg("case %zu (%s) was accepted", i, cases[i].want);
    }

    /* Structure: an event in no history, a history naming a missing event,
     * out of order, a channel with two records, bytes after the end,
     * counts larger than the file. */
    b_head(&b, "ab", 2);
    b_uint(&b, 2, 4);
    b_event(&b, 1, 10, 1, 0, 0, "", "x", "a");
    b_event(&b, 2, 10, 1, 0, 0, "", "x", "a");
    b_uint(&b, 1, 4);
    b_chan(&b, "a", 0, one, 1);
    assert_int_equal(b_decode(&b, "in no channel's history"), -1);

    b_head(&b, "ab", 2);
    b_uint(&b, 1, 4);
    b_event(&b, 1, 10, 1, 0, 0, "", "x", "a");
    b_uint(&b, 1, 4);
    b_chan(&b, "a", 0, two, 2);
    assert_int_equal(b_decode(&b, "is not in the file"), -1);

    b_head(&b, "ab", 2);
    b_uint(&b, 2, 4);
    b_event(&b, 1, 10, 1, 0, 0, "", "x", "a");
    b_event(&b, 2, 10, 1, 0, 0, "", "x", "a");
    b_uint(&b, 1, 4);
    b_chan(&b, "a", 0, back, 2);
    assert_int_equal(b_decode(&b, "out of order"), -1);

    b_head(&b, "ab", 2);
    b_uint(&b, 2, 4);
    b_event(&b, 1, 10, 1, 0, 0, "", "x", "a");
    b_event(&b, 2, 5, 1, 0, 0, "", "x", "a");
    b_uint(&b, 1, 4);
    b_chan(&b, "a", 0, two, 2);
    assert_int_equal(b_decode(&b, "time out of order"), -1);

    b_head(&b, "ab", 1);
    b_uint(&b, 1, 4);
    b_event(&b, 1, 10, 1, 0, 0, "", "x", "a");
    b_uint(&b, 2, 4);
    b_chan(&b, "a", 0, one, 1);
    b_chan(&b, "a", 1, NULL, 0);
    assert_int_equal(b_decode(&b, "two records"), -1);

    b_head(&b, "ab", 1);
    b_uint(&b, 0, 4);
    b_uint(&b, 0, 4);
    b_uint(&b, 0, 1);
    assert_int_equal(b_decode(&b, "after the last channel"), -1);

    b_head(&b, "ab", 1);
    b_uint(&b, 0xffffffff, 4);
    assert_int_equal(b_decode(&b, "more than the file holds"), -1);

    b_head(&b, "ab", 1);
    b_uint(&b, 0, 4);
    b_uint(&b, 0xffffffff, 4);
    assert_int_equal(b_decode(&b, "more than the file holds"), -1);

    b_head(&b, "ab", 1);
    b_uint(&b, 0, 4);
    b_uint(&b, 1, 4);
    b_str(&b, "a", 1);
    b_uint(&b, 0, 8);
    b_uint(&b, 0xffffffff, 4);
    assert_int_equal(b_decode(&b, "more than the file holds"), -1);

    /* A freed watermark past the last seq. */
    b_head(&b, "ab", 1);
    b.m.len -= 8;
    b_uint(&b, 2, 8);
    b_uint(&b, 0, 4);
    b_uint(&b, 0, 4);
    assert_int_equal(b_decode(&b, "freed watermark"), -1);
    assert_int_equal(hr_event_live, 0);
}

/* Format 3 keeps a Mercure update's metadata, which decides who sees it:
 * a private update comes back private, on the firehose too; metadata that
 * disagrees with the target is refused. */
static void test_format_3_mercure(void **state)
{
    hr_chans_t a;
    hr_chans_init(&a, 10, 0);
    hr_mercure_meta_t m = {.id = {"urn:x:1", 7}, .priv = 1, .ntopics = 1};
    m.topics[0] = (hr_slice_t){"https://x/1", 11};
    uint8_t blob[64];
    size_t bl = hr_mercure_meta_len(&m);
    hr_mercure_meta_encode(blob, &m);
    hr_slice_t ch[2] = {{"https://x/1", 11}, {HR_MERCURE_FIREHOSE, 8}}, none = {NULL, 0};
    hr_event_t *ev = hr_event_new_sent(HR_TARGET_MERCURE, 0, 0, none, (hr_slice_t){"s", 1}, none,
                                       (hr_slice_t){(const char *)blob, bl}, ch, 2);
    hr_event_place(ev, (hr_slice_t){"1a2b", 4}, 1, 10);
    for (int i = 0; i < 2; i++)
        hr_chan_keep(&a, hr_chan_get(&a, ch[i].p, ch[i].len), ev);
    hr_event_unref(ev);
    membuf_t f = save(&a, 1, 1000, 100);
    hr_chans_free(&a);
    hr_state_t st;
    char err[256];
    assert_int_equal(hr_state_decode(f.p, f.len, IDENT, &st, err, sizeof err), 0);
    assert_int_equal(st.nevents, 1);
    assert_int_equal(st.events[0]->target, HR_TARGET_MERCURE);
    assert_int_equal(st.events[0]->mercure.len, bl);
    assert_memory_equal(st.events[0]->mercure.p, blob, bl);
    hr_state_free(&st);
    /* The private flag flipped in the metadata: no longer what the target says. */
    uint8_t *flags = memmem(f.p, f.len, blob, bl);
    assert_non_null(flags);
    flags[0] ^= 1;
    builder_t b = {.m = f};
    b.m.len -= 32; /* summed again */
    assert_int_equal(b_decode(&b, "bad Mercure metadata"), -1);
    assert_int_equal(hr_event_live, 0);
}

/* Format 2 keeps every target and a json flag; JSON data must be JSON. */
static void test_format_2_targets_and_json(void **state)
{
    const uint64_t one[] = {1};
    struct {
        int format, target, binary, json;
        const char *data, *want; /* want NULL: accepted */
    } cases[] = {
        {2, HR_TARGET_WS, 1, 0, "x", NULL},
        {2, HR_TARGET_WS, 0, 1, "{\"a\":[1,true,null]}", NULL},
        {2, HR_TARGET_ALL, 0, 1, " 12.5e3 ", NULL},
        {2, HR_TARGET_SSE, 0, 0, "not json", NULL},
        {2, HR_TARGET_SSE, 0, 1, "not json", "not JSON"},
        {2, HR_TARGET_ALL, 0, 1, "{\"a\":1", "not JSON"},
        {2, HR_TARGET_WS, 1, 1, "1", "json flag"},
        {2, HR_TARGET_SSE, 0, 2, "1", "json flag"},
        {2, 4, 0, 0, "x", "has no history"},
        {1, HR_TARGET_WS, 1, 0, "x", "has no history"}, /* format 1 kept none */
        {1, HR_TARGET_ALL, 0, 0, "x", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        builder_t b = {.format = cases[i].format, .json = cases[i].json};
        b_head(&b, "ab", 1);
        b_uint(&b, 1, 4);
        b_event(&b, 1, 10, cases[i].target, cases[i].binary, 0, "", cases[i].data, "a");
        b_uint(&b, 1, 4);
        b_chan(&b, "a", 0, one, 1);
        int rc = b_decode(&b, cases[i].want);
        if (rc != (cases[i].want ? -1 : 0))
            fail_msg("case %zu: %s", i, cases[i].want ? "accepted" : "refused");
    }
    assert_int_equal(hr_event_live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_format_2_targets_and_json),
        cmocka_unit_test(test_format_3_mercure),
        cmocka_unit_test(test_apply_under_smaller_bounds),
        cmocka_unit_test(test_empty_and_sink_failure),
        cmocka_unit_test(test_restored_channel_keeps_own_watermark),
        cmocka_unit_test(test_every_prefix_and_flipped_byte_refused),
        cmocka_unit_test(test_malformed_content_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
