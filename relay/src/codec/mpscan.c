/* SPDX-License-Identifier: MIT
 * mpscan.c: msgpack boundary scanning, one byte of type at a time and
 * payloads skipped in bulk. The format's type bytes fall in three groups:
 * scalars of a fixed size (skip), strings/binaries/extensions whose length
 * field comes first (read it, then skip), and containers (push a count). */
#include "codec/mpscan.h"

enum { K_NONE, K_STR, K_EXT, K_ARRAY, K_MAP };

static int fail(hr_mpscan_t *s, const char *why)
{
    s->dead = 1;
    s->errstr = why;
    return -1;
}

/* An element (scalar, string or whole container) ended. Returns 1 when it
 * was a top-level value. */
static int element_done(hr_mpscan_t *s)
{
    while (s->depth > 0) {
        if (--s->stack[s->depth - 1] > 0)
            return 0;
        s->depth--; /* the container is complete: an element of its parent */
    }
    s->elements = 0;
    s->bytes = 0;
    return 1;
}

static int push(hr_mpscan_t *s, uint64_t n, int *done)
{
    s->elements += n;
    if (s->elements > HR_MPSCAN_MAX_ELEMENTS)
        return fail(s, "too many elements in one frame");
    if (n == 0) {
        *done += element_done(s);
        return 0;
    }
    if (s->depth == HR_MPSCAN_DEPTH)
        return fail(s, "msgpack nested too deep");
    s->stack[s->depth++] = (uint32_t)n;
    return 0;
}

/* A length field of kind k was read completely. */
static int length_done(hr_mpscan_t *s, int *done, uint64_t max_value)
{
    uint64_t n = s->hdr_val;
    switch (s->hdr_kind) {
    case K_STR:
        s->skip = n;
        break;
    case K_EXT:
        s->skip = n + 1; /* the type byte, then the data */
        break;
    case K_ARRAY:
        return push(s, n, done);
    case K_MAP:
        return push(s, 2 * n, done);
    }
    /* Refuse an oversized string at its header, before its bytes arrive. */
    if (s->bytes + s->skip > max_value)
        return fail(s, "frame larger than max_frame_bytes");
    if (s->skip == 0)
        *done += element_done(s);
    return 0;
}

int hr_mpscan_feed(hr_mpscan_t *s, const uint8_t *p, size_t len, uint64_t max_value)
{
    int done = 0;
    if (s->dead)
        return -1;
    size_t i = 0;
    while (i < len) {
        if (s->skip) {
            uint64_t n = len - i < s->skip ? len - i : s->skip;
            s->skip -= n;
            s->bytes += n;
            i += n;
            if (s->bytes > max_value)
                return fail(s, "frame larger than max_frame_bytes");
            if (s->skip == 0 && s->hdr_kind != K_NONE) {
                s->hdr_kind = K_NONE;
                done += element_done(s);
            }
            continue;
        }
        uint8_t b = p[i++];
        if (++s->bytes > max_value)
            return fail(s, "frame larger than max_frame_bytes");
        if (s->hdr_need) {
            s->hdr_val = (s->hdr_val << 8) | b;
            if (--s->hdr_need == 0) {
                int kind = s->hdr_kind;
                if (length_done(s, &done, max_value) < 0)
                    return -1;
                /* Strings and extensions go on to skip their payload and
                 * end there; containers and empty payloads are done. */
                if (!((kind == K_STR || kind == K_EXT) && s->skip))
                    s->hdr_kind = K_NONE;
            }
            continue;
        }
        /* A type byte. */
        int fixed = -1; /* payload bytes of a fixed-size type */
        int need = 0, kind = K_NONE;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            fixed = 0;
        } else if (b <= 0x8f) {
            if (push(s, 2u * (b & 0x0f), &done) < 0)
                return -1;
            continue;
        } else if (b <= 0x9f) {
            if (push(s, b & 0x0f, &done) < 0)
                return -1;
            continue;
        } else if (b <= 0xbf) {
            fixed = b & 0x1f;
        } else {
            switch (b) {
            case 0xc1:
                return fail(s, "bytes that are not msgpack");
            case 0xc4:
            case 0xd9:
                need = 1;
                kind = K_STR;
                break;
            case 0xc5:
            case 0xda:
                need = 2;
                kind = K_STR;
                break;
            case 0xc6:
            case 0xdb:
                need = 4;
                kind = K_STR;
                break;
            case 0xc7:
                need = 1;
                kind = K_EXT;
                break;
            case 0xc8:
                need = 2;
                kind = K_EXT;
                break;
            case 0xc9:
                need = 4;
                kind = K_EXT;
                break;
            case 0xca:
                fixed = 4;
                break;
            case 0xcb:
                fixed = 8;
                break;
            case 0xcc:
            case 0xd0:
                fixed = 1;
                break;
            case 0xcd:
            case 0xd1:
                fixed = 2;
                break;
            case 0xce:
            case 0xd2:
                fixed = 4;
                break;
            case 0xcf:
            case 0xd3:
                fixed = 8;
                break;
            case 0xd4:
                fixed = 2;
                break;
            case 0xd5:
                fixed = 3;
                break;
            case 0xd6:
                fixed = 5;
                break;
            case 0xd7:
                fixed = 9;
                break;
            case 0xd8:
                fixed = 17;
                break;
            case 0xdc:
                need = 2;
                kind = K_ARRAY;
                break;
            case 0xdd:
                need = 4;
                kind = K_ARRAY;
                break;
            case 0xde:
                need = 2;
                kind = K_MAP;
                break;
            case 0xdf:
                need = 4;
                kind = K_MAP;
                break;
            }
        }
        if (fixed >= 0) {
            if (fixed == 0) {
                done += element_done(s);
            } else {
                s->skip = (uint64_t)fixed;
                s->hdr_kind = K_STR; /* "payload then done" */
            }
            continue;
        }
        s->hdr_need = (uint8_t)need;
        s->hdr_kind = (uint8_t)kind;
        s->hdr_val = 0;
    }
    return done;
}
