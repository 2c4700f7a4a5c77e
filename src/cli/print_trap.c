/*
 * print_trap.c — a trap's message and WebAssembly backtrace on stderr.
 * Deep recursion leaves hundreds of identical frames, so runs of the same
 * frame are folded into one line and the trace is cut after a screenful.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { MAX_PRINTED_FRAMES = 32 };

static void print_frame(qv_frame f)
{
    fprintf(stderr, "  at %s (func %" PRIu32 ")\n", f.func_name ? f.func_name : "<unnamed>",
            f.func_index);
}

/* Traps carry their own copies of the names: compare the text. */
static bool same_name(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_frame(qv_frame a, qv_frame b)
{
    return a.func_index == b.func_index && same_name(a.module_name, b.module_name);
}

void cli_print_trap(const qv_trap *trap)
{
    fprintf(stderr, "trap: %s\n", qv_trap_message(trap));
    size_t n = qv_trap_frame_count(trap), printed = 0, i = 0;
    while (i < n && printed < MAX_PRINTED_FRAMES) {
        qv_frame f = qv_trap_frame(trap, i);
        size_t run = 1;
        while (i + run < n && same_frame(qv_trap_frame(trap, i + run), f)) run++;
        print_frame(f);
        printed++;
        if (run >= 3) {
            fprintf(stderr, "  ... the frame above repeated %zu more times\n", run - 1);
            i += run;
        } else {
            i++;
        }
    }
    if (i < n) fprintf(stderr, "  ... %zu more frames\n", n - i);
}
