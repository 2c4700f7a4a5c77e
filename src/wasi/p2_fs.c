/*
 * p2_fs.c — WASI 0.2 wasi:filesystem (types, preopens) on the preview 1
 * descriptor table: a descriptor is an entry of it, so grants, rights,
 * hidden paths and the path sandbox of resolve.c apply unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi/p2.h"

#define FS(x) "wasi:filesystem/" x P2_VERSION

/* error-code cases, in WIT order. */
enum {
    EC_ACCESS, EC_WOULD_BLOCK, EC_ALREADY, EC_BAD_DESCRIPTOR, EC_BUSY, EC_DEADLOCK, EC_QUOTA, EC_EXIST,
    EC_FILE_TOO_LARGE, EC_ILLEGAL_BYTE_SEQUENCE, EC_IN_PROGRESS, EC_INTERRUPTED, EC_INVALID, EC_IO, EC_IS_DIRECTORY,
    EC_LOOP, EC_TOO_MANY_LINKS, EC_MESSAGE_SIZE, EC_NAME_TOO_LONG, EC_NO_DEVICE, EC_NO_ENTRY, EC_NO_LOCK,
    EC_INSUFFICIENT_MEMORY, EC_INSUFFICIENT_SPACE, EC_NOT_DIRECTORY, EC_NOT_EMPTY, EC_NOT_RECOVERABLE, EC_UNSUPPORTED,
    EC_NO_TTY, EC_NO_SUCH_DEVICE, EC_OVERFLOW, EC_NOT_PERMITTED, EC_PIPE, EC_READ_ONLY, EC_INVALID_SEEK,
    EC_TEXT_FILE_BUSY, EC_CROSS_DEVICE,
};

static uint32_t error_code(int e)
{
    switch (e) {
    case W_EACCES: case W_ENOTCAPABLE: return EC_ACCESS;
    case W_EAGAIN: return EC_WOULD_BLOCK;
    case W_EALREADY: return EC_ALREADY;
    case W_EBADF: return EC_BAD_DESCRIPTOR;
    case W_EBUSY: return EC_BUSY;
    case W_EDEADLK: return EC_DEADLOCK;
    case W_EDQUOT: return EC_QUOTA;
    case W_EEXIST: return EC_EXIST;
    case W_EFBIG: return EC_FILE_TOO_LARGE;
    case W_EILSEQ: return EC_ILLEGAL_BYTE_SEQUENCE;
    case W_EINPROGRESS: return EC_IN_PROGRESS;
    case W_EINTR: return EC_INTERRUPTED;
    case W_EINVAL: return EC_INVALID;
    case W_EISDIR: return EC_IS_DIRECTORY;
    case W_ELOOP: return EC_LOOP;
    case W_EMLINK: return EC_TOO_MANY_LINKS;
    case W_EMSGSIZE: return EC_MESSAGE_SIZE;
    case W_ENAMETOOLONG: return EC_NAME_TOO_LONG;
    case W_ENODEV: return EC_NO_DEVICE;
    case W_ENOENT: return EC_NO_ENTRY;
    case W_ENOLCK: return EC_NO_LOCK;
    case W_ENOMEM: return EC_INSUFFICIENT_MEMORY;
    case W_ENOSPC: return EC_INSUFFICIENT_SPACE;
    case W_ENOTDIR: return EC_NOT_DIRECTORY;
    case W_ENOTEMPTY: return EC_NOT_EMPTY;
    case W_ENOTRECOVERABLE: return EC_NOT_RECOVERABLE;
    case W_ENOTSUP: case W_ENOSYS: return EC_UNSUPPORTED;
    case W_ENOTTY: return EC_NO_TTY;
    case W_ENXIO: return EC_NO_SUCH_DEVICE;
    case W_EOVERFLOW: return EC_OVERFLOW;
    case W_EPERM: return EC_NOT_PERMITTED;
    case W_EPIPE: return EC_PIPE;
    case W_EROFS: return EC_READ_ONLY;
    case W_ESPIPE: return EC_INVALID_SEEK;
    case W_ETXTBSY: return EC_TEXT_FILE_BUSY;
    case W_EXDEV: return EC_CROSS_DEVICE;
    default: return EC_IO;
    }
}

qv_cval p2_fs_err(qv_ccall *c, int e)
{
    qv_cval code = {.kind = QV_C_ENUM, .of.var = {error_code(e), NULL}};
    return p2_case(c, QV_C_RESULT, 1, &code);
}

static uint32_t descriptor_type(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFBLK: return 1;
    case S_IFCHR: return 2;
    case S_IFDIR: return 3;
    case S_IFIFO: return 4;
    case S_IFLNK: return 5;
    case S_IFREG: return 6;
    case S_IFSOCK: return 7;
    default: return 0;
    }
}

