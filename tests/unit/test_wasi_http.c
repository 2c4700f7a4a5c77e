/*
 * test_wasi_http.c — wasi:http through its API (qyvol/wasi_http.h), in one
 * process (so that the sanitizers see every allocation of the exchange,
 * its bodies and its fields): the hand-written handlers of
 * tests/components/http/ (assembled into components/http next to this
 * binary) and, when it was built, the JavaScript handler of
 * examples/http-component: requests in, responses out, traps, a body
 * past its limit, outbound requests refused by the policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qyvol/component.h"
#include "qyvol/wasi.h"
#include "qyvol/wasi_http.h"

static char dir[4096];
static const char *const js_path = "examples/http-component/app.component.wasm";

static qv_component *load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    qv_error err;
    qv_component *c = got == (size_t)n ? qv_component_new(b, (size_t)n, &err) : NULL;
    free(b);
    if (!c) fail_msg("%s: %s", path, got == (size_t)n ? err.message : "cannot read");
    return c;
}

static qv_component *load_handler(const char *name)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/components/http/%s.wasm", dir, name);
    qv_component *c = load(path);
    if (!c) fail_msg("cannot open %s", path);
    return c;
}

/* One host for every request, as a server makes it. */
static qv_chost *host(void)
{
    qv_chost *h = qv_chost_new();
    assert_true(h && qv_wasip2_define(NULL, h) && qv_wasi_http_define(NULL, h));
    return h;
}

typedef struct served {
    qv_trap_kind trap;          /* 0: handle returned */
    qv_http_response resp;
    char notes[1024];
    char body[4096];
} served;

/* Serve one request with a fresh store, context and instance; the
 * response streams to sink when there is one. */
static void serve_to(const qv_component *c, const qv_chost *h, const qv_http_request *rq, const qv_http_policy *policy,
                     const qv_http_sink *sink, served *out)
{
    memset(out, 0, sizeof *out);
    qv_store *store = qv_store_new(NULL);
    qv_wasi_config cfg = {.stdio_in_memory = true};
    char err[256];
    qv_wasi *wasi = qv_wasi_new(&cfg, err, sizeof err);
    qv_http_exchange *x = qv_http_exchange_new(rq, policy);
    assert_true(store && wasi && x);
    qv_wasi_http_attach(wasi, x);
    if (sink) qv_http_exchange_stream(x, sink);
    qv_trap *trap = NULL;
    qv_error e = {0};
    qv_cinstance *ci = qv_cinstance_new(store, c, h, &trap, &e);
    if (!ci) fail_msg("instantiate: %s", trap ? qv_trap_message(trap) : e.message);
    qv_wasip2_bind(ci, wasi);
    trap = qv_http_handle(ci, x);
    if (trap) {
        out->trap = qv_trap_kind_of(trap);
        qv_trap_delete(trap);
    }
    qv_http_exchange_response(x, &out->resp); /* also after a trap: was it the body's size? */
    {
        size_t n = out->resp.body_len < sizeof out->body - 1 ? out->resp.body_len : sizeof out->body - 1;
        if (n) memcpy(out->body, out->resp.body, n);
    }
    snprintf(out->notes, sizeof out->notes, "%s", qv_http_exchange_notes(x));
    qv_cinstance_delete(ci); /* guest handles dropped before the exchange goes */
    out->resp.headers = NULL; /* they were the exchange's */
    out->resp.body = NULL;
    qv_http_exchange_free(x);
    qv_wasi_delete(wasi);
    qv_store_delete(store);
}

static void serve(const qv_component *c, const qv_chost *h, const qv_http_request *rq, const qv_http_policy *policy,
                  served *out)
{
    serve_to(c, h, rq, policy, NULL, out);
}

static const qv_http_policy no_net = {.net = QV_HTTP_NET_NONE};

/* What a sink was given; it refuses the body from write `refuse_at` on
 * (1-based; 0: never), as when the client went away. */
typedef struct collected {
    int heads, status, writes, refuse_at;
    char body[4096];
    size_t len, total;
} collected;

static bool collect_head(void *ctx, int status, const qv_http_field *headers, size_t n)
{
    (void)headers, (void)n;
    collected *k = ctx;
    k->heads++;
    k->status = status;
    return true;
}

