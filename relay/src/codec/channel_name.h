/* SPDX-License-Identifier: MIT
 * channel_name.h: what a channel name may be, everywhere a name arrives
 * (ingest frames, query strings, WebSocket messages, tokens). Pure. */
#ifndef HR_CHANNEL_NAME_H
#define HR_CHANNEL_NAME_H

#include <stddef.h>

#define HR_CHANNEL_MAX 200

/* 1 if name is a valid channel name: 1-200 bytes of [A-Za-z0-9_.:@=/,;-]
 * (',' and ';': Pusher channel names may have them, docs/PROTOCOL.md 1.2). */
int hr_chan_name_valid(const char *name, size_t len);

#endif
