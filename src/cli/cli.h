/*
 * cli.h — the `qyv` command line: one function per command.
 */
#ifndef QYVOL_CLI_H
#define QYVOL_CLI_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses, documented in `qyv --help`. */
enum {
    QYV_EXIT_OK = 0,
    QYV_EXIT_FAILURE = 1,   /* a file could not be read, compiled or instantiated */
    QYV_EXIT_USAGE = 2,     /* bad command line */
    QYV_EXIT_TRAP = 134,    /* the WebAssembly program trapped */
};

int cmd_invoke(int argc, char **argv);
int cmd_validate_wasm(int argc, char **argv);

/* Read a whole file; prints "qyv: cannot read FILE: REASON" and returns
 * NULL on failure. */
uint8_t *cli_read_file(const char *path, size_t *len);

#endif
