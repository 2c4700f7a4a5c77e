/*
 * resolve.c — the sandbox: turning a guest path into (host directory, last
 * component) without ever leaving the directory it is relative to.
 *
 * Every component but the last is resolved as a directory beneath the base
 * descriptor: by openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the
 * kernel has it — the kernel then refuses `..` above the base, absolute
 * symlinks and /proc magic links, atomically — or by an equivalent walk:
 * one component at a time from held O_PATH descriptors, `..` popping the
 * walk's own stack (never asking the host for a parent), symbolic links read
 * and expanded here, absolute targets refused. Grants with hidden paths always
 * walk, because only the walk knows each component's canonical path.
 *
 * The last component is never followed by the kernel: callers use it with
 * O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, or with calls that never follow it
 * (mkdirat, unlinkat, renameat, symlinkat; linkat's new name). When a
 * symlink must be followed (wasi_path_resolve_follow) its target is
 * resolved again from the base by the same rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wasi/host.h"

#define MAX_SYMLINKS 40
#define MAX_DEPTH 512

bool wasi_path_hidden(const wasi_grant *g, const char *rel)
{
    if (!g || !rel) return false;
    for (size_t i = 0; i < g->nhidden; i++) {
        size_t n = strlen(g->hidden[i]);
        if (!strncmp(rel, g->hidden[i], n) && (rel[n] == 0 || rel[n] == '/')) return true;
    }
    return false;
}

bool wasi_path_holds_hidden(const wasi_grant *g, const char *rel)
{
    if (!g || !rel) return false;
    size_t n = strlen(rel);
    for (size_t i = 0; i < g->nhidden; i++) {
        const char *h = g->hidden[i];
        if (!n || (!strncmp(h, rel, n) && (h[n] == 0 || h[n] == '/'))) return true;
    }
    return false;
}

void wasi_path_free(wasi_path *p)
{
    if (p->dir >= 0) close(p->dir);
    free(p->rel);
    p->dir = -1;
    p->rel = NULL;
}

const char *wasi_path_name(const wasi_path *p, char buf[258])
{
    if (!p->trailing_slash) return p->name;
    snprintf(buf, 258, "%s/", p->name);
    return buf;
}

static char *join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 2);
    if (!s) return NULL;
    memcpy(s, a, na);
    size_t k = na;
    if (na && nb) s[k++] = '/';
    memcpy(s + k, b, nb + 1);
    return s;
}

static int openat2_beneath(int base, const char *path)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    for (int tries = 0; tries < 8; tries++) {
        long fd = syscall(SYS_openat2, base, path, &how, sizeof how);
        if (fd >= 0) return (int)fd;
        if (errno != EAGAIN && errno != EINTR) return -1;
    }
    return -1;
}

/* The walk: open directory `path` beneath `base`, following symbolic links
 * that stay inside, tracking the canonical path from the grant's root when
 * `rel` is given (NULL: not tracked). Returns the descriptor or -errno
 * (-EXDEV for a way out, as openat2 says it). */
static int walk_dirs(int base, const wasi_grant *g, const char *path, char **rel)
{
    int stack[MAX_DEPTH];
    size_t rel_len[MAX_DEPTH];
    int depth = 0, links = 0, err = 0;
    char *todo = strdup(path);
    char *canon = rel ? *rel : NULL;
    stack[0] = fcntl(base, F_DUPFD_CLOEXEC, 0);
    rel_len[0] = canon ? strlen(canon) : 0;
    if (!todo || stack[0] < 0) {
        err = todo ? errno : ENOMEM;
        goto out;
    }
    char *cursor = todo;
    while (*cursor) {
        char *comp = cursor;
        char *slash = strchr(cursor, '/');
        if (slash) {
            *slash = 0;
            cursor = slash + 1;
        } else {
            cursor += strlen(cursor);
        }
        if (!*comp || !strcmp(comp, ".")) continue;
        if (!strcmp(comp, "..")) {
            if (depth == 0) {
                err = EXDEV; /* above the base: an escape */
                goto out;
            }
            close(stack[depth--]);
            if (canon) canon[rel_len[depth]] = 0;
            continue;
        }
        if (strlen(comp) > NAME_MAX) {
            err = ENAMETOOLONG;
            goto out;
        }
        struct stat st;
        if (fstatat(stack[depth], comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            err = errno;
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX + 1];
            ssize_t n = readlinkat(stack[depth], comp, target, PATH_MAX);
            if (n < 0) {
                err = errno;
                goto out;
            }
            target[n] = 0;
            if (target[0] == '/') {
                err = EXDEV; /* absolute targets lead out of the sandbox */
                goto out;
            }
            if (++links > MAX_SYMLINKS) {
                err = ELOOP;
                goto out;
            }
            char *next = join(target, cursor);
            if (!next) {
                err = ENOMEM;
                goto out;
            }
            free(todo);
            todo = cursor = next;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            err = ENOTDIR;
            goto out;
        }
        if (depth + 1 >= MAX_DEPTH) {
            err = ENAMETOOLONG;
            goto out;
        }
        if (canon) {
            char *longer = join(canon, comp);
            if (!longer) {
                err = ENOMEM;
                goto out;
            }
            free(canon);
            canon = longer;
            if (wasi_path_hidden(g, canon)) {
                err = ENOENT;
                goto out;
            }
        }
        int fd = openat(stack[depth], comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            /* It changed under us into something that is not a directory. */
            err = errno == ELOOP ? ENOTDIR : errno;
            goto out;
        }
        stack[++depth] = fd;
        rel_len[depth] = canon ? strlen(canon) : 0;
    }
out:
    free(todo);
    if (rel) *rel = canon;
    if (err) {
        for (int i = 0; i <= depth; i++)
            if (stack[i] >= 0) close(stack[i]);
        return -err;
    }
    for (int i = 0; i < depth; i++) close(stack[i]);
    return stack[depth];
}

