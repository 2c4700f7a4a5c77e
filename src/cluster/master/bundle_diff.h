/*
 * bundle_diff.h — what changed between two revisions' bundles, in words:
 * "changed: app.wasm; added: static/new.css; manifest keys: env.MODE,
 * deploy.replicas" (for the rollout history, `qyv cluster rollout
 * history`). Empty when nothing differs.
 */
#ifndef QYVOL_CLUSTER_MASTER_BUNDLE_DIFF_H
#define QYVOL_CLUSTER_MASTER_BUNDLE_DIFF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* old_dir, new_dir: unpacked bundles; the manifests' paths inside them. */
void bundle_diff(const char *old_dir, const char *old_manifest, const char *new_dir, const char *new_manifest,
                 char *out, size_t n);

#endif
