/*
 * numeric.h — WebAssembly numeric semantics that C does not give directly:
 * NaN-aware min/max, sign operations on raw bits (so NaN payloads are kept),
 * round-to-nearest-even, and range checks for float-to-int conversions.
 */
#ifndef QYVOL_ENGINE_NUMERIC_H
#define QYVOL_ENGINE_NUMERIC_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t qe_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline uint64_t qe_f64_bits(double f) { uint64_t u; memcpy(&u, &f, 8); return u; }
static inline float qe_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline double qe_bits_f64(uint64_t u) { double f; memcpy(&f, &u, 8); return f; }

/* min/max: NaN if either is NaN (a + b yields a quiet NaN from the NaN
 * operand), and -0 < +0. */
static inline float qe_f32_min(float a, float b) {
    if (isnan(a) || isnan(b)) return a + b;
    if (a == b) return qe_bits_f32(qe_f32_bits(a) | qe_f32_bits(b));
    return a < b ? a : b;
}
static inline float qe_f32_max(float a, float b) {
    if (isnan(a) || isnan(b)) return a + b;
    if (a == b) return qe_bits_f32(qe_f32_bits(a) & qe_f32_bits(b));
    return a > b ? a : b;
}
static inline double qe_f64_min(double a, double b) {
    if (isnan(a) || isnan(b)) return a + b;
    if (a == b) return qe_bits_f64(qe_f64_bits(a) | qe_f64_bits(b));
    return a < b ? a : b;
}
static inline double qe_f64_max(double a, double b) {
    if (isnan(a) || isnan(b)) return a + b;
    if (a == b) return qe_bits_f64(qe_f64_bits(a) & qe_f64_bits(b));
    return a > b ? a : b;
}

/* Rounding keeps C's results but must quiet a signalling NaN, which some
 * libm implementations return unchanged. */
#define QE_ROUND(name, T, fn) static inline T name(T x) { return isnan(x) ? x + x : fn(x); }
QE_ROUND(qe_f32_ceil, float, ceilf)
QE_ROUND(qe_f32_floor, float, floorf)
QE_ROUND(qe_f32_trunc, float, truncf)
QE_ROUND(qe_f32_nearest, float, nearbyintf)
QE_ROUND(qe_f64_ceil, double, ceil)
QE_ROUND(qe_f64_floor, double, floor)
QE_ROUND(qe_f64_trunc, double, trunc)
QE_ROUND(qe_f64_nearest, double, nearbyint)
#undef QE_ROUND

/* Whether a float truncates to a value representable in the target
 * integer type. The bounds are exact in the source float type. */
static inline bool qe_f32_fits_i32(float x) { return x >= -2147483648.0f && x < 2147483648.0f; }
static inline bool qe_f32_fits_u32(float x) { return x > -1.0f && x < 4294967296.0f; }
static inline bool qe_f64_fits_i32(double x) { return x > -2147483649.0 && x < 2147483648.0; }
static inline bool qe_f64_fits_u32(double x) { return x > -1.0 && x < 4294967296.0; }
static inline bool qe_f32_fits_i64(float x) {
    return x >= -9223372036854775808.0f && x < 9223372036854775808.0f;
}
static inline bool qe_f32_fits_u64(float x) { return x > -1.0f && x < 18446744073709551616.0f; }
static inline bool qe_f64_fits_i64(double x) {
    return x >= -9223372036854775808.0 && x < 9223372036854775808.0;
}
static inline bool qe_f64_fits_u64(double x) { return x > -1.0 && x < 18446744073709551616.0; }

/* Saturating conversions (trunc_sat): NaN → 0, out of range → the bound. */
#define QE_SAT(name, F, I, fits, lo, hi)                                                     \
    static inline I name(F x) {                                                             \
        if (isnan(x)) return 0;                                                             \
        if (fits(x)) return (I)x;                                                           \
        return x < 0 ? (lo) : (hi);                                                         \
    }
QE_SAT(qe_sat_f32_i32, float, int32_t, qe_f32_fits_i32, INT32_MIN, INT32_MAX)
QE_SAT(qe_sat_f32_u32, float, uint32_t, qe_f32_fits_u32, 0, UINT32_MAX)
QE_SAT(qe_sat_f64_i32, double, int32_t, qe_f64_fits_i32, INT32_MIN, INT32_MAX)
QE_SAT(qe_sat_f64_u32, double, uint32_t, qe_f64_fits_u32, 0, UINT32_MAX)
QE_SAT(qe_sat_f32_i64, float, int64_t, qe_f32_fits_i64, INT64_MIN, INT64_MAX)
QE_SAT(qe_sat_f32_u64, float, uint64_t, qe_f32_fits_u64, 0, UINT64_MAX)
QE_SAT(qe_sat_f64_i64, double, int64_t, qe_f64_fits_i64, INT64_MIN, INT64_MAX)
QE_SAT(qe_sat_f64_u64, double, uint64_t, qe_f64_fits_u64, 0, UINT64_MAX)
#undef QE_SAT

static inline uint32_t qe_rotl32(uint32_t x, uint32_t n) { n &= 31; return (x << n) | (x >> ((32 - n) & 31)); }
static inline uint32_t qe_rotr32(uint32_t x, uint32_t n) { n &= 31; return (x >> n) | (x << ((32 - n) & 31)); }
static inline uint64_t qe_rotl64(uint64_t x, uint64_t n) { n &= 63; return (x << n) | (x >> ((64 - n) & 63)); }
static inline uint64_t qe_rotr64(uint64_t x, uint64_t n) { n &= 63; return (x >> n) | (x << ((64 - n) & 63)); }
static inline uint32_t qe_clz32(uint32_t x) { return x ? (uint32_t)__builtin_clz(x) : 32; }
static inline uint32_t qe_ctz32(uint32_t x) { return x ? (uint32_t)__builtin_ctz(x) : 32; }
static inline uint64_t qe_clz64(uint64_t x) { return x ? (uint64_t)__builtin_clzll(x) : 64; }
static inline uint64_t qe_ctz64(uint64_t x) { return x ? (uint64_t)__builtin_ctzll(x) : 64; }

#endif
