/* SPDX-License-Identifier: MIT
 * http.c: the strict HTTP/1.x request-head parser declared in http.h, plus
 * header lookup, comma-separated token matching and query-string iteration.
 * The connection code re-parses its read buffer from the start after each
 * read, so the parser keeps no state; it never reads outside buf[0..len),
 * never writes into it and never allocates. */
#include "codec/http.h"

#include <string.h>

/* tchar (RFC 9110 5.6.2): the bytes of a method or a header name. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes allowed in the request-target: anything but controls, space and DEL.
 * Bytes >= 0x80 pass (RFC 3986 wants them percent-encoded, but rejecting
 * them buys the relay nothing: query values are validated after decoding). */
static int is_target_char(unsigned char c)
{
    return c > 0x20 && c != 0x7f;
}

/* field-value bytes (RFC 9110 5.5): HTAB, SP, VCHAR and obs-text. */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static hr_slice_t mkslice(const unsigned char *from, const unsigned char *to)
{
    hr_slice_t s = {(const char *)from, (size_t)(to - from)};
    return s;
}

/* Each step below returns 0 and advances *pp, or HR_AGAIN when it ran into
 * the end of the input before it could decide, or HR_EPROTO as soon as a byte
 * proves the head malformed. Deciding byte by byte is what makes every prefix
 * of a valid head answer HR_AGAIN. */

/* A line ends in CRLF or a bare LF (RFC 9112 2.2 lets a recipient accept the
 * latter); a CR not followed by LF is rejected, never treated as an end. The
 * caller has checked that *pp < end. */
static int parse_eol(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;

    if (*p == '\r') {
        if (++p == end)
            return HR_AGAIN;
        if (*p != '\n')
            return HR_EPROTO;
    } else if (*p != '\n') {
        return HR_EPROTO;
    }
    *pp = p + 1;
    return 0;
}

/* method SP request-target SP HTTP-version EOL, each separator exactly one
 * SP. No leading empty lines: the relay never sees a body before a request,
 * so a stray CRLF there means the peer is confused. */
static int parse_request_line(const unsigned char **pp, const unsigned char *end,
                              hr_http_request_t *r)
{
    static const char version[] = "HTTP/1.";
    const unsigned char *p = *pp, *start = p, *qmark = NULL;

    for (;; p++) {
        if (p == end)
            return HR_AGAIN;
        if (!is_tchar(*p))
            break;
    }
    if (p == start || *p != ' ')
        return HR_EPROTO;
    r->method = mkslice(start, p);

    /* Only origin-form: the relay is never a proxy (absolute-form), and
     * asterisk-form is for OPTIONS * which it does not serve. */
    start = ++p;
    if (p == end)
        return HR_AGAIN;
    if (*p != '/')
        return HR_EPROTO;
    for (;; p++) {
        if (p == end)
            return HR_AGAIN;
        if (*p == ' ')
            break;
        if (!is_target_char(*p))
            return HR_EPROTO;
        if (*p == '?' && qmark == NULL)
            qmark = p;
    }
    r->target = mkslice(start, p);
    if (qmark != NULL) {
        r->path = mkslice(start, qmark);
        r->query = mkslice(qmark + 1, p);
    } else {
        r->path = r->target;
        r->query = mkslice(p, p);
    }
    p++;

    for (size_t i = 0; i < sizeof version - 1; i++, p++) {
        if (p == end)
            return HR_AGAIN;
        if (*p != (unsigned char)version[i])
            return HR_EPROTO;
    }
    if (p == end)
        return HR_AGAIN;
    if (*p != '0' && *p != '1')
        return HR_EPROTO;
    r->minor_version = *p - '0';
    if (++p == end)
        return HR_AGAIN;
    int rc = parse_eol(&p, end);
    if (rc != 0)
        return rc;
    *pp = p;
    return 0;
}

/* One "name: value" line into *h, the value trimmed of SP/HTAB at both ends.
 * The caller has checked that *pp < end and that the line is not empty and
 * does not start with whitespace. */
static int parse_header_line(const unsigned char **pp, const unsigned char *end,
                             hr_http_header_t *h)
{
    const unsigned char *p = *pp, *start = p, *vend;

    for (;; p++) {
        if (p == end)
            return HR_AGAIN;
        if (!is_tchar(*p))
            break;
    }
    /* RFC 9112 5.1: whitespace before the colon must be rejected; it has been
     * used to smuggle requests past proxies that read the name differently. */
    if (p == start || *p != ':')
        return HR_EPROTO;
    h->name = mkslice(start, p);

    for (p++;; p++) {
        if (p == end)
            return HR_AGAIN;
        if (*p != ' ' && *p != '\t')
            break;
    }
    start = vend = p;
    for (;; p++) {
        if (p == end)
            return HR_AGAIN;
        if (*p == '\r' || *p == '\n')
            break;
        if (!is_value_char(*p))
            return HR_EPROTO;
        if (*p != ' ' && *p != '\t')
            vend = p + 1;
    }
    h->value = mkslice(start, vend);
    int rc = parse_eol(&p, end);
    if (rc != 0)
        return rc;
    *pp = p;
    return 0;
}

