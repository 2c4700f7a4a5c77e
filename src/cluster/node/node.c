/*
 * node.c — the node process: its event loop, the API and ingress
 * servers, NodePorts, the runtime its apps run on, the periodic status
 * the heartbeat reports, and a clean stop.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/node/bundle_cache.h"
#include "cluster/node/node_impl.h"
#include "cluster/node/node_secrets.h"
#include "cluster/node/node_tls.h"
#include "cluster/token.h"
#include "serve/drain.h"
#include "serve/limits.h"
#include "serve/log.h"

#define APP_MAX_BODY (10u * 1000 * 1000)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ app traffic */

void node_instance_name(char *out, size_t n, const char *app, int64_t revision)
{
    snprintf(out, n, "%s@%lld", app, (long long)revision);
}

/* The app's instance of that revision if it runs here and is healthy,
 * else (revision 0, or that one gone or not ready) its healthy one of
 * the highest revision. */
static runtime_app *local_instance(node *n, const char *app, int64_t revision)
{
    if (revision > 0) {
        char instance[100];
        node_instance_name(instance, sizeof instance, app, revision);
        runtime_app *a = runtime_find(n->rt, instance);
        if (a && runtime_app_healthy(a)) return a;
    }
    return runtime_find_named(n->rt, app);
}

static bool local_available(void *ctx, const char *app, int64_t revision, int *load)
{
    node *n = ctx;
    runtime_app *a = local_instance(n, app, revision);
    if (!a) return false;
    *load = runtime_app_load(a);
    return true;
}

static void local_serve(void *ctx, const char *app, int64_t revision, http_exchange *x, const http_request *r)
{
    node *n = ctx;
    runtime_app *a = local_instance(n, app, revision);
    if (a) runtime_serve(n->rt, a, x, r);
    else http_respond_text(x, 502, "the app does not run on this node any more");
}

json_t *node_apps(node *n)
{
    json_t *instances = runtime_apps(n->rt), *apps = json_object();
    const char *instance;
    json_t *one;
    json_object_foreach(instances, instance, one) {
        const char *name = json_string_value(json_object_get(one, "app"));
        json_int_t revision = json_integer_value(json_object_get(one, "revision"));
        if (!name) continue;
        json_t *app = json_object_get(apps, name);
        if (!app) {
            app = json_pack("{s:I,s:{}}", "revision", revision, "revisions");
            json_object_set_new(apps, name, app);
        }
        const char *key;
        json_t *v;
        json_object_foreach(one, key, v) {
            if (!strcmp(key, "revision") || !strcmp(key, "app")) continue;
            json_t *sum = json_object_get(app, key);
            if (json_is_integer(v)) json_object_set_new(app, key, json_integer(json_integer_value(sum) + json_integer_value(v)));
            else if (json_is_real(v)) json_object_set_new(app, key, json_real(json_number_value(sum) + json_real_value(v)));
            else if (!sum) json_object_set(app, key, v);
        }
        if (revision > json_integer_value(json_object_get(app, "revision")))
            json_object_set_new(app, "revision", json_integer(revision));
        char rev[24];
        snprintf(rev, sizeof rev, "%lld", (long long)revision);
        json_object_del(one, "app");
        json_object_set(json_object_get(app, "revisions"), rev, one);
    }
    json_decref(instances);
    return apps;
}

static void on_ingress(void *ctx, http_exchange *x, const http_request *r)
{
    node *n = ctx;
    if (n->draining) {
        http_respond_text(x, 503, "the node is shutting down");
        return;
    }
    if (route_table_match(proxy_routes(n->proxy), r->path)) {
        proxy_handle(n->proxy, x, r, NULL);
        return;
    }
    /* No cluster route (no master yet): what runs here, by its own route. */
    runtime_app *a = runtime_route(n->rt, r->path);
    if (a) runtime_serve(n->rt, a, x, r);
    else http_respond_text(x, 404, "no app serves this path");
}

