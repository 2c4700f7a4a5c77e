/*
 * suggest.h — "did you mean ...?" for misspelt keys and enum values.
 */
#ifndef QYVOL_MANIFEST_SUGGEST_H
#define QYVOL_MANIFEST_SUGGEST_H

#include <stddef.h>

/* The edit distance between a and b: insertions, deletions, substitutions
 * and swaps of two neighbouring characters ("nmae" is 1 from "name") each
 * count 1. Strings longer than 64 bytes are "far" (SIZE_MAX). */
size_t mf_edit_distance(const char *a, const char *b);

/* The candidate closest to `word`, or NULL if none is close enough to be
 * a likely typo: at most 2 edits, and fewer than half the candidate's
 * length (so "fs" is not suggested for "os" but "env" is for "emv").
 * A candidate equal to word but for case always matches. Ties go to the
 * first candidate. */
const char *mf_suggest(const char *word, const char *const *candidates, size_t count);

#endif
