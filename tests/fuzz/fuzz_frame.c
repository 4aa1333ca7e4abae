/* SPDX-License-Identifier: MIT
 * fuzz_frame.c: the ingest decoder as ingest.c drives it: bytes go into
 * msgpack-c's streaming unpacker in chunks (sizes taken from the input), and
 * every value is validated by hr_frame_parse. Invariants: a frame that
 * parses has slices inside the unpacked object's memory with sane bounds,
 * and a parse error is sticky (the relay closes the connection). */
#include "frame.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_frame(const hr_frame_t *f)
{
    if (f->op != HR_OP_PUB)
        return;
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    msgpack_unpacker up;
    if (!msgpack_unpacker_init(&up, 32))
        return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int dead = 0;
    for (size_t off = 0; off < size && !dead; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (!msgpack_unpacker_reserve_buffer(&up, n))
            break;
        memcpy(msgpack_unpacker_buffer(&up), data + off, n);
        msgpack_unpacker_buffer_consumed(&up, n);
        for (;;) {
            msgpack_unpack_return r = msgpack_unpacker_next(&up, &u);
            if (r == MSGPACK_UNPACK_SUCCESS) {
                hr_frame_t f;
                char err[160];
                if (hr_frame_parse(&u.data, &f, err, sizeof err) == 0)
                    check_frame(&f);
                else if (err[0] == '\0')
                    abort(); /* a rejection always says why */
                continue;
            }
            if (r != MSGPACK_UNPACK_CONTINUE)
                dead = 1;
            break;
        }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_unpacker_destroy(&up);
    return 0;
}
