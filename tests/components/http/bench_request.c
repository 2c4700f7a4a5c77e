/*
 * bench_request.c — the per-request cost of a wasi:http component against
 * a WAGI module answering the same, in process (no HTTP, no processes:
 * what a replica's thread does per request), alternating the two in every
 * round:
 *   build/bench/whttp-request WAGI.wasm COMPONENT.wasm [ROUNDS]
 * A WAGI request: a store, a WASI context with stdio in memory, an
 * instance from imports resolved once, _start, stdout read. A wasi:http
 * request: a store, a WASI context, an exchange, an instance of the
 * component against a host defined once, handle, the response read.
 * Prints the medians in microseconds. `make bench-whttp` runs it on
 * examples/http-hello and tests/components/http/hello.wat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qyvol/component.h"
#include "qyvol/wasi.h"
#include "qyvol/wasi_http.h"
#include "../bench_util.h"

static void fail(const char *what)
{
    fprintf(stderr, "bench_request: %s\n", what);
    exit(1);
}

/* One WAGI request; the length of what the module wrote on stdout. */
static size_t wagi(const qv_wasi_pre *pre)
{
    const char *args[] = {"/x"}, *env[] = {"PATH_INFO=/x", "REQUEST_METHOD=GET"};
    qv_wasi_config cfg = {.args = args, .nargs = 1, .env = env, .nenv = 2, .stdio_in_memory = true};
    char err[256];
    qv_store *store = qv_store_new(NULL);
    qv_wasi *w = qv_wasi_new(&cfg, err, sizeof err);
    qv_trap *trap = NULL;
    qv_error e;
    qv_instance *inst = qv_wasi_pre_instantiate(pre, w, store, &trap, &e);
    if (!inst || qv_wasi_run(w, store, inst, &trap) != 0) fail("the WAGI module failed");
    size_t n;
    qv_wasi_output(w, 1, &n, NULL);
    qv_wasi_delete(w);
    qv_store_delete(store);
    return n;
}

/* One wasi:http request; the length of the response body. */
static size_t whttp(const qv_component *c, const qv_chost *h)
{
    static const qv_http_field headers[] = {{"Host", "example.test"}};
    qv_http_request rq = {.method = "GET", .path_with_query = "/x", .authority = "example.test", .headers = headers,
                          .nheaders = 1};
    qv_http_policy policy = {.net = QV_HTTP_NET_NONE};
    qv_wasi_config cfg = {.stdio_in_memory = true};
    char err[256];
    qv_store *store = qv_store_new(NULL);
    qv_wasi *w = qv_wasi_new(&cfg, err, sizeof err);
    qv_http_exchange *x = qv_http_exchange_new(&rq, &policy);
    qv_wasi_http_attach(w, x);
    qv_trap *trap = NULL;
    qv_error e;
    qv_cinstance *ci = qv_cinstance_new(store, c, h, &trap, &e);
    if (!ci) fail("the component does not instantiate");
    qv_wasip2_bind(ci, w);
    if ((trap = qv_http_handle(ci, x))) fail(qv_trap_message(trap));
    qv_http_response resp;
    qv_http_exchange_response(x, &resp);
    if (resp.status != 200) fail("the component did not answer 200");
    size_t n = resp.body_len;
    qv_cinstance_delete(ci);
    qv_http_exchange_free(x);
    qv_wasi_delete(w);
    qv_store_delete(store);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s WAGI.wasm COMPONENT.wasm [ROUNDS]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 3 ? atoi(argv[3]) : 2000;
    if (rounds < 1) rounds = 1;
    size_t mlen, clen;
    unsigned char *mb = read_all(argv[1], &mlen), *cb = read_all(argv[2], &clen);
    qv_error e;
    char err[300];
    qv_module *m = qv_module_new(mb, mlen, &e);
    qv_wasi_pre *pre = m ? qv_wasi_pre_new(m, err, sizeof err) : NULL;
    qv_component *c = qv_component_new(cb, clen, &e);
    qv_chost *h = qv_chost_new();
    if (!pre || !c || !h || !qv_wasip2_define(NULL, h) || !qv_wasi_http_define(NULL, h)) fail("cannot load");
    double *tm = malloc((size_t)rounds * sizeof *tm), *tc = malloc((size_t)rounds * sizeof *tc);
    size_t bytes = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_us();
        bytes += wagi(pre);
        double t1 = now_us();
        bytes += whttp(c, h);
        double t2 = now_us();
        tm[r] = t1 - t0;
        tc[r] = t2 - t1;
    }
    double a = median(tm, rounds), b = median(tc, rounds);
    printf("%d rounds, median microseconds per request: WAGI module %.1f, wasi:http component %.1f (%.2fx)\n", rounds,
           a, b, b / a);
    free(tm);
    free(tc);
    qv_chost_delete(h);
    qv_component_delete(c);
    qv_wasi_pre_delete(pre);
    qv_module_delete(m);
    free(mb);
    free(cb);
    return bytes ? 0 : 1;
}
