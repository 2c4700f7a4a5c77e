/*
 * apps.c — loading manifests into an app set, and routing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qyvol/wasi.h"
#include "qyvol/wasm.h"
#include "serve/apps.h"
#include "serve/log.h"

/* Read a whole file; NULL with errno set. */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool load_app(const char *file, serve_app *app, metrics_lookup metrics, void *ctx, char *why, size_t whylen)
{
    app->rc.fuel = -1;
    app_error err;
    if (run_from_manifest(&app->rc, file, &err)) {
        snprintf(why, whylen, "%s", err.text);
        return false;
    }
    if (!app->rc.http) {
        snprintf(why, whylen, "%s is not an http app (type: http); run it with `qyv run`", file);
        return false;
    }
    app->name = app->rc.name;
    /* "/" serves everything: keep it as the empty prefix. */
    size_t n = strlen(app->rc.route);
    while (n > 0 && app->rc.route[n - 1] == '/') app->rc.route[--n] = 0;
    app->route = app->rc.route;
    size_t len;
    uint8_t *bytes = read_all(app->rc.module_path, &len);
    if (!bytes) {
        snprintf(why, whylen, "%s: cannot read %s: %s", file, app->rc.module_path, strerror(errno));
        return false;
    }
    qv_error e = {0};
    app->module = qv_module_new(bytes, len, &e);
    free(bytes);
    if (!app->module) {
        snprintf(why, whylen, "%s: %s is not a valid WebAssembly module: %s (at byte %zu)", file,
                 app->rc.module_path, e.message, e.offset);
        return false;
    }
    /* Resolved once, so that a request only makes the functions it imports. */
    char bad_import[300];
    app->imports = qv_wasi_pre_new(app->module, bad_import, sizeof bad_import);
    if (!app->imports) {
        snprintf(why, whylen, "%s: %s cannot run as an HTTP app: %s", file, app->rc.module_path, bad_import);
        return false;
    }
    app->metrics = metrics(ctx, app->name, app->route);
    if (!app->metrics) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    return true;
}

static void free_set(app_set *set)
{
    for (size_t i = 0; i < set->napps; i++) {
        serve_app *app = &set->apps[i];
        if (app->rc.scratch) run_scratch_remove(app->rc.scratch);
        qv_wasi_pre_delete(app->imports);
        qv_module_delete(app->module);
        run_config_free(&app->rc);
    }
    free(set->apps);
    free(set);
}

app_set *app_set_load(char *const *files, size_t nfiles, metrics_lookup metrics, void *ctx, char *why,
                      size_t whylen)
{
    app_set *set = calloc(1, sizeof *set);
    if (set) set->apps = calloc(nfiles ? nfiles : 1, sizeof *set->apps);
    if (!set || !set->apps) {
        free(set);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    atomic_init(&set->refs, 1);
    for (size_t i = 0; i < nfiles; i++) {
        set->napps = i + 1;
        if (!load_app(files[i], &set->apps[i], metrics, ctx, why, whylen)) {
            free_set(set);
            return NULL;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(set->apps[i].route, set->apps[k].route)) {
                snprintf(why, whylen, "%s and %s both want the route '%s'", files[k], files[i],
                         *set->apps[i].route ? set->apps[i].route : "/");
                free_set(set);
                return NULL;
            }
    }
    return set;
}

void app_set_log_warnings(const app_set *set)
{
    for (size_t i = 0; i < set->napps; i++)
        for (size_t w = 0; w < set->apps[i].rc.nwarnings; w++)
            log_json(LOG_WARN, set->apps[i].rc.warnings[w], json_pack("{s:s}", "app", set->apps[i].name));
}

void app_set_retain(app_set *set) { atomic_fetch_add(&set->refs, 1); }

void app_set_release(app_set *set)
{
    if (set && atomic_fetch_sub(&set->refs, 1) == 1) free_set(set);
}

serve_app *app_set_route(const app_set *set, const char *path)
{
    serve_app *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < set->napps; i++) {
        const char *r = set->apps[i].route;
        size_t n = strlen(r);
        if (strncmp(path, r, n) || (n && path[n] && path[n] != '/')) continue;
        if (!best || n > best_len) best = &set->apps[i], best_len = n;
    }
    return best;
}