static bool use_walk(const qv_wasi *w, const wasi_fd *d)
{
    return w->no_openat2 || (d->grant && d->grant->nhidden);
}

/* Open directory `path` beneath d. Returns a descriptor or -WASI errno. */
static int open_parent(qv_wasi *w, const wasi_fd *d, const char *path, char **rel)
{
    if (!*path) {
        int fd = fcntl(d->host, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -wasi_errno(errno) : fd;
    }
    if (!use_walk(w, d)) {
        int fd = openat2_beneath(d->host, path);
        if (fd >= 0) return fd;
        if (errno == EXDEV) return -W_EPERM; /* escape attempt */
        if (errno != ENOSYS) return -wasi_errno(errno);
        w->no_openat2 = true; /* an old kernel: walk from now on */
    }
    int fd = walk_dirs(d->host, d->grant, path, rel);
    return fd >= 0 ? fd : fd == -EXDEV ? -W_EPERM : -wasi_errno(-fd);
}

/* Read the guest's path: at most PATH_MAX bytes, no NUL inside. */
static int guest_path(qv_caller *c, uint32_t ptr, uint32_t len, char *buf)
{
    if (len > PATH_MAX) return W_ENAMETOOLONG;
    const uint8_t *p = wasi_mem(c, ptr, len);
    if (!p) return W_EFAULT;
    if (memchr(p, 0, len)) return W_EINVAL;
    memcpy(buf, p, len);
    buf[len] = 0;
    return 0;
}

/* Resolve text path `buf` (modified) beneath d. */
static int resolve_text(qv_wasi *w, const wasi_fd *d, char *buf, wasi_path *out)
{
    size_t len = strlen(buf);
    out->dir = -1;
    out->rel = NULL;
    out->trailing_slash = false;
    if (!len) return W_ENOENT;
    if (buf[0] == '/') return W_EPERM;
    while (len > 1 && buf[len - 1] == '/') {
        buf[--len] = 0;
        out->trailing_slash = true;
    }
    char *slash = strrchr(buf, '/');
    const char *last = slash ? slash + 1 : buf;
    char *parent_path = buf;
    if (slash) *slash = 0;
    else parent_path = "";
    /* "a/.." names a directory itself: resolve all of it, act on ".". */
    bool up = !strcmp(last, "..");
    if (up && slash) *slash = '/';
    if (strlen(last) > NAME_MAX) return W_ENAMETOOLONG;
    char *rel = NULL;
    if (use_walk(w, d) && d->rel && !(rel = strdup(d->rel))) return W_ENOMEM;
    int fd = open_parent(w, d, up ? buf : parent_path, rel ? &rel : NULL);
    if (fd < 0) {
        free(rel);
        return -fd;
    }
    out->dir = fd;
    snprintf(out->name, sizeof out->name, "%s", up ? "." : last);
    if (rel && strcmp(out->name, ".")) {
        char *full = join(rel, out->name);
        free(rel);
        rel = full;
        if (!rel) {
            wasi_path_free(out);
            return W_ENOMEM;
        }
        if (wasi_path_hidden(d->grant, rel)) {
            out->rel = rel;
            wasi_path_free(out);
            return W_ENOENT;
        }
    }
    out->rel = rel;
    return 0;
}

/* If out names a symbolic link, replace it by its target (resolved from
 * d again) until it does not; `text` is the path that led to it. */
static int follow_last(qv_wasi *w, const wasi_fd *d, char *text, wasi_path *out)
{
    for (int links = 0;; links++) {
        struct stat st;
        if (fstatat(out->dir, out->name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode))
            return 0; /* absent (a creation) or not a link: done */
        if (links >= MAX_SYMLINKS) return W_ELOOP;
        char target[PATH_MAX + 1];
        ssize_t n = readlinkat(out->dir, out->name, target, PATH_MAX);
        if (n < 0) return wasi_errno(errno);
        target[n] = 0;
        if (target[0] == '/') return W_EPERM;
        /* The target is relative to the link's directory: the path up to
         * the link's last component, which resolve_text cut at its last '/'. */
        char *slash = strrchr(text, '/');
        size_t keep = slash ? (size_t)(slash - text) + 1 : 0;
        bool trailing = out->trailing_slash;
        if (keep + (size_t)n + 2 > PATH_MAX) return W_ENAMETOOLONG;
        memmove(text + keep, target, (size_t)n + 1);
        if (trailing) strcat(text, "/");
        wasi_path_free(out);
        char copy[PATH_MAX + 2];
        snprintf(copy, sizeof copy, "%s", text);
        int err = resolve_text(w, d, copy, out);
        if (err) return err;
        /* resolve_text cut copy; keep text as the full path for the next
         * round (its parent part is what the next target is relative to). */
        size_t tl = strlen(text);
        while (tl > 1 && text[tl - 1] == '/') text[--tl] = 0;
    }
}

int wasi_path_resolve(qv_wasi *w, const wasi_fd *d, qv_caller *c, uint32_t path, uint32_t len,
                      wasi_path *out)
{
    char text[PATH_MAX + 2];
    out->dir = -1;
    out->rel = NULL;
    int err = guest_path(c, path, len, text);
    return err ? err : resolve_text(w, d, text, out);
}

int wasi_path_resolve_follow(qv_wasi *w, const wasi_fd *d, qv_caller *c, uint32_t path,
                             uint32_t len, wasi_path *out)
{
    char text[PATH_MAX + 2], copy[PATH_MAX + 2];
    out->dir = -1;
    out->rel = NULL;
    int err = guest_path(c, path, len, text);
    if (err) return err;
    memcpy(copy, text, (size_t)len + 1);
    err = resolve_text(w, d, copy, out);
    if (err) return err;
    size_t tl = strlen(text);
    while (tl > 1 && text[tl - 1] == '/') text[--tl] = 0;
    err = follow_last(w, d, text, out);
    if (err) wasi_path_free(out);
    return err;
}

int wasi_path_resolve_bytes(qv_wasi *w, const wasi_fd *d, const char *path, size_t len, bool follow, wasi_path *out)
{
    char text[PATH_MAX + 2], copy[PATH_MAX + 2];
    out->dir = -1;
    out->rel = NULL;
    if (len > PATH_MAX) return W_ENAMETOOLONG;
    if (memchr(path, 0, len)) return W_EINVAL;
    memcpy(text, path, len);
    text[len] = 0;
    memcpy(copy, text, len + 1);
    int err = resolve_text(w, d, copy, out);
    if (err || !follow) return err;
    size_t tl = strlen(text);
    while (tl > 1 && text[tl - 1] == '/') text[--tl] = 0;
    err = follow_last(w, d, text, out);
    if (err) wasi_path_free(out);
    return err;
}

/* ------------------------------------------------------------ for embedders */

int qv_wasi_open_beneath(int dir, const char *path, int flags, bool no_openat2)
{
    if (!no_openat2) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        for (int tries = 0; tries < 8; tries++) {
            long fd = syscall(SYS_openat2, dir, path, &how, sizeof how);
            if (fd >= 0) return (int)fd;
            if (errno != EAGAIN && errno != EINTR) break;
        }
        if (errno != ENOSYS) return -1;
    }
    /* The walk: the folders on the way by walk_dirs, then the last
     * component, whose symbolic link (if it is one) is expanded here and
     * the whole path walked again. */
    if (!*path || path[0] == '/') {
        errno = *path ? EXDEV : ENOENT;
        return -1;
    }
    char text[PATH_MAX + 2];
    if (snprintf(text, sizeof text, "%s", path) >= (int)sizeof text) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (int links = 0;; links++) {
        size_t len = strlen(text);
        while (len > 1 && text[len - 1] == '/') text[--len] = 0;
        char *slash = strrchr(text, '/');
        const char *last = slash ? slash + 1 : text;
        bool whole = !strcmp(last, ".") || !strcmp(last, "..");
        char parent[PATH_MAX + 2];
        snprintf(parent, sizeof parent, "%.*s", whole ? (int)len : slash ? (int)(slash - text) : 0, text);
        int pfd = walk_dirs(dir, NULL, parent, NULL);
        if (pfd < 0) {
            errno = -pfd;
            return -1;
        }
        if (whole) last = ".";
        struct stat st;
        char target[PATH_MAX + 1];
        ssize_t n = -1;
        if (!whole && fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            n = readlinkat(pfd, last, target, PATH_MAX);
        if (n < 0) {
            /* Swapped for a link since the look: refused (ELOOP, or with
             * O_PATH the link itself). */
            int fd = openat(pfd, last, flags | O_NOFOLLOW | O_CLOEXEC);
            int e = errno;
            close(pfd);
            if (fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
                close(fd);
                fd = -1;
                e = ELOOP;
            }
            errno = fd < 0 && e == ELOOP ? EXDEV : e;
            return fd;
        }
        close(pfd);
        target[n] = 0;
        if (target[0] == '/' || links >= MAX_SYMLINKS) {
            errno = target[0] == '/' ? EXDEV : ELOOP;
            return -1;
        }
        /* The target is relative to the link's folder. */
        size_t keep = slash ? (size_t)(slash - text) + 1 : 0;
        if (keep + (size_t)n + 1 > PATH_MAX) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(text + keep, target, (size_t)n + 1);
    }
}
