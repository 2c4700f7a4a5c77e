/*
 * translate.h — compiling a validated function body into internal code.
 *
 * The internal code is a register machine over the function's frame: every
 * operand names an 8-byte frame slot (a local, a constant, or a position of
 * the WebAssembly operand stack, whose heights are static), branch targets
 * are resolved, immediates are decoded, and each instruction starts with the
 * address of its handler (interp.c) so dispatch is a single indirect jump.
 *
 * Frame layout: [params | locals | constants | operand stack].
 */
#ifndef QYVOL_ENGINE_TRANSLATE_H
#define QYVOL_ENGINE_TRANSLATE_H

#include <stdbool.h>
#include <stdint.h>

#include "module.h"

typedef struct qe_compiled {
    uint32_t *code;               /* instruction words */
    uint32_t code_len;
    uint32_t func_index;          /* in the module's function index space */
    const qe_functype *type;
    uint32_t nparam_slots;        /* slots taken by parameters */
    uint32_t nresult_slots;
    uint32_t nlocal_slots;        /* locals other than params */
    uint32_t nconsts;             /* constant slots, copied in at entry */
    uint64_t *consts;
    uint32_t frame_slots;         /* params + locals + constants + max stack */
} qe_compiled;

/* Translate defined function `defined_index` of a validated module. */
bool qe_translate(const qe_module *m, uint32_t defined_index, qe_compiled *out, qv_error *err);
void qe_compiled_free(qe_compiled *c);

#endif
