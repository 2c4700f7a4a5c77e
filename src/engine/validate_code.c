/*
 * validate_code.c — validation of function bodies, following the spec's
 * appendix "Validation Algorithm": a stack of operand types (with UNKNOWN
 * for the polymorphic stack after an unconditional branch) and a stack of
 * control frames.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

enum { UNKNOWN = 0 };

typedef struct frame {
    uint16_t op;                 /* block, loop, if, else or 0 for the function */
    bool unreachable;
    uint32_t nparams, nresults;
    const uint8_t *params, *results;
    uint32_t height;
} frame;

/* Operand and result types of the one-byte numeric, load and store
 * opcodes, tabulated once per validator so that each instruction costs
 * one lookup. */
enum { SIG_NONE, SIG_UNARY, SIG_BINARY, SIG_LOAD, SIG_STORE };
typedef struct opsig {
    uint8_t kind, in, out, align; /* align: natural alignment (log2) of loads and stores */
} opsig;

struct qe_code_validator {
    const qe_module *m;
    const qe_valctx *ctx;
    uint8_t *vals;
    uint32_t nvals, vcap;
    frame *frames;
    uint32_t nframes, fcap;
    frame *top;                  /* frames[nframes - 1] */
    const uint8_t *locals;
    uint32_t nlocals;
    qe_instr_reader ir;          /* kept across bodies to reuse its br_table buffer */
    opsig sigs[256];
    bool failed;
    char err[128];               /* the first error of the current body */
};

static const uint8_t single[256] = {
    [QE_I32] = QE_I32, [QE_I64] = QE_I64, [QE_F32] = QE_F32, [QE_F64] = QE_F64,
    [QE_V128] = QE_V128, [QE_FUNCREF] = QE_FUNCREF, [QE_EXTERNREF] = QE_EXTERNREF,
};

static bool error(qe_code_validator *v, const char *fmt, ...) __attribute__((format(printf, 2, 3), cold));
static bool error(qe_code_validator *v, const char *fmt, ...)
{
    if (!v->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->err, sizeof v->err, fmt, ap);
        va_end(ap);
        v->failed = true;
    }
    return false;
}

static bool grow_and_push(qe_code_validator *v, uint8_t t) __attribute__((noinline));
static bool grow_and_push(qe_code_validator *v, uint8_t t)
{
    uint32_t cap = v->vcap ? v->vcap * 2 : 256;
    uint8_t *p = realloc(v->vals, cap);
    if (!p) return error(v, "out of memory");
    v->vals = p;
    v->vcap = cap;
    v->vals[v->nvals++] = t;
    return true;
}

static inline bool push(qe_code_validator *v, uint8_t t)
{
    if (v->nvals == v->vcap) return grow_and_push(v, t);
    v->vals[v->nvals++] = t;
    return true;
}

/* Pop any value; UNKNOWN when the stack is polymorphic. */
static inline bool pop_any(qe_code_validator *v, uint8_t *out)
{
    if (v->nvals > v->top->height) {
        *out = v->vals[--v->nvals];
        return true;
    }
    *out = UNKNOWN;
    return v->top->unreachable ? true : error(v, "type mismatch");
}

