/* SPDX-License-Identifier: MIT
 * test_http.c: unit tests of relay/src/codec/http.c, the request-head parser and
 * its helpers. Every head is checked three ways (STYLE.md B6): parsed whole,
 * every prefix, and fed one byte at a time into a growing buffer the way the
 * relay re-parses after each read. The prefixes sit at the very end of a
 * readable mapping followed by a PROT_NONE page (picohttpparser's trick), so
 * a read past buf[len) faults instead of passing unnoticed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "codec/http.h"

#define S(lit) lit, sizeof(lit) - 1
#define BIG    1000000 /* a max_head that never binds */

/* ---- guard page ---------------------------------------------------------- */

#define GUARD_RW_PAGES 4

static char *guard_map;
static size_t guard_rw; /* readable bytes before the PROT_NONE page */

static int guard_setup(void **state)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    (void)state;
    guard_rw = page * GUARD_RW_PAGES;
    guard_map =
        mmap(NULL, guard_rw + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_map == MAP_FAILED)
        return -1;
    return mprotect(guard_map + guard_rw, page, PROT_NONE);
}

static int guard_teardown(void **state)
{
    (void)state;
    return munmap(guard_map, guard_rw + (size_t)sysconf(_SC_PAGESIZE));
}

/* Copy s[0..n) so that it ends exactly where the unreadable page begins. */
static const char *at_guard(const char *s, size_t n)
{
    char *dst = guard_map + guard_rw - n;

    assert_true(n <= guard_rw);
    if (n > 0)
        memcpy(dst, s, n);
    return dst;
}

/* ---- the three-way check ------------------------------------------------- */

static void assert_slice_same(hr_slice_t a, const char *abase, hr_slice_t b, const char *bbase,
                              const char *what)
{
    if (a.len != b.len || a.p - abase != b.p - bbase)
        fail_msg("%s differs: offset %td len %zu vs offset %td len %zu", what, a.p - abase, a.len,
                 b.p - bbase, b.len);
}

static void assert_req_same(const hr_http_request_t *a, const char *abase,
                            const hr_http_request_t *b, const char *bbase)
{
    assert_slice_same(a->method, abase, b->method, bbase, "method");
    assert_slice_same(a->target, abase, b->target, bbase, "target");
    assert_slice_same(a->path, abase, b->path, bbase, "path");
    assert_slice_same(a->query, abase, b->query, bbase, "query");
    assert_int_equal(a->minor_version, b->minor_version);
    assert_int_equal(a->num_headers, b->num_headers);
    for (size_t i = 0; i < a->num_headers; i++) {
        assert_slice_same(a->headers[i].name, abase, b->headers[i].name, bbase, "name");
        assert_slice_same(a->headers[i].value, abase, b->headers[i].value, bbase, "value");
    }
}

/* Parses s whole into *req and checks that the result is want. Then grows a
 * buffer one byte at a time (each prefix at the guard page): every prefix
 * before the first definite answer must say HR_AGAIN, that first answer must
 * be the whole-input answer, every longer prefix must keep giving it, and a
 * successful parse must point at the same bytes. Returns the whole result.
 * proof, when not 0, is the shortest prefix that must already give want:
 * errors are reported as soon as the bytes prove them. */
static ssize_t check_head_at(const char *name, const char *s, size_t len, size_t max_head,
                             ssize_t want, size_t proof, hr_http_request_t *req)
{
    hr_http_request_t whole, part;
    ssize_t r = hr_http_parse_request(s, len, max_head, &whole);
    size_t first = (size_t)-1;

    if (r != want)
        fail_msg("%s: whole input gave %zd, want %zd", name, r, want);
    for (size_t n = 0; n <= len; n++) {
        const char *g = at_guard(s, n);
        ssize_t rn = hr_http_parse_request(g, n, max_head, &part);

        if (first == (size_t)-1 && rn == HR_AGAIN)
            continue;
        if (rn != want)
            fail_msg("%s: prefix %zu of %zu gave %zd, want %zd", name, n, len, rn, want);
        if (first == (size_t)-1)
            first = n;
        if (want > 0)
            assert_req_same(&whole, s, &part, g);
    }
    if (want > 0 && first != (size_t)want)
        fail_msg("%s: first answered at %zu bytes, head is %zd", name, first, want);
    if (want != HR_AGAIN && first == (size_t)-1)
        fail_msg("%s: no prefix answered", name);
    if (proof != 0 && first != proof)
        fail_msg("%s: first answered at %zu bytes, want %zu", name, first, proof);
    if (req != NULL && want > 0)
        *req = whole;
    return r;
}

static ssize_t check_head(const char *name, const char *s, size_t len, hr_http_request_t *req)
{
    return check_head_at(name, s, len, BIG, (ssize_t)len, 0, req);
}

