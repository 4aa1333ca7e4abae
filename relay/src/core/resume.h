/* SPDX-License-Identifier: MIT
 * resume.h: a subscriber coming back with the id of the last event it saw.
 * Its owner (a connection) is subscribed to its channels first; the broker
 * then finds what it missed, in its history (at once) or in Redis (later),
 * and says per channel whether the replay is exact. Meanwhile live events
 * for the owner are held here, so nothing falls between the replay and the
 * live stream. hr_resume_finish then hands the owner, in order: the gap
 * notice if any, the replay (each event once, in seq order), the held live
 * events. The same code finishes every broker's resumes.
 *
 * A fresh stream (no id) can be a resume too, from a position the broker
 * finds for it (a broker whose subscription to a channel takes effect later
 * than the stream begins: cluster/broker_redis.c). */
#ifndef HR_RESUME_H
#define HR_RESUME_H

#include "base/common.h"
#include "core/event.h"

struct hr_resume;

/* What the owner does with a finished resume (net's connection). */
typedef struct hr_resume_sink {
    /* The broker knows the position the owner's stream is at: seq, the
     * seq of the id its client holds (what is at or before it is not
     * delivered). A fresh stream (r->fresh) is told its first position
     * this way, before anything else: it begins its output with position.
     * position is NULL for a stream that has begun already. */
    void (*start)(void *owner, const char *position, uint64_t seq);
    /* Some channels (r->gap[i]) cannot be replayed exactly. position is the
     * id to resume from next time when nothing is replayed, else NULL. */
    void (*gap)(void *owner, const struct hr_resume *r, const char *position);
    /* A missed event: sent even past the owner's queue cap (history bounds it). */
    void (*replay)(void *owner, hr_event_t *ev);
    /* A live event that arrived during the resume, as a normal delivery. */
    void (*live)(void *owner, hr_event_t *ev, int chan);
    /* The broker could not read what was missed (Redis went away): the
     * owner should end so that its client comes back and tries again. */
    void (*failed)(void *owner, const char *why);
    /* The owner no longer has a resume in progress (called before the
     * gap, the replay and the held events are handed over). */
    void (*done)(void *owner);
    /* Everything was handed over and r is freed; may be NULL. */
    void (*finished)(void *owner);
} hr_resume_sink_t;

typedef struct hold {
    hr_event_t *ev;
    int chan;
} hr_hold_t;

typedef struct hr_resume {
    void *owner; /* NULL once the owner closed */
    const hr_resume_sink_t *sink;
    int accepts;      /* HR_TARGET_* bits the owner receives */
    hr_slice_t since; /* the id as the client sent it (copied) */
    size_t n;         /* channels, each once */
    hr_slice_t *channels;
    uint8_t *gap; /* per channel: something after since is gone */
    int failed;
    int fresh; /* no id: the broker finds where the stream starts (broker.h) */
    char position[HR_ID_MAX];
    hr_event_t **replay; /* what was missed, any order, duplicates allowed */
    size_t nreplay, capreplay;
    hr_hold_t *held; /* live events that came meanwhile */
    size_t nheld, capheld, heldbytes;
    void *bstate; /* the broker's own state for this resume */
} hr_resume_t;

hr_resume_t *hr_resume_new(void *owner, const hr_resume_sink_t *sink, int accepts, hr_slice_t since,
                           const hr_slice_t *channels, size_t n);

/* An event to replay (takes a reference). */
void hr_resume_add(hr_resume_t *r, hr_event_t *ev);

/* Hold a live event until the end (takes a reference). -1 when the held
 * bytes would pass max_bytes: the owner is too far behind, end it. */
int hr_resume_hold(hr_resume_t *r, hr_event_t *ev, int chan, size_t max_bytes);

/* Hand everything to the owner (if it is still there) and free r. Returns
 * the number of gapped channels, or -1 when the resume failed. */
int hr_resume_finish(hr_resume_t *r);

/* The owner is gone: drop what was held; the broker frees r when its
 * replies are in. */
void hr_resume_detach(hr_resume_t *r);

void hr_resume_free(hr_resume_t *r);

#endif
