/*
 * server.c — the event loop and the workers.
 *
 * The loop thread (libevent) parses requests, routes them by longest route
 * prefix, answers /_qyvol/health and /_qyvol/metrics itself, and queues app requests. Worker threads
 * take a job, run the instance (wagi_run), parse its output (cgi_parse),
 * and hand the job back to the loop through a "done" list — libevent's
 * objects are only touched on the loop thread. A watchdog thread
 * interrupts instances that run past their app's timeout; the client then
 * gets 504 while every other request goes on.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "serve/apps.h"
#include "serve/cgi.h"
#include "serve/log.h"
#include "serve/metrics.h"
#include "serve/serve.h"

typedef struct server server;

typedef struct job {
    server *srv;
    struct evhttp_request *req;
    app_set *set;              /* holds app alive across a reload */
    serve_app *app;
    wagi_request rq;
    char *strings[8];          /* what rq's fields point to */
    wagi_header *headers;
    char *body;
    uint64_t start_ns;
    char id[24];
    atomic_bool cancelled;     /* the client went away: drop the reply */
    bool health;               /* a health check, not a client's request */
    /* Filled by the worker. */
    wagi_result res;
    cgi_response resp;
    int status;
    char why[600];
    struct job *next;
} job;

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    char *const *files;        /* the manifests, read again on reload */
    size_t nfiles;
    app_set *current;          /* touched on the loop thread only */
    app_metrics **registry;    /* every app's metrics, kept across reloads */
    size_t nregistry;
    serve_options opt;
    uint64_t started_ns;
    /* The queue of jobs for the workers. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    bool closing;
    pthread_t *workers;
    struct worker_arg *worker_args;
    wagi_slot *slots;
    int nworkers;
    pthread_t watchdog;
    atomic_bool stop_watchdog;
    atomic_long in_flight;
    uint64_t next_id;
    bool draining;
    struct event *drain_timer, *sigterm, *sigint, *sighup;
    /* Jobs the workers finished, for the loop to answer. */
    pthread_mutex_t done_mu;
    job *done_head, *done_tail;
    struct event *done_ev;
    struct log_query *followers; /* open `qyv logs --follow` streams */
    struct health_timer *health; /* one per app of `current` with a health_check */
    size_t nhealth;
    uint64_t drain_deadline_ns;
};

/* ------------------------------------------------------------ replies */

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return code < 300 ? "OK" : code < 400 ? "Redirect" : code < 500 ? "Client Error" : "Server Error";
    }
}

static void send_text(struct evhttp_request *req, int code, const char *type, const char *text, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf) evbuffer_add(buf, text, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, reason(code), buf);
    if (buf) evbuffer_free(buf);
}

static void send_error(struct evhttp_request *req, int code, const char *message)
{
    char text[512];
    int n = snprintf(text, sizeof text, "%d %s: %s\n", code, reason(code), message);
    send_text(req, code, "text/plain; charset=utf-8", text, (size_t)n);
}

/* ------------------------------------------------------------ logging */

/* A JSON string for arbitrary bytes: invalid UTF-8 becomes '?'. */
static json_t *json_bytes(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j) return j;
    char *copy = malloc(n + 1);
    if (!copy) return json_string("");
    for (size_t i = 0; i < n; i++) copy[i] = (unsigned char)s[i] < 128 ? s[i] : '?';
    j = json_stringn(copy, n);
    free(copy);
    return j ? j : json_string("");
}

/* The guest's stderr, a log line per line. */
static void log_stderr(const job *j)
{
    const char *s = j->res.err, *end = s + j->res.err_len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        log_json(LOG_INFO, NULL,
                 json_pack("{s:s,s:s,s:s,s:o}", "app", j->app->name, "replica", "0", "request_id", j->id,
                           "stderr", json_bytes(s, n)));
        s += n + 1;
    }
}

static void log_access(const job *j, int status, size_t bytes)
{
    double ms = (double)(wagi_now_ns() - j->start_ns) / 1e6;
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:f}", "app", j->app->name, "replica", "0",
                          "request_id", j->id, "method", j->rq.method, "path", j->rq.path, "status", status,
                          "bytes", (json_int_t)bytes, "duration_ms", ms, "instantiate_ms",
                          j->res.instantiate_s * 1000);
    log_json(status >= 500 ? LOG_WARN : LOG_INFO, "request", f);
}

