/* SPDX-License-Identifier: MIT
 * herald_hooks.c: herald_hook_events(): array. The relay hands browser
 * events to the application as a POST through PHP-FPM (docs/PROTOCOL.md 3):
 * body {"v":1,"events":[...]}, header X-Herald-Signature: sha256=<hex
 * HMAC-SHA256 of the body with the relay's secret>. This reads the body
 * (php://input: php-fpm, the built-in server, any SAPI), checks the
 * signature against herald.secret in constant time, and returns the events
 * as a list of associative arrays. Anything wrong throws
 * UnexpectedValueException: a hook script must never act on a request the
 * relay did not sign. The HMAC is herald_token.c's. */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "herald_hooks.h"
#include "herald_token.h"

#include "php.h"
#include "ext/json/php_json.h"
#include "ext/spl/spl_exceptions.h"
#include "main/php_streams.h"
#include "zend_exceptions.h"

#define SIG_PREFIX "sha256="

static zend_never_inline void fail(const char *fmt, ...) ZEND_ATTRIBUTE_FORMAT(printf, 1, 2);

static zend_never_inline void fail(const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	zend_vspprintf(&msg, 0, fmt, ap);
	va_end(ap);
	zend_throw_exception_ex(spl_ce_UnexpectedValueException, 0, "herald_hook_events(): %s", msg);
	efree(msg);
}

/* The request body, whole (an empty string when there is none). */
static zend_string *read_body(void)
{
	php_stream *in = php_stream_open_wrapper_ex("php://input", "rb", 0, NULL, NULL);
	zend_string *body = NULL;

	if (in) {
		body = php_stream_copy_to_mem(in, PHP_STREAM_COPY_ALL, 0);
		php_stream_close(in);
	}
	return body ? body : ZSTR_EMPTY_ALLOC();
}

