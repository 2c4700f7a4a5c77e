/*
 * ops.h — the internal instruction set run by interp.c.
 *
 * Every instruction is a sequence of 32-bit words: the handler's offset
 * (filled in by the translator from qe_op_handlers), then operands. Operand
 * letters below: S = source slot, D = destination slot, T = branch target
 * (signed word offset from the instruction's first word), I = immediate.
 * Slots index the frame: fp[slot].
 */
#ifndef QYVOL_ENGINE_OPS_H
#define QYVOL_ENGINE_OPS_H

#include <stdint.h>

/* Numeric operators taking one source: X(wasm opcode, name). Layout S D. */
#define QE_UNARY_OPS(X)                                                                     \
    X(0x45, i32_eqz) X(0x50, i64_eqz)                                                       \
    X(0x67, i32_clz) X(0x68, i32_ctz) X(0x69, i32_popcnt)                                   \
    X(0x79, i64_clz) X(0x7A, i64_ctz) X(0x7B, i64_popcnt)                                   \
    X(0x8B, f32_abs) X(0x8C, f32_neg) X(0x8D, f32_ceil) X(0x8E, f32_floor)                  \
    X(0x8F, f32_trunc) X(0x90, f32_nearest) X(0x91, f32_sqrt)                               \
    X(0x99, f64_abs) X(0x9A, f64_neg) X(0x9B, f64_ceil) X(0x9C, f64_floor)                  \
    X(0x9D, f64_trunc) X(0x9E, f64_nearest) X(0x9F, f64_sqrt)                               \
    X(0xA8, i32_trunc_f32_s) X(0xA9, i32_trunc_f32_u)                                       \
    X(0xAA, i32_trunc_f64_s) X(0xAB, i32_trunc_f64_u)                                       \
    X(0xAC, i64_extend_i32_s) X(0xAD, i64_extend_i32_u)                                     \
    X(0xAE, i64_trunc_f32_s) X(0xAF, i64_trunc_f32_u)                                       \
    X(0xB0, i64_trunc_f64_s) X(0xB1, i64_trunc_f64_u)                                       \
    X(0xB2, f32_convert_i32_s) X(0xB3, f32_convert_i32_u)                                   \
    X(0xB4, f32_convert_i64_s) X(0xB5, f32_convert_i64_u) X(0xB6, f32_demote_f64)           \
    X(0xB7, f64_convert_i32_s) X(0xB8, f64_convert_i32_u)                                   \
    X(0xB9, f64_convert_i64_s) X(0xBA, f64_convert_i64_u) X(0xBB, f64_promote_f32)          \
    X(0xC0, i32_extend8_s) X(0xC1, i32_extend16_s)                                          \
    X(0xC2, i64_extend8_s) X(0xC3, i64_extend16_s) X(0xC4, i64_extend32_s)                  \
    X(0xFC00, i32_trunc_sat_f32_s) X(0xFC01, i32_trunc_sat_f32_u)                           \
    X(0xFC02, i32_trunc_sat_f64_s) X(0xFC03, i32_trunc_sat_f64_u)                           \
    X(0xFC04, i64_trunc_sat_f32_s) X(0xFC05, i64_trunc_sat_f32_u)                           \
    X(0xFC06, i64_trunc_sat_f64_s) X(0xFC07, i64_trunc_sat_f64_u)

