/* SPDX-License-Identifier: MIT
 * hub.c: one order for the loops of one relay (hub.h). */
#include "core/hub.h"
#include "base/alloc.h"
#include "base/thread.h"

#include <stdlib.h>

hr_hub_t *hr_hub_new(unsigned nloops)
{
    hr_hub_t *h = hr_xcalloc(1, sizeof *h + nloops * sizeof h->in[0]);
    pthread_mutex_init(&h->lock, NULL);
    h->nloops = nloops;
    return h;
}

static void on_wake(uv_async_t *a)
{
    hr_hub_inbox_t *in = a->data;
    hr_hub_t *h = in->broker->hub;
    hr_hub_deliver(h, (unsigned)(in - h->in));
}

void hr_hub_attach(hr_hub_t *h, unsigned i, hr_broker_t *b)
{
    hr_hub_inbox_t *in = &h->in[i];
    in->broker = b;
    b->hub = h;
    uv_async_init(b->loop->uv, &in->wake, on_wake);
    in->wake.data = in;
    uv_unref((uv_handle_t *)&in->wake);
    pthread_mutex_lock(&h->lock);
    in->open = 1;
    pthread_mutex_unlock(&h->lock);
}

static void push(hr_hub_inbox_t *in, hr_event_t *ev)
{
    if (in->n == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 64;
        in->q = hr_xrealloc(in->q, in->cap * sizeof *in->q);
    }
    in->q[in->n++] = hr_event_ref(ev);
}

void hr_hub_place(hr_hub_t *h, hr_event_t *ev, uint64_t time_ms)
{
    hr_broker_t *own = h->in[0].broker;
    pthread_mutex_lock(&h->lock);
    /* Placing and queueing under one lock: every inbox gets the events in
     * the order of their seqs. */
    hr_event_place(ev, (hr_slice_t){own->epoch, own->epoch_len}, ++h->seq, time_ms);
    for (unsigned i = 0; i < h->nloops; i++) {
        hr_hub_inbox_t *in = &h->in[i];
        int was_empty = in->n == 0;
        push(in, ev);
        /* A wake is sent once per batch; sent under the lock, so that
         * detach cannot close the handle in between. */
        if (in->open && was_empty && i != hr_thread_self)
            uv_async_send(&in->wake);
    }
    pthread_mutex_unlock(&h->lock);
}

void hr_hub_deliver(hr_hub_t *h, unsigned i)
{
    hr_hub_inbox_t *in = &h->in[i];
    if (in->delivering)
        return; /* the outer call delivers the rest, in order */
    in->delivering = 1;
    hr_broker_t *b = in->broker;
    for (;;) {
        pthread_mutex_lock(&h->lock);
        hr_event_t **q = in->q;
        size_t n = in->n;
        in->q = NULL;
        in->n = in->cap = 0;
        pthread_mutex_unlock(&h->lock);
        if (n == 0)
            break;
        for (size_t k = 0; k < n; k++) {
            hr_event_t *ev = q[k];
            b->seq = ev->seq;
            hr_broker_fanout(b, ev, 1);
            hr_event_unref(ev);
        }
        free(q);
    }
    in->delivering = 0;
}

static void on_closed(uv_handle_t *hd)
{
    (void)hd;
}

void hr_hub_detach(hr_hub_t *h, unsigned i)
{
    hr_hub_inbox_t *in = &h->in[i];
    pthread_mutex_lock(&h->lock);
    int was = in->open;
    in->open = 0;
    pthread_mutex_unlock(&h->lock);
    if (was)
        uv_close((uv_handle_t *)&in->wake, on_closed);
}

void hr_hub_free(hr_hub_t *h)
{
    if (h == NULL)
        return;
    for (unsigned i = 0; i < h->nloops; i++) {
        for (size_t k = 0; k < h->in[i].n; k++)
            hr_event_unref(h->in[i].q[k]);
        free(h->in[i].q);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}