static int slice_is(hr_slice_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

#define assert_slice(s, lit)                                                                       \
    do {                                                                                           \
        hr_slice_t s_ = (s);                                                                       \
        if (!slice_is(s_, lit))                                                                    \
            fail_msg("%s is \"%.*s\", want \"%s\"", #s, (int)s_.len, s_.p, lit);                   \
    } while (0)

static const char *hval(const hr_http_request_t *req, const char *name)
{
    static char buf[512];
    const hr_http_header_t *h = hr_http_header_find(req, name);

    if (h == NULL)
        return NULL;
    snprintf(buf, sizeof buf, "%.*s", (int)h->value.len, h->value.p);
    return buf;
}

/* ---- real-world heads ---------------------------------------------------- */

static const char chrome_sse[] =
    "GET /sse?channel=news&channel=alerts HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Connection: keep-alive\r\n"
    "Accept: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "Last-Event-ID: 1700000000-42\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Origin: https://example.com\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Referer: https://example.com/dashboard\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-GB,en;q=0.9,fr;q=0.8\r\n"
    "sec-ch-ua: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "\r\n";

static void test_chrome_eventsource(void **state)
{
    hr_http_request_t req;

    (void)state;
    check_head("chrome", S(chrome_sse), &req);
    assert_slice(req.method, "GET");
    assert_slice(req.target, "/sse?channel=news&channel=alerts");
    assert_slice(req.path, "/sse");
    assert_slice(req.query, "channel=news&channel=alerts");
    assert_int_equal(req.minor_version, 1);
    assert_int_equal(req.num_headers, 16);
    assert_slice(req.headers[0].name, "Host");
    assert_slice(req.headers[0].value, "example.com");
    assert_string_equal(hval(&req, "last-event-id"), "1700000000-42");
    assert_string_equal(hval(&req, "ACCEPT"), "text/event-stream");
    assert_string_equal(hval(&req, "sec-ch-ua"), "\"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\"");
    assert_true(hr_http_has_token(hr_http_header_find(&req, "Connection")->value, "keep-alive"));
    assert_false(hr_http_has_token(hr_http_header_find(&req, "Connection")->value, "upgrade"));
}

static const char firefox_ws[] =
    "GET /ws?channel=chat.42 HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Dest: websocket\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

static void test_firefox_websocket_upgrade(void **state)
{
    hr_http_request_t req;
    const hr_http_header_t *conn, *upg;

    (void)state;
    check_head("firefox", S(firefox_ws), &req);
    assert_slice(req.path, "/ws");
    assert_slice(req.query, "channel=chat.42");
    assert_int_equal(req.num_headers, 16);
    conn = hr_http_header_find(&req, "connection");
    upg = hr_http_header_find(&req, "upgrade");
    assert_non_null(conn);
    assert_non_null(upg);
    assert_true(hr_http_has_token(conn->value, "Upgrade"));
    assert_true(hr_http_has_token(conn->value, "upgrade"));
    assert_true(hr_http_has_token(conn->value, "keep-alive"));
    assert_true(hr_http_has_token(upg->value, "websocket"));
    assert_string_equal(hval(&req, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_string_equal(hval(&req, "Sec-WebSocket-Version"), "13");
    assert_ptr_equal(hr_http_header_find(&req, "Host"), &req.headers[0]);
    assert_ptr_equal(hr_http_header_find(&req, "upgrade"), &req.headers[15]);
}

/* What the npm "ws" package (8.x) sends: note Host last and no User-Agent. */
static const char node_ws[] =
    "GET /ws?channel=a&channel=b HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "\r\n";

static void test_node_ws_upgrade(void **state)
{
    hr_http_request_t req;

    (void)state;
    check_head("node ws", S(node_ws), &req);
    assert_int_equal(req.num_headers, 6);
    assert_true(hr_http_has_token(hr_http_header_find(&req, "Connection")->value, "upgrade"));
    assert_string_equal(hval(&req, "sec-websocket-extensions"),
                        "permessage-deflate; client_max_window_bits");
    assert_string_equal(hval(&req, "host"), "127.0.0.1:8080");
    assert_null(hr_http_header_find(&req, "Origin"));
}

static const char python_ws[] =
    "GET /ws HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: 9/LmxN7MXm1BSwt6BlmuAw==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "User-Agent: Python/3.11 websockets/10.4\r\n"
    "\r\n";

static void test_python_websockets_upgrade(void **state)
{
    hr_http_request_t req;

    (void)state;
    check_head("python ws", S(python_ws), &req);
    assert_slice(req.target, "/ws");
    assert_slice(req.path, "/ws");
    assert_int_equal(req.query.len, 0);
    assert_string_equal(hval(&req, "sec-websocket-key"), "9/LmxN7MXm1BSwt6BlmuAw==");
}

static void test_http10_curl(void **state)
{
    hr_http_request_t req;
    static const char s[] = "GET /healthz HTTP/1.0\r\n"
                            "Host: 127.0.0.1:8080\r\n"
                            "User-Agent: curl/7.88.1\r\n"
                            "Accept: */*\r\n"
                            "\r\n";

    (void)state;
    check_head("curl 1.0", S(s), &req);
    assert_int_equal(req.minor_version, 0);
    assert_slice(req.path, "/healthz");
    assert_int_equal(req.num_headers, 3);
    assert_string_equal(hval(&req, "user-agent"), "curl/7.88.1");
}

static void test_lf_only_lines(void **state)
{
    hr_http_request_t req;
    static const char s[] = "GET /metrics HTTP/1.1\nHost: a\nAccept: text/plain\n\n";

    (void)state;
    check_head("lf only", S(s), &req);
    assert_slice(req.path, "/metrics");
    assert_int_equal(req.num_headers, 2);
    assert_slice(req.headers[0].value, "a");
    assert_slice(req.headers[1].name, "Accept");
    assert_slice(req.headers[1].value, "text/plain");
}

static void test_mixed_line_endings(void **state)
{
    hr_http_request_t req;
    static const char a[] = "GET / HTTP/1.1\nHost: a\r\nX: b\n\r\n";
    static const char b[] = "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\n";

    (void)state;
    check_head("mixed a", S(a), &req);
    assert_int_equal(req.num_headers, 2);
    assert_slice(req.headers[1].value, "b");
    check_head("mixed b", S(b), &req);
    assert_int_equal(req.num_headers, 2);
    assert_slice(req.headers[0].value, "a");
}

static void test_no_headers(void **state)
{
    hr_http_request_t req;

    (void)state;
    check_head("no headers", S("GET / HTTP/1.1\r\n\r\n"), &req);
    assert_int_equal(req.num_headers, 0);
    assert_slice(req.target, "/");
    check_head("no headers lf", S("GET / HTTP/1.0\n\n"), &req);
    assert_int_equal(req.minor_version, 0);
}

static void test_header_trimming(void **state)
{
    hr_http_request_t req;
    static const char s[] = "GET / HTTP/1.1\r\n"
                            "A:   spaced \t \r\n"
                            "B:\tx\t\r\n"
                            "C:\r\n"
                            "D:   \t \r\n"
                            "E:a  b\tc\r\n"
                            "F: \"quoted\" , list \n"
                            "\r\n";

    (void)state;
    check_head("trim", S(s), &req);
    assert_int_equal(req.num_headers, 6);
    assert_slice(req.headers[0].value, "spaced");
    assert_slice(req.headers[1].value, "x");
    assert_slice(req.headers[2].value, "");
    assert_slice(req.headers[3].value, "");
    assert_slice(req.headers[4].value, "a  b\tc");
    assert_slice(req.headers[5].value, "\"quoted\" , list");
    /* Empty values point at their line, not somewhere arbitrary. */
    assert_true(req.headers[2].value.p > req.headers[2].name.p);
    assert_true(req.headers[2].value.p < s + sizeof s - 1);
}

static void test_obs_text_and_odd_tokens(void **state)
{
    hr_http_request_t req;
    static const char s[] = "get /caf\xc3\xa9?q=\xff HTTP/1.1\r\n"
                            "X-Name: caf\xc3\xa9 \x80\xff\r\n"
                            "!#$%&'*+-.^_`|~09azAZ: v\r\n"
                            "\r\n";

    (void)state;
    check_head("obs-text", S(s), &req);
    assert_slice(req.method, "get"); /* a token; routing decides what it means */
    assert_slice(req.path, "/caf\xc3\xa9");
    assert_slice(req.query, "q=\xff");
    assert_slice(req.headers[0].value, "caf\xc3\xa9 \x80\xff");
    assert_slice(req.headers[1].name, "!#$%&'*+-.^_`|~09azAZ");
    check_head("method", S("M-SEARCH!~ /x HTTP/1.1\r\n\r\n"), &req);
    assert_slice(req.method, "M-SEARCH!~");
}

/* Bytes after the head (a pipelined request, or a client that does not wait
 * for 101) are not part of it and not looked at. */
static void test_trailing_bytes(void **state)
{
    hr_http_request_t req;
    static const char s[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n\x01\x02";
    size_t head = strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");

    (void)state;
    check_head_at("pipelined", S(s), BIG, (ssize_t)head, head, &req);
    assert_slice(req.path, "/a");
    assert_int_equal(hr_http_parse_request(s + head, sizeof s - 1 - head, BIG, &req),
                     (ssize_t)strlen("GET /b HTTP/1.1\r\n\r\n"));
    assert_slice(req.path, "/b");
}

static void test_path_and_query(void **state)
{
    static const struct {
        const char *head, *target, *path, *query;
    } cases[] = {
        {"GET / HTTP/1.1\r\n\r\n", "/", "/", ""},
        {"GET /sse HTTP/1.1\r\n\r\n", "/sse", "/sse", ""},
        {"GET /sse? HTTP/1.1\r\n\r\n", "/sse?", "/sse", ""},
        {"GET /?a=1 HTTP/1.1\r\n\r\n", "/?a=1", "/", "a=1"},
        {"GET /a?b?c HTTP/1.1\r\n\r\n", "/a?b?c", "/a", "b?c"},
        {"GET //x/../y#frag HTTP/1.1\r\n\r\n", "//x/../y#frag", "//x/../y#frag", ""},
        {"GET /a%20b?c=%2F HTTP/1.1\r\n\r\n", "/a%20b?c=%2F", "/a%20b", "c=%2F"},
    };

    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(cases); i++) {
        hr_http_request_t req;
        check_head(cases[i].head, cases[i].head, strlen(cases[i].head), &req);
        assert_slice(req.target, cases[i].target);
        assert_slice(req.path, cases[i].path);
        assert_slice(req.query, cases[i].query);
        /* Even an empty query points into the target, just past the path. */
        assert_true(req.query.p >= req.target.p);
        assert_true(req.query.p + req.query.len == req.target.p + req.target.len);
    }
}

/* ---- malformed heads ----------------------------------------------------- */

static const struct bad_case {
    const char *name;
    const char *s;
    size_t len;
    size_t proof; /* the shortest prefix that proves it malformed */
} bad_cases[] = {
    {"leading space", S(" GET / HTTP/1.1\r\n\r\n"), 1},
    {"leading crlf", S("\r\nGET / HTTP/1.1\r\n\r\n"), 1},
    {"leading lf", S("\nGET / HTTP/1.1\r\n\r\n"), 1},
    {"leading nul", S("\0GET / HTTP/1.1\r\n\r\n"), 1},
    {"double space", S("GET  / HTTP/1.1\r\n\r\n"), 5},
    {"bad method char", S("GE(T / HTTP/1.1\r\n\r\n"), 3},
    {"tab after method", S("GET\t/ HTTP/1.1\r\n\r\n"), 4},
    {"no target", S("GET\r\n\r\n"), 4},
    {"asterisk-form", S("GET * HTTP/1.1\r\n\r\n"), 5},
    {"absolute-form", S("GET http://a/ HTTP/1.1\r\n\r\n"), 5},
    {"space in target", S("GET /a b HTTP/1.1\r\n\r\n"), 8},
    {"two spaces after target", S("GET /  HTTP/1.1\r\n\r\n"), 7},
    {"ctl in target", S("GET /a\x01 HTTP/1.1\r\n\r\n"), 7},
    {"tab in target", S("GET /a\t HTTP/1.1\r\n\r\n"), 7},
    {"del in target", S("GET /a\x7f HTTP/1.1\r\n\r\n"), 7},
    {"nul in target", S("GET /a\0 HTTP/1.1\r\n\r\n"), 7},
    {"http/0.9", S("GET /\r\n\r\n"), 6},
    {"lowercase version", S("GET / http/1.1\r\n\r\n"), 7},
    {"HTTP/2.0", S("GET / HTTP/2.0\r\n\r\n"), 12},
    {"HTTP/1.2", S("GET / HTTP/1.2\r\n\r\n"), 14},
    {"HTTP/1.10", S("GET / HTTP/1.10\r\n\r\n"), 15},
    {"space after version", S("GET / HTTP/1.1 \r\n\r\n"), 15},
    {"bare cr request line", S("GET / HTTP/1.1\rX\r\n\r\n"), 16},
    {"cr cr lf", S("GET / HTTP/1.1\r\r\n\r\n"), 16},
    {"space before colon", S("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), 21},
    {"tab before colon", S("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n"), 21},
    {"no colon", S("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 24},
    {"no colon lf", S("GET / HTTP/1.1\r\nNoColon\n\n"), 24},
    {"empty name", S("GET / HTTP/1.1\r\n: x\r\n\r\n"), 17},
    {"bad name char", S("GET / HTTP/1.1\r\nX@Y: z\r\n\r\n"), 18},
    {"non-ascii name", S("GET / HTTP/1.1\r\nX\xc3: v\r\n\r\n"), 18},
    {"obs-fold space", S("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), 23},
    {"obs-fold tab", S("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), 23},
    {"fold as first header", S("GET / HTTP/1.1\r\n X: a\r\n\r\n"), 17},
    {"ctl in value", S("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"), 21},
    {"del in value", S("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n"), 21},
    {"nul in value", S("GET / HTTP/1.1\r\nX: a\0z\r\n\r\n"), 21},
    {"vt as ows", S("GET / HTTP/1.1\r\nX:\x0b\r\n\r\n"), 19},
    {"bare cr in value", S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 22},
    {"bare cr after ows", S("GET / HTTP/1.1\r\nX: \rb\r\n\r\n"), 21},
    {"bare cr final line", S("GET / HTTP/1.1\r\nX: a\r\n\rx"), 24},
    {"cr cr final line", S("GET / HTTP/1.1\r\n\r\r\n"), 18},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        check_head_at(c->name, c->s, c->len, BIG, HR_EPROTO, c->proof, NULL);
    }
}

/* A failed parse leaves the caller's struct alone. */
static void test_req_untouched_on_failure(void **state)
{
    hr_http_request_t req, copy;

    (void)state;
    memset(&req, 0x5a, sizeof req);
    copy = req;
    assert_int_equal(hr_http_parse_request(S("GET / HTTP/1.1\r\nX:"), BIG, &req), HR_AGAIN);
    assert_int_equal(hr_http_parse_request(S("GET / HTTP/1.1\r\nX : y\r\n\r\n"), BIG, &req),
                     HR_EPROTO);
    assert_int_equal(hr_http_parse_request(S("GET / HTTP/1.1\r\n"), 10, &req), HR_ETOOBIG);
    assert_memory_equal(&req, &copy, sizeof req);
    assert_int_equal(hr_http_parse_request(NULL, 0, BIG, &req), HR_AGAIN);
    assert_memory_equal(&req, &copy, sizeof req);
}

/* ---- limits -------------------------------------------------------------- */

/* A head with n headers "Hnn: v". */
static size_t make_headers(char *out, size_t cap, size_t n, const char *end)
{
    size_t o = (size_t)snprintf(out, cap, "GET /sse HTTP/1.1\r\n");

    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(out + o, cap - o, "H%zu: v%zu\r\n", i, i);
    o += (size_t)snprintf(out + o, cap - o, "%s", end);
    assert_true(o < cap);
    return o;
}

static void test_max_headers(void **state)
{
    char buf[4096];
    hr_http_request_t req;
    size_t len, line;

    (void)state;
    len = make_headers(buf, sizeof buf, HR_HTTP_MAX_HEADERS, "\r\n");
    check_head("64 headers", buf, len, &req);
    assert_int_equal(req.num_headers, HR_HTTP_MAX_HEADERS);
    assert_slice(req.headers[63].name, "H63");
    assert_slice(req.headers[63].value, "v63");

    /* The 65th header is refused as soon as its first byte shows it is a
     * header rather than the end of the head. */
    len = make_headers(buf, sizeof buf, HR_HTTP_MAX_HEADERS + 1, "\r\n");
    line = len - strlen("H64: v64\r\n\r\n");
    check_head_at("65 headers", buf, len, BIG, HR_ETOOBIG, line + 1, NULL);
    len = make_headers(buf, sizeof buf, 200, "\r\n");
    check_head_at("200 headers", buf, len, BIG, HR_ETOOBIG, line + 1, NULL);

    /* A malformed line in 65th place is still "too many": the count is
     * checked first, and the answer does not depend on how bytes arrive. */
    len = make_headers(buf, sizeof buf, HR_HTTP_MAX_HEADERS, "Bad line\r\n\r\n");
    check_head_at("65th malformed", buf, len, BIG, HR_ETOOBIG, line + 1, NULL);
    /* ...but a fold there is a malformed head. */
    len = make_headers(buf, sizeof buf, HR_HTTP_MAX_HEADERS, " fold\r\n\r\n");
    check_head_at("65th fold", buf, len, BIG, HR_EPROTO, line + 1, NULL);
}

static void test_max_head(void **state)
{
    static const char s[] = "GET /sse?channel=x HTTP/1.1\r\nHost: example.com\r\n\r\n";
    const size_t len = sizeof s - 1;
    char big[3000];
    hr_http_request_t req;

    (void)state;
    /* A head of exactly max_head bytes fits. */
    check_head_at("max == len", s, len, len, (ssize_t)len, len, &req);
    assert_slice(req.path, "/sse");
    /* One byte short: incomplete at the limit. Prefixes below it still wait. */
    check_head_at("max == len - 1", s, len, len - 1, HR_ETOOBIG, len - 1, NULL);
    check_head_at("max == 1", s, len, 1, HR_ETOOBIG, 1, NULL);
    check_head_at("max == 0", s, len, 0, HR_ETOOBIG, 0, NULL);
    assert_int_equal(hr_http_parse_request(s, 0, 0, &req), HR_ETOOBIG);
    assert_int_equal(hr_http_parse_request(NULL, 0, 0, &req), HR_ETOOBIG);
    /* More bytes than max_head but the head would end after it: still too
     * big, whatever the bytes after the limit are. */
    assert_int_equal(hr_http_parse_request(s, len, 20, &req), HR_ETOOBIG);
    memcpy(big, s, len);
    memset(big + len, '\x01', sizeof big - len);
    assert_int_equal(hr_http_parse_request(big, sizeof big, len, &req), (ssize_t)len);
    assert_int_equal(hr_http_parse_request(big, sizeof big, len + 1, &req), (ssize_t)len);
    /* An error inside the limit wins over the limit. */
    assert_int_equal(hr_http_parse_request(S("GET  / HTTP/1.1\r\n\r\n"), 6, &req), HR_EPROTO);
    assert_int_equal(hr_http_parse_request(S("GET  / HTTP/1.1\r\n\r\n"), 5, &req), HR_EPROTO);
    assert_int_equal(hr_http_parse_request(S("GET  / HTTP/1.1\r\n\r\n"), 4, &req), HR_ETOOBIG);
    /* Below the limit and incomplete: feed more. */
    assert_int_equal(hr_http_parse_request(s, len - 1, len, &req), HR_AGAIN);

    /* A long header value that pushes the head over an 8 KiB-like limit. */
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    check_head_at("long value", big, sizeof big, 2048, HR_ETOOBIG, 2048, NULL);
    memcpy(big + sizeof big - 4, "\r\n\r\n", 4);
    check_head_at("long value fits", big, sizeof big, sizeof big, (ssize_t)sizeof big, 0, &req);
    assert_int_equal(req.headers[0].value.len, sizeof big - 19 - 4);
}

/* ---- header_find and has_token ------------------------------------------- */

static void test_header_find(void **state)
{
    hr_http_request_t req;
    static const char s[] = "GET / HTTP/1.1\r\n"
                            "Hostname: no\r\n"
                            "host: first\r\n"
                            "HOST: second\r\n"
                            "X-Empty:\r\n"
                            "\r\n";

    (void)state;
    check_head("find", S(s), &req);
    assert_ptr_equal(hr_http_header_find(&req, "Host"), &req.headers[1]);
    assert_ptr_equal(hr_http_header_find(&req, "hOsTnAmE"), &req.headers[0]);
    assert_ptr_equal(hr_http_header_find(&req, "x-empty"), &req.headers[3]);
    assert_int_equal(hr_http_header_find(&req, "x-empty")->value.len, 0);
    assert_null(hr_http_header_find(&req, "Hos"));
    assert_null(hr_http_header_find(&req, "Hostnames"));
    assert_null(hr_http_header_find(&req, ""));
    /* Case folding is ASCII only: bytes that differ by 0x20 outside A-Z do
     * not match ('@' vs '`', '^' vs '~'). */
    check_head("fold", S("GET / HTTP/1.1\r\nA`: 1\r\n~: 2\r\n\r\n"), &req);
    assert_null(hr_http_header_find(&req, "A@"));
    assert_null(hr_http_header_find(&req, "^"));
    assert_non_null(hr_http_header_find(&req, "a`"));
    assert_non_null(hr_http_header_find(&req, "~"));
}

static hr_slice_t sl(const char *s)
{
    hr_slice_t r = {s, strlen(s)};
    return r;
}

static void test_has_token(void **state)
{
    static const struct {
        const char *value, *token;
        int want;
    } cases[] = {
        {"keep-alive, Upgrade", "upgrade", 1},
        {"keep-alive, Upgrade", "Keep-Alive", 1},
        {"keep-alive,Upgrade", "upgrade", 1},
        {"Upgrade", "upgrade", 1},
        {"  upgrade\t", "upgrade", 1},
        {",, upgrade ,,", "upgrade", 1},
        {"close", "upgrade", 0},
        {"upgrade2", "upgrade", 0},
        {"upgrad", "upgrade", 0},
        {"keep-alive", "alive", 0},
        {"up grade", "upgrade", 0},
        {"", "upgrade", 0},
        {",", "upgrade", 0},
        {"upgrade", "", 0},
        {" , ", "", 0},
        {"websocket", "websocket", 1},
        {"WebSocket", "websocket", 1},
        {"h2c, websocket", "websocket", 1},
        {"x-upgrade, upgrade-x", "upgrade", 0},
    };

    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(cases); i++) {
        hr_slice_t v = sl(cases[i].value);
        /* At the guard page too: the scan must stop at value.len. */
        hr_slice_t g = {at_guard(v.p, v.len), v.len};
        if (hr_http_has_token(v, cases[i].token) != cases[i].want ||
            hr_http_has_token(g, cases[i].token) != cases[i].want)
            fail_msg("has_token(\"%s\", \"%s\") != %d", cases[i].value, cases[i].token,
                     cases[i].want);
    }
    /* A slice is not a C string: the value ends at len. */
    hr_slice_t cut = {"upgrade-ish", 7};
    assert_true(hr_http_has_token(cut, "upgrade"));
    hr_slice_t none = {NULL, 0};
    assert_false(hr_http_has_token(none, "upgrade"));
}

/* ---- query iteration ----------------------------------------------------- */

static void test_query_basic(void **state)
{
    hr_slice_t q = sl("channel=a&channel=b%2Fc&last_event_id=x+y");
    char k[32], v[32];
    size_t pos = 0;

    (void)state;
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(k, "channel");
    assert_string_equal(v, "a");
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(k, "channel");
    assert_string_equal(v, "b/c");
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(k, "last_event_id");
    assert_string_equal(v, "x y");
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 0);
    assert_int_equal(pos, q.len);
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 0);
}

/* Runs the iterator over q (placed at the guard page) and renders the pairs
 * as "k=v;" with "!" for HR_EPROTO, to compare against a string. */
static const char *query_trace(const char *q, size_t key_cap, size_t val_cap)
{
    static char out[512];
    hr_slice_t s = {at_guard(q, strlen(q)), strlen(q)};
    char k[64], v[64];
    size_t pos = 0, o = 0;
    int rc, guard = 0;

    assert_true(key_cap <= sizeof k && val_cap <= sizeof v);
    out[0] = '\0';
    while ((rc = hr_http_query_next(s, &pos, k, key_cap, v, val_cap)) != 0) {
        assert_true(pos <= s.len);
        if (rc == 1)
            o += (size_t)snprintf(out + o, sizeof out - o, "%s=%s;", k, v);
        else if (rc == HR_EPROTO)
            o += (size_t)snprintf(out + o, sizeof out - o, "!");
        else
            fail_msg("query_next returned %d", rc);
        assert_true(++guard < 100);
    }
    return out;
}

static void test_query_decoding(void **state)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"", ""},
        {"&", ""},
        {"&&&", ""},
        {"a=1", "a=1;"},
        {"a=1&", "a=1;"},
        {"&&a=1&&b=2&&", "a=1;b=2;"},
        {"flag", "flag=;"},
        {"flag&x=", "flag=;x=;"},
        {"=v", "=v;"},
        {"=", "=;"},
        {"a=b=c", "a=b=c;"},
        {"a+b=c+d", "a b=c d;"},
        {"%41%62%2b=%7e%7E%20", "Ab+=~~ ;"},
        {"x=%25%2541", "x=%%41;"},
        {"x=%C3%A9", "x=\xc3\xa9;"},
        {"ch=a%26b&n=2", "ch=a&b;n=2;"},
        {"ch=a%3Db", "ch=a=b;"},
        {"x=\xff", "x=\xff;"},
        /* Bad escapes: the pair is refused and iteration can go on. */
        {"x=%", "!"},
        {"x=%4", "!"},
        {"x=%4&y=1", "!y=1;"},
        {"x=%zz&y=1", "!y=1;"},
        {"x=%G1", "!"},
        {"x=%1G", "!"},
        {"x=%+1", "!"},
        {"%=1&y=2", "!y=2;"},
        {"x=%00", "!"},
        {"x=a%00b&y=1", "!y=1;"},
        {"x=%%41", "!"},
    };
    static const char nul[] = "a=1&x=a\0b&y=2";

    (void)state;
    for (size_t i = 0; i < HR_ARRAY_SIZE(cases); i++) {
        const char *got = query_trace(cases[i].q, 64, 64);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("query \"%s\" gave \"%s\", want \"%s\"", cases[i].q, got, cases[i].want);
    }
    /* A raw NUL is refused like %00 (the parser keeps it out of targets, but
     * the iterator takes any slice). */
    hr_slice_t q = {nul, sizeof nul - 1};
    char k[8], v[8];
    size_t pos = 0;
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), HR_EPROTO);
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal(k, "y");
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), 0);
}

static void test_query_truncation(void **state)
{
    hr_slice_t q;
    char k[8], v[4];
    size_t pos = 0;

    (void)state;
    /* Exactly cap - 1 bytes fit. */
    assert_string_equal(query_trace("abcdefg=xyz", 8, 4), "abcdefg=xyz;");
    assert_string_equal(query_trace("a=%41%42%43", 8, 4), "a=ABC;");
    /* One more is flagged, key or value, and the next pair still comes. */
    assert_string_equal(query_trace("abcdefgh=1&b=2", 8, 4), "!b=2;");
    assert_string_equal(query_trace("a=wxyz&b=2", 8, 4), "!b=2;");
    assert_string_equal(query_trace("a=%41%42%43%44&b=2", 8, 4), "!b=2;");
    assert_string_equal(query_trace("a=x+y+z+&b=2", 8, 4), "!b=2;");

    /* The truncated text is what fitted, NUL-terminated; a truncated key
     * cannot pass for a shorter one because the call did not return 1. */
    q = sl("channelX=1");
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), HR_EPROTO);
    assert_string_equal(k, "channel");
    assert_int_equal(pos, q.len);
    q = sl("id=123456");
    pos = 0;
    assert_int_equal(hr_http_query_next(q, &pos, k, sizeof k, v, sizeof v), HR_EPROTO);
    assert_string_equal(k, "id");
    assert_string_equal(v, "123");

    /* Caps of 1 hold only the terminator: just empty strings fit. */
    assert_string_equal(query_trace("=&a", 1, 1), "=;!");
    /* A cap of 0 holds nothing, not even the terminator, and is not written. */
    pos = 0;
    k[0] = 'K';
    assert_int_equal(hr_http_query_next(sl("=1"), &pos, k, 0, v, sizeof v), HR_EPROTO);
    assert_int_equal(k[0], 'K');
}

