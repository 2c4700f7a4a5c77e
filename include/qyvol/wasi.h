/*
 * qyvol/wasi.h — the WASI preview 1 host (`wasi_snapshot_preview1`, and
 * `wasi_unstable` where its ABI is the same) for modules run by the engine of
 * qyvol/wasm.h.
 *
 * Usage:
 *     qv_wasi_config cfg = {.args = argv, .nargs = n, ...};
 *     qv_wasi *wasi = qv_wasi_new(&cfg, err, sizeof err);
 *     qv_wasi_define(wasi, linker);            // every WASI import
 *     inst = qv_linker_instantiate(linker, module, &trap, &error);
 *     int status = qv_wasi_run(wasi, store, inst, &trap);  // calls _start
 *     qv_wasi_delete(wasi);
 * or, for many instances of one module, qv_wasi_pre below.
 *
 * The sandbox: the guest sees only the directories in `preopens`. Every path
 * it names is resolved beneath the directory it is relative to — `..`,
 * absolute paths and symbolic links (absolute, or relative ones leading out)
 * cannot leave it — with openat2(RESOLVE_BENEATH) where the kernel has it and
 * an equivalent component-by-component walk otherwise. A grant's access is
 * enforced by the host whatever rights the guest asks for. Host errors are
 * mapped to WASI errno values; host descriptors never leak to the guest or
 * outlive qv_wasi_delete().
 */
#ifndef QYVOL_WASI_H
#define QYVOL_WASI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a pre-opened directory allows. */
enum {
    QV_WASI_READ = 1,   /* open and read files, list folders */
    QV_WASI_WRITE = 2,  /* create, write, rename, delete */
};

typedef struct qv_wasi_preopen {
    const char *host_path;   /* a host directory (with has_dir_fd: only its name, for messages) */
    const char *guest_path;  /* the name the guest sees, e.g. "/app" or "/" */
    unsigned access;         /* QV_WASI_READ | QV_WASI_WRITE */
    /* Paths below guest_path (guest syntax, e.g. "/app/secrets") that the
     * guest must not see: they look absent and listings leave them out. */
    const char *const *hidden;
    size_t nhidden;
    /* Grant this open directory (any descriptor of it, O_PATH too; the
     * context takes its own) instead of opening host_path: the folder an
     * embedder checked, whatever the path names by now. */
    bool has_dir_fd;
    int dir_fd;
} qv_wasi_preopen;

typedef struct qv_wasi_config {
    const char *const *args;  /* argv, args[0] being the program name */
    size_t nargs;
    const char *const *env;   /* "KEY=VALUE" strings: the whole environment */
    size_t nenv;
    const qv_wasi_preopen *preopens;
    size_t npreopens;
    /* Host descriptors behind the guest's fds 0, 1 and 2 (dup'ed; the
     * caller keeps its own, open until qv_wasi_delete, which puts back
     * their file status flags should the guest have changed them, e.g.
     * O_NONBLOCK on a terminal). -1 gives the guest a closed descriptor. */
    int stdin_fd, stdout_fd, stderr_fd;
    /* Use the portable path walk even where openat2 exists (for tests). */
    bool no_openat2;
    /* Stdio in memory instead of host descriptors (what a server running
     * an instance per request wants: no system calls). When set, fd 0
     * reads stdin_data (borrowed: it must outlive the context), and what
     * the guest writes to fd 1 and 2 is kept, up to max_output bytes each
     * (0: 64 MiB; past it writes fail with EFBIG), for qv_wasi_output().
     * The buffers count against the calling store's memory budget
     * (qv_store_limits.max_bytes): past it, writes fail with EFBIG too.
     * These descriptors cannot seek and look like pipes. stdin_fd,
     * stdout_fd and stderr_fd are then ignored. */
    bool stdio_in_memory;
    const void *stdin_data;
    size_t stdin_len;
    size_t max_output;
} qv_wasi_config;

typedef struct qv_wasi qv_wasi;

/* Opens the pre-opened directories; on failure returns NULL with a message
 * naming the directory and the reason in err. */
qv_wasi *qv_wasi_new(const qv_wasi_config *config, char *err, size_t errlen);
void qv_wasi_delete(qv_wasi *wasi);

