/* SPDX-License-Identifier: MIT
 * herald_hooks.h: herald_hook_events(), the application's side of the
 * relay's hook requests (docs/PROTOCOL.md 3, docs/PHP.md): a POST from the
 * relay through PHP-FPM with the JSON body {"v":1,"events":[...]}, signed
 * with HMAC-SHA256 over the body in X-Herald-Signature. Its own file: it
 * reads the request and the secret, never the relay connection. */
#ifndef HERALD_HOOKS_H
#define HERALD_HOOKS_H

#include "php.h"

/* The hook request body's version this extension reads. */
#define HERALD_HOOK_VERSION 1

#endif /* HERALD_HOOKS_H */
