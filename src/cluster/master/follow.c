/*
 * follow.c — GET /v1/apps/NAME/logs?follow=1: each node's log stream is
 * read by a thread of its own (a blocking libcurl stream); the lines,
 * each given its "node", are handed to the event loop, which writes them
 * to the client as they come. The streams end when the client goes away
 * (each thread notices at its node's next line) or every node's ends.
 *
 * A follower forwards the stream instead (master_forward_follow): one
 * thread reads the leader's answer with the caller's token, and its bytes
 * go to the client as they are. The client's answer starts with the
 * leader's first bytes, so that a refusal (403, 404) keeps its status.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/client.h"
#include "cluster/master/internal.h"
#include "cluster/master/master_tls.h"
#include "serve/http_json.h"

typedef struct follow {
    http_exchange *x;
    struct event *wake;        /* made active by threads: lines to write */
    pthread_mutex_t lock;
    int refs;                  /* the loop's, and one per thread */
    int threads;               /* still reading */
    bool client_gone;
    char *out;                 /* lines waiting for the loop */
    size_t len, cap;
    char token[512];
    char path[600];
    bool started;              /* the 200 stream began (forwarded: at the leader's first bytes) */
    api_reply refusal;         /* forwarded: the leader's non-2xx answer */
    char failure[400];         /* forwarded: why the leader could not be asked */
} follow;

typedef struct follow_thread {
    follow *f;
    char node[M_NAME_MAX];
    char address[M_ADDR_MAX];
    char *partial;             /* a line not yet whole */
    size_t plen;
    bool forwarded;            /* the leader's stream, passed on as it is */
    api_tls tls;               /* to the leader */
    bool tls_on;
} follow_thread;

static void follow_release(follow *f)
{
    pthread_mutex_lock(&f->lock);
    bool last = --f->refs == 0;
    pthread_mutex_unlock(&f->lock);
    if (!last) return;
    event_free(f->wake);
    pthread_mutex_destroy(&f->lock);
    free(f->out);
    api_reply_free(&f->refusal);
    free(f);
}

/* Bytes for the loop to write. */
static void queue_bytes(follow *f, const char *text, size_t k)
{
    pthread_mutex_lock(&f->lock);
    if (f->len + k + 1 > f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4096;
        while (cap < f->len + k + 1) cap *= 2;
        char *grown = realloc(f->out, cap);
        if (grown) f->out = grown, f->cap = cap;
    }
    if (f->len + k <= f->cap) {
        memcpy(f->out + f->len, text, k);
        f->len += k;
    }
    pthread_mutex_unlock(&f->lock);
    event_active(f->wake, EV_READ, 0);
}

/* A whole line from a node: with its node named, queued for the loop. */
static void queue_line(follow_thread *t, const char *line, size_t n)
{
    json_t *j = json_loadb(line, n, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return;
    }
    json_object_set_new(j, "node", json_string(t->node));
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!text) return;
    size_t k = strlen(text);
    text[k] = '\n'; /* json_dumps' NUL: the line's end instead */
    queue_bytes(t->f, text, k + 1);
    free(text);
}

static bool on_piece(const char *data, size_t len, void *arg)
{
    follow_thread *t = arg;
    pthread_mutex_lock(&t->f->lock);
    bool gone = t->f->client_gone;
    pthread_mutex_unlock(&t->f->lock);
    if (gone) return false;
    if (t->forwarded) {
        queue_bytes(t->f, data, len);
        return true;
    }
    char *grown = realloc(t->partial, t->plen + len);
    if (!grown) return false;
    t->partial = grown;
    memcpy(t->partial + t->plen, data, len);
    t->plen += len;
    size_t start = 0;
    for (size_t i = 0; i < t->plen; i++)
        if (t->partial[i] == '\n') {
            queue_line(t, t->partial + start, i - start);
            start = i + 1;
        }
    memmove(t->partial, t->partial + start, t->plen - start);
    t->plen -= start;
    return true;
}

static void *follow_main(void *arg)
{
    follow_thread *t = arg;
    follow *f = t->f;
    api_reply reply;
    char why[300];
    bool called = t->forwarded ? api_stream_tls(t->tls_on ? &t->tls : NULL, t->address, "GET", f->path, f->token, 5000,
                                                on_piece, t, &reply, why, sizeof why)
                               : api_stream(t->address, "GET", f->path, f->token, 5000, on_piece, t, &reply, why, sizeof why);
    if (t->forwarded) {
        pthread_mutex_lock(&f->lock);
        if (!called) snprintf(f->failure, sizeof f->failure, "%s", why);
        else if (reply.status < 200 || reply.status > 299) f->refusal = reply, reply = (api_reply){0};
        pthread_mutex_unlock(&f->lock);
    }
    if (called) api_reply_free(&reply);
    free(t->partial);
    free(t);
    pthread_mutex_lock(&f->lock);
    f->threads--;
    pthread_mutex_unlock(&f->lock);
    event_active(f->wake, EV_READ, 0);
    follow_release(f);
    return NULL;
}

