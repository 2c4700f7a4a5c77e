/*
 * ha.c — a master among several on etcd (ha.h): the loop's side of the
 * election, forwarding to the leader, and health with every master.
 */
#include "cluster/master/ha.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/client.h"
#include "cluster/master/leader.h"
#include "cluster/master/master_tls.h"
#include "serve/http_json.h"
#include "serve/log.h"

#define FORWARD_MS 30000
#define FORWARD_BUNDLE_MS 120000
#define ETCD_HEALTH_MS 800

bool master_ha_start(master *m, const char *url, char *why, size_t whylen)
{
    m->leading = true;
    m->store_ok = true;
    if (strcmp(store_kind(m->st), "etcd")) return true;
    const char *address = m->opt.advertise;
    char own[320];
    if (!address) {
        const char *a = m->opt.address;
        if (!*a || !strcmp(a, "0.0.0.0") || !strcmp(a, "::")) {
            snprintf(why, whylen, "--advertise HOST:PORT is needed with an etcd store when --listen is %s: "
                                  "other masters and nodes must know where this one answers", a);
            return false;
        }
        snprintf(own, sizeof own, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, m->opt.port);
        address = own;
    }
    m->leader = leader_start(url, address, m->opt.lease_ttl_s, why, whylen);
    if (!m->leader) return false;
    /* A follower until the election says otherwise; nothing it writes
     * before then can hold. */
    m->leading = false;
    store_status st;
    store_set_guard(m->st, LEADER_KEY, -1, &st);
    return true;
}

void master_ha_stop(master *m)
{
    leader_stop(m->leader);
    m->leader = NULL;
}

/* Take the lead: what this master holds in memory may be stale (another
 * master led meanwhile), so it is read again from the store, and every
 * write from now on holds only while the leader key is ours. */
static void take_lead(master *m, const leader_view *v)
{
    char why[600];
    store_status st;
    store_set_guard(m->st, LEADER_KEY, v->leader_revision, &st);
    m_state fresh;
    if (!state_load(&fresh, m->st, why, sizeof why)) {
        log_json(LOG_ERROR, "cannot read the state to lead; staying a follower", json_pack("{s:s}", "reason", why));
        store_set_guard(m->st, LEADER_KEY, -1, &st);
        return;
    }
    state_free(&m->state);
    m->state = fresh;
    /* Nodes are taken as ready until they have had the time to send this
     * master a heartbeat (as at a restart): their replicas stay put. */
    for (size_t i = 0; i < m->state.nnodes; i++) {
        m->state.nodes[i].ready = true;
        m->state.nodes[i].last_heartbeat_ns = now_ns();
    }
    m->leading = true;
    m->dirty = true;
    log_json(LOG_INFO, "leading", json_pack("{s:s,s:I,s:i,s:i}", "address", v->leader_address, "term",
                                            (json_int_t)v->leader_revision, "nodes", (int)m->state.nnodes, "apps",
                                            (int)m->state.napps));
}

void master_ha_tick(master *m)
{
    if (!m->leader) return;
    leader_view v;
    leader_get(m->leader, false, &v);
    if (v.store_ok != m->store_ok) {
        m->store_ok = v.store_ok;
        if (v.store_ok) log_json(LOG_INFO, "etcd answers again", NULL);
        else log_json(LOG_WARN, "etcd does not answer", json_pack("{s:s}", "reason", v.store_problem));
    }
    if (strcmp(v.leader_address, m->leader_address) && !v.leading && *v.leader_address)
        log_json(LOG_INFO, "following", json_pack("{s:s}", "leader", v.leader_address));
    snprintf(m->leader_address, sizeof m->leader_address, "%s", v.leader_address);
    if (v.leading && !m->leading) {
        take_lead(m, &v);
    } else if (!v.leading && m->leading) {
        store_status st;
        store_set_guard(m->st, LEADER_KEY, -1, &st);
        m->leading = false;
        log_json(LOG_WARN, "no longer leading", json_pack("{s:s,s:s}", "reason",
                                                          v.store_ok ? "another master holds the lead"
                                                                     : "etcd cannot be reached",
                                                          "detail", v.store_problem));
    }
}

bool master_leading(master *m)
{
    if (!m->leader) return true;
    leader_view v;
    leader_get(m->leader, false, &v);
    return v.leading && m->leading;
}

/* ------------------------------------------------------------ a follower's ingress */

#define ROUTES_EVERY_NS 1000000000ull

typedef struct routes_job {
    char leader[300];
    api_tls tls;               /* to the leader */
    bool tls_on;
    char token[512];
    api_reply reply;
    bool called;
    char why[300];
} routes_job;

static void routes_work(void *arg)
{
    routes_job *job = arg;
    job->called = api_call_tls(job->tls_on ? &job->tls : NULL, job->leader, "GET", "/v1/routes", job->token, NULL, NULL, 0, 2000, &job->reply, job->why,
                           sizeof job->why);
}

