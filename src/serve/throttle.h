/*
 * throttle.h — a replica process seen from its supervisor, without
 * cgroups (limits.h): its CPU time and resident memory, and the userspace
 * CPU throttle.
 *
 * The throttle gives the process `cpu` CPUs as a budget of CPU time that
 * grows with wall time (cpu x elapsed, up to one 100 ms period's worth)
 * and shrinks with the CPU time the process uses (its CPU clock, to the
 * nanosecond). When the budget runs out the process is stopped
 * (SIGSTOP), and continued (SIGCONT) once the budget is back to zero or
 * more, so that over time it gets `cpu` CPUs at most. Its precision is
 * the tick: a process may overrun by one tick's worth, which is then owed.
 *
 * Signals go through a pidfd, so that a process that died and was reaped
 * is never mistaken for a new one that got its pid.
 */
#ifndef QYVOL_SERVE_THROTTLE_H
#define QYVOL_SERVE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct throttle throttle;

/* cpu in CPUs; 0: no cap (only the readings). NULL when out of memory. */
throttle *throttle_new(double cpu);
/* Watch pid (a child of this process, or one it may signal); once. */
bool throttle_attach(throttle *t, pid_t pid, char *why, size_t whylen);
/* Account the CPU time used since the last tick; stop or continue the
 * process. Call it often (every 10 ms): a process runs a whole tick
 * before it can be stopped. */
void throttle_tick(throttle *t);
/* The resident set (0 once the process is gone) and the CPU time (the
 * last one read, once it is gone); false when there is none. */
bool throttle_read(throttle *t, uint64_t *rss, double *cpu_seconds);
/* Continue the process if the throttle stopped it; free t (NULL is fine). */
void throttle_delete(throttle *t);

#endif
