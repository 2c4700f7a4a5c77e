/*
 * cmd_cluster.c — `qyv cluster SUBCOMMAND ...`: the options every
 * subcommand takes (--master, --token-file, --debug), then one function
 * per subcommand (cluster_*.c). Also `qyv deploy FILE.qyv SERVER`, the
 * guide's one-line deploy, which is `qyv cluster deploy` aimed at SERVER.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "cli/cluster_tls.h"

static const char usage_text[] =
    "usage: qyv cluster SUBCOMMAND [OPTIONS] [ARGS...]\n"
    "\n"
    "Set up a cluster of Qyvol nodes and run apps on it, through its master\n"
    "(docs/cluster.md).\n"
    "\n"
    "setting up:\n"
    "  init [--force] [--dir DIR]   make a cluster token and the client configuration\n"
    "  up [--nodes N] [--dir DIR]   run a master and N nodes on this machine until Ctrl-C\n"
    "  set-master HOST:PORT[,...]   the master(s) the commands talk to\n"
    "  auth --token TOKEN           store the cluster token for the commands\n"
    "  auth token create NAME [--role read|admin] | list | revoke NAME\n"
    "                               named tokens: read-only ones for looking\n"
    "  add-node HOST:PORT           have the master adopt the node running there\n"
    "  add-node                     (TLS) a join token and the command that starts a node with it\n"
    "  token create                 a one-time join token for a new node (TLS; not `auth token`)\n"
    "looking:\n"
    "  list-nodes                   nodes, their state, replicas and capacity\n"
    "  health                       exit 0 only when the master and every node are healthy\n"
    "  metrics [--app APP] [--node NODE]\n"
    "                               the cluster's metrics as a table\n"
    "  status [APP]                 apps, revisions, replicas wanted/running/ready, where\n"
    "  logs APP [--node NODE] [--level L] [--follow]\n"
    "                               an app's log lines from every node\n"
    "apps:\n"
    "  deploy FILE.qyv [--replicas N] [--memory SIZE] [--cpu N] [--env K=V]...\n"
    "         [--port P] [--nodes a,b] [--server HOST:PORT]\n"
    "         [--strategy rolling|blue_green|canary] [--rollback-on-failure] [--wait]\n"
    "                               upload the app's folder and run it on the cluster\n"
    "  rollout status|history|undo|pause|resume|promote|abort APP\n"
    "                               follow and steer the release of a new revision\n"
    "  scale APP --replicas N       change how many replicas run, in place\n"
    "  autoscale APP --min N --max N [--cpu-threshold P] [--target-inflight N]\n"
    "            [--window D] | --off\n"
    "                               let the master set the replicas from the load\n"
    "  remove APP                   stop an app everywhere and forget it\n"
    "secrets and audit:\n"
    "  secret set NAME (--from-file F | --from-literal V) | list | remove NAME\n"
    "                               secrets kept encrypted, given to apps by name\n"
    "  audit [--tail N]             who changed what, when\n"
    "\n"
    "APP is an app's name or its manifest (FILE.qyv). List commands take\n"
    "--output json. Every subcommand takes:\n"
    "  --master HOST:PORT     the master (else $QYVOL_MASTER, else the configuration's)\n"
    "  --token-file FILE      the cluster token (else $QYVOL_TOKEN_FILE, else the\n"
    "                         configuration's, else ~/.config/qyvol/token)\n"
    "  --debug                print each API call and its answer\n"
    "and --help. Exit status: 0 done, 1 refused or failed (the message says\n"
    "why), 2 bad usage.\n";

typedef struct subcommand {
    const char *name;
    int (*run)(cluster_ctx *ctx, int argc, char **argv);
    bool sets_up;   /* works without a valid master address (it may set one) */
} subcommand;

static const subcommand subcommands[] = {
    {"init", cluster_init, true},           {"up", cluster_up, true},
    {"set-master", cluster_set_master, true}, {"auth", cluster_auth, true},
    {"add-node", cluster_add_node, false},  {"list-nodes", cluster_list_nodes, false},
    {"health", cluster_health, false},      {"metrics", cluster_metrics, false},
    {"deploy", cluster_deploy, false},      {"scale", cluster_scale, false},
    {"autoscale", cluster_autoscale, false}, {"rollout", cluster_rollout, false},
    {"status", cluster_status, false},      {"logs", cluster_logs, false},
    {"remove", cluster_remove, false},      {"token", cluster_token, false},
    {"secret", cluster_secret, false},      {"audit", cluster_audit, false},
};

/* Take the shared options out of argv (wherever they are, up to "--"),
 * leaving the rest in order. Returns the new argc, or -1 after a message. */
static int take_shared(const char *command, int argc, char **argv, const char **master, const char **token_file,
                       bool *debug)
{
    int out = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        const char *value = NULL;
        if (!strcmp(a, "--")) {
            while (i < argc) argv[out++] = argv[i++];
            break;
        }
        if (!strcmp(a, "--debug")) {
            *debug = true;
            continue;
        }
        if (!strncmp(a, "--master", 8) && (a[8] == 0 || a[8] == '=')) slot = master, value = a[8] ? a + 9 : NULL;
        else if (!strncmp(a, "--token-file", 12) && (a[12] == 0 || a[12] == '='))
            slot = token_file, value = a[12] ? a + 13 : NULL;
        if (!slot) {
            argv[out++] = argv[i];
            continue;
        }
        if (!value) {
            if (i + 1 == argc) {
                fprintf(stderr, "qyv %s: option '%s' needs a value\n", command, a);
                return -1;
            }
            value = argv[++i];
        }
        *slot = value;
    }
    argv[out] = NULL;
    return out;
}

