/*
 * cmd_validate.c — `qyv validate-wasm FILE...`: decode, validate and
 * compile each module or component, reporting the first error with its
 * offset.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "qyvol/component.h"

static const char usage_text[] = "usage: qyv validate-wasm FILE.wasm...  (core modules or components)\n";

int cmd_validate_wasm(int argc, char **argv)
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
        cli_option_error("validate-wasm", opt, argv, optind);
        fputs(usage_text, stderr);
        return QYV_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "qyv validate-wasm: no files given\n");
        fputs(usage_text, stderr);
        return QYV_EXIT_USAGE;
    }
    int status = QYV_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        size_t len;
        uint8_t *bytes = cli_read_file(argv[i], &len);
        if (!bytes) {
            status = QYV_EXIT_FAILURE;
            continue;
        }
        qv_error err;
        bool component = qv_is_component(bytes, len);
        qv_component *c = component ? qv_component_new(bytes, len, &err) : NULL;
        qv_module *m = component ? NULL : qv_module_new(bytes, len, &err);
        free(bytes);
        if (m || c) {
            printf("%s: ok%s\n", argv[i], c ? " (component)" : "");
            qv_module_delete(m);
            qv_component_delete(c);
        } else {
            printf("%s: error at offset 0x%zx: %s", argv[i], err.offset, err.message);
            if (err.func_index >= 0) printf(" (func %lld)", (long long)err.func_index);
            printf("\n");
            status = QYV_EXIT_FAILURE;
        }
    }
    return status;
}
