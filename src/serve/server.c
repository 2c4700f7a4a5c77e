/*
 * server.c — `qyv serve`: a front on the serving runtime (runtime.h).
 *
 * One thread runs libevent's loop: the HTTP server (http1.h) parses
 * requests, this file answers /_qyvol/... itself and hands the rest to
 * the runtime, which routes them by longest route prefix to an app's pool
 * of replica processes. The manifests given are the apps; a reload (SIGHUP
 * or POST /_qyvol/reload) reads them again on a thread and makes the
 * runtime run exactly those: changed apps are replaced, unchanged ones
 * keep their replicas, missing ones are removed. Nothing a guest does
 * runs in this process.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/control.h"
#include "serve/direct.h"
#include "serve/drain.h"
#include "serve/http1.h"
#include "serve/limits.h"
#include "serve/log.h"
#include "serve/log_query.h"
#include "serve/runtime.h"
#include "serve/serve.h"
#include "tls/front.h"

/* A request waiting for a reload's result. */
typedef struct reload_waiter {
    http_exchange *x;
    struct reload_waiter *next;
} reload_waiter;

typedef struct server {
    struct event_base *base;
    http_server *http;
    tls_front *tls;            /* --tls-cert: HTTPS and plain HTTP on the port */
    serve_runtime *rt;
    char *const *files;        /* the manifests, read again on reload */
    size_t nfiles;
    serve_options opt;
    bool draining;
    struct event *housekeeping, *sigterm, *sigint, *sighup;
    struct event *direct_watch;   /* --direct: whether the front takes connections */
    drain drain;
    log_followers followers;   /* open `qyv logs --follow` streams */
    control_auth auth;         /* who may use the control endpoints */
    /* Reloads: one thread at a time; asked again while one runs, it runs
     * once more after it (so 20 SIGHUPs make two loads, not twenty). */
    pthread_t reload_thread;
    bool reload_running, reload_again;
    int reload_pipe[2];
    struct event *reload_done;
    runtime_plan *reload_plan; /* the thread's result */
    app_error reload_why;
    reload_waiter *reload_waiting, *reload_asked;
    /* --direct: the replicas take connections themselves while one app
     * is served (direct.h); the front takes them when no replica does. */
    bool direct_wanted;
    bool direct_on;            /* replicas take connections now */
    serve_direct direct;
} server;

/* ------------------------------------------------------------ direct replicas */

/* Whether replicas take connections now (not while stopping, nor with
 * more routes than the replicas' table holds), and so whether the front
 * does. */
static void update_direct(server *srv)
{
    if (!srv->direct_wanted) return;
    /* The routes first: a replica must not answer a request that is now
     * another app's. */
    char routes[DIRECT_ROUTES_BYTES];
    size_t len = runtime_routes(srv->rt, routes, sizeof routes);
    srv->direct_on = !srv->draining && direct_routes_set(srv->direct.routes, routes, len);
    runtime_set_direct(srv->rt, srv->direct_on);
    if (!srv->draining) http_server_accept(srv->http, !(srv->direct_on && runtime_direct_serving(srv->rt)));
}

/* Every few milliseconds: the front takes connections too while no
 * replica thread is free to (all in slow requests: the server's own
 * endpoints must still answer, new clients must not wait on them). */
static void watch_direct(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *srv = arg;
    direct_routes *all = srv->direct.routes;
    bool full = (unsigned)(atomic_load(&all->front_conns) + atomic_load(&all->replica_conns)) >= srv->opt.max_connections;
    if (!srv->draining) http_server_accept(srv->http, !full && !(srv->direct_on && runtime_direct_serving(srv->rt)));
}

/* The front's connections, in the server's count (direct_routes). */
static void on_count(void *ctx, size_t n)
{
    server *srv = ctx;
    if (srv->direct.routes) atomic_store(&srv->direct.routes->front_conns, (int)n);
}

/* A connection a replica handed back (its request is another app's or
 * the server's own, or the replica stopped taking connections): on to
 * a replica of the app the request is for, or served here from now on. */
static void on_handoff(void *ctx, int fd, const char *peer, const char *path, const void *bytes, size_t len)
{
    server *srv = ctx;
    if (srv->draining && !len) { /* idle: a client that sends more sees the close */
        close(fd);
        return;
    }
    if (srv->direct_on && !len && runtime_direct_give_any(srv->rt, fd, peer)) return;
    runtime_app *app = srv->direct_on && *path && strncmp(path, "/_qyvol", 7) ? runtime_route(srv->rt, path) : NULL;
    if (app && runtime_direct_give(app, fd, peer, bytes, len)) return;
    http_server_adopt_input(srv->http, fd, peer, bytes, len);
}

