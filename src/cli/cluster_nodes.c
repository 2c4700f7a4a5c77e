/*
 * cluster_nodes.c — the cluster's machines: `qyv cluster add-node`,
 * `list-nodes`, `health` and `metrics`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "cli/cluster_tls.h"

static uint64_t num(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
         : json_is_real(v) && json_real_value(v) > 0 ? (uint64_t)json_real_value(v)
                                                     : 0;
}

static const char *str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "-";
}

static const char add_node_usage[] =
    "usage: qyv cluster add-node HOST:PORT\n"
    "\n"
    "Have the master adopt the node running at HOST:PORT (`qyv node --listen\n"
    "HOST:PORT`): the master calls it with the cluster token, and the node,\n"
    "holding the same token, registers and starts sending heartbeats.\n"
    "In a TLS cluster, without HOST:PORT: make a one-time join token and\n"
    "print the command that starts a node with it (as `token create`).\n";

static void print_node_line(const json_t *node)
{
    printf("node %s at %s: %s\n", str(node, "name"), str(node, "address"), str(node, "status"));
}

int cluster_add_node(cluster_ctx *ctx, int argc, char **argv)
{
    int status;
    if (argc == 1 && ctx->tls) return cluster_join_command(ctx);
    const char *arg = cluster_one_operand(ctx, argc, argv, add_node_usage, &status);
    if (!arg) return status;
    char address[CLUSTER_ADDRESS_MAX], why[512];
    if (!cluster_parse_server(arg, address, sizeof address, why, sizeof why)) {
        cluster_say(ctx, "%s", why);
        return QYV_EXIT_USAGE;
    }
    json_t *body = json_object();
    json_object_set_new(body, "address", json_string(address));
    api_reply reply;
    if (!cluster_call_json(ctx, "POST", "/v1/nodes", body, &reply)) return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    json_t *node = json_object_get(root, "node");
    print_node_line(node ? node : root);
    json_decref(root);
    return QYV_EXIT_OK;
}

static const char list_nodes_usage[] =
    "usage: qyv cluster list-nodes [--output json]\n"
    "\n"
    "One line per node: name, address, status (ready or down), replicas,\n"
    "memory and CPU used/capacity, age of the last heartbeat.\n";

static void node_row(cluster_table *t, const json_t *node)
{
    char used[32], cap[32], cpu_used[32], cpu_cap[32], age[32];
    const json_t *mem = json_object_get(node, "memory"), *cpu = json_object_get(node, "cpu");
    cluster_format_bytes(num(mem, "used"), used, sizeof used);
    cluster_format_bytes(num(mem, "capacity"), cap, sizeof cap);
    cluster_format_cpu(num(cpu, "used"), cpu_used, sizeof cpu_used);
    cluster_format_cpu(num(cpu, "capacity"), cpu_cap, sizeof cpu_cap);
    if (json_object_get(node, "heartbeat_age_ms")) cluster_format_age(num(node, "heartbeat_age_ms"), age, sizeof age);
    else snprintf(age, sizeof age, "-");
    cluster_table_cell(t, "%s", str(node, "name"));
    cluster_table_cell(t, "%s", str(node, "address"));
    cluster_table_cell(t, "%s", str(node, "status"));
    cluster_table_cell(t, "%llu", (unsigned long long)num(node, "replicas"));
    cluster_table_cell(t, "%s/%s", used, cap);
    cluster_table_cell(t, "%s/%s", cpu_used, cpu_cap);
    cluster_table_cell(t, "%s", age);
}

int cluster_list_nodes(cluster_ctx *ctx, int argc, char **argv)
{
    int status = cluster_list_options(ctx, argc, argv, list_nodes_usage, 0);
    if (status >= 0) return status;
    json_t *root = cluster_get(ctx, "/v1/nodes");
    if (!root) return QYV_EXIT_FAILURE;
    json_t *nodes = json_object_get(root, "nodes");
    if (ctx->json) {
        cluster_print_json(root);
    } else if (!json_array_size(nodes)) {
        printf("no nodes yet: start `qyv node --master %s ...`, or `qyv cluster add-node HOST:PORT`\n",
               ctx->master);
    } else {
        cluster_table t;
        static const char *const head[] = {"NAME", "ADDRESS", "STATUS", "REPLICAS", "MEMORY", "CPU", "HEARTBEAT"};
        cluster_table_init(&t, head, 7);
        for (size_t i = 0; i < json_array_size(nodes); i++) node_row(&t, json_array_get(nodes, i));
        cluster_table_print(&t);
    }
    json_decref(root);
    return QYV_EXIT_OK;
}

static const char health_usage[] =
    "usage: qyv cluster health [--output json]\n"
    "\n"
    "Ask the master how it and every node are. Exit status 0 only when the\n"
    "master answers and every node is ready; 1 otherwise. With several\n"
    "masters on etcd, also each master's role (leader, follower or down) and\n"
    "each etcd member's health; exactly one master must lead.\n";

int cluster_health(cluster_ctx *ctx, int argc, char **argv)
{
    int status = cluster_list_options(ctx, argc, argv, health_usage, 0);
    if (status >= 0) return status;
    json_t *health = cluster_get(ctx, "/v1/health");
    if (!health) return QYV_EXIT_FAILURE;
    json_t *root = cluster_get(ctx, "/v1/nodes");
    if (!root) return json_decref(health), QYV_EXIT_FAILURE;
    json_t *nodes = json_object_get(root, "nodes");
    size_t ready = 0, count = json_array_size(nodes);
    for (size_t i = 0; i < count; i++) ready += !strcmp(str(json_array_get(nodes, i), "status"), "ready");
    bool healthy = ready == count;
    /* Several masters on etcd: each one's role, and etcd's members. */
    bool ha = !strcmp(str(health, "store"), "etcd"), one_leader = true;
    if (ha && !ctx->json)
        printf("masters (store etcd, version %s):\n", str(health, "version"));
    json_t *masters = ha ? cluster_masters_health(ctx, health, &one_leader) : NULL;
    healthy = healthy && one_leader;
    if (ctx->json) {
        json_t *out = json_pack("{s:b, s:O, s:O}", "healthy", healthy, "master", health, "nodes", nodes);
        if (masters) json_object_set(out, "masters", masters);
        cluster_print_json(out);
        json_decref(out);
    } else {
        if (!ha)
            printf("master %s: %s (version %s, store %s)\n", ctx->master, str(health, "status"),
                   str(health, "version"), str(health, "store"));
        for (size_t i = 0; i < count; i++) {
            const json_t *node = json_array_get(nodes, i);
            char age[32] = "-";
            if (json_object_get(node, "heartbeat_age_ms")) cluster_format_age(num(node, "heartbeat_age_ms"), age, sizeof age);
            printf("node %s at %s: %s (last heartbeat %s ago)\n", str(node, "name"), str(node, "address"),
                   str(node, "status"), age);
        }
        json_t *apps = json_object_get(health, "apps");
        if (num(apps, "pending")) printf("apps pending: %llu (see qyv cluster status)\n",
                                         (unsigned long long)num(apps, "pending"));
        if (!count) printf("no nodes yet: nothing can run\n");
        printf("%s: %zu of %zu nodes ready\n", healthy ? "healthy" : "unhealthy", ready, count);
    }
    json_decref(masters);
    json_decref(health);
    json_decref(root);
    return healthy ? QYV_EXIT_OK : QYV_EXIT_FAILURE;
}

