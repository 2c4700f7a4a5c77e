/*
 * read_file.c — whole-file reads with the error message the CLI prints
 * (regular files only, never blocking on a FIFO: manifest/read_file.h).
 */
#include <fcntl.h>
#include <stdio.h>

#include "cli.h"
#include "manifest/read_file.h"

uint8_t *cli_read_file(const char *path, size_t *len)
{
    char why[160];
    uint8_t *buf = qv_read_file(AT_FDCWD, path, QV_MAX_MODULE_BYTES, len, why, sizeof why);
    if (!buf) fprintf(stderr, "qyv: cannot read %s: %s\n", path, why);
    return buf;
}
