/* SPDX-License-Identifier: MIT
 * broker_local.c: the single-relay broker (broker_local.h). Publishing
 * assigns the next seq, keeps the message in its channels' history (every
 * target's: a resume replays what its transport accepts) and delivers it
 * at once; a resume reads the same history in the same step of
 * the loop, so no live event can fall between the replay and the stream. An
 * id this broker cannot place gets a gap and everything history holds. */
#include "core/broker_local.h"
#include "base/thread.h"
#include "core/hub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void publish(hr_broker_t *b, const hr_publish_t *p, hr_published_fn done, void *ud)
{
    hr_loop_t *L = b->loop;
    hr_event_t *ev = hr_event_new_sent(p->target, p->binary, p->retry, p->event, p->data, p->user,
                                       p->mercure, p->channels, p->nchannels);
    ev->json = (uint8_t)(p->json != 0);
    hr_event_set_except(ev, p->except);
    if (b->hub) {
        /* Several loops: placed in the shared order and queued to each;
         * this loop delivers its inbox now, as one loop would. */
        hr_hub_place(b->hub, ev, hr_loop_now_ms(L));
        hr_hub_deliver(b->hub, hr_thread_self);
    } else {
        hr_event_place(ev, (hr_slice_t){b->epoch, b->epoch_len}, ++b->seq, hr_loop_now_ms(L));
        /* Every message has history: herald.v1 subscribers resume
         * ws_publish messages too, and a replay gives each subscriber the
         * targets it accepts (hr_chans_replay). */
        hr_broker_fanout(b, ev, 1);
    }
    hr_broker_count(b, ev->target);
    if (done)
        done(ud, ev->id, ev->idlen, NULL);
    hr_event_unref(ev);
}

static void collect(hr_event_t *ev, void *ud)
{
    hr_resume_add(ud, ev);
}

static void resume(hr_broker_t *b, hr_resume_t *r)
{
    uint64_t after;
    int parsed = hr_broker_parse_id(b, r->since, &after);
    /* With several loops, the id may have reached the client through
     * another loop before this one delivered it: deliver what is queued
     * here first, so that it is history, not a gap. */
    if (parsed && after > b->seq && b->hub)
        hr_hub_deliver(b->hub, hr_thread_self);
    int known = parsed && after <= b->seq;
    /* An id that cannot be positioned (another run or relay, malformed, from
     * the future) is a gap on every channel, and then everything history
     * holds: after a crash, what the new run took before the client came
     * back was reported published to its publisher, and must reach it. */
    hr_chans_replay(&b->loop->chans, r->channels, r->n, known ? after : 0, r->accepts,
                    hr_loop_now_ms(b->loop), r->gap, collect, r);
    if (!known)
        for (size_t i = 0; i < r->n; i++)
            r->gap[i] = 1;
    hr_broker_position(b, r->position);
    hr_broker_resume_done(b, r);
}

static void sweep(hr_broker_t *b, uint64_t now_ms)
{
    hr_chans_expire(&b->loop->chans, now_ms);
}

static void stop(hr_broker_t *b)
{
}

static int save(hr_broker_t *b, const hr_state_meta_t *m, hr_state_sink_fn sink, void *ud,
                hr_state_stats_t *stats)
{
    return hr_state_encode(m, (hr_slice_t){b->epoch, b->epoch_len}, b->seq, &b->loop->chans, sink,
                           ud, stats);
}

/* The next start goes on in the same id space: the same epoch, seqs after
 * the last one handed out, the same history. */
static void load_one(hr_broker_t *b, const hr_state_t *st, uint64_t wall_ms)
{
    memcpy(b->epoch, st->epoch, st->epoch_len + 1);
    b->epoch_len = st->epoch_len;
    b->seq = st->seq;
    hr_state_apply(st, &b->loop->chans, wall_ms, hr_loop_now_ms(b->loop));
}

/* With several loops (before they run): every loop's history, and the
 * shared order, go on from the state. */
static void load(hr_broker_t *b, const hr_state_t *st, uint64_t wall_ms)
{
    if (b->hub == NULL) {
        load_one(b, st, wall_ms);
        return;
    }
    for (unsigned i = 0; i < b->hub->nloops; i++)
        load_one(b->hub->in[i].broker, st, wall_ms);
    b->hub->seq = st->seq;
}

static void broker_free(hr_broker_t *b)
{
    free(b);
}

static const hr_broker_ops_t local_ops = {
    .name = "local",
    .publish = publish,
    .resume = resume,
    .sweep = sweep,
    .stop = stop,
    .save = save,
    .load = load,
    .free = broker_free,
};

/* The loops of one relay share one epoch: the main loop's. */
void hr_broker_local_share(hr_broker_t *b, hr_broker_t *main)
{
    memcpy(b->epoch, main->epoch, sizeof b->epoch);
    b->epoch_len = main->epoch_len;
}

hr_broker_t *hr_broker_local_new(hr_loop_t *L)
{
    hr_broker_t *b = hr_xcalloc(1, sizeof *b);
    hr_broker_init(b, &local_ops, L);
    /* Ids carry this boot's start so an id from an earlier run is recognised. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t boot_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    b->epoch_len = (size_t)snprintf(b->epoch, sizeof b->epoch, "%" PRIx64, boot_ms);
    return b;
}
