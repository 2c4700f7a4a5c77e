/*
 * suite.c — may a test directory's tests run here at all? The suite's
 * directories carry a manifest.json ({"name": ..., "version":
 * "wasm32-wasip1"}); without one, the Python runner takes the version from
 * the directory's name. qyv is a WASI preview 1 host: a preview 2 or 3
 * directory's tests are skipped rather than failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasitest.h"

static char *reason(bool *is_error, bool error, const char *fmt, const char *a, const char *b)
{
    char buf[8192]; /* room for a path of 4096 and a message */
    snprintf(buf, sizeof buf, fmt, a, b);
    *is_error = error;
    return strdup(buf);
}

static char *for_version(const char *version, const char *source, bool *is_error)
{
    if (!strcmp(version, "wasm32-wasip1")) return NULL;
    if (!strcmp(version, "wasm32-wasip2") || !strcmp(version, "wasm32-wasip3"))
        return reason(is_error, false, "a '%s' test (%s); qyv runs WASI preview 1 modules", version, source);
    return reason(is_error, true, "unknown WASI version '%s' (%s)", version, source);
}

char *suite_check(const char *dir, bool *is_error)
{
    char path[4096];
    *is_error = false;
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) return reason(is_error, true, "cannot read %s: %s", path, strerror(errno));
    if (fd < 0) {
        /* No manifest: the last component of the directory's name. */
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/') len--;
        size_t start = len;
        while (start > 0 && dir[start - 1] != '/') start--;
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(len - start < 255 ? len - start : 255), dir + start);
        return strncmp(base, "wasm32-wasip", 12) ? NULL : for_version(base, "from the directory's name", is_error);
    }
    json_error_t je;
    json_t *m = json_loadfd(fd, 0, &je);
    close(fd);
    if (!m) return reason(is_error, true, "%s: %s", path, je.text);
    char *why = NULL;
    const char *key;
    json_t *v;
    if (!json_is_object(m)) why = reason(is_error, true, "%s: %s", path, "not a JSON object");
    else json_object_foreach(m, key, v) {
        if (strcmp(key, "name") && strcmp(key, "version")) {
            why = reason(is_error, true, "%s: unknown key '%s'", path, key);
            break;
        }
        if (!json_is_string(v)) {
            why = reason(is_error, true, "%s: '%s' must be a string", path, key);
            break;
        }
        if (!strcmp(key, "version") && (why = for_version(json_string_value(v), path, is_error))) break;
    }
    json_decref(m);
    return why;
}
