/* SPDX-License-Identifier: MIT
 * fastcgi.c: FastCGI 1.0 records, the client side (see fastcgi.h). The
 * reader keeps no pointer into the caller's bytes: it copies stdout and
 * stderr into its own buffers, so a record may be split anywhere, even
 * inside its 8-byte header. */
#include "codec/fastcgi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* ---- encoding ---- */

static size_t pad_of(size_t len)
{
    return (8 - (len & 7)) & 7;
}

/* Bytes of a stream of len bytes written as records of at most 65535
 * content bytes each, padded; not counting the empty record that ends it. */
static size_t stream_size(size_t len)
{
    size_t full = len / HR_FCGI_MAX_CONTENT, rest = len % HR_FCGI_MAX_CONTENT;
    size_t n = full * (HR_FCGI_HEADER_LEN + HR_FCGI_MAX_CONTENT + pad_of(HR_FCGI_MAX_CONTENT));
    if (rest)
        n += HR_FCGI_HEADER_LEN + rest + pad_of(rest);
    return n;
}

static uint8_t *put_header(uint8_t *o, int type, uint16_t id, size_t clen)
{
    o[0] = HR_FCGI_VERSION;
    o[1] = (uint8_t)type;
    o[2] = (uint8_t)(id >> 8);
    o[3] = (uint8_t)id;
    o[4] = (uint8_t)(clen >> 8);
    o[5] = (uint8_t)clen;
    o[6] = (uint8_t)pad_of(clen);
    o[7] = 0;
    return o + HR_FCGI_HEADER_LEN;
}

/* s as records of type, then the empty record that ends the stream. */
static uint8_t *put_stream(uint8_t *o, int type, uint16_t id, const uint8_t *s, size_t len)
{
    while (len) {
        size_t c = len < HR_FCGI_MAX_CONTENT ? len : HR_FCGI_MAX_CONTENT;
        o = put_header(o, type, id, c);
        memcpy(o, s, c);
        memset(o + c, 0, pad_of(c));
        o += c + pad_of(c);
        s += c;
        len -= c;
    }
    return put_header(o, type, id, 0);
}

static size_t nv_len_size(size_t n)
{
    return n < 128 ? 1 : 4;
}

static uint8_t *put_nv_len(uint8_t *o, size_t n)
{
    if (n < 128) {
        *o++ = (uint8_t)n;
        return o;
    }
    o[0] = (uint8_t)(0x80 | (n >> 24));
    o[1] = (uint8_t)(n >> 16);
    o[2] = (uint8_t)(n >> 8);
    o[3] = (uint8_t)n;
    return o + 4;
}

hr_buf_t *hr_fcgi_request(uint16_t id, const hr_fcgi_param_t *params, size_t nparams,
                          const void *body, size_t len)
{
    const size_t limit = UINT32_MAX / 2; /* far beyond any hook request; keeps sums exact */
    size_t plen = 0;
    for (size_t i = 0; i < nparams; i++) {
        size_t nl = params[i].name.len, vl = params[i].value.len;
        if (nl > 0x7fffffff || vl > 0x7fffffff)
            return NULL;
        plen += nv_len_size(nl) + nv_len_size(vl) + nl + vl;
        if (plen > limit)
            return NULL;
    }
    if (len > limit)
        return NULL;
    size_t total = 2 * HR_FCGI_HEADER_LEN + stream_size(plen) + HR_FCGI_HEADER_LEN +
                   stream_size(len) + HR_FCGI_HEADER_LEN;
    if (total > UINT32_MAX)
        return NULL;

    /* The name-value pairs are one stream that records may cut anywhere:
     * written out whole first, then cut. */
    uint8_t *pv = hr_xmalloc(plen ? plen : 1), *q = pv;
    for (size_t i = 0; i < nparams; i++) {
        q = put_nv_len(q, params[i].name.len);
        q = put_nv_len(q, params[i].value.len);
        if (params[i].name.len)
            memcpy(q, params[i].name.p, params[i].name.len);
        q += params[i].name.len;
        if (params[i].value.len)
            memcpy(q, params[i].value.p, params[i].value.len);
        q += params[i].value.len;
    }

    hr_buf_t *b = hr_buf_new(total);
    uint8_t *o = (uint8_t *)b->data;
    o = put_header(o, HR_FCGI_BEGIN_REQUEST, id, 8);
    memset(o, 0, 8);
    o[1] = HR_FCGI_RESPONDER;
    o[2] = HR_FCGI_KEEP_CONN;
    o += 8;
    o = put_stream(o, HR_FCGI_PARAMS, id, pv, plen);
    o = put_stream(o, HR_FCGI_STDIN, id, body, len);
    free(pv);
    if ((size_t)(o - (uint8_t *)b->data) != total)
        abort(); /* the measure and the writer disagree: a bug here */
    return b;
}

/* ---- reading ---- */

void hr_fcgi_reader_init(hr_fcgi_reader_t *r, uint16_t id, size_t max)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->max = max;
}

void hr_fcgi_reader_free(hr_fcgi_reader_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->out_cap = r->err_len = r->err_cap = 0;
}

static ssize_t fail(hr_fcgi_reader_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ssize_t fail(hr_fcgi_reader_t *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof r->errstr, fmt, ap);
    va_end(ap);
    r->status = status;
    return status;
}

static void append(uint8_t **buf, size_t *blen, size_t *cap, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    if (*blen + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *blen + n)
            c *= 2;
        *buf = hr_xrealloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *blen, p, n);
    *blen += n;
}

