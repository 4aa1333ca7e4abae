/* SPDX-License-Identifier: MIT
 * herald_error.c: recording why a publish failed (herald_error.h). */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "herald_error.h"

#include <stdarg.h>

void php_herald_fail(php_herald_error *e, const char *fmt, ...)
{
	va_list ap;
	zend_string *msg;

	va_start(ap, fmt);
	msg = zend_vstrpprintf(0, fmt, ap);
	va_end(ap);
	if (e->msg) {
		zend_string_release(e->msg);
	}
	e->msg = msg;
}

void php_herald_error_clear(php_herald_error *e)
{
	if (e->msg) {
		zend_string_release(e->msg);
		e->msg = NULL;
	}
}
