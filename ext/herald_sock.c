/* SPDX-License-Identifier: MIT
 * herald_sock.c: the persistent Unix-socket connection to the relay. It is
 * opened by the first publish of a process, reused by every later request of
 * that process (an FPM worker keeps it for life), written with non-blocking
 * sendmsg() and poll() against one deadline per call, replaced once when the
 * relay went away, and never lets SIGPIPE reach PHP. herald.c calls it; the
 * frame bytes come from herald_pack.c. */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "php_herald.h"
#include "herald_pack.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
/* BSDs and macOS lack MSG_NOSIGNAL and set SO_NOSIGPIPE on the socket. */
# define MSG_NOSIGNAL 0
#endif

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

void php_herald_conn_init(php_herald_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void php_herald_conn_close(php_herald_conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->path) {
		free(c->path);
		c->path = NULL;
	}
	c->rlen = 0;
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

/* Connect to path before deadline. Returns 0 or an errno value (ETIMEDOUT
 * at the deadline).
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

static int open_conn(php_herald_conn *c, const char *path, uint64_t deadline)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	bool blocking = true;
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

	for (;;) {
		uint64_t now = php_herald_now_ns(), left;

		if (now >= deadline) {
			err = ETIMEDOUT;
			goto fail_close;
		}
		left = deadline - now;
		if (blocking && left > CONNECT_MARGIN_NS) {
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
 * the errno of the failed sendmsg(). iov is consumed (modified). */
static int write_all(int fd, struct iovec *iov, int iovcnt, uint64_t deadline)
{
	struct msghdr msg;

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
}

/* Read replies until the ack for request id arrives or deadline passes.
 * Replies to other ids are dropped: they answer earlier calls that stopped
 * waiting at their own deadline. */
static bool await_ack(php_herald_conn *c, uint64_t id, uint64_t deadline, zend_long timeout_ms)
{
	for (;;) {
		while (c->rlen > 0) {
			php_herald_reply r;
			ssize_t n = php_herald_unpack_reply(c->rbuf, c->rlen, &r);

			if (n == 0) {
				break;
			}
			if (n < 0) {
				php_herald_fail("malformed reply from the relay at %s", c->path);
				php_herald_conn_close(c);
				return false;
			}
			if (r.is_ack && r.has_ack && r.ack == id) {
				bool ok = r.ok;

				if (!ok) {
					/* Format before consume(): r.error points into rbuf. */
					php_herald_fail("the relay refused the message: %.*s",
						r.error ? (int) r.error_len : 15, r.error ? r.error : "no reason given");
				}
				consume(c, (size_t) n);
				return ok;
			}
			consume(c, (size_t) n);
		}
		if (c->rlen == sizeof(c->rbuf)) {
			php_herald_fail("reply from the relay at %s is larger than %d bytes", c->path, PHP_HERALD_RBUF);
			php_herald_conn_close(c);
			return false;
		}

		int r;
		ssize_t n;

		if (php_herald_now_ns() >= deadline) {
			php_herald_fail("no ack from the relay at %s within %ld ms", c->path, (long) timeout_ms);
			return false;
		}
		r = wait_until(c->fd, POLLIN, deadline);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			continue;
		}
		if (r < 0) {
			php_herald_fail("waiting for the ack from %s failed: %s", c->path, strerror(errno));
			php_herald_conn_close(c);
			return false;
		}
		n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, MSG_DONTWAIT);
		if (n > 0) {
			c->rlen += (size_t) n;
		} else if (n == 0) {
			php_herald_fail("the relay at %s closed the connection before acknowledging", c->path);
			php_herald_conn_close(c);
			return false;
		} else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			php_herald_fail("reading the ack from %s failed: %s", c->path, strerror(errno));
			php_herald_conn_close(c);
			return false;
		}
	}
}

bool php_herald_send(php_herald_conn *c, const char *path, const struct iovec *iov, int iovcnt,
	uint64_t ack, uint64_t deadline_ns, zend_long timeout_ms)
{
	/* A connection from before fork() belongs to the parent, and one to
	 * another path is of no use after ini_set('herald.socket'). */
	if (c->fd >= 0 && (c->fork_gen != php_herald_fork_gen || strcmp(c->path, path) != 0)) {
		php_herald_conn_close(c);
	}

	for (int attempt = 0; ; attempt++) {
		struct iovec v[4];
		smart_str hello = {0};
		bool fresh = false;
		int n = 0, err;

		if (c->fd < 0) {
			err = open_conn(c, path, deadline_ns);
			if (err == ETIMEDOUT) {
				php_herald_fail("timed out after %ld ms connecting to %s (the relay does not accept)",
					(long) timeout_ms, path);
				return false;
			} else if (err) {
				php_herald_fail("%scannot connect to %s: %s",
					attempt ? "lost the connection to the relay and " : "", path, strerror(err));
				return false;
			}
			fresh = true;
			php_herald_pack_hello(&hello, "herald-php/" PHP_HERALD_VERSION, (uint64_t) getpid());
			v[n].iov_base = ZSTR_VAL(hello.s);
			v[n].iov_len = ZSTR_LEN(hello.s);
			n++;
		}
		for (int i = 0; i < iovcnt && n < 4; i++) {
			v[n++] = iov[i];
		}

		err = write_all(c->fd, v, n, deadline_ns);
		smart_str_free(&hello);
		if (err == 0) {
			break;
		}

		/* Part of the frame may be on the connection: it cannot carry
		 * another frame after that, so it is closed in every case. */
		php_herald_conn_close(c);
		if (err == ETIMEDOUT) {
			php_herald_fail("timed out after %ld ms writing to %s (the relay is not reading)",
				(long) timeout_ms, path);
			return false;
		}
		if (!fresh && attempt == 0) {
			/* The relay went away since our last write (a restart closes
			 * every ingest connection; for a Unix socket the first write
			 * after that fails with EPIPE, so nothing was lost yet):
			 * connect again, once, and send the whole frame there. */
			continue;
		}
		php_herald_fail("writing to %s failed: %s", path, strerror(err));
		return false;
	}

	return ack ? await_ack(c, ack, deadline_ns, timeout_ms) : true;
}
