/*
 * route_table.c — see route_table.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/route_table.h"

static route_peer *peer_for(route_table *t, const char *node, const char *ingress)
{
    for (route_peer *p = t->peers; p; p = p->next)
        if (!strcmp(p->node, node) && !strcmp(p->ingress, ingress)) return p;
    route_peer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->node = strdup(node);
    p->ingress = strdup(ingress);
    if (!p->node || !p->ingress) {
        free(p->node);
        free(p->ingress);
        free(p);
        return NULL;
    }
    p->next = t->peers;
    t->peers = p;
    return p;
}

static void free_routes(route_entry *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(routes[i].app);
        free(routes[i].route);
        free(routes[i].endpoints);
        free(routes[i].splits);
    }
    free(routes);
}

static bool parse_algorithm(const char *s, route_algorithm *out)
{
    static const char *const names[] = {"round_robin", "least_connections", "weighted"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i])) return *out = (route_algorithm)i, true;
    return false;
}

/* The route's "split": [{"revision":N,"weight":W}, ...] (optional). */
static bool parse_split(const json_t *j, route_entry *r, char *why, size_t whylen)
{
    const json_t *split = json_object_get(j, "split");
    if (!split || json_is_null(split)) return true;
    if (!json_is_array(split)) {
        snprintf(why, whylen, "route of %s: split must be an array", r->app);
        return false;
    }
    r->splits = calloc(json_array_size(split) + 1, sizeof *r->splits);
    if (!r->splits) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(split, i, e) {
        const json_t *rev = json_object_get(e, "revision"), *weight = json_object_get(e, "weight");
        if (!json_is_integer(rev) || !json_is_integer(weight) || json_integer_value(weight) < 0 ||
            json_integer_value(weight) > 1000000) {
            snprintf(why, whylen, "route of %s: a split needs a revision and a weight from 0 to 1000000", r->app);
            return false;
        }
        r->splits[r->nsplits++] = (route_split){json_integer_value(rev), (int)json_integer_value(weight), 0, 0};
    }
    return true;
}

/* One route of the JSON; false with why. */
static bool parse_route(route_table *t, const json_t *j, const char *self, route_entry *r, char *why, size_t whylen)
{
    const char *app = json_string_value(json_object_get(j, "app"));
    const char *route = json_string_value(json_object_get(j, "route"));
    const char *algorithm = json_string_value(json_object_get(j, "algorithm"));
    const json_t *port = json_object_get(j, "port"), *eps = json_object_get(j, "endpoints");
    if (!app || !route || *route != '/') {
        snprintf(why, whylen, "a route needs \"app\" and a \"route\" starting with '/'");
        return false;
    }
    if (algorithm && !parse_algorithm(algorithm, &r->algorithm)) {
        snprintf(why, whylen, "route of %s: unknown algorithm '%s'", app, algorithm);
        return false;
    }
    if (port && !json_is_null(port) && (!json_is_integer(port) || json_integer_value(port) < 0 ||
                                         json_integer_value(port) > 65535)) {
        snprintf(why, whylen, "route of %s: port must be a number from 0 to 65535", app);
        return false;
    }
    r->port = json_is_integer(port) ? (uint16_t)json_integer_value(port) : 0;
    if (eps && !json_is_array(eps)) {
        snprintf(why, whylen, "route of %s: endpoints must be an array", app);
        return false;
    }
    r->app = strdup(app);
    size_t n = strlen(route);
    while (n > 0 && route[n - 1] == '/') n--;
    r->route = strndup(route, n);
    r->endpoints = calloc(json_array_size(eps) + 1, sizeof *r->endpoints);
    if (!r->app || !r->route || !r->endpoints) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(eps, i, e) {
        const char *node = json_string_value(json_object_get(e, "node"));
        const char *ingress = json_string_value(json_object_get(e, "ingress"));
        const json_t *replicas = json_object_get(e, "replicas"), *weight = json_object_get(e, "weight");
        if (!node || !ingress) {
            snprintf(why, whylen, "route of %s: an endpoint needs \"node\" and \"ingress\"", app);
            return false;
        }
        route_endpoint *ep = &r->endpoints[r->nendpoints++];
        if (!(ep->peer = peer_for(t, node, ingress))) {
            snprintf(why, whylen, "out of memory");
            return false;
        }
        ep->replicas = json_is_integer(replicas) ? (int)json_integer_value(replicas) : 1;
        ep->weight = json_is_integer(weight) && json_integer_value(weight) > 0 ? (int)json_integer_value(weight) : 1;
        ep->local = self && !strcmp(node, self);
        ep->revision = json_integer_value(json_object_get(e, "revision"));
    }
    return parse_split(j, r, why, whylen);
}

