/* SPDX-License-Identifier: MIT
 * loops.c: the relay's event loops and calls between them (loops.h). */
#include "app/loops.h"
#include "base/alloc.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct call {
    hr_call_fn fn;
    void *ud;
} call_t;

typedef struct slot {
    hr_loop_t *L;
    uv_async_t wake;
    call_t *q;
    size_t n, cap;
    int open;
} slot_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t *slots;
static unsigned nslots;

void hr_loops_init(unsigned n)
{
    slots = hr_xcalloc(n, sizeof *slots);
    nslots = n;
}

unsigned hr_loops_count(void)
{
    return nslots ? nslots : 1;
}

/* Take the queue (under the lock) and run it (outside: a call may call). */
static void run_queued(slot_t *s)
{
    pthread_mutex_lock(&lock);
    call_t *q = s->q;
    size_t n = s->n;
    s->q = NULL;
    s->n = s->cap = 0;
    pthread_mutex_unlock(&lock);
    for (size_t k = 0; k < n; k++)
        q[k].fn(s->L, q[k].ud);
    free(q);
}

static void on_wake(uv_async_t *a)
{
    run_queued(a->data);
}

void hr_loops_attach(unsigned i, hr_loop_t *L)
{
    slot_t *s = &slots[i];
    s->L = L;
    uv_async_init(L->uv, &s->wake, on_wake);
    s->wake.data = s;
    uv_unref((uv_handle_t *)&s->wake);
    pthread_mutex_lock(&lock);
    s->open = 1;
    pthread_mutex_unlock(&lock);
}

int hr_loops_call(unsigned i, hr_call_fn fn, void *ud)
{
    if (i >= nslots)
        return -1;
    slot_t *s = &slots[i];
    pthread_mutex_lock(&lock);
    if (!s->open) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->q = hr_xrealloc(s->q, s->cap * sizeof *s->q);
    }
    s->q[s->n++] = (call_t){fn, ud};
    /* Sent under the lock: detach cannot close the handle meanwhile. */
    uv_async_send(&s->wake);
    pthread_mutex_unlock(&lock);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
}

void hr_loops_detach(unsigned i)
{
    if (i >= nslots)
        return;
    slot_t *s = &slots[i];
    pthread_mutex_lock(&lock);
    int was = s->open;
    s->open = 0;
    pthread_mutex_unlock(&lock);
    if (!was)
        return;
    run_queued(s); /* their callers wait for them */
    uv_close((uv_handle_t *)&s->wake, on_closed);
}

void hr_loops_free(void)
{
    free(slots);
    slots = NULL;
    nslots = 0;
}
