/* SPDX-License-Identifier: MIT
 * fastcgi.h: the client side of FastCGI 1.0 (the responder role), pure: no
 * sockets, no libuv. hooks/fcgi_pool.c encodes each hook request with
 * hr_fcgi_request, feeds what the application server (php-fpm) answers to a
 * hr_fcgi_reader_t, and splits the collected stdout into CGI headers and
 * body with hr_cgi_split. Fuzzed by tests/fuzz/fuzz_fastcgi.c. */
#ifndef HR_FASTCGI_H
#define HR_FASTCGI_H

#include "base/buf.h"
#include "base/common.h"

#define HR_FCGI_VERSION     1
#define HR_FCGI_HEADER_LEN  8
#define HR_FCGI_MAX_CONTENT 65535

enum hr_fcgi_type {
    HR_FCGI_BEGIN_REQUEST = 1,
    HR_FCGI_ABORT_REQUEST = 2,
    HR_FCGI_END_REQUEST = 3,
    HR_FCGI_PARAMS = 4,
    HR_FCGI_STDIN = 5,
    HR_FCGI_STDOUT = 6,
    HR_FCGI_STDERR = 7,
};

#define HR_FCGI_RESPONDER 1
#define HR_FCGI_KEEP_CONN 1

/* protocolStatus of END_REQUEST. */
enum hr_fcgi_proto_status {
    HR_FCGI_REQUEST_COMPLETE = 0,
    HR_FCGI_CANT_MPX_CONN = 1,
    HR_FCGI_OVERLOADED = 2,
    HR_FCGI_UNKNOWN_ROLE = 3,
};

typedef struct hr_fcgi_param {
    hr_slice_t name, value;
} hr_fcgi_param_t;

/* One whole request as one buffer (refcnt 1): BEGIN_REQUEST (responder,
 * FCGI_KEEP_CONN), the params as PARAMS records then an empty PARAMS, the
 * body as STDIN records of at most 65535 bytes then an empty STDIN. Every
 * record is padded to a multiple of 8 bytes. Returns NULL when a name or
 * value is longer than 2^31-1 bytes or the request would pass 4 GiB. */
hr_buf_t *hr_fcgi_request(uint16_t id, const hr_fcgi_param_t *params, size_t nparams,
                          const void *body, size_t len);

/* Reads the records of one response: STDOUT and STDERR are collected (at
 * most max bytes of both together), END_REQUEST ends it. Zero-fill it
 * through hr_fcgi_reader_init; free with hr_fcgi_reader_free. */
typedef struct hr_fcgi_reader {
    uint16_t id;     /* the request id expected */
    size_t max;      /* stdout + stderr bytes at most */
    uint8_t head[8]; /* the record header being read */
    size_t head_n;   /* bytes of head read so far */
    size_t content;  /* content bytes of the current record still to come */
    size_t padding;  /* padding bytes still to skip */
    uint8_t end[8];  /* END_REQUEST's body */
    size_t end_n;    /* bytes of it read */
    uint8_t *out;    /* stdout, malloc'd */
    size_t out_len, out_cap;
    uint8_t *err; /* stderr, malloc'd */
    size_t err_len, err_cap;
    uint32_t app_status; /* END_REQUEST's appStatus */
    int done;            /* END_REQUEST read */
    int status;          /* 0, or HR_EPROTO / HR_ETOOBIG: sticky */
    char errstr[80];     /* why, when status != 0 */
} hr_fcgi_reader_t;

void hr_fcgi_reader_init(hr_fcgi_reader_t *r, uint16_t id, size_t max);
void hr_fcgi_reader_free(hr_fcgi_reader_t *r);

/* Feed the next len bytes of the stream (records split anywhere).
 * Returns HR_AGAIN when all were consumed and the response goes on; the
 * bytes consumed (>0, up to the end of END_REQUEST's record) when the
 * response is complete (r->done; bytes after it are not the response's:
 * a well-behaved server sends none); HR_EPROTO (bad version, unexpected
 * type, a record of another request, a bad END_REQUEST, a protocolStatus
 * other than REQUEST_COMPLETE) or HR_ETOOBIG (more than max bytes of
 * output), with r->errstr saying why. Errors are sticky; feeding after
 * done returns HR_EPROTO. */
ssize_t hr_fcgi_reader_feed(hr_fcgi_reader_t *r, const uint8_t *p, size_t len);

/* A CGI response (the stdout of a responder): header lines (CRLF or LF)
 * up to an empty line, then the body. Status comes from a `Status: NNN
 * reason` header (100..599), 200 without one. Returns 0 and fills *status
 * and *body_off, or HR_EPROTO (no empty line ending the headers, a line
 * that is not a header, a bad Status) with errstr filled when not NULL. */
int hr_cgi_split(const uint8_t *p, size_t len, int *status, size_t *body_off, char *errstr,
                 size_t errlen);

#endif
