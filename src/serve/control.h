/*
 * control.h — who may use a server's control endpoints (/_qyvol/logs,
 * /_qyvol/reload): a request from this machine, naming this machine in
 * its Host header (so that a web page a browser loaded from elsewhere
 * cannot reach them by DNS rebinding), carrying the server's control
 * token. The token is made at start and written, readable only by the
 * user running the server, where `qyv logs` and `qyv serve --reload`
 * find it: $XDG_RUNTIME_DIR/qyvol/serve-PORT.token, else
 * /tmp/qyvol-UID/serve-PORT.token.
 */
#ifndef QYVOL_SERVE_CONTROL_H
#define QYVOL_SERVE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct control_auth {
    char token[65];            /* 64 hex digits: 256 random bits */
    char path[512];            /* where it was written; "" if nowhere */
} control_auth;

/* Make a token and write it for a server on port. -1 with why. */
int control_auth_init(control_auth *a, uint16_t port, char *why, size_t whylen);
/* Remove the token file (at exit). */
void control_auth_remove(control_auth *a);

/* The token of the server on port, for a CLI command. */
bool control_token_read(uint16_t port, char *token, size_t n, char *why, size_t whylen);

/* Whether a Host header value names this machine: localhost, an address
 * in 127.0.0.0/8 or [::1], with or without a port. */
bool control_host_is_local(const char *host);

/* Whether an Authorization header value is "Bearer TOKEN" with this
 * token (compared in time that does not depend on where they differ);
 * an empty token matches nothing. */
bool control_bearer_matches(const char *authorization, const char *token);

/* Whether an Authorization header value is "Bearer TOKEN" with a's
 * token (compared in constant time). */
bool control_bearer_ok(const control_auth *a, const char *authorization);

#endif
