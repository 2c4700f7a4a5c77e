/*
 * linker.c — resolving imports by (module, name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

typedef struct binding {
    struct binding *next;
    char *module, *name;
    qv_extern ext;
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
    l->nbuckets = 64;
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
            free(b->module);
            free(b->name);
            free(b);
        }
    free(l->buckets);
    free(l);
}

static binding *find(const qv_linker *l, const char *module, const char *name)
{
    for (binding *b = l->buckets[hash2(module, name) & (l->nbuckets - 1)]; b; b = b->next)
        if (strcmp(b->module, module) == 0 && strcmp(b->name, name) == 0) return b;
    return NULL;
}

static void rehash(qv_linker *l)
{
    uint32_t n = l->nbuckets * 2;
    binding **nb = calloc(n, sizeof *nb);
    if (!nb) return; /* keep the smaller table: still correct */
    for (uint32_t i = 0; i < l->nbuckets; i++)
        for (binding *b = l->buckets[i], *next; b; b = next) {
            next = b->next;
            uint32_t k = hash2(b->module, b->name) & (n - 1);
            b->next = nb[k];
            nb[k] = b;
        }
    free(l->buckets);
    l->buckets = nb;
    l->nbuckets = n;
}

void qv_linker_define(qv_linker *l, const char *module, const char *name, qv_extern ext)
{
    binding *b = find(l, module, name);
    if (b) {
        b->ext = ext;
        return;
    }
    if (l->count >= l->nbuckets) rehash(l);
    b = calloc(1, sizeof *b);
    if (!b) return;
    b->module = strdup(module);
    b->name = strdup(name);
    if (!b->module || !b->name) {
        free(b->module);
        free(b->name);
        free(b);
        return;
    }
    b->ext = ext;
    uint32_t k = hash2(module, name) & (l->nbuckets - 1);
    b->next = l->buckets[k];
    l->buckets[k] = b;
    l->count++;
}

bool qv_linker_define_func(qv_linker *l, const char *module, const char *name, qv_functype type, qv_host_fn fn,
                           void *env)
{
    qv_func *f = qv_func_new(l->store, type, fn, env, NULL);
    if (!f) return false;
    qv_extern ext = {.kind = QV_EXTERN_FUNC, .of.func = f};
    qv_linker_define(l, module, name, ext);
    return true;
}

void qv_linker_define_instance(qv_linker *l, const char *module, const qv_instance *inst)
{
    for (uint32_t i = 0; i < inst->nexports; i++) qv_linker_define(l, module, inst->export_names[i], inst->exports[i]);
}

bool qv_linker_get(const qv_linker *l, const char *module, const char *name, qv_extern *out)
{
    binding *b = find(l, module, name);
    if (b && out) *out = b->ext;
    return b != NULL;
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