static void drop_descriptor(void *env, void *rep)
{
    p2_desc *d = rep;
    wasi_fd *e = wasi_fd_get(d->w, d->fd);
    if (e && !e->preopen && d->fd > 2) wasi_fd_release(e);
    free(d);
}

static void drop_dirstream(void *env, void *rep)
{
    p2_dirstream *s = rep;
    if (s->dir) closedir(s->dir);
    free(s->rel);
    free(s);
}

/* The table entry behind a descriptor (NULL if it was closed). */
static wasi_fd *entry(const qv_cval *self) { return wasi_fd_get(DESC_W(self), ((p2_desc *)self->of.rep)->fd); }

static qv_cval new_desc(qv_wasi *w, uint32_t fd)
{
    p2_desc *d = malloc(sizeof *d);
    if (d) d->w = w, d->fd = fd;
    return p2_own(d);
}

static qv_trap *get_directories(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_wasi *w = p2_wasi(c, env);
    qv_cval *items = qv_ccall_alloc(c, (w->nfds + 1) * sizeof *items);
    if (!items) return p2_trap_oom();
    size_t n = 0;
    for (uint32_t fd = 0; fd < w->nfds; fd++) {
        wasi_fd *e = wasi_fd_get(w, fd);
        if (!e || !e->preopen) continue;
        qv_cval two[2] = {new_desc(w, fd), {.kind = QV_C_STRING, .of.str = {e->grant->guest_path, strlen(e->grant->guest_path)}}};
        if (!two[0].of.rep) return p2_trap_oom();
        items[n++] = p2_tuple(c, QV_C_TUPLE, two, 2);
    }
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {items, NULL, n}};
    return NULL;
}

static qv_trap *get_type(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e = entry(&a[0]);
    struct stat st;
    if (!e) r[0] = p2_fs_err(c, W_EBADF);
    else if (e->kind == FD_MEMORY) {
        qv_cval t = {.kind = QV_C_ENUM, .of.var = {4, NULL}};
        r[0] = p2_ok(c, &t);
    } else if (fstat(e->host, &st) != 0) r[0] = p2_fs_err(c, wasi_errno(errno));
    else {
        qv_cval t = {.kind = QV_C_ENUM, .of.var = {descriptor_type(st.st_mode), NULL}};
        r[0] = p2_ok(c, &t);
    }
    return NULL;
}

static qv_trap *get_flags(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e = entry(&a[0]);
    if (!e) {
        r[0] = p2_fs_err(c, W_EBADF);
        return NULL;
    }
    uint64_t flags = 0;
    if (e->rights_base & (R_FD_READ | R_FD_READDIR)) flags |= 1;         /* read */
    if (e->rights_base & R_FD_WRITE) flags |= 2;                          /* write */
    if (e->fdflags & W_FDFLAG_SYNC) flags |= 4;                           /* file-integrity-sync */
    if (e->fdflags & W_FDFLAG_DSYNC) flags |= 8;                          /* data-integrity-sync */
    if (e->fdflags & W_FDFLAG_RSYNC) flags |= 16;                         /* requested-write-sync */
    if (e->kind == FD_DIR && (e->rights_base & R_PATH_CREATE_FILE)) flags |= 32; /* mutate-directory */
    qv_cval f = {.kind = QV_C_FLAGS, .of.u = flags};
    r[0] = p2_ok(c, &f);
    return NULL;
}

static qv_cval timestamp(qv_ccall *c, struct timespec ts)
{
    qv_cval f[2] = {p2_u64((uint64_t)ts.tv_sec), p2_u32((uint32_t)ts.tv_nsec)};
    qv_cval dt = p2_tuple(c, QV_C_RECORD, f, 2);
    return p2_case(c, QV_C_OPTION, 1, &dt);
}

static qv_cval stat_value(qv_ccall *c, const struct stat *st)
{
    qv_cval f[6] = {
        {.kind = QV_C_ENUM, .of.var = {descriptor_type(st->st_mode), NULL}},
        p2_u64(st->st_nlink), p2_u64((uint64_t)st->st_size),
        timestamp(c, st->st_atim), timestamp(c, st->st_mtim), timestamp(c, st->st_ctim),
    };
    qv_cval rec = p2_tuple(c, QV_C_RECORD, f, 6);
    return p2_ok(c, &rec);
}

static qv_trap *stat_(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e = entry(&a[0]);
    struct stat st;
    if (!e || e->kind == FD_MEMORY) r[0] = p2_fs_err(c, W_EBADF);
    else if ((e->rights_base & R_FD_FILESTAT_GET) == 0) r[0] = p2_fs_err(c, W_ENOTCAPABLE);
    else if (fstat(e->host, &st) != 0) r[0] = p2_fs_err(c, wasi_errno(errno));
    else r[0] = stat_value(c, &st);
    return NULL;
}

