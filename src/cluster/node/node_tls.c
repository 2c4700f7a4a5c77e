/*
 * node_tls.c — the node's certificates and TLS listeners (node_tls.h).
 */
#include "cluster/node/node_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/client.h"
#include "cluster/node/node_impl.h"
#include "tls/ctx.h"
#include "tls/front.h"
#include "tls/pki.h"

#define JOIN_TIMEOUT_MS 10000
#define MAX_SANS 32

struct node_tls {
    char dir[480];              /* DATA/tls */
    tls_files cluster;          /* node.pem, ca.crt, crl.pem */
    tls_files ingress;          /* ingress.pem */
    tls_client_source client;   /* forwarding to other nodes */
    tls_front *api_front, *ingress_front;
    long generation;            /* the rotation the certificate is from */
    int64_t not_before, not_after;
    char crl_version[65], ingress_version[65];
};

static void path_in(const node_tls *t, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%.479s/%.20s", t->dir, name);
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void file_version(const char *path, char out[65])
{
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf) sha256_hex(buf, n, out);
    free(buf);
}

/* "HOST" of "HOST:PORT" / "[V6]:PORT", when it names one address (not a wildcard). */
static bool specific_host(const char *address, char *out, size_t size)
{
    snprintf(out, size, "%s", address);
    if (!strcmp(out, "0.0.0.0") || !strcmp(out, "::") || !*out) return false;
    return true;
}

/* The names the node's certificate carries: its name, and the addresses
 * it listens on (every interface's when it listens on all). */
static size_t node_sans(const struct node *n, char sans[MAX_SANS][64])
{
    size_t k = 0;
    snprintf(sans[k++], 64, "%s", n->name);
    char host[300];
    bool wildcard = false;
    const char *addrs[2] = {n->opt.listen_address, n->opt.ingress_address};
    for (int i = 0; i < 2; i++) {
        if (!specific_host(addrs[i], host, sizeof host)) {
            wildcard = true;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < k; j++) dup |= !strcmp(sans[j], host);
        if (!dup && strlen(host) < 64) snprintf(sans[k++], 64, "%.63s", host);
    }
    if (wildcard) pki_local_addresses(sans, &k, MAX_SANS);
    return k;
}

/* A new key and a certificate request for it; the key into *key. */
static char *new_request(const struct node *n, EVP_PKEY **key, char *why, size_t whylen)
{
    char sans[MAX_SANS][64];
    const char *list[MAX_SANS];
    size_t k = node_sans(n, sans);
    for (size_t i = 0; i < k; i++) list[i] = sans[i];
    *key = pki_key_new(why, whylen);
    X509_REQ *req = *key ? pki_csr_new(*key, n->name, PKI_ROLE_NODE, list, k, why, whylen) : NULL;
    char *pem = req ? pki_csr_pem(req) : NULL;
    X509_REQ_free(req);
    return pem;
}

/* The master's answer to join or renew: node.pem, crl.pem, generation. */
static bool take_certificate(node_tls *t, EVP_PKEY *key, const api_reply *reply, char *why, size_t whylen)
{
    json_t *j = json_loadb(reply->body, reply->len, 0, NULL);
    const char *cert_pem = json_string_value(json_object_get(j, "certificate"));
    const char *crl = json_string_value(json_object_get(j, "crl"));
    X509 *cert = cert_pem ? pki_cert_parse(cert_pem, strlen(cert_pem)) : NULL;
    char *both = cert && pki_cert_matches_key(cert, key) ? pki_identity_pem(cert, key) : NULL;
    char gen_path[4300], gen_text[32];
    path_in(t, "generation", gen_path, sizeof gen_path);
    long generation = (long)json_integer_value(json_object_get(j, "generation"));
    snprintf(gen_text, sizeof gen_text, "%ld\n", generation);
    if (!both) snprintf(why, whylen, "the master's answer holds no certificate for this node's key");
    bool ok = both && (!crl || pki_write(t->cluster.crl, crl, why, whylen)) &&
              pki_write(t->cluster.cert, both, why, whylen) && pki_write(gen_path, gen_text, why, whylen);
    if (ok) {
        t->generation = generation;
        t->not_after = pki_cert_not_after(cert);
        t->not_before = (int64_t)time(NULL);
        if (crl) sha256_hex(crl, strlen(crl), t->crl_version);
    }
    free(both);
    X509_free(cert);
    json_decref(j);
    return ok;
}

