/*
 * apps.h — one app made servable: its manifest loaded (type: http, one
 * route), the overrides a deployment gives applied on top, its module
 * compiled once and its imports resolved, and a fingerprint of what it
 * was made from, so that an unchanged app can be told from a changed one.
 * Loading touches no event loop: it may run on any thread.
 */
#ifndef QYVOL_SERVE_APPS_H
#define QYVOL_SERVE_APPS_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "serve/metrics.h"
#include "serve/wagi.h"

/* What a deployment changes over the manifest (docs/api.md, "overrides");
 * 0 / none: the manifest's own. */
typedef struct app_overrides {
    uint32_t replicas;
    uint64_t memory_bytes;     /* per instance */
    uint32_t cpu_millicores;   /* per replica */
    const char *const *env;    /* "K=V", set over the manifest's */
    size_t nenv;
    /* A cluster node's secrets (docs/manifest.md, "Secrets"): the env
     * values are in env; each mount gives the host folder read-only as
     * the guest folder. With secrets_given the manifest's references to
     * secrets are taken as met. */
    bool secrets_given;
    const char *const *mount_host;
    const char *const *mount_guest;
    size_t nmounts;
} app_overrides;

/* Finds or makes the metrics of (app name, route), so that counters go on
 * when an app is replaced. Called from the loading thread. */
typedef app_metrics *(*metrics_lookup)(void *ctx, const char *name, const char *route);

/* Load the app of the manifest at `file` into *app (zeroed first), with
 * the overrides (may be NULL), named `name` (NULL: as the manifest says). false with the reason in err (the
 * manifest's FILE:LINE:COLUMN first when the mistake is in it). */
bool serve_app_load(serve_app *app, const char *file, const char *name, const app_overrides *overrides, metrics_lookup metrics,
                    void *ctx, app_error *err);
/* Free what serve_app_load made (also after it failed). */
void serve_app_unload(serve_app *app);

/* What the app was made from (manifest, module, overrides), hashed:
 * equal fingerprints mean the same app. Set by serve_app_load. */
uint64_t serve_app_fingerprint(const serve_app *app);

/* Whether path falls under route (whole segments; "" is everything). */
bool serve_route_matches(const char *route, const char *path);

#endif