/* Directory descriptor self with `rights` (as path_* of preview 1 check
 * them): EBADF, ENOTDIR or ENOTCAPABLE; a read-only grant never changes
 * anything, whatever rights the descriptor claims. */
static int dir_check(const qv_cval *self, uint64_t rights, wasi_fd **out)
{
    qv_wasi *w = DESC_W(self);
    uint32_t fd = ((p2_desc *)self->of.rep)->fd;
    wasi_fd *e = wasi_fd_get(w, fd);
    if (!e) return W_EBADF;
    if (e->kind != FD_DIR) return W_ENOTDIR;
    int err = wasi_fd_check(w, fd, rights, out);
    if (!err && (rights & R_MUTATING) && e->grant && !(e->grant->access & QV_WASI_WRITE)) err = W_ENOTCAPABLE;
    return err;
}

/* Resolve path below d (the sandbox of resolve.c); follow the last
 * component when asked to or when a trailing slash makes POSIX follow it. */
static int resolve(qv_wasi *w, wasi_fd *d, const qv_cval *path, bool follow, wasi_path *out)
{
    int err = wasi_path_resolve_bytes(w, d, path->of.str.ptr, path->of.str.len, false, out);
    if (err || (!follow && !out->trailing_slash)) return err;
    wasi_path_free(out);
    return wasi_path_resolve_bytes(w, d, path->of.str.ptr, path->of.str.len, true, out);
}

/* Check self for `rights` and resolve path below it. */
static int resolve_at(const qv_cval *self, uint64_t rights, const qv_cval *path, bool follow, wasi_fd **dir,
                      wasi_path *out)
{
    out->dir = -1;
    out->rel = NULL;
    int err = dir_check(self, rights, dir);
    return err ? err : resolve(DESC_W(self), *dir, path, follow, out);
}

static qv_trap *stat_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *d;
    wasi_path path;
    int err = resolve_at(&a[0], R_PATH_FILESTAT_GET, &a[2], a[1].of.u & 1, &d, &path);
    struct stat st;
    if (!err && fstatat(path.dir, path.name, &st, AT_SYMLINK_NOFOLLOW) != 0) err = wasi_errno(errno);
    else if (!err && path.trailing_slash && !S_ISDIR(st.st_mode)) err = W_ENOTDIR;
    wasi_path_free(&path);
    r[0] = err ? p2_fs_err(c, err) : stat_value(c, &st);
    return NULL;
}

static qv_trap *open_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    uint64_t path_flags = a[1].of.u, oflags = a[3].of.u, dflags = a[4].of.u;
    bool create = oflags & 1, directory = oflags & 2, exclusive = oflags & 4, truncate = oflags & 8;
    bool read = dflags & 1, write = dflags & 2;
    wasi_fd *d;
    wasi_path path = {.dir = -1};
    uint64_t need = R_PATH_OPEN | (create ? R_PATH_CREATE_FILE : 0) | (truncate ? R_PATH_FILESTAT_SET_SIZE : 0);
    wasi_fd *base = entry(&a[0]);
    unsigned access = base && base->grant ? base->grant->access : QV_WASI_READ | QV_WASI_WRITE;
    int err = 0;
    /* The grant decides before anything is touched, as path_open does. */
    if ((write || create || truncate) && !(access & QV_WASI_WRITE)) err = W_EROFS;
    if (!err) err = resolve_at(&a[0], need, &a[2], path_flags & 1, &d, &path);
    if (!err && path.trailing_slash && create) err = W_EISDIR;
    int flags = O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;
    flags |= read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
    if (create) flags |= O_CREAT;
    if (exclusive) flags |= O_EXCL;
    if (truncate) flags |= O_TRUNC;
    if (directory || path.trailing_slash) flags |= O_DIRECTORY;
    /* file-integrity-sync, data-integrity-sync, requested-write-sync */
    uint16_t fdflags = (dflags & 4 ? W_FDFLAG_SYNC : 0) | (dflags & 8 ? W_FDFLAG_DSYNC : 0) | (dflags & 16 ? W_FDFLAG_RSYNC : 0);
    if (fdflags & W_FDFLAG_SYNC) flags |= O_SYNC;
    if (fdflags & W_FDFLAG_DSYNC) flags |= O_DSYNC;
    if (fdflags & W_FDFLAG_RSYNC) flags |= O_RSYNC;
    int fd = -1;
    struct stat st;
    if (!err) {
        do fd = openat(path.dir, path.name, flags, 0666);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) err = wasi_errno(errno);
        else if (fstat(fd, &st) != 0) err = wasi_errno(errno);
        else if (read && !(access & QV_WASI_READ) && !S_ISDIR(st.st_mode)) err = W_EACCES;
    }
    if (err) {
        if (fd >= 0) close(fd);
        wasi_path_free(&path);
        r[0] = p2_fs_err(c, err);
        return NULL;
    }
    uint64_t mask_dir = 0, mask_file = 0;
    if (access & QV_WASI_READ) mask_dir |= R_DIR_READ, mask_file |= R_FILE_READ;
    if (access & QV_WASI_WRITE) mask_dir |= R_DIR_WRITE, mask_file |= R_FILE_WRITE;
    wasi_fd e = {.host = fd, .filetype = wasi_filetype_of(st.st_mode), .fdflags = fdflags, .grant = d->grant};
    if (S_ISDIR(st.st_mode)) {
        e.kind = FD_DIR;
        e.rights_base = d->rights_inheriting & mask_dir;
        e.rights_inheriting = d->rights_inheriting;
        e.rel = path.rel ? path.rel : strdup("");
        path.rel = NULL;
    } else {
        e.kind = S_ISSOCK(st.st_mode) ? FD_SOCKET : FD_FILE;
        e.rights_base = d->rights_inheriting & mask_file;
        if (!read) e.rights_base &= ~R_FD_READ;
        if (!write) e.rights_base &= ~(uint64_t)(R_FD_WRITE | R_FD_ALLOCATE | R_FD_FILESTAT_SET_SIZE);
    }
    wasi_path_free(&path);
    qv_wasi *w = DESC_W(&a[0]);
    int64_t n = wasi_fd_install(w, &e);
    if (n < 0) {
        r[0] = p2_fs_err(c, W_EMFILE);
        return NULL;
    }
    qv_cval desc = new_desc(w, (uint32_t)n);
    if (!desc.of.rep) {
        wasi_fd_release(&w->fds[n]);
        return p2_trap_oom();
    }
    r[0] = p2_ok(c, &desc);
    return NULL;
}