/* The CA: pinned and fetched from the master, or a file given, or the one
 * kept from before. */
static bool get_ca(node_tls *t, struct node *n, char *why, size_t whylen)
{
    const char *pin = n->opt.ca_pin, *file = n->opt.ca_file;
    if (!pin && !file) {
        if (access(t->cluster.ca, R_OK) == 0) return true;
        snprintf(why, whylen, "no cluster CA to check the master with: give --ca-pin sha256:HEX (printed by `qyv "
                              "cluster token create`) or --ca FILE, or --plain-http for a plain HTTP cluster");
        return false;
    }
    char *pem = NULL;
    size_t len = 0;
    if (pin) {
        api_tls trust_none = {.no_verify = true};
        api_reply reply;
        if (!api_call_tls(&trust_none, n->master, "GET", "/v1/tls/ca", NULL, NULL, NULL, 0, JOIN_TIMEOUT_MS, &reply,
                          why, whylen))
            return false;
        if (reply.status != 200) {
            snprintf(why, whylen, "the master at %s gave no CA (HTTP %ld): is it a TLS master?", n->master, reply.status);
            api_reply_free(&reply);
            return false;
        }
        pem = reply.body, len = reply.len;
    } else {
        FILE *f = fopen(file, "r");
        pem = f ? malloc(65537) : NULL;
        len = pem ? fread(pem, 1, 65536, f) : 0;
        if (f) fclose(f);
        if (!pem) {
            snprintf(why, whylen, "cannot read --ca %s: %s", file, strerror(errno));
            return false;
        }
        pem[len] = 0;
    }
    X509 *ca = pki_cert_parse(pem, len);
    char got[80] = "";
    bool ok = ca && pki_ca_pin(ca, got);
    if (!ok) snprintf(why, whylen, "%s is not a PEM certificate", pin ? "the master's CA" : file);
    else if (pin && strcasecmp(got, pin)) {
        snprintf(why, whylen, "the master's CA is not the one pinned: it is %s, --ca-pin says %s", got, pin);
        ok = false;
    }
    ok = ok && pki_write(t->cluster.ca, pem, why, whylen);
    X509_free(ca);
    free(pem);
    return ok;
}

/* Join: a certificate for the node's new key, for a join token (or the
 * cluster token). */
static bool join(node_tls *t, struct node *n, char *why, size_t whylen)
{
    if (!*n->master) {
        snprintf(why, whylen, "a node of a TLS cluster gets its certificate from its master: give --master HOST:PORT "
                              "with --join TOKEN (`qyv cluster token create` prints the command), or --plain-http");
        return false;
    }
    if (!n->opt.join_token && !*n->token) {
        snprintf(why, whylen, "--join TOKEN (a join token from `qyv cluster token create`) or --token-file is needed "
                              "to get this node's certificate");
        return false;
    }
    if (!get_ca(t, n, why, whylen)) return false;
    EVP_PKEY *key = NULL;
    char *csr = new_request(n, &key, why, whylen);
    json_t *body = csr ? json_pack("{s:s,s:s}", "name", n->name, "csr", csr) : NULL;
    if (body && n->opt.join_token) json_object_set_new(body, "token", json_string(n->opt.join_token));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    api_tls trust_ca = {0};
    snprintf(trust_ca.ca_file, sizeof trust_ca.ca_file, "%s", t->cluster.ca);
    snprintf(trust_ca.server_role, sizeof trust_ca.server_role, PKI_ROLE_MASTER);
    api_reply reply = {0};
    bool ok = text && api_call_tls(&trust_ca, n->master, "POST", "/v1/tls/join", n->opt.join_token ? NULL : n->token,
                                   "application/json", text, strlen(text), JOIN_TIMEOUT_MS, &reply, why, whylen);
    if (ok && reply.status != 200) {
        char err[300];
        snprintf(why, whylen, "the master refused to give this node a certificate: %s", api_error(&reply, err, sizeof err));
        ok = false;
    }
    ok = ok && take_certificate(t, key, &reply, why, whylen);
    if (ok) log_json(LOG_INFO, "joined: certificate issued by the master", json_pack("{s:s,s:s}", "node", n->name, "master", n->master));
    api_reply_free(&reply);
    free(text);
    json_decref(body);
    free(csr);
    EVP_PKEY_free(key);
    return ok;
}

