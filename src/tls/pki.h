/*
 * pki.h — the cluster's certificate authority, on OpenSSL: keys
 * (ECDSA P-256), the CA, certificates for the master and the nodes,
 * certificate requests (a node makes its key and asks), the revocation
 * list, and PEM files written 0600.
 *
 * A certificate names who holds it: CN = the node's name (or "master"),
 * OU = its role ("node" or "master"); its subjectAltNames carry the DNS
 * names and IP addresses it is reached at. Certificates are good for
 * both TLS server and TLS client use (one identity per process).
 */
#ifndef QYVOL_TLS_PKI_H
#define QYVOL_TLS_PKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKI_ROLE_NODE "node"
#define PKI_ROLE_MASTER "master"
#define PKI_NAME_MAX 128
#define PKI_SERIAL_MAX 48 /* hex digits of a serial, and a NUL */

/* A fresh P-256 key. NULL with why. */
EVP_PKEY *pki_key_new(char *why, size_t whylen);

/* A self-signed CA certificate for key, good for ttl_days. */
X509 *pki_ca_new(EVP_PKEY *key, long ttl_days, char *why, size_t whylen);

/* A certificate for pub (CN = cn, OU = role, SANs: each entry an IP
 * address or a DNS name), signed by the CA, good from a minute ago for
 * ttl_seconds. */
X509 *pki_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub, const char *cn, const char *role,
                const char *const *sans, size_t nsans, long ttl_seconds, char *why, size_t whylen);

/* A certificate request for key (CN, OU, SANs as above). */
X509_REQ *pki_csr_new(EVP_PKEY *key, const char *cn, const char *role, const char *const *sans, size_t nsans,
                      char *why, size_t whylen);

/* Sign req after checking its signature, that its CN is cn and its OU is
 * role; the SANs it asks for are kept. */
X509 *pki_sign_csr(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req, const char *cn, const char *role, long ttl_seconds,
                   char *why, size_t whylen);

/* PEM text (malloc'd) of a certificate, a private key, a request, a CRL. */
char *pki_cert_pem(X509 *cert);
char *pki_key_pem(EVP_PKEY *key);
char *pki_csr_pem(X509_REQ *req);
/* A certificate followed by its key, one PEM text (malloc'd): the file
 * that names a process, replaced at once when it rotates. */
char *pki_identity_pem(X509 *cert, EVP_PKEY *key);
/* Parse PEM text. NULL when it is not one. */
X509 *pki_cert_parse(const char *pem, size_t len);
X509_REQ *pki_csr_parse(const char *pem, size_t len);
EVP_PKEY *pki_key_parse(const char *pem, size_t len);

/* Read PEM files. NULL with why. */
X509 *pki_cert_load(const char *path, char *why, size_t whylen);
EVP_PKEY *pki_key_load(const char *path, char *why, size_t whylen);

/* Write text to path, mode 0600, through a temporary file renamed over
 * it (a reader sees the old file or the new one, never half of one). */
bool pki_write(const char *path, const char *text, char *why, size_t whylen);

/* Who a certificate names: CN and OU ("" when absent), its serial in hex,
 * and when it stops being good (seconds since the epoch). */
void pki_cert_names(X509 *cert, char cn[PKI_NAME_MAX], char role[PKI_NAME_MAX]);
void pki_cert_serial(X509 *cert, char out[PKI_SERIAL_MAX]);
int64_t pki_cert_not_after(X509 *cert);
/* Whether the certificate's SANs include name (an IP or a DNS name). */
bool pki_cert_has_san(X509 *cert, const char *name);
/* The key in cert matches key. */
bool pki_cert_matches_key(X509 *cert, EVP_PKEY *key);

/* This machine's interface addresses (IPv4 and IPv6, loopback too), for
 * the certificate of a process listening on all of them: appended to
 * names[*n] while *n < max, skipping those already there. */
void pki_local_addresses(char names[][64], size_t *n, size_t max);

/* "sha256:HEX" of the CA's public key (its DER SubjectPublicKeyInfo), as
 * kubeadm pins a CA. */
bool pki_ca_pin(X509 *ca, char out[80]);

/* A CRL signed by the CA listing the serials (hex), next update in
 * valid_days. PEM text (malloc'd) or NULL with why. */
char *pki_crl_pem(X509 *ca, EVP_PKEY *ca_key, const char *const *serials, size_t n, long valid_days, char *why,
                  size_t whylen);

#endif
