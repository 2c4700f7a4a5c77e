/*
 * run_file.h — running every command of one spec-test script in this
 * process, in a fresh store.
 */
#ifndef QYVOL_SPECTEST_RUN_FILE_H
#define QYVOL_SPECTEST_RUN_FILE_H

#include <stdbool.h>

#include "counts.h"
#include "script.h"

/* Called before each command with the counts so far (`next` is the
 * command about to run) and once at the end with next == NULL, so that a
 * watcher in another process knows how far a script got if it dies. */
typedef void (*spec_progress_fn)(void *ctx, const spec_counts *so_far, const spec_command *next);

/* A script that cannot be loaded or set up counts as one failure. */
spec_counts spec_run_file(const char *path, bool verbose, spec_progress_fn progress, void *ctx);

#endif