static void on_node_port(void *ctx, http_exchange *x, const http_request *r)
{
    node_port *np = ctx;
    node *n = np->n;
    route_entry *route = route_table_port(proxy_routes(n->proxy), np->port);
    if (n->draining) http_respond_text(x, 503, "the node is shutting down");
    else if (!route) http_respond_text(x, 404, "no app is exposed on this port now");
    else proxy_handle(n->proxy, x, r, route);
}

/* As qyv serve's defaults; max_body: 10 MB for app traffic (as qyv
 * serve's --max-body), 1 MiB for the node API. */
static http_limits limits_of(size_t max_body)
{
    return (http_limits){.max_head = 64 * 1024,
                         .max_body = max_body,
                         .head_timeout_ms = 10000,
                         .idle_timeout_ms = 30000,
                         .max_connections = 10000};
}

/* Host part of "HOST:PORT". */
static void host_of(const char *address, char *host, size_t n)
{
    const char *colon = strrchr(address, ':');
    size_t len = colon ? (size_t)(colon - address) : strlen(address);
    if (len >= n) len = n - 1;
    memcpy(host, address, len);
    host[len] = '\0';
    if (host[0] == '[' && len > 1 && host[len - 1] == ']') memmove(host, host + 1, len - 2), host[len - 2] = '\0';
}

void node_sync_ports(node *n)
{
    route_table *t = proxy_routes(n->proxy);
    /* Close the ports no route names any more. */
    for (node_port **at = &n->ports; *at;) {
        node_port *np = *at;
        if (route_table_port(t, np->port)) {
            at = &np->next;
            continue;
        }
        *at = np->next;
        log_json(LOG_INFO, "closing a node port", json_pack("{s:i}", "port", np->port));
        /* Its requests in flight are answered first (on_tick frees it). */
        http_server_drain(np->http);
        np->next = n->closing_ports;
        n->closing_ports = np;
    }
    char host[300], why[300];
    host_of(n->ingress, host, sizeof host);
    for (size_t i = 0; i < t->nroutes; i++) {
        uint16_t port = t->routes[i].port;
        bool open = !port;
        for (node_port *np = n->ports; np && !open; np = np->next) open = np->port == port;
        if (open) continue;
        node_port *np = calloc(1, sizeof *np);
        http_limits limits = limits_of(APP_MAX_BODY);
        if (np) np->http = http_server_new(n->base, &limits, on_node_port, np);
        if (!np || !np->http) {
            free(np);
            continue;
        }
        np->n = n;
        np->port = port;
        if (http_server_listen(np->http, host, port, why, sizeof why) != 0) {
            log_json(LOG_ERROR, "cannot open a node port", json_pack("{s:s,s:i,s:s}", "app", t->routes[i].app,
                                                                      "port", port, "reason", why));
            http_server_free(np->http);
            free(np);
            continue;
        }
        np->next = n->ports;
        n->ports = np;
        log_json(LOG_INFO, "node port open", json_pack("{s:s,s:i}", "app", t->routes[i].app, "port", port));
    }
}

/* ------------------------------------------------------------ the loop */

/* The heartbeat's body, remade here (the runtime is the loop's). */
static void remake_status(node *n)
{
    uint64_t memory, cpu;
    runtime_reserved(n->rt, &memory, &cpu);
    json_t *apps = node_apps(n);
    const char *name;
    json_t *a;
    json_object_foreach(apps, name, a) json_object_del(a, "route");
    json_t *status = json_pack("{s:o,s:I,s:I}", "apps", apps, "memory_used", (json_int_t)memory, "cpu_used",
                               (json_int_t)cpu);
    char *text = status ? json_dumps(status, JSON_COMPACT) : NULL;
    json_decref(status);
    if (!text) return;
    pthread_mutex_lock(&n->mu);
    free(n->status);
    n->status = text;
    pthread_mutex_unlock(&n->mu);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    node *n = arg;
    runtime_housekeeping(n->rt);
    proxy_housekeeping(n->proxy);
    remake_status(n);
    for (node_port **at = &n->closing_ports; *at;) {
        node_port *np = *at;
        if (http_server_connections(np->http)) {
            at = &np->next;
            continue;
        }
        *at = np->next;
        http_server_free(np->http);
        free(np);
    }
}

