/*
 * p2_cli.c — WASI 0.2 wasi:cli (environment, exit, stdio, terminals),
 * wasi:clocks and wasi:random, and qv_wasip2_define / qv_wasip2_run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "wasi/p2.h"

#define CLI(x) "wasi:cli/" x P2_VERSION

static qv_trap *get_environment(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_wasi *w = p2_wasi(c, env);
    qv_cval *pairs = qv_ccall_alloc(c, (w->nenv + 1) * sizeof *pairs);
    if (!pairs) return p2_trap_oom();
    for (size_t i = 0; i < w->nenv; i++) {
        const char *kv = w->env[i], *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
        qv_cval two[2] = {{.kind = QV_C_STRING, .of.str = {kv, klen}},
                          {.kind = QV_C_STRING, .of.str = {eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0}}};
        pairs[i] = p2_tuple(c, QV_C_TUPLE, two, 2);
    }
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {pairs, NULL, w->nenv}};
    return NULL;
}

static qv_trap *get_arguments(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    qv_wasi *w = p2_wasi(c, env);
    qv_cval *args = qv_ccall_alloc(c, (w->nargs + 1) * sizeof *args);
    if (!args) return p2_trap_oom();
    for (size_t i = 0; i < w->nargs; i++) args[i] = (qv_cval){.kind = QV_C_STRING, .of.str = {w->args[i], strlen(w->args[i])}};
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {args, NULL, w->nargs}};
    return NULL;
}

static qv_trap *initial_cwd(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = p2_case(c, QV_C_OPTION, 0, NULL);
    return NULL;
}

static qv_trap *exit_(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    return qv_trap_new_exit(a[0].of.var.disc == 0 ? 0 : 1);
}

static qv_trap *exit_with_code(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    return qv_trap_new_exit((int32_t)a[0].of.u);
}

/* A stream over preview 1 descriptor fd (0, 1 or 2). */
static qv_trap *stdio_stream(qv_ccall *c, p2_host *p, uint32_t fd, qv_cval *r)
{
    wasi_fd *e = wasi_fd_get(p2_wasi(c, p), fd);
    p2_stream *s;
    if (!e) s = p2_stream_new(-1, NULL);
    else if (e->kind == FD_MEMORY) s = p2_stream_new(-1, e->mem);
    else s = p2_stream_new(fcntl(e->host, F_DUPFD_CLOEXEC, 3), NULL);
    if (!s) return p2_trap_oom();
    if (e && e->kind != FD_MEMORY && s->host < 0) s->closed = true;
    r[0] = p2_own(s);
    return NULL;
}

static qv_trap *get_stdin(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return stdio_stream(c, env, 0, r); }
static qv_trap *get_stdout(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return stdio_stream(c, env, 1, r); }
static qv_trap *get_stderr(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return stdio_stream(c, env, 2, r); }

/* Terminals: a guest is never told its stdio is one (what it would do
 * with one, a server has no use for). */
static qv_trap *no_terminal(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = p2_case(c, QV_C_OPTION, 0, NULL);
    return NULL;
}

/* ------------------------------------------------------------ clocks */

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static qv_trap *mono_now(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = p2_u64(clock_ns(CLOCK_MONOTONIC));
    return NULL;
}

