/*
 * master.c — `qyv master`: the event loop, background jobs, the node
 * liveness timer and reconciling.
 */
#include "cluster/master/master.h"

#include <errno.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/client.h"
#include "cluster/master/autoscaler.h"
#include "cluster/master/ha.h"
#include "cluster/master/internal.h"
#include "cluster/master/master_tls.h"
#include "cluster/master/rollout.h"
#include "cluster/master/reconcile.h"
#include "cluster/master/retention.h"
#include "cluster/master/secrets.h"
#include "cluster/proxy.h"
#include "serve/log.h"

#define TICK_MS 250
#define API_MAX_BODY ((size_t)256 << 20)

/* ------------------------------------------------------------ background jobs */

struct bg_job {
    master *m;
    void (*work)(void *arg);
    void (*done)(master *m, void *arg);
    void *arg;
    bg_job *next;
};

static void *bg_main(void *p)
{
    bg_job *job = p;
    job->work(job->arg);
    master *m = job->m;
    pthread_mutex_lock(&m->bg_lock);
    job->next = m->bg_done;
    m->bg_done = job;
    pthread_mutex_unlock(&m->bg_lock);
    char one = 1;
    while (write(m->bg_pipe[1], &one, 1) < 0 && errno == EINTR) continue;
    return NULL;
}

bool bg_start(master *m, void (*work)(void *arg), void (*done)(master *m, void *arg), void *arg)
{
    bg_job *job = calloc(1, sizeof *job);
    if (!job) return false;
    *job = (bg_job){m, work, done, arg, NULL};
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, bg_main, job);
    pthread_attr_destroy(&attr);
    if (rc) {
        free(job);
        return false;
    }
    m->bg_running++;
    return true;
}

static void on_bg_done(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    master *m = arg;
    char drain[64];
    while (read(fd, drain, sizeof drain) > 0) continue;
    pthread_mutex_lock(&m->bg_lock);
    bg_job *list = m->bg_done;
    m->bg_done = NULL;
    pthread_mutex_unlock(&m->bg_lock);
    while (list) {
        bg_job *job = list;
        list = job->next;
        job->done(m, job->arg);
        m->bg_running--;
        free(job);
    }
    if (m->stopping && !m->bg_running) event_base_loopexit(m->base, NULL);
}

/* ------------------------------------------------------------ reconciling */

/* Ask every ready node for a heartbeat now: their assignments changed,
 * and waiting for the next one would cost up to a heartbeat's time. */
typedef struct wake_job {
    char token[512];
    size_t n;
    char (*addresses)[M_ADDR_MAX];
} wake_job;

static void wake_work(void *arg)
{
    wake_job *job = arg;
    for (size_t i = 0; i < job->n; i++) {
        api_reply reply;
        char why[200];
        if (api_call(job->addresses[i], "POST", "/v1/node/wake", job->token, "application/json", "{}", 2, 1000,
                     &reply, why, sizeof why))
            api_reply_free(&reply);
    }
}

static void wake_done(master *m, void *arg)
{
    (void)m;
    wake_job *job = arg;
    free(job->addresses);
    free(job);
}

void master_wake_nodes(master *m)
{
    wake_job *job = calloc(1, sizeof *job);
    if (!job || !(job->addresses = calloc(m->state.nnodes + 1, sizeof *job->addresses))) {
        free(job);
        return;
    }
    snprintf(job->token, sizeof job->token, "%s", m->opt.token);
    for (size_t i = 0; i < m->state.nnodes; i++)
        if (m->state.nodes[i].ready) snprintf(job->addresses[job->n++], M_ADDR_MAX, "%s", m->state.nodes[i].address);
    if (!bg_start(m, wake_work, wake_done, job)) wake_done(m, job);
}

void master_reconcile(master *m)
{
    reconcile_stats stats;
    char why[600];
    m->dirty = false;
    bool ok = reconcile(&m->state, &stats, why, sizeof why);
    m->reconciles++;
    m->scheduling_seconds += stats.seconds;
    m->last_scheduling_seconds = stats.seconds;
    m->placements += stats.placed;
    if (!ok) log_json(LOG_ERROR, "reconcile failed", json_pack("{s:s}", "reason", why));
    if (stats.placed || stats.removed) master_wake_nodes(m);
    if (stats.placed || stats.removed)
        log_json(LOG_INFO, "placed", json_pack("{s:i,s:i,s:f}", "placed", (int)stats.placed, "removed",
                                              (int)stats.removed, "scheduling_ms", stats.seconds * 1000));
    for (size_t i = 0; i < m->state.napps; i++)
        if (m->state.apps[i].pending && stats.apps_changed)
            log_json(LOG_WARN, "pending", json_pack("{s:s,s:s}", "app", m->state.apps[i].name, "reason",
                                                   m->state.apps[i].pending));
}

