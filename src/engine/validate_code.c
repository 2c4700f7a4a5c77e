/*
 * validate_code.c — validation of function bodies, following the spec's
 * appendix "Validation Algorithm": a stack of operand types (with UNKNOWN
 * for the polymorphic stack after an unconditional branch) and a stack of
 * control frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

enum { UNKNOWN = 0 };

typedef struct frame {
    uint16_t op;                 /* block, loop, if, else or 0 for the function */
    uint32_t nparams, nresults;
    const uint8_t *params, *results;
    uint32_t height;
    bool unreachable;
} frame;

struct qe_code_validator {
    const qe_module *m;
    const qe_valctx *ctx;
    uint8_t *vals;
    uint32_t nvals, vcap;
    frame *frames;
    uint32_t nframes, fcap;
    const uint8_t *locals;
    uint32_t nlocals;
    const char *err;
};

static const uint8_t single[256] = {
    [QE_I32] = QE_I32, [QE_I64] = QE_I64, [QE_F32] = QE_F32, [QE_F64] = QE_F64,
    [QE_V128] = QE_V128, [QE_FUNCREF] = QE_FUNCREF, [QE_EXTERNREF] = QE_EXTERNREF,
};

static bool error(qe_code_validator *v, const char *msg)
{
    if (!v->err) v->err = msg;
    return false;
}

static bool push(qe_code_validator *v, uint8_t t)
{
    if (v->nvals == v->vcap) {
        uint32_t cap = v->vcap ? v->vcap * 2 : 64;
        uint8_t *p = realloc(v->vals, cap);
        if (!p) return error(v, "out of memory");
        v->vals = p;
        v->vcap = cap;
    }
    v->vals[v->nvals++] = t;
    return true;
}

/* Pop any value; UNKNOWN when the stack is polymorphic. */
static bool pop_any(qe_code_validator *v, uint8_t *out)
{
    frame *f = &v->frames[v->nframes - 1];
    if (v->nvals == f->height) {
        if (f->unreachable) {
            *out = UNKNOWN;
            return true;
        }
        return error(v, "type mismatch");
    }
    *out = v->vals[--v->nvals];
    return true;
}

static bool pop_expect(qe_code_validator *v, uint8_t want)
{
    uint8_t got;
    if (!pop_any(v, &got)) return false;
    if (got != want && got != UNKNOWN && want != UNKNOWN) return error(v, "type mismatch");
    return true;
}

static bool pop_types(qe_code_validator *v, uint32_t n, const uint8_t *types)
{
    for (uint32_t i = n; i-- > 0;)
        if (!pop_expect(v, types[i])) return false;
    return true;
}

static bool push_types(qe_code_validator *v, uint32_t n, const uint8_t *types)
{
    for (uint32_t i = 0; i < n; i++)
        if (!push(v, types[i])) return false;
    return true;
}

/* Pop n values of the given types and push the popped values back. */
static bool check_keep(qe_code_validator *v, uint32_t n, const uint8_t *types)
{
    uint8_t small[32];
    uint8_t *got = n <= 32 ? small : malloc(n);
    if (!got) return error(v, "out of memory");
    bool ok = true;
    for (uint32_t i = n; ok && i-- > 0;) {
        ok = pop_any(v, &got[i]);
        if (ok && got[i] != types[i] && got[i] != UNKNOWN) ok = error(v, "type mismatch");
    }
    if (ok) ok = push_types(v, n, got);
    if (got != small) free(got);
    return ok;
}

static bool push_frame(qe_code_validator *v, uint16_t op, uint32_t np, const uint8_t *p, uint32_t nr,
                       const uint8_t *r)
{
    if (v->nframes == v->fcap) {
        uint32_t cap = v->fcap ? v->fcap * 2 : 16;
        frame *f = realloc(v->frames, cap * sizeof *f);
        if (!f) return error(v, "out of memory");
        v->frames = f;
        v->fcap = cap;
    }
    v->frames[v->nframes++] = (frame){op, np, nr, p, r, v->nvals, false};
    return push_types(v, np, p);
}

static bool pop_frame(qe_code_validator *v, frame *out)
{
    if (v->nframes == 0) return error(v, "type mismatch");
    frame *f = &v->frames[v->nframes - 1];
    if (!pop_types(v, f->nresults, f->results)) return false;
    if (v->nvals != f->height) return error(v, "type mismatch");
    *out = *f;
    v->nframes--;
    return true;
}

