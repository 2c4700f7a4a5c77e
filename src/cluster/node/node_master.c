/*
 * node_master.c — the node's thread that talks to the master: register,
 * heartbeat every heartbeat_ms, and turn each answer into what the loop
 * puts in place. Blocking calls (the API client, client.h) and the slow
 * work (fetching and unpacking bundles, reading manifests, compiling
 * modules: runtime_prepare) happen here, so that the event loop only
 * commits the result (node_take_handoff) and never stalls its requests.
 *
 * When the master cannot be reached nothing changes: the node keeps
 * serving what it runs and tries again every second.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/bundle.h"
#include "cluster/client.h"
#include "cluster/names.h"
#include "cluster/node/bundle_cache.h"
#include "cluster/node/node_impl.h"
#include "cluster/node/node_secrets.h"
#include "cluster/node/node_tls.h"
#include "serve/log.h"

#define CALL_TIMEOUT_MS 3000
#define BUNDLE_TIMEOUT_MS 120000

/* The thread's own state. */
typedef struct session {
    node *n;
    char master[300];
    bool registered;
    long heartbeat_ms;
    bool reachable;            /* last call got an answer (for logging changes only) */
    int quick;                 /* heartbeats left at QUICK_HEARTBEAT_MS */
    char last_failure[1024];   /* the assignment problem last logged */
    char **bad;                /* keys of assignments that would not load: */
    size_t nbad;               /*   left out (not loaded again) until they change */
    json_t *bundle_named;      /* {"HEX": ms}: when each cached bundle was last assigned */
} session;

/* After the apps changed, heartbeats come this often for a while, so
 * that replicas are reported (and routed to) once they are ready. */
#define QUICK_HEARTBEATS 10
#define QUICK_HEARTBEAT_MS 100

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait up to ms, or until stopped or woken (a new master, or the master
 * asking: POST /v1/node/wake). */
static void nap(node *n, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&n->mu);
    if (!n->stopping && !n->master_changed && !n->wake) pthread_cond_timedwait(&n->cond, &n->mu, &until);
    n->wake = false;
    pthread_mutex_unlock(&n->mu);
}

static bool stopping(node *n)
{
    pthread_mutex_lock(&n->mu);
    bool s = n->stopping;
    pthread_mutex_unlock(&n->mu);
    return s;
}

/* The thread's log lines go through the loop (log.h is the loop's: its
 * followers are HTTP streams): queued here, written by node_take_handoff. */
void node_thread_log(node *n, log_level level, const char *message, json_t *fields)
{
    queued_log *q = calloc(1, sizeof *q);
    if (q) q->message = strdup(message);
    if (!q || !q->message) {
        free(q);
        json_decref(fields);
        return;
    }
    q->level = level;
    q->fields = fields;
    pthread_mutex_lock(&n->mu);
    if (n->logs_tail) n->logs_tail->next = q;
    else n->logs_head = q;
    n->logs_tail = q;
    pthread_mutex_unlock(&n->mu);
    char one = 1;
    while (write(n->handoff_pipe[1], &one, 1) < 0 && errno == EINTR) continue;
}

/* Log when the master goes from answering to not, and back. */
static void reachability(session *s, bool ok, const char *why)
{
    node *n = s->n;
    if (ok == s->reachable) return;
    s->reachable = ok;
    if (ok) node_thread_log(n, LOG_INFO, "the master answers", json_pack("{s:s}", "master", s->master));
    else node_thread_log(n, LOG_WARN, "the master cannot be reached; serving what runs here", json_pack("{s:s,s:s}", "master",
                                                                                                s->master, "reason", why));
}

/* POST a JSON body to the master; the answer in out. */
static bool post_json(session *s, const char *path, json_t *body, api_reply *out, char *why, size_t whylen)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    bool ok = api_call(s->master, "POST", path, s->n->token, "application/json", text, strlen(text), CALL_TIMEOUT_MS,
                       out, why, whylen);
    free(text);
    return ok;
}

static void problem(session *s, const char *message, const char *reason);
static bool is_bad(const session *s, const char *key);

