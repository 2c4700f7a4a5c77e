/*
 * wasi_path.c — the path_* functions. Every path goes through resolve.c,
 * which confines it to the directory descriptor it is relative to; here
 * each operation checks its rights, then acts on (directory, last name).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi/host.h"

/* A directory descriptor with `rights`: EBADF, ENOTDIR or ENOTCAPABLE. */
static int dir_fd(qv_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out)
{
    wasi_fd *e = wasi_fd_get(w, fd);
    if (!e) return W_EBADF;
    if (e->kind != FD_DIR) return W_ENOTDIR;
    int err = wasi_fd_check(w, fd, rights, out);
    /* A grant without write access never changes anything, whatever
     * rights the descriptor claims. */
    if (!err && (rights & R_MUTATING) && e->grant && !(e->grant->access & QV_WASI_WRITE))
        err = W_ENOTCAPABLE;
    return err;
}

/* Resolve; follow the last component when asked to, or when a trailing
 * slash makes POSIX follow it (open and stat-like calls). */
static int resolve(qv_wasi *w, wasi_fd *d, qv_caller *c, uint32_t path, uint32_t len, bool follow,
                   wasi_path *p)
{
    int err = wasi_path_resolve(w, d, c, path, len, p);
    if (err || (!follow && !p->trailing_slash)) return err;
    wasi_path_free(p);
    return wasi_path_resolve_follow(w, d, c, path, len, p);
}

