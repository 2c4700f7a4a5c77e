/*
 * tls_api.c — the master's /v1/tls/ endpoints (docs/api.md):
 *
 *   GET    /v1/tls/ca          the CA certificate (anyone: a joining node
 *                              checks it against the pin it was given)
 *   POST   /v1/tls/tokens      a one-time join token (admin)
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
#include "cluster/names.h"
#include "serve/http_json.h"
#include "serve/log.h"

#define JOIN_TOKEN_TTL_S 3600
#define JOIN_TOKEN_TTL_MAX_S (7L * 86400)
#define ISSUED_KEEP 8 /* serials remembered per node (to revoke them) */

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

static char *file_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* ------------------------------------------------------------ tokens */

static void post_token(master *m, http_exchange *x, const http_request *r)
{
    master_tls *t = m->tls;
    json_t *body = r->body_len ? body_object(r, x) : json_object();
    if (!body) return;
    json_int_t ttl = json_is_integer(json_object_get(body, "ttl_s")) ? json_integer_value(json_object_get(body, "ttl_s"))
                                                                      : JOIN_TOKEN_TTL_S;
    json_int_t cert_ttl = json_integer_value(json_object_get(body, "cert_ttl_s"));
    json_decref(body);
    if (ttl < 1 || ttl > JOIN_TOKEN_TTL_MAX_S || cert_ttl < 0 || cert_ttl > 10L * 365 * 86400) {
        http_respond_json_error(x, 400, "ttl_s goes from 1 s to 7 days, cert_ttl_s from 1 s to 10 years");
        return;
    }
    char id[13], secret[33], token[48], hash[65];
    if (!random_hex(id, 6) || !random_hex(secret, 16)) {
        http_respond_json_error(x, 500, "no random bytes");
        return;
    }
    snprintf(token, sizeof token, "%s.%s", id, secret);
    mtls_sha256_hex(token, strlen(token), hash);
    json_int_t expires = (json_int_t)time(NULL) + ttl;
    json_array_append_new(json_object_get(t->state, "join_tokens"),
                          json_pack("{s:s,s:s,s:I,s:I,s:b}", "id", id, "hash", hash, "expires", expires, "cert_ttl_s",
                                    cert_ttl, "used", 0));
    char why[300];
    if (!mtls_save_state(t, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    log_json(LOG_INFO, "join token made", json_pack("{s:s,s:I}", "id", id, "expires", expires));
    http_respond_json(x, 201, json_pack("{s:s,s:I,s:s}", "token", token, "expires", expires, "ca_pin", t->ca_pin));
}

/* The join token's entry, when token is one that may still be used.
 * Its refusal in why otherwise. */
static json_t *find_token(master_tls *t, const char *token, char *why, size_t whylen)
{
    char hash[65];
    mtls_sha256_hex(token, strlen(token), hash);
    json_t *list = json_object_get(t->state, "join_tokens"), *e;
    size_t i;
    json_array_foreach(list, i, e)
    {
        const char *h = json_string_value(json_object_get(e, "hash"));
        if (!h || CRYPTO_memcmp(h, hash, 64)) continue;
        if (json_is_true(json_object_get(e, "used"))) {
            snprintf(why, whylen, "this join token was used already: make another (qyv cluster token create)");
            return NULL;
        }
        if (json_integer_value(json_object_get(e, "expires")) < (json_int_t)time(NULL)) {
            snprintf(why, whylen, "this join token has expired: make another (qyv cluster token create)");
            return NULL;
        }
        return e;
    }
    snprintf(why, whylen, "not a join token of this cluster");
    return NULL;
}

/* ------------------------------------------------------------ certificates */

/* Sign the CSR in body for node name; answer the certificate, the CA and
 * the CRL. */
static void issue_node(master *m, http_exchange *x, const char *name, const char *csr_pem, long ttl_s, json_t *token)
{
    master_tls *t = m->tls;
    char why[400];
    X509_REQ *req = csr_pem ? pki_csr_parse(csr_pem, strlen(csr_pem)) : NULL;
    if (!req) {
        http_respond_json_error(x, 400, "\"csr\" must be a PEM certificate request");
        return;
    }
    X509 *cert = pki_sign_csr(t->ca, t->ca_key, req, name, PKI_ROLE_NODE, ttl_s, why, sizeof why);
    X509_REQ_free(req);
    if (!cert) {
        http_respond_json_error(x, 400, "%s", why);
        return;
    }
    char serial[PKI_SERIAL_MAX];
    pki_cert_serial(cert, serial);
    char *pem = pki_cert_pem(cert);
    X509_free(cert);
    json_t *issued = json_object_get(t->state, "issued");
    json_t *entry = json_object_get(issued, name);
    if (!json_is_object(entry)) json_object_set_new(issued, name, entry = json_pack("{s:[]}", "serials"));
    json_t *serials = json_object_get(entry, "serials");
    if (!json_is_array(serials)) json_object_set_new(entry, "serials", serials = json_array());
    json_array_append_new(serials, json_string(serial));
    while (json_array_size(serials) > ISSUED_KEEP) json_array_remove(serials, 0);
    json_object_set(entry, "generation", json_object_get(t->state, "generation"));
    json_object_set_new(entry, "not_after", json_integer((json_int_t)time(NULL) + ttl_s));
    if (token) json_object_set_new(token, "used", json_true());
    char *crl = file_text(t->api_files.crl), *ca = file_text(t->api_files.ca);
    if (!pem || !crl || !ca || !mtls_save_state(t, why, sizeof why)) {
        http_respond_json_error(x, 500, "cannot issue the certificate");
    } else {
        log_json(LOG_INFO, token ? "node certificate issued (join)" : "node certificate issued",
                 json_pack("{s:s,s:s,s:I}", "node", name, "serial", serial, "ttl_s", (json_int_t)ttl_s));
        http_respond_json(x, 200, json_pack("{s:s,s:s,s:s,s:s,s:O}", "certificate", pem, "ca", ca, "crl", crl, "serial",
                                            serial, "generation", json_object_get(t->state, "generation")));
    }
    free(pem);
    free(crl);
    free(ca);
}

static void post_join(master *m, http_exchange *x, const http_request *r, bool admin)
{
    master_tls *t = m->tls;
    json_t *body = body_object(r, x);
    if (!body) return;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *token = json_string_value(json_object_get(body, "token"));
    const char *csr = json_string_value(json_object_get(body, "csr"));
    char why[300];
    json_t *entry = NULL;
    if (!name || !cluster_name_valid(name)) {
        http_respond_json_error(x, 400, "\"name\" must be a node name ([a-z0-9-], at most 63 characters)");
    } else if (!admin && (!token || !(entry = find_token(t, token, why, sizeof why)))) {
        log_json(LOG_WARN, "join refused", json_pack("{s:s,s:s,s:s}", "node", name, "peer", r->peer, "reason",
                                                     token ? why : "no join token"));
        http_respond_json_error(x, 401, "%s", token ? why : "a join token is needed (\"token\")");
    } else {
        json_int_t ttl = entry ? json_integer_value(json_object_get(entry, "cert_ttl_s")) : 0;
        issue_node(m, x, name, csr, ttl > 0 ? (long)ttl : t->node_cert_ttl_s, entry);
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
    issue_node(m, x, name, json_string_value(json_object_get(body, "csr")), m->tls->node_cert_ttl_s, NULL);
    json_decref(body);
}

static bool revoke_serial(master_tls *t, const char *serial, const char *node)
{
    json_t *revoked = json_object_get(t->state, "revoked"), *e;
    size_t i;
    json_array_foreach(revoked, i, e) if (!strcasecmp(json_string_value(json_object_get(e, "serial")), serial)) return false;
    json_array_append_new(revoked, json_pack("{s:s,s:s,s:I}", "serial", serial, "node", node ? node : "", "at",
                                             (json_int_t)time(NULL)));
    return true;
}

static void post_revoke(master *m, http_exchange *x, const http_request *r)
{
    master_tls *t = m->tls;
    json_t *body = body_object(r, x);
    if (!body) return;
    const char *node = json_string_value(json_object_get(body, "node"));
    const char *serial = json_string_value(json_object_get(body, "serial"));
    size_t n = 0;
    if (node) {
        json_t *serials = json_object_get(json_object_get(json_object_get(t->state, "issued"), node), "serials"), *s;
        size_t i;
        json_array_foreach(serials, i, s) n += revoke_serial(t, json_string_value(s), node);
        if (!json_array_size(serials)) {
            http_respond_json_error(x, 404, "no certificate was issued to a node '%s'", node);
            json_decref(body);
            return;
        }
    } else if (serial && strspn(serial, "0123456789abcdefABCDEF") == strlen(serial) && *serial &&
               strlen(serial) < PKI_SERIAL_MAX) {
        n += revoke_serial(t, serial, NULL);
    } else {
        json_decref(body);
        http_respond_json_error(x, 400, "give \"node\" (a node's name) or \"serial\" (hex)");
        return;
    }
    char why[300];
    if (!mtls_write_crl(t, why, sizeof why) || !mtls_save_state(t, why, sizeof why)) {
        json_decref(body);
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    log_json(LOG_WARN, "certificates revoked", json_pack("{s:s,s:i}", "what", node ? node : serial, "revoked", (int)n));
    http_respond_json(x, 200, json_pack("{s:i,s:s}", "revoked", (int)n, "crl", t->crl_version));
    json_decref(body);
}

static void post_rotate(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    char why[300];
    if (!mtls_reissue_master(t, m, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    json_int_t generation = json_integer_value(json_object_get(t->state, "generation")) + 1;
    json_object_set_new(t->state, "generation", json_integer(generation));
    if (!mtls_save_state(t, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    log_json(LOG_INFO, "certificates rotated", json_pack("{s:I}", "generation", generation));
    master_wake_nodes(m);
    http_respond_json(x, 200, json_pack("{s:I}", "generation", generation));
}

static void get_status(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    json_t *nodes = json_object();
    for (size_t i = 0; i < m->state.nnodes; i++) {
        const m_node *n = &m->state.nodes[i];
        json_t *e = json_object_get(json_object_get(t->state, "issued"), n->name);
        json_object_set_new(nodes, n->name,
                            json_pack("{s:b,s:O,s:O}", "ready", n->ready, "generation",
                                      e ? json_object_get(e, "generation") : json_null(), "not_after",
                                      e ? json_object_get(e, "not_after") : json_null()));
    }
    http_respond_json(x, 200, json_pack("{s:O,s:s,s:b,s:o,s:I}", "generation", json_object_get(t->state, "generation"),
                                        "ca_pin", t->ca_pin, "ingress_https", t->ingress_version[0] != 0, "nodes", nodes,
                                        "revoked", (json_int_t)json_array_size(json_object_get(t->state, "revoked"))));
}

/* ------------------------------------------------------------ ingress */

/* ingress.pem: the chain as given, then the key, replaced at once. */
static bool write_ingress(master_tls *t, const char *cert_pem, const char *key_pem, char *why, size_t whylen)
{
    size_t a = strlen(cert_pem), b = strlen(key_pem);
    char *both = malloc(a + b + 2);
    if (!both) return false;
    snprintf(both, a + b + 2, "%s%s%s", cert_pem, a && cert_pem[a - 1] != '\n' ? "\n" : "", key_pem);
    bool ok = pki_write(t->ingress_files.cert, both, why, whylen);
    OPENSSL_cleanse(both, a + b);
    free(both);
    return ok;
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
    char why[300];
    if (!cert || !key) {
        http_respond_json_error(x, 400, "\"cert\" must be a PEM certificate and \"key\" a PEM private key");
    } else if (!pki_cert_matches_key(cert, key)) {
        http_respond_json_error(x, 400, "the key is not the certificate's");
    } else if (pki_cert_not_after(cert) < (int64_t)time(NULL)) {
        http_respond_json_error(x, 400, "the certificate has expired");
    } else if (!write_ingress(t, cert_pem, key_pem, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
    } else {
        mtls_file_version(t->ingress_files.cert, t->ingress_version);
        char cn[PKI_NAME_MAX], role[PKI_NAME_MAX];
        pki_cert_names(cert, cn, role);
        log_json(LOG_INFO, "ingress certificate set", json_pack("{s:s}", "subject", cn));
        master_wake_nodes(m);
        http_respond_json(x, 200, json_pack("{s:s,s:I}", "subject", cn, "not_after", (json_int_t)pki_cert_not_after(cert)));
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    json_decref(body);
}

static void delete_ingress(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    unlink(t->ingress_files.cert);
    t->ingress_version[0] = 0;
    master_wake_nodes(m);
    http_respond_json(x, 200, json_pack("{s:b}", "ingress_https", 0));
}

static void get_ingress(master *m, http_exchange *x)
{
    master_tls *t = m->tls;
    char *pem = file_text(t->ingress_files.cert);
    if (pem) http_respond_json(x, 200, json_pack("{s:s,s:s}", "pem", pem, "version", t->ingress_version));
    else http_respond_json(x, 200, json_pack("{s:n,s:s}", "pem", "version", ""));
    if (pem) OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
}

static void get_file(http_exchange *x, const char *path, const char *type)
{
    char *text = file_text(path);
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
