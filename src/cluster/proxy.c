/*
 * proxy.c — see proxy.h.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cluster/proxy.h"
#include "serve/http_json.h"
#include "serve/log.h"

/* Endpoints one request may try, at most. */
#define MAX_TRIES 4
/* A node whose ingress does not accept a connection this soon is taken
 * as unreachable (a dead link answers nothing at all; libevent's HTTP
 * client has no connect timeout of its own). */
#define CONNECT_TIMEOUT_MS 1000
#define UNACKED_TIMEOUT_MS 1500
/* Connections kept open to peers between requests (a new one for each
 * would leave a TIME_WAIT socket behind per request), and for how long:
 * well below the idle timeout of a node's ingress (30 s). */
#define IDLE_MAX 256
#define IDLE_MAX_AGE_NS (4 * 1000000000ull)

typedef struct idle_conn {
    route_peer *peer;
    struct evhttp_connection *conn;
    uint64_t since_ns;
} idle_conn;

struct proxy {
    struct event_base *base;
    char *self;
    proxy_local local;
    unsigned timeout_ms;
    route_table table;
    long in_flight;
    idle_conn idle[IDLE_MAX];
    size_t nidle;
};

/* A request being forwarded (or about to be). */
typedef struct forward {
    proxy *p;
    http_exchange *x;
    const http_request *r;     /* valid until x is answered */
    char *app;
    char *path;                /* as forwarded: r->path, or under the route for a NodePort */
    route_peer *tried[MAX_TRIES];
    size_t ntried;
    route_peer *peer;          /* where it is now */
    int64_t revision;          /* of the endpoint chosen; 0: any */
    struct evhttp_connection *conn; /* to the peer, while a try is on */
    struct evhttp_request *req;     /* the try's request */
    struct event *connect_timer;    /* while connecting */
    bool reused;               /* conn was kept from an earlier request */
    bool fresh_retry;          /* sent again on a new connection after a kept one broke */
} forward;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

proxy *proxy_new(struct event_base *base, const char *self, const proxy_local *local, unsigned timeout_ms)
{
    proxy *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->base = base;
    p->self = strdup(self ? self : "");
    if (!p->self) {
        free(p);
        return NULL;
    }
    if (local) p->local = *local;
    p->timeout_ms = timeout_ms ? timeout_ms : 60000;
    return p;
}

void proxy_free(proxy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nidle; i++) evhttp_connection_free(p->idle[i].conn);
    route_table_free(&p->table);
    free(p->self);
    free(p);
}

bool proxy_set_routes(proxy *p, const json_t *routes, char *why, size_t whylen)
{
    return route_table_update(&p->table, routes, *p->self ? p->self : NULL, why, whylen);
}

route_table *proxy_routes(proxy *p) { return &p->table; }

void proxy_housekeeping(proxy *p)
{
    uint64_t now = now_ns();
    size_t kept = 0;
    for (size_t i = 0; i < p->nidle; i++) {
        if (now - p->idle[i].since_ns < IDLE_MAX_AGE_NS) p->idle[kept++] = p->idle[i];
        else evhttp_connection_free(p->idle[i].conn);
    }
    p->nidle = kept;
}

/* A kept connection to peer, young enough; NULL if none. */
static struct evhttp_connection *take_idle(proxy *p, route_peer *peer)
{
    uint64_t now = now_ns();
    for (size_t i = p->nidle; i-- > 0;)
        if (p->idle[i].peer == peer && now - p->idle[i].since_ns < IDLE_MAX_AGE_NS) {
            struct evhttp_connection *conn = p->idle[i].conn;
            p->idle[i] = p->idle[--p->nidle];
            return conn;
        }
    return NULL;
}
long proxy_in_flight(const proxy *p) { return p->in_flight; }

