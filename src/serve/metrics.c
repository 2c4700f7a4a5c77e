/*
 * metrics.c — counters and histograms behind one mutex per app (requests
 * are far heavier than a lock), rendered as Prometheus text:
 *   qyvol_http_requests_total{app,route,code}        counter
 *   qyvol_http_request_duration_seconds{app,route}   histogram
 *   qyvol_instantiate_duration_seconds{app}          histogram
 *   qyvol_http_requests_in_flight{app}               gauge
 *   qyvol_traps_total{app,kind}                      counter
 *   qyvol_app_healthy{app}, qyvol_replicas_ready{app},
 *   qyvol_replicas_desired{app}, qyvol_app_memory_bytes{app} gauges
 *   qyvol_health_checks_failed_total{app}, qyvol_replica_restarts_total{app},
 *   qyvol_app_cpu_seconds_total{app}                  counters
 *   qyvol_process_cpu_seconds_total, qyvol_uptime_seconds
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/metrics.h"

static const double bounds[METRICS_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                               0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};

typedef struct histogram {
    uint64_t buckets[METRICS_BUCKETS]; /* non-cumulative; summed when rendered */
    uint64_t count;
    double sum;
} histogram;

#define MAX_CODES 64
#define TRAP_KINDS 17

struct app_metrics {
    pthread_mutex_t mu;
    char *app, *route;
    int codes[MAX_CODES];
    uint64_t code_counts[MAX_CODES];
    size_t ncodes;
    histogram latency, instantiate;
    int64_t in_flight;
    uint64_t traps[TRAP_KINDS];
    bool unhealthy;
    uint64_t checks_failed;
    uint64_t restarts;
    int replicas_ready, replicas_desired;
    uint64_t memory_bytes;
    double cpu_seconds;
};

app_metrics *metrics_app_new(const char *app, const char *route)
{
    app_metrics *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->app = strdup(app);
    m->route = strdup(*route ? route : "/");
    if (!m->app || !m->route) {
        metrics_app_free(m);
        return NULL;
    }
    return m;
}

bool metrics_app_is(const app_metrics *m, const char *app, const char *route)
{
    return !strcmp(m->app, app) && !strcmp(m->route, route);
}

void metrics_app_free(app_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m->app);
    free(m->route);
    free(m);
}

static void observe(histogram *h, double v)
{
    size_t i = 0;
    while (i < METRICS_BUCKETS && v > bounds[i]) i++;
    if (i < METRICS_BUCKETS) h->buckets[i]++;
    h->count++;
    h->sum += v;
}

