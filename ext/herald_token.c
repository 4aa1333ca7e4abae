/* SPDX-License-Identifier: MIT
 * herald_token.c: herald_token(array $channels, int $ttl = 3600): string
 * mints the tokens the relay asks for: a compact JWT, HS256 over the shared
 * secret herald.secret. A list of channels makes a subscription token for
 * private channels, {"channels": [...], "iat": now, "exp": now + ttl}; an
 * array of claims, ['channels' => [...], 'publish' => [...]] (either or
 * both), makes a token with those lists, "publish" being what the HTTP
 * publish API (POST /publish) lets its bearer publish to. HMAC-SHA256 comes
 * from PHP's own ext/hash (always built in), so the extension still needs
 * nothing beyond PHP. The relay's verifier is relay/src/codec/token.c.
 *
 * herald.secret is PHP_INI_SYSTEM | PHP_INI_PERDIR: php.ini, a pool's
 * php_admin_value or .user.ini may set it, ini_set() may not, so code that
 * only runs in a request cannot swap the key; phpinfo() shows it masked. */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "herald_token.h"
#include "herald_pack.h"

#include "ext/date/php_date.h"
#include "ext/hash/php_hash.h"
#include "SAPI.h"
#include "ext/standard/info.h"
#include "zend_smart_str.h"

#include <time.h>

#define HERALD_TOKEN_MAX_CHANNELS 256
#define HERALD_TOKEN_MAX_TTL      (86400 * 366)
/* The relay refuses a longer token (HR_TOKEN_MAX, relay/src/codec/token.h;
 * PROTOCOL.md 2.7): minting one would only move the error to the browser. */
#define HERALD_TOKEN_MAX          4096
#define HERALD_TOKEN_SIG_LEN      44   /* "." and 43 base64url characters of HMAC-SHA256 */

static ZEND_INI_DISP(display_secret)
{
	zend_string *v = type == ZEND_INI_DISPLAY_ORIG && ini_entry->modified ? ini_entry->orig_value : ini_entry->value;

	if (v && ZSTR_LEN(v)) {
		PUTS("********");   /* set, and not for the page to show */
	} else {
		PUTS(sapi_module.phpinfo_as_text ? "no value" : "<i>no value</i>");
	}
}

PHP_INI_BEGIN()
	PHP_INI_ENTRY_EX("herald.secret", "", PHP_INI_SYSTEM | PHP_INI_PERDIR, NULL, display_secret)
PHP_INI_END()

void php_herald_token_minit(int type, int module_number)
{
	zend_register_ini_entries(ini_entries, module_number);
}

/* A claims entry: a channel name (1-200 bytes of [A-Za-z0-9_.:@=/,;-]), or a
 * prefix of one followed by '*', or "*" alone (every channel). */
static bool entry_valid(const zend_string *s)
{
	size_t len = ZSTR_LEN(s);
	const unsigned char *p = (const unsigned char *) ZSTR_VAL(s);

	if (len > 0 && p[len - 1] == '*') {
		len--;
		if (len == 0) {
			return true;
		}
	}
	if (len == 0 || len > HERALD_MAX_CHANNEL) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c != 0 && strchr("_.:@=/,;-", c)))) {
			return false;
		}
	}
	return true;
}

static void b64url_append(smart_str *out, const unsigned char *s, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
		smart_str_appendc(out, a[v >> 18]);
		smart_str_appendc(out, a[(v >> 12) & 63]);
		smart_str_appendc(out, a[(v >> 6) & 63]);
		smart_str_appendc(out, a[v & 63]);
	}
	if (n - i == 1) {
		smart_str_appendc(out, a[s[i] >> 2]);
		smart_str_appendc(out, a[(s[i] & 3) << 4]);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t) s[i] << 8 | s[i + 1];
		smart_str_appendc(out, a[v >> 10]);
		smart_str_appendc(out, a[(v >> 4) & 63]);
		smart_str_appendc(out, a[(v & 15) << 2]);
	}
}