static void on_handoff(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char drain[16];
    while (read(fd, drain, sizeof drain) > 0) continue;
    node_take_handoff(arg);
}

static long requests_in_flight(void *ctx)
{
    node *n = ctx;
    return runtime_in_flight(n->rt) + proxy_in_flight(n->proxy);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    node *n = arg;
    if (n->draining) return;
    n->draining = true;
    log_followers_end(&n->followers);
    node_tls_drain(n->tls);
    http_server_drain(n->api);
    http_server_drain(n->ingress_http);
    for (node_port *np = n->ports; np; np = np->next) http_server_drain(np->http);
    drain_start(&n->drain, n->base, (int)sig, n->opt.drain_timeout_s, requests_in_flight, n);
}

/* ------------------------------------------------------------ start and stop */

/* The cluster token (cluster/token.h). */
static bool read_token(node *n, char *why, size_t whylen)
{
    if (!n->opt.token_file && !n->opt.plain_http) return true; /* a TLS node may hold only its certificate */
    if (!n->opt.token_file) {
        snprintf(why, whylen, "--token-file FILE is needed: the cluster token (`qyv cluster init` makes one)");
        return false;
    }
    return cluster_token_read(n->opt.token_file, n->token, sizeof n->token, why, whylen);
}

/* The host name, as a cluster name: lower case, [a-z0-9-]. */
static void default_name(char *out, size_t n)
{
    char host[256] = "node";
    gethostname(host, sizeof host - 1);
    size_t k = 0;
    for (const char *s = host; *s && *s != '.' && k + 1 < n && k < 63; s++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        out[k++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-';
    }
    while (k && out[k - 1] == '-') k--;
    out[k] = '\0';
    if (!k) snprintf(out, n, "node");
}

static bool make_dirs(node *n, char *why, size_t whylen)
{
    snprintf(n->bundles, sizeof n->bundles, "%s/bundles", n->opt.data_dir);
    if ((mkdir(n->opt.data_dir, 0700) != 0 && errno != EEXIST) || (mkdir(n->bundles, 0700) != 0 && errno != EEXIST)) {
        snprintf(why, whylen, "cannot make %.400s: %s", n->bundles, strerror(errno));
        return false;
    }
    bundle_cache_sweep(n->bundles);
    return true;
}

static struct event_base *new_base(void)
{
    struct event_config *cfg = event_config_new();
    if (cfg) event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = cfg ? event_base_new_with_config(cfg) : NULL;
    if (cfg) event_config_free(cfg);
    return base;
}

static bool start(node *n, char *why, size_t whylen)
{
    if (!read_token(n, why, whylen) || !make_dirs(n, why, whylen)) return false;
    n->base = new_base();
    int channels = n->opt.workers > 0 ? n->opt.workers : 0;
    runtime_options ro = {n->base, channels, n->opt.ingress_address, n->opt.ingress_port};
    proxy_local local = {local_available, local_serve, n};
    http_limits limits = limits_of(APP_MAX_BODY), api_limits = limits_of(1u << 20);
    if (!n->base || !(n->rt = runtime_new(&ro)) || !(n->proxy = proxy_new(n->base, n->name, &local, 300000)) ||
        !(n->api = http_server_new(n->base, &api_limits, node_api_request, n)) ||
        !(n->ingress_http = http_server_new(n->base, &limits, on_ingress, n))) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    if (!n->opt.plain_http) {
        if (!(n->tls = node_tls_open(n, why, whylen)) || !node_tls_listen(n->tls, n, why, whylen)) return false;
        proxy_set_tls(n->proxy, node_tls_client_ctx, n->tls);
    } else if (http_server_listen(n->api, n->opt.listen_address, n->opt.listen_port, why, whylen) != 0 ||
               http_server_listen(n->ingress_http, n->opt.ingress_address, n->opt.ingress_port, why, whylen) != 0) {
        return false;
    }
    if (pipe2(n->handoff_pipe, O_NONBLOCK | O_CLOEXEC) != 0 ||
        !(n->handoff_event = event_new(n->base, n->handoff_pipe[0], EV_READ | EV_PERSIST, on_handoff, n)) ||
        event_add(n->handoff_event, NULL) || !(n->tick = event_new(n->base, -1, EV_PERSIST, on_tick, n)) ||
        !(n->sigterm = evsignal_new(n->base, SIGTERM, on_signal, n)) ||
        !(n->sigint = evsignal_new(n->base, SIGINT, on_signal, n)) || event_add(n->sigterm, NULL) ||
        event_add(n->sigint, NULL)) {
        snprintf(why, whylen, "cannot set up the event loop");
        return false;
    }
    struct timeval every = {0, 200000};
    event_add(n->tick, &every);
    remake_status(n);
    if (!node_master_start(n)) {
        snprintf(why, whylen, "cannot start the master thread");
        return false;
    }
    return true;
}

static void stop(node *n)
{
    node_master_stop(n);
    node_flush_logs(n);
    /* A plan handed over and not taken. */
    runtime_plan_free(n->handoff_plan);
    json_decref(n->handoff_routes);
    log_followers_end(&n->followers);
    runtime_free(n->rt);
    node_secrets_cleanup(); /* the replicas that read them are gone */
    limits_cleanup();
    for (node_port **lists[2] = {&n->ports, &n->closing_ports}, ***l = lists; l < lists + 2; l++)
        while (**l) {
            node_port *np = **l;
            **l = np->next;
            http_server_free(np->http);
            free(np);
        }
    node_tls_free(n->tls); /* its fronts first: they hand connections to the servers */
    http_server_free(n->api);
    http_server_free(n->ingress_http);
    proxy_free(n->proxy);
    drain_free(&n->drain);
    struct event *events[] = {n->tick, n->sigterm, n->sigint, n->handoff_event};
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (events[i]) event_free(events[i]);
    for (int i = 0; i < 2; i++)
        if (n->handoff_pipe[i] >= 0) close(n->handoff_pipe[i]);
    if (n->base) event_base_free(n->base);
    free(n->status);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cond);
    log_shutdown();
}

