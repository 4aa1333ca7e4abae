/* SPDX-License-Identifier: MIT
 * iplimit.c: the per-address connection counts (iplimit.h). Chained hash
 * on the raw address bytes, doubled when it fills; entries are freed at
 * zero, so memory follows the number of distinct addresses connected now,
 * not every address ever seen. IPv4-mapped IPv6 addresses count as IPv4. */
#include "net/iplimit.h"
#include "app/config.h"
#include "base/log.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    uint32_t count;
    uint8_t len;
    uint8_t addr[16];
} entry_t;

static entry_t **buckets;
static size_t nbuckets, nentries;

static uint32_t hash(const uint8_t *a, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= a[i];
        h *= 16777619u;
    }
    return h;
}

static entry_t **find(const uint8_t *a, size_t len)
{
    entry_t **pp = &buckets[hash(a, len) & (nbuckets - 1)];
    while (*pp && ((*pp)->len != len || memcmp((*pp)->addr, a, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

static void grow(void)
{
    size_t n = nbuckets ? nbuckets * 2 : 1024;
    entry_t **nb = hr_xcalloc(n, sizeof *nb);
    for (size_t i = 0; i < nbuckets; i++) {
        entry_t *e = buckets[i];
        while (e) {
            entry_t *next = e->next;
            size_t b = hash(e->addr, e->len) & (n - 1);
            e->next = nb[b];
            nb[b] = e;
            e = next;
        }
    }
    free(buckets);
    buckets = nb;
    nbuckets = n;
}

/* The peer address as 4 or 16 bytes; 0 if it cannot be read. */
static size_t peer_addr(hr_conn_t *c, uint8_t out[16])
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        return 4;
    }
    if (ss.ss_family == AF_INET6) {
        const uint8_t *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            return 4;
        }
        memcpy(out, a, 16);
        return 16;
    }
    return 0;
}

int hr_iplimit_acquire(hr_conn_t *c)
{
    if (hr_cfg.max_connections_per_ip <= 0 || c->ip_counted)
        return 0;
    size_t len = peer_addr(c, c->ip);
    if (len == 0)
        return 0;
    c->ip_len = (uint8_t)len;
    if (nentries >= nbuckets)
        grow();
    entry_t **pp = find(c->ip, len);
    if (*pp == NULL) {
        entry_t *e = hr_xcalloc(1, sizeof *e);
        e->len = (uint8_t)len;
        memcpy(e->addr, c->ip, len);
        *pp = e;
        nentries++;
    }
    if ((*pp)->count >= (uint64_t)hr_cfg.max_connections_per_ip)
        return -1;
    (*pp)->count++;
    c->ip_counted = 1;
    return 0;
}

void hr_iplimit_release(hr_conn_t *c)
{
    if (!c->ip_counted)
        return;
    c->ip_counted = 0;
    entry_t **pp = find(c->ip, c->ip_len);
    entry_t *e = *pp;
    if (e == NULL)
        return;
    if (--e->count == 0) {
        *pp = e->next;
        free(e);
        nentries--;
    }
}

size_t hr_iplimit_size(void)
{
    return nentries;
}

void hr_iplimit_free(void)
{
    for (size_t i = 0; i < nbuckets; i++) {
        entry_t *e = buckets[i];
        while (e) {
            entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(buckets);
    buckets = NULL;
    nbuckets = nentries = 0;
}
