/* SPDX-License-Identifier: MIT
 * fuzz_sse.c: libFuzzer harness for relay/src/codec/sse.c. The input is split into
 * a retry value, an id, an event name and the data; the event is encoded
 * into a buffer of exactly hr_sse_event_len bytes, then decoded by a WHATWG
 * event-stream parser written here, and the client's view must be the data
 * with its line breaks turned into LF, the event type, the id and the retry.
 * The same event twice with a keepalive between must decode as two. Any
 * mismatch aborts.
 *
 * Input layout: byte 0 picks the retry, byte 1 the id length (mod 64), byte 2
 * the event length (mod 64); then the id, the event, and the rest is data. */
#include "codec/sse.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sse: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- a WHATWG event-stream decoder ("Interpreting an event stream") ------ */

typedef struct {
    char *p;
    size_t len;
} bytes_t;

struct event {
    bytes_t type, data, last_id;
};

struct decoder {
    size_t cap;             /* every buffer holds cap bytes: the stream's length */
    bytes_t data, type, id; /* the data, event type and last event ID buffers */
    long reconnect_ms;      /* -1 until a retry field sets it */
    size_t n_events;
    struct event events[4];
};

static void bytes_set(bytes_t *b, const char *s, size_t n, size_t cap)
{
    CHECK(n <= cap);
    if (n > 0)
        memcpy(b->p, s, n);
    b->len = n;
}

