/*
 * limits.h — resource limits and usage of a replica process (pool.h):
 * the manifest's deploy.resources.memory and deploy.resources.cpu,
 * enforced per process, and what the process used, for metrics.
 *
 * Three ways, whichever this process can use (limits_mode):
 *   - "v2": a cgroup v2 group per replica (memory.max with no swap,
 *     cpu.max), under a group qyvol-<pid> made for this server;
 *   - "v1": the same with cgroup v1's memory and cpu hierarchies
 *     (memory.limit_in_bytes and memsw, cpu.cfs_quota_us), plus cpuacct
 *     for the CPU time when it is mounted;
 *   - "none": no cgroups (none writable, or QYVOL_NO_CGROUPS=1). CPU is
 *     then capped by the supervisor itself: limits_tick stops a replica
 *     with SIGSTOP once it used its share and continues it with SIGCONT
 *     when the share allows. Memory has no per-process cap then (the
 *     engine still caps each instance's linear memory).
 *
 * Everything here is called from one thread (the event loop's); the
 * functions that touch this server's shared cgroup state lock it anyway.
 */
#ifndef QYVOL_SERVE_LIMITS_H
#define QYVOL_SERVE_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct replica_limits replica_limits;

/* "v2", "v1" or "none": what this process can use. Detected on first use
 * (creating and removing a probe group) and then kept. */
const char *limits_mode(void);
/* Why the mode is "none" (for the server's log); "" otherwise. */
const char *limits_mode_reason(void);

/* Make the limits of one replica: memory_bytes 0 = no cap, cpu in CPUs
 * (0.5, 2; 0 = no cap). name is unique per replica (e.g. "echo-0-3") and
 * names its cgroup: no '/', not starting with '.'. Without cgroups this
 * never fails (the throttle takes over); NULL with the reason in why when
 * out of memory, for a bad name or cpu, or when cgroups exist but making
 * the group or writing a limit failed. */
replica_limits *limits_new(const char *name, uint64_t memory_bytes, double cpu, char *why, size_t whylen);

/* The replica runs `threads` busy threads at most: its share of the CPU
 * (when CPUs are scarce) is that of as many processes, as it would be
 * outside a cgroup. false with why when it cannot be set (the replica
 * then weighs as one process). */
bool limits_weigh(replica_limits *l, int threads, char *why, size_t whylen);

/* Put process pid under the limits, once, from the supervisor (the
 * throttle runs where it was attached): right after fork, before the
 * child runs guest code. 0, or -1 with the reason in why: the process
 * then runs without the limits, and its usage may not be readable. */
int limits_attach(replica_limits *l, pid_t pid, char *why, size_t whylen);

/* The supervisor's share of the work, from a timer (every 10 ms when the
 * throttle runs, i.e. mode "none" with a CPU cap; it is a no-op
 * otherwise). A process that died is left alone. */
void limits_tick(replica_limits *l);

typedef struct limits_usage {
    /* With cgroups, the memory charged to the replica's group (what the
     * cap applies to: the pages it touched since it was attached, page
     * cache included); else its resident set (/proc/PID/statm). 0 once
     * the process is gone. */
    uint64_t memory_bytes;
    /* The CPU time of the group (of the process without cgroups or
     * cpuacct). After the process was reaped, without cgroups: the last
     * value read while it lived. */
    double cpu_seconds;
    /* How many times the kernel's OOM killer killed in the group; 0 when
     * unknown (no cgroups). */
    uint64_t oom_kills;
} limits_usage;

/* Read the replica's usage; false when nothing could be read (not
 * attached, or gone before any reading). */
bool limits_usage_read(replica_limits *l, limits_usage *u);

/* The process exited, or is about to be killed: continue it if the
 * throttle stopped it, remove its groups and free l (NULL is fine). A
 * group still holding a process is removed by a later call (of any
 * limits_ function that changes groups) once it is empty; the server's
 * qyvol-<pid> group goes with the last replica's. */
void limits_delete(replica_limits *l);

/* At exit, after the last limits_delete (and the last waitpid): remove
 * the groups left, and move this process back to its own group if the
 * setup had to move it (cgroup v2). The mode is detected again on next
 * use, which tests use (with QYVOL_NO_CGROUPS set or not in between). */
void limits_cleanup(void);

#endif