static void register_here(session *s)
{
    node *n = s->n;
    api_reply reply = {0};
    char why[600];
    json_t *body = json_pack("{s:s,s:s,s:s,s:{s:I,s:I}}", "name", n->name, "address", n->address, "ingress",
                             n->ingress, "capacity", "memory", (json_int_t)n->opt.capacity.memory, "cpu",
                             (json_int_t)n->opt.capacity.cpu);
    if (!post_json(s, "/v1/nodes/register", body, &reply, why, sizeof why)) {
        reachability(s, false, why);
        return;
    }
    reachability(s, true, NULL);
    if (reply.status == 200 || reply.status == 201) {
        json_t *j = json_loadb(reply.body, reply.len, 0, NULL);
        json_int_t ms = json_integer_value(json_object_get(j, "heartbeat_ms"));
        s->heartbeat_ms = ms >= 100 && ms <= 60000 ? (long)ms : 1000;
        json_decref(j);
        s->registered = true;
        node_thread_log(n, LOG_INFO, "registered with the master",
                 json_pack("{s:s,s:I}", "master", s->master, "heartbeat_ms", (json_int_t)s->heartbeat_ms));
    } else {
        char err[400], reason[600];
        snprintf(reason, sizeof reason, "%s answered %ld: %s", s->master, reply.status,
                 api_error(&reply, err, sizeof err));
        problem(s, "the master refused to register this node", reason);
    }
    api_reply_free(&reply);
}

/* ------------------------------------------------------------ bundles */

/* bundle_cache.h's fetch: GET /v1/bundles/HEX from the master. */
static bool fetch_bundle(void *ctx, const char *digest, uint8_t **data, size_t *len, char *why, size_t whylen)
{
    session *s = ctx;
    char path[128];
    snprintf(path, sizeof path, "/v1/bundles/%s", digest);
    api_reply reply = {0};
    if (!api_call(s->master, "GET", path, s->n->token, NULL, NULL, 0, BUNDLE_TIMEOUT_MS, &reply, why, whylen)) return false;
    bool ok = reply.status == 200;
    if (ok) {
        *data = (uint8_t *)reply.body, *len = reply.len;
        reply.body = NULL;
    } else {
        char err[400];
        snprintf(why, whylen, "bundle %.12s: the master answered %ld: %s", digest, reply.status,
                 api_error(&reply, err, sizeof err));
    }
    api_reply_free(&reply);
    return ok;
}

static void cache_log(void *ctx, log_level level, const char *message, json_t *fields)
{
    session *s = ctx;
    node_thread_log(s->n, level, message, fields);
}

/* DATA/bundles/HEX/ for an assignment: checked against its bundle
 * (bundle_cache.h) when the app is about to be loaded from it; while the
 * app runs unchanged, only there (its replicas hold what they loaded). */
static bool ensure_bundle(session *s, const char *digest, bool loading, char *dir, size_t dirlen, char *why, size_t whylen)
{
    node *n = s->n;
    snprintf(dir, dirlen, "%s/%s", n->bundles, digest);
    struct stat st;
    if (!loading && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return true;
    bundle_cache cache = {n->bundles, fetch_bundle, cache_log, s};
    return bundle_cache_load(&cache, digest, why, whylen);
}

/* ------------------------------------------------------------ assignments */

/* What one assignment becomes: an app spec and the strings it points to. */
typedef struct assigned {
    app_spec spec;
    char manifest[4400];
    char instance[100];
    char *key;
    const char **env;
    node_secret_use secrets;   /* env values and read-only folders */
} assigned;

static void assigned_free(assigned *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].key);
        free(a[i].env);
        node_secret_use_free(&a[i].secrets);
    }
    free(a);
}

