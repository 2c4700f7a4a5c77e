/*
 * ctx.c — creating and running a WASI context: arguments, environment,
 * stdio and pre-opened directories; calling _start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi/host.h"

/* A copy of n strings in one allocation (the pointers, then the bytes):
 * free() it. A context is made per request by servers. */
static char **copy_strings(const char *const *src, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(src[i] ? src[i] : "") + 1;
    char **out = malloc((n ? n : 1) * sizeof *out + bytes);
    if (!out) return NULL;
    char *at = (char *)(out + (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const char *str = src[i] ? src[i] : "";
        size_t len = strlen(str) + 1;
        out[i] = memcpy(at, str, len);
        at += len;
    }
    return out;
}

static void free_strings(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* Install host descriptor `host` (dup'ed) as guest fd `fd` (0, 1 or 2). */
static bool install_stdio(qv_wasi *w, uint32_t fd, int host)
{
    w->stdio_host[fd] = host;
    w->stdio_flags[fd] = host < 0 ? -1 : fcntl(host, F_GETFL);
    if (host < 0) return true;
    int dup = fcntl(host, F_DUPFD_CLOEXEC, 3);
    if (dup < 0) return false;
    struct stat st;
    if (fstat(dup, &st) != 0) {
        close(dup);
        return false;
    }
    wasi_fd *e = &w->fds[fd];
    e->host = dup;
    e->kind = S_ISSOCK(st.st_mode) ? FD_SOCKET : FD_FILE;
    e->filetype = wasi_filetype_of(st.st_mode);
    e->rights_base = e->kind == FD_SOCKET ? R_SOCKET : R_STDIO;
    if (S_ISREG(st.st_mode)) e->rights_base |= R_FD_SEEK | R_FD_TELL;
    e->rights_inheriting = 0;
    int fl = fcntl(dup, F_GETFL);
    if (fl >= 0 && (fl & O_APPEND)) e->fdflags |= W_FDFLAG_APPEND;
    if (fl >= 0 && (fl & O_NONBLOCK)) e->fdflags |= W_FDFLAG_NONBLOCK;
    return true;
}

/* Stdio in memory: fd 0 reads the given bytes, 1 and 2 collect output. */
static void install_memory_stdio(qv_wasi *w, const qv_wasi_config *cfg)
{
    size_t max = cfg->max_output ? cfg->max_output : (size_t)64 << 20;
    w->mem[0] = (wasi_membuf){.data = (char *)cfg->stdin_data, .len = cfg->stdin_data ? cfg->stdin_len : 0};
    w->mem[1].max = w->mem[2].max = max;
    static const uint64_t rights[3] = {R_FD_READ, R_FD_WRITE, R_FD_WRITE};
    for (int fd = 0; fd < 3; fd++)
        w->fds[fd] = (wasi_fd){
            .kind = FD_MEMORY,
            .host = -1,
            .filetype = W_FT_UNKNOWN,
            .rights_base = rights[fd] | R_FD_FILESTAT_GET | R_FD_FDSTAT_SET_FLAGS | R_POLL_FD_READWRITE,
            .mem = &w->mem[fd],
        };
}

const char *qv_wasi_output(const qv_wasi *w, int fd, size_t *len, bool *full)
{
    const wasi_membuf *b = fd == 1 || fd == 2 ? &w->mem[fd] : NULL;
    *len = b ? b->len : 0;
    if (full) *full = b && b->full;
    return b && b->data ? b->data : "";
}

int wasi_mem_read(wasi_membuf *b, const struct iovec *v, int n, size_t *done)
{
    size_t total = 0;
    for (int i = 0; i < n && b->pos < b->len; i++) {
        size_t k = b->len - b->pos < v[i].iov_len ? b->len - b->pos : v[i].iov_len;
        memcpy(v[i].iov_base, b->data + b->pos, k);
        b->pos += k;
        total += k;
    }
    *done = total;
    return 0;
}

/* Make room for `need` bytes in b, charging the growth to the store:
 * doubling when the budget allows, exactly what is needed otherwise.
 * false when the budget or the allocator refuses. */
static bool grow_output(wasi_membuf *b, qv_store *store, size_t need)
{
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap *= 2;
    if (cap > b->max) cap = b->max;
    if (!qv_store_charge(store, cap - b->cap)) {
        cap = need;
        if (!qv_store_charge(store, cap - b->cap)) return false;
    }
    char *grown = realloc(b->data, cap);
    if (!grown) return false;
    b->data = grown;
    b->cap = cap;
    return true;
}

int wasi_mem_write(wasi_membuf *b, qv_store *store, const struct iovec *v, int n, size_t *done)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t k = v[i].iov_len;
        if (k > b->max - b->len) {
            k = b->max - b->len;
            b->full = true;
        }
        if (b->len + k > b->cap && !grow_output(b, store, b->len + k)) {
            /* Past the instance's memory limit: as full as at max. */
            b->full = true;
            break;
        }
        if (k) memcpy(b->data + b->len, v[i].iov_base, k); /* data may still be NULL when k is 0 */
        b->len += k;
        total += k;
        if (k < v[i].iov_len) break;
    }
    *done = total;
    return total || !n || !v[0].iov_len ? 0 : W_EFBIG;
}

/* "/app/data/x/" below grant "/app" → "data/x"; NULL if not strictly below. */
static char *relative_to_grant(const char *grant, const char *path)
{
    size_t n = strlen(grant);
    while (n > 0 && grant[n - 1] == '/') n--;
    if (strncmp(path, grant, n) != 0 || path[n] != '/') return NULL;
    const char *rel = path + n;
    while (*rel == '/') rel++;
    char *out = strdup(rel);
    if (!out) return NULL;
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '/') out[--len] = 0;
    if (!len) {
        free(out);
        return NULL;
    }
    return out;
}

