/*
 * reconcile.c — the scheduler's plans applied to the master's state.
 */
#include "cluster/master/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/scheduler.h"

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

static bool snapshot_make(m_state *s, snapshot *sn)
{
    memset(sn, 0, sizeof *sn);
    size_t nallowed = 0;
    for (size_t i = 0; i < s->napps; i++) nallowed += json_array_size(s->apps[i].nodes);
    sn->nodes = calloc(s->nnodes ? s->nnodes : 1, sizeof *sn->nodes);
    sn->holdings = calloc(s->nnodes * s->napps + 1, sizeof *sn->holdings);
    sn->requests = calloc(s->napps ? s->napps : 1, sizeof *sn->requests);
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
        for (size_t k = 0; k < s->napps; k++) {
            const m_app *a = &s->apps[k];
            uint32_t count = app_placed_on(a, n->name);
            if (!count) continue;
            *h++ = (sched_holding){a->name, count};
            out->memory_used += a->memory * count;
            out->cpu_used += a->cpu * count;
        }
        out->nholdings = (size_t)(h - out->holdings);
    }
    const char **allowed = sn->allowed;
    for (size_t i = 0; i < s->napps; i++) {
        const m_app *a = &s->apps[i];
        sched_request *r = &sn->requests[i];
        r->app = a->name;
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
    sched_plan *plans = calloc(s->napps, sizeof *plans);
    if (!plans || !snapshot_make(s, &sn)) {
        free(plans);
        snapshot_free(&sn);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    sched_snapshot snap = {sn.nodes, s->nnodes};
    sched_error err;
    uint64_t t0 = now_ns();
    bool ok = sched_reconcile(&snap, sn.requests, s->napps, plans, &err);
    stats->seconds = (double)(now_ns() - t0) / 1e9;
    if (!ok) snprintf(why, whylen, "the scheduler refused: %s", err.message);
    for (size_t i = 0; ok && i < s->napps; i++) {
        m_app *a = &s->apps[i];
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
        if (changed) {
            stats->apps_changed++;
            if (!state_save_app(s, a, why, whylen)) ok = false;
        }
    }
    for (size_t i = 0; i < s->napps; i++) sched_plan_free(&plans[i]);
    free(plans);
    snapshot_free(&sn);
    return ok;
}

bool reconcile_fits(m_state *s, const m_app *candidate, char *why, size_t whylen)
{
    snapshot sn = {0};
    if (!snapshot_make(s, &sn)) {
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
    return ok;
}
