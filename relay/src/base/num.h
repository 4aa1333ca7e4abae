/* SPDX-License-Identifier: MIT
 * num.h: the one decimal parser: ids, Redis replies, configuration. Strict:
 * digits only, no sign, no spaces, no overflow. */
#ifndef HR_NUM_H
#define HR_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Decimal uint64 of exactly len bytes; 0 or -1. */
int hr_parse_u64(const char *p, size_t len, uint64_t *out);

#endif
