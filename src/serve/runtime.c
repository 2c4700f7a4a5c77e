/*
 * runtime.c — the apps a runtime serves and their changes: plans loaded
 * on a thread, committed on the loop (see runtime.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/log.h"
#include "serve/runtime_impl.h"

/* One app of a plan: loaded afresh, or one already running, kept. */
typedef struct plan_entry {
    runtime_app *app;          /* one reference */
    bool fresh;
    uint32_t replicas;         /* the replicas wanted */
    bool resize;               /* kept, with another number of replicas */
    char *key;                 /* the spec's key, given to the app at commit */
    int64_t revision;
} plan_entry;

struct runtime_plan {
    plan_entry *entries;
    size_t n;
    size_t changes;
};

void runtime_app_retain(runtime_app *a) { atomic_fetch_add(&a->refs, 1); }

void runtime_app_release(runtime_app *a)
{
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1) return;
    if (a->pool) pool_free(a->pool);
    serve_app_unload(&a->app);
    free(a->key);
    free(a->instance);
    free(a);
}

serve_runtime *runtime_new(const runtime_options *opt)
{
    serve_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return NULL;
    rt->opt = *opt;
    if (rt->opt.channels < 1) rt->opt.channels = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (rt->opt.channels < 1) rt->opt.channels = 1;
    pthread_mutex_init(&rt->lock, NULL);
    rt->started_ns = wagi_now_ns();
    return rt;
}

/* Stop a's replicas now (requests still taken get 503, which lets go of
 * their references) and drop the runtime's reference. */
static void stop_app(runtime_app *a)
{
    if (a->pool) pool_free(a->pool);
    a->pool = NULL;
    runtime_app_release(a);
}

