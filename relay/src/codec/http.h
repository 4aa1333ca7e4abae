/* SPDX-License-Identifier: MIT
 * http.h: a small, strict HTTP/1.x request-head parser, in the mould of
 * picohttpparser: it never copies or allocates; names, values and the target
 * point into the caller's buffer. We write our own rather than link
 * libhttp-parser because the relay reads small requests (heads, and bodies
 * framed by Content-Length only: no chunking), wants a hard limit on head
 * size and header count, and keeps no per-connection parser state between
 * reads; the parser is fuzzed (tests/fuzz/fuzz_http.c). Also: how a request
 * frames its body and whether its connection persists (RFC 9112 6 and 9),
 * query-string iteration with percent decoding, and header token matching.
 * Pure. */
#ifndef HR_HTTP_H
#define HR_HTTP_H

#include "base/common.h"

#define HR_HTTP_MAX_HEADERS 64

typedef struct hr_http_header {
    hr_slice_t name;
    hr_slice_t value; /* leading and trailing spaces/tabs trimmed */
} hr_http_header_t;

typedef struct hr_http_request {
    hr_slice_t method;
    hr_slice_t target; /* origin-form: "/path?query" as sent */
    hr_slice_t path;   /* target up to '?' */
    hr_slice_t query;  /* after '?', without it; len 0 if none */
    int minor_version; /* HTTP/1.0 -> 0, HTTP/1.1 -> 1 */
    size_t num_headers;
    hr_http_header_t headers[HR_HTTP_MAX_HEADERS];
} hr_http_request_t;

/* Parse a request head from buf[0..len). Returns the head's length in bytes
 * including the final empty line (>0), HR_AGAIN when the head is incomplete
 * and len < max_head, HR_ETOOBIG when it is incomplete at max_head bytes or
 * has more than HR_HTTP_MAX_HEADERS headers (answer 431), HR_EPROTO when it
 * is malformed (answer 400): bad request line, not HTTP/1.0 or 1.1, control
 * characters, a header line without a colon or with space before it,
 * obsolete line folding, bare CR. Lines end in CRLF or LF. req is filled
 * only on success. */
ssize_t hr_http_parse_request(const char *buf, size_t len, size_t max_head, hr_http_request_t *req);

/* How a request's body is framed (RFC 9112 6.3), as far as a server that
 * takes bodies by Content-Length only needs to know. */
typedef struct hr_http_body_info {
    int has_length;      /* Content-Length present */
    uint64_t length;     /* its value; UINT64_MAX when it does not fit */
    int chunked;         /* Transfer-Encoding present, chunked last */
    int expect_continue; /* Expect: 100-continue in an HTTP/1.1 request */
} hr_http_body_info_t;

/* Read the framing headers of req into *out. Returns 0, or the status a
 * server answers with when the framing cannot be trusted (and then closes):
 * 400 for a Content-Length that is not a decimal number, more than one
 * Content-Length field, Content-Length together with Transfer-Encoding
 * (request smuggling), Transfer-Encoding in HTTP/1.0 or whose last coding is
 * not chunked; 417 for an Expect other than 100-continue (one field, value
 * compared case-insensitively). An HTTP/1.0 request's 100-continue is
 * ignored, as RFC 9110 10.1.1 requires. A request with neither Content-Length
 * nor Transfer-Encoding has no body. out is filled only on success. */
int hr_http_body_info(const hr_http_request_t *req, hr_http_body_info_t *out);

/* 1 if the client lets the connection carry another request after this one
 * (RFC 9112 9.3): HTTP/1.1 unless a Connection field lists "close", HTTP/1.0
 * only when one lists "keep-alive" (and none "close"). */
int hr_http_persistent(const hr_http_request_t *req);

/* First header with this name (ASCII case-insensitive), or NULL. */
const hr_http_header_t *hr_http_header_find(const hr_http_request_t *req, const char *name);

/* 1 if the comma-separated list in value contains token (case-insensitive,
 * surrounding whitespace ignored): "Connection: keep-alive, Upgrade". */
int hr_http_has_token(hr_slice_t value, const char *token);

/* 1 if origin[0..len) is in the comma-separated list ("*" matches any).
 * Origins compare as sent, byte for byte (RFC 6454 serialisation). */
int hr_origin_allowed(const char *list, const char *origin, size_t len);

/* Iterate "k=v&k2=v2" pairs. *pos starts at 0. Each call decodes the next
 * pair ('+' is a space, %XX percent-decoded) into key/val (NUL-terminated,
 * truncated to their cap - 1 and flagged) and returns 1, or returns 0 at the
 * end, or HR_EPROTO for a bad %-escape or a value longer than its cap.
 * The flag for truncation is that HR_EPROTO, for the key as for the value, so
 * a truncated key can never be mistaken for a shorter one. %00 and NUL bytes
 * are refused (the results are C strings). Empty pairs are skipped; "k" alone
 * has an empty val. *pos moves past a bad pair too, so a caller may skip it. */
int hr_http_query_next(hr_slice_t query, size_t *pos, char *key, size_t key_cap, char *val,
                       size_t val_cap);

#endif
