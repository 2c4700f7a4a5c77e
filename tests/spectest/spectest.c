/*
 * spectest.c — runs the official WebAssembly spec tests (wabt's JSON
 * form) against the engine through the public API only.
 *
 *   spectest [-v] [--filter SUBSTR] [--no-fork] FILE.json...
 *
 * Each file runs in its own store, by default in a child process so that a
 * crash or hang in one file is reported and the others still run. Output:
 * one line per failure (FILE:LINE: ...), a count line per file, and a last
 * line "N passed, N failed, N skipped".
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "qyvol/wasm.h"
#include "values.h"

#define FILE_TIMEOUT_SECONDS 120
#define MAX_RESULTS 64

typedef struct counts { unsigned passed, failed, skipped; } counts;

typedef struct named { char *name; qv_instance *inst; } named;

typedef struct script {
    const char *path;
    char dir[4096];
    bool verbose;
    qv_store *store;
    qv_linker *linker;
    qv_instance *current;
    named *names;
    size_t nnames;
    qv_module **modules;
    size_t nmodules;
    counts c;
    int progress_fd;             /* child → parent counts, or -1 */
    const char *filter;
} script;

static void report_progress(script *s)
{
    if (s->progress_fd >= 0) {
        ssize_t w = write(s->progress_fd, &s->c, sizeof s->c);
        (void)w;
    }
}

static void failf(script *s, int line, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void failf(script *s, int line, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s:%d: %s: ", s->path, line, cmd);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    s->c.failed++;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Compile a module file of the script; NULL with err filled on failure. */
static qv_module *compile(script *s, const char *filename, qv_error *err)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", s->dir, filename);
    size_t len;
    uint8_t *bytes = read_file(path, &len);
    if (!bytes) {
        snprintf(err->message, sizeof err->message, "cannot read %.160s: %s", path, strerror(errno));
        return NULL;
    }
    qv_module *m = qv_module_new(bytes, len, err);
    free(bytes);
    if (m) {
        s->modules = realloc(s->modules, sizeof *s->modules * (s->nmodules + 1));
        s->modules[s->nmodules++] = m;
    }
    return m;
}

static qv_instance *lookup(script *s, json_t *name)
{
    const char *n = json_string_value(name);
    if (!n) return s->current;
    for (size_t i = s->nnames; i-- > 0;)
        if (strcmp(s->names[i].name, n) == 0) return s->names[i].inst;
    return NULL;
}

/* Run an action. Returns 1 on success (results filled), 0 on a trap
 * (*trap set), -1 if the action itself could not be performed (reported),
 * -2 if it uses unsupported values (skipped). */
static int perform(script *s, int line, const char *cmd, json_t *action, qv_val *results, size_t *nresults,
                   qv_trap **trap)
{
    *trap = NULL;
    const char *type = json_string_value(json_object_get(action, "type"));
    json_t *jfield = json_object_get(action, "field");
    const char *field = json_string_value(jfield);
    qv_instance *inst = lookup(s, json_object_get(action, "module"));
    if (!inst || !field || !type) {
        failf(s, line, cmd, "no module instance for the action");
        return -1;
    }
    qv_extern ext;
    if (!qv_instance_export_bytes(inst, field, json_string_length(jfield), &ext)) {
        failf(s, line, cmd, "no export named \"%s\"", field);
        return -1;
    }
    if (strcmp(type, "get") == 0) {
        if (ext.kind != QV_EXTERN_GLOBAL) {
            failf(s, line, cmd, "export \"%s\" is not a global", field);
            return -1;
        }
        results[0] = qv_global_get(ext.of.global);
        *nresults = 1;
        return 1;
    }
    if (ext.kind != QV_EXTERN_FUNC) {
        failf(s, line, cmd, "export \"%s\" is not a function", field);
        return -1;
    }
    json_t *jargs = json_object_get(action, "args");
    size_t nargs = json_array_size(jargs);
    qv_val args[MAX_RESULTS];
    if (nargs > MAX_RESULTS) return -2;
    for (size_t i = 0; i < nargs; i++) {
        bool unsupported;
        if (!spec_parse_value(json_array_get(jargs, i), &args[i], &unsupported)) {
            if (unsupported) return -2;
            failf(s, line, cmd, "cannot parse argument %zu", i);
            return -1;
        }
    }
    qv_functype ft = qv_func_type(ext.of.func);
    if (ft.nresults > MAX_RESULTS) return -2;
    *nresults = ft.nresults;
    *trap = qv_func_call(s->store, ext.of.func, args, nargs, results, ft.nresults);
    return *trap ? 0 : 1;
}

static bool has_v128(json_t *values)
{
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        const char *t = json_string_value(json_object_get(v, "type"));
        if (t && strcmp(t, "v128") == 0) return true;
    }
    return false;
}