void runtime_free(serve_runtime *rt)
{
    if (!rt) return;
    /* The replicas go with their pools: sockets closed, processes reaped. */
    for (size_t i = 0; i < rt->napps; i++) stop_app(rt->apps[i]);
    free(rt->apps);
    for (size_t i = 0; i < rt->nretired; i++) stop_app(rt->retired[i]);
    free(rt->retired);
    for (size_t i = 0; i < rt->nregistry; i++) metrics_app_free(rt->registry[i]);
    free(rt->registry);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

/* ------------------------------------------------------------ plans */

static app_metrics *metrics_for(void *ctx, const char *name, const char *route)
{
    serve_runtime *rt = ctx;
    const char *r = *route ? route : "/";
    app_metrics *m = NULL;
    pthread_mutex_lock(&rt->lock);
    for (size_t i = 0; i < rt->nregistry && !m; i++)
        if (metrics_app_is(rt->registry[i], name, r)) m = rt->registry[i];
    app_metrics **grown = m ? NULL : realloc(rt->registry, (rt->nregistry + 1) * sizeof *grown);
    if (grown) {
        rt->registry = grown;
        m = metrics_app_new(name, route);
        if (m) rt->registry[rt->nregistry++] = m;
    }
    pthread_mutex_unlock(&rt->lock);
    return m;
}

/* The running app of this instance, retained; NULL if none. Under rt->lock. */
static runtime_app *running_locked(serve_runtime *rt, const char *instance)
{
    for (size_t i = 0; i < rt->napps; i++)
        if (!strcmp(rt->apps[i]->instance, instance)) {
            runtime_app_retain(rt->apps[i]);
            return rt->apps[i];
        }
    return NULL;
}

static bool has_key(const char *key) { return key && *key; }

bool runtime_runs_key(serve_runtime *rt, const char *instance, const char *key)
{
    if (!has_key(key)) return false;
    pthread_mutex_lock(&rt->lock);
    runtime_app *cur = running_locked(rt, instance);
    bool same = cur && cur->key && !strcmp(cur->key, key);
    pthread_mutex_unlock(&rt->lock);
    runtime_app_release(cur);
    return same;
}

void runtime_plan_free(runtime_plan *plan)
{
    if (!plan) return;
    for (size_t i = 0; i < plan->n; i++) {
        runtime_app_release(plan->entries[i].app);
        free(plan->entries[i].key);
    }
    free(plan->entries);
    free(plan);
}

size_t runtime_plan_changes(const runtime_plan *plan) { return plan->changes; }

/* Keep the running app cur for the entry, at `replicas` (0: as it is). */
static void keep_running(serve_runtime *rt, plan_entry *e, runtime_app *cur, uint32_t replicas)
{
    e->app = cur;
    pthread_mutex_lock(&rt->lock);
    e->replicas = replicas ? replicas : cur->replicas;
    e->resize = e->replicas != cur->replicas;
    pthread_mutex_unlock(&rt->lock);
}

/* The app of one spec: the running one when its key or its fingerprint
 * says it is unchanged (only its number of replicas may differ: that is
 * changed in place), else the one just loaded. */
static bool plan_one(serve_runtime *rt, const app_spec *spec, const char *name, plan_entry *e, app_error *err)
{
    e->revision = spec->revision;
    const char *instance = spec->instance ? spec->instance : name;
    if (has_key(spec->key) && !(e->key = strdup(spec->key))) goto oom;
    if (instance && has_key(spec->key)) {
        pthread_mutex_lock(&rt->lock);
        runtime_app *cur = running_locked(rt, instance);
        bool same = cur && cur->key && !strcmp(cur->key, spec->key);
        pthread_mutex_unlock(&rt->lock);
        if (same) {
            keep_running(rt, e, cur, spec->overrides.replicas);
            return true;
        }
        runtime_app_release(cur);
    }
    runtime_app *a = calloc(1, sizeof *a);
    if (!a) goto oom;
    atomic_init(&a->refs, 1);
    e->app = a;
    if (!serve_app_load(&a->app, spec->manifest, name, &spec->overrides, metrics_for, rt, err)) return false;
    if (!(a->instance = strdup(instance ? instance : a->app.name))) goto oom;
    pthread_mutex_lock(&rt->lock);
    runtime_app *cur = running_locked(rt, a->instance);
    pthread_mutex_unlock(&rt->lock);
    if (cur && cur->app.fingerprint == a->app.fingerprint && !strcmp(cur->app.route, a->app.route)) {
        keep_running(rt, e, cur, a->app.rc.replicas);
        runtime_app_release(a);
        return true;
    }
    runtime_app_release(cur);
    e->fresh = true;
    e->replicas = a->app.rc.replicas;
    return true;
oom:
    snprintf(err->text, sizeof err->text, "out of memory");
    return false;
}

runtime_plan *runtime_prepare(serve_runtime *rt, const app_spec *specs, size_t nspecs, app_error *err)
{
    runtime_plan *plan = calloc(1, sizeof *plan);
    if (plan) plan->entries = calloc(nspecs ? nspecs : 1, sizeof *plan->entries);
    if (!plan || !plan->entries) {
        free(plan);
        snprintf(err->text, sizeof err->text, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < nspecs; i++) {
        plan->n = i + 1;
        plan_entry *e = &plan->entries[i];
        if (!plan_one(rt, &specs[i], specs[i].name, e, err)) {
            runtime_plan_free(plan);
            return NULL;
        }
        plan->changes += e->fresh || e->resize;
        for (size_t k = 0; k < i; k++) {
            const serve_app *a = &plan->entries[k].app->app, *b = &e->app->app;
            /* Instances of one app share its route. */
            bool same_app = !strcmp(a->name, b->name), same_route = !strcmp(a->route, b->route);
            bool same_instance = !strcmp(plan->entries[k].app->instance, e->app->instance);
            const char *what = same_route && (same_instance || !same_app) ? "route" : same_instance ? "name" : NULL;
            if (!what) continue;
            if (*what == 'r')
                snprintf(err->text, sizeof err->text, "%s and %s both want the route '%s'", specs[k].manifest,
                         specs[i].manifest, *b->route ? b->route : "/");
            else
                snprintf(err->text, sizeof err->text, "%s and %s both name the app '%s'", specs[k].manifest,
                         specs[i].manifest, b->name);
            runtime_plan_free(plan);
            return NULL;
        }
    }
    return plan;
}

/* ------------------------------------------------------------ commits */

static ssize_t index_of(runtime_app **list, size_t n, const char *instance)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i]->instance, instance)) return (ssize_t)i;
    return -1;
}