void metrics_health_check(app_metrics *m, bool ok)
{
    pthread_mutex_lock(&m->mu);
    if (!ok) m->checks_failed++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_set_healthy(app_metrics *m, bool healthy)
{
    pthread_mutex_lock(&m->mu);
    m->unhealthy = !healthy;
    pthread_mutex_unlock(&m->mu);
}

void metrics_replicas(app_metrics *m, int ready, int desired)
{
    pthread_mutex_lock(&m->mu);
    m->replicas_ready = ready;
    m->replicas_desired = desired;
    pthread_mutex_unlock(&m->mu);
}

void metrics_replica_restarted(app_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    m->restarts++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_resources(app_metrics *m, uint64_t memory_bytes, double cpu_seconds_more)
{
    pthread_mutex_lock(&m->mu);
    m->memory_bytes = memory_bytes;
    m->cpu_seconds += cpu_seconds_more;
    pthread_mutex_unlock(&m->mu);
}

double metrics_app_cpu_seconds(app_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    double seconds = m->cpu_seconds;
    pthread_mutex_unlock(&m->mu);
    return seconds;
}

void metrics_request_started(app_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    m->in_flight++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_request_done(app_metrics *m, int status, double seconds, double instantiate_s, qv_trap_kind trap)
{
    pthread_mutex_lock(&m->mu);
    m->in_flight--;
    size_t i = 0;
    while (i < m->ncodes && m->codes[i] != status) i++;
    if (i == m->ncodes && i < MAX_CODES) m->codes[m->ncodes++] = status;
    if (i < MAX_CODES) m->code_counts[i]++;
    observe(&m->latency, seconds);
    if (instantiate_s > 0) observe(&m->instantiate, instantiate_s);
    if (trap > 0 && trap < TRAP_KINDS) m->traps[trap]++;
    pthread_mutex_unlock(&m->mu);
}

typedef struct out {
    char *buf;
    size_t len, cap;
} out;

static void emit(out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->buf ? o->buf + o->len : NULL, o->buf ? o->cap - o->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (o->buf && o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n + 1) * 2;
        char *grown = realloc(o->buf, cap);
        if (!grown) return;
        o->buf = grown;
        o->cap = cap;
    }
}

static void emit_histogram(out *o, const char *name, const char *labels, const histogram *h)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i < METRICS_BUCKETS; i++) {
        cumulative += h->buckets[i];
        emit(o, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, bounds[i], (unsigned long long)cumulative);
    }
    emit(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)h->count);
    emit(o, "%s_sum{%s} %.9g\n", name, labels, h->sum);
    emit(o, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

/* Trap kinds as label values, by qv_trap_kind. */
static const char *const trap_names[TRAP_KINDS] = {
    [QV_TRAP_UNREACHABLE] = "unreachable",
    [QV_TRAP_MEMORY_OUT_OF_BOUNDS] = "memory_out_of_bounds",
    [QV_TRAP_TABLE_OUT_OF_BOUNDS] = "table_out_of_bounds",
    [QV_TRAP_INDIRECT_CALL_NULL] = "indirect_call_null",
    [QV_TRAP_INDIRECT_CALL_TYPE] = "indirect_call_type",
    [QV_TRAP_NULL_REFERENCE] = "null_reference",
    [QV_TRAP_INTEGER_DIVIDE_BY_ZERO] = "integer_divide_by_zero",
    [QV_TRAP_INTEGER_OVERFLOW] = "integer_overflow",
    [QV_TRAP_INVALID_CONVERSION] = "invalid_conversion",
    [QV_TRAP_STACK_EXHAUSTED] = "stack_exhausted",
    [QV_TRAP_OUT_OF_FUEL] = "out_of_fuel",
    [QV_TRAP_INTERRUPTED] = "timeout",
    [QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS] = "data_segment_out_of_bounds",
    [QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS] = "elem_segment_out_of_bounds",
    [QV_TRAP_HOST] = "host",
    [QV_TRAP_EXIT] = "exit",
};

/* Families with one value per app. */
static double in_flight(const app_metrics *m) { return (double)m->in_flight; }
static double healthy(const app_metrics *m) { return m->unhealthy ? 0 : 1; }
static double checks_failed(const app_metrics *m) { return (double)m->checks_failed; }
static double replicas_ready(const app_metrics *m) { return m->replicas_ready; }
static double replicas_desired(const app_metrics *m) { return m->replicas_desired; }
static double restarts(const app_metrics *m) { return (double)m->restarts; }
static double memory_bytes(const app_metrics *m) { return (double)m->memory_bytes; }
static double cpu_seconds(const app_metrics *m) { return m->cpu_seconds; }

static void emit_per_app(out *o, app_metrics *const *apps, size_t napps, const char *name, const char *type,
                         const char *help, double (*value)(const app_metrics *))
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t a = 0; a < napps; a++) {
        pthread_mutex_lock(&apps[a]->mu);
        emit(o, "%s{app=\"%s\"} %.9g\n", name, apps[a]->app, value(apps[a]));
        pthread_mutex_unlock(&apps[a]->mu);
    }
}

