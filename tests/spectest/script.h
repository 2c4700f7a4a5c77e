/*
 * script.h — loading a spec-test script: wabt's JSON form of a .wast file
 * ({"source_filename": ..., "commands": [{"type": ..., "line": ...}, ...]})
 * and the module files its commands name, relative to the script.
 */
#ifndef QYVOL_SPECTEST_SCRIPT_H
#define QYVOL_SPECTEST_SCRIPT_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spec_script {
    const char *path;   /* as given, for messages */
    char dir[PATH_MAX]; /* where the module files are */
    json_t *root;
    json_t *commands;   /* the "commands" array, owned by root */
} spec_script;

typedef struct spec_command {
    const char *type; /* "module", "assert_return"... or NULL if missing */
    int line;         /* in the .wast source */
    json_t *json;
} spec_command;

/* Returns false with `why` filled if the file cannot be read or is not a
 * spec-test script. */
bool spec_script_load(spec_script *script, const char *path, char *why, size_t why_size);
void spec_script_free(spec_script *script);

size_t spec_script_size(const spec_script *script);
spec_command spec_script_command(const spec_script *script, size_t i);

/* The bytes of a module file the script names (caller frees), or NULL with
 * `why` filled. */
uint8_t *spec_script_read_module(const spec_script *script, const char *filename, size_t *len, char *why,
                                 size_t why_size);

/* A string member of a JSON object, or NULL if absent or not a string. */
const char *spec_json_string(json_t *object, const char *key);

#endif
