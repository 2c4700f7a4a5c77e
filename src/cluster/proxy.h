/*
 * proxy.h — cluster-wide routing of app requests (a node's ingress, and
 * the master's): a request is matched to an app's route (route_table.h),
 * an endpoint is chosen by the app's algorithm, and the request either
 * runs here (the caller's `local` function, e.g. a node's runtime) or is
 * forwarded to the chosen node's ingress with libevent's HTTP client, on
 * the event loop, never blocking it.
 *
 * Connections to peers are kept for the next requests (a few seconds).
 * A node that cannot be reached (no connection, or the connection broke
 * before an answer; a kept connection that broke is first tried again on
 * a new one) is marked down at once, and an idempotent request
 * (GET, HEAD, PUT, DELETE, OPTIONS) is sent again to another endpoint;
 * others get 502. A forwarded request carries PROXY_FORWARDED_HEADER
 * naming the node that forwarded it: a node receiving one never forwards
 * it again, so no request loops. It runs it here, or, when the app no
 * longer runs here (its replicas were just scaled away or moved, and the
 * forwarding node's routes are a heartbeat behind), answers 421 with
 * PROXY_NOT_HERE_HEADER: the request ran nowhere, so the forwarding node
 * sends it to another endpoint whatever its method.
 */
#ifndef QYVOL_CLUSTER_PROXY_H
#define QYVOL_CLUSTER_PROXY_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "cluster/route_table.h"
#include "serve/http1.h"

#define PROXY_FORWARDED_HEADER "X-Qyvol-Forwarded"
#define PROXY_NOT_HERE_HEADER "X-Qyvol-Not-Here"
/* The app's revision the forwarding node chose (while two revisions
 * serve, during a rollout): the receiving node runs that one if it still
 * can, else the app's other. */
#define PROXY_REVISION_HEADER "X-Qyvol-Revision"

typedef struct proxy proxy;

/* This node's way to run a request for app here: whether it can (the app
 * runs here and is healthy), how loaded it is, and running it (which
 * answers x). revision: the app's revision wanted, 0 for any (serve
 * falls back to any revision the app runs here). */
typedef struct proxy_local {
    bool (*available)(void *ctx, const char *app, int64_t revision, int *load);
    void (*serve)(void *ctx, const char *app, int64_t revision, http_exchange *x, const http_request *r);
    void *ctx;
} proxy_local;

/* self: this node's name (NULL for the master, which runs nothing). */
proxy *proxy_new(struct event_base *base, const char *self, const proxy_local *local, unsigned timeout_ms);
void proxy_free(proxy *p);

/* The routes (the heartbeat answer's "routes"). false with why (routes
 * unchanged) when malformed. */
bool proxy_set_routes(proxy *p, const json_t *routes, char *why, size_t whylen);
route_table *proxy_routes(proxy *p);

/* Answer r: by the route its path falls under, or (port_route) as the
 * app of a NodePort, whatever the path. 404 when no route matches. */
void proxy_handle(proxy *p, http_exchange *x, const http_request *r, route_entry *port_route);

/* Requests forwarded and not answered yet. */
long proxy_in_flight(const proxy *p);

/* Close the connections to peers kept idle too long (call every few
 * hundred ms). */
void proxy_housekeeping(proxy *p);

#endif