/* A stream over a file descriptor entry (its own dup of the host descriptor). */
static qv_trap *file_stream(qv_ccall *c, p2_host *p, const qv_cval *self, uint64_t rights, uint64_t offset, bool append,
                            qv_cval *r)
{
    wasi_fd *e;
    int err = wasi_file_fd(DESC_W(self), ((p2_desc *)self->of.rep)->fd, rights, &e);
    if (err) {
        r[0] = p2_fs_err(c, err);
        return NULL;
    }
    p2_stream *s = e->kind == FD_MEMORY ? p2_stream_new(-1, e->mem) : p2_stream_new(fcntl(e->host, F_DUPFD_CLOEXEC, 3), NULL);
    if (!s) return p2_trap_oom();
    s->positional = e->kind != FD_MEMORY;
    s->offset = offset;
    s->append = append;
    qv_cval v = p2_own(s);
    r[0] = p2_ok(c, &v);
    return NULL;
}

static qv_trap *read_via_stream(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return file_stream(c, env, &a[0], R_FD_READ, a[1].of.u, false, r); }
static qv_trap *write_via_stream(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return file_stream(c, env, &a[0], R_FD_WRITE, a[1].of.u, false, r); }
static qv_trap *append_via_stream(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return file_stream(c, env, &a[0], R_FD_WRITE, 0, true, r); }

#define MAX_READ (1u << 20)

static qv_trap *read_(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e;
    int err = wasi_file_fd(DESC_W(&a[0]), ((p2_desc *)a[0].of.rep)->fd, R_FD_READ, &e);
    size_t len = a[1].of.u > MAX_READ ? MAX_READ : (size_t)a[1].of.u;
    uint8_t *buf = qv_ccall_alloc(c, len ? len : 1);
    if (!buf) return p2_trap_oom();
    ssize_t n = 0;
    if (!err) {
        do n = pread(e->host, buf, len, (off_t)a[2].of.u);
        while (n < 0 && errno == EINTR);
        if (n < 0) err = wasi_errno(errno);
    }
    if (err) {
        r[0] = p2_fs_err(c, err);
        return NULL;
    }
    qv_cval two[2] = {{.kind = QV_C_LIST, .of.list = {NULL, buf, (size_t)n}}, p2_bool(n == 0 && len > 0)};
    qv_cval t = p2_tuple(c, QV_C_TUPLE, two, 2);
    r[0] = p2_ok(c, &t);
    return NULL;
}

static qv_trap *write_(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e;
    int err = wasi_file_fd(DESC_W(&a[0]), ((p2_desc *)a[0].of.rep)->fd, R_FD_WRITE, &e);
    ssize_t n = 0;
    if (!err) {
        do n = pwrite(e->host, a[1].of.list.raw, a[1].of.list.n, (off_t)a[2].of.u);
        while (n < 0 && errno == EINTR);
        if (n < 0) err = wasi_errno(errno);
    }
    qv_cval size = p2_u64((uint64_t)n);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, &size);
    return NULL;
}

