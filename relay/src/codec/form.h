/* SPDX-License-Identifier: MIT
 * form.h: an application/x-www-form-urlencoded body (the Mercure publish:
 * topic repeated, data, private, id, type, retry). Pairs are split on '&'
 * (empty ones skipped), a pair on its first '=' (none: an empty value), and
 * each side decoded: '+' is a space, %XX a byte. Stricter than the WHATWG
 * parser, as the reference hub's Go url.ParseQuery is: a '%' without two hex
 * digits and a raw ';' are errors (Go answers 400; PHP's http_build_query,
 * which symfony/mercure's publisher uses, escapes ';'), and so is a NUL,
 * raw or decoded. Pure; fuzzed by tests/fuzz/fuzz_form.c. */
#ifndef HR_FORM_H
#define HR_FORM_H

#include "base/common.h"

#define HR_FORM_MAX_PAIRS 256 /* pairs in one body, at most */

typedef struct hr_form_pair {
    hr_slice_t key, val; /* decoded */
} hr_form_pair_t;

/* Streaming: pairs one at a time into the caller's buffer. */
typedef struct hr_form_iter {
    const char *s;
    size_t len, pos, n; /* n: pairs returned */
} hr_form_iter_t;

void hr_form_iter_init(hr_form_iter_t *it, const char *body, size_t len);

/* The next pair, decoded into buf[0..cap): the key, then the value; valid
 * until the next call. A pair never decodes longer than it is written, so a
 * buffer as long as the body always fits. 1 and *pair, 0 at the end, or -1
 * with a reason in err (a bad escape, a NUL, a raw ';', no room, more than
 * HR_FORM_MAX_PAIRS pairs); the iterator stays at the error. */
int hr_form_next(hr_form_iter_t *it, char *buf, size_t cap, hr_form_pair_t *pair, char *err,
                 size_t errlen);

/* s[0..len) decoded into out[0..cap): the decoded length, or -1 on a bad
 * escape, a NUL or no room. out may be s (it only shrinks). */
ssize_t hr_form_decode(const char *s, size_t len, char *out, size_t cap);

/* The whole body at once, into one allocation (pairs and decoded bytes,
 * at most len of them), in the body's order. */
typedef struct hr_form {
    hr_form_pair_t *pairs;
    size_t n;
} hr_form_t;

/* 0, or -1 with a reason in err (as hr_form_next) and nothing to free. */
int hr_form_parse(const char *body, size_t len, hr_form_t *f, char *err, size_t errlen);

/* How many values key (NUL-terminated, compared decoded) has, and the idx-th
 * of them or NULL. */
size_t hr_form_count(const hr_form_t *f, const char *key);
const hr_slice_t *hr_form_get(const hr_form_t *f, const char *key, size_t idx);

void hr_form_free(hr_form_t *f);

#endif
