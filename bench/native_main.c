/*
 * native_main.c — driver for the native build of a benchmark kernel:
 *     native/KERNEL N
 * calls run(N) once and prints the checksum and the time of the call:
 *     checksum <int32>
 *     time <seconds>
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int32_t run(int32_t n);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s N\n", argv[0]);
        return 2;
    }
    int32_t n = (int32_t)strtol(argv[1], NULL, 0);
    double t0 = now();
    int32_t result = run(n);
    double t1 = now();
    printf("checksum %ld\ntime %.6f\n", (long)result, t1 - t0);
    return 0;
}