static qv_trap *read_directory(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e;
    int err = wasi_fd_check(DESC_W(&a[0]), ((p2_desc *)a[0].of.rep)->fd, R_FD_READDIR, &e);
    if (!err && e->kind != FD_DIR) err = W_ENOTDIR;
    int fd = err ? -1 : openat(e->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!err && fd < 0) err = wasi_errno(errno);
    p2_dirstream *s = err ? NULL : calloc(1, sizeof *s);
    if (s && !(s->dir = fdopendir(fd))) {
        err = wasi_errno(errno);
        free(s);
        s = NULL;
    }
    if (err || !s) {
        if (fd >= 0 && !s) close(fd);
        r[0] = p2_fs_err(c, err ? err : W_ENOMEM);
        return NULL;
    }
    s->grant = e->grant;
    s->rel = strdup(e->rel ? e->rel : "");
    qv_cval v = p2_own(s);
    r[0] = p2_ok(c, &v);
    return NULL;
}

static qv_trap *read_directory_entry(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_dirstream *s = a[0].of.rep;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(s->dir);
        if (!de) {
            if (errno) r[0] = p2_fs_err(c, wasi_errno(errno));
            else {
                qv_cval none = p2_case(c, QV_C_OPTION, 0, NULL);
                r[0] = p2_ok(c, &none);
            }
            return NULL;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (s->grant && s->grant->nhidden) {
            char full[PATH_MAX * 2];
            snprintf(full, sizeof full, "%s%s%s", s->rel ? s->rel : "", s->rel && *s->rel ? "/" : "", de->d_name);
            if (wasi_path_hidden(s->grant, full)) continue;
        }
        struct stat st;
        uint32_t type = fstatat(dirfd(s->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? descriptor_type(st.st_mode) : 0;
        qv_cval f[2] = {{.kind = QV_C_ENUM, .of.var = {type, NULL}}, p2_string(c, de->d_name, strlen(de->d_name))};
        qv_cval entry_ = p2_tuple(c, QV_C_RECORD, f, 2);
        qv_cval some = p2_case(c, QV_C_OPTION, 1, &entry_);
        r[0] = p2_ok(c, &some);
        return NULL;
    }
}

/* create-directory-at, remove-directory-at, unlink-file-at. */
static qv_trap *change_at(qv_ccall *c, p2_host *p, const qv_cval *a, uint64_t rights, int op, qv_cval *r)
{
    wasi_fd *d;
    wasi_path path;
    char nb[258];
    int err = resolve_at(&a[0], rights, &a[1], false, &d, &path);
    if (!err) {
        const char *name = wasi_path_name(&path, nb);
        int rc = op == 0 ? mkdirat(path.dir, name, 0777) : unlinkat(path.dir, name, op == 1 ? AT_REMOVEDIR : 0);
        if (rc != 0) err = wasi_errno(errno);
    }
    wasi_path_free(&path);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *create_directory_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return change_at(c, env, a, R_PATH_CREATE_DIRECTORY, 0, r); }
static qv_trap *remove_directory_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return change_at(c, env, a, R_PATH_REMOVE_DIRECTORY, 1, r); }
static qv_trap *unlink_file_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return change_at(c, env, a, R_PATH_UNLINK_FILE, 2, r); }

static qv_trap *sync_(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e = entry(&a[0]);
    r[0] = !e ? p2_fs_err(c, W_EBADF) : e->host >= 0 && fsync(e->host) != 0 && errno != EINVAL ? p2_fs_err(c, wasi_errno(errno)) : p2_ok(c, NULL);
    return NULL;
}

static qv_cval hash_of(qv_ccall *c, const struct stat *st)
{
    qv_cval f[2] = {p2_u64((uint64_t)st->st_ino), p2_u64((uint64_t)st->st_dev)};
    qv_cval rec = p2_tuple(c, QV_C_RECORD, f, 2);
    return p2_ok(c, &rec);
}

static qv_trap *metadata_hash(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e = entry(&a[0]);
    struct stat st;
    if (!e || e->host < 0) r[0] = p2_fs_err(c, W_EBADF);
    else if (fstat(e->host, &st) != 0) r[0] = p2_fs_err(c, wasi_errno(errno));
    else r[0] = hash_of(c, &st);
    return NULL;
}

static qv_trap *metadata_hash_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *d;
    wasi_path path;
    int err = resolve_at(&a[0], R_PATH_FILESTAT_GET, &a[2], a[1].of.u & 1, &d, &path);
    struct stat st;
    if (!err && fstatat(path.dir, path.name, &st, AT_SYMLINK_NOFOLLOW) != 0) err = wasi_errno(errno);
    wasi_path_free(&path);
    r[0] = err ? p2_fs_err(c, err) : hash_of(c, &st);
    return NULL;
}

