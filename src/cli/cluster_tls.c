/*
 * cluster_tls.c — the commands' side of the cluster's TLS: the CA and the
 * master's certificate `qyv cluster init` makes, `qyv cluster token
 * create` (a join command for a new node), and `qyv cluster auth`'s
 * --cert/--key (the ingress' HTTPS certificate), --rotate and --revoke.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "cli/cluster_tls.h"
#include "manifest/read_file.h"
#include "manifest/units.h"
#include "tls/pki.h"

#define CA_TTL_DAYS (10 * 365)
#define MASTER_TTL_S (365L * 86400)

static bool config_path(const cluster_ctx *ctx, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", ctx->config_dir, name);
    return n > 0 && (size_t)n < size;
}

bool cluster_tls_init(cluster_ctx *ctx, const char *listen_host, const char *advertise, char pin[80])
{
    char why[1024], ca_crt[PATH_MAX], ca_key[PATH_MAX], master_pem[PATH_MAX];
    if (!config_path(ctx, "ca.crt", ca_crt, sizeof ca_crt) || !config_path(ctx, "ca.key", ca_key, sizeof ca_key) ||
        !config_path(ctx, "master.pem", master_pem, sizeof master_pem)) {
        cluster_say(ctx, "the configuration folder's path is too long");
        return false;
    }
    const char *sans[40];
    char names[40][256];
    size_t n = 0;
    snprintf(names[n++], 256, "%s", listen_host);
    for (const char *p = advertise ? advertise : ""; *p && n < 36;) {
        size_t len = strcspn(p, ",");
        if (len && len < 256) snprintf(names[n++], 256, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    snprintf(names[n++], 256, "localhost");
    if (strcmp(listen_host, "127.0.0.1")) snprintf(names[n++], 256, "127.0.0.1");
    for (size_t i = 0; i < n; i++) sans[i] = names[i];
    EVP_PKEY *key = pki_key_new(why, sizeof why), *mkey = key ? pki_key_new(why, sizeof why) : NULL;
    X509 *ca = mkey ? pki_ca_new(key, CA_TTL_DAYS, why, sizeof why) : NULL;
    X509 *master = ca ? pki_issue(ca, key, mkey, "master", PKI_ROLE_MASTER, sans, n, MASTER_TTL_S, why, sizeof why)
                      : NULL;
    char *ca_pem = ca ? pki_cert_pem(ca) : NULL, *key_pem = ca ? pki_key_pem(key) : NULL;
    char *master_text = master ? pki_identity_pem(master, mkey) : NULL;
    bool ok = master_text && ca_pem && key_pem && pki_ca_pin(ca, pin) && pki_write(ca_key, key_pem, why, sizeof why) &&
              pki_write(ca_crt, ca_pem, why, sizeof why) && pki_write(master_pem, master_text, why, sizeof why);
    if (!ok) cluster_say(ctx, "cannot make the cluster CA: %s", why);
    free(ca_pem);
    free(key_pem);
    free(master_text);
    X509_free(ca);
    X509_free(master);
    EVP_PKEY_free(key);
    EVP_PKEY_free(mkey);
    return ok;
}

/* ------------------------------------------------------------ join tokens */

static const char token_usage[] =
    "usage: qyv cluster token create [--ttl DURATION] [--cert-ttl DURATION] [--node-address ADDR,...]\n"
    "\n"
    "Make a one-time join token on the master and print the command that\n"
    "starts a node with it: the node makes its key, sends the master a\n"
    "certificate request with the token, and gets its certificate. The\n"
    "command pins the cluster CA by its hash, so the node trusts no other.\n"
    "The node's certificate may name the node, the address it joins from,\n"
    "and the IP addresses given with --node-address; a request\n"
    "for any other is refused.\n"
    "\n"
    "options:\n"
    "  --ttl DURATION       how long the token may be used (default 1h, at most 168h)\n"
    "  --cert-ttl DURATION  how long the node's first certificate is good\n"
    "                       (default: the master's --node-cert-ttl)\n"
    "  --node-address ADDR  an IP address the node may have in its\n"
    "                       certificate besides the one it joins from\n"
    "                       (comma-separated, or given again; e.g. the address\n"
    "                       it listens on when it joins through NAT)\n";

