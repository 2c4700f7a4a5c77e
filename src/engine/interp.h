/*
 * interp.h — the threaded interpreter that runs translated code.
 *
 * Each store owns one qe_exec: a value stack of slots shared by all frames
 * (a callee's frame starts where its caller pushed the arguments, so calls
 * copy nothing) and a stack of call records. Host functions may call back
 * into WebAssembly; the nested run continues above the current frames.
 */
#ifndef QYVOL_ENGINE_INTERP_H
#define QYVOL_ENGINE_INTERP_H

#include <stdbool.h>
#include <stdint.h>

#include "qyvol/wasm.h"

union qe_slot;
struct qe_call_record;

typedef struct qe_exec {
    union qe_slot *stack;         /* value stack base */
    union qe_slot *stack_end;
    union qe_slot *stack_top;     /* first free slot above running frames */
    struct qe_call_record *calls; /* call records */
    uint32_t max_depth;
    uint32_t depth;               /* call records in use */
    uint32_t nesting;             /* runs active on the C stack (host → wasm re-entries) */
} qe_exec;

/* Allocate the stacks for the given limits; false on allocation failure. */
bool qe_exec_init(qe_exec *x, uint32_t value_slots, uint32_t max_depth);
void qe_exec_free(qe_exec *x);

/* Call any function (wasm or host). args: the parameters in slots; results:
 * space for the result slots. Returns NULL or a trap (caller owns it). */
qv_trap *qe_invoke(qv_store *store, qv_func *f, const union qe_slot *args, union qe_slot *results);

/* Build a trap of the given kind carrying the current WebAssembly
 * backtrace of the store (innermost first). */
qv_trap *qe_trap_with_backtrace(qv_store *store, qv_trap_kind kind, const char *message);

#endif
