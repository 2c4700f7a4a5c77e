/*
 * runtime.h — the serving runtime: the apps one process serves, each held
 * on its own, with its pool of replica processes (pool.h), changed while
 * it runs. `qyv serve` is a front on it (manifests in, reload); a cluster
 * node (src/cluster/node/) is another (assignments from the master).
 *
 * An app is applied from a manifest plus overrides (apps.h): started when
 * new, replaced when what it is made of changed — its new pool starts
 * first, the old one is retired and finishes the requests it took, so no
 * request is dropped — and left alone when unchanged. Removing an app
 * retires its pool the same way. Requests are routed by the longest route
 * prefix and run by the app's pool; health, metrics and the apps' state
 * are exposed for the fronts' endpoints.
 *
 * Threads: everything runs on the event loop's thread except
 * runtime_prepare, which reads manifests and compiles modules and is
 * meant for another thread (one preparation at a time), so that the loop
 * keeps serving meanwhile. Nothing here is process-wide except the log
 * (log.h) and the cgroup root (limits.h).
 */
#ifndef QYVOL_SERVE_RUNTIME_H
#define QYVOL_SERVE_RUNTIME_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "serve/apps.h"
#include "serve/http1.h"

struct serve_direct;

typedef struct serve_runtime serve_runtime;
typedef struct runtime_app runtime_app;
typedef struct runtime_plan runtime_plan;

typedef struct runtime_options {
    struct event_base *base;
    int channels;              /* requests each replica runs at once; 0: one per CPU */
    const char *address;       /* where requests arrive, for health checks' */
    uint16_t port;             /*   Host, SERVER_NAME and SERVER_PORT */
} runtime_options;

serve_runtime *runtime_new(const runtime_options *opt);
/* Stop every replica of every app (requests still taken get 503) and free. */
void runtime_free(serve_runtime *rt);

/* An app to run. */
typedef struct app_spec {
    const char *name;          /* NULL: the manifest's; else the app's name (a cluster's) */
    const char *manifest;      /* its path (inside an unpacked bundle, for a node) */
    app_overrides overrides;
    /* The caller's name for this version of the app ("" or NULL: none).
     * An app already running with the same key is left alone without
     * reading anything; without keys, apps are compared by fingerprint
     * once loaded. */
    const char *key;
    int64_t revision;          /* shown in runtime_apps (the cluster's revision) */
    /* What tells this app from the runtime's others (NULL: its name).
     * Instances of one name may run side by side and share its route (a
     * node runs an app's old and new revision during a rollout). */
    const char *instance;
} app_spec;

/* Load the apps of specs (any thread): what is new or changed is read and
 * compiled, what runs unchanged is only noted. NULL with err when one
 * cannot be loaded (its manifest's FILE:LINE:COLUMN first), or two want
 * the same route or name. */
runtime_plan *runtime_prepare(serve_runtime *rt, const app_spec *specs, size_t nspecs, app_error *err);
/* Does `instance` run with this key (any thread)? Then runtime_prepare
 * would leave it alone without reading anything. */
bool runtime_runs_key(serve_runtime *rt, const char *instance, const char *key);
/* How many apps the plan would start or replace. */
size_t runtime_plan_changes(const runtime_plan *plan);
void runtime_plan_free(runtime_plan *plan);

/* Put the plan in place (loop thread; takes the plan): new apps start,
 * changed ones are replaced, and with `exact` the apps not in the plan are
 * removed. false with err (nothing changed) when an app's pool cannot
 * start, or when the plan's route clashes with an app it leaves running. */
bool runtime_commit(serve_runtime *rt, runtime_plan *plan, bool exact, app_error *err);

/* runtime_prepare and runtime_commit for one app, on the loop thread. */
bool runtime_apply(serve_runtime *rt, const app_spec *spec, app_error *err);
/* Retire the app's pool (its requests finish); false when no such app. */
bool runtime_remove(serve_runtime *rt, const char *instance);

/* ---- requests (loop thread) */

/* The app whose route is the longest prefix of path (whole segments). */
runtime_app *runtime_route(serve_runtime *rt, const char *path);
/* The app whose instance (its name unless the spec said) is `instance`. */
runtime_app *runtime_find(serve_runtime *rt, const char *instance);
/* A healthy instance of the app named name, the highest revision first;
 * NULL when none is. */
