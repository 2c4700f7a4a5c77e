/*
 * host.c — the `spectest` host module (see host.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "host.h"
#include "values.h"

#define HOST_MODULE "spectest"

typedef struct print_func {
    const char *name;
    qv_functype type;
} print_func;

static const qv_valtype t_i32[] = {QV_I32}, t_i64[] = {QV_I64}, t_f32[] = {QV_F32}, t_f64[] = {QV_F64},
                        t_i32_f32[] = {QV_I32, QV_F32}, t_f64_f64[] = {QV_F64, QV_F64};

static const print_func print_funcs[] = {
    {"print", {0, 0, NULL}},
    {"print_i32", {1, 0, t_i32}},
    {"print_i64", {1, 0, t_i64}},
    {"print_f32", {1, 0, t_f32}},
    {"print_f64", {1, 0, t_f64}},
    {"print_i32_f32", {2, 0, t_i32_f32}},
    {"print_f64_f64", {2, 0, t_f64_f64}},
};

static qv_trap *print_quietly(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller, (void)env, (void)args, (void)results;
    return NULL;
}

static qv_trap *print_args(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller, (void)results;
    const print_func *f = env;
    printf(HOST_MODULE ".%s(", f->name);
    for (uint32_t i = 0; i < f->type.nparams; i++) {
        char buf[96];
        spec_format_value(&args[i], buf, sizeof buf);
        printf("%s%s", i ? ", " : "", buf);
    }
    printf(")\n");
    return NULL;
}

static bool define_globals(qv_linker *linker, qv_store *store, char *why, size_t why_size)
{
    const struct {
        const char *name;
        qv_val value;
    } globals[] = {
        {"global_i32", qv_i32(666)},
        {"global_i64", qv_i64(666)},
        {"global_f32", qv_f32_bits(0x4426A666u)},           /* 666.6f */
        {"global_f64", qv_f64_bits(0x4084D4CCCCCCCCCDull)}, /* 666.6 */
    };
    for (size_t i = 0; i < sizeof globals / sizeof *globals; i++) {
        qv_error err = {0};
        qv_global *g = qv_global_new(store, globals[i].value, false, &err);
        if (!g) {
            snprintf(why, why_size, "cannot create " HOST_MODULE ".%s: %s", globals[i].name, err.message);
            return false;
        }
        qv_linker_define(linker, HOST_MODULE, globals[i].name,
                         (qv_extern){.kind = QV_EXTERN_GLOBAL, .of.global = g});
    }
    return true;
}

bool spec_define_host(qv_linker *linker, qv_store *store, bool verbose, char *why, size_t why_size)
{
    for (size_t i = 0; i < sizeof print_funcs / sizeof *print_funcs; i++) {
        const print_func *f = &print_funcs[i];
        if (!qv_linker_define_func(linker, HOST_MODULE, f->name, f->type, verbose ? print_args : print_quietly,
                                   (void *)f)) {
            snprintf(why, why_size, "cannot define " HOST_MODULE ".%s", f->name);
            return false;
        }
    }
    if (!define_globals(linker, store, why, why_size)) return false;

    qv_error err = {0};
    qv_table *table = qv_table_new(store, QV_FUNCREF, (qv_limits){10, 20, true}, qv_funcref(NULL), &err);
    if (!table) {
        snprintf(why, why_size, "cannot create " HOST_MODULE ".table: %s", err.message);
        return false;
    }
    qv_linker_define(linker, HOST_MODULE, "table", (qv_extern){.kind = QV_EXTERN_TABLE, .of.table = table});

    qv_memory *memory = qv_memory_new(store, (qv_limits){1, 2, true}, &err);
    if (!memory) {
        snprintf(why, why_size, "cannot create " HOST_MODULE ".memory: %s", err.message);
        return false;
    }
    qv_linker_define(linker, HOST_MODULE, "memory", (qv_extern){.kind = QV_EXTERN_MEMORY, .of.memory = memory});
    return true;
}
