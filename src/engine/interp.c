/*
 * interp.c — the threaded interpreter.
 *
 * Translated code (translate.c) is a stream of 32-bit words; each
 * instruction begins with its handler's offset from a base label, so
 * dispatch is one load, one add and one indirect jump (GNU computed goto),
 * duplicated at the end of every handler for better branch prediction.
 *
 * Registers of the machine: pc (current instruction), fp (frame base),
 * inst (the running function's instance), mem/memsize (its memory 0,
 * reloaded after anything that may grow or change it) and budget (events
 * left before the next poll of fuel and interruption).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "interp.h"
#include "numeric.h"
#include "op_count.h"
#include "ops.h"
#include "runtime.h"

typedef struct qe_call_record {
    const uint32_t *ret_pc;       /* where the caller resumes */
    qe_slot *caller_fp;
    qv_instance *caller_inst;
    qv_func *func;                /* the function running in this frame */
} qe_call_record;

int32_t qe_op_handlers[QE_I__COUNT];

/* Events (taken branches and calls) between two polls of the interrupt
 * flag when no fuel is set: bounds the reaction time to an interrupt. */
#define POLL_INTERVAL 65536

/* Bulk instructions (memory.fill/copy/init, table.fill/copy/init/grow)
 * work in steps of at most BULK_STEP bytes and pay one event per
 * BULK_BYTES_PER_EVENT bytes before each step, so that a loop of large
 * fills polls as often as a loop of branches taking as long, and a single
 * 4 GiB fill still reacts to an interrupt within a step (well under a
 * millisecond). */
#define BULK_STEP (1u << 20)
#define BULK_BYTES_PER_EVENT 256

/* Host → WebAssembly re-entries allowed at once (each takes C stack). */
#define MAX_NESTED_RUNS 256

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The value stack and call records of the last store this thread deleted,
 * for the next one: a store per request (qyv serve) must not pay for
 * mapping 8 MiB and allocating the records each time. The records are
 * written before they are read, and validation guarantees no slot is read
 * before it is written, so old contents do not matter. */
static _Thread_local struct {
    qe_slot *stack;
    uint32_t slots;
    qe_call_record *calls;
    uint32_t depth;
} spare;

/* Free the spare when its thread ends (the key's value is only a flag). */
static pthread_key_t spare_key;
static pthread_once_t spare_key_once = PTHREAD_ONCE_INIT;

static void free_spare(void *unused)
{
    (void)unused;
    if (spare.stack) munmap(spare.stack, (size_t)spare.slots * sizeof(qe_slot));
    free(spare.calls);
    spare.stack = NULL;
    spare.calls = NULL;
}

static void make_spare_key(void) { pthread_key_create(&spare_key, free_spare); }

bool qe_exec_init(qe_exec *x, uint32_t value_slots, uint32_t max_depth)
{
    if (spare.stack && spare.slots == value_slots && spare.depth == max_depth) {
        x->stack = spare.stack;
        x->calls = spare.calls;
        spare.stack = NULL;
        spare.calls = NULL;
    } else {
        size_t bytes = (size_t)value_slots * sizeof(qe_slot);
        void *stack = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
        if (stack == MAP_FAILED) return false;
        /* Record 0 stands for the embedder: frame d uses record d. */
        x->calls = calloc((size_t)max_depth + 1, sizeof(qe_call_record));
        if (!x->calls) {
            munmap(stack, bytes);
            return false;
        }
        x->stack = stack;
    }
    x->stack_end = x->stack + value_slots;
    x->stack_top = x->stack;
    x->max_depth = max_depth;
    x->depth = 0;
    return true;
}

void qe_exec_free(qe_exec *x)
{
    uint32_t slots = (uint32_t)(x->stack_end - x->stack);
    if (x->stack && !spare.stack) {
        pthread_once(&spare_key_once, make_spare_key);
        pthread_setspecific(spare_key, &spare);
        spare.stack = x->stack;
        spare.slots = slots;
        spare.calls = x->calls;
        spare.depth = x->max_depth;
    } else {
        if (x->stack) munmap(x->stack, (size_t)slots * sizeof(qe_slot));
        free(x->calls);
    }
    memset(x, 0, sizeof *x);
}

static const char *func_name_of(const qv_func *f)
{
    const qe_module *m = f->inst->module->m;
    return m->func_names ? m->func_names[f->index] : NULL;
}

qv_trap *qe_trap_with_backtrace(qv_store *store, qv_trap_kind kind, const char *message)
{
    qv_trap *trap = qv_trap_new(kind, message ? message : qe_trap_kind_message(kind));
    if (!trap) return NULL;
    const qe_exec *x = &store->exec;
    for (uint32_t i = x->depth; i > 0; i--) {
        const qv_func *f = x->calls[i].func;
        qe_trap_add_frame(trap, f->index, func_name_of(f), f->inst->module->m->name);
    }
    return trap;
}

/* Hand the unused part of the budget back to the store's fuel. */
static inline void give_back_budget(qv_store *s, int64_t budget)
{
    if (s->fuel >= 0 && budget > 0) s->fuel += budget;
}

static inline int64_t take_budget(qv_store *s)
{
    if (s->fuel < 0) return POLL_INTERVAL;
    int64_t b = s->fuel < POLL_INTERVAL ? s->fuel : POLL_INTERVAL;
    s->fuel -= b;
    return b;
}

/* The budget ran out (it is negative: -budget events are owed): check for
 * interruption and refuel. Returns the new budget with what was owed paid
 * for, or a negative trap code. Without fuel the debt is forgiven: the
 * budget only bounds the time between two looks at the interrupt flag. */
enum { POLL_INTERRUPTED = -1, POLL_OUT_OF_FUEL = -2 };
static int64_t poll_slow(qv_store *s, int64_t budget)
{
    if (atomic_load_explicit(&s->interrupt, memory_order_relaxed)) return POLL_INTERRUPTED;
    if (s->fuel >= 0) {
        if (s->fuel < -budget) {
            s->fuel = 0;
            return POLL_OUT_OF_FUEL;
        }
        s->fuel += budget;
    }
    return take_budget(s);
}

/* Pay `events` out of the budget: the budget left, or a POLL_* code. */
static inline int64_t spend(qv_store *s, int64_t budget, uint64_t events)
{
    budget -= (int64_t)events;
    return budget < 0 ? poll_slow(s, budget) : budget;
}

/* The bulk instructions, in steps (see BULK_STEP). They return the budget
 * left or a POLL_* code; an interrupted one has done some of its steps,
 * which only code that is stopping could see. */
