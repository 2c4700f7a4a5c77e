/*
 * test_wasip2.c — the WASI 0.2 host through its API (qyvol/wasi.h): bound
 * to one context, or defined once and bound per instance (what a server
 * running an instance per request needs), on the hand-written command of
 * tests/components/wat/hello-p2.wat (assembled into ../testcomp).
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
#include "testcomp.h"

static qv_component *load(const char *name)
{
    size_t n;
    uint8_t *b = testcomp_read(name, &n);
    qv_error err;
    qv_component *c = qv_component_new(b, n, &err);
    free(b);
    if (!c) fail_msg("%s: %s", name, err.message);
    return c;
}

static qv_wasi *context(const char *const *args, size_t nargs)
{
    qv_wasi_config cfg = {.args = args, .nargs = nargs, .stdio_in_memory = true};
    char err[256];
    qv_wasi *w = qv_wasi_new(&cfg, err, sizeof err);
    if (!w) fail_msg("qv_wasi_new: %s", err);
    return w;
}

static const char hello[] = "hello from a hand-written component\n";

static void bound_to_one_context(void **state)
{
    (void)state;
    qv_component *c = load("hello-p2");
    static const char *const args[] = {"hello"};
    qv_wasi *w = context(args, 1);
    qv_chost *h = qv_chost_new();
    assert_true(qv_wasip2_define(w, h));
    qv_store *s = qv_store_new(NULL);
    qv_trap *trap;
    qv_error err;
    qv_cinstance *ci = qv_cinstance_new(s, c, h, &trap, &err);
    if (!ci) fail_msg("instantiate: %s", err.message);
    assert_int_equal(qv_wasip2_run(w, ci, &trap), 0);
    size_t len;
    const char *out = qv_wasi_output(w, 1, &len, NULL);
    assert_int_equal(len, strlen(hello));
    assert_memory_equal(out, hello, len);
    qv_cinstance_delete(ci);
    qv_store_delete(s);
    qv_chost_delete(h);
    qv_wasi_delete(w);
    qv_component_delete(c);
}

/* One host, defined once; each instance runs in its own context. */
static void one_host_many_contexts(void **state)
{
    (void)state;
    qv_component *c = load("hello-p2");
    qv_chost *h = qv_chost_new();
    assert_true(qv_wasip2_define(NULL, h));
    static const char *const quiet[] = {"hello"}, *const failing[] = {"hello", "fail"};
    for (int round = 0; round < 4; round++) {
        bool fails = round % 2;
        qv_wasi *w = context(fails ? failing : quiet, fails ? 2 : 1);
        qv_store *s = qv_store_new(NULL);
        qv_trap *trap;
        qv_error err;
        qv_cinstance *ci = qv_cinstance_new(s, c, h, &trap, &err);
        if (!ci) fail_msg("instantiate: %s", err.message);
        assert_int_equal(qv_wasip2_run(w, ci, &trap), fails ? 1 : 0);
        size_t len;
        qv_wasi_output(w, 1, &len, NULL);
        assert_int_equal(len, fails ? 0 : strlen(hello));
        qv_cinstance_delete(ci);
        qv_store_delete(s);
        qv_wasi_delete(w);
    }
    qv_chost_delete(h);
    qv_component_delete(c);
}

int main(int argc, char **argv)
{
    (void)argc;
    testcomp_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bound_to_one_context),
        cmocka_unit_test(one_host_many_contexts),
    };
    return cmocka_run_group_tests_name("wasip2", tests, NULL, NULL);
}
