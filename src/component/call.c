/*
 * call.c — calls across the component boundary. A `canon lower`ed
 * function is a host function of the engine: it lifts its core arguments
 * (flat, or from memory past 16 values), calls the component function
 * (a host function, or a core function another instance lifted), and
 * lowers the result (flat, or into the caller's return area). A lifted
 * function is called with lifted values: they are lowered into its
 * instance (realloc'ing strings and lists there), its result lifted back,
 * then its post-return function runs.
 */
#include <stdio.h>
#include <string.h>

#include "component/runtime.h"

struct qv_ccall {
    cm_cx *cx;
    qv_store *store;
};

void *qv_ccall_alloc(qv_ccall *call, size_t bytes) { return cm_alloc(call->cx->values, bytes); }
qv_store *qv_ccall_store(qv_ccall *call) { return call->store; }
void *qv_ccall_data(qv_ccall *call) { return call->cx->inst->root->data; }

static uint64_t val_bits(const qv_val *v)
{
    switch (v->type) {
    case QV_I32: return (uint32_t)v->of.i32;
    case QV_I64: return (uint64_t)v->of.i64;
    case QV_F32: return v->of.f32_bits;
    case QV_F64: return v->of.f64_bits;
    default: return 0;
    }
}

static qv_val bits_val(qv_valtype t, uint64_t b)
{
    switch (t) {
    case QV_I64: return qv_i64((int64_t)b);
    case QV_F32: return qv_f32_bits((uint32_t)b);
    case QV_F64: return qv_f64_bits(b);
    default: return qv_i32((int32_t)(uint32_t)b);
    }
}

/* The parameters of f as one tuple (for passing them through memory). */
static const cm_type *params_tuple(cm_arena *a, const cm_type *f)
{
    cm_type *t = cm_alloc(a, sizeof *t);
    if (!t) return NULL;
    t->kind = QV_C_TUPLE;
    t->n = f->n;
    t->elems = f->elems;
    cm_type_finish(t);
    return t;
}

/* Copy what points into guest memory (UTF-8 strings, lists of numbers)
 * into the arena: a post-return function may free it. */
static void detach(cm_arena *a, const cm_type *t, qv_cval *v)
{
    if (!t) return;
    switch (t->kind) {
    case QV_C_STRING: {
        char *s = cm_alloc(a, v->of.str.len + 1);
        if (s && v->of.str.len) memcpy(s, v->of.str.ptr, v->of.str.len);
        if (s) v->of.str.ptr = s;
        return;
    }
    case QV_C_LIST:
        if (v->of.list.raw) {
            size_t bytes = v->of.list.n * t->elems[0]->size;
            void *p = cm_alloc(a, bytes ? bytes : 1);
            if (p && bytes) memcpy(p, v->of.list.raw, bytes);
            if (p) v->of.list.raw = p;
        } else {
            for (size_t i = 0; i < v->of.list.n; i++) detach(a, t->elems[0], &v->of.list.items[i]);
        }
        return;
    case QV_C_RECORD: case QV_C_TUPLE:
        for (uint32_t i = 0; i < t->n; i++) detach(a, t->elems[i], &v->of.fields.items[i]);
        return;
    case QV_C_VARIANT: case QV_C_OPTION: case QV_C_RESULT:
        if (v->of.var.payload) detach(a, cm_case_type(t, v->of.var.disc), v->of.var.payload);
        return;
    }
}

static qv_trap *take_trap(cm_cx *cx, qv_trap *t)
{
    if (cx->trap) {
        if (t) qv_trap_delete(t);
        return cx->trap;
    }
    return t;
}

/* Lower args into f's instance, call its core function, lift the result,
 * run post-return. Borrows given to the callee are cx's. */
