/*
 * op_count.h — the counting build of the interpreter, for choosing
 * superinstructions from what real programs execute:
 *
 *     make BUILD=build/count OPT='-O2 -DQE_COUNT_OPS' build/count/bench/runner
 *     build/count/bench/runner build/bench/json.wasm 100 2>counts.txt
 *
 * Every dispatch counts its instruction and the pair (previous, this one);
 * at exit the most frequent instructions and pairs go to stderr. Only for
 * measuring: it is slow, and not thread-safe.
 */
#ifndef QYVOL_ENGINE_OP_COUNT_H
#define QYVOL_ENGINE_OP_COUNT_H

#ifdef QE_COUNT_OPS
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"

static const char *const qe_op_names[] = {
#define N2(code, name) #name,
#define N1(name) #name,
#define NBR(name) "br_if_" #name,
#define NBRI(name) "br_if_" #name "_imm",
#define NIMM(name) #name "_imm",
#define NAI(code, name) #name "_ai",
#define NAA(code, name) #name "_aa",
#define NADD(name) "add_br_if_" #name, "add_br_if_" #name "_imm",
    QE_FOR_EACH_OP(N2, N1, NBR, NBRI, NIMM, NAI, NAA, NADD)
#undef N2
#undef N1
#undef NBR
#undef NBRI
#undef NIMM
#undef NAI
#undef NAA
#undef NADD
};

#define QE_COUNT_SPAN (1 << 18) /* handler offsets lie within +-128 KiB of the base */
static int16_t qe_count_op_at[QE_COUNT_SPAN];
static uint64_t qe_count_ops[QE_I__COUNT];
static uint64_t qe_count_pairs[QE_I__COUNT][QE_I__COUNT];
static int qe_count_prev = -1;

typedef struct qe_count_row { uint64_t n; int a, b; } qe_count_row;

static int qe_count_cmp(const void *x, const void *y)
{
    uint64_t a = ((const qe_count_row *)x)->n, b = ((const qe_count_row *)y)->n;
    return a < b ? 1 : a > b ? -1 : 0;
}

static void qe_count_report(void)
{
    static qe_count_row rows[QE_I__COUNT * QE_I__COUNT];
    uint64_t total = 0;
    size_t n = 0;
    for (int a = 0; a < QE_I__COUNT; a++) {
        total += qe_count_ops[a];
        if (qe_count_ops[a]) rows[n++] = (qe_count_row){qe_count_ops[a], a, -1};
    }
    qsort(rows, n, sizeof rows[0], qe_count_cmp);
    fprintf(stderr, "instructions executed: %llu\n", (unsigned long long)total);
    for (size_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, "op   %6.2f%%  %s\n", 100.0 * (double)rows[i].n / (double)total, qe_op_names[rows[i].a]);
    n = 0;
    for (int a = 0; a < QE_I__COUNT; a++)
        for (int b = 0; b < QE_I__COUNT; b++)
            if (qe_count_pairs[a][b]) rows[n++] = (qe_count_row){qe_count_pairs[a][b], a, b};
    qsort(rows, n, sizeof rows[0], qe_count_cmp);
    for (size_t i = 0; i < n && i < 60; i++)
        fprintf(stderr, "pair %6.2f%%  %s -> %s\n", 100.0 * (double)rows[i].n / (double)total,
                qe_op_names[rows[i].a], qe_op_names[rows[i].b]);
}

/* After qe_op_handlers is filled. */
static void qe_count_init(void)
{
    for (int i = 0; i < QE_COUNT_SPAN; i++) qe_count_op_at[i] = -1;
    for (int op = 0; op < QE_I__COUNT; op++) qe_count_op_at[qe_op_handlers[op] + QE_COUNT_SPAN / 2] = (int16_t)op;
    atexit(qe_count_report);
}

static inline void qe_count(int32_t handler)
{
    int op = qe_count_op_at[handler + QE_COUNT_SPAN / 2];
    qe_count_ops[op]++;
    if (qe_count_prev >= 0) qe_count_pairs[qe_count_prev][op]++;
    qe_count_prev = op;
}
#define QE_COUNT(handler) qe_count(handler)
#else
#define QE_COUNT(handler) ((void)0)
#endif

#endif
