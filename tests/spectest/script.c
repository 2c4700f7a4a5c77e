/*
 * script.c — loading spec-test scripts and their module files (see script.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

const char *spec_json_string(json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

bool spec_script_load(spec_script *script, const char *path, char *why, size_t why_size)
{
    memset(script, 0, sizeof *script);
    script->path = path;
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(script->dir, sizeof script->dir, ".");
    else if (slash == path)
        snprintf(script->dir, sizeof script->dir, "/");
    else
        snprintf(script->dir, sizeof script->dir, "%.*s", (int)(slash - path), path);

    json_error_t jerr;
    /* Export and module names may contain NUL bytes. */
    script->root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (!script->root) {
        if (jerr.line > 0)
            snprintf(why, why_size, "bad JSON at line %d: %s", jerr.line, jerr.text);
        else
            snprintf(why, why_size, "%s", jerr.text); /* e.g. the file cannot be opened */
        return false;
    }
    script->commands = json_object_get(script->root, "commands");
    if (!json_is_array(script->commands)) {
        snprintf(why, why_size, "not a spec-test script: no \"commands\" array");
        spec_script_free(script);
        return false;
    }
    return true;
}

void spec_script_free(spec_script *script)
{
    json_decref(script->root);
    script->root = NULL;
    script->commands = NULL;
}

size_t spec_script_size(const spec_script *script) { return json_array_size(script->commands); }

spec_command spec_script_command(const spec_script *script, size_t i)
{
    json_t *json = json_array_get(script->commands, i);
    spec_command cmd = {
        .type = spec_json_string(json, "type"),
        .line = (int)json_integer_value(json_object_get(json, "line")),
        .json = json,
    };
    return cmd;
}

uint8_t *spec_script_read_module(const spec_script *script, const char *filename, size_t *len, char *why,
                                 size_t why_size)
{
    if (!filename) {
        snprintf(why, why_size, "the command names no module file (\"filename\")");
        return NULL;
    }
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", script->dir, filename);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *bytes = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (size == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *grown = realloc(bytes, cap);
            if (!grown) {
                snprintf(why, why_size, "out of memory reading %s", path);
                goto fail;
            }
            bytes = grown;
        }
        size_t n = fread(bytes + size, 1, cap - size, f);
        size += n;
        if (n == 0) break;
    }
    if (ferror(f)) {
        snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    *len = size;
    return bytes;
fail:
    free(bytes);
    fclose(f);
    return NULL;
}
