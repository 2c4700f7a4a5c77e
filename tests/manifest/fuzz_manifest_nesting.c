/*
 * fuzz_manifest_nesting.c — libFuzzer harness for the manifest parser's
 * nesting (issue 10: 100,000 nested '[' took 48 s). The input is a recipe,
 * not the manifest: each byte picks a piece of YAML structure (flow and
 * block lists and maps, keys, anchors, aliases, scalars, line breaks,
 * indentation) and how many times to repeat it, so that a few bytes make
 * manifests up to the 1 MiB limit whose depth and shape the fuzzer
 * explores. Every one must be parsed — accepted or refused with a
 * FILE:LINE:COLUMN message — in time linear in its size: libFuzzer's
 * -timeout catches a quadratic case, and a parse slower than a generous
 * bound per byte aborts. Built like fuzz_manifest.c (`make fuzz`).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "manifest/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pieces[] = {
    "[", "]", "{", "}", ", ", "a", "k: ", "- ", "\n", "  ", "&x ", "*x", "\"q\"", "? ", "[[", "]]", "{a: ", "-\n",
};
#define NPIECES (sizeof pieces / sizeof *pieces)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char text[QV_MANIFEST_MAX_FILE_BYTES];
    size_t len = (size_t)snprintf(text, sizeof text, "name: a\nentrypoint: a.wasm\nargs: ");
    for (size_t i = 0; i < size; i++) {
        const char *piece = pieces[(data[i] & 0x1F) % NPIECES];
        size_t n = strlen(piece);
        /* The top three bits: repeat 1, 2, 4, ... up to 65536 times. */
        size_t repeat = (size_t)1 << ((data[i] >> 5) * 16 / 7);
        for (size_t r = 0; r < repeat && len + n < sizeof text; r++) memcpy(text + len, piece, n), len += n;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qv_manifest_error err;
    qv_manifest *m = qv_manifest_parse(text, len, "fuzz/app.qyv", &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (m) {
        qv_manifest_free(m);
    } else if (strncmp(err.message, "fuzz/app.qyv:", 13) != 0 || strlen(err.message) < 20) {
        abort();
    }
    /* Linear time, generously: 2 s per MiB even under the sanitizers
     * (a quadratic parse of a deep megabyte takes minutes). */
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (took > 0.2 + 2.0 * (double)len / (1 << 20)) {
        fprintf(stderr, "parsing %zu bytes took %.2f s\n", len, took);
        abort();
    }
    return 0;
}
