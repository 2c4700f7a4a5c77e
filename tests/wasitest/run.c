/*
 * run.c — one `qyv run` child process. Its stdin is /dev/null; its stdout
 * and stderr go to unlinked temporary files, not pipes, so a test that
 * writes a lot can never block on a full pipe while we wait for it. It
 * leads its own process group, so that at the deadline (or when the run
 * is stopped) it is killed with anything it started, and anything it left
 * running when it ended is killed too: each test is fully independent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wasitest.h"

static int output_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/wasitest-out-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path); /* nothing to clean up later */
    return fd;
}

static char *slurp(int fd, size_t *len)
{
    struct stat st;
    *len = 0;
    if (fstat(fd, &st) != 0) return NULL;
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) return NULL;
    while (*len < (size_t)st.st_size) {
        ssize_t n = pread(fd, buf + *len, (size_t)st.st_size - *len, (off_t)*len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        *len += (size_t)n;
    }
    buf[*len] = 0;
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Between fork and exec only async-signal-safe calls: other threads may
 * have held malloc's or stdio's locks at the fork. An exec failure is
 * reported through `report` (close-on-exec: it reads EOF when exec works). */
static _Noreturn void child(const char *qyv, char **argv, int in, int out, int err, int report)
{
    sigset_t none;
    sigemptyset(&none);
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, &none, NULL); /* stop.c blocks these in the runner */
    if (dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(err, 2) >= 0) execv(qyv, argv);
    int e = errno;
    if (write(report, &e, sizeof e) < 0) _exit(127);
    _exit(127);
}

/* Wait for pid to end, without reaping it: until it is reaped its pid
 * cannot be reused, so killing its group stays safe. A pidfd wakes us the
 * moment it ends; where there is none (old kernel, seccomp), poll. */
static int wait_end(pid_t pid, double deadline, bool *timed_out)
{
#ifdef SYS_pidfd_open
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0); /* always close-on-exec */
    if (pfd >= 0) {
        for (;;) {
            double left = deadline - now();
            int ms = *timed_out ? -1 : left <= 0 ? 0 : (int)(left * 1000) + 1;
            int r = poll(&(struct pollfd){.fd = pfd, .events = POLLIN}, 1, ms);
            if (r > 0) break;
            if (r < 0 && errno != EINTR) break; /* then poll below */
            if (r == 0 && now() >= deadline) {
                *timed_out = true;
                kill(-pid, SIGKILL);
            }
        }
        close(pfd);
    }
#endif
    long delay_ns = 1000000;
    for (;;) {
        siginfo_t si = {0};
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (si.si_pid == pid) return 0;
        if (!*timed_out && now() >= deadline) {
            *timed_out = true;
            kill(-pid, SIGKILL);
        }
        nanosleep(&(struct timespec){0, delay_ns}, NULL);
        if (delay_ns < 8000000) delay_ns *= 2;
    }
}

bool run_child(const char *qyv, const run_cfg *cfg, const char *module, const char *root_copy,
               int timeout_s, run_result *res, char *why, size_t whylen)
{
    memset(res, 0, sizeof *res);
    size_t n = 0;
    char **argv = calloc(8 + 2 * cfg->nenv + cfg->nargs, sizeof *argv);
    char *dir = root_copy ? malloc(strlen(root_copy) + 4) : NULL;
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = output_file(), err = output_file();
    int report[2] = {-1, -1};
    bool ok = false;
    if (!argv || (root_copy && !dir) || in < 0 || out < 0 || err < 0 || pipe2(report, O_CLOEXEC) != 0) {
        snprintf(why, whylen, "cannot set up the run: %s", strerror(errno ? errno : ENOMEM));
        goto done;
    }
    argv[n++] = (char *)qyv;
    argv[n++] = "run";
    if (root_copy) {
        sprintf(dir, "%s::/", root_copy);
        argv[n++] = "--dir";
        argv[n++] = dir;
    }
    for (size_t i = 0; i < cfg->nenv; i++) {
        argv[n++] = "--env";
        argv[n++] = cfg->env[i];
    }
    argv[n++] = (char *)module;
    argv[n++] = "--";
    for (size_t i = 0; i < cfg->nargs; i++) argv[n++] = cfg->args[i];
    argv[n] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) child(qyv, argv, in, out, err, report[1]);
    setpgid(pid, pid); /* also here: kill(-pid) must work before the child gets to it */
    stop_track(pid);
    close(report[1]);
    report[1] = -1;
    int exec_errno = 0;
    ssize_t got;
    while ((got = read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}

    bool timed_out = false;
    int status = 0;
    int waited = wait_end(pid, now() + timeout_s, &timed_out);
    kill(-pid, SIGKILL); /* whatever it left running */
    stop_untrack(pid);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got > 0) {
        snprintf(why, whylen, "cannot run %s: %s", qyv, strerror(exec_errno));
        goto done;
    }
    if (waited != 0) {
        snprintf(why, whylen, "waiting for the test: %s", strerror(errno));
        goto done;
    }
    res->timed_out = timed_out;
    if (!timed_out) {
        if (WIFSIGNALED(status)) res->signal = WTERMSIG(status);
        else res->exit_status = WEXITSTATUS(status);
    }
    res->out = slurp(out, &res->out_len);
    res->err = slurp(err, &res->err_len);
    ok = res->out && res->err;
    if (!ok) {
        snprintf(why, whylen, "cannot read the test's output: %s", strerror(errno ? errno : ENOMEM));
        run_result_free(res);
    }
done:
    for (int i = 0; i < 2; i++)
        if (report[i] >= 0) close(report[i]);
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    free(argv);
    free(dir);
    return ok;
}

void run_result_free(run_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