/* Parse buf[0..min(len, max_head)) only: bytes past max_head can never make a
 * head acceptable, and not looking at them keeps the answer for a long input
 * the same as the one the relay got when its buffer first reached max_head.
 * The request is built in a local copy so that *req is untouched on failure. */
static int parse_head(const unsigned char *p, const unsigned char *end, hr_http_request_t *r,
                      size_t *head_len)
{
    const unsigned char *start = p;
    int rc = parse_request_line(&p, end, r);

    if (rc != 0)
        return rc;
    r->num_headers = 0;
    for (;;) {
        if (p == end)
            return HR_AGAIN;
        if (*p == '\r' || *p == '\n') {
            rc = parse_eol(&p, end);
            if (rc != 0)
                return rc;
            *head_len = (size_t)(p - start);
            return 0;
        }
        /* obs-fold (RFC 9112 5.2): a continuation line. A server may reject
         * it, and joining lines would mean copying. */
        if (*p == ' ' || *p == '\t')
            return HR_EPROTO;
        if (r->num_headers == HR_HTTP_MAX_HEADERS)
            return HR_ETOOBIG;
        rc = parse_header_line(&p, end, &r->headers[r->num_headers]);
        if (rc != 0)
            return rc;
        r->num_headers++;
    }
}

ssize_t hr_http_parse_request(const char *buf, size_t len, size_t max_head, hr_http_request_t *req)
{
    size_t n = len < max_head ? len : max_head, head_len = 0;
    hr_http_request_t r;
    int rc = HR_AGAIN;

    if (n > 0) {
        const unsigned char *p = (const unsigned char *)buf;
        rc = parse_head(p, p + n, &r, &head_len);
    }
    if (rc == HR_AGAIN)
        return len >= max_head ? HR_ETOOBIG : HR_AGAIN;
    if (rc != 0)
        return rc;
    /* Copy only what was filled: the header array is most of the struct. */
    req->method = r.method;
    req->target = r.target;
    req->path = r.path;
    req->query = r.query;
    req->minor_version = r.minor_version;
    req->num_headers = r.num_headers;
    memcpy(req->headers, r.headers, r.num_headers * sizeof r.headers[0]);
    return (ssize_t)head_len;
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* ASCII case-insensitive comparison of n bytes; unlike strncasecmp it does not
 * depend on the locale and does not stop at NUL. */
static int ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return 0;
    }
    return 1;
}

const hr_http_header_t *hr_http_header_find(const hr_http_request_t *req, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len == n && ascii_ieq(h->name.p, name, n))
            return h;
    }
    return NULL;
}

int hr_http_has_token(hr_slice_t value, const char *token)
{
    size_t tlen = strlen(token), i = 0;

    if (tlen == 0)
        return 0;
    while (i < value.len) {
        size_t start, stop;

        while (i < value.len && (value.p[i] == ' ' || value.p[i] == '\t'))
            i++;
        start = i;
        while (i < value.len && value.p[i] != ',')
            i++;
        stop = i;
        while (stop > start && (value.p[stop - 1] == ' ' || value.p[stop - 1] == '\t'))
            stop--;
        if (stop - start == tlen && ascii_ieq(value.p + start, token, tlen))
            return 1;
        i++; /* past the comma, or past the end */
    }
    return 0;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode s[0..n) into out, NUL-terminated. Returns 0, or HR_EPROTO for a bad
 * escape or when the result needs more than cap - 1 bytes (out then holds
 * what fitted). %00 and a raw NUL are refused too: the result is a C string,
 * and a NUL inside it would hide the rest from every check the caller makes
 * (the parser never lets a NUL into a target, but this takes any slice). */
static int query_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    int rc = 0;

    if (cap == 0) /* not even room for the terminator */
        return HR_EPROTO;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '\0') {
            rc = HR_EPROTO;
            break;
        } else if (c == '%') {
            int hi = i + 2 < n ? hex_value((unsigned char)s[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value((unsigned char)s[i + 2]) : -1;
            if (lo < 0 || (hi | lo) == 0) {
                rc = HR_EPROTO;
                break;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 < cap) {
            out[o++] = (char)c;
        } else {
            rc = HR_EPROTO;
            break;
        }
    }
    out[o] = '\0';
    return rc;
}

int hr_http_query_next(hr_slice_t query, size_t *pos, char *key, size_t key_cap, char *val,
                       size_t val_cap)
{
    size_t i = *pos, start, eq, stop;

    /* Empty pairs ("a=1&&b=2", a trailing '&') carry nothing: skip them. */
    while (i < query.len && query.p[i] == '&')
        i++;
    if (i >= query.len) {
        *pos = query.len;
        return 0;
    }
    start = i;
    while (i < query.len && query.p[i] != '&')
        i++;
    stop = i;
    eq = start;
    while (eq < stop && query.p[eq] != '=')
        eq++;
    /* Move past the pair before decoding, so that after HR_EPROTO a caller
     * that prefers to ignore a bad pair can carry on with the next one. */
    *pos = stop;

    int rc = query_decode(query.p + start, eq - start, key, key_cap);
    if (rc == 0) {
        size_t vstart = eq < stop ? eq + 1 : stop;
        rc = query_decode(query.p + vstart, stop - vstart, val, val_cap);
    } else if (val_cap > 0) {
        val[0] = '\0';
    }
    return rc == 0 ? 1 : rc;
}

int hr_origin_allowed(const char *list, const char *origin, size_t len)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && p[t - 1] == ' ')
            t--;
        if ((t == 1 && p[0] == '*') || (t == len && t > 0 && memcmp(p, origin, len) == 0))
            return 1;
        p += n;
    }
    return 0;
}

