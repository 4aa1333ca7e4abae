/* SPDX-License-Identifier: MIT
 * publish_req.h: the body of POST /publish, the HTTP publish API
 * (PROTOCOL.md 3): one message {"channel", "data", "event"?, "retry"?,
 * "transport"?} or a batch {"messages": [...]}, JSON (jansson). Everything a
 * client controls is checked here as ingest frames are checked (frame.c):
 * channel names, event names, retry, UTF-8, the size of the SSE encoding;
 * data that is not a JSON string becomes its compact JSON text. A batch is
 * all or nothing: one bad message refuses the whole body. Pure: no I/O, no
 * clock; fuzzed (tests/fuzz/fuzz_publish_req.c). ingest/http_publish.c calls
 * it with the body the connection collected. */
#ifndef HR_PUBLISH_REQ_H
#define HR_PUBLISH_REQ_H

#include "base/common.h"

/* Channels in one message, as in an ingest frame (HR_FRAME_MAX_CHANNELS). */
#define HR_PUBLISH_REQ_MAX_CHANNELS 100

typedef struct hr_publish_msg {
    int target;       /* HR_TARGET_SSE, HR_TARGET_WS or HR_TARGET_ALL (codec/frame.h) */
    int json;         /* data is the JSON text of a value that was not a string */
    long retry;       /* SSE retry: in ms; 0: none */
    hr_slice_t event; /* SSE event name; len 0: none */
    hr_slice_t data;  /* UTF-8 */
    size_t nchannels;
    const hr_slice_t *channels;
} hr_publish_msg_t;

/* A parsed body: n messages in order. One allocation holds the messages
 * and copies of every string, so the JSON document is gone once parsing
 * returns; hr_publish_req_free() releases it. */
typedef struct hr_publish_req {
    size_t n;
    hr_publish_msg_t *msgs;
} hr_publish_req_t;

/* Parse body[0..len), allowing at most max_messages messages (a single
 * message counts one). Returns 0 and fills *req, or, with *req empty and a
 * reason in err (NUL-terminated, one line, fit to show the client:
 * "messages[2]: invalid channel name 'a b'"), HR_PUBLISH_REQ_INVALID for a
 * body that is not a valid request or HR_PUBLISH_REQ_TOO_MANY for a valid
 * batch of more than max_messages (checked before its messages are). */
#define HR_PUBLISH_REQ_INVALID  (-1)
#define HR_PUBLISH_REQ_TOO_MANY (-2)

int hr_publish_req_parse(const char *body, size_t len, size_t max_messages, hr_publish_req_t *req,
                         char *err, size_t errlen);

void hr_publish_req_free(hr_publish_req_t *req);

/* The compact JSON text of a JSON value parsed by jansson (a json_t *), as
 * the parser makes a message's data: no whitespace, object members in the
 * order they came, strings escaped as JSON requires and otherwise as they
 * are (UTF-8, '/' unescaped), integers exact, and reals in the shortest form
 * that reads back as the same double (0.1, 100.0, 1e-05, 1.5e+300; fixed
 * notation for exponents -4 to 15, like Python's repr). Writes into out when
 * it is not NULL (it must hold the returned length), and returns the length
 * either way. Exposed for the unit tests and the fuzzer. */
size_t hr_publish_req_dump(const void *json, char *out);

#endif
