/* SPDX-License-Identifier: MIT
 * ingest.h: the publisher side (Contract 1): a Unix stream socket where
 * every PHP worker keeps one connection and writes msgpack frames. */
#ifndef HR_INGEST_H
#define HR_INGEST_H

/* Create the socket (replacing a stale one only when no relay answers on
 * it), set its mode and group, listen. 0 or -1 (message logged). */
int hr_ingest_start(void);

/* Publish, in timestamp order, every frame that is safe to release now
 * (the loop's check phase). With force, release everything (shutdown). */
void hr_ingest_release(int force);

/* Stop accepting, close publisher connections, remove the socket file. */
void hr_ingest_stop(void);

#endif
