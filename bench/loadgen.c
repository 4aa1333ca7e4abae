/* SPDX-License-Identifier: MIT
 * loadgen.c: Herald's load generator. Its own epoll loop, no library.
 *
 *   loadgen sub  opens N SSE or WebSocket subscribers, from many loopback
 *                source addresses (127.0.0.x, so N can exceed the ephemeral
 *                port range) and from several processes (each process is
 *                capped at the descriptor hard limit), parses the SSE events
 *                or WebSocket frames, reads the send timestamp at the start of
 *                each payload, and reports delivered messages per second,
 *                publish->receive latency percentiles and lost messages.
 *   loadgen pub  a closed-loop HTTP POST publisher with keep-alive (one
 *                message in flight per connection), full speed or at a fixed
 *                rate, payloads carrying a timestamp: a raw body (nchan's
 *                publisher location) or Herald's POST /publish JSON body with
 *                a Bearer token (docs/PROTOCOL.md 1.7), so every server is
 *                published to by the same client.
 *   loadgen check  prints the kernel settings a large run needs.
 *
 * Payload format (every publisher in bench/ writes it): the decimal
 * CLOCK_MONOTONIC time in ns when the publish call was made, a space, then
 * padding. PHP's hrtime(true) is that clock. A message whose payload does not
 * start with a non-zero number (a herald.gap event, a ping) is not counted.
 *
 * Results: one JSON object on stdout (or --json FILE), see usage(). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* ---- time and latency histogram ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Log-linear histogram of microseconds: exact below 2048 us, then 1024
 * sub-buckets per power of two (0.1 % precision), up to 2^37 us. */
#define H_EXACT 2048
#define H_SUB   1024
#define H_SIZE  (H_EXACT + 27 * H_SUB)

static unsigned h_index(uint64_t us)
{
    if (us < H_EXACT)
        return (unsigned)us;
    int e = 63 - __builtin_clzll(us); /* >= 11 */
    if (e > 37)
        return H_SIZE - 1;
    return H_EXACT + (unsigned)(e - 11) * H_SUB + (unsigned)((us >> (e - 10)) & (H_SUB - 1));
}

static uint64_t h_value(unsigned i)
{
    if (i < H_EXACT)
        return i;
    unsigned e = (i - H_EXACT) / H_SUB + 11, sub = (i - H_EXACT) % H_SUB;
    return ((uint64_t)1 << e) + ((uint64_t)sub << (e - 10));
}

/* What a subscriber process reports to the parent (after its histogram). */
typedef struct stats {
    uint64_t conns, connected, failed, dropped;
    uint64_t msgs, bytes, lost, extra, untimed;
    uint64_t first_send_ns, last_recv_ns, max_us;
    uint64_t connect_ns; /* time this process took to connect its share */
} stats_t;

/* ---- options ---- */

/* herald: herald.v1 envelopes on /ws (docs/PROTOCOL.md 2.8): a message is
 * an envelope with "data"; subscribed and other replies are not counted.
 * pusher: the Pusher protocol 7 (docs/PROTOCOL.md 4): after the upgrade the
 * subscriber sends pusher:subscribe for --channel and counts as connected
 * once pusher_internal:subscription_succeeded arrives; an event's "data" is
 * read as herald's, connection_established and the like are not counted. */
enum { P_SSE, P_WS, P_HERALD, P_PUSHER };
#define P_ENVELOPE(p) ((p) == P_HERALD || (p) == P_PUSHER)

static struct {
    const char *host;
    int port_lo, port_hi;
    int proto;
    const char *path;
    const char *channel; /* pusher: channel name, %d becomes the channel index */
    long conns, channels;
    int src_lo, src_hi; /* last octet of 127.0.0.x */
    long per_proc;
    long expect;
    double timeout, quiet, hold;
    const char *ready_file, *json, *done_file;
    int inflight;
    /* pub */
    long count;
    double rate;
    long size;
    int pub_conns;
    int body_herald;       /* pub: Herald's JSON body instead of the raw payload */
    const char *auth;      /* pub: Bearer token */
    const char *transport; /* pub, herald body: "sse", "ws" or NULL (all) */
    int verbose;
} opt = {
    .host = "127.0.0.1",
    .port_lo = 8080,
    .port_hi = 8080,
    .proto = P_SSE,
    .path = "/sse?channel=c%d",
    .channel = "c%d",
    .conns = 1,
    .channels = 1,
    .src_lo = 1,
    .src_hi = 1,
    .expect = -1,
    .timeout = 60,
    .quiet = 5,
    .hold = -1,
    .inflight = 256,
    .count = 1000,
    .size = 100,
    .pub_conns = 1,
};

