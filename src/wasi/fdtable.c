/*
 * fdtable.c — the guest's descriptor table: guest numbers → host
 * descriptors plus the rights and grant that bound what each can do.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasi/host.h"

/* Plenty for real programs, and a bound on what a guest can make the host
 * hold open. */
#define MAX_FDS 4096

wasi_fd *wasi_fd_get(qv_wasi *w, uint32_t fd)
{
    if (fd >= w->nfds || w->fds[fd].kind == FD_CLOSED) return NULL;
    return &w->fds[fd];
}

int wasi_fd_check(qv_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out)
{
    wasi_fd *e = wasi_fd_get(w, fd);
    if (!e) return W_EBADF;
    if ((e->rights_base & rights) != rights) return W_ENOTCAPABLE;
    *out = e;
    return 0;
}

int wasi_file_fd(qv_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out)
{
    wasi_fd *e = wasi_fd_get(w, fd);
    if (!e) return W_EBADF;
    if (e->kind == FD_DIR) return W_EISDIR;
    return wasi_fd_check(w, fd, rights, out);
}

void wasi_put_filestat(uint8_t *p, const struct stat *st, bool unstable)
{
    uint64_t atim = (uint64_t)st->st_atim.tv_sec * 1000000000u + (uint64_t)st->st_atim.tv_nsec;
    uint64_t mtim = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    uint64_t ctim = (uint64_t)st->st_ctim.tv_sec * 1000000000u + (uint64_t)st->st_ctim.tv_nsec;
    memset(p, 0, unstable ? W_FILESTAT_UNSTABLE_SIZE : W_FILESTAT_SIZE);
    put_u64(p + 0, st->st_dev);
    put_u64(p + 8, st->st_ino);
    put_u8(p + 16, wasi_filetype_of(st->st_mode));
    /* wasi_unstable has a 32-bit link count, and everything after it moves
     * up by 8 bytes. */
    size_t shift = unstable ? 8 : 0;
    if (unstable) put_u32(p + 20, st->st_nlink > UINT32_MAX ? UINT32_MAX : (uint32_t)st->st_nlink);
    else put_u64(p + 24, st->st_nlink);
    put_u64(p + 32 - shift, (uint64_t)st->st_size);
    put_u64(p + 40 - shift, atim);
    put_u64(p + 48 - shift, mtim);
    put_u64(p + 56 - shift, ctim);
}

int wasi_times(uint64_t atim, uint64_t mtim, uint32_t fst, struct timespec ts[2])
{
    if (fst & ~(uint32_t)(W_FST_ATIM | W_FST_ATIM_NOW | W_FST_MTIM | W_FST_MTIM_NOW)) return W_EINVAL;
    if ((fst & W_FST_ATIM) && (fst & W_FST_ATIM_NOW)) return W_EINVAL;
    if ((fst & W_FST_MTIM) && (fst & W_FST_MTIM_NOW)) return W_EINVAL;
    ts[0].tv_sec = (time_t)(atim / 1000000000u), ts[0].tv_nsec = (long)(atim % 1000000000u);
    ts[1].tv_sec = (time_t)(mtim / 1000000000u), ts[1].tv_nsec = (long)(mtim % 1000000000u);
    if (!(fst & (W_FST_ATIM | W_FST_ATIM_NOW))) ts[0].tv_nsec = UTIME_OMIT;
    else if (fst & W_FST_ATIM_NOW) ts[0].tv_nsec = UTIME_NOW;
    if (!(fst & (W_FST_MTIM | W_FST_MTIM_NOW))) ts[1].tv_nsec = UTIME_OMIT;
    else if (fst & W_FST_MTIM_NOW) ts[1].tv_nsec = UTIME_NOW;
    return 0;
}

int64_t wasi_fd_install(qv_wasi *w, const wasi_fd *entry)
{
    uint32_t fd = 3;
    while (fd < w->nfds && w->fds[fd].kind != FD_CLOSED) fd++;
    if (fd >= w->nfds) {
        uint32_t n = w->nfds ? w->nfds * 2 : 16;
        if (n > MAX_FDS) n = MAX_FDS;
        wasi_fd *grown = n > w->nfds ? realloc(w->fds, n * sizeof *grown) : NULL;
        if (!grown) {
            wasi_fd tmp = *entry;
            wasi_fd_release(&tmp);
            return -1;
        }
        memset(grown + w->nfds, 0, (n - w->nfds) * sizeof *grown);
        w->fds = grown;
        w->nfds = n;
    }
    w->fds[fd] = *entry;
    return fd;
}

void wasi_fd_release(wasi_fd *e)
{
    if (e->kind == FD_CLOSED) return;
    if (e->stream) closedir(e->stream);
    if (e->host >= 0) close(e->host);
    free(e->rel);
    memset(e, 0, sizeof *e);
}

uint8_t wasi_filetype_of(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return W_FT_REGULAR_FILE;
    case S_IFDIR: return W_FT_DIRECTORY;
    case S_IFLNK: return W_FT_SYMBOLIC_LINK;
    case S_IFCHR: return W_FT_CHARACTER_DEVICE;
    case S_IFBLK: return W_FT_BLOCK_DEVICE;
    case S_IFSOCK: return W_FT_SOCKET_STREAM;
    default: return W_FT_UNKNOWN; /* FIFOs have no WASI type */
    }
}
