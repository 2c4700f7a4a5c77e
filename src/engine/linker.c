/*
 * linker.c — resolving imports by (module, name).
 *
 * Host functions defined by qv_linker_define_func are made into qv_func
 * objects only when an import (or qv_linker_get) asks for them: a WASI
 * context defines some fifty functions per store, a module imports a
 * handful, and a server making a store per request must not pay for the
 * rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

typedef struct binding {
    struct binding *next;
    char *module, *name;       /* point into strings[] */
    uint32_t hash;             /* hash2(module, name) */
    qv_extern ext;             /* ext.of.func is NULL until made, for lazy ones */
    bool lazy;                 /* a host function to make on first use: */
    qv_host_fn fn;
    void *env;
    uint32_t nparams, nresults;
    qv_valtype types[16];      /* params then results (host functions have few) */
    char strings[];
} binding;

struct qv_linker {
    qv_store *store;
    binding **buckets;
    uint32_t nbuckets, count;
};

static uint32_t hash2(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (; *a; a++) h = (h ^ (uint8_t)*a) * 16777619u;
    h = (h ^ 0xFF) * 16777619u;
    for (; *b; b++) h = (h ^ (uint8_t)*b) * 16777619u;
    return h;
}

qv_linker *qv_linker_new(qv_store *store)
{
    qv_linker *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->store = store;
    l->nbuckets = 128; /* WASI alone defines ~100 names */
    l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
    if (!l->buckets) {
        free(l);
        return NULL;
    }
    return l;
}

void qv_linker_delete(qv_linker *l)
{
    if (!l) return;
    for (uint32_t i = 0; i < l->nbuckets; i++)
        for (binding *b = l->buckets[i], *next; b; b = next) {
            next = b->next;
            free(b);
        }
    free(l->buckets);
    free(l);
}

static binding *find_hashed(const qv_linker *l, uint32_t h, const char *module, const char *name)
{
    for (binding *b = l->buckets[h & (l->nbuckets - 1)]; b; b = b->next)
        if (b->hash == h && strcmp(b->name, name) == 0 && strcmp(b->module, module) == 0) return b;
    return NULL;
}

static binding *find(const qv_linker *l, const char *module, const char *name)
{
    return find_hashed(l, hash2(module, name), module, name);
}

static void rehash(qv_linker *l)
{
    uint32_t n = l->nbuckets * 2;
    binding **nb = calloc(n, sizeof *nb);
    if (!nb) return; /* keep the smaller table: still correct */
    for (uint32_t i = 0; i < l->nbuckets; i++)
        for (binding *b = l->buckets[i], *next; b; b = next) {
            next = b->next;
            uint32_t k = b->hash & (n - 1);
            b->next = nb[k];
            nb[k] = b;
        }
    free(l->buckets);
    l->buckets = nb;
    l->nbuckets = n;
}

/* The binding for (module, name), made if absent; NULL when out of memory. */
static binding *bind(qv_linker *l, const char *module, const char *name)
{
    uint32_t h = hash2(module, name);
    binding *b = find_hashed(l, h, module, name);
    if (b) return b;
    if (l->count >= l->nbuckets) rehash(l);
    size_t nm = strlen(module) + 1, nn = strlen(name) + 1;
    b = malloc(sizeof *b + nm + nn);
    if (!b) return NULL;
    memset(b, 0, sizeof *b);
    b->hash = h;
    b->module = memcpy(b->strings, module, nm);
    b->name = memcpy(b->strings + nm, name, nn);
    uint32_t k = h & (l->nbuckets - 1);
    b->next = l->buckets[k];
    l->buckets[k] = b;
    l->count++;
    return b;
}

void qv_linker_define(qv_linker *l, const char *module, const char *name, qv_extern ext)
{
    binding *b = bind(l, module, name);
    if (!b) return;
    b->ext = ext;
    b->lazy = false;
}

bool qv_linker_define_func(qv_linker *l, const char *module, const char *name, qv_functype type, qv_host_fn fn,
                           void *env)
{
    size_t n = (size_t)type.nparams + type.nresults;
    if (n > sizeof ((binding *)0)->types / sizeof(qv_valtype)) {
        /* Too many types to keep inline: make the function now. */
        qv_func *f = qv_func_new(l->store, type, fn, env, NULL);
        if (!f) return false;
        qv_extern ext = {.kind = QV_EXTERN_FUNC, .of.func = f};
        qv_linker_define(l, module, name, ext);
        return find(l, module, name) != NULL;
    }
    binding *b = bind(l, module, name);
    if (!b) return false;
    b->ext = (qv_extern){.kind = QV_EXTERN_FUNC, .of.func = NULL};
    b->lazy = true;
    b->fn = fn;
    b->env = env;
    b->nparams = type.nparams;
    b->nresults = type.nresults;
    if (n) memcpy(b->types, type.types, n * sizeof *type.types); /* types may be NULL when n is 0 */
    return true;
}

void qv_linker_define_instance(qv_linker *l, const char *module, const qv_instance *inst)
{
    for (uint32_t i = 0; i < inst->nexports; i++) qv_linker_define(l, module, inst->export_names[i], inst->exports[i]);
}

bool qv_linker_get(const qv_linker *l, const char *module, const char *name, qv_extern *out)
{
    binding *b = find(l, module, name);
    if (!b) return false;
    if (b->lazy && !b->ext.of.func) {
        qv_functype type = {b->nparams, b->nresults, b->types};
        b->ext.of.func = qv_func_new(l->store, type, b->fn, b->env, NULL);
        if (!b->ext.of.func) return false;
    }
    if (out) *out = b->ext;
    return true;
}

qv_instance *qv_linker_instantiate(qv_linker *l, const qv_module *module, qv_trap **trap, qv_error *err)
{
    const qe_module *m = module->m;
    if (trap) *trap = NULL;
    qv_extern *imports = calloc(m->nimports + 1, sizeof *imports);
    if (!imports) return NULL;
    for (uint32_t i = 0; i < m->nimports; i++) {
        if (!qv_linker_get(l, m->imports[i].module, m->imports[i].name, &imports[i])) {
            if (err) {
                snprintf(err->message, sizeof err->message, "unknown import: %s.%s", m->imports[i].module,
                         m->imports[i].name);
                err->offset = 0;
                err->func_index = -1;
            }
            free(imports);
            return NULL;
        }
    }
    qv_instance *inst = qv_instance_new(l->store, module, imports, m->nimports, trap, err);
    free(imports);
    return inst;
}
