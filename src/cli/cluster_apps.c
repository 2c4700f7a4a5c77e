/*
 * cluster_apps.c — apps already on the cluster: `qyv cluster scale`,
 * `status`, `logs` and `remove`. APP is a name or a manifest
 * (cluster_app_name).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "manifest/manifest.h"

int cluster_app_operand(cluster_ctx *ctx, const char *arg, char *name, size_t size)
{
    char why[1024];
    if (cluster_app_name(arg, name, size, why, sizeof why)) return QYV_EXIT_OK;
    cluster_say(ctx, "%s", why);
    return cluster_name_valid(arg) || strchr(arg, '/') || strstr(arg, ".qyv") ? QYV_EXIT_FAILURE : QYV_EXIT_USAGE;
}

static const char scale_usage[] =
    "usage: qyv cluster scale APP --replicas N [--output json]\n"
    "\n"
    "Run N replicas of APP (0 stops them all but keeps the app), placed\n"
    "as a deploy places them. APP is an app's name or its manifest.\n";

int cluster_scale(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"replicas", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *replicas = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'r': replicas = optarg; break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(scale_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, scale_usage, opt, argv);
        }
    }
    if (argc - optind != 1 || !replicas) {
        cluster_say(ctx, "needs APP and --replicas N");
        fputs(scale_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    char *end;
    long n = strtol(replicas, &end, 10);
    if (*end || end == replicas || replicas[0] == '-' || replicas[0] == '+' || n < 0 || n > QV_MANIFEST_MAX_REPLICAS) {
        cluster_say(ctx, "--replicas takes a whole number from 0 to %u, not '%s'", QV_MANIFEST_MAX_REPLICAS, replicas);
        return QYV_EXIT_USAGE;
    }
    char app[128], path[256];
    int bad = cluster_app_operand(ctx, argv[optind], app, sizeof app);
    if (bad) return bad;
    snprintf(path, sizeof path, "/v1/apps/%s/scale", app);
    api_reply reply;
    if (!cluster_call_json(ctx, "POST", path, json_pack("{s:I}", "replicas", (json_int_t)n), &reply))
        return QYV_EXIT_FAILURE;
    int status = cluster_report_placement(ctx, &reply, "scaled");
    api_reply_free(&reply);
    return status;
}

static const char status_usage[] =
    "usage: qyv cluster status [APP] [--output json]\n"
    "\n"
    "The apps on the cluster (or one): revision, route, replicas wanted,\n"
    "running and ready, where they run, why any wait as pending, the\n"
    "autoscaler's last decision for autoscaled apps, and rollouts under way.\n";

static long long count_of(const json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key));
}

/* "node-a 4/4, node-b 3/3" (ready/wanted). */
static void placement_cell(cluster_table *t, const json_t *placement)
{
    char buf[1024] = "";
    size_t o = 0;
    const char *node;
    json_t *v;
    json_object_foreach((json_t *)placement, node, v) {
        int k = snprintf(buf + o, sizeof buf - o, "%s%s %lld/%lld", o ? ", " : "", node, count_of(v, "ready"),
                         count_of(v, "wanted"));
        if (k < 0 || (size_t)k >= sizeof buf - o) break;
        o += (size_t)k;
    }
    cluster_table_cell(t, "%s", o ? buf : "-");
}

static void app_row(cluster_table *t, const json_t *app)
{
    const json_t *r = json_object_get(app, "replicas");
    const char *route = json_string_value(json_object_get(app, "route"));
    json_t *port = json_object_get(app, "port");
    const char *pending = json_string_value(json_object_get(app, "pending"));
    const char *name = json_string_value(json_object_get(app, "name"));
    cluster_table_cell(t, "%s", name ? name : "?");
    cluster_table_cell(t, "%lld", count_of(app, "revision"));
    cluster_table_cell(t, "%s", route ? route : "-");
    if (json_is_integer(port)) cluster_table_cell(t, "%lld", (long long)json_integer_value(port));
    else cluster_table_cell(t, "-");
    cluster_table_cell(t, "%lld/%lld/%lld", count_of(r, "wanted"), count_of(r, "running"), count_of(r, "ready"));
    placement_cell(t, json_object_get(app, "placement"));
    cluster_table_cell(t, "%s", pending ? pending : "-");
}

