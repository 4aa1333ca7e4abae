/* SPDX-License-Identifier: MIT
 * fuzz_uri_template.c: libFuzzer harness for relay/src/codec/uri_template.c,
 * Mercure topic selectors. The input is a template, a NUL, and a URI. A
 * refused template must say where and why; an accepted one must stay
 * within the node bound of uri_template.h. The match is checked against
 * an oracle built the way the reference hub builds it: the regular
 * expression github.com/yosida95/uritemplate v3.0.2 writes for the template
 * (Template.Regexp: (?:first(value(?:sep value){0,n}))? per expression),
 * compiled here by libc's POSIX regcomp, for templates and URIs short
 * enough for it. hr_topic_selector_match must agree with the template on
 * anything but "*" and equality. Any violation aborts. */
#include "codec/uri_template.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_uri_template: %s:%d: check failed: %s\n", __FILE__, __LINE__,    \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define ORACLE_MAX 96 /* template and URI bytes the regex oracle is run on */

typedef struct {
    char *p;
    size_t n, cap;
} sb_t;

static void put(sb_t *b, const char *s)
{
    size_t l = strlen(s);
    CHECK(b->n + l < b->cap);
    memcpy(b->p + b->n, s, l);
    b->n += l;
    b->p[b->n] = 0;
}

/* One byte matched as itself, whatever it is in a POSIX ERE. */
static void put_lit(sb_t *b, unsigned char c)
{
    char t[8];
    if (c == '^')
        snprintf(t, sizeof t, "\\^");
    else if (c == '\\')
        snprintf(t, sizeof t, "\\\\");
    else if (c < 0x80 && strchr(".[]()*+?{}|$", c))
        snprintf(t, sizeof t, "[%c]", c);
    else
        snprintf(t, sizeof t, "%c", c);
    put(b, t);
}

/* uritemplate's runeClassToRegexp: ((chars)|%XX)* ; ']' first and '-'
 * last in the bracket, as POSIX wants them, '[' before the '-' (not before
 * a '.', which would open a collating symbol). */
static void put_class(sb_t *b, int allow_r, int named)
{
    put(b, "(([");
    if (allow_r)
        put(b, "]!#$&'()*+,/:;=?@._~0-9A-Za-z[-]");
    else
        put(b, named ? ",=._~0-9A-Za-z-]" : ",._~0-9A-Za-z-]");
    put(b, "|%[0-9A-Fa-f][0-9A-Fa-f])*)");
}

/* The oracle's regex for a template the codec accepted. */
static void build_regex(const char *tpl, size_t len, sb_t *b)
{
    put(b, "^");
    size_t i = 0;
    while (i < len) {
        if (tpl[i] != '{') {
            put_lit(b, (unsigned char)tpl[i++]);
            continue;
        }
        size_t end = i + 1;
        while (tpl[end] != '}')
            end++;
        int op = strchr("+#./;?&", tpl[i + 1]) ? tpl[i + 1] : 0;
        size_t p = i + 1 + (op != 0);
        size_t nvars = 1;
        int explode0 = 0, exploded = 0;
        for (size_t k = p; k < end; k++) {
            if (tpl[k] == ',')
                nvars++;
            if (tpl[k] == '*') {
                exploded = 1;
                explode0 |= nvars == 1;
            }
        }
        int named = op == ';' || op == '?' || op == '&';
        int allow_r = op == '+' || op == '#';
        int first = op != 0 && op != '+' ? op : 0;
        int sep = op == '.' || op == '/' || op == ';' || op == '&' ? op : op == '?' ? '&' : ',';
        put(b, "(");
        if (first)
            put_lit(b, (unsigned char)first);
        put(b, "(");
        put_class(b, allow_r, named || explode0);
        if (nvars > 1 || explode0) {
            put(b, "(");
            put_lit(b, (unsigned char)sep);
            put_class(b, allow_r, named || exploded);
            put(b, ")");
            if (exploded) {
                put(b, "*");
            } else {
                char t[24];
                snprintf(t, sizeof t, "{0,%zu}", nvars - 1);
                put(b, t);
            }
        }
        put(b, "))?");
        i = end + 1;
    }
    put(b, "$");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = memchr(in, 0, size);
    size_t tlen = nul ? (size_t)(nul - in) : size;
    const char *uri = nul ? nul + 1 : "";
    size_t ulen = nul ? size - tlen - 1 : 0;

    hr_uri_template_t *t;
    char err[256] = "";
    if (hr_uri_template_parse(in, tlen, &t, err, sizeof err) != 0) {
        CHECK(t == NULL);
        CHECK(strncmp(err, "at byte ", 8) == 0 && strchr(err, ':') != NULL);
        /* a refused selector is a raw string */
        CHECK(hr_topic_selector_match(in, tlen, uri, ulen) ==
              ((tlen == 1 && in[0] == '*') || (tlen == ulen && memcmp(in, uri, tlen) == 0)));
        return 0;
    }
    CHECK(hr_uri_template_nodes(t) <= 3 * tlen + 1);
    CHECK(hr_uri_template_exprs(t) <= tlen / 3);
    int m = hr_uri_template_match(t, uri, ulen);
    CHECK(m == 0 || m == 1);
    int by_sel = hr_topic_selector_match(in, tlen, uri, ulen);
    if ((tlen == 1 && in[0] == '*') || (tlen == ulen && memcmp(in, uri, tlen) == 0))
        CHECK(by_sel == 1);
    else if (memchr(in, '{', tlen) != NULL)
        CHECK(by_sel == m);
    else
        CHECK(by_sel == 0);
    /* the template matches its own literal-only form: with every
     * expression removed (all variables undefined) */
    char lit[HR_URI_TEMPLATE_MAX];
    size_t ln = 0;
    for (size_t i = 0; i < tlen; i++) {
        if (in[i] == '{')
            while (in[i] != '}')
                i++;
        else
            lit[ln++] = in[i];
    }
    CHECK(hr_uri_template_match(t, lit, ln) == 1);

    if (tlen <= ORACLE_MAX && ulen <= ORACLE_MAX && memchr(uri, 0, ulen) == NULL) {
        static char rbuf[ORACLE_MAX * 160];
        sb_t b = {rbuf, 0, sizeof rbuf};
        build_regex(in, tlen, &b);
        regex_t re;
        int rc = regcomp(&re, rbuf, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            fprintf(stderr, "fuzz_uri_template: regcomp refused %s\n", rbuf);
            abort();
        }
        char u[ORACLE_MAX + 1];
        memcpy(u, uri, ulen);
        u[ulen] = 0;
        int want = regexec(&re, u, 0, NULL, 0) == 0;
        regfree(&re);
        if (want != m) {
            fprintf(stderr, "fuzz_uri_template: %.*s on %s: codec %d, regex %d (%s)\n", (int)tlen,
                    in, u, m, want, rbuf);
            abort();
        }
    }
    hr_uri_template_free(t);
    return 0;
}
