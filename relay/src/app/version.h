/* SPDX-License-Identifier: MIT
 * version.h: the relay's version and ingest protocol version. */
#ifndef HR_VERSION_H
#define HR_VERSION_H
#define HR_VERSION          "0.1.0"
#define HR_PROTOCOL_VERSION 1
#endif
