/* SPDX-License-Identifier: MIT
 * iplimit.c: the per-address connection counts (iplimit.h), in the seeded
 * table of base/hash.h keyed by the raw address bytes. */
#include "net/iplimit.h"
#include "base/common.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    hr_hnode_t node;
    uint32_t count;
    uint8_t len;
    uint8_t addr[16];
} entry_t;

static int entry_eq(const hr_hnode_t *n, const void *key, size_t len)
{
    const entry_t *e = hr_container_of(n, entry_t, node);
    return e->len == len && memcmp(e->addr, key, len) == 0;
}

void hr_iplimit_init(hr_iplimit_t *t)
{
    pthread_mutex_init(&t->lock, NULL);
    hr_htab_init(&t->tab, 1024);
}

static int acquire(hr_iplimit_t *t, const uint8_t *addr, size_t len, long max)
{
    uint64_t h = hr_hash(addr, len);
    hr_hnode_t *n = hr_htab_find(&t->tab, h, addr, len, entry_eq);
    entry_t *e = n ? hr_container_of(n, entry_t, node) : NULL;
    if (e == NULL) {
        e = hr_xcalloc(1, sizeof *e);
        e->len = (uint8_t)len;
        memcpy(e->addr, addr, len);
        hr_htab_add(&t->tab, &e->node, h);
    }
    if (e->count >= (uint64_t)max) {
        if (e->count == 0) {
            hr_htab_del(&t->tab, &e->node);
            free(e);
        }
        return -1;
    }
    e->count++;
    return 0;
}

int hr_iplimit_acquire(hr_iplimit_t *t, const uint8_t *addr, size_t len, long max)
{
    pthread_mutex_lock(&t->lock);
    int r = acquire(t, addr, len, max);
    pthread_mutex_unlock(&t->lock);
    return r;
}

static void release(hr_iplimit_t *t, const uint8_t *addr, size_t len)
{
    hr_hnode_t *n = hr_htab_find(&t->tab, hr_hash(addr, len), addr, len, entry_eq);
    if (n == NULL)
        return;
    entry_t *e = hr_container_of(n, entry_t, node);
    if (--e->count == 0) {
        hr_htab_del(&t->tab, &e->node);
        free(e);
    }
}

void hr_iplimit_release(hr_iplimit_t *t, const uint8_t *addr, size_t len)
{
    pthread_mutex_lock(&t->lock);
    release(t, addr, len);
    pthread_mutex_unlock(&t->lock);
}

void hr_iplimit_free(hr_iplimit_t *t)
{
    hr_htab_free_entries(&t->tab, offsetof(entry_t, node));
    pthread_mutex_destroy(&t->lock);
}
