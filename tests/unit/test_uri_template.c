/* SPDX-License-Identifier: MIT
 * test_uri_template.c: Mercure topic selectors (codec/uri_template.c)
 * against the reference hub's own cases: github.com/yosida95/uritemplate
 * v3.0.2 uritemplate_test.go (TestTemplateRegexp: every RFC 6570 section 3.2
 * example expansion must match its template; ExampleTemplate_Regexp) and
 * dunglas/mercure's topic selector tests (TestMatch / TestMatchLRU in
 * topicselector*_test.go); then the rejections of the parser, the
 * characters each operator's values may hold, and hostile templates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/uri_template.h"

static int match(const char *tpl, const char *uri)
{
    hr_uri_template_t *t;
    char err[200];
    if (hr_uri_template_parse(tpl, strlen(tpl), &t, err, sizeof err) != 0) {
        fprintf(stderr, "parse %s: %s\n", tpl, err);
        return -1;
    }
    assert_true(hr_uri_template_nodes(t) <= 3 * strlen(tpl) + 1);
    int r = hr_uri_template_match(t, uri, strlen(uri));
    hr_uri_template_free(t);
    return r;
}

static int sel(const char *s, const char *topic)
{
    return hr_topic_selector_match(s, strlen(s), topic, strlen(topic));
}

/* uritemplate_test.go's testTemplateCases: template, an expansion. */
static const char *const rfc_cases[][2] = {
    /* 3.2.1 */
    {"{count}", "one,two,three"},
    {"{count*}", "one,two,three"},
    {"{/count}", "/one,two,three"},
    {"{/count*}", "/one/two/three"},
    {"{;count}", ";count=one,two,three"},
    {"{;count*}", ";count=one;count=two;count=three"},
    {"{?count}", "?count=one,two,three"},
    {"{?count*}", "?count=one&count=two&count=three"},
    {"{&count*}", "&count=one&count=two&count=three"},
    /* 3.2.2 */
    {"{var}", "value"},
    {"{hello}", "Hello%20World%21"},
    {"{half}", "50%25"},
    {"O{empty}X", "OX"},
    {"O{undef}X", "OX"},
    {"{x,y}", "1024,768"},
    {"{x,hello,y}", "1024,Hello%20World%21,768"},
    {"?{x,empty}", "?1024,"},
    {"?{x,undef}", "?1024"},
    {"?{undef,y}", "?768"},
    {"{var:3}", "val"},
    {"{var:30}", "value"},
    {"{list}", "red,green,blue"},
    {"{list*}", "red,green,blue"},
    {"{keys}", "semi,%3B,dot,.,comma,%2C"},
    {"{keys*}", "semi=%3B,dot=.,comma=%2C"},
    /* 3.2.3 */
    {"{+var}", "value"},
    {"{+hello}", "Hello%20World!"},
    {"{+half}", "50%25"},
    {"{base}index", "http%3A%2F%2Fexample.com%2Fhome%2Findex"},
    {"{+base}index", "http://example.com/home/index"},
    {"O{+empty}X", "OX"},
    {"O{+undef}X", "OX"},
    {"{+path}/here", "/foo/bar/here"},
    {"here?ref={+path}", "here?ref=/foo/bar"},
    {"up{+path}{var}/here", "up/foo/barvalue/here"},
    {"{+x,hello,y}", "1024,Hello%20World!,768"},
    {"{+path,x}/here", "/foo/bar,1024/here"},
    {"{+path:6}/here", "/foo/b/here"},
    {"{+list}", "red,green,blue"},
    {"{+list*}", "red,green,blue"},
    {"{+keys}", "semi,;,dot,.,comma,,"},
    {"{+keys*}", "semi=;,dot=.,comma=,"},
    /* 3.2.4 */
    {"{#var}", "#value"},
    {"{#hello}", "#Hello%20World!"},
    {"{#half}", "#50%25"},
    {"foo{#empty}", "foo#"},
    {"foo{#undef}", "foo"},
    {"{#x,hello,y}", "#1024,Hello%20World!,768"},
    {"{#path,x}/here", "#/foo/bar,1024/here"},
    {"{#path:6}/here", "#/foo/b/here"},
    {"{#list}", "#red,green,blue"},
    {"{#list*}", "#red,green,blue"},
    {"{#keys}", "#semi,;,dot,.,comma,,"},
    {"{#keys*}", "#semi=;,dot=.,comma=,"},
    /* 3.2.5 */
    {"{.who}", ".fred"},
    {"{.who,who}", ".fred.fred"},
    {"{.half,who}", ".50%25.fred"},
    {"www{.dom*}", "www.example.com"},
    {"X{.var}", "X.value"},
    {"X{.empty}", "X."},
    {"X{.undef}", "X"},
    {"X{.var:3}", "X.val"},
    {"X{.list}", "X.red,green,blue"},
    {"X{.list*}", "X.red.green.blue"},
    {"X{.keys}", "X.semi,%3B,dot,.,comma,%2C"},
    {"X{.keys*}", "X.semi=%3B.dot=..comma=%2C"},
    {"X{.empty_keys}", "X"},
    {"X{.empty_keys*}", "X"},
    /* 3.2.6 */
    {"{/who}", "/fred"},
    {"{/who,who}", "/fred/fred"},
    {"{/half,who}", "/50%25/fred"},
    {"{/who,dub}", "/fred/me%2Ftoo"},
    {"{/var}", "/value"},
    {"{/var,empty}", "/value/"},
    {"{/var,undef}", "/value"},
    {"{/var,x}/here", "/value/1024/here"},
    {"{/var:1,var}", "/v/value"},
    {"{/list}", "/red,green,blue"},
    {"{/list*}", "/red/green/blue"},
    {"{/list*,path:4}", "/red/green/blue/%2Ffoo"},
    {"{/keys}", "/semi,%3B,dot,.,comma,%2C"},
    {"{/keys*}", "/semi=%3B/dot=./comma=%2C"},
    /* 3.2.7 */
    {"{;who}", ";who=fred"},
    {"{;half}", ";half=50%25"},
    {"{;empty}", ";empty"},
    {"{;v,empty,who}", ";v=6;empty;who=fred"},
    {"{;v,bar,who}", ";v=6;who=fred"},
    {"{;x,y}", ";x=1024;y=768"},
    {"{;x,y,empty}", ";x=1024;y=768;empty"},
    {"{;x,y,undef}", ";x=1024;y=768"},
    {"{;hello:5}", ";hello=Hello"},
    {"{;list}", ";list=red,green,blue"},
    {"{;list*}", ";list=red;list=green;list=blue"},
    {"{;keys}", ";keys=semi,%3B,dot,.,comma,%2C"},
    {"{;keys*}", ";semi=%3B;dot=.;comma=%2C"},
    /* 3.2.8 */
    {"{?who}", "?who=fred"},
    {"{?half}", "?half=50%25"},
    {"{?x,y}", "?x=1024&y=768"},
    {"{?x,y,empty}", "?x=1024&y=768&empty="},
    {"{?x,y,undef}", "?x=1024&y=768"},
    {"{?var:3}", "?var=val"},
    {"{?list}", "?list=red,green,blue"},
    {"{?list*}", "?list=red&list=green&list=blue"},
    {"{?keys}", "?keys=semi,%3B,dot,.,comma,%2C"},
    {"{?keys*}", "?semi=%3B&dot=.&comma=%2C"},
    /* 3.2.9 */
    {"{&who}", "&who=fred"},
    {"{&half}", "&half=50%25"},
    {"?fixed=yes{&x}", "?fixed=yes&x=1024"},
    {"{&x,y,empty}", "&x=1024&y=768&empty="},
    {"{&x,y,undef}", "&x=1024&y=768"},
    {"{&var:3}", "&var=val"},
    {"{&list}", "&list=red,green,blue"},
    {"{&list*}", "&list=red&list=green&list=blue"},
    {"{&keys}", "&keys=semi,%3B,dot,.,comma,%2C"},
    {"{&keys*}", "&semi=%3B&dot=.&comma=%2C"},
    /* others */
    {"{special_chars}", "2001%3Adb8%3A%3A35"},
};

