/*
 * wasi_wait.c — every wait of the WASI host, bounded by the guest's
 * deadline. A guest may sleep in poll_oneoff, or read a pipe nobody
 * writes; its timeout (qv_store_interrupt, from a watchdog thread) must
 * still stop it within milliseconds. So waits are sliced: poll for at most
 * WAIT_SLICE_NS at a time and look at the store's interrupt flag between
 * slices. A slice costs a wake-up per millisecond or two of waiting, far
 * less than a descriptor per store to wake us would (and no descriptor
 * can outlive the store it belongs to).
 */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "wasi/host.h"

#define WAIT_SLICE_NS 2000000

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int wasi_wait(qv_caller *c, struct pollfd *fds, size_t nfds, int64_t timeout_ns)
{
    return wasi_wait_store(qv_caller_store(c), fds, nfds, timeout_ns);
}

int wasi_wait_store(const qv_store *store, struct pollfd *fds, size_t nfds, int64_t timeout_ns)
{
    uint64_t end = timeout_ns < 0 ? UINT64_MAX : monotonic_ns() + (uint64_t)timeout_ns;
    for (;;) {
        if (qv_store_interrupted(store)) return WASI_WAIT_INTERRUPTED;
        uint64_t now = monotonic_ns(), left = end > now ? end - now : 0;
        uint64_t slice = left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS;
        struct timespec ts = {0, (long)slice};
        int n = ppoll(fds, nfds, &ts, NULL);
        if (n < 0 && errno == EINTR) continue;
        if (n != 0 || left <= WAIT_SLICE_NS) return n;
    }
}

int wasi_wait_fd(const qv_store *store, int fd, bool for_write)
{
    struct pollfd p = {.fd = fd, .events = for_write ? POLLOUT : POLLIN};
    int n = wasi_wait_store(store, &p, 1, -1);
    if (n == WASI_WAIT_INTERRUPTED) return W_EINTR;
    if (n < 0) return wasi_errno(errno);
    /* Ready, or an error or hang-up the transfer itself will report. */
    return 0;
}

int wasi_wait_ready(qv_caller *c, const wasi_fd *e, bool for_write)
{
    if (e->kind == FD_MEMORY || e->filetype == W_FT_REGULAR_FILE || e->filetype == W_FT_DIRECTORY ||
        (e->fdflags & W_FDFLAG_NONBLOCK))
        return 0;
    return wasi_wait_fd(qv_caller_store(c), e->host, for_write);
}

size_t wasi_iovecs_limit(struct iovec *v, int *count, size_t max)
{
    size_t total = 0;
    for (int i = 0; i < *count; i++) {
        if (v[i].iov_len >= max - total) {
            v[i].iov_len = max - total;
            *count = i + 1;
            return max;
        }
        total += v[i].iov_len;
    }
    return total;
}
