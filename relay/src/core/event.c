/* SPDX-License-Identifier: MIT
 * event.c: published messages and their cached encodings (event.h). */
#include "core/event.h"
#include "base/thread.h"

#include <stdlib.h>
#include <string.h>

int64_t hr_event_live;
static int nslots;
static uint64_t serials;

int hr_event_slot(void)
{
    if (nslots == HR_EVENT_SLOTS)
        abort(); /* a programming error: more transports than slots */
    return nslots++;
}

static int has_channel(const hr_event_t *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->nchannels; i++)
        if (e->channels[i].len == len && memcmp(e->channels[i].p, name, len) == 0)
            return 1;
    return 0;
}

hr_event_t *hr_event_new(int target, int binary, long retry, hr_slice_t name, hr_slice_t data,
                         const hr_slice_t *channels, size_t nchannels)
{
    hr_slice_t none = {NULL, 0};
    return hr_event_new_sent(target, binary, retry, name, data, none, none, channels, nchannels);
}

hr_event_t *hr_event_new_sent(int target, int binary, long retry, hr_slice_t name, hr_slice_t data,
                              hr_slice_t user, hr_slice_t mercure, const hr_slice_t *channels,
                              size_t nchannels)
{
    size_t extra = name.len + data.len + user.len + mercure.len;
    for (size_t i = 0; i < nchannels; i++)
        extra += channels[i].len;
    hr_event_t *e = hr_xcalloc(1, sizeof *e + nchannels * sizeof(hr_slice_t) + extra);
    char *w = (char *)&e->channels[nchannels];
    e->refcnt = 1;
    e->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
    e->target = (uint8_t)target;
    e->binary = (uint8_t)(binary != 0);
    e->retry = retry;
    for (size_t i = 0; i < nchannels; i++) {
        if (has_channel(e, channels[i].p, channels[i].len))
            continue;
        memcpy(w, channels[i].p, channels[i].len);
        e->channels[e->nchannels++] = (hr_slice_t){w, channels[i].len};
        w += channels[i].len;
    }
    /* memcpy's source must not be NULL even for a zero length (UBSan). */
    if (name.len)
        memcpy(w, name.p, name.len);
    e->name = (hr_slice_t){w, name.len};
    w += name.len;
    if (data.len)
        memcpy(w, data.p, data.len);
    e->data = (hr_slice_t){w, data.len};
    w += data.len;
    if (user.len)
        memcpy(w, user.p, user.len);
    e->user = (hr_slice_t){w, user.len};
    w += user.len;
    if (mercure.len)
        memcpy(w, mercure.p, mercure.len);
    e->mercure = (hr_slice_t){w, mercure.len};
    __atomic_add_fetch(&hr_event_live, 1, __ATOMIC_RELAXED);
    return e;
}

void hr_event_set_except(hr_event_t *e, hr_slice_t id)
{
    e->except_len = id.len <= HR_EXCEPT_MAX ? (uint8_t)id.len : 0;
    if (e->except_len)
        memcpy(e->except, id.p, id.len);
}

void hr_event_place(hr_event_t *e, hr_slice_t epoch, uint64_t seq, uint64_t time_ms)
{
    e->seq = seq;
    e->time_ms = time_ms;
    e->idlen = (uint8_t)hr_id_format(e->id, epoch, seq);
}

static void list_free(hr_enc_list_t *l)
{
    for (uint16_t i = 0; i < l->n; i++)
        hr_buf_unref(l->v[i].buf);
    free(l->v);
    *l = (hr_enc_list_t){0};
}

/* The calling loop's list; with create, the other loops' array is made on
 * first need (one compare-and-swap: two loops may race to make it). */
static hr_enc_list_t *own_list(const hr_event_t *ce, int create)
{
    hr_event_t *e = (hr_event_t *)ce;
    unsigned self = hr_thread_self;
    if (self == 0)
        return &e->enc;
    hr_enc_list_t *w = __atomic_load_n(&e->encw, __ATOMIC_ACQUIRE);
    if (w == NULL) {
        if (!create)
            return NULL;
        hr_enc_list_t *fresh = hr_xcalloc(hr_threads - 1, sizeof *fresh);
        if (__atomic_compare_exchange_n(&e->encw, &w, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            w = fresh;
        else
            free(fresh); /* another loop made it first: w is theirs */
    }
    return &w[self - 1];
}

void hr_event_trim(hr_event_t *e)
{
    hr_enc_list_t *l = own_list(e, 0);
    if (l)
        list_free(l);
}

void hr_event_unref(hr_event_t *e)
{
    if (__atomic_sub_fetch(&e->refcnt, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    /* The last reference: no loop uses the event any more. */
    list_free(&e->enc);
    if (e->encw) {
        for (unsigned i = 0; i + 1 < hr_threads; i++)
            list_free(&e->encw[i]);
        free(e->encw);
    }
    __atomic_sub_fetch(&hr_event_live, 1, __ATOMIC_RELAXED);
    free(e);
}

hr_buf_t *hr_event_cached(const hr_event_t *e, int slot, int chan)
{
    const hr_enc_list_t *l = own_list(e, 0);
    for (uint16_t i = 0; l && i < l->n; i++)
        if (l->v[i].slot == slot && l->v[i].chan == chan)
            return l->v[i].buf;
    return NULL;
}

hr_buf_t *hr_event_cache_put(hr_event_t *e, int slot, int chan, hr_buf_t *b)
{
    hr_enc_list_t *l = own_list(e, 1);
    if (l->n == l->cap) {
        l->cap = l->cap ? (uint16_t)(l->cap * 2) : 2;
        l->v = hr_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (hr_enc_t){b, (int16_t)chan, (uint8_t)slot};
    return b;
}

hr_buf_t *hr_event_encoding(hr_event_t *e, int slot, int chan, hr_encode_fn fn)
{
    /* Its own search: an fn may give NULL (skip), and that is cached too. */
    const hr_enc_list_t *l = own_list(e, 0);
    for (uint16_t i = 0; l && i < l->n; i++)
        if (l->v[i].slot == slot && l->v[i].chan == chan)
            return l->v[i].buf;
    return hr_event_cache_put(e, slot, chan, fn(e, chan));
}

size_t hr_event_size(const hr_event_t *e)
{
    size_t n = sizeof *e + e->nchannels * sizeof(hr_slice_t) + e->name.len + e->data.len +
               e->user.len + e->mercure.len;
    for (size_t i = 0; i < e->nchannels; i++)
        n += e->channels[i].len;
    return n;
}
