/* SPDX-License-Identifier: MIT
 * id.c: spelling and reading event ids (id.h). */
#include "core/id.h"
#include "base/num.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

size_t hr_id_format(char *out, hr_slice_t epoch, uint64_t seq)
{
    return (size_t)snprintf(out, HR_ID_MAX, "%.*s-%" PRIu64, (int)epoch.len, epoch.p, seq);
}

int hr_id_parse(hr_slice_t epoch, hr_slice_t id, uint64_t *seq)
{
    size_t b = epoch.len;
    if (b == 0 || id.len <= b + 1 || memcmp(id.p, epoch.p, b) != 0 || id.p[b] != '-')
        return 0;
    return hr_parse_u64(id.p + b + 1, id.len - b - 1, seq) == 0;
}
