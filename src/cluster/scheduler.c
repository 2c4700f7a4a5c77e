/*
 * scheduler.c — plans replicas onto nodes (the policy is in scheduler.h).
 *
 * A plan works on its own copy of each node's free memory and CPU, so that
 * the apps of one sched_reconcile see each other's replicas. Per app it
 * loads how many replicas each node holds into a dense per-node count
 * (touching only the nodes involved, and clearing just those after), then
 * picks nodes from a binary heap ordered by the spread policy: picking a
 * node only makes it a worse pick, so the chosen node is sifted down in
 * place and each replica costs O(log nodes).
 */
#include "cluster/scheduler.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/sched_reason.h"

/* A node as this plan sees it. */
typedef struct node_state {
    uint64_t memory_free, cpu_free;
    double used;          /* the larger of its memory and CPU fractions in use */
    uint32_t count;       /* replicas of the app being planned */
    uint32_t removed;     /* of those, removed to scale down */
    bool allowed;         /* in the app's --nodes (when it names some) */
    bool touched;         /* in work.touched */
} node_state;

/* One node's replicas of one app: the snapshot's holdings, grouped by app
 * (entries first[a] .. first[a + 1] - 1 are app a's). */
typedef struct holding_entry {
    uint32_t node, replicas;
} holding_entry;

typedef struct work {
    const sched_node *nodes;
    uint32_t n;
    node_state *ns;
    uint32_t *slots;      /* name hash: node index + 1, 0 when empty */
    size_t mask;
    uint32_t *heap;
    size_t nheap;
    uint32_t *touched;    /* nodes whose count or allowed is set for this app */
    size_t ntouched;
    bool restricted;      /* this app names its nodes */
    const sched_request *apps;
    size_t napps;
    size_t *first;
    holding_entry *entries;
} work;

typedef bool (*node_order)(const work *w, uint32_t a, uint32_t b);

