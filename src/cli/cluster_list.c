/*
 * cluster_list.c — what the commands over named things (tokens, secrets,
 * the audit log) share: an action chosen by name, a list printed as a
 * table or JSON, and the removal of one thing by its name.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli/cluster_cli.h"

int cluster_run_action(cluster_ctx *ctx, int argc, char **argv, const char *usage, const char *prefix,
                       const cluster_action *actions, size_t n)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? QYV_EXIT_USAGE : QYV_EXIT_OK;
    }
    static char command[96];
    snprintf(command, sizeof command, "%s %s", prefix, argv[1]);
    ctx->command = command;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(argv[1], actions[i].name)) return actions[i].run(ctx, argc - 1, argv + 1);
    cluster_say(ctx, "unknown action '%s'", argv[1]);
    fputs(usage, stderr);
    return QYV_EXIT_USAGE;
}

int cluster_list_table(cluster_ctx *ctx, const char *path, const char *key, const char *const *headers,
                       size_t columns, void (*row)(cluster_table *t, const json_t *item))
{
    json_t *root = cluster_get(ctx, path);
    if (!root) return QYV_EXIT_FAILURE;
    if (ctx->json) {
        cluster_print_json(root);
    } else {
        cluster_table t;
        cluster_table_init(&t, headers, columns);
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(root, key), i, item) row(&t, item);
        cluster_table_print(&t);
    }
    json_decref(root);
    return QYV_EXIT_OK;
}

int cluster_delete_named(cluster_ctx *ctx, int argc, char **argv, const char *usage, const char *collection,
                         const char *done)
{
    int status;
    const char *name = cluster_one_operand(ctx, argc, argv, usage, &status);
    if (!name) return status;
    if (!cluster_name_valid(name)) {
        cluster_say(ctx, "'%s' is not a name (lower-case letters, digits and '-')", name);
        return QYV_EXIT_USAGE;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/%s/%s", collection, name);
    api_reply reply;
    if (!cluster_call(ctx, "DELETE", path, NULL, NULL, 0, 0, &reply)) return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    printf("%s %s\n", done, name);
    json_decref(root);
    return QYV_EXIT_OK;
}

void cluster_format_time(uint64_t ms, char *out, size_t size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm);
}
