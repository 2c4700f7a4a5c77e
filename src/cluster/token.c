/*
 * token.c — reading the cluster token.
 */
#include "cluster/token.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/read_file.h"

static bool fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

bool cluster_token_read(const char *file, char *out, size_t size, char *why, size_t whylen)
{
    /* A regular file only (manifest/read_file.h): a FIFO would block. */
    char problem[160], line[1024];
    size_t len;
    char *text = (char *)qv_read_file(AT_FDCWD, file, 64 << 10, &len, problem, sizeof problem);
    if (!text) return fail(why, whylen, "cannot read the cluster token %s: %s", file, problem);
    snprintf(line, sizeof line, "%s", text);
    free(text);
    size_t n = strcspn(line, "\r\n");
    line[n] = 0;
    if (!n) return fail(why, whylen, "the cluster token file %s is empty", file);
    for (size_t i = 0; i < n; i++)
        if (line[i] <= ' ' || line[i] > '~')
            return fail(why, whylen, "the cluster token in %s has a space or a character outside printable ASCII",
                        file);
    if (n >= size) return fail(why, whylen, "the cluster token in %s is longer than %zu characters", file, size - 1);
    memcpy(out, line, n + 1);
    return true;
}

