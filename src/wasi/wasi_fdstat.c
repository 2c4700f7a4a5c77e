/*
 * wasi_fdstat.c — descriptor and file metadata: fd_fdstat_*, fd_filestat_*
 * and the pre-opened directories' fd_prestat_*.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasi/host.h"

static WASI_FN(fd_fdstat_get)
{
    wasi_fd *e = wasi_fd_get(env, A32(0));
    if (!e) WASI_RETURN(W_EBADF);
    uint8_t *p = wasi_mem(c, A32(1), W_FDSTAT_SIZE);
    if (!p) WASI_RETURN(W_EFAULT);
    memset(p, 0, W_FDSTAT_SIZE);
    put_u8(p, e->filetype);
    put_u16(p + 2, e->fdflags);
    put_u64(p + 8, e->rights_base);
    put_u64(p + 16, e->rights_inheriting);
    WASI_RETURN(0);
}

static WASI_FN(fd_fdstat_set_flags)
{
    wasi_fd *e;
    int err = wasi_fd_check(env, A32(0), R_FD_FDSTAT_SET_FLAGS, &e);
    if (err) WASI_RETURN(err);
    uint32_t flags = A32(1);
    if (flags & ~(uint32_t)(W_FDFLAG_APPEND | W_FDFLAG_DSYNC | W_FDFLAG_NONBLOCK | W_FDFLAG_RSYNC | W_FDFLAG_SYNC))
        WASI_RETURN(W_EINVAL);
    /* Linux cannot change the sync modes of an open descriptor. */
    if ((flags ^ e->fdflags) & (W_FDFLAG_DSYNC | W_FDFLAG_RSYNC | W_FDFLAG_SYNC)) WASI_RETURN(W_ENOTSUP);
    if ((flags & W_FDFLAG_APPEND) && !(e->rights_base & R_FD_WRITE)) WASI_RETURN(W_ENOTCAPABLE);
    if (e->kind == FD_MEMORY) {
        e->fdflags = (uint16_t)flags; /* a memory stream never blocks; appending is all it does */
        WASI_RETURN(0);
    }
    int fl = fcntl(e->host, F_GETFL);
    if (fl < 0) WASI_RETURN(wasi_errno(errno));
    fl &= ~(O_APPEND | O_NONBLOCK);
    if (flags & W_FDFLAG_APPEND) fl |= O_APPEND;
    if (flags & W_FDFLAG_NONBLOCK) fl |= O_NONBLOCK;
    if (fcntl(e->host, F_SETFL, fl) != 0) WASI_RETURN(wasi_errno(errno));
    e->fdflags = (uint16_t)flags;
    WASI_RETURN(0);
}

/* Rights can only be dropped. */
static WASI_FN(fd_fdstat_set_rights)
{
    wasi_fd *e = wasi_fd_get(env, A32(0));
    if (!e) WASI_RETURN(W_EBADF);
    uint64_t base = A64(1), inheriting = A64(2);
    if ((base & ~e->rights_base) || (inheriting & ~e->rights_inheriting)) WASI_RETURN(W_ENOTCAPABLE);
    e->rights_base = base;
    e->rights_inheriting = inheriting;
    WASI_RETURN(0);
}

static qv_trap *fd_filestat(qv_caller *c, void *env, const qv_val *a, qv_val *r, bool unstable)
{
    wasi_fd *e;
    int err = wasi_fd_check(env, A32(0), R_FD_FILESTAT_GET, &e);
    if (err) WASI_RETURN(err);
    struct stat st;
    if (e->kind == FD_MEMORY) {
        memset(&st, 0, sizeof st); /* a pipe-like stream: no type, no times */
        st.st_mode = S_IFIFO;
        st.st_nlink = 1;
        st.st_size = (off_t)e->mem->len;
    } else if (fstat(e->host, &st) != 0) {
        WASI_RETURN(wasi_errno(errno));
    }
    uint8_t *p = wasi_mem(c, A32(1), unstable ? W_FILESTAT_UNSTABLE_SIZE : W_FILESTAT_SIZE);
    if (!p) WASI_RETURN(W_EFAULT);
    wasi_put_filestat(p, &st, unstable);
    WASI_RETURN(0);
}

static WASI_FN(fd_filestat_get)
{
    return fd_filestat(c, env, a, r, false);
}

WASI_FN(unstable_fd_filestat_get)
{
    return fd_filestat(c, env, a, r, true);
}

static WASI_FN(fd_filestat_set_size)
{
    wasi_fd *e;
    int err = wasi_file_fd(env, A32(0), R_FD_FILESTAT_SET_SIZE, &e);
    if (err) WASI_RETURN(err);
    if (A64(1) > INT64_MAX) WASI_RETURN(W_EFBIG);
    WASI_RETURN(ftruncate(e->host, (off_t)A64(1)) ? wasi_errno(errno) : 0);
}

static WASI_FN(fd_filestat_set_times)
{
    wasi_fd *e;
    int err = wasi_fd_check(env, A32(0), R_FD_FILESTAT_SET_TIMES, &e);
    if (err) WASI_RETURN(err);
    struct timespec ts[2];
    if ((err = wasi_times(A64(1), A64(2), A32(3), ts))) WASI_RETURN(err);
    WASI_RETURN(futimens(e->host, ts) ? wasi_errno(errno) : 0);
}

static WASI_FN(fd_prestat_get)
{
    wasi_fd *e = wasi_fd_get(env, A32(0));
    if (!e || !e->preopen) WASI_RETURN(W_EBADF);
    uint8_t *p = wasi_mem(c, A32(1), W_PRESTAT_SIZE);
    if (!p) WASI_RETURN(W_EFAULT);
    memset(p, 0, W_PRESTAT_SIZE);
    put_u8(p, W_PREOPEN_DIR);
    put_u32(p + 4, (uint32_t)strlen(e->grant->guest_path));
    WASI_RETURN(0);
}

static WASI_FN(fd_prestat_dir_name)
{
    wasi_fd *e = wasi_fd_get(env, A32(0));
    if (!e || !e->preopen) WASI_RETURN(W_EBADF);
    size_t n = strlen(e->grant->guest_path);
    if (A32(2) < n) WASI_RETURN(W_EINVAL);
    uint8_t *p = wasi_mem(c, A32(1), n);
    if (!p) WASI_RETURN(W_EFAULT);
    memcpy(p, e->grant->guest_path, n);
    WASI_RETURN(0);
}

const wasi_import wasi_fdstat_imports[] = {
    {"fd_fdstat_get", "ii:i", wasi_fn_fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii:i", wasi_fn_fd_fdstat_set_flags},
    {"fd_fdstat_set_rights", "iII:i", wasi_fn_fd_fdstat_set_rights},
    {"fd_filestat_get", "ii:i", wasi_fn_fd_filestat_get},
    {"fd_filestat_set_size", "iI:i", wasi_fn_fd_filestat_set_size},
    {"fd_filestat_set_times", "iIIi:i", wasi_fn_fd_filestat_set_times},
    {"fd_prestat_get", "ii:i", wasi_fn_fd_prestat_get},
    {"fd_prestat_dir_name", "iii:i", wasi_fn_fd_prestat_dir_name},
    {NULL, NULL, NULL},
};
