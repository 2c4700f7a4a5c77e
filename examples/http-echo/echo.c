/*
 * echo.c — answers with what it was sent: the method, the path and query,
 * every request header (the HTTP_* variables) and the body, read from
 * stdin. Query items `status=N` and `type=T` set the response's status
 * and Content-Type; `sleep=MS` makes it wait first, `trap` makes it crash
 * and `spin` loop forever, `alloc=MB` take (and touch) that many MiB of
 * memory, trapping when it cannot, so the tests can check how the server
 * copes.
 * The path /fail answers 503 (a health check that fails).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv)
{
    const char *status = NULL, *type = "text/plain; charset=utf-8";
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "status=", 7)) status = argv[i] + 7;
        if (!strncmp(argv[i], "type=", 5)) type = argv[i] + 5;
        if (!strncmp(argv[i], "sleep=", 6)) {
            long ms = atol(argv[i] + 6);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        if (!strcmp(argv[i], "trap")) __builtin_trap();
        if (!strncmp(argv[i], "alloc=", 6)) {
            size_t mb = (size_t)atol(argv[i] + 6);
            char *block = malloc(mb << 20);
            if (!block) {
                fprintf(stderr, "could not allocate %zu MiB\n", mb);
                __builtin_trap();
            }
            memset(block, 1, mb << 20);
            /* Read it back, or the compiler drops the allocation. */
            fprintf(stderr, "allocated %zu MiB (%d)\n", mb, block[(mb << 20) - 1]);
        }
        if (!strcmp(argv[i], "spin"))
            for (volatile unsigned n = 0;; n++) {}
    }
    const char *path = getenv("PATH_INFO");
    if (path && !strcmp(path, "/fail")) status = "503 failing on purpose";
    printf("Content-Type: %s\n", type);
    if (status) printf("Status: %s\n", status);
    printf("\n");
    printf("method: %s\n", getenv("REQUEST_METHOD"));
    printf("path: %s\n", getenv("PATH_INFO"));
    printf("query: %s\n", getenv("QUERY_STRING"));
    printf("route: %s\n", getenv("X_MATCHED_ROUTE"));
    for (char **e = environ; *e; e++)
        if (!strncmp(*e, "HTTP_", 5)) printf("header: %s\n", *e);
    printf("body:");
    size_t total = 0;
    char buf[4096];
    size_t n;
    int first = 1;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        if (first) putchar(' '), first = 0;
        fwrite(buf, 1, n, stdout);
        total += n;
    }
    printf("\n");
    fprintf(stderr, "echoed %zu body bytes\n", total);
    return 0;
}
