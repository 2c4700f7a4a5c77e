/*
 * instr.c — decoding one instruction and its immediates (see module.h).
 *
 * The validator and the translator both walk every body through
 * qe_instr_next, so the common cases (one-byte opcodes, one-byte
 * immediates) avoid function calls and nothing is allocated per
 * instruction.
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

static inline uint32_t read_index(qe_reader *r)
{
    if (r->p < r->end && *r->p < 0x80) return *r->p++;
    return qe_read_u32(r);
}

/* Fails at the byte just read, so the offset points at it. */
static bool fail_back(qe_reader *r, const char *msg)
{
    if (r->ok) r->p--;
    return qe_reader_fail(r, msg);
}

/* 0x40 (no value), a value type, or a non-negative s33 type index. Like
 * the reference decoder, a byte of the form 0b01xxxxxx is a value type. */
static bool read_blocktype(qe_reader *r, qe_instr *out)
{
    if (r->p >= r->end) return qe_reader_fail(r, "unexpected end of section or function");
    uint8_t b = *r->p;
    if (b == 0x40) {
        r->p++;
        out->u.block.kind = QE_BLOCKTYPE_EMPTY;
        return true;
    }
    if ((b & 0xC0) == 0x40) {
        r->p++;
        if (!qe_is_valtype(b)) return fail_back(r, "malformed value type");
        out->u.block.kind = QE_BLOCKTYPE_VALUE;
        out->u.block.valtype = b;
        return true;
    }
    const uint8_t *at = r->p;
    int64_t idx = qe_read_s33(r);
    if (!r->ok) return false;
    if (idx < 0) {
        r->p = at;
        return qe_reader_fail(r, "malformed block type");
    }
    out->u.block.kind = QE_BLOCKTYPE_INDEX;
    out->u.block.typeidx = (uint32_t)idx;
    return true;
}

/* The alignment exponent: 2.0 has one memory and no flag bits, so 32 and
 * above cannot be encoded. */
static bool read_memarg(qe_reader *r, qe_instr *out)
{
    const uint8_t *at = r->p;
    out->u.mem.align = read_index(r);
    if (r->ok && out->u.mem.align >= 32) {
        r->p = at;
        return qe_reader_fail(r, "malformed memop flags");
    }
    out->u.mem.offset = read_index(r);
    out->u.mem.memory = 0;
    return r->ok;
}

/* Memory indices of 2.0 instructions are a reserved single zero byte. */
static bool zero_byte(qe_reader *r)
{
    uint8_t b = qe_read_u8(r);
    if (!r->ok) return false;
    return b == 0 ? true : fail_back(r, "zero byte expected");
}

static bool read_br_table(qe_instr_reader *ir, qe_instr *out)
{
    qe_reader *r = &ir->r;
    uint32_t n = read_index(r);
    if (!r->ok) return false;
    /* Each target takes a byte at least: a count the remaining bytes
     * cannot hold is cut short before anything is allocated for it. */
    if (n > (size_t)(r->end - r->p)) {
        r->p = r->end;
        return qe_reader_fail(r, "unexpected end of section or function");
    }
    if (n > ir->targets_cap) {
        size_t cap = ir->targets_cap ? ir->targets_cap : 16;
        while (cap < n) cap *= 2;
        uint32_t *t = realloc(ir->targets, cap * sizeof *t);
        if (!t) return qe_reader_fail(r, "out of memory");
        ir->targets = t;
        ir->targets_cap = (uint32_t)(cap > UINT32_MAX ? UINT32_MAX : cap);
    }
    uint32_t *targets = ir->targets;
    for (uint32_t i = 0; i < n; i++) targets[i] = read_index(r);
    out->u.br_table.count = n;
    out->u.br_table.targets = targets;
    out->u.br_table.default_target = read_index(r);
    return r->ok;
}

/* select with a vector of value types: 2.0 admits exactly one, but the
 * whole vector is read first so that a malformed type is reported as such. */
static bool read_select_types(qe_reader *r, qe_instr *out)
{
    uint32_t n = read_index(r);
    out->u.select_t.count = n;
    out->u.select_t.type = 0;
    for (uint32_t i = 0; i < n && r->ok; i++) {
        uint8_t t = qe_read_u8(r);
        if (!r->ok) return false;
        if (!qe_is_valtype(t)) return fail_back(r, "malformed value type");
        if (i == 0) out->u.select_t.type = t;
    }
    if (r->ok && n != 1) return qe_reader_fail(r, "invalid result arity");
    return r->ok;
}

