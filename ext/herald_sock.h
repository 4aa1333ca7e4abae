/* SPDX-License-Identifier: MIT
 * herald_sock.h: the extension's one connection to the relay's ingest
 * socket (Contract 1). It is opened lazily by the first publish, kept across
 * requests for the life of the process (of the thread under ZTS), and never
 * blocks a call past its deadline. herald.c calls php_herald_send() once per
 * publish; herald.c's module hooks call php_herald_conn_init/close. */
#ifndef HERALD_SOCK_H
#define HERALD_SOCK_H

#include "php.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Big enough for any ack reply; a reply that does not fit is a protocol
 * error and closes the connection. */
#define PHP_HERALD_RBUF 4096

typedef struct php_herald_conn {
	int fd;                        /* -1 while not connected */
	char *path;                    /* malloc'd: the path fd is connected to */
	unsigned fork_gen;             /* php_herald_fork_gen when fd was opened */
	uint64_t last_ack;             /* last request id sent on this process */
	size_t rlen;                   /* bytes of unread replies in rbuf */
	char rbuf[PHP_HERALD_RBUF];
} php_herald_conn;

/* Incremented in the child after fork(): a connection inherited from the
 * parent is never written to by both processes. */
extern volatile unsigned php_herald_fork_gen;

/* Monotonic clock in ns (CLOCK_MONOTONIC): ts of frames, and deadlines. */
uint64_t php_herald_now_ns(void);

void php_herald_conn_init(php_herald_conn *c);

/* Close the connection if it is open. Safe to call at any time, twice too.
 * Uses close(), never shutdown(), so a parent's copy stays usable. */
void php_herald_conn_close(php_herald_conn *c);

/* The next request id for an acknowledged publish (never 0). */
uint64_t php_herald_next_ack(php_herald_conn *c);

/* Send one frame, iov[0..iovcnt), to the relay at path, connecting first if
 * needed (and sending a hello frame first on a new connection). A broken
 * connection is replaced once and the whole frame sent again. When ack is
 * non-zero, then wait for the relay's ack with that request id.
 * Everything, connect and ack included, ends by deadline_ns.
 * Returns true on success. On failure it has recorded the reason with
 * php_herald_fail() (it raises no warning itself) and returns false; the connection is closed whenever a partial
 * frame may be on it, so the next call starts clean. iovcnt is at most 3. */
bool php_herald_send(php_herald_conn *c, const char *path, const struct iovec *iov, int iovcnt,
	uint64_t ack, uint64_t deadline_ns, zend_long timeout_ms);

/* A description for phpinfo(): "connected to PATH" or "not connected". */
const char *php_herald_conn_state(const php_herald_conn *c);

#endif /* HERALD_SOCK_H */