static void usage(void)
{
    fputs(
        "usage: loadgen sub [options]   subscribers\n"
        "       loadgen pub [options]   closed-loop HTTP POST publisher (keep-alive)\n"
        "       loadgen check [N]       kernel settings needed for N connections\n"
        "common:\n"
        "  --host A            server address (127.0.0.1)\n"
        "  --port P[-Q]        server port, or a range: connection j uses P + j %% (Q-P+1)\n"
        "  --path T            request path; %d becomes the channel index\n"
        "  --channels K        connection/message j goes to channel j %% K (1)\n"
        "sub:\n"
        "  --proto sse|ws|herald|pusher (sse)\n"
        "  --channel T         pusher: channel to subscribe; %d becomes the index (c%d)\n"
        "  --conns N           subscribers (1)\n"
        "  --src A-B           source addresses 127.0.0.A .. 127.0.0.B, round robin (1-1)\n"
        "  --per-proc M        connections per process (descriptor hard limit - 64)\n"
        "  --inflight C        connects in progress at once, per process (256)\n"
        "  --expect E          done when every subscriber got E messages\n"
        "  --timeout S         give up S seconds after connecting (60)\n"
        "  --quiet S           done when nothing arrived for S seconds after a first message (5)\n"
        "  --hold S            stay connected S seconds (idle memory); 0: until SIGTERM\n"
        "  --ready-file F      written once every subscriber is connected\n"
        "  --json F            write the result there instead of stdout\n"
        "  --done-file F       written with the result; then the connections stay open until\n"
        "                      SIGTERM (at most 120 s), so the server's CPU can be read\n"
        "                      before it handles the disconnects\n"
        "pub:\n"
        "  --count M           messages in all (1000)\n"
        "  --rate R            messages per second in all, 0 = full speed (0)\n"
        "  --size B            payload bytes (100)\n"
        "  --conns C           keep-alive connections, one process each, one message in\n"
        "                      flight on each (1)\n"
        "  --body raw|herald   raw: the payload is the body (nchan); herald: Herald's\n"
        "                      POST /publish JSON {\"channel\",\"data\"} (raw)\n"
        "  --channel T         herald body: channel name; %d becomes the index (c%d)\n"
        "  --transport T       herald body: \"sse\" or \"ws\" (absent: all)\n"
        "  --auth TOKEN        sends Authorization: Bearer TOKEN\n",
        stderr);
    exit(2);
}

static void parse_range(const char *s, int *lo, int *hi)
{
    char *end;
    *lo = (int)strtol(s, &end, 10);
    *hi = *end == '-' ? (int)strtol(end + 1, NULL, 10) : *lo;
    if (*hi < *lo)
        usage();
}

static void parse_src(const char *s)
{
    /* "2-40" or "127.0.0.2-127.0.0.40" */
    const char *a = strrchr(s, '-');
    const char *d1 = a ? a : s + strlen(s);
    const char *p = d1;
    while (p > s && p[-1] != '.')
        p--;
    opt.src_lo = atoi(p);
    if (a) {
        const char *q = strrchr(a + 1, '.');
        opt.src_hi = atoi(q ? q + 1 : a + 1);
    } else {
        opt.src_hi = opt.src_lo;
    }
    if (opt.src_lo < 1 || opt.src_hi > 254 || opt.src_hi < opt.src_lo)
        usage();
}

static void parse_args(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(k, "--host"))
            opt.host = v;
        else if (!strcmp(k, "--port"))
            parse_range(v, &opt.port_lo, &opt.port_hi);
        else if (!strcmp(k, "--proto"))
            opt.proto = !strcmp(v, "ws")       ? P_WS
                        : !strcmp(v, "herald") ? P_HERALD
                        : !strcmp(v, "pusher") ? P_PUSHER
                                               : P_SSE;
        else if (!strcmp(k, "--channel"))
            opt.channel = v;
        else if (!strcmp(k, "--path"))
            opt.path = v;
        else if (!strcmp(k, "--conns"))
            opt.conns = atol(v), opt.pub_conns = atoi(v);
        else if (!strcmp(k, "--channels"))
            opt.channels = atol(v);
        else if (!strcmp(k, "--src"))
            parse_src(v);
        else if (!strcmp(k, "--per-proc"))
            opt.per_proc = atol(v);
        else if (!strcmp(k, "--inflight"))
            opt.inflight = atoi(v);
        else if (!strcmp(k, "--expect"))
            opt.expect = atol(v);
        else if (!strcmp(k, "--timeout"))
            opt.timeout = atof(v);
        else if (!strcmp(k, "--quiet"))
            opt.quiet = atof(v);
        else if (!strcmp(k, "--hold"))
            opt.hold = atof(v);
        else if (!strcmp(k, "--ready-file"))
            opt.ready_file = v;
        else if (!strcmp(k, "--json"))
            opt.json = v;
        else if (!strcmp(k, "--done-file"))
            opt.done_file = v;
        else if (!strcmp(k, "--count"))
            opt.count = atol(v);
        else if (!strcmp(k, "--rate"))
            opt.rate = atof(v);
        else if (!strcmp(k, "--size"))
            opt.size = atol(v);
        else if (!strcmp(k, "--body"))
            opt.body_herald = !strcmp(v, "herald");
        else if (!strcmp(k, "--auth"))
            opt.auth = v;
        else if (!strcmp(k, "--transport"))
            opt.transport = v;
        else if (!strcmp(k, "--verbose"))
            opt.verbose = atoi(v);
        else
            usage();
    }
    if (opt.conns < 1 || opt.channels < 1)
        usage();
}

static void fmt_index(char *out, size_t cap, const char *fmt, long chan)
{
    const char *p = strstr(fmt, "%d");
    if (p == NULL) {
        snprintf(out, cap, "%s", fmt);
        return;
    }
    snprintf(out, cap, "%.*s%ld%s", (int)(p - fmt), fmt, chan, p + 2);
}

