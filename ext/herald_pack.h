/* SPDX-License-Identifier: MIT
 * herald_pack.h: the ingest wire format of Contract 1 (docs/PROTOCOL.md 1:
 * msgpack frames), both directions: pub and hello frames out, ack and ring
 * replies in. Pure: no I/O, no globals; herald.c packs, herald_sock.c sends
 * what was packed and decodes the relay's replies (acks, and the answer to a
 * ring request) with php_herald_unpack_reply(). herald_token.c takes only
 * the channel name's limit from here.
 *
 * The few msgpack types a frame needs are packed by hand into a smart_str
 * rather than with libmsgpack (msgpack-c): it is about a hundred lines, it
 * keeps the extension free of a runtime library that pecl and phpize users
 * would have to install first, and it lets a large payload go to the socket
 * straight from its zend_string (the frame ends with the data header, so the
 * data itself is never copied into the buffer). */
#ifndef HERALD_PACK_H
#define HERALD_PACK_H

#include "php.h"
#include "zend_smart_str.h"

/* A channel name is 1 to HERALD_MAX_CHANNEL bytes of [A-Za-z0-9_.:@=/,;-]
 * (docs/PROTOCOL.md 1.2): the limit of "ch" in a pub frame, and of the
 * names herald_token() signs. */
#define HERALD_MAX_CHANNEL 200

/* A connection id (herald_send): 1 to HERALD_MAX_CONN bytes of [a-z0-9.]
 * (docs/PROTOCOL.md 1.2). A user (herald_send_user) is spelled like a
 * channel name. */
#define HERALD_MAX_CONN 64

/* The ingest protocol version this extension speaks (the hello's "v"):
 * 2 added the ops send and presence; 3 the pub key except and the
 * channel name bytes ',' and ';'; 4 the pub key mercure. */
#define HERALD_PROTOCOL_VERSION 4

/* A Mercure update's metadata (the pub key "mercure", docs/PROTOCOL.md):
 * the relay derives the channels from the topics, so such a frame has no
 * "ch". Checked by herald_mercure.c before it gets here. */
typedef struct php_herald_mercure {
	zend_string *id;         /* 1 to 256 bytes */
	zend_string **topics;    /* 1 to 32 topics */
	uint32_t ntopics;
	bool priv;               /* "private": true (absent when false) */
} php_herald_mercure;

/* One publish or send, everything but the payload bytes. */
typedef struct php_herald_pub {
	const char *t;           /* pub: "sse", "ws" or "all" */
	zend_string *conn;       /* send: to this connection ("conn"), */
	zend_string *user;       /* or to every connection of this user ("user") */
	zend_string *channel;    /* one channel: "ch" is a str */
	zend_string **channels;  /* or several (when channel is NULL): "ch" is an array */
	uint32_t nchannels;
	zend_string *event;      /* SSE event name, or NULL */
	zend_string *except;     /* pub: a connection that does not receive it, or NULL */
	zend_long retry;         /* SSE retry hint in ms, 0 for none */
	uint64_t ack;            /* request id, 0 for none */
	uint64_t ts;             /* CLOCK_MONOTONIC ns at the call */
	size_t data_len;         /* payload length (at most UINT32_MAX) */
	bool data_bin;           /* payload is msgpack bin rather than str */
	bool json;               /* payload is JSON this extension encoded: "json": true */
	const php_herald_mercure *mercure;   /* pub: a Mercure update, "mercure" instead of "ch"; or NULL */
} php_herald_pub;

/* Append a pub frame to out, up to and including the header of the data
 * value: the caller sends data_len payload bytes right after it. Keys, in
 * this order: op, t, ch (or mercure: {"id", "topics", "private"}), event,
 * retry, ack, json, ts, data ("json": true only when the payload is JSON;
 * absent otherwise). ts is always a uint 64
 * (0xcf + 8 bytes) so every frame of one shape has the same length. */
void php_herald_pack_pub(smart_str *out, const php_herald_pub *pub);

/* Append a send frame (pub->conn or pub->user set; t, channels, event and
 * retry unused), up to and including the data header, as for pub. Keys, in
 * this order: op ("send"), conn or user, binary (true only when data_bin),
 * ack, json, ts, data. */
void php_herald_pack_send(smart_str *out, const php_herald_pub *pub);

/* Append {"op":"presence","ch":channel,"ack":ack}: a query for the members
 * of a presence channel, answered in the ack ("members"). */
void php_herald_pack_presence(smart_str *out, const zend_string *channel, uint64_t ack);

/* Append the optional first frame of a connection:
 * {"op":"hello","v":HERALD_PROTOCOL_VERSION,"client":"herald-php/<version>","pid":pid}, with
 * "ring":ring added when ring is not 0 (the shared-memory ring asked for,
 * in bytes: herald_ring_abi.h). */
void php_herald_pack_hello(smart_str *out, const char *client, uint64_t pid, uint64_t ring);

/* A reply: an ack, {"op":"ack","ack":N,"ok":true,"id":"..."} or
 * {"op":"ack","ack":N,"ok":false,"error":"..."}; the answer to a hello's
 * "ring", {"op":"ring","ok":true,"size":N} (two descriptors come with its
 * bytes) or {"op":"ring","ok":false,"error":"..."}; or {"op":"refused",
 * "error":"..."}, the relay closing a connection it will not keep
 * (max_publishers). An ack answering a presence query has "members" (a
 * str of JSON text) instead of "id". id, error and members point into the
 * buffer given to
 * php_herald_unpack_reply() and stay valid while it does. */
typedef struct php_herald_reply {
	bool is_ack;            /* op was "ack" */
	bool is_ring;           /* op was "ring" */
	bool is_refused;        /* op was "refused" */
	bool has_ack;           /* an unsigned "ack" key was present */
	bool has_size;          /* an unsigned "size" key was present */
	bool ok;
	uint64_t ack;
	uint64_t size;          /* ring data bytes */
	const char *id;
	size_t id_len;
	const char *error;
	size_t error_len;
	const char *members;    /* NULL when absent */
	size_t members_len;
} php_herald_reply;

/* Decode one reply from buf[0..len). Returns the bytes it takes (> 0),
 * 0 when buf holds only part of it, or -1 when the bytes are not msgpack or
 * not a map (the stream cannot be trusted after that). A map with another
 * "op" decodes with is_ack, is_ring and is_refused false; unknown keys are
 * skipped. Fuzzed: tests/fuzz/fuzz_reply.c. */
ssize_t php_herald_unpack_reply(const char *buf, size_t len, php_herald_reply *r);

/* 1 when s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0. */
int php_herald_utf8_valid(const unsigned char *s, size_t len);

#endif /* HERALD_PACK_H */