static const char metrics_usage[] =
    "usage: qyv cluster metrics [--app APP] [--node NODE] [--output json]\n"
    "\n"
    "The cluster's metrics (what the master serves to Prometheus on\n"
    "/v1/metrics) as a table, for one app or node if given. APP is an app's\n"
    "name or its manifest.\n";

/* "k=v,k=v" of a sample's labels other than node and app. */
static void other_labels(const json_t *labels, char *out, size_t size)
{
    const char *key;
    json_t *value;
    size_t o = 0;
    out[0] = 0;
    json_object_foreach((json_t *)labels, key, value) {
        if (!strcmp(key, "node") || !strcmp(key, "app")) continue;
        int n = snprintf(out + o, size - o, "%s%s=%s", o ? "," : "", key, json_string_value(value) ? json_string_value(value) : "?");
        if (n < 0 || (size_t)n >= size - o) break;
        o += (size_t)n;
    }
    if (!o) snprintf(out, size, "-");
}

static bool label_is(const json_t *labels, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(labels, key));
    return !want || (v && !strcmp(v, want));
}

/* A sample: {"name":..., "labels":{...}, "value":N}. */
static void metric_row(cluster_table *t, const char *name, const json_t *sample, const char *app, const char *node)
{
    const json_t *labels = json_object_get(sample, "labels");
    if (!label_is(labels, "app", app) || !label_is(labels, "node", node)) return;
    char other[512];
    other_labels(labels, other, sizeof other);
    json_t *value = json_object_get(sample, "value");
    cluster_table_cell(t, "%s", name);
    cluster_table_cell(t, "%s", str(labels, "node"));
    cluster_table_cell(t, "%s", str(labels, "app"));
    cluster_table_cell(t, "%s", other);
    if (json_is_integer(value)) cluster_table_cell(t, "%lld", (long long)json_integer_value(value));
    else cluster_table_cell(t, "%.6g", json_number_value(value));
}

