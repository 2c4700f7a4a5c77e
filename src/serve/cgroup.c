/*
 * cgroup.c — see cgroup.h.
 *
 * cgroup v1 lets a process make groups anywhere below its own group in
 * each hierarchy, so <base> is simply the own group there.
 *
 * cgroup v2 has the "no internal processes" rule: a group (other than the
 * root) cannot both hold processes and hand memory or cpu down to child
 * groups. This process sits in its own group, so the setup tries in turn:
 *   a. enabling memory and cpu for the own group's children (works in the
 *      root group, which is exempt);
 *   b. when this process is alone in its group (a systemd service with
 *      Delegate=yes, a container's only process): moving itself into a
 *      leaf qyvol-<pid>-front, then (a); undone by cgroup_cleanup;
 *   c. making qyvol-<pid> beside the own group, in its parent, which
 *      already hands memory and cpu down (the own group has them).
 * Failing all three, cgroups are not used, with the reasons.
 *
 * A group that still holds a process cannot be removed (EBUSY): it goes
 * on a list retried whenever groups change, and by cgroup_cleanup.
 *
 * Group names get a number unique in this process (<name>.<n>): a reload
 * makes a new pool whose replicas have the old pool's names while the old
 * one drains, and the old groups are still busy. A server killed with
 * SIGKILL cleans nothing up: the next one, at setup, removes the
 * qyvol-<pid> groups of processes that no longer exist.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/cgroup.h"

/* The CFS period: the cap is a quota of CPU time in each. */
#define PERIOD_US 100000
/* The kernel's smallest quota. */
#define MIN_QUOTA_US 1000
/* Hierarchies at most: v1's memory, cpu and cpuacct. */
#define MAX_H 3

enum role { ROLE_MEM, ROLE_CPU, ROLE_ACCT, NROLES };

struct cgroup_group {
    char *dir[MAX_H];
    int threads;               /* its CPU weight in threads (cgroup_group_weigh) */
};

/* A group dir whose rmdir failed: retried later. */
typedef struct grave {
    char *dir;
    struct grave *next;
} grave;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool done;
    cgroup_version version;
    int nh;
    char *base[MAX_H];         /* where qyvol-<pid> goes, per hierarchy */
    int role[NROLES];          /* the hierarchy of each role, -1: none */
    char parent[40];           /* "qyvol-<pid>" */
    int live;                  /* groups made and not yet deleted */
    int threads;               /* their weights, summed (the parent's) */
    unsigned made;             /* groups ever made: their names' numbers */
    grave *graves;
    /* v2 case b: this process's group before, the leaf it moved to, and
     * the controllers the setup enabled in the former. */
    char *own, *leaf, *enabled;
    char why[1300];            /* why CGROUP_NONE */
} cg;

/* ------------------------------------------------------------ files */

/* The whole of a (small, procfs or cgroupfs) file, NUL-terminated, or NULL. */
static char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        if (cap - len < 2) {
            char *grown = realloc(buf, cap * 2);
            if (!grown) break;
            buf = grown;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) break;
        if (got == 0) {
            buf[len] = '\0';
            close(fd);
            return buf;
        }
        len += (size_t)got;
    }
    int e = errno;
    free(buf);
    close(fd);
    errno = e;
    return NULL;
}

static char *slurp_in(const char *dir, const char *file)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return slurp(path);
}

/* Write text to dir/file in one write (cgroup files take one value per
 * write); 0 or an errno. */
static int put(const char *dir, const char *file, const char *text)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) return ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t len = strlen(text);
    ssize_t wrote = write(fd, text, len);
    int e = wrote == (ssize_t)len ? 0 : wrote < 0 ? errno : EIO;
    close(fd);
    return e;
}

/* The number after `key` at the start of a line of a "key value" file. */
static bool keyed(const char *text, const char *key, uint64_t *out)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, key, klen) && line[klen] == ' ') {
            *out = strtoull(line + klen + 1, NULL, 10);
            return true;
        }
    }
    return false;
}

