/* SPDX-License-Identifier: MIT
 * herald_sock.c: the persistent Unix-socket connection to the relay. It is
 * opened by the first publish of a process, reused by every later request of
 * that process (an FPM worker keeps it for life), written with non-blocking
 * sendmsg() and poll() against one deadline per call, replaced once when the
 * relay went away, and never lets SIGPIPE reach PHP. When the relay hands it
 * a shared-memory ring (herald_ring.c), frames without an ack go there
 * instead, and the socket only wakes a sleeping relay. herald.c calls it;
 * the frame bytes come from herald_pack.c, and a failure is recorded in the
 * caller's herald_error.h record. */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "herald_sock.h"
#include "herald_error.h"
#include "herald_pack.h"
#include "abi/herald_ring_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
/* BSDs and macOS lack MSG_NOSIGNAL and set SO_NOSIGPIPE on the socket. */
# define MSG_NOSIGNAL 0
#endif
#ifndef MSG_CMSG_CLOEXEC
# define MSG_CMSG_CLOEXEC 0
#endif
#ifdef __linux__
# include <linux/sockios.h>   /* SIOCOUTQ */
#endif

/* A relay answers the ring request in its next loop turn, but that turn
 * can come after a few hundred sends of a tight loop (the relay's wake-up
 * in a VM takes 0.2-1 ms), or much later when the relay is busy (a
 * broadcast to 100k connections takes a second). So each of the first
 * RING_ANSWER_SENDS sends looks for the answer, then every
 * RING_ANSWER_SENDS-th; a connection RING_ANSWER_NS old looks only every
 * RING_LATE_SENDS-th; one RING_GIVE_UP_NS old looks a last time and stops
 * (an older relay, a test's fake one): a relay that never answers costs no
 * system call after that. A worker lives for thousands of requests: a ring
 * that comes late is still worth taking. */
#define RING_ANSWER_SENDS 64
#define RING_ANSWER_NS 200000000u
#define RING_LATE_SENDS 1024
#define RING_GIVE_UP_NS 10000000000u

volatile unsigned php_herald_fork_gen;

uint64_t php_herald_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* Wait until fd is ready for events, or until deadline; fd < 0 just waits.
 * Returns what poll() returns: > 0 ready, 0 when the wait ended without an
 * event (the caller checks the deadline again), -1 with errno (EINTR too).
 * ppoll() takes the remaining time in ns, so waits end on time; plain poll()
 * counts in ms and is rounded up, so that it never ends early. */
static int wait_until(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { fd, events, 0 };
	uint64_t now = php_herald_now_ns(), left;

	if (now >= deadline) {
		return 0;
	}
	left = deadline - now;
#ifdef HAVE_PPOLL
	struct timespec ts = { (time_t) (left / 1000000000u), (long) (left % 1000000000u) };
	return ppoll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, &ts, NULL);
#else
	uint64_t ms = (left + 999999) / 1000000;
	return poll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, ms > INT_MAX ? INT_MAX : (int) ms);
#endif
}

void php_herald_conn_init(php_herald_conn *c, const char *client)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->stall_fd = -1;
	c->client = client;
}

/* Stalls. A call that timed out because the relay did not read (a full
 * ring, a socket that did not take the frame, no ack, a full accept
 * backlog) leaves the connection stalled: later calls fail at once until
 * the relay reads again, so a hung relay (SIGSTOP, a long GC pause of a
 * debugger) costs a request one timeout, not one per call: 200 publishes to
 * a stopped relay took 13.6 s. Whether it reads again costs a call one load
 * (the ring's tail moved), or one poll() and ioctl() that do not wait (the
 * relay took bytes of ours from the socket: SIOCOUTQ went down), or one
 * connect() that does not wait (the backlog has room). */
#define STALL_NONE    0
#define STALL_RING    1
#define STALL_SOCKET  2
#define STALL_CONNECT 3

static void stall_clear(php_herald_conn *c)
{
	if (c->stall_fd >= 0 && c->stall_fd != c->fd) {
		close(c->stall_fd);   /* a connection kept only to watch it */
	}
	c->stall_fd = -1;
	c->stall = STALL_NONE;
}

/* Bytes written to fd that the relay has not read yet; -1 when the system
 * cannot say (then "writable" stands in for "reading"). */
