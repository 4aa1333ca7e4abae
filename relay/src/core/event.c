/* SPDX-License-Identifier: MIT
 * event.c: published messages and their cached encodings (event.h). */
#include "core/event.h"

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
    e->serial = ++serials;
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
    hr_event_live++;
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

void hr_event_trim(hr_event_t *e)
{
    for (uint16_t i = 0; i < e->nenc; i++)
        hr_buf_unref(e->enc[i].buf);
    free(e->enc);
    e->enc = NULL;
    e->nenc = e->capenc = 0;
}

void hr_event_unref(hr_event_t *e)
{
    if (--e->refcnt > 0)
        return;
    hr_event_trim(e);
    hr_event_live--;
    free(e);
}

hr_buf_t *hr_event_cached(const hr_event_t *e, int slot, int chan)
{
    for (uint16_t i = 0; i < e->nenc; i++)
        if (e->enc[i].slot == slot && e->enc[i].chan == chan)
            return e->enc[i].buf;
    return NULL;
}

hr_buf_t *hr_event_cache_put(hr_event_t *e, int slot, int chan, hr_buf_t *b)
{
    if (e->nenc == e->capenc) {
        e->capenc = e->capenc ? (uint16_t)(e->capenc * 2) : 2;
        e->enc = hr_xrealloc(e->enc, e->capenc * sizeof *e->enc);
    }
    e->enc[e->nenc++] = (hr_enc_t){b, (int16_t)chan, (uint8_t)slot};
    return b;
}

hr_buf_t *hr_event_encoding(hr_event_t *e, int slot, int chan, hr_encode_fn fn)
{
    /* Its own search: an fn may give NULL (skip), and that is cached too. */
    for (uint16_t i = 0; i < e->nenc; i++)
        if (e->enc[i].slot == slot && e->enc[i].chan == chan)
            return e->enc[i].buf;
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
