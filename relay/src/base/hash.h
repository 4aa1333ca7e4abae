/* SPDX-License-Identifier: MIT
 * hash.h: the relay's one hash function and one hash table. Keys come from
 * clients and publishers (channel names, addresses), so the function is
 * SipHash-1-3 with a per-process random key: nobody can precompute names
 * that all land in one bucket. The table is intrusive and chained (the
 * entry embeds an hr_hnode_t), doubles at load factor 1, and leaves
 * allocation of entries to its user. Not thread-safe: one table per owner. */
#ifndef HR_HASH_H
#define HR_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Draw the process's hash key (getrandom). Call once at start, before any
 * table is used and before any worker thread starts (the key is then only
 * read, by every thread); without it the key is all zeroes (unit tests). */
void hr_hash_seed(void);

/* SipHash-1-3 of p[0..len) under the process key. */
uint64_t hr_hash(const void *p, size_t len);

/* The same under a key of the caller's: for a value that must stay the same
 * in another process (core/chan.c's freed-channel slots, kept across a clean
 * restart by the state file). */
uint64_t hr_hash_keyed(const uint64_t key[2], const void *p, size_t len);

/* A fresh random key (getrandom, or the clock and pid without entropy). */
void hr_hash_random_key(uint64_t key[2]);

typedef struct hr_hnode {
    struct hr_hnode *next;
    uint64_t hash;
} hr_hnode_t;

typedef struct hr_htab {
    hr_hnode_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
} hr_htab_t;

/* 1 when node n has this key. */
typedef int (*hr_heq_fn)(const hr_hnode_t *n, const void *key, size_t len);

void hr_htab_init(hr_htab_t *t, size_t nbuckets);

/* Free the bucket array (entries are the caller's). */
void hr_htab_free(hr_htab_t *t);

/* Free every entry too, when each is one malloc'd block holding its node
 * at offset (offsetof(type, node)), then the bucket array. */
void hr_htab_free_entries(hr_htab_t *t, size_t offset);

hr_hnode_t *hr_htab_find(const hr_htab_t *t, uint64_t h, const void *key, size_t len, hr_heq_fn eq);

/* Link n under hash h (the caller checked it is not there). */
void hr_htab_add(hr_htab_t *t, hr_hnode_t *n, uint64_t h);

/* Unlink n (it must be in the table). */
void hr_htab_del(hr_htab_t *t, hr_hnode_t *n);

/* Iteration: with *b = 0 and n = NULL, the first node; then the node after
 * n; NULL at the end. To delete while iterating, take the next node before
 * deleting the current one. No insertion while iterating (it may grow). */
hr_hnode_t *hr_htab_next(const hr_htab_t *t, size_t *b, hr_hnode_t *n);

#endif
