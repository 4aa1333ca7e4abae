/* SPDX-License-Identifier: MIT
 * iplimit.h: client connections per address (max_connections_per_ip), so
 * one host cannot take the whole connection table. A small hash table of
 * address -> open connections; an address leaves it with its last one. */
#ifndef HR_IPLIMIT_H
#define HR_IPLIMIT_H

#include "net/conn.h"

/* Count c against its peer address. Returns 0 (counted, or no limit is
 * configured, or the address is unknown) or -1 when the address already
 * has max_connections_per_ip connections (c is not counted). */
int hr_iplimit_acquire(hr_conn_t *c);

/* Undo hr_iplimit_acquire (safe to call on any connection, once or more). */
void hr_iplimit_release(hr_conn_t *c);

/* Addresses currently in the table (tests, metrics). */
size_t hr_iplimit_size(void);

/* Free the table (shutdown; every connection has released by then). */
void hr_iplimit_free(void);

#endif
