/* SPDX-License-Identifier: MIT
 * auth.h: who may subscribe (SECURITY.md). Private channels (private_prefixes)
 * need an HS256 token (codec/token.h) signed with the relay's secret whose
 * claims name them; the token comes with the request (?token=, Authorization:
 * Bearer, or the herald_token cookie), or a hand-off: a request that nginx
 * proxied for the application after it checked the user's session, marked
 * with the X-Herald-Handoff header set to a secret nginx and the relay
 * share (handoff_secret), which a browser cannot forge because the public
 * locations strip the header. Every transport asks here; refusals are
 * counted by reason. */
#ifndef HR_AUTH_H
#define HR_AUTH_H

#include "base/opt.h"
#include "codec/http.h"
#include "codec/token.h"
#include "net/conn.h"

typedef struct hr_auth_cfg {
    char *private_prefixes;    /* channels needing a token (comma-separated prefixes) */
    char *secret;              /* HS256 key shared with PHP's herald.secret */
    char *secret_file;         /* file holding the secret (wins over secret) */
    long token_skew;           /* seconds of clock skew allowed on exp and nbf */
    char *handoff_secret;      /* X-Herald-Handoff value nginx sets on the hand-off */
    char *handoff_secret_file; /* file holding it (wins over handoff_secret) */
} hr_auth_cfg_t;

extern hr_auth_cfg_t hr_auth_cfg;
extern const hr_opt_group_t hr_auth_options;

/* May this request subscribe to its channels? Returns 0 to go on, with
 * *claims set when keep_claims and a valid token came (kept for later
 * subscribes), or the status it answered the request with (401, 403). */
int hr_auth_request(hr_conn_t *c, const hr_http_request_t *req, const hr_slice_t *channels,
                    size_t n, int keep_claims, hr_token_t **claims);

/* A later subscribe to a private channel under the claims of the request
 * (NULL: none). NULL when allowed, else why not (counted). */
const char *hr_auth_channel(hr_net_t *net, const hr_token_t *claims, const char *name, size_t len);

/* A subscribe that brings its own token (herald.v1): may tok allow
 * subscribing to name? NULL when allowed, else why not (counted). *claims
 * is set whenever the token is valid, also with a refusal: the caller
 * keeps or frees them. A public channel is allowed whatever the token. */
const char *hr_auth_channel_token(hr_net_t *net, const char *tok, size_t toklen, const char *name,
                                  size_t len, hr_token_t **claims);

/* *value = the contents of file (name: the option, for the message) when
 * file is set, one trailing newline off; 0, or -1 with a message. */
int hr_auth_read_secret(const char *name, const char *file, char **value, char *err, size_t errlen);

/* Count a refusal decided elsewhere (an Origin, say). */
void hr_auth_refused(hr_net_t *net, enum hr_auth_reason reason);

#endif
