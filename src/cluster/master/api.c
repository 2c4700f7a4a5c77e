/*
 * api.c — the master's API (docs/api.md): authentication, then one
 * handler per endpoint. Handlers run on the event loop; what must wait on
 * the network (calling a node) runs as a background job.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle.h"
#include "cluster/client.h"
#include "cluster/master/access.h"
#include "cluster/master/autoscaler.h"
#include "cluster/master/check.h"
#include "cluster/master/ha.h"
#include "cluster/names.h"
#include "cluster/master/internal.h"
#include "cluster/master/master_tls.h"
#include "cluster/master/reconcile.h"
#include "cluster/master/rollout.h"
#include "cluster/master/secrets.h"
#include "serve/http_json.h"
#include "serve/log.h"

#define NODE_CALL_MS 5000

/* ------------------------------------------------------------ answers */

static json_t *body_json(const http_request *r, http_exchange *x)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        http_respond_json_error(x, 400, "the body must be a JSON object (%s)", j ? "not an object" : je.text);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------ health, nodes */

static json_t *node_json(const master *m, const m_node *n)
{
    uint32_t replicas = 0;
    for (size_t i = 0; i < m->state.napps; i++) replicas += app_placed_on(&m->state.apps[i], n->name);
    uint64_t mem_reserved = 0, cpu_reserved = 0;
    for (size_t i = 0; i < m->state.napps; i++) {
        uint32_t c = app_placed_on(&m->state.apps[i], n->name);
        mem_reserved += c * m->state.apps[i].memory;
        cpu_reserved += c * m->state.apps[i].cpu;
    }
    json_int_t age = n->ever_heard ? (json_int_t)((now_ns() - n->last_heartbeat_ns) / 1000000u) : -1;
    return json_pack("{s:s,s:s,s:s,s:s,s:i,s:{s:I,s:I,s:I},s:{s:I,s:I,s:I},s:I,s:I}", "name", n->name, "address",
                     n->address, "ingress", n->ingress, "status", n->ready ? "ready" : "down", "replicas",
                     (int)replicas, "memory", "used", (json_int_t)n->memory_used, "reserved",
                     (json_int_t)mem_reserved, "capacity", (json_int_t)n->memory_capacity, "cpu", "used",
                     (json_int_t)n->cpu_used, "reserved", (json_int_t)cpu_reserved, "capacity",
                     (json_int_t)n->cpu_capacity, "heartbeat_age_ms", age, "joined_ms", (json_int_t)n->joined_ms);
}

static void get_health(master *m, http_exchange *x)
{
    int ready = 0, down = 0, pending = 0;
    for (size_t i = 0; i < m->state.nnodes; i++) m->state.nodes[i].ready ? ready++ : down++;
    for (size_t i = 0; i < m->state.napps; i++) pending += m->state.apps[i].pending != NULL;
    const char *status = down || pending ? "degraded" : "ok";
    master_ha_health(m, x, json_pack("{s:s,s:s,s:s,s:{s:i,s:i},s:{s:i,s:i},s:I}", "status", status, "role", "master",
                                     "version", QYVOL_VERSION, "nodes", "ready", ready, "down", down, "apps", "total",
                                     (int)m->state.napps, "pending", pending, "uptime_ms",
                                     (json_int_t)(now_ms() - m->started_ms)));
}

static void get_nodes(master *m, http_exchange *x)
{
    json_t *list = json_array();
    for (size_t i = 0; i < m->state.nnodes; i++) json_array_append_new(list, node_json(m, &m->state.nodes[i]));
    http_respond_json(x, 200, json_pack("{s:o}", "nodes", list));
}

