/*
 * ctx.h — OpenSSL contexts made from PEM files, TLS 1.3 only: for a
 * server (its certificate, and optionally clients' certificates checked
 * against the cluster CA and its revocation list) and for a client (the
 * cluster CA to check the server, its own certificate to show).
 *
 * A tls_files names the files; tls_files_changed() says whether any of
 * them changed on disk since it was last asked, so that a process can
 * build a new context when a certificate is rotated (new connections get
 * it; connections already open keep theirs).
 */
#ifndef QYVOL_TLS_CTX_H
#define QYVOL_TLS_CTX_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define TLS_PATH_MAX 512

typedef struct tls_files {
    char cert[TLS_PATH_MAX]; /* PEM certificate ("" when none) */
    char key[TLS_PATH_MAX];  /* its PEM private key */
    char ca[TLS_PATH_MAX];   /* the CA peers are checked against ("": peers are not asked for one) */
    char crl[TLS_PATH_MAX];  /* the CA's revocation list ("": none; a missing file: none yet) */
    /* What was seen on disk, for tls_files_changed(). */
    struct { ino_t ino; off_t size; struct timespec mtime; } seen[4];
    bool looked;
} tls_files;

typedef enum tls_peer_check {
    TLS_PEER_NONE,     /* no certificate asked of the client */
    TLS_PEER_OPTIONAL, /* asked; one that does not verify ends the handshake */
    TLS_PEER_REQUIRED, /* a client without a good certificate is refused */
} tls_peer_check;

/* A server context. NULL with why. */
SSL_CTX *tls_ctx_server(const tls_files *files, tls_peer_check check, char *why, size_t whylen);

/* A client context: the server is checked against files->ca (and its
 * CRL), files->cert/key shown when set. NULL with why. */
SSL_CTX *tls_ctx_client(const tls_files *files, char *why, size_t whylen);

/* A client context kept in step with its files: rebuilt when they
 * change (at most once a second), the last good one kept otherwise. */
typedef struct tls_client_source {
    tls_files files;
    SSL_CTX *ctx;
    time_t checked;
} tls_client_source;
SSL_CTX *tls_client_current(tls_client_source *s);
void tls_client_source_free(tls_client_source *s);

/* Whether one of the files changed (or appeared, or went) since the last
 * call; the first call says true. */
bool tls_files_changed(tls_files *files);

/* "ROLE/CN" of a verified peer certificate into out, or "" when the peer
 * showed none (or it did not verify). */
void tls_peer_identity(SSL *ssl, char *out, size_t size);

#endif
