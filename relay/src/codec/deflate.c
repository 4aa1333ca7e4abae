/* SPDX-License-Identifier: MIT
 * deflate.c: permessage-deflate negotiation, compression and inflation
 * (deflate.h). */
#include "codec/deflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- negotiation ---- */

/* RFC 7230 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

typedef struct scan {
    const char *s;
    size_t len, pos;
} scan_t;

static void skip_ows(scan_t *sc)
{
    while (sc->pos < sc->len && (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t'))
        sc->pos++;
}

/* A token at pos; its length (0: none). */
static size_t token(scan_t *sc, const char **start)
{
    *start = sc->s + sc->pos;
    size_t n = 0;
    while (sc->pos < sc->len && is_tchar((unsigned char)sc->s[sc->pos])) {
        sc->pos++;
        n++;
    }
    return n;
}

/* A parameter value, a token or a quoted string (unescaped into buf, cut
 * at cap: a value that long is out of range anyway). Returns its length,
 * or -1 on a syntax error. */
static long value(scan_t *sc, char *buf, size_t cap)
{
    size_t n = 0;
    if (sc->pos < sc->len && sc->s[sc->pos] == '"') {
        sc->pos++;
        for (;;) {
            if (sc->pos >= sc->len)
                return -1;
            char c = sc->s[sc->pos++];
            if (c == '"')
                break;
            if (c == '\\') {
                if (sc->pos >= sc->len)
                    return -1;
                c = sc->s[sc->pos++];
            }
            if (n < cap)
                buf[n] = c;
            n++;
        }
        return n > cap ? (long)cap + 1 : (long)n;
    }
    const char *t;
    size_t tl = token(sc, &t);
    if (tl == 0)
        return -1;
    memcpy(buf, t, tl < cap ? tl : cap);
    return tl > cap ? (long)cap + 1 : (long)tl;
}

/* Window bits "8".."15" exactly (no sign, no leading zero); 0 otherwise. */
static int bits_of(const char *v, long n)
{
    if (n == 1 && v[0] == '8')
        return 8;
    if (n == 1 && v[0] == '9')
        return 9;
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + (v[1] - '0');
    return 0;
}

enum { P_SNC = 1, P_CNC = 2, P_SMW = 4, P_CMW = 8 };

/* Apply one parameter to an offer; 0 when it makes the offer unacceptable. */
static int param(hr_deflate_params_t *p, unsigned *seen, const char *name, size_t nlen,
                 const char *v, long vlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"server_no_context_takeover", P_SNC},
        {"client_no_context_takeover", P_CNC},
        {"server_max_window_bits", P_SMW},
        {"client_max_window_bits", P_CMW},
    };
    unsigned bit = 0;
    for (size_t i = 0; i < HR_ARRAY_SIZE(names); i++)
        if (strlen(names[i].name) == nlen && strncasecmp(names[i].name, name, nlen) == 0)
            bit = names[i].bit;
    if (bit == 0 || (*seen & bit))
        return 0;
    *seen |= bit;
    switch (bit) {
    case P_SNC:
        return vlen < 0;
    case P_CNC:
        p->client_no_context = 1;
        return vlen < 0;
    case P_SMW: {
        int b = vlen < 0 ? 0 : bits_of(v, vlen);
        /* zlib's raw deflate turns 8 into 9, which a client that asked for
         * 8 could not read: decline rather than lie. */
        if (b < 9)
            return 0;
        p->server_bits = (uint8_t)b;
        p->server_bits_named = 1;
        return 1;
    }
    default: { /* P_CMW: a value is optional */
        if (vlen < 0)
            return 1;
        int b = bits_of(v, vlen);
        p->client_bits = (uint8_t)b;
        return b != 0;
    }
    }
}

int hr_deflate_offer(const char *value_, size_t len, hr_deflate_params_t *out, int *declined)
{
    scan_t sc = {value_, len, 0};
    for (;;) {
        skip_ows(&sc);
        while (sc.pos < sc.len &&
               (sc.s[sc.pos] == ',' || sc.s[sc.pos] == ' ' || sc.s[sc.pos] == '\t'))
            sc.pos++;
        if (sc.pos >= sc.len)
            return 0;
        const char *name;
        size_t nlen = token(&sc, &name);
        if (nlen == 0)
            return 0; /* not a list we can read on: take nothing further */
        int pmd = nlen == 18 && strncasecmp(name, "permessage-deflate", 18) == 0;
        hr_deflate_params_t p = {15, 0, 0, 0};
        unsigned seen = 0;
        int ok = 1;
        for (;;) {
            skip_ows(&sc);
            if (sc.pos >= sc.len || sc.s[sc.pos] != ';')
                break;
            sc.pos++;
            skip_ows(&sc);
            const char *pname;
            size_t pnlen = token(&sc, &pname);
            if (pnlen == 0)
                return 0;
            skip_ows(&sc);
            char v[8];
            long vlen = -1;
            if (sc.pos < sc.len && sc.s[sc.pos] == '=') {
                sc.pos++;
                skip_ows(&sc);
                vlen = value(&sc, v, sizeof v);
                if (vlen < 0)
                    return 0;
            }
            if (pmd && ok)
                ok = param(&p, &seen, pname, pnlen, v, vlen);
        }
        if (sc.pos < sc.len && sc.s[sc.pos] != ',')
            return 0;
        if (pmd) {
            if (ok) {
                *out = p;
                return 1;
            }
            if (declined)
                *declined = 1;
        }
    }
}