int cluster_status(cluster_ctx *ctx, int argc, char **argv)
{
    int status = cluster_list_options(ctx, argc, argv, status_usage, 1);
    if (status >= 0) return status;
    char app[128], path[256] = "/v1/apps";
    if (optind < argc) {
        int bad = cluster_app_operand(ctx, argv[optind], app, sizeof app);
        if (bad) return bad;
        snprintf(path, sizeof path, "/v1/apps/%s", app);
    }
    json_t *root = cluster_get(ctx, path);
    if (!root) return QYV_EXIT_FAILURE;
    if (ctx->json) {
        cluster_print_json(root);
        json_decref(root);
        return QYV_EXIT_OK;
    }
    /* {"apps":[...]}, or for one app possibly the app itself. */
    json_t *apps = json_object_get(root, "apps");
    json_t *single = NULL;
    if (!json_is_array(apps)) json_array_append(single = apps = json_array(), root);
    if (!json_array_size(apps)) {
        printf("no apps yet: qyv cluster deploy FILE.qyv\n");
    } else {
        cluster_table t;
        static const char *const head[] = {"APP", "REVISION", "ROUTE", "PORT", "READY", "PLACEMENT", "PENDING"};
        cluster_table_init(&t, head, 7);
        for (size_t i = 0; i < json_array_size(apps); i++) app_row(&t, json_array_get(apps, i));
        cluster_table_print(&t);
        printf("(READY is wanted/running/ready replicas; PLACEMENT ready/wanted per node)\n");
        for (size_t i = 0; i < json_array_size(apps); i++)
            if (json_is_object(json_object_get(json_array_get(apps, i), "autoscale")))
                cluster_print_autoscale(json_array_get(apps, i));
        for (size_t i = 0; i < json_array_size(apps); i++) cluster_print_rollout(json_array_get(apps, i), false);
    }
    json_decref(single);
    json_decref(root);
    return QYV_EXIT_OK;
}

static const char logs_usage[] =
    "usage: qyv cluster logs APP [--node NODE] [--level L] [--lines N] [--follow]\n"
    "\n"
    "APP's log lines (JSON, one per line, each naming its node) from every\n"
    "node, or one, merged.\n"
    "  --node NODE     only this node's\n"
    "  --level L       only lines at L or above: debug, info, warn, error\n"
    "  -n, --lines N   how many past lines (default 100)\n"
    "  -f, --follow    keep printing new lines until interrupted\n";

static bool print_piece(const char *data, size_t len, void *arg)
{
    (void)arg;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
    return !ferror(stdout);
}

int cluster_logs(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"node", required_argument, NULL, 'N'},
        {"level", required_argument, NULL, 'L'},
        {"lines", required_argument, NULL, 'n'},
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *node = "", *level = "debug";
    long lines = 100;
    bool follow = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":n:fh", options, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'N':
            if (!cluster_node_option(ctx, optarg, &node)) return QYV_EXIT_USAGE;
            break;
        case 'L':
            if (strcmp(optarg, "debug") && strcmp(optarg, "info") && strcmp(optarg, "warn") && strcmp(optarg, "error")) {
                cluster_say(ctx, "--level takes debug, info, warn or error, not '%s'", optarg);
                return QYV_EXIT_USAGE;
            }
            level = optarg;
            break;
        case 'n':
            lines = strtol(optarg, &end, 10);
            if (*end || end == optarg || lines < 0) {
                cluster_say(ctx, "--lines takes a number, not '%s'", optarg);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'f': follow = true; break;
        case 'h': fputs(logs_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, logs_usage, opt, argv);
        }
    }
    if (argc - optind != 1) {
        cluster_say(ctx, "needs one APP");
        fputs(logs_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    char app[128], path[512];
    int bad = cluster_app_operand(ctx, argv[optind], app, sizeof app);
    if (bad) return bad;
    snprintf(path, sizeof path, "/v1/apps/%s/logs?node=%s&level=%s&tail=%ld%s", app, node, level, lines,
             follow ? "&follow=1" : "");
    api_reply reply;
    if (!cluster_stream(ctx, path, print_piece, NULL, &reply)) return QYV_EXIT_FAILURE;
    int status = QYV_EXIT_OK;
    if (reply.status < 200 || reply.status >= 300) {
        json_decref(cluster_answer(ctx, &reply, 0));
        status = QYV_EXIT_FAILURE;
    }
    api_reply_free(&reply);
    return status;
}

static const char remove_usage[] =
    "usage: qyv cluster remove APP\n"
    "\n"
    "Stop every replica of APP and forget it. APP is an app's name or its\n"
    "manifest.\n";

int cluster_remove(cluster_ctx *ctx, int argc, char **argv)
{
    int status;
    const char *arg = cluster_one_operand(ctx, argc, argv, remove_usage, &status);
    if (!arg) return status;
    char app[128], path[256];
    int bad = cluster_app_operand(ctx, arg, app, sizeof app);
    if (bad) return bad;
    snprintf(path, sizeof path, "/v1/apps/%s", app);
    api_reply reply;
    if (!cluster_call(ctx, "DELETE", path, NULL, NULL, 0, 0, &reply)) return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    printf("removed %s\n", app);
    json_decref(root);
    return QYV_EXIT_OK;
}
