/*
 * node_api.c — the node's side of the cluster API (docs/api.md, "Node"):
 * every request needs the cluster token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/node/node_impl.h"
#include "serve/control.h"
#include "serve/http_json.h"
#include "serve/log.h"

static const char *header_of(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

json_t *node_identity(node *n)
{
    pthread_mutex_lock(&n->mu);
    json_t *master = *n->master ? json_string(n->master) : json_null();
    pthread_mutex_unlock(&n->mu);
    return json_pack("{s:s,s:s,s:s,s:{s:I,s:I},s:o,s:o,s:s}", "name", n->name, "address", n->address, "ingress",
                     n->ingress, "capacity", "memory", (json_int_t)n->opt.capacity.memory, "cpu",
                     (json_int_t)n->opt.capacity.cpu, "master", master, "apps", node_apps(n), "version",
                     QYVOL_VERSION);
}

/* POST /v1/node/join {"master":"HOST:PORT"}. */
static void join(node *n, http_exchange *x, const http_request *r)
{
    json_error_t e;
    json_t *body = json_loadb(r->body, r->body_len, 0, &e);
    const char *master = json_string_value(json_object_get(body, "master"));
    const char *colon = master ? strrchr(master, ':') : NULL;
    if (!master || !colon || colon == master || !colon[1] || strlen(master) >= sizeof n->master) {
        json_decref(body);
        http_respond_json_error(x, 400, "the body must be {\"master\":\"HOST:PORT\"}");
        return;
    }
    node_set_master(n, master);
    log_json(LOG_INFO, "joining a master", json_pack("{s:s}", "master", master));
    json_decref(body);
    http_respond_json(x, 200, node_identity(n));
}

static void metrics(node *n, http_exchange *x)
{
    size_t len;
    char *text = runtime_metrics(n->rt, &len);
    if (!text) {
        http_respond_json_error(x, 500, "out of memory");
        return;
    }
    http_field type = {"Content-Type", "text/plain; version=0.0.4; charset=utf-8"};
    http_respond(x, 200, &type, 1, text, len);
    free(text);
}

static void health(node *n, http_exchange *x)
{
    bool healthy;
    json_t *apps = runtime_health(n->rt, NULL, &healthy);
    const char *status = n->draining ? "draining" : healthy ? "ok" : "degraded";
    http_respond_json(x, n->draining ? 503 : 200,
                      json_pack("{s:s,s:s,s:s,s:o}", "status", status, "role", "node", "name", n->name, "apps", apps));
}

static bool method_is(http_exchange *x, const http_request *r, const char *method)
{
    if (!strcmp(r->method, method) || (!strcmp(method, "GET") && r->head)) return true;
    char allow[16];
    snprintf(allow, sizeof allow, "%s", method);
    http_field h[2] = {{"Allow", allow}, {"Content-Type", "application/json"}};
    char text[80];
    int len = snprintf(text, sizeof text, "{\"error\":\"use %s\"}", method);
    http_respond(x, 405, h, 2, text, (size_t)len);
    return false;
}

void node_api_request(void *ctx, http_exchange *x, const http_request *r)
{
    node *n = ctx;
    if (!control_bearer_matches(header_of(r, "Authorization"), n->token)) {
        http_field h[2] = {{"WWW-Authenticate", "Bearer"}, {"Content-Type", "application/json"}};
        static const char text[] = "{\"error\":\"the cluster token is needed (Authorization: Bearer TOKEN)\"}";
        http_respond(x, 401, h, 2, text, sizeof text - 1);
        return;
    }
    const char *path = r->path;
    if (!strcmp(path, "/v1/node")) {
        if (method_is(x, r, "GET")) http_respond_json(x, 200, node_identity(n));
    } else if (!strcmp(path, "/v1/node/join")) {
        if (method_is(x, r, "POST")) join(n, x, r);
    } else if (!strcmp(path, "/v1/node/wake")) {
        if (method_is(x, r, "POST")) {
            pthread_mutex_lock(&n->mu);
            n->wake = true;
            pthread_cond_broadcast(&n->cond);
            pthread_mutex_unlock(&n->mu);
            http_respond_json(x, 200, json_pack("{s:b}", "woken", 1));
        }
    } else if (!strcmp(path, "/v1/logs")) {
        if (method_is(x, r, "GET")) log_query_serve(&n->followers, x, r);
    } else if (!strcmp(path, "/v1/metrics")) {
        if (method_is(x, r, "GET")) metrics(n, x);
    } else if (!strcmp(path, "/v1/health")) {
        if (method_is(x, r, "GET")) health(n, x);
    } else {
        http_respond_json_error(x, 404, "no such endpoint on a node (see docs/api.md)");
    }
}
