/*
 * autoscale.c — the HPA rule and its scale-down stabilisation window
 * (autoscale.h).
 */
#include "cluster/autoscale.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *autoscale_spec_problem(const autoscale_spec *spec)
{
    if (spec->min < 1 || spec->max < 1) return "min and max must be at least 1";
    if (spec->max > AUTOSCALE_MAX_REPLICAS || spec->min > AUTOSCALE_MAX_REPLICAS)
        return "min and max must be at most 10000";
    if (spec->min > spec->max) return "min must not be more than max";
    if (spec->cpu_threshold > 100) return "cpu_threshold must be a percentage from 1 to 100";
    if (spec->target_inflight > AUTOSCALE_MAX_INFLIGHT) return "target_inflight must be from 1 to 100000";
    if (!spec->cpu_threshold && !spec->target_inflight)
        return "give a target: cpu_threshold (percent) or target_inflight (requests per replica), or both";
    if (spec->window_ms > (int64_t)AUTOSCALE_MAX_WINDOW_MS) return "the scale-down window must be at most 24h";
    return NULL;
}

static uint32_t within(const autoscale_spec *spec, double replicas)
{
    if (replicas < spec->min) return spec->min;
    if (replicas > spec->max) return spec->max;
    return (uint32_t)replicas;
}

/* One signal's answer (unbounded); *tolerated when within the tolerance. */
static double by_signal(uint32_t current, double observed, double target, bool *tolerated)
{
    double ratio = observed / target;
    *tolerated = fabs(ratio - 1) <= AUTOSCALE_TOLERANCE + 1e-9; /* 2.2 / 2 is 1.1000000000000001 */
    if (*tolerated) return current;
    /* The small margin keeps 3 × 0.8 / 0.8 from rounding up to 4. */
    return ceil(current * ratio - 1e-9);
}

uint32_t autoscale_recommend(const autoscale_spec *spec, uint32_t current, autoscale_observed seen,
                             autoscale_decision *d)
{
    autoscale_decision own;
    if (!d) d = &own;
    memset(d, 0, sizeof *d);
    d->current = current;
    const struct { autoscale_signal signal; double observed, target; } signals[] = {
        {AUTOSCALE_CPU, seen.cpu_percent, spec->cpu_threshold},
        {AUTOSCALE_INFLIGHT, seen.inflight, spec->target_inflight},
    };
    double best = -1;
    for (size_t i = 0; current && i < sizeof signals / sizeof *signals; i++) {
        if (signals[i].target <= 0 || signals[i].observed < 0) continue;
        bool tolerated;
        double want = by_signal(current, signals[i].observed, signals[i].target, &tolerated);
        if (want <= best) continue;
        best = want;
        d->signal = signals[i].signal;
        d->observed = signals[i].observed;
        d->target = signals[i].target;
        d->tolerated = tolerated;
    }
    d->recommended = d->replicas = within(spec, best < 0 ? current : best);
    return d->recommended;
}

void autoscale_start(autoscale_history *h, uint64_t now_ms, uint32_t current)
{
    if (h->n) return;
    h->at_ms[0] = now_ms;
    h->replicas[0] = current;
    h->n = 1;
}

uint32_t autoscale_decide(autoscale_history *h, const autoscale_spec *spec, uint64_t now_ms, uint64_t window_ms,
                          uint32_t current, autoscale_observed seen, autoscale_decision *d)
{
    autoscale_decision own;
    if (!d) d = &own;
    uint32_t recommended = autoscale_recommend(spec, current, seen, d);
    autoscale_start(h, now_ms, current);
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
    if (recommended >= current) return d->replicas = recommended; /* up (or stay) at once */
    uint32_t highest = h->replicas[0];                             /* the window's highest */
    d->replicas = highest < current ? highest : current;
    d->held = d->replicas > recommended;
    return d->replicas;
}

/* "90s" rather than "90000ms". */
static void duration(uint64_t ms, char *out, size_t outlen)
{
    if (ms % 60000 == 0 && ms) snprintf(out, outlen, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0) snprintf(out, outlen, "%llus", (unsigned long long)(ms / 1000));
    else snprintf(out, outlen, "%llums", (unsigned long long)ms);
}

void autoscale_explain(const autoscale_decision *d, uint64_t window_ms, char *out, size_t outlen)
{
    char what[160] = "nothing measured yet";
    if (d->signal == AUTOSCALE_CPU)
        snprintf(what, sizeof what, "CPU at %.0f%% of what the replicas ask for, target %.0f%%", d->observed,
                 d->target);
    else if (d->signal == AUTOSCALE_INFLIGHT)
        snprintf(what, sizeof what, "%.2f requests in flight per replica, target %.0f", d->observed, d->target);
    const char *note = d->signal && d->tolerated ? " (within the 10% tolerance)" : "";
    char window[32];
    duration(window_ms, window, sizeof window);
    if (d->held)
        snprintf(out, outlen, "%u kept: %s%s asks for %u, but scaling down waits for the %s window", d->replicas,
                 what, note, d->recommended, window);
    else if (d->replicas == d->current)
        snprintf(out, outlen, "%u kept: %s%s", d->replicas, what, note);
    else
        snprintf(out, outlen, "%u -> %u: %s%s%s", d->current, d->replicas, what, note,
                 d->replicas == d->recommended && d->signal == AUTOSCALE_NO_SIGNAL ? ", kept within min and max" : "");
}
