/*
 * hostloop.c — a guest that spends its time in or around host calls, for
 * tests/e2e/timeouts.sh: `qyv run --timeout` and `qyv serve`'s timeout
 * must stop every mode within milliseconds of the deadline (issue 10,
 * item 1). The mode is the first argument (a query item under qyv serve):
 *   clock   clock_gettime for ever        stderr  fputs to stderr for ever
 *   stdout  lines to stdout, flushed      sleep   1 s sleeps for ever
 *   nap     one sleep of an hour          read    read stdin for ever
 *   poll    poll() on stdin, no timeout   random  16 MiB of random bytes, for ever
 *   fill    memset of 16 MiB, for ever    copy    memmove of 16 MiB, for ever
 *   yield   sched_yield for ever          fifo    read the FIFO named by the second argument
 *   ok      answer at once (the neighbours' request)
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#define BIG (16u << 20)
static unsigned char big[BIG];

static void read_forever(int fd)
{
    char buf[64];
    for (;;)
        if (read(fd, buf, sizeof buf) < 0) perror("read");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ok";
    volatile unsigned sink = 0;
    if (!strcmp(mode, "ok")) {
        printf("Content-Type: text/plain\n\nok\n");
        return 0;
    } else if (!strcmp(mode, "clock")) {
        for (struct timespec ts;;) clock_gettime(CLOCK_MONOTONIC, &ts), sink += (unsigned)ts.tv_nsec;
    } else if (!strcmp(mode, "stderr")) {
        for (;;) fputs("x", stderr);
    } else if (!strcmp(mode, "stdout")) {
        for (;;) puts("line"), fflush(stdout);
    } else if (!strcmp(mode, "sleep")) {
        for (;;) sleep(1);
    } else if (!strcmp(mode, "nap")) {
        sleep(3600);
    } else if (!strcmp(mode, "read")) {
        read_forever(0);
    } else if (!strcmp(mode, "poll")) {
        for (struct pollfd p = {.fd = 0, .events = POLLIN};;) poll(&p, 1, -1), sink++;
    } else if (!strcmp(mode, "random")) {
        for (;;) sink += (unsigned)__wasi_random_get(big, BIG) + big[7];
    } else if (!strcmp(mode, "fill")) {
        for (unsigned i = 0;; i++) memset(big, (int)i, BIG), sink += big[i % BIG];
    } else if (!strcmp(mode, "copy")) {
        for (unsigned i = 0;; i++) memmove(big + 1, big, BIG - 1), sink += big[i % BIG];
    } else if (!strcmp(mode, "yield")) {
        for (;;) sched_yield();
    } else if (!strcmp(mode, "fifo") && argc > 2) {
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) {
            perror(argv[2]);
            return 2;
        }
        read_forever(fd);
    }
    fprintf(stderr, "hostloop: unknown mode '%s'\n", mode);
    return 2;
}
