/*
 * racer.c — host-side helper of run.sh: in directory DIR, keep exchanging
 * the names A and B (renameat2 RENAME_EXCHANGE, atomic) until killed or
 * SECONDS have passed, then print how many swaps it made.
 *
 *   escape-racer DIR A B SECONDS
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long swaps;

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: escape-racer DIR A B SECONDS\n");
        return 2;
    }
    if (chdir(argv[1]) != 0) {
        perror(argv[1]);
        return 1;
    }
    time_t end = time(NULL) + atoi(argv[4]);
    while (time(NULL) < end) {
        for (int i = 0; i < 1000; i++) {
            if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) != 0) {
                perror("renameat2");
                return 1;
            }
            swaps++;
        }
    }
    printf("escape-racer: %lu swaps\n", swaps);
    return 0;
}
