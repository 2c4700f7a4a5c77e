/*
 * main.c — `qyv`: dispatch to the commands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli/cluster_cli.h"

#ifndef QYVOL_VERSION
#define QYVOL_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: qyv COMMAND [ARGS...]\n"
            "\n"
            "Qyvol runs WebAssembly modules.\n"
            "\n"
            "commands:\n"
            "  run [OPTIONS] FILE [--] [ARGS...]\n"
            "                       run a WASI program (app.qyv or module.wasm); see\n"
            "                       qyv run --help\n"
            "  serve [OPTIONS] FILE.qyv...\n"
            "                       serve HTTP apps, a fresh instance per request;\n"
            "                       see qyv serve --help\n"
            "  node --listen ADDR:PORT --data DIR --token-file FILE [OPTIONS]\n"
            "                       run a cluster node; see qyv node --help\n"
            "  logs [APP] [--follow] [--level L]\n"
            "                       print the logs a running qyv serve kept\n"
            "  master --data DIR [OPTIONS]\n"
            "                       run a cluster's control plane; see qyv master --help\n"
            "  invoke [--fuel N] [--max-memory-pages N] MODULE.wasm FUNC [ARGS...]\n"
            "                       call an exported function and print its results\n"
            "  validate FILE.qyv...  check manifests without running anything\n"
            "  deploy FILE.qyv SERVER [OPTIONS]\n"
            "                       run an app on the cluster whose master is SERVER\n"
            "  cluster SUBCOMMAND   set up a cluster of nodes and run apps on it; see\n"
            "                       qyv cluster --help\n"
            "  validate-wasm FILE.wasm...\n"
            "                       decode, validate and compile modules\n"
            "  version              print the version\n"
            "  help                 print this help\n"
            "\n"
            "exit status: 0 success, 1 a file could not be read, compiled or\n"
            "instantiated or a manifest is invalid, 2 bad usage, 134 the\n"
            "WebAssembly code trapped. `qyv run` returns the program's own\n"
            "status, or 124 timed out, 125 could not start, 126 permission\n"
            "refused, 134 trapped.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return QYV_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return QYV_EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("qyv %s\n", QYVOL_VERSION);
        return QYV_EXIT_OK;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "logs")) return cmd_logs(argc - 1, argv + 1);
    if (!strcmp(cmd, "master")) return cmd_master(argc - 1, argv + 1);
    if (!strcmp(cmd, "node")) return cmd_node(argc - 1, argv + 1);
    if (!strcmp(cmd, "invoke")) return cmd_invoke(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate-wasm")) return cmd_validate_wasm(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate")) return cmd_validate_manifest(argc - 1, argv + 1);
    if (!strcmp(cmd, "cluster")) return cmd_cluster(argc - 1, argv + 1);
    if (!strcmp(cmd, "deploy")) return cmd_deploy(argc - 1, argv + 1);
    fprintf(stderr, "qyv: unknown command '%s'\n", cmd);
    usage(stderr);
    return QYV_EXIT_USAGE;
}
