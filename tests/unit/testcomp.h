/*
 * testcomp.h — the hand-written components of tests/components/wat/,
 * which the Makefile assembles (jco parse) into ../testcomp next to the
 * test binaries. Include after <cmocka.h>; call testcomp_init(argv[0])
 * first.
 */
#ifndef QYVOL_TESTCOMP_H
#define QYVOL_TESTCOMP_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char testcomp_dir[4096];

static void testcomp_init(const char *argv0)
{
    snprintf(testcomp_dir, sizeof testcomp_dir, "%s", argv0);
    char *slash = strrchr(testcomp_dir, '/');
    size_t at = slash ? (size_t)(slash + 1 - testcomp_dir) : 0;
    snprintf(testcomp_dir + at, sizeof testcomp_dir - at, "../testcomp");
}

/* The bytes of NAME.wasm (malloc'd); fails the test if it cannot. */
static uint8_t *testcomp_read(const char *name, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s.wasm", testcomp_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) fail_msg("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

#endif
