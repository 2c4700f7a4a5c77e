/*
 * func.c — host functions, calls with typed values, and the conversions
 * between qv_val and the interpreter's slots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

const char *qv_valtype_name(qv_valtype t)
{
    switch (t) {
    case QV_I32: return "i32";
    case QV_I64: return "i64";
    case QV_F32: return "f32";
    case QV_F64: return "f64";
    case QV_V128: return "v128";
    case QV_FUNCREF: return "funcref";
    case QV_EXTERNREF: return "externref";
    }
    return "unknown";
}

void qe_val_to_slots(const qv_val *v, qe_slot *slots)
{
    switch (v->type) {
    case QV_I32: slots[0].i64 = (uint32_t)v->of.i32; break;
    case QV_I64: slots[0].i64 = (uint64_t)v->of.i64; break;
    case QV_F32: slots[0].i64 = v->of.f32_bits; break;
    case QV_F64: slots[0].i64 = v->of.f64_bits; break;
    case QV_V128: memcpy(slots, v->of.v128, 16); break;
    case QV_FUNCREF: slots[0].ref = v->of.funcref; break;
    case QV_EXTERNREF: slots[0].ref = v->of.externref; break;
    }
}

qv_val qe_slots_to_val(uint8_t type, const qe_slot *slots)
{
    qv_val v;
    memset(&v, 0, sizeof v);
    v.type = (qv_valtype)type;
    switch (type) {
    case QE_I32: v.of.i32 = (int32_t)slots[0].i32; break;
    case QE_I64: v.of.i64 = (int64_t)slots[0].i64; break;
    case QE_F32: v.of.f32_bits = slots[0].i32; break;
    case QE_F64: v.of.f64_bits = slots[0].i64; break;
    case QE_V128: memcpy(v.of.v128, slots, 16); break;
    case QE_FUNCREF: v.of.funcref = slots[0].ref; break;
    case QE_EXTERNREF: v.of.externref = slots[0].ref; break;
    }
    return v;
}

qv_func *qv_func_new(qv_store *store, qv_functype type, qv_host_fn fn, void *env, void (*finalize)(void *))
{
    /* One allocation: the function, then its types in both encodings (a
     * server makes a few of these per request). */
    size_t n = (size_t)type.nparams + type.nresults;
    if (!qv_store_charge(store, sizeof(qv_func) + n * sizeof(qv_valtype) + n)) return NULL;
    qv_func *f = calloc(1, sizeof *f + n * sizeof(qv_valtype) + n);
    if (!f) return NULL;
    qv_valtype *wide = (qv_valtype *)(f + 1);
    uint8_t *types = (uint8_t *)(wide + n);
    for (size_t i = 0; i < n; i++) {
        types[i] = (uint8_t)type.types[i];
        wide[i] = type.types[i];
    }
    f->own_type.api_types = wide;
    f->kind = QE_FUNC_HOST;
    f->own_type.types = types;
    f->own_type.nparams = type.nparams;
    f->own_type.nresults = type.nresults;
    f->own_type.id = qe_functype_intern(types, type.nparams, type.nresults);
    f->type = &f->own_type;
    f->type_id = f->own_type.id;
    f->store = store;
    f->host = fn;
    f->env = env;
    f->finalize = finalize;
    if (!qe_store_track(store, QE_EXT_FUNC, f)) {
        free(f);
        return NULL;
    }
    return f;
}

qv_functype qv_func_type(const qv_func *f)
{
    qv_functype r = {f->type->nparams, f->type->nresults, f->type->api_types};
    return r;
}

qv_trap *qe_call_host(qv_store *store, qv_instance *caller, qv_func *f, const qe_slot *args, qe_slot *results)
{
    const qe_functype *t = f->type;
    qv_val argv_small[16], resv_small[16];
    qv_val *argv = t->nparams <= 16 ? argv_small : malloc(sizeof(qv_val) * t->nparams);
    qv_val *resv = t->nresults <= 16 ? resv_small : malloc(sizeof(qv_val) * t->nresults);
    if (!argv || !resv) {
        if (argv != argv_small) free(argv);
        if (resv != resv_small) free(resv);
        return qv_trap_new(QV_TRAP_HOST, "out of memory calling a host function");
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->nparams; i++) {
        argv[i] = qe_slots_to_val(qe_params(t)[i], args + k);
        k += qe_slots_of(qe_params(t)[i]);
    }
    for (uint32_t i = 0; i < t->nresults; i++) {
        memset(&resv[i], 0, sizeof resv[i]);
        resv[i].type = (qv_valtype)qe_results(t)[i];
    }
    qv_caller c = {store, caller};
    qv_trap *trap = f->host(&c, f->env, argv, resv);
    if (!trap) {
        k = 0;
        for (uint32_t i = 0; i < t->nresults; i++) {
            if ((uint8_t)resv[i].type != qe_results(t)[i]) {
                trap = qv_trap_new(QV_TRAP_HOST, "host function returned a value of the wrong type");
                break;
            }
            qe_val_to_slots(&resv[i], results + k);
            k += qe_slots_of(qe_results(t)[i]);
        }
    }
    if (argv != argv_small) free(argv);
    if (resv != resv_small) free(resv);
    return trap;
}

qv_trap *qv_func_call(qv_store *store, qv_func *f, const qv_val *args, size_t nargs, qv_val *results,
                      size_t nresults)
{
    const qe_functype *t = f->type;
    char msg[160];
    if (nargs != t->nparams || nresults < t->nresults) {
        snprintf(msg, sizeof msg, "wrong number of arguments or results: function takes %u and returns %u",
                 t->nparams, t->nresults);
        return qv_trap_new(QV_TRAP_HOST, msg);
    }
    uint32_t nslots = 0, rslots = 0;
    for (uint32_t i = 0; i < t->nparams; i++) {
        if ((uint8_t)args[i].type != qe_params(t)[i]) {
            snprintf(msg, sizeof msg, "argument %u: expected %s, got %s", i,
                     qv_valtype_name((qv_valtype)qe_params(t)[i]), qv_valtype_name(args[i].type));
            return qv_trap_new(QV_TRAP_HOST, msg);
        }
        nslots += qe_slots_of(qe_params(t)[i]);
    }
    for (uint32_t i = 0; i < t->nresults; i++) rslots += qe_slots_of(qe_results(t)[i]);
    qe_slot in_small[32] = {{0}}, out_small[32];
    qe_slot *in = nslots <= 32 ? in_small : malloc(sizeof(qe_slot) * nslots);
    qe_slot *out = rslots <= 32 ? out_small : malloc(sizeof(qe_slot) * rslots);
    qv_trap *trap = NULL;
    if (!in || !out) {
        trap = qv_trap_new(QV_TRAP_HOST, "out of memory");
        goto done;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < t->nparams; i++) {
        qe_val_to_slots(&args[i], in + k);
        k += qe_slots_of(qe_params(t)[i]);
    }
    trap = qe_invoke(store, f, in, out);
    if (!trap) {
        k = 0;
        for (uint32_t i = 0; i < t->nresults; i++) {
            results[i] = qe_slots_to_val(qe_results(t)[i], out + k);
            k += qe_slots_of(qe_results(t)[i]);
        }
    }
done:
    if (in != in_small) free(in);
    if (out != out_small) free(out);
    return trap;
}

qv_memory *qv_caller_memory(qv_caller *c) { return c->inst ? c->inst->mem0 : NULL; }
qv_store *qv_caller_store(qv_caller *c) { return c->store; }
qv_instance *qv_caller_instance(qv_caller *c) { return c->inst; }