static qv_trap *call_lifted(cm_cx *cx, cm_func *f, const qv_cval *args, qv_cval *result, cm_arena *values)
{
    cm_inst *callee = f->owner;
    cm_coresig sig;
    cm_core_signature(f->type, false, &sig);
    uint64_t bits[CM_FLAT_CAP + 1];
    uint32_t at = 0;
    if (sig.params_in_memory) {
        const cm_type *tuple = params_tuple(values, f->type);
        uint32_t ptr;
        qv_cval tv = {.kind = QV_C_TUPLE, .of.fields = {(qv_cval *)args, f->type->n}};
        if (!tuple || !cm_realloc(cx, 0, 0, tuple->align, tuple->size, &ptr) || !cm_store(cx, tuple, &tv, ptr))
            return take_trap(cx, NULL);
        bits[at++] = ptr;
    } else {
        for (uint32_t i = 0; i < f->type->n; i++)
            if (!cm_lower_flat(cx, f->type->elems[i], &args[i], bits, &at)) return take_trap(cx, NULL);
    }
    qv_val in[CM_MAX_FLAT_PARAMS + 1], out[1];
    for (uint32_t i = 0; i < sig.nparams; i++) in[i] = bits_val(sig.types[i], bits[i]);
    callee->in_call = true;
    qv_trap *t = qv_func_call(callee->store, f->core, in, sig.nparams, out, sig.nresults);
    callee->in_call = false;
    if (t) return take_trap(cx, t);
    const cm_type *rt = f->type->result;
    if (rt) {
        if (sig.results_in_memory) {
            uint32_t ptr = (uint32_t)out[0].of.i32;
            if (ptr & (rt->align - 1)) return take_trap(cx, qv_trap_new(QV_TRAP_HOST, "the returned pointer is not aligned"));
            if (!cm_load(cx, rt, ptr, result)) return take_trap(cx, NULL);
        } else {
            uint64_t rb = val_bits(&out[0]);
            at = 0;
            if (!cm_lift_flat(cx, rt, &rb, &at, result)) return take_trap(cx, NULL);
        }
        if (f->opts.post_return) detach(values, rt, result);
    }
    if (f->opts.post_return) {
        callee->in_call = true;
        t = qv_func_call(callee->store, f->opts.post_return, out, sig.nresults, NULL, 0);
        callee->in_call = false;
        if (t) return take_trap(cx, t);
    }
    if (cx->borrows) return take_trap(cx, qv_trap_new(QV_TRAP_HOST, "borrowed handles were not dropped before the call returned"));
    return take_trap(cx, NULL);
}

qv_trap *cm_call_func(cm_inst *caller, cm_func *f, const qv_cval *args, qv_cval *result, cm_arena *values)
{
    if (f->host) {
        cm_ropts none = {0};
        cm_cx cx = {.inst = caller, .opts = &none, .values = values};
        qv_ccall call = {&cx, caller->store};
        return f->host(&call, f->env, args, result);
    }
    if (f->owner->in_call) return qv_trap_new(QV_TRAP_HOST, "cannot enter a component instance while it is running (re-entrance)");
    cm_cx cx = {.inst = f->owner, .opts = &f->opts, .values = values};
    qv_trap *t = call_lifted(&cx, f, args, result, values);
    cm_cx_drop_borrows(&cx); /* none may outlive the call */
    return t;
}

qv_trap *cm_lowered_call(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    cm_lower_env *e = env;
    cm_inst *inst = e->inst;
    const cm_type *ft = e->type;
    const cm_coresig *sig = &e->sig;
    cm_arena *values = inst->root->values;
    cm_mark mark = cm_arena_mark(values);
    cm_cx cx = {.inst = inst, .opts = &e->opts, .values = values};
    uint64_t bits[CM_FLAT_CAP + 1];
    for (uint32_t i = 0; i < sig->nparams; i++) bits[i] = val_bits(&args[i]);
    qv_cval small[4];
    qv_cval *argv = ft->n <= 4 ? small : cm_alloc(values, ft->n * sizeof *argv);
    qv_cval result = {0};
    qv_trap *t = NULL;
    bool ok = argv != NULL || cm_trap(&cx, "out of memory");
    if (ok && sig->params_in_memory) {
        const cm_type *tuple = params_tuple(values, ft);
        qv_cval tv;
        uint32_t ptr = (uint32_t)bits[0];
        ok = tuple && (!(ptr & (tuple->align - 1)) || cm_trap(&cx, "parameters: pointer %u is not aligned", ptr)) &&
             cm_load(&cx, tuple, ptr, &tv);
        if (ok) memcpy(argv, tv.of.fields.items, ft->n * sizeof *argv);
    } else if (ok) {
        uint32_t at = 0;
        for (uint32_t i = 0; ok && i < ft->n; i++) ok = cm_lift_flat(&cx, ft->elems[i], bits, &at, &argv[i]);
    }
    if (ok) {
        if (e->callee->host) {
            qv_ccall call = {&cx, qv_caller_store(caller)};
            t = e->callee->host(&call, e->callee->env, argv, &result);
        } else {
            t = cm_call_func(inst, e->callee, argv, &result, values);
        }
        ok = !t;
    }
    if (ok && ft->result) {
        if (sig->results_in_memory) {
            uint32_t ptr = (uint32_t)bits[sig->nparams - 1];
            ok = (!(ptr & (ft->result->align - 1)) || cm_trap(&cx, "return area: pointer %u is not aligned", ptr)) &&
                 cm_store(&cx, ft->result, &result, ptr);
        } else {
            uint64_t rb[CM_FLAT_CAP];
            uint32_t at = 0;
            ok = cm_lower_flat(&cx, ft->result, &result, rb, &at);
            if (ok) results[0] = bits_val(sig->types[sig->nparams], rb[0]);
        }
    }
    cm_cx_end(&cx);
    cm_arena_release(values, mark);
    return take_trap(&cx, t);
}
