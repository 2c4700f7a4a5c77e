/* bytecode: a register-machine bytecode interpreter, the shape of a
 * scripting language's core loop: a switch over 20 opcodes, a register
 * window per call, calls and returns inside the VM. The guest program
 * computes, n times over, recursive Fibonacci numbers and Collatz chain
 * lengths and folds them into an accumulator. */
#include "../kernels/kernel.h"

enum op {
    HALT, LOADI, MOV, ADD, ADDI, SUB, MUL, AND, XOR, SHRI, SHLI, LT, EQ,
    JZ, JNZ, JMP, JLT, CALL, RET, DIVI,
};

/* An instruction: opcode, destination, two sources (or an immediate). */
typedef struct insn { uint8_t op, a, b, c; int32_t imm; } insn;

#define MAX_CODE 128
#define WINDOW 8            /* registers per frame; r0 holds the result */
#define MAX_DEPTH 64

static insn code[MAX_CODE];
static int ncode;

static int emit(uint8_t op, uint8_t a, uint8_t b, uint8_t c, int32_t imm)
{
    code[ncode] = (insn){op, a, b, c, imm};
    return ncode++;
}

static int fib_entry, collatz_entry, main_entry;

/* fib(r1): r0 = r1 < 2 ? r1 : fib(r1 - 1) + fib(r1 - 2). A callee's r1 is
 * the caller's register named by CALL's b operand. */
static void assemble(void)
{
    ncode = 0;
    fib_entry = ncode;
    emit(LOADI, 2, 0, 0, 2);
    emit(LT, 3, 1, 2, 0);
    int skip = emit(JZ, 3, 0, 0, 0);
    emit(MOV, 0, 1, 0, 0);
    emit(RET, 0, 0, 0, 0);
    code[skip].imm = ncode;
    emit(ADDI, 4, 1, 0, -1);
    emit(CALL, 5, 4, 0, fib_entry);     /* r5 = fib(r4) */
    emit(ADDI, 4, 1, 0, -2);
    emit(CALL, 6, 4, 0, fib_entry);     /* r6 = fib(r4) */
    emit(ADD, 0, 5, 6, 0);
    emit(RET, 0, 0, 0, 0);

    /* collatz(r1): r0 = steps to reach 1 */
    collatz_entry = ncode;
    emit(LOADI, 0, 0, 0, 0);
    emit(LOADI, 2, 0, 0, 1);
    int top = ncode;
    emit(EQ, 3, 1, 2, 0);
    int done = emit(JNZ, 3, 0, 0, 0);
    emit(LOADI, 4, 0, 0, 1);
    emit(AND, 4, 1, 4, 0);
    int even = emit(JZ, 4, 0, 0, 0);
    emit(LOADI, 5, 0, 0, 3);
    emit(MUL, 1, 1, 5, 0);
    emit(ADDI, 1, 1, 0, 1);
    int next = emit(JMP, 0, 0, 0, 0);
    code[even].imm = ncode;
    emit(SHRI, 1, 1, 0, 1);
    code[next].imm = ncode;
    emit(ADDI, 0, 0, 0, 1);
    emit(JMP, 0, 0, 0, top);
    code[done].imm = ncode;
    emit(RET, 0, 0, 0, 0);

    /* main(r1 = rounds): r0 = acc */
    main_entry = ncode;
    emit(LOADI, 0, 0, 0, 17);           /* acc */
    emit(LOADI, 2, 0, 0, 0);            /* i */
    int to_test = emit(JMP, 0, 0, 0, 0);
    int body = ncode;
    emit(LOADI, 4, 0, 0, 7);
    emit(AND, 3, 2, 4, 0);
    emit(ADDI, 3, 3, 0, 12);            /* 12..19 */
    emit(CALL, 5, 3, 0, fib_entry);
    emit(XOR, 0, 0, 5, 0);
    emit(SHLI, 6, 2, 0, 3);
    emit(ADDI, 6, 6, 0, 27);
    emit(CALL, 7, 6, 0, collatz_entry);
    emit(ADD, 0, 0, 7, 0);
    emit(DIVI, 6, 0, 0, 3);
    emit(XOR, 0, 0, 6, 0);
    emit(ADDI, 2, 2, 0, 1);
    code[to_test].imm = ncode;
    emit(JLT, 2, 1, 0, body);
    emit(HALT, 0, 0, 0, 0);
}

static uint32_t regs[WINDOW * (MAX_DEPTH + 2)];
static struct { int ret; uint8_t dst; } frames[MAX_DEPTH + 1];

static uint32_t execute(int entry, uint32_t arg)
{
    uint32_t *r = regs;
    int depth = 0, pc = entry;
    r[1] = arg;
    for (;;) {
        const insn *i = &code[pc++];
        switch (i->op) {
        case HALT: return r[0];
        case LOADI: r[i->a] = (uint32_t)i->imm; break;
        case MOV: r[i->a] = r[i->b]; break;
        case ADD: r[i->a] = r[i->b] + r[i->c]; break;
        case ADDI: r[i->a] = r[i->b] + (uint32_t)i->imm; break;
        case SUB: r[i->a] = r[i->b] - r[i->c]; break;
        case MUL: r[i->a] = r[i->b] * r[i->c]; break;
        case AND: r[i->a] = r[i->b] & r[i->c]; break;
        case XOR: r[i->a] = r[i->b] ^ r[i->c]; break;
        case SHRI: r[i->a] = r[i->b] >> i->imm; break;
        case SHLI: r[i->a] = r[i->b] << i->imm; break;
        case LT: r[i->a] = r[i->b] < r[i->c]; break;
        case EQ: r[i->a] = r[i->b] == r[i->c]; break;
        case DIVI: r[i->a] = r[i->b] / (uint32_t)i->imm; break;
        case JZ: if (!r[i->a]) pc = i->imm; break;
        case JNZ: if (r[i->a]) pc = i->imm; break;
        case JMP: pc = i->imm; break;
        case JLT: if (r[i->a] < r[i->b]) pc = i->imm; break;
        case CALL:
            if (depth == MAX_DEPTH) return 0xDEAD;
            frames[depth].ret = pc;
            frames[depth].dst = i->a;
            depth++;
            r[WINDOW + 1] = r[i->b];
            r += WINDOW;
            pc = i->imm;
            break;
        case RET: {
            uint32_t v = r[0];
            if (depth == 0) return v;
            depth--;
            r -= WINDOW;
            r[frames[depth].dst] = v;
            pc = frames[depth].ret;
            break;
        }
        default: return 0xBAD;
        }
    }
}

int32_t run(int32_t n)
{
    assemble();
    return (int32_t)execute(main_entry, (uint32_t)n);
}
