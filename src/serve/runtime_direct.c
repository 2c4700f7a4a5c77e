/*
 * runtime_direct.c — the runtime's apps whose replicas take connections
 * themselves (runtime.h, direct.h).
 */
#include <string.h>

#include "serve/runtime_impl.h"

void runtime_allow_direct(serve_runtime *rt, const struct serve_direct *d)
{
    rt->direct = d;
}

void runtime_set_direct(serve_runtime *rt, bool on)
{
    for (size_t i = 0; i < rt->napps; i++)
        if (rt->apps[i]->pool) pool_set_direct(rt->apps[i]->pool, on);
    for (size_t i = 0; i < rt->nretired; i++)
        if (rt->retired[i]->pool) pool_set_direct(rt->retired[i]->pool, false);
}

bool runtime_direct_serving(const serve_runtime *rt)
{
    for (size_t i = 0; i < rt->napps; i++)
        if (rt->apps[i]->pool && pool_direct_serving(rt->apps[i]->pool)) return true;
    return false;
}

int runtime_direct_conns(const serve_runtime *rt)
{
    int n = 0;
    for (size_t i = 0; i < rt->napps; i++)
        if (rt->apps[i]->pool) n += pool_direct_conns(rt->apps[i]->pool);
    for (size_t i = 0; i < rt->nretired; i++)
        if (rt->retired[i]->pool) n += pool_direct_conns(rt->retired[i]->pool);
    return n;
}

size_t runtime_routes(const serve_runtime *rt, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < rt->napps; i++) {
        size_t n = strlen(rt->apps[i]->app.route) + 1;
        if (len + n <= cap) memcpy(out + len, rt->apps[i]->app.route, n);
        len += n;
    }
    return len;
}

bool runtime_direct_give(runtime_app *app, int fd, const char *peer, const void *bytes, size_t len)
{
    return app->pool && !app->retired && pool_direct_give(app->pool, fd, peer, bytes, len);
}

void runtime_direct_collect(serve_runtime *rt)
{
    for (size_t i = 0; i < rt->napps; i++)
        if (rt->apps[i]->pool) pool_direct_collect(rt->apps[i]->pool);
    for (size_t i = 0; i < rt->nretired; i++)
        if (rt->retired[i]->pool) pool_direct_collect(rt->retired[i]->pool);
}

bool runtime_direct_give_any(serve_runtime *rt, int fd, const char *peer)
{
    for (size_t i = 0; i < rt->napps; i++)
        if (runtime_direct_give(rt->apps[i], fd, peer, "", 0)) return true;
    return false;
}
