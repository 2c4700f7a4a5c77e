/*
 * sched_reason.c — a shortfall in words (sched_reason.h), and the units
 * the scheduler speaks in (bytes as MiB/GiB, millicores as cpu).
 */
#include "cluster/sched_reason.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/scheduler.h"

/* bytes in the largest unit it reaches, one decimal at most, rounded down
 * (what is free) or up (what is needed). */
static void format_bytes(uint64_t bytes, bool round_up, char *out, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    unsigned u = 0;
    uint64_t scale = 1;
    while (u + 1 < sizeof units / sizeof units[0] && bytes / scale >= 1024) {
        scale *= 1024;
        u++;
    }
    /* Tenths of the unit, in integers (rest * 10 < 2^54: no overflow). */
    uint64_t whole = bytes / scale, rest = bytes % scale;
    uint64_t tenths = rest * 10 / scale;
    if (round_up && tenths * scale < rest * 10 && ++tenths == 10) {
        tenths = 0;
        whole++;
    }
    if (tenths)
        snprintf(out, size, "%llu.%llu %s", (unsigned long long)whole, (unsigned long long)tenths, units[u]);
    else
        snprintf(out, size, "%llu %s", (unsigned long long)whole, units[u]);
}

void sched_format_bytes(uint64_t bytes, char *out, size_t size) { format_bytes(bytes, false, out, size); }

void sched_format_cpu(uint64_t millicores, char *out, size_t size)
{
    uint64_t whole = millicores / 1000, milli = millicores % 1000;
    if (!milli) {
        snprintf(out, size, "%llu cpu", (unsigned long long)whole);
        return;
    }
    char frac[4];
    snprintf(frac, sizeof frac, "%03llu", (unsigned long long)milli);
    for (int i = 2; i > 0 && frac[i] == '0'; i--)
        frac[i] = '\0';
    snprintf(out, size, "%llu.%s cpu", (unsigned long long)whole, frac);
}

/* Appends to a fixed buffer; what does not fit is cut, never overrun. */
typedef struct text {
    char *p;
    size_t size, len;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->size ? t->len + (size_t)n : t->size - 1;
}

/* Kinds as told: all the short ones together. */
static int kind(sched_why why) { return why <= SCHED_WHY_SHORT_BOTH ? 0 : (int)why; }

static int node_order(const void *a, const void *b)
{
    const sched_reason_node *x = a, *y = b;
    int kx = kind(x->why), ky = kind(y->why);
    return kx != ky ? (kx > ky) - (kx < ky) : strcmp(x->name, y->name);
}

static void add_node(text *t, const sched_reason_node *node)
{
    char mem[32], cpu[32];
    format_bytes(node->memory_free, false, mem, sizeof mem);
    sched_format_cpu(node->cpu_free, cpu, sizeof cpu);
    switch (node->why) {
    case SCHED_WHY_SHORT_MEMORY: add(t, "%s has %s memory free", node->name, mem); break;
    case SCHED_WHY_SHORT_CPU: add(t, "%s has %s free", node->name, cpu); break;
    case SCHED_WHY_SHORT_BOTH: add(t, "%s has %s memory and %s free", node->name, mem, cpu); break;
    case SCHED_WHY_DOWN: add(t, "%s is down", node->name); break;
    case SCHED_WHY_NOT_ALLOWED: add(t, "%s is not in --nodes", node->name); break;
    case SCHED_WHY_UNKNOWN: add(t, "%s is not in the cluster", node->name); break;
    }
}

void sched_reason_write(char *out, size_t size, uint64_t memory, uint64_t cpu, uint32_t placed, uint32_t wanted,
                        sched_reason_node *nodes, size_t n)
{
    text t = {out, size, 0};
    if (size)
        out[0] = '\0';
    char mem[32], cores[32];
    format_bytes(memory, true, mem, sizeof mem);
    sched_format_cpu(cpu, cores, sizeof cores);
    if (memory && cpu)
        add(&t, "needs %s memory and %s per replica; ", mem, cores);
    else if (memory)
        add(&t, "needs %s memory per replica; ", mem);
    else if (cpu)
        add(&t, "needs %s per replica; ", cores);
    add(&t, "%u of %u placed; ", placed, wanted);
    if (n == 0) {
        add(&t, "the cluster has no nodes");
        return;
    }
    qsort(nodes, n, sizeof *nodes, node_order);
    size_t shown = n < SCHED_REASON_NODES ? n : SCHED_REASON_NODES;
    for (size_t i = 0; i < shown; i++) {
        if (i)
            add(&t, ", ");
        add_node(&t, &nodes[i]);
    }
    if (shown == n)
        return;
    static const char *const kinds[] = {
        [SCHED_WHY_SHORT_MEMORY] = "short of memory", [SCHED_WHY_SHORT_CPU] = "short of cpu",
        [SCHED_WHY_SHORT_BOTH] = "short of memory and cpu", [SCHED_WHY_DOWN] = "down",
        [SCHED_WHY_NOT_ALLOWED] = "not in --nodes", [SCHED_WHY_UNKNOWN] = "not in the cluster",
    };
    size_t count[SCHED_WHY_UNKNOWN + 1] = {0};
    for (size_t i = shown; i < n; i++)
        count[nodes[i].why]++;
    add(&t, ", and %zu more (", n - shown);
    const char *sep = "";
    for (size_t k = 0; k <= SCHED_WHY_UNKNOWN; k++)
        if (count[k]) {
            add(&t, "%s%zu %s", sep, count[k], kinds[k]);
            sep = ", ";
        }
    add(&t, ")");
}
