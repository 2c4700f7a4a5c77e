/*
 * cmd_invoke.c — `qyv invoke MODULE.wasm FUNC [ARGS...]`: instantiate a
 * module that has no imports, call one exported function with arguments
 * parsed by its parameter types, and print the results one per line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "manifest/units.h"

static const char usage_text[] =
    "usage: qyv invoke [--fuel N] [--max-memory-pages N] [--memory SIZE] MODULE.wasm FUNC [ARGS...]\n";

static int usage_error(const char *msg)
{
    if (msg) fprintf(stderr, "qyv invoke: %s\n", msg);
    fputs(usage_text, stderr);
    return QYV_EXIT_USAGE;
}

static bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return !errno && *s >= '0' && *s <= '9' && !*end && *out <= max;
}

typedef struct invoke_options {
    long long fuel; /* negative: unlimited */
    qv_store_limits limits;
} invoke_options;

/* Returns -1 when the options are fine, else the exit status. */
static int parse_options(int argc, char **argv, invoke_options *o)
{
    static const struct option options[] = {
        {"fuel", required_argument, NULL, 'f'},
        {"max-memory-pages", required_argument, NULL, 'm'},
        {"memory", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    /* '+': stop at MODULE.wasm so that FUNC's arguments may be negative. */
    while ((opt = getopt_long(argc, argv, "+:h", options, NULL)) != -1) {
        unsigned long long v;
        switch (opt) {
        case 'f':
            if (!parse_count(optarg, INT64_MAX, &v)) return usage_error("--fuel takes a whole number");
            o->fuel = (long long)v;
            break;
        case 'm':
            if (!parse_count(optarg, 65536, &v) || v == 0)
                return usage_error("--max-memory-pages takes a number from 1 to 65536");
            o->limits.max_memory_pages = (uint32_t)v;
            break;
        case 'M': {
            /* The instance's whole budget: memory, tables, globals... */
            char why[160] = "is less than one 64KiB page";
            uint64_t bytes = 0;
            if (!qv_parse_size(optarg, &bytes, why, sizeof why) || bytes < 65536) {
                fprintf(stderr, "qyv invoke: --memory '%s' %s\n", optarg, why);
                return usage_error(NULL);
            }
            uint32_t pages = bytes / 65536 > 65536 ? 65536 : (uint32_t)(bytes / 65536);
            if (!o->limits.max_memory_pages || pages < o->limits.max_memory_pages) o->limits.max_memory_pages = pages;
            o->limits.max_bytes = bytes;
            break;
        }
        case 'h':
            fputs(usage_text, stdout);
            return QYV_EXIT_OK;
        default:
            cli_option_error("invoke", opt, argv, optind);
            return usage_error(NULL);
        }
    }
    return -1;
}

/* Call `func` with the command-line arguments and print its results. */
static int call_and_print(qv_store *store, qv_func *func, const char *fname, char **args, int nargs)
{
    qv_functype type = qv_func_type(func);
    if ((uint32_t)nargs != type.nparams) {
        fprintf(stderr, "qyv: %s takes %u argument%s, %d given\n", fname, type.nparams,
                type.nparams == 1 ? "" : "s", nargs);
        return QYV_EXIT_USAGE;
    }
    qv_val *vals = calloc((size_t)type.nparams + type.nresults + 1, sizeof *vals);
    if (!vals) {
        fprintf(stderr, "qyv: out of memory\n");
        return QYV_EXIT_FAILURE;
    }
    for (uint32_t i = 0; i < type.nparams; i++) {
        if (!cli_parse_val(args[i], type.types[i], &vals[i])) {
            fprintf(stderr, "qyv: argument %u ('%s') is not a valid %s\n", i + 1, args[i],
                    qv_valtype_name(type.types[i]));
            free(vals);
            return QYV_EXIT_USAGE;
        }
    }
    qv_val *results = vals + type.nparams;
    qv_trap *trap = qv_func_call(store, func, vals, type.nparams, results, type.nresults);
    int status = QYV_EXIT_OK;
    if (trap) {
        cli_print_trap(trap);
        qv_trap_delete(trap);
        status = QYV_EXIT_TRAP;
    } else {
        for (uint32_t i = 0; i < type.nresults; i++) cli_print_val(stdout, &results[i]);
    }
    free(vals);
    return status;
}

static void report_first_import(const char *path, const qv_module *module)
{
    static const char *const kinds[] = {"function", "table", "memory", "global"};
    const char *mod, *name;
    qv_externkind kind;
    qv_module_import(module, 0, &mod, &name, &kind);
    fprintf(stderr, "qyv: %s imports %s %s.%s, but invoke provides no imports (it runs only "
            "self-contained modules)\n", path, (unsigned)kind < 4 ? kinds[kind] : "extern", mod, name);
}

int cmd_invoke(int argc, char **argv)
{
    invoke_options o = {.fuel = -1};
    int status = parse_options(argc, argv, &o);
    if (status >= 0) return status;
    if (argc - optind < 2) return usage_error("a module and a function name are required");
    const char *path = argv[optind], *fname = argv[optind + 1];

    size_t len;
    uint8_t *bytes = cli_read_file(path, &len);
    if (!bytes) return QYV_EXIT_FAILURE;
    qv_error err;
    qv_module *module = qv_module_new(bytes, len, &err);
    free(bytes);
    if (!module) {
        fprintf(stderr, "qyv: %s: error at offset 0x%zx: %s", path, err.offset, err.message);
        if (err.func_index >= 0) fprintf(stderr, " (func %lld)", (long long)err.func_index);
        fputc('\n', stderr);
        return QYV_EXIT_FAILURE;
    }
    status = QYV_EXIT_FAILURE;
    qv_store *store = NULL;
    if (qv_module_import_count(module) > 0) {
        report_first_import(path, module);
        goto out;
    }
    store = qv_store_new(&o.limits);
    if (!store) {
        fprintf(stderr, "qyv: out of memory\n");
        goto out;
    }
    if (o.fuel >= 0) qv_store_set_fuel(store, o.fuel);
    qv_trap *trap = NULL;
    qv_instance *inst = qv_instance_new(store, module, NULL, 0, &trap, &err);
    if (!inst) {
        if (trap) {
            cli_print_trap(trap);
            qv_trap_delete(trap);
            status = QYV_EXIT_TRAP;
        } else {
            fprintf(stderr, "qyv: %s: cannot instantiate: %s\n", path, err.message);
        }
        goto out;
    }
    qv_extern ext;
    if (!qv_instance_export(inst, fname, &ext)) {
        fprintf(stderr, "qyv: %s has no export named '%s'\n", path, fname);
        goto out;
    }
    if (ext.kind != QV_EXTERN_FUNC) {
        fprintf(stderr, "qyv: %s: export '%s' is not a function\n", path, fname);
        goto out;
    }
    status = call_and_print(store, ext.of.func, fname, argv + optind + 2, argc - optind - 2);
out:
    qv_store_delete(store);
    qv_module_delete(module);
    return status;
}
