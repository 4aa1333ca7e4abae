/* SPDX-License-Identifier: MIT
 * loop.c: a loop's state (loop.h). */
#include "core/loop.h"
#include "base/hash.h"

#include <string.h>

void hr_loop_init(hr_loop_t *L, uv_loop_t *uv, uint32_t hist_size, uint64_t hist_ttl_ms)
{
    memset(L, 0, sizeof *L);
    L->uv = uv;
    uv->data = L;
    L->start_ns = uv_hrtime();
    hr_metrics_init(&L->metrics);
    hr_chans_init(&L->chans, hist_size, hist_ttl_ms);
    hr_hash_random_key(L->chans.slot_key);
    hr_chans_metrics(&L->chans, &L->metrics);
}

void hr_loop_free(hr_loop_t *L)
{
    hr_chans_free(&L->chans);
    hr_metrics_free(&L->metrics);
}
