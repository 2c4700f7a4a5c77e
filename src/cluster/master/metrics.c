/*
 * metrics.c — GET /v1/metrics: the cluster's own numbers (nodes up,
 * replicas wanted, placed and ready, scheduling) and every node's
 * `qyv serve` metrics with a node label, as Prometheus text; with
 * ?format=json the same numbers summed per node and app, for
 * `qyv cluster metrics`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/client.h"
#include "cluster/master/internal.h"

typedef struct text {
    char *data;
    size_t len, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (t->data && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap < t->len + (size_t)n + 1) cap *= 2;
        char *grown = realloc(t->data, cap);
        if (!grown) return;
        t->data = grown, t->cap = cap;
    }
}

typedef struct metrics_job {
    http_exchange *x;
    bool json;
    char token[512];
    size_t nnodes;
    char (*names)[M_NAME_MAX];
    char (*addresses)[M_ADDR_MAX];
    char **bodies;             /* each node's metrics text, or NULL */
    text own;                  /* the master's part, made on the loop */
    json_t *summary;           /* the JSON form's nodes and apps */
} metrics_job;

static void metrics_work(void *arg)
{
    metrics_job *job = arg;
    for (size_t i = 0; i < job->nnodes; i++) {
        api_reply reply;
        char why[200];
        if (api_call(job->addresses[i], "GET", "/v1/metrics", job->token, NULL, NULL, 0, 3000, &reply, why,
                     sizeof why)) {
            if (reply.status == 200) job->bodies[i] = reply.body, reply.body = NULL;
            api_reply_free(&reply);
        }
    }
}

/* A sample line with node="NAME" added to its labels. */
static void add_labelled(text *t, const char *line, size_t n, const char *node)
{
    const char *brace = memchr(line, '{', n), *space = memchr(line, ' ', n);
    if (brace && (!space || brace < space))
        add(t, "%.*snode=\"%s\",%.*s\n", (int)(brace + 1 - line), line, node, (int)(n - (size_t)(brace + 1 - line)),
            brace + 1);
    else if (space)
        add(t, "%.*s{node=\"%s\"}%.*s\n", (int)(space - line), line, node, (int)(n - (size_t)(space - line)), space);
}

/* The label's value in a sample line, or "". */
static void label_of(const char *line, size_t n, const char *label, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, "%s=\"", label);
    const char *p = memmem(line, n, key, strlen(key));
    out[0] = '\0';
    if (!p) return;
    p += strlen(key);
    const char *end = memchr(p, '"', n - (size_t)(p - line));
    if (end) snprintf(out, size, "%.*s", (int)(end - p), p);
}

static void sample(json_t *list, const char *name, const char *node, const char *app, json_int_t value)
{
    json_t *labels = json_object();
    if (node) json_object_set_new(labels, "node", json_string(node));
    if (app) json_object_set_new(labels, "app", json_string(app));
    json_array_append_new(list, json_pack("{s:s,s:o,s:I}", "name", name, "labels", labels, "value", value));
}

/* The JSON form: {"metrics":[{"name","labels":{node,app},"value"}]}, the
 * numbers an operator reads first (docs/api.md). */
static json_t *summary_samples(json_t *summary, json_t *per_app)
{
    json_t *list = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(summary, "nodes"), i, n) {
        const char *node = json_string_value(json_object_get(n, "name"));
        sample(list, "node_up", node, NULL, json_is_true(json_object_get(n, "up")));
        sample(list, "node_replicas", node, NULL, json_integer_value(json_object_get(n, "replicas")));
        sample(list, "node_memory_used_bytes", node, NULL, json_integer_value(json_object_get(n, "memory_used")));
        sample(list, "node_memory_capacity_bytes", node, NULL, json_integer_value(json_object_get(n, "memory_capacity")));
        sample(list, "node_cpu_capacity_millicores", node, NULL, json_integer_value(json_object_get(n, "cpu_capacity")));
    }
    json_t *a;
    json_array_foreach(json_object_get(summary, "apps"), i, a) {
        const char *app = json_string_value(json_object_get(a, "name"));
        sample(list, "app_replicas_wanted", NULL, app, json_integer_value(json_object_get(a, "wanted")));
        sample(list, "app_pending", NULL, app, json_is_true(json_object_get(a, "pending")));
        const char *node;
        json_t *c;
        json_object_foreach(json_object_get(a, "nodes"), node, c) {
            sample(list, "app_replicas_placed", node, app, json_integer_value(json_object_get(c, "placed")));
            sample(list, "app_replicas_ready", node, app, json_integer_value(json_object_get(c, "ready")));
        }
    }
    const char *app;
    json_t *nodes;
    json_object_foreach(per_app, app, nodes) {
        const char *node;
        json_t *c;
        json_object_foreach(nodes, node, c) {
            sample(list, "app_requests_total", node, app, json_integer_value(json_object_get(c, "requests")));
            sample(list, "app_errors_total", node, app, json_integer_value(json_object_get(c, "errors")));
        }
    }
    return json_pack("{s:o}", "metrics", list);
}

