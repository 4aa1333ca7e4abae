/* SPDX-License-Identifier: MIT
 * herald_sock.h: the extension's one connection to the relay's ingest
 * socket (Contract 1). It is opened lazily by the first publish, kept across
 * requests for the life of the process (of the thread under ZTS), and never
 * blocks a call past its deadline. herald.c calls php_herald_send() once per
 * publish; herald.c's module hooks call php_herald_conn_init/close. */
#ifndef HERALD_SOCK_H
#define HERALD_SOCK_H

#include "php.h"

#include "herald_error.h"
#include "herald_ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The reply buffer starts at PHP_HERALD_RBUF bytes, enough for any ack,
 * and grows (doubling) for a larger reply, a presence answer with many
 * members, up to PHP_HERALD_RBUF_MAX; a reply that does not fit that is a
 * protocol error and closes the connection. A buffer grown past
 * PHP_HERALD_RBUF_KEEP is given back once it is empty. */
#define PHP_HERALD_RBUF      4096
#define PHP_HERALD_RBUF_MAX  (16 * 1024 * 1024 + 4096)
#define PHP_HERALD_RBUF_KEEP (64 * 1024)

/* The shared-memory ring of a connection (herald_ring.h), step by step:
 * NONE before a connection; PENDING once its hello asked for one and the
 * answer has not been read; ON while mapped; OFF when the relay said no, did
 * not answer in time, or the ring could not be used: the socket carries
 * everything on this connection, and the next connection asks again. */
#define PHP_HERALD_RING_NONE    0
#define PHP_HERALD_RING_PENDING 1
#define PHP_HERALD_RING_ON      2
#define PHP_HERALD_RING_OFF     3

typedef struct php_herald_conn {
	const char *client;            /* the hello's "client" (a literal, set at init) */
	int fd;                        /* -1 while not connected */
	char *path;                    /* malloc'd: the path fd is connected to */
	unsigned fork_gen;             /* php_herald_fork_gen when fd was opened */
	uint64_t last_ack;             /* last request id sent on this process */
	int ring_state;                /* PHP_HERALD_RING_* */
	const char *ring_off;          /* why it is OFF (a literal) */
	uint32_t ring_polls;           /* sends while PENDING */
	uint32_t sends;                /* sends on this connection (young ones look for a refusal) */
	uint64_t ring_asked;           /* bytes the hello asked for */
	uint64_t opened_ns;            /* when fd was connected */
	php_herald_ring ring;          /* mapped while ring_state is ON */
	bool hello_due;                /* connected, the hello not written yet */
	/* A call timed out because the relay did not read: later calls fail
	 * at once until it reads again (herald_sock.c, "Stalls"). */
	int stall;                     /* STALL_* in herald_sock.c; 0: none */
	uint64_t stall_tail;           /* the ring's tail when it stalled */
	int stall_fd;                  /* the socket to watch (fd, or one kept after a cut frame); -1 */
	int stall_unread;              /* bytes of ours the relay had not read then; -1: unknown */
	zend_long stall_ms;            /* the timeout of the call that stalled */
	uint64_t stalls;               /* calls that timed out on a relay not reading */
	uint64_t failed_fast;          /* calls that failed at once meanwhile */
	int rfds[2];                   /* descriptors received, not yet claimed */
	int nrfds;
	size_t rlen;                   /* bytes of unread replies in rbuf */
	size_t rcap;                   /* bytes rbuf holds (0: none yet) */
	char *rbuf;                    /* malloc'd: replies survive requests */
} php_herald_conn;

/* Incremented in the child after fork(): a connection inherited from the
 * parent is never written to by both processes. */
extern volatile unsigned php_herald_fork_gen;

/* Monotonic clock in ns (CLOCK_MONOTONIC): ts of frames, and deadlines. */
uint64_t php_herald_now_ns(void);

/* Set up a connection that is not open. client names the extension in the
 * hello frame of each new connection ("herald-php/<version>"); it must
 * outlive c. */
void php_herald_conn_init(php_herald_conn *c, const char *client);

/* Close the connection if it is open, and unmap its ring. Safe to call at
 * any time, twice too. Uses close(), never shutdown(), so a parent's copy
 * stays usable (and munmap() in a child of fork() drops only the child's
 * mapping). */
void php_herald_conn_close(php_herald_conn *c);

/* The next request id for an acknowledged publish (never 0). */
uint64_t php_herald_next_ack(php_herald_conn *c);

/* Send one frame, iov[0..iovcnt), to the relay at path, connecting first if
 * needed (and sending a hello frame first on a new connection, which asks
 * for a shared ring of ring_bytes when that is not 0). Without ack, the frame
 * goes into the connection's ring when it has one, else to the socket. A
 * broken connection is replaced once and the whole frame sent again. When
 * ack is non-zero, the frame goes to the socket, and then the call waits for
 * the relay's ack with that request id.
 * Everything, connect and ack included, ends by deadline_ns.
 * Returns true on success. On failure it has recorded the reason in error
 * (it raises no warning itself) and returns false; the connection is closed
 * whenever a partial frame may be on it, so the next call starts clean.
 * After a call that timed out because the relay did not read, later calls
 * fail at once (false, with a reason that says so) until the relay reads
 * again: a hung relay costs a request one timeout, not one per call.
 * timeout_ms only goes into those reasons. iovcnt is at most 3.
 * members: NULL, or where the ack's "members" (a presence answer: JSON
 * text) goes, as a request-memory string the caller releases; left NULL
 * when the ack had none. */
bool php_herald_send(php_herald_conn *c, const char *path, const struct iovec *iov, int iovcnt,
	uint64_t ack, uint64_t deadline_ns, zend_long timeout_ms, uint64_t ring_bytes, php_herald_error *error,
	zend_string **members);

/* A description for phpinfo(): "connected to PATH" or "not connected". */
/* What is wrong with a herald.socket that cannot be a Unix socket path
 * (empty, or longer than sun_path holds); msg is the buffer it may use. */
const char *php_herald_socket_path_error(const char *path, char *msg, size_t size);

const char *php_herald_conn_state(const php_herald_conn *c);

/* A description of the connection's ring for phpinfo(), in buf. */
const char *php_herald_conn_ring_state(const php_herald_conn *c, char *buf, size_t len);

/* For phpinfo(): whether calls fail fast now (a relay that stopped reading),
 * and the counts of timeouts and fast failures, in buf. */
const char *php_herald_conn_stall_state(const php_herald_conn *c, char *buf, size_t len);

#endif /* HERALD_SOCK_H */