/* HMAC (RFC 2104) with ext/hash's SHA-256 ops; out gets 32 bytes. */
bool php_herald_hmac_sha256(const unsigned char *key, size_t keylen, const unsigned char *msg, size_t len, unsigned char *out)
{
	zend_string *algo = zend_string_init("sha256", 6, 0);
	const php_hash_ops *ops = php_hash_fetch_ops(algo);
	zend_string_release(algo);
	if (ops == NULL || ops->digest_size != 32 || ops->block_size > 128) {
		return false;
	}
	unsigned char k[128] = {0}, pad[128], inner[32];
	void *ctx = emalloc(ops->context_size);

	if (keylen > ops->block_size) {
		ops->hash_init(ctx, NULL);
		ops->hash_update(ctx, key, keylen);
		ops->hash_final(k, ctx);
	} else {
		memcpy(k, key, keylen);
	}
	for (size_t i = 0; i < ops->block_size; i++) {
		pad[i] = k[i] ^ 0x36;
	}
	ops->hash_init(ctx, NULL);
	ops->hash_update(ctx, pad, ops->block_size);
	ops->hash_update(ctx, msg, len);
	ops->hash_final(inner, ctx);
	for (size_t i = 0; i < ops->block_size; i++) {
		pad[i] = k[i] ^ 0x5c;
	}
	ops->hash_init(ctx, NULL);
	ops->hash_update(ctx, pad, ops->block_size);
	ops->hash_update(ctx, inner, sizeof inner);
	ops->hash_final(out, ctx);
	/* The key must not outlive the call in freed memory. */
	ZEND_SECURE_ZERO(k, sizeof k);
	ZEND_SECURE_ZERO(pad, sizeof pad);
	ZEND_SECURE_ZERO(ctx, ops->context_size);
	efree(ctx);
	return true;
}

/* The claims a token lists: channels it may subscribe to, channels it may
 * publish to; NULL when absent. */
typedef struct {
	HashTable *channels;
	HashTable *publish;
} token_claims;

/* Check one list claim (what: "" for the plain list, "['publish']"). */
static bool check_list(HashTable *list, const char *what)
{
	zval *zv;
	uint32_t n = zend_hash_num_elements(list);

	if (n == 0 || n > HERALD_TOKEN_MAX_CHANNELS) {
		zend_argument_value_error(1, "%smust contain 1 to %d channel names or patterns", what, HERALD_TOKEN_MAX_CHANNELS);
		return false;
	}
	ZEND_HASH_FOREACH_VAL(list, zv) {
		ZVAL_DEREF(zv);
		if (Z_TYPE_P(zv) != IS_STRING) {
			zend_argument_type_error(1, "%smust contain only strings, %s given", what, zend_zval_type_name(zv));
			return false;
		}
		if (!entry_valid(Z_STR_P(zv))) {
			zend_argument_value_error(1, "%scontains \"%s\", which is neither a channel name nor a prefix followed by *",
				what, ZSTR_LEN(Z_STR_P(zv)) > 64 ? "(a long string)" : ZSTR_VAL(Z_STR_P(zv)));
			return false;
		}
	} ZEND_HASH_FOREACH_END();
	return true;
}

/* A list of channels (integer keys: what herald_token() always took), or
 * an array of claims (string keys "channels" and "publish", at least one). */
static bool read_claims(HashTable *arg, token_claims *out)
{
	zend_string *key;
	zend_ulong idx;
	zval *zv;
	bool named = false, listed = false;

	out->channels = out->publish = NULL;
	ZEND_HASH_FOREACH_KEY(arg, idx, key) {
		(void) idx;
		if (key) {
			named = true;
		} else {
			listed = true;
		}
	} ZEND_HASH_FOREACH_END();
	if (!named) {
		out->channels = arg;
		return check_list(arg, "");
	}
	if (listed) {
		zend_argument_value_error(1, "must be a list of channels or an array of claims ('channels', 'publish'), not both");
		return false;
	}
	ZEND_HASH_FOREACH_STR_KEY_VAL(arg, key, zv) {
		HashTable **slot;
		const char *what;
		ZVAL_DEREF(zv);
		if (zend_string_equals_literal(key, "channels")) {
			slot = &out->channels;
			what = "['channels'] ";
		} else if (zend_string_equals_literal(key, "publish")) {
			slot = &out->publish;
			what = "['publish'] ";
		} else {
			zend_argument_value_error(1, "has an unknown claim \"%s\" (claims are 'channels' and 'publish')",
				ZSTR_LEN(key) > 64 ? "(a long string)" : ZSTR_VAL(key));
			return false;
		}
		if (Z_TYPE_P(zv) != IS_ARRAY) {
			zend_argument_type_error(1, "%smust be of type array, %s given", what, zend_zval_type_name(zv));
			return false;
		}
		*slot = Z_ARRVAL_P(zv);
		if (!check_list(*slot, what)) {
			return false;
		}
	} ZEND_HASH_FOREACH_END();
	return true;
}

