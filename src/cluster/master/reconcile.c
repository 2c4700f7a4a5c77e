/*
 * reconcile.c — the scheduler's plans applied to the master's state.
 */
#include "cluster/master/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/scheduler.h"

/* What the scheduler places: every app, and the stable set of an app
 * being rolled out, under a name of its own ("web@3") so that its
 * replicas count apart from the new revision's. A stable set comes before
 * its app: the set that serves keeps its room. */
typedef struct placeable {
    m_app *a;
    m_app *owner;              /* the app a stable set belongs to; NULL for an app */
    char name[M_NAME_MAX + 24];
} placeable;

static placeable *placeables(m_state *s, size_t *n)
{
    placeable *list = calloc(2 * s->napps + 1, sizeof *list);
    *n = 0;
    for (size_t i = 0; list && i < s->napps; i++) {
        m_app *a = &s->apps[i];
        m_app *stable = a->rollout ? a->rollout->stable : NULL;
        if (stable) {
            placeable *p = &list[(*n)++];
            p->a = stable, p->owner = a;
            snprintf(p->name, sizeof p->name, "%s@%lld", a->name, (long long)stable->revision);
        }
        placeable *p = &list[(*n)++];
        p->a = a;
        snprintf(p->name, sizeof p->name, "%s", a->name);
    }
    return list;
}

/* The snapshot the scheduler sees: each node's capacity, and as used what
 * the replicas placed on it declare. */
typedef struct snapshot {
    sched_node *nodes;
    sched_holding *holdings;   /* all nodes' holdings, one block */
    sched_request *requests;
    const char **allowed;      /* all apps' allowed names, one block */
} snapshot;

static void snapshot_free(snapshot *sn)
{
    free(sn->nodes);
    free(sn->holdings);
    free(sn->requests);
    free(sn->allowed);
}

static bool snapshot_make(m_state *s, snapshot *sn, const placeable *list, size_t napps)
{
    memset(sn, 0, sizeof *sn);
    size_t nallowed = 0;
    for (size_t i = 0; i < napps; i++) nallowed += json_array_size(list[i].a->nodes);
    sn->nodes = calloc(s->nnodes ? s->nnodes : 1, sizeof *sn->nodes);
    sn->holdings = calloc(s->nnodes * napps + 1, sizeof *sn->holdings);
    sn->requests = calloc(napps ? napps : 1, sizeof *sn->requests);
    sn->allowed = calloc(nallowed + 1, sizeof *sn->allowed);
    if (!sn->nodes || !sn->holdings || !sn->requests || !sn->allowed) return false;
    sched_holding *h = sn->holdings;
    for (size_t i = 0; i < s->nnodes; i++) {
        const m_node *n = &s->nodes[i];
        sched_node *out = &sn->nodes[i];
        out->name = n->name;
        out->status = n->ready ? SCHED_NODE_READY : SCHED_NODE_DOWN;
        out->memory_capacity = n->memory_capacity;
        out->cpu_capacity = n->cpu_capacity;
        out->holdings = h;
        for (size_t k = 0; k < napps; k++) {
            const m_app *a = list[k].a;
            uint32_t count = app_placed_on(a, n->name);
            if (!count) continue;
            *h++ = (sched_holding){list[k].name, count};
            out->memory_used += a->memory * count;
            out->cpu_used += a->cpu * count;
        }
        out->nholdings = (size_t)(h - out->holdings);
    }
    const char **allowed = sn->allowed;
    for (size_t i = 0; i < napps; i++) {
        const m_app *a = list[i].a;
        sched_request *r = &sn->requests[i];
        r->app = list[i].name;
        r->replicas = a->wanted;
        r->memory = a->memory;
        r->cpu = a->cpu;
        r->nodes = allowed;
        size_t k;
        json_t *v;
        json_array_foreach(a->nodes, k, v) *allowed++ = json_string_value(v);
        r->nnodes = (size_t)(allowed - r->nodes);
    }
    return true;
}

