/*
 * cmd_validate_manifest.c — `qyv validate FILE.qyv...`: parse manifests
 * without running anything, and check that the paths they name that
 * exist stay in the app folder; each mistake is reported as
 * FILE:LINE:COLUMN: message. Warnings (FILE:LINE:COLUMN: warning: ...) go
 * to stderr too, and the manifest is still ok.
 */
#include <stdio.h>

#include "app/app.h"
#include "cli.h"
#include "manifest/manifest.h"

static const char usage_text[] = "usage: qyv validate FILE.qyv...\n";

int cmd_validate_manifest(int argc, char **argv)
{
    int status;
    int first = cli_files_only("validate", usage_text, "manifests", argc, argv, &status);
    if (first < 0) return status;
    status = QYV_EXIT_OK;
    for (int i = first; i < argc; i++) {
        qv_manifest_error err;
        qv_manifest *m = qv_manifest_load(argv[i], &err);
        app_error why;
        if (m && app_check_paths(m, &why)) {
            fprintf(stderr, "%s\n", why.text);
            status = QYV_EXIT_FAILURE;
        } else if (m) {
            for (size_t w = 0; w < m->warning_count; w++) fprintf(stderr, "%s\n", m->warnings[w].message);
            printf("%s: ok\n", argv[i]);
        } else {
            fprintf(stderr, "%s\n", err.message);
            status = QYV_EXIT_FAILURE;
        }
        qv_manifest_free(m);
    }
    return status;
}
