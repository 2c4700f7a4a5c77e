/*
 * apps.h — the set of apps a server serves: loaded from manifests
 * (type: http, one route each), modules compiled once, shared by the
 * requests using them. A reload makes a new set; the old one lives on
 * until its last request is answered.
 */
#ifndef QYVOL_SERVE_APPS_H
#define QYVOL_SERVE_APPS_H

#include <stdatomic.h>
#include <stddef.h>

#include "serve/metrics.h"
#include "serve/wagi.h"

typedef struct app_set {
    serve_app *apps;
    size_t napps;
    atomic_int refs;
} app_set;

/* Finds or makes the metrics of (app name, route), so that counters go on
 * across reloads. */
typedef app_metrics *(*metrics_lookup)(void *ctx, const char *name, const char *route);

/* Load every manifest. NULL with the reason in why (the manifest's
 * FILE:LINE:COLUMN first when the mistake is in it). One reference. */
app_set *app_set_load(char *const *files, size_t nfiles, metrics_lookup metrics, void *ctx, char *why,
                      size_t whylen);
/* Log the manifests' warnings (warn lines); on the event loop's thread,
 * as the set goes into service. */
void app_set_log_warnings(const app_set *set);
void app_set_retain(app_set *set);
void app_set_release(app_set *set);

/* The app whose route is the longest prefix of path (whole segments), or NULL. */
serve_app *app_set_route(const app_set *set, const char *path);

#endif