/* ------------------------------------------------------------ jobs */

static void job_free(job *j)
{
    for (size_t i = 0; i < sizeof j->strings / sizeof *j->strings; i++) free(j->strings[i]);
    if (j->headers)
        for (size_t i = 0; i < j->rq.nheaders; i++) {
            free((char *)j->headers[i].name);
            free((char *)j->headers[i].value);
        }
    free(j->headers);
    free(j->body);
    cgi_response_free(&j->resp);
    wagi_result_free(&j->res);
    app_set_release(j->set);
    free(j);
}

/* Worker side: run the instance and decide the response. */
static void handle(job *j, wagi_slot *slot)
{
    serve_app *app = j->app;
    uint64_t timeout = j->health ? app->rc.health_timeout_ms : app->rc.timeout_ms;
    wagi_run(app, &j->rq, timeout, slot, &j->res);
    if (j->res.timed_out) {
        j->status = 504;
        snprintf(j->why, sizeof j->why, "the app ran past its timeout of %llu ms", (unsigned long long)timeout);
    } else if (!j->res.started && !j->res.trap) {
        j->status = 500;
        snprintf(j->why, sizeof j->why, "%s", j->res.message);
    } else if (j->res.trap && j->res.trap != QV_TRAP_EXIT) {
        j->status = 500;
        snprintf(j->why, sizeof j->why, "the app trapped: %s", j->res.message);
    } else if (j->res.out_full) {
        j->status = 502;
        snprintf(j->why, sizeof j->why, "the app wrote more than %zu bytes on stdout", WAGI_MAX_OUTPUT);
    } else if (!cgi_parse(j->res.out, j->res.out_len, &j->resp, j->why, sizeof j->why)) {
        j->status = 502;
    } else {
        j->status = j->resp.status;
    }
}

/* Loop side: send what the worker decided. */
static void health_done(job *j);

static void reply(job *j)
{
    server *srv = j->srv;
    if (j->health) {
        health_done(j);
        atomic_fetch_sub(&srv->in_flight, 1);
        job_free(j);
        return;
    }
    size_t bytes = 0;
    if (!atomic_load(&j->cancelled)) {
        struct evhttp_connection *evcon = evhttp_request_get_connection(j->req);
        if (evcon) evhttp_connection_set_closecb(evcon, NULL, NULL);
        struct evkeyvalq *h = evhttp_request_get_output_headers(j->req);
        evhttp_add_header(h, "X-Request-Id", j->id);
        if (j->status >= 500 && !j->resp.headers) {
            char text[700];
            int n = snprintf(text, sizeof text, "%d %s: %s (request %s)\n", j->status, reason(j->status),
                             j->status == 504 ? "the app took too long" : "the app failed", j->id);
            bytes = (size_t)n;
            send_text(j->req, j->status, "text/plain; charset=utf-8", text, bytes);
        } else {
            for (size_t i = 0; i < j->resp.nheaders; i++)
                evhttp_add_header(h, j->resp.headers[i].name, j->resp.headers[i].value);
            struct evbuffer *buf = evbuffer_new();
            if (buf) evbuffer_add(buf, j->resp.body, j->resp.body_len);
            bytes = j->resp.body_len;
            evhttp_send_reply(j->req, j->status, reason(j->status), buf);
            if (buf) evbuffer_free(buf);
        }
    }
    log_stderr(j);
    if (j->why[0])
        log_json(LOG_WARN, j->why, json_pack("{s:s,s:s,s:s}", "app", j->app->name, "replica", "0", "request_id", j->id));
    log_access(j, j->status, bytes);
    metrics_request_done(j->app->metrics, j->status, (double)(wagi_now_ns() - j->start_ns) / 1e9,
                         j->res.started ? j->res.instantiate_s : 0, j->res.trap);
    atomic_fetch_sub(&srv->in_flight, 1);
    job_free(j);
}