static inline bool pop_expect(qe_code_validator *v, uint8_t want)
{
    if (v->nvals > v->top->height) {
        uint8_t got = v->vals[--v->nvals];
        return got == want || got == UNKNOWN || want == UNKNOWN ? true : error(v, "type mismatch");
    }
    return v->top->unreachable ? true : error(v, "type mismatch");
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

/* br_table checks its labels one after another: the top n operands must
 * match `types`, without being consumed. Operands missing below the frame's
 * height are Unknown in unreachable code and match anything (the spec's
 * pop-then-push-back leaves the same stack); in reachable code the final
 * pop for the default label, which has the same arity, reports them. */
static bool check_top(qe_code_validator *v, uint32_t n, const uint8_t *types)
{
    uint32_t avail = v->nvals - v->top->height;
    uint32_t have = avail < n ? avail : n;
    for (uint32_t k = 0; k < have; k++) {
        uint8_t got = v->vals[v->nvals - 1 - k];
        if (got != types[n - 1 - k] && got != UNKNOWN) return error(v, "type mismatch");
    }
    return true;
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
    v->top = &v->frames[v->nframes++];
    *v->top = (frame){op, false, np, nr, p, r, v->nvals};
    return push_types(v, np, p);
}

static bool pop_frame(qe_code_validator *v, frame *out)
{
    frame *f = v->top;
    if (!pop_types(v, f->nresults, f->results)) return false;
    if (v->nvals != f->height) return error(v, "type mismatch");
    *out = *f;
    v->nframes--;
    v->top = v->nframes ? f - 1 : NULL;
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
    v->nvals = v->top->height;
    v->top->unreachable = true;
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
        if (in->u.block.typeidx >= v->m->ntypes) return error(v, "unknown type %u", in->u.block.typeidx);
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

static bool need_memory(qe_code_validator *v, uint32_t mem)
{
    return mem < v->m->nmems ? true : error(v, "unknown memory %u", mem);
}

static bool need_table(qe_code_validator *v, uint32_t t)
{
    return t < v->m->ntables ? true : error(v, "unknown table %u", t);
}

static bool need_elem(qe_code_validator *v, uint32_t e)
{
    return e < v->m->nelems ? true : error(v, "unknown elem segment %u", e);
}

/* The index is checked first: a module without data segments that names
 * one is invalid whether or not it has a data count section. */
static bool need_data(qe_code_validator *v, uint32_t d)
{
    if (d >= v->m->ndatas) return error(v, "unknown data segment %u", d);
    return v->m->has_datacount ? true : error(v, "data count section required");
}

static bool need_label(qe_code_validator *v, uint32_t l)
{
    return l < v->nframes ? true : error(v, "unknown label %u", l);
}

static bool instr(qe_code_validator *v, const qe_instr *in)
{
    const qe_module *m = v->m;
    uint16_t op = in->op;
    uint8_t t;
    if (op < 0x100) {
        const opsig *s = &v->sigs[op];
        switch (s->kind) {
        case SIG_UNARY:
            return pop_expect(v, s->in) && push(v, s->out);
        case SIG_BINARY:
            return pop_expect(v, s->in) && pop_expect(v, s->in) && push(v, s->out);
        case SIG_LOAD:
        case SIG_STORE:
            if (!need_memory(v, in->u.mem.memory)) return false;
            if (in->u.mem.align > s->align) return error(v, "alignment must not be larger than natural");
            if (s->kind == SIG_STORE) return pop_expect(v, s->in) && pop_expect(v, QE_I32);
            return pop_expect(v, QE_I32) && push(v, s->out);
        }
    } else if (op <= QE_OP_TRUNC_SAT_LAST && op >= QE_OP_TRUNC_SAT_FIRST) {
        uint8_t a, b;
        numeric_sig(op, &a, &b);
        return pop_expect(v, a) && push(v, b);
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
        if (v->top->op != QE_OP_IF) return error(v, "else without if");
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
        if (!need_label(v, in->u.index)) return false;
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
        if (!need_label(v, def)) return false;
        uint32_t arity;
        const uint8_t *def_types;
        label_types(&v->frames[v->nframes - 1 - def], &arity, &def_types);
        for (uint32_t i = 0; i < in->u.br_table.count; i++) {
            uint32_t l = in->u.br_table.targets[i];
            if (!need_label(v, l)) return false;
            uint32_t n;
            const uint8_t *types;
            label_types(&v->frames[v->nframes - 1 - l], &n, &types);
            if (n != arity) return error(v, "type mismatch");
            if (!check_top(v, n, types)) return false;
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
        if (in->u.index >= m->nfuncs) return error(v, "unknown function %u", in->u.index);
        const qe_functype *ft = &m->types[m->func_types[in->u.index]];
        return pop_types(v, ft->nparams, qe_params(ft)) && push_types(v, ft->nresults, qe_results(ft));
    }
    case QE_OP_CALL_INDIRECT: {
        if (!need_table(v, in->u.call_indirect.table)) return false;
        if (m->tables[in->u.call_indirect.table].elem != QE_FUNCREF) return error(v, "type mismatch");
        if (in->u.call_indirect.typeidx >= m->ntypes) return error(v, "unknown type %u", in->u.call_indirect.typeidx);
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
        if (in->u.index >= v->nlocals) return error(v, "unknown local %u", in->u.index);
        t = v->locals[in->u.index];
        if (op == QE_OP_LOCAL_GET) return push(v, t);
        if (!pop_expect(v, t)) return false;
        return op == QE_OP_LOCAL_TEE ? push(v, t) : true;
    case QE_OP_GLOBAL_GET:
        if (in->u.index >= m->nglobals) return error(v, "unknown global %u", in->u.index);
        return push(v, m->global_types[in->u.index].type);
    case QE_OP_GLOBAL_SET:
        if (in->u.index >= m->nglobals) return error(v, "unknown global %u", in->u.index);
        if (!m->global_types[in->u.index].mut) return error(v, "global is immutable: global %u", in->u.index);
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
        if (!need_table(v, in->u.pair.b) || !need_elem(v, in->u.pair.a)) return false;
        if (m->elems[in->u.pair.a].type != m->tables[in->u.pair.b].elem) return error(v, "type mismatch");
        return pop_expect(v, QE_I32) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_ELEM_DROP:
        return need_elem(v, in->u.index);
    case QE_OP_MEMORY_SIZE:
        return need_memory(v, in->u.index) && push(v, QE_I32);
    case QE_OP_MEMORY_GROW:
        return need_memory(v, in->u.index) && pop_expect(v, QE_I32) && push(v, QE_I32);
    case QE_OP_MEMORY_FILL:
        return need_memory(v, in->u.index) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32) &&
               pop_expect(v, QE_I32);
    case QE_OP_MEMORY_COPY:
        return need_memory(v, in->u.pair.a) && need_memory(v, in->u.pair.b) && pop_expect(v, QE_I32) &&
               pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_MEMORY_INIT:
        if (!need_memory(v, in->u.pair.b) || !need_data(v, in->u.pair.a)) return false;
        return pop_expect(v, QE_I32) && pop_expect(v, QE_I32) && pop_expect(v, QE_I32);
    case QE_OP_DATA_DROP:
        return need_data(v, in->u.index);
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
        if (in->u.index >= m->nfuncs) return error(v, "unknown function %u", in->u.index);
        if (!v->ctx->refs[in->u.index]) return error(v, "undeclared function reference: function %u", in->u.index);
        return push(v, QE_FUNCREF);
    }
    return error(v, "illegal opcode 0x%x", op);
}

qe_code_validator *qe_code_validator_new(const qe_module *m, const qe_valctx *ctx)
{
    qe_code_validator *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->m = m;
    v->ctx = ctx;
    qe_instr_reader_init(&v->ir, m, 0, 0);
    for (uint16_t op = 0; op < 256; op++) {
        opsig *s = &v->sigs[op];
        uint32_t align;
        bool store;
        int arity = numeric_sig(op, &s->in, &s->out);
        if (arity) {
            s->kind = arity == 1 ? SIG_UNARY : SIG_BINARY;
        } else if (memop(op, &align, &s->in, &store)) {
            s->kind = store ? SIG_STORE : SIG_LOAD;
            s->out = s->in;
            s->align = (uint8_t)align;
        }
    }
    return v;
}

void qe_code_validator_free(qe_code_validator *v)
{
    if (!v) return;
    free(v->vals);
    free(v->frames);
    qe_instr_reader_free(&v->ir);
    free(v);
}

bool qe_validate_body(qe_code_validator *v, uint32_t defined_index, const uint8_t *locals, uint32_t nlocals,
                      qv_error *err)
{
    const qe_module *m = v->m;
    const qe_code *code = &m->codes[defined_index];
    const qe_functype *ft = &m->types[m->func_types[m->nfunc_imports + defined_index]];
    v->nvals = v->nframes = 0;
    v->top = NULL;
    v->failed = false;
    v->locals = locals;
    v->nlocals = nlocals;
    qe_instr_reader *ir = &v->ir;
    qe_instr in;
    qe_reader_init(&ir->r, m->bytes, m->bytes + code->body_start, m->bytes + code->body_end);
    uint32_t offset = code->body_start;
    bool ok = push_frame(v, 0, 0, NULL, ft->nresults, qe_results(ft));
    while (ok && v->nframes > 0) {
        offset = (uint32_t)qe_reader_offset(&ir->r);
        if (!qe_instr_next(ir, &in)) {
            if (qe_reader_at_end(&ir->r) && ir->r.err_offset >= code->body_end)
                error(v, "unexpected end of section or function");
            else
                error(v, "%s", ir->r.err ? ir->r.err : "malformed instruction");
            offset = (uint32_t)ir->r.err_offset;
            ok = false;
            break;
        }
        if (!instr(v, &in)) {
            ok = false;
            break;
        }
    }
    if (ok && !qe_reader_at_end(&ir->r)) {
        /* The function's final `end` came before the body's end. */
        offset = (uint32_t)qe_reader_offset(&ir->r);
        error(v, "section size mismatch: code after the function's final end");
        ok = false;
    }
    if (!ok && err) {
        snprintf(err->message, sizeof err->message, "%s", v->failed ? v->err : "invalid function");
        err->offset = offset;
        err->func_index = m->nfunc_imports + defined_index;
    }
    return ok;
}
