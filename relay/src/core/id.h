/* SPDX-License-Identifier: MIT
 * id.h: event ids, "<epoch>-<seq>". The epoch names one id space (a
 * relay's boot, or a cluster's Redis) and seq is the position in it, so an
 * id from another space is recognised as foreign, never mistaken for a
 * position. The broker (broker.h) owns the space; this only spells it. */
#ifndef HR_ID_H
#define HR_ID_H

#include "base/common.h"

#define HR_EPOCH_MAX 16 /* hex digits of the epoch, at most */
#define HR_ID_MAX    48 /* an id's bytes, with room for its NUL */

/* Format "<epoch>-<seq>" into out (HR_ID_MAX bytes); returns the length. */
size_t hr_id_format(char *out, hr_slice_t epoch, uint64_t seq);

/* 1 and *seq when id is "<epoch>-<decimal>" of this epoch; 0 when it is of
 * another epoch or malformed. */
int hr_id_parse(hr_slice_t epoch, hr_slice_t id, uint64_t *seq);

#endif
