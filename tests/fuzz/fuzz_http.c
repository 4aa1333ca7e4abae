/* SPDX-License-Identifier: MIT
 * fuzz_http.c: libFuzzer harness for relay/src/codec/http.c. The input is a request
 * head as a client would send it. On success the parse must describe bytes
 * inside the head and obey the grammar; for small inputs every prefix must
 * answer HR_AGAIN until the first definite answer, which must then equal the
 * whole-input one (the relay re-parses its buffer after each read); and a
 * smaller max_head must change the answer only as http.h says. The query and
 * the raw input also go through hr_http_query_next against a reference
 * decoder written here, and a parsed head's body framing and persistence
 * (hr_http_body_info, hr_http_persistent) are checked against reference
 * readings of RFC 9112 written here differently. Any violation aborts. */
#include "codec/http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#endif
#endif
#ifndef POISON
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MAX_HEAD     8192
#define UNLIMITED    ((size_t)-1)
#define PREFIX_LIMIT 512 /* every-prefix checks are quadratic: small inputs only */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* s lies inside buf[0..end). */
static void check_within(hr_slice_t s, const char *buf, size_t end)
{
    CHECK(s.p >= buf && s.p <= buf + end);
    CHECK(s.len <= (size_t)(buf + end - s.p));
}

static void check_success(const char *buf, size_t len, ssize_t r, const hr_http_request_t *req)
{
    size_t head = (size_t)r;

    CHECK(head <= len && head <= MAX_HEAD);
    /* The head ends with an empty line: "\n\n" or "\n\r\n". */
    CHECK(head >= 2 && buf[head - 1] == '\n');
    CHECK(buf[head - 2] == '\n' || (head >= 3 && buf[head - 2] == '\r' && buf[head - 3] == '\n'));

    check_within(req->method, buf, head);
    CHECK(req->method.p == buf && req->method.len > 0);
    for (size_t i = 0; i < req->method.len; i++)
        CHECK(tchar((unsigned char)req->method.p[i]));
    CHECK(req->method.p[req->method.len] == ' ');

    check_within(req->target, buf, head);
    CHECK(req->target.p == req->method.p + req->method.len + 1);
    CHECK(req->target.len > 0 && req->target.p[0] == '/');
    for (size_t i = 0; i < req->target.len; i++) {
        unsigned char c = (unsigned char)req->target.p[i];
        CHECK(c > 0x20 && c != 0x7f);
    }
    CHECK(memcmp(req->target.p + req->target.len, " HTTP/1.", 8) == 0);
    CHECK(req->minor_version == 0 || req->minor_version == 1);

    /* path is the target up to the first '?', query what follows it. */
    const char *q = memchr(req->target.p, '?', req->target.len);
    CHECK(req->path.p == req->target.p);
    CHECK(req->path.len == (q ? (size_t)(q - req->target.p) : req->target.len));
    if (q != NULL) {
        CHECK(req->query.p == q + 1);
        CHECK(req->query.len == req->target.len - req->path.len - 1);
    } else {
        CHECK(req->query.len == 0);
    }

    CHECK(req->num_headers <= HR_HTTP_MAX_HEADERS);
    const char *prev = req->target.p + req->target.len;
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];

        check_within(h->name, buf, head);
        check_within(h->value, buf, head);
        CHECK(h->name.p > prev && h->name.len > 0);
        CHECK(h->name.p[-1] == '\n');
        for (size_t j = 0; j < h->name.len; j++)
            CHECK(tchar((unsigned char)h->name.p[j]));
        CHECK(h->name.p[h->name.len] == ':');
        CHECK(h->value.p > h->name.p + h->name.len);
        for (size_t j = 0; j < h->value.len; j++) {
            unsigned char c = (unsigned char)h->value.p[j];
            CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
        }
        if (h->value.len > 0) {
            CHECK(h->value.p[0] != ' ' && h->value.p[0] != '\t');
            CHECK(h->value.p[h->value.len - 1] != ' ' && h->value.p[h->value.len - 1] != '\t');
        }
        prev = h->value.p + h->value.len;

        /* header_find returns the first header with an equal name. */
        char name[256];
        if (h->name.len < sizeof name) {
            memcpy(name, h->name.p, h->name.len);
            name[h->name.len] = '\0';
            const hr_http_header_t *f = hr_http_header_find(req, name);
            CHECK(f != NULL && f <= h && f->name.len == h->name.len);
            for (size_t j = 0; j < h->name.len; j++)
                CHECK(lower((unsigned char)f->name.p[j]) == lower((unsigned char)name[j]));
        }
        (void)hr_http_has_token(h->value, "upgrade");
    }
}

/* ---- query iteration against a reference ---------------------------------- */

