/*
 * values.c — spec-test values (see values.h).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "values.h"

#define F32_QUIET 0x00400000u
#define F32_PAYLOAD 0x007FFFFFu
#define F32_EXPONENT 0x7F800000u
#define F64_QUIET 0x0008000000000000ull
#define F64_PAYLOAD 0x000FFFFFFFFFFFFFull
#define F64_EXPONENT 0x7FF0000000000000ull

static const struct {
    const char *name;
    qv_valtype type;
} type_names[] = {
    {"i32", QV_I32},   {"i64", QV_I64},         {"f32", QV_F32},           {"f64", QV_F64},
    {"v128", QV_V128}, {"funcref", QV_FUNCREF}, {"externref", QV_EXTERNREF},
};

const char *spec_type_name(qv_valtype t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (type_names[i].type == t) return type_names[i].name;
    return "unknown type";
}

static bool type_from_name(const char *name, qv_valtype *out)
{
    for (size_t i = 0; name && i < sizeof type_names / sizeof *type_names; i++) {
        if (strcmp(type_names[i].name, name) == 0) {
            *out = type_names[i].type;
            return true;
        }
    }
    return false;
}

void *spec_externref(uint64_t n) { return (void *)(uintptr_t)(n + 1); }

static bool is_ref(qv_valtype t) { return t == QV_FUNCREF || t == QV_EXTERNREF; }

/* Scripts write bit patterns as unsigned decimals; anything else (signs,
 * spaces, hex, overflow) means the script or our reading of it is wrong. */
static bool parse_unsigned(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)s[0])) return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) return false;
    *out = v;
    return true;
}

static uint64_t max_bits(qv_valtype t)
{
    switch (t) {
    case QV_I32:
    case QV_F32: return UINT32_MAX;
    case QV_EXTERNREF: return UINTPTR_MAX - 1; /* N+1 must not wrap to null */
    default: return UINT64_MAX;
    }
}

static qv_val value_from_bits(qv_valtype t, uint64_t bits)
{
    switch (t) {
    case QV_I32: return qv_i32((int32_t)(uint32_t)bits);
    case QV_I64: return qv_i64((int64_t)bits);
    case QV_F32: return qv_f32_bits((uint32_t)bits);
    case QV_F64: return qv_f64_bits(bits);
    default: return qv_externref(spec_externref(bits));
    }
}

static spec_parse_status parse_type(const char *type, qv_valtype *t, char *why, size_t why_size)
{
    if (!type_from_name(type, t)) {
        snprintf(why, why_size, "unknown value type \"%s\"", type ? type : "(missing)");
        return SPEC_PARSE_ERROR;
    }
    return *t == QV_V128 ? SPEC_PARSE_UNSUPPORTED : SPEC_PARSE_OK;
}

spec_parse_status spec_parse_arg(const char *type, const char *value, qv_val *out, char *why,
                                 size_t why_size)
{
    qv_valtype t;
    spec_parse_status st = parse_type(type, &t, why, why_size);
    if (st != SPEC_PARSE_OK) return st;
    if (is_ref(t) && value && strcmp(value, "null") == 0) {
        *out = t == QV_FUNCREF ? qv_funcref(NULL) : qv_externref(NULL);
        return SPEC_PARSE_OK;
    }
    if (t == QV_FUNCREF) {
        /* Scripts cannot name a function of ours to pass in. */
        snprintf(why, why_size, "funcref argument \"%s\" is not null", value ? value : "(missing)");
        return SPEC_PARSE_ERROR;
    }
    uint64_t bits;
    if (!parse_unsigned(value, max_bits(t), &bits)) {
        snprintf(why, why_size, "bad %s argument \"%s\"", type, value ? value : "(missing)");
        return SPEC_PARSE_ERROR;
    }
    *out = value_from_bits(t, bits);
    return SPEC_PARSE_OK;
}

static spec_parse_status parse_expected_ref(qv_valtype t, const char *value, spec_expected *out, char *why,
                                            size_t why_size)
{
    if (value && strcmp(value, "null") == 0) {
        out->kind = SPEC_EXPECT_EXACT; /* a null of the type */
        return SPEC_PARSE_OK;
    }
    if (t == QV_FUNCREF || !value) {
        /* A function cannot be identified across the API, and a bare
         * (ref.extern) means any non-null externref. */
        out->kind = SPEC_EXPECT_NON_NULL;
        return SPEC_PARSE_OK;
    }
    uint64_t n;
    if (!parse_unsigned(value, max_bits(t), &n)) {
        snprintf(why, why_size, "bad externref result \"%s\"", value);
        return SPEC_PARSE_ERROR;
    }
    out->kind = SPEC_EXPECT_EXACT;
    out->value = value_from_bits(t, n);
    return SPEC_PARSE_OK;
}

spec_parse_status spec_parse_expected(const char *type, const char *value, spec_expected *out,
                                      char *why, size_t why_size)
{
    qv_valtype t;
    spec_parse_status st = parse_type(type, &t, why, why_size);
    if (st != SPEC_PARSE_OK) return st;
    memset(out, 0, sizeof *out);
    out->value.type = t;
    if (is_ref(t)) return parse_expected_ref(t, value, out, why, why_size);
    bool is_float = t == QV_F32 || t == QV_F64;
    if (is_float && value && strcmp(value, "nan:canonical") == 0) {
        out->kind = SPEC_EXPECT_NAN_CANONICAL;
        return SPEC_PARSE_OK;
    }
    if (is_float && value && strcmp(value, "nan:arithmetic") == 0) {
        out->kind = SPEC_EXPECT_NAN_ARITHMETIC;
        return SPEC_PARSE_OK;
    }
    uint64_t bits;
    if (!parse_unsigned(value, max_bits(t), &bits)) {
        snprintf(why, why_size, "bad %s result \"%s\"", type, value ? value : "(missing)");
        return SPEC_PARSE_ERROR;
    }
    out->kind = SPEC_EXPECT_EXACT;
    out->value = value_from_bits(t, bits);
    return SPEC_PARSE_OK;
}

