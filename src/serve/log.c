/*
 * log.c — JSON lines, serialised by jansson (so every string is escaped
 * correctly) and written with one fwrite under the stream's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/log.h"

static log_level min_level = LOG_INFO;
static const char *const names[] = {"debug", "info", "warn", "error"};

bool log_level_parse(const char *s, log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *out = (log_level)i, true;
    return false;
}

void log_set_level(log_level min) { min_level = min; }
bool log_enabled(log_level level) { return level >= min_level; }

void log_json(log_level level, const char *message, json_t *fields)
{
    if (!log_enabled(level)) {
        json_decref(fields);
        return;
    }
    json_t *line = json_object();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[40];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);
    json_object_set_new(line, "ts", json_string(stamp));
    json_object_set_new(line, "level", json_string(names[level]));
    if (message) json_object_set_new(line, "message", json_string(message));
    if (fields) json_object_update(line, fields);
    json_decref(fields);
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(line);
    if (!text) return;
    flockfile(stdout);
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
    free(text);
}
