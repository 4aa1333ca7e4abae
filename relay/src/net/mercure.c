/* SPDX-License-Identifier: MIT
 * mercure.c: the Mercure front's settings, keys, JWTs, update channels and
 * id index (mercure.h). */
#include "net/mercure.h"
#include "base/log.h"
#include "core/broker.h"
#include "net/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

hr_mercure_cfg_t hr_mercure_cfg;

/* The keys, made once the settings are read (check). */
static hr_jwt_key_t *pub_key, *sub_key;

static int make_key(const char *role, const char *alg, const char *key, hr_jwt_key_t **out,
                    char *err, size_t errlen)
{
    char why[200];
    if (hr_jwt_key_new(alg, key, strlen(key), out, why, sizeof why) != 0) {
        snprintf(err, errlen, "mercure %s key: %s", role, why);
        return -1;
    }
    return 0;
}

static int check(char *err, size_t errlen)
{
    hr_mercure_cfg_t *m = &hr_mercure_cfg;
    if (hr_auth_read_secret("mercure_jwt_key_file", m->jwt_key_file, &m->jwt_key, err, errlen) !=
            0 ||
        hr_auth_read_secret("mercure_publisher_jwt_key_file", m->pub_key_file, &m->pub_key, err,
                            errlen) != 0 ||
        hr_auth_read_secret("mercure_subscriber_jwt_key_file", m->sub_key_file, &m->sub_key, err,
                            errlen) != 0)
        return -1;
    const char *pk = m->pub_key[0] ? m->pub_key : m->jwt_key;
    const char *sk = m->sub_key[0] ? m->sub_key : m->jwt_key;
    const char *pa = m->pub_alg[0] ? m->pub_alg : m->jwt_alg;
    const char *sa = m->sub_alg[0] ? m->sub_alg : m->jwt_alg;
    hr_mercure_keys_free();
    if (pk[0] == '\0') {
        if (sk[0] != '\0') {
            snprintf(err, errlen,
                     "a mercure subscriber key without a publisher key: set mercure_jwt_key or "
                     "mercure_publisher_jwt_key to turn the Mercure front on");
            return -1;
        }
        return 0;
    }
    if (make_key("publisher", pa, pk, &pub_key, err, errlen) != 0)
        return -1;
    if (sk[0] != '\0' && make_key("subscriber", sa, sk, &sub_key, err, errlen) != 0) {
        hr_mercure_keys_free();
        return -1;
    }
    return 0;
}

#define C(field) (&hr_mercure_cfg.field)
static const hr_opt_t opts[] = {
    {"mercure_jwt_key", HR_OPT_STR, C(jwt_key), 0, 0, "",
     "Mercure front: the JWT key of publishers and subscribers (HS256 secret, or with RS256 a "
     "PEM public key: use the _file form) (off)"},
    {"mercure_jwt_key_file", HR_OPT_STR, C(jwt_key_file), 0, 0, "",
     "file holding mercure_jwt_key (wins over it)"},
    {"mercure_jwt_alg", HR_OPT_STR, C(jwt_alg), 0, 0, "HS256",
     "algorithm of mercure_jwt_key: HS256 or RS256 (HS256)"},
    {"mercure_publisher_jwt_key", HR_OPT_STR, C(pub_key), 0, 0, "",
     "the publishers' JWT key, if not mercure_jwt_key"},
    {"mercure_publisher_jwt_key_file", HR_OPT_STR, C(pub_key_file), 0, 0, "",
     "file holding mercure_publisher_jwt_key"},
    {"mercure_publisher_jwt_alg", HR_OPT_STR, C(pub_alg), 0, 0, "",
     "algorithm of the publishers' key (mercure_jwt_alg)"},
    {"mercure_subscriber_jwt_key", HR_OPT_STR, C(sub_key), 0, 0, "",
     "the subscribers' JWT key, if not mercure_jwt_key"},
    {"mercure_subscriber_jwt_key_file", HR_OPT_STR, C(sub_key_file), 0, 0, "",
     "file holding mercure_subscriber_jwt_key"},
    {"mercure_subscriber_jwt_alg", HR_OPT_STR, C(sub_alg), 0, 0, "",
     "algorithm of the subscribers' key (mercure_jwt_alg)"},
    {"mercure_anonymous", HR_OPT_LONG, C(anonymous), 0, 1, "1",
     "1: subscribers without a JWT receive public updates; 0: they are refused (1)"},
    {"mercure_cors_origins", HR_OPT_STR, C(cors_origins), 0, 0, "",
     "origins allowed to use the Mercure front from a page (and to publish with the cookie), "
     "comma-separated, * for any (none)"},
    {"mercure_cookie_name", HR_OPT_STR, C(cookie_name), 0, 0, "mercureAuthorization",
     "cookie holding a Mercure JWT (mercureAuthorization)"},
    {"mercure_heartbeat", HR_OPT_LONG, C(heartbeat), 0, 3600, "40",
     "s of silence after which a Mercure subscriber gets a comment; 0: none (40)"},
    {"mercure_max_body_bytes", HR_OPT_LONG, C(max_body_bytes), 1024, 64L << 20, "1048576",
     "largest Mercure publish body, bytes (1048576)"},
    {"mercure_ids", HR_OPT_LONG, C(ids), 16, 10000000, "10000",
     "Mercure update ids remembered for Last-Event-ID (10000)"},
};
#undef C