static bool fail(sched_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(sched_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* ---- nodes: names, room */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The index of the node of that name, or -1. */
static int64_t find_node(const work *w, const char *name)
{
    for (size_t i = hash_name(name) & w->mask;; i = (i + 1) & w->mask) {
        uint32_t slot = w->slots[i];
        if (!slot)
            return -1;
        if (strcmp(w->nodes[slot - 1].name, name) == 0)
            return slot - 1;
    }
}

static bool index_names(work *w, sched_error *err)
{
    size_t size = 16;
    while (size < (size_t)w->n * 2)
        size *= 2;
    w->slots = calloc(size, sizeof *w->slots);
    if (!w->slots)
        return fail(err, "out of memory");
    w->mask = size - 1;
    for (uint32_t k = 0; k < w->n; k++) {
        const char *name = w->nodes[k].name;
        if (!name || !*name)
            return fail(err, "node %u of the snapshot has no name", k);
        size_t i = hash_name(name) & w->mask;
        for (; w->slots[i]; i = (i + 1) & w->mask)
            if (strcmp(w->nodes[w->slots[i] - 1].name, name) == 0)
                return fail(err, "two nodes of the snapshot are named %s", name);
        w->slots[i] = k + 1;
    }
    return true;
}

static double fraction_used(uint64_t capacity, uint64_t free)
{
    return capacity ? (double)(capacity - free) / (double)capacity : 0.0;
}

static void update_used(work *w, uint32_t i)
{
    const sched_node *node = &w->nodes[i];
    double m = fraction_used(node->memory_capacity, w->ns[i].memory_free);
    double c = fraction_used(node->cpu_capacity, w->ns[i].cpu_free);
    w->ns[i].used = m > c ? m : c;
}

static uint64_t free_of(uint64_t capacity, uint64_t used) { return capacity > used ? capacity - used : 0; }

/* Give back the room of n replicas of per each (never past capacity). */
static uint64_t give_back(uint64_t free, uint64_t capacity, uint32_t n, uint64_t per)
{
    if (per && n > (capacity - free) / per)
        return capacity;
    return free + (uint64_t)n * per;
}

static void release(work *w, uint32_t i, uint32_t n, const sched_request *req)
{
    const sched_node *node = &w->nodes[i];
    w->ns[i].memory_free = give_back(w->ns[i].memory_free, node->memory_capacity, n, req->memory);
    w->ns[i].cpu_free = give_back(w->ns[i].cpu_free, node->cpu_capacity, n, req->cpu);
    update_used(w, i);
}

static bool is_allowed(const work *w, uint32_t i) { return !w->restricted || w->ns[i].allowed; }

static bool fits(const work *w, uint32_t i, const sched_request *req)
{
    return w->nodes[i].status == SCHED_NODE_READY && is_allowed(w, i) && w->ns[i].memory_free >= req->memory &&
           w->ns[i].cpu_free >= req->cpu;
}

/* ---- orders and the heap */

static int by_name(const work *w, uint32_t a, uint32_t b) { return strcmp(w->nodes[a].name, w->nodes[b].name); }

/* Where the next replica goes first: fewest of the app, least used, name. */
static bool place_before(const work *w, uint32_t a, uint32_t b)
{
    const node_state *x = &w->ns[a], *y = &w->ns[b];
    if (x->count != y->count)
        return x->count < y->count;
    if (x->used != y->used)
        return x->used < y->used;
    return by_name(w, a, b) < 0;
}

/* Where a replica is removed first: most of the app, most used, name. */
static bool remove_before(const work *w, uint32_t a, uint32_t b)
{
    const node_state *x = &w->ns[a], *y = &w->ns[b];
    if (x->count != y->count)
        return x->count > y->count;
    if (x->used != y->used)
        return x->used > y->used;
    return by_name(w, a, b) < 0;
}

static void sift_down(work *w, size_t i, node_order before)
{
    uint32_t *h = w->heap;
    for (;;) {
        size_t best = i, l = 2 * i + 1, r = l + 1;
        if (l < w->nheap && before(w, h[l], h[best]))
            best = l;
        if (r < w->nheap && before(w, h[r], h[best]))
            best = r;
        if (best == i)
            return;
        uint32_t t = h[i];
        h[i] = h[best];
        h[best] = t;
        i = best;
    }
}

static void heapify(work *w, node_order before)
{
    for (size_t i = w->nheap / 2; i-- > 0;)
        sift_down(w, i, before);
}

/* The top node changed (worse, or gone when drop): restore the order. */
static void top_changed(work *w, bool drop, node_order before)
{
    if (drop)
        w->heap[0] = w->heap[--w->nheap];
    sift_down(w, 0, before);
}

/* ---- one app's view: its replicas per node, its allowed nodes */

static void touch(work *w, uint32_t i)
{
    if (!w->ns[i].touched) {
        w->ns[i].touched = true;
        w->touched[w->ntouched++] = i;
    }
}

static void load_app(work *w, size_t a)
{
    const sched_request *req = &w->apps[a];
    for (size_t e = w->first[a]; e < w->first[a + 1]; e++) {
        touch(w, w->entries[e].node);
        w->ns[w->entries[e].node].count += w->entries[e].replicas;
    }
    w->restricted = req->nnodes > 0;
    for (size_t k = 0; k < req->nnodes; k++) {
        int64_t i = find_node(w, req->nodes[k]);
        if (i >= 0) {
            touch(w, (uint32_t)i);
            w->ns[i].allowed = true;
        }
    }
}

/* Write the counts left back as app a's holdings, for the next phase. */
static void store_counts(work *w, size_t a)
{
    for (size_t e = w->first[a]; e < w->first[a + 1]; e++) {
        uint32_t i = w->entries[e].node;
        w->entries[e].replicas = w->ns[i].count;
        w->ns[i].count = 0;   /* a second entry for the node gets 0 */
    }
}

static void unload_app(work *w)
{
    for (size_t k = 0; k < w->ntouched; k++) {
        node_state *s = &w->ns[w->touched[k]];
        s->count = s->removed = 0;
        s->allowed = s->touched = false;
    }
    w->ntouched = 0;
    w->restricted = false;
}

/* ---- phase 1: removals */

static int removal_order(const void *a, const void *b)
{
    const sched_removal *x = a, *y = b;
    return x->node < y->node ? -1 : x->node > y->node;
}

static void add_removal(sched_plan *plan, uint32_t node, uint32_t n, sched_removal_reason why)
{
    plan->remove[plan->nremove++] = (sched_removal){.node = node, .replicas = n, .why = why};
}

/* Remove replicas until kept (more than wanted) is what is wanted. */
static void scale_down(work *w, const sched_request *req, uint64_t kept, sched_plan *plan)
{
    w->nheap = 0;
    for (size_t k = 0; k < w->ntouched; k++)
        if (w->ns[w->touched[k]].count > 0)
            w->heap[w->nheap++] = w->touched[k];
    heapify(w, remove_before);
    for (; kept > req->replicas; kept--) {
        uint32_t i = w->heap[0];
        w->ns[i].count--;
        w->ns[i].removed++;
        release(w, i, 1, req);
        top_changed(w, w->ns[i].count == 0, remove_before);
    }
    for (size_t k = 0; k < w->ntouched; k++)
        if (w->ns[w->touched[k]].removed)
            add_removal(plan, w->touched[k], w->ns[w->touched[k]].removed, SCHED_SCALE_DOWN);
}

static bool plan_removals(work *w, size_t a, sched_plan *plan, sched_error *err)
{
    const sched_request *req = &w->apps[a];
    load_app(w, a);
    plan->wanted = req->replicas;
    plan->remove = malloc((w->ntouched ? w->ntouched : 1) * sizeof *plan->remove);
    if (!plan->remove) {
        unload_app(w);
        return fail(err, "out of memory");
    }
    uint64_t kept = 0;  /* wide: a node's replicas are each capped, not their sum */
    for (size_t k = 0; k < w->ntouched; k++) {
        uint32_t i = w->touched[k];
        uint32_t n = w->ns[i].count;
        if (n == 0)
            continue;
        if (w->nodes[i].status != SCHED_NODE_READY) {
            add_removal(plan, i, n, SCHED_NODE_IS_DOWN);
            w->ns[i].count = 0;
        } else if (!is_allowed(w, i)) {
            add_removal(plan, i, n, SCHED_NOT_ALLOWED);
            release(w, i, n, req);
            w->ns[i].count = 0;
        } else {
            kept += n;
        }
    }
    if (kept > req->replicas)
        scale_down(w, req, kept, plan);
    plan->kept = kept < req->replicas ? (uint32_t)kept : req->replicas;
    qsort(plan->remove, plan->nremove, sizeof *plan->remove, removal_order);
    store_counts(w, a);
    unload_app(w);
    return true;
}

/* ---- phase 2: placements */

static void explain(work *w, const sched_request *req, sched_plan *plan)
{
    sched_reason_node *list = malloc(((size_t)w->n + req->nnodes) * sizeof *list);
    size_t n = 0;
    if (!list) {
        snprintf(plan->reason, sizeof plan->reason, "%u of %u placed (out of memory explaining why)",
                 plan->kept + plan->placed, plan->wanted);
        return;
    }
    for (uint32_t i = 0; i < w->n; i++) {
        sched_reason_node *r = &list[n++];
        *r = (sched_reason_node){.name = w->nodes[i].name,
                                 .memory_free = w->ns[i].memory_free,
                                 .cpu_free = w->ns[i].cpu_free};
        if (!is_allowed(w, i))
            r->why = SCHED_WHY_NOT_ALLOWED;
        else if (w->nodes[i].status != SCHED_NODE_READY)
            r->why = SCHED_WHY_DOWN;
        else if (w->ns[i].memory_free < req->memory)
            r->why = w->ns[i].cpu_free < req->cpu ? SCHED_WHY_SHORT_BOTH : SCHED_WHY_SHORT_MEMORY;
        else
            r->why = SCHED_WHY_SHORT_CPU;
    }
    for (size_t k = 0; k < req->nnodes; k++)
        if (find_node(w, req->nodes[k]) < 0)
            list[n++] = (sched_reason_node){.name = req->nodes[k], .why = SCHED_WHY_UNKNOWN};
    sched_reason_write(plan->reason, sizeof plan->reason, req->memory, req->cpu, plan->kept + plan->placed,
                       plan->wanted, list, n);
    free(list);
}

static bool plan_placements(work *w, size_t a, sched_plan *plan, sched_error *err)
{
    const sched_request *req = &w->apps[a];
    uint32_t need = req->replicas > plan->kept ? req->replicas - plan->kept : 0;
    plan->complete = need == 0;
    if (need == 0)
        return true;
    plan->place = malloc((size_t)need * sizeof *plan->place);
    if (!plan->place)
        return fail(err, "out of memory");
    load_app(w, a);
    w->nheap = 0;
    if (w->restricted) {
        for (size_t k = 0; k < w->ntouched; k++)
            if (fits(w, w->touched[k], req))
                w->heap[w->nheap++] = w->touched[k];
    } else {
        for (uint32_t i = 0; i < w->n; i++)
            if (fits(w, i, req))
                w->heap[w->nheap++] = i;
    }
    heapify(w, place_before);
    while (plan->placed < need && w->nheap > 0) {
        uint32_t i = w->heap[0];
        plan->place[plan->placed++] = i;
        w->ns[i].count++;
        w->ns[i].memory_free -= req->memory;
        w->ns[i].cpu_free -= req->cpu;
        update_used(w, i);
        top_changed(w, !fits(w, i, req), place_before);
    }
    plan->complete = plan->placed == need;
    if (!plan->complete)
        explain(w, req, plan);
    unload_app(w);
    return true;
}

/* ---- checking the input, grouping holdings by app */

static bool check_request(const sched_request *req, sched_error *err)
{
    if (!req->app || !*req->app)
        return fail(err, "a request has no app name");
    if (req->replicas > SCHED_MAX_REPLICAS)
        return fail(err, "%s: %u replicas wanted, more than the %u allowed", req->app, req->replicas,
                    SCHED_MAX_REPLICAS);
    if (req->nnodes && !req->nodes)
        return fail(err, "%s: %zu allowed nodes but no names", req->app, req->nnodes);
    for (size_t k = 0; k < req->nnodes; k++)
        if (!req->nodes[k] || !*req->nodes[k])
            return fail(err, "%s: allowed node %zu has no name", req->app, k);
    return true;
}

/* An app name and its request's index, to find requests by name. */
typedef struct app_index {
    const char *app;
    uint32_t request;
} app_index;

static int app_order(const void *a, const void *b)
{
    return strcmp(((const app_index *)a)->app, ((const app_index *)b)->app);
}

/* The index of the request for app, or -1. */
static int64_t find_app(const app_index *sorted, size_t n, const char *app)
{
    app_index key = {.app = app};
    const app_index *hit = bsearch(&key, sorted, n, sizeof *sorted, app_order);
    return hit ? (int64_t)hit->request : -1;
}

/* Group the snapshot's holdings of the requested apps by app (two passes:
 * count, then fill). */
static bool group_holdings(work *w, sched_error *err)
{
    app_index *sorted = malloc((w->napps ? w->napps : 1) * sizeof *sorted);
    w->first = calloc(w->napps + 2, sizeof *w->first);
    if (!sorted || !w->first) {
        free(sorted);
        return fail(err, "out of memory");
    }
    for (uint32_t a = 0; a < w->napps; a++)
        sorted[a] = (app_index){w->apps[a].app, a};
    qsort(sorted, w->napps, sizeof *sorted, app_order);
    bool ok = true;
    for (size_t k = 1; ok && k < w->napps; k++)
        if (strcmp(sorted[k - 1].app, sorted[k].app) == 0)
            ok = fail(err, "app %s is requested twice", sorted[k].app);
    size_t total = 0;
    for (int pass = 0; ok && pass < 2; pass++) {
        for (uint32_t i = 0; ok && i < w->n; i++) {
            const sched_node *node = &w->nodes[i];
            if (node->nholdings && !node->holdings)
                ok = fail(err, "node %s has %zu holdings but no array", node->name, node->nholdings);
            for (size_t h = 0; ok && h < node->nholdings; h++) {
                const sched_holding *hold = &node->holdings[h];
                if (!hold->app)
                    ok = fail(err, "node %s holds replicas of an app without a name", node->name);
                else if (hold->replicas > SCHED_MAX_REPLICAS)
                    ok = fail(err, "node %s holds %u replicas of %s, more than the %u allowed", node->name,
                              hold->replicas, hold->app, SCHED_MAX_REPLICAS);
                if (!ok)
                    break;
                int64_t a = hold->replicas ? find_app(sorted, w->napps, hold->app) : -1;
                if (a < 0)
                    continue;
                if (pass == 0)
                    w->first[a + 2]++;
                else
                    w->entries[w->first[a + 1]++] = (holding_entry){i, hold->replicas};
            }
        }
        if (ok && pass == 0) {
            /* first[a + 2] counts app a: prefix sums leave first[a + 1] at
             * app a's start, which the fill pass advances to its end. */
            for (size_t a = 0; a < w->napps; a++)
                w->first[a + 2] += w->first[a + 1];
            total = w->first[w->napps + 1];
            w->entries = malloc((total ? total : 1) * sizeof *w->entries);
            if (!w->entries)
                ok = fail(err, "out of memory");
        }
    }
    free(sorted);
    return ok;
}

/* ---- the entry points */

static void work_free(work *w)
{
    free(w->ns);
    free(w->slots);
    free(w->heap);
    free(w->touched);
    free(w->first);
    free(w->entries);
}

static bool work_init(work *w, const sched_snapshot *snap, const sched_request *apps, size_t napps,
                      sched_error *err)
{
    *w = (work){.nodes = snap->nodes, .apps = apps, .napps = napps};
    if (snap->nnodes && !snap->nodes)
        return fail(err, "the snapshot has %zu nodes but no array", snap->nnodes);
    if (snap->nnodes >= UINT32_MAX || napps >= UINT32_MAX)
        return fail(err, "the snapshot has %zu nodes and %zu apps, too many", snap->nnodes, napps);
    w->n = (uint32_t)snap->nnodes;
    size_t n = w->n ? w->n : 1;
    w->ns = calloc(n, sizeof *w->ns);
    w->heap = malloc(n * sizeof *w->heap);
    w->touched = malloc(n * sizeof *w->touched);
    if (!w->ns || !w->heap || !w->touched)
        return fail(err, "out of memory");
    if (!index_names(w, err))
        return false;
    for (uint32_t i = 0; i < w->n; i++) {
        const sched_node *node = &w->nodes[i];
        w->ns[i].memory_free = free_of(node->memory_capacity, node->memory_used);
        w->ns[i].cpu_free = free_of(node->cpu_capacity, node->cpu_used);
        update_used(w, i);
    }
    for (size_t a = 0; a < napps; a++)
        if (!check_request(&apps[a], err))
            return false;
    return group_holdings(w, err);
}

bool sched_reconcile(const sched_snapshot *snap, const sched_request *apps, size_t napps, sched_plan *plans,
                     sched_error *err)
{
    if (err)
        err->message[0] = '\0';
    for (size_t a = 0; a < napps; a++)
        plans[a] = (sched_plan){0};
    work w;
    bool ok = work_init(&w, snap, apps, napps, err);
    for (size_t a = 0; ok && a < napps; a++)
        ok = plan_removals(&w, a, &plans[a], err);
    for (size_t a = 0; ok && a < napps; a++)
        ok = plan_placements(&w, a, &plans[a], err);
    work_free(&w);
    if (!ok)
        for (size_t a = 0; a < napps; a++)
            sched_plan_free(&plans[a]);
    return ok;
}

bool sched_place(const sched_snapshot *snap, const sched_request *req, sched_plan *plan, sched_error *err)
{
    return sched_reconcile(snap, req, 1, plan, err);
}

void sched_plan_free(sched_plan *plan)
{
    free(plan->place);
    free(plan->remove);
    plan->place = NULL;
    plan->remove = NULL;
    plan->placed = 0;
    plan->nremove = 0;
}
