/*
 * isolate.h — running one spec-test script in a child process, so that an
 * engine crash or hang costs only that script's remaining commands and the
 * other scripts still run.
 */
#ifndef QYVOL_SPECTEST_ISOLATE_H
#define QYVOL_SPECTEST_ISOLATE_H

#include <stdbool.h>

#include "counts.h"

/* Like spec_run_file, in a child. If the child dies (signal, non-zero exit)
 * or runs longer than timeout_seconds (0: no limit), that is reported and
 * the commands it did not finish count as failed (at least one). */
spec_counts spec_run_file_isolated(const char *path, bool verbose, unsigned timeout_seconds);

#endif
