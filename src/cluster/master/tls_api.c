/*
 * tls_api.c — the master's /v1/tls/ endpoints (docs/api.md):
 *
 *   GET    /v1/tls/ca          the CA certificate (anyone: a joining node
 *                              checks it against the pin it was given)
 *   POST   /v1/tls/tokens      a one-time join token (admin), with the
 *                              addresses the node may name
 *   POST   /v1/tls/join        a node's first certificate, for a join token
 *                              (or the cluster token) and a CSR
 *   POST   /v1/tls/renew       a node's new certificate, for its current one
 *   GET    /v1/tls/crl         the revocation list (a node, or admin)
 *   POST   /v1/tls/revoke      revoke a node's certificates or a serial (admin)
 *   POST   /v1/tls/rotate      a new master certificate; nodes renew (admin)
 *   GET    /v1/tls/status      generation, per node what it holds (admin)
 *   POST   /v1/tls/ingress     the user's HTTPS certificate and key (admin)
 *   DELETE /v1/tls/ingress     back to plain HTTP only (admin)
 *   GET    /v1/tls/ingress     the certificate and key (a node)
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cluster/master/internal.h"
#include "cluster/master/master_tls_impl.h"
#include "cluster/master/secrets.h"
#include "cluster/master/tls_sans.h"
#include "cluster/master/tls_state.h"
#include "cluster/names.h"
#include "serve/http_json.h"
#include "serve/log.h"

#define JOIN_TOKEN_TTL_S 3600
#define JOIN_TOKEN_TTL_MAX_S (7L * 86400)

/* The node a verified client certificate names, or NULL. */
static const char *node_of(const http_request *r)
{
    const char *id = r->peer_identity;
    return id && !strncmp(id, PKI_ROLE_NODE "/", sizeof PKI_ROLE_NODE) ? id + sizeof PKI_ROLE_NODE : NULL;
}

