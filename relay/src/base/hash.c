/* SPDX-License-Identifier: MIT
 * hash.c: SipHash-1-3 (Aumasson and Bernstein; the variant Rust and Python
 * use for their tables) and the chained table of hash.h. */
#include "base/hash.h"
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Written once by hr_hash_seed() at start, before any worker thread is
 * created (pthread_create orders it before the threads' reads), and only
 * read after: plain variables, no atomics needed. */
static uint64_t key0, key1;

void hr_hash_random_key(uint64_t k[2])
{
    if (getrandom(k, 2 * sizeof *k, 0) != (ssize_t)(2 * sizeof *k)) {
        /* No entropy yet (early boot): the clock and pid still keep the key
         * unknown to a remote client. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
        k[1] = (uint64_t)getpid() * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)ts.tv_nsec;
    }
}

void hr_hash_seed(void)
{
    uint64_t k[2];
    hr_hash_random_key(k);
    key0 = k[0];
    key1 = k[1];
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t hr_hash(const void *data, size_t len)
{
    const uint64_t k[2] = {key0, key1};
    return hr_hash_keyed(k, data, len);
}

uint64_t hr_hash_keyed(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = load_le64(p + i);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[full + i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void hr_htab_init(hr_htab_t *t, size_t nbuckets)
{
    size_t n = 16;
    while (n < nbuckets)
        n *= 2;
    t->buckets = hr_xcalloc(n, sizeof *t->buckets);
    t->nbuckets = n;
    t->count = 0;
}

void hr_htab_free(hr_htab_t *t)
{
    free(t->buckets);
    memset(t, 0, sizeof *t);
}

void hr_htab_free_entries(hr_htab_t *t, size_t offset)
{
    size_t b = 0;
    hr_hnode_t *n = hr_htab_next(t, &b, NULL);
    while (n) {
        hr_hnode_t *next = hr_htab_next(t, &b, n);
        free((char *)n - offset);
        n = next;
    }
    hr_htab_free(t);
}

hr_hnode_t *hr_htab_find(const hr_htab_t *t, uint64_t h, const void *key, size_t len, hr_heq_fn eq)
{
    for (hr_hnode_t *n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && eq(n, key, len))
            return n;
    return NULL;
}

static void grow(hr_htab_t *t)
{
    size_t n = t->nbuckets * 2;
    hr_hnode_t **b = hr_xcalloc(n, sizeof *b);
    for (size_t i = 0; i < t->nbuckets; i++) {
        hr_hnode_t *e = t->buckets[i];
        while (e) {
            hr_hnode_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

void hr_htab_add(hr_htab_t *t, hr_hnode_t *n, uint64_t h)
{
    if (t->count >= t->nbuckets)
        grow(t);
    n->hash = h;
    size_t b = h & (t->nbuckets - 1);
    n->next = t->buckets[b];
    t->buckets[b] = n;
    t->count++;
}

void hr_htab_del(hr_htab_t *t, hr_hnode_t *n)
{
    hr_hnode_t **pp = &t->buckets[n->hash & (t->nbuckets - 1)];
    while (*pp != n)
        pp = &(*pp)->next;
    *pp = n->next;
    n->next = NULL;
    t->count--;
}

hr_hnode_t *hr_htab_next(const hr_htab_t *t, size_t *b, hr_hnode_t *n)
{
    if (n && n->next)
        return n->next;
    if (n)
        (*b)++;
    for (; *b < t->nbuckets; (*b)++)
        if (t->buckets[*b])
            return t->buckets[*b];
    return NULL;
}