static void label_types(const frame *f, uint32_t *n, const uint8_t **types)
{
    if (f->op == QE_OP_LOOP) {
        *n = f->nparams;
        *types = f->params;
    } else {
        *n = f->nresults;
        *types = f->results;
    }
}

static void set_unreachable(qe_code_validator *v)
{
    frame *f = &v->frames[v->nframes - 1];
    v->nvals = f->height;
    f->unreachable = true;
}

static bool block_type(qe_code_validator *v, const qe_instr *in, uint32_t *np, const uint8_t **p, uint32_t *nr,
                       const uint8_t **r)
{
    *np = *nr = 0;
    *p = *r = NULL;
    switch (in->u.block.kind) {
    case QE_BLOCKTYPE_EMPTY: return true;
    case QE_BLOCKTYPE_VALUE:
        *nr = 1;
        *r = &single[in->u.block.valtype];
        return true;
    default:
        if (in->u.block.typeidx >= v->m->ntypes) return error(v, "unknown type");
        const qe_functype *ft = &v->m->types[in->u.block.typeidx];
        *np = ft->nparams;
        *p = qe_params(ft);
        *nr = ft->nresults;
        *r = qe_results(ft);
        return true;
    }
}

/* Signature of a numeric instruction: returns the number of operands (1 or
 * 2) and their type, and the result type; 0 if `op` is not numeric. */
static int numeric_sig(uint16_t op, uint8_t *in, uint8_t *out)
{
    enum { I = QE_I32, L = QE_I64, F = QE_F32, D = QE_F64 };
    if (op == 0x45) { *in = I; *out = I; return 1; }
    if (op >= 0x46 && op <= 0x4F) { *in = I; *out = I; return 2; }
    if (op == 0x50) { *in = L; *out = I; return 1; }
    if (op >= 0x51 && op <= 0x5A) { *in = L; *out = I; return 2; }
    if (op >= 0x5B && op <= 0x60) { *in = F; *out = I; return 2; }
    if (op >= 0x61 && op <= 0x66) { *in = D; *out = I; return 2; }
    if (op >= 0x67 && op <= 0x69) { *in = I; *out = I; return 1; }
    if (op >= 0x6A && op <= 0x78) { *in = I; *out = I; return 2; }
    if (op >= 0x79 && op <= 0x7B) { *in = L; *out = L; return 1; }
    if (op >= 0x7C && op <= 0x8A) { *in = L; *out = L; return 2; }
    if (op >= 0x8B && op <= 0x91) { *in = F; *out = F; return 1; }
    if (op >= 0x92 && op <= 0x98) { *in = F; *out = F; return 2; }
    if (op >= 0x99 && op <= 0x9F) { *in = D; *out = D; return 1; }
    if (op >= 0xA0 && op <= 0xA6) { *in = D; *out = D; return 2; }
    static const uint8_t conv[][2] = {
        /* A7 */ {L, I}, {F, I}, {F, I}, {D, I}, {D, I}, {I, L}, {I, L}, {F, L}, {F, L},
        /* B0 */ {D, L}, {D, L}, {I, F}, {I, F}, {L, F}, {L, F}, {D, F}, {I, D}, {I, D},
        /* B9 */ {L, D}, {L, D}, {F, D}, {F, I}, {D, L}, {I, F}, {L, D},
        /* C0 */ {I, I}, {I, I}, {L, L}, {L, L}, {L, L},
    };
    if (op >= 0xA7 && op <= 0xC4) {
        *in = conv[op - 0xA7][0];
        *out = conv[op - 0xA7][1];
        return 1;
    }
    static const uint8_t sat[][2] = {{F, I}, {F, I}, {D, I}, {D, I}, {F, L}, {F, L}, {D, L}, {D, L}};
    if (op >= 0xFC00 && op <= 0xFC07) {
        *in = sat[op - 0xFC00][0];
        *out = sat[op - 0xFC00][1];
        return 1;
    }
    return 0;
}