/* Carry the rotation over from the old route of the same app. */
static void carry_state(const route_table *old, route_entry *r)
{
    for (size_t i = 0; i < old->nroutes; i++) {
        const route_entry *o = &old->routes[i];
        if (strcmp(o->app, r->app)) continue;
        r->next = r->nendpoints ? o->next % r->nendpoints : 0;
        for (size_t k = 0; k < r->nendpoints; k++)
            for (size_t m = 0; m < o->nendpoints; m++)
                if (o->endpoints[m].peer == r->endpoints[k].peer && o->endpoints[m].revision == r->endpoints[k].revision)
                    r->endpoints[k].current_weight = o->endpoints[m].current_weight;
        for (size_t k = 0; k < r->nsplits; k++)
            for (size_t m = 0; m < o->nsplits; m++)
                if (o->splits[m].revision == r->splits[k].revision)
                    r->splits[k].current_weight = o->splits[m].current_weight,
                    r->splits[k].next = r->nendpoints ? o->splits[m].next % r->nendpoints : 0;
        return;
    }
}

bool route_table_update(route_table *t, const json_t *routes, const char *self, char *why, size_t whylen)
{
    if (!json_is_array(routes)) {
        snprintf(why, whylen, "routes must be an array");
        return false;
    }
    size_t n = json_array_size(routes);
    route_entry *fresh = calloc(n + 1, sizeof *fresh);
    if (!fresh) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!parse_route(t, json_array_get(routes, i), self, &fresh[i], why, whylen)) {
            free_routes(fresh, n);
            return false;
        }
    for (size_t i = 0; i < n; i++) carry_state(t, &fresh[i]);
    free_routes(t->routes, t->nroutes);
    t->routes = fresh;
    t->nroutes = n;
    return true;
}

void route_table_free(route_table *t)
{
    free_routes(t->routes, t->nroutes);
    while (t->peers) {
        route_peer *p = t->peers;
        t->peers = p->next;
        free(p->node);
        free(p->ingress);
        free(p);
    }
    memset(t, 0, sizeof *t);
}

route_entry *route_table_match(route_table *t, const char *path)
{
    route_entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < t->nroutes; i++) {
        const char *r = t->routes[i].route;
        size_t n = strlen(r);
        if (strncmp(path, r, n) || (n && path[n] && path[n] != '/')) continue;
        if (!best || n > best_len) best = &t->routes[i], best_len = n;
    }
    return best;
}

route_entry *route_table_app(route_table *t, const char *app)
{
    for (size_t i = 0; i < t->nroutes; i++)
        if (!strcmp(t->routes[i].app, app)) return &t->routes[i];
    return NULL;
}

route_entry *route_table_port(route_table *t, uint16_t port)
{
    for (size_t i = 0; port && i < t->nroutes; i++)
        if (t->routes[i].port == port) return &t->routes[i];
    return NULL;
}

static bool was_tried(const route_endpoint *e, route_peer *const *tried, size_t ntried)
{
    for (size_t i = 0; i < ntried; i++)
        if (tried[i] == e->peer) return true;
    return false;
}

static int load_of(const route_endpoint *e, int local_load)
{
    return e->local ? local_load : e->peer->active;
}

