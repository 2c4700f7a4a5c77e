/*
 * app_paths.c — the paths a manifest names (its module, fs.source, the
 * folders permissions.fs lists) resolved beneath the app folder, with the
 * sandbox's rule (qv_wasi_open_beneath): what the manifest names stays in
 * the folder whatever symbolic links it holds, and what was checked is
 * what is used — a descriptor, never the name again.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "app/app.h"
#include "manifest/manifest.h"

/* For tests of the portable walk, as the WASI host's own. */
static bool no_openat2(void) { return getenv("QYVOL_WASI_NO_OPENAT2") != NULL; }

int app_open_beneath(int folder, const char *path, int flags)
{
    int fd = qv_wasi_open_beneath(folder, path, flags, no_openat2());
    if (fd < 0) return -1;
    /* A mount of /proc or /sys inside the folder would hand out the host. */
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC)) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    return fd;
}

const char *app_beneath_error(int err)
{
    if (err == EXDEV || err == ELOOP)
        return "it leads outside the app folder (through '..', a symbolic link, or a link in a folder on the way)";
    return strerror(err);
}

int run_open_grants(run_config *rc, app_error *why)
{
    if (!rc->grant_base) return 0;
    int base = open(rc->grant_base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (base < 0) {
        snprintf(why->text, sizeof why->text, "cannot open the app folder %s: %s", rc->grant_base, strerror(errno));
        return APP_CANNOT_START;
    }
    for (size_t i = 0; i < rc->npreopens; i++) {
        if (!rc->grant_rel[i]) continue;
        int fd = app_open_beneath(base, rc->grant_rel[i], O_PATH | O_DIRECTORY);
        if (fd < 0) {
            int e = errno;
            if (e == ENOTDIR || e == ENOENT)
                snprintf(why->text, sizeof why->text, "%s, but %s is not a folder: %s", rc->grant_what[i],
                         rc->preopens[i].host_path, strerror(e));
            else
                snprintf(why->text, sizeof why->text, "%s, but %s", rc->grant_what[i], app_beneath_error(e));
            close(base);
            return APP_CANNOT_START;
        }
        rc->preopens[i].has_dir_fd = true;
        rc->preopens[i].dir_fd = fd;
    }
    close(base);
    return 0;
}

/* Does `path` (when it exists) stay beneath `folder`? Reports what the
 * manifest wrote, `shown`, at `at`. */
static bool stays_inside(int folder, const qv_manifest *m, qv_manifest_pos at, const char *key, const char *shown,
                         const char *path, app_error *why)
{
    int fd = app_open_beneath(folder, path, O_PATH);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    if (errno == ENOENT || errno == ENOTDIR) return true; /* checked when the app starts */
    snprintf(why->text, sizeof why->text, "%s:%u:%u: '%s' names %s, but %s", m->file, at.line, at.column, key,
             shown, app_beneath_error(errno));
    return false;
}

int app_check_paths(const qv_manifest *m, app_error *why)
{
    int folder = open(m->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (folder < 0) return 0; /* no folder: nothing in it to check */
    bool ok = stays_inside(folder, m, m->entrypoint_at, "entrypoint", m->entrypoint, m->entrypoint, why);
    const char *source = m->fs.source ? m->fs.source : ".";
    if (ok && m->fs.source_at.line) ok = stays_inside(folder, m, m->fs.source_at, "fs.source", source, source, why);
    const qv_fs_permission *fs = &m->permissions.fs;
    for (int list = 0; ok && list < 3 && fs->access == QV_FS_PATHS; list++) {
        const qv_string_list *l = list == 0 ? &fs->read : list == 1 ? &fs->write : &fs->exclude;
        const char *key = list == 0 ? "permissions.fs.read" : list == 1 ? "permissions.fs.write"
                                                                        : "permissions.fs.exclude";
        for (size_t i = 0; ok && i < l->count; i++) {
            /* /app/x is x in fs.source (memfs: in its copy, the same). */
            char *rel = NULL;
            if (asprintf(&rel, "%s/%s", source, l->items[i] + strlen("/app") + (l->items[i][4] == '/')) < 0) break;
            ok = stays_inside(folder, m, l->at[i], key, l->items[i], rel, why);
            free(rel);
        }
    }
    close(folder);
    return ok ? 0 : APP_CANNOT_START;
}
