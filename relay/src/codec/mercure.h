/* SPDX-License-Identifier: MIT
 * mercure.h: the Mercure front's pure parts. What a topic, an id and a type
 * may be; the encoding of a topic as a Herald channel name; the metadata
 * blob an update carries through the relay and Redis (its id, whether it
 * is private, its topics); the "mercure" claims of a JWT (codec/jwt.h
 * verifies the token itself) and whether a list of selectors grants a
 * topic (codec/uri_template.h matches them). Pure. */
#ifndef HR_MERCURE_H
#define HR_MERCURE_H

#include "base/common.h"
#include "codec/channel_name.h"

#include <jansson.h>

#define HR_MERCURE_TOPIC_MAX     2048 /* bytes of a topic or a selector */
#define HR_MERCURE_TOPICS_MAX    32   /* topics of one update */
#define HR_MERCURE_ID_MAX        256  /* bytes of an update's id */
#define HR_MERCURE_SELECTORS_MAX 100  /* selectors of one subscription */
#define HR_MERCURE_CLAIMS_MAX    1000 /* entries of mercure.publish, and of mercure.subscribe */
/* The channel every Mercure update is also published to: template and "*"
 * subscribers listen there ('#': no client can subscribe to it directly). */
#define HR_MERCURE_FIREHOSE "#mercure"

/* 1 if s[0..len) is valid UTF-8 without control characters (U+0000 to
 * U+001F, U+007F to U+009F): what every string of an update may hold. The
 * empty string passes (lengths are each field's own rule). */
int hr_mercure_string_valid(const char *s, size_t len);

/* An update's id: 1 to HR_MERCURE_ID_MAX bytes, the string rule, not
 * starting with '#' (the relay's) and not "earliest" (a Last-Event-ID
 * that means all history). */
int hr_mercure_id_valid(const char *s, size_t len);

/* An update's type (the SSE event name): the string rule and not
 * "mercure"; empty means none. */
int hr_mercure_type_valid(const char *s, size_t len);

/* A topic: 1 to HR_MERCURE_TOPIC_MAX bytes, the string rule, not "*". */
int hr_mercure_topic_valid(const char *s, size_t len);

/* The channel of topic[0..len): bytes of [A-Za-z0-9_.:@/,;-] kept, every
 * other byte (including '=' and every byte >= 0x80) written "=XX" (two
 * uppercase hex digits). If that is longer than HR_CHANNEL_MAX bytes (or
 * empty: not a topic), the channel is "=S" and the 64 lowercase hex digits
 * of the topic's SHA-256 instead. Injective, as "=S" never comes out of the
 * escaping ('S' is no hex digit), and always a valid channel name. Writes
 * the NUL-terminated name to out and returns its length. */
size_t hr_mercure_channel(const char *topic, size_t len, char out[HR_CHANNEL_MAX + 1]);

/* An update's metadata, slices into someone else's buffer. Encoded as
 *   [flags u8: bit 0 private, others 0][id length u16 BE][id]
 *   [ntopics u8][ntopics x (length u16 BE, bytes)]. */
typedef struct hr_mercure_meta {
    hr_slice_t id;
    int priv;
    size_t ntopics;
    hr_slice_t topics[HR_MERCURE_TOPICS_MAX];
} hr_mercure_meta_t;

/* Bytes of m's encoding (m valid: limits above). */
size_t hr_mercure_meta_len(const hr_mercure_meta_t *m);

/* Write m's encoding to out (hr_mercure_meta_len bytes). */
void hr_mercure_meta_encode(uint8_t *out, const hr_mercure_meta_t *m);

/* Parse b[0..len) strictly: exact length, flags, a valid id, 1 to
 * HR_MERCURE_TOPICS_MAX valid topics. 0 with *m slicing b, or -1. */
int hr_mercure_meta_parse(const uint8_t *b, size_t len, hr_mercure_meta_t *m);

/* A JWT's "mercure" claims: one allocation, released with free(). */
typedef struct hr_mercure_claims {
    int has_publish, has_subscribe; /* the claim was there (possibly empty) */
    size_t npublish, nsubscribe;
    const hr_slice_t *publish, *subscribe; /* selectors */
    hr_slice_t entries[];                  /* both lists; the bytes follow the array */
} hr_mercure_claims_t;

/* Read payload's "mercure" object: "publish" and "subscribe", each an array
 * of at most HR_MERCURE_CLAIMS_MAX strings of at most HR_MERCURE_TOPIC_MAX
 * bytes that pass the string rule. A missing (or null) "mercure" or list
 * grants nothing (has_* 0); other members ("payload") are ignored. Returns
 * HR_JWT_OK and *out, or HR_JWT_CLAIMS (a wrong type, too many, an invalid
 * string) and *out NULL. */
int hr_mercure_claims(json_t *payload, hr_mercure_claims_t **out);

/* 1 if one of sel[0..n) ("*", the topic, or a URI template matching it)
 * grants topic[0..len). Parses templates on each call. */
int hr_mercure_selectors_grant(const hr_slice_t *sel, size_t n, const char *topic, size_t len);

#endif