/* ---- body framing and persistence ---------------------------------------- */

/* The head "POST /publish HTTP/1.<minor>" with the given header lines. */
static int body_info_of(int minor, const char *lines, hr_http_body_info_t *bi)
{
    static char head[2048];
    hr_http_request_t req;
    int n =
        snprintf(head, sizeof head, "POST /publish HTTP/1.%d\r\nHost: h\r\n%s\r\n", minor, lines);

    assert_true(n > 0 && (size_t)n < sizeof head);
    assert_int_equal(hr_http_parse_request(head, (size_t)n, BIG, &req), n);
    bi->has_length = -1; /* must stay untouched on failure */
    return hr_http_body_info(&req, bi);
}

static void test_body_info(void **state)
{
    hr_http_body_info_t bi;

    (void)state;
    /* No framing header: no body. */
    assert_int_equal(body_info_of(1, "", &bi), 0);
    assert_int_equal(bi.has_length, 0);
    assert_int_equal(bi.chunked, 0);
    assert_int_equal(bi.expect_continue, 0);
    /* Content-Length, any case, leading zeros, up to the saturation point. */
    assert_int_equal(body_info_of(1, "content-length: 0042\r\n", &bi), 0);
    assert_true(bi.has_length && bi.length == 42);
    assert_int_equal(body_info_of(1, "Content-Length: 0\r\n", &bi), 0);
    assert_true(bi.has_length && bi.length == 0);
    assert_int_equal(body_info_of(0, "Content-Length: 18446744073709551615\r\n", &bi), 0);
    assert_true(bi.length == UINT64_MAX);
    assert_int_equal(body_info_of(1, "Content-Length: 99999999999999999999999\r\n", &bi), 0);
    assert_true(bi.length == UINT64_MAX); /* saturated: refused by any cap */
    assert_int_equal(body_info_of(1, "Content-Length: 18446744073709551614\r\n", &bi), 0);
    assert_true(bi.length == UINT64_MAX - 1);
    /* Broken framing: 400, *bi untouched. */
    static const char *const bad[] = {
        "Content-Length: \r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +1\r\n",
        "Content-Length: 1 2\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: 0x10\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
        "Transfer-Encoding:\r\n",
        "Transfer-Encoding: ,\r\n",
        "Transfer-Encoding: chunkedx\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (body_info_of(1, bad[i], &bi) != 400)
            fail_msg("not 400: %s", bad[i]);
        assert_int_equal(bi.has_length, -1);
    }
    /* Chunked last (empty elements ignored), in any case. */
    assert_int_equal(body_info_of(1, "Transfer-Encoding: gzip, Chunked\r\n", &bi), 0);
    assert_true(bi.chunked && !bi.has_length);
    assert_int_equal(body_info_of(1, "Transfer-Encoding: chunked , ,\r\n", &bi), 0);
    assert_true(bi.chunked);
    assert_int_equal(
        body_info_of(1, "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", &bi), 0);
    assert_true(bi.chunked);
    /* HTTP/1.0 has no transfer codings. */
    assert_int_equal(body_info_of(0, "Transfer-Encoding: chunked\r\n", &bi), 400);
    /* Expect: 100-continue only, once; ignored in HTTP/1.0. */
    assert_int_equal(body_info_of(1, "Expect: 100-Continue\r\nContent-Length: 3\r\n", &bi), 0);
    assert_true(bi.expect_continue && bi.length == 3);
    assert_int_equal(body_info_of(0, "Expect: 100-continue\r\nContent-Length: 3\r\n", &bi), 0);
    assert_false(bi.expect_continue);
    assert_int_equal(body_info_of(1, "Expect: 200-ok\r\n", &bi), 417);
    assert_int_equal(body_info_of(1, "Expect:\r\n", &bi), 417);
    assert_int_equal(body_info_of(1, "Expect: 100-continue, x\r\n", &bi), 417);
    assert_int_equal(body_info_of(1, "Expect: 100-continue\r\nExpect: 100-continue\r\n", &bi), 417);
    assert_int_equal(bi.has_length, -1);
}

