/*
 * cmd.c — a WASI command that prints what it sees and does: arguments,
 * environment, stdin, a round of file and folder operations in the
 * pre-opened folder /data, clocks and random numbers. Built as a core
 * module and, wrapped by jco, as a WASI 0.2 command component;
 * tests/e2e/components.sh checks both print the same transcript.
 *   cmd [ARGS...]: the transcript; the exit status is $EXIT or 0.
 *   cmd trap: traps (unreachable); cmd spin: loops forever;
 *   cmd grow: allocates until memory runs out.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void files(void)
{
    if (mkdir("/data/sub", 0755) != 0) printf("mkdir: %s\n", strerror(errno));
    FILE *f = fopen("/data/sub/note.txt", "w");
    if (!f) {
        printf("create: %s\n", strerror(errno));
        return;
    }
    fputs("first line\nsecond line\n", f);
    fclose(f);
    f = fopen("/data/sub/note.txt", "a");
    fputs("appended\n", f);
    fclose(f);
    char buf[256] = "";
    f = fopen("/data/sub/note.txt", "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    printf("read back %zu bytes: %s", n, buf);
    struct stat st;
    if (stat("/data/sub/note.txt", &st) == 0) printf("stat: size %lld, regular %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    int fd = open("/data/sub/note.txt", O_RDONLY);
    char part[7] = "";
    if (fd >= 0 && pread(fd, part, 6, 6) == 6) printf("pread at 6: %s\n", part);
    if (fd >= 0) close(fd);
    printf("open missing: %s\n", fopen("/data/nope.txt", "r") ? "opened" : strerror(errno));
    printf("escape: %s\n", fopen("/data/../etc/passwd", "r") ? "OPENED" : "refused");
    DIR *d = opendir("/data");
    int entries = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    if (d) closedir(d);
    printf("entries in /data: %d\n", entries);
    printf("rmdir non-empty: %s\n", rmdir("/data/sub") == 0 ? "removed" : "refused");
    printf("unlink: %d\n", unlink("/data/sub/note.txt"));
    printf("rmdir: %d\n", rmdir("/data/sub"));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "trap")) __builtin_trap();
    if (argc > 1 && !strcmp(argv[1], "spin"))
        for (volatile unsigned i = 0;; i++) {}
    if (argc > 1 && !strcmp(argv[1], "grow")) {
        size_t total = 0;
        static void *volatile last; /* kept, so the allocations are not optimised away */
        while ((last = malloc(1 << 20))) total += 1 << 20;
        printf("allocated %zu MiB before running out\n", total >> 20);
        return 3;
    }
    printf("argc %d:", argc);
    for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");
    char line[128];
    if (fgets(line, sizeof line, stdin)) printf("stdin: %s", line);
    else printf("stdin: (empty)\n");
    fprintf(stderr, "this goes to stderr\n");
    if (access("/data", F_OK) == 0) files();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("monotonic: %s\n", b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec) ? "ok" : "backwards");
    printf("realtime after 2020: %s\n", time(NULL) > 1577836800 ? "yes" : "no");
    /* A sleep is a poll on a clock (poll_oneoff, or a pollable). */
    struct timespec before, after, nap = {0, 30 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &before);
    nanosleep(&nap, NULL);
    clock_gettime(CLOCK_MONOTONIC, &after);
    long long slept = (after.tv_sec - before.tv_sec) * 1000000000LL + (after.tv_nsec - before.tv_nsec);
    printf("slept 30 ms: %s\n", slept >= 30000000 && slept < 2000000000 ? "yes" : "no");
    unsigned char r1[16], r2[16];
    arc4random_buf(r1, sizeof r1);
    arc4random_buf(r2, sizeof r2);
    printf("random differs: %s\n", memcmp(r1, r2, sizeof r1) ? "yes" : "no");
    const char *exit_status = getenv("EXIT");
    return exit_status ? atoi(exit_status) : 0;
}