static const char *proto_status_text(int s)
{
    switch (s) {
    case HR_FCGI_CANT_MPX_CONN:
        return "cannot multiplex connections";
    case HR_FCGI_OVERLOADED:
        return "overloaded";
    case HR_FCGI_UNKNOWN_ROLE:
        return "unknown role";
    default:
        return "unknown protocolStatus";
    }
}

/* The header in r->head is whole: check it and start its record. */
static int start_record(hr_fcgi_reader_t *r)
{
    const uint8_t *h = r->head;
    unsigned id = (unsigned)h[2] << 8 | h[3];
    size_t clen = (size_t)h[4] << 8 | h[5];
    if (h[0] != HR_FCGI_VERSION)
        return (int)fail(r, HR_EPROTO, "FastCGI version %u, not 1", h[0]);
    if (id != r->id)
        return (int)fail(r, HR_EPROTO, "FastCGI record type %u for request %u, not %u", h[1], id,
                         r->id);
    switch (h[1]) {
    case HR_FCGI_STDOUT:
    case HR_FCGI_STDERR:
        if (clen > r->max - r->out_len - r->err_len)
            return (int)fail(r, HR_ETOOBIG, "FastCGI response over %zu bytes", r->max);
        break;
    case HR_FCGI_END_REQUEST:
        if (clen != 8)
            return (int)fail(r, HR_EPROTO, "FastCGI END_REQUEST of %zu bytes, not 8", clen);
        break;
    default:
        return (int)fail(r, HR_EPROTO, "unexpected FastCGI record type %u", h[1]);
    }
    r->content = clen;
    r->padding = h[6];
    r->end_n = 0;
    return 0;
}

ssize_t hr_fcgi_reader_feed(hr_fcgi_reader_t *r, const uint8_t *p, size_t len)
{
    if (r->status)
        return r->status;
    if (r->done)
        return fail(r, HR_EPROTO, "FastCGI bytes after END_REQUEST");
    size_t i = 0;
    while (i < len) {
        if (r->head_n < HR_FCGI_HEADER_LEN) {
            size_t take = HR_FCGI_HEADER_LEN - r->head_n;
            if (take > len - i)
                take = len - i;
            memcpy(r->head + r->head_n, p + i, take);
            r->head_n += take;
            i += take;
            if (r->head_n < HR_FCGI_HEADER_LEN)
                break;
            if (start_record(r) < 0)
                return r->status;
        }
        if (r->content) {
            size_t take = r->content < len - i ? r->content : len - i;
            switch (r->head[1]) {
            case HR_FCGI_STDOUT:
                append(&r->out, &r->out_len, &r->out_cap, p + i, take);
                break;
            case HR_FCGI_STDERR:
                append(&r->err, &r->err_len, &r->err_cap, p + i, take);
                break;
            default: /* END_REQUEST: 8 bytes, checked */
                memcpy(r->end + r->end_n, p + i, take);
                r->end_n += take;
            }
            r->content -= take;
            i += take;
        }
        if (r->content == 0 && r->padding) {
            size_t take = r->padding < len - i ? r->padding : len - i;
            r->padding -= take;
            i += take;
        }
        if (r->content || r->padding)
            break; /* the record goes on in the next feed */
        r->head_n = 0;
        if (r->head[1] == HR_FCGI_END_REQUEST) {
            const uint8_t *e = r->end;
            r->app_status =
                (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 | (uint32_t)e[2] << 8 | e[3];
            if (e[4] != HR_FCGI_REQUEST_COMPLETE)
                return fail(r, HR_EPROTO, "FastCGI END_REQUEST: %s (%u)", proto_status_text(e[4]),
                            e[4]);
            r->done = 1;
            return (ssize_t)i;
        }
    }
    return HR_AGAIN;
}

/* ---- CGI response ---- */

static int cgi_fail(char *errstr, size_t errlen, const char *why)
{
    if (errstr && errlen)
        snprintf(errstr, errlen, "%s", why);
    return HR_EPROTO;
}

int hr_cgi_split(const uint8_t *p, size_t len, int *status, size_t *body_off, char *errstr,
                 size_t errlen)
{
    size_t i = 0;
    int st = 200;
    for (;;) {
        const uint8_t *nl = i < len ? memchr(p + i, '\n', len - i) : NULL;
        if (nl == NULL)
            return cgi_fail(errstr, errlen, "CGI headers without an empty line ending them");
        size_t end = (size_t)(nl - p), next = end + 1;
        if (end > i && p[end - 1] == '\r')
            end--;
        if (end == i) {
            *status = st;
            *body_off = next;
            return 0;
        }
        const uint8_t *colon = memchr(p + i, ':', end - i);
        if (colon == NULL || colon == p + i)
            return cgi_fail(errstr, errlen, "CGI header line without a name");
        size_t nlen = (size_t)(colon - (p + i));
        for (size_t k = i; k < i + nlen; k++)
            if (p[k] <= 0x20 || p[k] >= 0x7f)
                return cgi_fail(errstr, errlen, "CGI header name with a bad byte");
        if (nlen == 6 && strncasecmp((const char *)p + i, "status", 6) == 0) {
            size_t v = (size_t)(colon - p) + 1;
            while (v < end && (p[v] == ' ' || p[v] == '\t'))
                v++;
            int code = 0, digits = 0;
            while (v < end && digits < 4 && p[v] >= '0' && p[v] <= '9') {
                code = code * 10 + (p[v++] - '0');
                digits++;
            }
            if (digits != 3 || code < 100 || code > 599 || (v < end && p[v] != ' ' && p[v] != '\t'))
                return cgi_fail(errstr, errlen, "CGI Status header without a valid code");
            st = code;
        }
        i = next;
    }
}