static bool number_in(const char *dir, const char *file, uint64_t *out)
{
    char *text = slurp_in(dir, file);
    if (!text) return false;
    char *end;
    errno = 0;
    *out = strtoull(text, &end, 10);
    bool ok = end != text && errno == 0;
    free(text);
    return ok;
}

static bool keyed_in(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char *text = slurp_in(dir, file);
    if (!text) return false;
    bool ok = keyed(text, key, out);
    free(text);
    return ok;
}

/* Whether word is one of the space- or comma-separated words of list. */
static bool has_word(const char *list, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p++)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') && (!p[len] || strchr(" ,\n", p[len]))) return true;
    return false;
}

static char *join(const char *dir, const char *name)
{
    char *out;
    return asprintf(&out, "%s/%s", dir, name) < 0 ? NULL : out;
}

/* ------------------------------------------------------------ where */

/* Copy the space-ended field at s into out, undoing mountinfo's octal
 * escapes (\040 for a space...); returns what follows it. */
static const char *field(const char *s, char *out, size_t n)
{
    size_t k = 0;
    while (*s && *s != ' ' && *s != '\n') {
        char c = *s++;
        if (c == '\\' && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7') {
            c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
            s += 3;
        }
        if (k + 1 < n) out[k++] = c;
    }
    if (n) out[k] = '\0';
    return *s == ' ' ? s + 1 : s;
}

bool cgroup_locate(const char *mountinfo, const char *proc_cgroup, const char *controller, char *dir, size_t n)
{
    /* "ID:CONTROLLERS:PATH": v2's line is "0::PATH". */
    char path[PATH_MAX] = "";
    bool found = false;
    for (const char *line = proc_cgroup; *line && !found;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            char ctls[256];
            size_t clen = (size_t)(c2 - c1 - 1), plen = len - (size_t)(c2 + 1 - line);
            if (clen < sizeof ctls && plen < sizeof path && plen > 0) {
                memcpy(ctls, c1 + 1, clen);
                ctls[clen] = '\0';
                bool match = controller ? has_word(ctls, controller) : clen == 0 && !strncmp(line, "0:", 2);
                if (match) {
                    memcpy(path, c2 + 1, plen);
                    path[plen] = '\0';
                    found = true;
                }
            }
        }
        line += len + (eol ? 1 : 0);
    }
    if (!found || path[0] != '/') return false;
    /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS" */
    for (const char *line = mountinfo; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char root[PATH_MAX], mnt[PATH_MAX], type[32], super[1024], skip[PATH_MAX];
        const char *p = line;
        for (int i = 0; i < 3; i++) p = field(p, skip, sizeof skip);
        p = field(p, root, sizeof root);
        p = field(p, mnt, sizeof mnt);
        const char *dash = strstr(p, " - ");
        bool ok = dash && dash < line + len;
        if (ok) {
            p = field(dash + 3, type, sizeof type);
            p = field(p, skip, sizeof skip);
            field(p, super, sizeof super);
            ok = controller ? !strcmp(type, "cgroup") && has_word(super, controller) : !strcmp(type, "cgroup2");
        }
        /* The mount shows the hierarchy from `root` down: the group must
         * be there. */
        size_t rlen = strlen(root);
        const char *rel = NULL;
        if (ok && !strcmp(root, "/")) rel = path;
        else if (ok && !strncmp(path, root, rlen) && (path[rlen] == '/' || !path[rlen])) rel = path + rlen;
        if (rel) {
            if (!strcmp(rel, "/")) rel = "";
            return snprintf(dir, n, "%s%s", mnt, rel) < (int)n;
        }
        line += len + (eol ? 1 : 0);
    }
    return false;
}

/* ------------------------------------------------------------ groups */

static void bury(char *dir)
{
    grave *g = malloc(sizeof *g);
    if (!g) {
        free(dir);
        return;
    }
    g->dir = dir;
    g->next = cg.graves;
    cg.graves = g;
}

/* Retry the removals that failed; with no group left, remove qyvol-<pid>. */
static void sweep(void)
{
    for (grave **at = &cg.graves; *at;) {
        grave *g = *at;
        if (rmdir(g->dir) == 0 || errno == ENOENT) {
            *at = g->next;
            free(g->dir);
            free(g);
        } else {
            at = &g->next;
        }
    }
    if (cg.live || cg.graves) return;
    for (int h = 0; h < cg.nh; h++) {
        char *dir = join(cg.base[h], cg.parent);
        if (dir) rmdir(dir);
        free(dir);
    }
}

