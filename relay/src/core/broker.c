/* SPDX-License-Identifier: MIT
 * broker.c: what every broker does alike (broker.h): ids, local fan-out,
 * finishing resumes, counting. */
#include "core/broker.h"

hr_history_cfg_t hr_history_cfg;

static const hr_opt_t opts[] = {
    {"history_size", HR_OPT_LONG, &hr_history_cfg.history_size, 0, 1000000, "100",
     "messages kept per channel (100)"},
    {"history_ttl", HR_OPT_LONG, &hr_history_cfg.history_ttl, 1, 86400 * 30, "300",
     "seconds kept in history (300)"},
    {"history_max_bytes", HR_OPT_LONG, &hr_history_cfg.history_max_bytes, 1024, 1L << 40,
     "268435456", "bytes of history, every channel together; past it the oldest go (256 MiB)"},
};

const hr_opt_group_t hr_history_options = {opts, HR_ARRAY_SIZE(opts), NULL};

static void on_used(void *ud, const char *name, size_t len, int used)
{
    hr_broker_t *b = ud;
    b->ops->channel_used(b, name, len, used);
}

void hr_broker_init(hr_broker_t *b, const hr_broker_ops_t *ops, hr_loop_t *L)
{
    b->ops = ops;
    b->loop = L;
    if (ops->channel_used) {
        L->chans.on_used = on_used;
        L->chans.on_used_ud = b;
    }
    hr_metrics_t *reg = &L->metrics;
    const char *help = "Messages published.";
    hr_metrics_add(reg, "herald_messages_published_total", HR_COUNTER, help, "transport=\"sse\"",
                   &b->published[HR_TARGET_SSE]);
    hr_metrics_add(reg, "herald_messages_published_total", HR_COUNTER, help, "transport=\"ws\"",
                   &b->published[HR_TARGET_WS]);
    hr_metrics_add(reg, "herald_messages_published_total", HR_COUNTER, help, "transport=\"all\"",
                   &b->published[HR_TARGET_ALL]);
    hr_metrics_add(reg, "herald_messages_published_total", HR_COUNTER, help,
                   "transport=\"presence\"", &b->published[HR_TARGET_PRESENCE]);
    hr_metrics_add(reg, "herald_messages_published_total", HR_COUNTER, help, "transport=\"direct\"",
                   &b->published[HR_TARGET_DIRECT]);
    hr_metrics_add(reg, "herald_messages_published_total", HR_COUNTER, help,
                   "transport=\"mercure\"", &b->published_mercure);
    help = "SSE reconnections with a Last-Event-ID, by result.";
    hr_metrics_add(reg, "herald_resumes_total", HR_COUNTER, help, "result=\"exact\"",
                   &b->resumes_exact);
    hr_metrics_add(reg, "herald_resumes_total", HR_COUNTER, help, "result=\"gap\"",
                   &b->resumes_gap);
}

size_t hr_broker_position(const hr_broker_t *b, char out[HR_ID_MAX])
{
    return hr_id_format(out, (hr_slice_t){b->epoch, b->epoch_len}, b->seq);
}

int hr_broker_parse_id(const hr_broker_t *b, hr_slice_t id, uint64_t *seq)
{
    return hr_id_parse((hr_slice_t){b->epoch, b->epoch_len}, id, seq);
}

void hr_broker_count(hr_broker_t *b, int target)
{
    if (target & HR_TARGET_MERCURE)
        b->published_mercure++;
    else if (target >= 0 && target <= HR_TARGET_DIRECT)
        b->published[target]++;
}

void hr_broker_fanout(hr_broker_t *b, hr_event_t *ev, int keep)
{
    hr_chans_t *chans = &b->loop->chans;
    /* The Mercure front remembers where each update id is (Last-Event-ID). */
    if (ev->mercure.len && b->loop->on_mercure)
        b->loop->on_mercure(b->loop->on_mercure_ud, ev);
    /* A message to one connection or user (herald_send) is for whoever
     * holds that channel now: no history, nothing to resume. */
    if (ev->target == HR_TARGET_DIRECT)
        keep = 0;
    for (int i = 0; i < ev->nchannels; i++) {
        const hr_slice_t *name = &ev->channels[i];
        /* History is kept even without subscribers; delivery needs some. */
        hr_chan_t *ch =
            keep ? hr_chan_get(chans, name->p, name->len) : hr_chan_find(chans, name->p, name->len);
        if (ch == NULL)
            continue;
        if (keep)
            hr_chan_keep(chans, ch, ev);
        hr_chan_publish(chans, ch, ev, i);
    }
    hr_event_trim(ev);
}

void hr_broker_set_accepting(hr_broker_t *b, const char *why)
{
    if ((why == NULL) == (b->refusing == NULL))
        return;
    b->refusing = why;
    if (b->on_accepting)
        b->on_accepting(b->on_accepting_ud, why);
}

void hr_broker_resume_done(hr_broker_t *b, hr_resume_t *r)
{
    int fresh = r->fresh;
    int gaps = hr_resume_finish(r);
    if (fresh)
        return;
    if (gaps > 0)
        b->resumes_gap++;
    else if (gaps == 0)
        b->resumes_exact++;
}