/* POST /v1/nodes/register: a node says where it is and what it has. */
static void post_register(master *m, http_exchange *x, const http_request *r)
{
    json_t *j = body_json(r, x);
    if (!j) return;
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *address = json_string_value(json_object_get(j, "address"));
    const char *ingress = json_string_value(json_object_get(j, "ingress"));
    json_t *cap = json_object_get(j, "capacity");
    json_int_t mem = json_integer_value(json_object_get(cap, "memory"));
    json_int_t cpu = json_integer_value(json_object_get(cap, "cpu"));
    char why[300];
    if (!name || !cluster_name_valid(name)) {
        http_respond_json_error(x, 400, "a node name must be lower-case letters, digits and '-' (at most 63), not '%s'",
                      name ? name : "");
    } else if (!address || !*address || strlen(address) >= M_ADDR_MAX) {
        http_respond_json_error(x, 400, "the node's address (HOST:PORT) is missing");
    } else if (mem <= 0 || cpu <= 0) {
        http_respond_json_error(x, 400, "the node's capacity (memory bytes, cpu millicores) must be positive");
    } else {
        m_node *n = state_node(&m->state, name);
        if (n && n->ready && n->ever_heard && strcmp(n->address, address)) {
            http_respond_json_error(x, 409, "the node name '%s' is taken by the node at %s", name, n->address);
            json_decref(j);
            return;
        }
        bool is_new = !n;
        if (!n) n = state_add_node(&m->state, name);
        if (!n) {
            http_respond_json_error(x, 500, "out of memory");
            json_decref(j);
            return;
        }
        bool changed = is_new || strcmp(n->address, address) || strcmp(n->ingress, ingress ? ingress : "") ||
                       n->memory_capacity != (uint64_t)mem || n->cpu_capacity != (uint64_t)cpu;
        snprintf(n->address, sizeof n->address, "%s", address);
        snprintf(n->ingress, sizeof n->ingress, "%s", ingress ? ingress : "");
        n->memory_capacity = (uint64_t)mem;
        n->cpu_capacity = (uint64_t)cpu;
        if (is_new) n->joined_ms = now_ms();
        bool was_ready = n->ready && n->ever_heard;
        n->ready = true;
        n->ever_heard = true;
        n->last_heartbeat_ns = now_ns();
        if (changed && !state_save_node(&m->state, n, why, sizeof why)) {
            http_respond_json_error(x, 500, "%s", why);
            json_decref(j);
            return;
        }
        if (!was_ready)
            log_json(LOG_INFO, is_new ? "node joined" : "node registered",
                     json_pack("{s:s,s:s,s:I,s:I}", "node", name, "address", address, "memory", mem, "cpu", cpu));
        m->dirty = true;
        http_respond_json(x, 200, json_pack("{s:i,s:i}", "heartbeat_ms", (int)m->opt.heartbeat_ms, "down_after_ms",
                                       (int)m->opt.down_after_ms));
    }
    json_decref(j);
}

/* Where every app is served (routes.c). */
json_t *master_routes(master *m)
{
    json_t *routes = json_array();
    for (size_t i = 0; i < m->state.napps; i++) json_array_append_new(routes, app_route(m, &m->state.apps[i]));
    return routes;
}

/* What node n must run, and where every app is served. */
static json_t *assignments_for(master *m, const m_node *n)
{
    json_t *assignments = json_array();
    for (size_t i = 0; i < m->state.napps; i++) {
        size_t before = json_array_size(assignments);
        app_assignments(&m->state.apps[i], n, assignments); /* a rollout's two revisions */
        for (size_t k = before; k < json_array_size(assignments); k++) {
            json_t *one = json_array_get(assignments, k);
            secrets_attach(m, one, json_object_get(one, "overrides"));
        }
    }
    return json_pack("{s:o,s:o}", "assignments", assignments, "routes", master_routes(m));
}

/* POST /v1/nodes/NAME/heartbeat */
static void post_heartbeat(master *m, http_exchange *x, const http_request *r, const char *name)
{
    m_node *n = state_node(&m->state, name);
    if (!n) {
        http_respond_json_error(x, 404, "no node '%s': register first", name);
        return;
    }
    json_t *j = body_json(r, x);
    if (!j) return;
    json_t *apps = json_object_get(j, "apps");
    if (json_is_object(apps)) {
        json_decref(n->reported);
        n->reported = json_incref(apps);
    }
    n->memory_used = (uint64_t)json_integer_value(json_object_get(j, "memory_used"));
    n->cpu_used = (uint64_t)json_integer_value(json_object_get(j, "cpu_used"));
    n->last_heartbeat_ns = now_ns();
    n->ever_heard = true;
    if (!n->ready) {
        n->ready = true;
        m->dirty = true;
        log_json(LOG_INFO, "node back", json_pack("{s:s}", "node", n->name));
    }
    json_decref(j);
    /* What the node reports may let a rollout take its next step: take it
     * now, so that this very answer carries it. */
    rollout_tick(m);
    json_t *answer = assignments_for(m, n);
    json_t *tls = master_tls_state(m);
    if (tls) json_object_set_new(answer, "tls", tls);
    http_respond_json(x, 200, answer);
}

/* POST /v1/nodes {"address"}: qyv cluster add-node. The master calls the
 * node (a blocking call, on a thread); the node then registers. */
typedef struct add_node_job {
    http_exchange *x;
    char address[M_ADDR_MAX];
    char master_address[M_ADDR_MAX];
    char token[512];
    api_reply reply;
    bool called;
    char why[512];
} add_node_job;

static void add_node_work(void *arg)
{
    add_node_job *job = arg;
    json_t *body = json_pack("{s:s}", "master", job->master_address);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    job->called = text && api_call(job->address, "POST", "/v1/node/join", job->token, "application/json", text,
                                   strlen(text), NODE_CALL_MS, &job->reply, job->why, sizeof job->why);
    free(text);
}

