/* SPDX-License-Identifier: MIT
 * herald_mercure.c: herald_mercure_channel(string $topic): string, the
 * channel a Mercure topic maps to (the relay's hr_mercure_channel, so that
 * sse_emit(), herald_publish() and /sse?channel= can address a topic), and
 * the argument checks and generated ids of herald_mercure_publish(), whose
 * sending is herald.c's. SHA-256 comes from PHP's ext/hash, random bytes
 * from ext/random: nothing beyond PHP, as for herald_token(). */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "herald_mercure.h"

#include "ext/hash/php_hash.h"
#include "ext/random/php_random.h"
#include "zend_exceptions.h"

/* A Mercure string (topic, id, type): valid UTF-8 with no control
 * character, C0 (U+0000-U+001F), DEL or C1 (U+007F-U+009F): they would end
 * or forge an SSE field. C1 characters are the two bytes C2 80 to C2 9F. */
static bool string_valid(const zend_string *s)
{
	const unsigned char *p = (const unsigned char *) ZSTR_VAL(s);
	size_t len = ZSTR_LEN(s);

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || (p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0)) {
			return false;
		}
	}
	return php_herald_utf8_valid(p, len);
}

static const char valid_msg[] = "must be valid UTF-8 without control characters";

/* One topic (arg 1): 1 to 2048 bytes, a valid string, not the wildcard. */
static bool check_topic(const zend_string *t, bool in_array)
{
	if (ZSTR_LEN(t) == 0 || ZSTR_LEN(t) > HERALD_MERCURE_TOPIC_MAX) {
		zend_argument_value_error(1, in_array ? "must contain topics of 1 to %d bytes" : "must be 1 to %d bytes long",
			HERALD_MERCURE_TOPIC_MAX);
		return false;
	}
	if (!string_valid(t)) {
		zend_argument_value_error(1, in_array ? "must contain topics of valid UTF-8 without control characters"
			: valid_msg);
		return false;
	}
	if (zend_string_equals_literal(t, "*")) {
		zend_argument_value_error(1, "must not be \"*\" (the selector of every topic, not a topic)");
		return false;
	}
	return true;
}

/* A Mercure id the publisher gives (arg 4): what the hub accepts and a
 * Last-Event-ID can name. "#..." is kept for ids the hub makes and
 * "earliest" means the start of the history. */
static bool check_id(const zend_string *id)
{
	if (ZSTR_LEN(id) == 0 || ZSTR_LEN(id) > HERALD_MERCURE_ID_MAX) {
		zend_argument_value_error(4, "must be 1 to %d bytes long", HERALD_MERCURE_ID_MAX);
		return false;
	}
	if (!string_valid(id)) {
		zend_argument_value_error(4, valid_msg);
		return false;
	}
	if (ZSTR_VAL(id)[0] == '#') {
		zend_argument_value_error(4, "must not start with \"#\" (kept for the hub's own ids)");
		return false;
	}
	if (zend_string_equals_literal(id, "earliest")) {
		zend_argument_value_error(4, "must not be \"earliest\" (the Last-Event-ID of the whole history)");
		return false;
	}
	return true;
}

static bool check_type(const zend_string *type)
{
	if (ZSTR_LEN(type) > HERALD_MERCURE_TYPE_MAX) {
		zend_argument_value_error(5, "must be at most %d bytes long", HERALD_MERCURE_TYPE_MAX);
		return false;
	}
	if (!string_valid(type)) {
		zend_argument_value_error(5, valid_msg);
		return false;
	}
	if (zend_string_equals_literal(type, "mercure")) {
		zend_argument_value_error(5, "must not be \"mercure\" (kept for the hub's own events)");
		return false;
	}
	return true;
}

/* urn:uuid: and a random (version 4) UUID, as the hub makes for an update
 * without an id: the caller knows the id without asking the relay. NULL
 * with an exception thrown when the system has no randomness to give. */
static zend_string *new_id(void)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];

	if (php_random_bytes_throw(b, sizeof(b)) == FAILURE) {
		return NULL;
	}
	b[6] = (b[6] & 0x0f) | 0x40;   /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;   /* RFC 4122 variant */

	zend_string *s = zend_string_alloc(sizeof("urn:uuid:") - 1 + 36, 0);
	char *p = ZSTR_VAL(s);

	memcpy(p, "urn:uuid:", sizeof("urn:uuid:") - 1);
	p += sizeof("urn:uuid:") - 1;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			*p++ = '-';
		}
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 15];
	}
	*p = '\0';
	return s;
}