typedef struct worker_arg {
    server *srv;
    wagi_slot *slot;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    server *srv = w->srv;
    for (;;) {
        job *j = NULL;
        pthread_mutex_lock(&srv->mu);
        while (!srv->head && !srv->closing) pthread_cond_wait(&srv->cv, &srv->mu);
        if (srv->head) {
            j = srv->head;
            srv->head = j->next;
            if (!srv->head) srv->tail = NULL;
        }
        pthread_mutex_unlock(&srv->mu);
        if (!j) return NULL;
        handle(j, w->slot);
        /* Hand it back. Only the job that finds the list empty wakes the
         * loop, which then answers everything on the list: under load one
         * wake-up serves many requests. */
        pthread_mutex_lock(&srv->done_mu);
        bool was_empty = !srv->done_head;
        j->next = NULL;
        if (srv->done_tail) srv->done_tail->next = j;
        else srv->done_head = j;
        srv->done_tail = j;
        pthread_mutex_unlock(&srv->done_mu);
        if (was_empty) event_active(srv->done_ev, EV_READ, 0);
    }
}

/* Loop side: answer every job the workers finished. */
static void answer_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *srv = arg;
    pthread_mutex_lock(&srv->done_mu);
    job *j = srv->done_head;
    srv->done_head = srv->done_tail = NULL;
    pthread_mutex_unlock(&srv->done_mu);
    while (j) {
        job *next = j->next;
        reply(j);
        j = next;
    }
}

static void *watchdog(void *arg)
{
    server *srv = arg;
    while (!atomic_load(&srv->stop_watchdog)) {
        uint64_t now = wagi_now_ns();
        for (int i = 0; i < srv->nworkers; i++) {
            wagi_slot *s = &srv->slots[i];
            uint64_t deadline = atomic_load(&s->deadline_ns);
            qv_store *store = atomic_load(&s->store);
            /* The store stays valid while published: wagi_run clears the
             * slot before deleting it, and an interrupt is only a flag. */
            if (store && deadline && now > deadline) qv_store_interrupt(store);
        }
        usleep(5000);
    }
    return NULL;
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    job *j = arg;
    if (j) atomic_store(&j->cancelled, true);
}

/* ------------------------------------------------------------ routing */