/* Make qyvol-<pid> in each hierarchy, with memory and cpu for its
 * children in v2; 0 or an errno, with the reason. */
static int make_parent(char *why, size_t whylen)
{
    for (int h = 0; h < cg.nh; h++) {
        char *dir = join(cg.base[h], cg.parent);
        if (!dir) return snprintf(why, whylen, "out of memory"), ENOMEM;
        int e = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : errno;
        if (e) snprintf(why, whylen, "cannot make the group %s: %s", dir, strerror(e));
        if (!e && cg.version == CGROUP_V2 && (e = put(dir, "cgroup.subtree_control", "+memory +cpu")))
            snprintf(why, whylen, "cannot enable memory and cpu in %s/cgroup.subtree_control: %s", dir, strerror(e));
        free(dir);
        /* The first failure ends it: the setup decides whether that
         * matters (not for an optional cpuacct). */
        if (e) return e;
    }
    return 0;
}

static void remove_dirs(cgroup_group *g)
{
    for (int h = 0; h < MAX_H; h++) {
        if (!g->dir[h]) continue;
        if (rmdir(g->dir[h]) == 0 || errno == ENOENT) free(g->dir[h]);
        else bury(g->dir[h]);
        g->dir[h] = NULL;
    }
}

/* The dir holding the files of role r, or NULL. */
static const char *dir_of(const cgroup_group *g, enum role r)
{
    return cg.role[r] < 0 ? NULL : g->dir[cg.role[r]];
}

cgroup_group *cgroup_group_new(const char *name, uint64_t memory_bytes, double cpu, char *why, size_t whylen)
{
    cgroup_group *g = calloc(1, sizeof *g);
    if (!g) return snprintf(why, whylen, "out of memory"), NULL;
    pthread_mutex_lock(&lock);
    if (!cg.done || cg.version == CGROUP_NONE) {
        snprintf(why, whylen, "no cgroups");
        goto fail;
    }
    sweep();
    if (make_parent(why, whylen)) goto fail;
    cg.live++;
    unsigned number = ++cg.made;
    for (int h = 0; h < cg.nh; h++) {
        char parent[PATH_MAX];
        snprintf(parent, sizeof parent, "%s/%s", cg.base[h], cg.parent);
        if (asprintf(&g->dir[h], "%s/%s.%u", parent, name, number) < 0) {
            g->dir[h] = NULL;
            snprintf(why, whylen, "out of memory");
            goto fail_dirs;
        }
        if (mkdir(g->dir[h], 0755) != 0) {
            snprintf(why, whylen, "cannot make the group %s: %s", g->dir[h], strerror(errno));
            free(g->dir[h]);
            g->dir[h] = NULL;
            goto fail_dirs;
        }
    }
    const char *mem = dir_of(g, ROLE_MEM), *cpud = dir_of(g, ROLE_CPU);
    char value[64];
    int e = 0;
    const char *file = "";
    if (memory_bytes) {
        snprintf(value, sizeof value, "%" PRIu64, memory_bytes);
        /* No swap either, or the cap would only push memory out to swap.
         * Not every kernel accounts swap (then the file is missing). */
        if (cg.version == CGROUP_V2) {
            if (!(e = put(mem, file = "memory.max", value)) && (e = put(mem, file = "memory.swap.max", "0")) == ENOENT)
                e = 0;
        } else {
            if (!(e = put(mem, file = "memory.limit_in_bytes", value)) &&
                (e = put(mem, file = "memory.memsw.limit_in_bytes", value)) == ENOENT)
                e = 0;
        }
    }
    if (!e && cpu > 0) {
        long long quota = llround(cpu * PERIOD_US);
        if (quota < MIN_QUOTA_US) quota = MIN_QUOTA_US;
        if (cg.version == CGROUP_V2) {
            snprintf(value, sizeof value, "%lld %d", quota, PERIOD_US);
            e = put(cpud, file = "cpu.max", value);
        } else {
            snprintf(value, sizeof value, "%d", PERIOD_US);
            if (!(e = put(cpud, file = "cpu.cfs_period_us", value))) {
                snprintf(value, sizeof value, "%lld", quota);
                /* v1 refuses a quota above an ancestor's (v2 takes it):
                 * that ancestor caps the replica lower already. */
                if ((e = put(cpud, file = "cpu.cfs_quota_us", value)) == EINVAL) e = 0;
            }
        }
    }
    if (e) {
        snprintf(why, whylen, "cannot write %s of the replica's group: %s", file, strerror(e));
        goto fail_dirs;
    }
    pthread_mutex_unlock(&lock);
    return g;
fail_dirs:
    remove_dirs(g);
    cg.live--;
    sweep();
fail:
    pthread_mutex_unlock(&lock);
    free(g);
    return NULL;
}