static void cmd_module(script *s, int line, json_t *cmd)
{
    qv_error err = {0};
    const char *filename = json_string_value(json_object_get(cmd, "filename"));
    qv_module *m = filename ? compile(s, filename, &err) : NULL;
    if (!m) {
        failf(s, line, "module", "%s failed to compile: %s (offset %zu)", filename ? filename : "?", err.message,
              err.offset);
        s->current = NULL;
        return;
    }
    qv_trap *trap = NULL;
    qv_instance *inst = qv_linker_instantiate(s->linker, m, &trap, &err);
    if (!inst) {
        failf(s, line, "module", "%s failed to instantiate: %s", filename, trap ? qv_trap_message(trap) : err.message);
        qv_trap_delete(trap);
        s->current = NULL;
        return;
    }
    s->current = inst;
    const char *name = json_string_value(json_object_get(cmd, "name"));
    if (name) {
        s->names = realloc(s->names, sizeof *s->names * (s->nnames + 1));
        s->names[s->nnames].name = strdup(name);
        s->names[s->nnames++].inst = inst;
    }
    s->c.passed++;
}

static void cmd_register(script *s, int line, json_t *cmd)
{
    qv_instance *inst = lookup(s, json_object_get(cmd, "name"));
    const char *as = json_string_value(json_object_get(cmd, "as"));
    if (!inst || !as) {
        failf(s, line, "register", "no module to register");
        return;
    }
    qv_linker_define_instance(s->linker, as, inst);
    s->c.passed++;
}

static void cmd_return(script *s, int line, const char *name, json_t *cmd)
{
    json_t *expected = json_object_get(cmd, "expected");
    json_t *action = json_object_get(cmd, "action");
    if (has_v128(expected) || has_v128(json_object_get(action, "args"))) {
        s->c.skipped++;
        return;
    }
    qv_val results[MAX_RESULTS];
    size_t n = 0;
    qv_trap *trap;
    int r = perform(s, line, name, action, results, &n, &trap);
    if (r == -2) {
        s->c.skipped++;
        return;
    }
    if (r < 0) return;
    if (r == 0) {
        failf(s, line, name, "unexpected trap: %s", qv_trap_message(trap));
        qv_trap_delete(trap);
        return;
    }
    size_t nexp = json_array_size(expected);
    if (expected && nexp != n) {
        failf(s, line, name, "expected %zu results, got %zu", nexp, n);
        return;
    }
    for (size_t i = 0; i < nexp; i++) {
        json_t *e = json_array_get(expected, i);
        if (!spec_value_matches(e, &results[i])) {
            char got[96];
            spec_format_value(&results[i], got, sizeof got);
            failf(s, line, name, "result %zu: expected %s:%s, got %s", i,
                  json_string_value(json_object_get(e, "type")), json_string_value(json_object_get(e, "value")),
                  got);
            return;
        }
    }
    s->c.passed++;
}

static void cmd_trap(script *s, int line, const char *name, json_t *cmd, bool exhaustion)
{
    const char *text = json_string_value(json_object_get(cmd, "text"));
    qv_val results[MAX_RESULTS];
    size_t n;
    qv_trap *trap;
    int r = perform(s, line, name, json_object_get(cmd, "action"), results, &n, &trap);
    if (r == -2) {
        s->c.skipped++;
        return;
    }
    if (r < 0) return;
    if (r == 1) {
        failf(s, line, name, "expected trap \"%s\", but the call returned", text ? text : "");
        return;
    }
    if (exhaustion && qv_trap_kind_of(trap) != QV_TRAP_STACK_EXHAUSTED) {
        failf(s, line, name, "expected stack exhaustion, got trap \"%s\"", qv_trap_message(trap));
    } else {
        if (s->verbose && text && !strstr(qv_trap_message(trap), text))
            printf("%s:%d: note: trap message \"%s\", expected \"%s\"\n", s->path, line, qv_trap_message(trap),
                   text);
        s->c.passed++;
    }
    qv_trap_delete(trap);
}

static void cmd_reject(script *s, int line, const char *name, json_t *cmd)
{
    const char *mtype = json_string_value(json_object_get(cmd, "module_type"));
    if (mtype && strcmp(mtype, "text") == 0) {
        s->c.skipped++; /* the text format is not ours to parse */
        return;
    }
    qv_error err = {0};
    const char *filename = json_string_value(json_object_get(cmd, "filename"));
    qv_module *m = compile(s, filename ? filename : "", &err);
    if (m) {
        failf(s, line, name, "%s should have been rejected (expected: %s)", filename,
              json_string_value(json_object_get(cmd, "text")));
        return;
    }
    s->c.passed++;
}

static void cmd_instantiate_fails(script *s, int line, const char *name, json_t *cmd, bool want_trap)
{
    qv_error err = {0};
    const char *filename = json_string_value(json_object_get(cmd, "filename"));
    qv_module *m = compile(s, filename ? filename : "", &err);
    if (!m) {
        failf(s, line, name, "%s failed to compile: %s", filename, err.message);
        return;
    }
    qv_trap *trap = NULL;
    qv_instance *inst = qv_linker_instantiate(s->linker, m, &trap, &err);
    if (inst) {
        failf(s, line, name, "instantiation should have failed (expected: %s)",
              json_string_value(json_object_get(cmd, "text")));
    } else if (want_trap != (trap != NULL)) {
        failf(s, line, name, "expected %s, got %s: %s", want_trap ? "a trap" : "a link error",
              trap ? "a trap" : "a link error", trap ? qv_trap_message(trap) : err.message);
    } else {
        s->c.passed++;
    }
    qv_trap_delete(trap);
}