static bool open_grant(qv_wasi *w, const qv_wasi_preopen *p, wasi_grant *g, char *err, size_t errlen)
{
    g->root = -1;
    if (!p->host_path || !p->guest_path || !*p->guest_path) {
        snprintf(err, errlen, "a pre-opened directory needs a host path and a guest path");
        return false;
    }
    g->guest_path = strdup(p->guest_path);
    g->access = p->access & (QV_WASI_READ | QV_WASI_WRITE);
    if (!g->guest_path) goto nomem;
    if (p->has_dir_fd) {
        /* The embedder's checked folder: never opened again by name. */
        g->root = fcntl(p->dir_fd, F_DUPFD_CLOEXEC, 3);
        if (g->root >= 0) {
            struct stat st;
            if (fstat(g->root, &st) != 0 || !S_ISDIR(st.st_mode)) {
                close(g->root);
                g->root = -1;
                errno = ENOTDIR;
            }
        }
    } else {
        g->root = open(p->host_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    int dir = g->root < 0 ? -1 : openat(g->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        snprintf(err, errlen, "cannot open directory %s: %s", p->host_path, strerror(errno));
        return false;
    }
    if (p->nhidden) {
        g->hidden = calloc(p->nhidden, sizeof *g->hidden);
        if (!g->hidden) {
            close(dir);
            goto nomem;
        }
        for (size_t i = 0; i < p->nhidden; i++) {
            g->hidden[i] = relative_to_grant(p->guest_path, p->hidden[i]);
            if (!g->hidden[i]) {
                snprintf(err, errlen, "hidden path %s is not below %s", p->hidden[i], p->guest_path);
                close(dir);
                return false;
            }
            g->nhidden = i + 1;
        }
    }
    uint64_t dir_rights = 0;
    if (g->access & QV_WASI_READ) dir_rights |= R_DIR_READ;
    if (g->access & QV_WASI_WRITE) dir_rights |= R_DIR_WRITE;
    wasi_fd e = {
        .kind = FD_DIR,
        .host = dir,
        .filetype = W_FT_DIRECTORY,
        .rights_base = dir_rights,
        /* Every right may be asked for below: path_open refuses what the
         * grant does not allow with a clear EROFS / EACCES, rather than
         * quietly handing out a descriptor that fails at its first use
         * (which is what wasi-libc, masking its request with these, would
         * otherwise get). */
        .rights_inheriting = R_DIR_READ | R_DIR_WRITE | R_FILE_READ | R_FILE_WRITE,
        .grant = g,
        .preopen = true,
        .rel = strdup(""),
    };
    if (!e.rel || wasi_fd_install(w, &e) < 0) {
        snprintf(err, errlen, "out of memory or descriptors opening %s", p->host_path);
        return false;
    }
    return true;
nomem:
    snprintf(err, errlen, "out of memory");
    return false;
}

qv_wasi *qv_wasi_new(const qv_wasi_config *cfg, char *err, size_t errlen)
{
    qv_wasi *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->no_openat2 = cfg->no_openat2;
    for (int i = 0; i < 3; i++) w->stdio_host[i] = w->stdio_flags[i] = -1;
    w->nfds = 16;
    w->fds = calloc(w->nfds, sizeof *w->fds);
    w->args = copy_strings(cfg->args, cfg->nargs);
    w->env = copy_strings(cfg->env, cfg->nenv);
    w->grants = calloc(cfg->npreopens ? cfg->npreopens : 1, sizeof *w->grants);
    if (!w->fds || !w->args || !w->env || !w->grants) {
        snprintf(err, errlen, "out of memory");
        qv_wasi_delete(w);
        return NULL;
    }
    w->nargs = cfg->nargs;
    w->nenv = cfg->nenv;
    if (cfg->stdio_in_memory) {
        install_memory_stdio(w, cfg);
    } else if (!install_stdio(w, 0, cfg->stdin_fd) || !install_stdio(w, 1, cfg->stdout_fd) ||
               !install_stdio(w, 2, cfg->stderr_fd)) {
        snprintf(err, errlen, "cannot set up stdio: %s", strerror(errno));
        qv_wasi_delete(w);
        return NULL;
    }
    for (size_t i = 0; i < cfg->npreopens; i++) {
        w->ngrants = i + 1;
        if (!open_grant(w, &cfg->preopens[i], &w->grants[i], err, errlen)) {
            qv_wasi_delete(w);
            return NULL;
        }
    }
    return w;
}

void qv_wasi_delete(qv_wasi *w)
{
    if (!w) return;
    for (int i = 0; i < 3; i++)
        if (w->stdio_host[i] >= 0 && w->stdio_flags[i] >= 0) fcntl(w->stdio_host[i], F_SETFL, w->stdio_flags[i]);
    for (uint32_t i = 0; i < w->nfds; i++) wasi_fd_release(&w->fds[i]);
    free(w->fds);
    for (size_t i = 0; i < w->ngrants; i++) {
        wasi_grant *g = &w->grants[i];
        free(g->guest_path);
        free_strings(g->hidden, g->nhidden);
        if (g->root >= 0) close(g->root);
    }
    free(w->grants);
    free(w->mem[1].data);
    free(w->mem[2].data);
    free(w->args);
    free(w->env);
    free(w);
}

/* ------------------------------------------------------------ memory helpers */

int wasi_store_u32(qv_caller *c, uint32_t addr, uint32_t v)
{
    uint8_t *p = wasi_mem(c, addr, 4);
    if (!p) return W_EFAULT;
    put_u32(p, v);
    return 0;
}

int wasi_store_u64(qv_caller *c, uint32_t addr, uint64_t v)
{
    uint8_t *p = wasi_mem(c, addr, 8);
    if (!p) return W_EFAULT;
    put_u64(p, v);
    return 0;
}

int wasi_iovecs(qv_caller *c, uint32_t iovs, uint32_t n, struct iovec *out, int *count)
{
    if (n > IOV_MAX) return W_EINVAL;
    const uint8_t *v = wasi_mem(c, iovs, (uint64_t)n * W_IOVEC_SIZE);
    if (!v) return W_EFAULT;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t buf = get_u32(v + i * 8), len = get_u32(v + i * 8 + 4);
        uint8_t *p = wasi_mem(c, buf, len);
        if (!p) return W_EFAULT;
        out[i].iov_base = p;
        out[i].iov_len = len;
    }
    *count = (int)n;
    return 0;
}

int qv_wasi_run(qv_wasi *w, qv_store *store, qv_instance *inst, qv_trap **trap)
{
    (void)w;
    *trap = NULL;
    qv_extern start;
    if (!qv_instance_export(inst, "_start", &start) || start.kind != QV_EXTERN_FUNC) {
        *trap = qv_trap_new(QV_TRAP_HOST, "the module exports no _start function (not a WASI command)");
        return -1;
    }
    qv_functype t = qv_func_type(start.of.func);
    if (t.nparams || t.nresults) {
        *trap = qv_trap_new(QV_TRAP_HOST, "_start must take no parameters and return nothing");
        return -1;
    }
    qv_trap *tr = qv_func_call(store, start.of.func, NULL, 0, NULL, 0);
    if (!tr) return 0;
    if (qv_trap_kind_of(tr) == QV_TRAP_EXIT) {
        int status = qv_trap_exit_status(tr);
        qv_trap_delete(tr);
        return status;
    }
    *trap = tr;
    return -1;
}