static int64_t bulk_fill(qv_store *s, int64_t budget, uint8_t *dst, int byte, uint64_t n)
{
    while (n) {
        uint64_t k = n < BULK_STEP ? n : BULK_STEP;
        if ((budget = spend(s, budget, k / BULK_BYTES_PER_EVENT)) < 0) return budget;
        memset(dst, byte, k);
        dst += k;
        n -= k;
    }
    return budget;
}

/* memmove in steps; overlapping ranges are walked in the safe direction. */
static int64_t bulk_move(qv_store *s, int64_t budget, uint8_t *dst, const uint8_t *src, uint64_t n)
{
    bool backward = n && dst > src && dst < src + n;
    while (n) {
        uint64_t k = n < BULK_STEP ? n : BULK_STEP;
        if ((budget = spend(s, budget, k / BULK_BYTES_PER_EVENT)) < 0) return budget;
        if (backward) {
            memmove(dst + n - k, src + n - k, k);
        } else {
            memmove(dst, src, k);
            dst += k;
            src += k;
        }
        n -= k;
    }
    return budget;
}

static int64_t bulk_fill_refs(qv_store *s, int64_t budget, void **dst, void *ref, uint64_t n)
{
    const uint64_t step = BULK_STEP / sizeof(void *);
    while (n) {
        uint64_t k = n < step ? n : step;
        if ((budget = spend(s, budget, k * sizeof(void *) / BULK_BYTES_PER_EVENT)) < 0) return budget;
        for (uint64_t i = 0; i < k; i++) dst[i] = ref;
        dst += k;
        n -= k;
    }
    return budget;
}

/* table.grow in steps. *result is the old size or -1 (the table
 * unchanged), as the spec wants; an interrupted grow may have grown the
 * table in part. */
static int64_t bulk_table_grow(qv_store *s, int64_t budget, qv_table *t, uint32_t delta, void *init,
                               uint32_t *result)
{
    uint32_t old = t->size;
    *result = UINT32_MAX;
    if ((uint64_t)old + delta > t->max) return budget;
    const uint32_t step = BULK_STEP / sizeof(void *);
    for (uint32_t left = delta; left;) {
        uint32_t k = left < step ? left : step;
        if ((budget = spend(s, budget, (uint64_t)k * sizeof(void *) / BULK_BYTES_PER_EVENT)) < 0) return budget;
        if (qe_table_grow(t, k, init) < 0) {
            t->size = old; /* the storage may stay larger; the size is what counts */
            return budget;
        }
        left -= k;
    }
    *result = old;
    return budget;
}

/* Set up a frame for `code` at nfp: zero the locals and copy the constants.
 * Plain loops: the counts are small and a libc call costs more. */
static inline void init_frame(qe_slot *nfp, const qe_compiled *code)
{
    qe_slot *locals = nfp + code->nparam_slots;
    for (uint32_t i = 0; i < code->nlocal_slots; i++) locals[i].i64 = 0;
    qe_slot *consts = locals + code->nlocal_slots;
    for (uint32_t i = 0; i < code->nconsts; i++) consts[i].i64 = code->consts[i];
}

static inline void load_u(void *dst, const uint8_t *src, size_t n) { memcpy(dst, src, n); }

/* Run wasm function `entry` whose arguments are already at fp. With
 * entry == NULL, fill qe_op_handlers instead. */