/* Whether s is token (case-insensitive), s already trimmed. */
static int slice_ieq(const char *p, size_t n, const char *token)
{
    return n == strlen(token) && ascii_ieq(p, token, n);
}

/* The last non-empty element of a comma-separated list, trimmed of SP/HTAB
 * (RFC 9110 5.6.1: empty elements are ignored); len 0 if there is none. */
static hr_slice_t last_element(hr_slice_t v)
{
    hr_slice_t last = {v.p, 0};
    size_t i = 0;
    while (i < v.len) {
        size_t start = i, stop;
        while (i < v.len && v.p[i] != ',')
            i++;
        stop = i++;
        while (start < stop && (v.p[start] == ' ' || v.p[start] == '\t'))
            start++;
        while (stop > start && (v.p[stop - 1] == ' ' || v.p[stop - 1] == '\t'))
            stop--;
        if (stop > start)
            last = (hr_slice_t){v.p + start, stop - start};
    }
    return last;
}

int hr_http_body_info(const hr_http_request_t *req, hr_http_body_info_t *out)
{
    hr_http_body_info_t bi = {0, 0, 0, 0};
    int te = 0, expects = 0;
    hr_slice_t te_last = {NULL, 0}, expect = {NULL, 0};

    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (slice_ieq(h->name.p, h->name.len, "Content-Length")) {
            /* RFC 9110 8.6: 1*DIGIT. Several fields (even equal ones) or a
             * list are refused rather than reconciled: whoever sent them
             * disagrees with itself, or is probing a proxy chain. */
            if (bi.has_length || h->value.len == 0)
                return 400;
            uint64_t v = 0;
            for (size_t j = 0; j < h->value.len; j++) {
                unsigned char c = (unsigned char)h->value.p[j];
                if (c < '0' || c > '9')
                    return 400;
                /* Saturate: a length past any cap is refused by its size
                 * (413), not mistaken for a small one. */
                unsigned d = c - '0';
                if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
                    v = UINT64_MAX;
                else
                    v = v * 10 + d;
            }
            bi.has_length = 1;
            bi.length = v;
        } else if (slice_ieq(h->name.p, h->name.len, "Transfer-Encoding")) {
            /* Several fields form one list (RFC 9110 5.3): the last coding
             * of the last non-empty field is the one that frames the body. */
            hr_slice_t e = last_element(h->value);
            te = 1;
            if (e.len > 0)
                te_last = e;
        } else if (slice_ieq(h->name.p, h->name.len, "Expect")) {
            expects++;
            expect = h->value;
        }
    }
    if (te) {
        /* RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing;
         * with Content-Length as well it is how requests are smuggled past
         * a proxy that reads the other one. 6.3: a request whose last
         * coding is not chunked has no length that can be trusted. */
        if (req->minor_version == 0 || bi.has_length ||
            !slice_ieq(te_last.p, te_last.len, "chunked"))
            return 400;
        bi.chunked = 1;
    }
    if (expects > 1 || (expects == 1 && !slice_ieq(expect.p, expect.len, "100-continue")))
        return 417;
    bi.expect_continue = expects == 1 && req->minor_version >= 1;
    *out = bi;
    return 0;
}

int hr_http_persistent(const hr_http_request_t *req)
{
    int close = 0, keep = 0;

    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (!slice_ieq(h->name.p, h->name.len, "Connection"))
            continue;
        close |= hr_http_has_token(h->value, "close");
        keep |= hr_http_has_token(h->value, "keep-alive");
    }
    if (close)
        return 0;
    return req->minor_version >= 1 || keep;
}