static void path_for(char *out, size_t cap, long chan)
{
    fmt_index(out, cap, opt.path, chan);
}

/* Raise the soft descriptor limit to the hard one; returns it. */
static long raise_nofile(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
}

/* ---- kernel settings ---- */

static long read_long(const char *path, int field)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        for (int i = 0; i <= field; i++)
            if (fscanf(f, "%ld", &v) != 1)
                v = -1;
        fclose(f);
    }
    return v;
}

/* Prints what a run of n connections needs and whether this machine has it;
 * returns the number of settings that fall short. */
static int check_kernel(long n, int verbose)
{
    int bad = 0;
    long lo = read_long("/proc/sys/net/ipv4/ip_local_port_range", 0);
    long hi = read_long("/proc/sys/net/ipv4/ip_local_port_range", 1);
    long ports = hi - lo + 1;
    long nsrc = opt.src_hi - opt.src_lo + 1;
    long nports = opt.port_hi - opt.port_lo + 1;
    long per_tuple = (n + nsrc * nports - 1) / (nsrc * nports);
    struct {
        const char *what;
        long have, need;
        const char *fix;
    } rows[] = {
        {"ephemeral ports per (source, destination)", ports, per_tuple,
         "more --src addresses, or sysctl net.ipv4.ip_local_port_range"},
        {"fs.file-max (both ends hold n descriptors)", read_long("/proc/sys/fs/file-max", 0),
         2 * n + 10000, "sysctl fs.file-max"},
        {"fs.nr_open", read_long("/proc/sys/fs/nr_open", 0), 1024, "sysctl fs.nr_open"},
        {"net.core.somaxconn (listen backlog cap)", read_long("/proc/sys/net/core/somaxconn", 0),
         opt.inflight, "sysctl net.core.somaxconn, or a lower --inflight"},
        {"net.ipv4.tcp_max_syn_backlog", read_long("/proc/sys/net/ipv4/tcp_max_syn_backlog", 0),
         opt.inflight, "sysctl net.ipv4.tcp_max_syn_backlog, or a lower --inflight"},
    };
    long hard = raise_nofile();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int ok = rows[i].have >= rows[i].need;
        bad += !ok;
        if (verbose || !ok)
            fprintf(stderr, "loadgen: %-44s %9ld, needs %9ld  %s%s\n", rows[i].what, rows[i].have,
                    rows[i].need, ok ? "ok" : "SHORT: ", ok ? "" : rows[i].fix);
    }
    if (verbose)
        fprintf(stderr,
                "loadgen: descriptor limit per process %ld (hard): %ld processes for %ld "
                "connections\n"
                "loadgen: tcp_mem (pages) %ld %ld %ld; an idle loopback connection costs the "
                "kernel about 2-4 KiB per end\n",
                hard, (n + hard - 65) / (hard - 64), n, read_long("/proc/sys/net/ipv4/tcp_mem", 0),
                read_long("/proc/sys/net/ipv4/tcp_mem", 1),
                read_long("/proc/sys/net/ipv4/tcp_mem", 2));
    return bad;
}

/* ---- subscribers ---- */

enum { S_IDLE, S_CONNECTING, S_HEAD, S_STREAM, S_CLOSED };
enum { C_SIZE, C_EXT, C_DATA, C_DATA_CR, C_DATA_LF, C_END };

typedef struct conn {
    int fd;
    uint8_t state;
    uint8_t tries;
    uint8_t chunked; /* response is Transfer-Encoding: chunked */
    uint8_t c_state;
    uint32_t c_left;
    uint32_t got;
    long idx;
    char *head;
    uint32_t head_len;
    /* SSE parser */
    uint8_t lp;      /* bytes of "data: " matched at the start of this line */
    uint8_t skip;    /* skipping to the end of the line */
    uint8_t in_ts;   /* reading the timestamp's digits */
    uint8_t ev_data; /* this event has a timestamped data line */
    uint64_t ts, ev_ts;
    /* WebSocket parser */
    uint8_t wh[14];
    uint8_t wh_len, wh_need;
    uint8_t w_op; /* opcode of the frame being read */
    uint8_t w_fin;
    uint8_t w_msg; /* a data message is open (continuations follow) */
    uint8_t w_tsdone;
    uint8_t w_pat; /* herald: bytes of the "data" key matched so far */
    uint8_t p_sub; /* pusher: subscribe sent, its success not seen yet */
    uint8_t p_pat; /* pusher: bytes of "subscription_succeeded" matched */
    uint64_t w_left;
} conn_t;

static conn_t *conns;
static long nconns, first_idx;
static int ep;
static stats_t st;
static uint64_t *hist;
static uint64_t batch_now; /* receive time of the current read */
static uint64_t last_msg_ns;
static volatile sig_atomic_t stop_flag;
static long inflight, next_conn, closed_streams, opened_streams, failed;
static char *rbuf;
#define RBUF (256 * 1024)

static void on_stop(int sig)
{
    stop_flag = 1;
}

