/* SPDX-License-Identifier: MIT
 * uri_template.c: Mercure topic selectors and URI templates
 * (uri_template.h). */
#include "codec/uri_template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum { N_BYTE, N_LOOP, N_PCT1, N_PCT2, N_SPLIT, N_MATCH };

/* The characters a value may hold besides %XX: unreserved and ','; the
 * same and '='; unreserved and reserved (uritemplate's runeClassToRegexp). */
enum { C_U, C_UEQ, C_UR };

/* BYTE matches arg and goes to out. LOOP is a value: it takes a byte of
 * class arg and stays, or '%' and goes to the PCT1 after it (PCT1 and PCT2
 * each take a hex digit; PCT2 goes back to out, the LOOP), or leaves
 * without a byte for out. SPLIT leaves for out and alt. */
typedef struct node {
    uint8_t op, arg;
    uint32_t out, alt;
} node_t;

struct hr_uri_template {
    node_t *nodes;
    size_t n, cap, nexpr;
};

static void fail(char *err, size_t errlen, size_t pos, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    int k = snprintf(err, errlen, "at byte %zu: ", pos);
    if (k < 0 || (size_t)k >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_unreserved(int c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_reserved(int c)
{
    return c != 0 && strchr("!#$&'()*+,/:;=?@[]", c) != NULL;
}

static int in_class(int cls, int c)
{
    if (is_unreserved(c))
        return 1;
    if (cls == C_UR)
        return is_reserved(c);
    return c == ',' || (cls == C_UEQ && c == '=');
}

/* RFC 6570's literals, ASCII part ('%' aside; '\'' since erratum 6937, as
 * uritemplate v3.0.2 accepts it). */
static int is_literal_ascii(int c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x24) || (c >= 0x26 && c <= 0x3b) || c == 0x3d ||
           (c >= 0x3f && c <= 0x5b) || c == 0x5d || c == 0x5f || (c >= 0x61 && c <= 0x7a) ||
           c == 0x7e;
}

/* ucschar and iprivate. */
static int is_literal_cp(uint32_t cp)
{
    if (cp < 0x10000)
        return (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfdcf) ||
               (cp >= 0xfdf0 && cp <= 0xffef);
    if (cp > 0x10fffd || (cp & 0xffff) > 0xfffd)
        return 0;
    return cp < 0xe0000 || cp >= 0xe1000;
}

/* One UTF-8 character at s[0..len): its length, or 0 when it is not
 * a whole, shortest-form, non-surrogate character. */
static size_t utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2, c = s[0] & 0x1f, min = 0x80;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3, c = s[0] & 0x0f, min = 0x800;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

static int triplet(const char *s, size_t len, size_t i)
{
    return i + 2 < len && s[i] == '%' && is_hex((unsigned char)s[i + 1]) &&
           is_hex((unsigned char)s[i + 2]);
}

static uint32_t emit(hr_uri_template_t *t, int op, int arg, size_t out, size_t alt)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 32;
        t->nodes = hr_xrealloc(t->nodes, t->cap * sizeof *t->nodes);
    }
    t->nodes[t->n] = (node_t){(uint8_t)op, (uint8_t)arg, (uint32_t)out, (uint32_t)alt};
    return (uint32_t)t->n++;
}

/* A value: LOOP, PCT1, PCT2; the LOOP leaves for exit. */
static void emit_value(hr_uri_template_t *t, int cls, size_t exit)
{
    size_t k = t->n;
    emit(t, N_LOOP, cls, exit, 0);
    emit(t, N_PCT1, 0, k + 2, 0);
    emit(t, N_PCT2, 0, k, 0);
}

/* The automaton of one expression, as uritemplate's (*expression).regexp
 * writes it: (?:first (value (?:sep value){0,count-1 or *}))? */
static void compile_expr(hr_uri_template_t *t, int op, size_t nvars, int explode0, int exploded)
{
    int named = op == ';' || op == '?' || op == '&';
    int allow_r = op == '+' || op == '#';
    int first = op != 0 && op != '+' ? op : 0;
    int sep = op == '.' || op == '/' || op == ';' || op == '&' ? op : op == '?' ? '&' : ',';
    int cls1 = allow_r ? C_UR : named || explode0 ? C_UEQ : C_U;
    int cls2 = allow_r ? C_UR : named || exploded ? C_UEQ : C_U;
    int group = nvars > 1 || explode0;
    /* When the separator is a value character and the later values take
     * no more than the first, the repetition adds nothing to the first
     * value: leave it out (it would only widen the set of live states). */
    if (group && in_class(cls1, sep) && (cls2 == cls1 || cls2 == C_U))
        group = 0;
    size_t start = t->n;
    if (first) {
        emit(t, N_SPLIT, 0, start + 1, 0);
        emit(t, N_BYTE, first, start + 2, 0);
    }
    emit_value(t, cls1, t->n + 3);
    if (group && exploded) {
        size_t s = t->n;
        emit(t, N_SPLIT, 0, s + 1, 0);
        emit(t, N_BYTE, sep, s + 2, 0);
        emit_value(t, cls2, s);
    } else if (group) {
        for (size_t k = 1; k < nvars; k++) {
            size_t s = t->n;
            emit(t, N_SPLIT, 0, s + 1, 0);
            emit(t, N_BYTE, sep, s + 2, 0);
            emit_value(t, cls2, s + 5);
        }
    }
    for (size_t j = start; j < t->n; j++)
        if (t->nodes[j].op == N_SPLIT)
            t->nodes[j].alt = (uint32_t)t->n;
    t->nexpr++;
}