static void test_rfc_expansions_match(void **state)
{
    for (size_t i = 0; i < sizeof rfc_cases / sizeof rfc_cases[0]; i++) {
        if (match(rfc_cases[i][0], rfc_cases[i][1]) != 1)
            fail_msg("%s does not match %s", rfc_cases[i][0], rfc_cases[i][1]);
    }
    /* ExampleTemplate_Regexp */
    assert_int_equal(match("https://example.com/dictionary/{term:1}/{term}",
                           "https://example.com/dictionary/c/cat"),
                     1);
    assert_int_equal(match("https://example.com/dictionary/{term:1}/{term}",
                           "https://example.com/dictionary/c/a/cat"),
                     0);
}

static void test_mercure_selectors(void **state)
{
    /* TestMatchLRU (dunglas/mercure topicselector_lru_test.go) */
    assert_int_equal(sel("bar", "foo"), 0);
    assert_int_equal(sel("https://example.com/{foo}/bar", "https://example.com/foo/bar"), 1);
    assert_int_equal(sel("https://example.com/{foo}/bar", "https://example.com/foo/bar/baz"), 0);
    assert_int_equal(
        sel("https://example.com/{fistname}/{lastname}", "https://example.com/kevin/dunglas"), 1);
    assert_int_equal(sel("*", "https://example.com/foo/bar"), 1);
    assert_int_equal(sel("https://example.com/foo/bar", "https://example.com/foo/bar"), 1);
    assert_int_equal(sel("foo", "foo"), 1);
    /* TestMatchMatcher (topicselector_test.go) */
    assert_int_equal(sel("https://example.com/{id}", "https://example.com/123"), 1);
    assert_int_equal(sel("https://example.com/{id}", "https://example.com/abc"), 1);
    assert_int_equal(sel("https://example.com/{id}", "https://example.com/123/sub"), 0);
    /* "*" only as the whole selector; a template that does not parse is
     * a raw string (getRegexp: "If an error occurs, it's a raw string") */
    assert_int_equal(sel("*", ""), 1);
    assert_int_equal(sel("**", "x"), 0);
    assert_int_equal(sel("https://example.com/{", "https://example.com/{"), 1);
    assert_int_equal(sel("https://example.com/{", "https://example.com/x"), 0);
    assert_int_equal(sel("https://example.com/{a b}", "https://example.com/x"), 0);
    assert_int_equal(sel("", ""), 1);
    assert_int_equal(sel("", "x"), 0);
    /* a template also matches itself as a topic, by equality */
    assert_int_equal(sel("/books/{id}", "/books/{id}"), 1);
    assert_int_equal(sel("/books/{id}", "/books/"), 1);
    assert_int_equal(sel("/books/{id}", "/books"), 0);
}

