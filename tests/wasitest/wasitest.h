/*
 * wasitest.h — the WASI test-suite runner (build/wasitest). It reads each
 * test's JSON specification (../shared/wasi-testsuite/specification.md),
 * runs the test through `qyv run` on a fresh copy of its directory and
 * checks the exit status and output. One header for the runner's parts:
 *
 *   spec.c   a test's JSON file -> validated operations, or a skip reason
 *   suite.c  a test directory's manifest.json -> can its tests run here?
 *   tree.c   fresh writable copies of a test's root directory; removal
 *   run.c    one `qyv run` child: output into files, timeout, kill
 *   stop.c   SIGINT/SIGTERM/SIGHUP: kill the running children, stop cleanly
 *   check.c  a finished run against a `read` or `wait` expectation
 *   test.c   one test case from start to finish
 *   main.c   command line, parallel scheduling, report
 */
#ifndef QYVOL_WASITEST_H
#define QYVOL_WASITEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- spec.c ------------------------------------------------------------ */

typedef enum op_kind { OP_RUN, OP_READ, OP_WAIT } op_kind;

/* What a `run` operation (or a legacy specification) asks for. */
typedef struct run_cfg {
    char **args;         /* passed after `--`, in order */
    size_t nargs;
    char **env;          /* "KEY=VALUE", in the JSON's order */
    size_t nenv;
    char *root;          /* directory to pre-open as "/", relative to the test's; NULL: none */
} run_cfg;

typedef struct op {
    op_kind kind;
    run_cfg run;         /* OP_RUN */
    int stream;          /* OP_READ: 1 stdout, 2 stderr */
    char *payload;       /* OP_READ: the bytes expected next on the stream */
    size_t payload_len;
    int exit_code;       /* OP_WAIT */
} op;

typedef struct test_spec {
    op *ops;             /* run, read and wait only: anything else is a skip */
    size_t nops;
    size_t nruns;
    char *skip;          /* why this runner cannot run the test, or NULL */
} test_spec;

/* Load `dir/name.json` (absent: the defaults, run then wait for 0). False,
 * with the reason in err, when the specification is malformed or breaks
 * the specification's validation rules. */
bool spec_load(const char *dir, const char *name, test_spec *spec, char *err, size_t errlen);
void spec_free(test_spec *spec);

/* ---- suite.c ----------------------------------------------------------- */

/* Whether the tests of `dir` can run on a WASI preview 1 host, from its
 * manifest.json or, as the suite's runner does, the directory's name.
 * NULL when they can; else a malloc'd reason, *is_error telling a broken
 * manifest (its tests fail) from another WASI version (they are skipped). */
char *suite_check(const char *dir, bool *is_error);

/* ---- tree.c ------------------------------------------------------------ */

/* Copy the contents of directory `from` into the existing, empty directory
 * `to`: regular files, directories and symbolic links (as links), with
 * their times, all owner-writable, leaving out `*.cleanup` artifacts.
 * False with errno set. */
bool tree_copy(const char *from, const char *to);
/* Delete `path` and everything below it, whatever permissions a test
 * left. False if something could not be removed. */
bool tree_remove(const char *path);

/* ---- run.c ------------------------------------------------------------- */

typedef struct run_result {
    bool timed_out;      /* killed at the deadline */
    int exit_status;     /* valid when !timed_out && !signal */
    int signal;          /* it died of this signal, or 0 */
    char *out, *err;     /* everything it wrote (NUL-terminated) */
    size_t out_len, err_len;
} run_result;

/* Run `qyv run [--dir root_copy::/] [--env K=V]... module -- ARGS...` to
 * its end (or the timeout). False, with why, if it could not be run. */
bool run_child(const char *qyv, const run_cfg *cfg, const char *module, const char *root_copy,
               int timeout_s, run_result *res, char *why, size_t whylen);
void run_result_free(run_result *res);

/* ---- stop.c ------------------------------------------------------------ */

/* Route SIGINT, SIGTERM and SIGHUP to a thread that kills every running
 * child and calls on_stop(arg). Call before starting any other thread. */
void stop_init(void (*on_stop)(void *), void *arg);
/* The signal that stopped the run, or 0. */
int stop_signal(void);
/* Track a started child (leader of its own process group) until just
 * before it is reaped; one tracked after the stop is killed at once. */
void stop_track(pid_t pid);
void stop_untrack(pid_t pid);

/* ---- check.c ----------------------------------------------------------- */

/* How far each stream's reads have got since the last `run`. */
typedef struct read_pos {
    size_t pos[3];       /* [1] stdout, [2] stderr */
    bool checked[3];     /* the stream had at least one read */
} read_pos;

/* NULL when the read matches, else a malloc'd description. */
char *check_read(const op *read, const run_result *res, read_pos *rp);
/* NULL when the wait matches: the exit status and, unless prefix_reads,
 * nothing on a read stream beyond what its reads expected. */
char *check_wait(const op *wait, const run_result *res, const read_pos *rp, bool prefix_reads);

/* ---- test.c ------------------------------------------------------------ */

typedef enum verdict { PASS, FAIL, SKIP, NOT_RUN } verdict;

typedef struct test_options {
    const char *qyv;
    int timeout_s;
    bool prefix_reads;   /* a read checks only the next bytes, like the Python runner's */
} test_options;

/* Run the test NAME.wasm of `dir`; *detail gets why it failed or was
 * skipped (malloc'd) or NULL. NOT_RUN: the run was stopped by a signal. */
verdict test_run(const test_options *opt, const char *dir, const char *name, char **detail);

#endif