static ssize_t plan_index(const runtime_plan *plan, const char *instance)
{
    for (size_t i = 0; i < plan->n; i++)
        if (!strcmp(plan->entries[i].app->instance, instance)) return (ssize_t)i;
    return -1;
}

/* Whether a (fresh) takes the place of a running app: its own instance,
 * or another instance of its name that the plan does not keep. */
static bool replaces(serve_runtime *rt, const runtime_plan *plan, const runtime_app *a)
{
    for (size_t i = 0; i < rt->napps; i++) {
        const runtime_app *cur = rt->apps[i];
        if (!strcmp(cur->instance, a->instance)) return true;
        if (!strcmp(cur->app.name, a->app.name) && plan_index(plan, cur->instance) < 0) return true;
    }
    return false;
}

static void retire(serve_runtime *rt, runtime_app *a)
{
    a->retired = true;
    if (a->pool) pool_retire(a->pool);
    rt->retired[rt->nretired++] = a; /* room made by the caller */
    log_json(LOG_DEBUG, "retiring the app's replicas", json_pack("{s:s}", "app", a->app.name));
}

/* A kept app's pool to its new number of replicas, in place. */
static void resize(runtime_app *a)
{
    int before = pool_size(a->pool);
    char why[200];
    if (!pool_resize(a->pool, (int)a->replicas, why, sizeof why))
        log_json(LOG_ERROR, "cannot scale the app", json_pack("{s:s,s:s}", "app", a->app.name, "reason", why));
    else
        log_json(LOG_INFO, "app scaled", json_pack("{s:s,s:i,s:i}", "app", a->app.name, "from", before, "to",
                                                   pool_size(a->pool)));
}

