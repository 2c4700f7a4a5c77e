/*
 * log.h — `qyv serve`'s logs: one JSON object per line on stdout, with
 * "ts" (RFC 3339, UTC, milliseconds), "level" and the caller's fields
 * (app, replica, request id, message; method, path, status, bytes and
 * duration for access lines; the guest's stderr lines as "stderr").
 */
#ifndef QYVOL_SERVE_LOG_H
#define QYVOL_SERVE_LOG_H

#include <jansson.h>
#include <stdbool.h>

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Parse "debug", "info", "warn" or "error". */
bool log_level_parse(const char *s, log_level *out);
void log_set_level(log_level min);
bool log_enabled(log_level level);
/* Write one line made of `fields` (taken over, may be NULL) and message.
 * Called from the event loop's thread. */
void log_json(log_level level, const char *message, json_t *fields);

/* A line made elsewhere (a replica's, passed on): written and kept as
 * log_json's own; takes text (malloc'ed, no newline). */
void log_line_in(log_level level, const char *app, char *text);
/* In a replica process: lines are made as usual but handed to fn (from
 * any thread) instead of written. */
void log_set_sink(void (*fn)(log_level level, const char *app, const char *text));

/* The last LOG_KEEP lines are kept in memory for `qyv logs`. A line as
 * kept: its level, its app ("" for the server's own) and its JSON text. */
#define LOG_KEEP 10000
typedef struct log_line {
    log_level level;
    char *app;
    char *text;
} log_line;

/* Call fn for each kept line, oldest first. */
void log_each(void (*fn)(const log_line *line, void *ctx), void *ctx);
/* Have fn called for every new line (one follower at a time per ctx);
 * remove with log_unfollow. */
bool log_follow(void (*fn)(const log_line *line, void *ctx), void *ctx);
void log_unfollow(void *ctx);
/* Free the kept lines and followers (at exit). */
void log_shutdown(void);

#endif
