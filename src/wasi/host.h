/*
 * host.h — internals of the WASI host shared by its files: the context, the
 * descriptor table, guest-memory access, path resolution and errno mapping.
 * Each wasi_*.c file implements one group of WASI functions.
 */
#ifndef QYVOL_WASI_HOST_H
#define QYVOL_WASI_HOST_H

#include <dirent.h>
#include <sys/uio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "qyvol/wasi.h"
#include "wasi/abi.h"

/* A pre-opened directory's policy, shared by every descriptor opened
 * beneath it. */
typedef struct wasi_grant {
    char *guest_path;       /* as the guest sees it, e.g. "/app" */
    unsigned access;        /* QV_WASI_READ | QV_WASI_WRITE */
    char **hidden;          /* paths relative to the grant's root, canonical */
    size_t nhidden;
    int root;               /* O_PATH descriptor of the grant's root */
} wasi_grant;

typedef enum wasi_fd_kind {
    FD_CLOSED = 0,
    FD_FILE,                /* regular file, device, pipe, tty... */
    FD_DIR,
    FD_SOCKET,
    FD_MEMORY,              /* in-memory stdio (qv_wasi_config.stdio_in_memory) */
} wasi_fd_kind;

/* The bytes behind an FD_MEMORY descriptor: stdin's are borrowed, the
 * outputs are the context's (they outlive the descriptors). */
typedef struct wasi_membuf {
    char *data;
    size_t len, cap, pos, max;
    bool full;              /* a write did not fit under max (or the store's budget) */
} wasi_membuf;

typedef struct wasi_fd {
    wasi_fd_kind kind;
    int host;               /* owned host descriptor */
    uint8_t filetype;       /* WASI filetype */
    uint16_t fdflags;       /* WASI fdflags as last set */
    uint64_t rights_base;
    uint64_t rights_inheriting;
    const wasi_grant *grant;/* the grant it descends from; NULL for stdio */
    bool preopen;           /* fd_prestat_get describes it */
    char *rel;              /* directories: path from the grant's root ("" = root) */
    wasi_membuf *mem;       /* FD_MEMORY: its bytes */
    DIR *stream;            /* directories: open listing, for fd_readdir */
    uint64_t stream_pos;    /* cookie the stream is positioned at */
} wasi_fd;

struct qv_wasi {
    char **args;
    size_t nargs;
    char **env;
    size_t nenv;
    wasi_grant *grants;
    size_t ngrants;
    wasi_fd *fds;
    uint32_t nfds;          /* allocated entries */
    bool no_openat2;
    /* The caller's stdio descriptors and their file status flags, put back
     * when the context is deleted: the guest may set O_NONBLOCK or
     * O_APPEND, which the open file description shares with the caller
     * (and with the terminal's other users). -1 when not given. */
    int stdio_host[3];
    int stdio_flags[3];
    wasi_membuf mem[3];     /* stdio_in_memory: stdin, stdout, stderr */
    struct qv_http_exchange *http; /* wasi:http's (qv_wasi_http_attach), or NULL */
    /* Called with http before the guest waits (p2_before_wait): set with
     * it, so that WASI alone does not depend on wasi:http. */
    void (*before_wait)(struct qv_http_exchange *http);
};

/* FD_MEMORY reads and writes (a pipe-like stream). */
int wasi_mem_read(wasi_membuf *b, const struct iovec *v, int n, size_t *done);
/* Growing an output's buffer is charged to `store`'s memory budget
 * (qv_store_charge): what a guest writes counts as memory it takes. */
int wasi_mem_write(wasi_membuf *b, qv_store *store, const struct iovec *v, int n, size_t *done);

/* ------------------------------------------------------------ descriptors */

/* The entry of guest fd `fd`, or NULL if it is not open. */
wasi_fd *wasi_fd_get(qv_wasi *w, uint32_t fd);
/* Look up an fd and check it has `rights`: returns 0 or a WASI errno
 * (EBADF for no such fd, ENOTCAPABLE for missing rights). */
int wasi_fd_check(qv_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out);
/* The same for file I/O: a directory is refused with EISDIR before its
 * rights are looked at, as POSIX would. */
int wasi_file_fd(qv_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out);
/* Write a WASI filestat for a host stat, in the preview 1 layout or the
 * older wasi_unstable one. */
struct stat;
struct timespec;
void wasi_put_filestat(uint8_t *p, const struct stat *st, bool unstable);
/* Host utimensat times for WASI (atim, mtim, fstflags): 0 or EINVAL. */
int wasi_times(uint64_t atim, uint64_t mtim, uint32_t fstflags, struct timespec ts[2]);
/* Install a new entry at the lowest free number >= 3; its host descriptor
 * is owned from then on. Returns the number, or -1 (EMFILE) after closing
 * the host descriptor. */
int64_t wasi_fd_install(qv_wasi *w, const wasi_fd *entry);
void wasi_fd_release(wasi_fd *e);
/* WASI filetype of a host stat mode. */
uint8_t wasi_filetype_of(uint32_t mode);

/* ------------------------------------------------------------ errno */

/* WASI errno for a host errno value. */
int wasi_errno(int host_errno);

/* ------------------------------------------------------------ guest memory */

/* Pointer to [off, off+len) in guest memory, or NULL if out of bounds. */
static inline uint8_t *wasi_mem(qv_caller *c, uint64_t off, uint64_t len)
{
    qv_memory *m = qv_caller_memory(c);
    if (!m) return NULL;
    uint64_t size = qv_memory_size(m);
    if (off > size || len > size - off) return NULL;
    return qv_memory_data(m) + off;
}
static inline void put_u8(uint8_t *p, uint8_t v) { p[0] = v; }
static inline void put_u16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
/* Store a u32/u64 result at a guest address: 0 or EFAULT. */
int wasi_store_u32(qv_caller *c, uint32_t addr, uint32_t v);
int wasi_store_u64(qv_caller *c, uint32_t addr, uint64_t v);

