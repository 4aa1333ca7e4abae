/* SPDX-License-Identifier: MIT
 * json_check.h: is this text one JSON value (RFC 8259)? The relay asks it of
 * every ingest frame marked json: true (codec/frame.c) and of every such
 * event a state file brings back (core/state.c), before herald.v1 embeds the
 * text in its envelopes as a value: a publisher is untrusted, and what it
 * sends must not be able to break an envelope. It is on the publish path,
 * so it builds nothing: one pass, no allocation, no recursion (a bit per
 * open container on the stack): about 1 to 1.5 GB/s, 45 ns for a 50-byte
 * object, a twentieth of a parse with jansson (`make bench-json`). Pure;
 * fuzzed (tests/fuzz/fuzz_json_check.c, differential against jansson, and
 * fuzz_frame.c). */
#ifndef HR_JSON_CHECK_H
#define HR_JSON_CHECK_H

#include <stddef.h>

/* Containers open at once, at most. Deeper text is refused: PHP's
 * json_encode() stops at 512 by default, so nothing PHP makes is. */
#define HR_JSON_MAX_DEPTH 1024

/* NULL when p[0..len) is exactly one JSON value (any: object, array,
 * string, number, true, false, null), with optional whitespace around it.
 * Otherwise a short static reason ("unexpected end", "bad escape", ...),
 * and *at (when at is not NULL) the offset of the byte it stopped at.
 * Grammar only: bytes of 0x80 and above inside strings are taken as they
 * are, so the caller checks UTF-8 itself (base/utf8.h) when it must. */
const char *hr_json_check(const char *p, size_t len, size_t *at);

#endif