/* Give a job to the workers. */
static void enqueue(server *srv, job *j)
{
    atomic_fetch_add(&srv->in_flight, 1);
    pthread_mutex_lock(&srv->mu);
    j->next = NULL;
    if (srv->tail) srv->tail->next = j;
    else srv->head = j;
    srv->tail = j;
    pthread_cond_signal(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

/* ------------------------------------------------------------ health checks */

/* deploy.health_check: every interval, the app gets GET <route><path>
 * like any request (a fresh instance, the health timeout); a status below
 * 400 passes. After `retries` failures in a row the app is unhealthy:
 * its requests get 503 until a check passes again. */
typedef struct health_timer {
    server *srv;
    size_t app;                /* index in srv->current */
    struct event *ev;
    bool running;              /* a check is in flight */
} health_timer;

static void health_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    health_timer *t = arg;
    server *srv = t->srv;
    if (t->running || srv->draining) return;
    serve_app *app = &srv->current->apps[t->app];
    job *j = calloc(1, sizeof *j);
    if (!j) return;
    char port[8], host[300];
    snprintf(port, sizeof port, "%u", srv->opt.port);
    snprintf(host, sizeof host, "%s:%s", srv->opt.address, port);
    size_t n = strlen(app->route) + strlen(app->rc.health_path) + 1;
    j->strings[0] = malloc(n);
    if (j->strings[0]) snprintf(j->strings[0], n, "%s%s", app->route, app->rc.health_path);
    j->strings[1] = strdup("");
    j->strings[2] = strdup(host);
    j->strings[3] = strdup(srv->opt.address);
    j->strings[4] = strdup(port);
    j->strings[5] = strdup("127.0.0.1");
    j->body = strdup("");
    for (int i = 0; i < 6; i++)
        if (!j->strings[i]) j->body = (free(j->body), NULL);
    if (!j->body) {
        job_free(j);
        return;
    }
    j->srv = srv;
    j->health = true;
    j->set = srv->current;
    app_set_retain(j->set);
    j->app = app;
    j->start_ns = wagi_now_ns();
    snprintf(j->id, sizeof j->id, "health-%llx", (unsigned long long)++srv->next_id);
    j->rq = (wagi_request){
        .method = "GET", .path = j->strings[0], .query = j->strings[1], .protocol = "HTTP/1.1",
        .host = j->strings[2], .server_name = j->strings[3], .server_port = j->strings[4],
        .remote_addr = j->strings[5], .body = j->body,
    };
    t->running = true;
    enqueue(srv, j);
}

static void health_done(job *j)
{
    server *srv = j->srv;
    /* The set may have been replaced meanwhile: then the result is moot. */
    for (size_t i = 0; i < srv->nhealth; i++)
        if (srv->health[i].srv && j->set == srv->current && &srv->current->apps[srv->health[i].app] == j->app)
            srv->health[i].running = false;
    bool ok = j->status > 0 && j->status < 400;
    const serve_app *app = j->app;
    int change = metrics_health_result(app->metrics, ok, app->rc.health_retries);
    if (change > 0)
        log_json(LOG_WARN, "unhealthy: its requests get 503 until a health check passes",
                 json_pack("{s:s,s:i,s:s}", "app", app->name, "status", j->status, "reason",
                           j->why[0] ? j->why : "status 400 or more"));
    else if (change < 0)
        log_json(LOG_INFO, "healthy again", json_pack("{s:s}", "app", app->name));
    else if (!ok)
        log_json(LOG_DEBUG, "health check failed", json_pack("{s:s,s:i}", "app", app->name, "status", j->status));
}

static void stop_health_checks(server *srv)
{
    for (size_t i = 0; i < srv->nhealth; i++)
        if (srv->health[i].ev) event_free(srv->health[i].ev);
    free(srv->health);
    srv->health = NULL;
    srv->nhealth = 0;
}

/* One timer per app of the current set that has a health_check. */
static void start_health_checks(server *srv)
{
    stop_health_checks(srv);
    app_set *set = srv->current;
    srv->health = calloc(set->napps ? set->napps : 1, sizeof *srv->health);
    if (!srv->health) return;
    srv->nhealth = set->napps;
    for (size_t i = 0; i < set->napps; i++) {
        const serve_app *app = &set->apps[i];
        if (!app->rc.health_enabled) continue;
        health_timer *t = &srv->health[i];
        *t = (health_timer){.srv = srv, .app = i};
        t->ev = event_new(srv->base, -1, EV_PERSIST, health_check, t);
        struct timeval every = {(time_t)(app->rc.health_interval_ms / 1000),
                                (suseconds_t)(app->rc.health_interval_ms % 1000) * 1000};
        if (t->ev) event_add(t->ev, &every);
    }
}

static app_metrics *metrics_for(void *ctx, const char *name, const char *route)
{
    server *srv = ctx;
    const char *r = *route ? route : "/";
    for (size_t i = 0; i < srv->nregistry; i++)
        if (metrics_app_is(srv->registry[i], name, r)) return srv->registry[i];
    app_metrics **grown = realloc(srv->registry, (srv->nregistry + 1) * sizeof *grown);
    if (!grown) return NULL;
    srv->registry = grown;
    app_metrics *m = metrics_app_new(name, route);
    if (m) srv->registry[srv->nregistry++] = m;
    return m;
}

/* Load the manifests again; on success the new apps take the following
 * requests while those in flight finish with the old ones. */
static bool reload(server *srv, char *why, size_t whylen)
{
    app_set *set = app_set_load(srv->files, srv->nfiles, metrics_for, srv, why, whylen);
    if (!set) {
        log_json(LOG_ERROR, "reload failed; still serving the previous apps", json_pack("{s:s}", "reason", why));
        return false;
    }
    app_set *old = srv->current;
    srv->current = set;
    app_set_release(old);
    start_health_checks(srv);
    log_json(LOG_INFO, "reloaded", json_pack("{s:I}", "apps", (json_int_t)set->napps));
    return true;
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "GET";
    }
}