static void message(conn_t *c, uint64_t ts)
{
    if (ts == 0) {
        st.untimed++;
        return;
    }
    c->got++;
    st.msgs++;
    last_msg_ns = batch_now;
    if (st.first_send_ns == 0 || ts < st.first_send_ns)
        st.first_send_ns = ts;
    if (batch_now > st.last_recv_ns)
        st.last_recv_ns = batch_now;
    uint64_t us = batch_now > ts ? (batch_now - ts) / 1000 : 0;
    if (us > st.max_us)
        st.max_us = us;
    hist[h_index(us)]++;
}

static void sse_feed(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        if (c->skip) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL)
                return;
            p = nl + 1;
            c->skip = 0;
            c->lp = 0;
            continue;
        }
        char ch = *p++;
        if (c->lp == 0 && (ch == '\n' || ch == '\r')) {
            if (ch == '\n' && c->ev_data) {
                message(c, c->ev_ts);
                c->ev_data = 0;
            }
            continue;
        }
        if (c->lp < 6) {
            if (ch == "data: "[c->lp]) {
                if (++c->lp == 6) {
                    c->in_ts = 1;
                    c->ts = 0;
                }
            } else if (ch == '\n') {
                c->lp = 0;
            } else {
                c->skip = 1;
            }
            continue;
        }
        if (c->in_ts) {
            if (ch >= '0' && ch <= '9') {
                c->ts = c->ts * 10 + (uint64_t)(ch - '0');
                continue;
            }
            c->in_ts = 0;
            if (!c->ev_data) {
                c->ev_data = 1;
                c->ev_ts = c->ts;
            }
        }
        if (ch == '\n')
            c->lp = 0;
        else
            c->skip = 1;
    }
}

/* Transfer-Encoding: chunked, then the SSE parser. */
static void chunked_feed(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        switch (c->c_state) {
        case C_SIZE: {
            char ch = *p++;
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d >= 0)
                c->c_left = c->c_left * 16 + (uint32_t)d;
            else if (ch == '\n')
                c->c_state = c->c_left ? C_DATA : C_END;
            else
                c->c_state = C_EXT;
            break;
        }
        case C_EXT:
            if (*p++ == '\n')
                c->c_state = c->c_left ? C_DATA : C_END;
            break;
        case C_DATA: {
            size_t k = (size_t)(end - p) < c->c_left ? (size_t)(end - p) : c->c_left;
            sse_feed(c, p, k);
            p += k;
            c->c_left -= (uint32_t)k;
            if (c->c_left == 0)
                c->c_state = C_DATA_CR;
            break;
        }
        case C_DATA_CR:
        case C_DATA_LF:
            if (*p++ == '\n')
                c->c_state = C_SIZE;
            break;
        default:
            return;
        }
    }
}

static void ws_send_pong(conn_t *c)
{
    static const uint8_t pong[6] = {0x8a, 0x80, 0, 0, 0, 0};
    ssize_t r = write(c->fd, pong, sizeof pong);
    (void)r;
}

#define DATA_KEY     "\"data\":\""
#define DATA_KEY_LEN (sizeof DATA_KEY - 1)
#define SUB_OK       "subscription_succeeded"
#define SUB_OK_LEN   (sizeof SUB_OK - 1)

/* pusher: a connection is "in flight" until its subscription is confirmed,
 * so --ready-file means every subscriber can receive. */
static void pusher_subscribed(conn_t *c)
{
    c->p_sub = 0;
    inflight--;
    opened_streams++;
}

static void pusher_subscribe(conn_t *c)
{
    char ch[256], msg[400];
    uint8_t frame[410];
    fmt_index(ch, sizeof ch, opt.channel, c->idx % opt.channels);
    int n = snprintf(msg, sizeof msg,
                     "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}", ch);
    /* one masked text frame, mask key 0 (a client must mask; any key will do) */
    frame[0] = 0x81;
    frame[1] = (uint8_t)(0x80 | n);
    memset(frame + 2, 0, 4);
    memcpy(frame + 6, msg, (size_t)n);
    c->p_sub = 1;
    c->p_pat = 0;
    if (n > 125 || write(c->fd, frame, (size_t)n + 6) != n + 6)
        c->state = S_CLOSED;
}

