/*
 * suggest.c — edit distance (optimal string alignment) and the closest
 * candidate to a misspelt word.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "suggest.h"

/* Keys and enum values are short; a longer word is not a typo of one. */
#define MAX_WORD 64

size_t mf_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > MAX_WORD || m > MAX_WORD) return SIZE_MAX;
    /* Three rows of the dynamic-programming table, row i kept at i % 3:
     * the swap rule looks two rows back. */
    size_t rows[3][MAX_WORD + 1];
    for (size_t j = 0; j <= m; j++) rows[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t *cur = rows[i % 3];
        const size_t *prev = rows[(i + 2) % 3];
        const size_t *two_back = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j] + 1;                                  /* delete */
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;           /* insert */
            if (prev[j - 1] + cost < best) best = prev[j - 1] + cost;   /* substitute */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                two_back[j - 2] + 1 < best)
                best = two_back[j - 2] + 1;                             /* swap */
            cur[j] = best;
        }
    }
    return rows[n % 3][m];
}

const char *mf_suggest(const char *word, const char *const *candidates, size_t count)
{
    /* "HTTP" for "http": a difference of case only is the likeliest slip,
     * however many letters it touches. */
    for (size_t i = 0; i < count; i++)
        if (strcasecmp(word, candidates[i]) == 0) return candidates[i];
    const char *best = NULL;
    size_t best_distance = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        size_t d = mf_edit_distance(word, candidates[i]);
        if (d <= 2 && 2 * d < strlen(candidates[i]) && d < best_distance) {
            best = candidates[i];
            best_distance = d;
        }
    }
    return best;
}