/* Numeric operators taking two sources. Layout S S D. */
#define QE_BINARY_OPS(X)                                                                    \
    X(0x46, i32_eq) X(0x47, i32_ne) X(0x48, i32_lt_s) X(0x49, i32_lt_u)                     \
    X(0x4A, i32_gt_s) X(0x4B, i32_gt_u) X(0x4C, i32_le_s) X(0x4D, i32_le_u)                 \
    X(0x4E, i32_ge_s) X(0x4F, i32_ge_u)                                                     \
    X(0x51, i64_eq) X(0x52, i64_ne) X(0x53, i64_lt_s) X(0x54, i64_lt_u)                     \
    X(0x55, i64_gt_s) X(0x56, i64_gt_u) X(0x57, i64_le_s) X(0x58, i64_le_u)                 \
    X(0x59, i64_ge_s) X(0x5A, i64_ge_u)                                                     \
    X(0x5B, f32_eq) X(0x5C, f32_ne) X(0x5D, f32_lt) X(0x5E, f32_gt) X(0x5F, f32_le)         \
    X(0x60, f32_ge)                                                                         \
    X(0x61, f64_eq) X(0x62, f64_ne) X(0x63, f64_lt) X(0x64, f64_gt) X(0x65, f64_le)         \
    X(0x66, f64_ge)                                                                         \
    X(0x6A, i32_add) X(0x6B, i32_sub) X(0x6C, i32_mul) X(0x6D, i32_div_s)                   \
    X(0x6E, i32_div_u) X(0x6F, i32_rem_s) X(0x70, i32_rem_u) X(0x71, i32_and)               \
    X(0x72, i32_or) X(0x73, i32_xor) X(0x74, i32_shl) X(0x75, i32_shr_s)                    \
    X(0x76, i32_shr_u) X(0x77, i32_rotl) X(0x78, i32_rotr)                                  \
    X(0x7C, i64_add) X(0x7D, i64_sub) X(0x7E, i64_mul) X(0x7F, i64_div_s)                   \
    X(0x80, i64_div_u) X(0x81, i64_rem_s) X(0x82, i64_rem_u) X(0x83, i64_and)               \
    X(0x84, i64_or) X(0x85, i64_xor) X(0x86, i64_shl) X(0x87, i64_shr_s)                    \
    X(0x88, i64_shr_u) X(0x89, i64_rotl) X(0x8A, i64_rotr)                                  \
    X(0x92, f32_add) X(0x93, f32_sub) X(0x94, f32_mul) X(0x95, f32_div)                     \
    X(0x96, f32_min) X(0x97, f32_max) X(0x98, f32_copysign)                                 \
    X(0xA0, f64_add) X(0xA1, f64_sub) X(0xA2, f64_mul) X(0xA3, f64_div)                     \
    X(0xA4, f64_min) X(0xA5, f64_max) X(0xA6, f64_copysign)

/* Loads: layout S(address) D I(offset). Stores: S(address) S(value) I(offset).
 * Float loads/stores share the integer ones of the same width (the bits are
 * the same), and i64 narrow stores the i32 ones (slots are little-endian). */
#define QE_LOAD_OPS(X)                                                                      \
    X(0x28, i32_load) X(0x29, i64_load) X(0x2C, i32_load8_s) X(0x2D, i32_load8_u)           \
    X(0x2E, i32_load16_s) X(0x2F, i32_load16_u) X(0x30, i64_load8_s) X(0x31, i64_load8_u)   \
    X(0x32, i64_load16_s) X(0x33, i64_load16_u) X(0x34, i64_load32_s) X(0x35, i64_load32_u)
#define QE_STORE_OPS(X)                                                                     \
    X(0x36, i32_store) X(0x37, i64_store) X(0x3A, i32_store8) X(0x3B, i32_store16)

/* Loads and stores whose address is an i32.add with an immediate: the
 * _ai forms take the addend as one more operand, S D I(offset) I(addend)
 * and S S I(offset) I(addend), and wrap the sum to 32 bits as the add did.
 * The _aa forms are the same for an i32.add of two slots: the addend is
 * a slot, S D I(offset) S(addend) and S S I(offset) S(addend). */

/* Fused compare-and-branch on i32 (S S T): jump when the comparison holds.
 * The _imm forms compare with an immediate (S I T). */
#define QE_BRANCH_CMP_OPS(X)                                                                \
    X(eq) X(ne) X(lt_s) X(lt_u) X(gt_s) X(gt_u) X(le_s) X(le_u) X(ge_s) X(ge_u)

/* The same, after an i32_add_imm that runs first (a loop's increment and
 * test): add_br_if_X is S S T S(a) I(k) D, add_br_if_X_imm S I T S(a) I(k) D,
 * doing fp[D] = fp[a] + k before comparing. */

/* i32 operators with an immediate second operand (S I D), so constants
 * need no frame slot: X(name of the two-slot form). */
#define QE_BINARY_IMM_OPS(X)                                                                \
    X(i32_add) X(i32_sub) X(i32_mul) X(i32_and) X(i32_or) X(i32_xor) X(i32_shl)             \
    X(i32_shr_s) X(i32_shr_u) X(i32_rotl) X(i32_rotr)                                       \
    X(i32_eq) X(i32_ne) X(i32_lt_s) X(i32_lt_u) X(i32_gt_s) X(i32_gt_u) X(i32_le_s)         \
    X(i32_le_u) X(i32_ge_s) X(i32_ge_u)

