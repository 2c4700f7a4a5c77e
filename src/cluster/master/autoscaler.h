/*
 * autoscaler.h — the master's autoscaler: every --autoscale-interval it
 * reads each autoscaled app's CPU use from the nodes' heartbeats (the
 * cumulative cpu_seconds of its replicas, per node), turns it into a
 * utilisation of the CPU the replicas ask for, and sets the app's wanted
 * replicas by the HPA rule (cluster/autoscale.h). Placing them is left to
 * the next reconcile, as for `scale`.
 */
#ifndef QYVOL_CLUSTER_MASTER_AUTOSCALER_H
#define QYVOL_CLUSTER_MASTER_AUTOSCALER_H

#include "cluster/master/internal.h"

/* The app's scale-down window: its own, else the master's. */
uint64_t autoscale_window_ms(const master *m, const m_app *a);

/* What a deploy (probe, checked; current: the running app or NULL) sets
 * of the replicas and autoscaling (docs/cluster.md, "Scaling"): the
 * manifest's deploy.autoscale, when it has one, turns autoscaling on or
 * changes it; without one, what `qyv cluster autoscale` set stays. While
 * autoscaling is on, the autoscaler owns the replicas: a deploy keeps the
 * current count within min..max (a new app starts at min) instead of
 * --replicas or deploy.replicas, as with a Kubernetes HPA. */
void autoscale_settle_deploy(const m_app *current, m_app *probe);
/* Take the deploy's spec into a (the history starts over when it changed). */
void autoscale_take(m_app *a, const autoscale_spec *spec);

/* One round over every autoscaled app. */
void autoscaler_run(master *m);

/* Set an app's wanted replicas and save it (scale and the autoscaler).
 * False with why when the store refused (nothing changed then). */
bool master_set_wanted(master *m, m_app *a, uint32_t replicas, char *why, size_t whylen);

#endif