static int unread_bytes(int fd)
{
#ifdef SIOCOUTQ
	int n;

	if (ioctl(fd, SIOCOUTQ, &n) == 0) {
		return n;
	}
#endif
	return -1;
}

static void stall_ring(php_herald_conn *c, zend_long timeout_ms)
{
	stall_clear(c);
	c->stall = STALL_RING;
	c->stall_tail = php_herald_ring_tail(&c->ring);
	c->stall_ms = timeout_ms;
	c->stalls++;
}

/* fd: the connection's socket, or one that is closed for frames (a frame
 * was cut) and kept only to watch the relay read it. A socket the relay has
 * read empty is no stall: the relay reads, if slowly (a broker's reply). */
static void stall_socket(php_herald_conn *c, int fd, zend_long timeout_ms)
{
	int unread = unread_bytes(fd);

	stall_clear(c);
	if (unread == 0) {
		if (fd != c->fd) {
			close(fd);
		}
		return;
	}
	c->stall = STALL_SOCKET;
	c->stall_fd = fd;
	c->stall_unread = unread;
	c->stall_ms = timeout_ms;
	c->stalls++;
}

static void stall_connect(php_herald_conn *c, zend_long timeout_ms)
{
	stall_clear(c);
	c->stall = STALL_CONNECT;
	c->stall_ms = timeout_ms;
	c->stalls++;
}

/* Whether the relay of a stalled connection reads again (STALL_CONNECT is
 * decided in php_herald_send(), with a connect that does not wait). */
static bool stall_over(php_herald_conn *c)
{
	if (c->stall == STALL_RING) {
		return c->fd < 0 || c->ring_state != PHP_HERALD_RING_ON || !php_herald_ring_alive(&c->ring)
			|| php_herald_ring_tail(&c->ring) != c->stall_tail;
	}
	if (c->stall == STALL_SOCKET) {
		struct pollfd p = { c->stall_fd, POLLOUT, 0 };
		int unread;

		if (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
			return true;   /* the relay closed it, or is gone: the next write says */
		}
		unread = unread_bytes(c->stall_fd);
		return unread >= 0 && c->stall_unread >= 0 ? unread < c->stall_unread : (p.revents & POLLOUT) != 0;
	}
	return true;
}

static void drop_fds(php_herald_conn *c)
{
	for (int i = 0; i < c->nrfds; i++) {
		close(c->rfds[i]);
	}
	c->nrfds = 0;
}

void php_herald_conn_close(php_herald_conn *c)
{
	stall_clear(c);
	c->hello_due = false;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->path) {
		free(c->path);
		c->path = NULL;
	}
	c->rlen = 0;
	free(c->rbuf);
	c->rbuf = NULL;
	c->rcap = 0;
	drop_fds(c);
	php_herald_ring_unmap(&c->ring);
	c->ring_state = PHP_HERALD_RING_NONE;
}

uint64_t php_herald_next_ack(php_herald_conn *c)
{
	if (++c->last_ack == 0) {
		c->last_ack = 1;
	}
	return c->last_ack;
}

const char *php_herald_conn_state(const php_herald_conn *c)
{
	return c->fd >= 0 ? c->path : NULL;
}

const char *php_herald_conn_stall_state(const php_herald_conn *c, char *buf, size_t len)
{
	bool stalled = c->stall != STALL_NONE && c->fork_gen == php_herald_fork_gen;

	snprintf(buf, len, "%s; %" PRIu64 " call%s timed out on a relay not reading, %" PRIu64 " failed fast since",
		stalled ? "yes: calls fail at once until the relay reads again" : "no", c->stalls,
		c->stalls == 1 ? "" : "s", c->failed_fast);
	return buf;
}

const char *php_herald_conn_ring_state(const php_herald_conn *c, char *buf, size_t len)
{
	if (c->fd < 0 || c->fork_gen != php_herald_fork_gen) {
		return "no (not connected)";
	}
	switch (c->ring_state) {
		case PHP_HERALD_RING_ON:
			snprintf(buf, len, "yes, %u bytes", (unsigned) c->ring.size);
			return buf;
		case PHP_HERALD_RING_PENDING:
			return "asked for, no answer yet (the socket carries frames meanwhile)";
		case PHP_HERALD_RING_OFF:
			snprintf(buf, len, "no (%s)", c->ring_off ? c->ring_off : "?");
			return buf;
	}
	return "no";
}

