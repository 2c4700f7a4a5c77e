/*
 * cmd_validate.c — `qyv validate-wasm FILE...`: decode, validate and
 * compile each module, reporting the first error with its offset.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "qyvol/wasm.h"

int cmd_validate_wasm(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: qyv validate-wasm FILE.wasm...\n");
        return QYV_EXIT_USAGE;
    }
    int status = QYV_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        size_t len;
        uint8_t *bytes = cli_read_file(argv[i], &len);
        if (!bytes) {
            status = QYV_EXIT_FAILURE;
            continue;
        }
        qv_error err;
        qv_module *m = qv_module_new(bytes, len, &err);
        free(bytes);
        if (m) {
            printf("%s: ok\n", argv[i]);
            qv_module_delete(m);
        } else {
            printf("%s: error at offset 0x%zx: %s", argv[i], err.offset, err.message);
            if (err.func_index >= 0) printf(" (func %lld)", (long long)err.func_index);
            printf("\n");
            status = QYV_EXIT_FAILURE;
        }
    }
    return status;
}
