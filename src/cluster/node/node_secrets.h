/*
 * node_secrets.h — a node gives an app the secrets its manifest names
 * (docs/manifest.md, "Secrets"), from the values the master sent with the
 * assignment: env values as "NAME=VALUE" overrides, files written into a
 * private folder (0700, on tmpfs: /dev/shm when there is one, else
 * $XDG_RUNTIME_DIR, else /tmp; never in the bundle cache) that the guest
 * is given read-only. A folder serves one (app, bundle, secret versions):
 * it is written once, and removed when no assignment used it for
 * NODE_SECRETS_KEEP_S seconds (the old replicas have drained by then), and
 * all of them when the node stops. The values of each (app, bundle,
 * versions) are kept in memory while it is assigned: a master that cannot
 * send them any more (it lacks the key) does not stop the app.
 */
#ifndef QYVOL_CLUSTER_NODE_SECRETS_H
#define QYVOL_CLUSTER_NODE_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define NODE_SECRETS_KEEP_S 120

typedef struct node_secret_use {
    char **env;                /* "NAME=VALUE" */
    size_t nenv;
    char **host, **guest;      /* read-only folders */
    size_t nmounts;
} node_secret_use;

/* For the assignment j whose manifest is at manifest_path: what its
 * secrets make. False with why (a secret the master did not send, a value
 * that cannot be an env value, a folder that cannot be written). */
bool node_secrets_resolve(json_t *j, const char *manifest_path, node_secret_use *out, char *why, size_t whylen);
void node_secret_use_free(node_secret_use *u);
/* Forget the values no assignment used since the last sweep; remove the
 * folders none used lately. */
void node_secrets_sweep(void);
/* Remove every folder (the node stops; its replicas are gone). */
void node_secrets_cleanup(void);

#endif