/* Connect to path before deadline. Returns 0 or an errno value (ETIMEDOUT
 * at the deadline). deadline 0: one attempt that does not wait (EAGAIN when
 * the backlog is full).
 *
 * A non-blocking connect() to a Unix socket whose accept backlog is full
 * fails at once with EAGAIN and leaves nothing to poll, so a busy relay is
 * waited for in two phases. First a blocking connect() with SO_SNDTIMEO as
 * its limit: the kernel wakes us the moment the backlog has room. That timer
 * counts in jiffies and may overrun by a few ms, so it is set to end
 * CONNECT_MARGIN_NS early; the rest of the budget is spent on non-blocking
 * attempts 1 ms apart, which end on time. The socket stays non-blocking
 * afterwards, and every read and write passes MSG_DONTWAIT anyway. */
#define CONNECT_MARGIN_NS 10000000u

const char *php_herald_socket_path_error(const char *path, char *msg, size_t size)
{
	size_t len = strlen(path);

	if (len == 0) {
		snprintf(msg, size, "herald.socket is empty: set it to the relay's socket (its --socket)");
		return msg;
	}
	snprintf(msg, size,
		"herald.socket is %zu bytes long, and a Unix socket path holds at most %zu: "
		"give the relay (--socket) and PHP a shorter one", len, sizeof(((struct sockaddr_un *) 0)->sun_path) - 1);
	return msg;
}

static int open_conn(php_herald_conn *c, const char *path, uint64_t deadline)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	bool once = deadline == 0, blocking = !once;
	int fd, err;

	if (len == 0 || len >= sizeof(sa.sun_path)) {
		return ENAMETOOLONG;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);

#ifdef SOCK_CLOEXEC
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
#else
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
#endif
	if (fd < 0) {
		return errno;
	}
#ifdef SO_NOSIGPIPE
	{
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
	}
#endif
	if (once) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	}

	for (;;) {
		uint64_t now = php_herald_now_ns(), left;

		if (!once && now >= deadline) {
			err = ETIMEDOUT;
			goto fail_close;
		}
		left = once ? 0 : deadline - now;
		if (once) {
			/* non-blocking since the socket was made */
		} else if (blocking && left > CONNECT_MARGIN_NS) {
			struct timeval tv;

			left -= CONNECT_MARGIN_NS;
			tv.tv_sec = (time_t) (left / 1000000000u);
			tv.tv_usec = (suseconds_t) ((left % 1000000000u) / 1000);
			if (tv.tv_sec == 0 && tv.tv_usec == 0) {
				tv.tv_usec = 1;   /* a zero timeval would mean "wait for ever" */
			}
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		} else if (blocking) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
			blocking = false;
		}

		if (connect(fd, (struct sockaddr *) &sa, (socklen_t) sizeof(sa)) == 0) {
			break;
		}
		err = errno;
		if (err == EINTR) {
			continue;   /* a signal, max_execution_time's timer say */
		}
		if (err != EAGAIN && err != EINPROGRESS) {
			goto fail_close;
		}
		if (once) {
			err = EAGAIN;
			goto fail_close;
		}
		if (!blocking) {
			/* The backlog is still full: try again in a moment. */
			uint64_t soon = php_herald_now_ns() + 1000000u;
			wait_until(-1, 0, soon < deadline ? soon : deadline);
		}
	}

	c->fd = fd;
	c->path = strdup(path);
	c->fork_gen = php_herald_fork_gen;
	c->rlen = 0;
	c->opened_ns = php_herald_now_ns();
	c->hello_due = true;
	c->sends = 0;
	if (!c->path) {
		php_herald_conn_close(c);
		return ENOMEM;
	}
	return 0;

fail_close:
	close(fd);
	return err;
}

/* Write iov[0..iovcnt) completely before deadline. Returns 0, ETIMEDOUT, or
 * the errno of the failed sendmsg(); *sent (if not NULL) counts the bytes
 * that went out. iov is consumed (modified). */
