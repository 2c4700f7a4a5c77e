/*
 * counts.h — pass / fail / skip tallies of spec-test commands, with the
 * reason for every skip so that skipped work stays visible in the summary.
 */
#ifndef QYVOL_SPECTEST_COUNTS_H
#define QYVOL_SPECTEST_COUNTS_H

typedef enum spec_skip_reason {
    SPEC_SKIP_TEXT_MODULE, /* assert_malformed/assert_invalid on a .wat file */
    SPEC_SKIP_SIMD,        /* v128 arguments or results */
    SPEC_SKIP_REASON_COUNT,
} spec_skip_reason;

typedef struct spec_counts {
    unsigned passed, failed, skipped;
    unsigned skipped_by[SPEC_SKIP_REASON_COUNT];
} spec_counts;

/* Why a command of this kind is skipped, as printed in the summary. */
const char *spec_skip_reason_text(spec_skip_reason reason);

void spec_counts_add(spec_counts *total, const spec_counts *more);

/* Commands accounted for so far. */
unsigned spec_counts_done(const spec_counts *c);

#endif
