/*
 * direct.c — see direct.h.
 */
#include "serve/direct.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t shared_size(int nslots)
{
    return sizeof(direct_shared) + (size_t)nslots * sizeof(direct_slot);
}

direct_area *direct_area_new(int nslots)
{
    /* MAP_SHARED before the forks: a replica's writes are the front's and
     * the other replicas' to read, without a system call. Pages are
     * touched only as used. */
    size_t stride = (shared_size(nslots) + 4095) & ~(size_t)4095;
    size_t size = 4096 + stride * DIRECT_AREA_REPLICAS;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    direct_area *a = m;
    a->nslots = nslots;
    a->stride = stride;
    for (int i = 0; i < DIRECT_AREA_REPLICAS; i++) direct_area_at(a, i)->nslots = nslots;
    return a;
}

void direct_area_free(direct_area *a)
{
    if (a) munmap(a, 4096 + a->stride * DIRECT_AREA_REPLICAS);
}

direct_shared *direct_area_at(const direct_area *a, int i)
{
    return (direct_shared *)((char *)a + 4096 + a->stride * (size_t)i);
}

void direct_shared_reset(direct_shared *d)
{
    atomic_store(&d->serve, 0);
    atomic_store(&d->lost, 0);
    for (int i = 0; i < d->nslots; i++) {
        direct_slot *s = &d->slots[i];
        atomic_store(&s->busy_since_ns, 0);
        atomic_store(&s->timeout_ms, 0);
        atomic_store(&s->conns, 0);
        atomic_store(&s->seen_serve, 0);
        atomic_store(&s->slow, 0);
        atomic_store(&s->head, 0);
        atomic_store(&s->tail, 0);
    }
}

bool direct_push(direct_slot *s, const direct_record *r)
{
    uint32_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
    if (head - atomic_load_explicit(&s->tail, memory_order_acquire) >= DIRECT_RING) return false;
    s->ring[head % DIRECT_RING] = *r;
    atomic_store_explicit(&s->head, head + 1, memory_order_release);
    return true;
}

bool direct_pop(direct_slot *s, direct_record *r)
{
    uint32_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
    if (tail == atomic_load_explicit(&s->head, memory_order_acquire)) return false;
    *r = s->ring[tail % DIRECT_RING];
    atomic_store_explicit(&s->tail, tail + 1, memory_order_release);
    return true;
}

bool direct_drained(const direct_shared *d)
{
    for (int i = 0; i < d->nslots; i++)
        if (atomic_load(&d->slots[i].seen_serve) || atomic_load(&d->slots[i].conns)) return false;
    return true;
}

bool direct_serving(const direct_shared *d)
{
    for (int i = 0; i < d->nslots; i++)
        if (!atomic_load(&d->slots[i].seen_serve)) return false;
    return d->nslots > 0;
}

bool direct_free_thread(const direct_shared *d, uint64_t now_ns)
{
    for (int i = 0; i < d->nslots; i++) {
        const direct_slot *s = &d->slots[i];
        uint64_t since = atomic_load(&s->busy_since_ns);
        if (atomic_load(&s->seen_serve) && !atomic_load(&s->slow) && (!since || now_ns - since < DIRECT_SLOW_NS))
            return true;
    }
    return false;
}

int direct_busy(const direct_shared *d)
{
    int n = 0;
    for (int i = 0; i < d->nslots; i++) n += atomic_load(&d->slots[i].busy_since_ns) != 0;
    return n;
}

int direct_conns(const direct_shared *d)
{
    int n = 0;
    for (int i = 0; i < d->nslots; i++) n += atomic_load(&d->slots[i].conns);
    return n;
}

direct_routes *direct_routes_new(void)
{
    void *m = mmap(NULL, sizeof(direct_routes), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

void direct_routes_free(direct_routes *r)
{
    if (r) munmap(r, sizeof *r);
}

bool direct_routes_set(direct_routes *r, const char *text, size_t len)
{
    if (len > DIRECT_ROUTES_BYTES) return false;
    uint32_t seq = atomic_load(&r->seq);
    bool same = atomic_load(&r->len) == len;
    for (size_t i = 0; same && i < len; i++) same = atomic_load_explicit(&r->text[i], memory_order_relaxed) == text[i];
    if (same) return true;
    atomic_store(&r->seq, seq + 1); /* odd: being written */
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < len; i++) atomic_store_explicit(&r->text[i], text[i], memory_order_relaxed);
    atomic_store_explicit(&r->len, (uint32_t)len, memory_order_relaxed);
    atomic_store_explicit(&r->seq, seq + 2, memory_order_release);
    return true;
}

void direct_routes_read(const direct_routes *r, direct_routes_copy *copy)
{
    uint32_t seq = atomic_load_explicit(&r->seq, memory_order_acquire);
    if (seq == copy->seq && seq) return;
    for (;;) {
        seq = atomic_load_explicit(&r->seq, memory_order_acquire);
        if (seq & 1) continue;
        size_t len = atomic_load_explicit(&r->len, memory_order_relaxed);
        if (len > DIRECT_ROUTES_BYTES) len = 0;
        for (size_t i = 0; i < len; i++) copy->text[i] = atomic_load_explicit(&r->text[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&r->seq, memory_order_relaxed) != seq) continue;
        copy->len = len;
        copy->seq = seq;
        return;
    }
}

bool direct_send_conn(int sock, int fd, const char *peer, const char *path, const void *bytes, size_t len)
{
    size_t path_len = strlen(path), n = 1 + DIRECT_PEER_LEN + path_len + 1 + len;
    char *msg = n <= DIRECT_MSG_MAX ? calloc(1, n) : NULL;
    if (!msg) return false;
    msg[0] = DIRECT_MSG_CONN;
    strncpy(msg + 1, peer, DIRECT_PEER_LEN - 1);
    memcpy(msg + 1 + DIRECT_PEER_LEN, path, path_len + 1);
    memcpy(msg + 1 + DIRECT_PEER_LEN + path_len + 1, bytes, len);
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {msg, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                        .msg_controllen = sizeof control.space};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    ssize_t w;
    do w = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    free(msg);
    if (w < 0) return false;
    close(fd);
    return true;
}

ssize_t direct_recv(int sock, char *buf, int *fd)
{
    *fd = -1;
    for (;;) {
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(int))];
        } control;
        struct iovec iov = {buf, DIRECT_MSG_MAX};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                            .msg_controllen = sizeof control.space};
        ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
                memcpy(fd, CMSG_DATA(c), sizeof *fd);
        return n ? n : -1;
    }
}

bool direct_parse_conn(const char *msg, size_t n, direct_conn_msg *out)
{
    if (n < 1 + DIRECT_PEER_LEN + 1 || msg[0] != DIRECT_MSG_CONN) return false;
    memcpy(out->peer, msg + 1, DIRECT_PEER_LEN);
    out->peer[DIRECT_PEER_LEN - 1] = '\0';
    const char *path = msg + 1 + DIRECT_PEER_LEN, *end = msg + n;
    const char *nul = memchr(path, '\0', (size_t)(end - path));
    if (!nul) return false;
    out->path = path;
    out->bytes = nul + 1;
    out->len = (size_t)(end - nul - 1);
    return true;
}