void master_set_ingress_routes(master *m, json_t *routes)
{
    char *text = json_dumps(routes, JSON_COMPACT);
    if (text && (!m->routes_text || strcmp(text, m->routes_text))) {
        char why[300];
        if (proxy_set_routes(m->proxy, routes, why, sizeof why)) {
            free(m->routes_text);
            m->routes_text = text, text = NULL;
        } else {
            log_json(LOG_ERROR, "cannot route the ingress", json_pack("{s:s}", "reason", why));
        }
    }
    free(text);
    json_decref(routes);
}

/* The ingress's routes follow the cluster's. */
static void update_routes(master *m)
{
    if (m->proxy) master_set_ingress_routes(m, master_routes(m));
}

static void on_ingress(void *ctx, http_exchange *x, const http_request *r)
{
    master *m = ctx;
    proxy_handle(m->proxy, x, r, NULL);
}

/* Nodes silent past down_after_ms are down; their replicas move. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    master *m = arg;
    /* Only the leader watches nodes, scales and places (ha.h). */
    master_ha_tick(m);
    master_tls_sync(m); /* every master: revocations, rotation, ingress certificate */
    uint64_t now = now_ns();
    /* A loop that stalled (a store call waiting out an etcd election)
     * could not take heartbeats meanwhile: the stall does not count
     * against the nodes. */
    uint64_t gap = m->ticked_ns ? now - m->ticked_ns : 0;
    m->ticked_ns = now;
    if (gap > 4ull * TICK_MS * 1000000u) {
        /* As if each had just been heard (some were, since the loop
         * came back): the next silence counts from now. */
        for (size_t i = 0; i < m->state.nnodes; i++)
            if (m->state.nodes[i].last_heartbeat_ns < now) m->state.nodes[i].last_heartbeat_ns = now;
        log_json(LOG_WARN, "the master's loop stalled; node silence meanwhile is forgiven",
                 json_pack("{s:I}", "stalled_ms", (json_int_t)(gap / 1000000u)));
    }
    if (!m->leading) {
        if (m->proxy) master_ha_follow_routes(m);
        return;
    }
    for (size_t i = 0; i < m->state.nnodes; i++) {
        m_node *n = &m->state.nodes[i];
        if (!n->ready || now - n->last_heartbeat_ns < (uint64_t)m->opt.down_after_ms * 1000000u) continue;
        n->ready = false;
        m->dirty = true;
        log_json(LOG_WARN, "node down", json_pack("{s:s,s:I}", "node", n->name, "silent_ms",
                                                 (json_int_t)((now - n->last_heartbeat_ns) / 1000000u)));
    }
    rollout_tick(m);
    retention_tick(m);
    if (now - m->autoscaled_ns >= (uint64_t)m->opt.autoscale_interval_ms * 1000000u) {
        m->autoscaled_ns = now;
        autoscaler_run(m);
    }
    /* Pending apps are tried again as nodes change; once a second anyway. */
    static unsigned ticks;
    bool pending = false;
    for (size_t i = 0; i < m->state.napps; i++) pending |= m->state.apps[i].pending != NULL;
    if (m->dirty || (pending && ++ticks % 4 == 0)) master_reconcile(m);
    update_routes(m);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    master *m = arg;
    if (m->stopping) return;
    m->stopping = true;
    log_json(LOG_INFO, "shutting down", json_pack("{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    master_tls_drain(m->tls);
    http_server_drain(m->api);
    if (m->ingress) http_server_drain(m->ingress);
    if (!m->bg_running) event_base_loopexit(m->base, NULL);
}

/* ------------------------------------------------------------ main */

static bool make_dir(const char *path, char *why, size_t whylen)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) return true;
    snprintf(why, whylen, "cannot make %s: %s", path, strerror(errno));
    return false;
}