/* Natural alignment (log2) and value type of loads and stores. */
static bool memop(uint16_t op, uint32_t *align, uint8_t *type, bool *store)
{
    static const struct { uint8_t align, type; } ops[] = {
        /* 28 */ {2, QE_I32}, {3, QE_I64}, {2, QE_F32}, {3, QE_F64}, {0, QE_I32}, {0, QE_I32}, {1, QE_I32},
        /* 2F */ {1, QE_I32}, {0, QE_I64}, {0, QE_I64}, {1, QE_I64}, {1, QE_I64}, {2, QE_I64}, {2, QE_I64},
        /* 36 */ {2, QE_I32}, {3, QE_I64}, {2, QE_F32}, {3, QE_F64}, {0, QE_I32}, {1, QE_I32}, {0, QE_I64},
        /* 3D */ {1, QE_I64}, {2, QE_I64},
    };
    if (op < 0x28 || op > 0x3E) return false;
    *align = ops[op - 0x28].align;
    *type = ops[op - 0x28].type;
    *store = op >= 0x36;
    return true;
}

static bool need_memory(qe_code_validator *v)
{
    return v->m->nmems > 0 ? true : error(v, "unknown memory");
}

static bool need_table(qe_code_validator *v, uint32_t t)
{
    return t < v->m->ntables ? true : error(v, "unknown table");
}

