/* SPDX-License-Identifier: MIT
 * herald.c: the herald extension's PHP face: sse_emit(), ws_publish(),
 * herald_publish(), herald_send(), herald_send_user(), herald_presence(),
 * herald_mercure_publish(), herald_flush() and herald_last_error()
 * (docs/PHP.md), the herald.* INI entries, the module globals and hooks,
 * and phpinfo(). The functions validate their arguments, turn $data into
 * bytes, and hand one frame to herald_sock.c; the frame itself is packed by
 * herald_pack.c, and a failure is recorded by herald_error.c.
 * herald_token() lives in herald_token.c, herald_hook_events() in
 * herald_hooks.c, herald_mercure_channel() and the Mercure checks in
 * herald_mercure.c. */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "php.h"
#include "php_ini.h"
#include "ext/standard/info.h"
#include "ext/json/php_json.h"
#include "zend_exceptions.h"

#include "php_herald.h"
#include "herald_error.h"
#include "herald_pack.h"
#include "herald_arginfo.h"
#include "herald_token.h"
#include "herald_hooks.h"
#include "herald_mercure.h"
#include "abi/herald_ring_abi.h"

#include <pthread.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

ZEND_DECLARE_MODULE_GLOBALS(herald)

/* JSON for non-string $data: what json_encode() makes with these flags.
 * Browsers get compact UTF-8 ("é" stays two bytes, "/" stays "/"). */
#define HERALD_JSON_FLAGS (PHP_JSON_UNESCAPED_SLASHES | PHP_JSON_UNESCAPED_UNICODE)

/* JsonException: ext/json does not export its class entry; looked up at
 * MINIT (ext/json starts first: it is a required dependency). */
static zend_class_entry *json_exception_ce;

/* Channel names (docs/PROTOCOL.md 1.2): 1-200 bytes of [A-Za-z0-9_.:@=/,;-]. */
static bool channel_byte[256];

static void init_channel_bytes(void)
{
	const char *extra = "_.:@=/,;-";

	for (int c = 0; c < 256; c++) {
		channel_byte[c] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
	}
	for (; *extra; extra++) {
		channel_byte[(unsigned char) *extra] = true;
	}
}

/* 0 when valid, 1 for a bad length, 2 for a bad byte. */
static int check_channel(const zend_string *ch)
{
	size_t len = ZSTR_LEN(ch);
	const unsigned char *p = (const unsigned char *) ZSTR_VAL(ch);

	if (len == 0 || len > HERALD_MAX_CHANNEL) {
		return 1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!channel_byte[p[i]]) {
			return 2;
		}
	}
	return 0;
}

/* A connection id (herald_send): 1-64 bytes of [a-z0-9.]. */
static bool check_conn_id(const zend_string *id)
{
	size_t len = ZSTR_LEN(id);
	const char *p = ZSTR_VAL(id);

	if (len == 0 || len > HERALD_MAX_CONN) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '.')) {
			return false;
		}
	}
	return true;
}

static bool valid_utf8(zend_string *s)
{
	if (GC_FLAGS(s) & IS_STR_VALID_UTF8) {
		return true;   /* PCRE, or an earlier call, has checked it */
	}
	if (!php_herald_utf8_valid((const unsigned char *) ZSTR_VAL(s), ZSTR_LEN(s))) {
		return false;
	}
	if (!ZSTR_IS_INTERNED(s)) {
		GC_ADD_FLAGS(s, IS_STR_VALID_UTF8);   /* as ext/pcre does */
	}
	return true;
}

/* INI */

static ZEND_INI_MH(OnUpdateHeraldSocket)
{
	/* A Unix socket path must fit sun_path with its NUL. ini_set() is
	 * refused (its caller sees false); from php.ini or a pool the value is
	 * kept, since a refusal there would silently leave the default in its
	 * place, and every publish then says what is wrong with it. */
	if ((ZSTR_LEN(new_value) == 0 || ZSTR_LEN(new_value) >= sizeof(((struct sockaddr_un *) 0)->sun_path))
		&& stage == ZEND_INI_STAGE_RUNTIME) {
		return FAILURE;
	}
	return OnUpdateString(entry, new_value, mh_arg1, mh_arg2, mh_arg3, stage);
}

static ZEND_INI_MH(OnUpdateHeraldTimeout)
{
	char *end;
	zend_long v = ZEND_STRTOL(ZSTR_VAL(new_value), &end, 10);

	if (end == ZSTR_VAL(new_value) || *end != '\0' || v < 1 || v > HERALD_MAX_TIMEOUT_MS) {
		return FAILURE;
	}
	return OnUpdateLong(entry, new_value, mh_arg1, mh_arg2, mh_arg3, stage);
}

/* A size, digits with an optional K, M or G suffix (as memory_limit):
 * false when it is not one. */
static bool parse_size(zend_string *value, zend_long *out)
{
	zend_string *err = NULL;

	*out = zend_ini_parse_quantity(value, &err);
	if (err) {
		zend_string_release(err);
		return false;
	}
	return true;
}

/* herald.batch_bytes: a size, 1 byte to 64 MiB. */
static ZEND_INI_MH(OnUpdateHeraldBatchBytes)
{
	zend_long v;

	if (!parse_size(new_value, &v) || v < 1 || v > HERALD_MAX_BATCH_BYTES) {
		return FAILURE;
	}
	HERALD_G(batch_bytes) = v;
	return SUCCESS;
}

/* herald.ring_bytes: the shared-memory ring a new connection asks the relay
 * for, a size: 0 (never ask), or 4K to 64M. */