static void add_node_done(master *m, void *arg)
{
    (void)m;
    add_node_job *job = arg;
    if (!job->called) {
        http_respond_json_error(job->x, 502, "no node answered at %s: %s", job->address, job->why);
    } else if (job->reply.status == 401) {
        http_respond_json_error(job->x, 401, "the node at %s refused the cluster token: start it with the same --token-file",
                      job->address);
    } else if (job->reply.status != 200) {
        http_respond_json_error(job->x, 502, "the node at %s answered %ld: %.300s", job->address, job->reply.status,
                      job->reply.body ? job->reply.body : "");
    } else {
        json_t *node = json_loadb(job->reply.body, job->reply.len, 0, NULL);
        http_respond_json(job->x, 201, json_pack("{s:o}", "node", node ? node : json_object()));
    }
    api_reply_free(&job->reply);
    free(job);
}

/* The address nodes reach this master at. */
static void advertised(master *m, const http_request *r, char *out, size_t n)
{
    const char *a = m->opt.address;
    if (master_ha_addresses(m, out, n)) return; /* every master, for nodes to fail over */
    if (strcmp(a, "0.0.0.0") && strcmp(a, "::") && *a) snprintf(out, n, "%s:%u", a, m->opt.port);
    else snprintf(out, n, "%s", r->host);
}

static void post_node(master *m, http_exchange *x, const http_request *r)
{
    json_t *j = body_json(r, x);
    if (!j) return;
    const char *address = json_string_value(json_object_get(j, "address"));
    if (!address || !*address || strlen(address) >= M_ADDR_MAX || !strchr(address, ':')) {
        http_respond_json_error(x, 400, "give the node's address as HOST:PORT");
        json_decref(j);
        return;
    }
    add_node_job *job = calloc(1, sizeof *job);
    if (!job) {
        http_respond_json_error(x, 500, "out of memory");
        json_decref(j);
        return;
    }
    job->x = x;
    snprintf(job->address, sizeof job->address, "%s", address);
    snprintf(job->token, sizeof job->token, "%s", m->opt.token);
    advertised(m, r, job->master_address, sizeof job->master_address);
    json_decref(j);
    if (!bg_start(m, add_node_work, add_node_done, job)) {
        http_respond_json_error(x, 500, "cannot start a thread");
        free(job);
    }
}