const hr_opt_group_t hr_mercure_options = {opts, HR_ARRAY_SIZE(opts), check};

int hr_mercure_enabled(void)
{
    return pub_key != NULL;
}

void hr_mercure_keys_free(void)
{
    hr_jwt_key_free(pub_key);
    hr_jwt_key_free(sub_key);
    pub_key = sub_key = NULL;
}

/* The value of cookie name in a Cookie header, or len 0. */
static hr_slice_t cookie_value(hr_slice_t h, const char *name)
{
    size_t nl = strlen(name);
    const char *p = h.p, *end = h.p + h.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ';'))
            p++;
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *e = semi ? semi : end;
        if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=')
            return (hr_slice_t){p + nl + 1, (size_t)(e - p - nl - 1)};
        p = e;
    }
    return (hr_slice_t){NULL, 0};
}

hr_slice_t hr_mercure_request_jwt(const hr_http_request_t *req, int *from_cookie)
{
    if (from_cookie)
        *from_cookie = 0;
    const hr_http_header_t *a = hr_http_header_find(req, "Authorization");
    if (a && a->value.len > 7 && strncasecmp(a->value.p, "Bearer ", 7) == 0)
        return (hr_slice_t){a->value.p + 7, a->value.len - 7};
    for (size_t i = 0; i < req->num_headers; i++) {
        const hr_http_header_t *h = &req->headers[i];
        if (h->name.len != 6 || strncasecmp(h->name.p, "Cookie", 6) != 0)
            continue;
        hr_slice_t v = cookie_value(h->value, hr_mercure_cfg.cookie_name);
        if (v.len) {
            if (from_cookie)
                *from_cookie = 1;
            return v;
        }
    }
    return (hr_slice_t){NULL, 0};
}

int hr_mercure_verify(hr_slice_t jwt, int publish, hr_mercure_claims_t **claims)
{
    *claims = NULL;
    const hr_jwt_key_t *k = publish || sub_key == NULL ? pub_key : sub_key;
    if (k == NULL)
        return HR_JWT_MISSING;
    json_t *payload = NULL;
    int st =
        hr_jwt_verify(jwt.p, jwt.len, k, (int64_t)time(NULL), hr_auth_cfg.token_skew, &payload);
    if (st != HR_JWT_OK)
        return st;
    st = hr_mercure_claims(payload, claims);
    json_decref(payload);
    return st;
}

size_t hr_mercure_channels(const hr_mercure_meta_t *m, hr_mercure_names_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < m->ntopics; i++) {
        size_t len = hr_mercure_channel(m->topics[i].p, m->topics[i].len, out->buf[i]);
        out->channels[n++] = (hr_slice_t){out->buf[i], len};
    }
    out->channels[n++] = (hr_slice_t){HR_MERCURE_FIREHOSE, sizeof HR_MERCURE_FIREHOSE - 1};
    return n;
}

/* ---- the id index ---- */

typedef struct ientry {
    hr_hnode_t node; /* by Mercure id */
    uint64_t seq;
    uint8_t idlen, used;
    char id[HR_ID_MAX];
    size_t mlen;
    char mid[HR_MERCURE_ID_MAX];
} ientry_t;