static const char *header_of(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

static void stop_connect_timer(forward *f)
{
    if (f->connect_timer) event_free(f->connect_timer);
    f->connect_timer = NULL;
}

static void forward_free(forward *f)
{
    stop_connect_timer(f);
    free(f->app);
    free(f->path);
    free(f);
}

/* Run it here: the local runtime answers x. */
static void run_here(forward *f)
{
    proxy *p = f->p;
    if (f->path == NULL || !strcmp(f->path, f->r->path)) {
        p->local.serve(p->local.ctx, f->app, f->revision, f->x, f->r);
    } else {
        http_request copy = *f->r;
        copy.path = f->path;
        p->local.serve(p->local.ctx, f->app, f->revision, f->x, &copy);
    }
    forward_free(f);
}

/* Headers that belong to one connection, not to the request. */
static bool hop_by_hop(const char *name)
{
    static const char *const names[] = {"Connection", "Keep-Alive", "TE", "Transfer-Encoding", "Upgrade",
                                        "Proxy-Connection", "Proxy-Authorization", "Content-Length",
                                        PROXY_FORWARDED_HEADER, PROXY_REVISION_HEADER, PROXY_NOT_HERE_HEADER};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(name, names[i])) return true;
    return false;
}

static bool method_type(const char *method, enum evhttp_cmd_type *out)
{
    static const struct {
        const char *name;
        enum evhttp_cmd_type type;
    } methods[] = {{"GET", EVHTTP_REQ_GET},         {"POST", EVHTTP_REQ_POST},   {"HEAD", EVHTTP_REQ_HEAD},
                   {"PUT", EVHTTP_REQ_PUT},         {"DELETE", EVHTTP_REQ_DELETE}, {"OPTIONS", EVHTTP_REQ_OPTIONS},
                   {"PATCH", EVHTTP_REQ_PATCH}};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (!strcmp(method, methods[i].name)) return *out = methods[i].type, true;
    return false;
}

static void dispatch(forward *f);

/* The chosen node could not be reached: mark it, and try another when
 * the request may be sent twice. */
static void unreachable(forward *f, const char *why)
{
    proxy *p = f->p;
    route_peer_down(f->peer, now_ns());
    bool again = route_method_idempotent(f->r->method) && f->ntried < MAX_TRIES;
    log_json(LOG_WARN, "a node could not be reached", json_pack("{s:s,s:s,s:s,s:s,s:b}", "app", f->app, "node",
                                                                  f->peer->node, "ingress", f->peer->ingress,
                                                                  "reason", why, "retried", again));
    (void)p;
    if (again) {
        dispatch(f);
        return;
    }
    char text[400];
    snprintf(text, sizeof text, "node %s (%s) could not be reached: %s", f->peer->node, f->peer->ingress, why);
    http_respond_json_error(f->x, 502, "%s", text);
    forward_free(f);
}

static void free_connection(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    evhttp_connection_free(arg);
}

/* Done with f's connection: kept for the next request to its peer after
 * an answer (libevent has settled it before calling back, and connects
 * it again if it was closed), else freed. libevent still uses it when
 * the callback returns, and frees none of its own: free it right after. */
static void release_connection(forward *f, bool answered)
{
    proxy *p = f->p;
    struct evhttp_connection *conn = f->conn;
    f->conn = NULL;
    if (answered && p->nidle < IDLE_MAX) {
        p->idle[p->nidle++] = (idle_conn){f->peer, conn, now_ns()};
        return;
    }
    struct timeval now = {0, 0};
    if (event_base_once(p->base, -1, EV_TIMEOUT, free_connection, conn, &now) != 0)
        log_json(LOG_WARN, "cannot schedule freeing a connection", NULL);
}

static void send_to_peer(forward *f);