/* cpu.shares (v1) or cpu.weight (v2) for as many threads as n: what n
 * busy processes outside any group would weigh against each other. */
static int put_weight(const char *dir, int n)
{
    if (!dir) return 0;
    char value[24];
    long long w = cg.version == CGROUP_V2 ? 100ll * n : 1024ll * n;
    long long most = cg.version == CGROUP_V2 ? 10000 : 262144;
    snprintf(value, sizeof value, "%lld", w < 1 ? 1 : w > most ? most : w);
    return put(dir, cg.version == CGROUP_V2 ? "cpu.weight" : "cpu.shares", value);
}

/* The parent's weight: all its groups' (under lock). */
static void weigh_parent(void)
{
    int h = cg.role[ROLE_CPU];
    char *dir = h < 0 ? NULL : join(cg.base[h], cg.parent);
    if (dir) put_weight(dir, cg.threads > 0 ? cg.threads : 1);
    free(dir);
}

bool cgroup_group_weigh(cgroup_group *g, int threads, char *why, size_t whylen)
{
    pthread_mutex_lock(&lock);
    int e = put_weight(dir_of(g, ROLE_CPU), threads);
    if (!e) {
        cg.threads += threads - g->threads;
        g->threads = threads;
        weigh_parent();
    }
    pthread_mutex_unlock(&lock);
    if (e) snprintf(why, whylen, "cannot set the CPU weight of the replica's group: %s", strerror(e));
    return !e;
}

bool cgroup_group_attach(cgroup_group *g, pid_t pid, char *why, size_t whylen)
{
    char text[24];
    snprintf(text, sizeof text, "%d", (int)pid);
    for (int h = 0; h < MAX_H; h++) {
        if (!g->dir[h]) continue;
        int e = put(g->dir[h], "cgroup.procs", text);
        if (e) {
            snprintf(why, whylen, "cannot move process %d into %s: %s", (int)pid, g->dir[h], strerror(e));
            return false;
        }
    }
    return true;
}

bool cgroup_group_read(const cgroup_group *g, cgroup_usage *u)
{
    memset(u, 0, sizeof *u);
    const char *mem = dir_of(g, ROLE_MEM), *acct = dir_of(g, ROLE_ACCT);
    bool v2 = cg.version == CGROUP_V2;
    if (!mem || !number_in(mem, v2 ? "memory.current" : "memory.usage_in_bytes", &u->memory_bytes)) return false;
    uint64_t n;
    if (acct && (v2 ? keyed_in(acct, "cpu.stat", "usage_usec", &n) : number_in(acct, "cpuacct.usage", &n))) {
        u->has_cpu = true;
        u->cpu_seconds = (double)n / (v2 ? 1e6 : 1e9);
    }
    /* Since Linux 4.13 in both versions. */
    if (keyed_in(mem, v2 ? "memory.events" : "memory.oom_control", "oom_kill", &n)) u->oom_kills = n;
    return true;
}

void cgroup_group_delete(cgroup_group *g)
{
    if (!g) return;
    pthread_mutex_lock(&lock);
    if (g->threads) {
        cg.threads -= g->threads;
        weigh_parent();
    }
    remove_dirs(g);
    if (cg.live > 0) cg.live--;
    sweep();
    pthread_mutex_unlock(&lock);
    free(g);
}

