/*
 * metrics.h — what `qyv serve` counts, per app, and its rendering in the
 * Prometheus text exposition format (GET /_qyvol/metrics).
 */
#ifndef QYVOL_SERVE_METRICS_H
#define QYVOL_SERVE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasm.h"

#define METRICS_BUCKETS 14

typedef struct app_metrics app_metrics;

app_metrics *metrics_app_new(const char *app, const char *route);
void metrics_app_free(app_metrics *m);
/* Are these the metrics of (app, route)? */
bool metrics_app_is(const app_metrics *m, const char *app, const char *route);

void metrics_request_started(app_metrics *m);
/* A request ended: its status, its total latency and, when an instance
 * ran, how long instantiation took and the trap (0: none). */
void metrics_request_done(app_metrics *m, int status, double seconds, double instantiate_s,
                          qv_trap_kind trap);

/* Kept here, not with the replicas, so that they go on across reloads. */
void metrics_health_check(app_metrics *m, bool ok);           /* one check's result */
void metrics_set_healthy(app_metrics *m, bool healthy);       /* the app as a whole */
void metrics_replicas(app_metrics *m, int ready, int desired);
void metrics_replica_restarted(app_metrics *m);
/* The replicas' memory now, and the CPU time they used since the last call. */
void metrics_resources(app_metrics *m, uint64_t memory_bytes, double cpu_seconds_more);
/* The CPU time the app's replicas used so far (qyvol_app_cpu_seconds_total). */
double metrics_app_cpu_seconds(app_metrics *m);

/* Render every app's metrics, plus the server's own, as Prometheus text
 * (malloc'ed, *len bytes). */
char *metrics_render(app_metrics *const *apps, size_t napps, double uptime_s, size_t *len);

#endif