static int write_all(int fd, struct iovec *iov, int iovcnt, uint64_t deadline, size_t *sent)
{
	struct msghdr msg;
	size_t dummy;

	sent = sent ? sent : &dummy;
	*sent = 0;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = iovcnt;

	for (;;) {
		ssize_t n;

		while (msg.msg_iovlen > 0 && msg.msg_iov->iov_len == 0) {
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen == 0) {
			return 0;
		}

		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			size_t done = (size_t) n;

			*sent += done;

			while (done > 0) {
				if (done >= msg.msg_iov->iov_len) {
					done -= msg.msg_iov->iov_len;
					msg.msg_iov->iov_len = 0;
					msg.msg_iov++;
					msg.msg_iovlen--;
				} else {
					msg.msg_iov->iov_base = (char *) msg.msg_iov->iov_base + done;
					msg.msg_iov->iov_len -= done;
					done = 0;
				}
			}
			continue;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			return errno;
		}

		/* The socket buffer is full: wait for room, but only until the
		 * deadline. POLLERR/POLLHUP wake us too, and sendmsg() then says
		 * what happened. */
		for (;;) {
			int r;

			if (php_herald_now_ns() >= deadline) {
				return ETIMEDOUT;
			}
			r = wait_until(fd, POLLOUT, deadline);
			if (r > 0) {
				break;
			}
			if (r < 0 && errno != EINTR) {
				return errno;
			}
		}
	}
}

static void consume(php_herald_conn *c, size_t n)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
	if (c->rlen == 0 && c->rcap > PHP_HERALD_RBUF_KEEP) {
		/* A large presence answer is through: give its memory back. */
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
}

/* Room for at least one more byte in rbuf: false (errno EMSGSIZE) when it
 * is full at PHP_HERALD_RBUF_MAX, or ENOMEM. */
static bool rbuf_room(php_herald_conn *c)
{
	size_t cap;
	char *b;

	if (c->rlen < c->rcap) {
		return true;
	}
	if (c->rcap >= PHP_HERALD_RBUF_MAX) {
		errno = EMSGSIZE;
		return false;
	}
	cap = c->rcap ? c->rcap * 2 : PHP_HERALD_RBUF;
	cap = cap > PHP_HERALD_RBUF_MAX ? PHP_HERALD_RBUF_MAX : cap;
	b = realloc(c->rbuf, cap);
	if (!b) {
		errno = ENOMEM;
		return false;
	}
	c->rbuf = b;
	c->rcap = cap;
	return true;
}

/* Keep descriptors that came with the relay's bytes until the ring reply
 * they belong to is decoded. Only a pair is expected, and only once: any
 * other count, or a second batch, is closed. */
static void keep_fds(php_herald_conn *c, const int *fds, int n)
{
	if (n == 2 && c->nrfds == 0) {
		c->rfds[0] = fds[0];
		c->rfds[1] = fds[1];
		c->nrfds = 2;
		return;
	}
	for (int i = 0; i < n; i++) {
		close(fds[i]);
	}
	drop_fds(c);
}

/* Read what the relay sent into rbuf, without waiting. recvmsg() with room
 * for descriptors: a plain recv() would make the kernel close the ring's.
 * Returns what recvmsg() returns (-1 with errno, 0 at end of stream); -1
 * with EMSGSIZE when rbuf is full at its largest. */
static ssize_t read_replies(php_herald_conn *c)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct iovec v;
	struct msghdr msg;
	struct cmsghdr *h;
	ssize_t n;

	if (!rbuf_room(c)) {
		return -1;
	}
	v.iov_base = c->rbuf + c->rlen;
	v.iov_len = c->rcap - c->rlen;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &v;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		return n;
	}
	for (h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len >= CMSG_LEN(0)) {
			int fds[8];
			int nf = (int) ((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			nf = nf > 8 ? 8 : nf;
			memcpy(fds, CMSG_DATA(h), (size_t) nf * sizeof(int));
			keep_fds(c, fds, nf);
		}
	}
	c->rlen += (size_t) n;
	return n;
}

/* The answer to the hello's ring request: map the ring, or settle for the
 * socket. Descriptors are claimed (mapped or closed) in every case. */