static bool read_prefixed(qe_instr_reader *ir, qe_instr *out, const uint8_t *opcode_at)
{
    qe_reader *r = &ir->r;
    uint32_t sub = read_index(r);
    if (!r->ok) return false;
    if (sub > 0x11) {
        r->p = opcode_at;
        return qe_reader_fail(r, "illegal opcode");
    }
    out->op = (uint16_t)(0xFC00 | sub);
    switch (out->op) {
    case QE_OP_MEMORY_INIT:
        out->u.pair.a = read_index(r);
        out->u.pair.b = 0;
        return r->ok && zero_byte(r);
    case QE_OP_DATA_DROP:
    case QE_OP_ELEM_DROP:
    case QE_OP_TABLE_GROW:
    case QE_OP_TABLE_SIZE:
    case QE_OP_TABLE_FILL:
        out->u.index = read_index(r);
        return r->ok;
    case QE_OP_MEMORY_COPY:
        out->u.pair.a = out->u.pair.b = 0;
        return zero_byte(r) && zero_byte(r);
    case QE_OP_MEMORY_FILL:
        out->u.index = 0;
        return zero_byte(r);
    case QE_OP_TABLE_INIT: /* element segment, then table */
    case QE_OP_TABLE_COPY: /* destination table, then source */
        out->u.pair.a = read_index(r);
        out->u.pair.b = read_index(r);
        return r->ok;
    default: /* the saturating truncations: no immediates */
        return true;
    }
}

/* What follows each one-byte opcode, so that decoding is one table load
 * and one jump. */
enum {
    ILLEGAL, NONE, BLOCKTYPE, INDEX, BR_TABLE, CALL_INDIRECT, SELECT_T, MEMARG, ZERO,
    I32, I64, F32, F64, REFTYPE, PREFIX_FC, PREFIX_FD,
};
#define xx ILLEGAL
#define no NONE
#define bt BLOCKTYPE
#define ix INDEX
#define ma MEMARG
static const uint8_t IMMEDIATES[256] = {
    /* 0x00 unreachable nop block loop if else; end br br_if br_table return */
    no, no, bt, bt, bt, no, xx, xx, xx, xx, xx, no, ix, ix, BR_TABLE, no,
    /* 0x10 call call_indirect; drop select select_t */
    ix, CALL_INDIRECT, xx, xx, xx, xx, xx, xx, xx, xx, no, no, SELECT_T, xx, xx, xx,
    /* 0x20 local.get/set/tee global.get/set table.get/set; 0x28.. loads */
    ix, ix, ix, ix, ix, ix, ix, xx, ma, ma, ma, ma, ma, ma, ma, ma,
    /* 0x30 loads, stores, memory.size memory.grow */
    ma, ma, ma, ma, ma, ma, ma, ma, ma, ma, ma, ma, ma, ma, ma, ZERO,
    /* 0x40 memory.grow, constants, then numeric instructions up to 0xC4 */
    ZERO, I32, I64, F32, F64, no, no, no, no, no, no, no, no, no, no, no,
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0x50 */
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0x60 */
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0x70 */
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0x80 */
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0x90 */
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0xA0 */
    no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, no, /* 0xB0 */
    /* 0xC0 sign extensions */
    no, no, no, no, no, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx,
    /* 0xD0 ref.null ref.is_null ref.func */
    REFTYPE, no, ix, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx,
    xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, /* 0xE0 */
    /* 0xF0; 0xFC misc prefix, 0xFD SIMD prefix */
    xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, xx, PREFIX_FC, PREFIX_FD, xx, xx,
};
#undef xx
#undef no
#undef bt
#undef ix
#undef ma

bool qe_instr_next(qe_instr_reader *ir, qe_instr *out)
{
    qe_reader *r = &ir->r;
    const uint8_t *at = r->p;
    out->offset = (uint32_t)(at - r->base);
    if (at >= r->end) return qe_reader_fail(r, "unexpected end of section or function");
    uint8_t op = *at;
    r->p = at + 1;
    out->op = op;
    switch (IMMEDIATES[op]) {
    case NONE:
        return true;
    case INDEX:
        out->u.index = read_index(r);
        return r->ok;
    case BLOCKTYPE:
        return read_blocktype(r, out);
    case BR_TABLE:
        return read_br_table(ir, out);
    case CALL_INDIRECT:
        out->u.call_indirect.typeidx = read_index(r);
        out->u.call_indirect.table = read_index(r);
        return r->ok;
    case SELECT_T:
        return read_select_types(r, out);
    case MEMARG:
        return read_memarg(r, out);
    case ZERO: /* memory.size and memory.grow */
        out->u.index = 0;
        return zero_byte(r);
    case I32:
        out->u.i32 = qe_read_s32(r);
        return r->ok;
    case I64:
        out->u.i64 = qe_read_s64(r);
        return r->ok;
    case F32:
        out->u.f32 = qe_read_f32_bits(r);
        return r->ok;
    case F64:
        out->u.f64 = qe_read_f64_bits(r);
        return r->ok;
    case REFTYPE:
        out->u.reftype = qe_read_u8(r);
        if (r->ok && !qe_is_reftype(out->u.reftype)) return fail_back(r, "malformed reference type");
        return r->ok;
    case PREFIX_FC:
        return read_prefixed(ir, out, at);
    case PREFIX_FD:
        r->p = at;
        return qe_reader_fail(r, "SIMD instructions are not supported yet");
    default:
        r->p = at;
        return qe_reader_fail(r, "illegal opcode");
    }
}