/* Define every WASI function in `linker` under both module names. The
 * functions refer to `wasi`, which must outlive the instances using it. */
bool qv_wasi_define(qv_wasi *wasi, qv_linker *linker);

/* One module instantiated many times (a server's fresh instance per
 * request): its imports are resolved to WASI functions once, and each
 * instance then creates only the few host functions the module imports
 * instead of defining every WASI name in a linker.
 *     qv_wasi_pre *pre = qv_wasi_pre_new(module, err, sizeof err);  // once
 *     inst = qv_wasi_pre_instantiate(pre, wasi, store, &trap, &error); // each time
 * qv_wasi_pre_new fails, naming the import, when the module imports
 * anything but WASI functions of the right types. The module must outlive
 * `pre`; a qv_wasi_pre may be used by several threads at once. */
typedef struct qv_wasi_pre qv_wasi_pre;
qv_wasi_pre *qv_wasi_pre_new(const qv_module *module, char *err, size_t errlen);
void qv_wasi_pre_delete(qv_wasi_pre *pre);
/* As qv_wasi_define + qv_linker_instantiate: NULL with *trap set if the
 * start function trapped, or with err set if instantiation failed. */
qv_instance *qv_wasi_pre_instantiate(const qv_wasi_pre *pre, qv_wasi *wasi, qv_store *store, qv_trap **trap,
                                     qv_error *err);

/* With stdio_in_memory: what the guest wrote to fd 1 or 2 (even if it
 * closed them since). The pointer stays valid until qv_wasi_delete; *full
 * (may be NULL) tells whether max_output was reached. */
const char *qv_wasi_output(const qv_wasi *wasi, int fd, size_t *len, bool *full);

/* Open `path` beneath directory `dir` by the sandbox's rules: no `..`
 * above it, no absolute path, no symbolic link (absolute, or relative and
 * leading out) or /proc magic link out of it; symbolic links that stay
 * inside are followed, the last component's too. For embedders checking
 * the paths they are given (an app's manifest names its module and
 * folders). `flags` as for openat (O_CLOEXEC is added); no_openat2 uses
 * the portable walk (for tests). A descriptor, or -1 with errno: EXDEV for
 * a way out (ELOOP past 40 links). */
int qv_wasi_open_beneath(int dir, const char *path, int flags, bool no_openat2);

/* Call the instance's `_start` export. Returns the guest's exit status (0
 * when _start returns, the proc_exit code otherwise), or -1 with *trap set
 * when it trapped (the caller owns the trap) or when there is no _start
 * (then *trap is a QV_TRAP_HOST trap saying so). */
int qv_wasi_run(qv_wasi *wasi, qv_store *store, qv_instance *instance, qv_trap **trap);

/* ---------------------------------------------------------------- WASI 0.2 */

/* WASI 0.2 (preview 2) for components, on the same context and sandbox:
 * defines in `host` the interfaces wasi:cli (environment, exit, stdin,
 * stdout, stderr, terminal-*), wasi:io (error, poll, streams),
 * wasi:clocks (monotonic-clock, wall-clock), wasi:random (random,
 * insecure, insecure-seed) and wasi:filesystem (types, preopens), matching
 * any 0.2.x import. `wasi` must outlive the instances using them.
 * With wasi NULL the host serves any number of contexts: each instance
 * uses the one given by qv_wasip2_bind (define once per process, bind per
 * instance). */
struct qv_chost;
struct qv_cinstance;
bool qv_wasip2_define(qv_wasi *wasi, struct qv_chost *host);
/* The context of an instance of a host defined with wasi NULL (it is the
 * instance's qv_cinstance_set_data). */
void qv_wasip2_bind(struct qv_cinstance *instance, qv_wasi *wasi);
/* Call the component's wasi:cli/run export: as qv_wasi_run, the exit
 * status (0 for ok, 1 for err, N for exit-with-code) or -1 with *trap.
 * Binds `wasi` to the instance first. */
int qv_wasip2_run(qv_wasi *wasi, struct qv_cinstance *instance, qv_trap **trap);

#ifdef __cplusplus
}
#endif
#endif