static void ws_feed(conn_t *c, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    while (p < end) {
        if (c->w_left == 0 && c->wh_len < c->wh_need) {
            /* frame header */
            c->wh[c->wh_len++] = *p++;
            if (c->wh_len == 2) {
                uint8_t l = c->wh[1] & 0x7f;
                c->wh_need = (uint8_t)(2 +
                                       (l == 126   ? 2
                                        : l == 127 ? 8
                                                   : 0) +
                                       ((c->wh[1] & 0x80) ? 4 : 0));
            }
            if (c->wh_len < c->wh_need)
                continue;
            uint8_t l = c->wh[1] & 0x7f;
            uint64_t len = l;
            if (l == 126)
                len = (uint64_t)c->wh[2] << 8 | c->wh[3];
            else if (l == 127) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | c->wh[2 + i];
            }
            c->w_op = c->wh[0] & 0x0f;
            c->w_fin = c->wh[0] >> 7;
            c->w_left = len;
            c->wh_len = 0;
            c->wh_need = 2;
            if (c->w_op == 1 || c->w_op == 2) {
                c->w_msg = 1;
                c->w_tsdone = 0;
                c->w_pat = 0;
                c->ts = 0;
            }
            if (c->w_op == 9)
                ws_send_pong(c);
            if (c->w_op == 8)
                c->state = S_CLOSED;
            if (len == 0)
                goto frame_end;
            continue;
        }
        /* payload */
        size_t k = (size_t)(end - p) < c->w_left ? (size_t)(end - p) : (size_t)c->w_left;
        if (c->p_sub && c->w_msg) {
            for (size_t i = 0; i < k && c->p_sub; i++) {
                c->p_pat =
                    p[i] == (uint8_t)SUB_OK[c->p_pat] ? c->p_pat + 1 : p[i] == (uint8_t)SUB_OK[0];
                if (c->p_pat == SUB_OK_LEN)
                    pusher_subscribed(c);
            }
        }
        if (P_ENVELOPE(opt.proto) && c->w_msg && c->w_pat < DATA_KEY_LEN) {
            /* an envelope: the timestamp follows its "data":" */
            size_t i = 0;
            while (i < k && c->w_pat < DATA_KEY_LEN) {
                uint8_t b = p[i++];
                c->w_pat =
                    b == (uint8_t)DATA_KEY[c->w_pat] ? c->w_pat + 1 : b == (uint8_t)DATA_KEY[0];
            }
            p += i;
            c->w_left -= i;
            k -= i;
        }
        if (c->w_msg && !c->w_tsdone && (c->w_op == 1 || c->w_op == 2 || c->w_op == 0) &&
            (!P_ENVELOPE(opt.proto) || c->w_pat == DATA_KEY_LEN)) {
            size_t i = 0;
            while (i < k && p[i] >= '0' && p[i] <= '9')
                c->ts = c->ts * 10 + (uint64_t)(p[i++] - '0');
            if (i < k)
                c->w_tsdone = 1;
        }
        p += k;
        c->w_left -= k;
        if (c->w_left > 0)
            continue;
    frame_end:
        if (c->w_fin && c->w_msg && c->w_op <= 2 &&
            (!P_ENVELOPE(opt.proto) || c->w_pat == DATA_KEY_LEN)) {
            message(c, c->ts);
            c->w_msg = 0;
        }
    }
}

static void stream_feed(conn_t *c, const char *p, size_t n)
{
    st.bytes += n;
    if (opt.proto != P_SSE)
        ws_feed(c, (const uint8_t *)p, n);
    else if (c->chunked)
        chunked_feed(c, p, n);
    else
        sse_feed(c, p, n);
}

static void conn_close(conn_t *c, int as_failure)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == S_CONNECTING || c->state == S_HEAD || c->p_sub)
        inflight--;
    c->p_sub = 0;
    if (c->state == S_STREAM)
        closed_streams++;
    free(c->head);
    c->head = NULL;
    c->head_len = 0;
    c->state = S_CLOSED;
    if (as_failure)
        failed++;
}

static int start_connect(conn_t *c)
{
    long j = c->idx;
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct sockaddr_in dst = {.sin_family = AF_INET};
    int nsrc = opt.src_hi - opt.src_lo + 1;
    int nports = opt.port_hi - opt.port_lo + 1;
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(opt.src_lo + j % nsrc));
    dst.sin_port = htons((uint16_t)(opt.port_lo + (j / nsrc) % nports));
    inet_pton(AF_INET, opt.host, &dst.sin_addr);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "loadgen: socket: %s\n", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
        fprintf(stderr, "loadgen: bind 127.0.0.%d: %s\n", opt.src_lo + (int)(j % nsrc),
                strerror(errno));
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->state = S_CONNECTING;
    inflight++;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
        if (opt.verbose)
            fprintf(stderr, "loadgen: connect: %s\n", strerror(errno));
        conn_close(c, 0);
        return -1;
    }
    return 0;
}

static void retry_or_fail(conn_t *c)
{
    int tries = c->tries + 1;
    conn_close(c, 0);
    c->tries = (uint8_t)tries;
    if (tries < 5 && start_connect(c) == 0)
        return;
    failed++;
}

static void send_request(conn_t *c)
{
    char path[512], req[1024];
    path_for(path, sizeof path, c->idx % opt.channels);
    int n;
    if (opt.proto != P_SSE)
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "%s\r\n",
                     path, opt.host,
                     opt.proto == P_HERALD ? "Sec-WebSocket-Protocol: herald.v1\r\n" : "");
    else
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\n\r\n",
                     path, opt.host);
    if (write(c->fd, req, (size_t)n) != n) {
        retry_or_fail(c);
        return;
    }
    c->state = S_HEAD;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Accumulate the response head; on completion switch to the stream. */
