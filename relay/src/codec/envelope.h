/* SPDX-License-Identifier: MIT
 * envelope.h: the envelopes of the herald.v1 WebSocket subprotocol
 * (docs/PROTOCOL.md 2.8). Pure: no sockets, no libuv. The herald.v1
 * transport (net/transport_herald.c) hands every client message to
 * hr_envelope_parse, which says what the client asked for or exactly why
 * the message is refused (the error text and the metric's reason label),
 * and writes its answers and the message envelopes with hr_env_write, which
 * measures first and then writes, so that each envelope is one allocation.
 *
 * Client messages: a text frame holding a JSON object; or a binary frame of
 * a 4-byte big-endian length N, N bytes of a JSON object (the envelope
 * without "data"), then the payload bytes, which are the data. */
#ifndef HR_ENVELOPE_H
#define HR_ENVELOPE_H

#include "base/common.h"

#define HR_ENV_REF_MAX 64 /* bytes of a ref's JSON text */

enum hr_env_type {
    HR_ENV_SUBSCRIBE = 1,
    HR_ENV_UNSUBSCRIBE,
    HR_ENV_SEND,
    HR_ENV_PRESENCE,
    HR_ENV_PING,
};

/* Why a client message is refused; hr_env_strerror gives the error text,
 * hr_env_reason the label of herald_ws_envelope_errors_total{reason}. */
enum hr_env_status {
    HR_ENV_OK = 0,
    HR_ENV_NOT_JSON,        /* a text frame that is not a JSON object */
    HR_ENV_UNKNOWN_TYPE,    /* no string type, or one not known */
    HR_ENV_CHANNEL_TYPE,    /* channel missing or not a string */
    HR_ENV_CHANNEL_NAME,    /* channel not a valid name (1.2) */
    HR_ENV_SINCE,           /* since not a string in the form of an event id */
    HR_ENV_TOKEN,           /* token not a string */
    HR_ENV_REF,             /* ref neither a string nor an integer, or too long */
    HR_ENV_BINARY_SHORT,    /* binary frame shorter than 4 bytes */
    HR_ENV_BINARY_LENGTH,   /* its length passes the frame */
    HR_ENV_BINARY_ENVELOPE, /* its envelope is not a JSON object */
    HR_ENV_SEND_DATA,       /* send without data (text) */
    HR_ENV_STATUS_COUNT
};

/* A client message as parsed. Slices point into the parsed JSON (or, for
 * a binary payload, into the caller's bytes) and stay valid until
 * hr_envelope_free. Filled as far as the message could be read, also when
 * it is refused: ref and channel then serve the error reply. */
typedef struct hr_envelope {
    int type;                     /* hr_env_type, 0 when unknown */
    hr_slice_t channel;           /* p NULL: none (or not a string) */
    hr_slice_t since;             /* p NULL: none */
    hr_slice_t token;             /* p NULL: none */
    char ref[HR_ENV_REF_MAX + 1]; /* the ref's compact JSON text, NUL-terminated */
    size_t ref_len;               /* 0: no (valid) ref */
    int has_data;                 /* text: a "data" member; binary: always */
    int binary;                   /* it came as the binary layout */
    hr_slice_t payload;           /* binary: the payload bytes */
    void *root;                   /* the parsed JSON (jansson) */
} hr_envelope_t;

/* Parse one client message: data[0..len) of a text frame (binary 0, valid
 * UTF-8 as the WebSocket reader guarantees) or a binary frame (binary 1).
 * Always fills *e (free it with hr_envelope_free) and returns HR_ENV_OK or
 * the status saying why the message is refused. JSON null for an optional
 * member (since, token, ref, and channel of send) counts as absent. */
int hr_envelope_parse(const uint8_t *data, size_t len, int binary, hr_envelope_t *e);

void hr_envelope_free(hr_envelope_t *e);

const char *hr_env_strerror(int status);
const char *hr_env_reason(int status);

/* 1 if s is an event id in form: 1 to 16 lowercase hex digits, '-', a
 * decimal without sign or leading spaces that fits 64 bits. Whether it is
 * of the relay's id space is the broker's question. */
int hr_env_id_form(hr_slice_t s);

/* A relay envelope. Members with p NULL are left out; they are written in
 * the order type, ref (error, pong and reply), channel, since, id, event, data,
 * error, ref (the others): the order of docs/PROTOCOL.md 2.8's examples. */
enum hr_env_data { HR_ENV_DATA_NONE, HR_ENV_DATA_STRING, HR_ENV_DATA_JSON };

typedef struct hr_env_out {
    const char *type;
    hr_slice_t ref; /* JSON text (a parsed client ref), written as is */
    hr_slice_t channel, since, id, event, error;
    hr_slice_t data;
    int data_mode; /* hr_env_data: a JSON string of data, or data as JSON text */
} hr_env_out_t;

/* Write e as compact JSON into out (NULL: measure only); returns its
 * length. Strings are escaped; bytes that are not UTF-8 become U+FFFD. */
size_t hr_env_write(char *out, const hr_env_out_t *e);

#endif
