/*
 * run_manifest.c — what an app.qyv means for `qyv run` (docs/manifest.md,
 * "What the guest sees"): argv[0] is the app's name, then its args; its env;
 * its timeout and memory limit; and its folder at /app as permissions.fs
 * allows — the whole folder for the scalar forms, exactly the listed paths
 * (with `exclude` hidden) for the map form.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/app.h"
#include "manifest/manifest.h"

#define APP "/app"

/* Is `a` the path `b` or a folder above it? */
static bool covers(const char *a, const char *b)
{
    size_t n = strlen(a);
    return !strncmp(a, b, n) && (b[n] == 0 || b[n] == '/');
}

static unsigned access_of(const qv_fs_permission *fs, const char *path)
{
    unsigned access = 0;
    for (size_t i = 0; i < fs->read.count; i++)
        if (covers(fs->read.items[i], path)) access |= QV_WASI_READ;
    for (size_t i = 0; i < fs->write.count; i++)
        if (covers(fs->write.items[i], path)) access |= QV_WASI_WRITE;
    return access;
}

static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s) memcpy(s, a, na), memcpy(s + na, b, nb + 1);
    return s;
}

/* Grant guest path `path` (under /app) of the folder `root`. */
static int grant_path(run_config *rc, const qv_manifest *m, const char *root, const char *path, app_error *why)
{
    char *host = concat(root, path + strlen(APP));
    char *guest = strdup(path);
    char **hidden = NULL;
    size_t nhidden = 0;
    const qv_string_list *ex = &m->permissions.fs.exclude;
    if (ex->count && !(hidden = calloc(ex->count, sizeof *hidden))) goto nomem;
    for (size_t i = 0; i < ex->count; i++)
        if (covers(path, ex->items[i]) && strcmp(path, ex->items[i]))
            if (!(hidden[nhidden++] = strdup(ex->items[i]))) goto nomem;
    if (!host || !guest) goto nomem;
    struct stat st;
    errno = 0;
    if (stat(host, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why->text, sizeof why->text, "%s: permissions.fs grants %s, but %s is not a folder%s%s", m->file, path,
                host, errno ? ": " : "", errno ? strerror(errno) : "");
        for (size_t i = 0; i < nhidden; i++) free(hidden[i]);
        free(hidden), free(host), free(guest);
        return APP_CANNOT_START;
    }
    if (!run_add_preopen(rc, host, guest, access_of(&m->permissions.fs, path), hidden, nhidden)) goto fail;
    return 0;
nomem:
    for (size_t i = 0; i < nhidden; i++) free(hidden[i]);
    free(hidden), free(host), free(guest);
fail:
    snprintf(why->text, sizeof why->text, "out of memory");
    return APP_CANNOT_START;
}

static int grant_files(run_config *rc, const qv_manifest *m, app_error *why)
{
    const qv_fs_permission *fs = &m->permissions.fs;
    if (fs->access == QV_FS_NONE) return 0;
    const char *root = m->fs.source_path ? m->fs.source_path : m->dir;
    if (m->fs.type == QV_FS_MEMFS) {
        rc->scratch = run_scratch_create(m->fs.source_path);
        if (!rc->scratch) {
            snprintf(why->text, sizeof why->text, "%s: cannot create the memfs copy of %s: %s", m->file,
                    m->fs.source_path ? m->fs.source_path : "(empty)", strerror(errno));
            return APP_CANNOT_START;
        }
        root = rc->scratch;
    }
    unsigned access = fs->access == QV_FS_READ ? QV_WASI_READ
                    : fs->access == QV_FS_WRITE ? QV_WASI_WRITE
                    : QV_WASI_READ | QV_WASI_WRITE;
    if (fs->access != QV_FS_PATHS) {
        char *host = strdup(root), *guest = strdup(APP);
        struct stat st;
        if (host && (stat(host, &st) != 0 || !S_ISDIR(st.st_mode))) {
            snprintf(why->text, sizeof why->text, "%s: the app folder %s is not a folder", m->file, host);
            free(host), free(guest);
            return APP_CANNOT_START;
        }
        if (!host || !guest || !run_add_preopen(rc, host, guest, access, NULL, 0)) {
            snprintf(why->text, sizeof why->text, "out of memory");
            return APP_CANNOT_START;
        }
        return 0;
    }
    /* One grant per listed path, read and write lists merged. */
    for (int list = 0; list < 2; list++) {
        const qv_string_list *l = list ? &fs->write : &fs->read;
        for (size_t i = 0; i < l->count; i++) {
            bool seen = false;
            for (size_t k = 0; k < rc->npreopens && !seen; k++)
                seen = !strcmp(rc->preopens[k].guest_path, l->items[i]);
            if (seen) continue;
            int status = grant_path(rc, m, root, l->items[i], why);
            if (status) return status;
        }
    }
    return 0;
}

int run_from_manifest(run_config *rc, const char *path, app_error *why)
{
    qv_manifest_error err = {0};
    qv_manifest *m = qv_manifest_load(path, &err);
    if (!m) {
        snprintf(why->text, sizeof why->text, "%s", err.message);
        return err.permission_refused ? APP_REFUSED : APP_CANNOT_START;
    }
    int status = APP_CANNOT_START;
    for (size_t i = 0; i < m->warning_count; i++)
        if (!run_add_warning(rc, m->warnings[i].message)) goto nomem;
    rc->http = m->type == QV_APP_HTTP;
    if (m->route && !(rc->route = strdup(m->route))) goto nomem;
    if (!(rc->name = strdup(m->name))) goto nomem;
    const qv_health_check *hc = &m->deploy.health_check;
    rc->health_enabled = hc->enabled;
    if (hc->enabled) {
        if (!(rc->health_path = strdup(hc->path))) goto nomem;
        rc->health_interval_ms = hc->interval_ms;
        rc->health_timeout_ms = hc->timeout_ms;
        rc->health_retries = hc->retries;
    }
    const qv_health_check *lb = &m->cluster.health_check;
    rc->lb_check_enabled = lb->enabled;
    rc->lb_check_interval_ms = lb->interval_ms;
    rc->lb_check_timeout_ms = lb->timeout_ms;
    rc->lb_check_retries = lb->retries;
    rc->module_path = strdup(m->entrypoint_path);
    if (!rc->module_path || !run_add_arg(rc, m->name)) goto nomem;
    for (size_t i = 0; i < m->args.count; i++)
        if (!run_add_arg(rc, m->args.items[i])) goto nomem;
    for (size_t i = 0; i < m->env.count; i++) {
        char *kv = malloc(strlen(m->env.vars[i].name) + strlen(m->env.vars[i].value) + 2);
        if (!kv) goto nomem;
        sprintf(kv, "%s=%s", m->env.vars[i].name, m->env.vars[i].value);
        bool ok = run_set_env(rc, kv);
        free(kv);
        if (!ok) goto nomem;
    }
    rc->timeout_ms = m->timeout_ms;
    rc->memory_bytes = m->deploy.resources.memory_bytes;
    rc->replicas = m->deploy.replicas;
    rc->cpu_millicores = m->deploy.resources.cpu_millicores;
    rc->lb_algorithm = (int)m->cluster.algorithm;
    status = grant_files(rc, m, why);
    qv_manifest_free(m);
    return status;
nomem:
    snprintf(why->text, sizeof why->text, "out of memory");
    qv_manifest_free(m);
    return status;
}
