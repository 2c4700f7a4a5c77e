/*
 * counts.c — pass / fail / skip tallies (see counts.h).
 */
#include "counts.h"

const char *spec_skip_reason_text(spec_skip_reason reason)
{
    switch (reason) {
    case SPEC_SKIP_TEXT_MODULE: return "text-format module (the text format is not ours to parse)";
    case SPEC_SKIP_SIMD: return "SIMD not supported yet";
    case SPEC_SKIP_REASON_COUNT: break;
    }
    return "unknown reason";
}

void spec_counts_add(spec_counts *total, const spec_counts *more)
{
    total->passed += more->passed;
    total->failed += more->failed;
    total->skipped += more->skipped;
    for (int r = 0; r < SPEC_SKIP_REASON_COUNT; r++) total->skipped_by[r] += more->skipped_by[r];
}

unsigned spec_counts_done(const spec_counts *c) { return c->passed + c->failed + c->skipped; }
