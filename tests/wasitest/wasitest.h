/*
 * wasitest.h — the WASI test-suite runner (build/wasitest): reads each
 * test's JSON specification (../shared/wasi-testsuite/specification.md),
 * runs the test through `qyv run` on a fresh copy of its directory, and
 * checks the exit status and output the way the suite's own runner does.
 */
#ifndef QYVOL_WASITEST_H
#define QYVOL_WASITEST_H

#include <stdbool.h>
#include <stddef.h>

typedef enum op_kind { OP_RUN, OP_READ, OP_WAIT } op_kind;

typedef struct op {
    op_kind kind;
    int stream;          /* OP_READ: 1 stdout, 2 stderr */
    char *payload;       /* OP_READ: the bytes expected next on the stream */
    size_t payload_len;
    int exit_code;       /* OP_WAIT */
} op;

typedef struct test_spec {
    char **args;
    size_t nargs;
    char **env;          /* "KEY=VALUE", in the JSON's order */
    size_t nenv;
    char *root;          /* directory to pre-open as "/", relative to the test's; or NULL */
    op *ops;
    size_t nops;
    char *skip;          /* why the test cannot run here, or NULL */
} test_spec;

/* Load `dir/name.json` (absent: the defaults). Returns false with a
 * message in err for a malformed specification. */
bool spec_load(const char *dir, const char *name, test_spec *spec, char *err, size_t errlen);
void spec_free(test_spec *spec);

/* Copy the tree at `from` to the new folder `to` (regular files, folders
 * and symbolic links as links), owner-writable; false with errno set. */
bool tree_copy(const char *from, const char *to);
/* Delete `path` and everything below it. */
void tree_remove(const char *path);

typedef struct run_result {
    bool timed_out;
    int exit_status;     /* valid when !signal && !timed_out */
    int signal;          /* killed by this signal, or 0 */
    char *out, *err;     /* everything the test wrote (NUL-terminated) */
    size_t out_len, err_len;
} run_result;

/* Run `qyv run` on module with spec's args and env and, when root_copy is
 * not NULL, root_copy pre-opened as "/". Returns false (message in why)
 * when it could not be started at all. */
bool run_test(const char *qyv, const test_spec *spec, const char *module, const char *root_copy,
              int timeout_s, run_result *res, char *why, size_t whylen);
void run_result_free(run_result *res);

#endif