int cluster_metrics(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"app", required_argument, NULL, 'a'},
        {"node", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char app[128] = "", why[1024];
    const char *node = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'a':
            if (!cluster_app_name(optarg, app, sizeof app, why, sizeof why)) {
                cluster_say(ctx, "--app: %s", why);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'n':
            if (!cluster_node_option(ctx, optarg, &node)) return QYV_EXIT_USAGE;
            break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(metrics_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, metrics_usage, opt, argv);
        }
    }
    if (optind < argc) {
        cluster_say(ctx, "takes no operands, not '%s'", argv[optind]);
        return QYV_EXIT_USAGE;
    }
    char path[512], q[200];
    size_t o = (size_t)snprintf(path, sizeof path, "/v1/metrics?format=json");
    if (app[0]) cluster_query_escape(app, q, sizeof q), o += (size_t)snprintf(path + o, sizeof path - o, "&app=%s", q);
    if (node) cluster_query_escape(node, q, sizeof q), snprintf(path + o, sizeof path - o, "&node=%s", q);
    json_t *root = cluster_get(ctx, path);
    if (!root) return QYV_EXIT_FAILURE;
    if (ctx->json) {
        cluster_print_json(root);
        json_decref(root);
        return QYV_EXIT_OK;
    }
    cluster_table t;
    static const char *const head[] = {"METRIC", "NODE", "APP", "LABELS", "VALUE"};
    cluster_table_init(&t, head, 5);
    /* {"metrics":[{"name","labels","value"}...]}, or {"NAME":[{"labels","value"}...]} */
    json_t *list = json_object_get(root, "metrics");
    if (json_is_array(list)) {
        for (size_t i = 0; i < json_array_size(list); i++)
            metric_row(&t, str(json_array_get(list, i), "name"), json_array_get(list, i), app[0] ? app : NULL, node);
    } else {
        const char *name;
        json_t *samples;
        json_object_foreach(root, name, samples)
            for (size_t i = 0; i < json_array_size(samples); i++)
                metric_row(&t, name, json_array_get(samples, i), app[0] ? app : NULL, node);
    }
    if (t.ncells > 5) {
        cluster_table_print(&t);
    } else {
        cluster_table_free(&t);
        printf("no metrics%s%s%s%s\n", app[0] ? " for app " : "", app, node ? " on node " : "", node ? node : "");
    }
    json_decref(root);
    return QYV_EXIT_OK;
}