/* The certificate kept from before, when it is still good for this node. */
static bool have_certificate(node_tls *t, const struct node *n)
{
    char why[300], cn[PKI_NAME_MAX], role[PKI_NAME_MAX];
    X509 *cert = pki_cert_load(t->cluster.cert, why, sizeof why);
    X509 *ca = cert ? pki_cert_load(t->cluster.ca, why, sizeof why) : NULL;
    bool ok = ca && X509_verify(cert, X509_get0_pubkey(ca)) == 1 && pki_cert_not_after(cert) > (int64_t)time(NULL);
    if (ok) pki_cert_names(cert, cn, role);
    ok = ok && !strcmp(cn, n->name) && !strcmp(role, PKI_ROLE_NODE);
    if (ok) {
        t->not_after = pki_cert_not_after(cert);
        const ASN1_TIME *nb = X509_get0_notBefore(cert);
        struct tm tm;
        t->not_before = ASN1_TIME_to_tm(nb, &tm) == 1 ? (int64_t)timegm(&tm) : (int64_t)time(NULL);
        char gen_path[4300];
        path_in(t, "generation", gen_path, sizeof gen_path);
        FILE *f = fopen(gen_path, "r");
        if (f && fscanf(f, "%ld", &t->generation) != 1) t->generation = 0;
        if (f) fclose(f);
    }
    X509_free(cert);
    X509_free(ca);
    return ok;
}

node_tls *node_tls_open(struct node *n, char *why, size_t whylen)
{
    node_tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (strlen(n->opt.data_dir) > 460) {
        snprintf(why, whylen, "--data: the path is too long for TLS files (460 bytes at most)");
        free(t);
        return NULL;
    }
    snprintf(t->dir, sizeof t->dir, "%s/tls", n->opt.data_dir);
    if (mkdir(t->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "cannot make %s: %s", t->dir, strerror(errno));
        free(t);
        return NULL;
    }
    path_in(t, "node.pem", t->cluster.cert, sizeof t->cluster.cert);
    path_in(t, "node.pem", t->cluster.key, sizeof t->cluster.key);
    path_in(t, "ca.crt", t->cluster.ca, sizeof t->cluster.ca);
    path_in(t, "crl.pem", t->cluster.crl, sizeof t->cluster.crl);
    path_in(t, "ingress.pem", t->ingress.cert, sizeof t->ingress.cert);
    path_in(t, "ingress.pem", t->ingress.key, sizeof t->ingress.key);
    t->client.files = t->cluster;
    /* A CA given anew (another cluster) means joining again. */
    bool ok = (!n->opt.join_token && have_certificate(t, n)) || join(t, n, why, whylen);
    if (!ok) {
        free(t);
        return NULL;
    }
    file_version(t->cluster.crl, t->crl_version);
    file_version(t->ingress.cert, t->ingress_version);
    api_tls calls = {0};
    snprintf(calls.ca_file, sizeof calls.ca_file, "%s", t->cluster.ca);
    snprintf(calls.cert_file, sizeof calls.cert_file, "%s", t->cluster.cert);
    snprintf(calls.key_file, sizeof calls.key_file, "%s", t->cluster.key);
    snprintf(calls.crl_file, sizeof calls.crl_file, "%s", t->cluster.crl);
    snprintf(calls.server_role, sizeof calls.server_role, PKI_ROLE_MASTER); /* a node calls only its master */
    api_set_tls(&calls);
    return t;
}

void node_tls_free(node_tls *t)
{
    if (!t) return;
    tls_front_free(t->api_front);
    tls_front_free(t->ingress_front);
    tls_client_source_free(&t->client);
    free(t);
}

bool node_tls_listen(node_tls *t, struct node *n, char *why, size_t whylen)
{
    tls_front_config api = {.cluster = &t->cluster, .cluster_check = TLS_PEER_REQUIRED, .name = "api"};
    tls_front_config ingress = {.cluster = &t->cluster, .cluster_check = TLS_PEER_REQUIRED, .cluster_sni = n->name,
                                .public_id = &t->ingress, .plain = true, .name = "ingress"};
    t->api_front = tls_front_new(n->base, n->api, &api, why, whylen);
    t->ingress_front = t->api_front ? tls_front_new(n->base, n->ingress_http, &ingress, why, whylen) : NULL;
    return t->ingress_front &&
           tls_front_listen(t->api_front, n->opt.listen_address, n->opt.listen_port, why, whylen) == 0 &&
           tls_front_listen(t->ingress_front, n->opt.ingress_address, n->opt.ingress_port, why, whylen) == 0;
}

