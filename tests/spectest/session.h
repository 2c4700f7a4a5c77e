/*
 * session.h — the state of one script while it runs: its store and linker
 * (with the spectest host module), the module instances its commands
 * created, and the tallies of its commands. Also how commands report a
 * pass, a failure or a skip.
 */
#ifndef QYVOL_SPECTEST_SESSION_H
#define QYVOL_SPECTEST_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "counts.h"
#include "qyvol/wasm.h"
#include "script.h"

typedef struct spec_named_instance {
    char *name;
    qv_instance *instance; /* NULL if the module failed to load */
} spec_named_instance;

typedef struct spec_session {
    const spec_script *script;
    bool verbose;
    qv_store *store;
    qv_linker *linker;
    qv_instance *current; /* the last module's instance, NULL if it failed */
    spec_named_instance *named;
    size_t nnamed;
    qv_module **modules; /* compiled modules; their code lives as long as the store */
    size_t nmodules;
    spec_counts counts;
    spec_command command; /* the command being run, for messages */
} spec_session;

bool spec_session_open(spec_session *s, const spec_script *script, bool verbose, char *why, size_t why_size);
void spec_session_close(spec_session *s);

/* Compile a module file of the script. Returns NULL with `err` filled if
 * the engine rejected it, or with *unreadable set (and `err` filled) if the
 * file itself could not be read, which is never the engine's fault. */
qv_module *spec_session_compile(spec_session *s, const char *filename, qv_error *err, bool *unreadable);

/* Give an instance (or NULL for a module that failed) a script name. */
void spec_session_name(spec_session *s, const char *name, qv_instance *instance);

/* The instance a command refers to: the named one, or with name NULL the
 * current one. Returns false with `why` filled if there is none. */
bool spec_session_find(spec_session *s, const char *name, qv_instance **out, char *why, size_t why_size);

/* Count the current command and, for a failure, print
 * "FILE:LINE: COMMAND: message". */
void spec_pass(spec_session *s);
void spec_fail(spec_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void spec_skip(spec_session *s, spec_skip_reason reason);
/* Print "FILE:LINE: COMMAND: note: message" with -v only; counts nothing. */
void spec_note(spec_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
