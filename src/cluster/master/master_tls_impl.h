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
    /* The TLS state lives in the store (tls_state.h); this handle of its
     * own (not fenced: it reads, and writes only what any master may,
     * each conditional) follows it. The API's changes go through the
     * master's fenced handle. */
    struct store *st;
    int64_t generation;         /* the store's, as last read */
    int64_t generation_applied; /* the one this master's certificate is of (DATA/tls/generation) */
    char crl_version[65];       /* SHA-256 of crl.pem (the store's CRL) */
    char ingress_version[65];   /* of ingress.pem, "" when none */
    int64_t synced_revision;    /* the store's revision at the last sync */
    uint64_t synced_ns, full_sync_ns;
    bool was_leading;
    bool syncing;               /* a sync job runs (it alone uses st meanwhile) */
    char sync_problem[300];     /* the last failure, logged once */
    tls_front *api_front, *ingress_front;
};

bool mtls_path(const master_tls *t, const char *name, char *out, size_t size);
void mtls_sha256_hex(const void *data, size_t len, char out[65]);
/* A file's text (at most 64 KiB, malloc'ed), NULL when it cannot be read. */
char *mtls_file_text(const char *path);
/* crl.pem from the list's object (tls_state.h), when its version is new. */
bool mtls_write_crl(master_tls *t, const json_t *crl, char *why, size_t whylen);
/* ingress.pem from the PEM (NULL: removed), when its version is new. */
bool mtls_write_ingress(master_tls *t, const char *pem, const char *version, char *why, size_t whylen);
/* DATA/tls/generation: the generation this master's certificate is of. */
bool mtls_set_applied(master_tls *t, int64_t generation, char *why, size_t whylen);
/* tls_sync.c: follow the store at start (check the CA, migrate
 * state.json, the CRL, the generation) and as it changes. */
bool mtls_store_open(master_tls *t, const struct master *m, char *why, size_t whylen);
/* Now, on this thread (at start). */
void mtls_sync_now(master_tls *t, const struct master *m);
/* From the tick: about once a second, on a thread of its own (the store
 * may be slow to answer), its findings applied on the loop. */
void mtls_sync(master_tls *t, struct master *m);
/* A new key and certificate for the master, its serial recorded through
 * record (the master's own handle, or the fenced one of the leader). */
bool mtls_issue_master(master_tls *t, struct store *record, char sans[][256], size_t nsans, char *why, size_t whylen);
/* A new key and certificate for the master (rotation). */
bool mtls_reissue_master(master_tls *t, const struct master *m, struct store *record, char *why, size_t whylen);

#endif
