/*
 * load.c — qv_manifest_load and qv_manifest_parse: read the file, load the
 * YAML, read the top-level mapping, then apply the rules that involve more
 * than one key (required keys, the app's type when it is not written,
 * http-only keys, defaults derived from other keys, paths joined to the
 * manifest's folder).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parse.h"

static qv_manifest *new_with_defaults(const char *file)
{
    qv_manifest *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->file = strdup(file);
    m->dir = mf_dirname(file);
    if (!m->file || !m->dir) {
        qv_manifest_free(m);
        return NULL;
    }
    /* calloc gave the zero defaults: runtime wasi, type cli, fs none,
     * net none, exec false, diskfs, round_robin, no resource limits. */
    m->timeout_ms = QV_MANIFEST_DEFAULT_TIMEOUT_MS;
    m->permissions.net.outbound_only = true;
    m->deploy.replicas = QV_MANIFEST_DEFAULT_REPLICAS;
    m->deploy.health_check.interval_ms = QV_MANIFEST_DEFAULT_HEALTH_INTERVAL_MS;
    m->deploy.health_check.timeout_ms = QV_MANIFEST_DEFAULT_HEALTH_TIMEOUT_MS;
    m->deploy.health_check.retries = QV_MANIFEST_DEFAULT_HEALTH_RETRIES;
    m->cluster.health_check.interval_ms = QV_MANIFEST_DEFAULT_HEALTH_INTERVAL_MS;
    m->cluster.health_check.timeout_ms = QV_MANIFEST_DEFAULT_HEALTH_TIMEOUT_MS;
    m->cluster.health_check.retries = QV_MANIFEST_DEFAULT_HEALTH_RETRIES;
    return m;
}

static bool require(mf_ctx *ctx, const yaml_node_t *root, const void *value, const char *key,
                    const char *example)
{
    if (value) return true;
    return mf_fail(ctx, root, "missing required key '%s' (%s)", key, example);
}

/* Keys that only mean something for HTTP apps contradict an explicit
 * `type: cli`. */
static bool http_only(mf_ctx *ctx, const yaml_node_t *node, const char *key)
{
    if (!node) return true;
    return mf_fail(ctx, node, "'%s' applies only to http apps, but this app says 'type: cli'; "
                              "write 'type: http' or remove '%s'", key, key);
}

static bool finish(mf_ctx *ctx, const yaml_node_t *root, qv_manifest *m)
{
    if (!require(ctx, root, m->name, "name", "the app's name, e.g. name: my-app") ||
        !require(ctx, root, m->entrypoint, "entrypoint", "the .wasm file to run, e.g. entrypoint: app.wasm"))
        return false;
    const yaml_node_t *deploy = mf_map_get(ctx, root, "deploy");
    const yaml_node_t *route = mf_map_get(ctx, root, "route");
    const yaml_node_t *health = deploy ? mf_map_get(ctx, deploy, "health_check") : NULL;
    /* Only an HTTP app has a route or a health check, so an app that gives
     * one and no type is one (as the guide's deploy manifest). An explicit
     * `type: cli` with them stays a contradiction. */
    if (!mf_map_get(ctx, root, "type") && (route || health)) m->type = QV_APP_HTTP;
    if (m->type == QV_APP_CLI &&
        (!http_only(ctx, route, "route") || !http_only(ctx, health, "deploy.health_check")))
        return false;
    if (!mf_finish_health_checks(ctx, root, m)) return false;
    if (m->type == QV_APP_HTTP && !m->route) {
        size_t size = strlen(m->name) + 2;
        m->route = malloc(size);
        if (!m->route) return mf_fail(ctx, root, "out of memory");
        snprintf(m->route, size, "/%s", m->name);
    }
    if (m->fs.type == QV_FS_DISKFS && !m->fs.source && !(m->fs.source = strdup(".")))
        return mf_fail(ctx, root, "out of memory");
    m->entrypoint_path = mf_join(m->dir, m->entrypoint);
    if (!m->entrypoint_path) return mf_fail(ctx, root, "out of memory");
    if (m->fs.source && !(m->fs.source_path = mf_join(m->dir, m->fs.source)))
        return mf_fail(ctx, root, "out of memory");
    return true;
}

qv_manifest *qv_manifest_parse(const char *text, size_t len, const char *name,
                               qv_manifest_error *err)
{
    qv_manifest_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);
    if (!name) name = "manifest";

    yaml_document_t doc;
    if (!mf_yaml_load(&doc, text, len, name, err)) return NULL;
    mf_ctx ctx = {.doc = &doc, .file = name, .err = err};
    qv_manifest *m = new_with_defaults(name);
    ctx.manifest = m;
    bool ok = m != NULL;
    if (!m) mf_set_error(err, name, 0, 0, "out of memory");

    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (ok && (!root || mf_is_null(root))) {
        /* At the document's start ("---"), or 1:1 when there is none. */
        ok = mf_fail_mark(&ctx, doc.start_mark,
                          "the manifest is empty; expected keys such as 'name:' and 'entrypoint:'");
    }
    ok = ok && mf_read_top_level(&ctx, root, m) && finish(&ctx, root, m);
    yaml_document_delete(&doc);
    if (!ok) {
        qv_manifest_free(m);
        return NULL;
    }
    return m;
}

qv_manifest *qv_manifest_load(const char *path, qv_manifest_error *err)
{
    qv_manifest_error local;
    if (!err) err = &local;
    memset(err, 0, sizeof *err);

    FILE *f = fopen(path, "rb");
    struct stat st;
    int problem = 0;
    if (!f || fstat(fileno(f), &st) != 0) problem = errno;
    else if (S_ISDIR(st.st_mode)) problem = EISDIR;     /* fopen opens folders for reading */
    if (problem) {
        mf_set_error(err, path, 0, 0, "cannot read: %s", strerror(problem));
        if (f) fclose(f);
        return NULL;
    }
    if (st.st_size > (off_t)QV_MANIFEST_MAX_FILE_BYTES) {
        mf_set_error(err, path, 0, 0, "cannot read: larger than %u bytes; a manifest is a small "
                     "YAML file", QV_MANIFEST_MAX_FILE_BYTES);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    char *text = malloc(size ? size : 1);
    if (!text || fread(text, 1, size, f) != size) {
        mf_set_error(err, path, 0, 0, "cannot read: %s",
                     !text ? "out of memory" : ferror(f) ? strerror(errno) : "the file shrank while being read");
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    qv_manifest *m = qv_manifest_parse(text, size, path, err);
    free(text);
    return m;
}
