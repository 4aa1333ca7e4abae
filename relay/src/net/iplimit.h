/* SPDX-License-Identifier: MIT
 * iplimit.h: client connections per address (max_connections_per_ip), so
 * one host cannot take the whole connection table. A table of address ->
 * open connections; an address leaves it with its last connection, so
 * memory follows the addresses connected now, not every one ever seen. */
#ifndef HR_IPLIMIT_H
#define HR_IPLIMIT_H

#include "base/hash.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hr_iplimit {
    pthread_mutex_t lock; /* the loops of one relay share one (workers) */
    hr_htab_t tab;
} hr_iplimit_t;

void hr_iplimit_init(hr_iplimit_t *t);

/* Count one more connection from addr (4 or 16 bytes). 0, or -1 when the
 * address already has max connections (not counted). */
int hr_iplimit_acquire(hr_iplimit_t *t, const uint8_t *addr, size_t len, long max);

/* Undo one hr_iplimit_acquire. */
void hr_iplimit_release(hr_iplimit_t *t, const uint8_t *addr, size_t len);

/* Free the table (every connection has released by then). */
void hr_iplimit_free(hr_iplimit_t *t);

#endif
