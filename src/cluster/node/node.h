/*
 * node.h — `qyv node`: a cluster's worker (issue 11, docs/cluster.md).
 *
 * It serves the node API of docs/api.md on --listen (GET /v1/node,
 * POST /v1/node/join, GET /v1/logs, GET /v1/metrics, GET /v1/health; each
 * needs the cluster token), registers with its master and heartbeats
 * every second, runs exactly the apps the heartbeat answers assign it (a
 * serving runtime, src/serve/runtime.h, from bundles fetched from the
 * master, checked and cached under DATA/bundles/), and routes every app's
 * traffic cluster-wide on its ingress (src/cluster/proxy.h), plus one
 * port per app given a NodePort. While the master cannot be reached it
 * keeps serving what it runs.
 */
#ifndef QYVOL_CLUSTER_NODE_H
#define QYVOL_CLUSTER_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/capacity.h"

/* How long a cached bundle no assignment names stays (bundle_cache.h). */
#define NODE_BUNDLE_KEEP_MS (10u * 60u * 1000u)

typedef struct node_options {
    const char *listen_address;   /* the node API */
    uint16_t listen_port;
    const char *ingress_address;  /* app traffic */
    uint16_t ingress_port;
    const char *data_dir;
    const char *name;             /* NULL: the host name */
    const char *master;           /* HOST:PORT, or NULL until a master adopts it */
    const char *token_file;
    node_capacity capacity;       /* 0s: detected */
    int workers;                  /* threads per replica; 0: one per CPU */
    int drain_timeout_s;
    uint64_t bundle_keep_ms;      /* a cached bundle no assignment names is dropped after (0: NODE_BUNDLE_KEEP_MS) */
    bool plain_http;              /* no TLS (node_tls.h): asked for explicitly */
    const char *join_token;       /* a one-time join token (qyv cluster token create) */
    const char *ca_pin;           /* "sha256:HEX" of the CA to trust when joining */
    const char *ca_file;          /* or the CA itself */
} node_options;

/* Run until SIGTERM or SIGINT (drain, then 0); non-zero when the node
 * cannot start (the reason on stderr). */
int node_run(const node_options *opt);

#endif
