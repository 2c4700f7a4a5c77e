/*
 * cmd_validate.c — `qyv validate-wasm FILE...`: decode, validate and
 * compile each module or component, reporting the first error with its
 * offset.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "qyvol/component.h"

static const char usage_text[] = "usage: qyv validate-wasm FILE.wasm...  (core modules or components)\n";

int cmd_validate_wasm(int argc, char **argv)
{
    int status;
    int first = cli_files_only("validate-wasm", usage_text, "files", argc, argv, &status);
    if (first < 0) return status;
    status = QYV_EXIT_OK;
    for (int i = first; i < argc; i++) {
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
