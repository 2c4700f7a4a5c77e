/*
 * cluster_init.c — the client's set-up: `qyv cluster init` (a new cluster
 * token and the configuration), `set-master` and `auth`.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "cli/cluster_tls.h"

/* The configuration with the token file made absolute, saved. */
static bool save_config(cluster_ctx *ctx, const char *master)
{
    char why[1024];
    if (master) snprintf(ctx->config.master, sizeof ctx->config.master, "%s", master);
    if (!ctx->config.master[0]) snprintf(ctx->config.master, sizeof ctx->config.master, "%s", ctx->master);
    if (!cluster_absolute(ctx->token_file, ctx->config.token_file, sizeof ctx->config.token_file)) {
        cluster_say(ctx, "%s: path too long", ctx->token_file);
        return false;
    }
    if (!cluster_config_save(ctx->config_dir, &ctx->config, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        return false;
    }
    return true;
}

bool cluster_ensure_token(cluster_ctx *ctx, bool replace, bool *made)
{
    char why[1024], token[65];
    *made = false;
    if (!replace && access(ctx->token_file, F_OK) == 0) return save_config(ctx, NULL);
    if (!cluster_token_new(token, why, sizeof why) ||
        !cluster_secret_write(ctx->token_file, token, replace, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        return false;
    }
    *made = true;
    snprintf(ctx->token, sizeof ctx->token, "%s", token);
    return save_config(ctx, NULL);
}

static const char init_usage[] =
    "usage: qyv cluster init [--force] [--dir DIR] [--advertise NAMES] [--plain-http]\n"
    "\n"
    "Make a new cluster: a random cluster token (256 bits, in\n"
    "~/.config/qyvol/token, mode 0600, or --token-file), the cluster's\n"
    "certificate authority and the master's certificate (ca.crt, ca.key,\n"
    "master.pem, mode 0600, beside the token) and the client configuration\n"
    "(~/.config/qyvol/cluster.json), then print how to start the master and\n"
    "the nodes. Every call in the cluster then speaks TLS 1.3.\n"
    "\n"
    "options:\n"
    "  --force       replace an existing token and CA (the master and nodes\n"
    "                holding the old ones then refuse the commands)\n"
    "  --dir DIR     where the printed commands keep the master's and nodes'\n"
    "                data (default ~/.local/share/qyvol/cluster)\n"
    "  --advertise NAMES\n"
    "                host names or addresses (comma-separated) the master is\n"
    "                reached at, for its certificate (besides the master's\n"
    "                address, localhost and 127.0.0.1)\n"
    "  --plain-http  no CA: the cluster speaks plain HTTP with the token only\n"
    "                (for a closed test network; master and nodes then need\n"
    "                --plain-http too)\n"
    "  -h, --help    print this help\n";

int cluster_init(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"force", no_argument, NULL, 'f'},
        {"dir", required_argument, NULL, 'd'},
        {"advertise", required_argument, NULL, 'a'},
        {"plain-http", no_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool force = false, plain = false;
    const char *dir_flag = NULL, *advertise = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': force = true; break;
        case 'd': dir_flag = optarg; break;
        case 'a': advertise = optarg; break;
        case 'P': plain = true; break;
        case 'h': fputs(init_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, init_usage, opt, argv);
        }
    }
    if (optind < argc) {
        cluster_say(ctx, "takes no operands, not '%s'", argv[optind]);
        fputs(init_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    char data[PATH_MAX], data_abs[PATH_MAX], why[1024];
    if (!cluster_data_dir(dir_flag, data, sizeof data, why, sizeof why) ||
        !cluster_absolute(data, data_abs, sizeof data_abs)) {
        cluster_say(ctx, "%s", dir_flag ? "--dir: path too long" : why);
        return QYV_EXIT_FAILURE;
    }
    if (!force && access(ctx->token_file, F_OK) == 0) {
        cluster_say(ctx, "a cluster token exists already in %s; --force replaces it (the master and the nodes "
                    "that hold the old one will then refuse the commands)", ctx->token_file);
        return QYV_EXIT_FAILURE;
    }
    bool made;
    if (!cluster_ensure_token(ctx, force, &made)) return QYV_EXIT_FAILURE;
    const char *tf = ctx->config.token_file;
    char pin[80] = "", host[CLUSTER_ADDRESS_MAX];
    snprintf(host, sizeof host, "%s", ctx->master);
    char *colon = strrchr(host, ':');
    if (colon && host[0] != '[') *colon = 0;
    if (!plain && !cluster_tls_init(ctx, host, advertise, pin)) return QYV_EXIT_FAILURE;
    if (plain) {
        printf("cluster token: %s (mode 0600; keep it secret)\n"
               "client configuration: %s/cluster.json (master %s)\n"
               "plain HTTP (--plain-http): no certificates; start the master and nodes with --plain-http\n"
               "\n"
               "Start the master (it keeps the cluster's state in --data):\n"
               "  qyv master --listen %s --data %s/master --token-file %s --plain-http\n"
               "\n"
               "Start a node on each machine that runs apps, with a copy of the token file:\n"
               "  qyv node --listen 0.0.0.0:7001 --data %s/node --master %s --token-file %s --plain-http\n",
               tf, ctx->config_dir, ctx->config.master, ctx->config.master, data_abs, tf, data_abs,
               ctx->config.master, tf);
        return QYV_EXIT_OK;
    }
    printf("cluster CA: %s/ca.crt (pin %s); its key ca.key and the master's master.pem beside it (0600)\n", ctx->config_dir, pin);
    printf("cluster token: %s (mode 0600; keep it secret)\n"
           "client configuration: %s/cluster.json (master %s)\n"
           "\n"
           "Start the master (it keeps the cluster's state in --data):\n"
           "  qyv master --listen %s --data %s/master --token-file %s\n"
           "\n"
           "(it finds the CA here; on another machine copy ca.crt, ca.key and\n"
           "master.pem into a folder and give it with --ca-dir)\n"
           "\n"
           "For each node, make a one-time join token; it prints the command that\n"
           "starts the node, which gets its certificate from the master:\n"
           "  qyv cluster token create\n"
           "and check them with `qyv cluster list-nodes` (if the master is on another\n"
           "machine: `qyv cluster set-master HOST:PORT` first).\n"
           "\n"
           "To try a whole cluster on this machine instead: qyv cluster up --nodes 3\n",
           tf, ctx->config_dir, ctx->config.master, ctx->config.master, data_abs, tf);
    return QYV_EXIT_OK;
}

static const char set_master_usage[] =
    "usage: qyv cluster set-master HOST:PORT\n"
    "\n"
    "Make HOST:PORT (or http://HOST[:PORT], port 7000 by default) the master\n"
    "the cluster commands talk to, in ~/.config/qyvol/cluster.json.\n";

int cluster_set_master(cluster_ctx *ctx, int argc, char **argv)
{
    int status;
    const char *arg = cluster_one_operand(ctx, argc, argv, set_master_usage, &status);
    if (!arg) return status;
    char address[CLUSTER_ADDRESS_MAX], master[CLUSTER_ADDRESS_MAX + 16], why[512];
    if (!cluster_parse_server(arg, address, sizeof address, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        return QYV_EXIT_USAGE;
    }
    /* A scheme written is kept: it decides HTTPS or plain HTTP. */
    const char *scheme = !strncmp(arg, "https://", 8) ? "https://" : !strncmp(arg, "http://", 7) ? "http://" : "";
    snprintf(master, sizeof master, "%s%s", scheme, address);
    if (!save_config(ctx, master)) return QYV_EXIT_FAILURE;
    printf("master: %s (in %s/cluster.json)\n", master, ctx->config_dir);
    return QYV_EXIT_OK;
}

static const char auth_usage[] =
    "usage: qyv cluster auth --token TOKEN\n"
    "       qyv cluster auth --cert cert.pem --key key.pem\n"
    "       qyv cluster auth --rotate\n"
    "       qyv cluster auth --revoke NODE|SERIAL\n"
    "       qyv cluster auth token create NAME [--role read|admin] | list | revoke NAME\n"
    "\n"
    "--token: store the cluster's token (printed by `qyv cluster init` where\n"
    "the cluster was made) for the commands: in ~/.config/qyvol/token, mode\n"
    "0600, or --token-file FILE. It replaces the token stored there.\n"
    "\n"
    "--cert/--key: serve HTTPS on every node's ingress (and the master's)\n"
    "with this certificate (a PEM chain) and key: the master keeps them and\n"
    "hands them to the nodes, which serve them within seconds.\n"
    "--rotate: give the master and every node new keys and certificates,\n"
    "without dropping a connection; waits until every ready node has its own.\n"
    "--revoke: revoke a node's certificates (or one by its serial): the\n"
    "master and the nodes refuse them from then on.\n\n"
    "`auth token ...` makes, lists and revokes named tokens (read-only or\n"
    "admin): see `qyv cluster auth token --help`.\n";

int cluster_auth(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"token", required_argument, NULL, 't'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"rotate", no_argument, NULL, 'r'},
        {"revoke", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc > 1 && !strcmp(argv[1], "token")) return cluster_auth_token(ctx, argc - 1, argv + 1);
    const char *token = NULL, *cert = NULL, *key = NULL, *revoke = NULL;
    bool tls = false, rotate = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 't': token = optarg; break;
        case 'c': cert = optarg, tls = true; break;
        case 'k': key = optarg, tls = true; break;
        case 'r': rotate = tls = true; break;
        case 'R': revoke = optarg, tls = true; break;
        case 'h': fputs(auth_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, auth_usage, opt, argv);
        }
    }
    if (tls && !token && optind == argc) return cluster_auth_tls(ctx, cert, key, rotate, revoke);
    if (tls) {
        cluster_say(ctx, "--token goes alone; --cert/--key, --rotate and --revoke go without it");
        return QYV_EXIT_USAGE;
    }
    if (!token || optind < argc) {
        cluster_say(ctx, "needs --token TOKEN and nothing else");
        fputs(auth_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    char why[1024];
    size_t n = strlen(token);
    for (size_t i = 0; i < n; i++)
        if (token[i] <= ' ' || token[i] > '~') {
            cluster_say(ctx, "the token must be printable ASCII without spaces");
            return QYV_EXIT_USAGE;
        }
    if (n == 0 || n >= sizeof ctx->token) {
        cluster_say(ctx, "the token must have 1 to %zu characters", sizeof ctx->token - 1);
        return QYV_EXIT_USAGE;
    }
    if (n < 32) fprintf(stderr, "qyv %s: warning: a token of %zu characters is easy to guess; `qyv cluster init` "
                        "makes 64 hex digits (256 bits)\n", ctx->command, n);
    if (!cluster_secret_write(ctx->token_file, token, true, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        return QYV_EXIT_FAILURE;
    }
    if (!save_config(ctx, NULL)) return QYV_EXIT_FAILURE;
    printf("token stored in %s (mode 0600)\n", ctx->config.token_file);
    return QYV_EXIT_OK;
}