static void take_ring_reply(php_herald_conn *c, const php_herald_reply *r)
{
	if (c->ring_state == PHP_HERALD_RING_PENDING && r->ok && r->has_size && c->nrfds == 2
		&& r->size <= c->ring_asked) {
		c->nrfds = 0;
		if (php_herald_ring_map(&c->ring, c->rfds[0], c->rfds[1], r->size) == 0) {
			c->ring_state = PHP_HERALD_RING_ON;
		} else {
			c->ring_state = PHP_HERALD_RING_OFF;
			c->ring_off = "the relay's ring could not be mapped";
		}
		return;
	}
	drop_fds(c);
	if (c->ring_state == PHP_HERALD_RING_PENDING) {
		c->ring_state = PHP_HERALD_RING_OFF;
		c->ring_off = r->ok ? "the relay's answer came without a usable ring" : "the relay refused";
	}
}

/* The relay will not keep this connection (too many publishers): it
 * published what this connection sent before it saw it, said why, and
 * closed it. */
static void take_refusal(php_herald_conn *c, const php_herald_reply *r, php_herald_error *error)
{
	php_herald_fail(error, "the relay at %s refused this publisher: %.*s", c->path,
		r->error ? (int) r->error_len : 15, r->error ? r->error : "no reason given");
	php_herald_conn_close(c);
}

/* Read and take what the relay sent, without waiting: the ring's answer,
 * a refusal. Replies other than those are acks that earlier calls stopped
 * waiting for: dropped, as await_ack() would. false when the relay refused
 * this publisher (the connection is closed, the reason recorded). */
static bool take_replies(php_herald_conn *c, php_herald_error *error)
{
	ssize_t n = 1;

	while (c->fd >= 0 && n > 0) {
		n = read_replies(c);
		while (c->rlen > 0) {
			php_herald_reply r;
			ssize_t used = php_herald_unpack_reply(c->rbuf, c->rlen, &r);

			if (used <= 0) {
				break;   /* a part: the rest comes later; garbage: the ack waiter says so */
			}
			if (r.is_refused) {
				take_refusal(c, &r, error);
				return false;
			}
			if (r.is_ring) {
				take_ring_reply(c, &r);
			}
			consume(c, (size_t) used);
		}
	}
	return true;
}

/* Before a send: on a young connection (its first RING_ANSWER_SENDS sends)
 * and while the ring is PENDING (on the sends said above), read what the
 * relay answered (one recvmsg() that does not wait), or stop asking for the
 * ring when the relay had its chance. A young connection without a ring
 * looks too: a relay past max_publishers answers it with a refusal and
 * closes it, and this way no frame goes to a connection already refused.
 * false when it was refused. */
static bool poll_replies(php_herald_conn *c, php_herald_error *error)
{
	uint64_t age = php_herald_now_ns() - c->opened_ns;
	bool late = age >= RING_GIVE_UP_NS;
	bool pending = c->ring_state == PHP_HERALD_RING_PENDING;
	unsigned every = age >= RING_ANSWER_NS ? RING_LATE_SENDS : RING_ANSWER_SENDS;

	/* A connection that got its ring was kept: no refusal can come. */
	bool look = c->sends++ < RING_ANSWER_SENDS && c->ring_state != PHP_HERALD_RING_ON;

	if (pending) {
		c->ring_polls++;
		look = look || c->ring_polls <= RING_ANSWER_SENDS || c->ring_polls % every == 0 || late;
	}
	if (!look) {
		return true;
	}
	if (!take_replies(c, error)) {
		return false;
	}
	if (c->ring_state == PHP_HERALD_RING_PENDING && late) {
		c->ring_state = PHP_HERALD_RING_OFF;
		c->ring_off = "the relay did not answer the request";
		drop_fds(c);
	}
	return true;
}

/* Read replies until the ack for request id arrives or deadline passes.
 * Replies to other ids are dropped: they answer earlier calls that stopped
 * waiting at their own deadline. The ring's answer is taken on the way. */