/* $_SERVER['HTTP_X_HERALD_SIGNATURE'], or NULL. */
static zval *signature_header(void)
{
	zval *server;

	zend_is_auto_global_str(ZEND_STRL("_SERVER"));   /* auto_globals_jit: make it now */
	server = &PG(http_globals)[TRACK_VARS_SERVER];
	if (Z_TYPE_P(server) != IS_ARRAY) {
		return NULL;
	}
	return zend_hash_str_find(Z_ARRVAL_P(server), ZEND_STRL("HTTP_X_HERALD_SIGNATURE"));
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "sha256=" and 64 hex digits into 32 bytes; false when it is not that. */
static bool parse_signature(const zend_string *h, unsigned char mac[32])
{
	const unsigned char *p = (const unsigned char *) ZSTR_VAL(h) + sizeof(SIG_PREFIX) - 1;

	if (ZSTR_LEN(h) != sizeof(SIG_PREFIX) - 1 + 64 || memcmp(ZSTR_VAL(h), SIG_PREFIX, sizeof(SIG_PREFIX) - 1) != 0) {
		return false;
	}
	for (int i = 0; i < 32; i++) {
		int hi = hex_value(p[2 * i]), lo = hex_value(p[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			return false;
		}
		mac[i] = (unsigned char) (hi << 4 | lo);
	}
	return true;
}

/* Compares every byte whatever differs: the time says nothing of where. */
static bool same_mac(const unsigned char *a, const unsigned char *b)
{
	unsigned char d = 0;

	for (int i = 0; i < 32; i++) {
		d |= a[i] ^ b[i];
	}
	return d == 0;
}

/* What json_last_error_msg() says for code (ext/json keeps its messages to
 * itself); JSON_G(error_code) is left as the user had it. */
static void json_error(php_json_error_code code, char *buf, size_t len)
{
	php_json_error_code saved = JSON_G(error_code);
	zval fn, msg;

	JSON_G(error_code) = code;
	ZVAL_STRINGL(&fn, "json_last_error_msg", sizeof("json_last_error_msg") - 1);
	ZVAL_UNDEF(&msg);
	call_user_function(NULL, NULL, &fn, &msg, 0, NULL);
	snprintf(buf, len, "%s", Z_TYPE(msg) == IS_STRING ? Z_STRVAL(msg) : "invalid JSON");
	zval_ptr_dtor(&fn);
	zval_ptr_dtor(&msg);
	JSON_G(error_code) = saved;
}

/* {{{ The events of the relay's hook request, checked: a list of arrays. */
PHP_FUNCTION(herald_hook_events)
{
	bool exists = false;
	const char *secret;
	size_t secret_len;
	zval *header, *v, *events, *e, request;
	zend_string *body;
	unsigned char given[32], mac[32];
	php_json_error_code saved, code;
	bool ok;

	ZEND_PARSE_PARAMETERS_NONE();

	secret = zend_ini_string_ex("herald.secret", sizeof("herald.secret") - 1, 0, &exists);
	secret_len = secret ? strlen(secret) : 0;
	if (secret_len < HERALD_TOKEN_MIN_SECRET) {
		fail("herald.secret is not set (it must be the relay's secret, at least %d bytes)", HERALD_TOKEN_MIN_SECRET);
		RETURN_THROWS();
	}
	header = signature_header();
	if (!header) {
		fail("the request has no X-Herald-Signature header (is it a hook request from the relay?)");
		RETURN_THROWS();
	}
	if (Z_TYPE_P(header) != IS_STRING || !parse_signature(Z_STR_P(header), given)) {
		fail("malformed X-Herald-Signature header (expected sha256=<64 hex digits>)");
		RETURN_THROWS();
	}

	body = read_body();
	if (!php_herald_hmac_sha256((const unsigned char *) secret, secret_len, (const unsigned char *) ZSTR_VAL(body),
			ZSTR_LEN(body), mac)) {
		zend_string_release(body);
		zend_throw_error(NULL, "herald_hook_events(): SHA-256 is not available from ext/hash");
		RETURN_THROWS();
	}
	ok = same_mac(given, mac);
	ZEND_SECURE_ZERO(mac, sizeof mac);
	if (!ok) {
		zend_string_release(body);
		fail("wrong signature (herald.secret is not the relay's secret, or the body was changed)");
		RETURN_THROWS();
	}

	saved = JSON_G(error_code);
	JSON_G(error_code) = PHP_JSON_ERROR_NONE;
	ZVAL_UNDEF(&request);
	ok = php_json_decode_ex(&request, ZSTR_VAL(body), ZSTR_LEN(body), PHP_JSON_OBJECT_AS_ARRAY,
		PHP_JSON_PARSER_DEFAULT_DEPTH) == SUCCESS;
	code = JSON_G(error_code);
	JSON_G(error_code) = saved;
	zend_string_release(body);
	if (!ok) {
		char why[128];

		json_error(code, why, sizeof(why));
		zval_ptr_dtor(&request);
		fail("the body is not JSON (%s)", why);
		RETURN_THROWS();
	}
	if (Z_TYPE(request) != IS_ARRAY || !(v = zend_hash_str_find(Z_ARRVAL(request), ZEND_STRL("v")))
		|| Z_TYPE_P(v) != IS_LONG || Z_LVAL_P(v) != HERALD_HOOK_VERSION) {
		zval_ptr_dtor(&request);
		fail("the body is not a version %d hook request ({\"v\":%d,\"events\":[...]})", HERALD_HOOK_VERSION,
			HERALD_HOOK_VERSION);
		RETURN_THROWS();
	}
	events = zend_hash_str_find(Z_ARRVAL(request), ZEND_STRL("events"));
	ok = events && Z_TYPE_P(events) == IS_ARRAY && zend_array_is_list(Z_ARRVAL_P(events));
	if (ok) {
		ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(events), e) {
			if (Z_TYPE_P(e) != IS_ARRAY) {
				ok = false;
				break;
			}
		} ZEND_HASH_FOREACH_END();
	}
	if (!ok) {
		zval_ptr_dtor(&request);
		fail("\"events\" is not a list of objects");
		RETURN_THROWS();
	}
	RETVAL_COPY(events);
	zval_ptr_dtor(&request);
}
/* }}} */