static qv_trap *run(qv_store *s, qv_func *entry, qe_slot *fp)
{
#define LBL2(code, name) &&L_##name,
#define LBL1(name) &&L_##name,
#define LBL_BR(name) &&L_br_if_##name,
#define LBL_BR_IMM(name) &&L_br_if_##name##_imm,
#define LBL_IMM(name) &&L_##name##_imm,
#define LBL_AI(code, name) &&L_##name##_ai,
#define LBL_AA(code, name) &&L_##name##_aa,
#define LBL_ADD_BR(name) &&L_add_br_if_##name, &&L_add_br_if_##name##_imm,
    static const void *const labels[] = {
        QE_FOR_EACH_OP(LBL2, LBL1, LBL_BR, LBL_BR_IMM, LBL_IMM, LBL_AI, LBL_AA, LBL_ADD_BR)
    };
#undef LBL2
#undef LBL1
#undef LBL_BR
#undef LBL_BR_IMM
#undef LBL_IMM
#undef LBL_AI
#undef LBL_AA
#undef LBL_ADD_BR
    const char *const handler_base = (const char *)&&L_unreachable;
    if (!entry) {
        for (int i = 0; i < QE_I__COUNT; i++)
            qe_op_handlers[i] = (int32_t)((const char *)labels[i] - handler_base);
        return NULL;
    }

    qe_exec *const x = &s->exec;
    const uint32_t base_depth = x->depth;
    /* The current frame's call record; x->depth is only kept in step where
     * others look at it (host calls, traps, the end of the run). */
    qe_call_record *cr = x->calls + base_depth;
    qe_call_record *const cr_base = cr;
    qe_call_record *const cr_limit = x->calls + x->max_depth;
    qe_slot *const saved_top = x->stack_top;
    const uint32_t *pc;
    qv_instance *inst = entry->inst;
    uint8_t *mem = NULL;
    uint64_t memsize = 0;
    int64_t budget = take_budget(s);
    qv_trap_kind trap_kind = QV_TRAP_UNREACHABLE;
    const char *trap_msg = NULL;
    qv_trap *host_trap = NULL;
    qv_func *callee;
    qe_slot *nfp;
    const uint32_t *ret;

#define W(k) (pc[k])
#define R(k) (fp[pc[k]])
#define DISPATCH() do { QE_COUNT((int32_t)pc[0]); goto *(const void *)(handler_base + (int32_t)pc[0]); } while (0)
#define NEXT(n) do { pc += (n); DISPATCH(); } while (0)
#define TRAP(kind) do { trap_kind = QV_TRAP_##kind; trap_msg = NULL; goto trap; } while (0)
#define TRAP_MSG(kind, msg) do { trap_kind = QV_TRAP_##kind; trap_msg = (msg); goto trap; } while (0)
/* Trap if a POLL_* code came back in the budget. */
#define CHECK_BUDGET()                                                                      \
    do {                                                                                    \
        if (UNLIKELY(budget < 0)) {                                                         \
            trap_kind = budget == POLL_INTERRUPTED ? QV_TRAP_INTERRUPTED : QV_TRAP_OUT_OF_FUEL; \
            budget = 0;                                                                     \
            trap_msg = NULL;                                                                \
            goto trap;                                                                      \
        }                                                                                   \
    } while (0)
#define POLL()                                                                              \
    do {                                                                                    \
        if (UNLIKELY(--budget < 0)) {                                                       \
            budget = poll_slow(s, budget);                                                  \
            CHECK_BUDGET();                                                                 \
        }                                                                                   \
    } while (0)
#define RELOAD_MEM()                                                                        \
    do {                                                                                    \
        const qv_memory *m0_ = inst->mem0;                                                  \
        mem = m0_ ? m0_->data : NULL;                                                       \
        memsize = m0_ ? m0_->size : 0;                                                      \
    } while (0)
#define JUMP(k) do { pc += (int32_t)W(k); POLL(); DISPATCH(); } while (0)

    RELOAD_MEM();
    if (atomic_load_explicit(&s->interrupt, memory_order_relaxed)) TRAP(INTERRUPTED);
    callee = entry;
    nfp = fp;
    ret = NULL;
    fp = NULL;
    goto enter_wasm;

    /* ------------------------------------------------------------ control */
L_unreachable:
    TRAP(UNREACHABLE);
L_br:
    JUMP(1);
L_i32_add_imm_br:
    R(3).i32 = R(1).i32 + W(2);
    JUMP(4);
L_br_if:
    if (R(1).i32) JUMP(2);
    NEXT(3);
L_br_unless:
    if (!R(1).i32) JUMP(2);
    NEXT(3);
#define BR_CMP(name, T, op)                                                                 \
    L_br_if_##name:                                                                         \
    if ((T)R(1).i32 op (T)R(2).i32) JUMP(3);                                                \
    NEXT(4);                                                                                \
    L_br_if_##name##_imm:                                                                   \
    if ((T)R(1).i32 op (T)W(2)) JUMP(3);                                                    \
    NEXT(4);                                                                                \
    L_add_br_if_##name:                                                                     \
    R(6).i32 = R(4).i32 + W(5);                                                             \
    if ((T)R(1).i32 op (T)R(2).i32) JUMP(3);                                                \
    NEXT(7);                                                                                \
    L_add_br_if_##name##_imm:                                                               \
    R(6).i32 = R(4).i32 + W(5);                                                             \
    if ((T)R(1).i32 op (T)W(2)) JUMP(3);                                                    \
    NEXT(7);
    BR_CMP(eq, uint32_t, ==)
    BR_CMP(ne, uint32_t, !=)
    BR_CMP(lt_s, int32_t, <)
    BR_CMP(lt_u, uint32_t, <)
    BR_CMP(gt_s, int32_t, >)
    BR_CMP(gt_u, uint32_t, >)
    BR_CMP(le_s, int32_t, <=)
    BR_CMP(le_u, uint32_t, <=)
    BR_CMP(ge_s, int32_t, >=)
    BR_CMP(ge_u, uint32_t, >=)
#undef BR_CMP
L_br_table: {
    uint32_t i = R(1).i32, n = W(2);
    JUMP(3 + (i < n ? i : n));
}
L_copy:
    R(2) = R(1);
    NEXT(3);
L_copy2:
    R(2) = R(1);
    R(4) = R(3);
    NEXT(5);
L_const32:
    R(2).i64 = W(1);
    NEXT(3);
L_const64:
    R(3).i64 = (uint64_t)W(1) | (uint64_t)W(2) << 32;
    NEXT(4);
#define MUL_THEN(name, expr)                                                                \
    L_##name: {                                                                             \
        double p = R(1).f64 * R(2).f64, c = R(3).f64;                                       \
        R(4).f64 = (expr);                                                                  \
        NEXT(5);                                                                            \
    }
    MUL_THEN(f64_mul_add, p + c)
    MUL_THEN(f64_mul_sub, p - c)
    MUL_THEN(f64_sub_mul, c - p)
    MUL_THEN(f64_mul_mul, p * c)
#undef MUL_THEN
L_select:
    R(4) = R(1).i32 ? R(2) : R(3);
    NEXT(5);

L_call:
    callee = inst->funcs[W(1)];
    nfp = fp + W(2);
    ret = pc + 3;
    goto do_call;
L_call_indirect: {
    const qv_table *t = inst->tables[W(1)];
    uint32_t i = R(3).i32;
    if (UNLIKELY(i >= t->size)) TRAP_MSG(TABLE_OUT_OF_BOUNDS, "undefined element");
    callee = t->elems[i];
    if (UNLIKELY(!callee)) TRAP(INDIRECT_CALL_NULL);
    if (UNLIKELY(callee->type_id != W(2))) TRAP(INDIRECT_CALL_TYPE);
    nfp = fp + W(4);
    ret = pc + 5;
    goto do_call;
}
do_call:
    POLL();
    if (callee->kind == QE_FUNC_HOST) {
        x->depth = (uint32_t)(cr - x->calls);
        x->stack_top = fp + cr->func->code->frame_slots;
        give_back_budget(s, budget);
        host_trap = qe_call_host(s, inst, callee, nfp, nfp);
        budget = take_budget(s);
        x->stack_top = saved_top;
        if (host_trap) goto trap_from_host;
        /* A host call may take long (a sleep, a read) and comes back with
         * a full budget: look at the interrupt flag now, or a loop of host
         * calls would never see it. A host function that waits returns
         * early when the store is interrupted (qv_store_interrupted). */
        if (UNLIKELY(atomic_load_explicit(&s->interrupt, memory_order_relaxed))) TRAP(INTERRUPTED);
        RELOAD_MEM();
        pc = ret;
        DISPATCH();
    }
enter_wasm: {
    const qe_compiled *code = callee->code;
    if (UNLIKELY(cr >= cr_limit || nfp + code->frame_slots > x->stack_end)) TRAP(STACK_EXHAUSTED);
    cr++;
    cr->ret_pc = ret;
    cr->caller_fp = fp;
    cr->caller_inst = inst;
    cr->func = callee;
    init_frame(nfp, code);
    fp = nfp;
    pc = code->code;
    if (callee->inst != inst) {
        inst = callee->inst;
        RELOAD_MEM();
    }
    DISPATCH();
}
L_return1:
    fp[0] = R(1);
    goto L_return;