static qv_trap *is_same_object(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *x = entry(&a[0]), *y = entry(&a[1]);
    struct stat sx, sy;
    r[0] = p2_bool(x && y && x->host >= 0 && y->host >= 0 && fstat(x->host, &sx) == 0 && fstat(y->host, &sy) == 0 &&
                   sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino);
    return NULL;
}

static qv_trap *rename_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *from_dir, *to_dir;
    wasi_path from = {.dir = -1}, to = {.dir = -1};
    char nb1[258], nb2[258];
    int err = resolve_at(&a[0], R_PATH_RENAME_SOURCE, &a[1], false, &from_dir, &from);
    if (!err) err = resolve_at(&a[2], R_PATH_RENAME_TARGET, &a[3], false, &to_dir, &to);
    /* Hiding is by path: a rename would carry hidden files out from under it. */
    if (!err && (wasi_path_holds_hidden(from_dir->grant, from.rel) || wasi_path_holds_hidden(to_dir->grant, to.rel)))
        err = W_EBUSY;
    if (!err && renameat(from.dir, wasi_path_name(&from, nb1), to.dir, wasi_path_name(&to, nb2)) != 0)
        err = wasi_errno(errno);
    wasi_path_free(&from);
    wasi_path_free(&to);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *link_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *from_dir, *to_dir;
    wasi_path from = {.dir = -1}, to = {.dir = -1};
    char nb[258];
    int err = resolve_at(&a[0], R_PATH_LINK_SOURCE, &a[2], a[1].of.u & 1, &from_dir, &from);
    /* Directories cannot be hard-linked; a trailing slash would follow. */
    if (!err && from.trailing_slash) err = W_EPERM;
    if (!err) err = resolve_at(&a[3], R_PATH_LINK_TARGET, &a[4], false, &to_dir, &to);
    if (!err && linkat(from.dir, from.name, to.dir, wasi_path_name(&to, nb), 0) != 0) err = wasi_errno(errno);
    wasi_path_free(&from);
    wasi_path_free(&to);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *symlink_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *d;
    wasi_path path = {.dir = -1};
    char nb[258], target[PATH_MAX + 1];
    size_t tlen = a[1].of.str.len;
    int err = tlen > PATH_MAX ? W_ENAMETOOLONG : memchr(a[1].of.str.ptr, 0, tlen) ? W_EINVAL : 0;
    if (!err) {
        memcpy(target, a[1].of.str.ptr, tlen);
        target[tlen] = 0;
        /* A link to an absolute path could only lead out of the sandbox. */
        if (target[0] == '/') err = W_EPERM;
    }
    if (!err) err = resolve_at(&a[0], R_PATH_SYMLINK, &a[2], false, &d, &path);
    if (!err && symlinkat(target, path.dir, wasi_path_name(&path, nb)) != 0) err = wasi_errno(errno);
    wasi_path_free(&path);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *readlink_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *d;
    wasi_path path;
    char target[PATH_MAX + 1];
    ssize_t n = -1;
    int err = resolve_at(&a[0], R_PATH_READLINK, &a[1], false, &d, &path);
    /* "link/" names what the link points to, which is not a link. */
    if (!err && path.trailing_slash) err = W_EINVAL;
    if (!err && (n = readlinkat(path.dir, path.name, target, sizeof target)) < 0) err = wasi_errno(errno);
    wasi_path_free(&path);
    if (err) {
        r[0] = p2_fs_err(c, err);
        return NULL;
    }
    qv_cval s = p2_string(c, target, (size_t)n);
    r[0] = p2_ok(c, &s);
    return NULL;
}

/* A new-timestamp (no-change, now, timestamp(datetime)) as a timespec. */
static struct timespec new_timestamp(const qv_cval *v)
{
    struct timespec ts = {0, UTIME_OMIT};
    if (v->of.var.disc == 1) ts.tv_nsec = UTIME_NOW;
    if (v->of.var.disc == 2) {
        const qv_cval *f = v->of.var.payload->of.fields.items;
        ts.tv_sec = (time_t)f[0].of.u;
        ts.tv_nsec = f[1].of.u < 1000000000u ? (long)f[1].of.u : 999999999L;
    }
    return ts;
}

