/* SPDX-License-Identifier: MIT
 * mercure.c: Mercure topics, ids and types, the topic-to-channel encoding,
 * the update metadata blob and the JWT's "mercure" claims (mercure.h). */
#include "codec/mercure.h"
#include "codec/jwt.h"
#include "codec/uri_template.h"
#include "base/utf8.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int hr_mercure_string_valid(const char *s, size_t len)
{
    const uint8_t *b = (const uint8_t *)s;
    if (!hr_utf8_valid(b, len))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (b[i] < 0x20 || b[i] == 0x7f)
            return 0;
        /* U+0080..U+009F are C2 80..C2 9F; in valid UTF-8 a C2 byte is
         * always a lead byte, so the next one exists. */
        if (b[i] == 0xc2 && b[i + 1] <= 0x9f)
            return 0;
    }
    return 1;
}

int hr_mercure_id_valid(const char *s, size_t len)
{
    return len >= 1 && len <= HR_MERCURE_ID_MAX && s[0] != '#' &&
           !(len == 8 && memcmp(s, "earliest", 8) == 0) && hr_mercure_string_valid(s, len);
}

int hr_mercure_type_valid(const char *s, size_t len)
{
    return !(len == 7 && memcmp(s, "mercure", 7) == 0) && hr_mercure_string_valid(s, len);
}

int hr_mercure_topic_valid(const char *s, size_t len)
{
    return len >= 1 && len <= HR_MERCURE_TOPIC_MAX && !(len == 1 && s[0] == '*') &&
           hr_mercure_string_valid(s, len);
}

/* The bytes a channel name keeps as they are: its alphabet less '=', the
 * escape character. */
static int kept(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '@' || c == '/' || c == ',' || c == ';' || c == '-';
}

size_t hr_mercure_channel(const char *topic, size_t len, char out[HR_CHANNEL_MAX + 1])
{
    const uint8_t *t = (const uint8_t *)topic;
    size_t n = 0;
    for (size_t i = 0; i < len && n <= HR_CHANNEL_MAX; i++)
        n += kept(t[i]) ? 1 : 3;
    if (n >= 1 && n <= HR_CHANNEL_MAX) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
            if (kept(t[i])) {
                out[o++] = (char)t[i];
            } else {
                out[o++] = '=';
                out[o++] = hex[t[i] >> 4];
                out[o++] = hex[t[i] & 15];
            }
        }
        out[o] = '\0';
        return o;
    }
    static const char lhex[] = "0123456789abcdef";
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(t, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        abort(); /* SHA-256 is always there: OpenSSL is broken */
    out[0] = '=';
    out[1] = 'S';
    for (size_t i = 0; i < 32; i++) {
        out[2 + 2 * i] = lhex[md[i] >> 4];
        out[3 + 2 * i] = lhex[md[i] & 15];
    }
    out[66] = '\0';
    return 66;
}

size_t hr_mercure_meta_len(const hr_mercure_meta_t *m)
{
    size_t n = 1 + 2 + m->id.len + 1;
    for (size_t i = 0; i < m->ntopics; i++)
        n += 2 + m->topics[i].len;
    return n;
}

static uint8_t *put16(uint8_t *o, size_t v)
{
    o[0] = (uint8_t)(v >> 8);
    o[1] = (uint8_t)v;
    return o + 2;
}

void hr_mercure_meta_encode(uint8_t *out, const hr_mercure_meta_t *m)
{
    uint8_t *o = out;
    *o++ = m->priv ? 1 : 0;
    o = put16(o, m->id.len);
    if (m->id.len)
        memcpy(o, m->id.p, m->id.len);
    o += m->id.len;
    *o++ = (uint8_t)m->ntopics;
    for (size_t i = 0; i < m->ntopics; i++) {
        o = put16(o, m->topics[i].len);
        if (m->topics[i].len)
            memcpy(o, m->topics[i].p, m->topics[i].len);
        o += m->topics[i].len;
    }
}