L_return:
    if (UNLIKELY(cr == cr_base + 1)) goto done;
    pc = cr->ret_pc;
    fp = cr->caller_fp;
    /* Within one instance mem and memsize are current: a memory.grow in
     * the callee updated them, and host calls reload them. */
    if (UNLIKELY(cr->caller_inst != inst)) {
        inst = cr->caller_inst;
        RELOAD_MEM();
    }
    cr--;
    DISPATCH();

    /* ------------------------------------------------------------ variables */
L_global_get:
    R(2) = inst->globals[W(1)]->value.s;
    NEXT(3);
L_global_set:
    inst->globals[W(1)]->value.s = R(2);
    NEXT(3);

    /* ------------------------------------------------------------ memory */
#define EA(base, off, size)                                                                 \
    uint64_t ea = (uint64_t)(base) + W(off);                                                \
    if (UNLIKELY(ea + (size) > memsize)) TRAP(MEMORY_OUT_OF_BOUNDS);
#define LOAD(name, T, size, field, conv)                                                    \
    L_##name: {                                                                             \
        EA(R(1).i32, 3, size);                                                              \
        T v;                                                                                \
        load_u(&v, mem + ea, size);                                                         \
        R(2).field = conv v;                                                                \
        NEXT(4);                                                                            \
    }                                                                                       \
    L_##name##_ai: {                                                                        \
        EA((uint32_t)(R(1).i32 + W(4)), 3, size);                                           \
        T v;                                                                                \
        load_u(&v, mem + ea, size);                                                         \
        R(2).field = conv v;                                                                \
        NEXT(5);                                                                            \
    }                                                                                       \
    L_##name##_aa: {                                                                        \
        EA((uint32_t)(R(1).i32 + R(4).i32), 3, size);                                       \
        T v;                                                                                \
        load_u(&v, mem + ea, size);                                                         \
        R(2).field = conv v;                                                                \
        NEXT(5);                                                                            \
    }
    LOAD(i32_load, uint32_t, 4, i32, )
    LOAD(i64_load, uint64_t, 8, i64, )
    LOAD(i32_load8_s, int8_t, 1, i32, (uint32_t)(int32_t))
    LOAD(i32_load8_u, uint8_t, 1, i32, (uint32_t))
    LOAD(i32_load16_s, int16_t, 2, i32, (uint32_t)(int32_t))
    LOAD(i32_load16_u, uint16_t, 2, i32, (uint32_t))
    LOAD(i64_load8_s, int8_t, 1, i64, (uint64_t)(int64_t))
    LOAD(i64_load8_u, uint8_t, 1, i64, (uint64_t))
    LOAD(i64_load16_s, int16_t, 2, i64, (uint64_t)(int64_t))
    LOAD(i64_load16_u, uint16_t, 2, i64, (uint64_t))
    LOAD(i64_load32_s, int32_t, 4, i64, (uint64_t)(int64_t))
    LOAD(i64_load32_u, uint32_t, 4, i64, (uint64_t))
#undef LOAD
#define STORE(name, T, size, field)                                                         \
    L_##name: {                                                                             \
        EA(R(1).i32, 3, size);                                                              \
        T v = (T)R(2).field;                                                                \
        memcpy(mem + ea, &v, size);                                                         \
        NEXT(4);                                                                            \
    }                                                                                       \
    L_##name##_ai: {                                                                        \
        EA((uint32_t)(R(1).i32 + W(4)), 3, size);                                           \
        T v = (T)R(2).field;                                                                \
        memcpy(mem + ea, &v, size);                                                         \
        NEXT(5);                                                                            \
    }                                                                                       \
    L_##name##_aa: {                                                                        \
        EA((uint32_t)(R(1).i32 + R(4).i32), 3, size);                                       \
        T v = (T)R(2).field;                                                                \
        memcpy(mem + ea, &v, size);                                                         \
        NEXT(5);                                                                            \
    }
    STORE(i32_store, uint32_t, 4, i32)
    STORE(i64_store, uint64_t, 8, i64)
    STORE(i32_store8, uint8_t, 1, i32)
    STORE(i32_store16, uint16_t, 2, i32)
#undef STORE
L_i32_store_add_imm: {
    EA(R(1).i32, 3, 4);
    uint32_t v = R(2).i32 + W(4);
    memcpy(mem + ea, &v, 4);
    NEXT(5);
}
#define F64_STORE(name, op)                                                                 \
    L_##name: {                                                                             \
        EA(R(1).i32, 4, 8);                                                                 \
        double v = R(2).f64 op R(3).f64;                                                    \
        memcpy(mem + ea, &v, 8);                                                            \
        NEXT(5);                                                                            \
    }
    F64_STORE(f64_add_store, +)
    F64_STORE(f64_sub_store, -)
    F64_STORE(f64_mul_store, *)
#undef F64_STORE
/* The first of two accesses in one handler: var = the `size` bytes at
 * R(1) + W(3), in a scope of its own (each access has its own ea). */
#define LOAD_FIRST(var, size)                                                               \
    {                                                                                       \
        EA(R(1).i32, 3, size);                                                              \
        load_u(&var, mem + ea, size);                                                       \
    }
#define F64_LOAD_ADD_STORE(name, sum)                                                       \
    L_##name: {                                                                             \
        double v;                                                                           \
        LOAD_FIRST(v, 8)                                                                    \
        R(2).f64 = v;                                                                       \
        double y = R(4).f64, r = (sum);                                                     \
        EA(R(5).i32, 6, 8);                                                                 \
        memcpy(mem + ea, &r, 8);                                                            \
        NEXT(7);                                                                            \
    }
    F64_LOAD_ADD_STORE(f64_load_add_store, v + y)
    F64_LOAD_ADD_STORE(f64_add_load_store, y + v)
#undef F64_LOAD_ADD_STORE
L_i32_add_imm_copy: {
    uint32_t v = R(1).i32 + W(2);
    R(3).i32 = v;
    R(4).i32 = v;
    NEXT(5);
}
L_i32_add_imm_load: {
    uint32_t address = R(1).i32 + W(4);
    R(5).i32 = address;
    EA(address, 3, 4);
    uint32_t v;
    load_u(&v, mem + ea, 4);
    R(2).i32 = v;
    NEXT(6);
}
/* A value computed from S and W(5) (a byte loaded, a mask applied), kept in
 * D, then compared with the immediate W(2) and branched on. */
#define VALUE_BR_IF(name, fetch, op)                                                        \
    L_##name: {                                                                             \
        fetch;                                                                              \
        R(4).i32 = v;                                                                       \
        if (v op W(2)) JUMP(3);                                                             \
        NEXT(6);                                                                            \
    }
