/*
 * host.c — the `spectest` host module (see host.h).
 */
#include <stdio.h>

#include "host.h"
#include "values.h"

static qv_trap *print(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)results;
    const qv_functype *type = env;
    bool verbose = qv_store_data(qv_caller_store(caller)) != NULL;
    for (uint32_t i = 0; verbose && i < type->nparams; i++) {
        char buf[64];
        spec_format_value(&args[i], buf, sizeof buf);
        printf("%s%s", i ? " " : "", buf);
    }
    if (verbose) printf("\n");
    return NULL;
}

static const qv_valtype t_i32[] = {QV_I32}, t_i64[] = {QV_I64}, t_f32[] = {QV_F32}, t_f64[] = {QV_F64},
                        t_i32_f32[] = {QV_I32, QV_F32}, t_f64_f64[] = {QV_F64, QV_F64};
static const struct {
    const char *name;
    qv_functype type;
} prints[] = {
    {"print", {0, 0, NULL}},
    {"print_i32", {1, 0, t_i32}},
    {"print_i64", {1, 0, t_i64}},
    {"print_f32", {1, 0, t_f32}},
    {"print_f64", {1, 0, t_f64}},
    {"print_i32_f32", {2, 0, t_i32_f32}},
    {"print_f64_f64", {2, 0, t_f64_f64}},
};

bool spec_define_host(qv_linker *linker, qv_store *store, bool verbose)
{
    qv_store_set_data(store, verbose ? (void *)1 : NULL);
    for (size_t i = 0; i < sizeof prints / sizeof *prints; i++)
        if (!qv_linker_define_func(linker, "spectest", prints[i].name, prints[i].type, print,
                                   (void *)&prints[i].type))
            return false;
    struct {
        const char *name;
        qv_val value;
    } globals[] = {
        {"global_i32", qv_i32(666)},
        {"global_i64", qv_i64(666)},
        {"global_f32", qv_f32_bits(0x4426a666u)},            /* 666.6f */
        {"global_f64", qv_f64_bits(0x4084d4cccccccccdull)},  /* 666.6 */
    };
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++) {
        qv_global *g = qv_global_new(store, globals[i].value, false, NULL);
        if (!g) return false;
        qv_extern ext = {.kind = QV_EXTERN_GLOBAL, .of.global = g};
        qv_linker_define(linker, "spectest", globals[i].name, ext);
    }
    qv_table *table = qv_table_new(store, QV_FUNCREF, (qv_limits){10, 20, true}, qv_funcref(NULL), NULL);
    qv_memory *memory = qv_memory_new(store, (qv_limits){1, 2, true}, NULL);
    if (!table || !memory) return false;
    qv_linker_define(linker, "spectest", "table", (qv_extern){.kind = QV_EXTERN_TABLE, .of.table = table});
    qv_linker_define(linker, "spectest", "memory", (qv_extern){.kind = QV_EXTERN_MEMORY, .of.memory = memory});
    return true;
}