static bool await_ack(php_herald_conn *c, uint64_t id, uint64_t deadline, zend_long timeout_ms,
	php_herald_error *error, zend_string **members)
{
	for (;;) {
		while (c->rlen > 0) {
			php_herald_reply r;
			ssize_t n = php_herald_unpack_reply(c->rbuf, c->rlen, &r);

			if (n == 0) {
				break;
			}
			if (n < 0) {
				php_herald_fail(error, "malformed reply from the relay at %s", c->path);
				php_herald_conn_close(c);
				return false;
			}
			if (r.is_refused) {
				take_refusal(c, &r, error);
				return false;
			}
			if (r.is_ring) {
				take_ring_reply(c, &r);
			} else if (r.is_ack && r.has_ack && r.ack == id) {
				bool ok = r.ok;

				if (!ok) {
					/* Format before consume(): r.error points into rbuf. */
					php_herald_fail(error, "the relay refused the %s: %.*s", members ? "query" : "message",
						r.error ? (int) r.error_len : 15, r.error ? r.error : "no reason given");
				} else if (members && r.members) {
					*members = zend_string_init(r.members, r.members_len, 0);
				}
				consume(c, (size_t) n);
				return ok;
			}
			consume(c, (size_t) n);
		}
		int r;
		ssize_t n;

		if (php_herald_now_ns() >= deadline) {
			php_herald_fail(error, "no ack from the relay at %s within %ld ms", c->path, (long) timeout_ms);
			stall_socket(c, c->fd, timeout_ms);
			return false;
		}
		r = wait_until(c->fd, POLLIN, deadline);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			continue;
		}
		if (r < 0) {
			php_herald_fail(error, "waiting for the ack from %s failed: %s", c->path, strerror(errno));
			php_herald_conn_close(c);
			return false;
		}
		n = read_replies(c);
		if (n == 0) {
			php_herald_fail(error, "the relay at %s closed the connection before acknowledging", c->path);
			php_herald_conn_close(c);
			return false;
		} else if (n < 0 && errno == EMSGSIZE) {
			php_herald_fail(error, "reply from the relay at %s is larger than %d bytes", c->path,
				PHP_HERALD_RBUF_MAX);
			php_herald_conn_close(c);
			return false;
		} else if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			php_herald_fail(error, "reading the ack from %s failed: %s", c->path, strerror(errno));
			php_herald_conn_close(c);
			return false;
		}
	}
}

/* What ring_send() did. */
#define RING_DONE      0   /* the frame is the relay's */
#define RING_FAILED    1   /* failed, reason recorded */
#define RING_SOCKET    2   /* not sent: send it on the socket of this connection */
#define RING_RECONNECT 3   /* not sent (or lost): the connection is closed, send on a new one */

/* Write the wake frame. If it does not go out, the sleep it was for is
 * forgotten, so that the next put that finds the relay asleep asks again
 * (otherwise that sleep counts as woken and frames wait in the ring). */
static void ring_wake(php_herald_conn *c, uint64_t deadline, int *err)
{
	struct iovec w = { (void *) HR_RING_WAKE_FRAME, HR_RING_WAKE_LEN };

	*err = write_all(c->fd, &w, 1, deadline, NULL);
	if (*err) {
		php_herald_ring_wake_failed(&c->ring);
	}
}

/* Wait for the relay to read from the ring (room for len bytes; len 0: all
 * of it), to close it, or for the deadline: one futex wait that the relay
 * ends (herald_ring.c), never a poll loop. */
static void ring_wait(php_herald_conn *c, size_t len, uint64_t deadline)
{
	uint64_t now = php_herald_now_ns();

	if (now < deadline) {
		php_herald_ring_wait(&c->ring, len, deadline - now);
	}
}

/* After SENT_GONE, or a wake that could not be written: whether the relay
 * read the frame that ends at end. A relay that is stopping may still read
 * it: ask again until the deadline, then count it lost (and so send it
 * again: the only case where a frame may reach the relay twice). */
static int ring_settle(php_herald_conn *c, uint64_t end, uint64_t deadline)
{
	for (;;) {
		int fate = php_herald_ring_fate(&c->ring, end);

		if (fate == PHP_HERALD_RING_READ) {
			return RING_DONE;
		}
		if (fate == PHP_HERALD_RING_LOST || php_herald_now_ns() >= deadline) {
			php_herald_conn_close(c);
			return RING_RECONNECT;
		}
		ring_wait(c, 0, deadline);   /* its last read, or the close, wakes us */
	}
}