/* "name":["a","b"] into claims; entries are validated, so they need no
 * JSON escaping. */
static void append_list(smart_str *claims, const char *name, HashTable *list)
{
	zval *zv;
	bool first = true;

	smart_str_appendc(claims, '"');
	smart_str_appends(claims, name);
	smart_str_appends(claims, "\":[");
	ZEND_HASH_FOREACH_VAL(list, zv) {
		ZVAL_DEREF(zv);
		if (!first) {
			smart_str_appendc(claims, ',');
		}
		first = false;
		smart_str_appendc(claims, '"');
		smart_str_append(claims, Z_STR_P(zv));
		smart_str_appendc(claims, '"');
	} ZEND_HASH_FOREACH_END();
	smart_str_appends(claims, "],");
}

PHP_FUNCTION(herald_token)
{
	HashTable *channels;
	zend_long ttl = 3600;
	token_claims tc;

	ZEND_PARSE_PARAMETERS_START(1, 2)
		Z_PARAM_ARRAY_HT(channels)
		Z_PARAM_OPTIONAL
		Z_PARAM_LONG(ttl)
	ZEND_PARSE_PARAMETERS_END();

	if (!read_claims(channels, &tc)) {
		RETURN_THROWS();
	}
	if (ttl < 1 || ttl > HERALD_TOKEN_MAX_TTL) {
		zend_argument_value_error(2, "must be between 1 and %d seconds", HERALD_TOKEN_MAX_TTL);
		RETURN_THROWS();
	}

	bool exists = false;
	const char *secret = zend_ini_string_ex("herald.secret", sizeof("herald.secret") - 1, 0, &exists);
	size_t secret_len = secret ? strlen(secret) : 0;
	if (secret_len < HERALD_TOKEN_MIN_SECRET) {
		zend_throw_error(NULL, "herald_token(): herald.secret must be set to at least %d bytes (the relay's secret)",
			HERALD_TOKEN_MIN_SECRET);
		RETURN_THROWS();
	}

	/* PHP's own clock (gettimeofday), as its time() reads: libc's time()
	 * reads a coarse clock that can still say the last second, and iat
	 * would then precede the script's time(). */
	time_t now = php_time();
	smart_str claims = {0};
	smart_str_appendc(&claims, '{');
	if (tc.channels) {
		append_list(&claims, "channels", tc.channels);
	}
	if (tc.publish) {
		append_list(&claims, "publish", tc.publish);
	}
	smart_str_appends(&claims, "\"iat\":");
	smart_str_append_long(&claims, (zend_long) now);
	smart_str_appends(&claims, ",\"exp\":");
	smart_str_append_long(&claims, (zend_long) now + ttl);
	smart_str_appendc(&claims, '}');
	smart_str_0(&claims);

	/* {"alg":"HS256","typ":"JWT"} */
	smart_str tok = {0};
	smart_str_appends(&tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.");
	b64url_append(&tok, (const unsigned char *) ZSTR_VAL(claims.s), ZSTR_LEN(claims.s));
	smart_str_free(&claims);
	if (ZSTR_LEN(tok.s) + HERALD_TOKEN_SIG_LEN > HERALD_TOKEN_MAX) {
		size_t len = ZSTR_LEN(tok.s) + HERALD_TOKEN_SIG_LEN;

		smart_str_free(&tok);
		zend_argument_value_error(1, "makes a token of %zu bytes, more than the %d the relay accepts "
			"(name fewer or shorter channels, or a prefix followed by *)", len, HERALD_TOKEN_MAX);
		RETURN_THROWS();
	}

	unsigned char mac[32];
	if (!php_herald_hmac_sha256((const unsigned char *) secret, secret_len, (const unsigned char *) ZSTR_VAL(tok.s), ZSTR_LEN(tok.s), mac)) {
		smart_str_free(&tok);
		zend_throw_error(NULL, "herald_token(): SHA-256 is not available from ext/hash");
		RETURN_THROWS();
	}
	smart_str_appendc(&tok, '.');
	b64url_append(&tok, mac, sizeof mac);
	smart_str_0(&tok);
	RETURN_STR(smart_str_extract(&tok));
}