static bool instr(qe_code_validator *v, const qe_instr *in)
{
    const qe_module *m = v->m;
    uint16_t op = in->op;
    uint8_t a, b, t;
    int arity = numeric_sig(op, &a, &b);
    if (arity) {
        for (int i = 0; i < arity; i++)
            if (!pop_expect(v, a)) return false;
        return push(v, b);
    }
    uint32_t align;
    bool store;
    if (memop(op, &align, &t, &store)) {
        if (!need_memory(v)) return false;
        if (in->u.mem.align > align) return error(v, "alignment must not be larger than natural");
        if (store) return pop_expect(v, t) && pop_expect(v, QE_I32);
        return pop_expect(v, QE_I32) && push(v, t);
    }

    switch (op) {
    case QE_OP_UNREACHABLE:
        set_unreachable(v);
        return true;
    case QE_OP_NOP:
        return true;
    case QE_OP_BLOCK:
    case QE_OP_LOOP:
    case QE_OP_IF: {
        uint32_t np, nr;
        const uint8_t *p, *r;
        if (!block_type(v, in, &np, &p, &nr, &r)) return false;
        if (op == QE_OP_IF && !pop_expect(v, QE_I32)) return false;
        if (!pop_types(v, np, p)) return false;
        return push_frame(v, op, np, p, nr, r);
    }
    case QE_OP_ELSE: {
        frame f;
        if (v->nframes == 0 || v->frames[v->nframes - 1].op != QE_OP_IF) return error(v, "else without if");
        if (!pop_frame(v, &f)) return false;
        return push_frame(v, QE_OP_ELSE, f.nparams, f.params, f.nresults, f.results);
    }
    case QE_OP_END: {
        frame f;
        if (!pop_frame(v, &f)) return false;
        /* An if without else passes its params through: they must be its results. */
        if (f.op == QE_OP_IF) {
            if (f.nparams != f.nresults || (f.nparams && memcmp(f.params, f.results, f.nparams) != 0))
                return error(v, "type mismatch");
        }
        return push_types(v, f.nresults, f.results);
    }
    case QE_OP_BR:
    case QE_OP_BR_IF: {
        if (in->u.index >= v->nframes) return error(v, "unknown label");
        if (op == QE_OP_BR_IF && !pop_expect(v, QE_I32)) return false;
        uint32_t n;
        const uint8_t *types;
        label_types(&v->frames[v->nframes - 1 - in->u.index], &n, &types);
        if (!pop_types(v, n, types)) return false;
        if (op == QE_OP_BR) {
            set_unreachable(v);
            return true;
        }
        return push_types(v, n, types);
    }
    case QE_OP_BR_TABLE: {
        if (!pop_expect(v, QE_I32)) return false;
        uint32_t def = in->u.br_table.default_target;
        if (def >= v->nframes) return error(v, "unknown label");
        uint32_t arity;
        const uint8_t *def_types;
        label_types(&v->frames[v->nframes - 1 - def], &arity, &def_types);
        for (uint32_t i = 0; i < in->u.br_table.count; i++) {
            uint32_t l = in->u.br_table.targets[i];
            if (l >= v->nframes) return error(v, "unknown label");
            uint32_t n;
            const uint8_t *types;
            label_types(&v->frames[v->nframes - 1 - l], &n, &types);
            if (n != arity) return error(v, "type mismatch");
            /* Check the values against this label, then put back what was
             * popped (unknown types stay unknown for the next label). */
            if (!check_keep(v, n, types)) return false;
        }
        if (!pop_types(v, arity, def_types)) return false;
        set_unreachable(v);
        return true;
    }
    case QE_OP_RETURN: {
        const frame *f = &v->frames[0];
        if (!pop_types(v, f->nresults, f->results)) return false;
        set_unreachable(v);
        return true;
    }
    case QE_OP_CALL: {
        if (in->u.index >= m->nfuncs) return error(v, "unknown function");
        const qe_functype *ft = &m->types[m->func_types[in->u.index]];
        return pop_types(v, ft->nparams, qe_params(ft)) && push_types(v, ft->nresults, qe_results(ft));
    }
    case QE_OP_CALL_INDIRECT: {
        if (!need_table(v, in->u.call_indirect.table)) return false;
        if (m->tables[in->u.call_indirect.table].elem != QE_FUNCREF) return error(v, "type mismatch");
        if (in->u.call_indirect.typeidx >= m->ntypes) return error(v, "unknown type");
        const qe_functype *ft = &m->types[in->u.call_indirect.typeidx];
        return pop_expect(v, QE_I32) && pop_types(v, ft->nparams, qe_params(ft)) &&
               push_types(v, ft->nresults, qe_results(ft));
    }
    case QE_OP_DROP:
        return pop_any(v, &t);
    case QE_OP_SELECT: {
        uint8_t t1, t2;
        if (!pop_expect(v, QE_I32) || !pop_any(v, &t1) || !pop_any(v, &t2)) return false;
        bool num1 = t1 == UNKNOWN || !qe_is_reftype(t1), num2 = t2 == UNKNOWN || !qe_is_reftype(t2);
        if (!num1 || !num2) return error(v, "type mismatch");
        if (t1 != t2 && t1 != UNKNOWN && t2 != UNKNOWN) return error(v, "type mismatch");
        return push(v, t1 == UNKNOWN ? t2 : t1);
    }
    case QE_OP_SELECT_T:
        t = in->u.select_t.type;
        return pop_expect(v, QE_I32) && pop_expect(v, t) && pop_expect(v, t) && push(v, t);
    case QE_OP_LOCAL_GET:
    case QE_OP_LOCAL_SET:
    case QE_OP_LOCAL_TEE:
        if (in->u.index >= v->nlocals) return error(v, "unknown local");
        t = v->locals[in->u.index];
        if (op == QE_OP_LOCAL_GET) return push(v, t);
        if (!pop_expect(v, t)) return false;
        return op == QE_OP_LOCAL_TEE ? push(v, t) : true;
    case QE_OP_GLOBAL_GET:
        if (in->u.index >= m->nglobals) return error(v, "unknown global");
        return push(v, m->global_types[in->u.index].type);
    case QE_OP_GLOBAL_SET:
        if (in->u.index >= m->nglobals) return error(v, "unknown global");
        if (!m->global_types[in->u.index].mut) return error(v, "global is immutable");
        return pop_expect(v, m->global_types[in->u.index].type);
    case QE_OP_TABLE_GET:
        if (!need_table(v, in->u.index)) return false;
        return pop_expect(v, QE_I32) && push(v, m->tables[in->u.index].elem);
    case QE_OP_TABLE_SET:
        if (!need_table(v, in->u.index)) return false;
        return pop_expect(v, m->tables[in->u.index].elem) && pop_expect(v, QE_I32);
    case QE_OP_TABLE_SIZE:
        return need_table(v, in->u.index) && push(v, QE_I32);
    case QE_OP_TABLE_GROW:
        if (!need_table(v, in->u.index)) return false;
        return pop_expect(v, QE_I32) && pop_expect(v, m->tables[in->u.index].elem) && push(v, QE_I32);
    case QE_OP_TABLE_FILL:
        if (!need_table(v, in->u.index)) return false;
        return pop_expect(v, QE_I32) && pop_expect(v, m->tables[in->u.index].elem) && pop_expect(v, QE_I32);
    case QE_OP_TABLE_COPY:
        if (!need_table(v, in->u.pair.a) || !need_table(v, in->u.pair.b)) return false;
        if (m->tables[in->u.pair.a].elem != m->tables[in->u.pair.b].elem) return error(v, "type mismatch");
        return pop_expect(v, QE_I32) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_TABLE_INIT:
        if (!need_table(v, in->u.pair.b)) return false;
        if (in->u.pair.a >= m->nelems) return error(v, "unknown elem segment");
        if (m->elems[in->u.pair.a].type != m->tables[in->u.pair.b].elem) return error(v, "type mismatch");
        return pop_expect(v, QE_I32) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_ELEM_DROP:
        return in->u.index < m->nelems ? true : error(v, "unknown elem segment");
    case QE_OP_MEMORY_SIZE:
        return need_memory(v) && push(v, QE_I32);
    case QE_OP_MEMORY_GROW:
        return need_memory(v) && pop_expect(v, QE_I32) && push(v, QE_I32);
    case QE_OP_MEMORY_FILL:
    case QE_OP_MEMORY_COPY:
        return need_memory(v) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_MEMORY_INIT:
        if (!need_memory(v)) return false;
        if (!m->has_datacount) return error(v, "data count section required");
        if (in->u.pair.a >= m->ndatas) return error(v, "unknown data segment");
        return pop_expect(v, QE_I32) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_DATA_DROP:
        if (!m->has_datacount) return error(v, "data count section required");
        return in->u.index < m->ndatas ? true : error(v, "unknown data segment");
    case QE_OP_I32_CONST: return push(v, QE_I32);
    case QE_OP_I64_CONST: return push(v, QE_I64);
    case QE_OP_F32_CONST: return push(v, QE_F32);
    case QE_OP_F64_CONST: return push(v, QE_F64);
    case QE_OP_REF_NULL: return push(v, in->u.reftype);
    case QE_OP_REF_IS_NULL:
        if (!pop_any(v, &t)) return false;
        if (t != UNKNOWN && !qe_is_reftype(t)) return error(v, "type mismatch");
        return push(v, QE_I32);
    case QE_OP_REF_FUNC:
        if (in->u.index >= m->nfuncs) return error(v, "unknown function");
        if (!v->ctx->refs[in->u.index]) return error(v, "undeclared function reference");
        return push(v, QE_FUNCREF);
    }
    return error(v, "illegal opcode");
}