static bool collect_body(void *ctx, const void *data, size_t len)
{
    collected *k = ctx;
    if (k->refuse_at && ++k->writes >= k->refuse_at) return false;
    size_t room = sizeof k->body - 1 - k->len, n = len < room ? len : room;
    memcpy(k->body + k->len, data, n);
    k->len += n;
    k->total += len;
    return true;
}

static qv_http_request get(const char *path)
{
    static const qv_http_field headers[] = {{"Host", "example.test"}, {"X-Custom", "forty two"}};
    return (qv_http_request){.method = "GET", .path_with_query = path, .authority = "example.test",
                             .headers = headers, .nheaders = 2};
}

static void hand_written_handler_answers(void **state)
{
    (void)state;
    qv_component *c = load_handler("hello");
    qv_chost *h = host();
    qv_http_request rq = get("/x");
    served s;
    for (int i = 0; i < 3; i++) { /* a fresh instance each time */
        serve(c, h, &rq, &no_net, &s);
        assert_int_equal(s.trap, 0);
        assert_int_equal(s.resp.status, 200);
        assert_string_equal(s.body, "Hello from a hand-written wasi:http component\n");
        assert_string_equal(s.resp.why, "");
    }
    qv_chost_delete(h);
    qv_component_delete(c);
}

static void a_response_streams_to_the_sink(void **state)
{
    (void)state;
    qv_chost *h = host();
    served s;
    /* hello sets its response after writing its body: both go at the set. */
    qv_component *c = load_handler("hello");
    collected k = {0};
    qv_http_request rq = get("/x");
    serve_to(c, h, &rq, &no_net, &(qv_http_sink){&k, collect_head, collect_body, NULL}, &s);
    assert_int_equal(s.trap, 0);
    assert_true(s.resp.streamed);
    assert_int_equal(s.resp.status, 200);
    assert_int_equal(s.resp.body_len, 0); /* all of it went to the sink */
    assert_int_equal(k.heads, 1);
    assert_string_equal(k.body, "Hello from a hand-written wasi:http component\n");
    qv_component_delete(c);
    /* stream sets it first, writes, then traps: the head and the part are out. */
    c = load_handler("stream");
    k = (collected){0};
    rq = get("/x/trap");
    serve_to(c, h, &rq, &no_net, &(qv_http_sink){&k, collect_head, collect_body, NULL}, &s);
    assert_int_equal(s.trap, QV_TRAP_UNREACHABLE);
    assert_int_equal(k.heads, 1);
    assert_int_equal(k.status, 200);
    assert_string_equal(k.body, "first part\n");
    /* The client goes away during 50 MiB: the guest's next write fails (it traps on that). */
    k = (collected){.refuse_at = 3};
    rq = get("/x/big");
    serve_to(c, h, &rq, &no_net, &(qv_http_sink){&k, collect_head, collect_body, NULL}, &s);
    assert_int_equal(s.trap, QV_TRAP_UNREACHABLE);
    assert_int_equal(k.writes, 3);
    assert_int_equal(k.total, 2 * 65536);
    qv_component_delete(c);
    qv_chost_delete(h);
}

static void traps_reach_the_caller(void **state)
{
    (void)state;
    qv_component *c = load_handler("trap");
    qv_chost *h = host();
    qv_http_request rq = get("/");
    served s;
    serve(c, h, &rq, &no_net, &s);
    assert_int_equal(s.trap, QV_TRAP_UNREACHABLE);
    qv_chost_delete(h);
    qv_component_delete(c);
}

static void a_command_is_not_a_handler(void **state)
{
    (void)state;
    qv_component *c = load("examples/hello-component/app.component.wasm");
    if (!c) fail_msg("examples/hello-component/app.component.wasm is missing (make)");
    assert_null(qv_component_find_export(c, "wasi:http/incoming-handler@0.2.0"));
    assert_non_null(qv_component_find_export(c, "wasi:cli/run@0.2.0"));
    qv_component_delete(c);
    qv_component *handler = load_handler("hello");
    assert_string_equal(qv_component_find_export(handler, "wasi:http/incoming-handler@0.2.3"),
                        "wasi:http/incoming-handler@0.2.0");
    qv_component_delete(handler);
}

