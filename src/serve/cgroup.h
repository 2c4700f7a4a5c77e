/*
 * cgroup.h — the control-group half of limits.h: finding where this
 * process may make groups (cgroup v2, else v1), a group per replica with
 * its memory and CPU caps, moving a process in, reading what the group
 * used, removing it.
 *
 * The groups are <base>/qyvol-<pid>/<name>.<n>, <n> unique in this
 * process (a reloaded pool reuses names), one per hierarchy (v1 has a
 * memory, a cpu and maybe a separate cpuacct hierarchy; v2 has one).
 * <base> is this process's own group, or in v2 its parent group when the
 * own group cannot have controllers for children (see cgroup.c).
 */
#ifndef QYVOL_SERVE_CGROUP_H
#define QYVOL_SERVE_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum cgroup_version { CGROUP_NONE, CGROUP_V1, CGROUP_V2 } cgroup_version;

/* Find and prepare where this server's groups go, once (again after
 * cgroup_cleanup), removing the groups of dead servers found there;
 * CGROUP_NONE with the reason when neither version can be used. */
cgroup_version cgroup_setup(char *why, size_t whylen);

typedef struct cgroup_group cgroup_group;

/* Make the group `name` with its caps (0: none); cgroup_setup must have
 * returned a version. NULL with the reason. */
cgroup_group *cgroup_group_new(const char *name, uint64_t memory_bytes, double cpu, char *why, size_t whylen);
/* Weigh the group's CPU share as `threads` processes outside any group
 * would weigh (a group competes for the CPU as one process does), and
 * its parent's as all its groups' threads. */
bool cgroup_group_weigh(cgroup_group *g, int threads, char *why, size_t whylen);
/* Move process pid (all its threads) into the group. */
bool cgroup_group_attach(cgroup_group *g, pid_t pid, char *why, size_t whylen);

typedef struct cgroup_usage {
    uint64_t memory_bytes;     /* charged to the group */
    bool has_cpu;              /* false: no cpuacct (v1), cpu_seconds is 0 */
    double cpu_seconds;
    uint64_t oom_kills;        /* 0 when the kernel does not say */
} cgroup_usage;

/* False when the group's memory could not be read. */
bool cgroup_group_read(const cgroup_group *g, cgroup_usage *u);
/* Remove the group (later, if a process is still in it) and free g. */
void cgroup_group_delete(cgroup_group *g);
/* Remove what is left, undo the setup; the next cgroup_setup starts over. */
void cgroup_cleanup(void);

/* Where the process whose /proc/PID/cgroup text is proc_cgroup sits in
 * the hierarchy of `controller` ("memory", "cpu"...; NULL: the v2 one),
 * as a directory under a mount listed in the /proc/PID/mountinfo text.
 * False when no mount shows that group. */
bool cgroup_locate(const char *mountinfo, const char *proc_cgroup, const char *controller, char *dir, size_t n);

#endif
