/*
 * run_manifest.c — what an app.qyv means for `qyv run` (docs/manifest.md,
 * "What the guest sees"): argv[0] is the app's name, then its args; its env;
 * its timeout and memory limit; and its folder at /app as permissions.fs
 * allows — the whole folder for the scalar forms, exactly the listed paths
 * (with `exclude` hidden) for the map form.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "manifest/manifest.h"
#include "manifest/read_file.h"

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

/* Grant guest path `path` (/app or below): `root` joined to what is below
 * /app, beneath grant_base; `at` is where the manifest lists it. */
static bool grant_path(run_config *rc, const qv_manifest *m, const char *root, const char *path,
                       qv_manifest_pos at)
{
    const char *below = path + strlen(APP);
    char *rel = NULL, *what = NULL;
    if (asprintf(&rel, "%s%s", root, below) < 0) rel = NULL;
    if (asprintf(&what, "%s:%u:%u: permissions.fs grants %s", m->file, at.line, at.column, path) < 0) what = NULL;
    char *guest = strdup(path);
    char **hidden = NULL;
    size_t nhidden = 0;
    const qv_string_list *ex = &m->permissions.fs.exclude;
    bool ok = guest && (!ex->count || (hidden = calloc(ex->count, sizeof *hidden)));
    for (size_t i = 0; ok && i < ex->count; i++)
        if (covers(path, ex->items[i]) && strcmp(path, ex->items[i]))
            ok = (hidden[nhidden++] = strdup(ex->items[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; i < nhidden; i++) free(hidden[i]);
        free(hidden), free(guest), free(rel), free(what);
        return false;
    }
    return run_add_app_grant(rc, rel, guest, access_of(&m->permissions.fs, path), hidden, nhidden, what);
}

/* The folder fs.source names, opened beneath the app folder `folder`;
 * -1 with the reason in *why. */
static int open_source(int folder, const qv_manifest *m, app_error *why)
{
    int fd = app_open_beneath(folder, m->fs.source, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        int e = errno;
        snprintf(why->text, sizeof why->text, "%s:%u:%u: 'fs.source' %s: %s", m->file, m->fs.source_at.line,
                 m->fs.source_at.column, m->fs.source,
                 e == ENOENT || e == ENOTDIR ? "not a folder" : app_beneath_error(e));
    }
    return fd;
}

static int grant_files(run_config *rc, const qv_manifest *m, int folder, app_error *why)
{
    const qv_fs_permission *fs = &m->permissions.fs;
    if (fs->access == QV_FS_NONE) return 0;
    /* Grants are beneath the app folder, at fs.source; or, for memfs,
     * beneath its copy. */
    const char *root = m->fs.source ? m->fs.source : ".";
    rc->grant_base = strdup(m->dir);
    if (m->fs.type == QV_FS_MEMFS) {
        int source = m->fs.source ? open_source(folder, m, why) : -1;
        if (m->fs.source && source < 0) return APP_CANNOT_START;
        rc->scratch = run_scratch_create(source);
        int e = errno;
        if (source >= 0) close(source);
        if (!rc->scratch) {
            snprintf(why->text, sizeof why->text, "%s: cannot create the memfs copy of %s: %s", m->file,
                     m->fs.source ? m->fs.source : "(empty)", strerror(e));
            return APP_CANNOT_START;
        }
        free(rc->grant_base);
        rc->grant_base = strdup(rc->scratch);
        root = ".";
    }
    if (!rc->grant_base) goto nomem;
    unsigned access = fs->access == QV_FS_READ ? QV_WASI_READ
                    : fs->access == QV_FS_WRITE ? QV_WASI_WRITE
                    : QV_WASI_READ | QV_WASI_WRITE;
    if (fs->access != QV_FS_PATHS) {
        char *what = NULL;
        if (m->fs.source_at.line && m->fs.type == QV_FS_DISKFS) {
            if (asprintf(&what, "%s:%u:%u: 'fs.source' names %s", m->file, m->fs.source_at.line,
                         m->fs.source_at.column, m->fs.source) < 0)
                what = NULL;
        } else if (asprintf(&what, "%s: the app folder", m->file) < 0) {
            what = NULL;
        }
        if (!run_add_app_grant(rc, strdup(root), strdup(APP), access, NULL, 0, what)) goto nomem;
        return run_open_grants(rc, why);
    }
    /* One grant per listed path, read and write lists merged. */
    for (int list = 0; list < 2; list++) {
        const qv_string_list *l = list ? &fs->write : &fs->read;
        for (size_t i = 0; i < l->count; i++) {
            bool seen = false;
            for (size_t k = 0; k < rc->npreopens && !seen; k++)
                seen = !strcmp(rc->preopens[k].guest_path, l->items[i]);
            if (!seen && !grant_path(rc, m, root, l->items[i], l->at[i])) goto nomem;
        }
    }
    return run_open_grants(rc, why);
nomem:
    snprintf(why->text, sizeof why->text, "out of memory");
    return APP_CANNOT_START;
}

/* The module, read through a descriptor opened beneath the app folder. */
static int read_module(run_config *rc, const qv_manifest *m, int folder, app_error *why)
{
    int fd = app_open_beneath(folder, m->entrypoint, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    char problem[200];
    if (fd >= 0) {
        rc->module = qv_read_fd(fd, QV_MAX_MODULE_BYTES, &rc->module_len, problem, sizeof problem);
        close(fd);
        if (rc->module) return 0;
    } else {
        snprintf(problem, sizeof problem, "%s", app_beneath_error(errno));
    }
    snprintf(why->text, sizeof why->text, "%s:%u:%u: cannot read the entrypoint %s: %s", m->file,
             m->entrypoint_at.line, m->entrypoint_at.column, m->entrypoint_path, problem);
    return APP_CANNOT_START;
}

/* runtime and permissions.net, for components (wasi:http's outbound requests). */
static bool copy_runtime_and_net(run_config *rc, const qv_manifest *m)
{
    rc->runtime = (int)m->runtime;
    if (m->runtime_at.line &&
        asprintf(&rc->runtime_at, "%s:%u:%u", m->file, m->runtime_at.line, m->runtime_at.column) < 0) {
        rc->runtime_at = NULL;
        return false;
    }
    const qv_net_permission *net = &m->permissions.net;
    rc->net = net->access == QV_NET_NONE ? 0 : net->access == QV_NET_ANY ? 1 : 2;
    if (rc->net != 2) return true;
    size_t nh = net->allowed_hosts.count, np = net->allowed_port_count;
    rc->net_hosts = calloc(nh + 1, sizeof *rc->net_hosts);
    rc->net_ports = calloc(np + 1, sizeof *rc->net_ports);
    if (!rc->net_hosts || !rc->net_ports) return false;
    for (; rc->nnet_hosts < nh; rc->nnet_hosts++)
        if (!(rc->net_hosts[rc->nnet_hosts] = strdup(net->allowed_hosts.items[rc->nnet_hosts]))) return false;
    if (np) memcpy(rc->net_ports, net->allowed_ports, np * sizeof *rc->net_ports);
    rc->nnet_ports = np;
    return true;
}

/* The first secret the manifest refers to, named in the message. */
static void secrets_need_a_cluster(const qv_manifest *m, app_error *why)
{
    for (size_t i = 0; i < m->env.count; i++) {
        const qv_env_var *v = &m->env.vars[i];
        if (!v->secret) continue;
        snprintf(why->text, sizeof why->text, "%s:%u:%u: 'env.%s' takes the value of the secret '%s', and secrets "
                 "are given by a cluster: deploy it with `qyv cluster deploy` after `qyv cluster secret set %s ...` "
                 "(qyv run and qyv serve have none; write the value itself here to run it alone)",
                 m->file, v->at.line, v->at.column, v->name, v->secret, v->secret);
        return;
    }
    const qv_secret_file *f = &m->secret_files[0];
    snprintf(why->text, sizeof why->text, "%s:%u:%u: 'secrets' gives the secret '%s' as %s, and secrets are given "
             "by a cluster: deploy it with `qyv cluster deploy` (qyv run and qyv serve have none; grant a folder "
             "with permissions.fs to run it alone)", m->file, f->at.line, f->at.column, f->name, f->path);
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
    if (!copy_runtime_and_net(rc, m)) goto nomem;
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
    if (!rc->secrets_given && qv_manifest_uses_secrets(m)) {
        secrets_need_a_cluster(m, why);
        qv_manifest_free(m);
        return APP_CANNOT_START;
    }
    for (size_t i = 0; i < m->env.count; i++) {
        if (m->env.vars[i].secret) continue; /* the node sets it */
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
    rc->autoscale = m->deploy.autoscale;
    rc->cpu_millicores = m->deploy.resources.cpu_millicores;
    rc->lb_algorithm = (int)m->cluster.algorithm;
    rc->lb_named = m->cluster.algorithm_at.line != 0;
    /* Everything the manifest names is beneath its folder. */
    int folder = open(m->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (folder < 0) {
        snprintf(why->text, sizeof why->text, "%s: cannot open the app folder %s: %s", m->file, m->dir,
                 strerror(errno));
    } else {
        status = read_module(rc, m, folder, why);
        if (!status) status = grant_files(rc, m, folder, why);
        close(folder);
    }
    qv_manifest_free(m);
    return status;
nomem:
    snprintf(why->text, sizeof why->text, "out of memory");
    qv_manifest_free(m);
    return status;
}
