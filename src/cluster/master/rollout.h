/*
 * rollout.h — releases of a running app (docs/cluster.md, "Releases"):
 * a deploy of an app that runs starts a rollout from its revision to the
 * new one; the master steps it on its tick (rollout_plan.h decides, this
 * applies), each step one store transaction of apps/APP, rollouts/APP and
 * the revisions' records, so that a master restarted mid-rollout finds it
 * where it was and carries on. Failures roll back to the stable revision
 * when the policy says so; pause, resume, promote, abort and undo come
 * from the API (/v1/apps/NAME/rollout/ACTION).
 */
#ifndef QYVOL_CLUSTER_MASTER_ROLLOUT_H
#define QYVOL_CLUSTER_MASTER_ROLLOUT_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/master/internal.h"

/* Whether a's rollout still moves (progressing or paused). */
bool rollout_active(const m_app *a);

/* POST /v1/apps for app a, which runs: roll out probe (the checked new
 * spec, from bundle_dir) with the policy of its manifest and of request
 * (the body's "rollout", may be NULL). Answers x. */
void rollout_deploy(master *m, http_exchange *x, m_app *a, const m_app *probe, const char *bundle_dir,
                    const json_t *request);

/* Step every active rollout (the master's tick). */
void rollout_tick(master *m);

/* The rollout's state for GET /v1/apps/NAME (and .../rollout): null when
 * the app never had one. */
json_t *rollout_status(master *m, const m_app *a);

/* GET /v1/apps/NAME/rollout, POST /v1/apps/NAME/rollout/ACTION (pause,
 * resume, promote, abort, undo), GET /v1/apps/NAME/revisions. */
void rollout_api(master *m, http_exchange *x, const http_request *r, const char *app, const char *action);
void rollout_history(master *m, http_exchange *x, const char *app);

/* routes.c: where app a is served (one entry of the heartbeat answer's
 * "routes"): its ready endpoints, each with its revision, and while a
 * rollout has two revisions serving, the split between them. */
json_t *app_route(master *m, const m_app *a);
/* Replicas of app's set (the app, or its stable set; NULL: none) ready
 * on ready nodes, no more than are placed on each. */
uint32_t set_ready(master *m, const char *app, const m_app *set);
/* What node n must run of app a: its revision, and its stable one while
 * a rollout keeps it. Appended to assignments. */
void app_assignments(const m_app *a, const m_node *n, json_t *assignments);

#endif
