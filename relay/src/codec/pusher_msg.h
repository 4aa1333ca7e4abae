/* SPDX-License-Identifier: MIT
 * pusher_msg.h: the messages of the Pusher Channels protocol 7 (docs/
 * PROTOCOL.md 4), read and written. Pure: no sockets, no libuv. The Pusher
 * front (net/transport_pusher.c) hands every client text frame to
 * hr_pusher_msg_parse, which says what the client asked for or exactly why
 * the message is refused (the error text and the metric's reason label);
 * the presence channel_data a subscribe carries is read by
 * hr_pusher_channel_data; hr_pusher_write writes the relay's messages
 * ({"event","channel","data"} with data always a JSON string, as Pusher
 * sends it), measuring first so that each is one allocation.
 *
 * Client messages: a JSON object {"event":E,"data":D,"channel"?:C}. E is a
 * "pusher:" event (ping, pong, subscribe, unsubscribe, signin) or a client
 * event "client-*" on C. A subscribe's D is an object (or a string holding
 * one, as old clients send it) {"channel","auth"?,"channel_data"?}. */
#ifndef HR_PUSHER_MSG_H
#define HR_PUSHER_MSG_H

#include "base/common.h"

#define HR_PUSHER_EVENT_MAX 200 /* bytes of a client event's name */
#define HR_PUSHER_USER_MAX  200 /* bytes of a presence user_id */

enum hr_pmsg_type {
    HR_PMSG_PING = 1,
    HR_PMSG_PONG,
    HR_PMSG_SUBSCRIBE,
    HR_PMSG_UNSUBSCRIBE,
    HR_PMSG_SIGNIN,
    HR_PMSG_CLIENT, /* a client-* event */
};

/* Why a client message is refused; hr_pusher_msg_strerror gives the error
 * text, hr_pusher_msg_reason the label of herald_pusher_errors_total. */
enum hr_pmsg_status {
    HR_PMSG_OK = 0,
    HR_PMSG_NOT_JSON,      /* not a JSON object */
    HR_PMSG_NO_EVENT,      /* no "event", or not a string */
    HR_PMSG_UNKNOWN_EVENT, /* a pusher: event not known, or neither pusher: nor client- */
    HR_PMSG_DATA,          /* subscribe/unsubscribe data not an object */
    HR_PMSG_CHANNEL,       /* channel missing, not a string, or not a valid name */
    HR_PMSG_AUTH,          /* auth or channel_data present but not a string */
    HR_PMSG_EVENT_NAME,    /* a client event's name longer than HR_PUSHER_EVENT_MAX */
    HR_PMSG_STATUS_COUNT
};

/* A client message as parsed. Slices point into the parsed JSON and stay
 * valid until hr_pusher_msg_free. Filled as far as the message could be
 * read, also when it is refused (event and channel serve the error). */
typedef struct hr_pusher_msg {
    int type;                      /* hr_pmsg_type; 0 when unknown */
    hr_slice_t event;              /* p NULL: none */
    hr_slice_t channel;            /* p NULL: none */
    hr_slice_t auth, channel_data; /* subscribe; p NULL: absent */
    char *data;                    /* client event: compact JSON text of "data" */
    size_t data_len;               /* ("null" when absent) */
    void *root;                    /* the parsed JSON (jansson) */
} hr_pusher_msg_t;

/* Parse one client text frame data[0..len). Always fills *m (free it with
 * hr_pusher_msg_free) and returns HR_PMSG_OK or why the message is
 * refused. JSON null for auth or channel_data counts as absent. */
int hr_pusher_msg_parse(const uint8_t *data, size_t len, hr_pusher_msg_t *m);

void hr_pusher_msg_free(hr_pusher_msg_t *m);

const char *hr_pusher_msg_strerror(int status);
const char *hr_pusher_msg_reason(int status);

/* A presence subscribe's channel_data, a JSON object text: user_id (a
 * string, or an integer written in decimal) into user (NUL-terminated,
 * *user_len bytes), user_info as compact JSON text into *info (malloc'd,
 * NULL when absent or null). Returns 0, or -1 with *why when the text is
 * not such an object or the user_id is missing, empty, longer than
 * HR_PUSHER_USER_MAX or of another type. Whether the user is a valid
 * Herald user name is the caller's question. */
int hr_pusher_channel_data(const char *text, size_t len, char user[HR_PUSHER_USER_MAX + 1],
                           size_t *user_len, char **info, size_t *info_len, const char **why);

/* A relay message. Members with p NULL are left out; written in the order
 * event, channel, data, user_id. data is written as a JSON string of its
 * bytes (bytes that are not UTF-8 become U+FFFD; callers base64 binary
 * data first). */
typedef struct hr_pusher_out {
    hr_slice_t event, channel, data, user_id;
} hr_pusher_out_t;

/* Write o as compact JSON into out (NULL: measure only); returns its
 * length. */
size_t hr_pusher_write(char *out, const hr_pusher_out_t *o);

/* Standard base64 (with padding) of in[0..len) into out (NULL: measure);
 * returns its length. */
size_t hr_pusher_base64(char *out, const uint8_t *in, size_t len);

#endif
