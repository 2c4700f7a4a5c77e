/*
 * limits.c — see limits.h: the mode, and behind each replica's handle its
 * cgroup group (cgroup.h) and its process as seen from here (throttle.h:
 * the throttle itself in mode "none", otherwise for the CPU time when the
 * group has none to give, and for the usage when the group could not
 * take the process).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/cgroup.h"
#include "serve/limits.h"
#include "serve/throttle.h"

/* A replica's group name stays well within NAME_MAX. */
#define MAX_NAME 200
/* More CPUs than a cap could mean. */
#define MAX_CPU 65536.0

struct replica_limits {
    cgroup_group *group;       /* NULL in mode "none" */
    bool in_group;             /* the process was moved into it */
    throttle *proc;
};

static pthread_mutex_t mode_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *mode;       /* NULL: not detected yet */
static char mode_why[1400];

const char *limits_mode(void)
{
    pthread_mutex_lock(&mode_lock);
    if (!mode) {
        const char *off = getenv("QYVOL_NO_CGROUPS");
        mode_why[0] = '\0';
        if (off && *off && strcmp(off, "0")) {
            mode = "none";
            snprintf(mode_why, sizeof mode_why, "QYVOL_NO_CGROUPS is set");
        } else {
            cgroup_version v = cgroup_setup(mode_why, sizeof mode_why);
            mode = v == CGROUP_V2 ? "v2" : v == CGROUP_V1 ? "v1" : "none";
        }
    }
    const char *m = mode;
    pthread_mutex_unlock(&mode_lock);
    return m;
}

const char *limits_mode_reason(void)
{
    limits_mode();
    return mode_why;
}

replica_limits *limits_new(const char *name, uint64_t memory_bytes, double cpu, char *why, size_t whylen)
{
    if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) > MAX_NAME)
        return snprintf(why, whylen, "bad replica name '%s' for its limits", name), NULL;
    if (!isfinite(cpu) || cpu < 0 || cpu > MAX_CPU)
        return snprintf(why, whylen, "bad CPU limit %g", cpu), NULL;
    replica_limits *l = calloc(1, sizeof *l);
    bool cgroups = strcmp(limits_mode(), "none") != 0;
    if (l) l->proc = throttle_new(cgroups ? 0 : cpu);
    if (!l || !l->proc) {
        free(l);
        return snprintf(why, whylen, "out of memory"), NULL;
    }
    if (cgroups && !(l->group = cgroup_group_new(name, memory_bytes, cpu, why, whylen))) {
        throttle_delete(l->proc);
        free(l);
        return NULL;
    }
    return l;
}

bool limits_weigh(replica_limits *l, int threads, char *why, size_t whylen)
{
    return !l->group || cgroup_group_weigh(l->group, threads, why, whylen);
}

int limits_attach(replica_limits *l, pid_t pid, char *why, size_t whylen)
{
    /* The watch first: with it the usage is readable even if the group
     * cannot take the process. */
    if (!throttle_attach(l->proc, pid, why, whylen)) return -1;
    if (l->group && !(l->in_group = cgroup_group_attach(l->group, pid, why, whylen))) return -1;
    return 0;
}

void limits_tick(replica_limits *l)
{
    /* A no-op unless the throttle has a cap (mode "none"). */
    throttle_tick(l->proc);
}

bool limits_usage_read(replica_limits *l, limits_usage *u)
{
    memset(u, 0, sizeof *u);
    uint64_t rss;
    double cpu;
    cgroup_usage g;
    if (l->in_group && cgroup_group_read(l->group, &g)) {
        u->memory_bytes = g.memory_bytes;
        u->cpu_seconds = g.has_cpu ? g.cpu_seconds : throttle_read(l->proc, &rss, &cpu) ? cpu : 0;
        u->oom_kills = g.oom_kills;
        return true;
    }
    if (!throttle_read(l->proc, &rss, &cpu)) return false;
    u->memory_bytes = rss;
    u->cpu_seconds = cpu;
    return true;
}

void limits_delete(replica_limits *l)
{
    if (!l) return;
    throttle_delete(l->proc);
    cgroup_group_delete(l->group);
    free(l);
}

void limits_cleanup(void)
{
    pthread_mutex_lock(&mode_lock);
    cgroup_cleanup();
    mode = NULL;
    mode_why[0] = '\0';
    pthread_mutex_unlock(&mode_lock);
}
