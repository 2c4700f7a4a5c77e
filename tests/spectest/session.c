/*
 * session.c — one script's running state and reporting (see session.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "session.h"

bool spec_session_open(spec_session *s, const spec_script *script, bool verbose, char *why, size_t why_size)
{
    memset(s, 0, sizeof *s);
    s->script = script;
    s->verbose = verbose;
    s->store = qv_store_new(NULL);
    if (!s->store) {
        snprintf(why, why_size, "cannot create a store");
        return false;
    }
    s->linker = qv_linker_new(s->store);
    if (!s->linker) {
        snprintf(why, why_size, "cannot create a linker");
        spec_session_close(s);
        return false;
    }
    if (!spec_define_host(s->linker, s->store, verbose, why, why_size)) {
        spec_session_close(s);
        return false;
    }
    return true;
}

void spec_session_close(spec_session *s)
{
    if (s->linker) qv_linker_delete(s->linker);
    if (s->store) qv_store_delete(s->store);
    /* Only now: instances in the store may run the modules' code until it
     * is deleted (even instances whose instantiation failed can have left
     * their functions in imported tables). */
    for (size_t i = 0; i < s->nmodules; i++) qv_module_delete(s->modules[i]);
    free(s->modules);
    for (size_t i = 0; i < s->nnamed; i++) free(s->named[i].name);
    free(s->named);
    memset(s, 0, sizeof *s);
}

static void *grow_array(void *array, size_t count, size_t elem_size)
{
    void *grown = realloc(array, (count + 1) * elem_size);
    if (!grown) {
        /* The runner cannot go on meaningfully; say so rather than crash. */
        fprintf(stderr, "spectest: out of memory\n");
        exit(2);
    }
    return grown;
}

qv_module *spec_session_compile(spec_session *s, const char *filename, qv_error *err, bool *unreadable)
{
    memset(err, 0, sizeof *err);
    err->func_index = -1;
    size_t len = 0;
    uint8_t *bytes = spec_script_read_module(s->script, filename, &len, err->message, sizeof err->message);
    *unreadable = bytes == NULL;
    if (!bytes) return NULL;
    qv_module *m = qv_module_new(bytes, len, err);
    free(bytes);
    if (m) {
        s->modules = grow_array(s->modules, s->nmodules, sizeof *s->modules);
        s->modules[s->nmodules++] = m;
    } else if (!err->message[0]) {
        snprintf(err->message, sizeof err->message, "(the engine gave no message)");
    }
    return m;
}

void spec_session_name(spec_session *s, const char *name, qv_instance *instance)
{
    for (size_t i = 0; i < s->nnamed; i++) {
        if (strcmp(s->named[i].name, name) == 0) {
            s->named[i].instance = instance; /* a later module of the same name shadows */
            return;
        }
    }
    char *copy = strdup(name);
    if (!copy) {
        fprintf(stderr, "spectest: out of memory\n");
        exit(2);
    }
    s->named = grow_array(s->named, s->nnamed, sizeof *s->named);
    s->named[s->nnamed++] = (spec_named_instance){copy, instance};
}

bool spec_session_find(spec_session *s, const char *name, qv_instance **out, char *why, size_t why_size)
{
    if (!name) {
        *out = s->current;
        if (!s->current) snprintf(why, why_size, "no current module (none yet, or the last one failed to load)");
        return s->current != NULL;
    }
    for (size_t i = 0; i < s->nnamed; i++) {
        if (strcmp(s->named[i].name, name) == 0) {
            *out = s->named[i].instance;
            if (!*out) snprintf(why, why_size, "module %s failed to load", name);
            return *out != NULL;
        }
    }
    snprintf(why, why_size, "no module named %s", name);
    return false;
}

static void print_where(const spec_session *s)
{
    printf("%s:%d: %s: ", s->script->path, s->command.line, s->command.type ? s->command.type : "(no type)");
}

void spec_pass(spec_session *s) { s->counts.passed++; }

void spec_fail(spec_session *s, const char *fmt, ...)
{
    print_where(s);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    s->counts.failed++;
}

void spec_skip(spec_session *s, spec_skip_reason reason)
{
    if (s->verbose) {
        print_where(s);
        printf("skipped: %s\n", spec_skip_reason_text(reason));
    }
    s->counts.skipped++;
    s->counts.skipped_by[reason]++;
}

void spec_note(spec_session *s, const char *fmt, ...)
{
    if (!s->verbose) return;
    print_where(s);
    printf("note: ");
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}