static WASI_FN(path_open)
{
    qv_wasi *w = env;
    uint32_t lookup = A32(1), oflags = A32(4), fdflags = A32(7);
    uint64_t want_base = A64(5), want_inheriting = A64(6);
    uint64_t need = R_PATH_OPEN;
    if (oflags & W_O_CREAT) need |= R_PATH_CREATE_FILE;
    if (oflags & W_O_TRUNC) need |= R_PATH_FILESTAT_SET_SIZE;
    wasi_fd *d;
    int err = dir_fd(w, A32(0), R_PATH_OPEN, &d);
    if (err) WASI_RETURN(err);
    if (oflags & ~(uint32_t)(W_O_CREAT | W_O_DIRECTORY | W_O_EXCL | W_O_TRUNC)) WASI_RETURN(W_EINVAL);
    if (fdflags & ~(uint32_t)(W_FDFLAG_APPEND | W_FDFLAG_DSYNC | W_FDFLAG_NONBLOCK | W_FDFLAG_RSYNC | W_FDFLAG_SYNC))
        WASI_RETURN(W_EINVAL);
    const wasi_grant *g = d->grant;
    unsigned access = g ? g->access : QV_WASI_READ | QV_WASI_WRITE;

    int flags = O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;
    bool write = (want_base & (R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE)) ||
                 (fdflags & W_FDFLAG_APPEND);
    bool read = want_base & (R_FD_READ | R_FD_READDIR);
    /* Directories opened for writing fail as POSIX says, with EISDIR. */
    if (oflags & W_O_DIRECTORY) flags |= O_DIRECTORY;
    /* The grant decides, whatever rights the guest asks for. A read-only
     * grant refuses writing before anything is touched; a write-only one
     * refuses reading files (directories stay usable as a base for
     * creating files; listing them fails for want of FD_READDIR). */
    if ((write || (oflags & (W_O_CREAT | W_O_TRUNC))) && !(access & QV_WASI_WRITE)) WASI_RETURN(W_EROFS);
    if (read && !(access & QV_WASI_READ) && (oflags & W_O_CREAT)) WASI_RETURN(W_EACCES);
    if ((err = wasi_fd_check(w, A32(0), need, &d))) WASI_RETURN(err);
    flags |= read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
    if (oflags & W_O_CREAT) flags |= O_CREAT;
    if (oflags & W_O_EXCL) flags |= O_EXCL;
    if (oflags & W_O_TRUNC) flags |= O_TRUNC;
    if (fdflags & W_FDFLAG_APPEND) flags |= O_APPEND;
    if (fdflags & W_FDFLAG_NONBLOCK) flags |= O_NONBLOCK;
    if (fdflags & W_FDFLAG_DSYNC) flags |= O_DSYNC;
    if (fdflags & W_FDFLAG_SYNC) flags |= O_SYNC;
    if (fdflags & W_FDFLAG_RSYNC) flags |= O_RSYNC;

    wasi_path p;
    if ((err = resolve(w, d, c, A32(2), A32(3), lookup & W_LOOKUP_SYMLINK_FOLLOW, &p))) WASI_RETURN(err);
    if (p.trailing_slash) {
        if (flags & O_CREAT) {
            wasi_path_free(&p);
            WASI_RETURN(W_EISDIR);
        }
        flags |= O_DIRECTORY;
    }
    /* Opened without blocking: opening a FIFO would wait for the other
     * end with no deadline (a FIFO nobody writes to opens at once; one
     * nobody reads fails with ENXIO). Blocking comes back after, for
     * reads and writes that wait in wasi_wait_ready. */
    int fd;
    do fd = openat(p.dir, p.name, flags | O_NONBLOCK, 0666);
    while (fd < 0 && errno == EINTR);
    err = fd < 0 ? wasi_errno(errno) : 0;
    struct stat st;
    if (!err && fstat(fd, &st) != 0) {
        err = wasi_errno(errno);
        close(fd);
    }
    if (!err && !(flags & O_NONBLOCK) && !S_ISDIR(st.st_mode) &&
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        err = wasi_errno(errno);
        close(fd);
    }
    if (!err && read && !(access & QV_WASI_READ) && !S_ISDIR(st.st_mode)) {
        close(fd);
        err = W_EACCES;
    }
    if (err) {
        wasi_path_free(&p);
        WASI_RETURN(err);
    }
    wasi_fd e = {
        .host = fd,
        .filetype = wasi_filetype_of(st.st_mode),
        .fdflags = (uint16_t)fdflags,
        .grant = g,
    };
    uint64_t mask_dir = 0, mask_file = 0;
    if (access & QV_WASI_READ) mask_dir |= R_DIR_READ, mask_file |= R_FILE_READ;
    if (access & QV_WASI_WRITE) mask_dir |= R_DIR_WRITE, mask_file |= R_FILE_WRITE;
    if (S_ISDIR(st.st_mode)) {
        e.kind = FD_DIR;
        e.rights_base = want_base & d->rights_inheriting & mask_dir;
        if (p.rel) e.rel = p.rel, p.rel = NULL;
    } else {
        e.kind = S_ISSOCK(st.st_mode) ? FD_SOCKET : FD_FILE;
        e.rights_base = want_base & d->rights_inheriting & mask_file;
        if (!read) e.rights_base &= ~R_FD_READ;
        if (!write) e.rights_base &= ~(uint64_t)(R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE);
    }
    e.rights_inheriting = want_inheriting & d->rights_inheriting;
    wasi_path_free(&p);
    int64_t n = wasi_fd_install(w, &e);
    if (n < 0) WASI_RETURN(W_EMFILE);
    err = wasi_store_u32(c, A32(8), (uint32_t)n);
    if (err) wasi_fd_release(&w->fds[n]);
    WASI_RETURN(err);
}

static WASI_FN(path_create_directory)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    char nb[258];
    int err = dir_fd(w, A32(0), R_PATH_CREATE_DIRECTORY, &d);
    if (err || (err = wasi_path_resolve(w, d, c, A32(1), A32(2), &p))) WASI_RETURN(err);
    err = mkdirat(p.dir, wasi_path_name(&p, nb), 0777) ? wasi_errno(errno) : 0;
    wasi_path_free(&p);
    WASI_RETURN(err);
}

static WASI_FN(path_remove_directory)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    char nb[258];
    int err = dir_fd(w, A32(0), R_PATH_REMOVE_DIRECTORY, &d);
    if (err || (err = wasi_path_resolve(w, d, c, A32(1), A32(2), &p))) WASI_RETURN(err);
    err = unlinkat(p.dir, wasi_path_name(&p, nb), AT_REMOVEDIR) ? wasi_errno(errno) : 0;
    wasi_path_free(&p);
    WASI_RETURN(err);
}