bool runtime_commit(serve_runtime *rt, runtime_plan *plan, bool exact, app_error *err)
{
    bool ok = false;
    size_t started = 0;
    /* What stays running besides the plan must not clash with it. */
    for (size_t i = 0; !exact && i < rt->napps; i++) {
        const serve_app *a = &rt->apps[i]->app;
        if (plan_index(plan, rt->apps[i]->instance) >= 0) continue;
        for (size_t k = 0; k < plan->n; k++)
            if (strcmp(plan->entries[k].app->app.name, a->name) && !strcmp(plan->entries[k].app->app.route, a->route)) {
                snprintf(err->text, sizeof err->text, "the route '%s' is the app '%s''s already",
                         *a->route ? a->route : "/", a->name);
                goto out;
            }
    }
    for (size_t i = 0; i < plan->n; i++)
        if (!plan->entries[i].fresh && plan->entries[i].app->retired) {
            snprintf(err->text, sizeof err->text, "the app '%s' changed while the plan was made; try again",
                     plan->entries[i].app->app.name);
            goto out;
        }
    pool_options po = {.base = rt->opt.base, .channels = rt->opt.channels, .address = rt->opt.address,
                       .port = rt->opt.port, .direct = rt->direct, .direct_done = runtime_direct_done};
    for (; started < plan->n; started++) {
        plan_entry *e = &plan->entries[started];
        if (!e->fresh) continue;
        po.serial = ++rt->next_serial;
        /* A reload of an app failing its checks keeps it out until its new
         * replicas pass one; a new revision beside it (another instance)
         * starts with a clean slate. */
        pthread_mutex_lock(&rt->lock);
        runtime_app *replaced = running_locked(rt, e->app->instance);
        pthread_mutex_unlock(&rt->lock);
        po.start_unhealthy = replaced && !runtime_app_healthy(replaced);
        po.direct_ctx = e->app;
        runtime_app_release(replaced);
        e->app->pool = pool_start(&po, &e->app->app, err->text, sizeof err->text);
        if (!e->app->pool) goto out;
    }
    size_t most = rt->napps + plan->n;
    runtime_app **list = calloc(most ? most : 1, sizeof *list);
    runtime_app **grown = realloc(rt->retired, (rt->nretired + rt->napps + 1) * sizeof *grown);
    if (grown) rt->retired = grown;
    if (!list || !grown) {
        free(list);
        snprintf(err->text, sizeof err->text, "out of memory");
        goto out;
    }
    size_t n = 0;
    pthread_mutex_lock(&rt->lock);
    /* Apps not in the plan: kept, or (exact) removed. */
    for (size_t i = 0; i < rt->napps; i++) {
        runtime_app *a = rt->apps[i];
        ssize_t k = plan_index(plan, a->instance);
        if (k < 0 && !exact) list[n++] = a;
        else if (k < 0 || plan->entries[k].app != a) retire(rt, a);
        else runtime_app_release(a); /* kept: the plan's reference takes over */
    }
    for (size_t i = 0; i < plan->n; i++) {
        plan_entry *e = &plan->entries[i];
        free(e->app->key);
        e->app->key = e->key;
        e->key = NULL;
        e->app->revision = e->revision;
        e->app->replicas = e->replicas;
        list[n++] = e->app;
        for (size_t w = 0; e->fresh && w < e->app->app.rc.nwarnings; w++)
            log_json(LOG_WARN, e->app->app.rc.warnings[w], json_pack("{s:s}", "app", e->app->app.name));
        if (e->fresh)
            log_json(LOG_INFO, replaces(rt, plan, e->app) ? "app replaced" : "app started",
                     json_pack("{s:s,s:s,s:i,s:I}", "app", e->app->app.name, "route",
                               *e->app->app.route ? e->app->app.route : "/", "replicas",
                               pool_size(e->app->pool), "revision", (json_int_t)e->revision));
    }
    for (size_t i = 0; i < plan->n; i++) plan->entries[i].app = NULL; /* the list has them now */
    free(rt->apps);
    rt->apps = list;
    rt->napps = n;
    pthread_mutex_unlock(&rt->lock);
    /* Outside the lock: starting replicas forks. */
    for (size_t i = 0; i < rt->napps; i++)
        if (pool_size(rt->apps[i]->pool) != (int)rt->apps[i]->replicas) resize(rt->apps[i]);
    ok = true;
out:
    if (!ok)
        for (size_t i = 0; i < started; i++)
            if (plan->entries[i].fresh && plan->entries[i].app->pool) {
                pool_free(plan->entries[i].app->pool);
                plan->entries[i].app->pool = NULL;
            }
    runtime_plan_free(plan);
    return ok;
}

bool runtime_apply(serve_runtime *rt, const app_spec *spec, app_error *err)
{
    runtime_plan *plan = runtime_prepare(rt, spec, 1, err);
    return plan && runtime_commit(rt, plan, false, err);
}

bool runtime_remove(serve_runtime *rt, const char *instance)
{
    ssize_t i = index_of(rt->apps, rt->napps, instance);
    runtime_app **grown = i < 0 ? NULL : realloc(rt->retired, (rt->nretired + 1) * sizeof *grown);
    if (!grown) return false;
    rt->retired = grown;
    pthread_mutex_lock(&rt->lock);
    runtime_app *a = rt->apps[i];
    memmove(rt->apps + i, rt->apps + i + 1, (rt->napps - (size_t)i - 1) * sizeof *rt->apps);
    rt->napps--;
    retire(rt, a);
    pthread_mutex_unlock(&rt->lock);
    log_json(LOG_INFO, "app removed", json_pack("{s:s}", "app", a->app.name));
    return true;
}

void runtime_housekeeping(serve_runtime *rt)
{
    size_t kept = 0;
    for (size_t i = 0; i < rt->nretired; i++) {
        runtime_app *a = rt->retired[i];
        if (a->pool && !pool_idle(a->pool)) {
            rt->retired[kept++] = a;
            continue;
        }
        stop_app(a);
    }
    rt->nretired = kept;
}

