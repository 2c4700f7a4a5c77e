/*
 * p2_io.c — WASI 0.2 wasi:io: error, poll (pollables are always-ready
 * streams or monotonic deadlines) and streams (blocking host descriptors
 * or in-memory stdio), and the value helpers of p2.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wasi/p2.h"

qv_trap *p2_trap_oom(void) { return qv_trap_new(QV_TRAP_HOST, "out of memory in a WASI call"); }

qv_cval p2_string(qv_ccall *c, const char *s, size_t len)
{
    char *copy = qv_ccall_alloc(c, len + 1);
    if (copy && len) memcpy(copy, s, len);
    return (qv_cval){.kind = QV_C_STRING, .of.str = {copy ? copy : "", copy ? len : 0}};
}

qv_cval p2_bytes(qv_ccall *c, const void *data, size_t len)
{
    void *copy = qv_ccall_alloc(c, len ? len : 1);
    if (copy && len) memcpy(copy, data, len);
    return (qv_cval){.kind = QV_C_LIST, .of.list = {NULL, copy, copy ? len : 0}};
}

qv_cval p2_case(qv_ccall *c, qv_ckind kind, uint32_t disc, const qv_cval *payload)
{
    qv_cval v = {.kind = kind, .of.var = {disc, NULL}};
    if (payload) {
        v.of.var.payload = qv_ccall_alloc(c, sizeof *payload);
        if (v.of.var.payload) *v.of.var.payload = *payload;
    }
    return v;
}

qv_cval p2_tuple(qv_ccall *c, qv_ckind kind, const qv_cval *items, size_t n)
{
    qv_cval *copy = qv_ccall_alloc(c, n * sizeof *items);
    if (copy) memcpy(copy, items, n * sizeof *items);
    return (qv_cval){.kind = kind, .of.fields = {copy, copy ? n : 0}};
}

qv_cval p2_stream_closed(qv_ccall *c)
{
    qv_cval closed = p2_case(c, QV_C_VARIANT, 1, NULL);
    return p2_case(c, QV_C_RESULT, 1, &closed);
}

qv_cval p2_stream_failed(qv_ccall *c, int wasi_errno)
{
    p2_error *e = malloc(sizeof *e);
    if (!e) return p2_stream_closed(c);
    e->wasi_errno = wasi_errno;
    qv_cval err = p2_own(e);
    qv_cval failed = p2_case(c, QV_C_VARIANT, 0, &err);
    return p2_case(c, QV_C_RESULT, 1, &failed);
}

p2_stream *p2_stream_new(int host, wasi_membuf *mem)
{
    p2_stream *s = calloc(1, sizeof *s);
    if (!s) {
        if (host >= 0) close(host);
        return NULL;
    }
    s->host = host;
    s->mem = mem;
    return s;
}

/* A stream on a pipe, a terminal or a socket may block: wait until it
 * would not, in slices that end when the store is interrupted (its
 * deadline), as preview 1's reads and writes do (wasi_wait.c). Files
 * (positional streams) never wait. 0, or W_EINTR when interrupted. */
static int wait_host(const p2_stream *s, const qv_store *store, bool for_write)
{
    return s->positional || !store ? 0 : wasi_wait_fd(store, s->host, for_write);
}