static WASI_FN(path_unlink_file)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    char nb[258];
    int err = dir_fd(w, A32(0), R_PATH_UNLINK_FILE, &d);
    if (err || (err = wasi_path_resolve(w, d, c, A32(1), A32(2), &p))) WASI_RETURN(err);
    err = unlinkat(p.dir, wasi_path_name(&p, nb), 0) ? wasi_errno(errno) : 0;
    wasi_path_free(&p);
    WASI_RETURN(err);
}

static WASI_FN(path_rename)
{
    qv_wasi *w = env;
    wasi_fd *from_dir, *to_dir;
    wasi_path from, to;
    char nb1[258], nb2[258];
    int err = dir_fd(w, A32(0), R_PATH_RENAME_SOURCE, &from_dir);
    if (!err) err = dir_fd(w, A32(3), R_PATH_RENAME_TARGET, &to_dir);
    if (err || (err = wasi_path_resolve(w, from_dir, c, A32(1), A32(2), &from))) WASI_RETURN(err);
    if ((err = wasi_path_resolve(w, to_dir, c, A32(4), A32(5), &to))) {
        wasi_path_free(&from);
        WASI_RETURN(err);
    }
    if (wasi_path_holds_hidden(from_dir->grant, from.rel) || wasi_path_holds_hidden(to_dir->grant, to.rel))
        err = W_EBUSY;
    else if (renameat(from.dir, wasi_path_name(&from, nb1), to.dir, wasi_path_name(&to, nb2)) != 0)
        err = wasi_errno(errno);
    wasi_path_free(&from);
    wasi_path_free(&to);
    WASI_RETURN(err);
}

static WASI_FN(path_link)
{
    qv_wasi *w = env;
    wasi_fd *from_dir, *to_dir;
    wasi_path from, to;
    char nb[258];
    int err = dir_fd(w, A32(0), R_PATH_LINK_SOURCE, &from_dir);
    if (!err) err = dir_fd(w, A32(4), R_PATH_LINK_TARGET, &to_dir);
    if (err) WASI_RETURN(err);
    bool follow = A32(1) & W_LOOKUP_SYMLINK_FOLLOW;
    if ((err = resolve(w, from_dir, c, A32(2), A32(3), follow, &from))) WASI_RETURN(err);
    /* The kernel would follow a source written with a trailing slash;
     * directories cannot be hard-linked anyway. */
    if (from.trailing_slash) {
        wasi_path_free(&from);
        WASI_RETURN(W_EPERM);
    }
    if ((err = wasi_path_resolve(w, to_dir, c, A32(5), A32(6), &to))) {
        wasi_path_free(&from);
        WASI_RETURN(err);
    }
    if (linkat(from.dir, from.name, to.dir, wasi_path_name(&to, nb), 0) != 0) err = wasi_errno(errno);
    wasi_path_free(&from);
    wasi_path_free(&to);
    WASI_RETURN(err);
}

static WASI_FN(path_symlink)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    char nb[258], target[PATH_MAX + 1];
    uint32_t tlen = A32(1);
    int err = dir_fd(w, A32(2), R_PATH_SYMLINK, &d);
    if (err) WASI_RETURN(err);
    const uint8_t *t = wasi_mem(c, A32(0), tlen);
    if (!t) WASI_RETURN(W_EFAULT);
    if (tlen > PATH_MAX) WASI_RETURN(W_ENAMETOOLONG);
    if (memchr(t, 0, tlen)) WASI_RETURN(W_EINVAL);
    memcpy(target, t, tlen);
    target[tlen] = 0;
    /* A link to an absolute path could only ever lead out of the sandbox
     * (and would mislead host tools that follow it). */
    if (target[0] == '/') WASI_RETURN(W_EPERM);
    if ((err = wasi_path_resolve(w, d, c, A32(3), A32(4), &p))) WASI_RETURN(err);
    err = symlinkat(target, p.dir, wasi_path_name(&p, nb)) ? wasi_errno(errno) : 0;
    wasi_path_free(&p);
    WASI_RETURN(err);
}

