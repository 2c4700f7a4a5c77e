/*
 * nap.c — an HTTP guest (WAGI) that sleeps on every request: ?MS (default
 * 0) milliseconds, then "napped MS ms". Sleeping holds a request in flight
 * without using the CPU: the scaling test (tests/e2e/scale.sh) uses it for
 * long requests that must finish while their replica leaves, and for the
 * autoscaler's in-flight signal.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(void)
{
    const char *query = getenv("QUERY_STRING");
    long ms = query && *query ? strtol(query, NULL, 10) : 0;
    if (ms < 0 || ms > 30000) ms = 0;
    struct timespec nap = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&nap, NULL);
    printf("Content-Type: text/plain\n\nnapped %ld ms\n", ms);
    return 0;
}
