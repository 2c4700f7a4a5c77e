/*
 * runtime_impl.h — the runtime's insides, shared by runtime.c (apps and
 * their changes) and runtime_request.c (running requests). Not an API.
 */
#ifndef QYVOL_SERVE_RUNTIME_IMPL_H
#define QYVOL_SERVE_RUNTIME_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "serve/pool.h"
#include "serve/runtime.h"

struct runtime_app {
    atomic_int refs;           /* the runtime's list, plans, requests in flight */
    serve_app app;
    pool *pool;                /* NULL until committed, and once freed */
    char *key;                 /* the caller's version key, or NULL; under rt->lock */
    int64_t revision;
    char *instance;            /* what names it among the runtime's apps: its
                                * name, or the caller's (a cluster node runs
                                * two revisions of one app as two instances) */
    uint32_t replicas;         /* asked for (its pool's size); under rt->lock */
    bool retired;              /* replaced or removed: finishing its requests */
    /* Its answers (loop thread): for comparing two revisions of an app. */
    uint64_t answered, failed; /* failed: 5xx */
    double answer_seconds;     /* summed */
};

struct serve_runtime {
    runtime_options opt;
    /* Taken by the loop when it changes apps or the registry, and by
     * runtime_prepare's thread when it reads them. */
    pthread_mutex_t lock;
    runtime_app **apps;        /* serving, in the order applied */
    size_t napps;
    runtime_app **retired;     /* finishing their requests */
    size_t nretired;
    app_metrics **registry;    /* every app's metrics, kept across changes */
    size_t nregistry;
    uint32_t next_serial;      /* pools made */
    uint64_t started_ns;
    long in_flight;
    uint64_t next_id;
    const struct serve_direct *direct; /* runtime_allow_direct */
};

void runtime_app_retain(runtime_app *a);
/* An answer a replica gave on its own connection (pool_options.direct_done;
 * ctx: the runtime_app): counted as runtime_serve's are. */
struct direct_record;
void runtime_direct_done(void *ctx, const struct direct_record *r);
void runtime_app_release(runtime_app *a);

#endif
