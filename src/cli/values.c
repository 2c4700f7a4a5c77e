/*
 * values.c — WebAssembly values to and from command-line text.
 * Integers are decimal or 0x-prefixed hexadecimal; a leading 0 does not mean
 * octal, since "010" meaning 8 would surprise anyone typing an argument.
 * Signed and unsigned spellings are both accepted (i32 -1 == 4294967295).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Parse [-|+]DIGITS or [-|+]0xHEX into a sign and a magnitude. */
static bool parse_magnitude(const char *s, bool *negative, uint64_t *magnitude)
{
    *negative = *s == '-';
    if (*s == '-' || *s == '+') s++;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    /* strtoull would skip spaces and take a second sign: allow digits only. */
    if (base == 16 ? !isxdigit((unsigned char)*s) : !isdigit((unsigned char)*s)) return false;
    char *end;
    errno = 0;
    *magnitude = strtoull(s, &end, base);
    return errno == 0 && *end == 0;
}

static bool parse_int(const char *s, uint64_t unsigned_max, uint64_t negative_max, uint64_t *bits)
{
    bool negative;
    uint64_t m;
    if (!parse_magnitude(s, &negative, &m)) return false;
    if (negative ? m > negative_max : m > unsigned_max) return false;
    *bits = negative ? (uint64_t)0 - m : m;
    return true;
}

/* strtof/strtod skip leading spaces and read "" as nothing: refuse both. */
static bool float_text_ok(const char *s)
{
    return *s && !isspace((unsigned char)*s);
}

bool cli_parse_val(const char *s, qv_valtype type, qv_val *out)
{
    uint64_t bits;
    out->type = type;
    switch (type) {
    case QV_I32:
        if (!parse_int(s, UINT32_MAX, (uint64_t)1 << 31, &bits)) return false;
        out->of.i32 = (int32_t)(uint32_t)bits;
        return true;
    case QV_I64:
        if (!parse_int(s, UINT64_MAX, (uint64_t)1 << 63, &bits)) return false;
        out->of.i64 = (int64_t)bits;
        return true;
    case QV_F32: {
        if (!float_text_ok(s)) return false;
        char *end;
        float f = strtof(s, &end);
        memcpy(&out->of.f32_bits, &f, sizeof f);
        return *end == 0;
    }
    case QV_F64: {
        if (!float_text_ok(s)) return false;
        char *end;
        double d = strtod(s, &end);
        memcpy(&out->of.f64_bits, &d, sizeof d);
        return *end == 0;
    }
    default:
        return false; /* references and v128 have no command-line spelling */
    }
}

void cli_print_val(FILE *out, const qv_val *v)
{
    switch (v->type) {
    case QV_I32: fprintf(out, "%" PRId32 "\n", v->of.i32); break;
    case QV_I64: fprintf(out, "%" PRId64 "\n", v->of.i64); break;
    case QV_F32:
        /* NaN payloads matter to WebAssembly, so show the exact bits too. */
        if (isnan(v->of.f32)) fprintf(out, "nan (0x%08" PRIx32 ")\n", v->of.f32_bits);
        else fprintf(out, "%.9g\n", (double)v->of.f32);
        break;
    case QV_F64:
        if (isnan(v->of.f64)) fprintf(out, "nan (0x%016" PRIx64 ")\n", v->of.f64_bits);
        else fprintf(out, "%.17g\n", v->of.f64);
        break;
    case QV_FUNCREF: fputs(v->of.funcref ? "funcref\n" : "null funcref\n", out); break;
    case QV_EXTERNREF: fputs(v->of.externref ? "externref\n" : "null externref\n", out); break;
    default: fprintf(out, "(%s value)\n", qv_valtype_name(v->type)); break;
    }
}
