/* SPDX-License-Identifier: MIT
 * frame.h: the ingest frame (Contract 1) as the relay sees it. msgpack-c's
 * streaming unpacker (ingest/ingest.c) turns bytes into msgpack objects; this turns
 * one object into a validated hr_frame_t, or says exactly why not. Pure:
 * strings in the frame point into the object's zone and stay valid until the
 * unpacker's next call. */
#ifndef HR_FRAME_H
#define HR_FRAME_H

#include "base/common.h"
#include "codec/mercure.h"

#include <msgpack.h>

#define HR_FRAME_MAX_CHANNELS 100
#define HR_FRAME_ID_MAX       47 /* longest event id a relay gives (core/id.h) */
/* The largest encoding of a frame's data: what one buffer can hold
 * (base/buf.h's 32-bit length). */
#define HR_FRAME_MAX_ENCODED (UINT32_MAX - 4096)

/* The limit hr_frame_parse applies (a variable so unit tests can lower it). */
extern size_t hr_frame_max_encoded;

/* pub: a publish to channels; send: a message to one connection or to
 * every connection of one user (herald_send, herald_send_user); presence:
 * a query for a presence channel's members, answered in its ack. */
enum hr_frame_op {
    HR_OP_PUB = 1,
    HR_OP_HELLO = 2,
    HR_OP_WAKE = 3,
    HR_OP_SEND = 4,
    HR_OP_PRESENCE = 5,
};

/* A connection id (send "conn"): 1-64 bytes of [a-z0-9.] ("<relay id>.<n>"). */
#define HR_FRAME_CONN_MAX 64

/* Who a publish reaches (the key "t"): bits, so that a later "all" is both.
 * Subscribers say which of these they accept (core/chan.h). The relay's
 * own events add two: presence join/leave (core/presence.h) and a message
 * to one connection or user (herald_send, on an internal '#' channel). */
enum hr_target {
    HR_TARGET_SSE = 1,
    HR_TARGET_WS = 2,
    HR_TARGET_ALL = 3,
    HR_TARGET_PRESENCE = 4,
    HR_TARGET_DIRECT = 8,
    /* A Mercure update (the key "mercure"): Mercure subscribers accept
     * only these. A public one is HR_TARGET_ALL | HR_TARGET_MERCURE; a
     * private one has only this bit, so no other subscriber accepts it. */
    HR_TARGET_MERCURE = 16,
};

typedef struct hr_frame {
    int op;     /* HR_OP_* */
    int target; /* HR_TARGET_SSE, _WS, _ALL, _MERCURE (| _ALL) (pub); HR_TARGET_DIRECT (send) */
    int binary; /* ws, send: data was msgpack bin (or send's "binary": true) -> binary frame */
    int json;   /* "json": true: data is one JSON value (checked, codec/json_check.h) */
    size_t nchannels;
    hr_slice_t channels[HR_FRAME_MAX_CHANNELS]; /* pub; presence: its one "ch" */
    hr_slice_t conn;                            /* send: to this connection (len 0: none) */
    hr_slice_t user;                            /* send: or to every connection of this user */
    hr_slice_t except;                          /* pub: not to this connection (len 0: none) */
    hr_slice_t data;
    hr_slice_t event; /* len 0: none */
    long retry;       /* 0: none */
    int has_ack;
    uint64_t ack;
    int has_ts;
    uint64_t ts;       /* publisher's CLOCK_MONOTONIC ns */
    hr_slice_t client; /* hello */
    int64_t version;   /* hello "v" */
    int64_t pid;       /* hello */
    uint64_t ring;     /* hello: ring bytes asked for (0: none) */
    /* pub "mercure": {"id", "topics", "private"?}, a Mercure update; the
     * channels are the relay's to derive from the topics (no "ch"). */
    int has_mercure;
    hr_mercure_meta_t mercure;
} hr_frame_t;

/* Validate obj as a frame. Returns 0 and fills *f, or -1 with a short reason
 * in err (NUL-terminated). Even on error, f->has_ack/f->ack are filled when
 * the frame carried a usable "ack", so the caller can nack it. Unknown keys
 * are ignored; unknown ops are errors. */
int hr_frame_parse(const msgpack_object *obj, hr_frame_t *f, char *err, size_t errlen);

#endif
