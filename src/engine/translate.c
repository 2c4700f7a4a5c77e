/*
 * translate.c — compile one validated function body into internal code.
 *
 * The WebAssembly operand stack is resolved at translation time: position k
 * of the stack lives in frame slot stack_base + k ("home" slot). A value on
 * the compile-time stack may also still live elsewhere — in a local's slot
 * after local.get, or in a constant slot — and is only copied home when
 * something needs it there (a block boundary, a call argument, a branch).
 * So `local.get a; local.get b; i32.add; local.set c` becomes one
 * instruction `i32_add a b -> c`: operands name slots directly, and the
 * destination of the last instruction is retargeted by local.set.
 *
 * Control flow: blocks and ifs record forward branches and patch them at
 * their end; loops branch back to their start. Branches that carry values
 * copy them to the target's home slots. An i32 comparison (or eqz) directly
 * followed by br_if or if fuses into one compare-and-branch instruction.
 * Code after an unconditional transfer is skipped up to its block's end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "runtime.h"
#include "translate.h"

/* Implementation limit on params + locals of one function. */
#define MAX_LOCALS 50000u
/* Implementation limit on the slots of one frame. */
#define MAX_FRAME_SLOTS (1u << 22)

enum { CTRL_BLOCK, CTRL_LOOP, CTRL_IF, CTRL_ELSE, CTRL_FUNC };

typedef struct vsent {
    uint8_t type;
    bool is_const;               /* a constant not yet in any slot: bits */
    uint32_t slot;               /* where the value is now, or NO_SLOT */
    uint64_t bits;
} vsent;

#define NO_SLOT UINT32_MAX

typedef struct ctrl {
    uint8_t kind;
    bool unreachable;            /* the rest of this block is dead */
    uint32_t height;             /* stack height below the block's params */
    uint32_t nparams, nresults;
    const uint8_t *params, *results;
    uint32_t loop_start;         /* code index of a loop's first instruction */
    uint32_t fixups;             /* forward branches to patch at end: list head + 1 */
    uint32_t else_instr, else_operand; /* an if's jump to its else (operand 0: none) */
} ctrl;

typedef struct fixup { uint32_t instr, operand, next; } fixup;

typedef struct tr {
    const qe_module *m;
    qv_error *err;
    uint32_t func_index;
    const qe_functype *type;

    uint32_t *code;
    uint32_t len, cap;

    uint8_t *local_types;
    uint32_t nlocals_all;        /* params + locals */
    /* Until the first point that control can reach from two places (a
     * loop, the end of a block, an else), which locals still hold the zero
     * the frame starts them with: storing a zero there again (clang
     * initialises its accumulators that way) emits nothing. */
    bool prefix;
    uint8_t *known_zero;
    uint32_t const_base, stack_base;

    uint64_t *consts;
    uint32_t nconsts, consts_cap;
    uint32_t *const_hash;        /* open addressing: const index + 1 */
    uint32_t const_hash_cap;

    vsent *vs;
    uint32_t vlen, vcap, max_height;

    ctrl *cs;
    uint32_t clen, ccap;
    uint32_t dead_depth;         /* nesting of blocks opened inside dead code */

    fixup *fx;
    uint32_t fxlen, fxcap;

    fixup *jumps;                /* every resolved branch operand, for threading */
    uint32_t njumps, jumps_cap;

    /* The last instruction wrote its result to the home slot of the top of
     * the stack through operand `last_dst`; it may be retargeted or fused. */
    bool last_valid;
    uint32_t last_start, last_dst;
    int last_op;
    /* Start of the last instruction if it is a single copy that a second
     * one may join (no label in between), else NO_SLOT. */
    uint32_t last_copy;
    /* Start of the last instruction if it is an i32_add_imm (last_add), and
     * the same as it was when the last instruction was emitted
     * (add_before): a compare-and-branch right after an increment takes
     * the increment in (no label in between). NO_SLOT otherwise. */
    uint32_t last_add, add_before;
    /* Starts of the last instruction and of the one before it when no
     * label lies between them (else NO_SLOT): a compare-and-branch on a
     * byte just loaded takes the load in. */
    uint32_t cur_start, prev_start;
    bool oom;
} tr;

static const uint8_t valtype_table[256] = {
    [QE_I32] = QE_I32, [QE_I64] = QE_I64, [QE_F32] = QE_F32, [QE_F64] = QE_F64,
    [QE_V128] = QE_V128, [QE_FUNCREF] = QE_FUNCREF, [QE_EXTERNREF] = QE_EXTERNREF,
};

