/* SPDX-License-Identifier: MIT
 * auth.c: subscription tokens and private channels (auth.h). */
#include "net/auth.h"
#include "base/log.h"
#include "net/app.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

hr_auth_cfg_t hr_auth_cfg;

/* A secret from a file, which wins over the value: a file keeps a key out of
 * the process list and the config file; one trailing newline is not part
 * of it. */
int hr_auth_read_secret(const char *name, const char *file, char **value, char *err, size_t errlen)
{
    if (file[0] == '\0')
        return 0;
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s %s: %s", name, file, strerror(errno));
        return -1;
    }
    char buf[1025];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == sizeof buf) {
        snprintf(err, errlen, "%s %s: longer than 1024 bytes", name, file);
        return -1;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    free(*value);
    *value = hr_xstrndup(buf, n);
    return 0;
}

/* The token key: secret_file wins over secret, and HERALD_SECRET is read
 * only when neither is set. The hand-off secret likewise. */
static int load_secrets(char *err, size_t errlen)
{
    hr_auth_cfg_t *cfg = &hr_auth_cfg;
    if (hr_auth_read_secret("secret_file", cfg->secret_file, &cfg->secret, err, errlen) != 0 ||
        hr_auth_read_secret("handoff_secret_file", cfg->handoff_secret_file, &cfg->handoff_secret,
                            err, errlen) != 0)
        return -1;
    if (cfg->secret[0] == '\0' && getenv("HERALD_SECRET")) {
        free(cfg->secret);
        cfg->secret = hr_xstrndup(getenv("HERALD_SECRET"), strlen(getenv("HERALD_SECRET")));
    }
    if (strlen(cfg->secret) != 0 && strlen(cfg->secret) < 16) {
        snprintf(err, errlen, "the token secret must be at least 16 bytes");
        return -1;
    }
    if (strlen(cfg->handoff_secret) != 0 && strlen(cfg->handoff_secret) < 16) {
        snprintf(err, errlen, "the hand-off secret must be at least 16 bytes");
        return -1;
    }
    return 0;
}

#define C(field) (&hr_auth_cfg.field)
static const hr_opt_t opts[] = {
    {"private_prefixes", HR_OPT_STR, C(private_prefixes), 0, 0, "private-",
     "channel prefixes that need a token, comma-separated (private-)"},
    {"secret", HR_OPT_STR, C(secret), 0, 0, "", "token key shared with PHP (prefer secret_file)"},
    {"secret_file", HR_OPT_STR, C(secret_file), 0, 0, "",
     "file holding the token key ($HERALD_SECRET)"},
    {"token_skew", HR_OPT_LONG, C(token_skew), 0, 3600, "30",
     "seconds of clock skew on tokens (30)"},
    {"handoff_secret", HR_OPT_STR, C(handoff_secret), 0, 0, "",
     "X-Herald-Handoff value that marks nginx's hand-off (prefer handoff_secret_file; off)"},
    {"handoff_secret_file", HR_OPT_STR, C(handoff_secret_file), 0, 0, "",
     "file holding the hand-off secret"},
};
#undef C

const hr_opt_group_t hr_auth_options = {opts, HR_ARRAY_SIZE(opts), load_secrets};

/* A channel the application approves (app_channels, presence channels
 * with hooks on) needs no token: the application decides instead. */
static int is_private(const hr_net_t *net, const char *name, size_t len)
{
    if (net->app && net->app->approves(net->app->ud, name, len))
        return 0;
    return hr_token_is_private(hr_auth_cfg.private_prefixes, name, len);
}

void hr_auth_refused(hr_net_t *net, enum hr_auth_reason reason)
{
    net->auth_refused[reason]++;
}

/* The subscription token, from (first found wins) ?token=, Authorization:
 * Bearer, or the cookie herald_token. A query value is decoded into buf;
 * header values are used as sent. Returns 0 with *tok set (len 0: none),
 * or -1 when a token is present but too long or badly encoded. */
static int find_token(const hr_http_request_t *req, char *buf, size_t cap, hr_slice_t *tok)
{
    size_t pos = 0;
    char key[32];
    int r;
    *tok = (hr_slice_t){NULL, 0};
    while ((r = hr_http_query_next(req->query, &pos, key, sizeof key, buf, cap)) != 0) {
        if (strcmp(key, "token") == 0) {
            if (r < 0)
                return -1;
            *tok = (hr_slice_t){buf, strlen(buf)};
            return 0;
        }
    }
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len == 13 && strncasecmp(h->name.p, "Authorization", 13) == 0 &&
            h->value.len > 7 && strncasecmp(h->value.p, "Bearer ", 7) == 0) {
            hr_slice_t v = {h->value.p + 7, h->value.len - 7};
            while (v.len && v.p[0] == ' ') {
                v.p++;
                v.len--;
            }
            *tok = v;
            return 0;
        }
    }
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len != 6 || strncasecmp(h->name.p, "Cookie", 6) != 0)
            continue;
        /* "a=1; herald_token=xyz; b=2" (RFC 6265 5.4). */
        const char *p = h->value.p, *end = h->value.p + h->value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *semi = memchr(p, ';', (size_t)(end - p));
            const char *stop = semi ? semi : end;
            if ((size_t)(stop - p) > 13 && memcmp(p, "herald_token=", 13) == 0) {
                *tok = (hr_slice_t){p + 13, (size_t)(stop - p - 13)};
                return 0;
            }
            p = stop;
        }
    }
    return 0;
}

/* The hand-off header: 1 when it carries the relay's hand-off secret
 * (compared in constant time), 0 when absent, -1 when present but wrong (or
 * the relay has none): a forgery, or nginx and the relay disagree. */