/* ------------------------------------------------------------ lookups */

runtime_app *runtime_route(serve_runtime *rt, const char *path)
{
    runtime_app *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < rt->napps; i++) {
        const char *r = rt->apps[i]->app.route;
        size_t n = strlen(r);
        if (serve_route_matches(r, path) && (!best || n > best_len)) best = rt->apps[i], best_len = n;
    }
    return best;
}

runtime_app *runtime_find(serve_runtime *rt, const char *instance)
{
    ssize_t i = index_of(rt->apps, rt->napps, instance);
    return i < 0 ? NULL : rt->apps[i];
}

runtime_app *runtime_find_named(serve_runtime *rt, const char *name)
{
    runtime_app *best = NULL;
    for (size_t i = 0; i < rt->napps; i++) {
        runtime_app *a = rt->apps[i];
        if (!strcmp(a->app.name, name) && runtime_app_healthy(a) && (!best || a->revision > best->revision)) best = a;
    }
    return best;
}

const char *runtime_app_name(const runtime_app *app) { return app->app.name; }
const char *runtime_app_route(const runtime_app *app) { return app->app.route; }
bool runtime_app_healthy(const runtime_app *app) { return app->pool && pool_healthy(app->pool); }
int runtime_app_load(const runtime_app *app) { return app->pool ? pool_load(app->pool) : 0; }
size_t runtime_app_count(const serve_runtime *rt) { return rt->napps; }
long runtime_in_flight(const serve_runtime *rt) { return rt->in_flight; }

json_t *runtime_health(serve_runtime *rt, json_t **replicas, bool *all_healthy)
{
    json_t *apps = json_object();
    if (replicas) *replicas = json_object();
    *all_healthy = true;
    for (size_t i = 0; i < rt->napps; i++) {
        runtime_app *a = rt->apps[i];
        bool healthy = runtime_app_healthy(a);
        *all_healthy &= healthy;
        json_object_set_new(apps, a->instance, json_string(healthy ? "healthy" : "unhealthy"));
        if (replicas) json_object_set_new(*replicas, a->instance, pool_describe(a->pool));
    }
    return apps;
}

json_t *runtime_apps(serve_runtime *rt)
{
    json_t *apps = json_object();
    for (size_t i = 0; i < rt->napps; i++) {
        runtime_app *a = rt->apps[i];
        json_object_set_new(apps, a->instance,
                            json_pack("{s:s,s:I,s:i,s:i,s:b,s:s,s:f,s:i,s:f,s:I,s:I,s:f}", "app", a->app.name,
                                      "revision", (json_int_t)a->revision, "replicas", pool_size(a->pool), "ready",
                                      pool_ready(a->pool), "healthy", runtime_app_healthy(a), "route",
                                      *a->app.route ? a->app.route : "/", "cpu_seconds",
                                      a->app.metrics ? metrics_app_cpu_seconds(a->app.metrics) : 0.0, "inflight",
                                      pool_load(a->pool), "inflight_seconds", pool_load_seconds(a->pool),
                                      "answered", (json_int_t)a->answered, "failed", (json_int_t)a->failed,
                                      "answer_seconds", a->answer_seconds));
    }
    return apps;
}

void runtime_reserved(serve_runtime *rt, uint64_t *memory, uint64_t *cpu_millicores)
{
    *memory = *cpu_millicores = 0;
    for (size_t i = 0; i < rt->napps; i++) {
        const run_config *rc = &rt->apps[i]->app.rc;
        uint64_t n = (uint64_t)pool_size(rt->apps[i]->pool);
        *memory += rc->memory_bytes * n;
        *cpu_millicores += (uint64_t)rc->cpu_millicores * n;
    }
}

char *runtime_metrics(serve_runtime *rt, size_t *len)
{
    pthread_mutex_lock(&rt->lock);
    char *text = metrics_render(rt->registry, rt->nregistry, (double)(wagi_now_ns() - rt->started_ns) / 1e9, len);
    pthread_mutex_unlock(&rt->lock);
    return text;
}