bool reconcile(m_state *s, reconcile_stats *stats, char *why, size_t whylen)
{
    memset(stats, 0, sizeof *stats);
    if (!s->napps) return true;
    snapshot sn = {0};
    size_t n = 0;
    placeable *list = placeables(s, &n);
    sched_plan *plans = calloc(n + 1, sizeof *plans);
    bool *save = calloc(n + 1, sizeof *save);
    if (!list || !plans || !save || !snapshot_make(s, &sn, list, n)) {
        free(list), free(plans), free(save);
        snapshot_free(&sn);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    sched_snapshot snap = {sn.nodes, s->nnodes};
    sched_error err;
    uint64_t t0 = now_ns();
    bool ok = sched_reconcile(&snap, sn.requests, n, plans, &err);
    stats->seconds = (double)(now_ns() - t0) / 1e9;
    if (!ok) snprintf(why, whylen, "the scheduler refused: %s", err.message);
    for (size_t i = 0; ok && i < n; i++) {
        m_app *a = list[i].a;
        sched_plan *p = &plans[i];
        bool changed = p->placed || p->nremove;
        for (size_t k = 0; k < p->nremove; k++) {
            const char *node = s->nodes[p->remove[k].node].name;
            uint32_t left = app_placed_on(a, node) - p->remove[k].replicas;
            if (left) json_object_set_new(a->placement, node, json_integer(left));
            else json_object_del(a->placement, node);
            stats->removed += p->remove[k].replicas;
        }
        for (uint32_t k = 0; k < p->placed; k++) {
            const char *node = s->nodes[p->place[k]].name;
            json_object_set_new(a->placement, node, json_integer(app_placed_on(a, node) + 1));
        }
        stats->placed += p->placed;
        const char *pending = p->complete ? NULL : p->reason;
        if ((pending == NULL) != (a->pending == NULL) || (pending && strcmp(pending, a->pending))) {
            free(a->pending);
            a->pending = pending ? strdup(pending) : NULL;
            changed = true;
        }
        if (!changed) continue;
        stats->apps_changed++;
        /* A stable set is saved with its app (apps/APP and rollouts/APP
         * in one transaction), once. */
        if (list[i].owner) save[i + 1] = true;
        else save[i] = true;
    }
    for (size_t i = 0; ok && i < n; i++)
        if (save[i] && !state_save_app(s, list[i].a, why, whylen)) ok = false;
    for (size_t i = 0; i < n; i++) sched_plan_free(&plans[i]);
    free(plans);
    free(save);
    free(list);
    snapshot_free(&sn);
    return ok;
}

bool reconcile_fits(m_state *s, const m_app *candidate, char *why, size_t whylen)
{
    snapshot sn = {0};
    size_t n = 0;
    placeable *list = placeables(s, &n);
    if (!list || !snapshot_make(s, &sn, list, n)) {
        free(list);
        snapshot_free(&sn);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    /* The candidate's replicas are placed anew: what the app's current
     * revision holds is not counted against it. */
    for (size_t i = 0; i < s->nnodes; i++) {
        sched_node *n = &sn.nodes[i];
        for (size_t k = 0; k < n->nholdings; k++) {
            if (strcmp(n->holdings[k].app, candidate->name)) continue;
            const m_app *current = state_app(s, candidate->name);
            if (current) {
                n->memory_used -= current->memory * n->holdings[k].replicas;
                n->cpu_used -= current->cpu * n->holdings[k].replicas;
            }
            ((sched_holding *)n->holdings)[k].replicas = 0;
        }
    }
    const char *allowed[json_array_size(candidate->nodes) + 1];
    size_t k;
    json_t *v;
    json_array_foreach(candidate->nodes, k, v) allowed[k] = json_string_value(v);
    sched_request req = {candidate->name, candidate->wanted, candidate->memory, candidate->cpu, allowed,
                         json_array_size(candidate->nodes)};
    sched_snapshot snap = {sn.nodes, s->nnodes};
    sched_plan plan = {0};
    sched_error err;
    bool ok = sched_place(&snap, &req, &plan, &err);
    if (!ok) snprintf(why, whylen, "the scheduler refused: %s", err.message);
    else if (!plan.complete) snprintf(why, whylen, "%s", plan.reason), ok = false;
    sched_plan_free(&plan);
    snapshot_free(&sn);
    free(list);
    return ok;
}