/* Put one frame into the connection's ring (ring_state ON, no ack). */
static int ring_send(php_herald_conn *c, const struct iovec *iov, int iovcnt, uint64_t deadline,
	zend_long timeout_ms, php_herald_error *error)
{
	size_t len = 0;

	for (int i = 0; i < iovcnt; i++) {
		len += iov[i].iov_len;
	}
	for (;;) {
		uint64_t end = 0;
		int wake = 0, err = 0;
		int r = php_herald_ring_put(&c->ring, iov, iovcnt, &end, &wake);

		switch (r) {
			case PHP_HERALD_RING_SENT:
				if (wake) {
					ring_wake(c, deadline, &err);
					if (err) {
						return ring_settle(c, end, deadline);
					}
				}
				return RING_DONE;
			case PHP_HERALD_RING_SENT_GONE:
				return ring_settle(c, end, deadline);
			case PHP_HERALD_RING_TOO_BIG:
				return RING_SOCKET;
			case PHP_HERALD_RING_GONE:
				php_herald_conn_close(c);
				return RING_RECONNECT;
			case PHP_HERALD_RING_REFUSED: {
				char why[HR_CTL_REASON_MAX];

				if (php_herald_ring_refusing(&c->ring, why, sizeof(why))) {
					php_herald_fail(error, "relay cannot take messages: %s", why);
					return RING_FAILED;
				}
				continue;   /* it takes them again since the put looked */
			}
		}

		/* FULL: the relay is behind; wake it if it sleeps, then wait for
		 * its next read, until the deadline. */
		if (wake) {
			ring_wake(c, deadline, &err);
			if (err && err != ETIMEDOUT) {
				php_herald_conn_close(c);
				return RING_RECONNECT;
			}
		}
		if (php_herald_now_ns() >= deadline) {
			php_herald_fail(error, "timed out after %ld ms writing to %s (the relay is not reading its shared ring)",
				(long) timeout_ms, c->path);
			stall_ring(c, timeout_ms);
			return RING_FAILED;
		}
		ring_wait(c, len, deadline);
	}
}

/* Before a frame of a ring connection goes to the socket (too big for the
 * ring, or acknowledged): let the relay read what the ring holds first, so
 * that frames keep their order whichever the relay looks at first. The
 * relay drains a ring in microseconds; the wake protocol already woke it if
 * it slept, and one more wake is written only if it still sleeps. */
static int ring_drain(php_herald_conn *c, uint64_t deadline, zend_long timeout_ms, php_herald_error *error)
{
	uint64_t end = c->ring.head;
	bool woke = false;

	for (;;) {
		int err = 0;

		if (php_herald_ring_empty(&c->ring)) {
			return RING_SOCKET;
		}
		if (!php_herald_ring_alive(&c->ring)) {
			/* Gone or stopping: whether it read them decides which
			 * connection the frame goes to (a closed one fails to write). */
			return ring_settle(c, end, deadline) == RING_DONE ? RING_SOCKET : RING_RECONNECT;
		}
		if (php_herald_now_ns() >= deadline) {
			php_herald_fail(error, "timed out after %ld ms writing to %s (the relay is not reading its shared ring)",
				(long) timeout_ms, c->path);
			stall_ring(c, timeout_ms);
			return RING_FAILED;
		}
		if (!woke && php_herald_ring_sleeping(&c->ring)) {
			woke = true;
			ring_wake(c, deadline, &err);
		}
		if (err) {
			return ring_settle(c, end, deadline) == RING_DONE ? RING_SOCKET : RING_RECONNECT;
		}
		ring_wait(c, 0, deadline);
	}
}

/* A call while the connection is stalled and the relay still does not read. */
static bool fail_fast(php_herald_conn *c, const char *path, php_herald_error *error)
{
	c->failed_fast++;
	php_herald_fail(error, "the relay at %s is not reading: a call timed out after %ld ms and it has not "
		"read since (calls fail at once until it does)", path, (long) c->stall_ms);
	return false;
}