static void read_head(conn_t *c, const char *p, size_t n)
{
    c->head = realloc(c->head, c->head_len + n + 1);
    memcpy(c->head + c->head_len, p, n);
    c->head_len += (uint32_t)n;
    c->head[c->head_len] = 0;
    char *e = strstr(c->head, "\r\n\r\n");
    if (e == NULL) {
        if (c->head_len > 16384) {
            fprintf(stderr, "loadgen: response head too large\n");
            conn_close(c, 1);
        }
        return;
    }
    int code = 0;
    sscanf(c->head, "HTTP/1.%*d %d", &code);
    int want = opt.proto != P_SSE ? 101 : 200;
    if (code != want) {
        if (opt.verbose || failed < 3)
            fprintf(stderr, "loadgen: subscriber %ld: status %d, not %d\n", c->idx, code, want);
        conn_close(c, 1);
        return;
    }
    *e = 0;
    for (char *q = c->head; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    c->chunked = strstr(c->head, "transfer-encoding: chunked") != NULL;
    size_t used = (size_t)(e + 4 - c->head);
    size_t rest = c->head_len - used;
    char *head = c->head;
    c->head = NULL;
    c->head_len = 0;
    c->state = S_STREAM;
    c->wh_need = 2;
    if (opt.proto == P_PUSHER) {
        pusher_subscribe(c); /* in flight until the server confirms */
    } else {
        inflight--;
        opened_streams++;
    }
    if (rest)
        stream_feed(c, head + used, rest);
    free(head);
}

static void on_event(conn_t *c, uint32_t events)
{
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            if (opt.verbose)
                fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
            retry_or_fail(c);
            return;
        }
        if (events & EPOLLOUT) {
            send_request(c);
        }
        return;
    }
    if (c->state == S_CLOSED)
        return;
    ssize_t n = read(c->fd, rbuf, RBUF);
    if (n > 0) {
        batch_now = now_ns();
        if (c->state == S_HEAD)
            read_head(c, rbuf, (size_t)n);
        else
            stream_feed(c, rbuf, (size_t)n);
        if (c->state == S_CLOSED && c->fd >= 0)
            conn_close(c, 0);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (c->state == S_HEAD) {
        retry_or_fail(c);
        return;
    }
    if (opt.verbose)
        fprintf(stderr, "loadgen: subscriber %ld closed by the server\n", c->idx);
    conn_close(c, 0);
}

static int all_expected(void)
{
    if (opt.expect < 0)
        return 0;
    for (long i = 0; i < nconns; i++)
        if (conns[i].state == S_STREAM && conns[i].got < (uint64_t)opt.expect)
            return 0;
    return 1;
}

/* One subscriber process: connections [first, first + n). Writes 'R' to
 * ctl when connected, then its stats and histogram when done. */
static void sub_child(long first, long n, int ctl)
{
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    signal(SIGUSR1, on_stop);
    signal(SIGPIPE, SIG_IGN);
    nconns = n;
    first_idx = first;
    conns = calloc((size_t)n, sizeof *conns);
    hist = calloc(H_SIZE, sizeof *hist);
    rbuf = malloc(RBUF);
    ep = epoll_create1(EPOLL_CLOEXEC);
    for (long i = 0; i < n; i++) {
        conns[i].fd = -1;
        conns[i].idx = first + i;
        conns[i].wh_need = 2;
    }
    st.conns = (uint64_t)n;
    uint64_t t0 = now_ns(), ready_at = 0, deadline = 0, last_check = 0;
    uint64_t connect_deadline = t0 + (uint64_t)(opt.timeout * 1e9) + 30000000000ull;
    struct epoll_event evs[1024];
    for (;;) {
        while (next_conn < n && inflight < opt.inflight) {
            conn_t *c = &conns[next_conn++];
            if (start_connect(c) != 0)
                failed++;
        }
        int k = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < k; i++)
            on_event(evs[i].data.ptr, evs[i].events);
        uint64_t t = now_ns();
        if (!ready_at && next_conn == n && inflight == 0) {
            ready_at = t;
            st.connect_ns = t - t0;
            deadline = t + (uint64_t)(opt.timeout * 1e9);
            if (opt.hold > 0)
                deadline = t + (uint64_t)(opt.hold * 1e9);
            char r = 'R';
            if (write(ctl, &r, 1) != 1)
                _exit(1);
        }
        if (!ready_at && t > connect_deadline) {
            fprintf(stderr, "loadgen: gave up connecting: %ld in progress\n", inflight);
            for (long i = 0; i < n; i++)
                if (conns[i].state == S_CONNECTING || conns[i].state == S_HEAD)
                    conn_close(&conns[i], 1);
            continue;
        }
        if (stop_flag)
            break;
        if (!ready_at)
            continue;
        if (opt.hold == 0)
            continue; /* until a signal */
        if (t >= deadline)
            break;
        if (opt.hold < 0 && st.msgs > 0 && t - last_check > 50000000u) {
            last_check = t;
            if (all_expected())
                break;
        }
        if (opt.hold < 0 && last_msg_ns && t - last_msg_ns > (uint64_t)(opt.quiet * 1e9))
            break;
    }
    st.connected = (uint64_t)opened_streams;
    st.failed = (uint64_t)failed;
    st.dropped = (uint64_t)closed_streams;
    for (long i = 0; i < n; i++) {
        if (opt.expect >= 0) {
            if (conns[i].got < (uint64_t)opt.expect)
                st.lost += (uint64_t)opt.expect - conns[i].got;
            else
                st.extra += conns[i].got - (uint64_t)opt.expect;
        }
    }
    if (write(ctl, &st, sizeof st) != sizeof st)
        _exit(1);
    size_t hb = H_SIZE * sizeof *hist;
    for (size_t off = 0; off < hb;) {
        ssize_t w = write(ctl, (char *)hist + off, hb - off);
        if (w <= 0)
            _exit(1);
        off += (size_t)w;
    }
    close(ctl);
    if (opt.done_file && !stop_flag) {
        /* keep the connections until told: the server's teardown work must
         * not land in the measured window */
        uint64_t until = now_ns() + 120000000000ull;
        while (!stop_flag && now_ns() < until)
            usleep(20000);
    }
    _exit(0);
}

