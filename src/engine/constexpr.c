/*
 * constexpr.c — evaluating constant expressions (global initialisers,
 * segment offsets, element items) at instantiation.
 */
#include "runtime.h"

bool qe_eval_const(const qv_instance *inst, qe_expr e, qe_slot *out)
{
    qe_instr_reader ir;
    qe_instr in;
    bool ok = false;
    out->i64 = 0;
    qe_instr_reader_init(&ir, inst->module->m, e.start, e.start + e.len);
    while (qe_instr_next(&ir, &in)) {
        switch (in.op) {
        case QE_OP_I32_CONST: out->i64 = (uint32_t)in.u.i32; break;
        case QE_OP_I64_CONST: out->i64 = (uint64_t)in.u.i64; break;
        case QE_OP_F32_CONST: out->i64 = in.u.f32; break;
        case QE_OP_F64_CONST: out->i64 = in.u.f64; break;
        case QE_OP_REF_NULL: out->ref = NULL; break;
        case QE_OP_REF_FUNC: out->ref = inst->funcs[in.u.index]; break;
        case QE_OP_GLOBAL_GET: *out = inst->globals[in.u.index]->value.s; break;
        case QE_OP_END: ok = true; goto done;
        default: goto done; /* validation admits nothing else */
        }
    }
done:
    qe_instr_reader_free(&ir);
    return ok;
}
