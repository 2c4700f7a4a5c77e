/*
 * cmd_run.c — `qyv run [OPTIONS] FILE [--] [ARGS...]`: run a WASI command
 * (a preview 1 module or a WASI 0.2 component), either FILE.wasm configured
 * by the options, or the app described by FILE.qyv (options then add to or
 * override what the manifest says).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "app/app.h"
#include "manifest/units.h"

static const char usage_text[] =
    "usage: qyv run [OPTIONS] FILE [--] [ARGS...]\n"
    "\n"
    "Run a WebAssembly program: FILE is an app manifest (.qyv), a WASI preview 1\n"
    "module or a WASI 0.2 command component (.wasm). ARGS follow the manifest's\n"
    "args.\n"
    "\n"
    "options:\n"
    "  --dir HOST[::GUEST][:ro]  give the guest the host folder HOST, seen as GUEST\n"
    "                            (default: HOST); ':ro' makes it read-only\n"
    "  --env KEY=VALUE           set a guest environment variable (the guest sees\n"
    "                            only these and the manifest's env)\n"
    "  --timeout DURATION        stop the program after e.g. 30s, 500ms, 1m\n"
    "                            (default: the manifest's timeout, else none)\n"
    "  --memory SIZE             cap its linear memory, e.g. 64MiB, 1G\n"
    "  --fuel N                  stop it after N loop iterations and calls\n"
    "  -h, --help                print this help\n"
    "\n"
    "exit status: the program's own exit status; 124 it timed out; 125 qyv could\n"
    "not start it (bad usage, unreadable or invalid file, missing import); 126 the\n"
    "manifest asks for a permission that cannot be granted; 134 it trapped (the\n"
    "trap and its WebAssembly backtrace are printed on stderr).\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("run", "qyv run [OPTIONS] FILE [--] [ARGS...]", QYV_EXIT_CANNOT_RUN, fmt, arg);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* HOST[::GUEST][:ro] */
static bool add_dir_option(run_config *rc, const char *spec)
{
    char *s = strdup(spec);
    if (!s) return false;
    unsigned access = QV_WASI_READ | QV_WASI_WRITE;
    size_t n = strlen(s);
    if (n > 3 && !strcmp(s + n - 3, ":ro")) {
        s[n - 3] = 0;
        access = QV_WASI_READ;
    }
    char *sep = strstr(s, "::");
    char *guest = sep ? strdup(sep + 2) : strdup(s);
    if (sep) *sep = 0;
    if (!guest) {
        free(s);
        return false;
    }
    return run_add_preopen(rc, s, guest, access, NULL, 0);
}

typedef struct cli_options {
    char **dirs;
    size_t ndirs;
    char **envs;
    size_t nenvs;
    const char *timeout, *memory, *fuel;
} cli_options;

static bool push(char ***list, size_t *n, char *s)
{
    char **grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown) return false;
    grown[(*n)++] = s;
    *list = grown;
    return true;
}