static ZEND_INI_MH(OnUpdateHeraldRingBytes)
{
	zend_long v;

	if (!parse_size(new_value, &v)
		|| (v != 0 && (v < (zend_long) HR_RING_MIN_BYTES || v > (zend_long) HR_RING_MAX_BYTES))) {
		return FAILURE;
	}
	HERALD_G(ring_bytes) = v;
	return SUCCESS;
}

PHP_INI_BEGIN()
	STD_PHP_INI_ENTRY("herald.socket", HERALD_DEFAULT_SOCKET, PHP_INI_ALL, OnUpdateHeraldSocket,
		socket_path, zend_herald_globals, herald_globals)
	STD_PHP_INI_ENTRY("herald.timeout_ms", "100", PHP_INI_ALL, OnUpdateHeraldTimeout,
		timeout_ms, zend_herald_globals, herald_globals)
	STD_PHP_INI_BOOLEAN("herald.ack", "0", PHP_INI_ALL, OnUpdateBool,
		ack, zend_herald_globals, herald_globals)
	STD_PHP_INI_BOOLEAN("herald.enabled", "1", PHP_INI_ALL, OnUpdateBool,
		enabled, zend_herald_globals, herald_globals)
	STD_PHP_INI_BOOLEAN("herald.batch", "0", PHP_INI_ALL, OnUpdateBool,
		batch, zend_herald_globals, herald_globals)
	PHP_INI_ENTRY("herald.batch_bytes", "65536", PHP_INI_ALL, OnUpdateHeraldBatchBytes)
	PHP_INI_ENTRY("herald.ring_bytes", "256K", PHP_INI_ALL, OnUpdateHeraldRingBytes)
	STD_PHP_INI_BOOLEAN("herald.warnings", "0", PHP_INI_ALL, OnUpdateBool,
		warnings, zend_herald_globals, herald_globals)
PHP_INI_END()

/* What phpinfo() and `php --ri herald` say about each entry. */
static const struct {
	const char *name;
	const char *meaning;
} ini_docs[] = {
	{ "herald.socket", "Unix socket path of the relay's ingest listener (default " HERALD_DEFAULT_SOCKET ")" },
	{ "herald.timeout_ms", "Longest time one publish call may take, connect, write and ack included, in ms (1-60000, default 100)" },
	{ "herald.ack", "1: wait for the relay's ack and return false if it refuses or does not answer in time (default 0)" },
	{ "herald.enabled", "0: publish calls check their arguments, send nothing and return false without a warning (default 1)" },
	{ "herald.batch", "1: buffer frames in the process and write them at herald_flush(), at the threshold or at the end of the request (default 0)" },
	{ "herald.batch_bytes", "A frame that would bring the buffer to this size writes the buffer and itself at once (1 to 64M, default 65536)" },
	{ "herald.ring_bytes", "Shared-memory ring a new connection asks the relay for, so that a publish is a memory copy rather than a write to the socket (0 = never ask, else 4K to 64M, default 256K)" },
	{ "herald.warnings", "1: a failed call also raises E_WARNING; 0: it only returns false, sets herald_last_error() and writes a line to the error log, at most one a second (default 0)" },
};

/* Errors: why the last call failed (herald_error.c records it). */

static void clear_error(void)
{
	php_herald_error_clear(&HERALD_G(last_error));
}

/* A call failed (what names it: "sse_emit()", "flush at the end of the
 * request"). By default that is false and herald_last_error() only, plus one
 * line in PHP's error log (when log_errors is on) at most once a second per
 * process, so that an outage neither floods the log nor goes unseen: no
 * E_WARNING, because Laravel and Symfony turn warnings into exceptions and a
 * relay outage must never turn a page into an error. herald.warnings=1
 * raises the warning instead, through the user's error handler when user
 * code can still run (user_handler), else through PHP's own. */
static void report_failure(const char *what, bool user_handler)
{
	const char *msg = ZSTR_VAL(HERALD_G(last_error).msg);

	if (HERALD_G(warnings)) {
		if (user_handler) {
			php_error_docref(NULL, E_WARNING, "%s", msg);
		} else {
			zval handler;

			ZVAL_COPY_VALUE(&handler, &EG(user_error_handler));
			ZVAL_UNDEF(&EG(user_error_handler));
			zend_error(E_WARNING, "herald: %s: %s", what, msg);
			ZVAL_COPY_VALUE(&EG(user_error_handler), &handler);
		}
		return;
	}
	uint64_t sec = php_herald_now_ns() / 1000000000u;

	if (HERALD_G(log_sec) == sec) {
		HERALD_G(log_skipped)++;
		return;
	}
	HERALD_G(log_sec) = sec;
	if (PG(log_errors)) {
		char *line;

		if (HERALD_G(log_skipped)) {
			zend_spprintf(&line, 0, "herald: %s: %s (and %" PRIu32 " more failed call%s since the last line)",
				what, msg, HERALD_G(log_skipped), HERALD_G(log_skipped) == 1 ? "" : "s");
		} else {
			zend_spprintf(&line, 0, "herald: %s: %s", what, msg);
		}
		php_log_err(line);
		efree(line);
	}
	HERALD_G(log_skipped) = 0;
}

/* The failed call's name, as PHP's warnings would give it. */
static const char *this_function(char *buf, size_t len)
{
	const char *fn = get_active_function_name();

	snprintf(buf, len, "%s()", fn ? fn : "herald");
	return buf;
}

