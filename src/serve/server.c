/*
 * server.c — the front: the HTTP server and the control endpoints.
 *
 * One thread runs libevent's loop: it parses requests, routes them by
 * longest route prefix, answers /_qyvol/... itself, and hands app requests
 * to the app's pool of replica processes (pool.h), which runs them and
 * calls back with the response. Nothing here blocks, and nothing a guest
 * does runs in this process.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "serve/apps.h"
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
    struct evhttp_request *req;
    app_set *set;              /* holds app alive across a reload */
    serve_app *app;
    const char *method;
    char *path;
    uint64_t start_ns;
    char id[24];
} job;

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
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
    bool in_handler;           /* inside evhttp's request callback */
    struct event *drain_timer, *housekeeping, *sigterm, *sigint, *sighup;
    struct log_query *followers; /* open `qyv logs --follow` streams */
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

/* Write a reply evhttp has just queued to the client now, rather than on
 * the loop's next turn, and let evhttp finish the request at once (it
 * does that when its bufferevent reports the output written). The write
 * event it enabled is then disabled again before the loop hands either
 * change to the kernel: two epoll_ctl calls and a wake-up fewer per
 * request. What the socket does not take is left to evhttp. Only outside
 * evhttp's own callbacks (finishing a request may free the connection). */
static void write_now(struct evhttp_connection *evcon)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd < 0) return;
    struct evbuffer *out = bufferevent_get_output(bev);
    while (evbuffer_get_length(out) && evbuffer_write(out, fd) > 0) continue;
    if (!evbuffer_get_length(out)) bufferevent_trigger(bev, EV_WRITE, 0);
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
    if (!pr->cancelled) {
        struct evhttp_connection *evcon = evhttp_request_get_connection(j->req);
        if (evcon) evhttp_connection_set_closecb(evcon, NULL, NULL);
        struct evkeyvalq *h = evhttp_request_get_output_headers(j->req);
        evhttp_add_header(h, "X-Request-Id", j->id);
        if (resp->status >= 500 && !resp->nheaders) {
            char text[700];
            int n = snprintf(text, sizeof text, "%d %s: %s (request %s)\n", resp->status, reason(resp->status),
                             resp->status == 504 ? "the app took too long" : "the app failed", j->id);
            bytes = (size_t)n;
            send_text(j->req, resp->status, "text/plain; charset=utf-8", text, bytes);
        } else {
            for (size_t i = 0; i < resp->nheaders; i++)
                evhttp_add_header(h, resp->headers[i].name, resp->headers[i].value);
            struct evbuffer *buf = evbuffer_new();
            if (buf) evbuffer_add(buf, resp->body, resp->body_len);
            bytes = resp->body_len;
            evhttp_send_reply(j->req, resp->status, reason(resp->status), buf);
            if (buf) evbuffer_free(buf);
        }
        /* j->req may be freed from here on. */
        if (evcon && !srv->in_handler) write_now(evcon);
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

static void on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    job *j = arg;
    if (j) j->pr.cancelled = true;
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
    pool **pools = start_pools(srv, set, why, whylen);
    if (!pools) {
        app_set_release(set);
        log_json(LOG_ERROR, "reload failed; still serving the previous apps", json_pack("{s:s}", "reason", why));
        return false;
    }
    pool **grown = realloc(srv->retired, (srv->nretired + srv->current->napps + 1) * sizeof *grown);
    if (!grown) {
        free_pools(pools, set->napps);
        app_set_release(set);
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

/* Retry-After for an app failing its health checks: its next check. */
static void retry_after_health(struct evhttp_request *req, const serve_app *app)
{
    char retry[24];
    snprintf(retry, sizeof retry, "%llu", (unsigned long long)(app->rc.health_interval_ms + 999) / 1000);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", retry);
}

/* GET /_qyvol/health: the server, each app, each replica. */
static void serve_health(server *srv, struct evhttp_request *req)
{
    json_t *apps = json_object(), *replicas = json_object();
    bool all_healthy = true;
    for (size_t i = 0; i < srv->current->napps; i++) {
        bool healthy = pool_healthy(srv->pools[i]);
        all_healthy &= healthy;
        json_object_set_new(apps, srv->current->apps[i].name, json_string(healthy ? "healthy" : "unhealthy"));
        json_object_set_new(replicas, srv->current->apps[i].name, pool_describe(srv->pools[i]));
    }
    const char *status = srv->draining ? "draining" : all_healthy ? "ok" : "degraded";
    json_t *body = json_pack("{s:s,s:o,s:o}", "status", status, "apps", apps, "replicas", replicas);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    send_text(req, srv->draining ? 503 : 200, "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

static void handle_request(server *srv, struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || !*path) path = "/";
    if (!strcmp(path, "/_qyvol/health")) {
        serve_health(srv, req);
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
    pool *p = srv->pools[app - srv->current->apps];
    if (!pool_healthy(p)) {
        retry_after_health(req, app);
        send_error(req, 503, "the app is failing its health check");
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        send_error(req, 503, "out of memory");
        return;
    }
    j->srv = srv;
    j->req = req;
    j->set = srv->current;
    app_set_retain(j->set);
    j->app = app;
    j->method = method_name(evhttp_request_get_command(req));
    j->start_ns = wagi_now_ns();
    snprintf(j->id, sizeof j->id, "%llx-%llx", (unsigned long long)(srv->started_ns / 1000000 % 0xffffff),
             (unsigned long long)++srv->next_id);
    /* The request as the replica gets it: its strings point into evhttp's
     * request, which lives until we answer. */
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *peer = NULL;
    uint16_t peer_port = 0;
    if (evcon) evhttp_connection_get_peer(evcon, &peer, &peer_port);
    const char *host = evhttp_find_header(headers, "Host");
    char port[8], hostbuf[300], server_name[256];
    snprintf(port, sizeof port, "%u", srv->opt.port);
    if (!host) snprintf(hostbuf, sizeof hostbuf, "%s:%s", srv->opt.address, port), host = hostbuf;
    snprintf(server_name, sizeof server_name, "%.*s", (int)strcspn(host, ":"), host);
    size_t n = 0;
    for (struct evkeyval *h = headers->tqh_first; h; h = h->next.tqe_next) n++;
    wagi_header *list = calloc(n ? n : 1, sizeof *list);
    size_t k = 0;
    for (struct evkeyval *h = headers->tqh_first; list && h; h = h->next.tqe_next, k++)
        list[k] = (wagi_header){h->key, h->value};
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(body);
    const char *bytes = blen ? (const char *)evbuffer_pullup(body, -1) : "";
    wire_request wr = {
        .rq = {.method = j->method, .path = path, .query = query ? query : "", .protocol = "HTTP/1.1",
               .host = host, .server_name = server_name, .server_port = port, .remote_addr = peer ? peer : "",
               .headers = list, .nheaders = n, .body = bytes ? bytes : "", .body_len = bytes ? blen : 0},
        .timeout_ms = app->rc.timeout_ms,
        .id = j->id,
    };
    bool ok = list && bytes && wire_request_encode(&j->pr.msg, &wr);
    free(list);
    if (!ok) {
        job_free(j);
        send_error(req, 503, "out of memory");
        return;
    }
    j->pr.timeout_ms = app->rc.timeout_ms;
    j->pr.done = reply;
    if (evcon) evhttp_connection_set_closecb(evcon, on_close, j);
    metrics_request_started(app->metrics);
    srv->in_flight++;
    pool_verdict v = pool_submit(p, &j->pr); /* may answer (reply) before returning */
    if (v == POOL_TAKEN) return;
    if (evcon) evhttp_connection_set_closecb(evcon, NULL, NULL);
    srv->in_flight--;
    metrics_request_done(app->metrics, 503, (double)(wagi_now_ns() - j->start_ns) / 1e9, 0, 0);
    job_free(j);
    if (v == POOL_UNHEALTHY) {
        retry_after_health(req, app);
        send_error(req, 503, "the app is failing its health check");
    } else {
        send_error(req, 503, "too many requests are waiting for this app");
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    server *srv = arg;
    srv->in_handler = true;
    handle_request(srv, req);
    srv->in_handler = false;
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
    signal(SIGPIPE, SIG_IGN);
    /* The changelist folds the many add/delete pairs of a request's
     * events into fewer epoll_ctl calls, the front's main system cost. */
    struct event_config *cfg = event_config_new();
    if (cfg) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    srv->base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg) event_config_free(cfg);
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
    /* The replicas go with their pools: sockets closed, processes reaped. */
    if (srv->pools) free_pools(srv->pools, srv->current->napps);
    for (size_t i = 0; i < srv->nretired; i++) pool_free(srv->retired[i]);
    free(srv->retired);
    limits_cleanup();
    if (srv->drain_timer) event_free(srv->drain_timer);
    if (srv->housekeeping) event_free(srv->housekeeping);
    if (srv->sigterm) event_free(srv->sigterm);
    if (srv->sigint) event_free(srv->sigint);
    if (srv->sighup) event_free(srv->sighup);
    if (srv->http) evhttp_free(srv->http);
    if (srv->base) event_base_free(srv->base);
    app_set_release(srv->current);
    log_shutdown();
    for (size_t i = 0; i < srv->nregistry; i++) metrics_app_free(srv->registry[i]);
    free(srv->registry);
    return status;
}
