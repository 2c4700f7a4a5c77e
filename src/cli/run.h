/*
 * run.h — what `qyv run` needs to start a WASI program, whether it came
 * from the command line alone or from an app.qyv manifest.
 */
#ifndef QYVOL_CLI_RUN_H
#define QYVOL_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasi.h"

typedef struct run_config {
    char *module_path;
    char *label;               /* the file named on the command line, for messages */
    char **args;               /* argv for the guest, args[0] its name */
    size_t nargs;
    char **env;                /* "K=V" */
    size_t nenv;
    qv_wasi_preopen *preopens;
    size_t npreopens;
    uint64_t timeout_ms;       /* 0: none */
    uint64_t memory_bytes;     /* 0: the engine's default */
    int64_t fuel;              /* < 0: unlimited */
    char *scratch;             /* a memfs folder to delete afterwards, or NULL */
    char **owned;              /* strings the preopens point to */
    size_t nowned;
} run_config;

/* Append helpers; false when out of memory. */
bool run_add_arg(run_config *rc, const char *arg);
bool run_set_env(run_config *rc, const char *kv);       /* replaces the same key */
bool run_add_preopen(run_config *rc, const char *host, const char *guest, unsigned access,
                     char **hidden, size_t nhidden);     /* takes host, guest, hidden */
char *run_own(run_config *rc, char *s);                  /* keep s until run_config_free */
void run_config_free(run_config *rc);

/* Fill rc from the manifest at `path` (its args come first). Returns 0 or
 * the exit status after printing why. */
int run_from_manifest(run_config *rc, const char *path);

/* Compile, link and run rc's module. Returns the process exit status. */
int run_module(const run_config *rc, bool no_openat2);

/* memfs: a private copy of `source` (may be NULL: empty) in memory-backed
 * storage; the path or NULL with errno set. run_scratch_remove deletes it. */
char *run_scratch_create(const char *source);
void run_scratch_remove(const char *path);

#endif