/* Publishing */

/* Arguments both publish functions share, checked. */
typedef struct publish_args {
	php_herald_pub pub;
	zend_string *small[8];        /* channel list storage for small arrays */
	const char *data;
	size_t data_len;
	smart_str json;               /* owns data when $data was not a string */
} publish_args;

/* Check the channel argument (1) and keep its names in a->pub. Names from an
 * array get a reference each: user code run later in the same call (a
 * jsonSerialize()) cannot free them through a reference into the array. */
static bool take_channels(publish_args *a, zend_string *one, HashTable *many)
{
	zval *zv;
	uint32_t n = 0;

	if (one) {
		switch (check_channel(one)) {
			case 1:
				zend_argument_value_error(1, "must be between 1 and %d bytes long", HERALD_MAX_CHANNEL);
				return false;
			case 2:
				zend_argument_value_error(1, "must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -");
				return false;
		}
		a->pub.channel = one;
		return true;
	}

	if (zend_hash_num_elements(many) == 0) {
		zend_argument_value_error(1, "must not be an empty array");
		return false;
	}
	ZEND_HASH_FOREACH_VAL(many, zv) {
		ZVAL_DEREF(zv);
		if (Z_TYPE_P(zv) != IS_STRING) {
			zend_argument_type_error(1, "must contain only strings, %s given", zend_zval_type_name(zv));
			return false;
		}
		switch (check_channel(Z_STR_P(zv))) {
			case 1:
				zend_argument_value_error(1, "must contain channel names between 1 and %d bytes long",
					HERALD_MAX_CHANNEL);
				return false;
			case 2:
				zend_argument_value_error(1,
					"must contain channel names of only the characters A-Z a-z 0-9 _ . : @ = / , ; -");
				return false;
		}
	} ZEND_HASH_FOREACH_END();

	n = zend_hash_num_elements(many);
	a->pub.channels = n <= sizeof(a->small) / sizeof(a->small[0]) ? a->small : safe_emalloc(n, sizeof(zend_string *), 0);
	ZEND_HASH_FOREACH_VAL(many, zv) {
		ZVAL_DEREF(zv);
		a->pub.channels[a->pub.nchannels++] = zend_string_copy(Z_STR_P(zv));
	} ZEND_HASH_FOREACH_END();
	return true;
}

/* Turn $data (argument 2) into the payload bytes: a string as it is, any
 * other value as JSON made by ext/json, which throws its own JsonException
 * for what it cannot encode. Text must be UTF-8; binary must be a string. */
static bool take_data(publish_args *a, zval *data, bool binary)
{
	if (Z_TYPE_P(data) == IS_STRING) {
		if (!binary && !valid_utf8(Z_STR_P(data))) {
			zend_argument_value_error(2, a->pub.conn || a->pub.user
				? "must be valid UTF-8 (pass $binary = true for bytes)"
				: "must be valid UTF-8 (use ws_publish() with $binary = true for bytes)");
			return false;
		}
		a->data = Z_STRVAL_P(data);
		a->data_len = Z_STRLEN_P(data);
	} else if (binary) {
		zend_argument_type_error(2, "must be of type string when $binary is true, %s given", zend_zval_type_name(data));
		return false;
	} else {
		/* php_json_encode_ex() reports through JSON_G(error_code), which is
		 * what json_last_error() returns; like json_encode() with
		 * JSON_THROW_ON_ERROR, we throw instead and leave it as it was. */
		php_json_error_code saved = JSON_G(error_code), code;

		JSON_G(error_code) = PHP_JSON_ERROR_NONE;
		php_json_encode_ex(&a->json, data, HERALD_JSON_FLAGS, PHP_JSON_PARSER_DEFAULT_DEPTH);
		code = JSON_G(error_code);
		if (EG(exception)) {
			/* Thrown by a jsonSerialize(): let it through. */
			JSON_G(error_code) = saved;
			return false;
		}
		if (code != PHP_JSON_ERROR_NONE) {
			zval fn, msg;

			/* ext/json keeps its messages to itself; json_last_error_msg()
			 * reads them from the code we just left in JSON_G. */
			ZVAL_STRINGL(&fn, "json_last_error_msg", sizeof("json_last_error_msg") - 1);
			ZVAL_UNDEF(&msg);
			call_user_function(NULL, NULL, &fn, &msg, 0, NULL);
			JSON_G(error_code) = saved;
			zend_throw_exception(json_exception_ce,
				Z_TYPE(msg) == IS_STRING ? Z_STRVAL(msg) : "JSON encoding failed", code);
			zval_ptr_dtor(&fn);
			zval_ptr_dtor(&msg);
			return false;
		}
		JSON_G(error_code) = saved;
		smart_str_0(&a->json);
		a->data = ZSTR_VAL(a->json.s);
		a->data_len = ZSTR_LEN(a->json.s);
		/* SSE and raw WebSocket subscribers get the text as before;
		 * herald.v1 subscribers get the value (the relay checks it). */
		a->pub.json = true;
	}
	if (a->data_len > UINT32_MAX) {
		zend_argument_value_error(2, "must be at most 4 GiB long");
		return false;
	}
	return true;
}

static void release_args(publish_args *a)
{
	for (uint32_t i = 0; i < a->pub.nchannels; i++) {
		zend_string_release(a->pub.channels[i]);
	}
	if (a->pub.channels && a->pub.channels != a->small) {
		efree(a->pub.channels);
	}
	smart_str_free(&a->json);
}

