/*
 * wasi_poll.c — poll_oneoff: clock subscriptions (relative or absolute, on
 * the realtime or monotonic clock) and read/write readiness of descriptors.
 * Regular files are always ready, as POSIX says; everything else is waited
 * for with ppoll.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasi/host.h"

/* A bound on one call's work: wasi-libc never asks for more than a few. */
#define MAX_SUBSCRIPTIONS 4096

static uint64_t now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_event(uint8_t *ev, uint64_t userdata, int err, uint8_t type, uint64_t nbytes, uint16_t flags)
{
    memset(ev, 0, W_EVENT_SIZE);
    put_u64(ev, userdata);
    put_u16(ev + 8, (uint16_t)err);
    put_u8(ev + 10, type);
    put_u64(ev + 16, nbytes);
    put_u16(ev + 24, flags);
}

/* Where a subscription's fields are: the layouts of the two ABIs. */
typedef struct sub_layout {
    size_t size, clock_id, timeout, flags, fd;
} sub_layout;
static const sub_layout preview1 = {W_SUBSCRIPTION_SIZE, 16, 24, 40, 16};
static const sub_layout unstable = {W_SUBSCRIPTION_UNSTABLE_SIZE, 24, 32, 48, 16};

static qv_trap *poll_subscriptions(qv_caller *c, void *env, const qv_val *a, qv_val *r, const sub_layout *L)
{
    qv_wasi *w = env;
    uint32_t nsubs = A32(2);
    if (nsubs == 0) WASI_RETURN(W_EINVAL);
    if (nsubs > MAX_SUBSCRIPTIONS) WASI_RETURN(W_ENOTSUP);
    const uint8_t *in = wasi_mem(c, A32(0), (uint64_t)nsubs * L->size);
    uint8_t *out = wasi_mem(c, A32(1), (uint64_t)nsubs * W_EVENT_SIZE);
    if (!in || !out || !wasi_mem(c, A32(3), 4)) WASI_RETURN(W_EFAULT);

    struct pollfd *pfd = calloc(nsubs, sizeof *pfd);
    uint32_t *pfd_sub = calloc(nsubs, sizeof *pfd_sub);
    uint64_t *deadline = calloc(nsubs, sizeof *deadline); /* monotonic ns, clocks only */
    if (!pfd || !pfd_sub || !deadline) {
        free(pfd), free(pfd_sub), free(deadline);
        WASI_RETURN(W_ENOMEM);
    }
    uint32_t npfd = 0, nevents = 0;
    uint64_t start = now_ns(CLOCK_MONOTONIC), earliest = UINT64_MAX;
    for (uint32_t i = 0; i < nsubs; i++) {
        const uint8_t *s = in + (size_t)i * L->size;
        uint64_t userdata = get_u64(s);
        uint8_t tag = s[8];
        if (tag == W_EVENT_CLOCK) {
            uint32_t id = get_u32(s + L->clock_id);
            uint64_t timeout = get_u64(s + L->timeout);
            bool abs = get_u16(s + L->flags) & W_SUBCLOCK_ABSTIME;
            uint64_t rel;
            if (id == W_CLOCK_REALTIME || id == W_CLOCK_MONOTONIC) {
                uint64_t now = now_ns(id == W_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC);
                rel = !abs ? timeout : timeout > now ? timeout - now : 0;
            } else {
                put_event(out + (size_t)nevents++ * W_EVENT_SIZE, userdata, W_EINVAL, W_EVENT_CLOCK, 0, 0);
                continue;
            }
            deadline[i] = rel > UINT64_MAX - start ? UINT64_MAX : start + rel;
            if (deadline[i] < earliest) earliest = deadline[i];
        } else if (tag == W_EVENT_FD_READ || tag == W_EVENT_FD_WRITE) {
            wasi_fd *e;
            int err = wasi_fd_check(w, get_u32(s + L->fd), R_POLL_FD_READWRITE, &e);
            if (err == W_ENOTCAPABLE) err = wasi_fd_check(w, get_u32(s + L->fd), 0, &e) ? W_EBADF : W_ENOTCAPABLE;
            struct stat st;
            if (!err && e->kind == FD_MEMORY) {
                /* Always ready: reads see what is left, writes never block. */
                uint64_t left = tag == W_EVENT_FD_READ ? e->mem->len - e->mem->pos : 0;
                put_event(out + (size_t)nevents++ * W_EVENT_SIZE, userdata, 0, tag, left, 0);
            } else if (!err && e->kind == FD_FILE && fstat(e->host, &st) == 0 && S_ISREG(st.st_mode)) {
                uint64_t nbytes = 0;
                if (tag == W_EVENT_FD_READ) {
                    off_t pos = lseek(e->host, 0, SEEK_CUR);
                    if (pos >= 0 && st.st_size > pos) nbytes = (uint64_t)(st.st_size - pos);
                }
                put_event(out + (size_t)nevents++ * W_EVENT_SIZE, userdata, 0, tag, nbytes, 0);
            } else if (err) {
                put_event(out + (size_t)nevents++ * W_EVENT_SIZE, userdata, err, tag, 0, 0);
            } else {
                pfd[npfd].fd = e->host;
                pfd[npfd].events = tag == W_EVENT_FD_READ ? POLLIN : POLLOUT;
                pfd_sub[npfd++] = i;
            }
            deadline[i] = UINT64_MAX;
        } else {
            free(pfd), free(pfd_sub), free(deadline);
            WASI_RETURN(W_EINVAL);
        }
    }
    /* Sleeps and waits end early when the store is interrupted (the
     * guest's deadline); the guest traps as soon as this returns. */
    int64_t timeout = -1;
    if (nevents) {
        timeout = 0;
    } else if (earliest != UINT64_MAX) {
        uint64_t now = now_ns(CLOCK_MONOTONIC), rel = earliest > now ? earliest - now : 0;
        timeout = rel > INT64_MAX ? -1 : (int64_t)rel;
    }
    int n = wasi_wait(c, pfd, npfd, timeout);
    if (n < 0) {
        int err = n == WASI_WAIT_INTERRUPTED ? W_EINTR : wasi_errno(errno);
        free(pfd), free(pfd_sub), free(deadline);
        WASI_RETURN(err);
    }
    for (uint32_t k = 0; k < npfd; k++) {
        if (!pfd[k].revents) continue;
        const uint8_t *s = in + (size_t)pfd_sub[k] * L->size;
        uint8_t tag = s[8];
        int err = (pfd[k].revents & POLLNVAL) ? W_EBADF : 0;
        uint16_t flags = (pfd[k].revents & POLLHUP) ? W_EVENT_HANGUP : 0;
        int avail = 0;
        if (tag == W_EVENT_FD_READ && ioctl(pfd[k].fd, FIONREAD, &avail) != 0) avail = 0;
        put_event(out + (size_t)nevents++ * W_EVENT_SIZE, get_u64(s), err, tag,
                  avail > 0 ? (uint64_t)avail : 0, flags);
    }
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    for (uint32_t i = 0; i < nsubs; i++) {
        const uint8_t *s = in + (size_t)i * L->size;
        if (s[8] == W_EVENT_CLOCK && deadline[i] && deadline[i] <= now)
            put_event(out + (size_t)nevents++ * W_EVENT_SIZE, get_u64(s), 0, W_EVENT_CLOCK, 0, 0);
    }
    free(pfd), free(pfd_sub), free(deadline);
    WASI_RETURN(wasi_store_u32(c, A32(3), nevents));
}

static WASI_FN(poll_oneoff)
{
    return poll_subscriptions(c, env, a, r, &preview1);
}

WASI_FN(unstable_poll_oneoff)
{
    return poll_subscriptions(c, env, a, r, &unstable);
}

const wasi_import wasi_poll_imports[] = {
    {"poll_oneoff", "iiii:i", wasi_fn_poll_oneoff},
    {NULL, NULL, NULL},
};