/* A u16-length-prefixed string at b[*at..len), into *s. */
static int get16(const uint8_t *b, size_t len, size_t *at, hr_slice_t *s)
{
    if (len - *at < 2)
        return -1;
    size_t n = (size_t)b[*at] << 8 | b[*at + 1];
    *at += 2;
    if (len - *at < n)
        return -1;
    *s = (hr_slice_t){(const char *)b + *at, n};
    *at += n;
    return 0;
}

int hr_mercure_meta_parse(const uint8_t *b, size_t len, hr_mercure_meta_t *m)
{
    memset(m, 0, sizeof *m);
    size_t at = 0;
    if (len < 1 || (b[0] & ~1u) != 0)
        return -1;
    m->priv = b[0] & 1;
    at = 1;
    if (get16(b, len, &at, &m->id) != 0 || !hr_mercure_id_valid(m->id.p, m->id.len))
        return -1;
    if (at >= len)
        return -1;
    size_t nt = b[at++];
    if (nt < 1 || nt > HR_MERCURE_TOPICS_MAX)
        return -1;
    for (size_t i = 0; i < nt; i++) {
        if (get16(b, len, &at, &m->topics[i]) != 0 ||
            !hr_mercure_topic_valid(m->topics[i].p, m->topics[i].len))
            return -1;
    }
    m->ntopics = nt;
    return at == len ? 0 : -1;
}

/* One list claim: absent or null (0, *has 0), or an array of at most
 * HR_MERCURE_CLAIMS_MAX valid strings (0, *has 1, *n and *bytes); else -1. */
static int list_claim(json_t *v, int *has, size_t *n, size_t *bytes)
{
    *has = 0;
    *n = 0;
    /* Go's encoding/json (the hub's) reads null as an absent list. */
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v) || json_array_size(v) > HR_MERCURE_CLAIMS_MAX)
        return -1;
    size_t k = json_array_size(v);
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) > HR_MERCURE_TOPIC_MAX ||
            !hr_mercure_string_valid(json_string_value(e), json_string_length(e)))
            return -1;
        *bytes += json_string_length(e);
    }
    *has = 1;
    *n = k;
    return 0;
}

static void copy_list(json_t *v, size_t n, hr_slice_t *out, char **dst)
{
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        size_t l = json_string_length(e);
        if (l)
            memcpy(*dst, json_string_value(e), l);
        out[i] = (hr_slice_t){*dst, l};
        *dst += l;
    }
}

int hr_mercure_claims(json_t *payload, hr_mercure_claims_t **out)
{
    *out = NULL;
    if (!json_is_object(payload))
        return HR_JWT_CLAIMS;
    json_t *mc = json_object_get(payload, "mercure");
    json_t *pub = NULL, *sub = NULL;
    if (mc != NULL && !json_is_null(mc)) {
        if (!json_is_object(mc))
            return HR_JWT_CLAIMS;
        pub = json_object_get(mc, "publish");
        sub = json_object_get(mc, "subscribe");
    }
    int hp, hs;
    size_t np, ns, bytes = 0;
    if (list_claim(pub, &hp, &np, &bytes) != 0 || list_claim(sub, &hs, &ns, &bytes) != 0)
        return HR_JWT_CLAIMS;
    hr_mercure_claims_t *c = hr_xmalloc(sizeof *c + (np + ns) * sizeof c->entries[0] + bytes);
    char *dst = (char *)&c->entries[np + ns];
    c->has_publish = hp;
    c->has_subscribe = hs;
    c->npublish = np;
    c->nsubscribe = ns;
    c->publish = c->entries;
    c->subscribe = c->entries + np;
    copy_list(pub, np, c->entries, &dst);
    copy_list(sub, ns, c->entries + np, &dst);
    *out = c;
    return HR_JWT_OK;
}

int hr_mercure_selectors_grant(const hr_slice_t *sel, size_t n, const char *topic, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (hr_topic_selector_match(sel[i].p, sel[i].len, topic, len))
            return 1;
    return 0;
}
