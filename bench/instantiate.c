/*
 * instantiate.c — what a fresh instance per HTTP request costs: the steps
 * `qyv serve` takes for every request (store, WASI context and imports,
 * instantiation, _start, teardown), timed apart over many rounds, through
 * the public APIs only. Usage: instantiate MODULE.wasm [ROUNDS]
 * Prints the median and the 10th/90th percentiles of each step in
 * microseconds and, as the baseline measured in the same run, a process
 * per request the CGI way (fork, the child writes the same answer and
 * exits, wait): the ratio is what isolation costs us next to that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qyvol/wasi.h"
#include "qyvol/wasm.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%-28s median %9.2f us   p10 %9.2f   p90 %9.2f\n", what, v[n / 2], v[n / 10], v[n * 9 / 10]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: instantiate MODULE.wasm [ROUNDS]\n");
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 2000;
    if (rounds < 10) rounds = 10;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static uint8_t buf[16 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    qv_error err;
    qv_module *m = qv_module_new(buf, len, &err);
    if (!m) {
        fprintf(stderr, "%s: %s\n", argv[1], err.message);
        return 1;
    }
    /* As qyv serve does it: the imports resolved once per module. */
    char why[256];
    qv_wasi_pre *pre = qv_wasi_pre_new(m, why, sizeof why);
    if (!pre) {
        fprintf(stderr, "%s: %s\n", argv[1], why);
        return 1;
    }
    double *setup = calloc((size_t)rounds, sizeof(double)), *inst = calloc((size_t)rounds, sizeof(double));
    double *run = calloc((size_t)rounds, sizeof(double)), *teardown = calloc((size_t)rounds, sizeof(double));
    double *total = calloc((size_t)rounds, sizeof(double));
    const char *args[] = {"/hello/world"};
    const char *env[] = {"REQUEST_METHOD=GET", "PATH_INFO=/world", "QUERY_STRING="};
    for (int i = 0; i < rounds; i++) {
        double t0 = now_us();
        qv_store *store = qv_store_new(NULL);
        /* As qyv serve does it: stdio in memory. */
        qv_wasi_config cfg = {.args = args, .nargs = 1, .env = env, .nenv = 3, .stdio_in_memory = true};
        qv_wasi *w = qv_wasi_new(&cfg, why, sizeof why);
        double t1 = now_us();
        qv_trap *trap = NULL;
        qv_instance *in = qv_wasi_pre_instantiate(pre, w, store, &trap, &err);
        double t2 = now_us();
        if (!in) {
            fprintf(stderr, "instantiate: %s\n", err.message);
            return 1;
        }
        int status = qv_wasi_run(w, store, in, &trap);
        double t3 = now_us();
        if (status != 0 || trap) {
            fprintf(stderr, "run failed: status %d\n", status);
            return 1;
        }
        qv_wasi_delete(w);
        qv_store_delete(store);
        double t4 = now_us();
        setup[i] = t1 - t0, inst[i] = t2 - t1, run[i] = t3 - t2, teardown[i] = t4 - t3, total[i] = t4 - t0;
    }
    double *forked = calloc((size_t)rounds, sizeof(double));
    for (int i = 0; i < rounds; i++) {
        int out = memfd_create("out", MFD_CLOEXEC);
        double t0 = now_us();
        pid_t pid = fork();
        if (pid == 0) {
            static const char answer[] = "Content-Type: text/plain\n\nHello from Qyvol! You asked for '/world'.\n";
            _exit(write(out, answer, sizeof answer - 1) < 0);
        }
        int st;
        waitpid(pid, &st, 0);
        forked[i] = now_us() - t0;
        close(out);
    }
    printf("%s, %d rounds\n", argv[1], rounds);
    report("store + WASI context", setup, rounds);
    report("instantiate", inst, rounds);
    report("_start", run, rounds);
    report("teardown", teardown, rounds);
    report("total per request", total, rounds);
    report("baseline: fork + exit", forked, rounds);
    printf("ratio total / baseline: %.2f (below 1: cheaper than a process per request)\n", total[rounds / 2] / forked[rounds / 2]);
    qv_wasi_pre_delete(pre);
    qv_module_delete(m);
    return 0;
}
