/*
 * autoscale.h — how many replicas an autoscaled app should have: the
 * Kubernetes HPA rule as a pure function of what was measured. It reads no
 * clock and calls nothing; the master feeds it the CPU use it computed
 * from the nodes' heartbeats and applies the answer.
 *
 * The rule: desired = ceil(current × utilisation / target), kept within
 * [min, max]. A ratio utilisation / target within 10% of 1 changes
 * nothing (the tolerance). Scaling up happens at once; scaling down waits
 * out a stabilisation window: the answer is the highest recommendation
 * made during the window, so one quiet moment does not drop replicas that
 * the next burst needs.
 */
#ifndef QYVOL_CLUSTER_AUTOSCALE_H
#define QYVOL_CLUSTER_AUTOSCALE_H

#include <stddef.h>
#include <stdint.h>

#define AUTOSCALE_TOLERANCE 0.10
#define AUTOSCALE_MAX_REPLICAS 10000
#define AUTOSCALE_HISTORY 128

typedef struct autoscale_spec {
    uint32_t min, max;         /* replicas; max 0: autoscaling is off */
    uint32_t cpu_threshold;    /* target CPU utilisation, percent (1..100) */
} autoscale_spec;

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

/* The HPA rule alone, for current replicas at utilisation percent. */
uint32_t autoscale_recommend(const autoscale_spec *spec, uint32_t current, double utilisation);

/* The rule with the stabilisation window (window_ms long) at now_ms: the
 * recommendation is recorded in h and the replicas to set returned. */
uint32_t autoscale_decide(autoscale_history *h, const autoscale_spec *spec, uint64_t now_ms, uint64_t window_ms,
                          uint32_t current, double utilisation);

#endif
