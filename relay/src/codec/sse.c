/* SPDX-License-Identifier: MIT
 * sse.c: Server-Sent Events encoding (WHATWG HTML, "server-sent events").
 * The SSE transport sizes an event with hr_sse_event_len, allocates once and encodes it
 * with hr_sse_encode_event; both walk the data with the same line splitter,
 * so the size and the bytes written cannot disagree. */
#include "codec/sse.h"

#include <string.h>

#define DATA_PREFIX "data: "

/* Find the line of d that starts at *pos: its length goes to *line_len and
 * *pos moves past its terminator. Returns 1 if a terminator ended the line
 * (so another line, possibly empty, follows) or 0 for the last line. CRLF,
 * CR and LF are the three terminators the WHATWG parser accepts; we split on
 * all of them because a lone CR left inside a data line would end that line
 * at the client and turn the rest into a field of its own. */
static int next_line(hr_slice_t d, size_t *pos, size_t *line_len)
{
    size_t i = *pos;

    while (i < d.len && d.p[i] != '\r' && d.p[i] != '\n')
        i++;
    *line_len = i - *pos;
    if (i == d.len) {
        *pos = i;
        return 0;
    }
    if (d.p[i] == '\r' && i + 1 < d.len && d.p[i + 1] == '\n')
        i++;
    *pos = i + 1;
    return 1;
}

/* Decimal digits of v into out (if not NULL); returns how many. */
static size_t put_ulong(char *out, unsigned long v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (out != NULL) {
        for (size_t i = 0; i < n; i++)
            out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* memcpy that accepts the { NULL, 0 } slice (memcpy's arguments are
 * declared nonnull even for a zero length). */
static char *put(char *o, const char *s, size_t n)
{
    if (n > 0)
        memcpy(o, s, n);
    return o + n;
}

size_t hr_sse_event_len(hr_slice_t id, hr_slice_t event, long retry_ms, hr_slice_t data)
{
    size_t n = 1; /* the blank line that dispatches the event */
    size_t pos = 0, line_len, more;

    if (id.len > 0)
        n += sizeof "id: " - 1 + id.len + 1;
    if (event.len > 0)
        n += sizeof "event: " - 1 + event.len + 1;
    if (retry_ms > 0)
        n += sizeof "retry: " - 1 + put_ulong(NULL, (unsigned long)retry_ms) + 1;
    do {
        more = (size_t)next_line(data, &pos, &line_len);
        n += sizeof DATA_PREFIX - 1 + line_len + 1;
    } while (more);
    return n;
}

size_t hr_sse_encode_event(char *out, hr_slice_t id, hr_slice_t event, long retry_ms,
                           hr_slice_t data)
{
    char *o = out;
    size_t pos = 0, line_len;
    int more;

    if (id.len > 0) {
        o = put(o, "id: ", 4);
        o = put(o, id.p, id.len);
        *o++ = '\n';
    }
    if (event.len > 0) {
        o = put(o, "event: ", 7);
        o = put(o, event.p, event.len);
        *o++ = '\n';
    }
    if (retry_ms > 0) {
        o = put(o, "retry: ", 7);
        o += put_ulong(o, (unsigned long)retry_ms);
        *o++ = '\n';
    }
    do {
        size_t start = pos;
        more = next_line(data, &pos, &line_len);
        o = put(o, DATA_PREFIX, sizeof DATA_PREFIX - 1);
        if (line_len > 0) /* data.p may be NULL when data is empty */
            o = put(o, data.p + start, line_len);
        *o++ = '\n';
    } while (more);
    *o++ = '\n';
    return (size_t)(o - out);
}

int hr_sse_field_valid(hr_slice_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == '\0')
            return 0;
    }
    return 1;
}

size_t hr_sse_retry(char *out, long retry_ms)
{
    char *o = out;

    /* A client ignores a retry field that is not all ASCII digits, so a
     * negative value would be a silent no-op: send 0 instead. */
    if (retry_ms < 0)
        retry_ms = 0;
    o = put(o, "retry: ", 7);
    o += put_ulong(o, (unsigned long)retry_ms);
    o = put(o, "\n\n", 2);
    *o = '\0'; /* not counted; at most 29 of the 32 bytes are used */
    return (size_t)(o - out);
}
