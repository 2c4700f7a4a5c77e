/*
 * ctx.c — OpenSSL contexts from PEM files (ctx.h).
 */
#include "tls/ctx.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tls/pki.h"

static SSL_CTX *fail(SSL_CTX *ctx, char *why, size_t whylen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "";
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    snprintf(why, whylen, "%s %s%s%s", what, path, *reason ? ": " : "", reason);
    SSL_CTX_free(ctx);
    return NULL;
}

/* The CA, and its CRL when there is one, as what peers are checked against. */
static bool trust(SSL_CTX *ctx, const tls_files *files, char *why, size_t whylen)
{
    if (!SSL_CTX_load_verify_locations(ctx, files->ca, NULL)) {
        fail(NULL, why, whylen, "cannot load the CA", files->ca);
        return false;
    }
    if (!files->crl[0]) return true;
    FILE *f = fopen(files->crl, "r");
    if (!f) return errno == ENOENT ? true : (snprintf(why, whylen, "cannot read %s: %s", files->crl, strerror(errno)), false);
    X509_CRL *crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
    fclose(f);
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    if (!crl || !X509_STORE_add_crl(store, crl)) {
        X509_CRL_free(crl);
        fail(NULL, why, whylen, "cannot load the revocation list", files->crl);
        return false;
    }
    X509_CRL_free(crl);
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    return true;
}

static SSL_CTX *new_ctx(const SSL_METHOD *method, char *why, size_t whylen)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) return fail(ctx, why, whylen, "cannot set up TLS", "");
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

static bool own_identity(SSL_CTX *ctx, const tls_files *files, char *why, size_t whylen)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, files->cert) != 1) {
        fail(NULL, why, whylen, "cannot load the certificate", files->cert);
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files->key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        fail(NULL, why, whylen, "cannot load the key (or it is not the certificate's)", files->key);
        return false;
    }
    return true;
}

SSL_CTX *tls_ctx_server(const tls_files *files, tls_peer_check check, char *why, size_t whylen)
{
    SSL_CTX *ctx = new_ctx(TLS_server_method(), why, whylen);
    if (!ctx) return NULL;
    if (!own_identity(ctx, files, why, whylen)) return SSL_CTX_free(ctx), NULL;
    if (check != TLS_PEER_NONE) {
        if (!trust(ctx, files, why, whylen)) return SSL_CTX_free(ctx), NULL;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (check == TLS_PEER_REQUIRED ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
        /* The CA's name is sent in the request for a certificate. */
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(files->ca);
        if (names) SSL_CTX_set_client_CA_list(ctx, names);
    }
    static const unsigned char sid[] = "qyvol";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    ERR_clear_error();
    return ctx;
}

SSL_CTX *tls_ctx_client(const tls_files *files, char *why, size_t whylen)
{
    SSL_CTX *ctx = new_ctx(TLS_client_method(), why, whylen);
    if (!ctx) return NULL;
    if (files->cert[0] && !own_identity(ctx, files, why, whylen)) return SSL_CTX_free(ctx), NULL;
    if (!trust(ctx, files, why, whylen)) return SSL_CTX_free(ctx), NULL;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

SSL_CTX *tls_client_current(tls_client_source *s)
{
    time_t now = time(NULL);
    if (s->ctx && now == s->checked) return s->ctx;
    s->checked = now;
    if (!tls_files_changed(&s->files) && s->ctx) return s->ctx;
    char why[512];
    SSL_CTX *ctx = tls_ctx_client(&s->files, why, sizeof why);
    if (ctx) {
        SSL_CTX_free(s->ctx);
        s->ctx = ctx;
    } else {
        s->files.looked = false; /* half written, perhaps: try again in a second */
    }
    return s->ctx;
}

void tls_client_source_free(tls_client_source *s)
{
    SSL_CTX_free(s->ctx);
    s->ctx = NULL;
}

bool tls_files_changed(tls_files *files)
{
    const char *paths[4] = {files->cert, files->key, files->ca, files->crl};
    bool changed = !files->looked;
    files->looked = true;
    for (int i = 0; i < 4; i++) {
        struct stat st;
        memset(&st, 0, sizeof st);
        if (paths[i][0] && stat(paths[i], &st) != 0) memset(&st, 0, sizeof st);
        if (st.st_ino != files->seen[i].ino || st.st_size != files->seen[i].size ||
            st.st_mtim.tv_sec != files->seen[i].mtime.tv_sec || st.st_mtim.tv_nsec != files->seen[i].mtime.tv_nsec) {
            changed = true;
            files->seen[i].ino = st.st_ino;
            files->seen[i].size = st.st_size;
            files->seen[i].mtime = st.st_mtim;
        }
    }
    return changed;
}

void tls_peer_identity(SSL *ssl, char *out, size_t size)
{
    out[0] = 0;
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return;
    char cn[PKI_NAME_MAX], role[PKI_NAME_MAX];
    pki_cert_names(cert, cn, role);
    if (cn[0] && role[0]) snprintf(out, size, "%s/%s", role, cn);
}
