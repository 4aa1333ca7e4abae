/* SPDX-License-Identifier: MIT
 * event.h: a published message. It keeps its fields (channels, data, event
 * name, retry) and its place in the id space, and caches each transport's
 * encoding of it on first use: the SSE bytes, a WebSocket frame, an envelope
 * per channel. A message is therefore encoded once per transport however
 * many subscribers it reaches, and history (chan.h), which holds events,
 * can replay it to any transport. Refcounted: history slots, fan-out and
 * resumes hold references. */
#ifndef HR_EVENT_H
#define HR_EVENT_H

#include "base/buf.h"
#include "base/common.h"
#include "codec/frame.h"
#include "core/id.h"

#define HR_EVENT_SLOTS 16 /* encodings a process can register */
#define HR_EXCEPT_MAX  31 /* longest connection id (net/app.h HR_CONN_ID_MAX - 1) */

struct hr_event;

/* The bytes of ev for one transport; chan is the index of the channel in
 * ev->channels for encodings that name it, or -1. Returns a new buffer
 * (refcnt 1) that the event's cache takes over. */
typedef hr_buf_t *(*hr_encode_fn)(const struct hr_event *ev, int chan);

typedef struct hr_enc {
    hr_buf_t *buf;
    int16_t chan;
    uint8_t slot;
} hr_enc_t;

/* One loop's cached encodings of an event. */
typedef struct hr_enc_list {
    hr_enc_t *v;
    uint16_t n, cap;
} hr_enc_list_t;

typedef struct hr_event {
    uint32_t refcnt; /* atomic: the loops of a relay with workers share events */
    uint8_t target;  /* HR_TARGET_*: which subscribers receive it */
    uint8_t binary;  /* data is bytes: a binary WebSocket frame */
    uint8_t json;    /* data is the JSON text of a value (ingest json: true, validated) */
    uint8_t idlen;
    uint8_t except_len; /* 0: none */
    uint16_t nchannels;
    uint64_t serial;  /* unique in the process: names this event in caches */
    uint64_t seq;     /* position in the broker's id space */
    uint64_t time_ms; /* when it was published: history's age */
    long retry;       /* SSE retry: hint; 0: none */
    hr_slice_t name;  /* SSE event name; len 0: none */
    hr_slice_t data;
    hr_slice_t user; /* who sent it (a Pusher client event on a presence channel); len 0: none */
    /* A Mercure update's id, topics and private flag (codec/mercure.h's
     * blob, as ingest and Redis carry it); len 0: not a Mercure update. */
    hr_slice_t mercure;
    /* Cached encodings: the main loop's, and each other loop's in an array
     * made by the first of them to need it (base/thread.h). A loop only
     * ever touches its own list, so the cache needs no lock. */
    hr_enc_list_t enc;
    hr_enc_list_t *encw; /* atomic pointer; [hr_thread_self - 1] */
    char id[HR_ID_MAX];
    /* The connection that does not receive it (its sender: Pusher's
     * socket_id, Laravel's toOthers()). */
    char except[HR_EXCEPT_MAX];
    hr_slice_t channels[]; /* names, each once; bytes follow the array */
} hr_event_t;

/* A new event (refcnt 1) with copies of the fields. A channel named twice
 * is kept once. seq, id and time are the broker's to set (hr_event_place). */
hr_event_t *hr_event_new(int target, int binary, long retry, hr_slice_t name, hr_slice_t data,
                         const hr_slice_t *channels, size_t nchannels);

/* As hr_event_new, with the user who sent it and a Mercure update's
 * metadata (both copied; len 0: none). */
hr_event_t *hr_event_new_sent(int target, int binary, long retry, hr_slice_t name, hr_slice_t data,
                              hr_slice_t user, hr_slice_t mercure, const hr_slice_t *channels,
                              size_t nchannels);

/* Keep ev from the connection named id. An id longer than any connection
 * id names none: nothing is kept. */
void hr_event_set_except(hr_event_t *e, hr_slice_t id);

/* Give the event its position: seq, the id "<epoch>-<seq>", time. */
void hr_event_place(hr_event_t *e, hr_slice_t epoch, uint64_t seq, uint64_t time_ms);

static inline hr_event_t *hr_event_ref(hr_event_t *e)
{
    __atomic_add_fetch(&e->refcnt, 1, __ATOMIC_RELAXED);
    return e;
}

void hr_event_unref(hr_event_t *e);

/* A number for an encoding (a transport takes one at start, before any
 * event exists). */
int hr_event_slot(void);

/* The cached encoding for (slot, chan), made with fn on first use.
 * Borrowed: the caller takes its own reference to keep it. */
hr_buf_t *hr_event_encoding(hr_event_t *e, int slot, int chan, hr_encode_fn fn);

/* The cached encoding for (slot, chan), or NULL: for an encoding made
 * from another one (a compressed frame from the plain frame), which
 * hr_event_encoding's fn cannot be handed. Borrowed. */
hr_buf_t *hr_event_cached(const hr_event_t *e, int slot, int chan);

/* Cache b for (slot, chan), which must not be cached yet; the cache takes
 * the reference. Returns b, borrowed. */
hr_buf_t *hr_event_cache_put(hr_event_t *e, int slot, int chan, hr_buf_t *b);

/* Drop the calling loop's cached encodings (after the fan-out: history
 * keeps the fields, write queues keep their own references to the bytes). */
void hr_event_trim(hr_event_t *e);

/* Bytes the event holds in memory, encodings aside (history accounting). */
size_t hr_event_size(const hr_event_t *e);

/* Live events: the leak check and the unit tests. */
extern int64_t hr_event_live;

#endif
