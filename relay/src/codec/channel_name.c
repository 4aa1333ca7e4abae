/* SPDX-License-Identifier: MIT
 * channel_name.c: the channel name alphabet (channel_name.h). */
#include "codec/channel_name.h"

#include <stdint.h>

static const uint8_t name_ok[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1, ['_'] = 1, ['.'] = 1,
    [':'] = 1,         ['@'] = 1,         ['='] = 1,         ['/'] = 1, ['-'] = 1,
    [','] = 1,         [';'] = 1, /* Pusher's channel names have them */
};

int hr_chan_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > HR_CHANNEL_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_ok[(uint8_t)name[i]])
            return 0;
    return 1;
}
