/* SPDX-License-Identifier: MIT
 * broker_local.h: the single-relay broker: ids "<boot>-<seq>" counted here,
 * history in this process's memory (chan.h). The default. */
#ifndef HR_BROKER_LOCAL_H
#define HR_BROKER_LOCAL_H

#include "core/broker.h"

/* A local broker for L; its epoch is this boot (hex ms since the epoch). */
hr_broker_t *hr_broker_local_new(hr_loop_t *L);

/* b (another loop's broker of the same relay) takes main's epoch. */
void hr_broker_local_share(hr_broker_t *b, hr_broker_t *main);

#endif
