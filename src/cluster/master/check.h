/*
 * check.h — whether an app can run, before the cluster accepts it: its
 * manifest (with the deploy's overrides) loads as `qyv serve` would load
 * it, its module decodes, validates and imports only what the WASI host
 * provides, and it is an http app. What the master needs to place it comes
 * back in the app's fields.
 */
#ifndef QYVOL_CLUSTER_MASTER_CHECK_H
#define QYVOL_CLUSTER_MASTER_CHECK_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/master/state.h"

/* Memory reserved per replica when neither the manifest nor the deploy
 * says (the engine's default limit for a guest is larger; this is only
 * what placement counts). */
#define CHECK_DEFAULT_MEMORY ((uint64_t)64 << 20)

/* bundle_dir holds the unpacked bundle; manifest is a path inside it.
 * Fills app's name, route, algorithm, wanted, memory, cpu, port, nodes
 * from the manifest and the overrides (an object: replicas, memory, cpu,
 * env, port, nodes). False with why: a manifest mistake as
 * "MANIFEST:LINE:COLUMN: ..." relative to the bundle. */
bool check_app(const char *bundle_dir, const char *manifest, json_t *overrides, m_app *app, char *why,
               size_t whylen);

/* The rollout policy the app's manifest asks for (deploy.strategy) set
 * over p; false with why when the manifest cannot be read. */
bool check_rollout_policy(const char *bundle_dir, const char *manifest, rollout_policy *p, char *why,
                          size_t whylen);

/* The overrides object, checked: known keys with values in range. */
bool check_overrides(json_t *overrides, char *why, size_t whylen);

#endif
