/*
 * store_etcd_tls.h — the etcd store's side of TLS (store_etcd_tls.c):
 * a libcurl handle set to speak to etcds:// members with the files of
 * store_etcd_set_tls (store.h), and what a TLS failure means in words.
 * Not an API beyond the store.
 */
#ifndef QYVOL_CLUSTER_STORE_ETCD_TLS_H
#define QYVOL_CLUSTER_STORE_ETCD_TLS_H

#include <stdbool.h>
#include <stddef.h>

/* Set the CURL * for HTTPS to etcd: peer and host checked, the CA file,
 * the client certificate and key when given. */
void etcd_tls_apply(void *curl);
/* Did the call fail in its TLS handshake (so nothing was sent)? */
bool etcd_tls_failure(int curl_code);
/* libcurl's detail of a failed call, with what to check when it is
 * likely a TLS mismatch: "etcd's certificate is not signed by the CA
 * of --etcd-cacert (TLS: DETAIL)". tls: the store is etcds://. */
void etcd_explain(bool tls, int curl_code, const char *detail, char *out, size_t n);

#endif
