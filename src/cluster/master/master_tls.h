/*
 * master_tls.h — the master's side of the cluster's TLS (docs/security.md,
 * "Transport and identities"): the cluster CA it holds, its own
 * certificate, the certificates it signs for nodes (with one-time join
 * tokens), the revocation list, the ingress' HTTPS certificate handed to
 * the nodes, and rotation.
 *
 * Its files live in DATA/tls/ (all 0600): ca.crt and ca.key (copied from
 * the folder `qyv cluster init` wrote them to, --ca-dir), master.pem (the
 * master's certificate and key; issued here when missing, expiring, not
 * naming the master's addresses, or of an older rotation), generation
 * (the rotation master.pem is of), and copies of what the store holds:
 * crl.pem and ingress.pem (the user's HTTPS certificate chain and key).
 * Join tokens, certificates issued, revoked serials and the rotation
 * generation are in the cluster's store, shared by every master
 * (tls_state.h); an older master's state.json is moved there at start.
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

/* How this master calls another master (a follower forwarding to the
 * leader): with its own certificate, and the server's must be a master's.
 * False in plain HTTP. */
struct api_tls;
bool master_tls_master_calls(const struct master *m, struct api_tls *out);

/* The client context for forwarding to nodes (proxy_set_tls). */
struct ssl_ctx_st *master_tls_client_ctx(void *t);

/* Requests under /v1/tls/: answered here (true). admin: the request
 * carries the cluster token. */
bool master_tls_handle(struct master *m, http_exchange *x, const http_request *r, bool admin);

/* Whether a request without the cluster token may go on because the
 * client's certificate is a node's and the request is that node's own
 * (register, its heartbeat, fetching bundles). */
bool master_tls_node_may(struct master *m, const http_request *r);

/* Whether a request comes from a node on the strength of its certificate
 * alone (no token): a follower cannot forward those, since the leader
 * would see the follower's certificate, not the node's. */
bool master_tls_by_node(const http_request *r);

/* From the tick: follow the TLS state in the store (tls_state.h) about
 * once a second: a new revocation list, rotation generation or ingress
 * certificate written by any master is taken within that time (and the
 * TLS servers load the files within a second more). */
void master_tls_sync(struct master *m);

/* A follower forwarding a node's join: the body with the node's own
 * address added ("peer"), malloc'ed (*len bytes), or NULL to forward it
 * as it is. */
char *master_tls_forward_body(const http_request *r, size_t *len);

/* What nodes follow in the heartbeat answer ("tls": generation, CRL and
 * ingress certificate versions), or NULL in plain HTTP. */
json_t *master_tls_state(struct master *m);

#endif