static void serve_metrics(server *srv, struct evhttp_request *req)
{
    size_t len;
    char *text = metrics_render(srv->registry, srv->nregistry, (double)(wagi_now_ns() - srv->started_ns) / 1e9, &len);
    if (!text) {
        send_error(req, 500, "out of memory");
        return;
    }
    send_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}

/* Control endpoints answer only requests from this machine. */
static bool from_loopback(struct evhttp_request *req)
{
    char *peer = NULL;
    uint16_t port = 0;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &port);
    return peer && (!strcmp(peer, "127.0.0.1") || !strcmp(peer, "::1") || !strncmp(peer, "::ffff:127.", 11));
}

/* GET /_qyvol/logs?app=NAME&level=LEVEL&tail=N[&follow=1], for `qyv logs`:
 * the kept lines that match, then (follow) every new one, as chunks. */
typedef struct log_query {
    server *srv;
    struct evhttp_request *req;
    char app[128];
    log_level level;
    size_t skip;               /* matching lines to leave out before the tail */
    struct evbuffer *out;
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
    evbuffer_add_printf(q->out, "%s\n", l->text);
}

static void follow_line(const log_line *l, void *ctx)
{
    log_query *q = ctx;
    if (!log_matches(q, l)) return;
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add_printf(b, "%s\n", l->text);
    evhttp_send_reply_chunk(q->req, b);
    evbuffer_free(b);
}

static void forget_follower(server *srv, log_query *q)
{
    log_unfollow(q);
    for (log_query **p = &srv->followers; *p; p = &(*p)->next)
        if (*p == q) {
            *p = q->next;
            break;
        }
    free(q);
}

static void follower_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    log_query *q = arg;
    forget_follower(q->srv, q);
}

