/* SPDX-License-Identifier: MIT
 * herald_pack.c: msgpack packing of pub and hello frames into a smart_str,
 * decoding of the relay's ack and ring replies, and the UTF-8 check that text payloads
 * must pass. Pure: herald.c and herald_sock.c call it; it never touches a
 * socket or a global. See herald_pack.h for why msgpack is packed by hand. */

#ifdef HAVE_CONFIG_H
# include "config.h"
#endif

#include "herald_pack.h"

/* Big-endian stores; msgpack is big-endian throughout. */
static zend_always_inline void put_u8(smart_str *out, uint8_t tag, uint8_t v)
{
	char b[2] = { (char) tag, (char) v };
	smart_str_appendl(out, b, 2);
}

static zend_always_inline void put_u16(smart_str *out, uint8_t tag, uint16_t v)
{
	char b[3] = { (char) tag, (char) (v >> 8), (char) v };
	smart_str_appendl(out, b, 3);
}

static zend_always_inline void put_u32(smart_str *out, uint8_t tag, uint32_t v)
{
	char b[5] = { (char) tag, (char) (v >> 24), (char) (v >> 16), (char) (v >> 8), (char) v };
	smart_str_appendl(out, b, 5);
}

static zend_always_inline void put_u64(smart_str *out, uint8_t tag, uint64_t v)
{
	char b[9];
	b[0] = (char) tag;
	for (int i = 0; i < 8; i++) {
		b[1 + i] = (char) (v >> (56 - 8 * i));
	}
	smart_str_appendl(out, b, 9);
}

static void pack_uint(smart_str *out, uint64_t v)
{
	if (v < 0x80) {
		smart_str_appendc(out, (char) v);                 /* positive fixint */
	} else if (v <= 0xff) {
		put_u8(out, 0xcc, (uint8_t) v);
	} else if (v <= 0xffff) {
		put_u16(out, 0xcd, (uint16_t) v);
	} else if (v <= 0xffffffffu) {
		put_u32(out, 0xce, (uint32_t) v);
	} else {
		put_u64(out, 0xcf, v);
	}
}

static void pack_str_header(smart_str *out, size_t len)
{
	if (len < 32) {
		smart_str_appendc(out, (char) (0xa0 | len));     /* fixstr */
	} else if (len <= 0xff) {
		put_u8(out, 0xd9, (uint8_t) len);
	} else if (len <= 0xffff) {
		put_u16(out, 0xda, (uint16_t) len);
	} else {
		put_u32(out, 0xdb, (uint32_t) len);
	}
}

static void pack_bin_header(smart_str *out, size_t len)
{
	if (len <= 0xff) {
		put_u8(out, 0xc4, (uint8_t) len);
	} else if (len <= 0xffff) {
		put_u16(out, 0xc5, (uint16_t) len);
	} else {
		put_u32(out, 0xc6, (uint32_t) len);
	}
}

static void pack_str(smart_str *out, const char *s, size_t len)
{
	pack_str_header(out, len);
	smart_str_appendl(out, s, len);
}

/* Keys are short literals: fixstr. */
#define PACK_KEY(out, lit) pack_str((out), (lit), sizeof(lit) - 1)

static void pack_map_header(smart_str *out, uint32_t n)
{
	if (n < 16) {
		smart_str_appendc(out, (char) (0x80 | n));       /* fixmap */
	} else if (n <= 0xffff) {
		put_u16(out, 0xde, (uint16_t) n);
	} else {
		put_u32(out, 0xdf, n);
	}
}

static void pack_array_header(smart_str *out, uint32_t n)
{
	if (n < 16) {
		smart_str_appendc(out, (char) (0x90 | n));       /* fixarray */
	} else if (n <= 0xffff) {
		put_u16(out, 0xdc, (uint16_t) n);
	} else {
		put_u32(out, 0xdd, n);
	}
}

