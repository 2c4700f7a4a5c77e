/*
 * cli.h — the `qyv` command line: one function per command, plus the few
 * helpers they share.
 */
#ifndef QYVOL_CLI_H
#define QYVOL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "qyvol/wasm.h"

/* Exit statuses, documented in `qyv --help`. */
enum {
    QYV_EXIT_OK = 0,
    QYV_EXIT_FAILURE = 1,   /* a file could not be read, compiled or instantiated */
    QYV_EXIT_USAGE = 2,     /* bad command line */
    QYV_EXIT_TIMEOUT = 124,  /* qyv run: the program ran out of time */
    QYV_EXIT_CANNOT_RUN = 125, /* qyv run: the program could not be started (APP_CANNOT_START) */
    QYV_EXIT_REFUSED = 126, /* qyv run: a permission the manifest asks for is refused (APP_REFUSED) */
    QYV_EXIT_TRAP = 134,    /* the WebAssembly program trapped */
};

int cmd_invoke(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_master(int argc, char **argv);

int cmd_node(int argc, char **argv);

/* qyv run: compile, link and run a module (run_module.c). */
struct run_config;
int run_module(const struct run_config *rc, bool no_openat2);
int cmd_validate_wasm(int argc, char **argv);
int cmd_validate_manifest(int argc, char **argv);

/* Read a whole file; prints "qyv: cannot read FILE: REASON" and returns
 * NULL on failure. */
uint8_t *cli_read_file(const char *path, size_t *len);

/* Report the option getopt_long rejected (it returned `opt`, '?' or ':'
 * with "+:" leading the option string, leaving optind at `optind_after`)
 * and return QYV_EXIT_USAGE. */
int cli_option_error(const char *command, int opt, char **argv, int optind_after);

/* The arguments of a command that takes only --help and one or more
 * files ("no WHAT given" when none): the index of the first file, or
 * -1 with *status set (0 after --help, QYV_EXIT_USAGE). */
int cli_files_only(const char *command, const char *usage_text, const char *what, int argc, char **argv,
                   int *status);

/* "qyv COMMAND: " and fmt with arg, then "usage: SYNOPSIS  (qyv COMMAND
 * --help for more)" on stderr; returns status. */
int cli_usage_error(const char *command, const char *synopsis, int status, const char *fmt, const char *arg);

/* ADDRESS:PORT (IPv6 as [::1]:8080) into addr and port. */
bool cli_parse_listen(const char *s, char *addr, size_t addrlen, uint16_t *port);

/* Parse a command-line argument as a value of `type` (numbers only). */
bool cli_parse_val(const char *s, qv_valtype type, qv_val *out);

/* One value per line: integers in signed decimal, floats with round-trip
 * %g precision, NaNs with their bits. */
void cli_print_val(FILE *out, const qv_val *v);

/* "trap: MESSAGE" and the backtrace, "  at NAME (func N)" per frame. */
void cli_print_trap(const qv_trap *trap);

#endif