static void on_response(struct evhttp_request *req, void *arg)
{
    forward *f = arg;
    stop_connect_timer(f);
    int code = req ? evhttp_request_get_response_code(req) : 0;
    release_connection(f, code != 0);
    f->p->in_flight--;
    f->peer->active--;
    if (code == 0 && f->reused && !f->fresh_retry && route_method_idempotent(f->r->method)) {
        /* A kept connection the peer had closed meanwhile says nothing
         * about the peer: once more on a new connection. */
        f->fresh_retry = true;
        send_to_peer(f);
        return;
    }
    if (code == 0) {
        unreachable(f, "no answer (connection refused or broken)");
        return;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    if (code == 421 && evhttp_find_header(in, PROXY_NOT_HERE_HEADER)) {
        /* The peer no longer runs the app and ran nothing: elsewhere. */
        log_json(LOG_DEBUG, "the peer no longer runs the app; trying another endpoint",
                 json_pack("{s:s,s:s}", "app", f->app, "node", f->peer->node));
        dispatch(f);
        return;
    }
    size_t n = 0, cap = 8;
    http_field *h = malloc(cap * sizeof *h);
    for (struct evkeyval *kv = in->tqh_first; h && kv; kv = kv->next.tqe_next) {
        if (hop_by_hop(kv->key)) continue;
        if (n == cap) {
            http_field *grown = realloc(h, (cap *= 2) * sizeof *h);
            if (!grown) break;
            h = grown;
        }
        h[n++] = (http_field){kv->key, kv->value};
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const char *data = len ? (const char *)evbuffer_pullup(body, (ssize_t)len) : "";
    http_respond(f->x, code, h, h ? n : 0, data ? data : "", data ? len : 0);
    free(h);
    forward_free(f);
}

/* Split "HOST:PORT" or "[V6]:PORT". */
static bool split_address(const char *address, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon = strrchr(address, ':');
    if (!colon || !colon[1]) return false;
    const char *h = address;
    size_t n = (size_t)(colon - address);
    if (*h == '[' && n >= 2 && h[n - 1] == ']') h++, n -= 2;
    if (n == 0 || n >= hostlen) return false;
    memcpy(host, h, n);
    host[n] = '\0';
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || v < 1 || v > 65535) return false;
    *port = (uint16_t)v;
    return true;
}

/* The connect timer: connected by now (the request is on its way), or
 * given up, and the next endpoint tried. */
static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    forward *f = arg;
    stop_connect_timer(f);
    struct bufferevent *bev = f->conn ? evhttp_connection_get_bufferevent(f->conn) : NULL;
    int sock = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (sock >= 0 && getpeername(sock, (struct sockaddr *)&ss, &len) == 0) return; /* connected */
    evhttp_cancel_request(f->req); /* its callback is not called */
    evhttp_connection_free(f->conn);
    f->conn = NULL;
    f->req = NULL;
    f->p->in_flight--;
    f->peer->active--;
    unreachable(f, "no connection within 1 s");
}