struct hr_mercure_index {
    hr_loop_t *loop;
    hr_htab_t tab;
    ientry_t *ring; /* oldest replaced first */
    size_t cap, next, newest;
    int any;
    hr_sub_t *subs; /* the firehose, held subscribed */
};

static int ientry_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const ientry_t *e = hr_container_of(n, ientry_t, node);
    return e->mlen == len && memcmp(e->mid, key, len) == 0;
}

static void on_update(void *ud, hr_event_t *ev)
{
    hr_mercure_index_t *x = ud;
    hr_mercure_meta_t m;
    if (hr_mercure_meta_parse((const uint8_t *)ev->mercure.p, ev->mercure.len, &m) != 0)
        return;
    uint64_t h = hr_hash(m.id.p, m.id.len);
    hr_hnode_t *n = hr_htab_find(&x->tab, h, m.id.p, m.id.len, ientry_eq);
    ientry_t *e;
    if (n != NULL) {
        /* A catch-up delivers an update again, or a publisher reused an id:
         * the later position wins. */
        e = hr_container_of(n, ientry_t, node);
    } else {
        e = &x->ring[x->next];
        if (e->used)
            hr_htab_del(&x->tab, &e->node);
        e->used = 1;
        e->mlen = m.id.len;
        memcpy(e->mid, m.id.p, m.id.len);
        hr_htab_add(&x->tab, &e->node, h);
        x->next = (x->next + 1) % x->cap;
    }
    e->seq = ev->seq;
    e->idlen = ev->idlen;
    memcpy(e->id, ev->id, ev->idlen);
    x->newest = (size_t)(e - x->ring);
    x->any = 1;
}

hr_mercure_index_t *hr_mercure_index_new(hr_loop_t *L)
{
    hr_mercure_index_t *x = hr_xcalloc(1, sizeof *x);
    x->loop = L;
    x->cap = (size_t)hr_mercure_cfg.ids;
    x->ring = hr_xcalloc(x->cap, sizeof *x->ring);
    hr_htab_init(&x->tab, 1024);
    L->on_mercure = on_update;
    L->on_mercure_ud = x;
    /* Held with no target accepted: never delivered to, but the channel is
     * in use, so a Redis broker subscribes to it. */
    hr_chan_subscribe(&L->chans, HR_MERCURE_FIREHOSE, sizeof HR_MERCURE_FIREHOSE - 1, x, 0,
                      &x->subs);
    return x;
}

void hr_mercure_index_free(hr_mercure_index_t *x)
{
    if (x == NULL)
        return;
    hr_chan_unsubscribe_all(&x->loop->chans, &x->subs);
    x->loop->on_mercure = NULL;
    hr_htab_free(&x->tab);
    free(x->ring);
    free(x);
}

size_t hr_mercure_index_find(const hr_mercure_index_t *x, hr_slice_t mid, char out[HR_ID_MAX])
{
    hr_hnode_t *n = hr_htab_find(&x->tab, hr_hash(mid.p, mid.len), mid.p, mid.len, ientry_eq);
    if (n != NULL) {
        const ientry_t *e = hr_container_of(n, ientry_t, node);
        memcpy(out, e->id, e->idlen);
        return e->idlen;
    }
    /* Not seen since the relay started: history restored from a clean
     * stop (state_file) still holds it, newest first. */
    const hr_chan_t *ch =
        hr_chan_find(&x->loop->chans, HR_MERCURE_FIREHOSE, sizeof HR_MERCURE_FIREHOSE - 1);
    for (uint32_t k = ch ? ch->hist.count : 0; k-- > 0;) {
        const hr_event_t *ev = ch->hist.ring[(ch->hist.head + k) % ch->hist.cap];
        hr_mercure_meta_t m;
        if (hr_mercure_meta_parse((const uint8_t *)ev->mercure.p, ev->mercure.len, &m) == 0 &&
            m.id.len == mid.len && memcmp(m.id.p, mid.p, mid.len) == 0) {
            memcpy(out, ev->id, ev->idlen);
            return ev->idlen;
        }
    }
    return 0;
}

hr_slice_t hr_mercure_index_at(const hr_mercure_index_t *x, uint64_t seq)
{
    const ientry_t *e = &x->ring[x->newest];
    if (x->any && e->seq == seq)
        return (hr_slice_t){e->mid, e->mlen};
    return (hr_slice_t){NULL, 0};
}
