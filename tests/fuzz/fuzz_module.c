/*
 * fuzz_module.c — libFuzzer harness: any input goes through decode,
 * validation and translation; valid modules are instantiated with every
 * import satisfied by a stand-in of the right kind, and every exported
 * function is called with zero arguments under a fuel limit. Any crash,
 * sanitizer report, leak or hang is a bug.
 */
#include <stdlib.h>
#include <string.h>

#include "qyvol/wasm.h"

static qv_trap *zero_results(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller;
    (void)args;
    const qv_functype *t = env;
    for (uint32_t i = 0; i < t->nresults; i++) memset(&results[i].of, 0, sizeof results[i].of);
    return NULL;
}

/* A stand-in for import i, or false if the API cannot describe it. */
static bool stand_in(qv_store *s, const qv_module *m, size_t i, qv_functype *types, qv_extern *out)
{
    qv_externkind kind;
    qv_module_import(m, i, NULL, NULL, &kind);
    out->kind = kind;
    switch (kind) {
    case QV_EXTERN_FUNC:
        types[i] = qv_module_import_functype(m, i);
        out->of.func = qv_func_new(s, types[i], zero_results, &types[i], NULL);
        return out->of.func != NULL;
    case QV_EXTERN_MEMORY:
        out->of.memory = qv_memory_new(s, qv_module_import_limits(m, i), NULL);
        return out->of.memory != NULL; /* NULL: over the store's limit */
    case QV_EXTERN_TABLE: {
        qv_valtype elem = qv_module_import_table_elem(m, i);
        qv_val null = {.type = elem};
        out->of.table = qv_table_new(s, elem, qv_module_import_limits(m, i), null, NULL);
        return out->of.table != NULL;
    }
    case QV_EXTERN_GLOBAL: {
        bool mut;
        qv_val zero = {.type = qv_module_import_global(m, i, &mut)};
        if (zero.type == QV_V128) return false;
        out->of.global = qv_global_new(s, zero, mut, NULL);
        return out->of.global != NULL;
    }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qv_error err;
    qv_module *m = qv_module_new(data, size, &err);
    if (!m) return 0;
    /* A memory budget of 16 pages and a little: less than they and the
     * tables could take together, so that running past it is explored
     * too. It must hold throughout. */
    qv_store_limits limits = {.max_memory_pages = 16, .max_table_elems = 10000, .max_call_depth = 500,
                              .value_stack_slots = 1 << 16, .max_bytes = (1 << 20) + (64 << 10)};
    qv_store *s = qv_store_new(&limits);
    size_t n = qv_module_import_count(m);
    qv_extern *imports = calloc(n + 1, sizeof *imports);
    qv_functype *types = calloc(n + 1, sizeof *types);
    bool ok = s && imports && types;
    for (size_t i = 0; ok && i < n; i++) ok = stand_in(s, m, i, types, &imports[i]);
    if (ok) {
        qv_store_set_fuel(s, 100000);
        qv_trap *trap = NULL;
        qv_instance *inst = qv_instance_new(s, m, imports, n, &trap, &err);
        qv_trap_delete(trap);
        for (size_t e = 0; inst && e < qv_instance_export_count(inst); e++) {
            qv_extern ext;
            qv_instance_export_at(inst, e, &ext);
            if (ext.kind != QV_EXTERN_FUNC) continue;
            qv_functype t = qv_func_type(ext.of.func);
            qv_val *vals = calloc(t.nparams + t.nresults + 1, sizeof *vals);
            if (!vals) break;
            for (uint32_t k = 0; k < t.nparams; k++) vals[k].type = t.types[k];
            qv_store_set_fuel(s, 100000);
            qv_trap_delete(qv_func_call(s, ext.of.func, vals, t.nparams, vals + t.nparams, t.nresults));
            free(vals);
        }
    }
    if (s && qv_store_bytes(s) > limits.max_bytes) abort();
    free(imports);
    free(types);
    qv_store_delete(s);
    qv_module_delete(m);
    return 0;
}
