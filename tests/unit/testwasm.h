/*
 * testwasm.h — the test modules of tests/unit/wat/, which the Makefile
 * assembles into ../testwasm next to the test binaries. Include after
 * <cmocka.h>; call testwasm_init(argv[0]) first.
 */
#ifndef QYVOL_TESTWASM_H
#define QYVOL_TESTWASM_H

#include <stdio.h>
#include <string.h>

#include "qyvol/wasm.h"

static char testwasm_dir[4096];

static void testwasm_init(const char *argv0)
{
    snprintf(testwasm_dir, sizeof testwasm_dir, "%s", argv0);
    char *slash = strrchr(testwasm_dir, '/');
    size_t at = slash ? (size_t)(slash + 1 - testwasm_dir) : 0;
    snprintf(testwasm_dir + at, sizeof testwasm_dir - at, "../testwasm");
}

/* Decode, validate and compile NAME.wasm; fails the test if it cannot. */
static qv_module *load(const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s.wasm", testwasm_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    qv_error err;
    qv_module *m = qv_module_new(buf, n, &err);
    if (!m) fail_msg("%s: %s", path, err.message);
    return m;
}

#endif
