/*
 * units.c — sizes, CPU amounts and durations (see units.h for the rules).
 *
 * Numbers are read as an exact decimal (whole part and fraction digits) and
 * scaled by the unit in integer arithmetic, so "0.1GB" is exactly 10^8
 * bytes and no value is silently rounded.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

/* More fraction digits than this cannot give a whole result for any of our
 * units (none is divisible by 5^19), and 10^18 still fits in 64 bits. */
#define MAX_FRACTION_DIGITS 18

typedef struct decimal {
    uint64_t whole;
    uint64_t fraction;          /* the fraction digits as an integer */
    unsigned fraction_digits;   /* after dropping trailing zeros */
    bool too_precise;           /* more than MAX_FRACTION_DIGITS digits */
} decimal;

typedef enum scale_result { SCALE_OK, SCALE_NOT_WHOLE, SCALE_OVERFLOW } scale_result;

static bool fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why && why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* Describe the character that broke the grammar; bytes that are not
 * printable ASCII are shown in hex so the message stays one clean line. */
static bool fail_unexpected(char c, char *why, size_t why_size)
{
    if (c == ' ' || c == '\t')
        return fail(why, why_size, "no space is allowed inside the value");
    if (isprint((unsigned char)c))
        return fail(why, why_size, "unexpected character '%c'", c);
    return fail(why, why_size, "unexpected byte 0x%02x", (unsigned char)c);
}

static bool mul_overflows(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) return true;
    *out = a * b;
    return false;
}

static bool add_overflows(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b > UINT64_MAX - a) return true;
    *out = a + b;
    return false;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Read "DIGITS[.DIGITS]" at *p and advance past it. */
static bool read_decimal(const char **p, decimal *d, char *why, size_t why_size)
{
    const char *s = *p;
    *d = (decimal){0};
    if (*s == '-') return fail(why, why_size, "it cannot be negative");
    if (*s == '+') return fail(why, why_size, "a sign is not allowed");
    if (*s == '.') return fail(why, why_size, "write a digit before the decimal point (0.5, not .5)");
    if (!is_digit(*s)) {
        if (*s == '\0') return fail(why, why_size, "expected a number");
        if (is_letter(*s)) return fail(why, why_size, "expected a number before the unit");
        return fail_unexpected(*s, why, why_size);
    }
    for (; is_digit(*s); s++) {
        if (mul_overflows(d->whole, 10, &d->whole) ||
            add_overflows(d->whole, (uint64_t)(*s - '0'), &d->whole))
            return fail(why, why_size, "it is too large");
    }
    if (*s == '.') {
        s++;
        if (!is_digit(*s)) return fail(why, why_size, "expected digits after the decimal point");
        const char *start = s;
        while (is_digit(*s)) s++;
        const char *end = s;
        while (end > start && end[-1] == '0') end--;   /* 1.50 is 1.5 */
        if (end - start > MAX_FRACTION_DIGITS) {
            d->too_precise = true;
        } else {
            for (const char *q = start; q < end; q++)
                d->fraction = d->fraction * 10 + (uint64_t)(*q - '0');
            d->fraction_digits = (unsigned)(end - start);
        }
    }
    *p = s;
    return true;
}

/* d * unit, exactly: the fraction contributes fraction * unit / 10^k, which
 * is whole only if 10^k / gcd(unit, 10^k) divides the fraction. */
static scale_result scale(const decimal *d, uint64_t unit, uint64_t *out)
{
    uint64_t total;
    if (d->too_precise) return SCALE_NOT_WHOLE;
    if (mul_overflows(d->whole, unit, &total)) return SCALE_OVERFLOW;
    if (d->fraction_digits > 0) {
        uint64_t pow10 = 1;
        for (unsigned i = 0; i < d->fraction_digits; i++) pow10 *= 10;
        uint64_t g = gcd(unit, pow10);
        uint64_t divisor = pow10 / g;
        if (d->fraction % divisor != 0) return SCALE_NOT_WHOLE;
        uint64_t part;
        if (mul_overflows(d->fraction / divisor, unit / g, &part) ||
            add_overflows(total, part, &total))
            return SCALE_OVERFLOW;
    }
    *out = total;
    return SCALE_OK;
}

typedef struct unit {
    const char *name;
    uint64_t factor;
} unit;

static const unit *find_unit(const unit *units, size_t count, const char *name, size_t len)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(units[i].name) == len && memcmp(units[i].name, name, len) == 0) return &units[i];
    return NULL;
}

#define KB 1000ull
#define KIB 1024ull