/* Batching (herald.batch=1)
 *
 * A buffered call packs its frame, ts taken at the call, into the process's
 * batch buffer and returns. The buffer goes out in one write (the existing
 * deadline logic: herald.timeout_ms per write, reconnect once) at
 * herald_flush(), at the end of the request, or with the first frame that is
 * written at once: one that would bring the buffer to herald.batch_bytes, an
 * acknowledged one (herald.ack=1), or any frame sent while herald.batch=0.
 * Such a frame takes the buffer along in front of it, in the same write, so
 * frames reach the relay in call order. A write that fails drops the buffer:
 * it never grows past herald.batch_bytes. */

/* A child of fork() inherits the parent's buffer: those frames are the
 * parent's to send, so the child forgets them. */
static zend_always_inline void batch_check_fork(php_herald_batch *b)
{
	if (UNEXPECTED(b->count && b->fork_gen != php_herald_fork_gen)) {
		b->len = 0;
		b->count = 0;
	}
}

static void batch_append(php_herald_batch *b, const char *head, size_t head_len, const char *data, size_t data_len)
{
	size_t need = b->len + head_len + data_len;

	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < need) {
			cap *= 2;
		}
		b->buf = perealloc(b->buf, cap, 1);
		b->cap = cap;
	}
	if (b->count == 0) {
		b->fork_gen = php_herald_fork_gen;
	}
	memcpy(b->buf + b->len, head, head_len);
	memcpy(b->buf + b->len + head_len, data, data_len);
	b->len = need;
	b->count++;
}

/* After a write of the buffer, good or bad: empty, capacity kept (but not a
 * capacity past the threshold, which a lowered herald.batch_bytes left). */
static void batch_reset(php_herald_batch *b, size_t keep)
{
	b->len = 0;
	b->count = 0;
	if (b->cap > keep && b->buf) {
		pefree(b->buf, 1);
		b->buf = NULL;
		b->cap = 0;
	}
}

static void batch_free(php_herald_batch *b)
{
	if (b->buf) {
		pefree(b->buf, 1);
	}
	memset(b, 0, sizeof(*b));
}

/* Write what is buffered, then iov[0..iovcnt) if any, in one write before
 * deadline; ack and members as for php_herald_send(). The buffer is empty
 * afterwards. On failure the reason names how many buffered messages were
 * dropped. */
static bool batch_send(struct iovec *frame, int iovcnt, uint64_t ack, uint64_t deadline, zend_string **members)
{
	php_herald_batch *b = &HERALD_G(batch_buf);
	struct iovec iov[3];
	uint32_t dropped;
	int n = 0;
	bool ok;

	batch_check_fork(b);
	dropped = b->count;
	if (b->len) {
		iov[n].iov_base = b->buf;
		iov[n].iov_len = b->len;
		n++;
	}
	for (int i = 0; i < iovcnt; i++) {
		iov[n++] = frame[i];
	}
	if (n == 0) {
		return true;
	}
	ok = php_herald_send(&HERALD_G(conn), HERALD_G(socket_path), iov, n, ack, deadline, HERALD_G(timeout_ms),
		(uint64_t) HERALD_G(ring_bytes), &HERALD_G(last_error), members);
	batch_reset(b, (size_t) HERALD_G(batch_bytes) * 2);
	if (!ok && dropped) {
		/* A failed ack leaves the buffered frames delivered: they went out
		 * before the acknowledged one, in the same write. */
		bool written = ack && HERALD_G(conn).fd >= 0;

		if (!written) {
			php_herald_fail(&HERALD_G(last_error), "%s; %" PRIu32 " buffered message%s dropped",
				ZSTR_VAL(HERALD_G(last_error).msg), dropped, dropped == 1 ? " was" : "s were");
		}
	}
	return ok;
}

/* Pack the frame, then buffer it or write it; false (reported by
 * report_failure) when the relay did not take it. */
static bool publish(publish_args *a)
{
	smart_str *head = &HERALD_G(head);
	php_herald_batch *b = &HERALD_G(batch_buf);
	struct iovec iov[2];
	uint64_t deadline = a->pub.ts + (uint64_t) HERALD_G(timeout_ms) * 1000000u;
	bool ok;

	if (!HERALD_G(enabled)) {
		php_herald_fail(&HERALD_G(last_error), "publishing is disabled by herald.enabled=0");
		return false;
	}

	a->pub.ack = HERALD_G(ack) ? php_herald_next_ack(&HERALD_G(conn)) : 0;
	a->pub.data_len = a->data_len;
	if (head->s) {
		ZSTR_LEN(head->s) = 0;   /* reuse last call's allocation */
	}
	if (a->pub.conn || a->pub.user) {
		php_herald_pack_send(head, &a->pub);
	} else {
		php_herald_pack_pub(head, &a->pub);
	}

	if (HERALD_G(batch) && !a->pub.ack && EXPECTED(!HERALD_G(request_over))) {
		batch_check_fork(b);
		if (b->len + ZSTR_LEN(head->s) + a->data_len < (size_t) HERALD_G(batch_bytes)) {
			batch_append(b, ZSTR_VAL(head->s), ZSTR_LEN(head->s), a->data, a->data_len);
			return true;
		}
	}

	iov[0].iov_base = ZSTR_VAL(head->s);
	iov[0].iov_len = ZSTR_LEN(head->s);
	iov[1].iov_base = (void *) a->data;
	iov[1].iov_len = a->data_len;
	if (b->count) {
		ok = batch_send(iov, 2, a->pub.ack, deadline, NULL);
	} else {
		ok = php_herald_send(&HERALD_G(conn), HERALD_G(socket_path), iov, 2, a->pub.ack, deadline,
			HERALD_G(timeout_ms), (uint64_t) HERALD_G(ring_bytes), &HERALD_G(last_error), NULL);
	}
	if (!ok) {
		char fn[64];

		report_failure(this_function(fn, sizeof(fn)), true);
	}
	return ok;
}

