/*
 * kernel.h — shared helpers for the CPU benchmark kernels.
 *
 * Every kernel is freestanding C17 (no libc): it defines
 *     int32_t run(int32_t n);
 * which does an amount of work that grows with n and returns a checksum, so
 * the work cannot be optimised away and the native and WebAssembly builds can
 * be compared. The WebAssembly build exports run (-Wl,--export=run); the
 * native build links bench/native_main.c, which calls it.
 *
 * Only fixed-width integer types and IEEE doubles are used, so results are
 * identical on wasm32 and x86-64.
 */
#ifndef BENCH_KERNEL_H
#define BENCH_KERNEL_H

#include <stddef.h>
#include <stdint.h>

int32_t run(int32_t n);

/* xorshift32 pseudo-random generator (state must be non-zero). */
static inline uint32_t rng_next(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static inline uint32_t rotr32(uint32_t x, unsigned r)
{
    return (x >> r) | (x << ((32 - r) & 31));
}

#endif