runtime_app *runtime_find_named(serve_runtime *rt, const char *name);
const char *runtime_app_name(const runtime_app *app);
const char *runtime_app_route(const runtime_app *app); /* "" for "/" */
bool runtime_app_healthy(const runtime_app *app);
/* Its requests running and waiting (for least_connections across nodes). */
int runtime_app_load(const runtime_app *app);

/* Whether the app takes request bodies as they arrive (wasi:http
 * components; WAGI modules get theirs whole, as CGI's stdin). */
bool runtime_app_streams_bodies(const runtime_app *app);

/* Run r on app and answer x (with X-Request-Id, an access log line, the
 * app's metrics), or answer 503 when it cannot take it. */
void runtime_serve(serve_runtime *rt, runtime_app *app, http_exchange *x, const http_request *r);

/* Requests being run. */
long runtime_in_flight(const serve_runtime *rt);

/* ---- replicas taking connections themselves (runtime_direct.c) */

/* Pools started from now on may have their replicas take connections
 * themselves (direct.h), once runtime_set_direct says so; without this
 * (a cluster node), never. d must outlive the runtime. */
void runtime_allow_direct(serve_runtime *rt, const struct serve_direct *d);
/* Let the replicas of the apps that can (WAGI modules) take connections
 * from the listening socket (on), or have them stop and give back what
 * they hold (off; retired apps' replicas always do). */
void runtime_set_direct(serve_runtime *rt, bool on);
/* Some replica takes connections now and has a thread free for one
 * (not in a request for more than a few milliseconds): the front need not. */
bool runtime_direct_serving(const serve_runtime *rt);
/* Give a connection to one of app's replicas that take connections
 * (pool_direct_give); false when none can. */
bool runtime_direct_give(runtime_app *app, int fd, const char *peer, const void *bytes, size_t len);
/* The same for an idle connection (its next request's app unknown):
 * to any app's replica that takes connections. */
bool runtime_direct_give_any(serve_runtime *rt, int fd, const char *peer);
/* Count the answers replicas gave themselves now, for the metrics. */
void runtime_direct_collect(serve_runtime *rt);
/* Client connections the replicas of every app, retired ones too, hold. */
int runtime_direct_conns(const serve_runtime *rt);
/* Every app's route ("" for "/"), each NUL-terminated, at out (room for
 * cap bytes); the bytes they take, which may be more than cap. */
size_t runtime_routes(const serve_runtime *rt, char *out, size_t cap);
/* Free the retired pools that finished their requests (call every few
 * hundred ms; runtime_new does not make timers of its own). */
void runtime_housekeeping(serve_runtime *rt);

/* ---- observability (loop thread) */

/* {"APP":"healthy"|"unhealthy",...}; with replicas, also each app's
 * replicas in *replicas ({"APP":[{replica,state,pid,...}]}). */
json_t *runtime_health(serve_runtime *rt, json_t **replicas, bool *all_healthy);
/* {"INSTANCE":{"app":"NAME","revision":N,"replicas":N,"ready":N,"healthy":B,"route":"/r",
 * "cpu_seconds":S,"inflight":N,"inflight_seconds":S,"answered":N,"failed":N,
 * "answer_seconds":S},...} (healthy: false once every replica failed its
 * health checks in a row; cpu_seconds: the CPU time its replicas used so
 * far, as in the metrics; inflight: its requests running or queued now;
 * inflight_seconds: that integrated over time, see pool_load_seconds;
 * answered, failed (5xx) and answer_seconds: this instance's answers) */
json_t *runtime_apps(serve_runtime *rt);
size_t runtime_app_count(const serve_runtime *rt);
/* Prometheus text of every app's metrics (malloc'ed, *len bytes). */
char *runtime_metrics(serve_runtime *rt, size_t *len);
/* Memory (bytes) and CPU (millicores) the running apps' replicas reserve. */
void runtime_reserved(serve_runtime *rt, uint64_t *memory, uint64_t *cpu_millicores);

#endif