/* Gather a guest iovec array into host iovecs (at most IOV_MAX entries).
 * Returns 0 or a WASI errno. */
struct iovec;
int wasi_iovecs(qv_caller *c, uint32_t iovs, uint32_t n, struct iovec *out, int *count);

/* ------------------------------------------------------------ waiting (wasi_wait.c) */

/* What one read or write may move: a short transfer is always allowed,
 * and a long one would keep a guest past its deadline. */
#define WASI_MAX_TRANSFER ((size_t)4 << 20)
/* Trim an iovec list to at most `max` bytes; returns its new total. */
size_t wasi_iovecs_limit(struct iovec *v, int *count, size_t max);

/* Like ppoll on fds for at most timeout_ns (< 0: no limit), but returns
 * WASI_WAIT_INTERRUPTED as soon as the store is interrupted (within a
 * couple of milliseconds). Otherwise ppoll's result. */
#define WASI_WAIT_INTERRUPTED (-2)
struct pollfd;
int wasi_wait(qv_caller *c, struct pollfd *fds, size_t nfds, int64_t timeout_ns);
/* The same for a store (WASI 0.2's host functions have no qv_caller). */
int wasi_wait_store(const qv_store *store, struct pollfd *fds, size_t nfds, int64_t timeout_ns);
/* Wait until a read (or a write) on fd would not block: 0, W_EINTR when
 * the store is interrupted, or a WASI errno. */
int wasi_wait_fd(const qv_store *store, int fd, bool for_write);
/* Before a read or write that could block (pipes, terminals, sockets; not
 * regular files, in-memory stdio or non-blocking descriptors): wait until
 * it would not. 0 or a WASI errno (EINTR when interrupted). */
int wasi_wait_ready(qv_caller *c, const wasi_fd *e, bool for_write);

/* ------------------------------------------------------------ paths */

/* Where a guest path leads: `dir` is a host directory descriptor (owned)
 * and `name` the last component in it (never empty, no '/'; "." when the
 * path names the directory itself). `rel` is the canonical path of
 * dir/name from the grant's root. */
typedef struct wasi_path {
    int dir;
    char name[256];
    char *rel;
    bool trailing_slash;    /* the guest path ended with '/' */
} wasi_path;

/* Resolve guest path bytes [path, path+len) relative to directory entry `d`:
 * every component but the last is followed (symbolic links included, never
 * out of the grant); the last is not. Trailing slashes are cut from `name`
 * and noted in trailing_slash: wasi_path_name() puts one back for the calls
 * that never follow their last component. Returns 0 or a WASI errno: EPERM for
 * absolute paths and escapes, EINVAL for NUL bytes, ENOENT for hidden paths.
 * On success the caller must wasi_path_free(). */
int wasi_path_resolve(qv_wasi *w, const wasi_fd *d, qv_caller *c, uint32_t path, uint32_t len,
                      wasi_path *out);
/* Like wasi_path_resolve, then also follow the last component if it is a
 * symbolic link (repeatedly, staying in the grant). */
int wasi_path_resolve_follow(qv_wasi *w, const wasi_fd *d, qv_caller *c, uint32_t path,
                             uint32_t len, wasi_path *out);
/* The same for a path the host already holds (WASI 0.2 passes strings),
 * following the last component too when `follow`. */
int wasi_path_resolve_bytes(qv_wasi *w, const wasi_fd *d, const char *path, size_t len, bool follow, wasi_path *out);
void wasi_path_free(wasi_path *p);
/* name, with a '/' appended when the guest wrote one (into buf). */
const char *wasi_path_name(const wasi_path *p, char buf[258]);
/* Is canonical path `rel` hidden in grant g (or below a hidden path)? */
bool wasi_path_hidden(const wasi_grant *g, const char *rel);
/* Is `rel` a hidden path or a folder above one? Such folders cannot be
 * renamed: hiding is by path, and a rename would carry the hidden files
 * out from under their exclude. */
bool wasi_path_holds_hidden(const wasi_grant *g, const char *rel);

/* ------------------------------------------------------------ functions */

/* A WASI import: name, its signature as a string of 'i'/'I' (i32/i64) params
 * then ':' and results, and the host function. */
typedef struct wasi_import {
    const char *name;
    const char *sig;
    qv_host_fn fn;
} wasi_import;

#define WASI_FN(name) qv_trap *wasi_fn_##name(qv_caller *c, void *env, const qv_val *a, qv_val *r)
/* Most functions return an errno as their single i32 result. */
#define WASI_RETURN(err) do { r[0] = qv_i32(err); return NULL; } while (0)
#define A32(i) ((uint32_t)a[i].of.i32)
#define A64(i) ((uint64_t)a[i].of.i64)

/* The tables of each group, ending with a {NULL} entry. */
extern const wasi_import wasi_args_imports[];
extern const wasi_import wasi_clock_imports[];
extern const wasi_import wasi_fd_imports[];
extern const wasi_import wasi_fdstat_imports[];
extern const wasi_import wasi_dir_imports[];
extern const wasi_import wasi_path_imports[];
extern const wasi_import wasi_poll_imports[];
extern const wasi_import wasi_sock_imports[];
/* The wasi_unstable versions of the functions whose ABI changed. */
extern const wasi_import wasi_unstable_imports[];

#endif
