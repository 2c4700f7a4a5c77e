/*
 * reconcile.h — make the placements match what the apps want on the nodes
 * that are ready: the scheduler's plan (scheduler.h) applied to the state
 * and saved. Run after every change of what is wanted (deploy, scale,
 * remove) or of what is available (a node registers, comes back or goes
 * down).
 */
#ifndef QYVOL_CLUSTER_MASTER_RECONCILE_H
#define QYVOL_CLUSTER_MASTER_RECONCILE_H

#include <stdbool.h>

#include "cluster/master/state.h"

typedef struct reconcile_stats {
    unsigned placed, removed, apps_changed;
    double seconds;            /* the scheduler's time */
} reconcile_stats;

/* Plan every app and apply the plan. False with why when the scheduler
 * refused the snapshot or the store a write (what was applied stays). */
bool reconcile(m_state *s, reconcile_stats *stats, char *why, size_t whylen);

/* Whether candidate (an app about to replace the one of its name, or a
 * new one) fits on the ready nodes, all its replicas placed anew. False
 * with the scheduler's reason when not. */
bool reconcile_fits(m_state *s, const m_app *candidate, char *why, size_t whylen);

#endif
