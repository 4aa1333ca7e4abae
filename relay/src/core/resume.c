/* SPDX-License-Identifier: MIT
 * resume.c: a resume in progress and how it ends (resume.h). */
#include "core/resume.h"

#include <stdlib.h>
#include <string.h>

hr_resume_t *hr_resume_new(void *owner, const hr_resume_sink_t *sink, int accepts, hr_slice_t since,
                           const hr_slice_t *channels, size_t n)
{
    hr_resume_t *r = hr_xcalloc(1, sizeof *r);
    r->owner = owner;
    r->sink = sink;
    r->accepts = accepts;
    r->since = (hr_slice_t){hr_xstrndup(since.p, since.len), since.len};
    r->channels = hr_xcalloc(n ? n : 1, sizeof *r->channels);
    r->gap = hr_xcalloc(n ? n : 1, 1);
    /* A channel named twice is read once. */
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < r->n && (r->channels[j].len != channels[i].len ||
                            memcmp(r->channels[j].p, channels[i].p, channels[i].len) != 0))
            j++;
        if (j == r->n)
            r->channels[r->n++] =
                (hr_slice_t){hr_xstrndup(channels[i].p, channels[i].len), channels[i].len};
    }
    return r;
}

void hr_resume_add(hr_resume_t *r, hr_event_t *ev)
{
    if (r->nreplay == r->capreplay) {
        r->capreplay = r->capreplay ? r->capreplay * 2 : 16;
        r->replay = hr_xrealloc(r->replay, r->capreplay * sizeof *r->replay);
    }
    r->replay[r->nreplay++] = hr_event_ref(ev);
}

int hr_resume_hold(hr_resume_t *r, hr_event_t *ev, int chan, size_t max_bytes)
{
    if (r->heldbytes + ev->data.len > max_bytes)
        return -1;
    if (r->nheld == r->capheld) {
        r->capheld = r->capheld ? r->capheld * 2 : 16;
        r->held = hr_xrealloc(r->held, r->capheld * sizeof *r->held);
    }
    r->held[r->nheld++] = (hr_hold_t){hr_event_ref(ev), chan};
    r->heldbytes += ev->data.len;
    return 0;
}

static void drop_held(hr_resume_t *r)
{
    for (size_t i = 0; i < r->nheld; i++)
        hr_event_unref(r->held[i].ev);
    r->nheld = r->heldbytes = 0;
}

void hr_resume_detach(hr_resume_t *r)
{
    r->owner = NULL;
    drop_held(r);
}

void hr_resume_free(hr_resume_t *r)
{
    drop_held(r);
    for (size_t i = 0; i < r->nreplay; i++)
        hr_event_unref(r->replay[i]);
    for (size_t i = 0; i < r->n; i++)
        free((char *)r->channels[i].p);
    free(r->replay);
    free(r->held);
    free(r->channels);
    free(r->gap);
    free((char *)r->since.p);
    free(r);
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = (*(hr_event_t *const *)a)->seq, y = (*(hr_event_t *const *)b)->seq;
    return x < y ? -1 : x > y;
}

int hr_resume_finish(hr_resume_t *r)
{
    void *owner = r->owner;
    if (owner == NULL) {
        hr_resume_free(r);
        return 0;
    }
    /* Live events go straight to the owner again from here on. */
    r->sink->done(owner);
    if (r->failed) {
        hr_resume_free(r);
        r->sink->failed(owner, "resume: history unavailable");
        return -1;
    }
    size_t gaps = 0, sent = 0;
    for (size_t i = 0; i < r->n; i++)
        gaps += r->gap[i];
    if (r->nreplay > 1)
        qsort(r->replay, r->nreplay, sizeof *r->replay, cmp_seq);
    for (size_t i = 0; i < r->nreplay; i++)
        if (i == 0 || r->replay[i]->seq != r->replay[i - 1]->seq)
            sent++;
    if (gaps)
        r->sink->gap(owner, r, sent == 0 ? r->position : NULL);
    for (size_t i = 0; i < r->nreplay; i++)
        if (i == 0 || r->replay[i]->seq != r->replay[i - 1]->seq)
            r->sink->replay(owner, r->replay[i]);
    /* Those the replay already carried are at or below the owner's last
     * seq, and its delivery drops them. */
    for (size_t i = 0; i < r->nheld; i++)
        r->sink->live(owner, r->held[i].ev, r->held[i].chan);
    void (*finished)(void *) = r->sink->finished;
    hr_resume_free(r);
    if (finished)
        finished(owner);
    return (int)gaps;
}
