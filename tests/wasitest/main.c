/*
 * main.c — `build/wasitest [--qyv PATH] [-j N] [--timeout SECONDS]
 * [--prefix-reads] [-v] DIR...`: runs every NAME.wasm of each test
 * directory through `qyv run`, N at a time, and reports in a fixed order
 * (the directories as given, each one's tests by name) whatever the order
 * they finish in: a line per failed or skipped test (and passed, with -v)
 * as soon as it and those before it are done, a summary per directory and,
 * last, "N passed, N failed, N skipped".
 *
 * Exit status: 0 when nothing failed and something passed, 1 otherwise,
 * 2 for bad usage, 128 + the signal when stopped by SIGINT/SIGTERM/SIGHUP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasitest.h"

#define MAX_JOBS 256

typedef struct test {
    const char *dir;
    char *name;          /* without .wasm */
    verdict verdict;
    char *detail;        /* why it failed or was skipped */
    bool done;
} test;

typedef struct group {
    char *dir;           /* as given, without trailing slashes */
    size_t first, count; /* its tests in `tests` */
} group;

static struct {
    test_options opt;
    test *tests;
    size_t ntests, next; /* next: the first test no worker has taken */
    int workers;         /* still running */
    pthread_mutex_t lock;
    pthread_cond_t changed;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};

static const char usage_text[] =
    "usage: wasitest [--qyv PATH] [-j N] [--timeout SECONDS] [--prefix-reads] [-v] DIR...\n"
    "Runs the WASI test suite's tests in each DIR (e.g.\n"
    "../shared/wasi-testsuite/tests/c/testsuite/wasm32-wasip1) through `qyv run`.\n"
    "  --qyv PATH         the qyv to test (default: qyv next to wasitest)\n"
    "  -j N               tests at a time (default: one per online CPU)\n"
    "  --timeout SECONDS  per run of a test (default 60)\n"
    "  --prefix-reads     a read checks only the next bytes of its stream, as the\n"
    "                     suite's Python runner does (default: a stream that has\n"
    "                     reads must hold exactly what they expect)\n"
    "  -v                 also list the tests that passed\n";

static int usage(const char *fmt, const char *arg)
{
    if (fmt) {
        fputs("wasitest: ", stderr);
        fprintf(stderr, fmt, arg);
        fputc('\n', stderr);
    }
    fputs(usage_text, stderr);
    return 2;
}

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&R.lock);
    for (;;) {
        while (R.next < R.ntests && R.tests[R.next].done) R.next++; /* settled by suite_check */
        if (R.next >= R.ntests || stop_signal()) break;
        test *t = &R.tests[R.next++];
        pthread_mutex_unlock(&R.lock);
        char *detail;
        verdict v = test_run(&R.opt, t->dir, t->name, &detail);
        pthread_mutex_lock(&R.lock);
        t->verdict = v;
        t->detail = detail;
        t->done = true;
        pthread_cond_broadcast(&R.changed);
    }
    R.workers--;
    pthread_cond_broadcast(&R.changed);
    pthread_mutex_unlock(&R.lock);
    return NULL;
}

static void wake_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&R.lock);
    pthread_cond_broadcast(&R.changed);
    pthread_mutex_unlock(&R.lock);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add the tests of g->dir, sorted by name. Tests of a directory that
 * cannot run here are settled at once. False if it cannot be read. */
static bool collect(group *g)
{
    DIR *d = opendir(g->dir);
    if (!d) return false;
    char **names = NULL;
    size_t n = 0;
    bool ok = true;
    struct dirent *e;
    while (ok && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".wasm")) continue;
        char **grown = realloc(names, (n + 1) * sizeof *grown);
        ok = grown && (grown[n] = strndup(e->d_name, len - 5));
        if (grown) names = grown;
        n += ok;
    }
    closedir(d);
    test *grown = ok ? realloc(R.tests, (R.ntests + n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        errno = ENOMEM;
        return false;
    }
    R.tests = grown;
    qsort(names, n, sizeof *names, by_name);
    bool is_error = false;
    char *why = n ? suite_check(g->dir, &is_error) : NULL;
    g->first = R.ntests;
    g->count = n;
    for (size_t i = 0; i < n; i++) {
        test *t = &R.tests[R.ntests++];
        *t = (test){.dir = g->dir, .name = names[i]};
        if (why) *t = (test){.dir = g->dir, .name = names[i], .verdict = is_error ? FAIL : SKIP,
                             .detail = strdup(why), .done = true};
    }
    free(why);
    free(names);
    return true;
}

/* `qyv` next to this program, as built by the Makefile. */
static char *default_qyv(void)
{
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 5);
    if (n <= 0) return "qyv";
    path[n] = 0;
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, "qyv");
    return path;
}

/* Test processes get /dev/null as stdin and files as stdout and stderr
 * (run.c): make sure those descriptors are never 0, 1 or 2 themselves. */
static void hold_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int nul = open("/dev/null", O_RDWR);
            if (nul > 2) close(nul);
        }
}