static void run_command(script *s, json_t *cmd)
{
    const char *type = json_string_value(json_object_get(cmd, "type"));
    int line = (int)json_integer_value(json_object_get(cmd, "line"));
    if (!type) {
        failf(s, line, "?", "command without a type");
    } else if (strcmp(type, "module") == 0) {
        cmd_module(s, line, cmd);
    } else if (strcmp(type, "register") == 0) {
        cmd_register(s, line, cmd);
    } else if (strcmp(type, "assert_return") == 0 || strcmp(type, "action") == 0) {
        cmd_return(s, line, type, cmd);
    } else if (strcmp(type, "assert_trap") == 0) {
        cmd_trap(s, line, type, cmd, false);
    } else if (strcmp(type, "assert_exhaustion") == 0) {
        cmd_trap(s, line, type, cmd, true);
    } else if (strcmp(type, "assert_invalid") == 0 || strcmp(type, "assert_malformed") == 0) {
        cmd_reject(s, line, type, cmd);
    } else if (strcmp(type, "assert_unlinkable") == 0) {
        cmd_instantiate_fails(s, line, type, cmd, false);
    } else if (strcmp(type, "assert_uninstantiable") == 0) {
        cmd_instantiate_fails(s, line, type, cmd, true);
    } else {
        failf(s, line, type, "unknown command type");
    }
}

static counts run_script(const char *path, bool verbose, int progress_fd)
{
    script s = {.path = path, .verbose = verbose, .progress_fd = progress_fd};
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(s.dir, sizeof s.dir, "%s", dirname(tmp));
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        printf("%s:%d: cannot parse JSON: %s\n", path, jerr.line, jerr.text);
        s.c.failed++;
        return s.c;
    }
    s.store = qv_store_new(NULL);
    s.linker = s.store ? qv_linker_new(s.store) : NULL;
    if (!s.linker || !spec_define_host(s.linker, s.store, verbose)) {
        printf("%s: cannot set up the store\n", path);
        s.c.failed++;
    } else {
        size_t i;
        json_t *cmd;
        json_array_foreach(json_object_get(root, "commands"), i, cmd) {
            run_command(&s, cmd);
            report_progress(&s);
        }
    }
    qv_linker_delete(s.linker);
    qv_store_delete(s.store);
    for (size_t i = 0; i < s.nmodules; i++) qv_module_delete(s.modules[i]);
    free(s.modules);
    for (size_t i = 0; i < s.nnames; i++) free(s.names[i].name);
    free(s.names);
    json_decref(root);
    return s.c;
}

static size_t count_commands(const char *path)
{
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, NULL);
    size_t n = json_array_size(json_object_get(root, "commands"));
    json_decref(root);
    return n ? n : 1;
}

/* Run one file in a child; a crash or timeout fails its remaining commands. */
static counts run_forked(const char *path, bool verbose)
{
    counts c = {0, 0, 0};
    int fds[2];
    fflush(stdout);
    if (pipe(fds) != 0) return run_script(path, verbose, -1);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return run_script(path, verbose, -1);
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(FILE_TIMEOUT_SECONDS);
        run_script(path, verbose, fds[1]);
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    counts rec;
    while (read(fds[0], &rec, sizeof rec) == (ssize_t)sizeof rec) c = rec;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        size_t total = count_commands(path), done = c.passed + c.failed + c.skipped;
        const char *why = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "timed out" : "crashed";
        printf("%s: %s (%s) after %zu of %zu commands\n", path, why,
               WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit status", done, total);
        c.failed += (unsigned)(total > done ? total - done : 1);
    }
    return c;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: spectest [-v] [--filter SUBSTR] [--no-fork] FILE.json...\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"verbose", no_argument, NULL, 'v'},
        {"filter", required_argument, NULL, 'f'},
        {"no-fork", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool verbose = false, fork_each = true;
    const char *filter = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
        switch (opt) {
        case 'v': verbose = true; break;
        case 'f': filter = optarg; break;
        case 'n': fork_each = false; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    counts total = {0, 0, 0};
    for (int i = optind; i < argc; i++) {
        if (filter && !strstr(argv[i], filter)) continue;
        counts c = fork_each ? run_forked(argv[i], verbose) : run_script(argv[i], verbose, -1);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", argv[i]);
        printf("%s: %u passed, %u failed, %u skipped\n", basename(tmp), c.passed, c.failed, c.skipped);
        total.passed += c.passed;
        total.failed += c.failed;
        total.skipped += c.skipped;
    }
    printf("%u passed, %u failed, %u skipped\n", total.passed, total.failed, total.skipped);
    return total.failed ? 1 : 0;
}
