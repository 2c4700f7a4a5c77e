/*
 * run_file.c — one script in this process (see run_file.h).
 */
#include <stdio.h>

#include "commands.h"
#include "run_file.h"
#include "session.h"

static void report(spec_progress_fn progress, void *ctx, const spec_counts *c, const spec_command *next)
{
    if (progress) progress(ctx, c, next);
}

spec_counts spec_run_file(const char *path, bool verbose, spec_progress_fn progress, void *ctx)
{
    spec_counts failed_to_start = {.failed = 1};
    spec_script script;
    char why[512];
    if (!spec_script_load(&script, path, why, sizeof why)) {
        printf("%s: %s\n", path, why);
        report(progress, ctx, &failed_to_start, NULL);
        return failed_to_start;
    }
    spec_session s;
    if (!spec_session_open(&s, &script, verbose, why, sizeof why)) {
        printf("%s: %s\n", path, why);
        spec_script_free(&script);
        report(progress, ctx, &failed_to_start, NULL);
        return failed_to_start;
    }
    for (size_t i = 0; i < spec_script_size(&script); i++) {
        spec_command cmd = spec_script_command(&script, i);
        report(progress, ctx, &s.counts, &cmd);
        spec_run_command(&s, &cmd);
    }
    spec_counts counts = s.counts;
    spec_session_close(&s);
    spec_script_free(&script);
    report(progress, ctx, &counts, NULL);
    return counts;
}
