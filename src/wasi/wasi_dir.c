/*
 * wasi_dir.c — fd_readdir. A cookie is the number of entries already
 * returned; the open listing is kept on the descriptor so that reading a
 * directory from start to end costs one pass, and any other cookie rewinds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wasi/host.h"

static uint8_t dirent_type(DIR *dir, const struct dirent *ent)
{
    switch (ent->d_type) {
    case DT_REG: return W_FT_REGULAR_FILE;
    case DT_DIR: return W_FT_DIRECTORY;
    case DT_LNK: return W_FT_SYMBOLIC_LINK;
    case DT_CHR: return W_FT_CHARACTER_DEVICE;
    case DT_BLK: return W_FT_BLOCK_DEVICE;
    case DT_SOCK: return W_FT_SOCKET_STREAM;
    case DT_UNKNOWN: {
        struct stat st;
        if (fstatat(dirfd(dir), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) return wasi_filetype_of(st.st_mode);
        return W_FT_UNKNOWN;
    }
    default: return W_FT_UNKNOWN;
    }
}

/* The next entry the guest may see, or NULL at the end. */
static struct dirent *next_visible(const wasi_fd *e, DIR *dir)
{
    struct dirent *ent;
    while ((ent = readdir(dir))) {
        if (!e->grant || !e->grant->nhidden || !e->rel) return ent;
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) return ent;
        size_t n = strlen(e->rel);
        char *rel = malloc(n + strlen(ent->d_name) + 2);
        if (!rel) return ent;
        if (n) {
            memcpy(rel, e->rel, n);
            rel[n++] = '/';
        }
        strcpy(rel + n, ent->d_name);
        bool hide = wasi_path_hidden(e->grant, rel);
        free(rel);
        if (!hide) return ent;
    }
    return NULL;
}

static WASI_FN(fd_readdir)
{
    qv_wasi *w = env;
    wasi_fd *e = wasi_fd_get(w, A32(0));
    if (!e) WASI_RETURN(W_EBADF);
    if (e->kind != FD_DIR) WASI_RETURN(W_ENOTDIR);
    int err = wasi_fd_check(w, A32(0), R_FD_READDIR, &e);
    if (err) WASI_RETURN(err);
    uint32_t buf_len = A32(2);
    uint64_t cookie = A64(3);
    uint8_t *buf = wasi_mem(c, A32(1), buf_len);
    if (!buf) WASI_RETURN(W_EFAULT);
    if (!e->stream) {
        int fd = openat(e->host, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) WASI_RETURN(wasi_errno(errno));
        if (!(e->stream = fdopendir(fd))) {
            close(fd);
            WASI_RETURN(wasi_errno(errno));
        }
        e->stream_pos = 0;
    }
    if (cookie != e->stream_pos) {
        rewinddir(e->stream);
        e->stream_pos = 0;
        while (e->stream_pos < cookie && next_visible(e, e->stream)) e->stream_pos++;
    }
    uint32_t used = 0;
    while (used < buf_len) {
        long at = telldir(e->stream);
        errno = 0;
        struct dirent *ent = next_visible(e, e->stream);
        if (!ent) {
            if (errno) WASI_RETURN(wasi_errno(errno));
            break;
        }
        size_t namlen = strlen(ent->d_name);
        uint8_t head[W_DIRENT_SIZE] = {0};
        put_u64(head, e->stream_pos + 1);
        put_u64(head + 8, ent->d_ino);
        put_u32(head + 16, (uint32_t)namlen);
        put_u8(head + 20, dirent_type(e->stream, ent));
        uint32_t room = buf_len - used;
        uint32_t n = room < W_DIRENT_SIZE ? room : W_DIRENT_SIZE;
        memcpy(buf + used, head, n);
        used += n;
        room = buf_len - used;
        uint32_t m = room < namlen ? room : (uint32_t)namlen;
        memcpy(buf + used, ent->d_name, m);
        used += m;
        if (n < W_DIRENT_SIZE || m < namlen) {
            /* Cut short: the guest will ask again from this entry. */
            seekdir(e->stream, at);
            break;
        }
        e->stream_pos++;
    }
    WASI_RETURN(wasi_store_u32(c, A32(4), used));
}

const wasi_import wasi_dir_imports[] = {
    {"fd_readdir", "iiiIi:i", wasi_fn_fd_readdir},
    {NULL, NULL, NULL},
};