static void metrics_done(master *m, void *arg)
{
    (void)m;
    metrics_job *job = arg;
    /* The nodes' families: HELP and TYPE once each, samples labelled. */
    json_t *per_app = json_object();
    for (size_t i = 0; i < job->nnodes; i++) {
        const char *body = job->bodies[i];
        for (const char *line = body; line && *line;) {
            const char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) : strlen(line);
            if (n && line[0] == '#') {
                char head[300];
                snprintf(head, sizeof head, "\n%.*s\n", (int)(n < 290 ? n : 290), line);
                if (!job->own.data || !strstr(job->own.data, head + 1)) add(&job->own, "%.*s\n", (int)n, line);
            } else if (n) {
                add_labelled(&job->own, line, n, job->names[i]);
                if (!strncmp(line, "qyvol_http_requests_total{", 26)) {
                    char app[M_NAME_MAX], code[8];
                    label_of(line, n, "app", app, sizeof app);
                    label_of(line, n, "code", code, sizeof code);
                    const char *value = memchr(line, ' ', n);
                    double v = value ? strtod(value, NULL) : 0;
                    json_t *a = json_object_get(per_app, app);
                    if (!a) json_object_set_new(per_app, app, a = json_object());
                    json_t *node = json_object_get(a, job->names[i]);
                    if (!node) json_object_set_new(a, job->names[i], node = json_pack("{s:i,s:i}", "requests", 0, "errors", 0));
                    json_object_set_new(node, "requests", json_integer(json_integer_value(json_object_get(node, "requests")) + (json_int_t)v));
                    if (code[0] == '5')
                        json_object_set_new(node, "errors", json_integer(json_integer_value(json_object_get(node, "errors")) + (json_int_t)v));
                }
            }
            line = nl ? nl + 1 : line + n;
        }
        free(job->bodies[i]);
    }
    if (job->json) {
        json_t *list = summary_samples(job->summary, per_app);
        json_decref(per_app);
        char *t = json_dumps(list, JSON_COMPACT);
        json_decref(list);
        http_field type = {"Content-Type", "application/json"};
        http_respond(job->x, 200, &type, 1, t ? t : "{}", t ? strlen(t) : 2);
        free(t);
    } else {
        json_decref(per_app);
        http_field type = {"Content-Type", "text/plain; version=0.0.4; charset=utf-8"};
        http_respond(job->x, 200, &type, 1, job->own.data ? job->own.data : "", job->own.len);
    }
    json_decref(job->summary);
    free(job->own.data);
    free(job->bodies);
    free(job->names);
    free(job->addresses);
    free(job);
}