/* The JavaScript handler (when componentize-js built it). */
static qv_component *js;
static qv_chost *js_host;

static void javascript_handler_answers(void **state)
{
    (void)state;
    if (!js) skip();
    qv_http_request rq = get("/js/headers?a=1");
    served s;
    serve(js, js_host, &rq, &no_net, &s);
    assert_int_equal(s.trap, 0);
    assert_int_equal(s.resp.status, 200);
    assert_non_null(strstr(s.body, "GET /js/headers?a=1\n"));
    assert_non_null(strstr(s.body, "x-custom: forty two\n"));
}

static void javascript_echo_streams_the_body(void **state)
{
    (void)state;
    if (!js) skip();
    static char body[100000];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
    static const qv_http_field headers[] = {{"Content-Type", "text/x-test"}};
    qv_http_request rq = {.method = "POST", .path_with_query = "/js/echo?status=201", .authority = "example.test",
                          .headers = headers, .nheaders = 1, .body = body, .body_len = sizeof body};
    served s;
    serve(js, js_host, &rq, &no_net, &s);
    assert_int_equal(s.trap, 0);
    assert_int_equal(s.resp.status, 201);
    assert_int_equal(s.resp.body_len, sizeof body);
    assert_memory_equal(s.body, body, sizeof s.body - 1);
    /* A response body past the limit is not passed on. */
    qv_http_policy small = {.net = QV_HTTP_NET_NONE, .max_body = 1000};
    serve(js, js_host, &rq, &small, &s);
    assert_int_equal(s.resp.status, 0); /* (StarlingMonkey traps when a write fails) */
    assert_true(s.resp.body_too_large);
}

static void javascript_outbound_is_refused_without_net(void **state)
{
    (void)state;
    if (!js) skip();
    qv_http_request rq = get("/js/fetch?url=http://127.0.0.1:9/x");
    served s;
    serve(js, js_host, &rq, &no_net, &s);
    assert_int_equal(s.resp.status, 502);
    assert_non_null(strstr(s.body, "fetch failed"));
    assert_string_equal(s.notes,
                        "outbound request to 127.0.0.1:9 refused: the app has no network permission (permissions.net)\n");
    const char *const hosts[] = {"*.example.test"};
    const uint16_t ports[] = {443};
    qv_http_policy some = {.net = QV_HTTP_NET_RESTRICTED, .hosts = hosts, .nhosts = 1, .ports = ports, .nports = 1};
    rq = get("/js/fetch?url=http://example.test:443/x"); /* *.example.test is its subdomains only */
    serve(js, js_host, &rq, &some, &s);
    assert_non_null(strstr(s.notes, "refused: the host is not in permissions.net.allowed_hosts"));
    rq = get("/js/fetch?url=http://a.example.test:80/x");
    serve(js, js_host, &rq, &some, &s);
    assert_non_null(strstr(s.notes, "refused: the port is not in permissions.net.allowed_ports"));
}

static void javascript_exception_leaves_no_response(void **state)
{
    (void)state;
    if (!js) skip();
    qv_http_request rq = get("/js/throw");
    served s;
    serve(js, js_host, &rq, &no_net, &s);
    assert_int_equal(s.trap, 0);
    assert_int_equal(s.resp.status, 0); /* the server answers 500 */
    assert_string_not_equal(s.resp.why, "");
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(dir, sizeof dir, "%s", argv[0]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    FILE *f = fopen(js_path, "rb");
    if (f) {
        fclose(f);
        js = load(js_path);
        js_host = host();
    } else {
        fprintf(stderr, "test_wasi_http: %s was not built (componentize-js is missing): its tests are skipped\n", js_path);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_written_handler_answers),
        cmocka_unit_test(a_response_streams_to_the_sink),
        cmocka_unit_test(traps_reach_the_caller),
        cmocka_unit_test(a_command_is_not_a_handler),
        cmocka_unit_test(javascript_handler_answers),
        cmocka_unit_test(javascript_echo_streams_the_body),
        cmocka_unit_test(javascript_outbound_is_refused_without_net),
        cmocka_unit_test(javascript_exception_leaves_no_response),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    qv_chost_delete(js_host);
    qv_component_delete(js);
    return failed;
}