/* All other instructions, with their layouts. */
#define QE_CONTROL_OPS(X)                                                                   \
    X(unreachable)       /* */                                                              \
    X(br)                /* T */                                                            \
    X(i32_add_imm_br)    /* S I D T: fp[D] = fp[S] + I, then jump */                        \
    X(i32_copy_add_imm_br) /* S I D C T: i32_copy_add_imm, then jump */                     \
    X(br_if)             /* S T: jump if fp[S].i32 != 0 */                                  \
    X(br_unless)         /* S T: jump if fp[S].i32 == 0 */                                  \
    X(br_table)          /* S I(n) T*n T(default) */                                        \
    X(copy)              /* S D: 64-bit move */                                             \
    X(copy2)             /* S D S D: two moves, in order */                                 \
    X(return)            /* results already in fp[0..) */                                   \
    X(return1)           /* S: fp[0] = fp[S], then return */                                \
    X(i32_add_return1)   /* S S: fp[0] = fp[S] + fp[S] (i32), then return */                 \
    X(i32_load8_u_shl_imm) /* S I(offset) I(shift) D: a byte loaded, shifted left */        \
    X(call)              /* I(function index) I(frame offset) */                            \
    X(i32_add_imm_call)  /* S I D I(function index) I(frame offset): i32_add_imm, then call */ \
    X(call_indirect)     /* I(table) I(type id) S(element index) I(frame offset) */         \
    X(select)            /* S(cond) S(if true) S(if false) D */                             \
    X(global_get)        /* I(global) D */                                                  \
    X(global_set)        /* I(global) S */                                                  \
    X(memory_size)       /* D */                                                            \
    X(memory_grow)       /* S D */                                                          \
    X(memory_fill)       /* S(dst) S(value) S(n) */                                         \
    X(memory_copy)       /* S(dst) S(src) S(n) */                                           \
    X(memory_init)       /* I(data) S(dst) S(src) S(n) */                                   \
    X(data_drop)         /* I(data) */                                                      \
    X(table_get)         /* I(table) S D */                                                 \
    X(table_set)         /* I(table) S(index) S(value) */                                   \
    X(table_size)        /* I(table) D */                                                   \
    X(table_grow)        /* I(table) S(init) S(n) D */                                      \
    X(table_fill)        /* I(table) S(i) S(value) S(n) */                                  \
    X(table_copy)        /* I(dst table) I(src table) S(d) S(s) S(n) */                     \
    X(table_init)        /* I(table) I(elem) S(d) S(s) S(n) */                              \
    X(elem_drop)         /* I(elem) */                                                      \
    X(ref_is_null)       /* S D */                                                          \
    X(ref_func)          /* I(function index) D */                                          \
    X(const32)           /* I D: fp[D] = I, zero-extended */                                \
    X(const64)           /* I(low) I(high) D */                                             \
    X(f64_mul_add)       /* S(x) S(y) S(c) D: x*y + c, two roundings (no FMA) */             \
    X(f64_mul_sub)       /* S(x) S(y) S(c) D: x*y - c */                                    \
    X(f64_sub_mul)       /* S(x) S(y) S(c) D: c - x*y */                                    \
    X(f64_mul_mul)       /* S(x) S(y) S(c) D: x*y*c */                                      \
    X(i32_store_add_imm) /* S(address) S(x) I(offset) I(k): i32_store of x + k */           \
    X(i32_add_imm_copy)  /* S I D D2: fp[D] = fp[D2] = fp[S] + I */                         \
    X(i32_add_imm_load)  /* S D I(offset) I(k) A: fp[A] = fp[S] + k, then i32_load from fp[A] into D */ \
    X(f64_add_store)     /* S(address) S(x) S(y) I(offset): f64 store of x + y */           \
    X(f64_sub_store)     /* the same with x - y */                                          \
    X(f64_mul_store)     /* the same with x * y */                                          \
    X(f64_load_add_store) /* S(from) D(x) I(from offset) S(y) S(to) I(offset): x = load; store x + y */ \
    X(f64_add_load_store) /* the same, storing y + x */                                     \
    X(load8u_br_if_eq_imm) /* S(address) I(c) T D I(offset): D = byte; jump if D == c */    \
    X(load8u_br_if_ne_imm) /* the same, jump if D != c */                                  \
    X(i32_copy_add_imm)  /* S I D C: fp[C] = fp[S], then fp[D] = fp[S] + I (`q = p++`) */   \
    X(i32_xor_mul_imm)   /* S S I D: fp[D] = (fp[S] ^ fp[S]) * I (FNV hashing) */       \
    X(i32_shr_u_and_imm) /* S I(shift) I(mask) D: fp[D] = (fp[S] >> shift) & mask */      \
    X(select_and_imm)    /* S(x) I(mask) S(if true) S(if false) D: select on x & mask */   \
    X(i32_load_br_if)    /* S(address) D I(offset) T: D = i32_load; jump if D != 0 */     \
    X(i32_load_br_unless) /* the same, jump if D == 0 */                                  \
    X(i32_load8_u_br_if) /* the same with a byte load */                                  \
    X(i32_load8_u_br_unless) /* the same, jump if the byte is 0 */                       \
    X(i32_and_br_if_eq_imm) /* S I(c) T D I(mask): D = S & mask; jump if D == c */        \
    X(i32_and_br_if_ne_imm) /* the same, jump if D != c */                               \
    X(i32_add3)          /* S S S D: fp[D] = fp[S] + fp[S] + fp[S] (i32) */               \
    X(i32_mul_add)       /* S(x) S(y) S(c) D: fp[D] = x * y + c (i32) */               \
    X(i32_load_i32_load) /* S D I(offset) D2 I(offset2): D = i32_load S; D2 = i32_load D */ \
    X(i32_load_load8_u)  /* the same, D2 = i32_load8_u D */                                 \
    X(i32_load_load16_u) /* the same, D2 = i32_load16_u D */                                \
    X(i32_load_load16_s) /* the same, D2 = i32_load16_s D */

