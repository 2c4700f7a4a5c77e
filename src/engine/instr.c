/*
 * instr.c — decoding one instruction and its immediates (see module.h).
 */
#include <stdlib.h>

#include "module.h"

void qe_instr_reader_init(qe_instr_reader *ir, const qe_module *m, uint32_t start, uint32_t end)
{
    qe_reader_init(&ir->r, m->bytes, m->bytes + start, m->bytes + end);
    ir->targets = NULL;
    ir->targets_cap = 0;
}

void qe_instr_reader_free(qe_instr_reader *ir)
{
    free(ir->targets);
    ir->targets = NULL;
    ir->targets_cap = 0;
}

static bool read_blocktype(qe_reader *r, qe_instr *out)
{
    if (r->p >= r->end) return qe_reader_fail(r, "unexpected end");
    uint8_t b = *r->p;
    if (b == 0x40) {
        r->p++;
        out->u.block.kind = QE_BLOCKTYPE_EMPTY;
        return true;
    }
    if (qe_is_valtype(b)) {
        r->p++;
        out->u.block.kind = QE_BLOCKTYPE_VALUE;
        out->u.block.valtype = b;
        return true;
    }
    int64_t idx = qe_read_s33(r);
    if (!r->ok) return false;
    if (idx < 0) return qe_reader_fail(r, "malformed block type");
    out->u.block.kind = QE_BLOCKTYPE_INDEX;
    out->u.block.typeidx = (uint32_t)idx;
    return true;
}

static bool read_memarg(qe_reader *r, qe_instr *out)
{
    out->u.mem.align = qe_read_u32(r);
    out->u.mem.offset = qe_read_u32(r);
    out->u.mem.memory = 0;
    return r->ok;
}

static bool zero_byte(qe_reader *r)
{
    uint8_t b = qe_read_u8(r);
    if (!r->ok) return false;
    return b == 0 ? true : qe_reader_fail(r, "zero byte expected");
}

static bool read_br_table(qe_instr_reader *ir, qe_instr *out)
{
    qe_reader *r = &ir->r;
    uint32_t n = qe_read_u32(r);
    if (!r->ok) return false;
    /* Each target takes at least one byte: an honest count fits the rest. */
    if (n > (size_t)(r->end - r->p)) return qe_reader_fail(r, "unexpected end");
    if (n > ir->targets_cap) {
        uint32_t cap = ir->targets_cap ? ir->targets_cap : 16;
        while (cap < n) cap *= 2;
        uint32_t *t = realloc(ir->targets, (size_t)cap * sizeof *t);
        if (!t) return qe_reader_fail(r, "out of memory");
        ir->targets = t;
        ir->targets_cap = cap;
    }
    for (uint32_t i = 0; i < n; i++) ir->targets[i] = qe_read_u32(r);
    out->u.br_table.count = n;
    out->u.br_table.targets = ir->targets;
    out->u.br_table.default_target = qe_read_u32(r);
    return r->ok;
}

static bool read_prefixed(qe_instr_reader *ir, qe_instr *out)
{
    qe_reader *r = &ir->r;
    uint32_t sub = qe_read_u32(r);
    if (!r->ok) return false;
    if (sub > 0x11) return qe_reader_fail(r, "illegal opcode");
    out->op = (uint16_t)(0xFC00 | sub);
    switch (out->op) {
    case QE_OP_MEMORY_INIT:
        out->u.pair.a = qe_read_u32(r);
        out->u.pair.b = 0;
        return r->ok && zero_byte(r);
    case QE_OP_DATA_DROP:
    case QE_OP_ELEM_DROP:
    case QE_OP_TABLE_GROW:
    case QE_OP_TABLE_SIZE:
    case QE_OP_TABLE_FILL:
        out->u.index = qe_read_u32(r);
        return r->ok;
    case QE_OP_MEMORY_COPY:
        out->u.pair.a = out->u.pair.b = 0;
        return zero_byte(r) && zero_byte(r);
    case QE_OP_MEMORY_FILL:
        out->u.index = 0;
        return zero_byte(r);
    case QE_OP_TABLE_INIT:   /* elem index, then table index */
    case QE_OP_TABLE_COPY:   /* destination, then source */
        out->u.pair.a = qe_read_u32(r);
        out->u.pair.b = qe_read_u32(r);
        return r->ok;
    default:                 /* trunc_sat: no immediates */
        return true;
    }
}

bool qe_instr_next(qe_instr_reader *ir, qe_instr *out)
{
    qe_reader *r = &ir->r;
    out->offset = (uint32_t)qe_reader_offset(r);
    uint8_t op = qe_read_u8(r);
    if (!r->ok) return false;
    out->op = op;
    switch (op) {
    case QE_OP_BLOCK:
    case QE_OP_LOOP:
    case QE_OP_IF:
        return read_blocktype(r, out);
    case QE_OP_BR:
    case QE_OP_BR_IF:
    case QE_OP_CALL:
    case QE_OP_LOCAL_GET:
    case QE_OP_LOCAL_SET:
    case QE_OP_LOCAL_TEE:
    case QE_OP_GLOBAL_GET:
    case QE_OP_GLOBAL_SET:
    case QE_OP_TABLE_GET:
    case QE_OP_TABLE_SET:
    case QE_OP_REF_FUNC:
        out->u.index = qe_read_u32(r);
        return r->ok;
    case QE_OP_BR_TABLE:
        return read_br_table(ir, out);
    case QE_OP_CALL_INDIRECT:
        out->u.call_indirect.typeidx = qe_read_u32(r);
        out->u.call_indirect.table = qe_read_u32(r);
        return r->ok;
    case QE_OP_SELECT_T: {
        uint32_t n = qe_read_u32(r);
        if (!r->ok) return false;
        if (n != 1) return qe_reader_fail(r, "invalid result arity");
        out->u.select_t.count = n;
        out->u.select_t.type = qe_read_u8(r);
        if (r->ok && !qe_is_valtype(out->u.select_t.type)) return qe_reader_fail(r, "malformed value type");
        return r->ok;
    }
    case QE_OP_MEMORY_SIZE:
    case QE_OP_MEMORY_GROW:
        out->u.index = 0;
        return zero_byte(r);
    case QE_OP_I32_CONST:
        out->u.i32 = qe_read_s32(r);
        return r->ok;
    case QE_OP_I64_CONST:
        out->u.i64 = qe_read_s64(r);
        return r->ok;
    case QE_OP_F32_CONST:
        out->u.f32 = qe_read_f32_bits(r);
        return r->ok;
    case QE_OP_F64_CONST:
        out->u.f64 = qe_read_f64_bits(r);
        return r->ok;
    case QE_OP_REF_NULL:
        out->u.reftype = qe_read_u8(r);
        if (r->ok && !qe_is_reftype(out->u.reftype)) return qe_reader_fail(r, "malformed reference type");
        return r->ok;
    case 0xFC:
        return read_prefixed(ir, out);
    case 0xFD:
        return qe_reader_fail(r, "SIMD instructions are not supported yet");
    default:
        break;
    }
    if (op >= 0x28 && op <= 0x3E) return read_memarg(r, out);
    /* Instructions without immediates. */
    if (op == QE_OP_UNREACHABLE || op == QE_OP_NOP || op == QE_OP_ELSE || op == QE_OP_END ||
        op == QE_OP_RETURN || op == QE_OP_DROP || op == QE_OP_SELECT || op == QE_OP_REF_IS_NULL ||
        (op >= 0x45 && op <= 0xC4))
        return true;
    r->p--; /* report the opcode's own offset */
    return qe_reader_fail(r, "illegal opcode");
}
