/*
 * test.c — one test case from start to finish: load its specification,
 * then execute the operations in order, stopping at the first failure as
 * the Python runner does. Each `run` gets its own fresh copy of its root
 * directory (a temporary directory, deleted after its `wait` or on any
 * failure), and runs to its end; its reads and wait are then checked
 * against what it wrote and how it ended.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasitest.h"

typedef struct state {
    const test_options *opt;
    const char *dir, *module;
    size_t run_no;       /* 1-based number of the current run */
    bool live;           /* res and copy belong to a run not yet cleaned up */
    run_result res;
    read_pos rp;
    char copy[PATH_MAX]; /* "" when the run has no root */
} state;

/* "run 2: " in front of messages, when the test has several runs. */
static char *say(const state *st, const test_spec *spec, const char *msg)
{
    char buf[4096];
    if (spec->nruns > 1) snprintf(buf, sizeof buf, "run %zu: %s", st->run_no, msg);
    else snprintf(buf, sizeof buf, "%s", msg);
    return strdup(buf);
}

static void end_run(state *st)
{
    if (!st->live) return;
    run_result_free(&st->res);
    if (st->copy[0] && !tree_remove(st->copy))
        fprintf(stderr, "wasitest: warning: could not remove %s: %s\n", st->copy, strerror(errno));
    st->copy[0] = 0;
    st->live = false;
}

/* Make the fresh copy (if the run has a root) and run the test to its end.
 * NULL on success, else why not. */
static char *start_run(state *st, const run_cfg *cfg)
{
    char why[PATH_MAX + 256];
    memset(&st->rp, 0, sizeof st->rp);
    st->copy[0] = 0;
    st->live = true;
    if (cfg->root) {
        char src[PATH_MAX];
        const char *tmp = getenv("TMPDIR");
        snprintf(src, sizeof src, cfg->root[0] == '/' ? "%.0s%s" : "%s/%s", st->dir, cfg->root);
        snprintf(st->copy, sizeof st->copy, "%s/wasitest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(st->copy)) {
            snprintf(why, sizeof why, "cannot make a temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
                     strerror(errno));
            st->copy[0] = 0;
            return strdup(why);
        }
        if (!tree_copy(src, st->copy)) {
            snprintf(why, sizeof why, "cannot copy the root directory %s: %s", src, strerror(errno));
            return strdup(why);
        }
    }
    if (!run_child(st->opt->qyv, cfg, st->module, cfg->root ? st->copy : NULL, st->opt->timeout_s, &st->res, why,
                   sizeof why)) {
        /* res is empty: nothing to free, but the copy is there */
        return strdup(why);
    }
    return NULL;
}

verdict test_run(const test_options *opt, const char *dir, const char *name, char **detail)
{
    char err[PATH_MAX + 1024], module[PATH_MAX];
    test_spec spec;
    *detail = NULL;
    if (!spec_load(dir, name, &spec, err, sizeof err)) {
        char msg[sizeof err + 32];
        snprintf(msg, sizeof msg, "invalid specification: %s", err);
        *detail = strdup(msg);
        return FAIL;
    }
    if (spec.skip) {
        *detail = spec.skip;
        spec.skip = NULL;
        spec_free(&spec);
        return SKIP;
    }
    snprintf(module, sizeof module, "%s/%s.wasm", dir, name);
    state st = {.opt = opt, .dir = dir, .module = module};
    verdict v = PASS;
    for (size_t i = 0; i < spec.nops && v == PASS; i++) {
        const op *o = &spec.ops[i];
        char *msg = NULL;
        switch (o->kind) {
        case OP_RUN:
            st.run_no++;
            msg = start_run(&st, &o->run);
            if (!msg && st.res.timed_out) {
                snprintf(err, sizeof err, "timed out after %d s", opt->timeout_s);
                msg = strdup(err);
            }
            break;
        case OP_READ: msg = check_read(o, &st.res, &st.rp); break;
        case OP_WAIT:
            msg = check_wait(o, &st.res, &st.rp, opt->prefix_reads);
            end_run(&st);
            break;
        }
        if (msg) {
            *detail = say(&st, &spec, msg);
            free(msg);
            v = FAIL;
        }
    }
    end_run(&st);
    /* Killed because the whole run is being stopped: no verdict. */
    if (stop_signal()) {
        free(*detail);
        *detail = NULL;
        v = NOT_RUN;
    }
    spec_free(&spec);
    return v;
}