static int read_full(int fd, void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t r = read(fd, (char *)buf + off, len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        off += (size_t)r;
    }
    return 0;
}

static pid_t *kids;
static int nkids;

static void forward_signal(int sig)
{
    for (int i = 0; i < nkids; i++)
        kill(kids[i], sig);
}

static uint64_t percentile(const uint64_t *h, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)(total - 1)) + 1, seen = 0;
    for (unsigned i = 0; i < H_SIZE; i++) {
        seen += h[i];
        if (seen >= want)
            return h_value(i);
    }
    return h_value(H_SIZE - 1);
}

static int run_sub(void)
{
    long hard = raise_nofile();
    long per = opt.per_proc > 0 ? opt.per_proc : hard - 64;
    if (per > hard - 64)
        per = hard - 64;
    if (check_kernel(opt.conns, 0) > 0)
        fprintf(stderr, "loadgen: some kernel settings fall short (loadgen check %ld)\n",
                opt.conns);
    nkids = (int)((opt.conns + per - 1) / per);
    kids = calloc((size_t)nkids, sizeof *kids);
    int *ctl = calloc((size_t)nkids, sizeof *ctl);
    uint64_t t0 = now_ns();
    for (int i = 0; i < nkids; i++) {
        long first = opt.conns * i / nkids, last = opt.conns * (i + 1) / nkids;
        int pfd[2];
        if (pipe(pfd) != 0) {
            perror("pipe");
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            for (int j = 0; j < i; j++)
                close(ctl[j]);
            sub_child(first, last - first, pfd[1]);
        }
        close(pfd[1]);
        kids[i] = pid;
        ctl[i] = pfd[0];
    }
    signal(SIGTERM, forward_signal);
    signal(SIGINT, forward_signal);
    signal(SIGUSR1, forward_signal);
    for (int i = 0; i < nkids; i++) {
        char r;
        if (read_full(ctl[i], &r, 1) != 0) {
            fprintf(stderr, "loadgen: subscriber process %d died\n", i);
            forward_signal(SIGTERM);
            return 1;
        }
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    if (opt.ready_file) {
        FILE *f = fopen(opt.ready_file, "w");
        if (f) {
            fprintf(f, "%.3f\n", connect_s);
            fclose(f);
        }
    }
    stats_t tot = {0};
    uint64_t *h = calloc(H_SIZE, sizeof *h), *hk = calloc(H_SIZE, sizeof *hk);
    for (int i = 0; i < nkids; i++) {
        stats_t s;
        if (read_full(ctl[i], &s, sizeof s) != 0 || read_full(ctl[i], hk, H_SIZE * sizeof *hk)) {
            fprintf(stderr, "loadgen: subscriber process %d died\n", i);
            return 1;
        }
        for (unsigned b = 0; b < H_SIZE; b++)
            h[b] += hk[b];
        tot.conns += s.conns;
        tot.connected += s.connected;
        tot.failed += s.failed;
        tot.dropped += s.dropped;
        tot.msgs += s.msgs;
        tot.bytes += s.bytes;
        tot.lost += s.lost;
        tot.extra += s.extra;
        tot.untimed += s.untimed;
        if (s.first_send_ns && (!tot.first_send_ns || s.first_send_ns < tot.first_send_ns))
            tot.first_send_ns = s.first_send_ns;
        if (s.last_recv_ns > tot.last_recv_ns)
            tot.last_recv_ns = s.last_recv_ns;
        if (s.max_us > tot.max_us)
            tot.max_us = s.max_us;
    }
    double span = tot.msgs ? (double)(tot.last_recv_ns - tot.first_send_ns) / 1e9 : 0;
    FILE *out = opt.json ? fopen(opt.json, "w") : stdout;
    if (out == NULL) {
        perror(opt.json);
        return 1;
    }
    fprintf(out,
            "{\"conns\": %" PRIu64 ", \"connected\": %" PRIu64 ", \"failed\": %" PRIu64
            ", \"dropped\": %" PRIu64 ", \"procs\": %d, \"connect_s\": %.3f"
            ", \"msgs\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"expected\": %" PRId64
            ", \"lost\": %" PRId64 ", \"extra\": %" PRIu64 ", \"untimed\": %" PRIu64
            ", \"span_s\": %.6f, \"msgs_per_s\": %.1f"
            ", \"p50_us\": %" PRIu64 ", \"p99_us\": %" PRIu64 ", \"p999_us\": %" PRIu64
            ", \"max_us\": %" PRIu64 "}\n",
            tot.conns, tot.connected, tot.failed, tot.dropped, nkids, connect_s, tot.msgs,
            tot.bytes, opt.expect >= 0 ? (int64_t)(opt.expect * opt.conns) : (int64_t)-1,
            opt.expect >= 0 ? (int64_t)tot.lost : (int64_t)-1, tot.extra, tot.untimed, span,
            span > 0 ? (double)tot.msgs / span : 0.0, percentile(h, tot.msgs, 0.50),
            percentile(h, tot.msgs, 0.99), percentile(h, tot.msgs, 0.999), tot.max_us);
    if (out != stdout)
        fclose(out);
    if (opt.done_file) {
        FILE *f = fopen(opt.done_file, "w");
        if (f)
            fclose(f);
    }
    for (int i = 0; i < nkids; i++)
        waitpid(kids[i], NULL, 0);
    return tot.failed > 0 || tot.lost > 0 ? 3 : 0;
}

/* ---- closed-loop HTTP POST publisher (nchan, Herald's POST /publish) ---- */

static int pub_connect(void)
{
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port_lo)};
    inet_pton(AF_INET, opt.host, &dst.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0) {
        perror("loadgen pub: connect");
        exit(1);
    }
    return fd;
}

