/*
 * secrets.h — the cluster's secrets on the master (docs/security.md,
 * "Secrets and tokens"; docs/api.md, "Secrets").
 *
 * A secret is one value (bytes, at most SECRETS_MAX_VALUE) under a name,
 * with versions: each `qyv cluster secret set` makes the next one. It is
 * kept in the store as secrets/NAME, sealed (secret_box.h) with the key
 * of --secret-key-file, a file apart from the store; the name and version
 * are authenticated with it. Keys are rotated by starting the masters with
 * the new key and --old-secret-key-file for the old one: what the old key
 * sealed is resealed at start. Values never go into logs, API answers or
 * the audit log: lists show names and versions.
 *
 * A deploy pins the current version of every secret its manifest names
 * (overrides.secret_versions); the heartbeat answer carries those
 * versions' values to the nodes that run the app. A changed secret reaches
 * an app at its next deploy, never by itself. A version stays kept while
 * an app is pinned to it; a secret an app uses cannot be removed.
 */
#ifndef QYVOL_CLUSTER_MASTER_SECRETS_H
#define QYVOL_CLUSTER_MASTER_SECRETS_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/master/internal.h"

#define SECRETS_MAX_VALUE ((size_t)64 << 10)

/* Read (or make, 0600) the key of path, and the keys being rotated out
 * (old_files: they must exist). Secrets sealed with an old key are
 * resealed with the current one (each one transaction), so that the old
 * key files can go; a secret no key opens is logged. False with why when
 * a key is unusable. */
bool secrets_open(master *m, const char *key_file, const char *const *old_files, size_t nold, char *why,
                  size_t whylen);
void secrets_close(void);

/* GET /v1/secrets, PUT and DELETE /v1/secrets/NAME. False when r is none
 * of them. */
bool secrets_route(master *m, http_exchange *x, const http_request *r);

/* The deploy of the manifest at path (in an unpacked bundle; shown as
 * `shown`): pin the current version of each secret it names into
 * overrides.secret_versions (any other value there replaced). False with
 * why ("app.qyv:LINE:COLUMN: no secret 'db' ...") when one does not exist. */
bool secrets_pin(master *m, const char *path, const char *shown, json_t *overrides, char *why, size_t whylen);

/* Add "secrets": {"NAME": {"version": N, "value": BASE64}} to one
 * assignment of a heartbeat's answer, for the versions its overrides pin.
 * A secret that cannot be opened is left out (and logged): the node says
 * the app cannot start. */
void secrets_attach(master *m, json_t *assignment, const json_t *overrides);

#endif
