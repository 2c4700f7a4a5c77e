/*
 * server.c — the front: routing and the control endpoints.
 *
 * One thread runs libevent's loop: the HTTP server (http1.h) parses
 * requests, this file routes them by longest route prefix, answers
 * /_qyvol/... itself, and hands app requests to the app's pool of replica
 * processes (pool.h), which runs them and calls back with the response.
 * Nothing here blocks: manifests are read and modules compiled on a
 * reload thread. Nothing a guest does runs in this process.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "serve/apps.h"
#include "serve/control.h"
#include "serve/http1.h"
#include "serve/limits.h"
#include "serve/log.h"
#include "serve/metrics.h"
#include "serve/pool.h"
#include "serve/serve.h"

typedef struct server server;

/* A client's request while a replica runs it. */
typedef struct job {
    pool_request pr;           /* first: the pool hands it back */
    server *srv;
    http_exchange *x;
    app_set *set;              /* holds app alive across a reload */
    serve_app *app;
    const char *method;
    char *path;
    uint64_t start_ns;
    char id[24];
} job;

/* A reload in progress on its thread, and the requests waiting for it. */
typedef struct reload_waiter {
    http_exchange *x;
    struct reload_waiter *next;
} reload_waiter;

struct server {
    struct event_base *base;
    http_server *http;
    char *const *files;        /* the manifests, read again on reload */
    size_t nfiles;
    app_set *current;
    pool **pools;              /* one per app of current, same order */
    pool **retired;            /* pools of earlier sets, finishing their requests */
    size_t nretired;
    app_metrics **registry;    /* every app's metrics, kept across reloads */
    size_t nregistry;
    serve_options opt;
    int channels;              /* requests each replica runs at once */
    uint64_t started_ns;
    long in_flight;
    uint64_t next_id;
    bool draining;
    struct event *drain_timer, *housekeeping, *sigterm, *sigint, *sighup;
    struct log_query *followers; /* open `qyv logs --follow` streams */
    uint64_t drain_deadline_ns;
    control_auth auth;         /* who may use the control endpoints */
    /* Reloads: one thread at a time; asked again while one runs, it runs
     * once more after it (so 20 SIGHUPs make two loads, not twenty). */
    pthread_mutex_t registry_lock; /* registry: the reload thread adds to it */
    pthread_t reload_thread;
    bool reload_running, reload_again;
    int reload_pipe[2];
    struct event *reload_done;
    app_set *reload_set;       /* the thread's result */
    char reload_why[900];
    reload_waiter *reload_waiting, *reload_asked;
};

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
static void log_stderr(const job *j, const wire_response *resp, const char *replica)
{
    const char *s = resp->err, *end = s + resp->err_len;
    while (s < end && log_enabled(LOG_INFO)) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
        log_json(LOG_INFO, NULL,
                 json_pack("{s:s,s:s,s:s,s:o}", "app", j->app->name, "replica", replica, "request_id", j->id,
                           "stderr", json_bytes(s, n)));
        s += n + 1;
    }
}

static void log_access(const job *j, const wire_response *resp, const char *replica, size_t bytes)
{
    log_level level = resp->status >= 500 ? LOG_WARN : LOG_INFO;
    if (!log_enabled(level)) return; /* not even the fields: this is per request */
    double ms = (double)(wagi_now_ns() - j->start_ns) / 1e6;
    json_t *f = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:f}", "app", j->app->name, "replica", replica,
                          "request_id", j->id, "method", j->method, "path", j->path, "status", resp->status,
                          "bytes", (json_int_t)bytes, "duration_ms", ms, "instantiate_ms",
                          resp->instantiate_s * 1000);
    log_json(level, "request", f);
}

/* ------------------------------------------------------------ jobs */

static void job_free(job *j)
{
    wire_buf_free(&j->pr.msg);
    free(j->path);
    app_set_release(j->set);
    free(j);
}

