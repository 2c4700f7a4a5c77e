/*
 * validate.c — module-level validation (spec 2.0, "Modules"): indices,
 * limits, constant expressions, exports, segments, the start function;
 * function bodies are checked by validate_code.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

typedef struct vctx {
    const qe_module *m;
    qv_error *err;
    size_t offset;
    bool failed;
} vctx;

static bool invalid(vctx *c, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool invalid(vctx *c, size_t offset, const char *fmt, ...)
{
    if (!c->failed && c->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
        va_end(ap);
        c->err->offset = offset;
        c->err->func_index = -1;
    }
    c->failed = true;
    return false;
}

static bool table_limits(vctx *c, const qe_limits *l)
{
    if (l->has_max && l->min > l->max)
        return invalid(c, 0, "size minimum must not be greater than maximum (%u > %u)", l->min, l->max);
    return true;
}

static bool memory_limits(vctx *c, const qe_limits *l)
{
    if (l->min > 65536 || (l->has_max && l->max > 65536))
        return invalid(c, 0, "memory size must be at most 65536 pages (4GiB), not %u",
                       l->min > 65536 ? l->min : l->max);
    return table_limits(c, l);
}

/* A constant expression producing one value of type `want`. Only imported
 * immutable globals may be read. ref.func targets are recorded in refs. */
static bool const_expr(vctx *c, qe_expr e, uint8_t want, bool *refs)
{
    const qe_module *m = c->m;
    qe_instr_reader ir;
    qe_instr in;
    uint8_t stack[2];
    int n = 0;
    bool ok = true;
    qe_instr_reader_init(&ir, m, e.start, e.start + e.len);
    while (ok) {
        if (!qe_instr_next(&ir, &in)) {
            ok = invalid(c, ir.r.err_offset, "%s", ir.r.err ? ir.r.err : "malformed constant expression");
            break;
        }
        uint8_t t;
        switch (in.op) {
        case QE_OP_I32_CONST: t = QE_I32; break;
        case QE_OP_I64_CONST: t = QE_I64; break;
        case QE_OP_F32_CONST: t = QE_F32; break;
        case QE_OP_F64_CONST: t = QE_F64; break;
        case QE_OP_REF_NULL: t = in.u.reftype; break;
        case QE_OP_REF_FUNC:
            if (in.u.index >= m->nfuncs) ok = invalid(c, in.offset, "unknown function %u", in.u.index);
            else if (refs) refs[in.u.index] = true;
            t = QE_FUNCREF;
            break;
        case QE_OP_GLOBAL_GET:
            /* Only imported globals are initialised when constant
             * expressions run (spec: the context C' of module validation). */
            if (in.u.index >= m->nglobal_imports) ok = invalid(c, in.offset, "unknown global %u", in.u.index);
            else if (m->global_types[in.u.index].mut)
                ok = invalid(c, in.offset, "constant expression required: global %u is mutable", in.u.index);
            t = ok ? m->global_types[in.u.index].type : 0;
            break;
        case QE_OP_END: goto end;
        default:
            ok = invalid(c, in.offset, "constant expression required: opcode 0x%x is not constant", in.op);
            t = 0;
            break;
        }
        if (ok && n == 2) ok = invalid(c, in.offset, "type mismatch");
        if (ok) stack[n++] = t;
    }
end:
    qe_instr_reader_free(&ir);
    if (ok && (n != 1 || stack[0] != want))
        ok = invalid(c, e.start, "type mismatch: constant expression must produce one %s",
                     qv_valtype_name((qv_valtype)want));
    return ok;
}

/* C.refs: functions referenced outside function bodies. */
static void collect_refs(vctx *c, bool *refs)
{
    const qe_module *m = c->m;
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == QE_EXT_FUNC && m->exports[i].index < m->nfuncs) refs[m->exports[i].index] = true;
    for (uint32_t i = 0; i < m->nelems; i++)
        for (uint32_t k = 0; k < m->elems[i].count; k++) {
            const qe_elem_item *it = &m->elems[i].items[k];
            if (!it->is_expr && it->funcidx < m->nfuncs) refs[it->funcidx] = true;
        }
}

static bool check_exports(vctx *c)
{
    const qe_module *m = c->m;
    static const char *const kinds[] = {"function", "table", "memory", "global"};
    const uint32_t counts[] = {m->nfuncs, m->ntables, m->nmems, m->nglobals};
    for (uint32_t i = 0; i < m->nexports; i++) {
        const qe_export *e = &m->exports[i];
        if (e->index >= counts[e->kind]) return invalid(c, 0, "unknown %s %u", kinds[e->kind], e->index);
        for (uint32_t k = 0; k < i; k++)
            if (m->exports[k].name_len == e->name_len && memcmp(m->exports[k].name, e->name, e->name_len) == 0)
                return invalid(c, 0, "duplicate export name \"%s\"", e->name);
    }
    return true;
}