static bool duration_s(const char *arg, long *out, long min, long max)
{
    uint64_t ms;
    char why[160];
    if (!qv_parse_duration(arg, &ms, why, sizeof why) || ms / 1000 < (uint64_t)min || ms / 1000 > (uint64_t)max)
        return false;
    *out = (long)(ms / 1000);
    return true;
}

/* POST /v1/tls/tokens; prints the join command. */
static int make_join_token(cluster_ctx *ctx, long ttl, long cert_ttl, json_t *addresses)
{
    if (!ctx->tls) {
        cluster_say(ctx, "the master at %s speaks plain HTTP: nodes join it with the cluster token "
                    "(qyv node --master %s --token-file FILE --plain-http)", ctx->master, ctx->master);
        json_decref(addresses);
        return QYV_EXIT_FAILURE;
    }
    json_t *body = json_pack("{s:I}", "ttl_s", (json_int_t)ttl);
    if (cert_ttl) json_object_set_new(body, "cert_ttl_s", json_integer(cert_ttl));
    if (json_array_size(addresses)) json_object_set(body, "addresses", addresses);
    json_decref(addresses);
    api_reply reply;
    if (!cluster_call_json(ctx, "POST", "/v1/tls/tokens", body, &reply)) return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    const char *token = json_string_value(json_object_get(root, "token"));
    const char *pin = json_string_value(json_object_get(root, "ca_pin"));
    time_t expires = (time_t)json_integer_value(json_object_get(root, "expires"));
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&expires));
    printf("join token: %s (one use, until %s)\n"
           "\n"
           "Start the node with:\n"
           "  qyv node --name NAME --listen ADDR:7001 --data DIR --master %s \\\n"
           "           --join %s --ca-pin %s\n",
           token ? token : "?", when, ctx->master, token ? token : "?", pin ? pin : "?");
    json_decref(root);
    return QYV_EXIT_OK;
}

int cluster_token(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"ttl", required_argument, NULL, 't'},
        {"cert-ttl", required_argument, NULL, 'c'},
        {"node-address", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long ttl = 3600, cert_ttl = 0;
    json_t *addresses = json_array();
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 't':
            if (!duration_s(optarg, &ttl, 1, 7L * 86400)) {
                cluster_say(ctx, "--ttl takes a duration from 1s to 168h, not '%s'", optarg);
                json_decref(addresses);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'c':
            if (!duration_s(optarg, &cert_ttl, 1, 10L * 365 * 86400)) {
                cluster_say(ctx, "--cert-ttl takes a duration from 1s to 87600h, not '%s'", optarg);
                json_decref(addresses);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'a':
            for (const char *p = optarg; *p;) {
                size_t len = strcspn(p, ",");
                if (len) json_array_append_new(addresses, json_stringn(p, len));
                p += len + (p[len] == ',');
            }
            break;
        case 'h': json_decref(addresses); fputs(token_usage, stdout); return QYV_EXIT_OK;
        default: json_decref(addresses); return cluster_usage_error(ctx, token_usage, opt, argv);
        }
    }
    if (optind + 1 != argc || strcmp(argv[optind], "create")) {
        cluster_say(ctx, "the one subcommand is `create`");
        fputs(token_usage, stderr);
        json_decref(addresses);
        return QYV_EXIT_USAGE;
    }
    return make_join_token(ctx, ttl, cert_ttl, addresses);
}

int cluster_join_command(cluster_ctx *ctx) { return make_join_token(ctx, 3600, 0, json_array()); }

/* ------------------------------------------------------------ auth */