/* Every instruction, in the order of enum qe_opcode, for the lists built
 * from it (the enum, the interpreter's labels, the counting build's names):
 * one macro per naming pattern. */
#define QE_FOR_EACH_OP(X2, X1, XBR, XBRI, XIMM, XAI, XAA, XADDBR)                           \
    QE_UNARY_OPS(X2) QE_BINARY_OPS(X2) QE_LOAD_OPS(X2) QE_STORE_OPS(X2)                     \
    QE_BRANCH_CMP_OPS(XBR) QE_CONTROL_OPS(X1)                                               \
    QE_BRANCH_CMP_OPS(XBRI) QE_BINARY_IMM_OPS(XIMM)                                         \
    QE_LOAD_OPS(XAI) QE_STORE_OPS(XAI)                                                      \
    QE_LOAD_OPS(XAA) QE_STORE_OPS(XAA)                                                      \
    QE_BRANCH_CMP_OPS(XADDBR)

enum qe_opcode {
#define QE_OP_ENUM2(code, name) QE_I_##name,
#define QE_OP_ENUM1(name) QE_I_##name,
#define QE_OP_ENUM_BR(name) QE_I_br_if_##name,
#define QE_OP_ENUM_BR_IMM(name) QE_I_br_if_##name##_imm,
#define QE_OP_ENUM_IMM(name) QE_I_##name##_imm,
#define QE_OP_ENUM_AI(code, name) QE_I_##name##_ai,
#define QE_OP_ENUM_AA(code, name) QE_I_##name##_aa,
#define QE_OP_ENUM_ADD_BR(name) QE_I_add_br_if_##name, QE_I_add_br_if_##name##_imm,
    QE_FOR_EACH_OP(QE_OP_ENUM2, QE_OP_ENUM1, QE_OP_ENUM_BR, QE_OP_ENUM_BR_IMM, QE_OP_ENUM_IMM,
                   QE_OP_ENUM_AI, QE_OP_ENUM_AA, QE_OP_ENUM_ADD_BR)
    QE_I__COUNT
#undef QE_OP_ENUM2
#undef QE_OP_ENUM1
#undef QE_OP_ENUM_BR
#undef QE_OP_ENUM_BR_IMM
#undef QE_OP_ENUM_IMM
#undef QE_OP_ENUM_AI
#undef QE_OP_ENUM_AA
#undef QE_OP_ENUM_ADD_BR
};

/* Handler offsets, indexed by enum qe_opcode; filled by qe_interp_init(). */
extern int32_t qe_op_handlers[QE_I__COUNT];
void qe_interp_init(void);

#endif
