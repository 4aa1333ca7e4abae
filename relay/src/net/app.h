/* SPDX-License-Identifier: MIT
 * app.h: the application's say over client connections (Contract 5). When
 * the app layer installs application hooks (hooks/hooks.c), it sets
 * net->app; transports then ask it to approve subscribes and hand it what
 * clients send, knowing nothing of FastCGI. A connection the application
 * knows carries an hr_conn_app: its id (for herald_send), its user (named
 * by the connect hook), what the application granted it, and its presence
 * memberships (core/presence.h). It is refcounted, so that a question in
 * flight outlives the connection it was about (conn is NULL then). */
#ifndef HR_APP_IFACE_H
#define HR_APP_IFACE_H

#include "base/common.h"

struct hr_conn;
struct hr_net;

#include "net/conn_app.h"

/* What the application is asked (the types of codec/hook_msg.h). */
enum hr_app_type { HR_APP_CONNECT, HR_APP_SUBSCRIBE, HR_APP_MESSAGE, HR_APP_DISCONNECT };

/* How a message's data travels to the application. */
enum hr_app_data { HR_APP_DATA_NONE, HR_APP_DATA_JSON, HR_APP_DATA_STRING, HR_APP_DATA_BASE64 };

/* Its answer. failed: it gave none (down, timed out, busy, garbage); error
 * says why. Slices valid during the call only; info and reply are JSON. */
typedef struct hr_app_verdict {
    int ok;
    int failed;
    int close;
    hr_slice_t user, info, reply, error; /* p NULL: absent */
} hr_app_verdict_t;

/* The answer to a question about c (never called once c closed); ref as
 * the question gave it. */
typedef void (*hr_app_done_fn)(struct hr_conn *c, const char *ref, size_t ref_len,
                               const hr_app_verdict_t *v);

typedef struct hr_app_question {
    int type;           /* hr_app_type */
    hr_slice_t channel; /* p NULL: none */
    hr_slice_t data;    /* message: what the client sent */
    int data_mode;      /* hr_app_data: JSON text, UTF-8 text, or bytes */
    const char *ref;    /* copied: comes back with the answer */
    size_t ref_len;
    hr_app_done_fn done; /* NULL: no answer wanted (disconnect) */
} hr_app_question_t;

typedef struct hr_app_iface {
    void *ud;
    /* 1 if subscribing to name needs the application's approval. */
    int (*approves)(void *ud, const char *name, size_t len);
    /* Ask about c. 0: asked, done comes later (not if c closes first);
     * -1: not asked (*why: busy, stopping), the caller answers now. */
    int (*ask)(void *ud, struct hr_conn *c, const hr_app_question_t *q, const char **why);
    int messages; /* message events are on: a herald.v1 send goes to the app */
} hr_app_iface_t;

/* 1 if name[0..len) is a user name (1-200 bytes of the channel alphabet). */
int hr_user_valid(const char *name, size_t len);

/* The connection's record (made on first use, with a new id). */
hr_conn_app_t *hr_conn_app(struct hr_conn *c);

/* Name the connection's user (valid: hr_user_valid); 0 or -1. */
int hr_conn_app_set_user(struct hr_conn *c, const char *user, size_t len);

/* A token's "sub" names the user of a connection the application has not
 * named (no connect hook): presence and herald_send_user without hooks. */
struct hr_token;
void hr_conn_app_token_user(struct hr_conn *c, const struct hr_token *claims);

/* A stream begins: subscribe the connection to its own internal channels
 * ("#c.<id>", and "#u.<user>" when it has one) for herald_send. */
void hr_conn_app_attach(struct hr_conn *c);

/* The application granted ch (info: JSON text, p NULL: none). */
void hr_conn_app_grant(struct hr_conn *c, hr_slice_t ch, hr_slice_t info);

/* 1 if ch was granted. */
int hr_conn_app_granted(const struct hr_conn *c, const char *ch, size_t len);

/* A subscription to ch began or ended: join or leave its presence when ch
 * is a presence channel and the connection has a user. */
void hr_conn_app_joined(struct hr_conn *c, const char *ch, size_t len);
void hr_conn_app_left(struct hr_conn *c, const char *ch, size_t len);

/* The client's channels: its subscriptions less its internal ones. */
size_t hr_conn_app_channels(const struct hr_conn *c);

/* Hold and release a record past its connection (questions in flight). */
hr_conn_app_t *hr_conn_app_ref(hr_conn_app_t *a);
void hr_conn_app_unref(hr_conn_app_t *a);

/* The connection closes (conn.c): leave every presence, drop its hold. */
void hr_conn_app_closed(struct hr_conn *c);

#endif