/* One assignment (a JSON object of the answer) into *a; false with why. */
static bool read_assignment(session *s, json_t *j, assigned *a, char *why, size_t whylen)
{
    const char *app = json_string_value(json_object_get(j, "app"));
    const char *digest = json_string_value(json_object_get(j, "digest"));
    const char *manifest = json_string_value(json_object_get(j, "manifest"));
    json_t *ov = json_object_get(j, "overrides"), *env = json_object_get(ov, "env");
    json_int_t replicas = json_integer_value(json_object_get(j, "replicas"));
    if (!cluster_name_valid(app) || !digest || !bundle_digest_valid(digest) || !cluster_bundle_path_valid(manifest) || replicas < 1 || replicas > 10000) {
        snprintf(why, whylen, "an assignment needs an app name, a digest, a manifest path inside the bundle and "
                              "replicas from 1 to 10000");
        return false;
    }
    /* The assignment is the version, but for its replicas and its secrets'
     * values: any other change replaces the app, a new number of replicas
     * resizes its pool in place. The secrets' versions pinned in overrides
     * say the same as their values, and a key is no place for a secret. */
    json_t *bare = json_copy(j);
    if (bare) json_object_del(bare, "secrets"), json_object_del(bare, "replicas");
    a->key = bare ? json_dumps(bare, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(bare);
    if (!a->key) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    a->spec.revision = json_integer_value(json_object_get(j, "revision"));
    node_instance_name(a->instance, sizeof a->instance, app, a->spec.revision);
    /* Loaded (from the cache) unless it runs as it is, or is left out. */
    bool loading = !is_bad(s, a->key) && !runtime_runs_key(s->n->rt, a->instance, a->key);
    char dir[4200];
    if (!ensure_bundle(s, digest, loading, dir, sizeof dir, why, whylen)) return false;
    snprintf(a->manifest, sizeof a->manifest, "%s/%s", dir, manifest);
    a->spec.name = app;
    a->spec.manifest = a->manifest;
    a->spec.instance = a->instance;
    a->spec.overrides.replicas = (uint32_t)replicas;
    json_int_t memory = json_integer_value(json_object_get(ov, "memory"));
    json_int_t cpu = json_integer_value(json_object_get(ov, "cpu"));
    a->spec.overrides.memory_bytes = memory > 0 ? (uint64_t)memory : 0;
    a->spec.overrides.cpu_millicores = cpu > 0 && cpu <= UINT32_MAX ? (uint32_t)cpu : 0;
    /* The manifest's secrets first, so that --env overrides them too. The
     * master sends "secrets" with every app that names some; without it
     * the manifest is read as qyv serve reads it (and refused if it names
     * one). */
    bool has_secrets = json_object_get(j, "secrets") != NULL;
    if (has_secrets && !node_secrets_resolve(j, a->manifest, &a->secrets, why, whylen)) return false;
    size_t nsecret = a->secrets.nenv, nenv = nsecret + json_array_size(env);
    a->env = calloc(nenv + 1, sizeof *a->env);
    for (size_t i = 0; a->env && i < nsecret; i++) a->env[i] = a->secrets.env[i];
    for (size_t i = nsecret; a->env && i < nenv; i++) {
        const char *kv = json_string_value(json_array_get(env, i - nsecret));
        if (!kv) {
            snprintf(why, whylen, "%s: overrides.env must be strings KEY=VALUE", app);
            return false;
        }
        a->env[i] = kv;
    }
    a->spec.overrides.env = a->env;
    a->spec.overrides.nenv = nenv;
    a->spec.overrides.secrets_given = has_secrets;
    a->spec.overrides.mount_host = (const char *const *)a->secrets.host;
    a->spec.overrides.mount_guest = (const char *const *)a->secrets.guest;
    a->spec.overrides.nmounts = a->secrets.nmounts;
    a->spec.key = a->key;
    if (!a->env || !a->key) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    return true;
}

/* Log a problem once, not every second while it lasts. */
static void problem(session *s, const char *message, const char *reason)
{
    node *n = s->n;
    if (!strcmp(s->last_failure, reason)) return;
    snprintf(s->last_failure, sizeof s->last_failure, "%s", reason);
    node_thread_log(n, LOG_ERROR, message, json_pack("{s:s}", "reason", reason));
}

static void assignment_problem(session *s, const char *what) { problem(s, "cannot run an assigned app", what); }

/* Hand the plan and routes to the loop, and wait until it took them. */
static void hand_over(node *n, runtime_plan *plan, json_t *routes)
{
    pthread_mutex_lock(&n->mu);
    n->handoff_plan = plan;
    n->handoff_routes = routes;
    n->handoff_ready = true;
    pthread_mutex_unlock(&n->mu);
    char one = 1;
    while (write(n->handoff_pipe[1], &one, 1) < 0 && errno == EINTR) continue;
    pthread_mutex_lock(&n->mu);
    while (n->handoff_ready && !n->stopping) pthread_cond_wait(&n->cond, &n->mu);
    if (n->handoff_ready) { /* stopped before the loop took it */
        runtime_plan_free(n->handoff_plan);
        json_decref(n->handoff_routes);
        n->handoff_plan = NULL;
        n->handoff_routes = NULL;
        n->handoff_ready = false;
    }
    pthread_mutex_unlock(&n->mu);
}

static bool is_bad(const session *s, const char *key)
{
    for (size_t i = 0; i < s->nbad; i++)
        if (!strcmp(s->bad[i], key)) return true;
    return false;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
}

/* The heartbeat's answer: run exactly its assignments, route by its routes. */
static void apply_answer(session *s, json_t *answer)
{
    node *n = s->n;
    json_t *list = json_object_get(answer, "assignments"), *routes = json_object_get(answer, "routes");
    size_t total = json_array_size(list), count = 0, nbad = 0;
    assigned *as = calloc(total + 1, sizeof *as);
    app_spec *specs = calloc(total + 1, sizeof *specs);
    char **bad = calloc(total + 1, sizeof *bad);
    if (!as || !specs || !bad) goto out;
    char why[1024];
    bool all_ok = true;
    for (size_t i = 0; i < total; i++) {
        assigned *a = &as[count];
        if (!read_assignment(s, json_array_get(list, i), a, why, sizeof why)) {
            all_ok = false;
            free(a->key), free(a->env);
            node_secret_use_free(&a->secrets);
            memset(a, 0, sizeof *a);
            assignment_problem(s, why);
        } else if (is_bad(s, a->key)) {
            bad[nbad++] = a->key; /* still the same bad app: not loaded again */
            a->key = NULL;
            free(a->env), a->env = NULL;
        } else {
            specs[count++] = a->spec;
        }
    }
    app_error err;
    runtime_plan *plan = runtime_prepare(n->rt, specs, count, &err);
    if (!plan) {
        /* One bad app must not keep the others from running: leave out
         * those that do not load on their own, until they change. */
        size_t kept = 0;
        for (size_t i = 0; i < count; i++) {
            runtime_plan *one = runtime_prepare(n->rt, &specs[i], 1, &err);
            if (one) {
                specs[kept++] = specs[i];
            } else {
                node_thread_log(n, LOG_ERROR, "cannot run an assigned app; left out until its assignment changes",
                         json_pack("{s:s,s:s}", "app", specs[i].name, "reason", err.text));
                char *key = strdup(specs[i].key);
                if (key) bad[nbad++] = key;
            }
            runtime_plan_free(one);
        }
        plan = runtime_prepare(n->rt, specs, kept, &err);
        if (!plan) assignment_problem(s, err.text); /* together they clash */
    }
    free_keys(s->bad, s->nbad);
    s->bad = bad, s->nbad = nbad, bad = NULL;
    node_secrets_sweep();
    if (all_ok) s->last_failure[0] = '\0';
    /* Replicas are starting: report them ready soon, not a heartbeat
     * later (the master routes to them once they are). */
    if (plan && runtime_plan_changes(plan)) s->quick = QUICK_HEARTBEATS;
    if (plan) {
        hand_over(n, plan, json_incref(routes ? routes : json_array()));
        /* The runtime now runs exactly these: what no assignment names
         * may leave the cache once it has been unnamed for a while. */
        json_t *in_use = json_object();
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) {
            const char *digest = json_string_value(json_object_get(v, "digest"));
            if (digest && bundle_digest_valid(digest)) json_object_set_new(in_use, digest, json_true());
        }
        bundle_cache cache = {n->bundles, fetch_bundle, cache_log, s};
        uint64_t keep_ms = n->opt.bundle_keep_ms ? n->opt.bundle_keep_ms : NODE_BUNDLE_KEEP_MS;
        bundle_cache_prune(&cache, in_use, s->bundle_named, keep_ms, monotonic_ms());
        json_decref(in_use);
    }
out:
    free(bad);
    assigned_free(as, total);
    free(specs);
}