static void routes_done(master *m, void *arg)
{
    routes_job *job = arg;
    m->routes_asked = false;
    json_t *j = job->called && job->reply.status == 200 ? json_loadb(job->reply.body, job->reply.len, 0, NULL) : NULL;
    json_t *routes = json_object_get(j, "routes");
    /* Led meanwhile: the leader's own routes rule. */
    if (json_is_array(routes) && m->proxy && !m->leading) master_set_ingress_routes(m, json_incref(routes));
    json_decref(j);
    api_reply_free(&job->reply);
    free(job);
}

void master_ha_follow_routes(master *m)
{
    uint64_t now = now_ns();
    if (m->routes_asked || !*m->leader_address || now - m->routes_asked_ns < ROUTES_EVERY_NS) return;
    routes_job *job = calloc(1, sizeof *job);
    if (!job) return;
    snprintf(job->leader, sizeof job->leader, "%s", m->leader_address);
    job->tls_on = master_tls_master_calls(m, &job->tls);
    snprintf(job->token, sizeof job->token, "%s", m->opt.token);
    m->routes_asked_ns = now;
    if (bg_start(m, routes_work, routes_done, job)) m->routes_asked = true;
    else free(job);
}

/* ------------------------------------------------------------ forwarding */

typedef struct forward_job {
    http_exchange *x;
    char leader[300];
    api_tls tls;               /* to the leader */
    bool tls_on;
    char method[16];
    char *target;              /* path?query */
    char token[512];
    char content_type[128];
    char *body;
    size_t body_len;
    long timeout_ms;
    api_reply reply;
    bool called;
    char why[512];
} forward_job;

