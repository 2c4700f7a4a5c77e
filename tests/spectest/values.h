/*
 * values.h — spec-test JSON values: parsing arguments, checking results.
 */
#ifndef QYVOL_SPECTEST_VALUES_H
#define QYVOL_SPECTEST_VALUES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "qyvol/wasm.h"

/* Parse {"type": T, "value": V} into *out. Returns false on an unknown or
 * unsupported (v128) type; *unsupported tells which. */
bool spec_parse_value(json_t *j, qv_val *out, bool *unsupported);

/* Whether `got` matches the expected JSON value (bits for floats,
 * nan:canonical / nan:arithmetic, null / non-null references). */
bool spec_value_matches(json_t *expected, const qv_val *got);

/* Print a value as "type:value" for failure messages. */
void spec_format_value(const qv_val *v, char *buf, size_t size);

/* The externref the tests write as (ref.extern N). */
void *spec_externref(unsigned long long n);

#endif
