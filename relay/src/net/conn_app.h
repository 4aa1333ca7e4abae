/* SPDX-License-Identifier: MIT
 * conn_app.h: the application's record of a connection, the type alone
 * (net/app.h has what is done with it). Apart so that the fan-out
 * (net/conn.c) can read a connection's id, to leave out the sender of a
 * publish (except), without including the module that includes it. */
#ifndef HR_CONN_APP_H
#define HR_CONN_APP_H

#include <stddef.h>
#include <stdint.h>

struct hr_conn;

#define HR_USER_MAX    200 /* a user name: 1-200 bytes of the channel alphabet */
#define HR_CONN_ID_MAX 32

/* A channel the application let the connection subscribe to, with the
 * member's info for a presence channel (JSON text, or NULL). */
typedef struct hr_grant {
    struct hr_grant *next;
    char *info;
    size_t info_len;
    uint8_t joined; /* a presence member through this grant */
    size_t len;
    char name[];
} hr_grant_t;

typedef struct hr_conn_app {
    uint32_t refs;        /* the connection's, and one per question in flight */
    struct hr_conn *conn; /* NULL once it closed */
    void *hook;           /* the hooks module's queue for this connection */
    void *held;           /* a request held for the connect hook (app/router.c) */
    hr_grant_t *grants;
    uint8_t id_len;
    uint8_t user_len; /* 0: no user */
    uint8_t attached; /* subscribed to its own internal channels */
    char id[HR_CONN_ID_MAX];
    char user[HR_USER_MAX + 1];
} hr_conn_app_t;

#endif