/* The pool's answer: send it, log it, count it. */
static void reply(pool_request *pr, const wire_response *resp, int replica_index)
{
    job *j = (job *)pr;
    server *srv = j->srv;
    char replica[16] = "";
    if (replica_index >= 0) snprintf(replica, sizeof replica, "%d", replica_index);
    size_t bytes = 0;
    if (resp->status >= 500 && !resp->nheaders) {
        char text[700];
        int n = snprintf(text, sizeof text, "%d %s: %s (request %s)\n", resp->status, http_reason(resp->status),
                         resp->status == 504 ? "the app took too long" : "the app failed", j->id);
        bytes = (size_t)n;
        http_field h[2] = {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Request-Id", j->id}};
        http_respond(j->x, resp->status, h, 2, text, bytes);
    } else {
        http_field fixed[8], *h = resp->nheaders + 1 <= 8 ? fixed : malloc((resp->nheaders + 1) * sizeof *h);
        size_t n = 0;
        if (h) {
            for (size_t i = 0; i < resp->nheaders; i++) h[n++] = (http_field){resp->headers[i].name, resp->headers[i].value};
            h[n++] = (http_field){"X-Request-Id", j->id};
        }
        bytes = resp->body_len;
        http_respond(j->x, resp->status, h, n, resp->body, resp->body_len);
        if (h != fixed) free(h);
    }
    log_stderr(j, resp, replica);
    if (*resp->why)
        log_json(LOG_WARN, resp->why,
                 json_pack("{s:s,s:s,s:s}", "app", j->app->name, "replica", replica, "request_id", j->id));
    log_access(j, resp, replica, bytes);
    metrics_request_done(j->app->metrics, resp->status, (double)(wagi_now_ns() - j->start_ns) / 1e9,
                         resp->started ? resp->instantiate_s : 0, (qv_trap_kind)resp->trap);
    srv->in_flight--;
    job_free(j);
}

/* The client went away: a request still queued need not run. */
static void on_abandon(void *arg)
{
    job *j = arg;
    j->pr.cancelled = true;
}

/* ------------------------------------------------------------ pools */

static void free_pools(pool **pools, size_t n)
{
    for (size_t i = 0; pools && i < n; i++) pool_free(pools[i]);
    free(pools);
}

/* A pool per app of set; NULL (why filled) if one cannot be made. */
static pool **start_pools(server *srv, app_set *set, char *why, size_t whylen)
{
    pool **pools = calloc(set->napps ? set->napps : 1, sizeof *pools);
    if (!pools) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    app_set_log_warnings(set);
    pool_options opt = {srv->base, srv->channels, srv->opt.address, srv->opt.port};
    for (size_t i = 0; i < set->napps; i++) {
        pools[i] = pool_start(&opt, set, &set->apps[i], why, whylen);
        if (!pools[i]) {
            free_pools(pools, i);
            return NULL;
        }
    }
    return pools;
}

/* Free the retired pools that have nothing left to answer. */
static void housekeeping(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *srv = arg;
    size_t kept = 0;
    for (size_t i = 0; i < srv->nretired; i++) {
        if (pool_idle(srv->retired[i])) pool_free(srv->retired[i]);
        else srv->retired[kept++] = srv->retired[i];
    }
    srv->nretired = kept;
}

static app_metrics *metrics_for(void *ctx, const char *name, const char *route)
{
    server *srv = ctx;
    const char *r = *route ? route : "/";
    app_metrics *m = NULL;
    pthread_mutex_lock(&srv->registry_lock); /* the reload thread calls this */
    for (size_t i = 0; i < srv->nregistry && !m; i++)
        if (metrics_app_is(srv->registry[i], name, r)) m = srv->registry[i];
    app_metrics **grown = m ? NULL : realloc(srv->registry, (srv->nregistry + 1) * sizeof *grown);
    if (grown) {
        srv->registry = grown;
        m = metrics_app_new(name, route);
        if (m) srv->registry[srv->nregistry++] = m;
    }
    pthread_mutex_unlock(&srv->registry_lock);
    return m;
}

/* Put set in place of the current apps: the following requests go to
 * it, while those in flight finish with the old pools. */
static bool swap_in(server *srv, app_set *set, char *why, size_t whylen)
{
    pool **pools = start_pools(srv, set, why, whylen);
    if (!pools) return false;
    pool **grown = realloc(srv->retired, (srv->nretired + srv->current->napps + 1) * sizeof *grown);
    if (!grown) {
        free_pools(pools, set->napps);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    srv->retired = grown;
    for (size_t i = 0; i < srv->current->napps; i++) {
        pool_retire(srv->pools[i]);
        srv->retired[srv->nretired++] = srv->pools[i];
    }
    free(srv->pools);
    srv->pools = pools;
    app_set_release(srv->current);
    srv->current = set;
    return true;
}

/* The reload thread: reading manifests and compiling modules may take
 * long, and must not stall the requests the loop serves meanwhile. */
static void *reload_main(void *arg)
{
    server *srv = arg;
    srv->reload_set = app_set_load(srv->files, srv->nfiles, metrics_for, srv, srv->reload_why,
                                   sizeof srv->reload_why);
    char done = 1;
    while (write(srv->reload_pipe[1], &done, 1) < 0 && errno == EINTR) continue;
    return NULL;
}

static void reload_start(server *srv)
{
    srv->reload_running = true;
    srv->reload_again = false;
    srv->reload_asked = srv->reload_waiting; /* these get this load's result */
    srv->reload_waiting = NULL;
    srv->reload_set = NULL;
    srv->reload_why[0] = '\0';
    if (pthread_create(&srv->reload_thread, NULL, reload_main, srv) != 0) {
        snprintf(srv->reload_why, sizeof srv->reload_why, "cannot start the reload thread");
        char done = 1;
        if (write(srv->reload_pipe[1], &done, 1) < 0) srv->reload_running = false;
        srv->reload_thread = 0;
    }
}

/* Reload (SIGHUP, or x: POST /_qyvol/reload, answered when done). */
static void reload_request(server *srv, http_exchange *x)
{
    if (x) {
        reload_waiter *w = calloc(1, sizeof *w);
        if (!w) {
            http_respond_text(x, 503, "out of memory");
            return;
        }
        w->x = x;
        w->next = srv->reload_waiting;
        srv->reload_waiting = w;
    }
    if (srv->reload_running) srv->reload_again = true;
    else reload_start(srv);
}

static void on_reload_done(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    server *srv = arg;
    char drain[16];
    while (read(fd, drain, sizeof drain) > 0) continue;
    if (!srv->reload_running) return;
    if (srv->reload_thread) pthread_join(srv->reload_thread, NULL);
    srv->reload_thread = 0;
    srv->reload_running = false;
    app_set *set = srv->reload_set;
    char *why = srv->reload_why;
    bool ok = set && !srv->draining && swap_in(srv, set, why, sizeof srv->reload_why);
    if (set && !ok) app_set_release(set);
    if (ok) log_json(LOG_INFO, "reloaded", json_pack("{s:I}", "apps", (json_int_t)set->napps));
    else log_json(LOG_ERROR, "reload failed; still serving the previous apps",
                  json_pack("{s:s}", "reason", srv->draining ? "shutting down" : why));
    json_t *body = ok ? json_pack("{s:b,s:I}", "reloaded", 1, "apps", (json_int_t)set->napps)
                      : json_pack("{s:b,s:s}", "reloaded", 0, "error", srv->draining ? "shutting down" : why);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    http_field type = {"Content-Type", "application/json"};
    while (srv->reload_asked) {
        reload_waiter *w = srv->reload_asked;
        srv->reload_asked = w->next;
        http_respond(w->x, ok ? 200 : 500, &type, 1, text ? text : "{}", text ? strlen(text) : 2);
        free(w);
    }
    free(text);
    if (srv->reload_again && !srv->draining) reload_start(srv);
}

static void serve_metrics(server *srv, http_exchange *x)
{
    size_t len;
    pthread_mutex_lock(&srv->registry_lock);
    char *text = metrics_render(srv->registry, srv->nregistry, (double)(wagi_now_ns() - srv->started_ns) / 1e9, &len);
    pthread_mutex_unlock(&srv->registry_lock);
    if (!text) {
        http_respond_text(x, 500, "out of memory");
        return;
    }
    http_field type = {"Content-Type", "text/plain; version=0.0.4; charset=utf-8"};
    http_respond(x, 200, &type, 1, text, len);
    free(text);
}

static const char *find_header(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

/* A request from this machine that names this machine (no DNS
 * rebinding): it may see the server's inner state. */
static bool local_request(const http_request *r)
{
    return r->peer_loopback && control_host_is_local(r->host);
}

/* Control endpoints that act or reveal logs also need the token. */
static bool control_allowed(server *srv, http_exchange *x, const http_request *r)
{
    if (!local_request(r)) {
        http_respond_text(x, 403, "control endpoints answer only requests from this machine to localhost");
        return false;
    }
    if (!control_bearer_ok(&srv->auth, find_header(r, "Authorization"))) {
        http_field h = {"WWW-Authenticate", "Bearer"};
        http_respond(x, 401, &h, 1, "401 Unauthorized: the server's control token is needed\n", 55);
        return false;
    }
    return true;
}

/* GET /_qyvol/logs?app=NAME&level=LEVEL&tail=N[&follow=1], for `qyv logs`:
 * the kept lines that match, then (follow) every new one, as chunks. */
typedef struct log_query {
    server *srv;
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

static void follower_gone(void *arg)
{
    log_query *q = arg;
    http_exchange *x = q->x;
    forget_follower(q->srv, q);
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

static void serve_logs(server *srv, http_exchange *x, const http_request *r)
{
    if (!control_allowed(srv, x, r)) return;
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
        q->srv = srv;
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
        free(q);
        http_respond_text(x, q ? 400 : 503, bad);
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
    q->next = srv->followers;
    srv->followers = q;
}

/* End every `qyv logs --follow` stream (shutdown). */
static void end_followers(server *srv)
{
    while (srv->followers) {
        log_query *q = srv->followers;
        http_exchange *x = q->x;
        forget_follower(srv, q);
        http_stream_end(x);
    }
}

/* POST /_qyvol/reload (`qyv serve --reload`): answered once the load is done. */
static void serve_reload(server *srv, http_exchange *x, const http_request *r)
{
    if (!control_allowed(srv, x, r)) return;
    if (strcmp(r->method, "POST")) {
        http_field h = {"Allow", "POST"};
        http_respond(x, 405, &h, 1, "405 Method Not Allowed: use POST\n", 33);
        return;
    }
    reload_request(srv, x);
}

/* Retry-After for an app failing its health checks: its next check. */
static void respond_unhealthy(http_exchange *x, const serve_app *app)
{
    char retry[24], text[200];
    snprintf(retry, sizeof retry, "%llu", (unsigned long long)(app->rc.health_interval_ms + 999) / 1000);
    int n = snprintf(text, sizeof text, "503 %s: the app is failing its health check\n", http_reason(503));
    http_field h[2] = {{"Content-Type", "text/plain; charset=utf-8"}, {"Retry-After", retry}};
    http_respond(x, 503, h, 2, text, (size_t)n);
}

/* GET /_qyvol/health: the server and each app; each replica for local
 * clients only (their PIDs and exit reasons are nobody else's business). */
static void serve_health(server *srv, http_exchange *x, const http_request *r)
{
    bool detailed = local_request(r);
    json_t *apps = json_object(), *replicas = json_object();
    bool all_healthy = true;
    for (size_t i = 0; i < srv->current->napps; i++) {
        bool healthy = pool_healthy(srv->pools[i]);
        all_healthy &= healthy;
        json_object_set_new(apps, srv->current->apps[i].name, json_string(healthy ? "healthy" : "unhealthy"));
        if (detailed) json_object_set_new(replicas, srv->current->apps[i].name, pool_describe(srv->pools[i]));
    }
    const char *status = srv->draining ? "draining" : all_healthy ? "ok" : "degraded";
    json_t *body = detailed ? json_pack("{s:s,s:o,s:o}", "status", status, "apps", apps, "replicas", replicas)
                            : json_pack("{s:s}", "status", status);
    if (!detailed) json_decref(apps), json_decref(replicas);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    http_field type = {"Content-Type", "application/json"};
    http_respond(x, srv->draining ? 503 : 200, &type, 1, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

/* Headers a guest gets as HTTP_* variables: not Proxy (httpoxy), and not
 * names with '_', which would collide with their '-' twins. */
static bool header_for_guest(const char *name)
{
    return strcasecmp(name, "Proxy") && !strchr(name, '_');
}

static void handle_request(server *srv, http_exchange *x, const http_request *r)
{
    const char *path = r->path;
    if (!strncmp(path, "/_qyvol/", 8) || !strcmp(path, "/_qyvol")) {
        if (!strcmp(path, "/_qyvol/health")) serve_health(srv, x, r);
        else if (!strcmp(path, "/_qyvol/metrics")) serve_metrics(srv, x);
        else if (!strcmp(path, "/_qyvol/reload")) serve_reload(srv, x, r);
        else if (!strcmp(path, "/_qyvol/logs")) serve_logs(srv, x, r);
        else http_respond_text(x, 404, "no such control endpoint (/_qyvol/ is the server's own)");
        return;
    }
    serve_app *app = app_set_route(srv->current, path);
    if (!app) {
        http_respond_text(x, 404, "no app serves this path");
        return;
    }
    if (srv->draining) {
        http_respond_text(x, 503, "the server is shutting down");
        return;
    }
    pool *p = srv->pools[app - srv->current->apps];
    if (!pool_healthy(p)) {
        respond_unhealthy(x, app);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        http_respond_text(x, 503, "out of memory");
        return;
    }
    j->srv = srv;
    j->x = x;
    j->set = srv->current;
    app_set_retain(j->set);
    j->app = app;
    j->method = r->method;
    j->start_ns = wagi_now_ns();
    snprintf(j->id, sizeof j->id, "%llx-%llx", (unsigned long long)(srv->started_ns / 1000000 % 0xffffff),
             (unsigned long long)++srv->next_id);
    /* The request as the replica gets it: its strings point into the
     * request, which lives until we answer. */
    const char *host = r->host;
    char port[8], hostbuf[300], server_name[256];
    snprintf(port, sizeof port, "%u", srv->opt.port);
    if (!*host) snprintf(hostbuf, sizeof hostbuf, "%s:%s", srv->opt.address, port), host = hostbuf;
    snprintf(server_name, sizeof server_name, "%.*s", (int)strcspn(host, ":"), host);
    wagi_header fixed[32], *list = r->nheaders <= 32 ? fixed : calloc(r->nheaders, sizeof *list);
    size_t n = 0;
    for (size_t k = 0; list && k < r->nheaders; k++)
        if (header_for_guest(r->headers[k].name)) list[n++] = (wagi_header){r->headers[k].name, r->headers[k].value};
    wire_request wr = {
        .rq = {.method = j->method, .path = path, .query = r->query,
               .protocol = r->version_minor ? "HTTP/1.1" : "HTTP/1.0", .host = host, .server_name = server_name,
               .server_port = port, .remote_addr = r->peer, .headers = list, .nheaders = n, .body = r->body,
               .body_len = r->body_len},
        .timeout_ms = app->rc.timeout_ms,
        .id = j->id,
    };
    bool ok = list && wire_request_encode(&j->pr.msg, &wr);
    if (list != fixed) free(list);
    if (!ok) {
        job_free(j);
        http_respond_text(x, 503, "out of memory");
        return;
    }
    j->pr.timeout_ms = app->rc.timeout_ms;
    j->pr.done = reply;
    http_on_abandon(x, on_abandon, j);
    metrics_request_started(app->metrics);
    srv->in_flight++;
    pool_verdict v = pool_submit(p, &j->pr); /* may answer (reply) before returning */
    if (v == POOL_TAKEN) return;
    http_on_abandon(x, NULL, NULL);
    srv->in_flight--;
    metrics_request_done(app->metrics, 503, (double)(wagi_now_ns() - j->start_ns) / 1e9, 0, 0);
    job_free(j);
    if (v == POOL_UNHEALTHY) respond_unhealthy(x, app);
    else http_respond_text(x, 503, "too many requests are waiting for this app");
}

static void on_request(void *ctx, http_exchange *x, const http_request *r)
{
    handle_request(ctx, x, r);
}

/* ------------------------------------------------------------ shutdown */

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *srv = arg;
    long left = srv->in_flight;
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
                       (json_int_t)srv->in_flight));
    /* No new connections; idle ones close, busy ones after their answer. */
    http_server_drain(srv->http);
    srv->drain_deadline_ns = wagi_now_ns() + (uint64_t)srv->opt.drain_timeout_s * 1000000000u;
    srv->drain_timer = event_new(srv->base, -1, EV_PERSIST, drain_check, srv);
    struct timeval tick = {0, 20000};
    if (srv->drain_timer) event_add(srv->drain_timer, &tick);
    else event_base_loopexit(srv->base, NULL);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    reload_request(arg, NULL);
}

/* ------------------------------------------------------------ main */

int serve_run(char *const *files, size_t nfiles, const serve_options *options)
{
    static server s;
    server *srv = &s;
    memset(srv, 0, sizeof *srv);
    pthread_mutex_init(&srv->registry_lock, NULL);
    srv->reload_pipe[0] = srv->reload_pipe[1] = -1;
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
    signal(SIGPIPE, SIG_IGN);
    /* The changelist folds the many add/delete pairs of a request's
     * events into fewer epoll_ctl calls, the front's main system cost. */
    struct event_config *cfg = event_config_new();
    if (cfg) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    srv->base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg) event_config_free(cfg);
    http_limits limits = {
        .max_head = srv->opt.max_headers,
        .max_body = srv->opt.max_body,
        .head_timeout_ms = (unsigned)srv->opt.header_timeout_s * 1000u,
        .idle_timeout_ms = (unsigned)srv->opt.client_timeout_s * 1000u,
        .max_connections = srv->opt.max_connections,
    };
    srv->http = srv->base ? http_server_new(srv->base, &limits, on_request, srv) : NULL;
    if (!srv->http || pipe2(srv->reload_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        !(srv->reload_done = event_new(srv->base, srv->reload_pipe[0], EV_READ | EV_PERSIST, on_reload_done, srv)) ||
        event_add(srv->reload_done, NULL)) {
        fprintf(stderr, "qyv serve: cannot create the HTTP server\n");
        goto out;
    }
    if (http_server_listen(srv->http, srv->opt.address, srv->opt.port, why, sizeof why) != 0) {
        fprintf(stderr, "qyv serve: %s\n", why);
        goto out;
    }
    if (control_auth_init(&srv->auth, srv->opt.port, why, sizeof why) != 0)
        log_json(LOG_WARN, "no control token: qyv logs and qyv serve --reload will be refused",
                 json_pack("{s:s}", "reason", why));
    srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    srv->sighup = evsignal_new(srv->base, SIGHUP, on_sighup, srv);
    if (!srv->sigterm || !srv->sigint || !srv->sighup || event_add(srv->sigterm, NULL) ||
        event_add(srv->sigint, NULL) || event_add(srv->sighup, NULL)) {
        fprintf(stderr, "qyv serve: cannot handle signals\n");
        goto out;
    }
    srv->channels = srv->opt.workers > 0 ? srv->opt.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (srv->channels < 1) srv->channels = 1;
    srv->pools = start_pools(srv, srv->current, why, sizeof why);
    if (!srv->pools) {
        fprintf(stderr, "qyv serve: %s\n", why);
        goto out;
    }
    srv->housekeeping = event_new(srv->base, -1, EV_PERSIST, housekeeping, srv);
    struct timeval every = {0, 200000};
    if (!srv->housekeeping || event_add(srv->housekeeping, &every) != 0) goto out;
    json_t *routes = json_array();
    for (size_t i = 0; i < srv->current->napps; i++) {
        const serve_app *a = &srv->current->apps[i];
        json_array_append_new(routes, json_pack("{s:s,s:s,s:i}", "app", a->name, "route", *a->route ? a->route : "/",
                                                "replicas", (int)a->rc.replicas));
    }
    json_t *fields = json_pack("{s:s,s:i,s:i,s:s,s:o}", "address", srv->opt.address, "port", srv->opt.port,
                               "threads_per_replica", srv->channels, "limits", limits_mode(), "apps", routes);
    if (*limits_mode_reason()) json_object_set_new(fields, "limits_reason", json_string(limits_mode_reason()));
    log_json(LOG_INFO, "listening", fields);
    event_base_dispatch(srv->base);
    log_json(LOG_INFO, "stopped", NULL);
    end_followers(srv);
    status = 0;
out:
    if (srv->reload_running && srv->reload_thread) {
        pthread_join(srv->reload_thread, NULL);
        if (srv->reload_set) app_set_release(srv->reload_set);
    }
    srv->reload_running = false;
    for (reload_waiter *lists[2] = {srv->reload_asked, srv->reload_waiting}, **l = lists; l < lists + 2; l++)
        while (*l) {
            reload_waiter *w = *l;
            *l = w->next;
            http_respond_text(w->x, 503, "the server is shutting down");
            free(w);
        }
    /* The replicas go with their pools: sockets closed, processes reaped. */
    if (srv->pools) free_pools(srv->pools, srv->current->napps);
    for (size_t i = 0; i < srv->nretired; i++) pool_free(srv->retired[i]);
    free(srv->retired);
    limits_cleanup();
    control_auth_remove(&srv->auth);
    if (srv->drain_timer) event_free(srv->drain_timer);
    if (srv->housekeeping) event_free(srv->housekeeping);
    if (srv->sigterm) event_free(srv->sigterm);
    if (srv->sigint) event_free(srv->sigint);
    if (srv->sighup) event_free(srv->sighup);
    if (srv->reload_done) event_free(srv->reload_done);
    for (int i = 0; i < 2; i++)
        if (srv->reload_pipe[i] >= 0) close(srv->reload_pipe[i]);
    http_server_free(srv->http);
    if (srv->base) event_base_free(srv->base);
    app_set_release(srv->current);
    log_shutdown();
    for (size_t i = 0; i < srv->nregistry; i++) metrics_app_free(srv->registry[i]);
    free(srv->registry);
    pthread_mutex_destroy(&srv->registry_lock);
    return status;
}