#define LOAD_BYTE EA(R(1).i32, 5, 1); uint32_t v = mem[ea]
    VALUE_BR_IF(load8u_br_if_eq_imm, LOAD_BYTE, ==)
    VALUE_BR_IF(load8u_br_if_ne_imm, LOAD_BYTE, !=)
#undef LOAD_BYTE
L_memory_size:
    R(1).i32 = inst->mem0->pages;
    NEXT(2);
L_memory_grow:
    R(2).i32 = (uint32_t)qv_memory_grow(inst->mem0, R(1).i32);
    RELOAD_MEM();
    NEXT(3);
L_memory_fill: {
    uint64_t d = R(1).i32, n = R(3).i32;
    if (UNLIKELY(d + n > memsize)) TRAP(MEMORY_OUT_OF_BOUNDS);
    budget = bulk_fill(s, budget, mem + d, (int)(uint8_t)R(2).i32, n);
    CHECK_BUDGET();
    NEXT(4);
}
L_memory_copy: {
    uint64_t d = R(1).i32, src = R(2).i32, n = R(3).i32;
    if (UNLIKELY(d + n > memsize || src + n > memsize)) TRAP(MEMORY_OUT_OF_BOUNDS);
    budget = bulk_move(s, budget, mem + d, mem + src, n);
    CHECK_BUDGET();
    NEXT(4);
}
L_memory_init: {
    const qe_data_inst *seg = &inst->datas[W(1)];
    uint64_t d = R(2).i32, src = R(3).i32, n = R(4).i32;
    if (UNLIKELY(src + n > seg->len || d + n > memsize)) TRAP(MEMORY_OUT_OF_BOUNDS);
    budget = bulk_move(s, budget, mem + d, seg->bytes + src, n);
    CHECK_BUDGET();
    NEXT(5);
}
L_data_drop:
    inst->datas[W(1)].len = 0;
    NEXT(2);

    /* ------------------------------------------------------------ tables */
L_table_get: {
    const qv_table *t = inst->tables[W(1)];
    uint32_t i = R(2).i32;
    if (UNLIKELY(i >= t->size)) TRAP(TABLE_OUT_OF_BOUNDS);
    R(3).ref = t->elems[i];
    NEXT(4);
}
L_table_set: {
    qv_table *t = inst->tables[W(1)];
    uint32_t i = R(2).i32;
    if (UNLIKELY(i >= t->size)) TRAP(TABLE_OUT_OF_BOUNDS);
    t->elems[i] = R(3).ref;
    NEXT(4);
}
L_table_size:
    R(2).i32 = inst->tables[W(1)]->size;
    NEXT(3);
L_table_grow: {
    uint32_t old;
    budget = bulk_table_grow(s, budget, inst->tables[W(1)], R(3).i32, R(2).ref, &old);
    CHECK_BUDGET();
    R(4).i32 = old;
    NEXT(5);
}
L_table_fill: {
    qv_table *t = inst->tables[W(1)];
    uint64_t i = R(2).i32, n = R(4).i32;
    void *v = R(3).ref;
    if (UNLIKELY(i + n > t->size)) TRAP(TABLE_OUT_OF_BOUNDS);
    budget = bulk_fill_refs(s, budget, t->elems + i, v, n);
    CHECK_BUDGET();
    NEXT(5);
}
L_table_copy: {
    qv_table *td = inst->tables[W(1)];
    const qv_table *ts = inst->tables[W(2)];
    uint64_t d = R(3).i32, src = R(4).i32, n = R(5).i32;
    if (UNLIKELY(d + n > td->size || src + n > ts->size)) TRAP(TABLE_OUT_OF_BOUNDS);
    budget = bulk_move(s, budget, (uint8_t *)(td->elems + d), (const uint8_t *)(ts->elems + src), n * sizeof(void *));
    CHECK_BUDGET();
    NEXT(6);
}
L_table_init: {
    qv_table *t = inst->tables[W(1)];
    const qe_elem_inst *seg = &inst->elems[W(2)];
    uint64_t d = R(3).i32, src = R(4).i32, n = R(5).i32;
    if (UNLIKELY(src + n > seg->count || d + n > t->size)) TRAP(TABLE_OUT_OF_BOUNDS);
    budget = bulk_move(s, budget, (uint8_t *)(t->elems + d), (const uint8_t *)(seg->refs + src), n * sizeof(void *));
    CHECK_BUDGET();
    NEXT(6);
}
L_elem_drop:
    inst->elems[W(1)].count = 0;
    NEXT(2);
L_ref_is_null:
    R(2).i32 = R(1).ref == NULL;
    NEXT(3);
L_ref_func:
    R(2).ref = inst->funcs[W(1)];
    NEXT(3);

    /* ------------------------------------------------------------ numeric */
#define OP1(name, F, expr)                                                                  \
    L_##name: {                                                                             \
        __typeof__(fp->F) a = R(1).F;                                                       \
        expr;                                                                               \
        NEXT(3);                                                                            \
    }
#define OP2(name, F, expr)                                                                  \
    L_##name: {                                                                             \
        __typeof__(fp->F) a = R(1).F, b = R(2).F;                                           \
        expr;                                                                               \
        NEXT(4);                                                                            \
    }
/* The same with an immediate second operand (i32 only). */
#define OP2I(name, F, expr)                                                                 \
    L_##name##_imm: {                                                                       \
        uint32_t a = R(1).F, b = W(2);                                                      \
        expr;                                                                               \
        NEXT(4);                                                                            \
    }
#define D1 R(2)
#define D2 R(3)
    OP2I(i32_add, i32, D2.i32 = a + b)
    OP2I(i32_sub, i32, D2.i32 = a - b)
    OP2I(i32_mul, i32, D2.i32 = a * b)
    OP2I(i32_and, i32, D2.i32 = a & b)
    OP2I(i32_or, i32, D2.i32 = a | b)
    OP2I(i32_xor, i32, D2.i32 = a ^ b)
    OP2I(i32_shl, i32, D2.i32 = a << (b & 31))
    OP2I(i32_shr_s, i32, D2.i32 = (uint32_t)((int32_t)a >> (b & 31)))
    OP2I(i32_shr_u, i32, D2.i32 = a >> (b & 31))
    OP2I(i32_rotl, i32, D2.i32 = qe_rotl32(a, b))
    OP2I(i32_rotr, i32, D2.i32 = qe_rotr32(a, b))
    OP2I(i32_eq, i32, D2.i32 = a == b)
    OP2I(i32_ne, i32, D2.i32 = a != b)
    OP2I(i32_lt_s, i32, D2.i32 = (int32_t)a < (int32_t)b)
    OP2I(i32_lt_u, i32, D2.i32 = a < b)
    OP2I(i32_gt_s, i32, D2.i32 = (int32_t)a > (int32_t)b)
    OP2I(i32_gt_u, i32, D2.i32 = a > b)
    OP2I(i32_le_s, i32, D2.i32 = (int32_t)a <= (int32_t)b)
    OP2I(i32_le_u, i32, D2.i32 = a <= b)
    OP2I(i32_ge_s, i32, D2.i32 = (int32_t)a >= (int32_t)b)
    OP2I(i32_ge_u, i32, D2.i32 = a >= b)