/* The flush at the end of a request: user code can no longer run safely,
 * so a failure is reported by PHP's own error handler (display_errors,
 * log_errors) and never by a set_error_handler() callback, when warnings
 * are on; else as any failure (report_failure). At module shutdown (warn
 * false) there is no request left to warn in: the error log gets it. */
static void flush_at_end(const char *when, bool warn)
{
	batch_check_fork(&HERALD_G(batch_buf));
	if (HERALD_G(batch_buf).count == 0) {
		return;
	}
	if (batch_send(NULL, 0, 0, php_herald_now_ns() + (uint64_t) HERALD_G(timeout_ms) * 1000000u, NULL)) {
		return;
	}
	if (!warn) {
		char *msg;

		zend_spprintf(&msg, 0, "herald: flush at %s: %s", when, ZSTR_VAL(HERALD_G(last_error).msg));
		php_log_err(msg);
		efree(msg);
		clear_error();
		return;
	}
	char what[64];

	snprintf(what, sizeof(what), "flush at %s", when);
	report_failure(what, false);
}

/* The SSE event name (argument 3 of sse_emit() and herald_publish()), or
 * NULL: false with a ValueError thrown when it cannot be one. */
static bool check_event(zend_string *event)
{
	if (!event) {
		return true;
	}
	if (memchr(ZSTR_VAL(event), '\r', ZSTR_LEN(event)) || memchr(ZSTR_VAL(event), '\n', ZSTR_LEN(event))) {
		zend_argument_value_error(3, "must not contain carriage return or line feed characters");
		return false;
	}
	if (!valid_utf8(event)) {
		zend_argument_value_error(3, "must be valid UTF-8");
		return false;
	}
	return true;
}

/* {{{ Publish $data to the SSE subscribers of one channel or several. */
PHP_FUNCTION(sse_emit)
{
	zend_string *channel = NULL, *event = NULL;
	HashTable *channels = NULL;
	zval *data;
	zend_long retry = 0;
	bool retry_null = true;
	publish_args a = {0};

	a.pub.ts = php_herald_now_ns();

	ZEND_PARSE_PARAMETERS_START(2, 4)
		Z_PARAM_ARRAY_HT_OR_STR(channels, channel)
		Z_PARAM_ZVAL(data)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR_OR_NULL(event)
		Z_PARAM_LONG_OR_NULL(retry, retry_null)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	if (!check_event(event)) {
		RETURN_THROWS();
	}
	if (!retry_null && retry <= 0) {
		zend_argument_value_error(4, "must be greater than 0");
		RETURN_THROWS();
	}

	a.pub.t = "sse";
	a.pub.event = event;
	a.pub.retry = retry_null ? 0 : retry;
	if (!take_channels(&a, channel, channels) || !take_data(&a, data, false)) {
		release_args(&a);
		RETURN_THROWS();
	}
	RETVAL_BOOL(publish(&a));
	release_args(&a);
}
/* }}} */

/* {{{ Publish $data to the WebSocket subscribers of one channel or several:
 * a text frame, or a binary one when $binary is true. */
PHP_FUNCTION(ws_publish)
{
	zend_string *channel = NULL;
	HashTable *channels = NULL;
	zval *data;
	bool binary = false;
	publish_args a = {0};

	a.pub.ts = php_herald_now_ns();

	ZEND_PARSE_PARAMETERS_START(2, 3)
		Z_PARAM_ARRAY_HT_OR_STR(channels, channel)
		Z_PARAM_ZVAL(data)
		Z_PARAM_OPTIONAL
		Z_PARAM_BOOL(binary)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	a.pub.t = "ws";
	a.pub.data_bin = binary;
	if (!take_channels(&a, channel, channels) || !take_data(&a, data, binary)) {
		release_args(&a);
		RETURN_THROWS();
	}
	RETVAL_BOOL(publish(&a));
	release_args(&a);
}
/* }}} */

/* {{{ Publish $data to every subscriber of one channel or several, whatever
 * its transport (SSE, raw WebSocket, herald.v1), as one message with one id:
 * the frame's t is "all". A string is sent as it is (UTF-8, as for
 * sse_emit()); any other value as JSON, marked so that herald.v1 clients
 * receive the value itself. */
PHP_FUNCTION(herald_publish)
{
	zend_string *channel = NULL, *event = NULL, *except = NULL;
	HashTable *channels = NULL;
	zval *data;
	publish_args a = {0};

	a.pub.ts = php_herald_now_ns();

	ZEND_PARSE_PARAMETERS_START(2, 4)
		Z_PARAM_ARRAY_HT_OR_STR(channels, channel)
		Z_PARAM_ZVAL(data)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR_OR_NULL(event)
		Z_PARAM_STR_OR_NULL(except)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	if (!check_event(event)) {
		RETURN_THROWS();
	}
	/* The sender's connection (a Pusher socket_id: Laravel's toOthers()). */
	if (except && !check_conn_id(except)) {
		zend_argument_value_error(4, "must be a connection id: 1 to %d bytes of a-z 0-9 .", HERALD_MAX_CONN);
		RETURN_THROWS();
	}
	a.pub.t = "all";
	a.pub.event = event;
	a.pub.except = except;
	if (!take_channels(&a, channel, channels) || !take_data(&a, data, false)) {
		release_args(&a);
		RETURN_THROWS();
	}
	RETVAL_BOOL(publish(&a));
	release_args(&a);
}
/* }}} */

