/*
 * front.h — TLS in front of an http_server (serve/http1.h): it listens,
 * does the TLS 1.3 handshake with libevent's OpenSSL bufferevents, and
 * hands each connection, decrypted, to the HTTP server through a socket
 * pair, with the client's verified certificate ("ROLE/CN") as the
 * request's peer_identity. The HTTP server stays as it is: framing,
 * limits and timeouts are its own.
 *
 * A front can hold two identities:
 *   - cluster: the certificate the cluster's CA issued to this process,
 *     and how client certificates are checked (none, optional, required);
 *   - public: the user's own certificate (ingress HTTPS).
 * When both are set, a client asking for server name `cluster_sni` (a
 * node forwarding to another) gets the cluster identity, and any other
 * the public one. The files are looked at every second: a certificate
 * replaced on disk (rotation) is used for the next handshakes, while
 * open connections keep going.
 *
 * The first byte a client sends tells TLS from plain HTTP: plain HTTP is
 * served as such where `plain` allows it, and otherwise answered with a
 * 400 saying the port speaks HTTPS only.
 */
#ifndef QYVOL_TLS_FRONT_H
#define QYVOL_TLS_FRONT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "serve/http1.h"
#include "tls/ctx.h"

typedef struct tls_front tls_front;

typedef struct tls_front_config {
    const tls_files *cluster;     /* NULL: none */
    tls_peer_check cluster_check;
    const char *cluster_sni;      /* NULL: the cluster identity is for every client */
    const tls_files *public_id;   /* NULL: none; files that do not exist (yet): none for now */
    bool plain;                   /* plain HTTP is served too */
    const char *name;             /* for log lines: "api", "ingress" */
} tls_front_config;

/* NULL with why (a certificate that does not load). */
tls_front *tls_front_new(struct event_base *base, http_server *http, const tls_front_config *config, char *why,
                         size_t whylen);

int tls_front_listen(tls_front *f, const char *address, uint16_t port, char *why, size_t whylen);

/* Stop accepting (the HTTP server drains the connections it has). */
void tls_front_drain(tls_front *f);

void tls_front_free(tls_front *f);

/* Handshakes that failed since the start (a certificate refused, expired,
 * revoked, or not TLS 1.3). */
unsigned long tls_front_refused(const tls_front *f);

#endif