static const unit size_units[] = {
    {"B", 1},
    {"k", KB}, {"K", KB}, {"kB", KB}, {"KB", KB},
    {"M", KB * KB}, {"MB", KB * KB},
    {"G", KB * KB * KB}, {"GB", KB * KB * KB},
    {"T", KB * KB * KB * KB}, {"TB", KB * KB * KB * KB},
    {"Ki", KIB}, {"KiB", KIB},
    {"Mi", KIB * KIB}, {"MiB", KIB * KIB},
    {"Gi", KIB * KIB * KIB}, {"GiB", KIB * KIB * KIB},
    {"Ti", KIB * KIB * KIB * KIB}, {"TiB", KIB * KIB * KIB * KIB},
};

bool qv_parse_size(const char *text, uint64_t *bytes, char *why, size_t why_size)
{
    const char *p = text;
    decimal d;
    if (!read_decimal(&p, &d, why, why_size)) return false;
    const char *unit_start = p;
    while (is_letter(*p)) p++;
    uint64_t factor = 1;
    if (p > unit_start) {
        const unit *u = find_unit(size_units, sizeof size_units / sizeof *size_units, unit_start,
                                  (size_t)(p - unit_start));
        if (!u)
            return fail(why, why_size,
                        "unknown unit '%.*s'; use B, kB, MB, GB, TB (powers of 1000) or "
                        "KiB, MiB, GiB, TiB (powers of 1024)",
                        (int)(p - unit_start), unit_start);
        factor = u->factor;
    }
    if (*p != '\0') return fail_unexpected(*p, why, why_size);
    switch (scale(&d, factor, bytes)) {
    case SCALE_OK: return true;
    case SCALE_NOT_WHOLE: return fail(why, why_size, "it is not a whole number of bytes");
    case SCALE_OVERFLOW: break;
    }
    return fail(why, why_size, "it is too large");
}

bool qv_parse_cpu(const char *text, uint32_t *millicores, char *why, size_t why_size)
{
    const char *p = text;
    decimal d;
    if (!read_decimal(&p, &d, why, why_size)) return false;
    uint64_t factor = 1000;     /* a plain number counts cores */
    const char *unit_start = p;
    while (is_letter(*p)) p++;
    if (p - unit_start == 1 && *unit_start == 'm') {
        factor = 1;
    } else if (p > unit_start) {
        return fail(why, why_size,
                    "unknown unit '%.*s'; write cores as a plain number (0.5, 2) or millicores "
                    "with 'm' (500m)",
                    (int)(p - unit_start), unit_start);
    }
    if (*p != '\0') return fail_unexpected(*p, why, why_size);
    uint64_t total;
    switch (scale(&d, factor, &total)) {
    case SCALE_OK: break;
    case SCALE_NOT_WHOLE:
        return fail(why, why_size,
                    "it is not a whole number of millicores (the smallest amount is 0.001 or 1m)");
    case SCALE_OVERFLOW: return fail(why, why_size, "it is too large");
    }
    if (total == 0) return fail(why, why_size, "it must be more than 0");
    if (total > UINT32_MAX) return fail(why, why_size, "it is too large");
    *millicores = (uint32_t)total;
    return true;
}

/* Largest first: the order a compound duration must follow. */
static const unit duration_units[] = {
    {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

bool qv_parse_duration(const char *text, uint64_t *ms, char *why, size_t why_size)
{
    const size_t unit_count = sizeof duration_units / sizeof *duration_units;
    const char *p = text;
    uint64_t total = 0;
    size_t next_allowed = 0;    /* index of the largest unit still allowed */
    do {
        decimal d;
        /* After the first part, a sign or dot is just out of place. */
        if (p != text && !is_digit(*p)) return fail_unexpected(*p, why, why_size);
        if (!read_decimal(&p, &d, why, why_size)) return false;
        const char *unit_start = p;
        while (is_letter(*p)) p++;
        if (p == unit_start) {
            if (*p == '\0')
                return fail(why, why_size, "every number needs a unit: ms, s, m or h (e.g. 30s)");
            return fail_unexpected(*p, why, why_size);
        }
        const unit *u = find_unit(duration_units, unit_count, unit_start, (size_t)(p - unit_start));
        if (!u)
            return fail(why, why_size, "unknown unit '%.*s'; use ms, s, m or h",
                        (int)(p - unit_start), unit_start);
        size_t index = (size_t)(u - duration_units);
        if (index < next_allowed)
            return fail(why, why_size,
                        "units must go from largest to smallest, each at most once (e.g. 1h30m)");
        next_allowed = index + 1;
        uint64_t part;
        switch (scale(&d, u->factor, &part)) {
        case SCALE_OK: break;
        case SCALE_NOT_WHOLE: return fail(why, why_size, "it is not a whole number of milliseconds");
        case SCALE_OVERFLOW: return fail(why, why_size, "it is too large");
        }
        if (add_overflows(total, part, &total)) return fail(why, why_size, "it is too large");
    } while (*p != '\0');
    *ms = total;
    return true;
}
