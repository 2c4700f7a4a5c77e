/*
 * cmd_invoke.c — `qyv invoke MODULE.wasm FUNC [ARGS...]`: instantiate a
 * module that has no imports, call one exported function with arguments
 * parsed by its parameter types, and print the results one per line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qyvol/wasm.h"

static bool parse_arg(const char *s, qv_valtype type, qv_val *out)
{
    char *end;
    errno = 0;
    out->type = type;
    switch (type) {
    case QV_I32: {
        long long v = strtoll(s, &end, 0);
        if (errno || *end || v < INT32_MIN || v > UINT32_MAX) return false;
        out->of.i32 = (int32_t)(uint32_t)v;
        return true;
    }
    case QV_I64: {
        if (s[0] == '-') {
            out->of.i64 = strtoll(s, &end, 0);
        } else {
            out->of.i64 = (int64_t)strtoull(s, &end, 0);
        }
        return !errno && !*end;
    }
    case QV_F32: {
        float f = strtof(s, &end);
        memcpy(&out->of.f32_bits, &f, 4);
        return *end == 0;
    }
    case QV_F64: {
        double d = strtod(s, &end);
        memcpy(&out->of.f64_bits, &d, 8);
        return *end == 0;
    }
    default:
        return false;
    }
}

static void print_result(const qv_val *v)
{
    switch (v->type) {
    case QV_I32: printf("%" PRId32 "\n", v->of.i32); break;
    case QV_I64: printf("%" PRId64 "\n", v->of.i64); break;
    case QV_F32:
        if (isnan(v->of.f32)) printf("nan (0x%08" PRIx32 ")\n", v->of.f32_bits);
        else printf("%.9g\n", (double)v->of.f32);
        break;
    case QV_F64:
        if (isnan(v->of.f64)) printf("nan (0x%016" PRIx64 ")\n", v->of.f64_bits);
        else printf("%.17g\n", v->of.f64);
        break;
    case QV_FUNCREF: printf(v->of.funcref ? "funcref\n" : "null\n"); break;
    case QV_EXTERNREF: printf(v->of.externref ? "externref\n" : "null\n"); break;
    default: printf("%s\n", qv_valtype_name(v->type)); break;
    }
}

static void print_trap(const qv_trap *trap)
{
    fprintf(stderr, "trap: %s\n", qv_trap_message(trap));
    for (size_t i = 0; i < qv_trap_frame_count(trap); i++) {
        qv_frame f = qv_trap_frame(trap, i);
        fprintf(stderr, "  at %s (func %" PRIu32 ")\n", f.func_name ? f.func_name : "<unnamed>", f.func_index);
    }
}

static int usage_error(const char *msg)
{
    if (msg) fprintf(stderr, "qyv invoke: %s\n", msg);
    fprintf(stderr, "usage: qyv invoke [--fuel N] [--max-memory-pages N] MODULE.wasm FUNC [ARGS...]\n");
    return QYV_EXIT_USAGE;
}

static bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return !errno && !*end && *s && *s != '-' && *out <= max;
}

int cmd_invoke(int argc, char **argv)
{
    static const struct option options[] = {
        {"fuel", required_argument, NULL, 'f'},
        {"max-memory-pages", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long fuel = -1;
    qv_store_limits limits = {0};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        unsigned long long v;
        switch (opt) {
        case 'f':
            if (!parse_count(optarg, INT64_MAX, &v)) return usage_error("--fuel takes a whole number");
            fuel = (long long)v;
            break;
        case 'm':
            if (!parse_count(optarg, 65536, &v) || v == 0)
                return usage_error("--max-memory-pages takes a number from 1 to 65536");
            limits.max_memory_pages = (uint32_t)v;
            break;
        case 'h': usage_error(NULL); return QYV_EXIT_OK;
        default: return usage_error(NULL);
        }
    }
    if (argc - optind < 2) return usage_error("a module and a function name are required");
    const char *path = argv[optind], *fname = argv[optind + 1];
    char **args = argv + optind + 2;
    int nargs = argc - optind - 2;

    size_t len;
    uint8_t *bytes = cli_read_file(path, &len);
    if (!bytes) return QYV_EXIT_FAILURE;
    qv_error err;
    qv_module *module = qv_module_new(bytes, len, &err);
    free(bytes);
    if (!module) {
        fprintf(stderr, "qyv: %s: invalid module at offset 0x%zx: %s\n", path, err.offset, err.message);
        return QYV_EXIT_FAILURE;
    }
    int status = QYV_EXIT_FAILURE;
    qv_store *store = qv_store_new(&limits);
    qv_trap *trap = NULL;
    qv_instance *inst = NULL;
    if (!store) {
        fprintf(stderr, "qyv: out of memory\n");
        goto out;
    }
    if (qv_module_import_count(module) > 0) {
        const char *mod, *name;
        qv_module_import(module, 0, &mod, &name, NULL);
        fprintf(stderr, "qyv: %s imports %s.%s; invoke runs only modules without imports\n", path, mod, name);
        goto out;
    }
    if (fuel >= 0) qv_store_set_fuel(store, fuel);
    inst = qv_instance_new(store, module, NULL, 0, &trap, &err);
    if (!inst) {
        if (trap) {
            print_trap(trap);
            status = QYV_EXIT_TRAP;
        } else {
            fprintf(stderr, "qyv: %s: cannot instantiate: %s\n", path, err.message);
        }
        goto out;
    }
    qv_extern ext;
    if (!qv_instance_export(inst, fname, &ext) || ext.kind != QV_EXTERN_FUNC) {
        fprintf(stderr, "qyv: %s has no exported function '%s'\n", path, fname);
        goto out;
    }
    qv_functype type = qv_func_type(ext.of.func);
    if ((uint32_t)nargs != type.nparams) {
        fprintf(stderr, "qyv: %s takes %u argument%s, %d given\n", fname, type.nparams,
                type.nparams == 1 ? "" : "s", nargs);
        status = QYV_EXIT_USAGE;
        goto out;
    }
    qv_val *vals = calloc(type.nparams + type.nresults + 1, sizeof *vals);
    if (!vals) goto out;
    for (uint32_t i = 0; i < type.nparams; i++) {
        if (!parse_arg(args[i], type.types[i], &vals[i])) {
            fprintf(stderr, "qyv: argument %u ('%s') is not a valid %s\n", i + 1, args[i],
                    qv_valtype_name(type.types[i]));
            free(vals);
            status = QYV_EXIT_USAGE;
            goto out;
        }
    }
    qv_val *results = vals + type.nparams;
    trap = qv_func_call(store, ext.of.func, vals, type.nparams, results, type.nresults);
    if (trap) {
        print_trap(trap);
        status = QYV_EXIT_TRAP;
    } else {
        for (uint32_t i = 0; i < type.nresults; i++) print_result(&results[i]);
        status = QYV_EXIT_OK;
    }
    free(vals);
out:
    qv_trap_delete(trap);
    qv_store_delete(store);
    qv_module_delete(module);
    return status;
}