static bool fail(tr *t, uint32_t offset, const char *msg)
{
    if (t->err) {
        snprintf(t->err->message, sizeof t->err->message, "%s", msg);
        t->err->offset = offset;
        t->err->func_index = t->func_index;
    }
    return false;
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return true;
    uint32_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

/* ------------------------------------------------------------ emission */

static void emit_word(tr *t, uint32_t w)
{
    if (t->len == t->cap && !grow((void **)&t->code, &t->cap, t->len + 1, sizeof *t->code)) {
        t->oom = true;
        return;
    }
    t->code[t->len++] = w;
}

static uint32_t emit_op(tr *t, int op)
{
    uint32_t start = t->len;
    emit_word(t, (uint32_t)qe_op_handlers[op]);
    t->last_valid = false;
    t->last_copy = NO_SLOT;
    t->add_before = t->last_add;
    t->last_add = NO_SLOT;
    t->prev_start = t->cur_start;
    t->cur_start = start;
    return start;
}

static inline uint32_t home(const tr *t, uint32_t pos) { return t->stack_base + pos; }

/* Remember that the instruction at `start` produced the stack top via its
 * operand at `dst_operand`. */
static void produced(tr *t, uint32_t start, uint32_t dst_operand, int op)
{
    t->last_valid = !t->oom;
    t->last_start = start;
    t->last_dst = dst_operand;
    t->last_op = op;
}

static void bind_here(tr *t)
{
    t->last_valid = false;
    t->last_copy = NO_SLOT;
    t->last_add = t->add_before = NO_SLOT;
    t->cur_start = t->prev_start = NO_SLOT;
}

/* Whether the last instruction is `op`, `words` long, with no label since
 * it (so it may be folded into the next one). */
static bool last_instr_is(const tr *t, int op, uint32_t words)
{
    uint32_t at = t->cur_start;
    return at != NO_SLOT && at + words == t->len && !t->oom && t->code[at] == (uint32_t)qe_op_handlers[op];
}

/* Whether the last instruction is an i32_add_imm writing `slot`, with no
 * label since it (so something may be folded into it). */
static bool just_incremented(const tr *t, uint32_t slot)
{
    return last_instr_is(t, QE_I_i32_add_imm, 4) && t->code[t->cur_start + 3] == slot;
}

/* Moves often come in runs (block results, call arguments, shuffles of
 * locals); pairs share one dispatch. */
static void emit_copy(tr *t, uint32_t from, uint32_t to)
{
    /* `p = q = p + 4` (local.tee q; local.set p): the addition writes both. */
    if (just_incremented(t, from)) {
        t->code[t->cur_start] = (uint32_t)qe_op_handlers[QE_I_i32_add_imm_copy];
        emit_word(t, to);
        t->last_copy = NO_SLOT;
        return;
    }
    if (t->last_copy != NO_SLOT && t->last_copy + 3 == t->len && !t->oom) {
        t->code[t->last_copy] = (uint32_t)qe_op_handlers[QE_I_copy2];
        emit_word(t, from);
        emit_word(t, to);
        t->last_copy = NO_SLOT;
        return;
    }
    uint32_t at = emit_op(t, QE_I_copy);
    emit_word(t, from);
    emit_word(t, to);
    t->last_copy = at;
}

/* ------------------------------------------------------------ the value stack */

static void push_at(tr *t, uint8_t type, uint32_t slot)
{
    if (!grow((void **)&t->vs, &t->vcap, t->vlen + 1, sizeof *t->vs)) {
        t->oom = true;
        return;
    }
    t->vs[t->vlen] = (vsent){.type = type, .slot = slot};
    t->vlen++;
    if (t->vlen > t->max_height) t->max_height = t->vlen;
}

static void push_const(tr *t, uint8_t type, uint64_t bits)
{
    push_at(t, type, NO_SLOT);
    if (!t->oom) {
        t->vs[t->vlen - 1].is_const = true;
        t->vs[t->vlen - 1].bits = bits;
    }
}

/* Push a value that the next instruction writes to its home slot. */
static uint32_t push_home(tr *t, uint8_t type)
{
    push_at(t, type, home(t, t->vlen));
    return home(t, t->vlen - 1);
}

static vsent pop(tr *t) { return t->vs[--t->vlen]; }

/* Write a constant into a slot with an immediate load. */
static void emit_const(tr *t, uint64_t bits, uint32_t to)
{
    if (bits <= UINT32_MAX) {
        emit_op(t, QE_I_const32);
        emit_word(t, (uint32_t)bits);
    } else {
        emit_op(t, QE_I_const64);
        emit_word(t, (uint32_t)bits);
        emit_word(t, (uint32_t)(bits >> 32));
    }
    emit_word(t, to);
}

/* Put value v into slot `to`. */
static void emit_move(tr *t, const vsent *v, uint32_t to)
{
    if (v->is_const)
        emit_const(t, v->bits, to);
    else if (v->slot != to)
        emit_copy(t, v->slot, to);
}

static void materialize(tr *t, uint32_t pos)
{
    uint32_t h = home(t, pos);
    if (t->vs[pos].is_const || t->vs[pos].slot != h) {
        emit_move(t, &t->vs[pos], h);
        t->vs[pos].is_const = false;
        t->vs[pos].slot = h;
    }
}

static void materialize_from(tr *t, uint32_t pos)
{
    for (uint32_t i = pos; i < t->vlen; i++) materialize(t, i);
}

/* Before local `slot` is overwritten, copy home every pending read of it. */
static bool protect_local(tr *t, uint32_t slot, uint32_t below)
{
    bool any = false;
    for (uint32_t i = 0; i < below; i++)
        if (t->vs[i].slot == slot) {
            materialize(t, i);
            any = true;
        }
    return any;
}

/* ------------------------------------------------------------ constants */

static uint32_t const_slot(tr *t, uint64_t bits);

/* The slot to read v from as an operand: constants that an instruction
 * cannot take as an immediate live in the frame's constant pool. */
static uint32_t use(tr *t, vsent v) { return v.is_const ? const_slot(t, v.bits) : v.slot; }

static uint32_t const_slot(tr *t, uint64_t bits)
{
    uint32_t mask = t->const_hash_cap - 1;
    uint32_t h = (uint32_t)((bits * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    while (t->const_hash[h]) {
        uint32_t idx = t->const_hash[h] - 1;
        if (t->consts[idx] == bits) return t->const_base + idx;
        h = (h + 1) & mask;
    }
    /* The pre-scan sized the pool for every constant instruction. */
    uint32_t idx = t->nconsts++;
    t->consts[idx] = bits;
    t->const_hash[h] = idx + 1;
    return t->const_base + idx;
}

/* ------------------------------------------------------------ control */

static ctrl *push_ctrl(tr *t, uint8_t kind, uint32_t nparams, const uint8_t *params, uint32_t nresults,
                       const uint8_t *results)
{
    if (!grow((void **)&t->cs, &t->ccap, t->clen + 1, sizeof *t->cs)) {
        t->oom = true;
        return NULL;
    }
    ctrl *c = &t->cs[t->clen++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->nparams = nparams;
    c->params = params;
    c->nresults = nresults;
    c->results = results;
    c->height = t->vlen - nparams;
    c->loop_start = t->len;
    return c;
}

static void add_fixup(tr *t, ctrl *c, uint32_t instr, uint32_t operand)
{
    if (!grow((void **)&t->fx, &t->fxcap, t->fxlen + 1, sizeof *t->fx)) {
        t->oom = true;
        return;
    }
    t->fx[t->fxlen] = (fixup){instr, operand, c->fixups};
    c->fixups = ++t->fxlen;
}

static void patch(tr *t, uint32_t instr, uint32_t operand, uint32_t target)
{
    if (t->oom) return;
    t->code[operand] = (uint32_t)((int32_t)target - (int32_t)instr);
    if (!grow((void **)&t->jumps, &t->jumps_cap, t->njumps + 1, sizeof *t->jumps)) {
        t->oom = true;
        return;
    }
    t->jumps[t->njumps++] = (fixup){instr, operand, 0};
}

/* A branch whose target is an unconditional `br` (the end of a block that
 * jumps on, a switch case going back to its loop) goes straight to where
 * that `br` leads. A few hops at most, so `loop br 0` cannot cycle. */
static void thread_jumps(tr *t)
{
    const uint32_t br = (uint32_t)qe_op_handlers[QE_I_br];
    for (uint32_t i = 0; i < t->njumps; i++) {
        const fixup *j = &t->jumps[i];
        int64_t target = (int64_t)j->instr + (int32_t)t->code[j->operand];
        for (int hop = 0; hop < 4 && target >= 0 && target + 1 < t->len && t->code[target] == br; hop++) {
            int64_t next = target + (int32_t)t->code[target + 1];
            if (next == target) break;
            target = next;
        }
        t->code[j->operand] = (uint32_t)(int32_t)(target - j->instr);
    }
}

static void block_type(const tr *t, const qe_instr *in, uint32_t *np, const uint8_t **p, uint32_t *nr,
                       const uint8_t **r)
{
    *np = *nr = 0;
    *p = *r = NULL;
    if (in->u.block.kind == QE_BLOCKTYPE_VALUE) {
        *nr = 1;
        *r = &valtype_table[in->u.block.valtype];
    } else if (in->u.block.kind == QE_BLOCKTYPE_INDEX) {
        const qe_functype *ft = &t->m->types[in->u.block.typeidx];
        *np = ft->nparams;
        *p = qe_params(ft);
        *nr = ft->nresults;
        *r = qe_results(ft);
    }
}

/* Arity and first home slot of the values a branch to label depth `depth`
 * carries; *is_return for the function's own label. */
static ctrl *label(tr *t, uint32_t depth, uint32_t *arity, bool *is_return)
{
    ctrl *c = &t->cs[t->clen - 1 - depth];
    *is_return = c->kind == CTRL_FUNC;
    *arity = c->kind == CTRL_LOOP ? c->nparams : c->nresults;
    return c;
}

/* Whether the top `arity` values already sit at the label's home slots. */
static bool values_in_place(const tr *t, const ctrl *c, uint32_t arity)
{
    for (uint32_t i = 0; i < arity; i++)
        if (t->vs[t->vlen - arity + i].slot != home(t, c->height + i)) return false;
    return true;
}

static void copy_values_to(tr *t, const ctrl *c, uint32_t arity)
{
    for (uint32_t i = 0; i < arity; i++) emit_move(t, &t->vs[t->vlen - arity + i], home(t, c->height + i));
}

/* Emit a return of the top results (values stay on the compile-time stack). */
static void emit_return(tr *t)
{
    uint32_t n = t->type->nresults;
    if (n == 1) {
        const vsent *v = &t->vs[t->vlen - 1];
        if (v->is_const) emit_const(t, v->bits, 0);
        uint32_t s = v->is_const ? 0 : v->slot;
        if (s == 0) {
            emit_op(t, QE_I_return);
        } else if (last_instr_is(t, QE_I_i32_add, 4) && t->code[t->cur_start + 3] == s) {
            /* `return a + b` (fib's fib(n - 1) + fib(n - 2)): one dispatch. */
            uint32_t at = t->cur_start, a = t->code[at + 1], b = t->code[at + 2];
            t->len = at;
            emit_op(t, QE_I_i32_add_return1);
            emit_word(t, a);
            emit_word(t, b);
        } else {
            emit_op(t, QE_I_return1);
            emit_word(t, s);
        }
        return;
    }
    /* Results go to slots 0..n-1. Copy them home first so that no source
     * is a slot an earlier copy overwrites (home slots lie above). The
     * compile-time stack is left as it is: on a conditional return the
     * fall-through path has not made these copies. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t pos = t->vlen - n + i;
        emit_move(t, &t->vs[pos], home(t, pos));
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t from = home(t, t->vlen - n + i);
        if (from != i) emit_copy(t, from, i);
    }
    emit_op(t, QE_I_return);
}

/* A branch back to a loop whose first instruction is an i32_add_imm (the
 * dispatch loop's pc++, a loop's i++) does that addition itself and lands
 * after it: i32_add_imm_br S I D T, one dispatch instead of two; the same
 * for a post-increment (i32_copy_add_imm_br S I D C T: a scanner's
 * `c = *p++`). Not while the addition is the last instruction, which a
 * local.set could still retarget. */
static bool branch_with_increment(tr *t, uint32_t start)
{
    bool add = start + 4 <= t->len && t->code[start] == (uint32_t)qe_op_handlers[QE_I_i32_add_imm];
    bool copy_add = start + 5 <= t->len && t->code[start] == (uint32_t)qe_op_handlers[QE_I_i32_copy_add_imm];
    if ((!add && !copy_add) || (t->last_valid && t->last_start == start)) return false;
    uint32_t words = add ? 3 : 4;
    uint32_t at = emit_op(t, add ? QE_I_i32_add_imm_br : QE_I_i32_copy_add_imm_br);
    for (uint32_t i = 1; i <= words; i++) emit_word(t, t->code[start + i]);
    emit_word(t, 0);
    patch(t, at, at + 1 + words, start + 1 + words);
    return true;
}

/* Unconditional branch to label `depth` (values stay on the stack). */
static void emit_branch(tr *t, uint32_t depth)
{
    uint32_t arity;
    bool is_return;
    ctrl *c = label(t, depth, &arity, &is_return);
    if (is_return) {
        emit_return(t);
        return;
    }
    copy_values_to(t, c, arity);
    if (c->kind == CTRL_LOOP && branch_with_increment(t, c->loop_start)) return;
    uint32_t at = emit_op(t, QE_I_br);
    emit_word(t, 0);
    if (c->kind == CTRL_LOOP)
        patch(t, at, at + 1, c->loop_start);
    else
        add_fixup(t, c, at, at + 1);
}

static void set_unreachable(tr *t)
{
    ctrl *c = &t->cs[t->clen - 1];
    c->unreachable = true;
    t->vlen = c->height;
    t->last_valid = false;
}

/* Map the i32 comparison that produced the stack top (if the last
 * instruction did) to a fused branch op; *negate_ok says whether it has one. */
static int fused_cmp(int op, bool negate)
{
#define IMM(c, b, n) {QE_I_i32_##c##_imm, QE_I_br_if_##b##_imm, QE_I_br_if_##n##_imm}
    static const struct { int cmp, br, neg; } map[] = {
        IMM(eq, eq, ne), IMM(ne, ne, eq), IMM(lt_s, lt_s, ge_s), IMM(lt_u, lt_u, ge_u), IMM(gt_s, gt_s, le_s),
        IMM(gt_u, gt_u, le_u), IMM(le_s, le_s, gt_s), IMM(le_u, le_u, gt_u), IMM(ge_s, ge_s, lt_s),
        IMM(ge_u, ge_u, lt_u),
#undef IMM
        {QE_I_i32_eq, QE_I_br_if_eq, QE_I_br_if_ne},     {QE_I_i32_ne, QE_I_br_if_ne, QE_I_br_if_eq},
        {QE_I_i32_lt_s, QE_I_br_if_lt_s, QE_I_br_if_ge_s}, {QE_I_i32_lt_u, QE_I_br_if_lt_u, QE_I_br_if_ge_u},
        {QE_I_i32_gt_s, QE_I_br_if_gt_s, QE_I_br_if_le_s}, {QE_I_i32_gt_u, QE_I_br_if_gt_u, QE_I_br_if_le_u},
        {QE_I_i32_le_s, QE_I_br_if_le_s, QE_I_br_if_gt_s}, {QE_I_i32_le_u, QE_I_br_if_le_u, QE_I_br_if_gt_u},
        {QE_I_i32_ge_s, QE_I_br_if_ge_s, QE_I_br_if_lt_s}, {QE_I_i32_ge_u, QE_I_br_if_ge_u, QE_I_br_if_lt_u},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i].cmp == op) return negate ? map[i].neg : map[i].br;
    return -1;
}

/* The compare-and-branch op that first does an i32_add_imm. */
static int add_then_branch(int op)
{
    switch (op) {
#define CASE(name)                                                                          \
    case QE_I_br_if_##name: return QE_I_add_br_if_##name;                                   \
    case QE_I_br_if_##name##_imm: return QE_I_add_br_if_##name##_imm;
        QE_BRANCH_CMP_OPS(CASE)
#undef CASE
    }
    return op;
}

/* A byte load or an i32.and with a constant, then a comparison of its
 * result with a constant for (in)equality, then the branch: `if (*p ==
 * '"')`, the heart of scanners and parsers, and `if ((c & 0xff) == ',')`.
 * When the compare-and-branch `op` (on slot a and immediate b) follows
 * such an instruction writing slot a, emit one instruction for all three,
 * which still writes a: load8u_br_if_eq_imm S(address) I(b) T D
 * I(offset), i32_and_br_if_eq_imm S I(b) T D I(mask), and their _ne_
 * forms. Returns false if it does not apply. */
static bool fuse_test_of_last(tr *t, int op, uint32_t a, uint32_t b, uint32_t *operand)
{
    static const struct { int first, dst, imm, eq, ne; } forms[] = {
        {QE_I_i32_load8_u, 2, 3, QE_I_load8u_br_if_eq_imm, QE_I_load8u_br_if_ne_imm},
        {QE_I_i32_and_imm, 3, 2, QE_I_i32_and_br_if_eq_imm, QE_I_i32_and_br_if_ne_imm},
    };
    if (op != QE_I_br_if_eq_imm && op != QE_I_br_if_ne_imm) return false;
    uint32_t first = t->prev_start;
    if (first == NO_SLOT || first + 4 != t->last_start) return false;
    size_t i = 0;
    while (i < 2 && (t->code[first] != (uint32_t)qe_op_handlers[forms[i].first] ||
                     t->code[first + forms[i].dst] != a))
        i++;
    if (i == 2) return false;
    uint32_t source = t->code[first + 1], imm = t->code[first + forms[i].imm];
    t->len = first;
    uint32_t at = emit_op(t, op == QE_I_br_if_eq_imm ? forms[i].eq : forms[i].ne);
    emit_word(t, source);
    emit_word(t, b);
    emit_word(t, 0);
    emit_word(t, a);
    emit_word(t, imm);
    *operand = at + 3;
    return true;
}

/* A value loaded by the instruction at `at` (an i32.load or a byte load
 * into `slot`, nothing between it and the end of the code), then a branch
 * on it being zero or not: `while ((p = p->next))`, `if (!*s)`. One
 * instruction does both, still writing the loaded value: i32_load_br_if S
 * D I(offset) T and its relatives. Returns the instruction's start, or
 * NO_SLOT if it does not apply; *operand gets the target operand. */
static uint32_t fuse_load_test(tr *t, uint32_t at, uint32_t slot, bool if_zero, uint32_t *operand)
{
    if (at == NO_SLOT || at + 4 != t->len || t->oom || t->code[at + 2] != slot) return NO_SLOT;
    int op;
    if (t->code[at] == (uint32_t)qe_op_handlers[QE_I_i32_load])
        op = if_zero ? QE_I_i32_load_br_unless : QE_I_i32_load_br_if;
    else if (t->code[at] == (uint32_t)qe_op_handlers[QE_I_i32_load8_u])
        op = if_zero ? QE_I_i32_load8_u_br_unless : QE_I_i32_load8_u_br_if;
    else
        return NO_SLOT;
    uint32_t address = t->code[at + 1], offset = t->code[at + 3];
    t->len = at;
    t->cur_start = NO_SLOT;
    uint32_t start = emit_op(t, op);
    emit_word(t, address);
    emit_word(t, slot);
    emit_word(t, offset);
    emit_word(t, 0);
    *operand = start + 4;
    return start;
}

/* Emit "jump if cond (or if !cond when `negate`)" with a target operand to
 * be patched; the condition has been popped as `cond`. Returns the
 * instruction start; *operand receives the target operand index. */
static uint32_t emit_cond_jump(tr *t, vsent cond, bool negate, uint32_t *operand)
{
    uint32_t cond_home = home(t, t->vlen);
    if (t->last_valid && cond.slot == cond_home && t->code[t->last_dst] == cond_home) {
        int op = t->last_op;
        if (op == QE_I_i32_eqz) {
            uint32_t a = t->code[t->last_start + 1];
            t->len = t->last_start;
            uint32_t at = fuse_load_test(t, t->prev_start, a, !negate, operand);
            if (at != NO_SLOT) return at;
            at = emit_op(t, negate ? QE_I_br_if : QE_I_br_unless);
            emit_word(t, a);
            emit_word(t, 0);
            *operand = at + 2;
            return at;
        }
        int fused = fused_cmp(op, negate);
        if (fused >= 0) {
            uint32_t a = t->code[t->last_start + 1], b = t->code[t->last_start + 2];
            if (fuse_test_of_last(t, fused, a, b, operand)) return t->len - 6;
            t->len = t->last_start;
            /* An increment just before (a loop's i += k): one instruction
             * does both, the increment first; its operands go last so the
             * target stays operand 3. */
            uint32_t add = t->add_before, inc[3];
            bool with_add = add != NO_SLOT && add + 4 == t->len &&
                            t->code[add] == (uint32_t)qe_op_handlers[QE_I_i32_add_imm];
            if (with_add) {
                memcpy(inc, t->code + add + 1, sizeof inc);
                t->len = add;
                fused = add_then_branch(fused);
            }
            uint32_t at = emit_op(t, fused);
            emit_word(t, a);
            emit_word(t, b);
            emit_word(t, 0);
            if (with_add)
                for (int i = 0; i < 3; i++) emit_word(t, inc[i]);
            *operand = at + 3;
            return at;
        }
    }
    if (!cond.is_const) {
        uint32_t at = fuse_load_test(t, t->cur_start, cond.slot, negate, operand);
        if (at != NO_SLOT) return at;
    }
    uint32_t at = emit_op(t, negate ? QE_I_br_unless : QE_I_br_if);
    emit_word(t, use(t, cond));
    emit_word(t, 0);
    *operand = at + 2;
    return at;
}

static void do_br_if(tr *t, uint32_t depth)
{
    vsent cond = pop(t);
    uint32_t arity;
    bool is_return;
    ctrl *c = label(t, depth, &arity, &is_return);
    uint32_t operand;
    if (!is_return && values_in_place(t, c, arity)) {
        uint32_t at = emit_cond_jump(t, cond, false, &operand);
        if (c->kind == CTRL_LOOP)
            patch(t, at, operand, c->loop_start);
        else
            add_fixup(t, c, at, operand);
        return;
    }
    /* Values must move (or we return): skip over the moves when false. */
    uint32_t skip = emit_cond_jump(t, cond, true, &operand);
    emit_branch(t, depth);
    patch(t, skip, operand, t->len);
    bind_here(t);
}

static void do_br_table(tr *t, const qe_instr *in)
{
    vsent index = pop(t);
    uint32_t n = in->u.br_table.count;
    uint32_t at = emit_op(t, QE_I_br_table);
    emit_word(t, use(t, index));
    emit_word(t, n);
    for (uint32_t i = 0; i <= n; i++) emit_word(t, 0);
    if (t->oom) return;
    /* Targets that need value moves or a return get a landing pad after the
     * table; one pad per distinct label. */
    uint32_t pad_depth[64], pad_at[64], npads = 0;
    for (uint32_t i = 0; i <= n; i++) {
        uint32_t depth = i < n ? in->u.br_table.targets[i] : in->u.br_table.default_target;
        uint32_t operand = at + 3 + i;
        uint32_t arity;
        bool is_return;
        ctrl *c = label(t, depth, &arity, &is_return);
        if (!is_return && values_in_place(t, c, arity)) {
            if (c->kind == CTRL_LOOP)
                patch(t, at, operand, c->loop_start);
            else
                add_fixup(t, c, at, operand);
            continue;
        }
        uint32_t k = 0;
        while (k < npads && pad_depth[k] != depth) k++;
        if (k == npads) {
            uint32_t start = t->len;
            emit_branch(t, depth);
            if (npads < 64) {
                pad_depth[npads] = depth;
                pad_at[npads++] = start;
            }
            patch(t, at, operand, start);
        } else {
            patch(t, at, operand, pad_at[k]);
        }
    }
}

static void do_end(tr *t)
{
    ctrl *c = &t->cs[t->clen - 1];
    t->prefix = false;
    if (!c->unreachable) {
        if (c->kind == CTRL_FUNC) {
            emit_return(t);
        } else {
            materialize_from(t, c->height);
        }
    }
    if (c->kind == CTRL_IF) patch(t, c->else_instr, c->else_operand, t->len);
    for (uint32_t f = c->fixups; f; f = t->fx[f - 1].next) patch(t, t->fx[f - 1].instr, t->fx[f - 1].operand, t->len);
    bind_here(t);
    t->vlen = c->height;
    for (uint32_t i = 0; i < c->nresults; i++) push_home(t, c->results[i]);
    t->clen--;
}

static void do_else(tr *t)
{
    ctrl *c = &t->cs[t->clen - 1];
    t->prefix = false;
    if (!c->unreachable) {
        materialize_from(t, c->height);
        uint32_t at = emit_op(t, QE_I_br);
        emit_word(t, 0);
        add_fixup(t, c, at, at + 1);
    }
    patch(t, c->else_instr, c->else_operand, t->len);
    bind_here(t);
    c->kind = CTRL_ELSE;
    c->unreachable = false;
    t->vlen = c->height;
    for (uint32_t i = 0; i < c->nparams; i++) push_home(t, c->params[i]);
}

/* ------------------------------------------------------------ instructions */

static int unary_op(uint16_t op)
{
    switch (op) {
#define CASE(code, name) case code: return QE_I_##name;
        QE_UNARY_OPS(CASE)
#undef CASE
    default: return -1;
    }
}
static int binary_op(uint16_t op)
{
    switch (op) {
#define CASE(code, name) case code: return QE_I_##name;
        QE_BINARY_OPS(CASE)
#undef CASE
    default: return -1;
    }
}

/* Result type of a numeric operator, from its opcode range. */
static uint8_t numeric_result_type(uint16_t op)
{
    if (op >= 0xFC00) return op <= 0xFC03 ? QE_I32 : QE_I64;
    if (op <= 0x66) return QE_I32;                   /* tests and comparisons */
    if (op <= 0x78) return QE_I32;
    if (op <= 0x8A) return QE_I64;
    if (op <= 0x98) return QE_F32;
    if (op <= 0xA6) return QE_F64;
    switch (op) {
    case 0xA7: case 0xA8: case 0xA9: case 0xAA: case 0xAB: case 0xBC: case 0xC0: case 0xC1:
        return QE_I32;
    case 0xAC: case 0xAD: case 0xAE: case 0xAF: case 0xB0: case 0xB1: case 0xBD:
    case 0xC2: case 0xC3: case 0xC4:
        return QE_I64;
    case 0xB2: case 0xB3: case 0xB4: case 0xB5: case 0xB6: case 0xBE: return QE_F32;
    default: return QE_F64;
    }
}

static void emit_unary(tr *t, int op, uint8_t rtype)
{
    vsent a = pop(t);
    uint32_t d = push_home(t, rtype);
    uint32_t at = emit_op(t, op);
    emit_word(t, use(t, a));
    emit_word(t, d);
    produced(t, at, at + 2, op);
}

/* The immediate form of an i32 operator, and the operator to use when the
 * operands are swapped (for a constant first operand), or -1. */
static int imm_form(int op, int *swapped)
{
    static const struct { int op, imm, swapped; } forms[] = {
#define F(name, sw) {QE_I_i32_##name, QE_I_i32_##name##_imm, sw}
        F(add, QE_I_i32_add_imm), F(sub, -1), F(mul, QE_I_i32_mul_imm), F(and, QE_I_i32_and_imm),
        F(or, QE_I_i32_or_imm), F(xor, QE_I_i32_xor_imm), F(shl, -1), F(shr_s, -1), F(shr_u, -1),
        F(rotl, -1), F(rotr, -1), F(eq, QE_I_i32_eq_imm), F(ne, QE_I_i32_ne_imm),
        F(lt_s, QE_I_i32_gt_s_imm), F(lt_u, QE_I_i32_gt_u_imm), F(gt_s, QE_I_i32_lt_s_imm),
        F(gt_u, QE_I_i32_lt_u_imm), F(le_s, QE_I_i32_ge_s_imm), F(le_u, QE_I_i32_ge_u_imm),
        F(ge_s, QE_I_i32_le_s_imm), F(ge_u, QE_I_i32_le_u_imm),
#undef F
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
        if (forms[i].op == op) {
            *swapped = forms[i].swapped;
            return forms[i].imm;
        }
    return -1;
}

/* Emit op X Y Z D (operands: slots or immediates) writing a new stack top, from fused parts. */
static void emit_fused3(tr *t, int op, uint32_t x, uint32_t y, uint32_t z, uint8_t rtype)
{
    uint32_t d = push_home(t, rtype);
    uint32_t at = emit_op(t, op);
    emit_word(t, x);
    emit_word(t, y);
    emit_word(t, z);
    emit_word(t, d);
    produced(t, at, at + 4, op);
}

/* Whether the value at stack position `pos` is the product that the last
 * instruction, an f64.mul, just wrote to its home slot. */
static bool is_last_product(const tr *t, uint32_t pos)
{
    const vsent *v = &t->vs[pos];
    return t->last_valid && t->last_op == QE_I_f64_mul && !v->is_const && v->slot == home(t, pos) &&
           t->code[t->last_dst] == v->slot;
}

/* f64 add, sub or mul of a product just computed: one instruction for both
 * (each operation still rounds on its own, as WebAssembly requires). */
static bool fuse_f64_product(tr *t, int op)
{
    if (op != QE_I_f64_add && op != QE_I_f64_sub && op != QE_I_f64_mul) return false;
    bool first = is_last_product(t, t->vlen - 2);
    if (!first && !is_last_product(t, t->vlen - 1)) return false;
    uint32_t x = t->code[t->last_start + 1], y = t->code[t->last_start + 2];
    t->len = t->last_start;
    t->last_valid = false;
    vsent b = pop(t), a = pop(t);
    uint32_t other = use(t, first ? b : a);
    int fused = op == QE_I_f64_add ? QE_I_f64_mul_add
                : op == QE_I_f64_mul ? QE_I_f64_mul_mul
                : first ? QE_I_f64_mul_sub : QE_I_f64_sub_mul;
    emit_fused3(t, fused, x, y, other, QE_F64);
    return true;
}

/* `q = p; p = q + k` (a post-increment, `*p++`): when the last
 * instruction is a copy (no label since) and an i32.add with an immediate
 * reads its source or its destination, the copy is taken back and the
 * addition does it (i32_copy_add_imm S I D C); *from and *to get the
 * copy's slots. */
static bool take_copy_before(tr *t, uint32_t src, uint32_t *from, uint32_t *to)
{
    uint32_t at = t->cur_start;
    if (at == NO_SLOT || at + 3 != t->len || t->oom || t->code[at] != (uint32_t)qe_op_handlers[QE_I_copy] ||
        (src != t->code[at + 1] && src != t->code[at + 2]))
        return false;
    *from = t->code[at + 1];
    *to = t->code[at + 2];
    t->len = at;
    t->cur_start = t->prev_start; /* what came before the copy comes before the sum */
    return true;
}

/* If the last instruction is `op` (three operands), with no label since,
 * and wrote the value at stack position `pos` into its home slot, take it
 * back so that the next instruction does its work too: the result in the
 * home slot is dead once that instruction consumed it. *w receives its
 * operands. Used for:
 *   i32.xor, then i32.mul by an immediate (FNV hashing, `h = (h ^ c) *
 *   16777619`): i32_xor_mul_imm S S I D;
 *   a byte load, then i32.shl by an immediate (a bytecode VM's register
 *   number scaled to an offset, `r[i->a]`): i32_load8_u_shl_imm S O K D;
 *   i32.shr_u by an immediate, then i32.and with one (a bit field, `(x >>
 *   k) & m`): i32_shr_u_and_imm S K M D;
 *   i32.and with an immediate as a select's condition (`x & 1 ? a : b`,
 *   bit-serial CRCs): select_and_imm S M S S D. */
static bool take_last(tr *t, uint32_t pos, int op, uint32_t w[3])
{
    const vsent *a = &t->vs[pos];
    if (!t->last_valid || t->last_op != op || a->is_const || a->slot != home(t, pos) ||
        t->code[t->last_dst] != a->slot || t->last_start + 4 != t->len)
        return false;
    memcpy(w, t->code + t->last_start + 1, 3 * sizeof *w);
    t->len = t->last_start;
    t->last_valid = false;
    t->cur_start = t->prev_start;
    return true;
}

/* An i32.add of a sum or a product just computed (unrolled dot products
 * and index arithmetic: `s += a[k] * b[k]`, `base + i * n + j`): one
 * instruction, i32_add3 S S S D or i32_mul_add S(x) S(y) S(c) D (x*y + c). */
static bool fuse_i32_sum(tr *t, int op, uint8_t rtype)
{
    static const int parts[][2] = {{QE_I_i32_add, QE_I_i32_add3}, {QE_I_i32_mul, QE_I_i32_mul_add}};
    if (op != QE_I_i32_add) return false;
    for (size_t i = 0; i < 2; i++)
        for (uint32_t k = 0; k < 2; k++) {
            uint32_t w[3];
            if (!take_last(t, t->vlen - 2 + k, parts[i][0], w)) continue;
            vsent other = t->vs[t->vlen - 1 - k];
            t->vlen -= 2;
            emit_fused3(t, parts[i][1], w[0], w[1], use(t, other), rtype);
            return true;
        }
    return false;
}

static void emit_binary(tr *t, int op, uint8_t rtype)
{
    if (fuse_f64_product(t, op) || fuse_i32_sum(t, op, rtype)) return;
    vsent b = pop(t), a = pop(t);
    int swapped = -1, imm = imm_form(op, &swapped);
    if (imm >= 0 && (b.is_const || (a.is_const && swapped >= 0))) {
        if (!b.is_const) {
            vsent tmp = a;
            a = b;
            b = tmp;
            imm = swapped;
        }
        uint32_t w[3], k = (uint32_t)b.bits;
        if (imm == QE_I_i32_mul_imm && take_last(t, t->vlen, QE_I_i32_xor, w)) {
            emit_fused3(t, QE_I_i32_xor_mul_imm, w[0], w[1], k, rtype);
            return;
        }
        if (imm == QE_I_i32_shl_imm && take_last(t, t->vlen, QE_I_i32_load8_u, w)) {
            emit_fused3(t, QE_I_i32_load8_u_shl_imm, w[0], w[2], k & 31, rtype);
            return;
        }
        if (imm == QE_I_i32_and_imm && take_last(t, t->vlen, QE_I_i32_shr_u_imm, w)) {
            emit_fused3(t, QE_I_i32_shr_u_and_imm, w[0], w[1] & 31, k, rtype);
            return;
        }
        uint32_t x, y;
        uint32_t src = use(t, a);
        if (imm == QE_I_i32_add_imm && take_copy_before(t, src, &x, &y)) {
            uint32_t d = push_home(t, rtype);
            uint32_t at = emit_op(t, QE_I_i32_copy_add_imm);
            emit_word(t, x);
            emit_word(t, (uint32_t)b.bits);
            emit_word(t, d);
            emit_word(t, y);
            produced(t, at, at + 3, QE_I_i32_copy_add_imm);
            return;
        }
        uint32_t d = push_home(t, rtype);
        uint32_t at = emit_op(t, imm);
        emit_word(t, src);
        emit_word(t, (uint32_t)b.bits);
        emit_word(t, d);
        produced(t, at, at + 3, imm);
        if (imm == QE_I_i32_add_imm) t->last_add = at;
        return;
    }
    uint32_t d = push_home(t, rtype);
    uint32_t at = emit_op(t, op);
    emit_word(t, use(t, a));
    emit_word(t, use(t, b));
    emit_word(t, d);
    produced(t, at, at + 3, op);
}

static int load_op(uint16_t op, uint8_t *type)
{
    switch (op) {
    case 0x28: *type = QE_I32; return QE_I_i32_load;
    case 0x29: *type = QE_I64; return QE_I_i64_load;
    case 0x2A: *type = QE_F32; return QE_I_i32_load;
    case 0x2B: *type = QE_F64; return QE_I_i64_load;
    case 0x2C: *type = QE_I32; return QE_I_i32_load8_s;
    case 0x2D: *type = QE_I32; return QE_I_i32_load8_u;
    case 0x2E: *type = QE_I32; return QE_I_i32_load16_s;
    case 0x2F: *type = QE_I32; return QE_I_i32_load16_u;
    case 0x30: *type = QE_I64; return QE_I_i64_load8_s;
    case 0x31: *type = QE_I64; return QE_I_i64_load8_u;
    case 0x32: *type = QE_I64; return QE_I_i64_load16_s;
    case 0x33: *type = QE_I64; return QE_I_i64_load16_u;
    case 0x34: *type = QE_I64; return QE_I_i64_load32_s;
    case 0x35: *type = QE_I64; return QE_I_i64_load32_u;
    }
    return -1;
}

static int store_op(uint16_t op)
{
    switch (op) {
    case 0x36: case 0x38: case 0x3E: return QE_I_i32_store;
    case 0x37: case 0x39: return QE_I_i64_store;
    case 0x3A: case 0x3C: return QE_I_i32_store8;
    case 0x3B: case 0x3D: return QE_I_i32_store16;
    }
    return -1;
}

static int load_ai(int op)
{
    switch (op) {
#define CASE(code, name) case QE_I_##name: return QE_I_##name##_ai;
        QE_LOAD_OPS(CASE)
#undef CASE
    }
    return op;
}

static int store_ai(int op)
{
    switch (op) {
#define CASE(code, name) case QE_I_##name: return QE_I_##name##_ai;
        QE_STORE_OPS(CASE)
#undef CASE
    }
    return op;
}

static int load_aa(int op)
{
    switch (op) {
#define CASE(code, name) case QE_I_##name: return QE_I_##name##_aa;
        QE_LOAD_OPS(CASE)
#undef CASE
    }
    return op;
}

static int store_aa(int op)
{
    switch (op) {
#define CASE(code, name) case QE_I_##name: return QE_I_##name##_aa;
        QE_STORE_OPS(CASE)
#undef CASE
    }
    return op;
}

/* A load `iop` from an address that an i32.load just wrote into `slot`
 * (no label since): a pointer followed, then a field read (`p->rec->key`,
 * `p->next->next`). The fused instruction to emit, i32_load_load16_u S D
 * I(offset) D2 I(offset2) and its relatives (still writing the pointer to
 * D), or -1. */
static int load_through_pointer(const tr *t, int iop, uint32_t slot)
{
    static const int chained[][2] = {
        {QE_I_i32_load, QE_I_i32_load_i32_load},     {QE_I_i32_load8_u, QE_I_i32_load_load8_u},
        {QE_I_i32_load16_u, QE_I_i32_load_load16_u}, {QE_I_i32_load16_s, QE_I_i32_load_load16_s},
    };
    if (!last_instr_is(t, QE_I_i32_load, 4) || t->code[t->cur_start + 2] != slot) return -1;
    for (size_t i = 0; i < sizeof chained / sizeof *chained; i++)
        if (chained[i][0] == iop) return chained[i][1];
    return -1;
}

/* How an access's address was computed by the instruction just before. */
enum { ADDRESS_PLAIN, ADDRESS_ADD_IMM, ADDRESS_ADD };

/* If the address at stack position `pos` was just computed by an i32.add
 * (with an immediate or of two slots), take that instruction back so the
 * access can do the addition itself: *base and *addend receive its
 * operands (the addend an immediate or a slot). Returns ADDRESS_*. */
static int take_address_add(tr *t, uint32_t pos, uint32_t *base, uint32_t *addend)
{
    const vsent *a = &t->vs[pos];
    if (!t->last_valid || (t->last_op != QE_I_i32_add_imm && t->last_op != QE_I_i32_add) || a->is_const ||
        a->slot != home(t, pos) || t->code[t->last_dst] != a->slot)
        return ADDRESS_PLAIN;
    *base = t->code[t->last_start + 1];
    *addend = t->code[t->last_start + 2];
    t->len = t->last_start;
    t->last_valid = false;
    return t->last_op == QE_I_i32_add ? ADDRESS_ADD : ADDRESS_ADD_IMM;
}

/* A store of the value the last instruction just computed into its home
 * slot, by one of the operators below: the store does the operation
 * itself (the result in the home slot is dead once stored).
 *   i32.add with an immediate, then i32.store (`ps->p = p + 1`):
 *     i32_store_add_imm S(address) S(x) I(offset) I(k), storing x + k;
 *   f64.add, sub or mul, then f64.store (`b->vx += dx * m`):
 *     f64_add_store S(address) S(x) S(y) I(offset), storing x + y;
 *   f64.load, then f64.add of it and y, then f64.store (`b->vx += d`):
 *     f64_load_add_store S(from) D(x) I(from offset) S(y) S(address) I(offset),
 *     still writing the loaded x to its slot (f64_add_load_store: y + x). */
static bool store_computed(tr *t, int store, uint32_t offset)
{
    static const struct { int store, op, fused; } forms[] = {
        {QE_I_i32_store, QE_I_i32_add_imm, QE_I_i32_store_add_imm},
        {QE_I_i64_store, QE_I_f64_add, QE_I_f64_add_store},
        {QE_I_i64_store, QE_I_f64_sub, QE_I_f64_sub_store},
        {QE_I_i64_store, QE_I_f64_mul, QE_I_f64_mul_store},
    };
    uint32_t top = t->vlen - 1;
    const vsent *v = &t->vs[top];
    if (!t->last_valid || v->is_const || v->slot != home(t, top) || t->code[t->last_dst] != v->slot) return false;
    size_t i = 0;
    while (i < sizeof forms / sizeof forms[0] && (forms[i].store != store || forms[i].op != t->last_op)) i++;
    if (i == sizeof forms / sizeof forms[0]) return false;
    uint32_t x = t->code[t->last_start + 1], y = t->code[t->last_start + 2];
    /* `p->vx += d`: an addend was loaded just before the addition. */
    uint32_t load = t->prev_start;
    if (forms[i].op == QE_I_f64_add && load != NO_SLOT && load + 4 == t->last_start &&
        t->code[load] == (uint32_t)qe_op_handlers[QE_I_i64_load] &&
        (t->code[load + 2] == x || t->code[load + 2] == y) && x != y) {
        bool first = t->code[load + 2] == x;
        uint32_t from = t->code[load + 1], from_offset = t->code[load + 3];
        t->len = load;
        t->last_valid = false;
        t->vlen--;
        vsent a = pop(t);
        emit_op(t, first ? QE_I_f64_load_add_store : QE_I_f64_add_load_store);
        emit_word(t, from);
        emit_word(t, first ? x : y);
        emit_word(t, from_offset);
        emit_word(t, first ? y : x);
        emit_word(t, use(t, a));
        emit_word(t, offset);
        return true;
    }
    t->len = t->last_start;
    t->last_valid = false;
    t->vlen--;
    vsent a = pop(t);
    emit_op(t, forms[i].fused);
    emit_word(t, use(t, a));
    emit_word(t, x);
    if (forms[i].op == QE_I_i32_add_imm) {
        emit_word(t, offset);
        emit_word(t, y);
    } else {
        emit_word(t, y);
        emit_word(t, offset);
    }
    return true;
}

static void do_local_set(tr *t, uint32_t local, bool tee)
{
    vsent v = t->vs[t->vlen - 1];
    if (v.slot == local) {                      /* local.get x; local.set x */
        if (!tee) t->vlen--;
        return;
    }
    if (t->prefix) {
        bool zero = v.is_const && v.bits == 0;
        bool was_zero = t->known_zero[local];
        t->known_zero[local] = zero;
        if (zero && was_zero) {
            if (!tee) t->vlen--;
            return;
        }
    }
    uint32_t top = t->vlen - 1;
    bool retarget = t->last_valid && v.slot == home(t, top) && t->code[t->last_dst] == v.slot;
    /* Pending reads of the local below the top must see its old value. */
    if (protect_local(t, local, top)) retarget = false;
    if (retarget) {
        t->code[t->last_dst] = local;
        t->last_valid = false;
        t->vs[top].slot = local;
    } else {
        emit_move(t, &v, local);
    }
    if (!tee) t->vlen--;
}

static void emit_call(tr *t, const qe_functype *ft, int op, const uint32_t *imm, uint32_t nimm,
                      uint32_t index_slot, bool indirect)
{
    uint32_t base = t->vlen - ft->nparams;
    materialize_from(t, base);
    if (op == QE_I_call && last_instr_is(t, QE_I_i32_add_imm, 4)) {
        /* f(n - 1): the argument's increment and the call share one
         * dispatch (i32_add_imm_call S I D F A). */
        uint32_t at = t->cur_start, inc[3];
        memcpy(inc, t->code + at + 1, sizeof inc);
        t->len = at;
        emit_op(t, QE_I_i32_add_imm_call);
        for (uint32_t i = 0; i < 3; i++) emit_word(t, inc[i]);
    } else {
        emit_op(t, op);
    }
    for (uint32_t i = 0; i < nimm; i++) emit_word(t, imm[i]);
    if (indirect) emit_word(t, index_slot);
    emit_word(t, home(t, base));
    t->vlen = base;
    for (uint32_t i = 0; i < ft->nresults; i++) push_home(t, qe_results(ft)[i]);
}

static bool translate_instr(tr *t, const qe_instr *in)
{
    uint16_t op = in->op;
    ctrl *cur = &t->cs[t->clen - 1];

    if (cur->unreachable) {
        switch (op) {
        case QE_OP_BLOCK: case QE_OP_LOOP: case QE_OP_IF: t->dead_depth++; return true;
        case QE_OP_ELSE: if (t->dead_depth == 0) do_else(t); return true;
        case QE_OP_END:
            if (t->dead_depth) t->dead_depth--;
            else do_end(t);
            return true;
        default: return true;
        }
    }

    int iop;
    if ((iop = binary_op(op)) >= 0) {
        emit_binary(t, iop, numeric_result_type(op));
        return true;
    }
    if ((iop = unary_op(op)) >= 0) {
        emit_unary(t, iop, numeric_result_type(op));
        return true;
    }
    uint8_t ltype;
    if ((iop = load_op(op, &ltype)) >= 0) {
        uint32_t base, addend;
        int how = take_address_add(t, t->vlen - 1, &base, &addend);
        bool fused = how != ADDRESS_PLAIN;
        vsent a = pop(t);
        /* `x = *(p += 4)`: the load does the increment first, writing p. */
        if (how == ADDRESS_PLAIN && iop == QE_I_i32_load && !a.is_const && just_incremented(t, a.slot)) {
            uint32_t at = t->cur_start, src = t->code[at + 1], k = t->code[at + 2];
            t->len = at;
            uint32_t d = push_home(t, ltype);
            emit_op(t, QE_I_i32_add_imm_load);
            emit_word(t, src);
            emit_word(t, d);
            emit_word(t, in->u.mem.offset);
            emit_word(t, k);
            emit_word(t, a.slot);
            produced(t, at, at + 2, QE_I_i32_add_imm_load);
            return true;
        }
        /* `p->next->key`: a load from an address just loaded. */
        int chained = how == ADDRESS_PLAIN && !a.is_const ? load_through_pointer(t, iop, a.slot) : -1;
        if (chained >= 0) {
            uint32_t at = t->cur_start, from[3];
            memcpy(from, t->code + at + 1, sizeof from);
            t->len = at;
            uint32_t d = push_home(t, ltype);
            emit_op(t, chained);
            for (int i = 0; i < 3; i++) emit_word(t, from[i]);
            emit_word(t, d);
            emit_word(t, in->u.mem.offset);
            produced(t, at, at + 4, chained);
            return true;
        }
        uint32_t d = push_home(t, ltype);
        int lop = how == ADDRESS_ADD ? load_aa(iop) : fused ? load_ai(iop) : iop;
        uint32_t at = emit_op(t, lop);
        emit_word(t, fused ? base : use(t, a));
        emit_word(t, d);
        emit_word(t, in->u.mem.offset);
        if (fused) emit_word(t, addend);
        produced(t, at, at + 2, lop);
        return true;
    }
    if ((iop = store_op(op)) >= 0) {
        if (store_computed(t, iop, in->u.mem.offset)) return true;
        uint32_t base, addend;
        int how = take_address_add(t, t->vlen - 2, &base, &addend);
        bool fused = how != ADDRESS_PLAIN;
        vsent v = pop(t), a = pop(t);
        emit_op(t, how == ADDRESS_ADD ? store_aa(iop) : fused ? store_ai(iop) : iop);
        emit_word(t, fused ? base : use(t, a));
        emit_word(t, use(t, v));
        emit_word(t, in->u.mem.offset);
        if (fused) emit_word(t, addend);
        return true;
    }

    switch (op) {
    case QE_OP_UNREACHABLE:
        emit_op(t, QE_I_unreachable);
        set_unreachable(t);
        break;
    case QE_OP_NOP:
        break;
    case QE_OP_BLOCK:
    case QE_OP_LOOP: {
        uint32_t np, nr;
        const uint8_t *p, *r;
        block_type(t, in, &np, &p, &nr, &r);
        materialize_from(t, 0);
        bind_here(t);
        if (op == QE_OP_LOOP) t->prefix = false;
        push_ctrl(t, op == QE_OP_LOOP ? CTRL_LOOP : CTRL_BLOCK, np, p, nr, r);
        break;
    }
    case QE_OP_IF: {
        uint32_t np, nr;
        const uint8_t *p, *r;
        block_type(t, in, &np, &p, &nr, &r);
        vsent cond = pop(t);
        materialize_from(t, 0);   /* any copy here also prevents fusing */
        uint32_t operand;
        uint32_t at = emit_cond_jump(t, cond, true, &operand);
        ctrl *c = push_ctrl(t, CTRL_IF, np, p, nr, r);
        if (c) {
            c->else_instr = at;
            c->else_operand = operand;
        }
        bind_here(t);
        break;
    }
    case QE_OP_ELSE:
        do_else(t);
        break;
    case QE_OP_END:
        do_end(t);
        break;
    case QE_OP_BR:
        emit_branch(t, in->u.index);
        set_unreachable(t);
        break;
    case QE_OP_BR_IF:
        do_br_if(t, in->u.index);
        break;
    case QE_OP_BR_TABLE:
        do_br_table(t, in);
        set_unreachable(t);
        break;
    case QE_OP_RETURN:
        emit_return(t);
        set_unreachable(t);
        break;
    case QE_OP_CALL: {
        const qe_functype *ft = &t->m->types[t->m->func_types[in->u.index]];
        uint32_t imm = in->u.index;
        emit_call(t, ft, QE_I_call, &imm, 1, 0, false);
        break;
    }
    case QE_OP_CALL_INDIRECT: {
        const qe_functype *ft = &t->m->types[in->u.call_indirect.typeidx];
        vsent index = pop(t);
        uint32_t imm[2] = {in->u.call_indirect.table, ft->id};
        emit_call(t, ft, QE_I_call_indirect, imm, 2, use(t, index), true);
        break;
    }
    case QE_OP_DROP:
        t->vlen--;
        break;
    case QE_OP_SELECT:
    case QE_OP_SELECT_T: {
        vsent c = pop(t), b = pop(t), a = pop(t);
        uint32_t w[3];
        if (take_last(t, t->vlen + 2, QE_I_i32_and_imm, w)) {
            uint32_t d = push_home(t, a.type);
            uint32_t at = emit_op(t, QE_I_select_and_imm);
            emit_word(t, w[0]);
            emit_word(t, w[1]);
            emit_word(t, use(t, a));
            emit_word(t, use(t, b));
            emit_word(t, d);
            produced(t, at, at + 5, QE_I_select_and_imm);
            break;
        }
        uint32_t d = push_home(t, a.type);
        uint32_t at = emit_op(t, QE_I_select);
        emit_word(t, use(t, c));
        emit_word(t, use(t, a));
        emit_word(t, use(t, b));
        emit_word(t, d);
        produced(t, at, at + 4, QE_I_select);
        break;
    }
    case QE_OP_LOCAL_GET:
        push_at(t, t->local_types[in->u.index], in->u.index);
        break;
    case QE_OP_LOCAL_SET:
        do_local_set(t, in->u.index, false);
        break;
    case QE_OP_LOCAL_TEE:
        do_local_set(t, in->u.index, true);
        break;
    case QE_OP_GLOBAL_GET: {
        uint32_t d = push_home(t, t->m->global_types[in->u.index].type);
        uint32_t at = emit_op(t, QE_I_global_get);
        emit_word(t, in->u.index);
        emit_word(t, d);
        produced(t, at, at + 2, QE_I_global_get);
        break;
    }
    case QE_OP_GLOBAL_SET: {
        vsent v = pop(t);
        emit_op(t, QE_I_global_set);
        emit_word(t, in->u.index);
        emit_word(t, use(t, v));
        break;
    }
    case QE_OP_TABLE_GET: {
        vsent i = pop(t);
        uint32_t d = push_home(t, t->m->tables[in->u.index].elem);
        uint32_t at = emit_op(t, QE_I_table_get);
        emit_word(t, in->u.index);
        emit_word(t, use(t, i));
        emit_word(t, d);
        produced(t, at, at + 3, QE_I_table_get);
        break;
    }
    case QE_OP_TABLE_SET: {
        vsent v = pop(t), i = pop(t);
        emit_op(t, QE_I_table_set);
        emit_word(t, in->u.index);
        emit_word(t, use(t, i));
        emit_word(t, use(t, v));
        break;
    }
    case QE_OP_MEMORY_SIZE: {
        uint32_t d = push_home(t, QE_I32);
        uint32_t at = emit_op(t, QE_I_memory_size);
        emit_word(t, d);
        produced(t, at, at + 1, QE_I_memory_size);
        break;
    }
    case QE_OP_MEMORY_GROW:
        emit_unary(t, QE_I_memory_grow, QE_I32);
        break;
    case QE_OP_I32_CONST:
        push_const(t, QE_I32, (uint32_t)in->u.i32);
        break;
    case QE_OP_I64_CONST:
        push_const(t, QE_I64, (uint64_t)in->u.i64);
        break;
    case QE_OP_F32_CONST:
        push_const(t, QE_F32, in->u.f32);
        break;
    case QE_OP_F64_CONST:
        push_const(t, QE_F64, in->u.f64);
        break;
    case 0xA7: case 0xBC: case 0xBD: case 0xBE: case 0xBF: {
        /* wrap and reinterpretations keep the slot's bits: no code */
        vsent a = pop(t);
        if (a.is_const)
            push_const(t, numeric_result_type(op), op == 0xA7 ? (uint32_t)a.bits : a.bits);
        else
            push_at(t, numeric_result_type(op), a.slot);
        break;
    }
    case QE_OP_REF_NULL:
        push_const(t, in->u.reftype, 0);
        break;
    case QE_OP_REF_IS_NULL:
        emit_unary(t, QE_I_ref_is_null, QE_I32);
        break;
    case QE_OP_REF_FUNC: {
        uint32_t d = push_home(t, QE_FUNCREF);
        uint32_t at = emit_op(t, QE_I_ref_func);
        emit_word(t, in->u.index);
        emit_word(t, d);
        produced(t, at, at + 2, QE_I_ref_func);
        break;
    }
    case QE_OP_MEMORY_INIT: case QE_OP_MEMORY_COPY: case QE_OP_MEMORY_FILL:
    case QE_OP_TABLE_INIT: case QE_OP_TABLE_COPY: case QE_OP_TABLE_FILL: {
        vsent n = pop(t), s = pop(t), d = pop(t);
        if (op == QE_OP_MEMORY_FILL || op == QE_OP_MEMORY_COPY) {
            emit_op(t, op == QE_OP_MEMORY_FILL ? QE_I_memory_fill : QE_I_memory_copy);
        } else if (op == QE_OP_MEMORY_INIT) {
            emit_op(t, QE_I_memory_init);
            emit_word(t, in->u.pair.a);
        } else if (op == QE_OP_TABLE_FILL) {
            emit_op(t, QE_I_table_fill);
            emit_word(t, in->u.index);
        } else {
            /* table.init elem table; table.copy dst src */
            emit_op(t, op == QE_OP_TABLE_INIT ? QE_I_table_init : QE_I_table_copy);
            if (op == QE_OP_TABLE_INIT) {
                emit_word(t, in->u.pair.b);
                emit_word(t, in->u.pair.a);
            } else {
                emit_word(t, in->u.pair.a);
                emit_word(t, in->u.pair.b);
            }
        }
        emit_word(t, use(t, d));
        emit_word(t, use(t, s));
        emit_word(t, use(t, n));
        break;
    }
    case QE_OP_DATA_DROP:
    case QE_OP_ELEM_DROP:
        emit_op(t, op == QE_OP_DATA_DROP ? QE_I_data_drop : QE_I_elem_drop);
        emit_word(t, in->u.index);
        break;
    case QE_OP_TABLE_GROW: {
        vsent n = pop(t), init = pop(t);
        uint32_t d = push_home(t, QE_I32);
        uint32_t at = emit_op(t, QE_I_table_grow);
        emit_word(t, in->u.index);
        emit_word(t, use(t, init));
        emit_word(t, use(t, n));
        emit_word(t, d);
        produced(t, at, at + 4, QE_I_table_grow);
        break;
    }
    case QE_OP_TABLE_SIZE: {
        uint32_t d = push_home(t, QE_I32);
        uint32_t at = emit_op(t, QE_I_table_size);
        emit_word(t, in->u.index);
        emit_word(t, d);
        produced(t, at, at + 2, QE_I_table_size);
        break;
    }
    default:
        return fail(t, in->offset, "instruction not supported by the translator");
    }
    return true;
}

/* Count the constant-producing instructions so the constant pool, which
 * sits below the operand stack in the frame, can be sized before any stack
 * slot is assigned. */
static bool count_constants(tr *t, const qe_code *code, uint32_t *count)
{
    qe_instr_reader ir;
    qe_instr in;
    uint32_t n = 0;
    qe_instr_reader_init(&ir, t->m, code->body_start, code->body_end);
    while (!qe_reader_at_end(&ir.r)) {
        if (!qe_instr_next(&ir, &in)) {
            qe_instr_reader_free(&ir);
            return fail(t, (uint32_t)ir.r.err_offset, ir.r.err ? ir.r.err : "malformed code");
        }
        if ((in.op >= QE_OP_I32_CONST && in.op <= QE_OP_F64_CONST) || in.op == QE_OP_REF_NULL) n++;
    }
    qe_instr_reader_free(&ir);
    *count = n;
    return true;
}

static void tr_free(tr *t)
{
    free(t->code);
    free(t->local_types);
    free(t->known_zero);
    free(t->consts);
    free(t->const_hash);
    free(t->vs);
    free(t->cs);
    free(t->fx);
    free(t->jumps);
}

bool qe_translate(const qe_module *m, uint32_t defined_index, qe_compiled *out, qv_error *err)
{
    qe_interp_init();
    memset(out, 0, sizeof *out);
    const qe_code *code = &m->codes[defined_index];
    uint32_t func_index = m->nfunc_imports + defined_index;
    const qe_functype *ft = &m->types[m->func_types[func_index]];
    tr t = {.m = m, .err = err, .func_index = func_index, .type = ft, .last_copy = NO_SLOT,
            .last_add = NO_SLOT, .add_before = NO_SLOT, .cur_start = NO_SLOT, .prev_start = NO_SLOT};

    if ((uint64_t)ft->nparams + code->nlocals > MAX_LOCALS)
        return fail(&t, code->offset, "too many locals (implementation limit 50000)");
    t.nlocals_all = ft->nparams + (uint32_t)code->nlocals;
    t.local_types = malloc(t.nlocals_all ? t.nlocals_all : 1);
    if (!t.local_types) return fail(&t, code->offset, "out of memory");
    memcpy(t.local_types, qe_params(ft), ft->nparams);
    uint32_t k = ft->nparams;
    for (uint32_t i = 0; i < code->nlocaldecls; i++)
        for (uint32_t j = 0; j < code->localdecls[i].count; j++) t.local_types[k++] = code->localdecls[i].type;
    t.known_zero = calloc(t.nlocals_all ? t.nlocals_all : 1, 1);
    if (!t.known_zero) {
        tr_free(&t);
        return fail(&t, code->offset, "out of memory");
    }
    memset(t.known_zero + ft->nparams, 1, t.nlocals_all - ft->nparams);
    t.prefix = true;

    uint32_t nconst_max;
    if (!count_constants(&t, code, &nconst_max)) {
        tr_free(&t);
        return false;
    }
    t.const_base = t.nlocals_all;
    t.consts = malloc(sizeof(uint64_t) * (nconst_max ? nconst_max : 1));
    t.const_hash_cap = 16;
    while (t.const_hash_cap < nconst_max * 2) t.const_hash_cap *= 2;
    t.const_hash = calloc(t.const_hash_cap, sizeof(uint32_t));
    if (!t.consts || !t.const_hash) {
        tr_free(&t);
        return fail(&t, code->offset, "out of memory");
    }
    /* Stack slots are numbered after the constants actually used; we only
     * know that count at the end, so number them after the upper bound and
     * keep the unused constant slots (they cost frame space, not time). */
    t.stack_base = t.const_base + nconst_max;

    push_ctrl(&t, CTRL_FUNC, 0, NULL, ft->nresults, qe_results(ft));

    qe_instr_reader ir;
    qe_instr in;
    bool ok = true;
    qe_instr_reader_init(&ir, m, code->body_start, code->body_end);
    while (ok && t.clen > 0) {
        if (!qe_instr_next(&ir, &in)) {
            ok = fail(&t, (uint32_t)ir.r.err_offset, ir.r.err ? ir.r.err : "malformed code");
            break;
        }
        ok = translate_instr(&t, &in);
        if (t.oom) ok = fail(&t, in.offset, "out of memory");
    }
    qe_instr_reader_free(&ir);
    uint64_t frame = (uint64_t)t.stack_base + t.max_height;
    if (ok && frame > MAX_FRAME_SLOTS) ok = fail(&t, code->offset, "function frame too large");
    if (!ok) {
        tr_free(&t);
        return false;
    }

    thread_jumps(&t);
    out->code = t.code;
    out->code_len = t.len;
    out->func_index = func_index;
    out->type = ft;
    out->nparam_slots = ft->nparams;
    out->nresult_slots = ft->nresults;
    out->nlocal_slots = t.nlocals_all - ft->nparams;
    out->nconsts = t.nconsts;
    out->consts = t.consts;
    /* Results may need more slots than the frame's own stack (an empty body
     * returning nothing still has frame 0); keep room for them. */
    out->frame_slots = (uint32_t)frame > ft->nresults ? (uint32_t)frame : ft->nresults;
    t.code = NULL;
    t.consts = NULL;
    tr_free(&t);
    return true;
}

void qe_compiled_free(qe_compiled *c)
{
    free(c->code);
    free(c->consts);
    memset(c, 0, sizeof *c);
}