void node_tls_drain(node_tls *t)
{
    if (!t) return;
    tls_front_drain(t->api_front);
    tls_front_drain(t->ingress_front);
}

struct ssl_ctx_st *node_tls_client_ctx(void *arg)
{
    node_tls *t = arg;
    return tls_client_current(&t->client);
}

/* ------------------------------------------------------------ following the master */

static bool fetch(struct node *n, const char *master, const char *path, api_reply *reply)
{
    char why[400];
    if (!api_call(master, "GET", path, n->token, NULL, NULL, 0, JOIN_TIMEOUT_MS, reply, why, sizeof why)) {
        node_thread_log(n, LOG_WARN, "cannot fetch from the master", json_pack("{s:s,s:s}", "path", path, "reason", why));
        return false;
    }
    if (reply->status == 200) return true;
    char err[300];
    node_thread_log(n, LOG_WARN, "the master refused", json_pack("{s:s,s:s}", "path", path, "reason",
                                                                 api_error(reply, err, sizeof err)));
    api_reply_free(reply);
    return false;
}

static void follow_crl(node_tls *t, struct node *n, const char *master)
{
    api_reply reply;
    if (!fetch(n, master, "/v1/tls/crl", &reply)) return;
    char why[300];
    if (pki_write(t->cluster.crl, reply.body, why, sizeof why)) {
        sha256_hex(reply.body, reply.len, t->crl_version);
        node_thread_log(n, LOG_INFO, "revocation list updated", NULL);
    }
    api_reply_free(&reply);
}

static void follow_ingress(node_tls *t, struct node *n, const char *master)
{
    api_reply reply;
    if (!fetch(n, master, "/v1/tls/ingress", &reply)) return;
    json_t *j = json_loadb(reply.body, reply.len, 0, NULL);
    const char *pem = json_string_value(json_object_get(j, "pem"));
    char why[300];
    if (!pem) {
        unlink(t->ingress.cert);
        t->ingress_version[0] = 0;
        node_thread_log(n, LOG_INFO, "ingress HTTPS certificate removed", NULL);
    } else if (pki_write(t->ingress.cert, pem, why, sizeof why)) {
        file_version(t->ingress.cert, t->ingress_version);
        node_thread_log(n, LOG_INFO, "ingress HTTPS certificate received", NULL);
    }
    if (pem) OPENSSL_cleanse((char *)pem, strlen(pem));
    OPENSSL_cleanse(reply.body, reply.len);
    json_decref(j);
    api_reply_free(&reply);
}

static void renew(node_tls *t, struct node *n, const char *master, const char *reason)
{
    char why[400] = "";
    EVP_PKEY *key = NULL;
    char *csr = new_request(n, &key, why, sizeof why);
    json_t *body = csr ? json_pack("{s:s}", "csr", csr) : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    api_reply reply = {0};
    bool ok = text && api_call(master, "POST", "/v1/tls/renew", n->token, "application/json", text, strlen(text),
                               JOIN_TIMEOUT_MS, &reply, why, sizeof why);
    if (ok && reply.status != 200) {
        api_error(&reply, why, sizeof why);
        ok = false;
    }
    ok = ok && take_certificate(t, key, &reply, why, sizeof why);
    if (ok) node_thread_log(n, LOG_INFO, "certificate renewed", json_pack("{s:s,s:I}", "reason", reason, "generation",
                                                                          (json_int_t)t->generation));
    else node_thread_log(n, LOG_WARN, "cannot renew the certificate", json_pack("{s:s}", "reason", why));
    api_reply_free(&reply);
    free(text);
    json_decref(body);
    free(csr);
    EVP_PKEY_free(key);
}

void node_tls_follow(struct node *n, const char *master, const json_t *state)
{
    node_tls *t = n->tls;
    if (!t || !json_is_object(state)) return;
    const char *crl = json_string_value(json_object_get(state, "crl"));
    const char *ingress = json_string_value(json_object_get(state, "ingress"));
    long generation = (long)json_integer_value(json_object_get(state, "generation"));
    if (crl && strcmp(crl, t->crl_version)) follow_crl(t, n, master);
    if (ingress && strcmp(ingress, t->ingress_version)) follow_ingress(t, n, master);
    int64_t now = (int64_t)time(NULL);
    if (generation > t->generation) renew(t, n, master, "rotation");
    else if (t->not_after && now > t->not_before + (t->not_after - t->not_before) * 2 / 3)
        renew(t, n, master, "two thirds of its life passed");
}