/* ------------------------------------------------------------ setup */

static void forget(void)
{
    for (int h = 0; h < MAX_H; h++) free(cg.base[h]);
    free(cg.own);
    free(cg.leaf);
    free(cg.enabled);
    while (cg.graves) {
        grave *g = cg.graves;
        cg.graves = g->next;
        free(g->dir);
        free(g);
    }
    memset(&cg, 0, sizeof cg);
}

/* Add base dir (taken over) for the roles in `roles` (bits), sharing the
 * hierarchy of an earlier role with the same dir (v1 controllers mounted
 * together, like "cpu,cpuacct"). */
static bool add_base(char *dir, unsigned roles)
{
    int h = 0;
    while (h < cg.nh && strcmp(cg.base[h], dir)) h++;
    if (h == cg.nh) {
        if (cg.nh == MAX_H) return free(dir), false;
        cg.base[cg.nh++] = dir;
    } else {
        free(dir);
    }
    for (int r = 0; r < NROLES; r++)
        if (roles & 1u << r) cg.role[r] = h;
    return true;
}

/* Append "; " and a formatted reason to why. */
static void add_reason(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_reason(char *why, size_t whylen, const char *fmt, ...)
{
    size_t at = strnlen(why, whylen);
    if (at && at + 2 < whylen) {
        memcpy(why + at, "; ", 3);
        at += 2;
    }
    if (at + 1 >= whylen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + at, whylen - at, fmt, ap);
    va_end(ap);
}

/* Try making (and removing) qyvol-<pid> in every hierarchy. */
static bool probe(char *why, size_t whylen)
{
    char reason[400];
    int e = make_parent(reason, sizeof reason);
    sweep();
    if (e) add_reason(why, whylen, "%s", reason);
    return e == 0;
}

/* v2: use dir as the base if qyvol-<pid> can be made there. */
static bool use_base(const char *dir, char *why, size_t whylen)
{
    cg.base[0] = strdup(dir);
    if (cg.base[0] && probe(why, whylen)) return true;
    free(cg.base[0]);
    cg.base[0] = NULL;
    return false;
}

/* Enable memory and cpu for the children of dir (those not enabled yet);
 * 0 or an errno. *added, when given, gets what was added, to undo. */
static int enable(const char *dir, char **added)
{
    char *have = slurp_in(dir, "cgroup.subtree_control");
    if (!have) return errno;
    char want[32] = "";
    if (!has_word(have, "memory")) strcat(want, "+memory ");
    if (!has_word(have, "cpu")) strcat(want, "+cpu ");
    free(have);
    if (!want[0]) return 0;
    want[strlen(want) - 1] = '\0';
    int e = put(dir, "cgroup.subtree_control", want);
    if (!e && added && !(*added = strdup(want))) e = ENOMEM;
    return e;
}

/* Whether this process is the only one in group dir. */
static bool alone_in(const char *dir)
{
    char *procs = slurp_in(dir, "cgroup.procs");
    if (!procs) return false;
    char me[24];
    snprintf(me, sizeof me, "%d\n", (int)getpid());
    bool alone = !strcmp(procs, me);
    free(procs);
    return alone;
}

/* v2 case b: this process, alone in group own, moves into the leaf
 * own/qyvol-<pid>-front; then memory and cpu are enabled in own. */
static bool move_to_leaf(const char *own, char *why, size_t whylen)
{
    if (!alone_in(own)) return add_reason(why, whylen, "other processes share %s", own), false;
    char name[64];
    snprintf(name, sizeof name, "%s-front", cg.parent);
    char *leaf = join(own, name);
    if (!leaf) return add_reason(why, whylen, "out of memory"), false;
    if (mkdir(leaf, 0755) != 0 && errno != EEXIST) {
        add_reason(why, whylen, "cannot make the group %s: %s", leaf, strerror(errno));
        free(leaf);
        return false;
    }
    cg.leaf = leaf;
    if (!(cg.own = strdup(own))) return add_reason(why, whylen, "out of memory"), false;
    char me[24];
    snprintf(me, sizeof me, "%d", (int)getpid());
    int e = put(leaf, "cgroup.procs", me);
    if (e) return add_reason(why, whylen, "cannot move this process into %s: %s", leaf, strerror(e)), false;
    if ((e = enable(own, &cg.enabled)))
        return add_reason(why, whylen, "cannot enable memory and cpu in %s once alone: %s", own, strerror(e)), false;
    return true;
}

/* Undo move_to_leaf (as far as it went): the controllers it enabled off
 * again (a group with them cannot take a process), this process back. */
static void undo_move(void)
{
    if (!cg.leaf) return;
    if (cg.enabled) {
        char off[32];
        snprintf(off, sizeof off, "%s", cg.enabled);
        for (char *p = off; (p = strchr(p, '+'));) *p = '-';
        put(cg.own, "cgroup.subtree_control", off);
    }
    char me[24];
    snprintf(me, sizeof me, "%d", (int)getpid());
    if (cg.own) put(cg.own, "cgroup.procs", me);
    rmdir(cg.leaf);
    free(cg.leaf);
    free(cg.own);
    free(cg.enabled);
    cg.leaf = cg.own = cg.enabled = NULL;
}

static bool setup_v2(const char *mountinfo, const char *proc_cgroup, char *why, size_t whylen)
{
    char own[PATH_MAX];
    if (!cgroup_locate(mountinfo, proc_cgroup, NULL, own, sizeof own))
        return add_reason(why, whylen, "no cgroup2 mount shows this process's group"), false;
    char *ctls = slurp_in(own, "cgroup.controllers");
    if (!ctls) return add_reason(why, whylen, "cannot read %s/cgroup.controllers: %s", own, strerror(errno)), false;
    bool usable = has_word(ctls, "memory") && has_word(ctls, "cpu");
    if (!usable) {
        ctls[strcspn(ctls, "\n")] = '\0';
        add_reason(why, whylen, "the group %s offers the controllers \"%s\", not memory and cpu", own, ctls);
    }
    free(ctls);
    if (!usable) return false;
    cg.version = CGROUP_V2;
    cg.nh = 1;
    cg.role[ROLE_MEM] = cg.role[ROLE_CPU] = cg.role[ROLE_ACCT] = 0;
    /* a. The own group hands memory and cpu down already, or can. */
    int e = enable(own, NULL);
    if (e) add_reason(why, whylen, "cannot enable memory and cpu in %s: %s", own, strerror(e));
    if (!e && use_base(own, why, whylen)) return true;
    /* b. */
    if (move_to_leaf(own, why, whylen) && use_base(own, why, whylen)) return true;
    undo_move();
    /* c. Beside the own group, if it is not the top of the mount. */
    char *slash = strrchr(own, '/');
    if (slash && slash != own) {
        *slash = '\0';
        char *file = join(own, "cgroup.subtree_control");
        bool is_group = file && access(file, F_OK) == 0;
        free(file);
        if (is_group && use_base(own, why, whylen)) return true;
    }
    cg.nh = 0;
    return false;
}

static bool setup_v1(const char *mountinfo, const char *proc_cgroup, char *why, size_t whylen)
{
    static const char *const need[] = {"memory", "cpu"};
    static const char *const file[] = {"memory.limit_in_bytes", "cpu.cfs_quota_us"};
    cg.version = CGROUP_V1;
    cg.role[ROLE_MEM] = cg.role[ROLE_CPU] = cg.role[ROLE_ACCT] = -1;
    for (int r = 0; r < 2; r++) {
        char dir[PATH_MAX];
        if (!cgroup_locate(mountinfo, proc_cgroup, need[r], dir, sizeof dir))
            return add_reason(why, whylen, "no %s hierarchy shows this process's group", need[r]), false;
        char *path = join(dir, file[r]);
        bool there = path && access(path, F_OK) == 0;
        if (!there) add_reason(why, whylen, "%s: %s", path ? path : dir, strerror(errno));
        free(path);
        if (!there) return false;
        char *copy = strdup(dir);
        if (!copy || !add_base(copy, 1u << (r == 0 ? ROLE_MEM : ROLE_CPU)))
            return add_reason(why, whylen, "out of memory"), false;
    }
    if (!probe(why, whylen)) return false;
    /* cpuacct only gives the CPU time: without it the process's own clock
     * does (limits.c). */
    char dir[PATH_MAX];
    if (cgroup_locate(mountinfo, proc_cgroup, "cpuacct", dir, sizeof dir)) {
        int nh = cg.nh;
        char *copy = strdup(dir);
        char ignored[400] = "";
        if (copy && add_base(copy, 1u << ROLE_ACCT) && cg.nh > nh && !probe(ignored, sizeof ignored)) {
            free(cg.base[--cg.nh]);
            cg.base[cg.nh] = NULL;
            cg.role[ROLE_ACCT] = -1;
        }
    }
    return true;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)ftw;
    /* The kernel's files go with the folder. A group whose processes are
     * still dying (their server just killed) is retried with ours. */
    if (type == FTW_DP && rmdir(path) != 0 && errno != ENOENT) {
        char *later = strdup(path);
        if (later) bury(later);
    }
    return 0;
}

