/*
 * wasi_sock.c — sock_accept, sock_recv, sock_send and sock_shutdown on
 * sockets the host handed over (preview 1 has no way to create one).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wasi/host.h"

static int sock_fd(qv_wasi *w, uint32_t fd, uint64_t rights, wasi_fd **out)
{
    wasi_fd *e = wasi_fd_get(w, fd);
    if (!e) return W_EBADF;
    if (e->kind != FD_SOCKET) return W_ENOTSOCK;
    return wasi_fd_check(w, fd, rights, out);
}

static WASI_FN(sock_accept)
{
    qv_wasi *w = env;
    wasi_fd *e;
    int err = sock_fd(w, A32(0), R_SOCK_ACCEPT, &e);
    if (err) WASI_RETURN(err);
    if (A32(1) & ~(uint32_t)W_FDFLAG_NONBLOCK) WASI_RETURN(W_EINVAL);
    if ((err = wasi_wait_ready(c, e, false))) WASI_RETURN(err);
    int fd = accept4(e->host, NULL, NULL, SOCK_CLOEXEC | ((A32(1) & W_FDFLAG_NONBLOCK) ? SOCK_NONBLOCK : 0));
    if (fd < 0) WASI_RETURN(wasi_errno(errno));
    wasi_fd n = {
        .kind = FD_SOCKET,
        .host = fd,
        .filetype = W_FT_SOCKET_STREAM,
        .fdflags = (uint16_t)(A32(1) & W_FDFLAG_NONBLOCK),
        .rights_base = R_SOCKET & ~(uint64_t)R_SOCK_ACCEPT,
    };
    int64_t num = wasi_fd_install(w, &n);
    if (num < 0) WASI_RETURN(W_EMFILE);
    err = wasi_store_u32(c, A32(2), (uint32_t)num);
    if (err) wasi_fd_release(&w->fds[num]);
    WASI_RETURN(err);
}

static WASI_FN(sock_recv)
{
    wasi_fd *e;
    int err = sock_fd(env, A32(0), R_FD_READ, &e);
    if (err) WASI_RETURN(err);
    uint32_t riflags = A32(3);
    if (riflags & ~(uint32_t)(W_RECV_PEEK | W_RECV_WAITALL)) WASI_RETURN(W_EINVAL);
    struct iovec v[IOV_MAX];
    int count;
    if ((err = wasi_iovecs(c, A32(1), A32(2), v, &count))) WASI_RETURN(err);
    wasi_iovecs_limit(v, &count, WASI_MAX_TRANSFER);
    if ((err = wasi_wait_ready(c, e, false))) WASI_RETURN(err);
    struct msghdr msg = {.msg_iov = v, .msg_iovlen = (size_t)count};
    /* RECV_WAITALL is taken as a wish, not passed on as MSG_WAITALL: that
     * would block again after the wait, past the guest's deadline. The
     * guest gets what has arrived, as a short read, and asks again. */
    int flags = (riflags & W_RECV_PEEK) ? MSG_PEEK : 0;
    ssize_t n;
    do n = recvmsg(e->host, &msg, flags);
    while (n < 0 && errno == EINTR);
    if (n < 0) WASI_RETURN(wasi_errno(errno));
    if ((err = wasi_store_u32(c, A32(4), (uint32_t)n))) WASI_RETURN(err);
    uint8_t *ro = wasi_mem(c, A32(5), 2);
    if (!ro) WASI_RETURN(W_EFAULT);
    put_u16(ro, (msg.msg_flags & MSG_TRUNC) ? W_RECV_DATA_TRUNCATED : 0);
    WASI_RETURN(0);
}

static WASI_FN(sock_send)
{
    wasi_fd *e;
    int err = sock_fd(env, A32(0), R_FD_WRITE, &e);
    if (err) WASI_RETURN(err);
    if (A32(3)) WASI_RETURN(W_EINVAL); /* no siflags are defined */
    struct iovec v[IOV_MAX];
    int count;
    if ((err = wasi_iovecs(c, A32(1), A32(2), v, &count))) WASI_RETURN(err);
    bool may_block = !(e->fdflags & W_FDFLAG_NONBLOCK);
    wasi_iovecs_limit(v, &count, may_block ? PIPE_BUF : WASI_MAX_TRANSFER);
    if ((err = wasi_wait_ready(c, e, true))) WASI_RETURN(err);
    struct msghdr msg = {.msg_iov = v, .msg_iovlen = (size_t)count};
    ssize_t n;
    do n = sendmsg(e->host, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) WASI_RETURN(wasi_errno(errno));
    WASI_RETURN(wasi_store_u32(c, A32(4), (uint32_t)n));
}

static WASI_FN(sock_shutdown)
{
    wasi_fd *e;
    int err = sock_fd(env, A32(0), R_SOCK_SHUTDOWN, &e);
    if (err) WASI_RETURN(err);
    uint32_t how = A32(1);
    int h = how == (W_SHUT_RD | W_SHUT_WR) ? SHUT_RDWR : how == W_SHUT_RD ? SHUT_RD : how == W_SHUT_WR ? SHUT_WR : -1;
    if (h < 0) WASI_RETURN(W_EINVAL);
    WASI_RETURN(shutdown(e->host, h) ? wasi_errno(errno) : 0);
}

const wasi_import wasi_sock_imports[] = {
    {"sock_accept", "iii:i", wasi_fn_sock_accept},
    {"sock_recv", "iiiiii:i", wasi_fn_sock_recv},
    {"sock_send", "iiiii:i", wasi_fn_sock_send},
    {"sock_shutdown", "ii:i", wasi_fn_sock_shutdown},
    {NULL, NULL, NULL},
};
