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
#include "cluster/master/tls_state.h"
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

char *mtls_file_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

bool mtls_write_crl(master_tls *t, const json_t *crl, char *why, size_t whylen)
{
    const char *pem = json_string_value(json_object_get(crl, "pem"));
    const char *version = json_string_value(json_object_get(crl, "version"));
    if (!pem || !version || strlen(version) != 64) {
        snprintf(why, whylen, "the stored revocation list is damaged");
        return false;
    }
    if (!strcmp(version, t->crl_version)) return true;
    if (!pki_write(t->api_files.crl, pem, why, whylen)) return false;
    snprintf(t->crl_version, sizeof t->crl_version, "%s", version);
    return true;
}

bool mtls_write_ingress(master_tls *t, const char *pem, const char *version, char *why, size_t whylen)
{
    if (!strcmp(version, t->ingress_version)) return true;
    if (!pem) {
        if (unlink(t->ingress_files.cert) != 0 && errno != ENOENT) {
            snprintf(why, whylen, "cannot remove %s: %s", t->ingress_files.cert, strerror(errno));
            return false;
        }
    } else if (!pki_write(t->ingress_files.cert, pem, why, whylen)) {
        return false;
    }
    snprintf(t->ingress_version, sizeof t->ingress_version, "%s", version);
    return true;
}

bool mtls_set_applied(master_tls *t, int64_t generation, char *why, size_t whylen)
{
    char path[600], text[32];
    mtls_path(t, "generation", path, sizeof path);
    snprintf(text, sizeof text, "%lld\n", (long long)generation);
    if (!pki_write(path, text, why, whylen)) return false;
    t->generation_applied = generation;
    return true;
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
    if (m->opt.advertise_names) {
        const char *p = m->opt.advertise_names;
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
    return mtls_issue_master(t, t->st, sans, nsans, why, whylen);
}

bool mtls_issue_master(master_tls *t, store *record, char sans[][256], size_t nsans, char *why, size_t whylen)
{
    const char *list[40];
    for (size_t i = 0; i < nsans && i < 40; i++) list[i] = sans[i];
    EVP_PKEY *key = pki_key_new(why, whylen);
    X509 *cert = NULL;
    /* Its serial is recorded in the store, which takes each serial once
     * across every master (a clash means: another serial). */
    for (int tries = 0; key && tries < 3; tries++) {
        cert = pki_issue(t->ca, t->ca_key, key, "master", PKI_ROLE_MASTER, list, nsans, MASTER_CERT_TTL_S, why, whylen);
        char serial[PKI_SERIAL_MAX];
        if (cert) pki_cert_serial(cert, serial);
        tls_issue_outcome o = cert ? tls_state_record_serial(record, serial, "master", pki_cert_not_after(cert), why, whylen)
                                   : TLS_ISSUE_FAILED;
        if (o == TLS_ISSUED) break;
        X509_free(cert);
        cert = NULL;
        if (o == TLS_ISSUE_FAILED) break;
        snprintf(why, whylen, "serial clash");
    }
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

bool mtls_reissue_master(master_tls *t, const master *m, store *record, char *why, size_t whylen)
{
    char sans[40][256];
    size_t nsans = master_sans(m, sans, 40);
    return mtls_issue_master(t, record, sans, nsans, why, whylen);
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

/* Calls with the master's certificate, to servers of role. */
static void calls_as(const master_tls *t, const char *role, api_tls *out)
{
    const tls_files *f = &t->api_files;
    *out = (api_tls){0};
    snprintf(out->ca_file, sizeof out->ca_file, "%s", f->ca);
    snprintf(out->cert_file, sizeof out->cert_file, "%s", f->cert);
    snprintf(out->key_file, sizeof out->key_file, "%s", f->key);
    snprintf(out->crl_file, sizeof out->crl_file, "%s", f->crl);
    snprintf(out->server_role, sizeof out->server_role, "%s", role);
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
    /* The CA first (the store is checked against it), then the state
     * the store holds, then this master's certificate (of the store's
     * generation). */
    bool ok = load_ca(t, m, why, whylen) && mtls_store_open(t, m, why, whylen) && master_certificate(t, m, why, whylen);
    if (ok && t->generation_applied < t->generation) {
        ok = mtls_reissue_master(t, m, t->st, why, whylen) && mtls_set_applied(t, t->generation, why, whylen);
    }
    if (!ok) {
        master_tls_free(t);
        return NULL;
    }
    mtls_sync_now(t, m);
    api_tls calls;
    calls_as(t, PKI_ROLE_NODE, &calls); /* the master's own calls go to nodes; ha.c calls masters */
    api_set_tls(&calls);
    return t;
}

bool master_tls_master_calls(const master *m, api_tls *out)
{
    if (!m->tls) return false;
    calls_as(m->tls, PKI_ROLE_MASTER, out);
    return true;
}

void master_tls_free(master_tls *t)
{
    if (!t) return;
    tls_front_free(t->api_front);
    tls_front_free(t->ingress_front);
    tls_client_source_free(&t->client);
    X509_free(t->ca);
    EVP_PKEY_free(t->ca_key);
    store_close(t->st);
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
    return json_pack("{s:I,s:s,s:s}", "generation", (json_int_t)t->generation, "crl", t->crl_version, "ingress",
                     t->ingress_version);
}

void master_tls_sync(master *m)
{
    if (m->tls) mtls_sync(m->tls, m);
}

char *master_tls_forward_body(const http_request *r, size_t *len)
{
    if (strcmp(r->method, "POST") || strcmp(r->path, "/v1/tls/join")) return NULL;
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    char *text = NULL;
    if (json_is_object(j)) {
        /* The leader sees this master as the caller: it is told who called
         * here (and believes it only of a master's certificate). */
        json_object_set_new(j, "peer", json_string(r->peer ? r->peer : ""));
        text = json_dumps(j, JSON_COMPACT);
    }
    json_decref(j);
    if (text) *len = strlen(text);
    return text;
}
