/*
 * apps.c — loading one app from its manifest, with overrides.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/read_file.h"
#include "qyvol/component.h"
#include "qyvol/wasi.h"
#include "qyvol/wasm.h"
#include "serve/apps.h"
#include "serve/whttp.h"

/* FNV-1a, 64 bits: telling a changed app from an unchanged one, not a
 * defence against anyone (the cluster names bundles by SHA-256). */
static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fingerprint(const char *file, const uint8_t *module, size_t module_len, const app_overrides *ov)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t len = 0;
    char why[160];
    uint8_t *manifest = qv_read_file(AT_FDCWD, file, QV_MANIFEST_MAX_FILE_BYTES, &len, why, sizeof why);
    h = fnv(h, &len, sizeof len);
    if (manifest) h = fnv(h, manifest, len);
    free(manifest);
    h = fnv(h, &module_len, sizeof module_len);
    h = fnv(h, module, module_len);
    /* Not the replicas override: a pool changes its size in place. */
    if (ov) {
        uint64_t nums[3] = {ov->memory_bytes, ov->cpu_millicores, ov->nenv};
        h = fnv(h, nums, sizeof nums);
        for (size_t i = 0; i < ov->nenv; i++) h = fnv(h, ov->env[i], strlen(ov->env[i]) + 1);
        for (size_t i = 0; i < ov->nmounts; i++) {
            h = fnv(h, ov->mount_host[i], strlen(ov->mount_host[i]) + 1);
            h = fnv(h, ov->mount_guest[i], strlen(ov->mount_guest[i]) + 1);
        }
    }
    return h;
}

static bool apply_overrides(run_config *rc, const app_overrides *ov, app_error *err)
{
    if (!ov) return true;
    if (ov->replicas) rc->replicas = ov->replicas;
    if (ov->memory_bytes) rc->memory_bytes = ov->memory_bytes;
    if (ov->cpu_millicores) rc->cpu_millicores = ov->cpu_millicores;
    for (size_t i = 0; i < ov->nmounts; i++) {
        char *host = strdup(ov->mount_host[i]), *guest = strdup(ov->mount_guest[i]);
        if (!host || !guest || !run_add_preopen(rc, host, guest, QV_WASI_READ, NULL, 0)) {
            snprintf(err->text, sizeof err->text, "out of memory");
            return false;
        }
    }
    for (size_t i = 0; i < ov->nenv; i++) {
        const char *kv = ov->env[i];
        if (!strchr(kv, '=') || *kv == '=') {
            snprintf(err->text, sizeof err->text, "env override takes KEY=VALUE, not '%s'", kv);
            return false;
        }
        if (!run_set_env(rc, kv)) {
            snprintf(err->text, sizeof err->text, "out of memory");
            return false;
        }
    }
    return true;
}

bool serve_app_load(serve_app *app, const char *file, const char *name, const app_overrides *overrides, metrics_lookup metrics,
                    void *ctx, app_error *err)
{
    memset(app, 0, sizeof *app);
    app->rc.fuel = -1;
    app->rc.secrets_given = overrides && overrides->secrets_given;
    if (run_from_manifest(&app->rc, file, err)) return false;
    if (!app->rc.http) {
        snprintf(err->text, sizeof err->text, "%s is not an http app (type: http); run it with `qyv run`", file);
        return false;
    }
    if (!apply_overrides(&app->rc, overrides, err)) return false;
    if (name) { /* the caller's name (a cluster's) over the manifest's */
        free(app->rc.name);
        if (!(app->rc.name = strdup(name))) {
            snprintf(err->text, sizeof err->text, "out of memory");
            return false;
        }
    }
    app->name = app->rc.name;
    /* "/" serves everything: keep it as the empty prefix. */
    size_t n = strlen(app->rc.route);
    while (n > 0 && app->rc.route[n - 1] == '/') app->rc.route[--n] = 0;
    app->route = app->rc.route;
    /* Read with the manifest, beneath its folder (app/app_paths.c). */
    app->fingerprint = fingerprint(file, app->rc.module, app->rc.module_len, overrides);
    qv_error e = {0};
    bool component = qv_is_component(app->rc.module, app->rc.module_len);
    if (!run_runtime_matches(&app->rc, component, err->text, sizeof err->text)) return false;
    if (component) {
        bool ok = whttp_app_prepare(app, file, err);
        free(app->rc.module);
        app->rc.module = NULL;
        if (ok && !(app->metrics = metrics(ctx, app->name, app->route)))
            snprintf(err->text, sizeof err->text, "out of memory");
        return ok && app->metrics;
    }
    app->module = qv_module_new(app->rc.module, app->rc.module_len, &e);
    free(app->rc.module);
    app->rc.module = NULL;
    if (!app->module) {
        snprintf(err->text, sizeof err->text, "%s: %s is not a valid WebAssembly module: %s (at byte %zu)", file,
                 app->rc.module_path, e.message, e.offset);
        return false;
    }
    /* Resolved once, so that a request only makes the functions it imports. */
    char bad_import[300];
    app->imports = qv_wasi_pre_new(app->module, bad_import, sizeof bad_import);
    if (!app->imports) {
        snprintf(err->text, sizeof err->text, "%s: %s cannot run as an HTTP app: %s", file, app->rc.module_path,
                 bad_import);
        return false;
    }
    app->metrics = metrics(ctx, app->name, app->route);
    if (!app->metrics) {
        snprintf(err->text, sizeof err->text, "out of memory");
        return false;
    }
    return true;
}

void serve_app_unload(serve_app *app)
{
    if (app->rc.scratch) run_scratch_remove(app->rc.scratch);
    if (app->imports) qv_wasi_pre_delete(app->imports);
    if (app->module) qv_module_delete(app->module);
    if (app->component) qv_component_delete(app->component);
    if (app->chost) qv_chost_delete(app->chost);
    run_config_free(&app->rc);
    memset(app, 0, sizeof *app);
}

uint64_t serve_app_fingerprint(const serve_app *app) { return app->fingerprint; }

bool serve_route_matches(const char *route, const char *path)
{
    size_t n = strlen(route);
    return !strncmp(path, route, n) && (!n || !path[n] || path[n] == '/');
}
