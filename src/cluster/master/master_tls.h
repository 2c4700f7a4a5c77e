/*
 * master_tls.h — the master's side of the cluster's TLS (docs/security.md,
 * "Transport and identities"): the cluster CA it holds, its own
 * certificate, the certificates it signs for nodes (with one-time join
 * tokens), the revocation list, the ingress' HTTPS certificate handed to
 * the nodes, and rotation.
 *
 * Its files live in DATA/tls/ (all 0600): ca.crt and ca.key (copied from
 * the folder `qyv cluster init` wrote them to, --ca-dir), master.pem (the
 * master's certificate and key; issued here when missing, expiring, or
 * not naming the master's addresses), crl.pem, ingress.pem (the user's
 * HTTPS certificate chain and key), and
 * state.json (join tokens as SHA-256 hashes, certificates issued per
 * node, revoked serials, the rotation generation).
 */
#ifndef QYVOL_CLUSTER_MASTER_TLS_H
#define QYVOL_CLUSTER_MASTER_TLS_H

#include <jansson.h>
#include <stdbool.h>

#include "serve/http1.h"

struct master;
typedef struct master_tls master_tls;

/* Set up DATA/tls and make every API call the master makes speak TLS.
 * NULL with why. */
master_tls *master_tls_open(const struct master *m, char *why, size_t whylen);
void master_tls_free(master_tls *t);

/* Serve http (the API) over TLS on address:port: client certificates are
 * asked for and checked when shown; plain HTTP is refused. */
bool master_tls_listen_api(master_tls *t, struct event_base *base, http_server *http, const char *address,
                           unsigned port, char *why, size_t whylen);
/* Serve the ingress: plain HTTP, and HTTPS once the user's certificate is set. */
bool master_tls_listen_ingress(master_tls *t, struct event_base *base, http_server *http, const char *address,
                               unsigned port, char *why, size_t whylen);
void master_tls_drain(master_tls *t);

/* The client context for forwarding to nodes (proxy_set_tls). */
struct ssl_ctx_st *master_tls_client_ctx(void *t);

/* Requests under /v1/tls/: answered here (true). admin: the request
 * carries the cluster token. */
bool master_tls_handle(struct master *m, http_exchange *x, const http_request *r, bool admin);

/* Whether a request without the cluster token may go on because the
 * client's certificate is a node's and the request is that node's own
 * (register, its heartbeat, fetching bundles). */
bool master_tls_node_may(struct master *m, const http_request *r);

/* What nodes follow in the heartbeat answer ("tls": generation, CRL and
 * ingress certificate versions), or NULL in plain HTTP. */
json_t *master_tls_state(struct master *m);

#endif
