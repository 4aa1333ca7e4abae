/* SPDX-License-Identifier: MIT
 * state.h: what a clean stop hands to the next start (the state file,
 * app/state.c): the id space (epoch, last seq) and every channel's history
 * (events with their fields and times, and each channel's gap watermark),
 * plus the freed channels' watermarks, so that clients resume exactly across
 * a restart. Pure: bytes out through a sink, bytes in from a buffer, no
 * files. The bytes come back from disk, so the reader trusts nothing: every
 * length, count, name, order and cross-reference is checked, and a checksum
 * covers the whole (tests/fuzz/fuzz_state.c).
 *
 * Layout (integers little-endian; strings are a length then bytes):
 *   "HRLDSTAT", u32 format (2), u8+writer (the relay's version, ASCII),
 *   u16+identity (which relay: its ingest socket's path), u64 written
 *   (wall-clock ms), u8+epoch (1-16 lowercase hex digits), u64 seq,
 *   u64 slot key[2], u64 freed watermark[256],
 *   u32 events, each: u64 seq (increasing, 1..seq), u64 time (wall-clock
 *     ms, never decreasing, at most written), u8 target (HR_TARGET_*: SSE,
 *     WebSocket or both), u8 binary (WebSocket only), u8 json (data is one
 *     JSON value; not binary), u32 retry (ms, 0: none), u8+event name,
 *     u32+data, u16 channels, each u8+name (valid, distinct);
 *   u32 channels, each: u8+name (valid, distinct), u64 watermark (the
 *     highest seq that left its history, at most seq), u32 count, count u64
 *     seqs (increasing, above the watermark, each an event above that names
 *     this channel); every event is in some channel's history;
 *   32 bytes: SHA-256 of everything before.
 * Format 1 (relays before herald_publish) is read too: its events have no
 * json byte, and only SSE and both-targets events (history kept no other). */
#ifndef HR_STATE_H
#define HR_STATE_H

#include "core/chan.h"
#include "core/event.h"
#include "core/id.h"

#define HR_STATE_FORMAT       3 /* written; 1 and 2 are read too */
#define HR_STATE_IDENTITY_MAX 4096
#define HR_STATE_WRITER_MAX   32

/* Receives the encoding in pieces; 0, or -1 to stop (an I/O error). */
typedef int (*hr_state_sink_fn)(void *ud, const void *p, size_t len);

/* Who writes, and when. */
typedef struct hr_state_meta {
    hr_slice_t identity; /* which relay (its ingest socket's path) */
    hr_slice_t writer;   /* the relay's version */
    uint64_t wall_ms;    /* now, wall clock: times in the file are wall clock */
    uint64_t loop_ms;    /* now, on the clock of the events' time_ms */
} hr_state_meta_t;

/* What the encoder wrote (for the log). */
typedef struct hr_state_stats {
    size_t events, channels, bytes;
} hr_state_stats_t;

/* Encode the id space (epoch, seq) and r's history through sink. 0, or -1
 * when the sink failed (it says why). */
int hr_state_encode(const hr_state_meta_t *m, hr_slice_t epoch, uint64_t seq, const hr_chans_t *r,
                    hr_state_sink_fn sink, void *ud, hr_state_stats_t *stats);

typedef struct hr_state_chan {
    const char *name; /* in the state's arena */
    uint8_t name_len;
    uint64_t dropped;
    uint32_t first, count; /* refs[first .. first+count): indexes of events */
} hr_state_chan_t;

/* A decoded state file: owns its events until hr_state_free. */
typedef struct hr_state {
    char epoch[HR_EPOCH_MAX + 1];
    size_t epoch_len;
    uint64_t seq;
    uint64_t written_ms;
    char writer[HR_STATE_WRITER_MAX + 1];
    uint64_t slot_key[2];
    uint64_t freed[HR_FREED_SLOTS];
    hr_event_t **events; /* by seq; time_ms is 0 until applied */
    uint64_t *times;     /* each event's wall-clock time */
    size_t nevents;
    hr_state_chan_t *chans;
    size_t nchans;
    uint32_t *refs;
    size_t nrefs;
    char *arena; /* channel names */
} hr_state_t;

/* Decode p[0..len). identity: the reader's own (len 0: do not compare).
 * 0 and *st filled, or -1 with why in err (st left empty). Nothing is
 * kept pointing into p. */
int hr_state_decode(const uint8_t *p, size_t len, hr_slice_t identity, hr_state_t *st, char *err,
                    size_t errlen);

/* Put st's history into r (empty, or nearly: nothing of st's epoch), in
 * seq order and under r's own bounds (count, age, bytes), turning
 * wall-clock times into r's clock (wall_ms and loop_ms are now on both).
 * Also the freed channels' watermarks and their slot key. */
void hr_state_apply(const hr_state_t *st, hr_chans_t *r, uint64_t wall_ms, uint64_t loop_ms);

void hr_state_free(hr_state_t *st);

#endif