static void print_test(const test *t, bool verbose)
{
    static const char *const names[] = {"PASS", "FAIL", "SKIP"};
    if (t->verdict == PASS && !verbose) return;
    if (t->verdict == PASS) printf("PASS %s/%s\n", t->dir, t->name);
    else printf("%s %s/%s: %s\n", names[t->verdict], t->dir, t->name, t->detail ? t->detail : "(out of memory)");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"qyv", required_argument, NULL, 'q'},      {"jobs", required_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},  {"prefix-reads", no_argument, NULL, 'p'},
        {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    hold_std_fds();
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    bool verbose = false;
    R.opt.timeout_s = 60;
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "j:vh", options, NULL)) != -1) {
        switch (opt) {
        case 'q': R.opt.qyv = optarg; break;
        case 'j':
            jobs = strtol(optarg, &end, 10);
            if (end == optarg || *end || jobs < 1 || jobs > MAX_JOBS)
                return usage("-j takes a number of tests from 1 to 256, not '%s'", optarg);
            break;
        case 't': {
            long s = strtol(optarg, &end, 10);
            if (end == optarg || *end || s < 1 || s > 86400)
                return usage("--timeout takes a number of seconds from 1 to 86400, not '%s'", optarg);
            R.opt.timeout_s = (int)s;
            break;
        }
        case 'p': R.opt.prefix_reads = true; break;
        case 'v': verbose = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage(NULL, NULL); /* getopt said what was wrong */
        }
    }
    if (optind >= argc) return usage("no test directory given", NULL);
    if (!R.opt.qyv) R.opt.qyv = default_qyv();
    if (access(R.opt.qyv, X_OK) != 0) {
        fprintf(stderr, "wasitest: cannot run %s: %s (give another with --qyv PATH)\n", R.opt.qyv, strerror(errno));
        return 2;
    }
    size_t ngroups = (size_t)(argc - optind);
    group *groups = calloc(ngroups, sizeof *groups);
    if (!groups) return perror("wasitest"), 1;
    int rc = 0;
    for (size_t g = 0; g < ngroups && !rc; g++) {
        const char *dir = argv[optind + (int)g];
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/') len--;
        groups[g].dir = strndup(dir, len);
        struct stat st;
        int e = 0;
        if (!groups[g].dir) e = ENOMEM;
        else if (stat(dir, &st) != 0) e = errno;
        else if (!S_ISDIR(st.st_mode)) e = ENOTDIR;
        else if (!collect(&groups[g])) e = errno;
        if (e) {
            fprintf(stderr, "wasitest: cannot read test directory %s: %s\n", dir, strerror(e));
            rc = usage(NULL, NULL);
        }
    }

    if (!rc) {
        /* Signals first: every thread must start with them blocked. */
        stop_init(wake_main, NULL);
        pthread_t threads[MAX_JOBS];
        if (jobs < 1) jobs = 1;
        if ((size_t)jobs > R.ntests) jobs = (long)R.ntests;
        pthread_mutex_lock(&R.lock);
        for (long i = 0; i < jobs; i++, R.workers++)
            if (pthread_create(&threads[i], NULL, worker, NULL) != 0) break;
        int started = R.workers;
        pthread_mutex_unlock(&R.lock);
        if (!started && R.ntests) {
            R.workers = 1;
            worker(NULL); /* no threads to be had: one at a time, here */
        }

        /* Report in order, each test as soon as it is done. */
        size_t total[3] = {0, 0, 0}, not_run = 0;
        for (size_t g = 0; g < ngroups; g++) {
            size_t count[3] = {0, 0, 0};
            for (size_t i = groups[g].first; i < groups[g].first + groups[g].count; i++) {
                test *t = &R.tests[i];
                pthread_mutex_lock(&R.lock);
                while (!t->done && R.workers > 0) pthread_cond_wait(&R.changed, &R.lock);
                bool done = t->done;
                pthread_mutex_unlock(&R.lock);
                if (!done || t->verdict == NOT_RUN) {
                    not_run++;
                    continue;
                }
                count[t->verdict]++;
                print_test(t, verbose);
            }
            printf("%s: %zu passed, %zu failed, %zu skipped\n", groups[g].dir, count[PASS], count[FAIL], count[SKIP]);
            for (int k = 0; k < 3; k++) total[k] += count[k];
        }
        for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
        int sig = stop_signal();
        if (sig) {
            fflush(stdout);
            fprintf(stderr, "wasitest: stopped by SIG%s; %zu tests not run or not finished\n", sigabbrev_np(sig),
                    not_run);
        }
        printf("%zu passed, %zu failed, %zu skipped\n", total[PASS], total[FAIL], total[SKIP]);
        rc = sig ? 128 + sig : total[FAIL] == 0 && total[PASS] > 0 ? 0 : 1;
    }

    for (size_t i = 0; i < R.ntests; i++) {
        free(R.tests[i].name);
        free(R.tests[i].detail);
    }
    free(R.tests);
    for (size_t g = 0; g < ngroups; g++) free(groups[g].dir);
    free(groups);
    return rc;
}
