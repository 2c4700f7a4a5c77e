/*
 * master_tls_impl.h — the master's TLS state, shared by master_tls.c
 * (files, certificates, listeners) and tls_api.c (the /v1/tls/
 * endpoints). Not an API.
 */
#ifndef QYVOL_CLUSTER_MASTER_TLS_IMPL_H
#define QYVOL_CLUSTER_MASTER_TLS_IMPL_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/master/master_tls.h"
#include "tls/ctx.h"
#include "tls/front.h"
#include "tls/pki.h"

struct master_tls {
    char dir[420];              /* DATA/tls */
    tls_files api_files;        /* master.pem (certificate and key), ca.crt, crl.pem */
    tls_files ingress_files;    /* the user's ingress.pem (chain and key) */
    tls_client_source client;   /* the master as a client (forwarding) */
    X509 *ca;
    EVP_PKEY *ca_key;
    char ca_pin[80];
    long node_cert_ttl_s;
    json_t *state;              /* state.json: revoked, join_tokens, issued, generation */
    char crl_version[65];       /* SHA-256 of crl.pem */
    char ingress_version[65];   /* of ingress.crt, "" when none */
    tls_front *api_front, *ingress_front;
};

bool mtls_path(const master_tls *t, const char *name, char *out, size_t size);
void mtls_sha256_hex(const void *data, size_t len, char out[65]);
void mtls_file_version(const char *path, char out[65]);
bool mtls_save_state(master_tls *t, char *why, size_t whylen);
bool mtls_write_crl(master_tls *t, char *why, size_t whylen);
bool mtls_issue_master(master_tls *t, char sans[][256], size_t nsans, char *why, size_t whylen);
/* A new key and certificate for the master (rotation). */
bool mtls_reissue_master(master_tls *t, const struct master *m, char *why, size_t whylen);

#endif