static int handoff(const hr_http_request_t *req)
{
    const hr_http_header_t *h = hr_http_header_find(req, "X-Herald-Handoff");
    if (h == NULL)
        return 0;
    const char *secret = hr_auth_cfg.handoff_secret;
    size_t n = strlen(secret);
    if (n == 0 || h->value.len != n || CRYPTO_memcmp(h->value.p, secret, n) != 0)
        return -1;
    return 1;
}

static const char *const www_auth =
    "WWW-Authenticate: Bearer realm=\"herald\", error=\"invalid_token\"\r\n"
    "Content-Type: text/plain\r\n";

int hr_auth_request(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                    size_t n, int keep_claims, hr_token_t **claims)
{
    hr_net_t *net = hr_conn_net(c);
    *claims = NULL;
    int h = handoff(req);
    if (h < 0) {
        static const char bad[] = "hand-off not trusted\n";
        net->auth_refused[HR_AUTH_HANDOFF]++;
        hr_log(HR_LOG_WARN, "client %p: X-Herald-Handoff does not match handoff_secret: refused",
               (void *)c);
        hr_conn_reply(c, 403, NULL, bad, sizeof bad - 1);
        return 403;
    }
    if (h > 0)
        return 0; /* the application chose the channels after its own check */
    size_t priv = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (is_private(net, channels[i].p, channels[i].len) && !priv++)
            first = i;
    char *buf = hr_xmalloc(HR_TOKEN_MAX + 1);
    hr_slice_t tok;
    int bad_encoding = find_token(req, buf, HR_TOKEN_MAX + 1, &tok) != 0;
    if (priv == 0 && (!keep_claims || tok.len == 0)) {
        free(buf);
        return 0;
    }
    const char *secret = hr_auth_cfg.secret;
    int st = bad_encoding ? HR_TOKEN_MALFORMED
                          : hr_token_verify(tok.p, tok.len, (const uint8_t *)secret, strlen(secret),
                                            (int64_t)time(NULL), hr_auth_cfg.token_skew, claims);
    free(buf);
    if (priv == 0) {
        /* Only public channels: a valid token is kept for later subscribes;
         * a bad one is reported when it would be used. */
        return 0;
    }
    int status = 0;
    char msg[160];
    if (st == HR_TOKEN_NO_SECRET) {
        net->auth_refused[HR_AUTH_NO_SECRET]++;
        status = 403;
        snprintf(msg, sizeof msg, "%s\n", hr_token_strerror(st));
    } else if (st != HR_TOKEN_OK) {
        net->auth_refused[st == HR_TOKEN_MISSING ? HR_AUTH_NO_TOKEN : HR_AUTH_INVALID]++;
        status = 401;
        snprintf(msg, sizeof msg, "%s\n", hr_token_strerror(st));
    } else {
        for (size_t i = first; i < n; i++) {
            if (is_private(net, channels[i].p, channels[i].len) &&
                !hr_token_allows(*claims, channels[i].p, channels[i].len)) {
                net->auth_refused[HR_AUTH_FORBIDDEN]++;
                status = 403;
                snprintf(msg, sizeof msg, "token does not allow channel %.*s\n",
                         (int)channels[i].len, channels[i].p);
                break;
            }
        }
    }
    if (status == 0)
        return 0;
    free(*claims);
    *claims = NULL;
    hr_log(HR_LOG_DEBUG, "client %p: %.*s refused: %.*s", (void *)c, (int)req->path.len,
           req->path.p, (int)strcspn(msg, "\n"), msg);
    hr_conn_reply(c, status, status == 401 ? www_auth : NULL, msg, strlen(msg));
    return status;
}

const char *hr_auth_channel(hr_net_t *net, const hr_token_t *claims, const char *name, size_t len)
{
    if (!is_private(net, name, len))
        return NULL;
    const char *why = NULL;
    int reason = HR_AUTH_FORBIDDEN;
    if (hr_auth_cfg.secret[0] == '\0') {
        why = hr_token_strerror(HR_TOKEN_NO_SECRET);
        reason = HR_AUTH_NO_SECRET;
    } else if (claims == NULL) {
        why = "token required";
        reason = HR_AUTH_NO_TOKEN;
    } else if (claims->exp < (int64_t)time(NULL) - hr_auth_cfg.token_skew) {
        why = hr_token_strerror(HR_TOKEN_EXPIRED);
        reason = HR_AUTH_INVALID;
    } else if (!hr_token_allows(claims, name, len)) {
        why = "token does not allow this channel";
    }
    if (why)
        net->auth_refused[reason]++;
    return why;
}

const char *hr_auth_channel_token(hr_net_t *net, const char *tok, size_t toklen, const char *name,
                                  size_t len, hr_token_t **claims)
{
    const char *secret = hr_auth_cfg.secret;
    *claims = NULL;
    int st = toklen > HR_TOKEN_MAX
                 ? HR_TOKEN_MALFORMED
                 : hr_token_verify(tok, toklen, (const uint8_t *)secret, strlen(secret),
                                   (int64_t)time(NULL), hr_auth_cfg.token_skew, claims);
    if (st == HR_TOKEN_OK)
        return hr_auth_channel(net, *claims, name, len);
    if (!is_private(net, name, len))
        return NULL; /* a public channel needs none; a bad one is not kept */
    if (st == HR_TOKEN_NO_SECRET) {
        net->auth_refused[HR_AUTH_NO_SECRET]++;
        return hr_token_strerror(st);
    }
    net->auth_refused[HR_AUTH_INVALID]++;
    return st == HR_TOKEN_EXPIRED ? hr_token_strerror(st) : "invalid token";
}
