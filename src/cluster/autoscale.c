/*
 * autoscale.c — the HPA rule and its scale-down stabilisation window
 * (autoscale.h).
 */
#include "cluster/autoscale.h"

#include <math.h>
#include <string.h>

const char *autoscale_spec_problem(const autoscale_spec *spec)
{
    if (spec->min < 1 || spec->max < 1) return "min and max must be at least 1";
    if (spec->max > AUTOSCALE_MAX_REPLICAS || spec->min > AUTOSCALE_MAX_REPLICAS)
        return "min and max must be at most 10000";
    if (spec->min > spec->max) return "min must not be more than max";
    if (spec->cpu_threshold < 1 || spec->cpu_threshold > 100) return "cpu_threshold must be a percentage from 1 to 100";
    return NULL;
}

static uint32_t within(const autoscale_spec *spec, double replicas)
{
    if (replicas < spec->min) return spec->min;
    if (replicas > spec->max) return spec->max;
    return (uint32_t)replicas;
}

uint32_t autoscale_recommend(const autoscale_spec *spec, uint32_t current, double utilisation)
{
    double ratio = utilisation / spec->cpu_threshold;
    if (current == 0 || fabs(ratio - 1) <= AUTOSCALE_TOLERANCE) return within(spec, current);
    /* The small margin keeps 3 × 0.8 / 0.8 from rounding up to 4. */
    return within(spec, ceil(current * ratio - 1e-9));
}

uint32_t autoscale_decide(autoscale_history *h, const autoscale_spec *spec, uint64_t now_ms, uint64_t window_ms,
                          uint32_t current, double utilisation)
{
    uint32_t recommended = autoscale_recommend(spec, current, utilisation);
    /* Forget what left the window, and what this recommendation outranks. */
    size_t first = 0;
    while (first < h->n && now_ms - h->at_ms[first] > window_ms) first++;
    memmove(h->at_ms, h->at_ms + first, (h->n - first) * sizeof *h->at_ms);
    memmove(h->replicas, h->replicas + first, (h->n - first) * sizeof *h->replicas);
    h->n -= first;
    while (h->n && h->replicas[h->n - 1] <= recommended) h->n--;
    if (h->n == AUTOSCALE_HISTORY) { /* full of ever lower values: drop the oldest */
        memmove(h->at_ms, h->at_ms + 1, (h->n - 1) * sizeof *h->at_ms);
        memmove(h->replicas, h->replicas + 1, (h->n - 1) * sizeof *h->replicas);
        h->n--;
    }
    h->at_ms[h->n] = now_ms;
    h->replicas[h->n++] = recommended;
    if (recommended >= current) return recommended; /* up (or stay) at once */
    uint32_t highest = h->replicas[0];              /* the window's highest */
    return highest < current ? highest : current;
}
