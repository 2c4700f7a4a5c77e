/*
 * values.c — spec-test values (see values.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "values.h"

/* Extern references are opaque pointers; N+1 keeps (ref.extern 0) non-null. */
void *spec_externref(unsigned long long n) { return (void *)(uintptr_t)(n + 1); }

static unsigned long long parse_u64(const char *s) { return strtoull(s, NULL, 10); }

bool spec_parse_value(json_t *j, qv_val *out, bool *unsupported)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    json_t *jv = json_object_get(j, "value");
    const char *value = json_string_value(jv);
    *unsupported = false;
    memset(out, 0, sizeof *out);
    if (!type) return false;
    if (strcmp(type, "v128") == 0) {
        *unsupported = true;
        return false;
    }
    if (strcmp(type, "funcref") == 0 || strcmp(type, "externref") == 0) {
        bool func = type[0] == 'f';
        out->type = func ? QV_FUNCREF : QV_EXTERNREF;
        if (!value || strcmp(value, "null") == 0) return true;
        if (func) return false; /* a funcref argument cannot be written in the JSON */
        out->of.externref = spec_externref(parse_u64(value));
        return true;
    }
    if (!value) return false;
    unsigned long long bits = parse_u64(value);
    if (strcmp(type, "i32") == 0) {
        out->type = QV_I32;
        out->of.i32 = (int32_t)(uint32_t)bits;
    } else if (strcmp(type, "i64") == 0) {
        out->type = QV_I64;
        out->of.i64 = (int64_t)bits;
    } else if (strcmp(type, "f32") == 0) {
        out->type = QV_F32;
        out->of.f32_bits = (uint32_t)bits;
    } else if (strcmp(type, "f64") == 0) {
        out->type = QV_F64;
        out->of.f64_bits = (uint64_t)bits;
    } else {
        return false;
    }
    return true;
}

static bool nan_matches(const char *value, uint64_t bits, int width)
{
    uint64_t exp_mask = width == 32 ? 0x7F800000u : 0x7FF0000000000000ull;
    uint64_t quiet = width == 32 ? 0x00400000u : 0x0008000000000000ull;
    uint64_t payload = width == 32 ? 0x007FFFFFu : 0x000FFFFFFFFFFFFFull;
    if ((bits & exp_mask) != exp_mask || (bits & payload) == 0) return false; /* not a NaN */
    if (strcmp(value, "nan:canonical") == 0) return (bits & payload) == quiet;
    return (bits & quiet) != 0; /* nan:arithmetic */
}

bool spec_value_matches(json_t *expected, const qv_val *got)
{
    const char *type = json_string_value(json_object_get(expected, "type"));
    const char *value = json_string_value(json_object_get(expected, "value"));
    if (!type) return false;
    if (strcmp(type, "funcref") == 0 || strcmp(type, "externref") == 0) {
        bool func = type[0] == 'f';
        if (got->type != (func ? QV_FUNCREF : QV_EXTERNREF)) return false;
        void *p = func ? (void *)got->of.funcref : got->of.externref;
        if (!value || strcmp(value, "null") == 0) return p == NULL;
        if (func) return p != NULL;
        return p == spec_externref(parse_u64(value));
    }
    if (!value) return false;
    if (strcmp(type, "f32") == 0 || strcmp(type, "f64") == 0) {
        int width = type[1] == '3' ? 32 : 64;
        if (got->type != (width == 32 ? QV_F32 : QV_F64)) return false;
        uint64_t bits = width == 32 ? got->of.f32_bits : got->of.f64_bits;
        if (strncmp(value, "nan:", 4) == 0) return nan_matches(value, bits, width);
        return bits == parse_u64(value);
    }
    qv_val want;
    bool unsupported;
    if (!spec_parse_value(expected, &want, &unsupported) || want.type != got->type) return false;
    return want.type == QV_I32 ? want.of.i32 == got->of.i32 : want.of.i64 == got->of.i64;
}

void spec_format_value(const qv_val *v, char *buf, size_t size)
{
    switch (v->type) {
    case QV_I32: snprintf(buf, size, "i32:%" PRIu32, (uint32_t)v->of.i32); break;
    case QV_I64: snprintf(buf, size, "i64:%" PRIu64, (uint64_t)v->of.i64); break;
    case QV_F32: snprintf(buf, size, "f32:%" PRIu32 " (%g)", v->of.f32_bits, (double)v->of.f32); break;
    case QV_F64: snprintf(buf, size, "f64:%" PRIu64 " (%g)", v->of.f64_bits, v->of.f64); break;
    case QV_FUNCREF: snprintf(buf, size, "funcref:%s", v->of.funcref ? "func" : "null"); break;
    case QV_EXTERNREF:
        if (v->of.externref)
            snprintf(buf, size, "externref:%" PRIuPTR, (uintptr_t)v->of.externref - 1);
        else
            snprintf(buf, size, "externref:null");
        break;
    default: snprintf(buf, size, "%s", qv_valtype_name(v->type)); break;
    }
}