/* {{{ Publish a Mercure update (docs/SYMFONY.md): one frame whose "mercure"
 * key carries the topics, the id and the private flag; the relay publishes
 * it to the topics' channels. Returns the update's id (the one given, or a
 * new urn:uuid:), known without a round trip; false as herald_publish(). */
PHP_FUNCTION(herald_mercure_publish)
{
	zend_string *topic = NULL, *data = ZSTR_EMPTY_ALLOC(), *id = NULL, *type = NULL;
	HashTable *topics = NULL;
	bool priv = false, retry_null = true;
	zend_long retry = 0;
	php_herald_mercure m;
	zend_string *small[8];
	publish_args a = {0};

	a.pub.ts = php_herald_now_ns();

	ZEND_PARSE_PARAMETERS_START(1, 6)
		Z_PARAM_ARRAY_HT_OR_STR(topics, topic)
		Z_PARAM_OPTIONAL
		Z_PARAM_STR(data)
		Z_PARAM_BOOL(priv)
		Z_PARAM_STR_OR_NULL(id)
		Z_PARAM_STR_OR_NULL(type)
		Z_PARAM_LONG_OR_NULL(retry, retry_null)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	if (!valid_utf8(data)) {
		zend_argument_value_error(2, "must be valid UTF-8");
		RETURN_THROWS();
	}
	if (ZSTR_LEN(data) > UINT32_MAX) {
		zend_argument_value_error(2, "must be at most 4 GiB long");
		RETURN_THROWS();
	}
	/* The relay's bound on an SSE retry hint (a day, in ms). */
	if (!retry_null && (retry < 0 || retry > 86400000)) {
		zend_argument_value_error(6, "must be between 0 and 86400000 (ms)");
		RETURN_THROWS();
	}
	if (!php_herald_mercure_take(&m, small, sizeof(small) / sizeof(small[0]), topic, topics, id, &type)) {
		RETURN_THROWS();
	}
	m.priv = priv;
	a.pub.t = "all";              /* ignored: the relay sets the target from "private" */
	a.pub.mercure = &m;
	a.pub.event = type;
	a.pub.retry = retry_null ? 0 : retry;   /* 0: no retry field, as the hub writes none */
	a.data = ZSTR_VAL(data);
	a.data_len = ZSTR_LEN(data);
	if (publish(&a)) {
		RETVAL_STR_COPY(m.id);
	} else {
		RETVAL_FALSE;
	}
	php_herald_mercure_release(&m, small);
}
/* }}} */

/* The common part of herald_send() and herald_send_user(), once the
 * recipient (to, already checked) is set in a: the payload, then the frame. */
static void send_to(INTERNAL_FUNCTION_PARAMETERS, publish_args *a, zval *data, bool binary)
{
	a->pub.data_bin = binary;
	if (!take_data(a, data, binary)) {
		release_args(a);
		RETURN_THROWS();
	}
	RETVAL_BOOL(publish(a));
	release_args(a);
}

/* {{{ Send $data to one connection (its id, from a hook event's "conn", or a
 * Pusher socket_id), on whichever relay of a cluster holds it: the frame's
 * op is "send". A string is sent as it is (UTF-8, or bytes with $binary); any
 * other value as JSON, marked so that herald.v1 clients receive the value
 * itself. */
PHP_FUNCTION(herald_send)
{
	zend_string *conn;
	zval *data;
	bool binary = false;
	publish_args a = {0};

	a.pub.ts = php_herald_now_ns();

	ZEND_PARSE_PARAMETERS_START(2, 3)
		Z_PARAM_STR(conn)
		Z_PARAM_ZVAL(data)
		Z_PARAM_OPTIONAL
		Z_PARAM_BOOL(binary)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	if (!check_conn_id(conn)) {
		zend_argument_value_error(1, "must be a connection id: 1 to %d bytes of a-z 0-9 .", HERALD_MAX_CONN);
		RETURN_THROWS();
	}
	a.pub.conn = conn;
	send_to(INTERNAL_FUNCTION_PARAM_PASSTHRU, &a, data, binary);
}
/* }}} */

/* {{{ Send $data to every connection of one user (the user a connect hook
 * named, or a token's "sub"), on every relay of a cluster: as herald_send(). */
PHP_FUNCTION(herald_send_user)
{
	zend_string *user;
	zval *data;
	bool binary = false;
	publish_args a = {0};

	a.pub.ts = php_herald_now_ns();

	ZEND_PARSE_PARAMETERS_START(2, 3)
		Z_PARAM_STR(user)
		Z_PARAM_ZVAL(data)
		Z_PARAM_OPTIONAL
		Z_PARAM_BOOL(binary)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	switch (check_channel(user)) {
		case 1:
			zend_argument_value_error(1, "must be between 1 and %d bytes long", HERALD_MAX_CHANNEL);
			RETURN_THROWS();
		case 2:
			zend_argument_value_error(1, "must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -");
			RETURN_THROWS();
	}
	a.pub.user = user;
	send_to(INTERNAL_FUNCTION_PARAM_PASSTHRU, &a, data, binary);
}
/* }}} */

