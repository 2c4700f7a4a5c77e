/*
 * rollout_plan.h — how a release of a running app moves from its stable
 * revision to a new one: the policy (strategy and its numbers, as the
 * manifest's deploy.strategy and the deploy's flags give them), and one
 * step of the state machine as a pure function of what was observed.
 * It reads no clock and calls nothing; the master (master/rollout.c)
 * feeds it the replicas ready and the answers counted from the nodes'
 * heartbeats, applies and stores what it returns.
 *
 * Strategies:
 * - rolling: new replicas are added and old ones removed so that at most
 *   target + max_surge run and at least target - max_unavailable are
 *   ready (counts, or percentages of target: surge rounded up,
 *   unavailable down; both 0 means a surge of 1). Traffic follows the
 *   ready replicas of each revision.
 * - blue_green: the whole new set starts beside the old one; once every
 *   new replica is ready, traffic switches at once (or at `promote` when
 *   manual); the old set is kept keep_ms so that going back is instant.
 * - canary: traffic moves to the new revision by weight in steps (10,
 *   50, 100 by default), with as many new replicas as the weight's share
 *   of target; each step waits for its replicas and then pause_ms (or a
 *   `promote` when manual) before the next.
 * Throughout, the new revision's answers are compared with the stable's:
 * more than max_error_rate percent of 5xx (and that much over the
 * stable's rate), or a mean latency max_latency_ms over the stable's,
 * once min_requests were answered, fail the rollout; so do new replicas
 * failing their health checks (every one on a node `retries` times in a
 * row, and none ready anywhere: a slow node alone is not a bad release),
 * and a progress deadline passed without a new replica becoming ready or
 * a step done.
 */
#ifndef QYVOL_CLUSTER_ROLLOUT_PLAN_H
#define QYVOL_CLUSTER_ROLLOUT_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROLLOUT_MAX_STEPS 10

typedef enum rollout_strategy { ROLLOUT_ROLLING, ROLLOUT_BLUE_GREEN, ROLLOUT_CANARY } rollout_strategy;

typedef struct rollout_policy {
    rollout_strategy strategy;
    uint32_t max_surge, max_unavailable; /* counts, or percents of the target */
    bool surge_percent, unavailable_percent;
    uint32_t steps[ROLLOUT_MAX_STEPS];   /* canary: percent of traffic, rising, the last 100 */
    size_t nsteps;
    uint64_t pause_ms;                   /* canary: after each step's replicas are ready */
    bool manual;                         /* canary, blue_green: wait for promote */
    uint64_t keep_ms;                    /* blue_green: the old set kept after the switch */
    uint64_t progress_deadline_ms;
    bool rollback_on_failure;
    double max_error_rate;               /* percent of 5xx */
    uint64_t max_latency_ms;             /* over the stable's mean; 0: not compared */
    uint32_t min_requests;               /* answers before the comparison counts */
} rollout_policy;

/* Rolling, 25% surge, 0 unavailable; canary steps 10, 50, 100 with 30 s
 * pauses; blue-green keeps the old set 5 minutes; 600 s progress
 * deadline; 5% errors; no latency bound; 20 requests; no rollback. */
void rollout_policy_default(rollout_policy *p);
/* Set the fields j names (the API's "rollout" object, docs/api.md) over
 * p; false with why naming the field. */
bool rollout_policy_apply_json(rollout_policy *p, const json_t *j, char *why, size_t whylen);
json_t *rollout_policy_to_json(const rollout_policy *p);
const char *rollout_strategy_name(rollout_strategy s);
bool rollout_strategy_parse(const char *name, rollout_strategy *out);

/* Answers counted for one revision. */
typedef struct rollout_counts {
    uint64_t answered, failed;           /* failed: 5xx */
    double seconds;                      /* summed */
} rollout_counts;

typedef enum rollout_state {
    ROLLOUT_PROGRESSING,
    ROLLOUT_PAUSED,
    ROLLOUT_SUCCEEDED,
    ROLLOUT_ROLLED_BACK,
    ROLLOUT_ABORTED,
    ROLLOUT_FAILED,                      /* stopped where it was (no rollback asked) */
} rollout_state;
const char *rollout_state_name(rollout_state s);
bool rollout_state_parse(const char *name, rollout_state *out);
/* Whether the rollout still moves (progressing or paused). */
bool rollout_state_active(rollout_state s);

/* Where a rollout is: what the master keeps (and stores) between steps. */
typedef struct rollout_progress {
    rollout_state state;
    uint32_t target;                     /* new replicas at the end */
    uint32_t old_target;                 /* old replicas at the start */
    uint32_t new_wanted, old_wanted;     /* asked of the scheduler now */
    uint32_t step;                       /* canary: index into steps */
    uint32_t weight;                     /* percent of traffic to the new revision */
    bool step_ready;                     /* canary: this step's replicas are ready */
    bool switched;                       /* blue_green: traffic is on the new set */
    uint64_t started_ms, step_ms, progress_ms, switched_ms;
    uint32_t best_ready;                 /* most new replicas seen ready */
} rollout_progress;

/* What the master saw since the step began. */
typedef struct rollout_observed {
    uint32_t new_ready, old_ready;
    uint32_t new_unhealthy;              /* nodes where every new replica fails its health checks:
                                          * the rollout fails when no new replica anywhere is ready */
    rollout_counts new_counts, old_counts;
    uint64_t now_ms;
    bool promote;                        /* asked for the next step now */
} rollout_observed;

typedef enum rollout_verdict {
    ROLLOUT_WAIT,                        /* nothing changed */
    ROLLOUT_CHANGED,                     /* progress changed: store it */
    ROLLOUT_DONE,                        /* the new revision has all the traffic, old set ending */
    ROLLOUT_FAIL,                        /* why says what failed */
} rollout_verdict;

/* The progress at the start: target new replicas, old_target old ones. */
void rollout_start(const rollout_policy *p, rollout_progress *g, uint32_t target, uint32_t old_target,
                   uint64_t now_ms);

/* One step: from g and o, the next g. Only progressing rollouts move. */
rollout_verdict rollout_step(const rollout_policy *p, rollout_progress *g, const rollout_observed *o, char *why,
                             size_t whylen);

/* The traffic split while both revisions serve: weights of the new and
 * the old revision (their ratio is what counts). */
void rollout_split(const rollout_policy *p, const rollout_progress *g, uint32_t new_ready, uint32_t old_ready,
                   uint32_t *new_weight, uint32_t *old_weight);

/* Whether the new revision's answers fail the comparison with the
 * stable's; why says how. */
bool rollout_analysis_fails(const rollout_policy *p, const rollout_counts *fresh, const rollout_counts *stable,
                            char *why, size_t whylen);

#endif
