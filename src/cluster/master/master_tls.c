/*
 * master_tls.c — the master's certificates and TLS listeners
 * (master_tls.h). The /v1/tls/ endpoints are in tls_api.c.
 */
#include "cluster/master/master_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/client.h"
#include "cluster/master/internal.h"
#include "cluster/master/master_tls_impl.h"
#include "serve/log.h"

#define MASTER_CERT_TTL_S (365L * 86400)
#define RENEW_BEFORE_S (30L * 86400)

bool mtls_path(const master_tls *t, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", t->dir, name);
    return n > 0 && (size_t)n < size;
}

static bool copy_file(const char *from, const char *to, char *why, size_t whylen)
{
    FILE *f = fopen(from, "r");
    if (!f) {
        snprintf(why, whylen, "cannot read %s: %s", from, strerror(errno));
        return false;
    }
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return pki_write(to, buf, why, whylen);
}

void mtls_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The SHA-256 of a file's bytes, "" when it is not there. */
void mtls_file_version(const char *path, char out[65])
{
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    mtls_sha256_hex(buf, n, out);
}

bool mtls_save_state(master_tls *t, char *why, size_t whylen)
{
    char path[600];
    mtls_path(t, "state.json", path, sizeof path);
    char *text = json_dumps(t->state, JSON_INDENT(1) | JSON_SORT_KEYS);
    bool ok = text && pki_write(path, text, why, whylen);
    free(text);
    return ok;
}

bool mtls_write_crl(master_tls *t, char *why, size_t whylen)
{
    json_t *revoked = json_object_get(t->state, "revoked");
    size_t n = json_array_size(revoked);
    const char **serials = calloc(n + 1, sizeof *serials);
    if (!serials) return false;
    for (size_t i = 0; i < n; i++) serials[i] = json_string_value(json_object_get(json_array_get(revoked, i), "serial"));
    char *pem = pki_crl_pem(t->ca, t->ca_key, serials, n, 30, why, whylen);
    free(serials);
    char path[600];
    mtls_path(t, "crl.pem", path, sizeof path);
    bool ok = pem && pki_write(path, pem, why, whylen);
    if (ok) mtls_sha256_hex(pem, strlen(pem), t->crl_version);
    free(pem);
    return ok;
}

/* The master's host names and addresses its certificate names: its
 * --listen address (every interface's when it listens on all), the
 * --advertise names, localhost. */
static size_t master_sans(const master *m, char sans[][256], size_t max)
{
    size_t n = 0;
    const char *listen = m->opt.address;
    if (strcmp(listen, "0.0.0.0") && strcmp(listen, "::") && *listen) {
        snprintf(sans[n++], 256, "%s", listen);
    } else {
        char local[24][64];
        size_t k = 0;
        pki_local_addresses(local, &k, 24);
        for (size_t i = 0; i < k && n < max - 8; i++) snprintf(sans[n++], 256, "%s", local[i]);
    }
    if (m->opt.advertise) {
        const char *p = m->opt.advertise;
        while (*p && n < max - 3) {
            size_t len = strcspn(p, ",");
            if (len && len < 256) snprintf(sans[n++], 256, "%.*s", (int)len, p);
            p += len;
            if (*p == ',') p++;
        }
    }
    snprintf(sans[n++], 256, "localhost");
    snprintf(sans[n++], 256, "127.0.0.1");
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0 && *host && n < max) snprintf(sans[n++], 256, "%s", host);
    return n;
}

/* master.crt: kept when it is the CA's, good for a while, and names
 * every address; else made anew (a new key too). */
static bool master_certificate(master_tls *t, const master *m, char *why, size_t whylen)
{
    char sans[40][256];
    size_t nsans = master_sans(m, sans, 40);
    char err[300];
    X509 *cert = pki_cert_load(t->api_files.cert, err, sizeof err);
    EVP_PKEY *key = cert ? pki_key_load(t->api_files.key, err, sizeof err) : NULL;
    bool good = cert && key && pki_cert_matches_key(cert, key) && X509_verify(cert, X509_get0_pubkey(t->ca)) == 1 &&
                pki_cert_not_after(cert) - time(NULL) > RENEW_BEFORE_S;
    for (size_t i = 0; good && i + 1 < nsans; i++) good = pki_cert_has_san(cert, sans[i]); /* the host name aside */
    X509_free(cert);
    EVP_PKEY_free(key);
    if (good) return true;
    return mtls_issue_master(t, sans, nsans, why, whylen);
}

