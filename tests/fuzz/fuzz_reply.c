/* SPDX-License-Identifier: MIT
 * fuzz_reply.c: the extension's decoder of the relay's replies
 * (php_herald_unpack_reply in ext/herald_pack.c: acks, the ring's answer,
 * a refusal), which reads what a relay, or anything listening on the
 * socket's path, sends. Checks, besides the sanitizers: a reply is taken
 * whole or not at all (every prefix of it asks for more, and it is the same
 * reply alone); msgpack-c (the relay's own library) agrees on where a
 * complete value ends and on its op; a value msgpack-c reads whole is never
 * "need more" here; error and id point into the reply. msgpack-c only sees
 * what the relay's boundary scanner (codec/mpscan.c) found whole, as in the
 * relay: it allocates a container's elements from the header's count. */
#include "herald_pack.h"
#include "codec/mpscan.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* herald_pack.c's packers grow smart_str buffers with the engine's
 * allocator; this harness only decodes, so it is never called. */
ZEND_API bool ZEND_FASTCALL smart_str_ferealloc(smart_str *str, size_t len, bool fallible)
{
    abort();
}

static int str_is(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* What msgpack-c makes of the same bytes: the op flags, as the last "op"
 * key of the map says (the decoder keeps the last one too). */
static void check_op(const msgpack_object *m, const php_herald_reply *r)
{
    const msgpack_object *op = NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (str_is(&m->via.map.ptr[i].key, "op"))
            op = &m->via.map.ptr[i].val;
    int is_ack = op && str_is(op, "ack"), is_ring = op && str_is(op, "ring");
    int is_refused = op && str_is(op, "refused");
    if (is_ack != r->is_ack || is_ring != r->is_ring || is_refused != r->is_refused)
        abort();
}

static int has_container_key(const msgpack_object *m)
{
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        msgpack_object_type t = m->via.map.ptr[i].key.type;
        if (t == MSGPACK_OBJECT_ARRAY || t == MSGPACK_OBJECT_MAP)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    php_herald_reply r;
    ssize_t n = php_herald_unpack_reply(buf, size, &r);
    if (n > (ssize_t)size || n < -1)
        abort();

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    hr_mpscan_t scan = {0};
    msgpack_unpack_return mr = MSGPACK_UNPACK_CONTINUE;
    if (hr_mpscan_feed(&scan, (const uint8_t *)buf, size, 1u << 20) > 0)
        mr = msgpack_unpack_next(&u, buf, size, &off);

    if (n > 0) {
        const char *end = buf + n;
        if ((r.error && (r.error < buf || r.error + r.error_len > end)) ||
            (r.id && (r.id < buf || r.id + r.id_len > end)))
            abort();
        php_herald_reply again;
        if (php_herald_unpack_reply(buf, (size_t)n, &again) != n || again.is_ack != r.is_ack ||
            again.is_ring != r.is_ring || again.is_refused != r.is_refused || again.ack != r.ack ||
            again.size != r.size || again.ok != r.ok)
            abort();
        for (size_t k = 0; k < (size_t)n && k < 4096; k++)
            if (php_herald_unpack_reply(buf, k, &again) != 0)
                abort(); /* a part of a reply is never taken, nor garbage */
        if (mr == MSGPACK_UNPACK_SUCCESS) {
            if (off != (size_t)n || u.data.type != MSGPACK_OBJECT_MAP)
                abort();
            check_op(&u.data, &r);
        }
        /* msgpack-c may refuse what we take: a depth past its stack (32). */
    } else if (mr == MSGPACK_UNPACK_SUCCESS) {
        /* Whole for msgpack-c: never "need more" here, and refused only
         * for what a reply is not (not a map, or a key that is a container). */
        if (n == 0 || (u.data.type == MSGPACK_OBJECT_MAP && !has_container_key(&u.data)))
            abort();
    }
    msgpack_unpacked_destroy(&u);
    free(buf);
    return 0;
}
