/*
 * cluster_secret.c — `qyv cluster secret set|list|remove`: the cluster's
 * secrets, kept sealed by the master (docs/security.md). The value goes
 * to the master in a request's body and is never printed back.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"
#include "manifest/read_file.h"

#define SECRET_MAX ((size_t)64 << 10)

static const char secret_usage[] =
    "usage: qyv cluster secret set NAME (--from-file FILE | --from-literal VALUE)\n"
    "       qyv cluster secret list [--output json]\n"
    "       qyv cluster secret remove NAME\n"
    "\n"
    "Secrets the cluster keeps encrypted (AES-256-GCM, with the master's\n"
    "--secret-key-file) and gives to the apps whose manifest names them, as\n"
    "env values ({secret: NAME}) or read-only files (secrets:), see\n"
    "docs/manifest.md. `set` makes a new version (at most 64 KiB; a file's\n"
    "bytes as they are, a literal as written); apps take it at their next\n"
    "deploy. `list` shows names and versions, never values. A secret an app\n"
    "uses cannot be removed. Needs an admin token.\n";

static int secret_set(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {{"from-file", required_argument, NULL, 'f'},
                                            {"from-literal", required_argument, NULL, 'l'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *file = NULL, *literal = NULL;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': file = optarg; break;
        case 'l': literal = optarg; break;
        case 'h': fputs(secret_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, secret_usage, opt, argv);
        }
    }
    if (argc - optind != 1 || !cluster_name_valid(argv[optind]) || !file == !literal) {
        cluster_say(ctx, "needs one NAME (lower-case letters, digits and '-') and one of --from-file FILE or "
                    "--from-literal VALUE");
        fputs(secret_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    const char *name = argv[optind];
    size_t len = literal ? strlen(literal) : 0;
    uint8_t *data = NULL;
    if (file) {
        char why[300];
        data = qv_read_file(AT_FDCWD, file, SECRET_MAX, &len, why, sizeof why);
        if (!data) {
            cluster_say(ctx, "--from-file %s: %s", file, why);
            return QYV_EXIT_FAILURE;
        }
    }
    if (!len) {
        cluster_say(ctx, "the secret's value is empty");
        free(data);
        return QYV_EXIT_USAGE;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/secrets/%s", name);
    api_reply reply;
    bool called = cluster_call(ctx, "PUT", path, "application/octet-stream", data ? (const void *)data : literal, len,
                               0, &reply);
    if (data) memset(data, 0, len);
    free(data);
    if (!called) return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 0);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    printf("secret %s: version %lld (apps that use it take it at their next deploy)\n", name,
           (long long)json_integer_value(json_object_get(root, "version")));
    json_decref(root);
    return QYV_EXIT_OK;
}

static void secret_row(cluster_table *t, const json_t *s)
{
    char at[40], used[300] = "";
    cluster_format_time((uint64_t)json_integer_value(json_object_get(s, "updated_ms")), at, sizeof at);
    size_t k;
    json_t *app;
    json_array_foreach(json_object_get(s, "used_by"), k, app) {
        size_t n = strlen(used);
        snprintf(used + n, sizeof used - n, "%s%s", n ? "," : "", json_string_value(app));
    }
    cluster_table_cell(t, "%s", json_string_value(json_object_get(s, "name")));
    cluster_table_cell(t, "%lld", (long long)json_integer_value(json_object_get(s, "version")));
    cluster_table_cell(t, "%s", at);
    cluster_table_cell(t, "%s", *used ? used : "-");
}

static int secret_list(cluster_ctx *ctx, int argc, char **argv)
{
    int status = cluster_list_options(ctx, argc, argv, secret_usage, 0);
    if (status >= 0) return status;
    static const char *const headers[] = {"NAME", "VERSION", "UPDATED (UTC)", "USED BY"};
    return cluster_list_table(ctx, "/v1/secrets", "secrets", headers, 4, secret_row);
}

static int secret_remove(cluster_ctx *ctx, int argc, char **argv)
{
    return cluster_delete_named(ctx, argc, argv, secret_usage, "secrets", "removed the secret");
}

int cluster_secret(cluster_ctx *ctx, int argc, char **argv)
{
    static const cluster_action actions[] = {
        {"set", secret_set}, {"list", secret_list}, {"remove", secret_remove}, {"rm", secret_remove}};
    return cluster_run_action(ctx, argc, argv, secret_usage, "cluster secret", actions, 4);
}