bool mtls_issue_master(master_tls *t, char sans[][256], size_t nsans, char *why, size_t whylen)
{
    const char *list[40];
    for (size_t i = 0; i < nsans && i < 40; i++) list[i] = sans[i];
    EVP_PKEY *key = pki_key_new(why, whylen);
    X509 *cert = key ? pki_issue(t->ca, t->ca_key, key, "master", PKI_ROLE_MASTER, list, nsans, MASTER_CERT_TTL_S, why,
                                 whylen)
                     : NULL;
    char *pem = cert && key ? pki_identity_pem(cert, key) : NULL;
    /* The certificate and its key in one file, replaced at once: a reader
     * never pairs a new certificate with an old key. */
    bool ok = pem && pki_write(t->api_files.cert, pem, why, whylen);
    if (ok) log_json(LOG_INFO, "master certificate issued", json_pack("{s:s,s:i}", "certificate", t->api_files.cert, "sans", (int)nsans));
    free(pem);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

bool mtls_reissue_master(master_tls *t, const master *m, char *why, size_t whylen)
{
    char sans[40][256];
    size_t nsans = master_sans(m, sans, 40);
    return mtls_issue_master(t, sans, nsans, why, whylen);
}

static bool load_ca(master_tls *t, const master *m, char *why, size_t whylen)
{
    char crt[600], key[600];
    mtls_path(t, "ca.crt", crt, sizeof crt);
    mtls_path(t, "ca.key", key, sizeof key);
    if (access(key, F_OK) != 0) {
        const char *from = m->opt.ca_dir;
        char src_crt[1100], src_key[1100];
        snprintf(src_crt, sizeof src_crt, "%s/ca.crt", from ? from : "");
        snprintf(src_key, sizeof src_key, "%s/ca.key", from ? from : "");
        if (!from || access(src_key, R_OK) != 0) {
            snprintf(why, whylen,
                     "no cluster CA in %s (nor %s/ca.key): run `qyv cluster init` (it makes one) and give its folder "
                     "with --ca-dir, or start with --plain-http to serve plain HTTP",
                     t->dir, from ? from : "--ca-dir");
            return false;
        }
        if (!copy_file(src_crt, crt, why, whylen) || !copy_file(src_key, key, why, whylen)) return false;
        /* The master's certificate `init` made, when there is one. */
        char src_master[1100];
        snprintf(src_master, sizeof src_master, "%s/master.pem", from);
        if (access(src_master, R_OK) == 0 && access(t->api_files.cert, F_OK) != 0 &&
            !copy_file(src_master, t->api_files.cert, why, whylen))
            return false;
    }
    t->ca = pki_cert_load(crt, why, whylen);
    t->ca_key = t->ca ? pki_key_load(key, why, whylen) : NULL;
    if (!t->ca_key) return false;
    if (!pki_cert_matches_key(t->ca, t->ca_key)) {
        snprintf(why, whylen, "%s is not the key of %s", key, crt);
        return false;
    }
    return pki_ca_pin(t->ca, t->ca_pin);
}

static bool load_state(master_tls *t, char *why, size_t whylen)
{
    char path[600];
    mtls_path(t, "state.json", path, sizeof path);
    json_error_t e;
    t->state = access(path, F_OK) == 0 ? json_load_file(path, 0, &e) : json_object();
    if (!json_is_object(t->state)) {
        snprintf(why, whylen, "%s: %s", path, t->state ? "not an object" : e.text);
        return false;
    }
    static const char *arrays[] = {"revoked", "join_tokens"};
    for (size_t i = 0; i < 2; i++)
        if (!json_is_array(json_object_get(t->state, arrays[i]))) json_object_set_new(t->state, arrays[i], json_array());
    if (!json_is_object(json_object_get(t->state, "issued"))) json_object_set_new(t->state, "issued", json_object());
    if (!json_is_integer(json_object_get(t->state, "generation")))
        json_object_set_new(t->state, "generation", json_integer(1));
    return true;
}

master_tls *master_tls_open(const master *m, char *why, size_t whylen)
{
    master_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    t->node_cert_ttl_s = m->opt.node_cert_ttl_s ? m->opt.node_cert_ttl_s : 30L * 86400;
    snprintf(t->dir, sizeof t->dir, "%.390s/tls", m->data_dir);
    if (mkdir(t->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot make %s: %s", t->dir, strerror(errno));
        free(t);
        return NULL;
    }
    tls_files *f = &t->api_files;
    mtls_path(t, "master.pem", f->cert, sizeof f->cert); /* the certificate, then its key */
    mtls_path(t, "master.pem", f->key, sizeof f->key);
    mtls_path(t, "ca.crt", f->ca, sizeof f->ca);
    mtls_path(t, "crl.pem", f->crl, sizeof f->crl);
    mtls_path(t, "ingress.pem", t->ingress_files.cert, sizeof t->ingress_files.cert);
    mtls_path(t, "ingress.pem", t->ingress_files.key, sizeof t->ingress_files.key);
    t->client.files = *f;
    if (!load_ca(t, m, why, whylen) || !master_certificate(t, m, why, whylen) || !load_state(t, why, whylen) ||
        !mtls_write_crl(t, why, whylen)) {
        master_tls_free(t);
        return NULL;
    }
    mtls_file_version(t->ingress_files.cert, t->ingress_version);
    api_tls calls = {0};
    snprintf(calls.ca_file, sizeof calls.ca_file, "%s", f->ca);
    snprintf(calls.cert_file, sizeof calls.cert_file, "%s", f->cert);
    snprintf(calls.key_file, sizeof calls.key_file, "%s", f->key);
    snprintf(calls.crl_file, sizeof calls.crl_file, "%s", f->crl);
    snprintf(calls.server_role, sizeof calls.server_role, PKI_ROLE_NODE); /* the master calls only nodes */
    api_set_tls(&calls);
    return t;
}

void master_tls_free(master_tls *t)
{
    if (!t) return;
    tls_front_free(t->api_front);
    tls_front_free(t->ingress_front);
    tls_client_source_free(&t->client);
    X509_free(t->ca);
    EVP_PKEY_free(t->ca_key);
    json_decref(t->state);
    free(t);
}

bool master_tls_listen_api(master_tls *t, struct event_base *base, http_server *http, const char *address,
                           unsigned port, char *why, size_t whylen)
{
    tls_front_config c = {.cluster = &t->api_files, .cluster_check = TLS_PEER_OPTIONAL, .name = "api"};
    t->api_front = tls_front_new(base, http, &c, why, whylen);
    return t->api_front && tls_front_listen(t->api_front, address, (uint16_t)port, why, whylen) == 0;
}

bool master_tls_listen_ingress(master_tls *t, struct event_base *base, http_server *http, const char *address,
                               unsigned port, char *why, size_t whylen)
{
    tls_front_config c = {.public_id = &t->ingress_files, .plain = true, .name = "ingress"};
    t->ingress_front = tls_front_new(base, http, &c, why, whylen);
    return t->ingress_front && tls_front_listen(t->ingress_front, address, (uint16_t)port, why, whylen) == 0;
}

void master_tls_drain(master_tls *t)
{
    if (!t) return;
    tls_front_drain(t->api_front);
    tls_front_drain(t->ingress_front);
}

struct ssl_ctx_st *master_tls_client_ctx(void *arg)
{
    master_tls *t = arg;
    return tls_client_current(&t->client);
}

json_t *master_tls_state(master *m)
{
    master_tls *t = m->tls;
    if (!t) return NULL;
    return json_pack("{s:O,s:s,s:s}", "generation", json_object_get(t->state, "generation"), "crl", t->crl_version,
                     "ingress", t->ingress_version);
}
