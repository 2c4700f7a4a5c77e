/*
 * cluster_access.c — `qyv cluster auth token create|list|revoke` (named
 * tokens that may only read, or administer) and `qyv cluster audit` (who
 * changed what, when). docs/security.md, "Secrets and tokens".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"

static const char token_usage[] =
    "usage: qyv cluster auth token create NAME [--role read|admin]\n"
    "       qyv cluster auth token list [--output json]\n"
    "       qyv cluster auth token revoke NAME\n"
    "\n"
    "Named tokens for people and programs other than the cluster's admin\n"
    "(the cluster token). A read token may list, show status, logs and\n"
    "metrics, and nothing else (403); an admin token may do everything. The\n"
    "master keeps only each token's SHA-256; `create` prints the token on\n"
    "stdout, once: give it to its user, who stores it with\n"
    "`qyv cluster auth --token TOKEN` (or --token-file). `revoke` stops it\n"
    "at once. The role defaults to read.\n";

static const char audit_usage[] =
    "usage: qyv cluster audit [--tail N] [--output json]\n"
    "\n"
    "The master's audit log: every change (deploy, scale, remove, secrets,\n"
    "tokens, nodes...) with who asked (the token's name), what, when and how\n"
    "it ended (done, refused or failed, with the HTTP status; '-' while it\n"
    "runs); the last 1000. Needs an admin token.\n";

static int token_create(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        {"role", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *role = "read";
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":r:h", options, NULL)) != -1) {
        switch (opt) {
        case 'r': role = optarg; break;
        case 'h': fputs(token_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, token_usage, opt, argv);
        }
    }
    if (strcmp(role, "read") && strcmp(role, "admin")) {
        cluster_say(ctx, "--role is read or admin, not '%s'", role);
        return QYV_EXIT_USAGE;
    }
    if (argc - optind != 1 || !cluster_name_valid(argv[optind])) {
        cluster_say(ctx, "needs one NAME: lower-case letters, digits and '-' (at most 63)");
        fputs(token_usage, stderr);
        return QYV_EXIT_USAGE;
    }
    api_reply reply;
    if (!cluster_call_json(ctx, "POST", "/v1/tokens", json_pack("{s:s,s:s}", "name", argv[optind], "role", role),
                           &reply))
        return QYV_EXIT_FAILURE;
    json_t *root = cluster_answer(ctx, &reply, 201);
    api_reply_free(&reply);
    if (!root) return QYV_EXIT_FAILURE;
    puts(json_string_value(json_object_get(root, "token")));
    fprintf(stderr, "made the %s token '%s' (shown once: the master keeps only its hash); its user stores it with "
            "`qyv cluster auth --token TOKEN`\n", role, argv[optind]);
    json_decref(root);
    return QYV_EXIT_OK;
}

static void token_row(cluster_table *t, const json_t *tok)
{
    char when[40] = "-";
    json_t *ms = json_object_get(tok, "created_ms");
    if (ms) cluster_format_time((uint64_t)json_integer_value(ms), when, sizeof when);
    const char *by = json_string_value(json_object_get(tok, "created_by"));
    cluster_table_cell(t, "%s", json_string_value(json_object_get(tok, "name")));
    cluster_table_cell(t, "%s", json_string_value(json_object_get(tok, "role")));
    cluster_table_cell(t, "%s", when);
    cluster_table_cell(t, "%s", by ? by : "(--token-file)");
}

static int token_list(cluster_ctx *ctx, int argc, char **argv)
{
    int status = cluster_list_options(ctx, argc, argv, token_usage, 0);
    if (status >= 0) return status;
    static const char *const headers[] = {"NAME", "ROLE", "CREATED (UTC)", "BY"};
    return cluster_list_table(ctx, "/v1/tokens", "tokens", headers, 4, token_row);
}

static int token_revoke(cluster_ctx *ctx, int argc, char **argv)
{
    return cluster_delete_named(ctx, argc, argv, token_usage, "tokens", "revoked the token");
}

int cluster_auth_token(cluster_ctx *ctx, int argc, char **argv)
{
    static const cluster_action actions[] = {{"create", token_create}, {"list", token_list}, {"revoke", token_revoke}};
    return cluster_run_action(ctx, argc, argv, token_usage, "cluster auth token", actions, 3);
}

static void audit_row(cluster_table *t, const json_t *e)
{
    char when[40];
    cluster_format_time((uint64_t)json_integer_value(json_object_get(e, "ts_ms")), when, sizeof when);
    cluster_table_cell(t, "%s", when);
    cluster_table_cell(t, "%s", json_string_value(json_object_get(e, "who")));
    char what[600];
    int used = snprintf(what, sizeof what, "%s", json_string_value(json_object_get(e, "what")));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(e, "detail"), k, v) {
        if (used < 0 || (size_t)used >= sizeof what) break;
        if (json_is_string(v)) used += snprintf(what + used, sizeof what - (size_t)used, " %s=%s", k, json_string_value(v));
        else used += snprintf(what + used, sizeof what - (size_t)used, " %s=%lld", k, (long long)json_integer_value(v));
    }
    cluster_table_cell(t, "%s", what);
    /* "-": no answer recorded (in flight, or the master stopped first). */
    const char *outcome = json_string_value(json_object_get(e, "outcome"));
    json_int_t status = json_integer_value(json_object_get(e, "status"));
    if (outcome && status) cluster_table_cell(t, "%s %lld", outcome, (long long)status);
    else cluster_table_cell(t, "%s", outcome ? outcome : "-");
    cluster_table_cell(t, "%s", json_string_value(json_object_get(e, "peer")));
}

int cluster_audit(cluster_ctx *ctx, int argc, char **argv)
{
    static const struct option options[] = {{"tail", required_argument, NULL, 't'},
                                            {"output", required_argument, NULL, 'o'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    long tail = 0;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":t:o:h", options, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 't':
            tail = strtol(optarg, &end, 10);
            if (*end || tail < 1 || tail > 100000) {
                cluster_say(ctx, "--tail takes a number from 1, not '%s'", optarg);
                return QYV_EXIT_USAGE;
            }
            break;
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(audit_usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, audit_usage, opt, argv);
        }
    }
    if (optind < argc) {
        cluster_say(ctx, "takes no operand ('%s')", argv[optind]);
        return QYV_EXIT_USAGE;
    }
    char path[64];
    snprintf(path, sizeof path, "/v1/audit?tail=%ld", tail);
    static const char *const headers[] = {"WHEN (UTC)", "WHO", "WHAT", "OUTCOME", "FROM"};
    return cluster_list_table(ctx, path, "entries", headers, 5, audit_row);
}
