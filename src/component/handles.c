/*
 * handles.c — resource handle tables (one per component instance), lends
 * of own handles to calls, and the resource.new / resource.drop /
 * resource.rep core functions, with the traps CanonicalABI.md gives for
 * invalid indices, wrong types and handles still lent out.
 */
#include <stdlib.h>
#include <string.h>

#include "component/runtime.h"

#define MAX_HANDLES (1u << 28)

cm_restype *cm_rtype(const cm_inst *inst, const cm_type *r)
{
    if (!r || r->kind != CM_RESOURCE) return NULL;
    if (r->host) return (cm_restype *)r->host;
    return inst->root->rtypes[r->rid];
}

uint32_t cm_table_add(cm_cx *cx, cm_table *t, cm_handle h)
{
    uint32_t i = t->free_head;
    if (i) {
        t->free_head = (uint32_t)(uintptr_t)t->at[i].rep;
    } else {
        if (t->n == 0) t->n = 1; /* index 0 is never a handle */
        if (t->n >= MAX_HANDLES) return cm_trap(cx, "too many handles (%u)", t->n), 0;
        if (t->n >= t->cap) {
            uint32_t cap = t->cap ? t->cap * 2 : 16;
            cm_handle *grown = realloc(t->at, cap * sizeof *grown);
            if (!grown) return cm_trap(cx, "out of memory for handles"), 0;
            memset(grown + t->cap, 0, (cap - t->cap) * sizeof *grown);
            t->at = grown;
            t->cap = cap;
        }
        i = t->n++;
    }
    t->at[i] = h;
    return i;
}

cm_handle *cm_table_get(cm_cx *cx, cm_table *t, uint32_t i)
{
    if (i == 0 || i >= t->n || !t->at[i].rt) return cm_trap(cx, "unknown handle index %u", i), NULL;
    return &t->at[i];
}

void cm_table_remove(cm_table *t, uint32_t i)
{
    t->at[i] = (cm_handle){.rep = (void *)(uintptr_t)t->free_head};
    t->free_head = i;
}

/* Run a resource's destructor on its representation. */
static qv_trap *destroy(qv_store *store, cm_restype *rt, void *rep)
{
    if (rt->dtor) rt->dtor(rt->env, rep);
    if (rt->guest_dtor) {
        qv_val arg = qv_i32((int32_t)(uintptr_t)rep);
        return qv_func_call(store, rt->guest_dtor, &arg, 1, NULL, 0);
    }
    return NULL;
}

void cm_table_free(cm_table *t, qv_store *store)
{
    for (uint32_t i = 1; i < t->n; i++) {
        cm_handle *h = &t->at[i];
        if (h->rt && h->own && !h->rt->guest_dtor) {
            qv_trap *tr = destroy(store, h->rt, h->rep);
            if (tr) qv_trap_delete(tr);
        }
    }
    free(t->at);
    memset(t, 0, sizeof *t);
}

void cm_cx_end(cm_cx *cx)
{
    for (uint32_t i = 0; i < cx->nlent; i++) {
        cm_handle *h = &cx->inst->table.at[cx->lent[i]];
        if (h->rt && h->lends) h->lends--;
    }
    cx->nlent = 0;
}

void cm_cx_drop_borrows(cm_cx *cx)
{
    if (!cx->borrows) return;
    cm_table *t = &cx->inst->table;
    for (uint32_t i = 1; i < t->n; i++)
        if (t->at[i].rt && !t->at[i].own && t->at[i].scope == cx) cm_table_remove(t, i);
    cx->borrows = 0;
}

qv_trap *cm_resource_new(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    cm_res_env *e = env;
    cm_ropts none = {0};
    cm_cx cx = {.inst = e->inst, .opts = &none};
    cm_handle h = {.rt = cm_rtype(e->inst, e->res), .rep = (void *)(uintptr_t)(uint32_t)args[0].of.i32, .own = true};
    uint32_t i = cm_table_add(&cx, &e->inst->table, h);
    results[0] = qv_i32((int32_t)i);
    return cx.trap;
}

qv_trap *cm_resource_rep(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    cm_res_env *e = env;
    cm_ropts none = {0};
    cm_cx cx = {.inst = e->inst, .opts = &none};
    uint32_t i = (uint32_t)args[0].of.i32;
    cm_handle *h = cm_table_get(&cx, &e->inst->table, i);
    if (h && h->rt != cm_rtype(e->inst, e->res)) cm_trap(&cx, "resource.rep: handle %u is a %s, not a %s", i, h->rt->name, e->res->name);
    if (cx.trap) return cx.trap;
    results[0] = qv_i32((int32_t)(uintptr_t)h->rep);
    return NULL;
}

qv_trap *cm_resource_drop(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    cm_res_env *e = env;
    cm_ropts none = {0};
    cm_cx cx = {.inst = e->inst, .opts = &none};
    uint32_t i = (uint32_t)args[0].of.i32;
    cm_handle *h = cm_table_get(&cx, &e->inst->table, i);
    if (!h) return cx.trap;
    cm_restype *rt = cm_rtype(e->inst, e->res);
    if (h->rt != rt)
        return qv_trap_new(QV_TRAP_HOST, "resource.drop: the handle is of another resource type");
    if (h->own && h->lends) return qv_trap_new(QV_TRAP_HOST, "resource.drop: the handle is still lent out");
    cm_handle copy = *h;
    cm_table_remove(&e->inst->table, i);
    if (!copy.own) {
        if (copy.scope && copy.scope->borrows) copy.scope->borrows--;
        return NULL;
    }
    return destroy(qv_caller_store(caller), copy.rt, copy.rep);
}