static void start_stream(follow *f)
{
    http_field type = {"Content-Type", "application/x-ndjson"};
    http_stream_start(f->x, 200, &type, 1);
    f->started = true;
}

/* Forwarded, ended before any byte: the leader's refusal, or why it could
 * not be asked, or (an empty 2xx) an empty stream. */
static void answer_unstarted(follow *f)
{
    if (f->refusal.status) {
        http_field h = {"Content-Type", "application/json"};
        http_respond(f->x, (int)f->refusal.status, &h, 1, f->refusal.body ? f->refusal.body : "", f->refusal.len);
    } else if (*f->failure) {
        http_respond_json_error(f->x, 503, "the leading master does not answer (%s); try again", f->failure);
    } else {
        start_stream(f);
        http_stream_end(f->x);
    }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    follow *f = arg;
    pthread_mutex_lock(&f->lock);
    char *out = f->out;
    size_t len = f->len;
    f->out = NULL, f->len = f->cap = 0;
    bool ended = f->threads == 0, gone = f->client_gone;
    if (ended && !gone) f->client_gone = true; /* ends below: no more writes */
    pthread_mutex_unlock(&f->lock);
    if (!gone && len && !f->started) start_stream(f);
    if (!gone && len) http_stream_write(f->x, out, len);
    free(out);
    if (ended && !gone) {
        if (f->started) http_stream_end(f->x);
        else answer_unstarted(f);
        follow_release(f);
    }
}

static void on_client_gone(void *arg)
{
    follow *f = arg;
    pthread_mutex_lock(&f->lock);
    f->client_gone = true;
    pthread_mutex_unlock(&f->lock);
    if (f->started) http_stream_end(f->x);
    else http_respond_text(f->x, 503, "gone"); /* frees the exchange; nobody reads it */
    follow_release(f);
}


static follow *follow_new(master *m, http_exchange *x, const char *token, const char *path)
{
    follow *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->x = x;
    f->wake = event_new(m->base, -1, 0, on_wake, f);
    if (!f->wake) {
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->refs = 1;
    snprintf(f->token, sizeof f->token, "%s", token);
    snprintf(f->path, sizeof f->path, "%s", path);
    http_on_abandon(x, on_client_gone, f);
    return f;
}

/* Start t's thread (t is freed if it cannot start). */
static void follow_thread_start(follow *f, follow_thread *t)
{
    t->f = f;
    pthread_mutex_lock(&f->lock);
    f->refs++, f->threads++;
    pthread_mutex_unlock(&f->lock);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, follow_main, t)) {
        pthread_mutex_lock(&f->lock);
        f->refs--, f->threads--;
        pthread_mutex_unlock(&f->lock);
        free(t);
    }
    pthread_attr_destroy(&attr);
}

bool master_follow_logs(master *m, http_exchange *x, const char *path, const m_node *const *nodes, size_t n)
{
    follow *f = follow_new(m, x, m->opt.token, path);
    if (!f) return false;
    start_stream(f);
    for (size_t i = 0; i < n; i++) {
        follow_thread *t = calloc(1, sizeof *t);
        if (!t) continue;
        snprintf(t->node, sizeof t->node, "%s", nodes[i]->name);
        snprintf(t->address, sizeof t->address, "%s", nodes[i]->address);
        follow_thread_start(f, t);
    }
    event_active(f->wake, EV_READ, 0); /* ends at once if no node could be followed */
    return true;
}

bool master_forward_follow(master *m, http_exchange *x, const char *target, const char *token)
{
    follow_thread *t = calloc(1, sizeof *t);
    follow *f = t ? follow_new(m, x, token, target) : NULL;
    if (!f) {
        free(t);
        return false;
    }
    t->forwarded = true;
    snprintf(t->node, sizeof t->node, "leader");
    snprintf(t->address, sizeof t->address, "%s", m->leader_address);
    t->tls_on = master_tls_master_calls(m, &t->tls);
    follow_thread_start(f, t);
    pthread_mutex_lock(&f->lock);
    if (!f->threads) snprintf(f->failure, sizeof f->failure, "cannot start a thread");
    pthread_mutex_unlock(&f->lock);
    event_active(f->wake, EV_READ, 0); /* answers at once if the thread could not start */
    return true;
}
