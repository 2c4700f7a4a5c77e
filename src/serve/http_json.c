/*
 * http_json.c — see http_json.h.
 */
#include "serve/http_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_respond_json(http_exchange *x, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    http_field type = {"Content-Type", "application/json"};
    if (!text) {
        http_respond(x, 500, &type, 1, "{\"error\":\"out of memory\"}\n", 26);
        return;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line) line[n] = '\n', line[n + 1] = '\0', text = line, n++;
    http_respond(x, status, &type, 1, text, n);
    free(text);
}

void http_respond_json_error(http_exchange *x, int status, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    http_respond_json(x, status, json_pack("{s:s}", "error", text));
}
