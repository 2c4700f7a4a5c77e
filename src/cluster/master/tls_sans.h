/*
 * tls_sans.h — which names and addresses a node's certificate may carry
 * (docs/security.md, "Joining"). A node that joins with a join token gets
 * only what it can prove: its own name, the address its join call came
 * from, and the addresses the operator listed when making the
 * token (`qyv cluster token create --node-address ...`). A renewal may
 * keep what the node was given at its join, plus the address it renews
 * from. Anything else is refused, naming it.
 */
#ifndef QYVOL_CLUSTER_MASTER_TLS_SANS_H
#define QYVOL_CLUSTER_MASTER_TLS_SANS_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>

#define TLS_SANS_MAX 32
#define TLS_SAN_LEN 256

/* The subjectAltNames a certificate request asks for, as text (IP
 * addresses in their usual form, DNS names as they are), at most max.
 * *n gets how many; false when there are more, or one is neither. */
bool tls_csr_sans(X509_REQ *req, char out[][TLS_SAN_LEN], size_t max, size_t *n);

/* Whether every one of names may be in the certificate of node: the
 * node's name, the address peer (as text), or an entry of allowed (a JSON
 * array of strings; addresses compare as addresses, "::ffff:10.0.0.1" is
 * 10.0.0.1). False with why naming the first that is not. */
bool tls_sans_allowed(char names[][TLS_SAN_LEN], size_t n, const char *node, const char *peer, const json_t *allowed,
                      char *why, size_t whylen);

/* An --node-address entry is an IP address (the only host name a node's
 * certificate carries is its own name, pki_sign_csr). */
bool tls_san_valid(const char *name);

/* What a node's certificate may name from now on (a new JSON array): the
 * names it was given, which the caller proved allowed. */
json_t *tls_sans_json(char names[][TLS_SAN_LEN], size_t n);

#endif
