/* interp: a small stack-bytecode interpreter (switch dispatch) running a
 * loop of n iterations, ~35 bytecodes each: arithmetic, a conditional and
 * jumps — the classic interpreter pattern (indirect branch, operand stack in
 * memory). */
#include "kernel.h"

enum op {
    OP_HALT, OP_PUSH, OP_LOAD, OP_STORE, OP_INC, OP_ADD, OP_SUB, OP_MUL,
    OP_AND, OP_XOR, OP_SHL, OP_SHR, OP_LT, OP_JZ, OP_JMP,
};

#define CODE_MAX 256
static int32_t code[CODE_MAX];
static int32_t ncode;

static void emit(int32_t op) { code[ncode++] = op; }
static void emit2(int32_t op, int32_t arg) { emit(op); emit(arg); }
static int32_t here(void) { return ncode; }
/* Emit a jump with an unknown target; returns the operand slot to patch. */
static int32_t emit_jump(int32_t op) { emit2(op, -1); return ncode - 1; }
static void patch(int32_t slot, int32_t target) { code[slot] = target; }

/* locals: 0 = n, 1 = i, 2 = acc, 3 = x */
static void assemble(void)
{
    ncode = 0;
    emit2(OP_PUSH, 0); emit2(OP_STORE, 1);                 /* i = 0 */
    emit2(OP_PUSH, 7); emit2(OP_STORE, 2);                 /* acc = 7 */
    int32_t loop = here();
    emit2(OP_LOAD, 1); emit2(OP_LOAD, 0); emit(OP_LT);     /* while (i < n) */
    int32_t to_end = emit_jump(OP_JZ);
    emit2(OP_LOAD, 1); emit2(OP_PUSH, (int32_t)0x9E3779B1u); emit(OP_MUL);
    emit2(OP_LOAD, 2); emit(OP_XOR); emit2(OP_STORE, 3);   /* x = i * K ^ acc */
    emit2(OP_LOAD, 3); emit2(OP_PUSH, 7); emit(OP_SHR);
    emit2(OP_PUSH, 0xFFFF); emit(OP_AND);
    emit2(OP_LOAD, 2); emit(OP_ADD); emit2(OP_STORE, 2);   /* acc += (x >> 7) & 0xFFFF */
    emit2(OP_LOAD, 3); emit2(OP_PUSH, 0x10); emit(OP_AND); /* if (x & 0x10) */
    int32_t to_else = emit_jump(OP_JZ);
    emit2(OP_LOAD, 2); emit2(OP_PUSH, 3); emit(OP_SHL);
    emit2(OP_LOAD, 3); emit(OP_XOR); emit2(OP_STORE, 2);   /*   acc = (acc << 3) ^ x */
    int32_t to_join = emit_jump(OP_JMP);
    patch(to_else, here());                                /* else */
    emit2(OP_LOAD, 2); emit2(OP_PUSH, 12345); emit(OP_SUB);
    emit2(OP_STORE, 2);                                    /*   acc -= 12345 */
    patch(to_join, here());
    emit2(OP_INC, 1);                                      /* i++ */
    emit2(OP_JMP, loop);
    patch(to_end, here());
    emit2(OP_LOAD, 2);
    emit(OP_HALT);
}

static uint32_t execute(const int32_t *pc0, uint32_t *locals)
{
    uint32_t stack[32];
    uint32_t *sp = stack; /* points past the top element */
    const int32_t *pc = pc0;
    for (;;) {
        switch (*pc++) {
        case OP_HALT: return sp[-1];
        case OP_PUSH: *sp++ = (uint32_t)*pc++; break;
        case OP_LOAD: *sp++ = locals[*pc++]; break;
        case OP_STORE: locals[*pc++] = *--sp; break;
        case OP_INC: locals[*pc++]++; break;
        case OP_ADD: sp--; sp[-1] += sp[0]; break;
        case OP_SUB: sp--; sp[-1] -= sp[0]; break;
        case OP_MUL: sp--; sp[-1] *= sp[0]; break;
        case OP_AND: sp--; sp[-1] &= sp[0]; break;
        case OP_XOR: sp--; sp[-1] ^= sp[0]; break;
        case OP_SHL: sp--; sp[-1] <<= (sp[0] & 31); break;
        case OP_SHR: sp--; sp[-1] >>= (sp[0] & 31); break;
        case OP_LT: sp--; sp[-1] = sp[-1] < sp[0]; break;
        case OP_JZ: { int32_t t = *pc++; if (!*--sp) pc = pc0 + t; break; }
        case OP_JMP: pc = pc0 + *pc; break;
        default: return 0xDEADBEEFu;
        }
    }
}

int32_t run(int32_t n)
{
    assemble();
    uint32_t locals[4] = {(uint32_t)n, 0, 0, 0};
    return (int32_t)execute(code, locals);
}
