/*
 * pki.c — the cluster's certificate authority on OpenSSL (pki.h).
 */
#include "tls/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* "what: OpenSSL's reason" into why; returns NULL for `return fail(...)`. */
static void *fail(char *why, size_t whylen, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "";
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    snprintf(why, whylen, "%s%s%s", what, *reason ? ": " : "", reason);
    return NULL;
}

EVP_PKEY *pki_key_new(char *why, size_t whylen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    return key ? key : fail(why, whylen, "cannot make a P-256 key");
}

static bool set_serial(X509 *cert)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return false;
    raw[0] &= 0x7f; /* positive */
    raw[0] |= 0x40; /* and of full length, so that serials print alike */
    BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return ok;
}

static bool set_name(X509_NAME *name, const char *cn, const char *role)
{
    return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"qyvol", -1, -1, 0) &&
           (!role || X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8, (const unsigned char *)role, -1, -1, 0)) &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* "IP:1.2.3.4,DNS:name,..." */
static bool san_text(const char *const *sans, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char buf[16];
        bool ip = inet_pton(AF_INET, sans[i], buf) == 1 || inet_pton(AF_INET6, sans[i], buf) == 1;
        if (strpbrk(sans[i], ",\n\r") || !*sans[i]) return false;
        int k = snprintf(out + used, size - used, "%s%s:%s", used ? "," : "", ip ? "IP" : "DNS", sans[i]);
        if (k < 0 || (size_t)k >= size - used) return false;
        used += (size_t)k;
    }
    return true;
}

static X509 *new_cert(X509_NAME *subject, EVP_PKEY *pub, long not_before_s, long ttl_seconds)
{
    X509 *cert = X509_new();
    if (!cert || !X509_set_version(cert, 2) || !set_serial(cert) || !X509_set_subject_name(cert, subject) ||
        !X509_set_pubkey(cert, pub) || !X509_gmtime_adj(X509_getm_notBefore(cert), not_before_s) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), ttl_seconds)) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

X509 *pki_ca_new(EVP_PKEY *key, long ttl_days, char *why, size_t whylen)
{
    X509_NAME *name = X509_NAME_new();
    X509 *cert = NULL;
    if (name && set_name(name, "qyvol cluster CA", NULL)) cert = new_cert(name, key, -60, ttl_days * 86400);
    bool ok = cert && X509_set_issuer_name(cert, name) &&
              add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
              add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
              add_ext(cert, cert, NID_subject_key_identifier, "hash") && X509_sign(cert, key, EVP_sha256());
    X509_NAME_free(name);
    if (!ok) {
        X509_free(cert);
        return fail(why, whylen, "cannot make the CA certificate");
    }
    return cert;
}

/* The leaf's extensions, signed. */
static X509 *finish_leaf(X509 *cert, X509 *ca, EVP_PKEY *ca_key, const char *sans, char *why, size_t whylen)
{
    bool ok = X509_set_issuer_name(cert, X509_get_subject_name(ca)) &&
              add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") &&
              add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") &&
              add_ext(cert, ca, NID_ext_key_usage, "serverAuth,clientAuth") &&
              add_ext(cert, ca, NID_authority_key_identifier, "keyid") &&
              (!*sans || add_ext(cert, ca, NID_subject_alt_name, sans)) && X509_sign(cert, ca_key, EVP_sha256());
    if (!ok) {
        X509_free(cert);
        return fail(why, whylen, "cannot sign the certificate");
    }
    return cert;
}

X509 *pki_issue(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *pub, const char *cn, const char *role,
                const char *const *sans, size_t nsans, long ttl_seconds, char *why, size_t whylen)
{
    char text[4096];
    if (!san_text(sans, nsans, text, sizeof text)) {
        snprintf(why, whylen, "a subject alternative name is empty, too long or holds a comma");
        return NULL;
    }
    X509_NAME *name = X509_NAME_new();
    X509 *cert = name && set_name(name, cn, role) ? new_cert(name, pub, -60, ttl_seconds) : NULL;
    X509_NAME_free(name);
    if (!cert) return fail(why, whylen, "cannot make the certificate");
    return finish_leaf(cert, ca, ca_key, text, why, whylen);
}

