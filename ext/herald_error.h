/* SPDX-License-Identifier: MIT
 * herald_error.h: why a publish failed, in words: the message that
 * herald_last_error() returns. The record is the caller's (herald.c keeps
 * one in its module globals and passes it down); this module only writes and
 * clears it, so herald_sock.c can say what went wrong without knowing where
 * the message is kept. */
#ifndef HERALD_ERROR_H
#define HERALD_ERROR_H

#include "php.h"

typedef struct php_herald_error {
	zend_string *msg;   /* request memory; NULL when the last call succeeded */
} php_herald_error;

/* Record why the current call failed in e, replacing what it held (fmt may
 * use the old message: it is formatted before that is released). It only
 * records: the E_WARNING is raised by the PHP function once the connection
 * state is settled, because a user error handler may publish again. */
void php_herald_fail(php_herald_error *e, const char *fmt, ...) ZEND_ATTRIBUTE_FORMAT(printf, 2, 3);

/* Forget the message, if any. */
void php_herald_error_clear(php_herald_error *e);

#endif /* HERALD_ERROR_H */