static void heartbeat(session *s)
{
    node *n = s->n;
    pthread_mutex_lock(&n->mu);
    json_t *body = n->status ? json_loads(n->status, 0, NULL) : NULL;
    pthread_mutex_unlock(&n->mu);
    if (!body) body = json_pack("{s:{}}", "apps");
    char path[200], why[600];
    snprintf(path, sizeof path, "/v1/nodes/%s/heartbeat", n->name);
    api_reply reply = {0};
    if (!post_json(s, path, body, &reply, why, sizeof why)) {
        reachability(s, false, why);
        return;
    }
    reachability(s, true, NULL);
    if (reply.status == 404 || reply.status == 410) {
        s->registered = false; /* the master forgot this node: register again */
    } else if (reply.status != 200) {
        char err[400];
        node_thread_log(n, LOG_WARN, "the master refused a heartbeat",
                 json_pack("{s:i,s:s}", "status", (int)reply.status, "reason", api_error(&reply, err, sizeof err)));
    } else {
        json_error_t e;
        json_t *answer = json_loadb(reply.body, reply.len, 0, &e);
        if (json_is_object(answer)) apply_answer(s, answer);
        if (json_is_object(answer)) node_tls_follow(n, s->master, json_object_get(answer, "tls"));
        else node_thread_log(n, LOG_WARN, "the master's heartbeat answer is not JSON", json_pack("{s:s}", "reason", e.text));
        json_decref(answer);
    }
    api_reply_free(&reply);
}