int node_run(const node_options *opt)
{
    static node state;
    node *n = &state;
    memset(n, 0, sizeof *n);
    n->opt = *opt;
    n->handoff_pipe[0] = n->handoff_pipe[1] = -1;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cond, NULL);
    n->started_ns = now_ns();
    capacity_detect(&n->opt.capacity);
    if (opt->name) snprintf(n->name, sizeof n->name, "%s", opt->name);
    else default_name(n->name, sizeof n->name);
    snprintf(n->address, sizeof n->address, "%s%s%s:%u", strchr(opt->listen_address, ':') ? "[" : "",
             opt->listen_address, strchr(opt->listen_address, ':') ? "]" : "", opt->listen_port);
    snprintf(n->ingress, sizeof n->ingress, "%s%s%s:%u", strchr(opt->ingress_address, ':') ? "[" : "",
             opt->ingress_address, strchr(opt->ingress_address, ':') ? "]" : "", opt->ingress_port);
    if (opt->master) snprintf(n->master, sizeof n->master, "%s", opt->master);
    signal(SIGPIPE, SIG_IGN);
    char why[700];
    int status = 1;
    if (!start(n, why, sizeof why)) {
        fprintf(stderr, "qyv node: %s\n", why);
        goto out;
    }
    json_t *fields = json_pack("{s:s,s:s,s:s,s:o,s:{s:I,s:I},s:s,s:s}", "name", n->name, "address", n->address,
                               "ingress", n->ingress, "master", *n->master ? json_string(n->master) : json_null(),
                               "capacity", "memory", (json_int_t)n->opt.capacity.memory, "cpu",
                               (json_int_t)n->opt.capacity.cpu, "limits", limits_mode(), "transport",
                               n->tls ? "tls1.3" : "plain http");
    log_json(LOG_INFO, "node listening", fields);
    event_base_dispatch(n->base);
    log_json(LOG_INFO, "stopped", NULL);
    status = 0;
out:
    stop(n);
    return status;
}
