/*
 * wasi_args.c — args_*, environ_*, proc_exit, proc_raise, sched_yield and
 * random_get.
 */
#include <errno.h>
#include <sched.h>
#include <sys/random.h>

#include "wasi/host.h"

/* Write the strings as the C runtime expects: an array of pointers at
 * `ptrs`, the NUL-terminated strings back to back at `buf`. */
static int put_strings(qv_caller *c, char **s, size_t n, uint32_t ptrs, uint32_t buf)
{
    uint8_t *p = wasi_mem(c, ptrs, (uint64_t)n * 4);
    if (!p) return W_EFAULT;
    uint64_t at = buf;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s[i]) + 1;
        uint8_t *dst = wasi_mem(c, at, len);
        if (!dst) return W_EFAULT;
        memcpy(dst, s[i], len);
        put_u32(p + i * 4, (uint32_t)at);
        at += len;
    }
    return 0;
}

static int put_sizes(qv_caller *c, char **s, size_t n, uint32_t count_ptr, uint32_t size_ptr)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += strlen(s[i]) + 1;
    if (total > UINT32_MAX) return W_EOVERFLOW;
    int err = wasi_store_u32(c, count_ptr, (uint32_t)n);
    return err ? err : wasi_store_u32(c, size_ptr, (uint32_t)total);
}

static WASI_FN(args_get)
{
    qv_wasi *w = env;
    WASI_RETURN(put_strings(c, w->args, w->nargs, A32(0), A32(1)));
}

static WASI_FN(args_sizes_get)
{
    qv_wasi *w = env;
    WASI_RETURN(put_sizes(c, w->args, w->nargs, A32(0), A32(1)));
}

static WASI_FN(environ_get)
{
    qv_wasi *w = env;
    WASI_RETURN(put_strings(c, w->env, w->nenv, A32(0), A32(1)));
}

static WASI_FN(environ_sizes_get)
{
    qv_wasi *w = env;
    WASI_RETURN(put_sizes(c, w->env, w->nenv, A32(0), A32(1)));
}

static WASI_FN(proc_exit)
{
    return qv_trap_new_exit(a[0].of.i32);
}

/* Signals are not part of the sandbox: a guest cannot signal its host. */
static WASI_FN(proc_raise)
{
    WASI_RETURN(W_ENOSYS);
}

static WASI_FN(sched_yield)
{
    sched_yield();
    WASI_RETURN(0);
}

#define RANDOM_STEP ((size_t)1 << 20)

static WASI_FN(random_get)
{
    uint8_t *p = wasi_mem(c, A32(0), A32(1));
    if (!p) WASI_RETURN(W_EFAULT);
    size_t len = A32(1);
    /* In steps of a millisecond or so, looking at the deadline between
     * them: 4 GiB of random bytes take seconds. */
    while (len > 0) {
        if (qv_store_interrupted(qv_caller_store(c))) WASI_RETURN(W_EINTR);
        ssize_t n = getrandom(p, len < RANDOM_STEP ? len : RANDOM_STEP, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            WASI_RETURN(wasi_errno(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    WASI_RETURN(0);
}

const wasi_import wasi_args_imports[] = {
    {"args_get", "ii:i", wasi_fn_args_get},
    {"args_sizes_get", "ii:i", wasi_fn_args_sizes_get},
    {"environ_get", "ii:i", wasi_fn_environ_get},
    {"environ_sizes_get", "ii:i", wasi_fn_environ_sizes_get},
    {"proc_exit", "i:", wasi_fn_proc_exit},
    {"proc_raise", "i:i", wasi_fn_proc_raise},
    {"sched_yield", ":i", wasi_fn_sched_yield},
    {"random_get", "ii:i", wasi_fn_random_get},
    {NULL, NULL, NULL},
};
