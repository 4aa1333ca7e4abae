/* SPDX-License-Identifier: MIT
 * release.c: the ordered release of HTTP publishes (release.h). */
#include "ingest/release.h"

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
    /* Released in the next turn's check phase; until the queue is empty,
     * the idle handle keeps the loop from blocking. */
    uv_idle_start(&q->idle, on_idle);
}

void hr_release_run(hr_release_t *q, int stopping)
{
    /* An item whose body was complete after this turn's poll began may
     * stand after a frame that ingest read in the same poll but releases
     * only next turn (its ts is later than the poll start, and earlier
     * than this item's): it waits one more turn, as such frames do. */
    uint64_t horizon = q->loop->poll_start_ns;
    while (q->head && (stopping || q->head->ts <= horizon)) {
        hr_release_item_t *it = hr_release_pop(q);
        q->publish(q->ud, it);
    }
    if (stopping && !q->stopped) {
        q->stopped = 1;
        uv_close((uv_handle_t *)&q->idle, NULL);
    } else if (!q->stopped && q->head == NULL) {
        uv_idle_stop(&q->idle);
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
