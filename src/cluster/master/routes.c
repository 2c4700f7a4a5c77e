/*
 * routes.c — where the master tells nodes each app is served, and what
 * each node runs of it, with the two revisions of a rollout (rollout.h).
 */
#include "cluster/master/rollout.h"

/* The endpoints of one revision's set (a, placed as a->placement):
 * those with ready replicas into ready, all into placed. */
static void set_endpoints(master *m, const char *app, const m_app *set, json_t *ready, json_t *placed)
{
    for (size_t k = 0; k < m->state.nnodes; k++) {
        const m_node *o = &m->state.nodes[k];
        uint32_t count = app_placed_on(set, o->name);
        if (!count || !o->ready || !*o->ingress) continue;
        uint32_t ready_here = node_ready_at(o, app, set->revision);
        json_t *e = json_pack("{s:s,s:s,s:i,s:i,s:I,s:I}", "node", o->name, "ingress", o->ingress, "replicas",
                              (int)count, "ready", (int)ready_here, "weight", (json_int_t)o->cpu_capacity,
                              "revision", (json_int_t)set->revision);
        json_array_append(placed, e);
        if (ready_here) json_array_append(ready, e);
        json_decref(e);
    }
}

uint32_t set_ready(master *m, const char *app, const m_app *set)
{
    uint32_t total = 0;
    for (size_t k = 0; set && k < m->state.nnodes; k++) {
        const m_node *o = &m->state.nodes[k];
        uint32_t placed = app_placed_on(set, o->name), ready = node_ready_at(o, app, set->revision);
        if (o->ready) total += ready < placed ? ready : placed;
    }
    return total;
}

/* Per app, the nodes with ready replicas; while none is ready yet, every
 * node it is placed on (the first answers once started). */
json_t *app_route(master *m, const m_app *a)
{
    json_t *ready = json_array(), *placed = json_array();
    set_endpoints(m, a->name, a, ready, placed);
    const m_rollout *r = a->rollout;
    const m_app *stable = r ? r->stable : NULL;
    json_t *split = NULL;
    if (stable) {
        json_t *old_ready = json_array(), *old_placed = json_array();
        set_endpoints(m, a->name, stable, old_ready, old_placed);
        uint32_t new_weight, old_weight;
        rollout_split(&r->policy, &r->g, set_ready(m, a->name, a), set_ready(m, a->name, stable), &new_weight,
                      &old_weight);
        split = json_pack("[{s:I,s:i},{s:I,s:i}]", "revision", (json_int_t)a->revision, "weight", (int)new_weight,
                          "revision", (json_int_t)stable->revision, "weight", (int)old_weight);
        json_array_extend(ready, old_ready);
        json_array_extend(placed, old_placed);
        json_decref(old_ready);
        json_decref(old_placed);
    }
    json_t *endpoints = json_array_size(ready) ? ready : placed;
    json_t *route = json_pack("{s:s,s:s,s:i,s:s,s:I,s:O}", "app", a->name, "route", a->route, "port", (int)a->port,
                              "algorithm", a->algorithm, "revision", (json_int_t)a->revision, "endpoints", endpoints);
    if (split) json_object_set_new(route, "split", split);
    json_decref(ready);
    json_decref(placed);
    return route;
}

static void assign(const char *app, const m_app *set, uint32_t here, json_t *assignments)
{
    json_array_append_new(assignments, json_pack("{s:s,s:I,s:s,s:s,s:O,s:i}", "app", app, "revision",
                                                 (json_int_t)set->revision, "digest", set->digest, "manifest",
                                                 set->manifest, "overrides", set->overrides, "replicas", (int)here));
}

void app_assignments(const m_app *a, const m_node *n, json_t *assignments)
{
    uint32_t here = app_placed_on(a, n->name);
    if (here) assign(a->name, a, here, assignments);
    const m_app *stable = a->rollout ? a->rollout->stable : NULL;
    uint32_t old_here = stable ? app_placed_on(stable, n->name) : 0;
    if (old_here) assign(a->name, stable, old_here, assignments);
}
