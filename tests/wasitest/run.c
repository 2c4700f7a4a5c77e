/*
 * run.c — one test as a child process: `qyv run --dir COPY::/ --env K=V
 * ... MODULE -- ARGS`, stdin from /dev/null, stdout and stderr into
 * unlinked temporary files (no pipe can fill up and block it), killed with
 * its whole process group when it runs past the timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wasitest.h"

static int temp_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/wasitest-out-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path);
    return fd;
}

static char *slurp(int fd, size_t *len)
{
    struct stat st;
    *len = 0;
    if (fstat(fd, &st) != 0) return NULL;
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) return NULL;
    ssize_t n = pread(fd, buf, (size_t)st.st_size, 0);
    *len = n > 0 ? (size_t)n : 0;
    buf[*len] = 0;
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool run_test(const char *qyv, const test_spec *spec, const char *module, const char *root_copy,
              int timeout_s, run_result *res, char *why, size_t whylen)
{
    memset(res, 0, sizeof *res);
    size_t n = 0, cap = 8 + 2 * spec->nenv + spec->nargs;
    char **argv = calloc(cap, sizeof *argv);
    char *dir = NULL;
    int out = temp_file(), err = temp_file();
    if (!argv || out < 0 || err < 0) {
        snprintf(why, whylen, "cannot set up the run: %s", strerror(errno));
        goto fail;
    }
    argv[n++] = (char *)qyv;
    argv[n++] = "run";
    if (root_copy) {
        dir = malloc(strlen(root_copy) + 4);
        if (!dir) goto fail;
        sprintf(dir, "%s::/", root_copy);
        argv[n++] = "--dir";
        argv[n++] = dir;
    }
    for (size_t i = 0; i < spec->nenv; i++) {
        argv[n++] = "--env";
        argv[n++] = spec->env[i];
    }
    argv[n++] = (char *)module;
    argv[n++] = "--";
    for (size_t i = 0; i < spec->nargs; i++) argv[n++] = spec->args[i];
    argv[n] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
        execv(qyv, argv);
        dprintf(2, "wasitest: cannot run %s: %s\n", qyv, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    double deadline = now() + timeout_s;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        if (now() > deadline) {
            res->timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    if (!res->timed_out) {
        if (WIFSIGNALED(status)) res->signal = WTERMSIG(status);
        else res->exit_status = WEXITSTATUS(status);
    }
    res->out = slurp(out, &res->out_len);
    res->err = slurp(err, &res->err_len);
    close(out);
    close(err);
    free(argv);
    free(dir);
    return true;
fail:
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    free(argv);
    free(dir);
    return false;
}

void run_result_free(run_result *res)
{
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
