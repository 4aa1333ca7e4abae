/* SPDX-License-Identifier: MIT
 * fuzz_frame.c: the ingest decoder as ingest.c drives it: bytes go, in
 * chunks whose size the input picks, through the boundary scanner
 * (mpscan.c) into msgpack-c's streaming unpacker, which parses only the
 * values the scanner found complete; each value is validated by
 * hr_frame_parse. Differential check: whenever the scanner reports k
 * complete values, the unpacker must produce exactly k (and no more).
 * The JSON check (json_check.c) runs on the raw input and on every pub
 * frame's data, and a frame accepted as json must hold one JSON value. */
#include "codec/frame.h"
#include "codec/json_check.h"
#include "codec/mpscan.h"
#include "base/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_frame(const hr_frame_t *f)
{
    if (f->op != HR_OP_PUB)
        return;
    /* A Mercure update: no channels (the relay derives them), its target
     * from "private", an SSE event whoever receives it. */
    if (f->has_mercure) {
        const hr_mercure_meta_t *m = &f->mercure;
        if (f->nchannels != 0 || f->binary ||
            f->target != (m->priv ? HR_TARGET_MERCURE : HR_TARGET_ALL | HR_TARGET_MERCURE) ||
            !hr_mercure_id_valid(m->id.p, m->id.len) || m->ntopics < 1 ||
            m->ntopics > HR_MERCURE_TOPICS_MAX ||
            !hr_utf8_valid((const uint8_t *)f->data.p, f->data.len) ||
            !hr_mercure_type_valid(f->event.p, f->event.len))
            abort();
        for (size_t i = 0; i < m->ntopics; i++)
            if (!hr_mercure_topic_valid(m->topics[i].p, m->topics[i].len))
                abort();
        return;
    }
    if (f->nchannels == 0 || f->nchannels > HR_FRAME_MAX_CHANNELS)
        abort();
    for (size_t i = 0; i < f->nchannels; i++)
        if (f->channels[i].len == 0 || f->channels[i].len > 200)
            abort();
    if (!f->binary && !hr_utf8_valid((const uint8_t *)f->data.p, f->data.len))
        abort();
    for (size_t i = 0; i < f->event.len; i++)
        if (f->event.p[i] == '\n' || f->event.p[i] == '\r')
            abort();
    if (f->target < HR_TARGET_SSE || f->target > HR_TARGET_ALL ||
        ((f->target & HR_TARGET_SSE) && f->binary))
        abort();
    size_t at = 0;
    const char *why = hr_json_check(f->data.p, f->data.len, &at);
    if (f->json && (f->binary || why != NULL))
        abort();
    if (why != NULL && at > f->data.len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    size_t at = 0;
    if (hr_json_check((const char *)data, size, &at) != NULL && at > size)
        abort(); /* the offset of a refusal is within the text */
    msgpack_unpacker up;
    if (!msgpack_unpacker_init(&up, 32))
        return 0;
    hr_mpscan_t scan;
    memset(&scan, 0, sizeof scan);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (!msgpack_unpacker_reserve_buffer(&up, n))
            abort();
        memcpy(msgpack_unpacker_buffer(&up), data + off, n);
        msgpack_unpacker_buffer_consumed(&up, n);
        int complete = hr_mpscan_feed(&scan, data + off, n, 1 << 20);
        if (complete < 0) {
            if (scan.errstr == NULL)
                abort();
            break;
        }
        for (int i = 0; i < complete; i++) {
            if (msgpack_unpacker_next(&up, &u) != MSGPACK_UNPACK_SUCCESS)
                abort(); /* scanner and unpacker disagree on a boundary */
            hr_frame_t f;
            char err[160];
            if (hr_frame_parse(&u.data, &f, err, sizeof err) == 0)
                check_frame(&f);
            else if (err[0] == '\0')
                abort(); /* a rejection always says why */
        }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&up);
    return 0;
}
