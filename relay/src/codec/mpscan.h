/* SPDX-License-Identifier: MIT
 * mpscan.h: a resumable msgpack boundary scanner. It sees every ingest byte
 * once, keeps a few counters (no buffer), and says when a top-level value is
 * complete. ingest/ingest.c lets msgpack-c's streaming unpacker parse only values
 * the scanner has seen whole and within limits: msgpack-c allocates a
 * container's element array as soon as it reads the header, so without this
 * gate five bytes (0xdd ff ff ff ff) would make it try to allocate 96 GiB.
 * Pure. */
#ifndef HR_MPSCAN_H
#define HR_MPSCAN_H

#include "base/common.h"

#define HR_MPSCAN_DEPTH        31    /* nesting limit: under msgpack-c's (fuzz_frame) */
#define HR_MPSCAN_MAX_ELEMENTS 65536 /* array items + map keys and values per value */

typedef struct hr_mpscan {
    uint32_t stack[HR_MPSCAN_DEPTH]; /* elements left in each open container */
    uint8_t depth;
    uint8_t hdr_need;   /* bytes of a length field still to read */
    uint8_t hdr_kind;   /* what the length field belongs to */
    uint8_t dead;       /* an error was seen: sticky */
    uint32_t hdr_val;   /* length field read so far (big-endian) */
    uint64_t skip;      /* payload bytes still to skip */
    uint64_t elements;  /* elements in the value being scanned */
    uint64_t bytes;     /* bytes of the value being scanned */
    const char *errstr; /* why it died */
} hr_mpscan_t;

/* Scan len more bytes of the stream (zero-initialise s first). Returns the
 * number of top-level values completed within these bytes (>= 0), or -1
 * when the stream is not msgpack (0xc1), nests deeper than
 * HR_MPSCAN_DEPTH, or a value has more than HR_MPSCAN_MAX_ELEMENTS elements
 * or more than max_value bytes; s->errstr says which. After -1 every call
 * returns -1. */
int hr_mpscan_feed(hr_mpscan_t *s, const uint8_t *p, size_t len, uint64_t max_value);

/* 1 if the scanner is between values (nothing partial). */
static inline int hr_mpscan_idle(const hr_mpscan_t *s)
{
    return s->bytes == 0;
}

#endif
