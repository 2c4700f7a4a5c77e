/*
 * main.c — `build/wasitest [--qyv PATH] [-j N] [--timeout S] [-v] DIR...`:
 * runs every NAME.wasm of each test directory through `qyv run`, in
 * parallel, and prints one line per failed or skipped test, a summary per
 * directory and, last, "N passed, N failed, N skipped".
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasitest.h"

typedef enum verdict { PASS, FAIL, SKIP } verdict;

typedef struct test {
    const char *dir;
    char *name;          /* without .wasm */
    verdict verdict;
    char *detail;        /* why it failed or was skipped */
} test;

static struct {
    const char *qyv;
    int timeout_s;
    test *tests;
    size_t ntests;
    atomic_size_t next;
} run;

static const char usage_text[] =
    "usage: wasitest [--qyv PATH] [-j N] [--timeout SECONDS] [-v] DIR...\n"
    "Runs the WASI test suite's tests in each DIR (e.g.\n"
    "../shared/wasi-testsuite/tests/rust/testsuite/wasm32-wasip1) through `qyv run`.\n";

/* Printable excerpt of bytes: escapes, first 200 bytes. */
static void excerpt(char *dst, size_t cap, const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len && i < 200 && k + 5 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n') k += (size_t)snprintf(dst + k, cap - k, "\\n");
        else if (ch == '"' || ch == '\\') k += (size_t)snprintf(dst + k, cap - k, "\\%c", ch);
        else if (ch < 32 || ch > 126) k += (size_t)snprintf(dst + k, cap - k, "\\x%02x", ch);
        else dst[k++] = (char)ch;
    }
    if (len > 200 && k + 4 < cap) k += (size_t)snprintf(dst + k, cap - k, "...");
    dst[k < cap ? k : cap - 1] = 0;
}

/* Check the result against the operations; NULL when it passed. */
static char *judge(const test_spec *spec, const run_result *res)
{
    char buf[4096], a[1024], b[1024];
    size_t pos[3] = {0, 0, 0};
    for (size_t i = 0; i < spec->nops; i++) {
        const op *o = &spec->ops[i];
        if (o->kind == OP_READ) {
            const char *data = o->stream == 1 ? res->out : res->err;
            size_t len = o->stream == 1 ? res->out_len : res->err_len;
            size_t at = pos[o->stream], avail = len - at;
            size_t n = avail < o->payload_len ? avail : o->payload_len;
            if (n != o->payload_len || memcmp(data + at, o->payload, n)) {
                excerpt(a, sizeof a, o->payload, o->payload_len);
                excerpt(b, sizeof b, data + at, avail);
                snprintf(buf, sizeof buf, "%s: expected \"%s\", got \"%s\"", o->stream == 1 ? "stdout" : "stderr",
                         a, b);
                return strdup(buf);
            }
            pos[o->stream] += n;
        } else if (o->kind == OP_WAIT) {
            if (res->timed_out) return strdup("timed out");
            if (res->signal) {
                snprintf(buf, sizeof buf, "killed by signal %d", res->signal);
                return strdup(buf);
            }
            if (res->exit_status != o->exit_code) {
                excerpt(b, sizeof b, res->err, res->err_len);
                snprintf(buf, sizeof buf, "exit status %d, expected %d; stderr: \"%s\"", res->exit_status,
                         o->exit_code, b);
                return strdup(buf);
            }
        }
    }
    return NULL;
}

static void run_one(test *t)
{
    test_spec spec;
    char err[PATH_MAX + 600];
    if (!spec_load(t->dir, t->name, &spec, err, sizeof err)) {
        t->verdict = FAIL;
        t->detail = strdup(err);
        return;
    }
    if (spec.skip) {
        t->verdict = SKIP;
        t->detail = strdup(spec.skip);
        spec_free(&spec);
        return;
    }
    char module[PATH_MAX], tmp[PATH_MAX], copy[PATH_MAX + 8], root[PATH_MAX];
    snprintf(module, sizeof module, "%s/%s.wasm", t->dir, t->name);
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/wasitest-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(tmp)) {
        t->verdict = FAIL;
        snprintf(err, sizeof err, "cannot make a temporary folder: %s", strerror(errno));
        t->detail = strdup(err);
        spec_free(&spec);
        return;
    }
    snprintf(copy, sizeof copy, "%s/root", tmp);
    bool ok = true;
    if (spec.root) {
        snprintf(root, sizeof root, "%s/%s", t->dir, spec.root);
        if (!tree_copy(root, copy)) {
            ok = false;
            snprintf(err, sizeof err, "cannot copy %s: %s", root, strerror(errno));
        }
    }
    run_result res;
    if (ok) ok = run_test(run.qyv, &spec, module, spec.root ? copy : NULL, run.timeout_s, &res, err, sizeof err);
    if (ok) {
        t->detail = judge(&spec, &res);
        t->verdict = t->detail ? FAIL : PASS;
        if (res.timed_out) {
            free(t->detail);
            snprintf(err, sizeof err, "timed out after %d s", run.timeout_s);
            t->detail = strdup(err);
            t->verdict = FAIL;
        }
        run_result_free(&res);
    } else {
        t->verdict = FAIL;
        t->detail = strdup(err);
    }
    tree_remove(tmp);
    spec_free(&spec);
}

