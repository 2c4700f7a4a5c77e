/*
 * fuzz_manifest.c — libFuzzer harness for the manifest parser: any bytes
 * must give either a manifest or an error message with a position, never a
 * crash, a leak or undefined behaviour. Built with clang's
 * -fsanitize=fuzzer,address,undefined together with the sources of
 * src/manifest (`make fuzz`; scripts/test.sh runs it) and seeded with a
 * copy of tests/manifest/fixtures (libFuzzer writes new inputs into its
 * first corpus folder).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_parse((const char *)data, size, "fuzz/app.qyv", &err);
    if (m) {
        /* A manifest that parsed holds what the header promises. */
        if (!m->name || !m->entrypoint || !m->entrypoint_path) abort();
        if ((m->type == QV_APP_HTTP) != (m->route != NULL)) abort();
        if (m->deploy.replicas < 1 || m->timeout_ms == 0) abort();
        qv_manifest_free(m);
    } else {
        /* Every error names the file, and a message follows. */
        if (strncmp(err.message, "fuzz/app.qyv:", 13) != 0 || strlen(err.message) < 20) abort();
    }
    return 0;
}