static int persistent_of(int minor, const char *lines)
{
    static char head[1024];
    hr_http_request_t req;
    int n = snprintf(head, sizeof head, "POST /publish HTTP/1.%d\r\n%s\r\n", minor, lines);

    assert_int_equal(hr_http_parse_request(head, (size_t)n, BIG, &req), n);
    return hr_http_persistent(&req);
}

static void test_persistent(void **state)
{
    (void)state;
    assert_int_equal(persistent_of(1, ""), 1);
    assert_int_equal(persistent_of(1, "Connection: keep-alive\r\n"), 1);
    assert_int_equal(persistent_of(1, "Connection: Close\r\n"), 0);
    assert_int_equal(persistent_of(1, "Connection: upgrade, close\r\n"), 0);
    assert_int_equal(persistent_of(1, "Connection: keep-alive\r\nConnection: close\r\n"), 0);
    assert_int_equal(persistent_of(1, "Connection: closed\r\n"), 1);
    assert_int_equal(persistent_of(1, "X-Connection: close\r\n"), 1);
    assert_int_equal(persistent_of(0, ""), 0);
    assert_int_equal(persistent_of(0, "Connection: Keep-Alive\r\n"), 1);
    assert_int_equal(persistent_of(0, "Connection: keep-alive, close\r\n"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrome_eventsource), cmocka_unit_test(test_firefox_websocket_upgrade),
        cmocka_unit_test(test_node_ws_upgrade),    cmocka_unit_test(test_python_websockets_upgrade),
        cmocka_unit_test(test_http10_curl),        cmocka_unit_test(test_lf_only_lines),
        cmocka_unit_test(test_mixed_line_endings), cmocka_unit_test(test_no_headers),
        cmocka_unit_test(test_header_trimming),    cmocka_unit_test(test_obs_text_and_odd_tokens),
        cmocka_unit_test(test_trailing_bytes),     cmocka_unit_test(test_path_and_query),
        cmocka_unit_test(test_malformed),          cmocka_unit_test(test_req_untouched_on_failure),
        cmocka_unit_test(test_max_headers),        cmocka_unit_test(test_max_head),
        cmocka_unit_test(test_header_find),        cmocka_unit_test(test_has_token),
        cmocka_unit_test(test_query_basic),        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_query_truncation),   cmocka_unit_test(test_body_info),
        cmocka_unit_test(test_persistent),
    };

    return cmocka_run_group_tests(tests, guard_setup, guard_teardown);
}
