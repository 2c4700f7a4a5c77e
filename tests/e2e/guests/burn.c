/*
 * burn.c — an HTTP guest (WAGI) that keeps the CPU busy for a while on
 * every request: ?MS (default 50) milliseconds of spinning, then "burned".
 * The autoscaler's end-to-end test (tests/e2e/autoscale.sh) loads it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000 + t.tv_nsec;
}

int main(void)
{
    const char *query = getenv("QUERY_STRING");
    long ms = query && *query ? strtol(query, NULL, 10) : 50;
    if (ms < 0 || ms > 10000) ms = 50;
    long long until = now_ns() + ms * 1000000LL;
    volatile unsigned long spins = 0;
    while (now_ns() < until) spins++;
    printf("Content-Type: text/plain\n\nburned %ld ms\n", ms);
    return 0;
}