/* Send f to f->peer's ingress. */
static void send_to_peer(forward *f)
{
    proxy *p = f->p;
    const http_request *r = f->r;
    char host[256];
    uint16_t port;
    enum evhttp_cmd_type type;
    if (!method_type(r->method, &type)) {
        http_respond_json_error(f->x, 501, "this method cannot be forwarded to another node");
        forward_free(f);
        return;
    }
    if (!split_address(f->peer->ingress, host, sizeof host, &port)) {
        unreachable(f, "its ingress address is not HOST:PORT");
        return;
    }
    struct evhttp_connection *conn = f->fresh_retry ? NULL : take_idle(p, f->peer);
    f->reused = conn != NULL;
    if (!conn) conn = evhttp_connection_base_new(p->base, NULL, host, port);
    struct evhttp_request *req = conn ? evhttp_request_new(on_response, f) : NULL;
    if (!req) {
        if (conn) evhttp_connection_free(conn);
        http_respond_json_error(f->x, 503, "out of memory");
        forward_free(f);
        return;
    }
    unsigned s = (p->timeout_ms + 999) / 1000;
    evhttp_connection_set_timeout(conn, (int)s);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    for (size_t i = 0; i < r->nheaders; i++)
        if (!hop_by_hop(r->headers[i].name)) evhttp_add_header(out, r->headers[i].name, r->headers[i].value);
    if (!header_of(r, "Host")) evhttp_add_header(out, "Host", f->peer->ingress);
    evhttp_add_header(out, PROXY_FORWARDED_HEADER, *p->self ? p->self : "master");
    if (f->revision) {
        char revision[24];
        snprintf(revision, sizeof revision, "%lld", (long long)f->revision);
        evhttp_add_header(out, PROXY_REVISION_HEADER, revision);
    }
    const char *xff = header_of(r, "X-Forwarded-For");
    char forwarded_for[600];
    snprintf(forwarded_for, sizeof forwarded_for, "%s%s%s", xff ? xff : "", xff ? ", " : "", r->peer);
    evhttp_remove_header(out, "X-Forwarded-For");
    evhttp_add_header(out, "X-Forwarded-For", forwarded_for);
    if (r->body_len) evbuffer_add(evhttp_request_get_output_buffer(req), r->body, r->body_len);
    size_t urilen = strlen(f->path) + strlen(r->query) + 2;
    char *uri = malloc(urilen);
    if (!uri) {
        evhttp_request_free(req);
        evhttp_connection_free(conn);
        http_respond_json_error(f->x, 503, "out of memory");
        forward_free(f);
        return;
    }
    snprintf(uri, urilen, "%s%s%s", f->path, *r->query ? "?" : "", r->query);
    p->in_flight++;
    f->peer->active++;
    /* A connection that fails later calls on_response with code 0; one
     * that cannot even start is failed here (libevent dropped the request). */
    f->conn = conn;
    f->req = req;
    int started = evhttp_make_request(conn, req, type, uri);
    free(uri);
    if (started == 0) {
        /* Sent bytes not acknowledged for this long (the peer's link is
         * gone) break the connection, kept or new: the request is then
         * retried elsewhere instead of hanging for TCP's minutes. */
        struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
        int sock = bev ? bufferevent_getfd(bev) : -1;
        unsigned user_timeout = UNACKED_TIMEOUT_MS;
        if (sock >= 0) setsockopt(sock, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
        f->connect_timer = evtimer_new(p->base, on_connect_timeout, f);
        struct timeval t = {CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000};
        if (f->connect_timer) evtimer_add(f->connect_timer, &t);
    }
    if (started != 0) {
        /* No socket (or no memory): nothing was called back. The request
         * is not freed: libevent frees it in one of those cases only. */
        evhttp_connection_free(conn);
        f->conn = NULL;
        p->in_flight--;
        f->peer->active--;
        unreachable(f, "cannot connect");
    }
}

/* Choose where f runs, and send it there. */
static void dispatch(forward *f)
{
    proxy *p = f->p;
    int load = 0;
    bool local_ok = p->local.available && p->local.available(p->local.ctx, f->app, 0, &load);
    if (header_of(f->r, PROXY_FORWARDED_HEADER)) {
        /* Another node chose this one (and maybe the revision): run it
         * here or fail, never pass it on. */
        const char *revision = header_of(f->r, PROXY_REVISION_HEADER);
        f->revision = revision ? strtoll(revision, NULL, 10) : 0;
        if (local_ok) {
            run_here(f);
        } else {
            static const char body[] = "{\"error\":\"forwarded here, but this node does not run the app (any more)\"}\n";
            http_field fields[] = {{"Content-Type", "application/json"}, {PROXY_NOT_HERE_HEADER, "1"}};
            http_respond(f->x, 421, fields, 2, body, sizeof body - 1);
            forward_free(f);
        }
        return;
    }
    route_entry *route = route_table_app(&p->table, f->app);
    route_endpoint *e = route ? route_choose(route, now_ns(), f->tried, f->ntried, local_ok, load) : NULL;
    if (!e && local_ok && !f->ntried) {
        run_here(f); /* routes not known yet (no master), but it runs here */
        return;
    }
    if (!e) {
        http_respond_json_error(f->x, f->ntried ? 502 : 503, "%s",
                                f->ntried ? "no node serving the app could be reached" : "no node serves the app now");
        forward_free(f);
        return;
    }
    f->revision = e->revision;
    if (e->local) {
        run_here(f);
        return;
    }
    f->peer = e->peer;
    f->tried[f->ntried++] = e->peer;
    send_to_peer(f);
}

void proxy_handle(proxy *p, http_exchange *x, const http_request *r, route_entry *port_route)
{
    const char *app = NULL, *route_prefix = NULL;
    route_entry *route = port_route ? port_route : route_table_match(&p->table, r->path);
    if (route) app = route->app, route_prefix = route->route;
    forward *f = calloc(1, sizeof *f);
    if (!f) {
        http_respond_text(x, 503, "out of memory");
        return;
    }
    f->p = p;
    f->x = x;
    f->r = r;
    if (!route) {
        forward_free(f);
        http_respond_json_error(x, 404, "no app serves this path");
        return;
    }
    f->app = strdup(app);
    /* A NodePort serves its app whatever the path: put it under the route. */
    size_t n = strlen(route_prefix);
    bool under = !strncmp(r->path, route_prefix, n) && (!r->path[n] || r->path[n] == '/');
    if (port_route && !under) {
        size_t len = n + strlen(r->path) + 1;
        f->path = malloc(len);
        if (f->path) snprintf(f->path, len, "%s%s", route_prefix, r->path);
    } else {
        f->path = strdup(r->path);
    }
    if (!f->app || !f->path) {
        forward_free(f);
        http_respond_text(x, 503, "out of memory");
        return;
    }
    dispatch(f);
}