static void test_value_characters(void **state)
{
    /* {v}: unreserved, ',' and %XX; no reserved character */
    assert_int_equal(match("/b/{id}", "/b/aZ09-._~,%2f%C3%A9"), 1);
    const char *reserved = ":/?#[]@!$&'()*+;=";
    for (const char *r = reserved; *r; r++) {
        char uri[16];
        snprintf(uri, sizeof uri, "/b/x%cy", *r);
        if (match("/b/{id}", uri) != 0)
            fail_msg("{id} matched %s", uri);
        if (match("/b/{+id}", uri) != 1 || match("/b/{#id}", uri) != 0)
            fail_msg("{+id} / {#id} on %s", uri);
        snprintf(uri, sizeof uri, "/b#x%cy", *r);
        if (match("/b{#id}", uri) != 1)
            fail_msg("{#id} on %s", uri);
    }
    /* not a URI character, a bad or short %XX, a raw non-ASCII byte */
    assert_int_equal(match("/b/{+id}", "/b/a b"), 0);
    assert_int_equal(match("/b/{+id}", "/b/a\"b"), 0);
    assert_int_equal(match("/b/{+id}", "/b/%zz"), 0);
    assert_int_equal(match("/b/{+id}", "/b/%2"), 0);
    assert_int_equal(match("/b/{+id}", "/b/%"), 0);
    assert_int_equal(match("/b/{id}", "/b/\xc3\xa9"), 0);
    assert_int_equal(match("/b/{+id}", "/b/{id}"), 0);
    /* '=' only for named operators and exploded variables */
    assert_int_equal(match("{x}", "a=b"), 0);
    assert_int_equal(match("{x*}", "a=b"), 1);
    assert_int_equal(match("{x,y*}", "a=b"), 0);
    assert_int_equal(match("{x,y*}", "a,b=c"), 1);
    assert_int_equal(match("{.x}", ".a=b"), 0);
    assert_int_equal(match("{;x}", ";a=b"), 1);
    assert_int_equal(match("{;x}", ";y=b"), 1); /* names are not checked */
    /* how many values: count - 1 separators, any when exploded */
    assert_int_equal(match("{/a,b}", "/x/y"), 1);
    assert_int_equal(match("{/a,b}", "/x/y/z"), 0);
    assert_int_equal(match("{/a,b,c}", "/x/y/z"), 1);
    assert_int_equal(match("{/a,b*}", "/x/y/z/w"), 1);
    assert_int_equal(match("{?a,b}", "?a=1&b=2"), 1);
    assert_int_equal(match("{?a,b}", "?a=1&b=2&c=3"), 0);
    assert_int_equal(match("{?a*}", "?a=1&b=2&c=3"), 1);
    assert_int_equal(match("{&a}", "&a=1&b=2"), 0);
    /* the whole expression may be absent, or its first string alone */
    assert_int_equal(match("/b{/id}", "/b"), 1);
    assert_int_equal(match("/b{/id}", "/b/"), 1);
    assert_int_equal(match("/b{?q}", "/b?"), 1);
    /* prefixes do not bound the length (as Regexp() ignores them) */
    assert_int_equal(match("{v:1}", "long"), 1);
    /* the whole URI: anchored at both ends */
    assert_int_equal(match("/b/{id}", "x/b/1"), 0);
    assert_int_equal(match("/b/{id}", "/b/1/"), 0);
    /* literals byte for byte, UTF-8 and %XX included */
    assert_int_equal(match("/caf\xc3\xa9/{id}", "/caf\xc3\xa9/1"), 1);
    assert_int_equal(match("/a%2Fb/{id}", "/a%2Fb/1"), 1);
    assert_int_equal(match("/a%2Fb/{id}", "/a%2fb/1"), 0);
    assert_int_equal(match("it's/{id}", "it's/1"), 1);
    /* a template without expressions is its literal */
    assert_int_equal(match("/plain", "/plain"), 1);
    assert_int_equal(match("/plain", "/plain2"), 0);
    assert_int_equal(match("", ""), 1);
    assert_int_equal(match("", "x"), 0);
    /* a URI with a NUL: only a literal could take it, and none can */
    assert_int_equal(hr_topic_selector_match("{+a}", 4, "x\0y", 3), 0);
}