int master_run(const master_options *options)
{
    static master ms;
    master *m = &ms;
    memset(m, 0, sizeof *m);
    m->opt = *options;
    m->bg_pipe[0] = m->bg_pipe[1] = -1;
    pthread_mutex_init(&m->bg_lock, NULL);
    m->started_ms = now_ms();
    int status = 1;
    char why[1024];
    if (strlen(options->data_dir) >= sizeof m->data_dir) {
        fprintf(stderr, "qyv master: --data: the path is too long\n");
        goto out;
    }
    snprintf(m->data_dir, sizeof m->data_dir, "%.399s", options->data_dir);
    snprintf(m->bundles_dir, sizeof m->bundles_dir, "%.399s/bundles", m->data_dir);
    if (!make_dir(m->data_dir, why, sizeof why) || !make_dir(m->bundles_dir, why, sizeof why)) {
        fprintf(stderr, "qyv master: %s\n", why);
        goto out;
    }
    char url[700];
    if (options->store_url) snprintf(url, sizeof url, "%.690s", options->store_url);
    else snprintf(url, sizeof url, "sqlite:%.399s/state.db", m->data_dir);
    store_status st;
    m->st = store_open(url, &st);
    if (!m->st) {
        fprintf(stderr, "qyv master: cannot open the state store %s: %s\n", url, st.message);
        goto out;
    }
    snprintf(m->store_url, sizeof m->store_url, "%s", url);
    if (!state_load(&m->state, m->st, why, sizeof why) || !master_ha_start(m, url, why, sizeof why)) {
        fprintf(stderr, "qyv master: %s\n", why);
        goto out;
    }
    if (options->secret_key_file && !secrets_open(m, options->secret_key_file, options->old_secret_key_files,
                                                  options->n_old_secret_key_files, why, sizeof why)) {
        fprintf(stderr, "qyv master: --secret-key-file: %s\n", why);
        goto out;
    }
    /* Nodes known from before a restart are taken as ready until they
     * have had the time to send a heartbeat: their replicas stay put. */
    for (size_t i = 0; i < m->state.nnodes; i++) {
        m->state.nodes[i].ready = true;
        m->state.nodes[i].last_heartbeat_ns = now_ns();
    }
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads(); /* log streams wake the loop from their threads */
    m->base = event_base_new();
    http_limits limits = {.max_head = 64 * 1024, .max_body = API_MAX_BODY, .head_timeout_ms = 10000,
                          .idle_timeout_ms = 60000, .max_connections = 4096};
    m->api = m->base ? http_server_new(m->base, &limits, api_handle, m) : NULL;
    if (!m->api || pipe2(m->bg_pipe, O_NONBLOCK | O_CLOEXEC) ||
        !(m->bg_event = event_new(m->base, m->bg_pipe[0], EV_READ | EV_PERSIST, on_bg_done, m)) ||
        event_add(m->bg_event, NULL)) {
        fprintf(stderr, "qyv master: cannot set up the event loop\n");
        goto out;
    }
    if (!options->plain_http && !(m->tls = master_tls_open(m, why, sizeof why))) {
        fprintf(stderr, "qyv master: %s\n", why);
        goto out;
    }
    if (m->tls ? !master_tls_listen_api(m->tls, m->base, m->api, options->address, options->port, why, sizeof why)
               : http_server_listen(m->api, options->address, options->port, why, sizeof why) != 0) {
        fprintf(stderr, "qyv master: %s\n", why);
        goto out;
    }
    if (options->ingress_address) {
        http_limits ingress_limits = {.max_head = 64 * 1024, .max_body = 10 * 1000 * 1000, .head_timeout_ms = 10000,
                                      .idle_timeout_ms = 30000, .max_connections = 10000};
        m->proxy = proxy_new(m->base, NULL, NULL, 300000);
        m->ingress = m->proxy ? http_server_new(m->base, &ingress_limits, on_ingress, m) : NULL;
        if (m->proxy && m->tls) proxy_set_tls(m->proxy, master_tls_client_ctx, m->tls);
        bool listening = m->ingress && (m->tls ? master_tls_listen_ingress(m->tls, m->base, m->ingress,
                                                                           options->ingress_address,
                                                                           options->ingress_port, why, sizeof why)
                                               : http_server_listen(m->ingress, options->ingress_address,
                                                                    options->ingress_port, why, sizeof why) == 0);
        if (!listening) {
            fprintf(stderr, "qyv master: ingress: %s\n", m->ingress ? why : "out of memory");
            goto out;
        }
        update_routes(m);
    }
    m->tick = event_new(m->base, -1, EV_PERSIST, on_tick, m);
    m->sigterm = evsignal_new(m->base, SIGTERM, on_signal, m);
    m->sigint = evsignal_new(m->base, SIGINT, on_signal, m);
    struct timeval tick = {0, TICK_MS * 1000};
    if (!m->tick || !m->sigterm || !m->sigint || event_add(m->tick, &tick) || event_add(m->sigterm, NULL) ||
        event_add(m->sigint, NULL)) {
        fprintf(stderr, "qyv master: cannot set up timers and signals\n");
        goto out;
    }
    json_t *fields = json_pack("{s:s,s:i,s:s,s:i,s:i,s:s}", "address", options->address, "port", options->port, "store",
                               url, "nodes", (int)m->state.nnodes, "apps", (int)m->state.napps, "transport",
                               m->tls ? "tls1.3" : "plain http");
    if (options->ingress_address)
        json_object_set_new(fields, "ingress", json_pack("{s:s,s:i}", "address", options->ingress_address, "port",
                                                         options->ingress_port));
    log_json(LOG_INFO, "master listening", fields);
    event_base_dispatch(m->base);
    log_json(LOG_INFO, "stopped", NULL);
    status = 0;
out:
    if (m->tick) event_free(m->tick);
    if (m->sigterm) event_free(m->sigterm);
    if (m->sigint) event_free(m->sigint);
    if (m->bg_event) event_free(m->bg_event);
    master_tls_free(m->tls); /* its fronts first: they hand connections to the servers */
    http_server_free(m->api);
    http_server_free(m->ingress);
    if (m->proxy) proxy_free(m->proxy);
    free(m->routes_text);
    if (m->base) event_base_free(m->base);
    for (int i = 0; i < 2; i++)
        if (m->bg_pipe[i] >= 0) close(m->bg_pipe[i]);
    master_ha_stop(m);
    state_free(&m->state);
    secrets_close();
    store_close(m->st);
    log_shutdown();
    return status;
}
