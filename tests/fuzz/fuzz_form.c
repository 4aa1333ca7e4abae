/* SPDX-License-Identifier: MIT
 * fuzz_form.c: libFuzzer harness for relay/src/codec/form.c, form bodies.
 * The input is a body. The whole-body parse and the iterator (with a
 * buffer exactly the body's length) must agree pair for pair; decoded
 * pairs hold no NUL and lie inside the parse's memory; a refusal says
 * why; and the pairs escaped back (every byte as %XX, '&'-joined) must
 * parse to the same pairs. Any violation aborts. */
#include "codec/form.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_form: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static size_t escape(char *out, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    hr_form_t f;
    char err[200] = "", err2[200] = "";
    int r = hr_form_parse(body, size, &f, err, sizeof err);

    hr_form_iter_t it;
    hr_form_pair_t p;
    char *buf = malloc(size + 1);
    hr_form_iter_init(&it, body, size);
    size_t n = 0;
    int ir;
    while ((ir = hr_form_next(&it, buf, size, &p, err2, sizeof err2)) == 1) {
        CHECK(r == -1 || n < f.n);
        CHECK(p.key.len + p.val.len <= size);
        CHECK(memchr(p.key.p, 0, p.key.len) == NULL && memchr(p.val.p, 0, p.val.len) == NULL);
        if (r == 0) {
            CHECK(hr_slice_eq(p.key, f.pairs[n].key) && hr_slice_eq(p.val, f.pairs[n].val));
        }
        n++;
    }
    free(buf);
    if (r != 0) {
        CHECK(ir == -1 && strcmp(err, err2) == 0 && err[0] != '\0' && f.pairs == NULL);
        return 0;
    }
    CHECK(ir == 0 && n == f.n && f.n <= HR_FORM_MAX_PAIRS);
    CHECK(memchr(body, ';', size) == NULL);

    /* escaped back, every pair as k=v */
    size_t need = 1;
    for (size_t i = 0; i < f.n; i++)
        need += 3 * (f.pairs[i].key.len + f.pairs[i].val.len) + 2;
    char *re = malloc(need);
    size_t o = 0;
    for (size_t i = 0; i < f.n; i++) {
        o += escape(re + o, f.pairs[i].key.p, f.pairs[i].key.len);
        re[o++] = '=';
        o += escape(re + o, f.pairs[i].val.p, f.pairs[i].val.len);
        re[o++] = '&';
    }
    hr_form_t g;
    CHECK(hr_form_parse(re, o, &g, err, sizeof err) == 0);
    CHECK(g.n == f.n);
    for (size_t i = 0; i < f.n; i++) {
        CHECK(hr_slice_eq(f.pairs[i].key, g.pairs[i].key));
        CHECK(hr_slice_eq(f.pairs[i].val, g.pairs[i].val));
        CHECK(hr_form_get(&f, "topic", 0) == NULL || hr_form_count(&f, "topic") > 0);
    }
    free(re);
    hr_form_free(&g);
    hr_form_free(&f);
    return 0;
}
