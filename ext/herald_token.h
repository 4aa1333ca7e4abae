/* SPDX-License-Identifier: MIT
 * herald_token.h: herald_token() and its INI entry herald.secret, kept in
 * their own file so the token code has one owner (herald_token.c). */
#ifndef HERALD_TOKEN_H
#define HERALD_TOKEN_H

#include "php.h"

/* Register herald.secret; called from the module's MINIT. */
void php_herald_token_minit(int type, int module_number);

#endif /* HERALD_TOKEN_H */