static int hexv(int c)
{
    c = lower(c);
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes s[0..n) without a cap; returns the length or -1 for a bad escape. */
static long ref_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
                return -1;
            out[o] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            if (out[o++] == '\0')
                return -1;
            i += 2;
        } else if (s[i] == '\0') {
            return -1;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    return (long)o;
}

static void check_query(hr_slice_t q, size_t key_cap, size_t val_cap)
{
    char *rk = malloc(q.len + 1), *rv = malloc(q.len + 1);
    char *k = malloc(key_cap ? key_cap : 1), *v = malloc(val_cap ? val_cap : 1);
    size_t pos = 0, ref = 0, calls = 0;
    int rc;

    CHECK(rk && rv && k && v);
    while ((rc = hr_http_query_next(q, &pos, k, key_cap, v, val_cap)) != 0) {
        CHECK(rc == 1 || rc == HR_EPROTO);
        CHECK(++calls <= q.len);
        /* The reference pair: skip '&'s, then up to the next '&'. */
        while (ref < q.len && q.p[ref] == '&')
            ref++;
        CHECK(ref < q.len);
        const char *pair = q.p + ref, *amp = memchr(pair, '&', q.len - ref);
        size_t plen = amp ? (size_t)(amp - pair) : q.len - ref;
        const char *eq = memchr(pair, '=', plen);
        size_t klen_raw = eq ? (size_t)(eq - pair) : plen;
        long kl = ref_decode(pair, klen_raw, rk);
        long vl = eq ? ref_decode(eq + 1, plen - klen_raw - 1, rv) : 0;
        int ok = kl >= 0 && vl >= 0 && (size_t)kl < key_cap && (size_t)vl < val_cap;

        ref += plen;
        CHECK(pos == ref);
        CHECK(rc == (ok ? 1 : HR_EPROTO));
        if (ok) {
            CHECK(strlen(k) == (size_t)kl && memcmp(k, rk, (size_t)kl) == 0);
            CHECK(strlen(v) == (size_t)vl && memcmp(v, rv, (size_t)vl) == 0);
        } else if (key_cap > 0) {
            CHECK(strlen(k) < key_cap);
        }
    }
    while (ref < q.len && q.p[ref] == '&')
        ref++;
    CHECK(ref == q.len && pos == q.len);
    free(rk);
    free(rv);
    free(k);
    free(v);
}

/* ---- body framing and persistence against a reference ---------------------- */

/* Name equality, folding case by a table rather than arithmetic. */
static int name_is(hr_slice_t n, const char *want)
{
    size_t len = strlen(want);
    if (n.len != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (lower((unsigned char)n.p[i]) != lower((unsigned char)want[i]))
            return 0;
    return 1;
}

/* A list value read element by element (lower-cased, trimmed, empty ones
 * dropped): how many, the first and the last (truncated to 31 bytes and then
 * marked with a leading '#' so that they equal no keyword), and whether word
 * is among them. */
typedef struct list_view {
    size_t n;
    char first[32], last[32];
    int has_word;
} list_view_t;

static list_view_t list_of(hr_slice_t v, const char *word)
{
    list_view_t lv = {0, "", "", 0};
    size_t i = 0;
    while (i <= v.len) {
        char tmp[40];
        size_t k = 0, over = 0, start = i;
        while (i < v.len && v.p[i] != ',')
            i++;
        size_t stop = i++;
        while (start < stop && (v.p[start] == ' ' || v.p[start] == '\t'))
            start++;
        while (stop > start && (v.p[stop - 1] == ' ' || v.p[stop - 1] == '\t'))
            stop--;
        if (stop == start)
            continue;
        if (stop - start > 31) {
            over = 1;
            stop = start + 31;
        }
        if (over)
            tmp[k++] = '#';
        for (size_t j = start; j < stop; j++)
            tmp[k++] = (char)lower((unsigned char)v.p[j]);
        tmp[k] = '\0';
        if (lv.n++ == 0)
            snprintf(lv.first, sizeof lv.first, "%s", tmp);
        snprintf(lv.last, sizeof lv.last, "%s", tmp);
        if (word && strcmp(tmp, word) == 0)
            lv.has_word = 1;
    }
    return lv;
}

static void check_body_info(const hr_http_request_t *req)
{
    int ncl = 0, cl_ok = 1, nte = 0, nexp = 0;
    unsigned long long cl = 0;
    char te_last[32] = "";
    list_view_t exp = {0, "", "", 0};

    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (name_is(h->name, "content-length")) {
            ncl++;
            if (h->value.len == 0)
                cl_ok = 0;
            cl = 0;
            for (size_t j = 0; j < h->value.len; j++) {
                int c = (unsigned char)h->value.p[j];
                if (c < '0' || c > '9') {
                    cl_ok = 0;
                    break;
                }
                /* Saturating: once past 2^64 - 1 it stays there. */
                if (cl == ~0ULL || __builtin_mul_overflow(cl, 10ULL, &cl) ||
                    __builtin_add_overflow(cl, (unsigned long long)(c - '0'), &cl))
                    cl = ~0ULL;
            }
        } else if (name_is(h->name, "transfer-encoding")) {
            list_view_t lv = list_of(h->value, NULL);
            nte++;
            if (lv.n > 0)
                snprintf(te_last, sizeof te_last, "%s", lv.last);
        } else if (name_is(h->name, "expect")) {
            nexp++;
            exp = list_of(h->value, NULL);
        }
    }
    int want = 0;
    if (ncl > 1 || (ncl == 1 && !cl_ok))
        want = 400;
    else if (nte > 0 && (req->minor_version == 0 || ncl > 0 || strcmp(te_last, "chunked") != 0))
        want = 400;
    else if (nexp > 1 || (nexp == 1 && (exp.n != 1 || strcmp(exp.first, "100-continue") != 0)))
        want = 417;

    hr_http_body_info_t bi;
    memset(&bi, 0x5a, sizeof bi);
    int r = hr_http_body_info(req, &bi);
    CHECK(r == want);
    if (r != 0) {
        unsigned char *p = (unsigned char *)&bi;
        for (size_t i = 0; i < sizeof bi; i++)
            CHECK(p[i] == 0x5a); /* untouched on failure */
        return;
    }
    CHECK(bi.has_length == (ncl == 1));
    CHECK(!bi.has_length || bi.length == cl);
    CHECK(bi.chunked == (nte > 0));
    CHECK(bi.expect_continue == (nexp == 1 && req->minor_version == 1));
    CHECK(!(bi.chunked && bi.has_length));
}