/* Reads one response; returns its status or -1. */
static int pub_response(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char *e;
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = 0;
        if ((e = strstr(buf, "\r\n\r\n")) != NULL)
            break;
        if (len >= cap - 1)
            return -1;
    }
    int code = 0;
    sscanf(buf, "HTTP/1.%*d %d", &code);
    size_t body = 0;
    for (char *q = buf; q < e; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    char *cl = strstr(buf, "content-length:");
    if (cl && cl < e)
        body = (size_t)strtoul(cl + 15, NULL, 10);
    size_t have = len - (size_t)(e + 4 - buf);
    while (have < body) {
        ssize_t r = read(fd, buf, body - have < cap ? body - have : cap);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return code;
}

static int run_pub(void)
{
    int np = opt.pub_conns < 1 ? 1 : opt.pub_conns;
    for (int k = 0; k < np; k++) {
        if (fork() != 0)
            continue;
        long first = opt.count * k / np, last = opt.count * (k + 1) / np;
        int fd = pub_connect();
        size_t hcap = (size_t)opt.size + 512;
        size_t hdrcap = 1024 + (opt.auth ? strlen(opt.auth) : 0);
        char *req = malloc(hcap + hdrcap), resp[65536];
        char path[512], *hbody = malloc(hcap);
        char *payload = malloc((size_t)opt.size + 32);
        long errors = 0;
        uint64_t start = now_ns();
        for (long i = first; i < last; i++) {
            if (opt.rate > 0) {
                uint64_t at = start + (uint64_t)((double)(i - first) * 1e9 * np / opt.rate);
                struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            }
            path_for(path, sizeof path, i % opt.channels);
            int pl = snprintf(payload, 32, "%" PRIu64 " ", now_ns());
            if (pl < opt.size) {
                memset(payload + pl, 'x', (size_t)(opt.size - pl));
                pl = (int)opt.size;
            }
            const char *body = payload;
            int bl = pl;
            if (opt.body_herald) {
                /* the payload is digits, a space and 'x': a JSON string as it is */
                char chan[256];
                fmt_index(chan, sizeof chan, opt.channel, i % opt.channels);
                bl = snprintf(hbody, hcap, "{\"channel\":\"%s\",\"data\":\"%.*s\"%s%s%s}", chan, pl,
                              payload, opt.transport ? ",\"transport\":\"" : "",
                              opt.transport ? opt.transport : "", opt.transport ? "\"" : "");
                body = hbody;
            }
            int hl = snprintf(req, hdrcap,
                              "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n%s%s%s"
                              "Content-Length: %d\r\n\r\n",
                              path, opt.host, opt.body_herald ? "application/json" : "text/plain",
                              opt.auth ? "Authorization: Bearer " : "", opt.auth ? opt.auth : "",
                              opt.auth ? "\r\n" : "", bl);
            memcpy(req + hl, body, (size_t)bl);
            size_t tot = (size_t)hl + (size_t)bl;
            for (size_t off = 0; off < tot;) {
                ssize_t w = write(fd, req + off, tot - off);
                if (w <= 0) {
                    perror("loadgen pub: write");
                    _exit(1);
                }
                off += (size_t)w;
            }
            int code = pub_response(fd, resp, sizeof resp);
            if (code < 200 || code >= 300) {
                if (errors++ < 3)
                    fprintf(stderr, "loadgen pub: status %d\n", code);
                if (code < 0) {
                    close(fd);
                    fd = pub_connect();
                }
            }
        }
        double s = (double)(now_ns() - start) / 1e9;
        fprintf(stderr, "loadgen pub: %ld messages in %.3f s, %ld errors\n", last - first, s,
                errors);
        _exit(errors ? 1 : 0);
    }
    int rc = 0, status;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "check")) {
        long n = argc > 2 ? atol(argv[2]) : 100000;
        opt.src_lo = 2;
        opt.src_hi = 41;
        return check_kernel(n, 1) ? 1 : 0;
    }
    parse_args(argc, argv);
    if (!strcmp(argv[1], "sub"))
        return run_sub();
    if (!strcmp(argv[1], "pub"))
        return run_pub();
    usage();
}
