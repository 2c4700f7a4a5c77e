/*
 * route_table.h — where the cluster serves each app, as a node or the
 * master's ingress sees it (the heartbeat answer's "routes", docs/api.md),
 * and the choice of the node a request goes to.
 *
 * Each route lists its endpoints: the nodes running the app, with their
 * ingress address, replicas and weight. A request is given to one of them
 * by the app's load_balancer.algorithm: round_robin, least_connections
 * (requests in flight from here; for this node itself, its own queue) or
 * weighted (smooth weighted round robin by the endpoint's weight). A node
 * that could not be reached is "down" for ROUTE_PEER_DOWN_MS: it gets no
 * traffic meanwhile unless no other endpoint is left. What a node has
 * learnt about its peers (in flight, down) is kept in peers that outlive
 * route updates, so that a new route list loses none of it.
 *
 * While an app is rolled out, a route carries two revisions: each
 * endpoint names the revision it runs, and the route's "split" gives each
 * revision a weight. A request first picks its revision by smooth
 * weighted round robin over the split (deterministic: over any n
 * requests each revision gets its share to within one request), then an
 * endpoint of that revision by the route's algorithm. A revision with no
 * usable endpoint is skipped (its weight goes to the others); one of
 * weight 0 gets traffic only when no other is left.
 *
 * Pure logic, no I/O: tested alone (tests/unit/test_route_table.c).
 */
#ifndef QYVOL_CLUSTER_ROUTE_TABLE_H
#define QYVOL_CLUSTER_ROUTE_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ROUTE_PEER_DOWN_MS 3000

typedef struct route_peer {
    char *node;
    char *ingress;             /* HOST:PORT */
    int active;                /* requests forwarded to it, not answered yet */
    uint64_t down_until_ns;    /* 0: up */
    struct route_peer *next;
} route_peer;

typedef struct route_endpoint {
    route_peer *peer;
    int64_t revision;          /* the app's revision it runs; 0: not said */
    int replicas;
    int weight;
    int current_weight;        /* smooth weighted round robin */
    bool local;                /* this node itself */
} route_endpoint;

/* One revision's share of a route's traffic. */
typedef struct route_split {
    int64_t revision;
    int weight;                /* 0-100 (any scale: only ratios count) */
    int current_weight;        /* smooth weighted round robin */
    size_t next;               /* round robin's next endpoint, for this revision */
} route_split;

typedef enum route_algorithm { ROUTE_ROUND_ROBIN, ROUTE_LEAST_CONNECTIONS, ROUTE_WEIGHTED } route_algorithm;

typedef struct route_entry {
    char *app;
    char *route;               /* no trailing '/'; "" for "/" */
    uint16_t port;             /* a NodePort, or 0 */
    route_algorithm algorithm;
    route_endpoint *endpoints;
    size_t nendpoints;
    size_t next;               /* round robin's next endpoint */
    route_split *splits;       /* by revision; none: every endpoint alike */
    size_t nsplits;
} route_entry;

typedef struct route_table {
    route_entry *routes;
    size_t nroutes;
    route_peer *peers;         /* every peer ever seen (few) */
} route_table;

/* Replace t's routes by the JSON array `routes` (the heartbeat answer's).
 * self: this node's name (its endpoints are `local`), or NULL. Endpoints
 * keep their peers' state and the routes' rotation carries on. false with
 * why (t unchanged) when routes is malformed. */
bool route_table_update(route_table *t, const json_t *routes, const char *self, char *why, size_t whylen);
void route_table_free(route_table *t);

/* The route whose prefix is the longest of path's (whole segments). */
route_entry *route_table_match(route_table *t, const char *path);
route_entry *route_table_app(route_table *t, const char *app);
route_entry *route_table_port(route_table *t, uint16_t port);

/* Choose the endpoint for a request: not one on the peers `tried` (those
 * that failed it already), skipping endpoints without replicas, the local one when
 * !local_ok, and peers down at now_ns (unless nothing else is left).
 * local_load: the local app's requests in flight and waiting. NULL when
 * none is left. */
route_endpoint *route_choose(route_entry *r, uint64_t now_ns, route_peer *const *tried, size_t ntried,
                             bool local_ok, int local_load);

/* The revision of the split a request goes to, by smooth weighted round
 * robin over those whose usable[] says they have an endpoint left; -1
 * when none has. Exposed for tests of the split alone. */
ssize_t route_split_pick(route_split *splits, size_t n, const bool *usable);

/* The peer could not be reached: no traffic for ROUTE_PEER_DOWN_MS. */
void route_peer_down(route_peer *p, uint64_t now_ns);

/* Whether a request with this method may be sent again to another node
 * after failing to reach one (RFC 9110's idempotent methods). */
bool route_method_idempotent(const char *method);

#endif