qe_code_validator *qe_code_validator_new(const qe_module *m, const qe_valctx *ctx)
{
    qe_code_validator *v = calloc(1, sizeof *v);
    if (v) {
        v->m = m;
        v->ctx = ctx;
    }
    return v;
}

void qe_code_validator_free(qe_code_validator *v)
{
    if (!v) return;
    free(v->vals);
    free(v->frames);
    free(v);
}

bool qe_validate_body(qe_code_validator *v, uint32_t defined_index, const uint8_t *locals, uint32_t nlocals,
                      qv_error *err)
{
    const qe_module *m = v->m;
    const qe_code *code = &m->codes[defined_index];
    const qe_functype *ft = &m->types[m->func_types[m->nfunc_imports + defined_index]];
    v->nvals = v->nframes = 0;
    v->err = NULL;
    v->locals = locals;
    v->nlocals = nlocals;
    push_frame(v, 0, 0, NULL, ft->nresults, qe_results(ft));

    qe_instr_reader ir;
    qe_instr in;
    qe_instr_reader_init(&ir, m, code->body_start, code->body_end);
    uint32_t offset = code->body_start;
    bool ok = true;
    while (v->nframes > 0) {
        offset = (uint32_t)qe_reader_offset(&ir.r);
        if (!qe_instr_next(&ir, &in)) {
            if (qe_reader_at_end(&ir.r) && ir.r.err_offset >= code->body_end)
                v->err = "unexpected end of section or function";
            else
                v->err = ir.r.err;
            offset = (uint32_t)ir.r.err_offset;
            ok = false;
            break;
        }
        if (!instr(v, &in)) {
            ok = false;
            break;
        }
    }
    if (ok && !qe_reader_at_end(&ir.r)) {
        /* The function's final `end` came before the body's end. */
        offset = (uint32_t)qe_reader_offset(&ir.r);
        v->err = "section size mismatch";
        ok = false;
    }
    qe_instr_reader_free(&ir);
    if (!ok && err) {
        snprintf(err->message, sizeof err->message, "%s", v->err ? v->err : "invalid function");
        err->offset = offset;
        err->func_index = m->nfunc_imports + defined_index;
    }
    return ok;
}
