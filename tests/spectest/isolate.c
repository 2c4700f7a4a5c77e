/*
 * isolate.c — one script in a child process (see isolate.h).
 *
 * The child writes a progress record to a pipe before every command and
 * once at the end; the parent keeps the last one. Records are far smaller
 * than PIPE_BUF, so each write arrives whole.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "isolate.h"
#include "run_file.h"
#include "script.h"

typedef struct progress_record {
    spec_counts counts;
    bool finished;   /* all commands ran and the store was deleted */
    int line;        /* of the command about to run */
    char command[40];
} progress_record;

_Static_assert(sizeof(progress_record) <= PIPE_BUF, "progress records must be written atomically");

static void send_progress(void *ctx, const spec_counts *so_far, const spec_command *next)
{
    int fd = *(int *)ctx;
    progress_record rec = {.counts = *so_far, .finished = next == NULL};
    if (next) {
        rec.line = next->line;
        snprintf(rec.command, sizeof rec.command, "%s", next->type ? next->type : "(no type)");
    }
    ssize_t w;
    do w = write(fd, &rec, sizeof rec);
    while (w < 0 && errno == EINTR);
}

static long elapsed_ms(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

typedef enum watch_end {
    WATCH_EOF,       /* the child closed the pipe: it exited or died */
    WATCH_TIMED_OUT,
    WATCH_BROKEN,    /* poll or read failed: the child cannot be followed */
} watch_end;

/* Read progress until the child closes the pipe or time runs out. */
static watch_end follow_progress(int fd, unsigned timeout_seconds, progress_record *last, bool *have_last)
{
    unsigned char buf[sizeof *last];
    size_t filled = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int wait_ms = -1;
        if (timeout_seconds) {
            long left = (long)timeout_seconds * 1000 - elapsed_ms(&start);
            if (left <= 0) return WATCH_TIMED_OUT;
            wait_ms = left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, wait_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return WATCH_BROKEN;
        if (ready == 0) continue;
        ssize_t got = read(fd, buf + filled, sizeof buf - filled);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return WATCH_BROKEN;
        if (got == 0) return WATCH_EOF;
        filled += (size_t)got;
        if (filled == sizeof buf) {
            memcpy(last, buf, sizeof *last);
            *have_last = true;
            filled = 0;
        }
    }
}

static unsigned count_commands(const char *path)
{
    spec_script script;
    char why[256];
    if (!spec_script_load(&script, path, why, sizeof why)) return 0;
    size_t n = spec_script_size(&script);
    spec_script_free(&script);
    return (unsigned)n;
}

/* Print what went wrong with the child and fail what it did not finish. */
static spec_counts report_lost_child(const char *path, watch_end end, int watch_errno, unsigned timeout_seconds,
                                     int status, const progress_record *last, bool have_last)
{
    spec_counts c = have_last ? last->counts : (spec_counts){0};
    char what[160];
    if (end == WATCH_TIMED_OUT)
        snprintf(what, sizeof what, "timed out after %u s", timeout_seconds);
    else if (end == WATCH_BROKEN)
        snprintf(what, sizeof what, "could not be followed (%s) and was killed", strerror(watch_errno));
    else if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "crashed (%s)", strsignal(WTERMSIG(status)));
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        snprintf(what, sizeof what, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(what, sizeof what, "exited without reporting its results");

    unsigned total = count_commands(path), done = spec_counts_done(&c);
    unsigned not_run = total > done ? total - done : 0;
    if (have_last && !last->finished)
        printf("%s:%d: %s: the script's process %s here; %u commands not run count as failed\n", path,
               last->line, last->command, what, not_run);
    else if (have_last)
        printf("%s: the script's process %s after its last command (a sanitizer report above?)\n", path, what);
    else
        printf("%s: the script's process %s before its first command; %u commands not run count as failed\n",
               path, what, not_run);
    c.failed += not_run ? not_run : 1;
    return c;
}

spec_counts spec_run_file_isolated(const char *path, bool verbose, unsigned timeout_seconds)
{
    int fds[2];
    if (pipe(fds) != 0) {
        printf("%s: cannot create a pipe for the script's process: %s\n", path, strerror(errno));
        return (spec_counts){.failed = 1};
    }
    fflush(stdout); /* or the child would print our buffered output again */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        printf("%s: cannot start the script's process: %s\n", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return (spec_counts){.failed = 1};
    }
    if (pid == 0) {
        close(fds[0]);
        spec_run_file(path, verbose, send_progress, &fds[1]);
        fflush(stdout);
        /* exit, not _exit: under LeakSanitizer leaks then fail the script. */
        exit(0);
    }
    close(fds[1]);
    progress_record last = {0};
    bool have_last = false;
    watch_end end = follow_progress(fds[0], timeout_seconds, &last, &have_last);
    int watch_errno = errno;
    close(fds[0]);
    if (end != WATCH_EOF) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (end == WATCH_EOF && WIFEXITED(status) && WEXITSTATUS(status) == 0 && have_last && last.finished)
        return last.counts;
    return report_lost_child(path, end, watch_errno, timeout_seconds, status, &last, have_last);
}