void php_herald_pack_pub(smart_str *out, const php_herald_pub *pub)
{
	uint32_t keys = 5;   /* op, t, ch or mercure, ts, data */

	keys += pub->event != NULL;
	keys += pub->except != NULL;
	keys += pub->retry > 0;
	keys += pub->ack != 0;
	keys += pub->json;
	pack_map_header(out, keys);

	PACK_KEY(out, "op");
	PACK_KEY(out, "pub");
	PACK_KEY(out, "t");
	pack_str(out, pub->t, strlen(pub->t));

	if (pub->mercure) {
		const php_herald_mercure *m = pub->mercure;

		PACK_KEY(out, "mercure");
		pack_map_header(out, m->priv ? 3 : 2);
		PACK_KEY(out, "id");
		pack_str(out, ZSTR_VAL(m->id), ZSTR_LEN(m->id));
		PACK_KEY(out, "topics");
		pack_array_header(out, m->ntopics);
		for (uint32_t i = 0; i < m->ntopics; i++) {
			pack_str(out, ZSTR_VAL(m->topics[i]), ZSTR_LEN(m->topics[i]));
		}
		if (m->priv) {
			PACK_KEY(out, "private");
			smart_str_appendc(out, (char) 0xc3);         /* true */
		}
	} else if (!pub->channel) {
		PACK_KEY(out, "ch");
		pack_array_header(out, pub->nchannels);
		for (uint32_t i = 0; i < pub->nchannels; i++) {
			pack_str(out, ZSTR_VAL(pub->channels[i]), ZSTR_LEN(pub->channels[i]));
		}
	} else {
		PACK_KEY(out, "ch");
		pack_str(out, ZSTR_VAL(pub->channel), ZSTR_LEN(pub->channel));
	}

	if (pub->event) {
		PACK_KEY(out, "event");
		pack_str(out, ZSTR_VAL(pub->event), ZSTR_LEN(pub->event));
	}
	if (pub->except) {
		PACK_KEY(out, "except");
		pack_str(out, ZSTR_VAL(pub->except), ZSTR_LEN(pub->except));
	}
	if (pub->retry > 0) {
		PACK_KEY(out, "retry");
		pack_uint(out, (uint64_t) pub->retry);
	}
	if (pub->ack) {
		PACK_KEY(out, "ack");
		pack_uint(out, pub->ack);
	}
	if (pub->json) {
		/* The relay checks the text is JSON; herald.v1 embeds it as a value. */
		PACK_KEY(out, "json");
		smart_str_appendc(out, (char) 0xc3);             /* true */
	}

	/* Fixed width on purpose: see herald_pack.h. */
	PACK_KEY(out, "ts");
	put_u64(out, 0xcf, pub->ts);

	PACK_KEY(out, "data");
	if (pub->data_bin) {
		pack_bin_header(out, pub->data_len);
	} else {
		pack_str_header(out, pub->data_len);
	}
}

void php_herald_pack_send(smart_str *out, const php_herald_pub *pub)
{
	uint32_t keys = 4;   /* op, conn or user, ts, data */

	keys += pub->data_bin;
	keys += pub->ack != 0;
	keys += pub->json;
	pack_map_header(out, keys);

	PACK_KEY(out, "op");
	PACK_KEY(out, "send");
	if (pub->conn) {
		PACK_KEY(out, "conn");
		pack_str(out, ZSTR_VAL(pub->conn), ZSTR_LEN(pub->conn));
	} else {
		PACK_KEY(out, "user");
		pack_str(out, ZSTR_VAL(pub->user), ZSTR_LEN(pub->user));
	}
	if (pub->data_bin) {
		PACK_KEY(out, "binary");
		smart_str_appendc(out, (char) 0xc3);             /* true */
	}
	if (pub->ack) {
		PACK_KEY(out, "ack");
		pack_uint(out, pub->ack);
	}
	if (pub->json) {
		PACK_KEY(out, "json");
		smart_str_appendc(out, (char) 0xc3);
	}
	PACK_KEY(out, "ts");
	put_u64(out, 0xcf, pub->ts);

	PACK_KEY(out, "data");
	if (pub->data_bin) {
		pack_bin_header(out, pub->data_len);
	} else {
		pack_str_header(out, pub->data_len);
	}
}

void php_herald_pack_presence(smart_str *out, const zend_string *channel, uint64_t ack)
{
	pack_map_header(out, 3);
	PACK_KEY(out, "op");
	PACK_KEY(out, "presence");
	PACK_KEY(out, "ch");
	pack_str(out, ZSTR_VAL(channel), ZSTR_LEN(channel));
	PACK_KEY(out, "ack");
	pack_uint(out, ack);
}

void php_herald_pack_hello(smart_str *out, const char *client, uint64_t pid, uint64_t ring)
{
	pack_map_header(out, ring ? 5 : 4);
	PACK_KEY(out, "op");
	PACK_KEY(out, "hello");
	PACK_KEY(out, "v");
	pack_uint(out, HERALD_PROTOCOL_VERSION);
	PACK_KEY(out, "client");
	pack_str(out, client, strlen(client));
	PACK_KEY(out, "pid");
	pack_uint(out, pid);
	if (ring) {
		PACK_KEY(out, "ring");
		pack_uint(out, ring);
	}
}