/* Set up ctx for `qyv COMMAND` from argv (shared options removed). */
static int prepare(cluster_ctx *ctx, const char *command, int *argc, char **argv, bool sets_up)
{
    const char *master = NULL, *token_file = NULL;
    *ctx = (cluster_ctx){.command = command};
    int n = take_shared(command, *argc, argv, &master, &token_file, &ctx->debug);
    if (n < 0) return QYV_EXIT_USAGE;
    *argc = n;
    char why[1024];
    if (!cluster_ctx_resolve(ctx, master, token_file, why, sizeof why)) {
        if (sets_up && !master && ctx->token_file[0]) {
            snprintf(ctx->master, sizeof ctx->master, "%s", CLUSTER_DEFAULT_MASTER);
            return QYV_EXIT_OK;
        }
        cluster_say(ctx, "%s", why);
        return master ? QYV_EXIT_USAGE : QYV_EXIT_FAILURE;
    }
    return QYV_EXIT_OK;
}

int cmd_cluster(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return QYV_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        fputs(usage_text, stdout);
        return QYV_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        if (strcmp(name, subcommands[i].name)) continue;
        static char command[64];
        snprintf(command, sizeof command, "cluster %s", name);
        cluster_ctx ctx;
        int sub_argc = argc - 1;
        int status = prepare(&ctx, command, &sub_argc, argv + 1, subcommands[i].sets_up);
        return status ? status : subcommands[i].run(&ctx, sub_argc, argv + 1);
    }
    /* Commands the Qyvol guide shows that are not built yet: say so, and
     * what serves meanwhile, rather than "unknown". */
    static const struct {
        const char *name, *instead;
    } planned[] = {
        {"dashboard", "qyv cluster status, qyv cluster health and qyv cluster metrics"},
        {"monitor", "qyv cluster status APP, qyv cluster metrics --app APP and qyv cluster logs APP --follow"},
        {"alerts", "the Prometheus metrics of qyv cluster metrics (GET /v1/metrics) with your alerting rules"},
        {"webhook", "qyv cluster deploy from your CI (the guide's GitHub Actions step)"},
    };
    for (size_t i = 0; i < sizeof planned / sizeof planned[0]; i++) {
        if (strcmp(name, planned[i].name)) continue;
        fprintf(stderr, "qyv cluster: '%s' is not built yet; meanwhile use %s\n", name, planned[i].instead);
        return QYV_EXIT_USAGE;
    }
    fprintf(stderr, "qyv cluster: unknown subcommand '%s'\n%s", name, usage_text);
    return QYV_EXIT_USAGE;
}

static const char deploy_usage[] =
    "usage: qyv deploy FILE.qyv SERVER [OPTIONS]\n"
    "\n"
    "Deploy an app to the cluster whose master is SERVER (HOST:PORT, or\n"
    "http://HOST[:PORT]; the port defaults to 7000). The same as\n"
    "`qyv cluster deploy FILE.qyv --server SERVER`, with the same options\n"
    "(see qyv cluster deploy --help).\n";

int cmd_deploy(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(deploy_usage, stdout);
            return QYV_EXIT_OK;
        }
    cluster_ctx ctx;
    int status = prepare(&ctx, "deploy", &argc, argv, false);
    if (status) return status;
    /* The two operands, wherever the options put them: FILE then SERVER. */
    int operands[2], n = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            /* Options of cluster deploy with a value skip it. */
            if (!strchr(argv[i], '=') && strcmp(argv[i], "--debug") && strcmp(argv[i], "--wait") &&
                !strstr(argv[i], "rollback-on-failure"))
                i++;
            continue;
        }
        if (n == 2) {
            fprintf(stderr, "qyv deploy: one manifest and one server, not '%s'\n%s", argv[i], deploy_usage);
            return QYV_EXIT_USAGE;
        }
        operands[n++] = i;
    }
    if (n != 2) {
        fprintf(stderr, "qyv deploy: needs FILE.qyv and SERVER\n%s", deploy_usage);
        return QYV_EXIT_USAGE;
    }
    char server[CLUSTER_ADDRESS_MAX], why[512];
    if (!cluster_parse_server(argv[operands[1]], server, sizeof server, why, sizeof why)) {
        cluster_say(&ctx, "%s", why);
        return QYV_EXIT_USAGE;
    }
    /* Rewrite as: deploy FILE [OPTIONS...] --server SERVER */
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args) return QYV_EXIT_FAILURE;
    int k = 0;
    args[k++] = argv[0];
    for (int i = 1; i < argc; i++)
        if (i != operands[1]) args[k++] = argv[i];
    args[k++] = "--server";
    args[k++] = argv[operands[1]]; /* as written: its scheme says HTTPS or HTTP */
    args[k] = NULL;
    status = cluster_deploy(&ctx, k, args);
    free(args);
    return status;
}