static qv_trap *set_times(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e;
    int err = wasi_fd_check(DESC_W(&a[0]), ((p2_desc *)a[0].of.rep)->fd, R_FD_FILESTAT_SET_TIMES, &e);
    if (!err && e->grant && !(e->grant->access & QV_WASI_WRITE)) err = W_ENOTCAPABLE;
    struct timespec ts[2] = {new_timestamp(&a[1]), new_timestamp(&a[2])};
    if (!err && futimens(e->host, ts) != 0) err = wasi_errno(errno);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *set_times_at(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *d;
    wasi_path path;
    struct timespec ts[2] = {new_timestamp(&a[3]), new_timestamp(&a[4])};
    int err = resolve_at(&a[0], R_PATH_FILESTAT_SET_TIMES, &a[2], a[1].of.u & 1, &d, &path);
    struct stat st;
    if (!err && path.trailing_slash && (fstatat(path.dir, path.name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)))
        err = W_ENOTDIR;
    else if (!err && utimensat(path.dir, path.name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        err = wasi_errno(errno);
    wasi_path_free(&path);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *set_size(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e;
    int err = wasi_file_fd(DESC_W(&a[0]), ((p2_desc *)a[0].of.rep)->fd, R_FD_FILESTAT_SET_SIZE, &e);
    if (!err && a[1].of.u > INT64_MAX) err = W_EFBIG;
    if (!err && ftruncate(e->host, (off_t)a[1].of.u) != 0) err = wasi_errno(errno);
    r[0] = err ? p2_fs_err(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *advise(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    wasi_fd *e = entry(&a[0]);
    r[0] = !e ? p2_fs_err(c, W_EBADF) : e->kind == FD_DIR ? p2_fs_err(c, W_EBADF) : p2_ok(c, NULL); /* advice is only advice */
    return NULL;
}

static qv_trap *filesystem_error_code(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const p2_error *e = a[0].of.rep;
    qv_cval code = {.kind = QV_C_ENUM, .of.var = {error_code(e->wasi_errno), NULL}};
    r[0] = p2_case(c, QV_C_OPTION, 1, &code);
    return NULL;
}

bool p2_define_fs(p2_host *p, qv_chost *h)
{
    const char *T = FS("types");
    p->descriptor = qv_chost_resource(h, T, "descriptor", drop_descriptor, p);
    p->dirstream = qv_chost_resource(h, T, "directory-entry-stream", drop_dirstream, p);
    bool ok = p->descriptor && p->dirstream && qv_chost_use(h, T, IO_STREAMS, "input-stream") &&
              qv_chost_use(h, T, IO_STREAMS, "output-stream") && qv_chost_use(h, T, IO_STREAMS, "error") &&
              qv_chost_use(h, T, "wasi:clocks/wall-clock" P2_VERSION, "datetime") &&
              qv_chost_type(h, T, "filesize", "u64") && qv_chost_type(h, T, "link-count", "u64") &&
              qv_chost_type(h, T, "descriptor-type", "enum { unknown, block-device, character-device, directory, fifo, symbolic-link, regular-file, socket }") &&
              qv_chost_type(h, T, "descriptor-flags", "flags { read, write, file-integrity-sync, data-integrity-sync, requested-write-sync, mutate-directory }") &&
              qv_chost_type(h, T, "path-flags", "flags { symlink-follow }") &&
              qv_chost_type(h, T, "open-flags", "flags { create, directory, exclusive, truncate }") &&
              qv_chost_type(h, T, "descriptor-stat", "record { type: descriptor-type, link-count: link-count, size: filesize, data-access-timestamp: option<datetime>, data-modification-timestamp: option<datetime>, status-change-timestamp: option<datetime> }") &&
              qv_chost_type(h, T, "new-timestamp", "variant { no-change, now, timestamp(datetime) }") &&
              qv_chost_type(h, T, "directory-entry", "record { type: descriptor-type, name: string }") &&
              qv_chost_type(h, T, "error-code", "enum { access, would-block, already, bad-descriptor, busy, deadlock, quota, exist, file-too-large, illegal-byte-sequence, in-progress, interrupted, invalid, io, is-directory, loop, too-many-links, message-size, name-too-long, no-device, no-entry, no-lock, insufficient-memory, insufficient-space, not-directory, not-empty, not-recoverable, unsupported, no-tty, no-such-device, overflow, not-permitted, pipe, read-only, invalid-seek, text-file-busy, cross-device }") &&
              qv_chost_type(h, T, "advice", "enum { normal, sequential, random, will-need, dont-need, no-reuse }") &&
              qv_chost_type(h, T, "metadata-hash-value", "record { lower: u64, upper: u64 }") &&
              qv_chost_use(h, FS("preopens"), T, "descriptor");
    static const p2_fn fns[] = {
        {NULL, "[method]descriptor.read-via-stream", "func(self: borrow<descriptor>, offset: filesize) -> result<own<input-stream>, error-code>", read_via_stream},
        {NULL, "[method]descriptor.write-via-stream", "func(self: borrow<descriptor>, offset: filesize) -> result<own<output-stream>, error-code>", write_via_stream},
        {NULL, "[method]descriptor.append-via-stream", "func(self: borrow<descriptor>) -> result<own<output-stream>, error-code>", append_via_stream},
        {NULL, "[method]descriptor.advise", "func(self: borrow<descriptor>, offset: filesize, length: filesize, advice: advice) -> result<_, error-code>", advise},
        {NULL, "[method]descriptor.sync-data", "func(self: borrow<descriptor>) -> result<_, error-code>", sync_},
        {NULL, "[method]descriptor.get-flags", "func(self: borrow<descriptor>) -> result<descriptor-flags, error-code>", get_flags},
        {NULL, "[method]descriptor.get-type", "func(self: borrow<descriptor>) -> result<descriptor-type, error-code>", get_type},
        {NULL, "[method]descriptor.set-size", "func(self: borrow<descriptor>, size: filesize) -> result<_, error-code>", set_size},
        {NULL, "[method]descriptor.set-times", "func(self: borrow<descriptor>, data-access-timestamp: new-timestamp, data-modification-timestamp: new-timestamp) -> result<_, error-code>", set_times},
        {NULL, "[method]descriptor.read", "func(self: borrow<descriptor>, length: filesize, offset: filesize) -> result<tuple<list<u8>, bool>, error-code>", read_},
        {NULL, "[method]descriptor.write", "func(self: borrow<descriptor>, buffer: list<u8>, offset: filesize) -> result<filesize, error-code>", write_},
        {NULL, "[method]descriptor.read-directory", "func(self: borrow<descriptor>) -> result<own<directory-entry-stream>, error-code>", read_directory},
        {NULL, "[method]descriptor.sync", "func(self: borrow<descriptor>) -> result<_, error-code>", sync_},
        {NULL, "[method]descriptor.create-directory-at", "func(self: borrow<descriptor>, path: string) -> result<_, error-code>", create_directory_at},
        {NULL, "[method]descriptor.stat", "func(self: borrow<descriptor>) -> result<descriptor-stat, error-code>", stat_},
        {NULL, "[method]descriptor.stat-at", "func(self: borrow<descriptor>, path-flags: path-flags, path: string) -> result<descriptor-stat, error-code>", stat_at},
        {NULL, "[method]descriptor.set-times-at", "func(self: borrow<descriptor>, path-flags: path-flags, path: string, data-access-timestamp: new-timestamp, data-modification-timestamp: new-timestamp) -> result<_, error-code>", set_times_at},
        {NULL, "[method]descriptor.link-at", "func(self: borrow<descriptor>, old-path-flags: path-flags, old-path: string, new-descriptor: borrow<descriptor>, new-path: string) -> result<_, error-code>", link_at},
        {NULL, "[method]descriptor.open-at", "func(self: borrow<descriptor>, path-flags: path-flags, path: string, open-flags: open-flags, %flags: descriptor-flags) -> result<own<descriptor>, error-code>", open_at},
        {NULL, "[method]descriptor.readlink-at", "func(self: borrow<descriptor>, path: string) -> result<string, error-code>", readlink_at},
        {NULL, "[method]descriptor.remove-directory-at", "func(self: borrow<descriptor>, path: string) -> result<_, error-code>", remove_directory_at},
        {NULL, "[method]descriptor.rename-at", "func(self: borrow<descriptor>, old-path: string, new-descriptor: borrow<descriptor>, new-path: string) -> result<_, error-code>", rename_at},
        {NULL, "[method]descriptor.symlink-at", "func(self: borrow<descriptor>, old-path: string, new-path: string) -> result<_, error-code>", symlink_at},
        {NULL, "[method]descriptor.unlink-file-at", "func(self: borrow<descriptor>, path: string) -> result<_, error-code>", unlink_file_at},
        {NULL, "[method]descriptor.is-same-object", "func(self: borrow<descriptor>, other: borrow<descriptor>) -> bool", is_same_object},
        {NULL, "[method]descriptor.metadata-hash", "func(self: borrow<descriptor>) -> result<metadata-hash-value, error-code>", metadata_hash},
        {NULL, "[method]descriptor.metadata-hash-at", "func(self: borrow<descriptor>, path-flags: path-flags, path: string) -> result<metadata-hash-value, error-code>", metadata_hash_at},
        {NULL, "[method]directory-entry-stream.read-directory-entry", "func(self: borrow<directory-entry-stream>) -> result<option<directory-entry>, error-code>", read_directory_entry},
        {NULL, "filesystem-error-code", "func(err: borrow<error>) -> option<error-code>", filesystem_error_code},
    };
    return ok && p2_define_all(p, h, T, fns, sizeof fns / sizeof *fns) && qv_chost_func(h, FS("preopens"), "get-directories", "func() -> list<tuple<own<descriptor>, string>>", get_directories, p);
}