int p2_stream_read(p2_stream *s, const qv_store *store, void *buf, size_t len, size_t *done)
{
    *done = 0;
    if (s->mem) {
        struct iovec v = {buf, len};
        int err = s->before_read && s->mem->pos == s->mem->len ? s->before_read(s->owner) : 0;
        return err ? err : wasi_mem_read(s->mem, &v, 1, done);
    }
    if (s->host < 0) return W_EBADF;
    int err = wait_host(s, store, false);
    if (err) return err;
    ssize_t n;
    do n = s->positional ? pread(s->host, buf, len, (off_t)s->offset) : read(s->host, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return wasi_errno(errno);
    if (s->positional) s->offset += (uint64_t)n;
    *done = (size_t)n;
    return 0;
}

int p2_stream_write(p2_stream *s, qv_store *store, const void *buf, size_t len)
{
    if (s->mem) {
        size_t done;
        struct iovec v = {(void *)buf, len};
        int err = wasi_mem_write(s->mem, store, &v, 1, &done);
        return !err && s->after_write ? s->after_write(s->owner) : err;
    }
    if (s->host < 0) return W_EBADF;
    const char *p = buf;
    while (len) {
        /* Appending: at the end as it is now. O_APPEND is not set: the
         * descriptor's open file description is shared with the others of
         * the same file, which must keep writing where they say. */
        if (s->append) {
            struct stat st;
            if (fstat(s->host, &st) != 0) return wasi_errno(errno);
            s->offset = (uint64_t)st.st_size;
        }
        int err = wait_host(s, store, true);
        if (err) return err;
        ssize_t n = s->positional || s->append ? pwrite(s->host, p, len, (off_t)s->offset) : write(s->host, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return wasi_errno(errno);
        if (s->positional) s->offset += (uint64_t)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void drop_stream(void *env, void *rep)
{
    p2_stream *s = rep;
    if (s->host >= 0) close(s->host);
    if (s->on_drop) s->on_drop(s->owner);
    free(s);
}

void p2_drop_plain(void *env, void *rep) { free(rep); }

/* ------------------------------------------------------------ error */

static qv_trap *error_debug(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const p2_error *e = a[0].of.rep;
    char text[64];
    snprintf(text, sizeof text, "WASI errno %d", e->wasi_errno);
    r[0] = p2_string(c, text, strlen(text));
    return NULL;
}

/* ------------------------------------------------------------ poll */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleep until deadline, or until the store is interrupted (its own
 * deadline passed): a guest waiting on a clock must not outlive its
 * timeout. The interpreter traps right after the host call returns. */
static void sleep_until(qv_ccall *c, uint64_t deadline)
{
    uint64_t now = now_ns();
    if (deadline <= now) return;
    uint64_t left = deadline - now;
    wasi_wait_store(qv_ccall_store(c), NULL, 0, left > INT64_MAX ? -1 : (int64_t)left);
}

static bool ready(const p2_pollable *p) { return !p->deadline_ns || now_ns() >= p->deadline_ns; }

static qv_trap *pollable_ready(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = p2_bool(ready(a[0].of.rep));
    return NULL;
}

static qv_trap *pollable_block(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const p2_pollable *p = a[0].of.rep;
    if (!ready(p)) {
        p2_before_wait(p2_wasi(c, env));
        sleep_until(c, p->deadline_ns);
    }
    return NULL;
}

static qv_trap *poll(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    size_t n = a[0].of.list.n;
    if (!n) return qv_trap_new(QV_TRAP_HOST, "wasi:io/poll#poll: the list of pollables is empty");
    uint64_t soonest = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const p2_pollable *p = a[0].of.list.items[i].of.rep;
        if (ready(p)) soonest = 0;
        else if (p->deadline_ns < soonest) soonest = p->deadline_ns;
    }
    if (soonest) {
        p2_before_wait(p2_wasi(c, env));
        sleep_until(c, soonest);
    }
    uint32_t *out = qv_ccall_alloc(c, n * sizeof *out);
    if (!out) return p2_trap_oom();
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ready(a[0].of.list.items[i].of.rep)) out[k++] = (uint32_t)i;
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {NULL, out, k}};
    return NULL;
}

static qv_cval always_ready(qv_ccall *c)
{
    p2_pollable *p = calloc(1, sizeof *p);
    return p2_own(p);
}

/* ------------------------------------------------------------ streams */

#define MAX_READ (1u << 20)
#define WRITE_BUDGET 65536

static qv_trap *input_read(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep;
    size_t len = a[1].of.u > MAX_READ ? MAX_READ : (size_t)a[1].of.u;
    uint8_t *buf = qv_ccall_alloc(c, len ? len : 1);
    if (!buf) return p2_trap_oom();
    size_t done;
    int err = p2_stream_read(s, qv_ccall_store(c), buf, len, &done);
    if (err) r[0] = p2_stream_failed(c, err);
    else if (!done && len) r[0] = p2_stream_closed(c);
    else {
        qv_cval bytes = {.kind = QV_C_LIST, .of.list = {NULL, buf, done}};
        r[0] = p2_ok(c, &bytes);
    }
    return NULL;
}

static qv_trap *input_skip(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep;
    uint64_t want = a[1].of.u, total = 0;
    char buf[4096];
    while (total < want) {
        size_t done;
        int err = p2_stream_read(s, qv_ccall_store(c), buf, want - total < sizeof buf ? (size_t)(want - total) : sizeof buf, &done);
        if (err) {
            r[0] = p2_stream_failed(c, err);
            return NULL;
        }
        if (!done) break;
        total += done;
    }
    if (!total && want) {
        r[0] = p2_stream_closed(c);
        return NULL;
    }
    qv_cval n = p2_u64(total);
    r[0] = p2_ok(c, &n);
    return NULL;
}

static qv_trap *subscribe(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = always_ready(c);
    return r[0].of.rep ? NULL : p2_trap_oom();
}

static qv_trap *output_check_write(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep;
    if (s->closed) {
        r[0] = p2_stream_closed(c);
        return NULL;
    }
    qv_cval n = p2_u64(WRITE_BUDGET);
    r[0] = p2_ok(c, &n);
    return NULL;
}

static qv_trap *output_write(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep;
    int err = s->closed ? W_EPIPE : p2_stream_write(s, qv_ccall_store(c), a[1].of.list.raw, a[1].of.list.n);
    if (err == W_EPIPE) s->closed = true;
    r[0] = err == W_EPIPE ? p2_stream_closed(c) : err ? p2_stream_failed(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *output_write_zeroes(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep;
    static const char zeros[4096];
    uint64_t left = a[1].of.u;
    int err = 0;
    while (left && !err) {
        size_t k = left < sizeof zeros ? (size_t)left : sizeof zeros;
        err = p2_stream_write(s, qv_ccall_store(c), zeros, k);
        left -= k;
    }
    r[0] = err ? p2_stream_failed(c, err) : p2_ok(c, NULL);
    return NULL;
}

/* The stream's owner passes on what it holds (p2_stream.on_flush). */
static int flush_owner(p2_stream *s)
{
    int err = s->on_flush ? s->on_flush(s->owner) : 0;
    if (err == W_EPIPE) s->closed = true;
    return err;
}

static qv_trap *output_flush(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep;
    int err = s->closed ? W_EPIPE : flush_owner(s);
    r[0] = err == W_EPIPE ? p2_stream_closed(c) : err ? p2_stream_failed(c, err) : p2_ok(c, NULL);
    return NULL;
}

static qv_trap *output_write_and_flush(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_trap *t = output_write(c, env, a, r);
    if (t || r[0].of.var.disc) return t; /* the write failed: that is the answer */
    return output_flush(c, env, a, r);
}

static qv_trap *output_splice(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    p2_stream *s = a[0].of.rep, *src = a[1].of.rep;
    uint64_t want = a[2].of.u > MAX_READ ? MAX_READ : a[2].of.u;
    uint8_t *buf = qv_ccall_alloc(c, want ? (size_t)want : 1);
    if (!buf) return p2_trap_oom();
    size_t done;
    int err = p2_stream_read(src, qv_ccall_store(c), buf, (size_t)want, &done);
    if (!err && !done && want) {
        r[0] = p2_stream_closed(c);
        return NULL;
    }
    if (!err) err = p2_stream_write(s, qv_ccall_store(c), buf, done);
    qv_cval n = p2_u64(done);
    r[0] = err ? p2_stream_failed(c, err) : p2_ok(c, &n);
    return NULL;
}

bool p2_define_all(p2_host *p, qv_chost *h, const char *iface, const p2_fn *fns, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!qv_chost_func(h, fns[i].iface ? fns[i].iface : iface, fns[i].name, fns[i].sig, fns[i].fn, p)) return false;
    return true;
}

bool p2_define_io(p2_host *p, qv_chost *h)
{
    p->error = qv_chost_resource(h, IO_ERROR, "error", p2_drop_plain, NULL);
    p->pollable = qv_chost_resource(h, IO_POLL, "pollable", p2_drop_plain, NULL);
    p->input = qv_chost_resource(h, IO_STREAMS, "input-stream", drop_stream, NULL);
    p->output = qv_chost_resource(h, IO_STREAMS, "output-stream", drop_stream, NULL);
    bool ok = p->error && p->pollable && p->input && p->output &&
              qv_chost_func(h, IO_ERROR, "[method]error.to-debug-string", "func(self: borrow<error>) -> string", error_debug, p) &&
              qv_chost_func(h, IO_POLL, "[method]pollable.ready", "func(self: borrow<pollable>) -> bool", pollable_ready, p) &&
              qv_chost_func(h, IO_POLL, "[method]pollable.block", "func(self: borrow<pollable>)", pollable_block, p) &&
              qv_chost_func(h, IO_POLL, "poll", "func(in: list<borrow<pollable>>) -> list<u32>", poll, p) &&
              qv_chost_use(h, IO_STREAMS, IO_ERROR, "error") && qv_chost_use(h, IO_STREAMS, IO_POLL, "pollable") &&
              qv_chost_type(h, IO_STREAMS, "stream-error", "variant { last-operation-failed(own<error>), closed }");
    static const p2_fn fns[] = {
        {NULL, "[method]input-stream.read", "func(self: borrow<input-stream>, len: u64) -> result<list<u8>, stream-error>", input_read},
        {NULL, "[method]input-stream.blocking-read", "func(self: borrow<input-stream>, len: u64) -> result<list<u8>, stream-error>", input_read},
        {NULL, "[method]input-stream.skip", "func(self: borrow<input-stream>, len: u64) -> result<u64, stream-error>", input_skip},
        {NULL, "[method]input-stream.blocking-skip", "func(self: borrow<input-stream>, len: u64) -> result<u64, stream-error>", input_skip},
        {NULL, "[method]input-stream.subscribe", "func(self: borrow<input-stream>) -> own<pollable>", subscribe},
        {NULL, "[method]output-stream.check-write", "func(self: borrow<output-stream>) -> result<u64, stream-error>", output_check_write},
        {NULL, "[method]output-stream.write", "func(self: borrow<output-stream>, contents: list<u8>) -> result<_, stream-error>", output_write},
        {NULL, "[method]output-stream.blocking-write-and-flush", "func(self: borrow<output-stream>, contents: list<u8>) -> result<_, stream-error>", output_write_and_flush},
        {NULL, "[method]output-stream.flush", "func(self: borrow<output-stream>) -> result<_, stream-error>", output_flush},
        {NULL, "[method]output-stream.blocking-flush", "func(self: borrow<output-stream>) -> result<_, stream-error>", output_flush},
        {NULL, "[method]output-stream.subscribe", "func(self: borrow<output-stream>) -> own<pollable>", subscribe},
        {NULL, "[method]output-stream.write-zeroes", "func(self: borrow<output-stream>, len: u64) -> result<_, stream-error>", output_write_zeroes},
        {NULL, "[method]output-stream.blocking-write-zeroes-and-flush", "func(self: borrow<output-stream>, len: u64) -> result<_, stream-error>", output_write_zeroes},
        {NULL, "[method]output-stream.splice", "func(self: borrow<output-stream>, src: borrow<input-stream>, len: u64) -> result<u64, stream-error>", output_splice},
        {NULL, "[method]output-stream.blocking-splice", "func(self: borrow<output-stream>, src: borrow<input-stream>, len: u64) -> result<u64, stream-error>", output_splice},
    };
    return ok && p2_define_all(p, h, IO_STREAMS, fns, sizeof fns / sizeof *fns);
}