/* The relay's member list (JSON text) as PHP's list of ['user' => ...,
 * 'info' => ...] in rv; false (reason recorded) when it is not one. */
static bool decode_members(zval *rv, zend_string *json)
{
	php_json_error_code saved = JSON_G(error_code);
	zval *m;
	bool ok;

	ok = php_json_decode_ex(rv, ZSTR_VAL(json), ZSTR_LEN(json), PHP_JSON_OBJECT_AS_ARRAY,
		PHP_JSON_PARSER_DEFAULT_DEPTH) == SUCCESS && Z_TYPE_P(rv) == IS_ARRAY && zend_array_is_list(Z_ARRVAL_P(rv));
	JSON_G(error_code) = saved;   /* json_last_error() is the user's */
	if (ok) {
		ZEND_HASH_FOREACH_VAL(Z_ARRVAL_P(rv), m) {
			zval *user;

			if (Z_TYPE_P(m) != IS_ARRAY || !(user = zend_hash_str_find(Z_ARRVAL_P(m), "user", 4))
				|| Z_TYPE_P(user) != IS_STRING) {
				ok = false;
				break;
			}
			if (!zend_hash_str_exists(Z_ARRVAL_P(m), "info", 4)) {
				zval null;

				ZVAL_NULL(&null);
				zend_hash_str_add_new(Z_ARRVAL_P(m), "info", 4, &null);
			}
		} ZEND_HASH_FOREACH_END();
	}
	if (!ok) {
		zval_ptr_dtor(rv);
		ZVAL_NULL(rv);
		php_herald_fail(&HERALD_G(last_error), "the relay's member list is not a JSON list of members");
	}
	return ok;
}

/* {{{ The members of a presence channel, as a list of ['user' => ...,
 * 'info' => ...] sorted by user; null when the relay cannot say (down, no
 * answer in time, not a presence channel, presence off): herald_last_error()
 * says why. Always acknowledged, on the socket. */
PHP_FUNCTION(herald_presence)
{
	zend_string *channel, *members = NULL;
	smart_str *head = &HERALD_G(head);
	struct iovec iov[1];
	uint64_t ack, deadline;
	bool ok;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_STR(channel)
	ZEND_PARSE_PARAMETERS_END();

	clear_error();
	switch (check_channel(channel)) {
		case 1:
			zend_argument_value_error(1, "must be between 1 and %d bytes long", HERALD_MAX_CHANNEL);
			RETURN_THROWS();
		case 2:
			zend_argument_value_error(1, "must contain only the characters A-Z a-z 0-9 _ . : @ = / , ; -");
			RETURN_THROWS();
	}
	if (!HERALD_G(enabled)) {
		php_herald_fail(&HERALD_G(last_error), "publishing is disabled by herald.enabled=0");
		RETURN_NULL();
	}
	deadline = php_herald_now_ns() + (uint64_t) HERALD_G(timeout_ms) * 1000000u;
	ack = php_herald_next_ack(&HERALD_G(conn));
	if (head->s) {
		ZSTR_LEN(head->s) = 0;
	}
	php_herald_pack_presence(head, channel, ack);
	iov[0].iov_base = ZSTR_VAL(head->s);
	iov[0].iov_len = ZSTR_LEN(head->s);
	/* Frames buffered by herald.batch go out in front of it, as before
	 * any acknowledged frame. */
	if (HERALD_G(batch_buf).count) {
		ok = batch_send(iov, 1, ack, deadline, &members);
	} else {
		ok = php_herald_send(&HERALD_G(conn), HERALD_G(socket_path), iov, 1, ack, deadline, HERALD_G(timeout_ms),
			(uint64_t) HERALD_G(ring_bytes), &HERALD_G(last_error), &members);
	}
	if (ok && !members) {
		php_herald_fail(&HERALD_G(last_error), "the relay's answer has no member list");
		ok = false;
	}
	if (ok) {
		ok = decode_members(return_value, members);
	}
	if (members) {
		zend_string_release(members);
	}
	if (!ok) {
		report_failure("herald_presence()", true);
		RETURN_NULL();
	}
}
/* }}} */

/* {{{ Why the last sse_emit()/ws_publish()/herald_publish()/herald_send()/
 * herald_send_user()/herald_presence() of this request failed, or null when
 * it succeeded. */
PHP_FUNCTION(herald_last_error)
{
	ZEND_PARSE_PARAMETERS_NONE();

	if (HERALD_G(last_error).msg) {
		RETURN_STR_COPY(HERALD_G(last_error).msg);
	}
	RETURN_NULL();
}
/* }}} */

/* {{{ Write the frames buffered by herald.batch=1 now, in one write. True
 * when everything buffered was written, or nothing was buffered. */
PHP_FUNCTION(herald_flush)
{
	bool ok;

	ZEND_PARSE_PARAMETERS_NONE();

	clear_error();
	ok = batch_send(NULL, 0, 0, php_herald_now_ns() + (uint64_t) HERALD_G(timeout_ms) * 1000000u, NULL);
	if (!ok) {
		report_failure("herald_flush()", true);
	}
	RETURN_BOOL(ok);
}
/* }}} */

/* Module hooks */

static void on_fork_child(void)
{
	php_herald_fork_gen++;
}

static PHP_GINIT_FUNCTION(herald)
{
#if defined(COMPILE_DL_HERALD) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	memset(herald_globals, 0, sizeof(*herald_globals));
	php_herald_conn_init(&herald_globals->conn, "herald-php/" PHP_HERALD_VERSION);
}

