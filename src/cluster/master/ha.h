/*
 * ha.h — a master among several on etcd (docs/ha.md): following the
 * election (leader.h) from the event loop, rebuilding the in-memory state
 * from the store on taking the lead, forwarding the API calls a follower
 * receives to the leader, answering health with every master's role and
 * etcd's members, and sharing bundles through the store so that any
 * master can hand them out.
 *
 * With an SQLite store there is one master, which always leads: these
 * calls then do nothing (or answer as the single master).
 */
#ifndef QYVOL_CLUSTER_MASTER_HA_H
#define QYVOL_CLUSTER_MASTER_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/master/internal.h"

/* Start campaigning when the store is etcd (url). False with why. */
bool master_ha_start(master *m, const char *url, char *why, size_t whylen);
void master_ha_stop(master *m);
/* From the tick: take the lead (rebuild the state from the store, fence
 * writes with the new leader key) or give it up. */
void master_ha_tick(master *m);
/* A follower's ingress: ask the leader for its routes (GET /v1/routes)
 * about once a second, and serve those. */
void master_ha_follow_routes(master *m);
/* Whether this master leads now (always, on SQLite). */
bool master_leading(master *m);
/* Answer a call that only the leader may: by forwarding it, or 503 when
 * no master leads. */
void master_forward(master *m, http_exchange *x, const http_request *r);
/* GET /v1/health: base (taken over) plus this master's role, the leader,
 * every live master and each etcd member's health. */
void master_ha_health(master *m, http_exchange *x, json_t *base);
/* Every master's address, comma-separated, for nodes to fail over
 * between; false on SQLite (then the caller's own address is the one). */
bool master_ha_addresses(master *m, char *out, size_t n);

/* Bundles: share one through the store (etcd only; nothing on SQLite),
 * or fetch one that only the store has into the bundles folder. */
bool master_bundle_share(master *m, const char *hex, const void *data, size_t len, char *why, size_t whylen);
bool master_bundle_fetch(master *m, const char *hex, char *why, size_t whylen);

/* Unpack a bundle into DATA/bundles/HEX/ and keep its tar beside it
 * (api.c's upload and the fetch above). *status is the HTTP status for
 * a failure (400: not a bundle, 500: ours). */
bool master_bundle_save(master *m, const void *data, size_t len, const char *hex, int *status, char *why,
                        size_t whylen);

#endif