static int set_ingress_cert(cluster_ctx *ctx, const char *cert_file, const char *key_file)
{
    char why[1024];
    size_t cert_len = 0, key_len = 0;
    char *cert = (char *)qv_read_file(AT_FDCWD, cert_file, 1 << 20, &cert_len, why, sizeof why);
    char *key = cert ? (char *)qv_read_file(AT_FDCWD, key_file, 1 << 20, &key_len, why, sizeof why) : NULL;
    if (!key) {
        cluster_say(ctx, "cannot read %s: %s", cert ? key_file : cert_file, why);
        free(cert);
        return QYV_EXIT_FAILURE;
    }
    X509 *c = pki_cert_parse(cert, cert_len);
    EVP_PKEY *k = pki_key_parse(key, key_len);
    int status = QYV_EXIT_FAILURE;
    if (!c) cluster_say(ctx, "%s: not a PEM certificate", cert_file);
    else if (!k) cluster_say(ctx, "%s: not a PEM private key (without a passphrase)", key_file);
    else if (!pki_cert_matches_key(c, k)) cluster_say(ctx, "%s is not the key of %s", key_file, cert_file);
    else status = QYV_EXIT_OK;
    X509_free(c);
    EVP_PKEY_free(k);
    if (status == QYV_EXIT_OK) {
        api_reply reply;
        status = QYV_EXIT_FAILURE;
        if (cluster_call_json(ctx, "POST", "/v1/tls/ingress", json_pack("{s:s,s:s}", "cert", cert, "key", key), &reply)) {
            json_t *root = cluster_answer(ctx, &reply, 0);
            if (root) {
                printf("ingress HTTPS: %s, sent to every node (they serve it within seconds)\n",
                       json_string_value(json_object_get(root, "subject")));
                status = QYV_EXIT_OK;
            }
            json_decref(root);
            api_reply_free(&reply);
        }
    }
    free(cert);
    free(key);
    return status;
}

/* Wait until every ready node holds a certificate of generation. */
static bool wait_rotated(cluster_ctx *ctx, json_int_t generation, int seconds, size_t *nodes)
{
    for (int i = 0; i < seconds * 5; i++) {
        json_t *st = cluster_get(ctx, "/v1/tls/status");
        if (!st) return false;
        bool all = true;
        const char *name;
        json_t *n;
        *nodes = 0;
        json_object_foreach(json_object_get(st, "nodes"), name, n)
        {
            if (!json_is_true(json_object_get(n, "ready"))) continue;
            (*nodes)++;
            all &= json_integer_value(json_object_get(n, "generation")) >= generation;
        }
        json_decref(st);
        if (all) return true;
        usleep(200000);
    }
    return false;
}

static int rotate(cluster_ctx *ctx)
{
    api_reply reply;
    if (!cluster_call(ctx, "POST", "/v1/tls/rotate", "application/json", "{}", 2, 0, &reply)) return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    json_int_t generation = json_integer_value(json_object_get(root, "generation"));
    json_decref(root);
    size_t nodes = 0;
    if (!wait_rotated(ctx, generation, 30, &nodes)) {
        cluster_say(ctx, "the master has a new certificate (generation %lld), but not every ready node renewed "
                    "its own within 30 s: see `qyv cluster health` and the nodes' logs", (long long)generation);
        return QYV_EXIT_FAILURE;
    }
    printf("rotated: the master and %zu node%s have new certificates (generation %lld)\n", nodes, nodes == 1 ? "" : "s",
           (long long)generation);
    return QYV_EXIT_OK;
}

static int revoke_certificates(cluster_ctx *ctx, const char *what)
{
    bool node = cluster_name_valid(what);
    api_reply reply;
    if (!cluster_call_json(ctx, "POST", "/v1/tls/revoke", json_pack("{s:s}", node ? "node" : "serial", what), &reply))
        return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    printf("revoked %lld certificate%s of %s; the master and the nodes refuse %s from now on\n",
           (long long)json_integer_value(json_object_get(root, "revoked")),
           json_integer_value(json_object_get(root, "revoked")) == 1 ? "" : "s", what, node ? "it" : "that one");
    json_decref(root);
    return QYV_EXIT_OK;
}

int cluster_auth_tls(cluster_ctx *ctx, const char *cert, const char *key, bool do_rotate, const char *revoked)
{
    if (!ctx->tls) {
        cluster_say(ctx, "the master at %s speaks plain HTTP (--plain-http): certificates need a TLS cluster "
                    "(`qyv cluster init` without --plain-http)", ctx->master);
        return QYV_EXIT_FAILURE;
    }
    if ((cert != NULL) != (key != NULL)) {
        cluster_say(ctx, "--cert and --key go together");
        return QYV_EXIT_USAGE;
    }
    int status = QYV_EXIT_OK;
    if (cert) status = set_ingress_cert(ctx, cert, key);
    if (!status && revoked) status = revoke_certificates(ctx, revoked);
    if (!status && do_rotate) status = rotate(ctx);
    return status;
}
