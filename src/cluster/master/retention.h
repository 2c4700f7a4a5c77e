/*
 * retention.h — what the master keeps of the past, so that the store and
 * the bundles folder do not grow with every deploy: of each app, the
 * newest --revision-history revision records (10 by default, as
 * Kubernetes' revisionHistoryLimit), plus those a running rollout or the
 * app itself names; and the bundles that an app, a rollout's stable set
 * or a kept record names. The records beyond that are deleted, and so
 * are the bundles no one names any more: their chunks in the store
 * (etcd) and their tar and folder in DATA/bundles.
 *
 * A client uploads a bundle and then deploys it, in two calls: so a
 * bundle that nothing names is kept if it was uploaded (again) since the
 * last record naming it was deployed, and one no record ever named, for
 * RETENTION_BUNDLE_GRACE_S after its upload.
 *
 * Only the leader sweeps: after each new revision record, and once a
 * minute (for bundles uploaded and never deployed).
 */
#ifndef QYVOL_CLUSTER_MASTER_RETENTION_H
#define QYVOL_CLUSTER_MASTER_RETENTION_H

#include "cluster/master/internal.h"

#define RETENTION_DEFAULT_HISTORY 10
#define RETENTION_BUNDLE_GRACE_S 600

/* From the leader's tick: sweep when a record was made since the last
 * sweep, or a minute has passed. */
void retention_tick(master *m);

#endif
