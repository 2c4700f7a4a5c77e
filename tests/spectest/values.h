/*
 * values.h — spec-test values. Scripts write every value as a type name and
 * a decimal string of its bit pattern ("f32", "1065353216"); expected float
 * results may instead be "nan:canonical" or "nan:arithmetic", and expected
 * references "null" or (for any non-null reference) no value at all.
 *
 * This file turns those strings into qv_val arguments and expected results,
 * compares results with them, and prints both for failure messages. It
 * knows nothing of JSON or of the engine's internals, so the unit test
 * tests/unit/test_spectest_values.c can check it on its own.
 */
#ifndef QYVOL_SPECTEST_VALUES_H
#define QYVOL_SPECTEST_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasm.h"

typedef enum spec_parse_status {
    SPEC_PARSE_OK,
    SPEC_PARSE_UNSUPPORTED, /* v128: SIMD not supported yet */
    SPEC_PARSE_ERROR,       /* unknown type or malformed value; `why` says which */
} spec_parse_status;

typedef enum spec_expect_kind {
    SPEC_EXPECT_EXACT,          /* same type and bits (or both null) */
    SPEC_EXPECT_NAN_CANONICAL,  /* f32/f64 canonical NaN, either sign */
    SPEC_EXPECT_NAN_ARITHMETIC, /* f32/f64 NaN with the quiet bit set */
    SPEC_EXPECT_NON_NULL,       /* any non-null reference of the type */
} spec_expect_kind;

typedef struct spec_expected {
    spec_expect_kind kind;
    qv_val value; /* type always set; the value only for SPEC_EXPECT_EXACT */
} spec_expected;

typedef enum spec_nan_class {
    SPEC_NOT_NAN,
    SPEC_NAN_CANONICAL,  /* quiet, payload is only the quiet bit */
    SPEC_NAN_ARITHMETIC, /* quiet, more payload bits set */
    SPEC_NAN_SIGNALING,  /* quiet bit clear */
} spec_nan_class;

/* An argument. `value` may be NULL (then only a type was written). */
spec_parse_status spec_parse_arg(const char *type, const char *value, qv_val *out, char *why,
                                 size_t why_size);

/* An expected result. */
spec_parse_status spec_parse_expected(const char *type, const char *value, spec_expected *out,
                                      char *why, size_t why_size);

spec_nan_class spec_classify_f32(uint32_t bits);
spec_nan_class spec_classify_f64(uint64_t bits);

bool spec_expected_matches(const spec_expected *want, const qv_val *got);

/* "i32:4294967295 (-1)", "f32:2143289344 (nan 0x7fc00000)", "externref:3",
 * "funcref:non-null"... Numbers are the scripts' own decimal bit patterns
 * so they can be searched for in the JSON. */
void spec_format_value(const qv_val *v, char *buf, size_t size);
void spec_format_expected(const spec_expected *e, char *buf, size_t size);

/* The externref that scripts write as (ref.extern N): N+1 so that
 * (ref.extern 0) is not a null reference. */
void *spec_externref(uint64_t n);

/* "i32", "funcref"... (the scripts' spelling). */
const char *spec_type_name(qv_valtype t);

#endif
