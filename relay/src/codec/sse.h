/* SPDX-License-Identifier: MIT
 * sse.h: Server-Sent Events encoding per the WHATWG HTML "server-sent
 * events" section. Pure: writes into caller buffers. The SSE transport
 * (net/transport_sse.c) encodes each published event once with it. */
#ifndef HR_SSE_H
#define HR_SSE_H

#include "base/common.h"

/* Bytes hr_sse_encode_event will write for these fields. */
size_t hr_sse_event_len(hr_slice_t id, hr_slice_t event, long retry_ms, hr_slice_t data);

/* Encode one event into out (which holds hr_sse_event_len bytes):
 *   "id: <id>\n" (if id.len), "event: <event>\n" (if event.len),
 *   "retry: <ms>\n" (if retry_ms > 0), then "data: <line>\n" for each line of
 *   data, where CRLF, CR and LF each end a line (so "a\r\nb" is two lines
 *   and a trailing line break yields a final empty data line), then "\n".
 * Empty data encodes as one "data: \n" line so the event still dispatches.
 * id and event must not contain CR, LF or NUL (callers validate). Returns
 * bytes written. */
size_t hr_sse_encode_event(char *out, hr_slice_t id, hr_slice_t event, long retry_ms,
                           hr_slice_t data);

/* 1 if s is usable as an event name or id: no CR, LF or NUL. */
int hr_sse_field_valid(hr_slice_t s);

/* "retry: <ms>\n\n" into out (>= 32 bytes); returns length. */
size_t hr_sse_retry(char *out, long retry_ms);

#define HR_SSE_PING "\x3a ping\n\n" /* comment line: keeps proxies from timing out */

#endif