static WASI_FN(path_readlink)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    int err = dir_fd(w, A32(0), R_PATH_READLINK, &d);
    if (err || (err = wasi_path_resolve(w, d, c, A32(1), A32(2), &p))) WASI_RETURN(err);
    char target[PATH_MAX + 1];
    /* "link/" names what the link points to, which is not a link. */
    ssize_t n = p.trailing_slash ? (errno = EINVAL, -1) : readlinkat(p.dir, p.name, target, sizeof target);
    err = n < 0 ? wasi_errno(errno) : 0;
    wasi_path_free(&p);
    if (err) WASI_RETURN(err);
    uint32_t cap = A32(4);
    uint8_t *buf = wasi_mem(c, A32(3), cap);
    if (!buf) WASI_RETURN(W_EFAULT);
    uint32_t used = (uint64_t)n < cap ? (uint32_t)n : cap;
    memcpy(buf, target, used);
    WASI_RETURN(wasi_store_u32(c, A32(5), used));
}

static qv_trap *path_filestat(qv_caller *c, void *env, const qv_val *a, qv_val *r, bool unstable)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    int err = dir_fd(w, A32(0), R_PATH_FILESTAT_GET, &d);
    if (err || (err = resolve(w, d, c, A32(2), A32(3), A32(1) & W_LOOKUP_SYMLINK_FOLLOW, &p))) WASI_RETURN(err);
    struct stat st;
    if (fstatat(p.dir, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0) err = wasi_errno(errno);
    else if (p.trailing_slash && !S_ISDIR(st.st_mode)) err = W_ENOTDIR;
    wasi_path_free(&p);
    if (err) WASI_RETURN(err);
    uint8_t *buf = wasi_mem(c, A32(4), unstable ? W_FILESTAT_UNSTABLE_SIZE : W_FILESTAT_SIZE);
    if (!buf) WASI_RETURN(W_EFAULT);
    wasi_put_filestat(buf, &st, unstable);
    WASI_RETURN(0);
}

static WASI_FN(path_filestat_get)
{
    return path_filestat(c, env, a, r, false);
}

WASI_FN(unstable_path_filestat_get)
{
    return path_filestat(c, env, a, r, true);
}

static WASI_FN(path_filestat_set_times)
{
    qv_wasi *w = env;
    wasi_fd *d;
    wasi_path p;
    struct timespec ts[2];
    int err = dir_fd(w, A32(0), R_PATH_FILESTAT_SET_TIMES, &d);
    if (err || (err = wasi_times(A64(4), A64(5), A32(6), ts))) WASI_RETURN(err);
    if ((err = resolve(w, d, c, A32(2), A32(3), A32(1) & W_LOOKUP_SYMLINK_FOLLOW, &p))) WASI_RETURN(err);
    struct stat st;
    if (p.trailing_slash && (fstatat(p.dir, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)))
        err = W_ENOTDIR;
    else if (utimensat(p.dir, p.name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        err = wasi_errno(errno);
    wasi_path_free(&p);
    WASI_RETURN(err);
}

const wasi_import wasi_path_imports[] = {
    {"path_open", "iiiiiIIii:i", wasi_fn_path_open},
    {"path_create_directory", "iii:i", wasi_fn_path_create_directory},
    {"path_remove_directory", "iii:i", wasi_fn_path_remove_directory},
    {"path_unlink_file", "iii:i", wasi_fn_path_unlink_file},
    {"path_rename", "iiiiii:i", wasi_fn_path_rename},
    {"path_link", "iiiiiii:i", wasi_fn_path_link},
    {"path_symlink", "iiiii:i", wasi_fn_path_symlink},
    {"path_readlink", "iiiiii:i", wasi_fn_path_readlink},
    {"path_filestat_get", "iiiii:i", wasi_fn_path_filestat_get},
    {"path_filestat_set_times", "iiiiIIi:i", wasi_fn_path_filestat_set_times},
    {NULL, NULL, NULL},
};
