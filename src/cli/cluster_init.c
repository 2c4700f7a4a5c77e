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
    "usage: qyv cluster init [--force] [--dir DIR]\n"
    "\n"
    "Make a new cluster: a random cluster token (256 bits, in\n"
    "~/.config/qyvol/token, mode 0600, or --token-file) and the client\n"
    "configuration (~/.config/qyvol/cluster.json), then print how to start\n"
    "the master and the nodes.\n"
    "\n"
    "options:\n"
    "  --force       replace an existing token (the master and nodes holding\n"
    "                the old one then refuse the commands)\n"
    "  --dir DIR     where the printed commands keep the master's and nodes'\n"
    "                data (default ~/.local/share/qyvol/cluster)\n"
    "  -h, --help    print this help\n";

int cluster_init(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"force", no_argument, NULL, 'f'},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool force = false;
    const char *dir_flag = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': force = true; break;
        case 'd': dir_flag = optarg; break;
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
    printf("cluster token: %s (mode 0600; keep it secret)\n"
           "client configuration: %s/cluster.json (master %s)\n"
           "\n"
           "Start the master (it keeps the cluster's state in --data):\n"
           "  qyv master --listen %s --data %s/master --token-file %s\n"
           "\n"
           "Start a node on each machine that runs apps, with a copy of the token file:\n"
           "  qyv node --listen 0.0.0.0:7001 --data %s/node --master %s --token-file %s\n"
           "and check them with `qyv cluster list-nodes` (if the master is on another\n"
           "machine: `qyv cluster set-master HOST:PORT` first; a node started without\n"
           "--master joins with `qyv cluster add-node HOST:PORT`).\n"
           "\n"
           "To try a whole cluster on this machine instead: qyv cluster up --nodes 3\n",
           tf, ctx->config_dir, ctx->config.master, ctx->config.master, data_abs, tf, data_abs, ctx->config.master,
           tf);
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
    char master[CLUSTER_ADDRESS_MAX], why[512];
    if (!cluster_parse_server(arg, master, sizeof master, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        return QYV_EXIT_USAGE;
    }
    if (!save_config(ctx, master)) return QYV_EXIT_FAILURE;
    printf("master: %s (in %s/cluster.json)\n", master, ctx->config_dir);
    return QYV_EXIT_OK;
}

static const char auth_usage[] =
    "usage: qyv cluster auth --token TOKEN\n"
    "       qyv cluster auth token create NAME [--role read|admin] | list | revoke NAME\n"
    "\n"
    "Store the cluster's token (printed by `qyv cluster init` where the\n"
    "cluster was made) for the commands: in ~/.config/qyvol/token, mode\n"
    "0600, or --token-file FILE. It replaces the token stored there.\n"
    "--cert/--key: TLS comes with a later release.\n"
    "`auth token ...` makes, lists and revokes named tokens (read-only or\n"
    "admin): see `qyv cluster auth token --help`.\n";

int cluster_auth(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"token", required_argument, NULL, 't'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc > 1 && !strcmp(argv[1], "token")) return cluster_auth_token(ctx, argc - 1, argv + 1);
    const char *token = NULL;
    bool tls = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        switch (opt) {
        case 't': token = optarg; break;
        case 'c':
        case 'k': tls = true; break;
        case 'h': fputs(auth_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, auth_usage, opt, argv);
        }
    }
    if (tls) {
        cluster_say(ctx, "--cert and --key: TLS comes with a later release; the cluster API speaks plain HTTP "
                    "with a bearer token for now (--token)");
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