/* A reader over buf[0..len). A short read is not an error: it means that
 * more bytes have to arrive, and is reported as NEED_MORE. */
typedef struct reader {
	const unsigned char *p;
	const unsigned char *end;
} reader;

#define NEED_MORE  0
#define MALFORMED -1
#define OK         1

/* The kinds of value a reply can hold that we look at. */
enum kind { K_NIL, K_BOOL, K_UINT, K_INT, K_FLOAT, K_STR, K_BIN, K_ARRAY, K_MAP, K_EXT };

typedef struct value {
	enum kind kind;
	uint64_t u;             /* uint, bool, or the element count of array/map */
	const char *s;          /* str/bin/ext bytes */
	size_t len;
} value;

static int take(reader *r, size_t n, const unsigned char **at)
{
	if ((size_t) (r->end - r->p) < n) {
		return NEED_MORE;
	}
	*at = r->p;
	r->p += n;
	return OK;
}

static uint64_t be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v = (v << 8) | p[i];
	}
	return v;
}

/* Read one value's header, and for str/bin/ext its bytes as well; arrays
 * and maps leave their elements to the caller. */
static int read_value(reader *r, value *v)
{
	const unsigned char *b;
	size_t n = 0;
	int rc;

	if ((rc = take(r, 1, &b)) != OK) {
		return rc;
	}
	unsigned char c = *b;

	if (c <= 0x7f) { v->kind = K_UINT; v->u = c; return OK; }
	if (c >= 0xe0) { v->kind = K_INT; v->u = 0; return OK; }
	if ((c & 0xf0) == 0x80) { v->kind = K_MAP; v->u = c & 0x0f; return OK; }
	if ((c & 0xf0) == 0x90) { v->kind = K_ARRAY; v->u = c & 0x0f; return OK; }
	if ((c & 0xe0) == 0xa0) { v->kind = K_STR; n = c & 0x1f; goto bytes; }

	switch (c) {
		case 0xc0: v->kind = K_NIL; return OK;
		case 0xc2: v->kind = K_BOOL; v->u = 0; return OK;
		case 0xc3: v->kind = K_BOOL; v->u = 1; return OK;
		case 0xcc: case 0xcd: case 0xce: case 0xcf: {
			size_t w = (size_t) 1 << (c - 0xcc);
			if ((rc = take(r, w, &b)) != OK) {
				return rc;
			}
			v->kind = K_UINT;
			v->u = be(b, w);
			return OK;
		}
		case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
			size_t w = (size_t) 1 << (c - 0xd0);
			if ((rc = take(r, w, &b)) != OK) {
				return rc;
			}
			/* A negative-capable encoder may send a small positive number
			 * as intN; keep non-negative values usable as unsigned. */
			v->u = be(b, w);
			v->kind = (b[0] & 0x80) ? K_INT : K_UINT;
			return OK;
		}
		case 0xca: case 0xcb:
			v->kind = K_FLOAT;
			return take(r, c == 0xca ? 4 : 8, &b);
		case 0xd9: case 0xda: case 0xdb:
		case 0xc4: case 0xc5: case 0xc6: {
			size_t w = (size_t) 1 << ((c >= 0xd9 ? c - 0xd9 : c - 0xc4));
			if ((rc = take(r, w, &b)) != OK) {
				return rc;
			}
			v->kind = c >= 0xd9 ? K_STR : K_BIN;
			n = (size_t) be(b, w);
			goto bytes;
		}
		case 0xdc: case 0xdd: case 0xde: case 0xdf: {
			size_t w = (c == 0xdc || c == 0xde) ? 2 : 4;
			if ((rc = take(r, w, &b)) != OK) {
				return rc;
			}
			v->kind = c <= 0xdd ? K_ARRAY : K_MAP;
			v->u = be(b, w);
			return OK;
		}
		case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
			/* fixext 1, 2, 4, 8, 16: a type byte and the data. */
			v->kind = K_EXT;
			n = ((size_t) 1 << (c - 0xd4)) + 1;
			goto bytes;
		case 0xc7: case 0xc8: case 0xc9: {
			size_t w = (size_t) 1 << (c - 0xc7);
			if ((rc = take(r, w, &b)) != OK) {
				return rc;
			}
			v->kind = K_EXT;
			n = (size_t) be(b, w) + 1;
			goto bytes;
		}
		default:
			return MALFORMED;   /* 0xc1 is never used */
	}

bytes:
	if ((rc = take(r, n, &b)) != OK) {
		return rc;
	}
	v->s = (const char *) b;
	v->len = n;
	return OK;
}