static const char *header(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

static void forward_work(void *arg)
{
    forward_job *job = arg;
    job->called = api_call_tls(job->tls_on ? &job->tls : NULL, job->leader, job->method, job->target, job->token,
                           *job->content_type ? job->content_type : NULL, job->body_len ? job->body : NULL,
                           job->body_len, job->timeout_ms, &job->reply, job->why, sizeof job->why);
}

static void forward_done(master *m, void *arg)
{
    (void)m;
    forward_job *job = arg;
    if (!job->called) {
        http_respond_json_error(job->x, 503, "the leading master at %s does not answer (%s); try again", job->leader,
                                job->why);
    } else {
        /* The leader's answers are JSON, but for bundles (tar), logs
         * (JSON lines) and Prometheus metrics (text). */
        const char *type = "application/json";
        if (!strncmp(job->target, "/v1/bundles/", 12)) type = "application/x-tar";
        else if (strstr(job->target, "/logs")) type = "application/x-ndjson";
        else if (job->reply.len && job->reply.body[0] != '{' && job->reply.body[0] != '[')
            type = "text/plain; charset=utf-8";
        http_field h[2] = {{"Content-Type", type}, {"X-Qyvol-Leader", job->leader}};
        http_respond(job->x, (int)job->reply.status, h, 2, job->reply.body ? job->reply.body : "", job->reply.len);
    }
    api_reply_free(&job->reply);
    free(job->target);
    free(job->body);
    free(job);
}

void master_forward(master *m, http_exchange *x, const http_request *r)
{
    if (!*m->leader_address) {
        http_respond_json_error(x, 503, "no master leads right now (%s); try again in a few seconds",
                                m->store_ok ? "an election is under way" : "this master cannot reach etcd");
        return;
    }
    const char *auth = header(r, "Authorization");
    if (strstr(r->query, "follow=1")) {
        /* A stream: passed on as the leader sends it (follow.c). */
        char target[700];
        snprintf(target, sizeof target, "%s?%s", r->path, r->query);
        if (!master_forward_follow(m, x, target, auth && !strncasecmp(auth, "Bearer ", 7) ? auth + 7 : ""))
            http_respond_json_error(x, 500, "out of memory");
        return;
    }
    forward_job *job = calloc(1, sizeof *job);
    size_t tlen = strlen(r->path) + strlen(r->query) + 2;
    if (job) job->target = malloc(tlen);
    if (job && r->body_len) job->body = malloc(r->body_len);
    if (!job || !job->target || (r->body_len && !job->body)) {
        if (job) free(job->target), free(job->body);
        free(job);
        http_respond_json_error(x, 500, "out of memory");
        return;
    }
    job->x = x;
    snprintf(job->leader, sizeof job->leader, "%s", m->leader_address);
    job->tls_on = master_tls_master_calls(m, &job->tls);
    snprintf(job->method, sizeof job->method, "%s", r->method);
    snprintf(job->target, tlen, "%s%s%s", r->path, *r->query ? "?" : "", r->query);
    /* The caller's token, not this master's: the leader decides what it
     * may do (a read-only token stays read-only). */
    snprintf(job->token, sizeof job->token, "%s",
             auth && !strncasecmp(auth, "Bearer ", 7) ? auth + 7 : "");
    const char *type = header(r, "Content-Type");
    snprintf(job->content_type, sizeof job->content_type, "%s", type ? type : "");
    if (r->body_len) memcpy(job->body, r->body, r->body_len);
    job->body_len = r->body_len;
    job->timeout_ms = strncmp(r->path, "/v1/bundles", 11) ? FORWARD_MS : FORWARD_BUNDLE_MS;
    if (!bg_start(m, forward_work, forward_done, job)) {
        free(job->target);
        free(job->body);
        free(job);
        http_respond_json_error(x, 500, "cannot start a thread");
    }
}

/* ------------------------------------------------------------ health */

typedef struct health_job {
    http_exchange *x;
    json_t *base;
    size_t n;
    char endpoints[8][128];
    json_t *etcd;
    bool tls;                  /* etcds:// */
} health_job;

/* "etcd://a:1,b:2/prefix" (or etcds://) -> its endpoints. */
static size_t etcd_endpoints(const char *url, char (*out)[128], size_t max)
{
    const char *p = strstr(url, "://") ? strstr(url, "://") + 3 : url;
    size_t n = 0, hosts = strcspn(p, "/");
    while (hosts && n < max) {
        size_t len = strcspn(p, ",/");
        if (len > hosts) len = hosts;
        if (len && len < 128) snprintf(out[n++], 128, "%.*s", (int)len, p);
        if (len >= hosts) break;
        p += len + 1;
        hosts -= len + 1;
    }
    return n;
}

static void health_work(void *arg)
{
    health_job *job = arg;
    job->etcd = json_array();
    /* etcd's own TLS (etcds://), not the cluster's. */
    api_tls tls = {0};
    store_etcd_tls files = store_etcd_get_tls();
    if (job->tls) {
        snprintf(tls.ca_file, sizeof tls.ca_file, "%s", files.cacert);
        snprintf(tls.cert_file, sizeof tls.cert_file, "%s", files.cert);
        snprintf(tls.key_file, sizeof tls.key_file, "%s", files.key);
    }
    for (size_t i = 0; i < job->n; i++) {
        api_reply reply;
        char why[300];
        bool called = api_call_tls(job->tls ? &tls : NULL, job->endpoints[i], "GET", "/health", NULL, NULL, NULL, 0, ETCD_HEALTH_MS, &reply, why,
                               sizeof why);
        json_t *j = called ? json_loadb(reply.body, reply.len, 0, NULL) : NULL;
        const char *h = json_string_value(json_object_get(j, "health"));
        bool healthy = called && reply.status == 200 && h && !strcmp(h, "true");
        json_t *row = json_pack("{s:s,s:b}", "endpoint", job->endpoints[i], "healthy", healthy);
        if (!healthy)
            json_object_set_new(row, "reason", json_string(!called ? why : h ? "unhealthy (no quorum?)" : "bad answer"));
        json_array_append_new(job->etcd, row);
        json_decref(j);
        if (called) api_reply_free(&reply);
    }
}

static void health_done(master *m, void *arg)
{
    (void)m;
    health_job *job = arg;
    json_object_set_new(job->base, "etcd", job->etcd);
    http_respond_json(job->x, 200, job->base);
    free(job);
}

void master_ha_health(master *m, http_exchange *x, json_t *base)
{
    json_object_set_new(base, "store", json_string(store_kind(m->st)));
    if (!m->leader) {
        json_object_set_new(base, "leading", json_true());
        http_respond_json(x, 200, base);
        return;
    }
    leader_view v;
    leader_get(m->leader, true, &v);
    bool leading = v.leading && m->leading;
    json_object_set_new(base, "leading", json_boolean(leading));
    json_object_set_new(base, "ha_role", json_string(leading ? "leader" : "follower"));
    json_object_set_new(base, "leader", *v.leader_address ? json_string(v.leader_address) : json_null());
    json_object_set_new(base, "masters", v.masters);
    if (!v.store_ok) json_object_set_new(base, "store_problem", json_string(v.store_problem));
    if (!leading) {
        /* What a follower holds in memory is not kept current. */
        json_object_del(base, "nodes");
        json_object_del(base, "apps");
    }
    health_job *job = calloc(1, sizeof *job);
    if (!job) {
        http_respond_json(x, 200, base);
        return;
    }
    job->x = x;
    job->base = base;
    job->n = etcd_endpoints(m->store_url, job->endpoints, 8);
    job->tls = !strncmp(m->store_url, "etcds://", 8);
    if (!bg_start(m, health_work, health_done, job)) {
        free(job);
        http_respond_json(x, 200, base);
    }
}

bool master_ha_addresses(master *m, char *out, size_t n)
{
    if (!m->leader) return false;
    leader_view v;
    leader_get(m->leader, true, &v);
    size_t used = 0, i;
    json_t *row;
    out[0] = '\0';
    json_array_foreach(v.masters, i, row) {
        const char *a = json_string_value(json_object_get(row, "address"));
        int k = a ? snprintf(out + used, n - used, "%s%s", used ? "," : "", a) : 0;
        if (k < 0 || (size_t)k >= n - used) break;
        used += (size_t)k;
    }
    json_decref(v.masters);
    return used > 0;
}