/* Among the candidates (usable[i]), by the route's algorithm. */
static route_endpoint *pick(route_entry *r, const bool *usable, int local_load)
{
    size_t n = r->nendpoints;
    ssize_t best = -1;
    switch (r->algorithm) {
    case ROUTE_LEAST_CONNECTIONS:
        for (size_t k = 0; k < n; k++) {
            size_t i = (r->next + k) % n;
            if (usable[i] && (best < 0 || load_of(&r->endpoints[i], local_load) <
                                              load_of(&r->endpoints[best], local_load)))
                best = (ssize_t)i;
        }
        break;
    case ROUTE_WEIGHTED: {
        /* Smooth weighted round robin (as nginx): each gains its weight,
         * the richest is chosen and pays the total. */
        int total = 0;
        for (size_t i = 0; i < n; i++) {
            if (!usable[i]) continue;
            r->endpoints[i].current_weight += r->endpoints[i].weight;
            total += r->endpoints[i].weight;
            if (best < 0 || r->endpoints[i].current_weight > r->endpoints[best].current_weight) best = (ssize_t)i;
        }
        if (best >= 0) r->endpoints[best].current_weight -= total;
        break;
    }
    case ROUTE_ROUND_ROBIN:
    default:
        for (size_t k = 0; k < n && best < 0; k++) {
            size_t i = (r->next + k) % n;
            if (usable[i]) best = (ssize_t)i;
        }
        break;
    }
    if (best < 0) return NULL;
    r->next = ((size_t)best + 1) % n;
    return &r->endpoints[best];
}

ssize_t route_split_pick(route_split *splits, size_t n, const bool *usable)
{
    /* Smooth weighted round robin among the revisions that can take the
     * request; those of weight 0 only when no weighted one can. */
    ssize_t best = -1;
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable[i] || splits[i].weight <= 0) continue;
        splits[i].current_weight += splits[i].weight;
        total += splits[i].weight;
        if (best < 0 || splits[i].current_weight > splits[best].current_weight) best = (ssize_t)i;
    }
    if (best >= 0) {
        splits[best].current_weight -= total;
        return best;
    }
    for (size_t i = 0; i < n; i++)
        if (usable[i]) return (ssize_t)i;
    return -1;
}

/* Whether endpoint e may take the request (pass 0: its peer must be up). */
static bool endpoint_usable(const route_endpoint *e, int pass, uint64_t now_ns, route_peer *const *tried,
                            size_t ntried, bool local_ok)
{
    return e->replicas > 0 && !was_tried(e, tried, ntried) && (e->local ? local_ok : true) &&
           (pass == 1 || e->local || e->peer->down_until_ns <= now_ns);
}

route_endpoint *route_choose(route_entry *r, uint64_t now_ns, route_peer *const *tried, size_t ntried,
                             bool local_ok, int local_load)
{
    if (!r->nendpoints) return NULL;
    bool stack[16], *usable = r->nendpoints <= 16 ? stack : calloc(r->nendpoints, sizeof *usable);
    bool split_stack[4], *split_ok = r->nsplits <= 4 ? split_stack : calloc(r->nsplits, sizeof *split_ok);
    if (!usable || !split_ok) {
        if (usable != stack) free(usable);
        if (split_ok != split_stack) free(split_ok);
        return NULL;
    }
    route_endpoint *chosen = NULL;
    /* First the peers that are up; then, if none, the down ones too. */
    for (int pass = 0; pass < 2 && !chosen; pass++) {
        for (size_t i = 0; i < r->nendpoints; i++)
            usable[i] = endpoint_usable(&r->endpoints[i], pass, now_ns, tried, ntried, local_ok);
        if (r->nsplits) {
            /* The revision first, then an endpoint of it. */
            for (size_t k = 0; k < r->nsplits; k++) {
                split_ok[k] = false;
                for (size_t i = 0; i < r->nendpoints && !split_ok[k]; i++)
                    split_ok[k] = usable[i] && r->endpoints[i].revision == r->splits[k].revision;
            }
            ssize_t s = route_split_pick(r->splits, r->nsplits, split_ok);
            if (s < 0) continue;
            for (size_t i = 0; i < r->nendpoints; i++)
                usable[i] = usable[i] && r->endpoints[i].revision == r->splits[s].revision;
            /* Each revision turns its own rotation: with one shared, two
             * revisions taking turns would each start from the same place. */
            size_t shared = r->next;
            r->next = r->splits[s].next;
            chosen = pick(r, usable, local_load);
            r->splits[s].next = r->next;
            r->next = shared;
            continue;
        }
        chosen = pick(r, usable, local_load);
    }
    if (usable != stack) free(usable);
    if (split_ok != split_stack) free(split_ok);
    return chosen;
}

void route_peer_down(route_peer *p, uint64_t now_ns) { p->down_until_ns = now_ns + ROUTE_PEER_DOWN_MS * 1000000ull; }

bool route_method_idempotent(const char *method)
{
    static const char *const idempotent[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof idempotent / sizeof *idempotent; i++)
        if (!strcmp(method, idempotent[i])) return true;
    return false;
}