bool php_herald_mercure_take(php_herald_mercure *m, zend_string **small, uint32_t nsmall, zend_string *one,
	HashTable *many, zend_string *id, zend_string **type)
{
	zval *zv;
	uint32_t n = 0;

	memset(m, 0, sizeof(*m));
	if (one) {
		if (!check_topic(one, false)) {
			return false;
		}
	} else {
		n = zend_hash_num_elements(many);
		if (n == 0 || n > HERALD_MERCURE_TOPICS_MAX) {
			zend_argument_value_error(1, "must contain 1 to %d topics", HERALD_MERCURE_TOPICS_MAX);
			return false;
		}
		ZEND_HASH_FOREACH_VAL(many, zv) {
			ZVAL_DEREF(zv);
			if (Z_TYPE_P(zv) != IS_STRING) {
				zend_argument_type_error(1, "must contain only strings, %s given", zend_zval_type_name(zv));
				return false;
			}
			if (!check_topic(Z_STR_P(zv), true)) {
				return false;
			}
		} ZEND_HASH_FOREACH_END();
	}
	if (id && !check_id(id)) {
		return false;
	}
	if (*type && ZSTR_LEN(*type) == 0) {
		*type = NULL;   /* as the hub's form: an empty type is none */
	}
	if (*type && !check_type(*type)) {
		return false;
	}

	m->id = id ? zend_string_copy(id) : new_id();
	if (!m->id) {
		return false;
	}
	if (one) {
		m->topics = small;
		m->topics[m->ntopics++] = zend_string_copy(one);
		return true;
	}
	m->topics = n <= nsmall ? small : safe_emalloc(n, sizeof(zend_string *), 0);
	ZEND_HASH_FOREACH_VAL(many, zv) {
		ZVAL_DEREF(zv);
		m->topics[m->ntopics++] = zend_string_copy(Z_STR_P(zv));
	} ZEND_HASH_FOREACH_END();
	return true;
}

void php_herald_mercure_release(php_herald_mercure *m, zend_string **small)
{
	for (uint32_t i = 0; i < m->ntopics; i++) {
		zend_string_release(m->topics[i]);
	}
	if (m->topics && m->topics != small) {
		efree(m->topics);
	}
	if (m->id) {
		zend_string_release(m->id);
	}
	memset(m, 0, sizeof(*m));
}

/* The bytes a channel name keeps as they are: its alphabet
 * (docs/PROTOCOL.md 1.2) but "=", which starts an escape. */
static bool kept(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
		|| c == ':' || c == '@' || c == '/' || c == ',' || c == ';' || c == '-';
}

/* {{{ The channel of a Mercure topic: its bytes, each byte outside the
 * channel alphabet (and "=") as "=XX"; when that is longer than a channel
 * name may be, "=S" and the SHA-256 of the topic in hex. Injective, as the
 * relay's: "=S" cannot start an escaped name. */
PHP_FUNCTION(herald_mercure_channel)
{
	static const char HEX[] = "0123456789ABCDEF", hex[] = "0123456789abcdef";
	zend_string *topic, *ch;
	size_t len = 0;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_STR(topic)
	ZEND_PARSE_PARAMETERS_END();

	if (ZSTR_LEN(topic) == 0) {
		zend_argument_value_error(1, "must not be empty");
		RETURN_THROWS();
	}
	const unsigned char *p = (const unsigned char *) ZSTR_VAL(topic);

	for (size_t i = 0; i < ZSTR_LEN(topic) && len <= HERALD_MAX_CHANNEL; i++) {
		len += kept(p[i]) ? 1 : 3;
	}
	if (len <= HERALD_MAX_CHANNEL) {
		char *out;

		ch = zend_string_alloc(len, 0);
		out = ZSTR_VAL(ch);
		for (size_t i = 0; i < ZSTR_LEN(topic); i++) {
			if (kept(p[i])) {
				*out++ = (char) p[i];
			} else {
				*out++ = '=';
				*out++ = HEX[p[i] >> 4];
				*out++ = HEX[p[i] & 15];
			}
		}
		*out = '\0';
		RETURN_NEW_STR(ch);
	}

	zend_string *algo = zend_string_init("sha256", 6, 0);
	const php_hash_ops *ops = php_hash_fetch_ops(algo);
	unsigned char digest[32];

	zend_string_release(algo);
	if (ops == NULL || ops->digest_size != 32) {
		zend_throw_error(NULL, "herald_mercure_channel(): SHA-256 is not available from ext/hash");
		RETURN_THROWS();
	}
	void *ctx = emalloc(ops->context_size);

	ops->hash_init(ctx, NULL);
	ops->hash_update(ctx, p, ZSTR_LEN(topic));
	ops->hash_final(digest, ctx);
	efree(ctx);

	ch = zend_string_alloc(2 + 64, 0);
	ZSTR_VAL(ch)[0] = '=';
	ZSTR_VAL(ch)[1] = 'S';
	for (int i = 0; i < 32; i++) {
		ZSTR_VAL(ch)[2 + 2 * i] = hex[digest[i] >> 4];
		ZSTR_VAL(ch)[3 + 2 * i] = hex[digest[i] & 15];
	}
	ZSTR_VAL(ch)[66] = '\0';
	RETURN_NEW_STR(ch);
}
/* }}} */