static void expect_error(const char *tpl, size_t len, const char *reason)
{
    hr_uri_template_t *t = (hr_uri_template_t *)1;
    char err[200] = "";
    assert_int_equal(hr_uri_template_parse(tpl, len, &t, err, sizeof err), -1);
    assert_null(t);
    if (strstr(err, reason) == NULL)
        fail_msg("%s: got \"%s\", expected \"%s\"", tpl, err, reason);
}

#define ERR(tpl, reason) expect_error(tpl, sizeof(tpl) - 1, reason)

static void test_parse_errors(void **state)
{
    ERR("/a/{id", "at byte 3: '{' without '}'");
    ERR("{", "'{' without '}'");
    ERR("{/", "'{' without '}'");
    ERR("{a,", "'{' without '}'");
    ERR("{a:12", "'{' without '}'");
    ERR("/a/id}", "at byte 5: '}' without '{'");
    ERR("{a{b}}", "'{' inside an expression");
    ERR("{}", "empty variable name");
    ERR("{a,}", "empty variable name");
    ERR("{=a}", "operator '=' is reserved");
    ERR("{,a}", "operator ',' is reserved");
    ERR("{!a}", "operator '!' is reserved");
    ERR("{@a}", "operator '@' is reserved");
    ERR("{|a}", "operator '|' is reserved");
    ERR("{$a}", "bad character '$' in a variable name");
    ERR("{a-b}", "bad character '-' in an expression");
    ERR("{a b}", "bad character 0x20 in an expression");
    ERR("{.a.}", "'.' last");
    ERR("{.a..b}", "'.' first or twice");
    ERR("{..a}", "'.' first or twice");
    ERR("{a%2}", "bad %XX escape in a variable name");
    ERR("{a:0}", "prefix length must be 1 to 9999");
    ERR("{a:05}", "prefix length must be 1 to 9999");
    ERR("{a:10000}", "prefix length must be 1 to 9999");
    ERR("{a:}", "prefix length must be 1 to 9999");
    ERR("{a:3*}", "bad character '*' in an expression");
    ERR("{a**}", "bad character '*' in an expression");
    ERR("/a b", "character 0x20 not allowed in a literal");
    ERR("/a<b", "character '<' not allowed in a literal");
    ERR("/a\\b", "character '\\' not allowed in a literal");
    ERR("/a|b", "character '|' not allowed in a literal");
    ERR("/a\x7f", "character 0x7f not allowed in a literal");
    ERR("/a%", "bad %XX escape");
    ERR("/a%4", "bad %XX escape");
    ERR("/a%4g", "bad %XX escape");
    ERR("/a\xc3", "invalid UTF-8");
    ERR("/a\xc0\xaf", "invalid UTF-8");
    ERR("/a\xed\xa0\x80", "invalid UTF-8");
    ERR("/a\xef\xbf\xbd", "U+FFFD not allowed");
    ERR("/a\xc2\x85", "U+0085 not allowed");
    ERR("/a\xf3\xa0\x80\x81", "U+E0001 not allowed");
    expect_error("/a\0b", 4, "character 0x00 not allowed in a literal");
    /* accepted: dots inside names, %XX in names, every operator, UTF-8 */
    hr_uri_template_t *t;
    char err[200];
    const char *ok[] = {"{a.b}",
                        "{a%20b}",
                        "{+a}{#b}{.c}{/d}{;e}{?f}{&g}",
                        "{a:9999}",
                        "{a*,b:1}",
                        "/\xc3\xa9{x}",
                        "\xf4\x8f\xbf\xbd",
                        "{_1}"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (hr_uri_template_parse(ok[i], strlen(ok[i]), &t, err, sizeof err) != 0)
            fail_msg("%s: %s", ok[i], err);
        hr_uri_template_free(t);
    }
    assert_int_equal(hr_uri_template_parse("{+a}{#b}{.c}{/d}{;e}{?f}{&g}", 28, &t, err, 200), 0);
    assert_int_equal(hr_uri_template_exprs(t), 7);
    hr_uri_template_free(t);
}

