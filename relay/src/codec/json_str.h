/* SPDX-License-Identifier: MIT
 * json_str.h: writing a JSON string, the one way every writer of the relay
 * does it (envelopes, hook requests, presence data, the HTTP publish
 * answer, the Pusher front). Pure. */
#ifndef HR_JSON_STR_H
#define HR_JSON_STR_H

#include <stddef.h>

/* The most bytes hr_json_str writes for len bytes of text. */
#define HR_JSON_STR_ROOM(len) (6 * (size_t)(len) + 2)

/* s[0..len) as a JSON string, quotes included, at out (NULL: only count);
 * returns the bytes it takes. Quotes, backslashes and control characters
 * are escaped (\n \r \t \b \f, the others \u00XX); each byte that does not
 * start a whole, valid UTF-8 character becomes U+FFFD, so the output is
 * valid JSON whatever the bytes. */
size_t hr_json_str(char *out, const char *s, size_t len);

#endif
