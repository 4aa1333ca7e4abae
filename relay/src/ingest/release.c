/* SPDX-License-Identifier: MIT
 * release.c: the ordered release of HTTP publishes (release.h).
 *
 * Several loops (workers > 1). Only the first loop reads ingest, so a
 * request on another loop, stamped ts, is released once the first loop has
 * released its frames up to ts: that loop's check phase, after ingest's
 * release, publishes the instant its poll began ("released", the horizon
 * ingest used), and loop i releases what is not later than it. Why that is
 * PROTOCOL.md 1.5's order: if a socket or ring publish A returned before
 * request B started, A's bytes and ts came before B's ts; the first
 * loop's poll that began at or after B's ts saw A (ingest.c's argument), and
 * its check placed A in the hub before it published a released >= ts_B, so
 * B is placed after A. The other way round holds already: a request is
 * answered once the hub placed it, so a publish that starts after the
 * answer is placed after it.
 *
 * Nobody spins for long and nobody sleeps past its turn: loop i, having
 * queued an item, raises "wanted" to its ts and wakes the first loop, which
 * polls without blocking (its queues' idle handles) until a poll began at
 * or after wanted, and after each release wakes every loop whose queues
 * hold items. Loop i blocks meanwhile. A wake is skipped only while one is
 * on its way ("kicked", cleared by its loop before it reads what the other
 * side wrote; sequentially consistent atomics: one side always sees the
 * other).
 *
 * Shutdown: once the first loop stopped ingest, it has released everything
 * ingest will ever publish: released becomes UINT64_MAX and every loop is
 * woken. A loop that stops publishes what it holds, as one loop does. */
#include "ingest/release.h"
#include "base/thread.h"

#define SC __ATOMIC_SEQ_CST

static struct {
    unsigned n; /* loops sharing the order; 0: one loop */
    void (*wake)(unsigned loop);
    uint64_t released;                /* the first loop: ingest placed every ts <= this */
    uint64_t wanted;                  /* the latest ts queued on another loop */
    unsigned waiting[HR_THREADS_MAX]; /* loop i: its queues that hold items */
    int kicked[HR_THREADS_MAX];       /* a wake is on its way to loop i */
} gate;

void hr_release_share(unsigned n, void (*wake)(unsigned loop))
{
    gate.n = n > 1 && n <= HR_THREADS_MAX ? n : 0;
    gate.wake = wake;
}

static void kick(unsigned i)
{
    if (!__atomic_exchange_n(&gate.kicked[i], 1, SC))
        gate.wake(i);
}

/* 1 when this queue is on a loop other than the first, and waits for it. */
static int follows(void)
{
    return gate.n && hr_thread_self > 0;
}

static void on_idle(uv_idle_t *h)
{
    (void)h; /* Nothing to do: an active idle handle makes the next poll not block. */
}

void hr_release_init(hr_release_t *q, hr_loop_t *L,
                     void (*publish)(void *ud, hr_release_item_t *it), void *ud)
{
    *q = (hr_release_t){.loop = L, .publish = publish, .ud = ud};
    uv_idle_init(L->uv, &q->idle);
}

void hr_release_push(hr_release_t *q, hr_release_item_t *it)
{
    it->ts = uv_hrtime();
    it->next = NULL;
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    if (!follows()) {
        /* Released in the next turn's check phase; until the queue is
         * empty, the idle handle keeps the loop from blocking. */
        uv_idle_start(&q->idle, on_idle);
        return;
    }
    /* Another loop: the first one wakes this one once it released up to
     * ts; this loop's own polls do not matter, it may block. */
    unsigned self = hr_thread_self;
    if (!q->counted) {
        q->counted = 1;
        __atomic_add_fetch(&gate.waiting[self], 1, SC);
    }
    uint64_t w = __atomic_load_n(&gate.wanted, SC);
    while (w < it->ts && !__atomic_compare_exchange_n(&gate.wanted, &w, it->ts, 0, SC, SC))
        ;
    kick(0);
    /* Releasable already (the first loop stopped): this turn's check, or
     * the next one's, without blocking, since no wake will come. */
    if (__atomic_load_n(&gate.released, SC) >= it->ts)
        uv_idle_start(&q->idle, on_idle);
}

/* Publish every item not later than horizon (all when stopping). */
static void drain(hr_release_t *q, uint64_t horizon, int stopping)
{
    while (q->head && (stopping || q->head->ts <= horizon)) {
        hr_release_item_t *it = hr_release_pop(q);
        q->publish(q->ud, it);
    }
}

void hr_release_run(hr_release_t *q, int stopping)
{
    /* An item whose body was complete after this turn's poll began may
     * stand after a frame that ingest read in the same poll but releases
     * only next turn (its ts is later than the poll start, and earlier
     * than this item's): it waits one more turn, as such frames do. */
    uint64_t horizon = q->loop->poll_start_ns;
    int keep_polling = 0;
    if (follows()) {
        unsigned self = hr_thread_self;
        __atomic_store_n(&gate.kicked[self], 0, SC);
        drain(q, __atomic_load_n(&gate.released, SC), stopping);
        if (q->head == NULL && q->counted) {
            q->counted = 0;
            __atomic_sub_fetch(&gate.waiting[self], 1, SC);
        }
        if (!q->stopped)
            uv_idle_stop(&q->idle); /* the first loop wakes this one */
    } else if (gate.n) {
        /* The first loop: ingest released its frames up to horizon just
         * before (app/server.c's check phase; all of them when stopping). */
        __atomic_store_n(&gate.kicked[0], 0, SC);
        uint64_t r = stopping ? UINT64_MAX : horizon;
        if (r > __atomic_load_n(&gate.released, SC))
            __atomic_store_n(&gate.released, r, SC);
        drain(q, horizon, stopping);
        for (unsigned i = 1; i < gate.n; i++)
            if (__atomic_load_n(&gate.waiting[i], SC))
                kick(i);
        keep_polling = __atomic_load_n(&gate.wanted, SC) > r;
    } else {
        drain(q, horizon, stopping);
    }
    if (stopping && !q->stopped) {
        q->stopped = 1;
        uv_close((uv_handle_t *)&q->idle, NULL);
    } else if (!q->stopped && q->head == NULL && !keep_polling) {
        uv_idle_stop(&q->idle);
    } else if (!q->stopped && keep_polling) {
        uv_idle_start(&q->idle, on_idle); /* until a poll began after wanted */
    }
}

hr_release_item_t *hr_release_pop(hr_release_t *q)
{
    hr_release_item_t *it = q->head;
    if (it) {
        q->head = it->next;
        if (q->head == NULL)
            q->tail = NULL;
        it->next = NULL;
    }
    return it;
}
