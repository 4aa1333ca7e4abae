/* SPDX-License-Identifier: MIT
 * fuzz_deflate.c: libFuzzer target for permessage-deflate (deflate.c).
 * Byte 0 picks the mode, byte 1 a parameter, the rest is the input:
 * - 0: an extension offer. An accepted offer has windows in range, and its
 *   answer, read back as an offer, is accepted with the same parameters
 *   and answers the same text (a well-formed, self-consistent answer).
 * - 1: arbitrary bytes inflated under a cap (byte 1 * 16), with and without
 *   context takeover: never more than the cap out, nothing out on failure.
 *   The second message checks a stream left by the first.
 * - 2: compress, then inflate: the same bytes back, with our inflater and
 *   with zlib limited to exactly the agreed window. Any disagreement aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/deflate.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static void fuzz_offer(const uint8_t *data, size_t size)
{
    hr_deflate_params_t p;
    int declined = 0;
    if (!hr_deflate_offer((const char *)data, size, &p, &declined))
        return;
    check(p.server_bits >= 9 && p.server_bits <= 15);
    check(p.client_bits == 0 || (p.client_bits >= 8 && p.client_bits <= 15));
    check(p.server_bits_named || p.server_bits == 15);
    char a[HR_DEFLATE_ANSWER_MAX];
    size_t n = hr_deflate_answer(&p, a);
    check(n == strlen(a) && n < HR_DEFLATE_ANSWER_MAX);
    hr_deflate_params_t q;
    check(hr_deflate_offer(a, n, &q, NULL) == 1);
    check(q.server_bits == p.server_bits && q.client_bits == p.client_bits &&
          q.client_no_context == p.client_no_context && q.server_bits_named == p.server_bits_named);
    char b[HR_DEFLATE_ANSWER_MAX];
    check(hr_deflate_answer(&q, b) == n && memcmp(a, b, n) == 0);
}

static void fuzz_inflate(const uint8_t *data, size_t size, unsigned param)
{
    size_t cap = (param >> 1) * 16;
    int keep = param & 1;
    hr_inflater_t *z = hr_inflater_new();
    size_t half = size / 2;
    const uint8_t *part[2] = {data, data + half};
    size_t plen[2] = {half, size - half};
    for (int i = 0; i < 2; i++) {
        uint8_t *out;
        size_t n;
        int rc = hr_inflater_message(z, part[i], plen[i], cap, keep, &out, &n);
        check(rc == HR_INFLATE_OK || rc == HR_INFLATE_TOO_BIG || rc == HR_INFLATE_CORRUPT);
        if (rc != HR_INFLATE_OK) {
            check(out == NULL && n == 0);
            break;
        }
        check(out != NULL && n <= cap);
        free(out);
    }
    hr_inflater_free(z);
}

static void fuzz_round_trip(const uint8_t *data, size_t size, unsigned param)
{
    int bits = 9 + (int)(param % 7);
    int level = 1 + (int)(param / 7 % 9);
    hr_deflater_t *d = hr_deflater_new(bits, level);
    check(d != NULL);
    uint8_t *c;
    long cn = hr_deflater_compress(d, data, size, 3, &c);
    check(cn > 0);
    hr_inflater_t *z = hr_inflater_new();
    uint8_t *out;
    size_t n;
    check(hr_inflater_message(z, c + 3, (size_t)cn, size, 0, &out, &n) == HR_INFLATE_OK);
    check(n == size && (size == 0 || memcmp(out, data, size) == 0));
    free(out);
    hr_inflater_free(z);

    /* A client's zlib, with no more window than agreed. */
    z_stream s;
    memset(&s, 0, sizeof s);
    check(inflateInit2(&s, -bits) == Z_OK);
    uint8_t *in = malloc((size_t)cn + 4);
    memcpy(in, c + 3, (size_t)cn);
    memcpy(in + cn, "\x00\x00\xff\xff", 4);
    uint8_t *back = malloc(size + 1);
    s.next_in = in;
    s.avail_in = (uInt)cn + 4;
    s.next_out = back;
    s.avail_out = (uInt)size + 1;
    int rc = inflate(&s, Z_SYNC_FLUSH);
    check(rc == Z_OK || rc == Z_BUF_ERROR);
    check(s.avail_in == 0 && s.avail_out == 1);
    check(size == 0 || memcmp(back, data, size) == 0);
    inflateEnd(&s);
    free(back);
    free(in);
    free(c);
    hr_deflater_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned mode = data[0] % 3, param = data[1];
    data += 2;
    size -= 2;
    if (mode == 0)
        fuzz_offer(data, size);
    else if (mode == 1)
        fuzz_inflate(data, size, param);
    else
        fuzz_round_trip(data, size, param);
    return 0;
}