#undef OP2I
    /* i32 */
    OP1(i32_eqz, i32, D1.i32 = a == 0)
    OP1(i32_clz, i32, D1.i32 = qe_clz32(a))
    OP1(i32_ctz, i32, D1.i32 = qe_ctz32(a))
    OP1(i32_popcnt, i32, D1.i32 = (uint32_t)__builtin_popcount(a))
    OP1(i32_extend8_s, i32, D1.i32 = (uint32_t)(int32_t)(int8_t)a)
    OP1(i32_extend16_s, i32, D1.i32 = (uint32_t)(int32_t)(int16_t)a)
    OP2(i32_eq, i32, D2.i32 = a == b)
    OP2(i32_ne, i32, D2.i32 = a != b)
    OP2(i32_lt_s, i32, D2.i32 = (int32_t)a < (int32_t)b)
    OP2(i32_lt_u, i32, D2.i32 = a < b)
    OP2(i32_gt_s, i32, D2.i32 = (int32_t)a > (int32_t)b)
    OP2(i32_gt_u, i32, D2.i32 = a > b)
    OP2(i32_le_s, i32, D2.i32 = (int32_t)a <= (int32_t)b)
    OP2(i32_le_u, i32, D2.i32 = a <= b)
    OP2(i32_ge_s, i32, D2.i32 = (int32_t)a >= (int32_t)b)
    OP2(i32_ge_u, i32, D2.i32 = a >= b)
    OP2(i32_add, i32, D2.i32 = a + b)
    OP2(i32_sub, i32, D2.i32 = a - b)
    OP2(i32_mul, i32, D2.i32 = a * b)
    OP2(i32_div_s, i32, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        if (UNLIKELY(a == 0x80000000u && b == 0xFFFFFFFFu)) TRAP(INTEGER_OVERFLOW);
        D2.i32 = (uint32_t)((int32_t)a / (int32_t)b);
    })
    OP2(i32_div_u, i32, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        D2.i32 = a / b;
    })
    OP2(i32_rem_s, i32, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        D2.i32 = b == 0xFFFFFFFFu ? 0 : (uint32_t)((int32_t)a % (int32_t)b);
    })
    OP2(i32_rem_u, i32, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        D2.i32 = a % b;
    })
    OP2(i32_and, i32, D2.i32 = a & b)
    OP2(i32_or, i32, D2.i32 = a | b)
    OP2(i32_xor, i32, D2.i32 = a ^ b)
    OP2(i32_shl, i32, D2.i32 = a << (b & 31))
    OP2(i32_shr_s, i32, D2.i32 = (uint32_t)((int32_t)a >> (b & 31)))
    OP2(i32_shr_u, i32, D2.i32 = a >> (b & 31))
    OP2(i32_rotl, i32, D2.i32 = qe_rotl32(a, b))
    OP2(i32_rotr, i32, D2.i32 = qe_rotr32(a, b))
    /* i64 */
    OP1(i64_eqz, i64, D1.i32 = a == 0)
    OP1(i64_clz, i64, D1.i64 = qe_clz64(a))
    OP1(i64_ctz, i64, D1.i64 = qe_ctz64(a))
    OP1(i64_popcnt, i64, D1.i64 = (uint64_t)__builtin_popcountll(a))
    OP1(i64_extend8_s, i64, D1.i64 = (uint64_t)(int64_t)(int8_t)a)
    OP1(i64_extend16_s, i64, D1.i64 = (uint64_t)(int64_t)(int16_t)a)
    OP1(i64_extend32_s, i64, D1.i64 = (uint64_t)(int64_t)(int32_t)a)
    OP1(i64_extend_i32_s, i32, D1.i64 = (uint64_t)(int64_t)(int32_t)a)
    OP1(i64_extend_i32_u, i32, D1.i64 = (uint64_t)a)
    OP2(i64_eq, i64, D2.i32 = a == b)
    OP2(i64_ne, i64, D2.i32 = a != b)
    OP2(i64_lt_s, i64, D2.i32 = (int64_t)a < (int64_t)b)
    OP2(i64_lt_u, i64, D2.i32 = a < b)
    OP2(i64_gt_s, i64, D2.i32 = (int64_t)a > (int64_t)b)
    OP2(i64_gt_u, i64, D2.i32 = a > b)
    OP2(i64_le_s, i64, D2.i32 = (int64_t)a <= (int64_t)b)
    OP2(i64_le_u, i64, D2.i32 = a <= b)
    OP2(i64_ge_s, i64, D2.i32 = (int64_t)a >= (int64_t)b)
    OP2(i64_ge_u, i64, D2.i32 = a >= b)
    OP2(i64_add, i64, D2.i64 = a + b)
    OP2(i64_sub, i64, D2.i64 = a - b)
    OP2(i64_mul, i64, D2.i64 = a * b)
    OP2(i64_div_s, i64, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        if (UNLIKELY(a == 0x8000000000000000ull && b == ~0ull)) TRAP(INTEGER_OVERFLOW);
        D2.i64 = (uint64_t)((int64_t)a / (int64_t)b);
    })
    OP2(i64_div_u, i64, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        D2.i64 = a / b;
    })
    OP2(i64_rem_s, i64, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        D2.i64 = b == ~0ull ? 0 : (uint64_t)((int64_t)a % (int64_t)b);
    })
    OP2(i64_rem_u, i64, {
        if (UNLIKELY(b == 0)) TRAP(INTEGER_DIVIDE_BY_ZERO);
        D2.i64 = a % b;
    })
    OP2(i64_and, i64, D2.i64 = a & b)
    OP2(i64_or, i64, D2.i64 = a | b)
    OP2(i64_xor, i64, D2.i64 = a ^ b)
    OP2(i64_shl, i64, D2.i64 = a << (b & 63))
    OP2(i64_shr_s, i64, D2.i64 = (uint64_t)((int64_t)a >> (b & 63)))
    OP2(i64_shr_u, i64, D2.i64 = a >> (b & 63))
    OP2(i64_rotl, i64, D2.i64 = qe_rotl64(a, b))
    OP2(i64_rotr, i64, D2.i64 = qe_rotr64(a, b))
    /* f32: sign operations work on the bits so NaN payloads survive */
    OP1(f32_abs, i32, D1.i32 = a & 0x7FFFFFFFu)
    OP1(f32_neg, i32, D1.i32 = a ^ 0x80000000u)
    OP1(f32_ceil, f32, D1.f32 = qe_f32_ceil(a))
    OP1(f32_floor, f32, D1.f32 = qe_f32_floor(a))
    OP1(f32_trunc, f32, D1.f32 = qe_f32_trunc(a))
    OP1(f32_nearest, f32, D1.f32 = qe_f32_nearest(a))
    OP1(f32_sqrt, f32, D1.f32 = sqrtf(a))
    OP2(f32_eq, f32, D2.i32 = a == b)
    OP2(f32_ne, f32, D2.i32 = a != b)
    OP2(f32_lt, f32, D2.i32 = a < b)
    OP2(f32_gt, f32, D2.i32 = a > b)
    OP2(f32_le, f32, D2.i32 = a <= b)
    OP2(f32_ge, f32, D2.i32 = a >= b)
    OP2(f32_add, f32, D2.f32 = a + b)
    OP2(f32_sub, f32, D2.f32 = a - b)
    OP2(f32_mul, f32, D2.f32 = a * b)
    OP2(f32_div, f32, D2.f32 = a / b)
    OP2(f32_min, f32, D2.f32 = qe_f32_min(a, b))
    OP2(f32_max, f32, D2.f32 = qe_f32_max(a, b))
    OP2(f32_copysign, i32, D2.i32 = (a & 0x7FFFFFFFu) | (b & 0x80000000u))
    /* f64 */
    OP1(f64_abs, i64, D1.i64 = a & 0x7FFFFFFFFFFFFFFFull)
    OP1(f64_neg, i64, D1.i64 = a ^ 0x8000000000000000ull)
    OP1(f64_ceil, f64, D1.f64 = qe_f64_ceil(a))
    OP1(f64_floor, f64, D1.f64 = qe_f64_floor(a))
    OP1(f64_trunc, f64, D1.f64 = qe_f64_trunc(a))
    OP1(f64_nearest, f64, D1.f64 = qe_f64_nearest(a))
    OP1(f64_sqrt, f64, D1.f64 = sqrt(a))
    OP2(f64_eq, f64, D2.i32 = a == b)
    OP2(f64_ne, f64, D2.i32 = a != b)
    OP2(f64_lt, f64, D2.i32 = a < b)
    OP2(f64_gt, f64, D2.i32 = a > b)
    OP2(f64_le, f64, D2.i32 = a <= b)
    OP2(f64_ge, f64, D2.i32 = a >= b)
    OP2(f64_add, f64, D2.f64 = a + b)
    OP2(f64_sub, f64, D2.f64 = a - b)
    OP2(f64_mul, f64, D2.f64 = a * b)
    OP2(f64_div, f64, D2.f64 = a / b)
    OP2(f64_min, f64, D2.f64 = qe_f64_min(a, b))
    OP2(f64_max, f64, D2.f64 = qe_f64_max(a, b))
    OP2(f64_copysign, i64, D2.i64 = (a & 0x7FFFFFFFFFFFFFFFull) | (b & 0x8000000000000000ull))
    /* conversions */
