/*
 * p2.h — the WASI 0.2 host's internals (p2_*.c): its resources (streams,
 * descriptors, pollables, errors) and helpers to build the values its
 * functions return.
 */
#ifndef QYVOL_WASI_P2_H
#define QYVOL_WASI_P2_H

#include "qyvol/component.h"
#include "wasi/host.h"

#define P2_VERSION "@0.2.0"   /* any 0.2.x import matches (qyvol/component.h) */

/* A byte stream: a host descriptor of its own, or an in-memory stdio
 * buffer. Files are read and written at `offset` (pread/pwrite) unless
 * appending. */
typedef struct p2_stream {
    int host;               /* owned, or -1 */
    wasi_membuf *mem;
    uint64_t offset;
    bool positional, append, closed;
    /* Called when the guest drops the stream: what owns mem (an HTTP
     * body) lets go of it. NULL: nothing to do. */
    void (*on_drop)(void *owner);
    /* Called after bytes were added to mem: what owns it (a response body
     * being streamed) passes them on. 0 or a WASI errno for the write. */
    int (*after_write)(void *owner);
    /* Called before a read finds mem empty: what owns it (a request body
     * arriving in pieces) refills it. 0 or a WASI errno for the read. */
    int (*before_read)(void *owner);
    /* Called when the guest flushes the stream (flush, blocking-flush,
     * blocking-write-and-flush): what owns mem passes on what it holds. */
    int (*on_flush)(void *owner);
    void *owner;
} p2_stream;

/* A filesystem descriptor: an entry of the preview 1 descriptor table
 * (its grant, rights and sandbox come with it). */
typedef struct p2_desc {
    qv_wasi *w;             /* the context whose table holds it */
    uint32_t fd;
} p2_desc;
#define DESC_W(v) (((p2_desc *)(v)->of.rep)->w)

typedef struct p2_error {
    int wasi_errno;         /* a preview 1 errno (abi.h) */
} p2_error;

typedef struct p2_pollable {
    uint64_t deadline_ns;   /* monotonic; 0: always ready */
} p2_pollable;

typedef struct p2_dirstream {
    DIR *dir;
    const wasi_grant *grant;
    char *rel;
} p2_dirstream;

/* Interface names. */
#define IO_ERROR "wasi:io/error" P2_VERSION
#define IO_POLL "wasi:io/poll" P2_VERSION
#define IO_STREAMS "wasi:io/streams" P2_VERSION
#define FS_TYPES "wasi:filesystem/types" P2_VERSION

/* Values. */
static inline qv_cval p2_u64(uint64_t v) { return (qv_cval){.kind = QV_C_U64, .of.u = v}; }
static inline qv_cval p2_u32(uint32_t v) { return (qv_cval){.kind = QV_C_U32, .of.u = v}; }
static inline qv_cval p2_bool(bool v) { return (qv_cval){.kind = QV_C_BOOL, .of.b = v}; }
static inline qv_cval p2_own(void *rep) { return (qv_cval){.kind = QV_C_OWN, .of.rep = rep}; }
qv_cval p2_string(qv_ccall *c, const char *s, size_t len);
qv_cval p2_bytes(qv_ccall *c, const void *data, size_t len);
/* A variant-like value (result, option, variant, enum) with an optional payload. */
qv_cval p2_case(qv_ccall *c, qv_ckind kind, uint32_t disc, const qv_cval *payload);
qv_cval p2_tuple(qv_ccall *c, qv_ckind kind, const qv_cval *items, size_t n);
static inline qv_cval p2_ok(qv_ccall *c, const qv_cval *v) { return p2_case(c, QV_C_RESULT, 0, v); }
/* result<_, stream-error> errors: closed, or last-operation-failed(error). */
qv_cval p2_stream_closed(qv_ccall *c);
qv_cval p2_stream_failed(qv_ccall *c, int wasi_errno);
/* result<_, error-code> with a preview 1 errno turned into error-code. */
qv_cval p2_fs_err(qv_ccall *c, int wasi_errno);
qv_trap *p2_trap_oom(void);
/* The destructor of resources that are one malloc'd block. */
void p2_drop_plain(void *env, void *rep);

/* Stream I/O shared by streams and descriptors. Return a WASI errno.
 * Writes to an in-memory stream are charged to `store` (wasi_mem_write). */
int p2_stream_read(p2_stream *s, const qv_store *store, void *buf, size_t len, size_t *done);
int p2_stream_write(p2_stream *s, qv_store *store, const void *buf, size_t len);
p2_stream *p2_stream_new(int host, wasi_membuf *mem);

/* The resource types, made by qv_wasip2_define. */
typedef struct p2_host {
    qv_wasi *w;             /* NULL: each instance's (qv_cinstance_set_data) */
    qv_crestype *error, *pollable, *input, *output, *descriptor, *dirstream, *term_in, *term_out;
    struct p2_http_types *http; /* p2_http.c's */
} p2_host;

/* A host function of interface `iface` (NULL: the table's default). */
typedef struct p2_fn {
    const char *iface, *name, *sig;
    qv_chost_fn fn;
} p2_fn;
/* Define n functions, those without an interface in `iface`. */
bool p2_define_all(p2_host *p, qv_chost *h, const char *iface, const p2_fn *fns, size_t n);

/* The context of a call: the host's, or the calling instance's. */
/* Before the guest waits (a sleep, a poll): what a streamed HTTP response
 * holds goes out, so that the client does not wait with it. */
static inline void p2_before_wait(qv_wasi *w)
{
    if (w && w->before_wait) w->before_wait(w->http);
}

static inline qv_wasi *p2_wasi(qv_ccall *c, const p2_host *p) { return p->w ? p->w : (qv_wasi *)qv_ccall_data(c); }

bool p2_define_io(p2_host *p, qv_chost *h);
bool p2_define_cli(p2_host *p, qv_chost *h);
bool p2_define_clocks_random(p2_host *p, qv_chost *h);
bool p2_define_fs(p2_host *p, qv_chost *h);
/* wasi:http types and outgoing-handler (p2_http*.c). */
bool p2_define_http(p2_host *p, qv_chost *h);

#endif
