/*
 * cluster_usage.c — command-line mistakes in the cluster subcommands,
 * reported the way every `qyv` command reports them.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"

int cluster_usage_error(const cluster_ctx *ctx, const char *usage, int opt, char **argv)
{
    cli_option_error(ctx->command, opt, argv, optind);
    fputs(usage, stderr);
    return QYV_EXIT_USAGE;
}

const char *cluster_one_operand(const cluster_ctx *ctx, int argc, char **argv, const char *usage, int *status)
{
    static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    opterr = 0;
    *status = QYV_EXIT_USAGE;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            *status = QYV_EXIT_OK;
            return NULL;
        }
        cluster_usage_error(ctx, usage, opt, argv);
        return NULL;
    }
    if (argc - optind != 1) {
        if (argc > optind) cluster_say(ctx, "takes one operand, not %d", argc - optind);
        else cluster_say(ctx, "needs an operand");
        fputs(usage, stderr);
        return NULL;
    }
    return argv[optind];
}

bool cluster_output_option(cluster_ctx *ctx, const char *arg)
{
    if (cluster_output(arg, &ctx->json)) return true;
    cluster_say(ctx, "--output takes json or table, not '%s'", arg);
    return false;
}

int cluster_list_options(cluster_ctx *ctx, int argc, char **argv, const char *usage, int max_operands)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
        switch (opt) {
        case 'o':
            if (!cluster_output_option(ctx, optarg)) return QYV_EXIT_USAGE;
            break;
        case 'h': fputs(usage, stdout); return QYV_EXIT_OK;
        default: return cluster_usage_error(ctx, usage, opt, argv);
        }
    }
    if (argc - optind > max_operands) {
        cluster_say(ctx, "too many operands ('%s')", argv[optind + max_operands]);
        fputs(usage, stderr);
        return QYV_EXIT_USAGE;
    }
    return -1;
}

bool cluster_node_option(cluster_ctx *ctx, const char *arg, const char **node)
{
    if (!cluster_name_valid(arg)) {
        cluster_say(ctx, "--node: '%s' is not a node name (lower-case letters, digits and '-')", arg);
        return false;
    }
    *node = arg;
    return true;
}