static bool check_segments(vctx *c, bool *refs)
{
    const qe_module *m = c->m;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const qe_elem *e = &m->elems[i];
        if (e->mode == QE_SEG_ACTIVE) {
            if (e->table >= m->ntables) return invalid(c, e->offset.start, "unknown table %u", e->table);
            if (m->tables[e->table].elem != e->type) return invalid(c, e->offset.start, "type mismatch");
            if (!const_expr(c, e->offset, QE_I32, refs)) return false;
        }
        for (uint32_t k = 0; k < e->count; k++) {
            const qe_elem_item *it = &e->items[k];
            if (it->is_expr) {
                if (!const_expr(c, it->expr, e->type, refs)) return false;
            } else if (it->funcidx >= m->nfuncs) {
                return invalid(c, 0, "unknown function %u", it->funcidx);
            }
        }
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const qe_data *d = &m->datas[i];
        if (d->mode != QE_SEG_ACTIVE) continue;
        if (d->memory >= m->nmems) return invalid(c, d->offset.start, "unknown memory %u", d->memory);
        if (!const_expr(c, d->offset, QE_I32, refs)) return false;
    }
    return true;
}

static bool check_bodies(vctx *c, const qe_valctx *ctx)
{
    const qe_module *m = c->m;
    qe_code_validator *cv = qe_code_validator_new(m, ctx);
    uint8_t *locals = NULL;
    size_t cap = 0;
    bool ok = cv != NULL;
    for (uint32_t i = 0; ok && i < m->ncodes; i++) {
        const qe_code *code = &m->codes[i];
        const qe_functype *ft = &m->types[m->func_types[m->nfunc_imports + i]];
        uint64_t n = ft->nparams + code->nlocals;
        if (n > 50000) {
            ok = invalid(c, code->offset, "too many locals (implementation limit 50000)");
            break;
        }
        if (n > cap || !locals) {
            cap = n ? n : 1;
            uint8_t *p = realloc(locals, cap);
            if (!p) {
                ok = invalid(c, code->offset, "out of memory");
                break;
            }
            locals = p;
        }
        if (ft->nparams) memcpy(locals, qe_params(ft), ft->nparams);
        uint32_t k = ft->nparams;
        for (uint32_t d = 0; d < code->nlocaldecls; d++) {
            memset(locals + k, code->localdecls[d].type, code->localdecls[d].count);
            k += code->localdecls[d].count;
        }
        ok = qe_validate_body(cv, i, locals, (uint32_t)n, c->err);
        if (!ok) c->failed = true;
    }
    free(locals);
    qe_code_validator_free(cv);
    if (!cv) return invalid(c, 0, "out of memory");
    return ok;
}

bool qe_validate(const qe_module *m, qv_error *err)
{
    vctx c = {.m = m, .err = err};
    for (uint32_t i = 0; i < m->nimports; i++) {
        const qe_import *im = &m->imports[i];
        if (im->kind == QE_EXT_FUNC && im->u.typeidx >= m->ntypes)
            return invalid(&c, 0, "unknown type %u", im->u.typeidx);
        if (im->kind == QE_EXT_TABLE && !table_limits(&c, &im->u.table.lim)) return false;
        if (im->kind == QE_EXT_MEMORY && !memory_limits(&c, &im->u.mem.lim)) return false;
    }
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++)
        if (m->func_types[i] >= m->ntypes) return invalid(&c, 0, "unknown type %u", m->func_types[i]);
    for (uint32_t i = 0; i < m->ntables; i++)
        if (!table_limits(&c, &m->tables[i].lim)) return false;
    if (m->nmems > 1) return invalid(&c, 0, "multiple memories");
    for (uint32_t i = 0; i < m->nmems; i++)
        if (!memory_limits(&c, &m->mems[i].lim)) return false;

    qe_valctx ctx = {.refs = calloc(m->nfuncs + 1, sizeof(bool))};
    if (!ctx.refs) return invalid(&c, 0, "out of memory");
    bool ok = true;
    collect_refs(&c, ctx.refs);
    for (uint32_t i = 0; ok && i < m->nglobals - m->nglobal_imports; i++)
        ok = const_expr(&c, m->globals[i].init, m->globals[i].type.type, ctx.refs);
    ok = ok && check_exports(&c);
    if (ok && m->has_start) {
        if (m->start >= m->nfuncs) {
            ok = invalid(&c, 0, "unknown function %u", m->start);
        } else {
            const qe_functype *ft = &m->types[m->func_types[m->start]];
            if (ft->nparams || ft->nresults) ok = invalid(&c, 0, "start function %u must have type [] -> []", m->start);
        }
    }
    ok = ok && check_segments(&c, ctx.refs);
    ok = ok && check_bodies(&c, &ctx);
    free(ctx.refs);
    return ok;
}
