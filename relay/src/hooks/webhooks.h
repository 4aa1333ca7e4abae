/* SPDX-License-Identifier: MIT
 * webhooks.h: Pusher webhooks (Contract 6, docs/PROTOCOL.md 4.10): the
 * events channel_occupied and channel_vacated (this relay's channel
 * registries, every loop's: per relay), member_added and member_removed
 * (the presence joins and leaves this relay publishes: once per cluster)
 * and client_event (the Pusher front, through net->pusher_sink) go to the
 * application as Pusher sends them: POST {"time_ms":T,"events":[...]},
 * batched (up to 50 events, or what one loop turn brought), signed with
 * X-Pusher-Key and X-Pusher-Signature (hex HMAC-SHA256 of the body under
 * the app secret). Destinations: pusher_webhook_url (plain http://, a small
 * HTTP/1.1 client on the loop) and/or the app's FastCGI pool
 * (pusher_webhook_fastcgi). Each destination takes one request at a time,
 * in order; a failure (5xx, down, timeout) is retried with backoff for
 * about a minute; the queue is bounded (herald_pusher_webhooks_total
 * {result}). Webhooks still waiting when the relay stops are dropped. */
#ifndef HR_WEBHOOKS_H
#define HR_WEBHOOKS_H

#include "core/loop.h"

typedef struct hr_webhooks hr_webhooks_t;

/* The loops of one relay (workers > 1) share one table of the channels in
 * use (a channel is occupied when its first loop has a subscriber, vacated
 * when its last has none) and send from one place: every event goes, in
 * the order decided, to the first loop's webhooks, which alone send. call
 * runs fn(L_0, ud) on loop 0's thread, or returns -1 when it ended
 * (app/loops.h: hr_loops_call). */
typedef struct hr_webhooks_shared hr_webhooks_shared_t;
typedef int (*hr_webhooks_call_fn)(unsigned i, void (*fn)(hr_loop_t *L, void *ud), void *ud);
hr_webhooks_shared_t *hr_webhooks_shared_new(hr_webhooks_call_fn call);
/* After every loop's webhooks were freed. */
void hr_webhooks_shared_free(hr_webhooks_shared_t *s);

/* The webhooks of loop L (after its broker and presence exist), or NULL
 * when the Pusher front is off or no destination is set (or one is
 * malformed: logged, and *failed set). s: NULL with one loop; else the
 * first made on s (loop 0's: compose in loop order) sends for all. */
hr_webhooks_t *hr_webhooks_new(hr_loop_t *L, hr_webhooks_shared_t *s, int *failed);

/* After the loop ended: unregisters, closes the handles (run the loop
 * once more to let them close) and drops what is queued. */
void hr_webhooks_free(hr_webhooks_t *w);

#endif
