/*
 * test_limits.c — a replica's resource limits (src/serve/limits.h) on
 * real child processes: the CPU cap through cgroups and through the
 * userspace throttle, the memory cap (the OOM killer), the usage
 * readings, and that nothing is left behind: no group directories, no
 * stopped process. The cgroup tests skip where this process cannot make
 * groups (limits_mode() is "none"); the throttle's run everywhere.
 *
 * Each child waits on a pipe until it is attached, so that all it does
 * counts against its limits.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/cgroup.h"
#include "serve/limits.h"

#define MIB ((uint64_t)1 << 20)

/* ------------------------------------------------------------ helpers */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Touch n bytes of fresh memory, a page at a time. */
static void touch(uint64_t n)
{
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) _exit(3);
    for (uint64_t i = 0; i < n; i += 4096) p[i] = 1;
}

typedef enum work { SPIN, TOUCH_AND_SPIN, EAT } work;

/* A child that waits for start() and then: spins until killed (after
 * touching 16 MiB for TOUCH_AND_SPIN), or touches 200 MiB and exits 0. */
typedef struct child {
    pid_t pid;
    int go;                    /* the write end of its pipe */
} child;

static child spawn(work w)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Never outlive the test, even a failed one. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(fds[1]);
        char c;
        if (read(fds[0], &c, 1) != 1) _exit(2);
        if (w == EAT) {
            touch(200 * MIB);
            _exit(0);
        }
        if (w == TOUCH_AND_SPIN) touch(16 * MIB);
        for (volatile unsigned long n = 0;; n++) {}
    }
    close(fds[0]);
    return (child){pid, fds[1]};
}

static void start(child *c)
{
    assert_int_equal(write(c->go, "x", 1), 1);
    close(c->go);
    c->go = -1;
}

static void end(child *c)
{
    if (c->go >= 0) close(c->go);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
}

/* The child's CPU time, read here independently of limits.c. */
static double cpu_of(pid_t pid)
{
    clockid_t clock;
    struct timespec ts;
    assert_int_equal(clock_getcpuclockid(pid, &clock), 0);
    assert_int_equal(clock_gettime(clock, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Its state letter in /proc/PID/stat ('T' when stopped). */
static char state_of(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *paren = strrchr(text, ')');
    assert_non_null(paren);
    return paren[2];
}

/* Wait up to `within` seconds for the child's state to be (or, with
 * `not`, not be) `want`. */
static bool state_becomes(pid_t pid, char want, bool not, double within)
{
    for (double until = now_s() + within;; sleep_s(0.002)) {
        if ((state_of(pid) == want) != not) return true;
        if (now_s() > until) return false;
    }
}

/* Every directory named `name`, or `name.N` as replicas' groups are, in
 * the cgroup mounts (independently of cgroup.c: read from
 * /proc/self/mountinfo and walked). */
static const char *looked_for;
static int found;
static int count_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    const char *base = path + ftw->base;
    size_t n = strlen(looked_for);
    if (type == FTW_D && !strncmp(base, looked_for, n) &&
        (!base[n] || (base[n] == '.' && strspn(base + n + 1, "0123456789") == strlen(base + n + 1))))
        found++;
    return 0;
}

static int dirs_named(const char *name)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    assert_non_null(f);
    char line[4096];
    looked_for = name;
    found = 0;
    while (fgets(line, sizeof line, f)) {
        char mnt[1024], type[64];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 || sscanf(dash + 3, "%63s", type) != 1) continue;
        if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) nftw(mnt, count_one, 16, FTW_PHYS | FTW_MOUNT);
    }
    fclose(f);
    return found;
}

/* The name of this test process's parent group. */
static const char *server_group(void)
{
    static char name[40];
    snprintf(name, sizeof name, "qyvol-%d", (int)getpid());
    return name;
}

static void use_cgroups(bool yes)
{
    if (yes) unsetenv("QYVOL_NO_CGROUPS");
    else setenv("QYVOL_NO_CGROUPS", "1", 1);
    limits_cleanup();
}