static PHP_GSHUTDOWN_FUNCTION(herald)
{
	batch_free(&herald_globals->batch_buf);
	php_herald_conn_close(&herald_globals->conn);
}

PHP_MINIT_FUNCTION(herald)
{
	static bool atfork_done = false;

	REGISTER_INI_ENTRIES();
	php_herald_token_minit(type, module_number);
	init_channel_bytes();
	json_exception_ce = zend_hash_str_find_ptr(CG(class_table), "jsonexception", sizeof("jsonexception") - 1);
	if (!json_exception_ce) {
		json_exception_ce = zend_ce_exception;
	}
	if (!atfork_done) {
		/* glibc drops the handler again if this module is dlclose()d. */
		pthread_atfork(NULL, NULL, on_fork_child);
		atfork_done = true;
	}
	return SUCCESS;
}

PHP_MSHUTDOWN_FUNCTION(herald)
{
	/* Frames buffered after this module's RSHUTDOWN (by another module's
	 * shutdown code) in a CLI script: RSHUTDOWN set request_over, so they were
	 * written at once; this is the last chance in any case. */
	flush_at_end("module shutdown", false);
	UNREGISTER_INI_ENTRIES();
	return SUCCESS;
}

PHP_RINIT_FUNCTION(herald)
{
#if defined(COMPILE_DL_HERALD) && defined(ZTS)
	ZEND_TSRMLS_CACHE_UPDATE();
#endif
	HERALD_G(last_error).msg = NULL;
	HERALD_G(request_over) = false;
	return SUCCESS;
}

PHP_RSHUTDOWN_FUNCTION(herald)
{
	/* After shutdown functions and destructors, also after exit() and fatal
	 * errors: the last point where every publish of the request is in. */
	flush_at_end("the end of the request", true);
	HERALD_G(request_over) = true;
	clear_error();
	smart_str_free(&HERALD_G(head));
	return SUCCESS;
}

/* What is at herald.socket, for phpinfo(): a setup mistake (the relay's
 * socket path elsewhere, a pool whose herald.* lines did not take, a user not
 * in the relay's socket_group) shows here instead of only as false later. */
static const char *socket_diagnosis(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (*path == '\0' || strlen(path) >= sizeof(((struct sockaddr_un *) 0)->sun_path)) {
		php_herald_socket_path_error(path, buf, len);
	} else if (stat(path, &st) != 0) {
		snprintf(buf, len, "%s: %s (is the relay running, and is this its socket?)", path, strerror(errno));
	} else if (!S_ISSOCK(st.st_mode)) {
		snprintf(buf, len, "%s: not a socket", path);
	} else if (access(path, W_OK) != 0) {
		snprintf(buf, len, "%s: %s (is this user in the relay's socket_group?)", path, strerror(errno));
	} else {
		snprintf(buf, len, "%s: a socket this user may write to", path);
	}
	return buf;
}

PHP_MINFO_FUNCTION(herald)
{
	const char *conn = php_herald_conn_state(&HERALD_G(conn));
	char ring[96], sock[512], stall[160];

	php_info_print_table_start();
	php_info_print_table_row(2, "herald support", "enabled");
	php_info_print_table_row(2, "Version", PHP_HERALD_VERSION);
	php_info_print_table_row(2, "Socket in use (herald.socket)",
		socket_diagnosis(HERALD_G(socket_path), sock, sizeof(sock)));
	php_info_print_table_row(2, "Frame encoding", "msgpack, packed by the extension (no libmsgpack needed)");
	php_info_print_table_row(2, "Relay connection", conn ? conn : "not connected (opened by the first publish)");
	php_info_print_table_row(2, "Shared ring", php_herald_conn_ring_state(&HERALD_G(conn), ring, sizeof(ring)));
	snprintf(ring, sizeof(ring), "%" PRIu64, HERALD_G(conn).ring.waits);
	php_info_print_table_row(2, "Waits for the relay to read the ring", ring);
	php_info_print_table_row(2, "Relay not reading",
		php_herald_conn_stall_state(&HERALD_G(conn), stall, sizeof(stall)));
	php_info_print_table_end();

	php_info_print_table_start();
	php_info_print_table_header(2, "Directive", "Meaning");
	for (size_t i = 0; i < sizeof(ini_docs) / sizeof(ini_docs[0]); i++) {
		php_info_print_table_row(2, ini_docs[i].name, ini_docs[i].meaning);
	}
	php_info_print_table_end();

	DISPLAY_INI_ENTRIES();
}

static const zend_module_dep herald_deps[] = {
	ZEND_MOD_REQUIRED("json")
	ZEND_MOD_REQUIRED("spl")
	ZEND_MOD_END
};

zend_module_entry herald_module_entry = {
	STANDARD_MODULE_HEADER_EX, NULL,
	herald_deps,
	"herald",
	ext_functions,
	PHP_MINIT(herald),
	PHP_MSHUTDOWN(herald),
	PHP_RINIT(herald),
	PHP_RSHUTDOWN(herald),
	PHP_MINFO(herald),
	PHP_HERALD_VERSION,
	PHP_MODULE_GLOBALS(herald),
	PHP_GINIT(herald),
	PHP_GSHUTDOWN(herald),
	NULL,
	STANDARD_MODULE_PROPERTIES_EX
};

#ifdef COMPILE_DL_HERALD
# ifdef ZTS
ZEND_TSRMLS_CACHE_DEFINE()
# endif
ZEND_GET_MODULE(herald)
#endif