/* "qyvol-<pid>" or "qyvol-<pid>-front" of a process that is gone? */
static bool is_stale(const char *name)
{
    int pid, end = 0;
    if (sscanf(name, "qyvol-%d%n", &pid, &end) != 1 || pid <= 0 || pid == getpid()) return false;
    if (name[end] && strcmp(name + end, "-front")) return false;
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Remove the groups servers killed with SIGKILL left in the bases (their
 * replicas die with them: the groups are empty, or soon are; one still
 * holding a process is retried whenever groups change, and at cleanup). */
static void sweep_stale(void)
{
    for (int h = 0; h < cg.nh; h++) {
        DIR *d = opendir(cg.base[h]);
        if (!d) continue;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_type != DT_DIR || !is_stale(e->d_name)) continue;
            char *dir = join(cg.base[h], e->d_name);
            if (dir) nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
            free(dir);
        }
        closedir(d);
    }
}

cgroup_version cgroup_setup(char *why, size_t whylen)
{
    pthread_mutex_lock(&lock);
    if (!cg.done) {
        forget();
        cg.done = true;
        snprintf(cg.parent, sizeof cg.parent, "qyvol-%d", (int)getpid());
        char *mountinfo = slurp("/proc/self/mountinfo"), *proc_cgroup = slurp("/proc/self/cgroup");
        char why2[600] = "", why1[600] = "";
        if (!mountinfo || !proc_cgroup) {
            snprintf(cg.why, sizeof cg.why, "cannot read /proc/self/mountinfo or /proc/self/cgroup: %s",
                     strerror(errno));
            cg.version = CGROUP_NONE;
        } else if (setup_v2(mountinfo, proc_cgroup, why2, sizeof why2)) {
            cg.version = CGROUP_V2;
        } else {
            for (int h = 0; h < MAX_H; h++) free(cg.base[h]), cg.base[h] = NULL;
            cg.nh = 0;
            if (setup_v1(mountinfo, proc_cgroup, why1, sizeof why1)) {
                cg.version = CGROUP_V1;
            } else {
                for (int h = 0; h < MAX_H; h++) free(cg.base[h]), cg.base[h] = NULL;
                cg.nh = 0;
                cg.version = CGROUP_NONE;
                snprintf(cg.why, sizeof cg.why, "cgroup v2: %s; cgroup v1: %s", why2, why1);
            }
        }
        free(mountinfo);
        free(proc_cgroup);
        if (cg.version != CGROUP_NONE) sweep_stale();
    }
    cgroup_version v = cg.version;
    if (v == CGROUP_NONE) snprintf(why, whylen, "%s", cg.why);
    pthread_mutex_unlock(&lock);
    return v;
}

void cgroup_cleanup(void)
{
    pthread_mutex_lock(&lock);
    /* A process just reaped can keep its group busy for a moment. */
    for (int i = 0; i < 20 && cg.graves; i++) {
        sweep();
        if (cg.graves) nanosleep(&(struct timespec){0, 10 * 1000000}, NULL);
    }
    sweep();
    undo_move();
    forget();
    pthread_mutex_unlock(&lock);
}
