/*
 * tls_state.h — the cluster's TLS bookkeeping, kept in the state store
 * (SQLite for one master, etcd for several) so that every master sees the
 * same (docs/security.md, "Several masters"):
 *
 *   tls/ca            the CA certificate (PEM) the masters share; the first
 *                     master publishes it, the others check theirs is it
 *   tls/join/ID       a join token "ID.SECRET": {"hash": SHA-256 of the
 *                     whole token, "expires", "cert_ttl_s", "addresses"
 *                     (what the node may name besides its join call's
 *                     address), "used" (+ "node", "at" once used)}
 *   tls/serials/HEX   one per certificate issued: {"node","not_after"};
 *                     created only when missing, so a serial is issued once
 *                     across every master
 *   tls/issued/NODE   {"serials": the last few, "generation", "not_after",
 *                     "addresses": what the node may name on renewal}
 *   tls/crl           {"revoked": [{"serial","node","at"}], "pem": the CRL
 *                     signed by the CA, "version": SHA-256 of pem,
 *                     "next_update"}
 *   tls/generation    {"generation": N}: the rotation every certificate
 *                     should be of
 *   tls/ingress       the user's ingress certificate and key, sealed with
 *                     the master's secret key (secret_box.h): {"box",
 *                     "key_id", "version": SHA-256 of the PEM, "subject"}
 *
 * Every change is one transaction conditional on what it read (mod
 * revisions), so two masters never both apply one: a join token is
 * marked used in the same transaction that records the certificate it
 * paid for, under a compare on the token's revision; of two masters
 * accepting one token, one transaction holds and the other finds it used.
 *
 * The CA's private key is never here: it stays in each master's
 * DATA/tls/ca.key.
 */
#ifndef QYVOL_CLUSTER_MASTER_TLS_STATE_H
#define QYVOL_CLUSTER_MASTER_TLS_STATE_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/secret_box.h"
#include "cluster/store.h"

#define TLS_KEY_CA "tls/ca"
#define TLS_KEY_CRL "tls/crl"
#define TLS_KEY_GENERATION "tls/generation"
#define TLS_KEY_INGRESS "tls/ingress"
#define TLS_PREFIX_JOIN "tls/join/"
#define TLS_PREFIX_SERIAL "tls/serials/"
#define TLS_PREFIX_ISSUED "tls/issued/"
#define TLS_ISSUED_KEEP 8          /* serials remembered per node (to revoke them) */
#define TLS_CRL_DAYS 30            /* a CRL's next update */
#define TLS_CRL_RESIGN_DAYS 10     /* signed again when fewer days are left */

/* A key's JSON object and mod_revision: *out NULL (and *mod 0) when it is
 * missing. False with why when the store fails or the value is not an
 * object. */
bool tls_state_get(store *s, const char *key, json_t **out, int64_t *mod, char *why, size_t whylen);

/* The CA certificate the cluster uses: publish ca's when there is none,
 * else check that ca is it. False with why (another CA, or the store). */
bool tls_state_check_ca(store *s, X509 *ca, char *why, size_t whylen);

/* ---- join tokens */

/* Store a new token: id, the SHA-256 hex of the whole token, when it
 * expires, the first certificate's ttl (0: the master's), and the
 * addresses the node may name (a JSON array of strings, borrowed; may be
 * NULL). Expired tokens are deleted on the way, and the records of
 * serials whose certificate expired more than a day ago. */
bool tls_state_add_token(store *s, const char *id, const char *hash, int64_t expires, long cert_ttl_s,
                         json_t *addresses, char *why, size_t whylen);

/* The entry of token "ID.SECRET" when it may still be used (its hash
 * checked in constant time), with its mod_revision and id; NULL with the
 * refusal in why otherwise ("used already", "expired", "not a join
 * token"); *failed says the store failed rather than the token. */
json_t *tls_state_find_token(store *s, const char *token, int64_t *mod, char id[32], bool *failed, char *why,
                             size_t whylen);

/* ---- certificates issued */

/* One certificate to record. token_id NULL: no join token is spent. */
typedef struct tls_issue {
    const char *node;          /* its CN */
    const char *serial;        /* hex */
    int64_t not_after;
    int64_t generation;
    json_t *addresses;         /* what the node may name on renewal (array, borrowed) */
    const char *token_id;      /* the join token paid with, or NULL */
    json_t *token;             /* its entry as read (borrowed) */
    int64_t token_mod;         /* its mod_revision as read */
    json_t *issued;            /* tls/issued/NODE as read, or NULL (borrowed) */
    int64_t issued_mod;
} tls_issue;

typedef enum tls_issue_outcome {
    TLS_ISSUED,                /* recorded */
    TLS_ISSUE_RACED,           /* the token, the node's record or the serial changed meanwhile: read again */
    TLS_ISSUE_FAILED,          /* the store failed (why) */
} tls_issue_outcome;

/* In one transaction: the serial created (it must not exist), the node's
 * record updated, the token marked used; each conditional on what was read. */
tls_issue_outcome tls_state_record_issue(store *s, const tls_issue *in, char *why, size_t whylen);

/* A master's own certificate: its serial recorded (it must not exist).
 * TLS_ISSUE_RACED when another certificate has it. */
tls_issue_outcome tls_state_record_serial(store *s, const char *serial, const char *node, int64_t not_after,
                                          char *why, size_t whylen);

/* ---- revocation */

/* Add the serials (hex) to the revocation list and sign it again with
 * the CA, in one conditional write (tried again when another master wrote
 * it meanwhile). *added: how many were new. With n 0: make the list when
 * there is none, or sign it again when it expires within
 * TLS_CRL_RESIGN_DAYS. *crl (may be NULL) gets the list's object as it is
 * now (the caller decrefs). */
bool tls_state_revoke(store *s, X509 *ca, EVP_PKEY *ca_key, const char *const *serials, size_t n, const char *node,
                      size_t *added, json_t **crl, char *why, size_t whylen);

/* ---- rotation */

/* The generation (1 when none was stored). */
bool tls_state_generation(store *s, int64_t *generation, char *why, size_t whylen);
/* The next generation, in one conditional write: *generation gets it. */
bool tls_state_rotate(store *s, int64_t *generation, char *why, size_t whylen);

/* ---- the ingress certificate */

/* Seal pem (the chain then the key) with key and store it; version is
 * SHA-256 of pem. pem NULL: remove it. */
bool tls_state_set_ingress(store *s, const secret_key *key, const char *pem, const char *subject, char *why,
                           size_t whylen);
/* The ingress PEM (malloc'ed; wipe and free it) and its version; *pem
 * NULL when none is set. keys: the current secret key first, then keys
 * being rotated out; *stale (may be NULL) says an old one opened it (seal
 * it again). False with why when none opens it or the store fails. */
bool tls_state_get_ingress(store *s, const secret_key *const *keys, size_t nkeys, char **pem, char version[65],
                           int64_t *mod, bool *stale, char *why, size_t whylen);

/* ---- migration */

/* Merge a master's old DATA/tls/state.json (its object) into the store:
 * tokens, certificates and serials that are missing are added, revoked
 * serials joined to the list, the generation raised to the file's when it
 * is higher. Running it again changes nothing. */
bool tls_state_migrate(store *s, json_t *old, X509 *ca, EVP_PKEY *ca_key, char *why, size_t whylen);

#endif
