/*
 * paths.c — host paths relative to the manifest: its folder, and files
 * named in it joined to that folder. Purely lexical; nothing is opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

char *mf_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");      /* "/app.qyv" */
    return strndup(path, (size_t)(slash - path));
}

char *mf_join(const char *dir, const char *relative)
{
    /* The result is at most dir + '/' + relative. */
    size_t size = strlen(dir) + strlen(relative) + 2;
    char *out = malloc(size);
    if (!out) return NULL;
    size_t used = 0;
    if (strcmp(dir, ".") != 0) {
        used = (size_t)snprintf(out, size, "%s", dir);
        if (used == 0 || out[used - 1] != '/') out[used++] = '/';
    }
    size_t prefix = used;
    /* Copy the components of relative, dropping "." and empty ones, so
     * "./data/" becomes "data". */
    for (const char *p = relative; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (used > prefix) out[used++] = '/';
            memcpy(out + used, p, n);
            used += n;
        }
        p += n;
        if (*p == '/') p++;
    }
    if (used == prefix) {
        /* relative named the folder itself. */
        if (prefix == 0) out[used++] = '.';
        else if (prefix > 1) used--;            /* drop the '/' we added */
    }
    out[used] = '\0';
    return out;
}