/* Skip one whole value, nested ones included. Replies are small and flat;
 * the depth limit only stops a hostile peer from recursing us to death. */
static int skip_value(reader *r, int depth)
{
	value v;
	int rc;

	if (depth > 32) {
		return MALFORMED;
	}
	if ((rc = read_value(r, &v)) != OK) {
		return rc;
	}
	if (v.kind == K_ARRAY || v.kind == K_MAP) {
		uint64_t n = v.kind == K_MAP ? v.u * 2 : v.u;
		for (uint64_t i = 0; i < n; i++) {
			if ((rc = skip_value(r, depth + 1)) != OK) {
				return rc;
			}
		}
	}
	return OK;
}

static bool key_is(const value *k, const char *lit, size_t len)
{
	return k->kind == K_STR && k->len == len && memcmp(k->s, lit, len) == 0;
}
#define KEY_IS(k, lit) key_is((k), (lit), sizeof(lit) - 1)

ssize_t php_herald_unpack_reply(const char *buf, size_t len, php_herald_reply *reply)
{
	reader r = { (const unsigned char *) buf, (const unsigned char *) buf + len };
	value m;
	int rc;

	memset(reply, 0, sizeof(*reply));
	if ((rc = read_value(&r, &m)) != OK) {
		return rc;
	}
	if (m.kind != K_MAP) {
		return MALFORMED;
	}
	for (uint64_t i = 0; i < m.u; i++) {
		value k;
		const unsigned char *val_at;

		if ((rc = read_value(&r, &k)) != OK) {
			return rc;
		}
		if (k.kind == K_ARRAY || k.kind == K_MAP) {
			return MALFORMED;   /* keys are strings by contract */
		}
		val_at = r.p;
		if ((rc = skip_value(&r, 0)) != OK) {
			return rc;
		}
		/* The value is complete: read it again as a scalar where we want it. */
		reader vr = { val_at, r.p };
		value v;
		read_value(&vr, &v);

		if (KEY_IS(&k, "op")) {
			reply->is_ack = v.kind == K_STR && v.len == 3 && memcmp(v.s, "ack", 3) == 0;
			reply->is_ring = v.kind == K_STR && v.len == 4 && memcmp(v.s, "ring", 4) == 0;
			reply->is_refused = v.kind == K_STR && v.len == 7 && memcmp(v.s, "refused", 7) == 0;
		} else if (KEY_IS(&k, "ack")) {
			if (v.kind == K_UINT) {
				reply->has_ack = true;
				reply->ack = v.u;
			}
		} else if (KEY_IS(&k, "size")) {
			if (v.kind == K_UINT) {
				reply->has_size = true;
				reply->size = v.u;
			}
		} else if (KEY_IS(&k, "ok")) {
			reply->ok = v.kind == K_BOOL && v.u;
		} else if (KEY_IS(&k, "id")) {
			if (v.kind == K_STR) {
				reply->id = v.s;
				reply->id_len = v.len;
			}
		} else if (KEY_IS(&k, "error")) {
			if (v.kind == K_STR) {
				reply->error = v.s;
				reply->error_len = v.len;
			}
		} else if (KEY_IS(&k, "members")) {
			if (v.kind == K_STR) {
				reply->members = v.s;
				reply->members_len = v.len;
			}
		}
	}
	return (ssize_t) (r.p - (const unsigned char *) buf);
}

int php_herald_utf8_valid(const unsigned char *s, size_t len)
{
	const unsigned char *end = s + len;

	while (s < end) {
		/* ASCII runs are the common case: eight bytes at a time. */
		while (end - s >= 8) {
			uint64_t w;
			memcpy(&w, s, 8);
			if (w & UINT64_C(0x8080808080808080)) {
				break;
			}
			s += 8;
		}
		if (s == end) {
			break;
		}
		unsigned char c = *s;
		if (c < 0x80) {
			s++;
			continue;
		}
		/* Unicode 15, table 3-7: the well-formed byte sequences. */
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0) {
				lo = 0xa0;          /* no overlong forms */
			} else if (c == 0xed) {
				hi = 0x9f;          /* no surrogates */
			}
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0) {
				lo = 0x90;
			} else if (c == 0xf4) {
				hi = 0x8f;          /* nothing above U+10FFFF */
			}
		} else {
			return 0;
		}
		if ((size_t) (end - s) < n || s[1] < lo || s[1] > hi) {
			return 0;
		}
		for (size_t i = 2; i < n; i++) {
			if (s[i] < 0x80 || s[i] > 0xbf) {
				return 0;
			}
		}
		s += n;
	}
	return 1;
}
