/*
 * cmd_validate_manifest.c — `qyv validate FILE.qyv...`: parse manifests
 * without running anything; each mistake is reported as
 * FILE:LINE:COLUMN: message. Warnings (FILE:LINE:COLUMN: warning: ...) go
 * to stderr too, and the manifest is still ok.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "manifest/manifest.h"

static const char usage_text[] = "usage: qyv validate FILE.qyv...\n";

int cmd_validate_manifest(int argc, char **argv)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return QYV_EXIT_OK;
        }
        cli_option_error("validate", opt, argv, optind);
        fputs(usage_text, stderr);
        return QYV_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "qyv validate: no manifests given\n");
        fputs(usage_text, stderr);
        return QYV_EXIT_USAGE;
    }
    int status = QYV_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        qv_manifest_error err;
        qv_manifest *m = qv_manifest_load(argv[i], &err);
        if (m) {
            for (size_t w = 0; w < m->warning_count; w++) fprintf(stderr, "%s\n", m->warnings[w].message);
            printf("%s: ok\n", argv[i]);
            qv_manifest_free(m);
        } else {
            fprintf(stderr, "%s\n", err.message);
            status = QYV_EXIT_FAILURE;
        }
    }
    return status;
}