static qv_trap *mono_resolution(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    struct timespec ts;
    clock_getres(CLOCK_MONOTONIC, &ts);
    r[0] = p2_u64((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    return NULL;
}

static qv_trap *subscribe_at(qv_ccall *c, uint64_t deadline, qv_cval *r)
{
    p2_pollable *p = malloc(sizeof *p);
    if (!p) return p2_trap_oom();
    p->deadline_ns = deadline ? deadline : 1;
    r[0] = p2_own(p);
    return NULL;
}

static qv_trap *subscribe_instant(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r) { return subscribe_at(c, a[0].of.u, r); }

static qv_trap *subscribe_duration(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    uint64_t now = clock_ns(CLOCK_MONOTONIC), d = a[0].of.u;
    return subscribe_at(c, d > UINT64_MAX - now ? UINT64_MAX : now + d, r);
}

static qv_cval datetime(qv_ccall *c, uint64_t ns)
{
    qv_cval f[2] = {p2_u64(ns / 1000000000u), p2_u32((uint32_t)(ns % 1000000000u))};
    return p2_tuple(c, QV_C_RECORD, f, 2);
}

static qv_trap *wall_now(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = datetime(c, clock_ns(CLOCK_REALTIME));
    return NULL;
}

static qv_trap *wall_resolution(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    struct timespec ts;
    clock_getres(CLOCK_REALTIME, &ts);
    r[0] = datetime(c, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    return NULL;
}

/* ------------------------------------------------------------ random */

/* What one get-random-bytes may ask for. Preview 1's random_get fills
 * guest memory in place, bounded only by it; here the bytes are made on
 * the host first, so a bound keeps a guest from making the host allocate
 * gigabytes. 64 MiB is far above any real use (seeding, keys, nonces), and
 * lets a preview 1 program asking for megabytes at once run through the
 * adapter as it does as a module. Made 1 MiB at a time, so that the
 * store's deadline is heard in between. */
#define MAX_RANDOM ((uint64_t)64 << 20)
#define RANDOM_SLICE ((size_t)1 << 20)

static qv_trap *random_bytes(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    if (a[0].of.u > MAX_RANDOM)
        return qv_trap_new(QV_TRAP_HOST, "wasi:random: more than 64 MiB of random bytes asked for at once");
    size_t n = (size_t)a[0].of.u;
    uint8_t *buf = qv_ccall_alloc(c, n ? n : 1);
    if (!buf) return p2_trap_oom();
    for (size_t done = 0; done < n;) {
        if (qv_store_interrupted(qv_ccall_store(c))) return qv_trap_new(QV_TRAP_INTERRUPTED, "interrupted");
        size_t want = n - done < RANDOM_SLICE ? n - done : RANDOM_SLICE;
        ssize_t k = getrandom(buf + done, want, 0);
        if (k > 0) done += (size_t)k;
    }
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {NULL, buf, n}};
    return NULL;
}

static qv_trap *random_u64(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    uint64_t v = 0;
    while (getrandom(&v, sizeof v, 0) != sizeof v) {}
    r[0] = p2_u64(v);
    return NULL;
}

static qv_trap *insecure_seed(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    uint64_t v[2] = {0, 0};
    while (getrandom(v, sizeof v, 0) != sizeof v) {}
    qv_cval two[2] = {p2_u64(v[0]), p2_u64(v[1])};
    r[0] = p2_tuple(c, QV_C_TUPLE, two, 2);
    return NULL;
}

bool p2_define_cli(p2_host *p, qv_chost *h)
{
    p->term_in = qv_chost_resource(h, CLI("terminal-input"), "terminal-input", p2_drop_plain, NULL);
    p->term_out = qv_chost_resource(h, CLI("terminal-output"), "terminal-output", p2_drop_plain, NULL);
    bool ok = p->term_in && p->term_out && qv_chost_use(h, CLI("stdin"), IO_STREAMS, "input-stream") &&
              qv_chost_use(h, CLI("stdout"), IO_STREAMS, "output-stream") &&
              qv_chost_use(h, CLI("stderr"), IO_STREAMS, "output-stream") &&
              qv_chost_use(h, CLI("terminal-stdin"), CLI("terminal-input"), "terminal-input") &&
              qv_chost_use(h, CLI("terminal-stdout"), CLI("terminal-output"), "terminal-output") &&
              qv_chost_use(h, CLI("terminal-stderr"), CLI("terminal-output"), "terminal-output");
    static const p2_fn fns[] = {
        {CLI("environment"), "get-environment", "func() -> list<tuple<string, string>>", get_environment},
        {CLI("environment"), "get-arguments", "func() -> list<string>", get_arguments},
        {CLI("environment"), "initial-cwd", "func() -> option<string>", initial_cwd},
        {CLI("exit"), "exit", "func(status: result)", exit_},
        {CLI("exit"), "exit-with-code", "func(status-code: u8)", exit_with_code},
        {CLI("stdin"), "get-stdin", "func() -> own<input-stream>", get_stdin},
        {CLI("stdout"), "get-stdout", "func() -> own<output-stream>", get_stdout},
        {CLI("stderr"), "get-stderr", "func() -> own<output-stream>", get_stderr},
        {CLI("terminal-stdin"), "get-terminal-stdin", "func() -> option<own<terminal-input>>", no_terminal},
        {CLI("terminal-stdout"), "get-terminal-stdout", "func() -> option<own<terminal-output>>", no_terminal},
        {CLI("terminal-stderr"), "get-terminal-stderr", "func() -> option<own<terminal-output>>", no_terminal},
    };
    return ok && p2_define_all(p, h, NULL, fns, sizeof fns / sizeof *fns);
}

#define CLOCKS(x) "wasi:clocks/" x P2_VERSION
#define RANDOM(x) "wasi:random/" x P2_VERSION

bool p2_define_clocks_random(p2_host *p, qv_chost *h)
{
    bool ok = qv_chost_use(h, CLOCKS("monotonic-clock"), IO_POLL, "pollable") &&
              qv_chost_type(h, CLOCKS("monotonic-clock"), "instant", "u64") &&
              qv_chost_type(h, CLOCKS("monotonic-clock"), "duration", "u64") &&
              qv_chost_type(h, CLOCKS("wall-clock"), "datetime", "record { seconds: u64, nanoseconds: u32 }");
    static const p2_fn fns[] = {
        {CLOCKS("monotonic-clock"), "now", "func() -> instant", mono_now},
        {CLOCKS("monotonic-clock"), "resolution", "func() -> duration", mono_resolution},
        {CLOCKS("monotonic-clock"), "subscribe-instant", "func(when: instant) -> own<pollable>", subscribe_instant},
        {CLOCKS("monotonic-clock"), "subscribe-duration", "func(when: duration) -> own<pollable>", subscribe_duration},
        {CLOCKS("wall-clock"), "now", "func() -> datetime", wall_now},
        {CLOCKS("wall-clock"), "resolution", "func() -> datetime", wall_resolution},
        {RANDOM("random"), "get-random-bytes", "func(len: u64) -> list<u8>", random_bytes},
        {RANDOM("random"), "get-random-u64", "func() -> u64", random_u64},
        {RANDOM("insecure"), "get-insecure-random-bytes", "func(len: u64) -> list<u8>", random_bytes},
        {RANDOM("insecure"), "get-insecure-random-u64", "func() -> u64", random_u64},
        {RANDOM("insecure-seed"), "insecure-seed", "func() -> tuple<u64, u64>", insecure_seed},
    };
    return ok && p2_define_all(p, h, NULL, fns, sizeof fns / sizeof *fns);
}

/* The host's resource types live as long as the host; their state is
 * the context's. */
bool qv_wasip2_define(qv_wasi *wasi, qv_chost *host)
{
    p2_host *p = qv_chost_alloc(host, sizeof *p);
    if (!p) return false;
    p->w = wasi;
    return p2_define_io(p, host) && p2_define_cli(p, host) && p2_define_clocks_random(p, host) && p2_define_fs(p, host);
}

void qv_wasip2_bind(qv_cinstance *ci, qv_wasi *wasi) { qv_cinstance_set_data(ci, wasi); }

int qv_wasip2_run(qv_wasi *wasi, qv_cinstance *ci, qv_trap **trap)
{
    *trap = NULL;
    qv_wasip2_bind(ci, wasi);
    const char *run = qv_cinstance_find_export(ci, "wasi:cli/run@0.2.0");
    if (!run) {
        bool http = qv_cinstance_find_export(ci, "wasi:http/incoming-handler@0.2.0") != NULL;
        *trap = qv_trap_new(QV_TRAP_HOST, http ? "the component is a wasi:http handler, not a command (it exports no "
                                                 "wasi:cli/run); serving components is not done yet"
                                               : "the component exports no wasi:cli/run@0.2.x (not a command component)");
        return -1;
    }
    qv_cval result;
    qv_trap *t = qv_cinstance_call(ci, run, "run", NULL, 0, &result, 1);
    if (!t) return result.of.var.disc == 0 ? 0 : 1;
    if (qv_trap_kind_of(t) == QV_TRAP_EXIT) {
        int status = qv_trap_exit_status(t);
        qv_trap_delete(t);
        return status;
    }
    *trap = t;
    return -1;
}