static void serve_logs(server *srv, struct evhttp_request *req, const char *query)
{
    if (!from_loopback(req)) {
        send_error(req, 403, "logs are only given to this machine");
        return;
    }
    struct evkeyvalq params;
    if (evhttp_parse_query_str(query ? query : "", &params) != 0) {
        send_error(req, 400, "bad query string");
        return;
    }
    log_query *q = calloc(1, sizeof *q);
    const char *app = evhttp_find_header(&params, "app"), *level = evhttp_find_header(&params, "level");
    const char *tail = evhttp_find_header(&params, "tail"), *follow = evhttp_find_header(&params, "follow");
    bool ok = q != NULL;
    if (ok) {
        q->srv = srv;
        q->req = req;
        snprintf(q->app, sizeof q->app, "%s", app ? app : "");
        q->level = LOG_DEBUG;
        if (level && !log_level_parse(level, &q->level)) ok = false;
    }
    long want = tail ? strtol(tail, NULL, 10) : 100;
    bool following = follow && !strcmp(follow, "1");
    evhttp_clear_headers(&params); /* app, level, tail and follow point into it */
    if (!ok) {
        free(q);
        send_error(req, 400, "level must be debug, info, warn or error");
        return;
    }
    /* Keep only the last `want` matching lines. */
    log_each(count_line, q);
    q->skip = want >= 0 && q->skip > (size_t)want ? q->skip - (size_t)want : 0;
    q->out = evbuffer_new();
    if (q->out) log_each(add_line, q);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/x-ndjson");
    if (!following) {
        evhttp_send_reply(req, 200, "OK", q->out);
        if (q->out) evbuffer_free(q->out);
        free(q);
        return;
    }
    evhttp_send_reply_start(req, 200, "OK");
    if (q->out) {
        evhttp_send_reply_chunk(req, q->out);
        evbuffer_free(q->out);
        q->out = NULL;
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (!evcon || !log_follow(follow_line, q)) {
        evhttp_send_reply_end(req);
        free(q);
        return;
    }
    evhttp_connection_set_closecb(evcon, follower_closed, q);
    q->next = srv->followers;
    srv->followers = q;
}

/* End every `qyv logs --follow` stream (shutdown). */
static void end_followers(server *srv)
{
    while (srv->followers) {
        log_query *q = srv->followers;
        struct evhttp_connection *evcon = evhttp_request_get_connection(q->req);
        if (evcon) evhttp_connection_set_closecb(evcon, NULL, NULL);
        evhttp_send_reply_end(q->req);
        forget_follower(srv, q);
    }
}

/* POST /_qyvol/reload, from this machine only (`qyv serve --reload`). */
static void serve_reload(server *srv, struct evhttp_request *req)
{
    if (!from_loopback(req)) {
        send_error(req, 403, "reload is only accepted from this machine");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        send_error(req, 405, "use POST");
        return;
    }
    char why[900];
    bool ok = reload(srv, why, sizeof why);
    json_t *body = ok ? json_pack("{s:b,s:I}", "reloaded", 1, "apps", (json_int_t)srv->current->napps)
                      : json_pack("{s:b,s:s}", "reloaded", 0, "error", why);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    send_text(req, ok ? 200 : 500, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || !*path) path = "/";
    if (!strcmp(path, "/_qyvol/health")) {
        json_t *apps = json_object();
        bool all_healthy = true;
        for (size_t i = 0; i < srv->current->napps; i++) {
            serve_app *a = &srv->current->apps[i];
            bool healthy = metrics_app_healthy(a->metrics);
            all_healthy &= healthy;
            json_object_set_new(apps, a->name, json_string(healthy ? "healthy" : "unhealthy"));
        }
        const char *status = srv->draining ? "draining" : all_healthy ? "ok" : "degraded";
        json_t *body = json_pack("{s:s,s:o}", "status", status, "apps", apps);
        char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(body);
        send_text(req, srv->draining ? 503 : 200, "application/json", text ? text : "{}", text ? strlen(text) : 2);
        free(text);
        return;
    }
    if (!strcmp(path, "/_qyvol/metrics")) {
        serve_metrics(srv, req);
        return;
    }
    if (!strcmp(path, "/_qyvol/reload")) {
        serve_reload(srv, req);
        return;
    }
    if (!strcmp(path, "/_qyvol/logs")) {
        serve_logs(srv, req, query);
        return;
    }
    size_t header_bytes = 0;
    struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
    for (struct evkeyval *h = headers->tqh_first; h; h = h->next.tqe_next)
        header_bytes += strlen(h->key) + strlen(h->value) + 4; /* "K: V\r\n" */
    if (header_bytes > srv->opt.max_headers) {
        send_error(req, 431, "the request's headers are too large");
        return;
    }
    serve_app *app = app_set_route(srv->current, path);
    if (!app) {
        send_error(req, 404, "no app serves this path");
        return;
    }
    if (srv->draining) {
        send_error(req, 503, "the server is shutting down");
        return;
    }
    if (!metrics_app_healthy(app->metrics)) {
        char retry[24];
        snprintf(retry, sizeof retry, "%llu", (unsigned long long)(app->rc.health_interval_ms + 999) / 1000);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry);
        send_error(req, 503, "the app is failing its health check");
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        send_error(req, 503, "out of memory");
        return;
    }
    j->srv = srv;
    j->req = req;
    j->set = srv->current;
    app_set_retain(j->set);
    j->app = app;
    j->start_ns = wagi_now_ns();
    snprintf(j->id, sizeof j->id, "%llx-%llx", (unsigned long long)(srv->started_ns / 1000000 % 0xffffff),
             (unsigned long long)++srv->next_id);
    /* Copy what the worker needs: the request object stays on this thread. */
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *peer = NULL;
    uint16_t peer_port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &peer_port);
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    char port[8];
    snprintf(port, sizeof port, "%u", srv->opt.port);
    char hostbuf[300];
    if (!host) snprintf(hostbuf, sizeof hostbuf, "%s:%s", srv->opt.address, port), host = hostbuf;
    char server_name[256];
    snprintf(server_name, sizeof server_name, "%.*s", (int)strcspn(host, ":"), host);
    j->strings[0] = strdup(path);
    j->strings[1] = strdup(query ? query : "");
    j->strings[2] = strdup(host);
    j->strings[3] = strdup(server_name);
    j->strings[4] = strdup(port);
    j->strings[5] = strdup(peer ? peer : "");
    j->rq = (wagi_request){
        .method = method_name(evhttp_request_get_command(req)),
        .path = j->strings[0],
        .query = j->strings[1],
        .protocol = "HTTP/1.1",
        .host = j->strings[2],
        .server_name = j->strings[3],
        .server_port = j->strings[4],
        .remote_addr = j->strings[5],
    };
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    size_t n = 0;
    for (struct evkeyval *h = in->tqh_first; h; h = h->next.tqe_next) n++;
    j->headers = calloc(n ? n : 1, sizeof *j->headers);
    bool ok = j->headers != NULL;
    for (size_t i = 0; i < 6; i++) ok = ok && j->strings[i];
    size_t k = 0;
    for (struct evkeyval *h = in->tqh_first; ok && h; h = h->next.tqe_next, k++) {
        j->headers[k].name = strdup(h->key);
        j->headers[k].value = strdup(h->value);
        j->rq.nheaders = k + 1;
        ok = j->headers[k].name && j->headers[k].value;
    }
    j->rq.headers = j->headers;
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(body);
    j->body = malloc(blen + 1);
    if (j->body) evbuffer_copyout(body, j->body, blen);
    j->rq.body = j->body;
    j->rq.body_len = blen;
    if (!ok || !j->body) {
        job_free(j);
        send_error(req, 503, "out of memory");
        return;
    }
    if (evcon) evhttp_connection_set_closecb(evcon, on_close, j);
    metrics_request_started(app->metrics);
    enqueue(srv, j);
}