bool php_herald_send(php_herald_conn *c, const char *path, const struct iovec *iov, int iovcnt,
	uint64_t ack, uint64_t deadline_ns, zend_long timeout_ms, uint64_t ring_bytes, php_herald_error *error,
	zend_string **members)
{
	int start = 0;

	/* A connection from before fork() belongs to the parent (its ring too:
	 * the child only drops its own mapping), and one to another path is of
	 * no use after ini_set('herald.socket'). */
	if (c->fd >= 0 && (c->fork_gen != php_herald_fork_gen || strcmp(c->path, path) != 0)) {
		php_herald_conn_close(c);
	}

	/* Stalled: fail at once unless the relay reads again (see Stalls). */
	if (c->stall == STALL_CONNECT && c->fd < 0) {
		if (open_conn(c, path, 0) == EAGAIN) {
			return fail_fast(c, path, error);
		}
		stall_clear(c);   /* connected; or another error, which the connect below reports */
	} else if (c->stall != STALL_NONE) {
		if (!stall_over(c)) {
			return fail_fast(c, path, error);
		}
		stall_clear(c);
	}

	if (c->fd >= 0 && !poll_replies(c, error)) {
		return false;
	}
	if (c->fd >= 0 && c->ring_state == PHP_HERALD_RING_ON) {
		int r = ack ? RING_SOCKET : ring_send(c, iov, iovcnt, deadline_ns, timeout_ms, error);

		if (r == RING_SOCKET) {
			r = ring_drain(c, deadline_ns, timeout_ms, error);
		}
		if (r == RING_DONE) {
			return true;
		}
		if (r == RING_FAILED) {
			return false;
		}
		if (r == RING_RECONNECT) {
			start = 1;   /* the one reconnect of this call */
		}
	}

	for (int attempt = start; ; attempt++) {
		struct iovec v[4];
		smart_str hello = {0};
		bool fresh = false;
		size_t sent;
		int n = 0, err;

		if (c->fd < 0) {
			err = open_conn(c, path, deadline_ns);
			if (err == ETIMEDOUT) {
				php_herald_fail(error, "timed out after %ld ms connecting to %s (the relay does not accept)",
					(long) timeout_ms, path);
				stall_connect(c, timeout_ms);
				return false;
			} else if (err == ENAMETOOLONG) {
				char why[160];

				php_herald_fail(error, "%s", php_herald_socket_path_error(path, why, sizeof(why)));
				return false;
			} else if (err) {
				php_herald_fail(error, "%scannot connect to %s: %s",
					attempt ? "lost the connection to the relay and " : "", path, strerror(err));
				return false;
			}
		}
		if (c->hello_due) {
			fresh = true;
			c->ring_asked = ring_bytes;
			c->ring_polls = 0;
			c->ring_state = ring_bytes ? PHP_HERALD_RING_PENDING : PHP_HERALD_RING_OFF;
			c->ring_off = ring_bytes ? NULL : "herald.ring_bytes was 0 at connect";
			php_herald_pack_hello(&hello, c->client, (uint64_t) getpid(), ring_bytes);
			v[n].iov_base = ZSTR_VAL(hello.s);
			v[n].iov_len = ZSTR_LEN(hello.s);
			n++;
		}
		for (int i = 0; i < iovcnt && n < 4; i++) {
			v[n++] = iov[i];
		}

		err = write_all(c->fd, v, n, deadline_ns, &sent);
		smart_str_free(&hello);
		if (err == 0) {
			c->hello_due = false;
			break;
		}
		if (err == ETIMEDOUT) {
			php_herald_fail(error, "timed out after %ld ms writing to %s (the relay is not reading)",
				(long) timeout_ms, path);
			if (sent == 0) {
				stall_socket(c, c->fd, timeout_ms);   /* nothing went out: the connection is whole */
			} else {
				/* Part of the frame is on the connection: it cannot carry
				 * another frame, but it tells when the relay reads. */
				int fd = c->fd;

				c->fd = -1;
				php_herald_conn_close(c);
				stall_socket(c, fd, timeout_ms);
			}
			return false;
		}

		/* The relay closed the connection: if it said why (a refusal),
		 * that is the answer, and connecting again would not change it. */
		if (!take_replies(c, error)) {
			return false;
		}
		/* Part of the frame may be on the connection: it cannot carry
		 * another frame after that, so it is closed in every case. */
		php_herald_conn_close(c);
		if (!fresh && attempt == 0) {
			/* The relay went away since our last write (a restart closes
			 * every ingest connection; for a Unix socket the first write
			 * after that fails with EPIPE, so nothing was lost yet):
			 * connect again, once, and send the whole frame there. */
			continue;
		}
		php_herald_fail(error, "writing to %s failed: %s", path, strerror(err));
		return false;
	}

	return ack ? await_ack(c, ack, deadline_ns, timeout_ms, error, members) : true;
}
