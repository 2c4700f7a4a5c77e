/*
 * validate.h — internal interface between module-level validation
 * (validate.c) and function-body validation (validate_code.c).
 */
#ifndef QYVOL_ENGINE_VALIDATE_H
#define QYVOL_ENGINE_VALIDATE_H

#include "module.h"

/* Facts about the module that body validation needs. */
typedef struct qe_valctx {
    bool *refs; /* per function: may be referenced by ref.func (C.refs) */
} qe_valctx;

typedef struct qe_code_validator qe_code_validator;
qe_code_validator *qe_code_validator_new(const qe_module *m, const qe_valctx *ctx);
void qe_code_validator_free(qe_code_validator *v);
/* Validate defined function `defined_index` with the given local types
 * (params first). */
bool qe_validate_body(qe_code_validator *v, uint32_t defined_index, const uint8_t *locals, uint32_t nlocals,
                      qv_error *err);

#endif