#define TRUNC(name, F, fits, field, I)                                                      \
    OP1(name, F, {                                                                          \
        if (UNLIKELY(isnan(a))) TRAP(INVALID_CONVERSION);                                   \
        if (UNLIKELY(!fits(a))) TRAP(INTEGER_OVERFLOW);                                     \
        D1.field = (I)a;                                                                    \
    })
    TRUNC(i32_trunc_f32_s, f32, qe_f32_fits_i32, i32, int32_t)
    TRUNC(i32_trunc_f32_u, f32, qe_f32_fits_u32, i32, uint32_t)
    TRUNC(i32_trunc_f64_s, f64, qe_f64_fits_i32, i32, int32_t)
    TRUNC(i32_trunc_f64_u, f64, qe_f64_fits_u32, i32, uint32_t)
    TRUNC(i64_trunc_f32_s, f32, qe_f32_fits_i64, i64, int64_t)
    TRUNC(i64_trunc_f32_u, f32, qe_f32_fits_u64, i64, uint64_t)
    TRUNC(i64_trunc_f64_s, f64, qe_f64_fits_i64, i64, int64_t)
    TRUNC(i64_trunc_f64_u, f64, qe_f64_fits_u64, i64, uint64_t)
#undef TRUNC
    OP1(i32_trunc_sat_f32_s, f32, D1.i32 = (uint32_t)qe_sat_f32_i32(a))
    OP1(i32_trunc_sat_f32_u, f32, D1.i32 = qe_sat_f32_u32(a))
    OP1(i32_trunc_sat_f64_s, f64, D1.i32 = (uint32_t)qe_sat_f64_i32(a))
    OP1(i32_trunc_sat_f64_u, f64, D1.i32 = qe_sat_f64_u32(a))
    OP1(i64_trunc_sat_f32_s, f32, D1.i64 = (uint64_t)qe_sat_f32_i64(a))
    OP1(i64_trunc_sat_f32_u, f32, D1.i64 = qe_sat_f32_u64(a))
    OP1(i64_trunc_sat_f64_s, f64, D1.i64 = (uint64_t)qe_sat_f64_i64(a))
    OP1(i64_trunc_sat_f64_u, f64, D1.i64 = qe_sat_f64_u64(a))
    OP1(f32_convert_i32_s, i32, D1.f32 = (float)(int32_t)a)
    OP1(f32_convert_i32_u, i32, D1.f32 = (float)a)
    OP1(f32_convert_i64_s, i64, D1.f32 = (float)(int64_t)a)
    OP1(f32_convert_i64_u, i64, D1.f32 = (float)a)
    OP1(f32_demote_f64, f64, D1.f32 = (float)a)
    OP1(f64_convert_i32_s, i32, D1.f64 = (double)(int32_t)a)
    OP1(f64_convert_i32_u, i32, D1.f64 = (double)a)
    OP1(f64_convert_i64_s, i64, D1.f64 = (double)(int64_t)a)
    OP1(f64_convert_i64_u, i64, D1.f64 = (double)a)
    OP1(f64_promote_f32, f32, D1.f64 = (double)a)
    /* Superinstructions added last, here, to leave the older handlers
     * where they were: on this machine `sort` ran ~5% slower when new
     * handlers were put among them (code layout, not work). */