static const char *shown(int c, char buf[8])
{
    if (c > 0x20 && c < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", c);
    return buf;
}

/* The expression at tpl[*ip] == '{'; *ip is left after its '}'. */
static int parse_expr(hr_uri_template_t *t, const char *tpl, size_t len, size_t *ip, char *err,
                      size_t errlen)
{
    size_t open = *ip, p = open + 1;
    char b[8];
    if (p >= len)
        goto unterminated;
    int op = (unsigned char)tpl[p];
    if (strchr("+#./;?&", op) != NULL) {
        p++;
    } else if (strchr("=,!@|", op) != NULL) {
        fail(err, errlen, p, "operator '%c' is reserved (RFC 6570 op-reserved)", op);
        return -1;
    } else {
        op = 0;
    }
    size_t nvars = 0;
    int explode0 = 0, exploded = 0;
    for (;;) {
        size_t name = p;
        while (p < len) {
            int c = (unsigned char)tpl[p];
            if (is_alnum(c) || c == '_') {
                p++;
            } else if (c == '%') {
                if (!triplet(tpl, len, p)) {
                    fail(err, errlen, p, "bad %%XX escape in a variable name");
                    return -1;
                }
                p += 3;
            } else if (c == '.') {
                if (p == name || tpl[p - 1] == '.') {
                    fail(err, errlen, p, "bad variable name: '.' first or twice");
                    return -1;
                }
                p++;
            } else {
                break;
            }
        }
        if (p >= len)
            goto unterminated;
        int c = (unsigned char)tpl[p];
        if (p == name) {
            if (c == ',' || c == '}')
                fail(err, errlen, p, "empty variable name");
            else
                fail(err, errlen, p, "bad character %s in a variable name", shown(c, b));
            return -1;
        }
        if (tpl[p - 1] == '.') {
            fail(err, errlen, p - 1, "bad variable name: '.' last");
            return -1;
        }
        if (c == ':') {
            unsigned v = 0;
            size_t d = ++p;
            while (p < len && tpl[p] >= '0' && tpl[p] <= '9') {
                v = v * 10 + (unsigned)(tpl[p] - '0');
                if (v == 0 || v > 9999)
                    break;
                p++;
            }
            if (p == d || v == 0 || v > 9999) {
                fail(err, errlen, d, "prefix length must be 1 to 9999");
                return -1;
            }
        } else if (c == '*') {
            p++;
            explode0 |= nvars == 0;
            exploded = 1;
        }
        nvars++;
        if (p >= len)
            goto unterminated;
        c = (unsigned char)tpl[p++];
        if (c == ',')
            continue;
        if (c == '}')
            break;
        if (c == '{')
            fail(err, errlen, p - 1, "'{' inside an expression");
        else
            fail(err, errlen, p - 1, "bad character %s in an expression", shown(c, b));
        return -1;
    }
    compile_expr(t, op, nvars, explode0, exploded);
    *ip = p;
    return 0;
unterminated:
    fail(err, errlen, open, "'{' without '}'");
    return -1;
}

int hr_uri_template_parse(const char *tpl, size_t len, hr_uri_template_t **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    if (len > HR_URI_TEMPLATE_MAX) {
        fail(err, errlen, HR_URI_TEMPLATE_MAX, "template longer than %d bytes",
             HR_URI_TEMPLATE_MAX);
        return -1;
    }
    hr_uri_template_t *t = hr_xcalloc(1, sizeof *t);
    size_t i = 0;
    char b[8];
    while (i < len) {
        int c = (unsigned char)tpl[i];
        if (c == '{') {
            if (parse_expr(t, tpl, len, &i, err, errlen) != 0)
                goto bad;
            continue;
        }
        size_t n = 1;
        uint32_t cp;
        if (c == '}') {
            fail(err, errlen, i, "'}' without '{'");
            goto bad;
        } else if (c == '%') {
            if (!triplet(tpl, len, i)) {
                fail(err, errlen, i, "bad %%XX escape");
                goto bad;
            }
            n = 3;
        } else if (c < 0x80) {
            if (!is_literal_ascii(c)) {
                fail(err, errlen, i, "character %s not allowed in a literal (use %%XX)",
                     shown(c, b));
                goto bad;
            }
        } else if ((n = utf8_char((const unsigned char *)tpl + i, len - i, &cp)) == 0) {
            fail(err, errlen, i, "invalid UTF-8");
            goto bad;
        } else if (!is_literal_cp(cp)) {
            fail(err, errlen, i, "character U+%04X not allowed in a literal (use %%XX)",
                 (unsigned)cp);
            goto bad;
        }
        for (size_t k = 0; k < n; k++)
            emit(t, N_BYTE, (unsigned char)tpl[i + k], t->n + 1, 0);
        i += n;
    }
    emit(t, N_MATCH, 0, 0, 0);
    *out = t;
    return 0;
bad:
    hr_uri_template_free(t);
    return -1;
}

/* Add node k and every node reachable from it without a byte to list,
 * each once per generation; 1 if that reaches the end. stack has room for
 * 2n + 1 entries: each node is expanded once and pushes at most two. */
static int add(const node_t *nd, uint32_t *list, size_t *nlist, uint32_t *mark, uint32_t gen,
               uint32_t *stack, uint32_t k)
{
    size_t sp = 0;
    int matched = 0;
    stack[sp++] = k;
    while (sp > 0) {
        k = stack[--sp];
        if (mark[k] == gen)
            continue;
        mark[k] = gen;
        switch (nd[k].op) {
        case N_SPLIT:
            stack[sp++] = nd[k].alt;
            stack[sp++] = nd[k].out;
            break;
        case N_MATCH:
            matched = 1;
            break;
        case N_LOOP:
            list[(*nlist)++] = k;
            stack[sp++] = nd[k].out;
            break;
        default:
            list[(*nlist)++] = k;
            break;
        }
    }
    return matched;
}

int hr_uri_template_match(const hr_uri_template_t *t, const char *uri, size_t len)
{
    size_t n = t->n;
    if (len >= UINT32_MAX - 2)
        return 0; /* the generations would wrap */
    uint32_t small[5 * 64 + 1];
    uint32_t *mem = n <= 64 ? small : hr_xmalloc((5 * n + 1) * sizeof *mem);
    uint32_t *cur = mem, *next = cur + n, *mark = next + n, *stack = mark + n;
    memset(mark, 0, n * sizeof *mark);
    const node_t *nd = t->nodes;
    size_t ncur = 0;
    uint32_t gen = 1;
    int matched = add(nd, cur, &ncur, mark, gen, stack, 0);
    for (size_t i = 0; i < len; i++) {
        if (ncur == 0) {
            matched = 0;
            break;
        }
        int c = (unsigned char)uri[i];
        size_t nnext = 0;
        gen++;
        matched = 0;
        for (size_t j = 0; j < ncur; j++) {
            uint32_t k = cur[j];
            const node_t *x = &nd[k];
            uint32_t to;
            if (x->op == N_BYTE && x->arg == c)
                to = x->out;
            else if (x->op == N_LOOP && in_class(x->arg, c))
                to = k;
            else if (x->op == N_LOOP && c == '%')
                to = k + 1;
            else if ((x->op == N_PCT1 || x->op == N_PCT2) && is_hex(c))
                to = x->out;
            else
                continue;
            matched |= add(nd, next, &nnext, mark, gen, stack, to);
        }
        uint32_t *tmp = cur;
        cur = next;
        next = tmp;
        ncur = nnext;
    }
    if (mem != small)
        free(mem);
    return matched;
}

size_t hr_uri_template_nodes(const hr_uri_template_t *t)
{
    return t->n;
}

size_t hr_uri_template_exprs(const hr_uri_template_t *t)
{
    return t->nexpr;
}

void hr_uri_template_free(hr_uri_template_t *t)
{
    if (t == NULL)
        return;
    free(t->nodes);
    free(t);
}

int hr_topic_selector_match(const char *sel, size_t sellen, const char *topic, size_t topiclen)
{
    if (sellen == 1 && sel[0] == '*')
        return 1;
    if (sellen == topiclen && (sellen == 0 || memcmp(sel, topic, sellen) == 0))
        return 1;
    if (sellen == 0 || memchr(sel, '{', sellen) == NULL)
        return 0;
    hr_uri_template_t *t;
    if (hr_uri_template_parse(sel, sellen, &t, NULL, 0) != 0)
        return 0;
    int r = hr_uri_template_match(t, topic, topiclen);
    hr_uri_template_free(t);
    return r;
}