static void *master_main(void *arg)
{
    session s = {.n = arg, .heartbeat_ms = 1000, .reachable = true, .bundle_named = json_object()};
    node *n = s.n;
    while (!stopping(n)) {
        pthread_mutex_lock(&n->mu);
        if (n->master_changed) s.registered = false, n->master_changed = false;
        snprintf(s.master, sizeof s.master, "%s", n->master);
        pthread_mutex_unlock(&n->mu);
        if (!*s.master) {
            nap(n, 1000);
            continue;
        }
        if (!s.registered) register_here(&s);
        if (s.registered) heartbeat(&s);
        long pause = !s.registered ? 1000 : s.quick > 0 ? QUICK_HEARTBEAT_MS : s.heartbeat_ms;
        if (s.quick > 0) s.quick--;
        nap(n, pause);
    }
    free_keys(s.bad, s.nbad);
    json_decref(s.bundle_named);
    return NULL;
}

void node_set_master(node *n, const char *master)
{
    pthread_mutex_lock(&n->mu);
    snprintf(n->master, sizeof n->master, "%s", master);
    n->master_changed = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}

bool node_master_start(node *n)
{
    n->thread_started = pthread_create(&n->thread, NULL, master_main, n) == 0;
    return n->thread_started;
}

void node_master_stop(node *n)
{
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
    if (n->thread_started) pthread_join(n->thread, NULL);
    n->thread_started = false;
}

void node_flush_logs(node *n)
{
    pthread_mutex_lock(&n->mu);
    queued_log *logs = n->logs_head;
    n->logs_head = n->logs_tail = NULL;
    pthread_mutex_unlock(&n->mu);
    while (logs) {
        queued_log *q = logs;
        logs = q->next;
        log_json(q->level, q->message, q->fields);
        free(q->message);
        free(q);
    }
}

void node_take_handoff(node *n)
{
    node_flush_logs(n);
    pthread_mutex_lock(&n->mu);
    runtime_plan *plan = n->handoff_ready ? n->handoff_plan : NULL;
    json_t *routes = n->handoff_ready ? n->handoff_routes : NULL;
    bool ready = n->handoff_ready;
    n->handoff_plan = NULL;
    n->handoff_routes = NULL;
    pthread_mutex_unlock(&n->mu);
    if (!ready) return;
    app_error err;
    if (plan && !n->draining && !runtime_commit(n->rt, plan, true, &err))
        log_json(LOG_ERROR, "cannot put the assigned apps in place", json_pack("{s:s}", "reason", err.text));
    else if (plan && n->draining)
        runtime_plan_free(plan);
    char why[300];
    if (routes && !proxy_set_routes(n->proxy, routes, why, sizeof why))
        log_json(LOG_WARN, "the master's routes are malformed; keeping the previous ones", json_pack("{s:s}", "reason", why));
    json_decref(routes);
    node_sync_ports(n);
    pthread_mutex_lock(&n->mu);
    n->handoff_ready = false;
    n->handoffs_done++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->mu);
}