/* ------------------------------------------------------------ shutdown */

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *srv = arg;
    long left = atomic_load(&srv->in_flight);
    if (left == 0 || wagi_now_ns() > srv->drain_deadline_ns) {
        if (left) log_json(LOG_WARN, "drain timeout: leaving requests unanswered", json_pack("{s:I}", "in_flight", (json_int_t)left));
        event_base_loopexit(srv->base, NULL);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    server *srv = arg;
    if (srv->draining) return;
    srv->draining = true;
    end_followers(srv);
    log_json(LOG_INFO, "shutting down: draining requests in flight",
             json_pack("{s:s,s:I}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", "in_flight",
                       (json_int_t)atomic_load(&srv->in_flight)));
    /* No new connections; open keep-alive ones get 503 for new requests. */
    if (srv->bound) evhttp_del_accept_socket(srv->http, srv->bound), srv->bound = NULL;
    srv->drain_deadline_ns = wagi_now_ns() + (uint64_t)srv->opt.drain_timeout_s * 1000000000u;
    srv->drain_timer = event_new(srv->base, -1, EV_PERSIST, drain_check, srv);
    struct timeval tick = {0, 20000};
    if (srv->drain_timer) event_add(srv->drain_timer, &tick);
    else event_base_loopexit(srv->base, NULL);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    char why[900];
    reload(arg, why, sizeof why);
}

/* ------------------------------------------------------------ main */

