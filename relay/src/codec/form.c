/* SPDX-License-Identifier: MIT
 * form.c: application/x-www-form-urlencoded bodies (form.h). */
#include "codec/form.h"

#include <stdio.h>
#include <stdlib.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t hr_form_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || w == cap)
            return -1;
        out[w++] = (char)c;
    }
    return (ssize_t)w;
}

/* Why hr_form_decode refused s: the first bad escape or NUL, else room. */
static void why(const char *s, size_t len, size_t n, const char *side, char *err, size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0) {
            snprintf(err, errlen, "pair %zu: NUL in the %s", n, side);
            return;
        }
        if (s[i] != '%')
            continue;
        if (i + 2 >= len || hexval((unsigned char)s[i + 1]) < 0 ||
            hexval((unsigned char)s[i + 2]) < 0) {
            snprintf(err, errlen, "pair %zu: bad %%XX escape in the %s", n, side);
            return;
        }
        if (s[i + 1] == '0' && s[i + 2] == '0') {
            snprintf(err, errlen, "pair %zu: NUL (%%00) in the %s", n, side);
            return;
        }
        i += 2;
    }
    snprintf(err, errlen, "pair %zu: no room to decode the %s", n, side);
}

void hr_form_iter_init(hr_form_iter_t *it, const char *body, size_t len)
{
    *it = (hr_form_iter_t){body, len, 0, 0};
}

int hr_form_next(hr_form_iter_t *it, char *buf, size_t cap, hr_form_pair_t *pair, char *err,
                 size_t errlen)
{
    for (;;) {
        if (it->pos >= it->len)
            return 0;
        const char *p = it->s + it->pos;
        size_t rest = it->len - it->pos;
        const char *amp = memchr(p, '&', rest);
        size_t plen = amp ? (size_t)(amp - p) : rest;
        if (plen == 0) {
            it->pos++;
            continue;
        }
        if (memchr(p, ';', plen) != NULL) {
            snprintf(err, errlen, "pair %zu: a raw ';' (escape it as %%3B)", it->n + 1);
            return -1;
        }
        if (it->n == HR_FORM_MAX_PAIRS) {
            snprintf(err, errlen, "more than %d pairs", HR_FORM_MAX_PAIRS);
            return -1;
        }
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        const char *v = eq ? eq + 1 : p + plen;
        size_t vlen = eq ? plen - klen - 1 : 0;
        ssize_t k = hr_form_decode(p, klen, buf, cap);
        if (k < 0) {
            why(p, klen, it->n + 1, "name", err, errlen);
            return -1;
        }
        ssize_t w = hr_form_decode(v, vlen, buf + k, cap - (size_t)k);
        if (w < 0) {
            why(v, vlen, it->n + 1, "value", err, errlen);
            return -1;
        }
        pair->key = (hr_slice_t){buf, (size_t)k};
        pair->val = (hr_slice_t){buf + k, (size_t)w};
        it->pos += plen + (amp != NULL);
        it->n++;
        return 1;
    }
}

int hr_form_parse(const char *body, size_t len, hr_form_t *f, char *err, size_t errlen)
{
    f->pairs = NULL;
    f->n = 0;
    /* Room for every pair the body could hold, up to the cap, then the
     * decoded bytes (no more than the body). */
    size_t segs = 1;
    for (size_t i = 0; i < len && segs <= HR_FORM_MAX_PAIRS; i++)
        segs += body[i] == '&';
    if (segs > HR_FORM_MAX_PAIRS + 1)
        segs = HR_FORM_MAX_PAIRS + 1;
    char *mem = hr_xmalloc(segs * sizeof(hr_form_pair_t) + len + 1);
    hr_form_pair_t *pairs = (hr_form_pair_t *)mem;
    char *data = mem + segs * sizeof(hr_form_pair_t);
    size_t used = 0;
    hr_form_iter_t it;
    hr_form_iter_init(&it, body, len);
    int r;
    while ((r = hr_form_next(&it, data + used, len - used, &pairs[f->n], err, errlen)) == 1) {
        used += pairs[f->n].key.len + pairs[f->n].val.len;
        f->n++;
    }
    if (r < 0) {
        free(mem);
        f->n = 0;
        return -1;
    }
    f->pairs = pairs;
    return 0;
}

size_t hr_form_count(const hr_form_t *f, const char *key)
{
    size_t n = 0, kl = strlen(key);
    for (size_t i = 0; i < f->n; i++)
        n += hr_slice_eq(f->pairs[i].key, (hr_slice_t){key, kl});
    return n;
}

const hr_slice_t *hr_form_get(const hr_form_t *f, const char *key, size_t idx)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < f->n; i++)
        if (hr_slice_eq(f->pairs[i].key, (hr_slice_t){key, kl}) && idx-- == 0)
            return &f->pairs[i].val;
    return NULL;
}

void hr_form_free(hr_form_t *f)
{
    free(f->pairs);
    f->pairs = NULL;
    f->n = 0;
}
