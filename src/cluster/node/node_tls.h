/*
 * node_tls.h — the node's side of the cluster's TLS (docs/security.md):
 * joining (its key made here, a certificate request sent to the master
 * with a one-time join token, the CA pinned by its hash), its API and
 * ingress over TLS, the certificate it shows when it calls the master or
 * forwards to another node, and following what the master says in each
 * heartbeat answer: a new revocation list, the ingress' HTTPS
 * certificate, a rotation (or a certificate two thirds through its life:
 * renewed).
 *
 * Files in DATA/tls/ (0600): node.pem (certificate and key, replaced at
 * once), ca.crt, crl.pem, ingress.pem, generation.
 */
#ifndef QYVOL_CLUSTER_NODE_TLS_H
#define QYVOL_CLUSTER_NODE_TLS_H

#include <jansson.h>
#include <stdbool.h>

struct node;
typedef struct node_tls node_tls;

/* Before the loop runs: a certificate of the node's own, or one got by
 * joining; every API call then speaks TLS with it. NULL with why. */
node_tls *node_tls_open(struct node *n, char *why, size_t whylen);
void node_tls_free(node_tls *t);

/* The node API (client certificates of the cluster required) and the
 * ingress (plain HTTP and the user's HTTPS; the cluster identity for
 * nodes forwarding, asked for by the node's name). */
bool node_tls_listen(node_tls *t, struct node *n, char *why, size_t whylen);
void node_tls_drain(node_tls *t);

/* The client context for forwarding (proxy_set_tls). */
struct ssl_ctx_st *node_tls_client_ctx(void *t);

/* On the master thread, after a heartbeat answer: follow its "tls". */
void node_tls_follow(struct node *n, const char *master, const json_t *state);

#endif
