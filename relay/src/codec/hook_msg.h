/* SPDX-License-Identifier: MIT
 * hook_msg.h: the bodies of application hooks (DESIGN.md Contract 5), pure:
 * the JSON request body the relay posts to the application's hook script
 * ({"v":1,"events":[...]}), its HMAC-SHA256 signature, and the reading of
 * the script's answer ({"results":[...]}). The hooks module builds a batch
 * of events with hr_hook_body, signs it with hr_hook_sign, and matches the
 * parsed results to its events by id. Fuzzed by tests/fuzz/fuzz_hook_msg.c. */
#ifndef HR_HOOK_MSG_H
#define HR_HOOK_MSG_H

#include "base/buf.h"
#include "base/common.h"

enum hr_hook_type { HR_HOOK_CONNECT, HR_HOOK_SUBSCRIBE, HR_HOOK_MESSAGE, HR_HOOK_DISCONNECT };

enum hr_hook_data {
    HR_HOOK_DATA_NONE,   /* no "data" member */
    HR_HOOK_DATA_JSON,   /* data is JSON text, written as is (the caller checked it) */
    HR_HOOK_DATA_STRING, /* a JSON string of the bytes (UTF-8) */
    HR_HOOK_DATA_BASE64, /* binary: a base64 string, and "binary":true */
};

typedef struct hr_hook_header {
    hr_slice_t name, value;
} hr_hook_header_t;

/* One event. Strings are written escaped, and bytes that are not UTF-8
 * become U+FFFD: the body is valid JSON whatever the slices hold. */
typedef struct hr_hook_event {
    uint64_t id;              /* below 2^63: results can only name such ids (and below 2^53, any
                                 JSON reader reads it exactly) */
    int type;                 /* hr_hook_type */
    hr_slice_t conn;          /* always written ("" when p is NULL) */
    hr_slice_t user;          /* p NULL: null */
    hr_slice_t channel;       /* p NULL: absent */
    hr_slice_t data;          /* per data_mode; JSON with len 0: null */
    int data_mode;            /* hr_hook_data */
    hr_slice_t transport, ip; /* connect; p NULL: absent */
    const hr_hook_header_t *headers; /* connect: "headers" object, names as given */
    size_t nheaders;
} hr_hook_event_t;

/* The request body {"v":1,"events":[...]} of n events, compact JSON, as a
 * new buffer (refcnt 1). Member order: id, type, conn, user, channel, data,
 * binary, headers (always an object for connect, else only when given),
 * transport, ip. NULL only when the body would pass 4 GiB. */
hr_buf_t *hr_hook_body(const hr_hook_event_t *ev, size_t n);

/* The type's name in the body ("connect", ...), or NULL. */
const char *hr_hook_type_name(int type);

/* One result of the answer. Slices point into memory owned by the
 * hr_hook_results_t and stay valid until hr_hook_results_free; p NULL:
 * absent (JSON null counts as absent for every optional member). */
typedef struct hr_hook_result {
    uint64_t id;
    int ok;
    int close;        /* "close":true */
    hr_slice_t user;  /* a string (any bytes but NUL, valid UTF-8) */
    hr_slice_t info;  /* any JSON, as compact JSON text */
    hr_slice_t reply; /* any JSON, as compact JSON text */
    hr_slice_t error; /* a string */
} hr_hook_result_t;

typedef struct hr_hook_results {
    hr_hook_result_t *r; /* in the answer's order; duplicates of an id kept as given */
    size_t n;
    size_t skipped; /* results left out: not an object, no unsigned integer id, no
                       boolean ok, or an optional member of the wrong type */
    void *root;     /* the parsed answer (jansson) */
    char *text;     /* the info and reply texts, one allocation */
} hr_hook_results_t;

/* Parse an answer body {"results":[...]}. Returns 0 and fills *out (free it
 * with hr_hook_results_free), or -1 with the reason in err (the body is not
 * JSON, not an object, has no "results" array; an integer beyond 64 bits
 * anywhere makes it not JSON); *out is then empty and needs no free. */
int hr_hook_results_parse(const uint8_t *body, size_t len, hr_hook_results_t *out, char *err,
                          size_t errlen);

void hr_hook_results_free(hr_hook_results_t *r);

#define HR_HOOK_SIG_LEN 71 /* "sha256=" + 64 hex digits */

/* out = "sha256=" + the lowercase hex HMAC-SHA256 of body under key,
 * NUL-terminated (the X-Herald-Signature header's value). */
void hr_hook_sign(const uint8_t *key, size_t keylen, const uint8_t *body, size_t len, char out[72]);

#endif