static void *worker(void *arg)
{
    (void)arg;
    size_t i;
    while ((i = atomic_fetch_add(&run.next, 1)) < run.ntests) run_one(&run.tests[i]);
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add DIR's tests (sorted); false if DIR cannot be read. */
static bool collect(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "wasitest: cannot read %s: %s\n", dir, strerror(errno));
        return false;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".wasm")) continue;
        char **grown = realloc(names, (n + 1) * sizeof *grown);
        if (!grown) break;
        names = grown;
        names[n++] = strndup(e->d_name, len - 5);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    test *grown = realloc(run.tests, (run.ntests + n) * sizeof *grown);
    if (!grown && n) return false;
    run.tests = grown;
    for (size_t i = 0; i < n; i++) run.tests[run.ntests++] = (test){.dir = dir, .name = names[i]};
    free(names);
    return true;
}

static const char *default_qyv(void)
{
    static char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 5);
    if (n <= 0) return "qyv";
    path[n] = 0;
    char *slash = strrchr(path, '/');
    strcpy(slash ? slash + 1 : path, "qyv");
    return path;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"qyv", required_argument, NULL, 'q'},
        {"jobs", required_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    bool verbose = false;
    run.timeout_s = 60;
    int opt;
    while ((opt = getopt_long(argc, argv, "j:vh", options, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'q': run.qyv = optarg; break;
        case 'j':
            jobs = strtol(optarg, &end, 10);
            if (*end || jobs < 1 || jobs > 256) {
                fprintf(stderr, "wasitest: -j takes a number from 1 to 256\n%s", usage_text);
                return 2;
            }
            break;
        case 't':
            run.timeout_s = (int)strtol(optarg, &end, 10);
            if (*end || run.timeout_s < 1) {
                fprintf(stderr, "wasitest: --timeout takes a number of seconds\n%s", usage_text);
                return 2;
            }
            break;
        case 'v': verbose = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "wasitest: no test directories given\n%s", usage_text);
        return 2;
    }
    if (!run.qyv) run.qyv = default_qyv();
    if (access(run.qyv, X_OK) != 0) {
        fprintf(stderr, "wasitest: cannot run %s: %s (use --qyv PATH)\n", run.qyv, strerror(errno));
        return 2;
    }
    for (int i = optind; i < argc; i++)
        if (!collect(argv[i])) return 2;

    if (jobs < 1) jobs = 1;
    pthread_t threads[256];
    long started = 0;
    for (; started < jobs && (size_t)started < run.ntests; started++)
        if (pthread_create(&threads[started], NULL, worker, NULL) != 0) break;
    if (!started) worker(NULL);
    for (long i = 0; i < started; i++) pthread_join(threads[i], NULL);

    size_t total[3] = {0, 0, 0};
    for (int d = optind; d < argc; d++) {
        size_t count[3] = {0, 0, 0};
        for (size_t i = 0; i < run.ntests; i++) {
            test *t = &run.tests[i];
            if (t->dir != argv[d]) continue;
            count[t->verdict]++;
            if (t->verdict == FAIL) printf("FAIL %s/%s: %s\n", t->dir, t->name, t->detail);
            else if (t->verdict == SKIP) printf("SKIP %s/%s: %s\n", t->dir, t->name, t->detail);
            else if (verbose) printf("PASS %s/%s\n", t->dir, t->name);
        }
        printf("%s: %zu passed, %zu failed, %zu skipped\n", argv[d], count[PASS], count[FAIL], count[SKIP]);
        for (int k = 0; k < 3; k++) total[k] += count[k];
    }
    for (size_t i = 0; i < run.ntests; i++) {
        free(run.tests[i].name);
        free(run.tests[i].detail);
    }
    free(run.tests);
    printf("%zu passed, %zu failed, %zu skipped\n", total[PASS], total[FAIL], total[SKIP]);
    return total[FAIL] == 0 && total[PASS] > 0 ? 0 : 1;
}
