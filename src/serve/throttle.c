/*
 * throttle.c — see throttle.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve/throttle.h"

/* The budget never grows past one period's worth: a process idle for a
 * while may then use a burst of at most cpu x PERIOD_NS. */
#define PERIOD_NS 100000000.0

struct throttle {
    double cpu;                /* CPUs, 0: no cap */
    pid_t pid;
    int pidfd;                 /* -1 without pidfd_open (Linux < 5.3) */
    clockid_t clock;           /* the process's CPU clock */
    bool attached, gone, stopped;
    double budget_ns;          /* CPU time it may still use; < 0: owed */
    uint64_t tick_wall_ns, tick_cpu_ns; /* at the last tick */
    bool have_cpu;
    uint64_t cpu_ns;           /* the last CPU time read */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Send sig (0: just check) to the process; false once it is gone. */
static bool send(throttle *t, int sig)
{
    if (t->gone) return false;
    int r = t->pidfd >= 0 ? (int)syscall(SYS_pidfd_send_signal, t->pidfd, sig, NULL, 0) : kill(t->pid, sig);
    if (r != 0 && errno == ESRCH) {
        t->gone = true;
        t->stopped = false;
    }
    return r == 0;
}

/* The process's CPU time. Checked against the pidfd after reading: a
 * reaped process's pid (and so its clock) could belong to another. */
static bool cpu_now(throttle *t, uint64_t *ns)
{
    struct timespec ts;
    if (t->gone) return false;
    if (clock_gettime(t->clock, &ts) != 0) {
        /* EINVAL once the process is reaped. */
        t->gone = true;
        t->stopped = false;
        return false;
    }
    if (!send(t, 0) && t->gone) return false;
    *ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    t->cpu_ns = *ns;
    t->have_cpu = true;
    return true;
}

throttle *throttle_new(double cpu)
{
    throttle *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->cpu = cpu > 0 ? cpu : 0;
    t->pidfd = -1;
    return t;
}

bool throttle_attach(throttle *t, pid_t pid, char *why, size_t whylen)
{
    if (t->attached) return snprintf(why, whylen, "already attached to process %d", (int)t->pid), false;
    int e = clock_getcpuclockid(pid, &t->clock);
    if (e) return snprintf(why, whylen, "no CPU clock for process %d: %s", (int)pid, strerror(e)), false;
    t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (t->pidfd < 0 && errno != ENOSYS)
        return snprintf(why, whylen, "cannot watch process %d: %s", (int)pid, strerror(errno)), false;
    t->pid = pid;
    t->attached = true;
    /* A full budget to start with: a new replica has some starting up to do. */
    t->budget_ns = t->cpu * PERIOD_NS;
    t->tick_wall_ns = now_ns();
    uint64_t used = 0;
    cpu_now(t, &used);
    t->tick_cpu_ns = used;
    return true;
}

void throttle_tick(throttle *t)
{
    if (!t->attached || t->gone || t->cpu <= 0) return;
    uint64_t wall = now_ns(), used;
    if (!cpu_now(t, &used)) return;
    t->budget_ns += t->cpu * (double)(wall - t->tick_wall_ns);
    t->budget_ns -= used > t->tick_cpu_ns ? (double)(used - t->tick_cpu_ns) : 0;
    if (t->budget_ns > t->cpu * PERIOD_NS) t->budget_ns = t->cpu * PERIOD_NS;
    t->tick_wall_ns = wall;
    t->tick_cpu_ns = used;
    if (!t->stopped && t->budget_ns < 0) {
        if (send(t, SIGSTOP)) t->stopped = true;
    } else if (t->stopped && t->budget_ns >= 0) {
        if (send(t, SIGCONT)) t->stopped = false;
    }
}

/* The resident set from /proc/PID/statm ("size resident shared ..." in pages). */
static uint64_t resident(throttle *t)
{
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)t->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    unsigned long long size, pages;
    if (got <= 0) return 0;
    text[got] = '\0';
    if (sscanf(text, "%llu %llu", &size, &pages) != 2) return 0;
    /* Read before the check, as the CPU time. */
    if (!send(t, 0) && t->gone) return 0;
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

bool throttle_read(throttle *t, uint64_t *rss, double *cpu_seconds)
{
    *rss = 0;
    *cpu_seconds = 0;
    if (!t->attached) return false;
    uint64_t ns;
    cpu_now(t, &ns);
    if (!t->gone) *rss = resident(t);
    if (!t->have_cpu) return false;
    *cpu_seconds = (double)t->cpu_ns / 1e9;
    return true;
}

void throttle_delete(throttle *t)
{
    if (!t) return;
    /* Never leave a process stopped: whoever stops it next would wait forever. */
    if (t->stopped) send(t, SIGCONT);
    if (t->pidfd >= 0) close(t->pidfd);
    free(t);
}
