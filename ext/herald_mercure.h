/* SPDX-License-Identifier: MIT
 * herald_mercure.h: the Mercure side of the extension (docs/PHP.md,
 * docs/SYMFONY.md): herald_mercure_channel(), and the checks and ids that
 * herald_mercure_publish() (herald.c, which owns the sending) needs. The
 * rules are the relay's (relay/src/codec/mercure.c): a publish the
 * extension accepts is one the relay accepts, so a mistake is a ValueError
 * in the caller rather than a frame the relay drops. */
#ifndef HERALD_MERCURE_H
#define HERALD_MERCURE_H

#include "php.h"
#include "herald_pack.h"

#define HERALD_MERCURE_TOPICS_MAX 32
#define HERALD_MERCURE_TOPIC_MAX  2048
#define HERALD_MERCURE_ID_MAX     256
/* The relay's limit on an SSE event name, which a Mercure type becomes. */
#define HERALD_MERCURE_TYPE_MAX   200

/* Check the topics (argument 1: one string or an array of strings), the id
 * (argument 4: NULL for a new urn:uuid:<v4>) and the type (argument 5: NULL
 * or "" for none) and fill m: the topics and the id with a reference each,
 * the topics in small when they fit (nsmall) or in an emalloc'ed array. On
 * false an exception is thrown and m holds nothing to release. *type is set
 * to NULL when it is "". */
bool php_herald_mercure_take(php_herald_mercure *m, zend_string **small, uint32_t nsmall, zend_string *one,
	HashTable *many, zend_string *id, zend_string **type);

/* Release what php_herald_mercure_take() took. */
void php_herald_mercure_release(php_herald_mercure *m, zend_string **small);

#endif /* HERALD_MERCURE_H */
