/* SPDX-License-Identifier: MIT
 * fuzz_mercure.c: libFuzzer harness for relay/src/codec/mercure.c. Each
 * input is used four ways:
 *  1. as a metadata blob: whatever parses encodes back to the same bytes,
 *     and every field of it passes its own rule;
 *  2. as a topic: its channel is a valid channel name, the same each time,
 *     and (unless hashed) decodes back to the topic, which proves the
 *     encoding injective; the hashed form appears exactly when the escaped
 *     form would be empty or longer than HR_CHANNEL_MAX;
 *  3. against the string rule, with a decoder written here as the oracle;
 *  4. as JSON: claims read from it hold only valid entries, and each (of
 *     the first few) exact publish entry that is a topic grants itself.
 * Any mismatch aborts. */
#include "codec/channel_name.h"
#include "codec/jwt.h"
#include "codec/mercure.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_mercure: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void meta(const uint8_t *d, size_t n)
{
    hr_mercure_meta_t m;
    if (hr_mercure_meta_parse(d, n, &m) != 0)
        return;
    CHECK(hr_mercure_id_valid(m.id.p, m.id.len));
    CHECK(m.ntopics >= 1 && m.ntopics <= HR_MERCURE_TOPICS_MAX);
    for (size_t i = 0; i < m.ntopics; i++)
        CHECK(hr_mercure_topic_valid(m.topics[i].p, m.topics[i].len));
    size_t len = hr_mercure_meta_len(&m);
    CHECK(len == n);
    uint8_t *out = malloc(len);
    hr_mercure_meta_encode(out, &m);
    CHECK(memcmp(out, d, n) == 0);
    free(out);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void channel(const uint8_t *d, size_t n)
{
    char a[HR_CHANNEL_MAX + 1], b[HR_CHANNEL_MAX + 1];
    size_t la = hr_mercure_channel((const char *)d, n, a);
    size_t lb = hr_mercure_channel((const char *)d, n, b);
    CHECK(la == lb && strcmp(a, b) == 0 && strlen(a) == la);
    CHECK(hr_chan_name_valid(a, la));
    size_t esc = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = d[i];
        int kept = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   strchr("_.:@/,;-", c) != NULL;
        esc += kept && c != 0 ? 1 : 3;
    }
    int hashed = la == 66 && a[0] == '=' && a[1] == 'S';
    CHECK(hashed == (esc == 0 || esc > HR_CHANNEL_MAX));
    if (hashed) {
        for (size_t i = 2; i < 66; i++)
            CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
        return;
    }
    /* Decode: '=' and two uppercase hex digits is a byte; the rest is itself. */
    uint8_t dec[HR_CHANNEL_MAX];
    size_t o = 0;
    for (size_t i = 0; i < la;) {
        if (a[i] == '=') {
            CHECK(i + 3 <= la);
            int h = hexval(a[i + 1]), l = hexval(a[i + 2]);
            CHECK(h >= 0 && l >= 0);
            dec[o++] = (uint8_t)(h << 4 | l);
            i += 3;
        } else {
            dec[o++] = (uint8_t)a[i++];
        }
    }
    CHECK(o == n && memcmp(dec, d, n) == 0);
}

/* The string rule, by code points. */
static int oracle_string_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t k;
        uint32_t min;
        if (c < 0x80) {
            k = 0;
            min = 0;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1;
            c &= 0x1f;
            min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2;
            c &= 0x0f;
            min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
            return 0;
        i += k + 1;
    }
    return 1;
}

static void strings(const uint8_t *d, size_t n)
{
    const char *s = (const char *)d;
    int v = hr_mercure_string_valid(s, n);
    CHECK(v == oracle_string_valid(d, n));
    CHECK(hr_mercure_topic_valid(s, n) ==
          (v && n >= 1 && n <= HR_MERCURE_TOPIC_MAX && !(n == 1 && s[0] == '*')));
    CHECK(hr_mercure_id_valid(s, n) == (v && n >= 1 && n <= HR_MERCURE_ID_MAX && s[0] != '#' &&
                                        !(n == 8 && memcmp(s, "earliest", 8) == 0)));
    CHECK(hr_mercure_type_valid(s, n) == (v && !(n == 7 && memcmp(s, "mercure", 7) == 0)));
}

static void claims(const uint8_t *d, size_t n)
{
    json_t *j = json_loadb((const char *)d, n, JSON_DECODE_ANY, NULL);
    if (j == NULL)
        return;
    hr_mercure_claims_t *c = NULL;
    int st = hr_mercure_claims(j, &c);
    CHECK(st == HR_JWT_OK || st == HR_JWT_CLAIMS);
    CHECK((st == HR_JWT_OK) == (c != NULL));
    if (!json_is_object(j))
        CHECK(st == HR_JWT_CLAIMS);
    if (c) {
        CHECK(c->npublish <= HR_MERCURE_CLAIMS_MAX && c->nsubscribe <= HR_MERCURE_CLAIMS_MAX);
        CHECK(c->has_publish || c->npublish == 0);
        CHECK(c->has_subscribe || c->nsubscribe == 0);
        for (size_t i = 0; i < c->npublish + c->nsubscribe; i++) {
            hr_slice_t e = c->entries[i];
            CHECK(e.len <= HR_MERCURE_TOPIC_MAX && hr_mercure_string_valid(e.p, e.len));
        }
        for (size_t i = 0; i < c->npublish && i < 8; i++) {
            hr_slice_t e = c->publish[i];
            if (hr_mercure_topic_valid(e.p, e.len))
                CHECK(hr_mercure_selectors_grant(c->publish, c->npublish, e.p, e.len));
        }
        if (c->npublish > 0 && c->npublish <= 8)
            (void)hr_mercure_selectors_grant(c->publish, c->npublish, "https://example.com/a", 21);
        free(c);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    meta(data, size);
    channel(data, size);
    strings(data, size);
    claims(data, size);
    return 0;
}
