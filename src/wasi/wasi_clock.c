/*
 * wasi_clock.c — clock_res_get and clock_time_get (nanoseconds).
 */
#include <errno.h>
#include <time.h>

#include "wasi/host.h"

static int host_clock(uint32_t id, clockid_t *out)
{
    switch (id) {
    case W_CLOCK_REALTIME: *out = CLOCK_REALTIME; return 0;
    case W_CLOCK_MONOTONIC: *out = CLOCK_MONOTONIC; return 0;
    case W_CLOCK_PROCESS_CPUTIME: *out = CLOCK_PROCESS_CPUTIME_ID; return 0;
    case W_CLOCK_THREAD_CPUTIME: *out = CLOCK_THREAD_CPUTIME_ID; return 0;
    default: return W_EINVAL;
    }
}

static WASI_FN(clock_res_get)
{
    clockid_t id;
    struct timespec ts;
    int err = host_clock(A32(0), &id);
    if (err) WASI_RETURN(err);
    if (clock_getres(id, &ts) != 0) WASI_RETURN(wasi_errno(errno));
    WASI_RETURN(wasi_store_u64(c, A32(1), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec));
}

static WASI_FN(clock_time_get)
{
    clockid_t id;
    struct timespec ts;
    int err = host_clock(A32(0), &id);
    if (err) WASI_RETURN(err);
    if (clock_gettime(id, &ts) != 0) WASI_RETURN(wasi_errno(errno));
    WASI_RETURN(wasi_store_u64(c, A32(2), (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec));
}

const wasi_import wasi_clock_imports[] = {
    {"clock_res_get", "ii:i", wasi_fn_clock_res_get},
    {"clock_time_get", "iIi:i", wasi_fn_clock_time_get},
    {NULL, NULL, NULL},
};
