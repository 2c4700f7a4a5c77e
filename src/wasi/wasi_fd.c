/*
 * wasi_fd.c — reading, writing, seeking, syncing, closing and renumbering
 * descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi/host.h"

#define io_fd wasi_file_fd

typedef ssize_t (*io_fn)(int fd, const struct iovec *iov, int n, off_t off);
static ssize_t do_readv(int fd, const struct iovec *iov, int n, off_t off) { (void)off; return readv(fd, iov, n); }
static ssize_t do_writev(int fd, const struct iovec *iov, int n, off_t off) { (void)off; return writev(fd, iov, n); }

/* Shared body of fd_read/fd_write/fd_pread/fd_pwrite. */
static int transfer(qv_wasi *w, qv_caller *c, uint32_t fd, uint64_t rights, uint32_t iovs, uint32_t n,
                    io_fn io, off_t off, uint32_t nbytes_ptr)
{
    wasi_fd *e;
    int err = io_fd(w, fd, rights, &e);
    if (err) return err;
    struct iovec v[IOV_MAX];
    int count;
    if ((err = wasi_iovecs(c, iovs, n, v, &count))) return err;
    bool writing = io != do_readv && io != preadv;
    /* A write to a pipe or the like moves at most PIPE_BUF bytes once
     * it is ready, so that it cannot block on a reader that stopped. */
    bool may_block = e->kind == FD_FILE && e->filetype != W_FT_REGULAR_FILE && !(e->fdflags & W_FDFLAG_NONBLOCK);
    wasi_iovecs_limit(v, &count, writing && may_block ? PIPE_BUF : WASI_MAX_TRANSFER);
    if (e->kind == FD_MEMORY) {
        size_t done = 0;
        err = io == do_readv ? wasi_mem_read(e->mem, v, count, &done) : wasi_mem_write(e->mem, qv_caller_store(c), v, count, &done);
        return err ? err : wasi_store_u32(c, nbytes_ptr, (uint32_t)done);
    }
    if ((err = wasi_wait_ready(c, e, writing))) return err;
    ssize_t got;
    do got = io(e->host, v, count, off);
    while (got < 0 && errno == EINTR);
    if (got < 0) return wasi_errno(errno);
    return wasi_store_u32(c, nbytes_ptr, (uint32_t)got);
}

static WASI_FN(fd_read)
{
    WASI_RETURN(transfer(env, c, A32(0), R_FD_READ, A32(1), A32(2), do_readv, 0, A32(3)));
}

static WASI_FN(fd_write)
{
    WASI_RETURN(transfer(env, c, A32(0), R_FD_WRITE, A32(1), A32(2), do_writev, 0, A32(3)));
}

static WASI_FN(fd_pread)
{
    if (A64(3) > INT64_MAX) WASI_RETURN(W_EINVAL);
    WASI_RETURN(transfer(env, c, A32(0), R_FD_READ | R_FD_SEEK, A32(1), A32(2), preadv, (off_t)A64(3), A32(4)));
}

static WASI_FN(fd_pwrite)
{
    if (A64(3) > INT64_MAX) WASI_RETURN(W_EINVAL);
    qv_wasi *w = env;
    wasi_fd *e = wasi_fd_get(w, A32(0));
    /* Linux ignores the offset of pwrite on an O_APPEND file; WASI does
     * not: write at the offset through a descriptor without O_APPEND. */
    if (e && e->kind == FD_FILE && (e->fdflags & W_FDFLAG_APPEND)) {
        int err = io_fd(w, A32(0), R_FD_WRITE | R_FD_SEEK, &e);
        if (err) WASI_RETURN(err);
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", e->host);
        int plain = open(proc, O_WRONLY | O_CLOEXEC);
        if (plain < 0) WASI_RETURN(wasi_errno(errno));
        int saved = e->host;
        e->host = plain;
        err = transfer(w, c, A32(0), R_FD_WRITE | R_FD_SEEK, A32(1), A32(2), pwritev, (off_t)A64(3), A32(4));
        e->host = saved;
        close(plain);
        WASI_RETURN(err);
    }
    WASI_RETURN(transfer(w, c, A32(0), R_FD_WRITE | R_FD_SEEK, A32(1), A32(2), pwritev, (off_t)A64(3), A32(4)));
}

static WASI_FN(fd_seek)
{
    int64_t offset = a[1].of.i64;
    uint32_t whence = A32(2);
    /* fd_tell's right is enough to ask where we are. */
    uint64_t need = (whence == W_WHENCE_CUR && offset == 0) ? R_FD_TELL : R_FD_SEEK;
    wasi_fd *e;
    int err = io_fd(env, A32(0), need, &e);
    if (err == W_ENOTCAPABLE && need == R_FD_TELL) err = io_fd(env, A32(0), R_FD_SEEK, &e);
    if (err) WASI_RETURN(err);
    int how = whence == W_WHENCE_SET ? SEEK_SET : whence == W_WHENCE_CUR ? SEEK_CUR
            : whence == W_WHENCE_END ? SEEK_END : -1;
    if (how < 0) WASI_RETURN(W_EINVAL);
    off_t pos = lseek(e->host, offset, how);
    if (pos < 0) WASI_RETURN(wasi_errno(errno));
    WASI_RETURN(wasi_store_u64(c, A32(3), (uint64_t)pos));
}

