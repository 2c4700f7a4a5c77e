/*
 * serve.h — `qyv serve`: a strict HTTP/1.1 server (http1.h) in a front
 * process that hands each request for an app to one of the app's replica
 * processes (pool.h), which runs a fresh instance of the app's module the
 * WAGI way (wagi.h). Also answers /_qyvol/health, /_qyvol/metrics,
 * /_qyvol/logs and /_qyvol/reload.
 */
#ifndef QYVOL_SERVE_H
#define QYVOL_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/wagi.h"

typedef struct serve_options {
    const char *address;      /* to listen on, e.g. "127.0.0.1" */
    uint16_t port;
    int workers;              /* threads per replica; 0: one per CPU */
    size_t max_body;          /* bytes; larger requests get 413 */
    size_t max_headers;       /* bytes; larger header blocks are refused */
    int client_timeout_s;     /* idle connections and stalled bodies are dropped after this */
    int header_timeout_s;     /* a request's whole head must arrive within this */
    unsigned max_connections; /* open client connections at most */
    int drain_timeout_s;      /* on SIGTERM, longest wait for requests in flight */
    const char *tls_cert;     /* HTTPS too with this PEM chain and key (tls/front.h); NULL: plain HTTP */
    const char *tls_key;
    bool direct;              /* replicas take connections themselves (direct.h) */
} serve_options;

/* Load the manifests and serve their apps until SIGTERM or SIGINT (then
 * drain and return 0), or return non-zero when the server cannot start
 * (the reason printed on stderr). SIGHUP and POST /_qyvol/reload (with
 * the control token, control.h) load the manifests again. */
int serve_run(char *const *files, size_t nfiles, const serve_options *options);

#endif
