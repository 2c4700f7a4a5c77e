/*
 * runner.c — run a benchmark kernel on Qyvol's engine through the public API
 * (include/qyvol/wasm.h) only.
 *
 *   runner FILE.wasm [N]     load, instantiate, call the export run(N) (i32 -> i32)
 *                            and print:
 *                                load <s>          qv_module_new
 *                                instantiate <s>   qv_store_new + qv_instance_new
 *                                time <s>          the call of run
 *                                cpu <s>           its CPU time
 *                                checksum <int32>
 *   runner --load-only FILE  time qv_module_new on FILE (best of 5) and print
 *                                size <bytes>
 *                                load <s>
 *
 * Exit status: 0 on success, 1 on any error or trap (message on stderr).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "qyvol/wasm.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the process: on a shared machine, what the call cost without
 * the time it waited for a CPU. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *p = realloc(data, cap);
            if (!p) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(data);
                fclose(f);
                return NULL;
            }
            data = p;
        }
        size_t got = fread(data + size, 1, cap - size, f);
        size += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        perror(path);
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = size;
    return data;
}

static void print_error(const char *what, const qv_error *err)
{
    fprintf(stderr, "%s: %s", what, err->message);
    if (err->offset)
        fprintf(stderr, " (at byte offset %zu)", err->offset);
    if (err->func_index >= 0)
        fprintf(stderr, " (in function %lld)", (long long)err->func_index);
    fputc('\n', stderr);
}

static void print_trap(qv_trap *trap)
{
    fprintf(stderr, "trap: %s\n", qv_trap_message(trap));
    size_t frames = qv_trap_frame_count(trap);
    for (size_t i = 0; i < frames; i++) {
        qv_frame fr = qv_trap_frame(trap, i);
        fprintf(stderr, "  #%zu func %u %s\n", i, fr.func_index, fr.func_name ? fr.func_name : "");
    }
    qv_trap_delete(trap);
}

static int load_only(const char *path)
{
    size_t len;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes)
        return 1;
    double best = -1.0;
    for (int i = 0; i < 5; i++) {
        qv_error err = {.func_index = -1};
        double t0 = now();
        qv_module *m = qv_module_new(bytes, len, &err);
        double t = now() - t0;
        if (!m) {
            print_error(path, &err);
            free(bytes);
            return 1;
        }
        qv_module_delete(m);
        if (best < 0 || t < best)
            best = t;
    }
    free(bytes);
    printf("size %zu\nload %.6f\n", len, best);
    return 0;
}

static int run_kernel(const char *path, int32_t n)
{
    size_t len;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes)
        return 1;
    int status = 1;
    qv_error err = {.func_index = -1};
    double t0 = now();
    qv_module *module = qv_module_new(bytes, len, &err);
    double t_load = now() - t0;
    free(bytes);
    if (!module) {
        print_error(path, &err);
        return 1;
    }
    if (qv_module_import_count(module) != 0) {
        const char *mod, *name;
        qv_externkind kind;
        qv_module_import(module, 0, &mod, &name, &kind);
        fprintf(stderr, "%s: the kernel must have no imports (imports %s.%s)\n", path, mod, name);
        qv_module_delete(module);
        return 1;
    }

    t0 = now();
    qv_store *store = qv_store_new(NULL);
    qv_trap *trap = NULL;
    qv_instance *inst = store ? qv_instance_new(store, module, NULL, 0, &trap, &err) : NULL;
    double t_inst = now() - t0;
    if (!inst) {
        if (trap)
            print_trap(trap);
        else if (!store)
            fprintf(stderr, "%s: cannot create a store\n", path);
        else
            print_error(path, &err);
        goto out;
    }

    qv_extern ext;
    if (!qv_instance_export(inst, "run", &ext) || ext.kind != QV_EXTERN_FUNC) {
        fprintf(stderr, "%s: no exported function \"run\"\n", path);
        goto out;
    }
    qv_functype ty = qv_func_type(ext.of.func);
    if (ty.nparams != 1 || ty.nresults != 1 || ty.types[0] != QV_I32 || ty.types[1] != QV_I32) {
        fprintf(stderr, "%s: run must have type (i32) -> i32\n", path);
        goto out;
    }

    qv_val arg = qv_i32(n);
    qv_val result = qv_i32(0);
    t0 = now();
    double c0 = cpu_now();
    trap = qv_func_call(store, ext.of.func, &arg, 1, &result, 1);
    double t_call = now() - t0, c_call = cpu_now() - c0;
    if (trap) {
        print_trap(trap);
        goto out;
    }
    printf("load %.6f\ninstantiate %.6f\ntime %.6f\ncpu %.6f\nchecksum %ld\n", t_load, t_inst, t_call,
           c_call, (long)result.of.i32);
    status = 0;
out:
    if (store)
        qv_store_delete(store);
    qv_module_delete(module);
    return status;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s FILE.wasm [N]       call run(N) and time it (N defaults to 1)\n"
            "       %s --load-only FILE    time qv_module_new (best of 5)\n",
            argv0, argv0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--load-only") == 0)
        return load_only(argv[2]);
    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        usage(argv[0]);
        return 2;
    }
    char *end;
    long n = argc == 3 ? strtol(argv[2], &end, 0) : 1;
    if (argc == 3 && (*end || n < INT32_MIN || n > INT32_MAX)) {
        fprintf(stderr, "%s: bad N: %s\n", argv[0], argv[2]);
        return 2;
    }
    return run_kernel(argv[1], (int32_t)n);
}