X509_REQ *pki_csr_new(EVP_PKEY *key, const char *cn, const char *role, const char *const *sans, size_t nsans,
                      char *why, size_t whylen)
{
    char text[4096];
    if (!san_text(sans, nsans, text, sizeof text)) {
        snprintf(why, whylen, "a subject alternative name is empty, too long or holds a comma");
        return NULL;
    }
    X509_REQ *req = X509_REQ_new();
    bool ok = req && X509_REQ_set_version(req, 0) && set_name(X509_REQ_get_subject_name(req), cn, role) &&
              X509_REQ_set_pubkey(req, key);
    if (ok && *text) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, text);
        ok = exts && ext && sk_X509_EXTENSION_push(exts, ext) && X509_REQ_add_extensions(req, exts);
        if (ok) ext = NULL;
        X509_EXTENSION_free(ext);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    ok = ok && X509_REQ_sign(req, key, EVP_sha256());
    if (!ok) {
        X509_REQ_free(req);
        return fail(why, whylen, "cannot make the certificate request");
    }
    return req;
}

static void name_entry(X509_NAME *name, int nid, char out[PKI_NAME_MAX])
{
    out[0] = 0;
    int i = name ? X509_NAME_get_index_by_NID(name, nid, -1) : -1;
    if (i < 0) return;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    int len = ASN1_STRING_length(s);
    if (len <= 0 || len >= PKI_NAME_MAX) return;
    memcpy(out, ASN1_STRING_get0_data(s), (size_t)len);
    out[len] = 0;
    if (strlen(out) != (size_t)len) out[0] = 0; /* a NUL inside: no name */
}

X509 *pki_sign_csr(X509 *ca, EVP_PKEY *ca_key, X509_REQ *req, const char *cn, const char *role, long ttl_seconds,
                   char *why, size_t whylen)
{
    EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
    if (!pub || X509_REQ_verify(req, pub) != 1) return fail(why, whylen, "the certificate request's signature does not verify");
    char got_cn[PKI_NAME_MAX], got_role[PKI_NAME_MAX];
    name_entry(X509_REQ_get_subject_name(req), NID_commonName, got_cn);
    name_entry(X509_REQ_get_subject_name(req), NID_organizationalUnitName, got_role);
    if (strcmp(got_cn, cn) || strcmp(got_role, role)) {
        snprintf(why, whylen, "the certificate request names '%s' (%s), not '%s' (%s)", got_cn, got_role, cn, role);
        return NULL;
    }
    /* The only host name a request may ask for is its own name (the one a
     * forwarding node checks); addresses are its own business. */
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    STACK_OF(GENERAL_NAME) *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        const ASN1_STRING *dns = g->type == GEN_DNS ? g->d.dNSName : NULL;
        bool own = dns && (size_t)ASN1_STRING_length(dns) == strlen(cn) &&
                   !memcmp(ASN1_STRING_get0_data(dns), cn, strlen(cn));
        if (g->type != GEN_IPADD && !own) {
            snprintf(why, whylen, "the certificate request asks for a name other than '%s' and its addresses", cn);
            GENERAL_NAMES_free(sans);
            sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
            return NULL;
        }
    }
    GENERAL_NAMES_free(sans);
    X509_NAME *name = X509_NAME_new();
    X509 *cert = name && set_name(name, cn, role) ? new_cert(name, pub, -60, ttl_seconds) : NULL;
    X509_NAME_free(name);
    if (!cert) {
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        return fail(why, whylen, "cannot make the certificate");
    }
    /* The SANs asked for, as they are. */
    for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) X509_add_ext(cert, ext, -1);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return finish_leaf(cert, ca, ca_key, "", why, whylen);
}

static char *bio_text(BIO *bio, bool ok)
{
    char *text = NULL;
    if (ok) {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        text = malloc((size_t)n + 1);
        if (text) memcpy(text, data, (size_t)n), text[n] = 0;
    }
    BIO_free(bio);
    return text;
}

char *pki_cert_pem(X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    return b ? bio_text(b, PEM_write_bio_X509(b, cert)) : NULL;
}

char *pki_key_pem(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    return b ? bio_text(b, PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)) : NULL;
}

char *pki_csr_pem(X509_REQ *req)
{
    BIO *b = BIO_new(BIO_s_mem());
    return b ? bio_text(b, PEM_write_bio_X509_REQ(b, req)) : NULL;
}

char *pki_identity_pem(X509 *cert, EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    return b ? bio_text(b, PEM_write_bio_X509(b, cert) && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL))
             : NULL;
}

X509 *pki_cert_parse(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return cert;
}

X509_REQ *pki_csr_parse(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return req;
}

EVP_PKEY *pki_key_parse(const char *pem, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return key;
}

static BIO *open_file(const char *path, char *why, size_t whylen)
{
    BIO *b = BIO_new_file(path, "r");
    if (!b) snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno ? errno : ENOENT));
    ERR_clear_error();
    return b;
}