static bool have_cgroups(void)
{
    use_cgroups(true);
    return strcmp(limits_mode(), "none") != 0;
}

/* ------------------------------------------------------------ tests */

static void mode_is_detected_and_can_be_forced(void **state)
{
    (void)state;
    use_cgroups(true);
    const char *m = limits_mode();
    assert_true(!strcmp(m, "v2") || !strcmp(m, "v1") || !strcmp(m, "none"));
    /* A reason exactly when there are no cgroups. */
    assert_int_equal(!strcmp(m, "none"), limits_mode_reason()[0] != '\0');
    print_message("limits mode here: %s %s\n", m, limits_mode_reason());
    use_cgroups(false);
    assert_string_equal(limits_mode(), "none");
    assert_non_null(strstr(limits_mode_reason(), "QYVOL_NO_CGROUPS"));
    setenv("QYVOL_NO_CGROUPS", "0", 1);
    limits_cleanup();
    assert_string_equal(limits_mode(), m);
    use_cgroups(true);
    assert_string_equal(limits_mode(), m);
    /* Detection leaves no group behind. */
    assert_int_equal(dirs_named(server_group()), 0);
}

static void locate_reads_mountinfo_and_proc_cgroup(void **state)
{
    (void)state;
    char dir[256];
    /* cgroup v1 with v2 beside it (hybrid), as on this machine. */
    const char *mi_v1 = "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
                        "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime shared:9 - cgroup cgroup rw,cpuset\n"
                        "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
                        "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
                        "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    const char *pc_v1 = "3:cpuset:/elsewhere\n4:memory:/process_api/xyz\n2:cpuacct:/\n1:cpu:/\n0::/\n";
    assert_true(cgroup_locate(mi_v1, pc_v1, "memory", dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/memory/process_api/xyz");
    assert_true(cgroup_locate(mi_v1, pc_v1, "cpu", dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/cpu");
    assert_true(cgroup_locate(mi_v1, pc_v1, NULL, dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/unified");
    assert_false(cgroup_locate(mi_v1, pc_v1, "cpuacct", dir, sizeof dir)); /* not mounted */
    assert_false(cgroup_locate(mi_v1, pc_v1, "pids", dir, sizeof dir));

    /* cpu and cpuacct mounted together. */
    const char *mi_co = "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw shared:7 - cgroup cgroup rw,cpu,cpuacct\n";
    const char *pc_co = "5:cpu,cpuacct:/a/b\n";
    assert_true(cgroup_locate(mi_co, pc_co, "cpuacct", dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/cpu,cpuacct/a/b");
    assert_true(cgroup_locate(mi_co, pc_co, "cpu", dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/cpu,cpuacct/a/b");

    /* Pure v2 (systemd). */
    const char *mi_v2 = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
                        "rw,nsdelegate,memory_recursiveprot\n";
    assert_true(cgroup_locate(mi_v2, "0::/system.slice/qyv.service\n", NULL, dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/system.slice/qyv.service");
    assert_false(cgroup_locate(mi_v2, "0::/system.slice/qyv.service\n", "memory", dir, sizeof dir));

    /* A mount that shows only part of the hierarchy (a container's). */
    const char *mi_part = "50 40 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n";
    assert_true(cgroup_locate(mi_part, "0::/docker/abc/sub\n", NULL, dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup/sub");
    assert_true(cgroup_locate(mi_part, "0::/docker/abc\n", NULL, dir, sizeof dir));
    assert_string_equal(dir, "/sys/fs/cgroup");
    assert_false(cgroup_locate(mi_part, "0::/docker/abcd\n", NULL, dir, sizeof dir));
    assert_false(cgroup_locate(mi_part, "0::/other\n", NULL, dir, sizeof dir));

    /* Octal escapes in mountinfo; too small a buffer. */
    const char *mi_esc = "50 40 0:26 / /mnt/my\\040cg rw - cgroup2 none rw\n";
    assert_true(cgroup_locate(mi_esc, "0::/g\n", NULL, dir, sizeof dir));
    assert_string_equal(dir, "/mnt/my cg/g");
    assert_false(cgroup_locate(mi_esc, "0::/g\n", NULL, dir, 5));
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    char why[300];
    const char *names[] = {"", "a/b", "..", ".hidden"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        why[0] = '\0';
        assert_null(limits_new(names[i], 0, 0, why, sizeof why));
        assert_non_null(strstr(why, "bad replica name"));
    }
    assert_null(limits_new("ok", 0, -1, why, sizeof why));
    assert_non_null(strstr(why, "bad CPU limit"));
    assert_null(limits_new("ok", 0, NAN, why, sizeof why));
    limits_delete(NULL);
}

/* Run a spinning child under cpu=0.25 for a second of wall time (ticking
 * every 10 ms if `tick`); returns its CPU time. */
static double spin_capped(const char *name, bool tick, limits_usage *u)
{
    char why[600];
    replica_limits *l = limits_new(name, 0, 0.25, why, sizeof why);
    if (!l) fail_msg("limits_new: %s", why);
    child c = spawn(SPIN);
    if (limits_attach(l, c.pid, why, sizeof why) != 0) fail_msg("limits_attach: %s", why);
    start(&c);
    double until = now_s() + 1.0;
    while (now_s() < until) {
        if (tick) limits_tick(l);
        sleep_s(0.01);
    }
    double used = cpu_of(c.pid);
    assert_true(limits_usage_read(l, u));
    end(&c);
    limits_delete(l);
    return used;
}

static void cgroup_caps_cpu(void **state)
{
    (void)state;
    if (!have_cgroups()) skip();
    char name[64];
    snprintf(name, sizeof name, "test-cpu-%d", (int)getpid());
    limits_usage u;
    double used = spin_capped(name, false, &u);
    print_message("cgroup %s: 0.25 CPU for 1 s -> %.3f s of CPU (usage says %.3f)\n", limits_mode(), used,
                  u.cpu_seconds);
    assert_true(used >= 0.15 && used <= 0.4);
    assert_true(fabs(u.cpu_seconds - used) < 0.05);
    /* The group and the server's group are gone with the last replica. */
    assert_int_equal(dirs_named(name), 0);
    assert_int_equal(dirs_named(server_group()), 0);
}

static void throttle_caps_cpu(void **state)
{
    (void)state;
    use_cgroups(false);
    limits_usage u;
    double used = spin_capped("test-throttle", true, &u);
    print_message("throttle: 0.25 CPU for 1 s -> %.3f s of CPU (usage says %.3f)\n", used, u.cpu_seconds);
    assert_true(used >= 0.15 && used <= 0.4);
    assert_true(fabs(u.cpu_seconds - used) < 0.05);
    use_cgroups(true);
}

static void throttle_continues_on_delete(void **state)
{
    (void)state;
    use_cgroups(false);
    char why[300];
    replica_limits *l = limits_new("test-stopped", 0, 0.1, why, sizeof why);
    assert_non_null(l);
    child c = spawn(SPIN);
    assert_int_equal(limits_attach(l, c.pid, why, sizeof why), 0);
    start(&c);
    /* Spinning at 0.1 CPU, it is stopped most of the time. */
    bool stopped = false;
    for (double until = now_s() + 1.0; !stopped && now_s() < until; sleep_s(0.01)) {
        limits_tick(l);
        stopped = state_of(c.pid) == 'T';
    }
    assert_true(stopped);
    limits_delete(l);
    assert_true(state_becomes(c.pid, 'T', true, 0.5));
    end(&c);
    use_cgroups(true);
}

static void throttle_copes_with_death(void **state)
{
    (void)state;
    use_cgroups(false);
    char why[300];
    replica_limits *l = limits_new("test-dies", 0, 0.5, why, sizeof why);
    assert_non_null(l);
    child c = spawn(SPIN);
    assert_int_equal(limits_attach(l, c.pid, why, sizeof why), 0);
    start(&c);
    for (int i = 0; i < 20; i++) {
        limits_tick(l);
        sleep_s(0.01);
    }
    limits_usage before, after;
    assert_true(limits_usage_read(l, &before));
    assert_true(before.cpu_seconds > 0);
    /* Killed, then reaped: ticks do nothing, the last CPU time stays. */
    end(&c);
    for (int i = 0; i < 5; i++) limits_tick(l);
    assert_true(limits_usage_read(l, &after));
    assert_int_equal(after.memory_bytes, 0);
    assert_true(after.cpu_seconds >= before.cpu_seconds);
    limits_delete(l);
    use_cgroups(true);
}

static void cgroup_caps_memory(void **state)
{
    (void)state;
    if (!have_cgroups()) skip();
    char name[64], why[600];
    snprintf(name, sizeof name, "test-mem-%d", (int)getpid());
    replica_limits *l = limits_new(name, 64 * MIB, 0, why, sizeof why);
    if (!l) fail_msg("limits_new: %s", why);
    child c = spawn(EAT);
    if (limits_attach(l, c.pid, why, sizeof why) != 0) fail_msg("limits_attach: %s", why);
    start(&c);
    int status;
    assert_int_equal(waitpid(c.pid, &status, 0), c.pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    /* The group outlives the process: its count can be read after the
     * wait, as the server does (every kernel since 4.13 reports it). */
    limits_usage u;
    assert_true(limits_usage_read(l, &u));
    print_message("64 MiB cap, 200 MiB touched: killed, oom_kills %llu\n", (unsigned long long)u.oom_kills);
    assert_true(u.oom_kills >= 1);
    assert_true(dirs_named(name) >= 1);
    limits_delete(l);
    assert_int_equal(dirs_named(name), 0);
    assert_int_equal(dirs_named(server_group()), 0);
}

static void usage_is_plausible(bool cgroups)
{
    use_cgroups(cgroups);
    char name[64], why[600];
    snprintf(name, sizeof name, "test-usage-%d", (int)getpid());
    replica_limits *l = limits_new(name, 256 * MIB, 0, why, sizeof why);
    if (!l) fail_msg("limits_new: %s", why);
    limits_usage u0, u1, u2;
    child c = spawn(TOUCH_AND_SPIN);
    if (limits_attach(l, c.pid, why, sizeof why) != 0) fail_msg("limits_attach: %s", why);
    assert_true(limits_usage_read(l, &u0));
    start(&c);
    sleep_s(0.2);
    assert_true(limits_usage_read(l, &u1));
    sleep_s(0.2);
    assert_true(limits_usage_read(l, &u2));
    print_message("%s: memory %llu -> %llu bytes, cpu %.3f -> %.3f -> %.3f s\n", limits_mode(),
                  (unsigned long long)u0.memory_bytes, (unsigned long long)u2.memory_bytes, u0.cpu_seconds,
                  u1.cpu_seconds, u2.cpu_seconds);
    /* The 16 MiB it touched after it was attached count in either way. */
    assert_true(u2.memory_bytes >= 16 * MIB);
    assert_true(u2.memory_bytes < 256 * MIB);
    assert_true(u1.cpu_seconds > u0.cpu_seconds);
    assert_true(u2.cpu_seconds > u1.cpu_seconds);
    assert_true(u2.cpu_seconds - u0.cpu_seconds < 0.45 * (double)sysconf(_SC_NPROCESSORS_ONLN));
    assert_int_equal(u2.oom_kills, 0);
    end(&c);
    limits_delete(l);
    use_cgroups(true);
}

static void usage_with_cgroups(void **state)
{
    (void)state;
    if (!have_cgroups()) skip();
    usage_is_plausible(true);
}

static void usage_without_cgroups(void **state)
{
    (void)state;
    usage_is_plausible(false);
}

static void busy_group_is_removed_later(void **state)
{
    (void)state;
    if (!have_cgroups()) skip();
    char name[64], next[80], why[600];
    snprintf(name, sizeof name, "test-busy-%d", (int)getpid());
    snprintf(next, sizeof next, "%s-next", name);
    replica_limits *l = limits_new(name, 0, 0.5, why, sizeof why);
    if (!l) fail_msg("limits_new: %s", why);
    child c = spawn(SPIN);
    assert_int_equal(limits_attach(l, c.pid, why, sizeof why), 0);
    /* Deleted while its process still runs: the group cannot go yet. */
    limits_delete(l);
    assert_true(dirs_named(name) >= 1);
    end(&c);
    /* Any later change of groups removes it (or at the latest the
     * cleanup: a reaped process may keep it busy a moment). */
    l = limits_new(next, 0, 0, why, sizeof why);
    assert_non_null(l);
    limits_delete(l);
    limits_cleanup();
    assert_int_equal(dirs_named(name), 0);
    assert_int_equal(dirs_named(next), 0);
    assert_int_equal(dirs_named(server_group()), 0);
}

/* A reload's new pool names its replicas as the old pool did, while the
 * old ones still run: both groups exist at once, each with its process. */
static void same_name_twice_gives_two_groups(void **state)
{
    (void)state;
    if (!have_cgroups()) skip();
    char name[64], why[600];
    snprintf(name, sizeof name, "test-twice-%d", (int)getpid());
    replica_limits *old = limits_new(name, 64 * MIB, 0, why, sizeof why);
    if (!old) fail_msg("limits_new: %s", why);
    child a = spawn(SPIN);
    assert_int_equal(limits_attach(old, a.pid, why, sizeof why), 0);
    replica_limits *new = limits_new(name, 64 * MIB, 0, why, sizeof why);
    if (!new) fail_msg("the second group of the same name: %s", why);
    child b = spawn(SPIN);
    assert_int_equal(limits_attach(new, b.pid, why, sizeof why), 0);
    assert_true(dirs_named(name) >= 2);
    end(&a);
    end(&b);
    limits_delete(old);
    limits_delete(new);
    limits_cleanup();
    assert_int_equal(dirs_named(name), 0);
}

/* A server killed with SIGKILL leaves qyvol-<pid> behind; the next one
 * removes it when it sets up. */
static void groups_of_dead_servers_are_swept(void **state)
{
    (void)state;
    if (!have_cgroups()) skip();
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The "server": its limits module starts afresh in the child. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        limits_cleanup();
        char why[600];
        replica_limits *l = limits_new("stale", 64 * MIB, 0.5, why, sizeof why);
        if (write(ready[1], l ? "y" : "n", 1) != 1) _exit(2);
        for (;;) pause();
    }
    close(ready[1]);
    char made;
    assert_int_equal(read(ready[0], &made, 1), 1);
    close(ready[0]);
    assert_int_equal(made, 'y');
    char group[40];
    snprintf(group, sizeof group, "qyvol-%d", (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_true(dirs_named(group) >= 1);
    use_cgroups(true);
    limits_mode(); /* sets up again, and sweeps */
    assert_int_equal(dirs_named(group), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mode_is_detected_and_can_be_forced),
        cmocka_unit_test(locate_reads_mountinfo_and_proc_cgroup),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(cgroup_caps_cpu),
        cmocka_unit_test(throttle_caps_cpu),
        cmocka_unit_test(throttle_continues_on_delete),
        cmocka_unit_test(throttle_copes_with_death),
        cmocka_unit_test(cgroup_caps_memory),
        cmocka_unit_test(usage_with_cgroups),
        cmocka_unit_test(usage_without_cgroups),
        cmocka_unit_test(busy_group_is_removed_later),
        cmocka_unit_test(same_name_twice_gives_two_groups),
        cmocka_unit_test(groups_of_dead_servers_are_swept),
    };
    int failed = cmocka_run_group_tests_name("limits", tests, NULL, NULL);
    limits_cleanup();
    return failed;
}