int serve_run(char *const *files, size_t nfiles, const serve_options *options)
{
    static server s;
    server *srv = &s;
    memset(srv, 0, sizeof *srv);
    srv->files = files;
    srv->nfiles = nfiles;
    srv->opt = *options;
    srv->started_ns = wagi_now_ns();
    int status = 1;
    char why[900];
    srv->current = app_set_load(files, nfiles, metrics_for, srv, why, sizeof why);
    if (!srv->current) {
        /* Mistakes in a manifest start with its FILE:LINE:COLUMN, as is. */
        bool located = false;
        for (size_t i = 0; i < nfiles; i++) located |= !strncmp(why, files[i], strlen(files[i]));
        fprintf(stderr, "%s%s\n", located ? "" : "qyv serve: ", why);
        goto out;
    }
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "qyv serve: libevent has no thread support\n");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    srv->base = event_base_new();
    srv->http = srv->base ? evhttp_new(srv->base) : NULL;
    if (!srv->http) {
        fprintf(stderr, "qyv serve: cannot create the HTTP server\n");
        goto out;
    }
    evhttp_set_max_body_size(srv->http, (ev_ssize_t)srv->opt.max_body);
    /* libevent refuses oversized headers with a bare 400; let it buffer up
     * to 16 times our limit and answer 431 ourselves (on_request). */
    evhttp_set_max_headers_size(srv->http, (ev_ssize_t)srv->opt.max_headers * 16);
    evhttp_set_timeout(srv->http, srv->opt.client_timeout_s);
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(srv->http, on_request, srv);
    srv->bound = evhttp_bind_socket_with_handle(srv->http, srv->opt.address, srv->opt.port);
    if (!srv->bound) {
        fprintf(stderr, "qyv serve: cannot listen on %s:%u: %s\n", srv->opt.address, srv->opt.port, strerror(errno));
        goto out;
    }
    srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    srv->sighup = evsignal_new(srv->base, SIGHUP, on_sighup, srv);
    if (!srv->sigterm || !srv->sigint || !srv->sighup || event_add(srv->sigterm, NULL) ||
        event_add(srv->sigint, NULL) || event_add(srv->sighup, NULL)) {
        fprintf(stderr, "qyv serve: cannot handle signals\n");
        goto out;
    }
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    pthread_mutex_init(&srv->done_mu, NULL);
    srv->done_ev = event_new(srv->base, -1, 0, answer_done, srv);
    if (!srv->done_ev) goto out;
    srv->nworkers = srv->opt.workers > 0 ? srv->opt.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (srv->nworkers < 1) srv->nworkers = 1;
    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    srv->slots = calloc((size_t)srv->nworkers, sizeof *srv->slots);
    srv->worker_args = calloc((size_t)srv->nworkers, sizeof *srv->worker_args);
    if (!srv->workers || !srv->slots || !srv->worker_args) goto out;
    int started = 0;
    for (; started < srv->nworkers; started++) {
        srv->worker_args[started] = (worker_arg){srv, &srv->slots[started]};
        if (pthread_create(&srv->workers[started], NULL, worker, &srv->worker_args[started]) != 0) break;
    }
    bool watching = pthread_create(&srv->watchdog, NULL, watchdog, srv) == 0;
    json_t *routes = json_array();
    for (size_t i = 0; i < srv->current->napps; i++) {
        const serve_app *a = &srv->current->apps[i];
        json_array_append_new(routes, json_pack("{s:s,s:s}", "app", a->name, "route", *a->route ? a->route : "/"));
    }
    start_health_checks(srv);
    log_json(LOG_INFO, "listening",
             json_pack("{s:s,s:i,s:i,s:o}", "address", srv->opt.address, "port", srv->opt.port, "workers",
                       started, "apps", routes));
    event_base_dispatch(srv->base);
    /* Stop the workers (the queue is empty once drained) and the watchdog. */
    pthread_mutex_lock(&srv->mu);
    srv->closing = true;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    for (int i = 0; i < started; i++) pthread_join(srv->workers[i], NULL);
    atomic_store(&srv->stop_watchdog, true);
    if (watching) pthread_join(srv->watchdog, NULL);
    /* Jobs finished during the joins still wait on the loop. */
    event_base_loop(srv->base, EVLOOP_NONBLOCK);
    answer_done(-1, 0, srv);
    log_json(LOG_INFO, "stopped", NULL);
    end_followers(srv);
    status = started == srv->nworkers ? 0 : 1;
out:
    if (srv->drain_timer) event_free(srv->drain_timer);
    if (srv->done_ev) event_free(srv->done_ev);
    stop_health_checks(srv);
    if (srv->sigterm) event_free(srv->sigterm);
    if (srv->sigint) event_free(srv->sigint);
    if (srv->sighup) event_free(srv->sighup);
    if (srv->http) evhttp_free(srv->http);
    if (srv->base) event_base_free(srv->base);
    free(srv->workers);
    free(srv->slots);
    free(srv->worker_args);
    app_set_release(srv->current);
    log_shutdown();
    for (size_t i = 0; i < srv->nregistry; i++) metrics_app_free(srv->registry[i]);
    free(srv->registry);
    return status;
}