L_i32_copy_add_imm: {
    qe_slot v = R(1);
    R(4) = v;
    R(3).i32 = v.i32 + W(2);
    NEXT(5);
}
L_i32_copy_add_imm_br: {
    qe_slot v = R(1);
    R(4) = v;
    R(3).i32 = v.i32 + W(2);
    JUMP(5);
}
L_i32_xor_mul_imm: {
    R(4).i32 = (R(1).i32 ^ R(2).i32) * W(3);
    NEXT(5);
}
L_i32_add_imm_call:
    R(3).i32 = R(1).i32 + W(2);
    callee = inst->funcs[W(4)];
    nfp = fp + W(5);
    ret = pc + 6;
    goto do_call;
L_i32_add_return1:
    fp[0].i32 = R(1).i32 + R(2).i32;
    goto L_return;
L_i32_load8_u_shl_imm: {
    EA(R(1).i32, 2, 1);
    R(4).i32 = (uint32_t)mem[ea] << W(3);
    NEXT(5);
}
L_i32_shr_u_and_imm:
    R(4).i32 = (R(1).i32 >> W(2)) & W(3);
    NEXT(5);
L_select_and_imm:
    R(5) = (R(1).i32 & W(2)) ? R(3) : R(4);
    NEXT(6);
#define LOAD_TEST(name, T, size, cond)                                                      \
    L_##name: {                                                                             \
        EA(R(1).i32, 3, size);                                                              \
        T v;                                                                                \
        load_u(&v, mem + ea, size);                                                         \
        R(2).i32 = v;                                                                       \
        if (cond) JUMP(4);                                                                  \
        NEXT(5);                                                                            \
    }
    LOAD_TEST(i32_load_br_if, uint32_t, 4, v != 0)
    LOAD_TEST(i32_load_br_unless, uint32_t, 4, v == 0)
    LOAD_TEST(i32_load8_u_br_if, uint8_t, 1, v != 0)
    LOAD_TEST(i32_load8_u_br_unless, uint8_t, 1, v == 0)
#undef LOAD_TEST
#define MASK uint32_t v = R(1).i32 & W(5)
    VALUE_BR_IF(i32_and_br_if_eq_imm, MASK, ==)
    VALUE_BR_IF(i32_and_br_if_ne_imm, MASK, !=)
#undef MASK
#undef VALUE_BR_IF
#define LOAD_THROUGH(name, T, size, conv)                                                   \
    L_##name: {                                                                             \
        uint32_t p;                                                                         \
        LOAD_FIRST(p, 4)                                                                    \
        R(2).i32 = p;                                                                       \
        EA(p, 5, size);                                                                     \
        T v;                                                                                \
        load_u(&v, mem + ea, size);                                                         \
        R(4).i32 = conv v;                                                                  \
        NEXT(6);                                                                            \
    }
    LOAD_THROUGH(i32_load_i32_load, uint32_t, 4, )
    LOAD_THROUGH(i32_load_load8_u, uint8_t, 1, (uint32_t))
    LOAD_THROUGH(i32_load_load16_u, uint16_t, 2, (uint32_t))
    LOAD_THROUGH(i32_load_load16_s, int16_t, 2, (uint32_t)(int32_t))
#undef LOAD_THROUGH
#undef LOAD_FIRST
L_i32_add3:
    R(4).i32 = R(1).i32 + R(2).i32 + R(3).i32;
    NEXT(5);
L_i32_mul_add:
    R(4).i32 = R(1).i32 * R(2).i32 + R(3).i32;
    NEXT(5);
#undef OP1
#undef OP2
#undef D1
#undef D2

trap_from_host:
    x->depth = (uint32_t)(cr - x->calls);
    give_back_budget(s, budget);
    if (qv_trap_frame_count(host_trap) == 0) {
        for (uint32_t i = x->depth; i > base_depth; i--) {
            const qv_func *f = x->calls[i].func;
            qe_trap_add_frame(host_trap, f->index, func_name_of(f), f->inst->module->m->name);
        }
    }
    x->depth = base_depth;
    x->stack_top = saved_top;
    return host_trap;
trap: {
    x->depth = (uint32_t)(cr - x->calls);
    give_back_budget(s, budget);
    qv_trap *t = qe_trap_with_backtrace(s, trap_kind, trap_msg);
    x->depth = base_depth;
    x->stack_top = saved_top;
    return t;
}
done:
    x->depth = base_depth;
    give_back_budget(s, budget);
    x->stack_top = saved_top;
    return NULL;
}

static void fill_handler_table(void)
{
    run(NULL, NULL, NULL);
#ifdef QE_COUNT_OPS
    qe_count_init();
#endif
}

/* Modules may be compiled on several threads at once. */
void qe_interp_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fill_handler_table);
}

qv_trap *qe_invoke(qv_store *store, qv_func *f, const qe_slot *args, qe_slot *results)
{
    qe_exec *x = &store->exec;
    const qe_functype *type = f->type;
    uint32_t nargs = 0, nres = 0;
    for (uint32_t i = 0; i < type->nparams; i++) nargs += qe_slots_of(qe_params(type)[i]);
    for (uint32_t i = 0; i < type->nresults; i++) nres += qe_slots_of(qe_results(type)[i]);

    if (f->kind == QE_FUNC_HOST) return qe_call_host(store, NULL, f, args, results);

    qe_slot *fp = x->stack_top;
    /* WebAssembly calls do not use the C stack, but each host function
     * that calls back in nests a run: bound that nesting so the host's
     * stack cannot overflow. */
    if (fp + (nargs > nres ? nargs : nres) > x->stack_end || x->nesting >= MAX_NESTED_RUNS)
        return qe_trap_with_backtrace(store, QV_TRAP_STACK_EXHAUSTED, NULL);
    if (nargs) memcpy(fp, args, nargs * sizeof(qe_slot));
    x->nesting++;
    qv_trap *trap = run(store, f, fp);
    x->nesting--;
    if (!trap && nres) memcpy(results, fp, nres * sizeof(qe_slot));
    return trap;
}
