/* SPDX-License-Identifier: MIT
 * utf8.h: strict UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), incremental so that a text message split across
 * WebSocket fragments fails at the first bad byte. Pure. */
#ifndef HR_UTF8_H
#define HR_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define HR_UTF8_ACCEPT 0u  /* at a character boundary, all valid so far */
#define HR_UTF8_REJECT 12u /* invalid: sticky, every later feed returns it */

/* Feed len bytes to a validator in state (start with HR_UTF8_ACCEPT) and
 * return the new state: HR_UTF8_ACCEPT, HR_UTF8_REJECT, or another value
 * meaning "valid so far, inside a multi-byte character". */
uint32_t hr_utf8_feed(uint32_t state, const uint8_t *s, size_t len);

/* 1 if s[0..len) is complete, valid UTF-8, else 0. */
int hr_utf8_valid(const uint8_t *s, size_t len);

#endif
