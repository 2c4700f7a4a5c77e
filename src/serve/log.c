/*
 * log.c — JSON lines, serialised by jansson (so every string is escaped
 * correctly) and written with one fwrite under the stream's lock; the
 * last LOG_KEEP lines are also kept in a ring for `qyv logs`, which can
 * follow new ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/log.h"

static log_level min_level = LOG_INFO;
/* Set in a replica process: its lines go to the front (log_set_sink). */
static void (*sink)(log_level level, const char *app, const char *text);

static log_line ring[LOG_KEEP];
static size_t ring_next, ring_count;

typedef struct follower {
    void (*fn)(const log_line *line, void *ctx);
    void *ctx;
} follower;
static follower *followers;
static size_t nfollowers;

static void keep(log_level level, const char *app, char *text)
{
    log_line *slot = &ring[ring_next];
    free(slot->app);
    free(slot->text);
    slot->level = level;
    slot->app = strdup(app ? app : "");
    slot->text = text;
    ring_next = (ring_next + 1) % LOG_KEEP;
    if (ring_count < LOG_KEEP) ring_count++;
    /* Followers may unfollow themselves from their callback: iterate on a
     * copy of the count and re-check. */
    for (size_t i = 0; i < nfollowers; i++) followers[i].fn(slot, followers[i].ctx);
}

void log_each(void (*fn)(const log_line *line, void *ctx), void *ctx)
{
    size_t first = (ring_next + LOG_KEEP - ring_count) % LOG_KEEP;
    for (size_t i = 0; i < ring_count; i++) fn(&ring[(first + i) % LOG_KEEP], ctx);
}

bool log_follow(void (*fn)(const log_line *line, void *ctx), void *ctx)
{
    follower *grown = realloc(followers, (nfollowers + 1) * sizeof *grown);
    if (!grown) return false;
    followers = grown;
    followers[nfollowers++] = (follower){fn, ctx};
    return true;
}

void log_unfollow(void *ctx)
{
    for (size_t i = 0; i < nfollowers; i++)
        if (followers[i].ctx == ctx) {
            followers[i] = followers[--nfollowers];
            return;
        }
}

void log_shutdown(void)
{
    for (size_t i = 0; i < LOG_KEEP; i++) {
        free(ring[i].app);
        free(ring[i].text);
        ring[i].app = ring[i].text = NULL;
    }
    ring_count = ring_next = 0;
    free(followers);
    followers = NULL;
    nfollowers = 0;
}
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
    const char *app = json_string_value(json_object_get(line, "app"));
    char *app_copy = app ? strdup(app) : NULL;
    json_decref(line);
    if (!text) {
        free(app_copy);
        return;
    }
    if (sink) {
        sink(level, app_copy ? app_copy : "", text);
        free(text);
    } else {
        log_line_in(level, app_copy, text);
    }
    free(app_copy);
}

void log_line_in(log_level level, const char *app, char *text)
{
    flockfile(stdout);
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    funlockfile(stdout);
    keep(level, app, text);
}

void log_set_sink(void (*fn)(log_level level, const char *app, const char *text))
{
    sink = fn;
}