void api_metrics(master *m, http_exchange *x, const http_request *r);
void api_metrics(master *m, http_exchange *x, const http_request *r)
{
    metrics_job *job = calloc(1, sizeof *job);
    size_t count = m->state.nnodes ? m->state.nnodes : 1;
    if (job) {
        job->names = calloc(count, sizeof *job->names);
        job->addresses = calloc(count, sizeof *job->addresses);
        job->bodies = calloc(count, sizeof *job->bodies);
    }
    if (!job || !job->names || !job->addresses || !job->bodies) {
        if (job) free(job->names), free(job->addresses), free(job->bodies);
        free(job);
        http_respond_text(x, 500, "out of memory");
        return;
    }
    job->x = x;
    job->json = strstr(r->query, "format=json") != NULL;
    snprintf(job->token, sizeof job->token, "%s", m->opt.token);
    text *t = &job->own;
    json_t *nodes = json_array(), *apps = json_array();
    add(t, "# HELP qyvol_cluster_node_up Whether the node's heartbeats arrive (1) or not (0).\n"
           "# TYPE qyvol_cluster_node_up gauge\n");
    for (size_t i = 0; i < m->state.nnodes; i++) {
        const m_node *n = &m->state.nodes[i];
        add(t, "qyvol_cluster_node_up{node=\"%s\"} %d\n", n->name, n->ready);
        if (n->ready) {
            snprintf(job->names[job->nnodes], M_NAME_MAX, "%s", n->name);
            snprintf(job->addresses[job->nnodes], M_ADDR_MAX, "%s", n->address);
            job->nnodes++;
        }
        uint32_t replicas = 0;
        for (size_t k = 0; k < m->state.napps; k++) replicas += app_placed_on(&m->state.apps[k], n->name);
        json_array_append_new(nodes, json_pack("{s:s,s:b,s:i,s:I,s:I,s:I,s:I}", "name", n->name, "up", n->ready,
                                               "replicas", (int)replicas, "memory_used", (json_int_t)n->memory_used,
                                               "memory_capacity", (json_int_t)n->memory_capacity, "cpu_used",
                                               (json_int_t)n->cpu_used, "cpu_capacity",
                                               (json_int_t)n->cpu_capacity));
    }
    add(t, "# HELP qyvol_cluster_node_memory_capacity_bytes The node's memory for replicas.\n"
           "# TYPE qyvol_cluster_node_memory_capacity_bytes gauge\n");
    for (size_t i = 0; i < m->state.nnodes; i++)
        add(t, "qyvol_cluster_node_memory_capacity_bytes{node=\"%s\"} %llu\n", m->state.nodes[i].name,
            (unsigned long long)m->state.nodes[i].memory_capacity);
    add(t, "# HELP qyvol_cluster_node_cpu_capacity_millicores The node's CPU for replicas.\n"
           "# TYPE qyvol_cluster_node_cpu_capacity_millicores gauge\n");
    for (size_t i = 0; i < m->state.nnodes; i++)
        add(t, "qyvol_cluster_node_cpu_capacity_millicores{node=\"%s\"} %llu\n", m->state.nodes[i].name,
            (unsigned long long)m->state.nodes[i].cpu_capacity);
    add(t, "# HELP qyvol_cluster_app_replicas_wanted Replicas the app asks for.\n"
           "# TYPE qyvol_cluster_app_replicas_wanted gauge\n");
    for (size_t i = 0; i < m->state.napps; i++)
        add(t, "qyvol_cluster_app_replicas_wanted{app=\"%s\"} %u\n", m->state.apps[i].name, m->state.apps[i].wanted);
    add(t, "# HELP qyvol_cluster_app_pending Whether some of the app's replicas have no node (1).\n"
           "# TYPE qyvol_cluster_app_pending gauge\n");
    for (size_t i = 0; i < m->state.napps; i++)
        add(t, "qyvol_cluster_app_pending{app=\"%s\"} %d\n", m->state.apps[i].name, m->state.apps[i].pending != NULL);
    add(t, "# HELP qyvol_cluster_autoscale_desired The autoscaler's last decision, in replicas (autoscaled apps).\n"
           "# TYPE qyvol_cluster_autoscale_desired gauge\n");
    for (size_t i = 0; i < m->state.napps; i++)
        if (m->state.apps[i].autoscale.max && m->state.apps[i].autoscale_desired)
            add(t, "qyvol_cluster_autoscale_desired{app=\"%s\"} %u\n", m->state.apps[i].name,
                m->state.apps[i].autoscale_desired);
    /* What the autoscaler measured, per signal (autoscaled apps, once measured). */
    static const struct {
        const char *name, *help;
        size_t offset;
    } signals[] = {
        {"qyvol_cluster_autoscale_cpu_utilisation", "The app's CPU use, percent of what its replicas ask for.",
         offsetof(m_app, utilisation)},
        {"qyvol_cluster_autoscale_inflight_per_replica",
         "The app's requests running or queued per replica, on average.", offsetof(m_app, inflight)},
    };
    for (size_t k = 0; k < sizeof signals / sizeof *signals; k++) {
        add(t, "# HELP %s %s\n# TYPE %s gauge\n", signals[k].name, signals[k].help, signals[k].name);
        for (size_t i = 0; i < m->state.napps; i++) {
            const m_app *a = &m->state.apps[i];
            double value = *(const double *)((const char *)a + signals[k].offset);
            if (a->autoscale.max && value >= 0) add(t, "%s{app=\"%s\"} %.2f\n", signals[k].name, a->name, value);
        }
    }
    add(t, "# HELP qyvol_cluster_app_revision The revision the app runs, or moves to during a rollout.\n"
           "# TYPE qyvol_cluster_app_revision gauge\n");
    for (size_t i = 0; i < m->state.napps; i++)
        add(t, "qyvol_cluster_app_revision{app=\"%s\"} %lld\n", m->state.apps[i].name,
            (long long)m->state.apps[i].revision);
    /* The app's last rollout: one sample per state, 1 for the one it is
     * in (alert on state="failed" or "rolled_back"), with where it is. */
    add(t, "# HELP qyvol_cluster_rollout_state The app's last rollout: 1 for the state it is in.\n"
           "# TYPE qyvol_cluster_rollout_state gauge\n");
    for (size_t i = 0; i < m->state.napps; i++) {
        const m_rollout *r = m->state.apps[i].rollout;
        for (rollout_state s = ROLLOUT_PROGRESSING; r && s <= ROLLOUT_FAILED; s++)
            add(t, "qyvol_cluster_rollout_state{app=\"%s\",strategy=\"%s\",state=\"%s\"} %d\n", m->state.apps[i].name,
                rollout_strategy_name(r->policy.strategy), rollout_state_name(s), r->g.state == s);
    }
    add(t, "# HELP qyvol_cluster_rollout_weight_percent Percent of the app's traffic its rollout sends to the new revision.\n"
           "# TYPE qyvol_cluster_rollout_weight_percent gauge\n"
           "# HELP qyvol_cluster_rollout_new_replicas_ready The new revision's replicas seen ready at most, during the rollout.\n"
           "# TYPE qyvol_cluster_rollout_new_replicas_ready gauge\n");
    for (size_t i = 0; i < m->state.napps; i++) {
        const m_rollout *r = m->state.apps[i].rollout;
        if (!r || !rollout_state_active(r->g.state)) continue;
        add(t, "qyvol_cluster_rollout_weight_percent{app=\"%s\"} %u\n", m->state.apps[i].name, r->g.weight);
        add(t, "qyvol_cluster_rollout_new_replicas_ready{app=\"%s\"} %u\n", m->state.apps[i].name, r->g.best_ready);
    }
    add(t, "# HELP qyvol_cluster_replicas Replicas per app and node, placed or ready.\n"
           "# TYPE qyvol_cluster_replicas gauge\n");
    for (size_t i = 0; i < m->state.napps; i++) {
        const m_app *a = &m->state.apps[i];
        json_t *per_node = json_object();
        for (size_t k = 0; k < m->state.nnodes; k++) {
            const m_node *n = &m->state.nodes[k];
            uint32_t placed = app_placed_on(a, n->name), ready = n->ready ? node_ready_for(n, a) : 0;
            if (!placed && !ready) continue;
            add(t, "qyvol_cluster_replicas{app=\"%s\",node=\"%s\",state=\"placed\"} %u\n", a->name, n->name, placed);
            add(t, "qyvol_cluster_replicas{app=\"%s\",node=\"%s\",state=\"ready\"} %u\n", a->name, n->name, ready);
            json_object_set_new(per_node, n->name, json_pack("{s:i,s:i}", "placed", (int)placed, "ready", (int)ready));
        }
        json_array_append_new(apps, json_pack("{s:s,s:i,s:b,s:o}", "name", a->name, "wanted", (int)a->wanted,
                                              "pending", a->pending != NULL, "nodes", per_node));
    }
    add(t, "# HELP qyvol_cluster_reconciles_total Times the scheduler planned the cluster.\n"
           "# TYPE qyvol_cluster_reconciles_total counter\nqyvol_cluster_reconciles_total %llu\n"
           "# HELP qyvol_cluster_scheduling_seconds_total Time the scheduler took, in all.\n"
           "# TYPE qyvol_cluster_scheduling_seconds_total counter\nqyvol_cluster_scheduling_seconds_total %.9f\n"
           "# HELP qyvol_cluster_scheduling_last_seconds Time the last plan took.\n"
           "# TYPE qyvol_cluster_scheduling_last_seconds gauge\nqyvol_cluster_scheduling_last_seconds %.9f\n"
           "# HELP qyvol_cluster_placements_total Replicas placed on nodes.\n"
           "# TYPE qyvol_cluster_placements_total counter\nqyvol_cluster_placements_total %llu\n"
           "# HELP qyvol_cluster_deploys_total Deploys accepted.\n"
           "# TYPE qyvol_cluster_deploys_total counter\nqyvol_cluster_deploys_total %llu\n",
        (unsigned long long)m->reconciles, m->scheduling_seconds, m->last_scheduling_seconds,
        (unsigned long long)m->placements, (unsigned long long)m->deploys);
    job->summary = json_pack("{s:o,s:o}", "nodes", nodes, "apps", apps);
    if (!bg_start(m, metrics_work, metrics_done, job)) metrics_done(m, job);
}