static void delete_node(master *m, http_exchange *x, const char *name)
{
    char why[300];
    if (!state_node(&m->state, name)) {
        http_respond_json_error(x, 404, "no node '%s'", name);
        return;
    }
    if (!state_delete_node(&m->state, name, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    state_remove_node(&m->state, name);
    log_json(LOG_INFO, "node removed", json_pack("{s:s}", "node", name));
    master_reconcile(m);
    http_respond_json(x, 200, json_pack("{s:s}", "removed", name));
}

/* ------------------------------------------------------------ bundles */

static void post_bundle(master *m, http_exchange *x, const http_request *r)
{
    if (!r->body_len) {
        http_respond_json_error(x, 400, "the body must be the bundle (a tar)");
        return;
    }
    char hex[65], why[900];
    int status = 500;
    bundle_digest((const uint8_t *)r->body, r->body_len, hex);
    if (!master_bundle_save(m, r->body, r->body_len, hex, &status, why, sizeof why) ||
        !master_bundle_share(m, hex, r->body, r->body_len, why, sizeof why)) {
        http_respond_json_error(x, status, "%s", why);
        return;
    }
    log_json(LOG_INFO, "bundle stored", json_pack("{s:s,s:I}", "digest", hex, "size", (json_int_t)r->body_len));
    http_respond_json(x, 201, json_pack("{s:s,s:I}", "digest", hex, "size", (json_int_t)r->body_len));
}

static void get_bundle(master *m, http_exchange *x, const char *hex)
{
    if (!bundle_digest_valid(hex)) {
        http_respond_json_error(x, 400, "'%.80s' is not a bundle digest (64 hex digits)", hex);
        return;
    }
    char tar[800];
    snprintf(tar, sizeof tar, "%s/%s.tar", m->bundles_dir, hex);
    FILE *f = fopen(tar, "rb");
    char why[600];
    /* Another master may have received it (several masters on etcd). */
    if (!f && master_bundle_fetch(m, hex, why, sizeof why)) f = fopen(tar, "rb");
    if (!f) {
        http_respond_json_error(x, 404, "no bundle %s", hex);
        return;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = len > 0 ? malloc((size_t)len) : NULL;
    bool ok = data && fread(data, 1, (size_t)len, f) == (size_t)len;
    fclose(f);
    if (!ok) {
        free(data);
        http_respond_json_error(x, 500, "cannot read %s", tar);
        return;
    }
    http_field type = {"Content-Type", "application/x-tar"};
    http_respond(x, 200, &type, 1, data, (size_t)len);
    free(data);
}

/* ------------------------------------------------------------ apps */

json_t *app_status(master *m, const m_app *a)
{
    json_t *j = app_to_json(a, false), *placement = json_object();
    uint32_t running = 0, ready = 0;
    const char *node;
    json_t *v;
    json_object_foreach(a->placement, node, v) {
        const m_node *n = state_node(&m->state, node);
        json_t *rep = n ? node_report(n, a->name, a->revision) : NULL;
        uint32_t run = (uint32_t)json_integer_value(json_object_get(rep, "replicas"));
        uint32_t rdy = n ? node_ready_for(n, a) : 0;
        if (n && !n->ready) run = rdy = 0;
        running += run, ready += rdy;
        json_object_set_new(placement, node, json_pack("{s:I,s:i,s:i}", "wanted", json_integer_value(v), "running",
                                                       (int)run, "ready", (int)rdy));
    }
    json_object_set_new(j, "placement", placement);
    if (a->autoscale.max) {
        json_t *as = json_object_get(j, "autoscale");
        json_object_set_new(as, "utilisation", a->utilisation >= 0 ? json_real(a->utilisation) : json_null());
        json_object_set_new(as, "inflight", a->inflight >= 0 ? json_real(a->inflight) : json_null());
        json_object_set_new(as, "effective_window_ms", json_integer((json_int_t)autoscale_window_ms(m, a)));
        json_object_set_new(as, "why", *a->autoscale_why ? json_string(a->autoscale_why) : json_null());
        json_object_set_new(as, "desired", a->autoscale_desired ? json_integer(a->autoscale_desired) : json_null());
        json_object_set_new(as, "decided_ms", a->autoscaled_ms ? json_integer((json_int_t)a->autoscaled_ms) : json_null());
    }
    json_object_set_new(j, "replicas", json_pack("{s:i,s:i,s:i,s:i}", "wanted", (int)a->wanted, "placed",
                                                 (int)app_placed_total(a), "running", (int)running, "ready",
                                                 (int)ready));
    json_object_set_new(j, "rollout", rollout_status(m, a));
    return j;
}

static void get_apps(master *m, http_exchange *x, const char *name)
{
    if (name) {
        m_app *a = state_app(&m->state, name);
        if (!a) http_respond_json_error(x, 404, "no app '%s'", name);
        else http_respond_json(x, 200, app_status(m, a));
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < m->state.napps; i++) json_array_append_new(list, app_status(m, &m->state.apps[i]));
    http_respond_json(x, 200, json_pack("{s:o}", "apps", list));
}

/* Answer a deploy or scale: the placement, or 422 with why not all fit. */
static void respond_placed(master *m, http_exchange *x, const m_app *a, int ok_status)
{
    json_t *j = json_pack("{s:s,s:I,s:i,s:O}", "app", a->name, "revision", (json_int_t)a->revision, "replicas",
                          (int)a->wanted, "placement", a->placement);
    json_object_set_new(j, "pending", a->pending ? json_string(a->pending) : json_null());
    if (a->pending) json_object_set_new(j, "error", json_string(a->pending));
    http_respond_json(x, a->pending ? 422 : ok_status, j);
    (void)m;
}

static void post_app(master *m, http_exchange *x, const http_request *r)
{
    json_t *j = body_json(r, x);
    if (!j) return;
    const char *bundle = json_string_value(json_object_get(j, "bundle"));
    const char *manifest = json_string_value(json_object_get(j, "manifest"));
    json_t *overrides = json_object_get(j, "overrides");
    char dir[800], why[1024];
    m_app probe;
    memset(&probe, 0, sizeof probe);
    probe.nodes = json_array();
    if (!overrides) overrides = json_object();
    else json_incref(overrides);
    if (!bundle || !bundle_digest_valid(bundle) || !manifest) {
        http_respond_json_error(x, 400, "give the bundle's digest and the manifest's path in it");
        goto out;
    }
    snprintf(dir, sizeof dir, "%s/%s", m->bundles_dir, bundle);
    struct stat st;
    if (stat(dir, &st) != 0 && (!master_bundle_fetch(m, bundle, why, sizeof why) || stat(dir, &st) != 0)) {
        http_respond_json_error(x, 404, "no bundle %s: upload it first (POST /v1/bundles)", bundle);
        goto out;
    }
    if (!check_app(dir, manifest, overrides, &probe, why, sizeof why)) {
        http_respond_json_error(x, 400, "%s", why);
        goto out;
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, manifest);
    if (!secrets_pin(m, path, manifest, overrides, why, sizeof why)) {
        http_respond_json_error(x, 400, "%s", why);
        goto out;
    }
    for (size_t i = 0; i < m->state.napps; i++) {
        const m_app *o = &m->state.apps[i];
        if (!strcmp(o->name, probe.name)) continue;
        if (!strcmp(o->route, probe.route)) {
            http_respond_json_error(x, 409, "the route '%s' is taken by the app '%s'", probe.route, o->name);
            goto out;
        }
        if (probe.port && o->port == probe.port) {
            http_respond_json_error(x, 409, "the port %u is taken by the app '%s'", probe.port, o->name);
            goto out;
        }
    }
    size_t k;
    json_t *v;
    json_array_foreach(probe.nodes, k, v) if (!state_node(&m->state, json_string_value(v))) {
        http_respond_json_error(x, 400, "--nodes names '%s', which is not a node of this cluster", json_string_value(v));
        goto out;
    }
    m_app *a = state_app(&m->state, probe.name);
    bool is_new = !a;
    autoscale_settle_deploy(a, &probe);
    /* The same bundle, manifest and overrides again: nothing to do. */
    if (a && !strcmp(a->digest, bundle) && !strcmp(a->manifest, manifest) && json_equal(a->overrides, overrides)) {
        json_t *same = json_pack("{s:s,s:I,s:i,s:O,s:b}", "app", a->name, "revision", (json_int_t)a->revision,
                                 "replicas", (int)a->wanted, "placement", a->placement, "unchanged", 1);
        json_object_set_new(same, "pending", a->pending ? json_string(a->pending) : json_null());
        http_respond_json(x, 200, same);
        goto out;
    }
    /* A new revision that asks for other resources is placed anew; when it
     * cannot be, the running one stays as it is. (A new app that does not
     * fit is recorded as pending, and placed as room appears.) */
    if (a && (a->memory != probe.memory || a->cpu != probe.cpu || !json_equal(a->nodes, probe.nodes) ||
              probe.wanted > a->wanted)) {
        if (!reconcile_fits(&m->state, &probe, why, sizeof why)) {
            http_respond_json(x, 422, json_pack("{s:s,s:s,s:I}", "error", why, "app", a->name, "revision",
                                           (json_int_t)a->revision));
            goto out;
        }
        if (!app_placed_total(a) && (a->memory != probe.memory || a->cpu != probe.cpu || !json_equal(a->nodes, probe.nodes))) {
            json_decref(a->placement);
            a->placement = json_object();
        }
    }
    /* A new revision of an app that runs is a rollout (rollout.h). */
    if (a && app_placed_total(a)) {
        snprintf(probe.digest, sizeof probe.digest, "%s", bundle);
        snprintf(probe.manifest, sizeof probe.manifest, "%s", manifest);
        probe.overrides = overrides; /* borrowed */
        rollout_deploy(m, x, a, &probe, dir, json_object_get(j, "rollout"));
        goto out;
    }
    if (a && rollout_active(a)) {
        http_respond_json_error(x, 409, "a rollout of %s is under way: wait for it, or abort it first", a->name);
        goto out;
    }

    if (!a && !(a = state_add_app(&m->state, probe.name))) {
        http_respond_json_error(x, 500, "out of memory");
        goto out;
    }
    a->revision = (a->last_revision > a->revision ? a->last_revision : a->revision) + 1;
    a->last_revision = a->revision;
    snprintf(a->digest, sizeof a->digest, "%s", bundle);
    snprintf(a->manifest, sizeof a->manifest, "%s", manifest);
    json_decref(a->overrides);
    a->overrides = json_incref(overrides);
    snprintf(a->route, sizeof a->route, "%s", probe.route);
    snprintf(a->algorithm, sizeof a->algorithm, "%s", probe.algorithm);
    a->port = probe.port;
    a->wanted = probe.wanted;
    autoscale_take(a, &probe.autoscale);
    a->memory = probe.memory;
    a->cpu = probe.cpu;
    json_decref(a->nodes);
    a->nodes = json_incref(probe.nodes);
    a->deployed_ms = now_ms();
    if (!state_save_deploy(&m->state, a, why, sizeof why)) {
        /* Memory goes back to what the store holds. */
        char reload_why[300];
        if (!state_reload_app(&m->state, probe.name, reload_why, sizeof reload_why))
            log_json(LOG_ERROR, "cannot read an app again", json_pack("{s:s}", "reason", reload_why));
        http_respond_json_error(x, 500, "%s", why);
        goto out;
    }
    m->deploys++;
    log_json(LOG_INFO, "deployed", json_pack("{s:s,s:I,s:s,s:i}", "app", a->name, "revision",
                                             (json_int_t)a->revision, "digest", a->digest, "replicas",
                                             (int)a->wanted));
    master_reconcile(m);
    respond_placed(m, x, state_app(&m->state, probe.name), is_new ? 201 : 200);
out:
    json_decref(probe.nodes);
    json_decref(overrides);
    json_decref(j);
}

static void post_scale(master *m, http_exchange *x, const http_request *r, const char *name)
{
    m_app *a = state_app(&m->state, name);
    if (!a) {
        http_respond_json_error(x, 404, "no app '%s'", name);
        return;
    }
    if (rollout_active(a)) {
        http_respond_json_error(x, 409, "a rollout of %s is under way: scale it once it is done (or aborted)", name);
        return;
    }
    json_t *j = body_json(r, x);
    if (!j) return;
    json_t *v = json_object_get(j, "replicas");
    char why[300];
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000) {
        http_respond_json_error(x, 400, "replicas must be a whole number from 0 to 10000");
    } else {
        uint32_t before = a->wanted;
        if (!master_set_wanted(m, a, (uint32_t)json_integer_value(v), why, sizeof why)) {
            http_respond_json_error(x, 500, "%s", why);
        } else {
            log_json(LOG_INFO, "scaled", json_pack("{s:s,s:i,s:i}", "app", name, "from", (int)before, "to",
                                                   (int)a->wanted));
            master_reconcile(m);
            respond_placed(m, x, state_app(&m->state, name), 200);
        }
    }
    json_decref(j);
}

/* POST /v1/apps/NAME/autoscale {"min","max","cpu_threshold","target_inflight",
 * "window_ms"} (autoscale_json.h); DELETE
 * turns it off (the replicas stay as they are). */
static void put_autoscale(master *m, http_exchange *x, const http_request *r, const char *name, bool on)
{
    m_app *a = state_app(&m->state, name);
    if (!a) {
        http_respond_json_error(x, 404, "no app '%s'", name);
        return;
    }
    json_t *j = on ? body_json(r, x) : NULL;
    if (on && !j) return;
    autoscale_spec spec = AUTOSCALE_OFF;
    const char *problem = on ? autoscale_spec_from_json(j, &spec) : NULL;
    json_decref(j);
    if (problem) {
        http_respond_json_error(x, 400, "%s", problem);
        return;
    }
    autoscale_spec before = a->autoscale;
    a->autoscale = spec;
    char why[300];
    if (!state_save_app(&m->state, a, why, sizeof why)) {
        a->autoscale = before;
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    /* A new spec starts a new history: the old window spoke of other bounds. */
    memset(&a->scale_history, 0, sizeof a->scale_history);
    a->autoscale_desired = 0;
    a->utilisation = a->inflight = -1;
    a->autoscale_why[0] = '\0';
    if (on)
        log_json(LOG_INFO, "autoscale on", json_pack("{s:s,s:o}", "app", name, "spec", autoscale_spec_to_json(&spec)));
    else log_json(LOG_INFO, "autoscale off", json_pack("{s:s,s:i}", "app", name, "replicas", (int)a->wanted));
    /* Bounds apply at once; the next round measures. */
    if (on) autoscaler_run(m);
    if (m->dirty) master_reconcile(m);
    http_respond_json(x, 200, app_status(m, state_app(&m->state, name)));
}

static void delete_app(master *m, http_exchange *x, const char *name)
{
    char why[300];
    if (!state_app(&m->state, name)) {
        http_respond_json_error(x, 404, "no app '%s'", name);
        return;
    }
    if (!state_delete_app(&m->state, name, why, sizeof why)) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    state_remove_app(&m->state, name);
    log_json(LOG_INFO, "removed", json_pack("{s:s}", "app", name));
    master_wake_nodes(m);
    http_respond_json(x, 200, json_pack("{s:s}", "removed", name));
}

/* ------------------------------------------------------------ logs */

typedef struct logs_job {
    http_exchange *x;
    char token[512];
    char query[600];
    size_t nnodes;
    char (*names)[M_NAME_MAX];
    char (*addresses)[M_ADDR_MAX];
    json_t *lines;             /* every node's, each with "node" */
    char errors[1024];
} logs_job;

static void logs_work(void *arg)
{
    logs_job *job = arg;
    for (size_t i = 0; i < job->nnodes; i++) {
        api_reply reply;
        char why[300];
        if (!api_call(job->addresses[i], "GET", job->query, job->token, NULL, NULL, 0, NODE_CALL_MS, &reply, why,
                      sizeof why) || reply.status != 200) {
            size_t used = strlen(job->errors);
            snprintf(job->errors + used, sizeof job->errors - used, "%s%s: %s", used ? "; " : "", job->names[i],
                     reply.status ? "refused" : why);
            if (reply.status) api_reply_free(&reply);
            continue;
        }
        for (char *line = reply.body, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next) *next++ = '\0';
            json_t *l = json_loads(line, 0, NULL);
            if (!json_is_object(l)) {
                json_decref(l);
                continue;
            }
            json_object_set_new(l, "node", json_string(job->names[i]));
            json_array_append_new(job->lines, l);
        }
        api_reply_free(&reply);
    }
}

static int by_time(const void *a, const void *b)
{
    const char *ta = json_string_value(json_object_get(*(json_t *const *)a, "ts"));
    const char *tb = json_string_value(json_object_get(*(json_t *const *)b, "ts"));
    return strcmp(ta ? ta : "", tb ? tb : "");
}

static void logs_done(master *m, void *arg)
{
    (void)m;
    logs_job *job = arg;
    size_t n = json_array_size(job->lines);
    json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    for (size_t i = 0; sorted && i < n; i++) sorted[i] = json_array_get(job->lines, i);
    if (sorted) qsort(sorted, n, sizeof *sorted, by_time);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    for (size_t i = 0; out && sorted && i < n; i++) {
        char *t = json_dumps(sorted[i], JSON_COMPACT | JSON_PRESERVE_ORDER);
        size_t k = t ? strlen(t) : 0;
        while (len + k + 2 > cap) {
            char *grown = realloc(out, cap *= 2);
            if (!grown) break;
            out = grown;
        }
        if (t && len + k + 2 <= cap) memcpy(out + len, t, k), len += k, out[len++] = '\n';
        free(t);
    }
    http_field h[2] = {{"Content-Type", "application/x-ndjson"}, {"X-Qyvol-Unreachable", job->errors}};
    http_respond(job->x, 200, h, job->errors[0] ? 2 : 1, out ? out : "", out ? len : 0);
    free(out);
    free(sorted);
    json_decref(job->lines);
    free(job->names);
    free(job->addresses);
    free(job);
}

static void get_logs(master *m, http_exchange *x, const http_request *r, const char *app)
{
    if (!state_app(&m->state, app)) {
        http_respond_json_error(x, 404, "no app '%s'", app);
        return;
    }
    /* node=NAME limits it; level and tail pass through. */
    char node[M_NAME_MAX] = "", level[16] = "", tail[16] = "";
    bool follow = false;
    for (const char *q = r->query; *q;) {
        size_t n = strcspn(q, "&");
        if (!strncmp(q, "node=", 5)) snprintf(node, sizeof node, "%.*s", (int)(n - 5), q + 5);
        else if (!strncmp(q, "level=", 6)) snprintf(level, sizeof level, "%.*s", (int)(n - 6), q + 6);
        else if (!strncmp(q, "tail=", 5)) snprintf(tail, sizeof tail, "%.*s", (int)(n - 5), q + 5);
        else if (!strncmp(q, "follow=1", 8)) follow = true;
        q += n;
        if (*q) q++;
    }
    if (*node && !state_node(&m->state, node)) {
        http_respond_json_error(x, 404, "no node '%s'", node);
        return;
    }
    logs_job *job = calloc(1, sizeof *job);
    size_t count = m->state.nnodes;
    if (job) {
        job->names = calloc(count ? count : 1, sizeof *job->names);
        job->addresses = calloc(count ? count : 1, sizeof *job->addresses);
        job->lines = json_array();
    }
    if (!job || !job->names || !job->addresses) {
        if (job) free(job->names), free(job->addresses), json_decref(job->lines);
        free(job);
        http_respond_json_error(x, 500, "out of memory");
        return;
    }
    job->x = x;
    snprintf(job->token, sizeof job->token, "%s", m->opt.token);
    snprintf(job->query, sizeof job->query, "/v1/logs?app=%s%s%s%s%s", app, *level ? "&level=" : "", level,
             *tail ? "&tail=" : "", tail);
    for (size_t i = 0; i < count; i++) {
        const m_node *n = &m->state.nodes[i];
        if (*node && strcmp(n->name, node)) continue;
        if (!*node && !app_placed_on(state_app(&m->state, app), n->name) &&
            !json_object_get(n->reported, app))
            continue;
        snprintf(job->names[job->nnodes], M_NAME_MAX, "%s", n->name);
        snprintf(job->addresses[job->nnodes], M_ADDR_MAX, "%s", n->address);
        job->nnodes++;
    }
    if (follow) {
        const m_node *chosen[job->nnodes ? job->nnodes : 1];
        for (size_t i = 0; i < job->nnodes; i++) chosen[i] = state_node(&m->state, job->names[i]);
        size_t used = strlen(job->query);
        snprintf(job->query + used, sizeof job->query - used, "&follow=1");
        bool started = master_follow_logs(m, x, job->query, chosen, job->nnodes);
        if (!started) http_respond_json_error(x, 500, "out of memory");
        json_decref(job->lines);
        free(job->names);
        free(job->addresses);
        free(job);
        return;
    }
    if (!bg_start(m, logs_work, logs_done, job)) {
        job->errors[0] = '\0';
        http_respond_json_error(x, 500, "cannot start a thread");
        json_decref(job->lines);
        free(job->names);
        free(job->addresses);
        free(job);
    }
}

/* ------------------------------------------------------------ routing */

/* Path segments after "/v1/": up to 4. */
static size_t split_path(const char *path, char seg[4][128])
{
    size_t n = 0;
    const char *p = path + 4;
    while (*p && n < 4) {
        size_t len = strcspn(p, "/");
        snprintf(seg[n++], 128, "%.*s", (int)(len < 127 ? len : 127), p);
        p += len;
        if (*p == '/') p++;
    }
    return *p ? 5 : n;
}

void api_metrics(master *m, http_exchange *x, const http_request *r);

void api_handle(void *ctx, http_exchange *x, const http_request *r)
{
    master *m = ctx;
    if (strncmp(r->path, "/v1/", 4)) {
        http_respond_json_error(x, 404, "the API is under /v1/ (docs/api.md)");
        return;
    }
    char seg[4][128];
    size_t n = split_path(r->path, seg);
    const char *method = r->method;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST"),
         del = !strcmp(method, "DELETE");
    /* Several masters: only the leader's state is current, so a follower
     * hands every call but health to it (docs/ha.md), with the caller's
     * own token: the leader checks it and audits the call. */
    if (!(n == 1 && !strcmp(seg[0], "health") && get) && !master_leading(m)) {
        /* A node's call by its certificate: 503 sends it on to the next
         * master of its list (client.h), the leader in turn. */
        if (master_tls_by_node(r))
            http_respond_json_error(x, 503, "this master follows (the leader is %s): call the leader with the node's certificate",
                                    *m->leader_address ? m->leader_address : "being elected");
        else master_forward(m, x, r);
        return;
    }
    /* Who asks, whether their token's role allows it (access.h), and the
     * audit log of changes. Without a token, a node's own calls may come
     * with its certificate, and /v1/tls/ says itself who may call what
     * (master_tls.h). */
    bool by_certificate = !http_request_header(r, "Authorization") &&
                          (master_tls_node_may(m, r) || !strncmp(r->path, "/v1/tls/", 8));
    access_caller who = {0};
    if (!by_certificate) {
        if (!access_check(m, x, r, &who)) return;
        access_audit(m, x, r, &who);
    }
    if (master_tls_handle(m, x, r, who.role == ACCESS_ADMIN)) return;
    if (access_route(m, x, r, &who) || secrets_route(m, x, r)) return;
    if (n == 1 && !strcmp(seg[0], "health") && get) get_health(m, x);
    else if (n == 1 && !strcmp(seg[0], "metrics") && get) api_metrics(m, x, r);
    else if (n == 1 && !strcmp(seg[0], "nodes") && get) get_nodes(m, x);
    else if (n == 1 && !strcmp(seg[0], "routes") && get)
        http_respond_json(x, 200, json_pack("{s:o}", "routes", master_routes(m)));
    else if (n == 1 && !strcmp(seg[0], "nodes") && post) post_node(m, x, r);
    else if (n == 2 && !strcmp(seg[0], "nodes") && !strcmp(seg[1], "register") && post) post_register(m, x, r);
    else if (n == 2 && !strcmp(seg[0], "nodes") && del) delete_node(m, x, seg[1]);
    else if (n == 3 && !strcmp(seg[0], "nodes") && !strcmp(seg[2], "heartbeat") && post) post_heartbeat(m, x, r, seg[1]);
    else if (n == 1 && !strcmp(seg[0], "bundles") && post) post_bundle(m, x, r);
    else if (n == 2 && !strcmp(seg[0], "bundles") && get) get_bundle(m, x, seg[1]);
    else if (n == 1 && !strcmp(seg[0], "apps") && get) get_apps(m, x, NULL);
    else if (n == 1 && !strcmp(seg[0], "apps") && post) post_app(m, x, r);
    else if (n == 2 && !strcmp(seg[0], "apps") && get) get_apps(m, x, seg[1]);
    else if (n == 2 && !strcmp(seg[0], "apps") && del) delete_app(m, x, seg[1]);
    else if (n == 3 && !strcmp(seg[0], "apps") && !strcmp(seg[2], "scale") && post) post_scale(m, x, r, seg[1]);
    else if (n == 3 && !strcmp(seg[0], "apps") && !strcmp(seg[2], "autoscale") && (post || del))
        put_autoscale(m, x, r, seg[1], post);
    else if (n == 3 && !strcmp(seg[0], "apps") && !strcmp(seg[2], "logs") && get) get_logs(m, x, r, seg[1]);
    else if (n == 3 && !strcmp(seg[0], "apps") && !strcmp(seg[2], "revisions") && get) rollout_history(m, x, seg[1]);
    else if (n == 3 && !strcmp(seg[0], "apps") && !strcmp(seg[2], "rollout") && get) rollout_api(m, x, r, seg[1], NULL);
    else if (n == 4 && !strcmp(seg[0], "apps") && !strcmp(seg[2], "rollout") && post)
        rollout_api(m, x, r, seg[1], seg[3]);
    else http_respond_json_error(x, 404, "no endpoint %s %s (docs/api.md)", method, r->path);
}