int cmd_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"dir", required_argument, NULL, 'd'},
        {"env", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 't'},
        {"memory", required_argument, NULL, 'm'},
        {"fuel", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* A reader that goes away (`qyv run app | head -c10`) must not kill
     * us: the guest's write gets EPIPE, as a native program's would with
     * SIGPIPE ignored, and decides what to do. */
    signal(SIGPIPE, SIG_IGN);
    cli_options o = {0};
    run_config rc = {.fuel = -1};
    int status = QYV_EXIT_CANNOT_RUN;
    /* Options may come before or after FILE; the first non-option is FILE
     * and everything after it that is not an option, or after "--", is for
     * the guest. */
    const char *file = NULL;
    char **guest_args = NULL;
    size_t nguest = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int opt = getopt_long(argc, argv, "+:h", options, NULL);
        if (opt == -1) {
            if (optind >= argc) break;
            if (!strcmp(argv[optind - 1], "--") && optind > 1) {
                /* getopt consumed "--": the rest is the guest's. */
                if (!file) file = argv[optind++];
                while (optind < argc) push(&guest_args, &nguest, argv[optind++]);
                break;
            }
            if (!file) file = argv[optind];
            else push(&guest_args, &nguest, argv[optind]);
            optind++;
            continue;
        }
        switch (opt) {
        case 'd': push(&o.dirs, &o.ndirs, optarg); break;
        case 'e':
            if (!strchr(optarg, '=') || optarg[0] == '=') {
                status = usage_error("--env takes KEY=VALUE, not '%s'", optarg);
                goto out;
            }
            push(&o.envs, &o.nenvs, optarg);
            break;
        case 't': o.timeout = optarg; break;
        case 'm': o.memory = optarg; break;
        case 'f': o.fuel = optarg; break;
        case 'h':
            fputs(usage_text, stdout);
            status = QYV_EXIT_OK;
            goto out;
        default:
            cli_option_error("run", opt, argv, optind);
            fputs("usage: qyv run [OPTIONS] FILE [--] [ARGS...]  (qyv run --help for more)\n", stderr);
            status = QYV_EXIT_CANNOT_RUN;
            goto out;
        }
    }
    if (!file) {
        status = usage_error("%s", "no program given: name an app.qyv or a module.wasm");
        goto out;
    }
    rc.label = strdup(file);
    if (ends_with(file, ".qyv") || ends_with(file, ".yaml") || ends_with(file, ".yml")) {
        app_error why;
        status = run_from_manifest(&rc, file, &why);
        for (size_t i = 0; i < rc.nwarnings; i++) fprintf(stderr, "%s\n", rc.warnings[i]);
        if (status != 0) {
            /* Manifest mistakes already start with FILE:LINE:COLUMN. */
            fprintf(stderr, "%s%s\n", strncmp(why.text, file, strlen(file)) ? "qyv run: " : "", why.text);
            goto out;
        }
        status = QYV_EXIT_CANNOT_RUN;
        if (rc.http)
            fprintf(stderr, "qyv run: %s is an http app (type: http); running it once as a command, "
                            "with no request (`qyv serve` serves it)\n", file);
    } else {
        const char *base = strrchr(file, '/');
        rc.module_path = strdup(file);
        if (!rc.module_path || !run_add_arg(&rc, base ? base + 1 : file)) goto nomem;
    }
    for (size_t i = 0; i < nguest; i++)
        if (!run_add_arg(&rc, guest_args[i])) goto nomem;
    for (size_t i = 0; i < o.nenvs; i++)
        if (!run_set_env(&rc, o.envs[i])) goto nomem;
    for (size_t i = 0; i < o.ndirs; i++)
        if (!add_dir_option(&rc, o.dirs[i])) goto nomem;
    char why[160];
    if (o.timeout) {
        if (!qv_parse_duration(o.timeout, &rc.timeout_ms, why, sizeof why)) {
            fprintf(stderr, "qyv run: --timeout '%s' %s\n", o.timeout, why);
            goto out;
        }
    }
    if (o.memory) {
        if (!qv_parse_size(o.memory, &rc.memory_bytes, why, sizeof why)) {
            fprintf(stderr, "qyv run: --memory '%s' %s\n", o.memory, why);
            goto out;
        }
        if (rc.memory_bytes < 65536) {
            fprintf(stderr, "qyv run: --memory '%s' is less than one 64KiB WebAssembly page\n", o.memory);
            goto out;
        }
    }
    if (o.fuel) {
        char *end;
        errno = 0;
        long long v = strtoll(o.fuel, &end, 10);
        if (errno || *end || end == o.fuel || v < 0) {
            fprintf(stderr, "qyv run: --fuel takes a whole number, not '%s'\n", o.fuel);
            goto out;
        }
        rc.fuel = v;
    }
    status = run_module(&rc, getenv("QYVOL_WASI_NO_OPENAT2") != NULL);
    goto out;
nomem:
    fprintf(stderr, "qyv run: out of memory\n");
    status = QYV_EXIT_CANNOT_RUN;
out:
    if (rc.scratch) run_scratch_remove(rc.scratch);
    run_config_free(&rc);
    free(o.dirs);
    free(o.envs);
    free(guest_args);
    return status;
}
