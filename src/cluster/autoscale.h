/*
 * autoscale.h — how many replicas an autoscaled app should have: the
 * Kubernetes HPA rule as a pure function of what was measured. It reads no
 * clock and calls nothing; the master feeds it the CPU use and the
 * requests in flight it computed from the nodes' heartbeats, and applies
 * the answer.
 *
 * The rule, per signal: desired = ceil(current × observed / target). A
 * ratio observed / target within 10% of 1 changes nothing (the
 * tolerance). With two signals (CPU and requests in flight per replica)
 * the larger answer wins, as the HPA does with several metrics; the result
 * is kept within [min, max]. Scaling up happens at once; scaling down
 * waits out a stabilisation window: the answer is the highest
 * recommendation made during the window, so one quiet moment does not
 * drop replicas that the next burst needs.
 */
#ifndef QYVOL_CLUSTER_AUTOSCALE_H
#define QYVOL_CLUSTER_AUTOSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTOSCALE_TOLERANCE 0.10
#define AUTOSCALE_MAX_REPLICAS 10000
#define AUTOSCALE_MAX_INFLIGHT 100000
#define AUTOSCALE_MAX_WINDOW_MS (24ull * 3600 * 1000)
#define AUTOSCALE_HISTORY 128

typedef struct autoscale_spec {
    uint32_t min, max;         /* replicas; max 0: autoscaling is off */
    uint32_t cpu_threshold;    /* target CPU utilisation, percent (1..100); 0: not a signal */
    uint32_t target_inflight;  /* target requests in flight per replica; 0: not a signal */
    int64_t window_ms;         /* scale-down stabilisation window; < 0: the master's default */
} autoscale_spec;

/* An empty spec (autoscaling off; the master's window when turned on). */
#define AUTOSCALE_OFF ((autoscale_spec){.window_ms = -1})

/* What was measured; a value < 0 was not (yet). */
typedef struct autoscale_observed {
    double cpu_percent;        /* CPU used, percent of what the replicas ask for */
    double inflight;           /* requests in flight (running or queued) per replica, on average */
} autoscale_observed;

typedef enum autoscale_signal { AUTOSCALE_NO_SIGNAL, AUTOSCALE_CPU, AUTOSCALE_INFLIGHT } autoscale_signal;

/* A decision and why, for `qyv cluster status`. */
typedef struct autoscale_decision {
    uint32_t current;          /* replicas before */
    uint32_t recommended;      /* the rule's answer now (within bounds) */
    uint32_t replicas;         /* what to set: recommended, or held by the window */
    autoscale_signal signal;   /* the signal whose answer won; none: nothing measured */
    double observed, target;   /* that signal's value and target */
    bool tolerated;            /* its ratio was within the tolerance */
    bool held;                 /* a scale-down held back by the window */
} autoscale_decision;

/* The recommendations made within the window, as a list of decreasing
 * values in time order: a recommendation followed by a higher one can
 * never again be the highest, so it is dropped. Zeroed: empty. */
typedef struct autoscale_history {
    uint64_t at_ms[AUTOSCALE_HISTORY];
    uint32_t replicas[AUTOSCALE_HISTORY];
    size_t n;
} autoscale_history;

/* Whether spec is usable; otherwise a message naming the problem. */
const char *autoscale_spec_problem(const autoscale_spec *spec);

/* The HPA rule alone, for current replicas and what was observed; d (may
 * be NULL) says why. Nothing measured: current, kept within bounds. */
uint32_t autoscale_recommend(const autoscale_spec *spec, uint32_t current, autoscale_observed seen,
                             autoscale_decision *d);

/* Start an empty history with the current count at now_ms, as the HPA
 * does: a scale-down then waits a whole window after autoscaling starts
 * (or the master restarts), instead of acting on the first quiet sample. */
void autoscale_start(autoscale_history *h, uint64_t now_ms, uint32_t current);

/* The rule with the stabilisation window (window_ms long) at now_ms: the
 * recommendation is recorded in h (started first when empty) and the
 * replicas to set returned (and in d, with why, when d is not NULL). */
uint32_t autoscale_decide(autoscale_history *h, const autoscale_spec *spec, uint64_t now_ms, uint64_t window_ms,
                          uint32_t current, autoscale_observed seen, autoscale_decision *d);

/* The decision in words: "2 -> 4: 3.2 requests in flight per replica,
 * target 1" or "4 kept: scale-down held by the window (...)". */
void autoscale_explain(const autoscale_decision *d, uint64_t window_ms, char *out, size_t outlen);

#endif