/* wasi_unstable numbered whence CUR, END, SET. */
WASI_FN(unstable_fd_seek)
{
    static const uint32_t to_preview1[] = {W_WHENCE_CUR, W_WHENCE_END, W_WHENCE_SET};
    qv_val args[4] = {a[0], a[1], a[2], a[3]};
    args[2].of.i32 = A32(2) < 3 ? (int32_t)to_preview1[A32(2)] : -1;
    return wasi_fn_fd_seek(c, env, args, r);
}

static WASI_FN(fd_tell)
{
    wasi_fd *e;
    int err = io_fd(env, A32(0), R_FD_TELL, &e);
    if (err) WASI_RETURN(err);
    off_t pos = lseek(e->host, 0, SEEK_CUR);
    if (pos < 0) WASI_RETURN(wasi_errno(errno));
    WASI_RETURN(wasi_store_u64(c, A32(1), (uint64_t)pos));
}

static WASI_FN(fd_sync)
{
    wasi_fd *e;
    int err = wasi_fd_check(env, A32(0), R_FD_SYNC, &e);
    if (err) WASI_RETURN(err);
    WASI_RETURN(fsync(e->host) ? wasi_errno(errno) : 0);
}

static WASI_FN(fd_datasync)
{
    wasi_fd *e;
    int err = wasi_fd_check(env, A32(0), R_FD_DATASYNC, &e);
    if (err) WASI_RETURN(err);
    WASI_RETURN(fdatasync(e->host) ? wasi_errno(errno) : 0);
}

static WASI_FN(fd_advise)
{
    wasi_fd *e;
    int err = io_fd(env, A32(0), R_FD_ADVISE, &e);
    if (err) WASI_RETURN(err);
    static const int advice[] = {POSIX_FADV_NORMAL, POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                 POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
    if (A32(3) > W_ADVICE_NOREUSE) WASI_RETURN(W_EINVAL);
    if (A64(1) > INT64_MAX || A64(2) > INT64_MAX) WASI_RETURN(W_EINVAL);
    WASI_RETURN(wasi_errno(posix_fadvise(e->host, (off_t)A64(1), (off_t)A64(2), advice[A32(3)])));
}

static WASI_FN(fd_allocate)
{
    wasi_fd *e;
    int err = io_fd(env, A32(0), R_FD_ALLOCATE, &e);
    if (err) WASI_RETURN(err);
    if (A64(1) > INT64_MAX || A64(2) > INT64_MAX || A64(1) + A64(2) > INT64_MAX) WASI_RETURN(W_EFBIG);
    WASI_RETURN(wasi_errno(posix_fallocate(e->host, (off_t)A64(1), (off_t)A64(2))));
}

static WASI_FN(fd_close)
{
    wasi_fd *e = wasi_fd_get(env, A32(0));
    if (!e) WASI_RETURN(W_EBADF);
    wasi_fd_release(e);
    WASI_RETURN(0);
}

static WASI_FN(fd_renumber)
{
    qv_wasi *w = env;
    wasi_fd *from = wasi_fd_get(w, A32(0)), *to = wasi_fd_get(w, A32(1));
    if (!from || !to) WASI_RETURN(W_EBADF);
    if (from == to) WASI_RETURN(0);
    wasi_fd_release(to);
    *to = *from;
    memset(from, 0, sizeof *from);
    WASI_RETURN(0);
}

const wasi_import wasi_fd_imports[] = {
    {"fd_read", "iiii:i", wasi_fn_fd_read},
    {"fd_write", "iiii:i", wasi_fn_fd_write},
    {"fd_pread", "iiiIi:i", wasi_fn_fd_pread},
    {"fd_pwrite", "iiiIi:i", wasi_fn_fd_pwrite},
    {"fd_seek", "iIii:i", wasi_fn_fd_seek},
    {"fd_tell", "ii:i", wasi_fn_fd_tell},
    {"fd_sync", "i:i", wasi_fn_fd_sync},
    {"fd_datasync", "i:i", wasi_fn_fd_datasync},
    {"fd_advise", "iIIi:i", wasi_fn_fd_advise},
    {"fd_allocate", "iII:i", wasi_fn_fd_allocate},
    {"fd_close", "i:i", wasi_fn_fd_close},
    {"fd_renumber", "ii:i", wasi_fn_fd_renumber},
    {NULL, NULL, NULL},
};