X509 *pki_cert_load(const char *path, char *why, size_t whylen)
{
    BIO *b = open_file(path, why, whylen);
    if (!b) return NULL;
    X509 *cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!cert) snprintf(why, whylen, "%s: not a PEM certificate", path);
    ERR_clear_error();
    return cert;
}

EVP_PKEY *pki_key_load(const char *path, char *why, size_t whylen)
{
    BIO *b = open_file(path, why, whylen);
    if (!b) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!key) snprintf(why, whylen, "%s: not a PEM private key", path);
    ERR_clear_error();
    return key;
}

bool pki_write(const char *path, const char *text, char *why, size_t whylen)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(why, whylen, "%s: path too long", path);
        return false;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
        return false;
    }
    size_t n = strlen(text);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 && ok) ok = false, err = errno;
    if (ok && rename(tmp, path) != 0) ok = false, err = errno;
    if (!ok) {
        unlink(tmp);
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(err));
    }
    return ok;
}

void pki_cert_names(X509 *cert, char cn[PKI_NAME_MAX], char role[PKI_NAME_MAX])
{
    name_entry(X509_get_subject_name(cert), NID_commonName, cn);
    name_entry(X509_get_subject_name(cert), NID_organizationalUnitName, role);
}

void pki_cert_serial(X509 *cert, char out[PKI_SERIAL_MAX])
{
    out[0] = 0;
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex) snprintf(out, PKI_SERIAL_MAX, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

int64_t pki_cert_not_after(X509 *cert)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
    return (int64_t)timegm(&tm);
}

bool pki_cert_has_san(X509 *cert, const char *name)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        return X509_check_ip_asc(cert, name, 0) == 1;
    return X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1;
}

bool pki_cert_matches_key(X509 *cert, EVP_PKEY *key)
{
    bool ok = X509_check_private_key(cert, key) == 1;
    ERR_clear_error();
    return ok;
}

void pki_local_addresses(char names[][64], size_t *n, size_t max)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return;
    for (struct ifaddrs *i = ifs; i && *n < max; i = i->ifa_next) {
        int family = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;
        if (family != AF_INET && family != AF_INET6) continue;
        const void *a = family == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                          : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        char text[64];
        if (!inet_ntop(family, a, text, sizeof text) || strchr(text, '%')) continue;
        bool seen = false;
        for (size_t j = 0; j < *n; j++) seen |= !strcmp(names[j], text);
        if (!seen) snprintf(names[(*n)++], 64, "%s", text);
    }
    freeifaddrs(ifs);
}

bool pki_ca_pin(X509 *ca, char out[80])
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(X509_get0_pubkey(ca), &der);
    unsigned char md[32];
    unsigned int mdlen = 0;
    bool ok = n > 0 && EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32;
    OPENSSL_free(der);
    if (!ok) return false;
    int used = snprintf(out, 80, "sha256:");
    for (unsigned i = 0; i < 32; i++) used += snprintf(out + used, (size_t)(80 - used), "%02x", md[i]);
    return true;
}

char *pki_crl_pem(X509 *ca, EVP_PKEY *ca_key, const char *const *serials, size_t n, long valid_days, char *why,
                  size_t whylen)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *now = X509_gmtime_adj(NULL, -60), *next = X509_gmtime_adj(NULL, valid_days * 86400);
    bool ok = crl && now && next && X509_CRL_set_version(crl, 1) &&
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) && X509_CRL_set1_lastUpdate(crl, now) &&
              X509_CRL_set1_nextUpdate(crl, next);
    for (size_t i = 0; ok && i < n; i++) {
        BIGNUM *bn = NULL;
        X509_REVOKED *r = X509_REVOKED_new();
        ASN1_INTEGER *serial = BN_hex2bn(&bn, serials[i]) ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
        ok = r && serial && X509_REVOKED_set_serialNumber(r, serial) && X509_REVOKED_set_revocationDate(r, now) &&
             X509_CRL_add0_revoked(crl, r);
        if (ok) r = NULL;
        X509_REVOKED_free(r);
        ASN1_INTEGER_free(serial);
        BN_free(bn);
    }
    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, ca_key, EVP_sha256());
    char *text = NULL;
    if (ok) {
        BIO *b = BIO_new(BIO_s_mem());
        text = b ? bio_text(b, PEM_write_bio_X509_CRL(b, crl)) : NULL;
    }
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    X509_CRL_free(crl);
    if (!text) fail(why, whylen, "cannot make the revocation list");
    return text;
}
