/*
 * trap.c — trap objects: kind, message, exit status and backtrace.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

const char *qe_trap_kind_message(qv_trap_kind kind)
{
    switch (kind) {
    case QV_TRAP_UNREACHABLE: return "unreachable";
    case QV_TRAP_MEMORY_OUT_OF_BOUNDS: return "out of bounds memory access";
    case QV_TRAP_TABLE_OUT_OF_BOUNDS: return "out of bounds table access";
    case QV_TRAP_INDIRECT_CALL_NULL: return "uninitialized element";
    case QV_TRAP_INDIRECT_CALL_TYPE: return "indirect call type mismatch";
    case QV_TRAP_NULL_REFERENCE: return "null reference";
    case QV_TRAP_INTEGER_DIVIDE_BY_ZERO: return "integer divide by zero";
    case QV_TRAP_INTEGER_OVERFLOW: return "integer overflow";
    case QV_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case QV_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
    case QV_TRAP_OUT_OF_FUEL: return "out of fuel";
    case QV_TRAP_INTERRUPTED: return "interrupted";
    case QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS: return "out of bounds memory access";
    case QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS: return "out of bounds table access";
    case QV_TRAP_HOST: return "host error";
    case QV_TRAP_EXIT: return "exit";
    }
    return "trap";
}

qv_trap *qv_trap_new(qv_trap_kind kind, const char *message)
{
    qv_trap *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->message = strdup(message ? message : qe_trap_kind_message(kind));
    return t;
}

qv_trap *qv_trap_new_exit(int32_t status)
{
    qv_trap *t = qv_trap_new(QV_TRAP_EXIT, "exit");
    if (t) t->exit_status = status;
    return t;
}

void qv_trap_delete(qv_trap *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nframes; i++) {
        free((char *)t->frames[i].func_name);
        free((char *)t->frames[i].module_name);
    }
    free(t->frames);
    free(t->message);
    free(t);
}

qv_trap_kind qv_trap_kind_of(const qv_trap *t) { return t->kind; }
const char *qv_trap_message(const qv_trap *t) { return t->message ? t->message : "trap"; }
int32_t qv_trap_exit_status(const qv_trap *t) { return t->exit_status; }
size_t qv_trap_frame_count(const qv_trap *t) { return t->nframes; }
qv_frame qv_trap_frame(const qv_trap *t, size_t i) { return t->frames[i]; }

void qe_trap_add_frame(qv_trap *t, uint32_t func_index, const char *func_name, const char *module_name)
{
    /* Deep recursion makes long backtraces; keep the innermost ones. */
    if (!t || t->nframes >= 256) return;
    qv_frame *f = realloc(t->frames, sizeof *f * (t->nframes + 1));
    if (!f) return;
    t->frames = f;
    f[t->nframes].func_index = func_index;
    f[t->nframes].func_name = func_name ? strdup(func_name) : NULL;
    f[t->nframes].module_name = module_name ? strdup(module_name) : NULL;
    t->nframes++;
}