size_t hr_deflate_answer(const hr_deflate_params_t *p, char out[HR_DEFLATE_ANSWER_MAX])
{
    int n = snprintf(out, HR_DEFLATE_ANSWER_MAX, "permessage-deflate; server_no_context_takeover");
    if (p->server_bits_named)
        n += snprintf(out + n, HR_DEFLATE_ANSWER_MAX - (size_t)n, "; server_max_window_bits=%d",
                      p->server_bits);
    if (p->client_bits)
        n += snprintf(out + n, HR_DEFLATE_ANSWER_MAX - (size_t)n, "; client_max_window_bits=%d",
                      p->client_bits);
    if (p->client_no_context)
        n += snprintf(out + n, HR_DEFLATE_ANSWER_MAX - (size_t)n, "; client_no_context_takeover");
    /* The buffer holds every parameter: an answer cut short would be a
     * header the client refuses (and n past it, an overflow). */
    if (n <= 0 || n >= HR_DEFLATE_ANSWER_MAX)
        abort();
    return (size_t)n;
}

/* ---- compression ---- */

struct hr_deflater {
    z_stream z;
};

hr_deflater_t *hr_deflater_new(int bits, int level)
{
    hr_deflater_t *d = hr_xcalloc(1, sizeof *d);
    /* Negative bits: raw deflate, no zlib header or checksum (RFC 7692). */
    if (deflateInit2(&d->z, level, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(d);
        return NULL;
    }
    return d;
}

void hr_deflater_free(hr_deflater_t *d)
{
    if (d == NULL)
        return;
    deflateEnd(&d->z);
    free(d);
}

long hr_deflater_compress(hr_deflater_t *d, const uint8_t *in, size_t len, size_t head,
                          uint8_t **out)
{
    *out = NULL;
    if (len > UINT32_MAX / 2 || deflateReset(&d->z) != Z_OK)
        return -1;
    /* deflateBound is for Z_FINISH; a sync flush adds an empty stored
     * block (5 bytes) and may close a partial one. */
    size_t cap = deflateBound(&d->z, (uLong)len) + 16;
    uint8_t *b = hr_xmalloc(head + cap);
    d->z.next_in = (Bytef *)in;
    d->z.avail_in = (uInt)len;
    d->z.next_out = b + head;
    d->z.avail_out = (uInt)cap;
    int rc = deflate(&d->z, Z_SYNC_FLUSH);
    size_t n = cap - d->z.avail_out;
    if (rc != Z_OK || d->z.avail_in != 0 || d->z.avail_out == 0 || n < 4 ||
        memcmp(b + head + n - 4, "\x00\x00\xff\xff", 4) != 0) {
        free(b);
        return -1;
    }
    *out = b;
    return (long)(n - 4);
}

/* ---- inflation ---- */

struct hr_inflater {
    z_stream z;
    int broken;
};

hr_inflater_t *hr_inflater_new(void)
{
    hr_inflater_t *z = hr_xcalloc(1, sizeof *z);
    if (inflateInit2(&z->z, -15) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

void hr_inflater_free(hr_inflater_t *z)
{
    if (z == NULL)
        return;
    inflateEnd(&z->z);
    free(z);
}

static const uint8_t trailer[4] = {0x00, 0x00, 0xff, 0xff};

int hr_inflater_message(hr_inflater_t *z, const uint8_t *in, size_t len, size_t cap, int keep,
                        uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (z->broken)
        return HR_INFLATE_CORRUPT;
    if (cap > UINT32_MAX / 2)
        cap = UINT32_MAX / 2;
    /* The buffer holds at most cap + 1 bytes: one past the cap tells a
     * message of exactly cap bytes from a larger one. */
    size_t limit = cap + 1;
    size_t size = len < limit / 4 ? len * 4 : limit;
    if (size < 256)
        size = limit < 256 ? limit : 256;
    uint8_t *b = hr_xmalloc(size);
    size_t used = 0;
    int fed_trailer = 0, status = HR_INFLATE_OK;
    z->z.next_in = (Bytef *)in;
    z->z.avail_in = (uInt)len;
    for (;;) {
        if (used == size) {
            if (size == limit) {
                status = HR_INFLATE_TOO_BIG;
                break;
            }
            size = size < limit / 2 ? size * 2 : limit;
            b = hr_xrealloc(b, size);
        }
        if (z->z.avail_in == 0 && !fed_trailer) {
            z->z.next_in = (Bytef *)trailer;
            z->z.avail_in = sizeof trailer;
            fed_trailer = 1;
        }
        z->z.next_out = b + used;
        z->z.avail_out = (uInt)(size - used);
        int rc = inflate(&z->z, Z_SYNC_FLUSH);
        used = size - z->z.avail_out;
        if (rc == Z_STREAM_END) {
            /* A final block: the client's stream ended, and so does its
             * context; the trailer we appended is not read. */
            inflateReset(&z->z);
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            status = HR_INFLATE_CORRUPT;
            break;
        }
        /* All input read and room left over: everything is out. */
        if (fed_trailer && z->z.avail_in == 0 && z->z.avail_out > 0)
            break;
        if (rc == Z_BUF_ERROR && z->z.avail_out > 0) {
            status = HR_INFLATE_CORRUPT; /* no progress with input and room: cannot be */
            break;
        }
    }
    if (used > cap)
        status = HR_INFLATE_TOO_BIG;
    if (status != HR_INFLATE_OK) {
        z->broken = 1;
        free(b);
        return status;
    }
    if (!keep)
        inflateReset(&z->z);
    *out = b;
    *out_len = used;
    return HR_INFLATE_OK;
}