/* ------------------------------------------------------------ reloads */

/* The manifests as the runtime takes them. */
static app_spec *specs_of(char *const *files, size_t nfiles)
{
    app_spec *specs = calloc(nfiles ? nfiles : 1, sizeof *specs);
    for (size_t i = 0; specs && i < nfiles; i++) specs[i].manifest = files[i];
    return specs;
}

static runtime_plan *load_manifests(server *srv, app_error *err)
{
    app_spec *specs = specs_of(srv->files, srv->nfiles);
    runtime_plan *plan = specs ? runtime_prepare(srv->rt, specs, srv->nfiles, err) : NULL;
    if (!specs) snprintf(err->text, sizeof err->text, "out of memory");
    free(specs);
    return plan;
}

/* The reload thread: reading manifests and compiling modules may take
 * long, and must not stall the requests the loop serves meanwhile. */
static void *reload_main(void *arg)
{
    server *srv = arg;
    srv->reload_plan = load_manifests(srv, &srv->reload_why);
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
    srv->reload_plan = NULL;
    srv->reload_why.text[0] = '\0';
    if (pthread_create(&srv->reload_thread, NULL, reload_main, srv) != 0) {
        snprintf(srv->reload_why.text, sizeof srv->reload_why.text, "cannot start the reload thread");
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
    runtime_plan *plan = srv->reload_plan;
    srv->reload_plan = NULL;
    const char *why = srv->draining ? "shutting down" : srv->reload_why.text;
    bool ok = false;
    if (plan && srv->draining) runtime_plan_free(plan);
    else if (plan) ok = runtime_commit(srv->rt, plan, true, &srv->reload_why);
    size_t napps = runtime_app_count(srv->rt);
    if (ok) update_direct(srv);
    if (ok) log_json(LOG_INFO, "reloaded", json_pack("{s:I}", "apps", (json_int_t)napps));
    else log_json(LOG_ERROR, "reload failed; still serving the previous apps", json_pack("{s:s}", "reason", why));
    json_t *body = ok ? json_pack("{s:b,s:I}", "reloaded", 1, "apps", (json_int_t)napps)
                      : json_pack("{s:b,s:s}", "reloaded", 0, "error", why);
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

/* ------------------------------------------------------------ control endpoints */

static void housekeeping(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    server *srv = arg;
    runtime_housekeeping(srv->rt);
    update_direct(srv);
}

static void serve_metrics(server *srv, http_exchange *x)
{
    size_t len;
    runtime_direct_collect(srv->rt);
    char *text = runtime_metrics(srv->rt, &len);
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

/* GET /_qyvol/logs?app=NAME&level=LEVEL&tail=N[&follow=1], for `qyv logs`. */
static void serve_logs(server *srv, http_exchange *x, const http_request *r)
{
    if (control_allowed(srv, x, r)) log_query_serve(&srv->followers, x, r);
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

/* GET /_qyvol/health: the server and each app; each replica for local
 * clients only (their PIDs and exit reasons are nobody else's business). */
static void serve_health(server *srv, http_exchange *x, const http_request *r)
{
    bool detailed = local_request(r), all_healthy;
    json_t *replicas = NULL;
    json_t *apps = runtime_health(srv->rt, detailed ? &replicas : NULL, &all_healthy);
    const char *status = srv->draining ? "draining" : all_healthy ? "ok" : "degraded";
    json_t *body = detailed ? json_pack("{s:s,s:o,s:o}", "status", status, "apps", apps, "replicas", replicas)
                            : json_pack("{s:s}", "status", status);
    if (!detailed) json_decref(apps);
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    http_field type = {"Content-Type", "application/json"};
    http_respond(x, srv->draining ? 503 : 200, &type, 1, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

static void on_request(void *ctx, http_exchange *x, const http_request *r)
{
    server *srv = ctx;
    const char *path = r->path;
    if (!strncmp(path, "/_qyvol/", 8) || !strcmp(path, "/_qyvol")) {
        if (!strcmp(path, "/_qyvol/health")) serve_health(srv, x, r);
        else if (!strcmp(path, "/_qyvol/metrics")) serve_metrics(srv, x);
        else if (!strcmp(path, "/_qyvol/reload")) serve_reload(srv, x, r);
        else if (!strcmp(path, "/_qyvol/logs")) serve_logs(srv, x, r);
        else http_respond_text(x, 404, "no such control endpoint (/_qyvol/ is the server's own)");
        return;
    }
    runtime_app *app = runtime_route(srv->rt, path);
    if (!app) http_respond_text(x, 404, "no app serves this path");
    else if (srv->draining) http_respond_text(x, 503, "the server is shutting down");
    else runtime_serve(srv->rt, app, x, r);
}

/* Bodies go to the apps that take them as they arrive. */
static bool streams_body(void *ctx, const http_request *r)
{
    server *srv = ctx;
    if (!strncmp(r->path, "/_qyvol", 7) || srv->draining) return false;
    runtime_app *app = runtime_route(srv->rt, r->path);
    return app && runtime_app_streams_bodies(app);
}

/* ------------------------------------------------------------ shutdown */

static long requests_in_flight(void *ctx)
{
    server *srv = ctx;
    return runtime_in_flight(srv->rt) + runtime_direct_conns(srv->rt);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    server *srv = arg;
    if (srv->draining) return;
    srv->draining = true;
    log_followers_end(&srv->followers);
    /* No new connections; idle ones close, busy ones after their answer.
     * The replicas hold the listening socket too: it is shut for all. */
    if (srv->direct_wanted && http_server_listening_fd(srv->http) >= 0)
        shutdown(http_server_listening_fd(srv->http), SHUT_RD);
    update_direct(srv);
    tls_front_drain(srv->tls);
    http_server_drain(srv->http);
    drain_start(&srv->drain, srv->base, (int)sig, srv->opt.drain_timeout_s, requests_in_flight, srv);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    reload_request(arg, NULL);
}

/* ------------------------------------------------------------ main */

static struct event_base *new_base(void)
{
    /* The changelist folds the many add/delete pairs of a request's
     * events into fewer epoll_ctl calls, the front's main system cost. */
    struct event_config *cfg = event_config_new();
    if (cfg) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg) event_config_free(cfg);
    return base;
}

/* The `listening` line: where, and which apps. */
static void log_listening(server *srv, int channels)
{
    json_t *routes = json_array(), *apps = runtime_apps(srv->rt);
    const char *name;
    json_t *a;
    json_object_foreach(apps, name, a) {
        json_array_append_new(routes, json_pack("{s:s,s:O,s:O}", "app", name, "route", json_object_get(a, "route"),
                                                "replicas", json_object_get(a, "replicas")));
    }
    json_decref(apps);
    json_t *fields = json_pack("{s:s,s:i,s:i,s:s,s:o,s:b}", "address", srv->opt.address, "port", srv->opt.port,
                               "threads_per_replica", channels, "limits", limits_mode(), "apps", routes, "direct",
                               srv->direct_wanted);
    if (*limits_mode_reason()) json_object_set_new(fields, "limits_reason", json_string(limits_mode_reason()));
    log_json(LOG_INFO, "listening", fields);
}

int serve_run(char *const *files, size_t nfiles, const serve_options *options)
{
    static server s;
    server *srv = &s;
    memset(srv, 0, sizeof *srv);
    srv->reload_pipe[0] = srv->reload_pipe[1] = -1;
    srv->files = files;
    srv->nfiles = nfiles;
    srv->opt = *options;
    int status = 1;
    char why[900];
    app_error err = {{0}};
    signal(SIGPIPE, SIG_IGN);
    srv->base = new_base();
    int channels = srv->opt.workers > 0 ? srv->opt.workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (channels < 1) channels = 1;
    srv->direct_wanted = srv->opt.direct && !srv->opt.tls_cert;
    runtime_options ro = {srv->base, channels, srv->opt.address, srv->opt.port};
    srv->rt = srv->base ? runtime_new(&ro) : NULL;
    /* Mapped before any replica forks: they all read it. */
    if (srv->direct_wanted && !(srv->direct.routes = direct_routes_new())) srv->direct_wanted = false;
    if (srv->rt && srv->direct_wanted) runtime_allow_direct(srv->rt, &srv->direct);
    if (!srv->rt) {
        fprintf(stderr, "qyv serve: out of memory\n");
        goto out;
    }
    runtime_plan *plan = load_manifests(srv, &err);
    if (!plan) {
        /* Mistakes in a manifest start with its FILE:LINE:COLUMN, as is. */
        bool located = false;
        for (size_t i = 0; i < nfiles; i++) located |= !strncmp(err.text, files[i], strlen(files[i]));
        fprintf(stderr, "%s%s\n", located ? "" : "qyv serve: ", err.text);
        goto out;
    }
    http_limits limits = {
        .max_head = srv->opt.max_headers,
        .max_body = srv->opt.max_body,
        .head_timeout_ms = (unsigned)srv->opt.header_timeout_s * 1000u,
        .idle_timeout_ms = (unsigned)srv->opt.client_timeout_s * 1000u,
        .max_connections = srv->opt.max_connections,
    };
    srv->http = http_server_new(srv->base, &limits, on_request, srv);
    if (srv->http) http_server_stream_bodies(srv->http, streams_body);
    if (srv->http && srv->direct_wanted) http_server_on_count(srv->http, on_count);
    if (!srv->http || pipe2(srv->reload_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        !(srv->reload_done = event_new(srv->base, srv->reload_pipe[0], EV_READ | EV_PERSIST, on_reload_done, srv)) ||
        event_add(srv->reload_done, NULL)) {
        runtime_plan_free(plan);
        fprintf(stderr, "qyv serve: cannot create the HTTP server\n");
        goto out;
    }
    if (srv->opt.tls_cert) {
        tls_files files = {0};
        snprintf(files.cert, sizeof files.cert, "%s", srv->opt.tls_cert);
        snprintf(files.key, sizeof files.key, "%s", srv->opt.tls_key);
        tls_front_config c = {.public_id = &files, .plain = true, .name = "serve"};
        if (access(files.cert, R_OK) != 0 || access(files.key, R_OK) != 0) {
            snprintf(why, sizeof why, "cannot read --tls-cert %.200s or --tls-key %.200s: %s", files.cert, files.key, strerror(errno));
        } else if ((srv->tls = tls_front_new(srv->base, srv->http, &c, why, sizeof why)) &&
                   tls_front_listen(srv->tls, srv->opt.address, srv->opt.port, why, sizeof why) == 0) {
            why[0] = 0;
        }
        if (why[0]) {
            runtime_plan_free(plan);
            fprintf(stderr, "qyv serve: %s\n", why);
            goto out;
        }
    } else if (http_server_listen(srv->http, srv->opt.address, srv->opt.port, why, sizeof why) != 0) {
        runtime_plan_free(plan);
        fprintf(stderr, "qyv serve: %s\n", why);
        goto out;
    }
    srv->direct = (serve_direct){http_server_listening_fd(srv->http), srv->direct.routes, limits, on_handoff, srv};
    if (control_auth_init(&srv->auth, srv->opt.port, why, sizeof why) != 0)
        log_json(LOG_WARN, "no control token: qyv logs and qyv serve --reload will be refused",
                 json_pack("{s:s}", "reason", why));
    srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    srv->sighup = evsignal_new(srv->base, SIGHUP, on_sighup, srv);
    if (!srv->sigterm || !srv->sigint || !srv->sighup || event_add(srv->sigterm, NULL) ||
        event_add(srv->sigint, NULL) || event_add(srv->sighup, NULL)) {
        runtime_plan_free(plan);
        fprintf(stderr, "qyv serve: cannot handle signals\n");
        goto out;
    }
    if (!runtime_commit(srv->rt, plan, true, &err)) {
        fprintf(stderr, "qyv serve: %s\n", err.text);
        goto out;
    }
    srv->housekeeping = event_new(srv->base, -1, EV_PERSIST, housekeeping, srv);
    struct timeval every = {0, 200000};
    if (!srv->housekeeping || event_add(srv->housekeeping, &every) != 0) goto out;
    struct timeval often = {0, 10000};
    if (srv->direct_wanted && (!(srv->direct_watch = event_new(srv->base, -1, EV_PERSIST, watch_direct, srv)) ||
                               event_add(srv->direct_watch, &often) != 0))
        goto out;
    update_direct(srv);
    log_listening(srv, channels);
    event_base_dispatch(srv->base);
    log_json(LOG_INFO, "stopped", NULL);
    log_followers_end(&srv->followers);
    status = 0;
out:
    if (srv->reload_running && srv->reload_thread) {
        pthread_join(srv->reload_thread, NULL);
        runtime_plan_free(srv->reload_plan);
    }
    srv->reload_running = false;
    for (reload_waiter *lists[2] = {srv->reload_asked, srv->reload_waiting}, **l = lists; l < lists + 2; l++)
        while (*l) {
            reload_waiter *w = *l;
            *l = w->next;
            http_respond_text(w->x, 503, "the server is shutting down");
            free(w);
        }
    runtime_free(srv->rt);
    direct_routes_free(srv->direct.routes);
    limits_cleanup();
    control_auth_remove(&srv->auth);
    drain_free(&srv->drain);
    if (srv->housekeeping) event_free(srv->housekeeping);
    if (srv->direct_watch) event_free(srv->direct_watch);
    if (srv->sigterm) event_free(srv->sigterm);
    if (srv->sigint) event_free(srv->sigint);
    if (srv->sighup) event_free(srv->sighup);
    if (srv->reload_done) event_free(srv->reload_done);
    for (int i = 0; i < 2; i++)
        if (srv->reload_pipe[i] >= 0) close(srv->reload_pipe[i]);
    tls_front_free(srv->tls); /* before the server it hands connections to */
    http_server_free(srv->http);
    if (srv->base) event_base_free(srv->base);
    log_shutdown();
    return status;
}
