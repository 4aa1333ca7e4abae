/* SPDX-License-Identifier: MIT
 * php_herald.h: the herald extension's module entry, version and globals:
 * herald.c's header, and only herald.c includes it. The modules below
 * herald.c never read the globals: what they need comes in through their
 * parameters. They are herald_sock.c (the one persistent connection to the
 * relay, with its ring: herald_ring.c), herald_pack.c (frames),
 * herald_error.c (why a call failed) and herald_token.c (herald_token()). */
#ifndef PHP_HERALD_H
#define PHP_HERALD_H

#include "php.h"
#include "zend_smart_str.h"

#include "herald_error.h"
#include "herald_sock.h"

extern zend_module_entry herald_module_entry;
#define phpext_herald_ptr &herald_module_entry

#define PHP_HERALD_VERSION "0.1.0"

/* Limits of the INI entries (the channel name's is in herald_pack.h). */
#define HERALD_MAX_TIMEOUT_MS  60000
#define HERALD_DEFAULT_SOCKET  "/tmp/herald.sock"
#define HERALD_MAX_BATCH_BYTES (64 * 1024 * 1024)

/* Frames buffered by herald.batch=1 (persistent memory: the buffer outlives
 * the request's memory manager and keeps its capacity across requests). */
typedef struct php_herald_batch {
	char *buf;              /* malloc'd, cap bytes */
	size_t len;             /* bytes of whole frames buffered */
	size_t cap;
	uint32_t count;         /* frames buffered */
	unsigned fork_gen;      /* php_herald_fork_gen when the first was buffered */
} php_herald_batch;

ZEND_BEGIN_MODULE_GLOBALS(herald)
	/* INI, bound by STD_PHP_INI_ENTRY. */
	char *socket_path;      /* herald.socket */
	zend_long timeout_ms;   /* herald.timeout_ms: total budget of one call */
	bool ack;               /* herald.ack: wait for the relay's ack */
	bool enabled;           /* herald.enabled: 0 turns publishing off */
	bool batch;             /* herald.batch: buffer frames until a flush */
	zend_long batch_bytes;  /* herald.batch_bytes: flush threshold */
	zend_long ring_bytes;   /* herald.ring_bytes: shared ring asked for, 0 for none */
	bool warnings;          /* herald.warnings: a failed call raises E_WARNING */

	/* The connection outlives requests: one per process (per thread in ZTS). */
	php_herald_conn conn;
	php_herald_batch batch_buf;   /* herald.batch=1: frames not written yet */
	uint64_t log_sec;             /* the second of the last error log line (monotonic) */
	uint32_t log_skipped;         /* failures not logged since (one line a second) */

	/* Request-bound state. */
	php_herald_error last_error;  /* what herald_last_error() returns (herald_error.h) */
	smart_str head;               /* reused frame buffer (emalloc, freed at RSHUTDOWN) */
	bool request_over;            /* RSHUTDOWN has flushed: later calls write at once */
ZEND_END_MODULE_GLOBALS(herald)

ZEND_EXTERN_MODULE_GLOBALS(herald)
#define HERALD_G(v) ZEND_MODULE_GLOBALS_ACCESSOR(herald, v)

#if defined(ZTS) && defined(COMPILE_DL_HERALD)
ZEND_TSRMLS_CACHE_EXTERN()
#endif

#endif /* PHP_HERALD_H */