static spec_nan_class classify(uint64_t bits, uint64_t exponent, uint64_t payload, uint64_t quiet)
{
    if ((bits & exponent) != exponent || (bits & payload) == 0) return SPEC_NOT_NAN;
    if ((bits & quiet) == 0) return SPEC_NAN_SIGNALING;
    return (bits & payload) == quiet ? SPEC_NAN_CANONICAL : SPEC_NAN_ARITHMETIC;
}

spec_nan_class spec_classify_f32(uint32_t bits) { return classify(bits, F32_EXPONENT, F32_PAYLOAD, F32_QUIET); }

spec_nan_class spec_classify_f64(uint64_t bits) { return classify(bits, F64_EXPONENT, F64_PAYLOAD, F64_QUIET); }

static spec_nan_class classify_val(const qv_val *v)
{
    if (v->type == QV_F32) return spec_classify_f32(v->of.f32_bits);
    if (v->type == QV_F64) return spec_classify_f64(v->of.f64_bits);
    return SPEC_NOT_NAN;
}

static bool same_value(const qv_val *a, const qv_val *b)
{
    switch (a->type) {
    case QV_I32: return a->of.i32 == b->of.i32;
    case QV_I64: return a->of.i64 == b->of.i64;
    case QV_F32: return a->of.f32_bits == b->of.f32_bits;
    case QV_F64: return a->of.f64_bits == b->of.f64_bits;
    case QV_FUNCREF: return a->of.funcref == b->of.funcref;
    case QV_EXTERNREF: return a->of.externref == b->of.externref;
    default: return memcmp(a->of.v128, b->of.v128, sizeof a->of.v128) == 0;
    }
}

bool spec_expected_matches(const spec_expected *want, const qv_val *got)
{
    if (want->value.type != got->type) return false;
    switch (want->kind) {
    case SPEC_EXPECT_EXACT: return same_value(&want->value, got);
    case SPEC_EXPECT_NAN_CANONICAL: return classify_val(got) == SPEC_NAN_CANONICAL;
    case SPEC_EXPECT_NAN_ARITHMETIC: {
        spec_nan_class c = classify_val(got);
        return c == SPEC_NAN_CANONICAL || c == SPEC_NAN_ARITHMETIC;
    }
    case SPEC_EXPECT_NON_NULL:
        return got->type == QV_FUNCREF ? got->of.funcref != NULL : got->of.externref != NULL;
    }
    return false;
}

/* NaNs print their sign and hex payload: "%g" would hide exactly what a
 * NaN test is about. */
static void format_float(char *buf, size_t size, const char *name, uint64_t bits, double d, bool nan,
                         int digits, int hex_digits)
{
    if (nan)
        snprintf(buf, size, "%s:%" PRIu64 " (%snan 0x%0*" PRIx64 ")", name, bits,
                 bits >> (hex_digits * 4 - 1) ? "-" : "", hex_digits, bits);
    else
        snprintf(buf, size, "%s:%" PRIu64 " (%.*g)", name, bits, digits, d);
}

void spec_format_value(const qv_val *v, char *buf, size_t size)
{
    switch (v->type) {
    case QV_I32:
        if (v->of.i32 < 0)
            snprintf(buf, size, "i32:%" PRIu32 " (%" PRId32 ")", (uint32_t)v->of.i32, v->of.i32);
        else
            snprintf(buf, size, "i32:%" PRId32, v->of.i32);
        break;
    case QV_I64:
        if (v->of.i64 < 0)
            snprintf(buf, size, "i64:%" PRIu64 " (%" PRId64 ")", (uint64_t)v->of.i64, v->of.i64);
        else
            snprintf(buf, size, "i64:%" PRId64, v->of.i64);
        break;
    case QV_F32: {
        float f;
        memcpy(&f, &v->of.f32_bits, sizeof f);
        format_float(buf, size, "f32", v->of.f32_bits, (double)f,
                     spec_classify_f32(v->of.f32_bits) != SPEC_NOT_NAN, 9, 8);
        break;
    }
    case QV_F64: {
        double d;
        memcpy(&d, &v->of.f64_bits, sizeof d);
        format_float(buf, size, "f64", v->of.f64_bits, d, spec_classify_f64(v->of.f64_bits) != SPEC_NOT_NAN, 17,
                     16);
        break;
    }
    case QV_FUNCREF: snprintf(buf, size, "funcref:%s", v->of.funcref ? "non-null" : "null"); break;
    case QV_EXTERNREF:
        if (v->of.externref)
            snprintf(buf, size, "externref:%" PRIuPTR, (uintptr_t)v->of.externref - 1);
        else
            snprintf(buf, size, "externref:null");
        break;
    default: snprintf(buf, size, "%s", spec_type_name(v->type)); break;
    }
}

void spec_format_expected(const spec_expected *e, char *buf, size_t size)
{
    const char *type = spec_type_name(e->value.type);
    switch (e->kind) {
    case SPEC_EXPECT_EXACT: spec_format_value(&e->value, buf, size); break;
    case SPEC_EXPECT_NAN_CANONICAL: snprintf(buf, size, "%s:nan:canonical", type); break;
    case SPEC_EXPECT_NAN_ARITHMETIC: snprintf(buf, size, "%s:nan:arithmetic", type); break;
    case SPEC_EXPECT_NON_NULL: snprintf(buf, size, "%s:non-null", type); break;
    }
}