static json_t *body_object(const http_request *r, http_exchange *x)
{
    json_error_t e;
    json_t *j = json_loadb(r->body, r->body_len, 0, &e);
    if (!json_is_object(j)) {
        json_decref(j);
        http_respond_json_error(x, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static bool random_hex(char *out, size_t bytes)
{
    unsigned char raw[32];
    if (bytes > sizeof raw || getrandom(raw, bytes, 0) != (ssize_t)bytes) return false;
    for (size_t i = 0; i < bytes; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return true;
}

/* ------------------------------------------------------------ tokens */

#define TOKEN_ADDRESSES_MAX 16

static void post_token(master *m, http_exchange *x, const http_request *r)
{
    master_tls *t = m->tls;
    json_t *body = r->body_len ? body_object(r, x) : json_object();
    if (!body) return;
    json_int_t ttl = json_is_integer(json_object_get(body, "ttl_s")) ? json_integer_value(json_object_get(body, "ttl_s"))
                                                                      : JOIN_TOKEN_TTL_S;
    json_int_t cert_ttl = json_integer_value(json_object_get(body, "cert_ttl_s"));
    json_t *addresses = json_object_get(body, "addresses");
    if (ttl < 1 || ttl > JOIN_TOKEN_TTL_MAX_S || cert_ttl < 0 || cert_ttl > 10L * 365 * 86400) {
        http_respond_json_error(x, 400, "ttl_s goes from 1 s to 7 days, cert_ttl_s from 1 s to 10 years");
        json_decref(body);
        return;
    }
    if (addresses && (!json_is_array(addresses) || json_array_size(addresses) > TOKEN_ADDRESSES_MAX)) {
        http_respond_json_error(x, 400, "\"addresses\" must be a list of at most %d IP addresses",
                                TOKEN_ADDRESSES_MAX);
        json_decref(body);
        return;
    }
    size_t i;
    json_t *a;
    json_array_foreach(addresses, i, a)
    {
        if (json_is_string(a) && tls_san_valid(json_string_value(a))) continue;
        http_respond_json_error(x, 400, "\"addresses\": '%s' is not an IP address",
                                json_is_string(a) ? json_string_value(a) : "(not a string)");
        json_decref(body);
        return;
    }
    char id[13], secret[33], token[48], hash[65], why[300];
    if (!random_hex(id, 6) || !random_hex(secret, 16)) {
        http_respond_json_error(x, 500, "no random bytes");
        json_decref(body);
        return;
    }
    snprintf(token, sizeof token, "%s.%s", id, secret);
    mtls_sha256_hex(token, strlen(token), hash);
    json_int_t expires = (json_int_t)time(NULL) + ttl;
    if (!tls_state_add_token(m->st, id, hash, expires, (long)cert_ttl, addresses, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        json_decref(body);
        return;
    }
    log_json(LOG_INFO, "join token made", json_pack("{s:s,s:I,s:o}", "id", id, "expires", expires, "addresses",
                                                    addresses ? json_incref(addresses) : json_array()));
    http_respond_json(x, 201, json_pack("{s:s,s:I,s:s,s:o}", "token", token, "expires", expires, "ca_pin", t->ca_pin,
                                        "addresses", addresses ? json_incref(addresses) : json_array()));
    json_decref(body);
}

/* ------------------------------------------------------------ certificates */

#define ISSUE_TRIES 4

/* What a node asks for: its name, its request, how it proves itself. */
typedef struct issue_ask {
    const char *name;
    const char *csr;
    const char *token;         /* a join token, or NULL */
    const char *peer;          /* the address the node called from */
    bool admin;                /* the cluster token: any address */
    bool renew;                /* with its current certificate */
} issue_ask;

/* The answer to a certificate issued: it, the CA, the CRL. */
static void answer_issued(master *m, http_exchange *x, X509 *cert, const issue_ask *ask, long ttl_s, int64_t generation)
{
    master_tls *t = m->tls;
    char serial[PKI_SERIAL_MAX];
    pki_cert_serial(cert, serial);
    char *pem = pki_cert_pem(cert), *crl = mtls_file_text(t->api_files.crl), *ca = mtls_file_text(t->api_files.ca);
    if (!pem || !crl || !ca) {
        http_respond_json_error(x, 500, "cannot issue the certificate");
    } else {
        log_json(LOG_INFO, ask->token ? "node certificate issued (join)" : "node certificate issued",
                 json_pack("{s:s,s:s,s:I,s:s}", "node", ask->name, "serial", serial, "ttl_s", (json_int_t)ttl_s, "peer",
                           ask->peer ? ask->peer : ""));
        http_respond_json(x, 200, json_pack("{s:s,s:s,s:s,s:s,s:I}", "certificate", pem, "ca", ca, "crl", crl, "serial",
                                            serial, "generation", (json_int_t)generation));
    }
    free(pem);
    free(crl);
    free(ca);
}

/* One try: read the token and the node's record, check the names, sign,
 * and record it all in one transaction. Answers x unless it raced
 * (another master or call changed what was read): then false. */
static bool issue_once(master *m, http_exchange *x, X509_REQ *req, char names[][TLS_SAN_LEN], size_t nnames,
                       const issue_ask *ask)
{
    master_tls *t = m->tls;
    char why[600], id[32] = "", issued_key[128];
    json_t *token = NULL, *issued = NULL, *keep = NULL;
    int64_t token_mod = 0, issued_mod = 0, generation = 1;
    bool failed = false, done = true;
    X509 *cert = NULL;
    snprintf(issued_key, sizeof issued_key, TLS_PREFIX_ISSUED "%s", ask->name);
    if (ask->token && !(token = tls_state_find_token(m->st, ask->token, &token_mod, id, &failed, why, sizeof why))) {
        if (!failed)
            log_json(LOG_WARN, "join refused", json_pack("{s:s,s:s,s:s}", "node", ask->name, "peer", ask->peer, "reason", why));
        http_respond_json_error(x, failed ? 500 : 401, "%s", why);
        goto out;
    }
    if (!tls_state_get(m->st, issued_key, &issued, &issued_mod, why, sizeof why) ||
        !tls_state_generation(m->st, &generation, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        goto out;
    }
    /* What it may name: with the cluster token anything; with a join
     * token what the token lists; renewing, what it was given before
     * (a node from before addresses were kept: what it asks, once). */
    json_t *allowed = token ? json_object_get(token, "addresses") : json_object_get(issued, "addresses");
    bool check = !ask->admin && (token || json_is_array(allowed));
    if (check && !tls_sans_allowed(names, nnames, ask->name, ask->peer, allowed, why, sizeof why)) {
        log_json(LOG_WARN, "certificate refused", json_pack("{s:s,s:s,s:s}", "node", ask->name, "peer", ask->peer, "reason", why));
        http_respond_json_error(x, 403, "%s", why);
        goto out;
    }
    keep = ask->renew && json_is_array(allowed) ? json_incref(allowed) : tls_sans_json(names, nnames);
    json_int_t token_ttl = token ? json_integer_value(json_object_get(token, "cert_ttl_s")) : 0;
    long ttl_s = token_ttl > 0 ? (long)token_ttl : t->node_cert_ttl_s;
    cert = pki_sign_csr(t->ca, t->ca_key, req, ask->name, PKI_ROLE_NODE, ttl_s, why, sizeof why);
    if (!cert) {
        http_respond_json_error(x, 400, "%s", why);
        goto out;
    }
    char serial[PKI_SERIAL_MAX];
    pki_cert_serial(cert, serial);
    tls_issue in = {.node = ask->name, .serial = serial, .not_after = pki_cert_not_after(cert), .generation = generation,
                    .addresses = keep, .token_id = token ? id : NULL, .token = token, .token_mod = token_mod,
                    .issued = issued, .issued_mod = issued_mod};
    switch (tls_state_record_issue(m->st, &in, why, sizeof why)) {
    case TLS_ISSUED: answer_issued(m, x, cert, ask, ttl_s, generation); break;
    case TLS_ISSUE_RACED: done = false; break;
    case TLS_ISSUE_FAILED: http_respond_json_error(x, 500, "%s", why); break;
    }
out:
    X509_free(cert);
    json_decref(token);
    json_decref(issued);
    json_decref(keep);
    return done;
}

static void issue_node(master *m, http_exchange *x, const issue_ask *ask)
{
    X509_REQ *req = ask->csr ? pki_csr_parse(ask->csr, strlen(ask->csr)) : NULL;
    char names[TLS_SANS_MAX][TLS_SAN_LEN];
    size_t nnames = 0;
    if (!req) {
        http_respond_json_error(x, 400, "\"csr\" must be a PEM certificate request");
    } else if (!tls_csr_sans(req, names, TLS_SANS_MAX, &nnames)) {
        http_respond_json_error(x, 400, "the certificate request asks for more than %d names, or for one that is "
                                        "neither an address nor a DNS name", TLS_SANS_MAX);
    } else {
        int tries = 0;
        while (!issue_once(m, x, req, names, nnames, ask))
            if (++tries == ISSUE_TRIES) {
                http_respond_json_error(x, 503, "the cluster's TLS state keeps changing (or this master no longer "
                                                "leads); try again");
                break;
            }
    }
    X509_REQ_free(req);
}

/* The address a join came from: the caller's, or, when the caller is a
 * master forwarding it (its certificate says so), the one it names. */
static const char *join_peer(const http_request *r, json_t *body)
{
    const char *id = r->peer_identity;
    const char *told = json_string_value(json_object_get(body, "peer"));
    if (told && id && !strcmp(id, PKI_ROLE_MASTER "/master")) return told;
    return r->peer ? r->peer : "";
}

static void post_join(master *m, http_exchange *x, const http_request *r, bool admin)
{
    json_t *body = body_object(r, x);
    if (!body) return;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *token = json_string_value(json_object_get(body, "token"));
    issue_ask ask = {.name = name, .csr = json_string_value(json_object_get(body, "csr")), .token = admin ? NULL : token,
                     .peer = join_peer(r, body), .admin = admin};
    if (!name || !cluster_name_valid(name)) {
        http_respond_json_error(x, 400, "\"name\" must be a node name ([a-z0-9-], at most 63 characters)");
    } else if (!admin && !token) {
        log_json(LOG_WARN, "join refused", json_pack("{s:s,s:s,s:s}", "node", name, "peer", ask.peer, "reason", "no join token"));
        http_respond_json_error(x, 401, "a join token is needed (\"token\")");
    } else {
        issue_node(m, x, &ask);
    }
    json_decref(body);
}

static void post_renew(master *m, http_exchange *x, const http_request *r)
{
    const char *name = node_of(r);
    if (!name) {
        http_respond_json_error(x, 403, "only a node renews its certificate, with the one it has");
        return;
    }
    json_t *body = body_object(r, x);
    if (!body) return;
    issue_ask ask = {.name = name, .csr = json_string_value(json_object_get(body, "csr")), .peer = r->peer ? r->peer : "",
                     .renew = true};
    issue_node(m, x, &ask);
    json_decref(body);
}

static void post_revoke(master *m, http_exchange *x, const http_request *r)
{
    master_tls *t = m->tls;
    json_t *body = body_object(r, x);
    if (!body) return;
    const char *node = json_string_value(json_object_get(body, "node"));
    const char *serial = json_string_value(json_object_get(body, "serial"));
    const char *serials[TLS_ISSUED_KEEP];
    size_t n = 0;
    char why[400];
    json_t *issued = NULL, *crl = NULL;
    if (node) {
        char key[128];
        int64_t mod;
        snprintf(key, sizeof key, TLS_PREFIX_ISSUED "%.100s", node);
        if (!tls_state_get(m->st, key, &issued, &mod, why, sizeof why)) {
            http_respond_json_error(x, 500, "%s", why);
            goto out;
        }
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(issued, "serials"), i, s) if (json_is_string(s) && n < TLS_ISSUED_KEEP)
            serials[n++] = json_string_value(s);
        if (!n) {
            http_respond_json_error(x, 404, "no certificate was issued to a node '%s'", node);
            goto out;
        }
    } else if (serial && strspn(serial, "0123456789abcdefABCDEF") == strlen(serial) && *serial &&
               strlen(serial) < PKI_SERIAL_MAX) {
        serials[n++] = serial;
    } else {
        http_respond_json_error(x, 400, "give \"node\" (a node's name) or \"serial\" (hex)");
        goto out;
    }
    size_t added = 0;
    if (!tls_state_revoke(m->st, t->ca, t->ca_key, serials, n, node, &added, &crl, why, sizeof why) ||
        !mtls_write_crl(t, crl, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        goto out;
    }
    log_json(LOG_WARN, "certificates revoked", json_pack("{s:s,s:i}", "what", node ? node : serial, "revoked", (int)added));
    http_respond_json(x, 200, json_pack("{s:i,s:s}", "revoked", (int)added, "crl", t->crl_version));
out:
    json_decref(issued);
    json_decref(crl);
    json_decref(body);
}

static void post_rotate(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    char why[300];
    int64_t generation;
    if (!tls_state_rotate(m->st, &generation, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    /* The store holds the new generation: this master takes it now, the
     * others within a second (tls_sync.c). */
    t->generation = generation;
    if (!mtls_reissue_master(t, m, m->st, why, sizeof why) || !mtls_set_applied(t, generation, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    log_json(LOG_INFO, "certificates rotated", json_pack("{s:I}", "generation", (json_int_t)generation));
    master_wake_nodes(m);
    http_respond_json(x, 200, json_pack("{s:I}", "generation", (json_int_t)generation));
}

static void get_status(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    char why[300];
    json_t *crl;
    int64_t mod, generation;
    if (!tls_state_get(m->st, TLS_KEY_CRL, &crl, &mod, why, sizeof why) ||
        !tls_state_generation(m->st, &generation, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    json_t *nodes = json_object();
    for (size_t i = 0; i < m->state.nnodes; i++) {
        const m_node *n = &m->state.nodes[i];
        char key[128];
        json_t *e = NULL;
        snprintf(key, sizeof key, TLS_PREFIX_ISSUED "%s", n->name);
        if (!tls_state_get(m->st, key, &e, &mod, why, sizeof why)) e = NULL;
        json_t *g = json_object_get(e, "generation"), *na = json_object_get(e, "not_after");
        json_object_set_new(nodes, n->name, json_pack("{s:b,s:O,s:O}", "ready", n->ready, "generation", g ? g : json_null(),
                                                      "not_after", na ? na : json_null()));
        json_decref(e);
    }
    http_respond_json(x, 200, json_pack("{s:I,s:s,s:b,s:o,s:I}", "generation", (json_int_t)generation, "ca_pin",
                                        t->ca_pin, "ingress_https", t->ingress_version[0] != 0, "nodes", nodes, "revoked",
                                        (json_int_t)json_array_size(json_object_get(crl, "revoked"))));
    json_decref(crl);
}

/* ------------------------------------------------------------ ingress */

/* The chain as given, then the key: one PEM text (malloc'ed). */
static char *ingress_text(const char *cert_pem, const char *key_pem)
{
    size_t a = strlen(cert_pem), b = strlen(key_pem);
    char *both = malloc(a + b + 2);
    if (both) snprintf(both, a + b + 2, "%s%s%s", cert_pem, a && cert_pem[a - 1] != '\n' ? "\n" : "", key_pem);
    return both;
}

static void post_ingress(master *m, http_exchange *x, const http_request *r)
{
    master_tls *t = m->tls;
    json_t *body = body_object(r, x);
    if (!body) return;
    const char *cert_pem = json_string_value(json_object_get(body, "cert"));
    const char *key_pem = json_string_value(json_object_get(body, "key"));
    X509 *cert = cert_pem ? pki_cert_parse(cert_pem, strlen(cert_pem)) : NULL;
    EVP_PKEY *key = key_pem ? pki_key_parse(key_pem, strlen(key_pem)) : NULL;
    char why[300], cn[PKI_NAME_MAX] = "", role[PKI_NAME_MAX];
    char *both = cert && key ? ingress_text(cert_pem, key_pem) : NULL;
    char version[65] = "";
    if (cert) pki_cert_names(cert, cn, role);
    if (both) mtls_sha256_hex(both, strlen(both), version);
    if (!cert || !key) {
        http_respond_json_error(x, 400, "\"cert\" must be a PEM certificate and \"key\" a PEM private key");
    } else if (!pki_cert_matches_key(cert, key)) {
        http_respond_json_error(x, 400, "the key is not the certificate's");
    } else if (pki_cert_not_after(cert) < (int64_t)time(NULL)) {
        http_respond_json_error(x, 400, "the certificate has expired");
    } else if (!both || !tls_state_set_ingress(m->st, secrets_key(), both, cn, why, sizeof why) ||
               !mtls_write_ingress(t, both, version, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", both ? why : "out of memory");
    } else {
        log_json(LOG_INFO, "ingress certificate set", json_pack("{s:s}", "subject", cn));
        master_wake_nodes(m);
        http_respond_json(x, 200, json_pack("{s:s,s:I}", "subject", cn, "not_after", (json_int_t)pki_cert_not_after(cert)));
    }
    if (both) OPENSSL_cleanse(both, strlen(both));
    free(both);
    X509_free(cert);
    EVP_PKEY_free(key);
    json_decref(body);
}

static void delete_ingress(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    char why[300];
    if (!tls_state_set_ingress(m->st, secrets_key(), NULL, NULL, why, sizeof why) ||
        !mtls_write_ingress(t, NULL, "", why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    master_wake_nodes(m);
    http_respond_json(x, 200, json_pack("{s:b}", "ingress_https", 0));
}

static void get_ingress(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    char *pem = mtls_file_text(t->ingress_files.cert);
    if (pem) http_respond_json(x, 200, json_pack("{s:s,s:s}", "pem", pem, "version", t->ingress_version));
    else http_respond_json(x, 200, json_pack("{s:n,s:s}", "pem", "version", ""));
    if (pem) OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
}

static void get_file(http_exchange *x, const char *path, const char *type)
{
    char *text = mtls_file_text(path);
    if (!text) {
        http_respond_json_error(x, 500, "cannot read %s", path);
        return;
    }
    http_field h[1] = {{"Content-Type", type}};
    http_respond(x, 200, h, 1, text, strlen(text));
    free(text);
}

/* ------------------------------------------------------------ routing */

bool master_tls_handle(master *m, http_exchange *x, const http_request *r, bool admin)
{
    if (strncmp(r->path, "/v1/tls/", 8)) return false;
    const char *what = r->path + 8;
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"), post = !strcmp(r->method, "POST");
    if (!m->tls) {
        http_respond_json_error(x, 404, "this master serves plain HTTP (--plain-http): it has no certificates");
        return true;
    }
    const char *node = node_of(r);
    if (!strcmp(what, "ca") && get) get_file(x, m->tls->api_files.ca, "application/x-pem-file");
    else if (!strcmp(what, "join") && post) post_join(m, x, r, admin);
    else if (!strcmp(what, "renew") && post) post_renew(m, x, r);
    else if (!strcmp(what, "crl") && get && (admin || node)) get_file(x, m->tls->api_files.crl, "application/x-pem-file");
    else if (!strcmp(what, "ingress") && get && node) get_ingress(m, x);
    else if (!admin) {
        http_field h[2] = {{"Content-Type", "application/json"}, {"WWW-Authenticate", "Bearer"}};
        static const char text[] = "{\"error\":\"a valid cluster token is needed (Authorization: Bearer TOKEN)\"}\n";
        log_json(LOG_WARN, "refused: no or wrong token", json_pack("{s:s,s:s,s:s}", "method", r->method, "path",
                                                                     r->path, "peer", r->peer));
        http_respond(x, 401, h, 2, text, sizeof text - 1);
    } else if (!strcmp(what, "tokens") && post) post_token(m, x, r);
    else if (!strcmp(what, "revoke") && post) post_revoke(m, x, r);
    else if (!strcmp(what, "rotate") && post) post_rotate(m, x);
    else if (!strcmp(what, "status") && get) get_status(m, x);
    else if (!strcmp(what, "ingress") && post) post_ingress(m, x, r);
    else if (!strcmp(what, "ingress") && !strcmp(r->method, "DELETE")) delete_ingress(m, x);
    else http_respond_json_error(x, 404, "no endpoint %s %s (docs/api.md)", r->method, r->path);
    return true;
}

/* A node's own call by its certificate, or any /v1/tls/ call of a node
 * (renewing, fetching the CRL or the ingress certificate: the leader
 * must see the node's certificate, even when the node holds the cluster
 * token too). */
bool master_tls_by_node(const http_request *r)
{
    return node_of(r) && (!http_request_header(r, "Authorization") || !strncmp(r->path, "/v1/tls/", 8));
}

bool master_tls_node_may(master *m, const http_request *r)
{
    const char *node = node_of(r);
    if (!m->tls || !node) return false;
    if (!strcmp(r->method, "GET") && !strncmp(r->path, "/v1/bundles/", 12)) return true;
    if (!strcmp(r->method, "POST") && !strcmp(r->path, "/v1/nodes/register")) {
        json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
        const char *name = json_string_value(json_object_get(body, "name"));
        bool own = name && !strcmp(name, node);
        json_decref(body);
        return own;
    }
    char own_heartbeat[200];
    snprintf(own_heartbeat, sizeof own_heartbeat, "/v1/nodes/%s/heartbeat", node);
    return !strcmp(r->method, "POST") && !strcmp(r->path, own_heartbeat);
}