static void test_too_long(void **state)
{
    char *tpl = malloc(HR_URI_TEMPLATE_MAX + 1);
    memset(tpl, 'a', HR_URI_TEMPLATE_MAX + 1);
    hr_uri_template_t *t;
    char err[200];
    assert_int_equal(hr_uri_template_parse(tpl, HR_URI_TEMPLATE_MAX, &t, err, sizeof err), 0);
    hr_uri_template_free(t);
    expect_error(tpl, HR_URI_TEMPLATE_MAX + 1, "template longer than 2048 bytes");
    free(tpl);
}

/* Templates that make a backtracking regexp engine explode: many adjacent
 * values over the same characters, a long run that almost matches. The
 * automaton's work is nodes x length whatever the input; these finish at
 * once (and the fuzzer's timeout would catch a regression). */
static void test_hostile(void **state)
{
    static char tpl[HR_URI_TEMPLATE_MAX + 1], uri[16 * 1024];
    size_t o = 0;
    while (o + 3 <= HR_URI_TEMPLATE_MAX)
        o += (size_t)snprintf(tpl + o, sizeof tpl - o, "{a}");
    hr_uri_template_t *t;
    char err[200];
    assert_int_equal(hr_uri_template_parse(tpl, o, &t, err, sizeof err), 0);
    assert_true(hr_uri_template_nodes(t) <= 3 * o + 1);
    memset(uri, 'a', sizeof uri);
    assert_int_equal(hr_uri_template_match(t, uri, 4096), 1);
    uri[4095] = '/';
    assert_int_equal(hr_uri_template_match(t, uri, 4096), 0);
    hr_uri_template_free(t);

    /* one expression with as many variables as fit: {/a,a,a,...} */
    o = (size_t)snprintf(tpl, sizeof tpl, "{/a");
    while (o + 3 < HR_URI_TEMPLATE_MAX)
        o += (size_t)snprintf(tpl + o, sizeof tpl - o, ",a");
    tpl[o++] = '}';
    assert_int_equal(hr_uri_template_parse(tpl, o, &t, err, sizeof err), 0);
    assert_true(hr_uri_template_nodes(t) <= 3 * o + 1);
    for (size_t i = 0; i < 2000; i++)
        uri[i] = i % 2 ? 'a' : '/';
    assert_int_equal(hr_uri_template_match(t, uri, 2000), 1);
    uri[1999] = '!';
    assert_int_equal(hr_uri_template_match(t, uri, 2000), 0);
    hr_uri_template_free(t);

    /* {+a}{+a}...x against a long run of '/' without the x */
    o = 0;
    while (o + 4 <= HR_URI_TEMPLATE_MAX - 1)
        o += (size_t)snprintf(tpl + o, sizeof tpl - o, "{+a}");
    tpl[o++] = 'x';
    assert_int_equal(hr_uri_template_parse(tpl, o, &t, err, sizeof err), 0);
    memset(uri, '/', sizeof uri);
    assert_int_equal(hr_uri_template_match(t, uri, sizeof uri), 0);
    uri[sizeof uri - 1] = 'x';
    assert_int_equal(hr_uri_template_match(t, uri, sizeof uri), 1);
    hr_uri_template_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_expansions_match),
        cmocka_unit_test(test_mercure_selectors),
        cmocka_unit_test(test_value_characters),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
