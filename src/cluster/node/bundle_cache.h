/*
 * bundle_cache.h — the node's bundle cache, DATA/bundles/: each bundle
 * kept as the bytes it was fetched as (HEX.tar, named by their SHA-256)
 * and unpacked beside them (HEX/, what the apps are loaded from and run
 * in).
 *
 * Nothing on disk is trusted at load: each time an app is loaded from the
 * cache (at node start, and whenever an assignment starts or replaces an
 * app) its HEX.tar is hashed again (SHA-256 runs at about 2 GB/s here: a
 * 10 MB bundle costs 5 ms) and its HEX/ compared entry by entry with it.
 * A tar that does not hash to its name, is missing or cannot be read is
 * dropped, logged ("a cached bundle is corrupted") and fetched again from
 * the master; a tree that differs from its tar is logged ("an unpacked
 * bundle was changed on disk") and unpacked again. An app already running
 * is not disturbed: it keeps what it loaded, and its replaced tree is
 * moved aside (.stale-*) rather than deleted, until the node restarts.
 *
 * Bundles no assignment names any more are dropped after a while
 * (bundle_cache_prune, `qyv node --bundle-cache-keep`), so the cache does
 * not grow with every deploy.
 */
#ifndef QYVOL_CLUSTER_NODE_BUNDLE_CACHE_H
#define QYVOL_CLUSTER_NODE_BUNDLE_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/log.h"

typedef struct bundle_cache {
    const char *dir;           /* DATA/bundles */
    /* The bundle's bytes from the master into *data (free()); false with why. */
    bool (*fetch)(void *ctx, const char *digest, uint8_t **data, size_t *len, char *why, size_t whylen);
    /* A log line (takes fields). */
    void (*log)(void *ctx, log_level level, const char *message, json_t *fields);
    void *ctx;
} bundle_cache;

/* At node start: remove what an interrupted run left behind (half
 * fetched tars, half unpacked and stale trees). */
void bundle_cache_sweep(const char *dir);

/* Make DIR/HEX/ right for an app about to be loaded from it: the tar
 * checked (fetched again when it is not right), the tree compared with
 * it (unpacked again when it differs). false with why when the bundle
 * cannot be had. */
bool bundle_cache_load(const bundle_cache *c, const char *digest, char *why, size_t whylen);

/* Drop the cached bundles no assignment has named for keep_ms: a tar and
 * its tree go together. in_use is the set of digests ({"HEX": true})
 * the node's assignments name now; last_named ({"HEX": ms}, kept by the
 * caller between calls) remembers when each cached bundle was last named,
 * starting the clock at the first call that sees it (so at node start
 * everything cached counts as just named). Waiting keep_ms also lets a
 * replaced app's draining replicas finish with the files they run from. */
void bundle_cache_prune(const bundle_cache *c, json_t *in_use, json_t *last_named, uint64_t keep_ms, uint64_t now_ms);

#endif
