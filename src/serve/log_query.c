/*
 * log_query.c — see log_query.h.
 */
#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/log.h"
#include "serve/log_query.h"

typedef struct log_query {
    log_followers *owner;
    http_exchange *x;
    char app[128];
    log_level level;
    size_t skip;               /* matching lines to leave out before the tail */
    char *out;
    size_t out_len, out_cap;
    bool out_failed;
    struct log_query *next;    /* followers, for shutdown */
} log_query;

static bool log_matches(const log_query *q, const log_line *l)
{
    return l->level >= q->level && (!q->app[0] || !strcmp(l->app, q->app));
}

static void count_line(const log_line *l, void *ctx)
{
    log_query *q = ctx;
    if (log_matches(q, l)) q->skip++;
}

static void add_line(const log_line *l, void *ctx)
{
    log_query *q = ctx;
    if (!log_matches(q, l)) return;
    if (q->skip) {
        q->skip--;
        return;
    }
    size_t n = strlen(l->text);
    if (q->out_len + n + 2 > q->out_cap) {
        size_t cap = q->out_cap ? q->out_cap * 2 : 4096;
        while (cap < q->out_len + n + 2) cap *= 2;
        char *grown = realloc(q->out, cap);
        if (!grown) {
            q->out_failed = true;
            return;
        }
        q->out = grown, q->out_cap = cap;
    }
    memcpy(q->out + q->out_len, l->text, n);
    q->out_len += n;
    q->out[q->out_len++] = '\n';
}

static void follow_line(const log_line *l, void *ctx)
{
    log_query *q = ctx;
    if (!log_matches(q, l)) return;
    size_t n = strlen(l->text);
    char *line = malloc(n + 1);
    if (!line) return;
    memcpy(line, l->text, n);
    line[n] = '\n';
    http_stream_write(q->x, line, n + 1);
    free(line);
}

static void forget_follower(log_query *q)
{
    log_unfollow(q);
    for (log_query **p = &q->owner->first; *p; p = &(*p)->next)
        if (*p == q) {
            *p = q->next;
            break;
        }
    free(q);
}

static void follower_gone(void *arg)
{
    log_query *q = arg;
    http_exchange *x = q->x;
    forget_follower(q);
    http_stream_end(x);
}

/* tail=N: a whole number. */
static bool parse_tail(const char *s, long *out)
{
    if (!s) return true;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || *s == '-' || *s == '+' || *s == ' ') return false;
    *out = v;
    return true;
}

void log_query_serve(log_followers *f, http_exchange *x, const http_request *r)
{
    struct evkeyvalq params;
    if (evhttp_parse_query_str(r->query, &params) != 0) {
        http_respond_text(x, 400, "bad query string");
        return;
    }
    const char *app = evhttp_find_header(&params, "app"), *level = evhttp_find_header(&params, "level");
    const char *tail = evhttp_find_header(&params, "tail"), *follow = evhttp_find_header(&params, "follow");
    log_query *q = calloc(1, sizeof *q);
    long want = 100;
    const char *bad = !q ? "out of memory" : NULL;
    if (q) {
        q->owner = f;
        q->x = x;
        snprintf(q->app, sizeof q->app, "%s", app ? app : "");
        q->level = LOG_DEBUG;
        if (level && !log_level_parse(level, &q->level)) bad = "level must be debug, info, warn or error";
        else if (!parse_tail(tail, &want)) bad = "tail must be a whole number of lines";
        else if (follow && strcmp(follow, "1") && strcmp(follow, "0")) bad = "follow must be 0 or 1";
    }
    bool following = follow && !strcmp(follow, "1");
    evhttp_clear_headers(&params); /* app, level, tail and follow point into it */
    if (bad) {
        int status = q ? 400 : 503;
        free(q);
        http_respond_text(x, status, bad);
        return;
    }
    /* Keep only the last `want` matching lines. */
    log_each(count_line, q);
    q->skip = q->skip > (size_t)want ? q->skip - (size_t)want : 0;
    log_each(add_line, q);
    http_field type = {"Content-Type", "application/x-ndjson"};
    if (!following) {
        http_respond(x, 200, &type, 1, q->out ? q->out : "", q->out_len);
        free(q->out);
        free(q);
        return;
    }
    http_stream_start(x, 200, &type, 1);
    http_stream_write(x, q->out, q->out_len);
    free(q->out);
    q->out = NULL;
    if (!log_follow(follow_line, q)) {
        http_stream_end(x);
        free(q);
        return;
    }
    http_on_abandon(x, follower_gone, q);
    q->next = f->first;
    f->first = q;
}

void log_followers_end(log_followers *f)
{
    while (f->first) {
        log_query *q = f->first;
        http_exchange *x = q->x;
        forget_follower(q);
        http_stream_end(x);
    }
}