static void check_persistent(const hr_http_request_t *req)
{
    int close = 0, keep = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (!name_is(h->name, "connection"))
            continue;
        close |= list_of(h->value, "close").has_word;
        keep |= list_of(h->value, "keep-alive").has_word;
    }
    int want = close ? 0 : req->minor_version == 1 ? 1 : keep;
    CHECK(hr_http_persistent(req) == want);
}

/* ---- prefixes and limits --------------------------------------------------- */

/* Every prefix of the input, parsed from one copy whose bytes past the prefix
 * are poisoned, so that ASan reports a read past buf[n) at every n (a fresh
 * allocation per prefix would do the same, eight times slower). Prefixes
 * answer HR_AGAIN until the first definite answer, which is the whole-input
 * one and stays so; past it a few more prefixes are checked, not all. */
static void check_prefixes(const char *buf, size_t len, ssize_t whole)
{
    hr_http_request_t req;
    char *copy = malloc(len ? len : 1);
    size_t first = len + 1;

    CHECK(copy != NULL);
    if (len > 0)
        memcpy(copy, buf, len);
    POISON(copy, len);
    for (size_t n = 0; n <= len && n <= first + 4; n++) {
        if (n > 0)
            UNPOISON(copy + n - 1, 1);
        ssize_t r = hr_http_parse_request(copy, n, MAX_HEAD, &req);
        if (first > len && r == HR_AGAIN)
            continue;
        CHECK(r == whole);
        if (first > len)
            first = n;
    }
    UNPOISON(copy, len);
    free(copy);
    if (whole > 0)
        CHECK(first == (size_t)whole);
    else if (whole != HR_AGAIN)
        CHECK(first <= len);
}

/* With a limit m the answer is the unlimited answer on the first min(len, m)
 * bytes, except that "incomplete" becomes HR_ETOOBIG once len reaches m. */
static void check_limit(const char *buf, size_t len, size_t m)
{
    hr_http_request_t req;
    size_t n = len < m ? len : m;
    ssize_t want = hr_http_parse_request(buf, n, UNLIMITED, &req);

    if (want == HR_AGAIN && len >= m)
        want = HR_ETOOBIG;
    CHECK(hr_http_parse_request(buf, len, m, &req) == want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    hr_http_request_t req;
    ssize_t r = hr_http_parse_request(buf, size, MAX_HEAD, &req);

    CHECK(r > 0 || r == HR_AGAIN || r == HR_EPROTO || r == HR_ETOOBIG);
    if (r == HR_AGAIN)
        CHECK(size < MAX_HEAD);
    if (r > 0) {
        check_success(buf, size, r, &req);
        check_query(req.query, 8, 16);
        check_query(req.query, 64, 256);
        check_body_info(&req);
        check_persistent(&req);
    }
    if (size <= PREFIX_LIMIT)
        check_prefixes(buf, size, r);
    check_limit(buf, size, size / 2);
    check_limit(buf, size, size);
    if (r > 1)
        check_limit(buf, size, (size_t)r - 1);

    /* The raw input as a query string exercises bytes a target cannot hold. */
    hr_slice_t raw = {buf, size};
    check_query(raw, 1 + size % 13, 1 + size % 29);
    (void)hr_http_has_token(raw, "keep-alive");
    return 0;
}