char *metrics_render(app_metrics *const *apps, size_t napps, double uptime_s, size_t *len)
{
    out o = {0};
    emit(&o, "# HELP qyvol_http_requests_total HTTP requests answered, by app, route and status code.\n"
             "# TYPE qyvol_http_requests_total counter\n");
    for (size_t a = 0; a < napps; a++) {
        app_metrics *m = apps[a];
        pthread_mutex_lock(&m->mu);
        for (size_t i = 0; i < m->ncodes; i++)
            emit(&o, "qyvol_http_requests_total{app=\"%s\",route=\"%s\",code=\"%d\"} %llu\n", m->app, m->route,
                 m->codes[i], (unsigned long long)m->code_counts[i]);
        pthread_mutex_unlock(&m->mu);
    }
    emit(&o, "# HELP qyvol_http_request_duration_seconds Time from receiving a request to its response.\n"
             "# TYPE qyvol_http_request_duration_seconds histogram\n");
    for (size_t a = 0; a < napps; a++) {
        app_metrics *m = apps[a];
        char labels[512];
        snprintf(labels, sizeof labels, "app=\"%s\",route=\"%s\"", m->app, m->route);
        pthread_mutex_lock(&m->mu);
        emit_histogram(&o, "qyvol_http_request_duration_seconds", labels, &m->latency);
        pthread_mutex_unlock(&m->mu);
    }
    emit(&o, "# HELP qyvol_instantiate_duration_seconds Time to set up a fresh instance for a request.\n"
             "# TYPE qyvol_instantiate_duration_seconds histogram\n");
    for (size_t a = 0; a < napps; a++) {
        app_metrics *m = apps[a];
        char labels[512];
        snprintf(labels, sizeof labels, "app=\"%s\"", m->app);
        pthread_mutex_lock(&m->mu);
        emit_histogram(&o, "qyvol_instantiate_duration_seconds", labels, &m->instantiate);
        pthread_mutex_unlock(&m->mu);
    }
    emit_per_app(&o, apps, napps, "qyvol_http_requests_in_flight", "gauge", "Requests being handled now.",
                 in_flight);
    emit(&o, "# HELP qyvol_traps_total Instances stopped by a trap, by kind (timeout: past the request "
             "timeout).\n# TYPE qyvol_traps_total counter\n");
    for (size_t a = 0; a < napps; a++) {
        app_metrics *m = apps[a];
        pthread_mutex_lock(&m->mu);
        for (int k = 1; k < TRAP_KINDS; k++)
            if (m->traps[k] && trap_names[k])
                emit(&o, "qyvol_traps_total{app=\"%s\",kind=\"%s\"} %llu\n", m->app, trap_names[k],
                     (unsigned long long)m->traps[k]);
        pthread_mutex_unlock(&m->mu);
    }
    emit_per_app(&o, apps, napps, "qyvol_app_healthy", "gauge",
                 "Whether the app passes its health checks (1) or not (0).", healthy);
    emit_per_app(&o, apps, napps, "qyvol_health_checks_failed_total", "counter", "Health checks that failed.",
                 checks_failed);
    emit_per_app(&o, apps, napps, "qyvol_replicas_ready", "gauge", "Replicas taking requests.", replicas_ready);
    emit_per_app(&o, apps, napps, "qyvol_replicas_desired", "gauge", "Replicas the manifest asks for.",
                 replicas_desired);
    emit_per_app(&o, apps, napps, "qyvol_replica_restarts_total", "counter",
                 "Replicas started again after they died or failed their health checks.", restarts);
    emit_per_app(&o, apps, napps, "qyvol_app_memory_bytes", "gauge", "Memory the app's replicas use now.",
                 memory_bytes);
    emit_per_app(&o, apps, napps, "qyvol_app_cpu_seconds_total", "counter", "CPU time the app's replicas used.",
                 cpu_seconds);
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    emit(&o, "# HELP qyvol_process_cpu_seconds_total CPU time used by the server's front process (its replicas: qyvol_app_cpu_seconds_total).\n"
             "# TYPE qyvol_process_cpu_seconds_total counter\n"
             "qyvol_process_cpu_seconds_total %.6f\n"
             "# HELP qyvol_uptime_seconds Time since the server started.\n"
             "# TYPE qyvol_uptime_seconds gauge\n"
             "qyvol_uptime_seconds %.3f\n",
             (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9, uptime_s);
    *len = o.len;
    return o.buf;
}