static void bytes_add(bytes_t *b, const char *s, size_t n, size_t cap)
{
    CHECK(b->len + n <= cap);
    if (n > 0)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void dec_init(struct decoder *d, size_t cap)
{
    memset(d, 0, sizeof *d);
    d->cap = cap + 1;
    d->reconnect_ms = -1;
    d->data.p = malloc(d->cap);
    d->type.p = malloc(d->cap);
    d->id.p = malloc(d->cap);
    for (size_t i = 0; i < sizeof d->events / sizeof d->events[0]; i++) {
        d->events[i].type.p = malloc(d->cap);
        d->events[i].data.p = malloc(d->cap);
        d->events[i].last_id.p = malloc(d->cap);
    }
}

static void dec_free(struct decoder *d)
{
    free(d->data.p);
    free(d->type.p);
    free(d->id.p);
    for (size_t i = 0; i < sizeof d->events / sizeof d->events[0]; i++) {
        free(d->events[i].type.p);
        free(d->events[i].data.p);
        free(d->events[i].last_id.p);
    }
}

static void dec_dispatch(struct decoder *d)
{
    struct event *e;

    if (d->data.len == 0) {
        d->type.len = 0;
        return;
    }
    if (d->data.p[d->data.len - 1] == '\n')
        d->data.len--;
    CHECK(d->n_events < sizeof d->events / sizeof d->events[0]);
    e = &d->events[d->n_events++];
    if (d->type.len > 0)
        bytes_set(&e->type, d->type.p, d->type.len, d->cap);
    else
        bytes_set(&e->type, "message", 7, d->cap);
    bytes_set(&e->data, d->data.p, d->data.len, d->cap);
    bytes_set(&e->last_id, d->id.p, d->id.len, d->cap);
    d->data.len = 0;
    d->type.len = 0;
}

static int name_is(const char *f, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(f, name, n) == 0;
}

static void dec_line(struct decoder *d, const char *s, size_t n)
{
    const char *colon, *v = "";
    size_t flen = n, vlen = 0;

    if (n == 0) {
        dec_dispatch(d);
        return;
    }
    if (s[0] == ':')
        return;
    colon = memchr(s, ':', n);
    if (colon != NULL) {
        flen = (size_t)(colon - s);
        v = colon + 1;
        vlen = n - flen - 1;
        if (vlen > 0 && v[0] == ' ') {
            v++;
            vlen--;
        }
    }
    if (name_is(s, flen, "event")) {
        bytes_set(&d->type, v, vlen, d->cap);
    } else if (name_is(s, flen, "data")) {
        bytes_add(&d->data, v, vlen, d->cap);
        bytes_add(&d->data, "\n", 1, d->cap);
    } else if (name_is(s, flen, "id")) {
        if (memchr(v, '\0', vlen) == NULL)
            bytes_set(&d->id, v, vlen, d->cap);
    } else if (name_is(s, flen, "retry")) {
        long ms = 0;
        size_t i;
        for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
            ms = ms > (LONG_MAX - 9) / 10 ? LONG_MAX : ms * 10 + (v[i] - '0');
        if (i == vlen && vlen > 0)
            d->reconnect_ms = ms;
    }
}

/* A whole stream; an unterminated last line is dropped, as at end of file. */
static void dec_feed(struct decoder *d, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\r' && s[j] != '\n')
            j++;
        if (j == n)
            return;
        dec_line(d, s + i, j - i);
        if (s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')
            j++;
        i = j + 1;
    }
}

/* ---- the round trip -------------------------------------------------------- */

static int same(bytes_t b, const char *s, size_t n)
{
    return b.len == n && (n == 0 || memcmp(b.p, s, n) == 0);
}

/* Copies a field, replacing the bytes a field may not hold; returns whether
 * there were any, to check hr_sse_field_valid against. */
static int sanitise(char *out, const uint8_t *in, size_t n)
{
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        bad |= in[i] == '\r' || in[i] == '\n' || in[i] == '\0';
        out[i] = (in[i] == '\r' || in[i] == '\n' || in[i] == '\0') ? '_' : (char)in[i];
    }
    return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 3)
        return 0;

    long retry = in[0] == 255 ? LONG_MAX : in[0] >= 128 ? (long)(in[0] - 127) * 1009 : 0;
    size_t id_len = in[1] % 64, ev_len = in[2] % 64;
    const uint8_t *p = in + 3, *end = in + size;

    if (id_len > (size_t)(end - p))
        id_len = (size_t)(end - p);
    const uint8_t *id_raw = p;
    p += id_len;
    if (ev_len > (size_t)(end - p))
        ev_len = (size_t)(end - p);
    const uint8_t *ev_raw = p;
    p += ev_len;

    char idbuf[64], evbuf[64];
    int id_bad = sanitise(idbuf, id_raw, id_len), ev_bad = sanitise(evbuf, ev_raw, ev_len);
    hr_slice_t raw_id = {(const char *)id_raw, id_len}, raw_ev = {(const char *)ev_raw, ev_len};
    hr_slice_t id = {idbuf, id_len}, ev = {evbuf, ev_len};
    hr_slice_t data = {(const char *)p, (size_t)(end - p)};

    CHECK(hr_sse_field_valid(raw_id) == !id_bad);
    CHECK(hr_sse_field_valid(raw_ev) == !ev_bad);
    CHECK(hr_sse_field_valid(id) && hr_sse_field_valid(ev));

    /* Exactly the announced size: ASan catches a byte written past it. */
    size_t n = hr_sse_event_len(id, ev, retry, data);
    size_t stream_len = 2 * n + sizeof HR_SSE_PING - 1;
    char *stream = malloc(stream_len), *one = malloc(n);
    CHECK(stream != NULL && one != NULL);
    CHECK(hr_sse_encode_event(one, id, ev, retry, data) == n);
    CHECK(one[n - 1] == '\n' && one[n - 2] == '\n');

    /* What the client must see: data with CRLF and CR made LF. */
    char *want = malloc(data.len + 1);
    size_t want_len = 0;
    CHECK(want != NULL);
    for (size_t i = 0; i < data.len; i++) {
        if (data.p[i] == '\r') {
            want[want_len++] = '\n';
            if (i + 1 < data.len && data.p[i + 1] == '\n')
                i++;
        } else {
            want[want_len++] = data.p[i];
        }
    }

    struct decoder d;
    dec_init(&d, stream_len);
    dec_feed(&d, one, n);
    CHECK(d.n_events == 1);
    CHECK(same(d.events[0].data, want, want_len));
    CHECK(ev.len ? same(d.events[0].type, ev.p, ev.len) : same(d.events[0].type, "message", 7));
    CHECK(same(d.events[0].last_id, id.p, id.len));
    CHECK(d.reconnect_ms == (retry > 0 ? retry : -1));
    dec_free(&d);

    /* Back to back with a keepalive between: two events, neither spilling
     * into the other. */
    memcpy(stream, one, n);
    memcpy(stream + n, HR_SSE_PING, sizeof HR_SSE_PING - 1);
    CHECK(hr_sse_encode_event(stream + n + sizeof HR_SSE_PING - 1, id, ev, retry, data) == n);
    dec_init(&d, stream_len);
    dec_feed(&d, stream, stream_len);
    CHECK(d.n_events == 2);
    for (size_t k = 0; k < 2; k++) {
        CHECK(same(d.events[k].data, want, want_len));
        CHECK(same(d.events[k].last_id, id.p, id.len));
    }
    dec_free(&d);

    char r[32];
    size_t rl = hr_sse_retry(r, retry);
    CHECK(rl >= 10 && rl <= 28 && r[rl - 1] == '\n' && r[rl - 2] == '\n');

    free(want);
    free(one);
    free(stream);
    return 0;
}
