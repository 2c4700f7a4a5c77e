/*
 * test_component.c — components through the public API
 * (qyvol/component.h): the hand-written components of tests/components/wat
 * (assembled by jco into ../testcomp) decoded, instantiated against a test
 * host and called: strings both ways and in UTF-16, parameters spilled to
 * memory, host and guest resources, a nested component's export, and the
 * traps a guest can cause (forged and dropped handles, bad pointers,
 * invalid UTF-8). Malformed and unsupported components are refused with a
 * message naming the construct; truncated and corrupted ones never crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qyvol/component.h"
#include "testcomp.h"

/* ------------------------------------------------------------ the test host */

#define HOST "test:abi/host@1.0.0"

static int things_dropped;

static void drop_thing(void *env, void *rep)
{
    things_dropped++;
    free(rep);
}

static qv_trap *echo_string(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    char *copy = qv_ccall_alloc(c, a[0].of.str.len + 1);
    memcpy(copy, a[0].of.str.ptr, a[0].of.str.len);
    r[0] = (qv_cval){.kind = QV_C_STRING, .of.str = {copy, a[0].of.str.len}};
    return NULL;
}

static qv_trap *sum_many(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    uint64_t sum = 0;
    for (int i = 0; i < 17; i++) sum += a[i].of.u;
    r[0] = (qv_cval){.kind = QV_C_U64, .of.u = sum};
    return NULL;
}

static qv_trap *make_thing(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    uint32_t *t = malloc(sizeof *t);
    *t = (uint32_t)a[0].of.u * 2;
    r[0] = (qv_cval){.kind = QV_C_OWN, .of.rep = t};
    return NULL;
}

static qv_trap *thing_value(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    r[0] = (qv_cval){.kind = QV_C_U32, .of.u = *(uint32_t *)a[0].of.rep};
    return NULL;
}

typedef struct fixture {
    qv_component *comp;
    qv_chost *host;
    qv_store *store;
    qv_cinstance *ci;
} fixture;

static qv_chost *test_host(void)
{
    qv_chost *h = qv_chost_new();
    assert_non_null(qv_chost_resource(h, HOST, "thing", drop_thing, NULL));
    assert_true(qv_chost_func(h, HOST, "echo-string", "func(s: string) -> string", echo_string, NULL));
    assert_true(qv_chost_func(h, HOST, "sum-many",
                              "func(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64, g: u64, h: u64, i: u64, j: u64, "
                              "k: u64, l: u64, m: u64, n: u64, o: u64, p: u64, q: u64) -> u64",
                              sum_many, NULL));
    assert_true(qv_chost_func(h, HOST, "make-thing", "func(n: u32) -> own<thing>", make_thing, NULL));
    assert_true(qv_chost_func(h, HOST, "thing-value", "func(t: borrow<thing>) -> u32", thing_value, NULL));
    return h;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    size_t len;
    uint8_t *bytes = testcomp_read("abi", &len);
    qv_error err;
    assert_true(qv_is_component(bytes, len));
    f->comp = qv_component_new(bytes, len, &err);
    free(bytes);
    if (!f->comp) fail_msg("abi: %s (at byte %zu)", err.message, err.offset);
    f->host = test_host();
    f->store = qv_store_new(NULL);
    qv_trap *trap;
    f->ci = qv_cinstance_new(f->store, f->comp, f->host, &trap, &err);
    if (!f->ci) fail_msg("instantiate: %s", trap ? qv_trap_message(trap) : err.message);
    things_dropped = 0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    qv_cinstance_delete(f->ci);
    qv_store_delete(f->store);
    qv_chost_delete(f->host);
    qv_component_delete(f->comp);
    free(f);
    return 0;
}

/* Call an export that must trap with a message containing `part`. */
static void expect_trap(fixture *f, const char *iface, const char *name, const char *part)
{
    qv_cval r;
    qv_trap *t = qv_cinstance_call(f->ci, iface, name, NULL, 0, &r, 1);
    if (!t) fail_msg("%s did not trap", name);
    if (!strstr(qv_trap_message(t), part)) fail_msg("%s: trap '%s' lacks '%s'", name, qv_trap_message(t), part);
    qv_trap_delete(t);
}

static void strings_through_a_nested_export(void **state)
{
    fixture *f = *state;
    assert_string_equal(qv_cinstance_find_export(f->ci, "test:abi/api@1.0.9"), "test:abi/api@1.0.0");
    qv_cval arg = {.kind = QV_C_STRING, .of.str = {"grüße, 世界", strlen("grüße, 世界")}}, r;
    qv_trap *t = qv_cinstance_call(f->ci, "test:abi/api@1.0.0", "echo", &arg, 1, &r, 1);
    assert_null(t);
    assert_int_equal(r.kind, QV_C_STRING);
    assert_int_equal(r.of.str.len, arg.of.str.len);
    assert_memory_equal(r.of.str.ptr, arg.of.str.ptr, arg.of.str.len);
}

static void strings_in_utf16(void **state)
{
    fixture *f = *state;
    const char *s = "a\xE2\x82\xAC\xF0\x9F\x98\x80z";
    qv_cval arg = {.kind = QV_C_STRING, .of.str = {s, strlen(s)}}, r;
    assert_null(qv_cinstance_call(f->ci, NULL, "echo16", &arg, 1, &r, 1));
    assert_int_equal(r.of.str.len, strlen(s));
    assert_memory_equal(r.of.str.ptr, s, strlen(s));
}

static void many_params_through_memory(void **state)
{
    fixture *f = *state;
    qv_cval r;
    assert_null(qv_cinstance_call(f->ci, NULL, "sum", NULL, 0, &r, 1));
    assert_int_equal(r.of.u, 17 * 18 / 2);
}

static void host_resources(void **state)
{
    fixture *f = *state;
    qv_cval arg = {.kind = QV_C_U32, .of.u = 21}, r;
    assert_null(qv_cinstance_call(f->ci, NULL, "thing", &arg, 1, &r, 1));
    assert_int_equal(r.of.u, 42);
    assert_int_equal(things_dropped, 1);
    expect_trap(f, NULL, "double-drop", "unknown handle index");
    expect_trap(f, NULL, "forged", "unknown handle index 77");
}

/* The host lends a thing to the guest for one call. */
static void borrows_given_to_the_guest(void **state)
{
    fixture *f = *state;
    uint32_t value = 99;
    qv_cval arg = {.kind = QV_C_BORROW, .of.rep = &value}, r;
    assert_null(qv_cinstance_call(f->ci, NULL, "take-thing", &arg, 1, &r, 1));
    assert_int_equal(r.of.u, 99);
    qv_trap *t = qv_cinstance_call(f->ci, NULL, "keep-thing", &arg, 1, &r, 1);
    assert_non_null(t);
    assert_non_null(strstr(qv_trap_message(t), "borrowed handles were not dropped"));
    qv_trap_delete(t);
    /* The forgotten borrow is gone with its call: handle 1 is free again. */
    assert_null(qv_cinstance_call(f->ci, NULL, "take-thing", &arg, 1, &r, 1));
    assert_int_equal(things_dropped, 0); /* borrows never destroy */
}

/* post-return runs after the result is lifted, and what it frees does
 * not take the result with it. */
static void post_return(void **state)
{
    fixture *f = *state;
    qv_cval r, n;
    assert_null(qv_cinstance_call(f->ci, NULL, "greet", NULL, 0, &r, 1));
    assert_int_equal(r.of.str.len, 8);
    assert_memory_equal(r.of.str.ptr, "hi there", 8);
    assert_null(qv_cinstance_call(f->ci, NULL, "posts", NULL, 0, &n, 1));
    assert_int_equal(n.of.u, 1);
}

static void guest_resources(void **state)
{
    fixture *f = *state;
    qv_cval r;
    assert_null(qv_cinstance_call(f->ci, NULL, "counter", NULL, 0, &r, 1));
    assert_int_equal(r.of.u, 42);
}

static void bad_pointers_trap(void **state)
{
    fixture *f = *state;
    expect_trap(f, NULL, "bad-string", "out of bounds");
    expect_trap(f, NULL, "bad-retptr", "not aligned");
    expect_trap(f, NULL, "bad-utf8", "not valid UTF-8");
    expect_trap(f, NULL, "no-such-export", "exports no function no-such-export");
    /* After traps the instance still answers. */
    qv_cval r;
    assert_null(qv_cinstance_call(f->ci, NULL, "sum", NULL, 0, &r, 1));
}

static void link_errors_name_the_import(void **state)
{
    fixture *f = *state;
    qv_store *store = qv_store_new(NULL);
    qv_trap *trap;
    qv_error err;
    /* A host without the interface. */
    qv_chost *empty = qv_chost_new();
    assert_null(qv_cinstance_new(store, f->comp, empty, &trap, &err));
    assert_null(trap);
    assert_non_null(strstr(err.message, "unknown import: test:abi/host@1.0.0"));
    qv_chost_delete(empty);
    /* A host whose function has another type. */
    qv_chost *other = qv_chost_new();
    qv_chost_resource(other, HOST, "thing", NULL, NULL);
    qv_chost_func(other, HOST, "echo-string", "func(s: string) -> u32", echo_string, NULL);
    assert_null(qv_cinstance_new(store, f->comp, other, &trap, &err));
    assert_non_null(strstr(err.message, "echo-string has another type than the host's"));
    qv_chost_delete(other);
    /* Another major version does not match. */
    qv_chost *v2 = qv_chost_new();
    qv_chost_func(v2, "test:abi/host@2.0.0", "echo-string", "func(s: string) -> string", echo_string, NULL);
    assert_null(qv_cinstance_new(store, f->comp, v2, &trap, &err));
    assert_non_null(strstr(err.message, "unknown import"));
    qv_chost_delete(v2);
    qv_store_delete(store);
}

static void unsupported_constructs_are_named(void **state)
{
    (void)state;
    static const struct { const char *name, *message; } cases[] = {
        {"stream", "the stream type (async) is not supported"},
        {"async", "canonical option async is not supported"},
        {"value", "value imports and exports are not supported"},
        {"fixedlist", "fixed-length lists are not supported"},
        {"badmodule", "core module 0: "},
        {"dupexport", "the export 'a' is declared twice"},
        {"borrowresult", "a function result cannot hold a borrowed handle"},
        {"liftsig", "canon lift: core func 0 has type (i64), the canonical ABI needs (i32)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len;
        uint8_t *bytes = testcomp_read(cases[i].name, &len);
        qv_error err;
        qv_component *c = qv_component_new(bytes, len, &err);
        free(bytes);
        if (c) fail_msg("%s was accepted", cases[i].name);
        if (!strstr(err.message, cases[i].message)) fail_msg("%s: '%s' lacks '%s'", cases[i].name, err.message, cases[i].message);
        assert_true(err.offset > 8 && err.offset < len);
    }
}

static void malformed_never_crashes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *bytes = testcomp_read("abi", &len);
    qv_error err;
    /* A truncation is refused with an offset inside what was given,
     * unless it falls between two sections (the preamble alone is an
     * empty component). */
    size_t refused = 0;
    for (size_t n = 0; n < len; n += n < 64 ? 1 : 7) {
        qv_component *c = qv_component_new(bytes, n, &err);
        if (c) {
            qv_component_delete(c);
            continue;
        }
        refused++;
        assert_true(err.offset <= n);
        assert_true(err.message[0] != 0);
    }
    assert_true(refused > len / 8);
    /* Corrupted bytes: decoded or refused, and what decodes instantiates
     * or is refused, never crashes (the sanitizer build checks). */
    qv_chost *host = test_host();
    uint32_t seed = 12345;
    for (int round = 0; round < 300; round++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, bytes, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            copy[8 + (seed >> 8) % (len - 8)] ^= (uint8_t)(1u << (seed % 8));
        }
        qv_component *c = qv_component_new(copy, len, &err);
        if (c) {
            qv_store *store = qv_store_new(NULL);
            qv_trap *trap = NULL;
            qv_cinstance *ci = qv_cinstance_new(store, c, host, &trap, &err);
            if (trap) qv_trap_delete(trap);
            qv_cinstance_delete(ci);
            qv_store_delete(store);
            qv_component_delete(c);
        }
        free(copy);
    }
    qv_chost_delete(host);
    /* A core module is not a component. */
    static const uint8_t module[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    assert_false(qv_is_component(module, 8));
    assert_null(qv_component_new(module, 8, &err));
    assert_non_null(strstr(err.message, "a core module where a component was expected"));
    free(bytes);
}

/* Append LEB128 of v. */
static size_t leb(uint8_t *out, uint32_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7F;
        v >>= 7;
        out[n++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* Signed LEB128 of a non-negative v (type indices are s33). */
static size_t sleb(uint8_t *out, uint32_t v)
{
    size_t n = 0;
    for (;;) {
        uint8_t b = v & 0x7F;
        v >>= 7;
        if (!v && !(b & 0x40)) {
            out[n++] = b;
            return n;
        }
        out[n++] = b | 0x80;
    }
}

static const uint8_t preamble[8] = {0x00, 0x61, 0x73, 0x6D, 0x0D, 0x00, 0x01, 0x00};

static void nesting_is_bounded(void **state)
{
    (void)state;
    /* 150 option types, each of the one before. */
    uint8_t body[1024], bin[2048];
    size_t n = leb(body, 150);
    body[n++] = 0x6B, body[n++] = 0x7F;
    for (uint32_t i = 1; i < 150; i++) {
        body[n++] = 0x6B;
        n += sleb(body + n, i - 1);
    }
    memcpy(bin, preamble, 8);
    size_t len = 8;
    bin[len++] = 7;
    len += leb(bin + len, (uint32_t)n);
    memcpy(bin + len, body, n);
    len += n;
    qv_error err;
    assert_null(qv_component_new(bin, len, &err));
    assert_non_null(strstr(err.message, "type nesting is deeper than 100"));
    /* 80 components, each the only section of the one around it. */
    uint8_t *inner = malloc(8), *outer;
    memcpy(inner, preamble, 8);
    size_t ilen = 8;
    for (int depth = 0; depth < 80; depth++) {
        outer = malloc(ilen + 16);
        memcpy(outer, preamble, 8);
        size_t olen = 8;
        outer[olen++] = 4;
        olen += leb(outer + olen, (uint32_t)ilen);
        memcpy(outer + olen, inner, ilen);
        olen += ilen;
        free(inner);
        inner = outer;
        ilen = olen;
    }
    assert_null(qv_component_new(inner, ilen, &err));
    assert_non_null(strstr(err.message, "nested deeper than 64"));
    free(inner);
}

int main(int argc, char **argv)
{
    (void)argc;
    testcomp_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(strings_through_a_nested_export, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_in_utf16, setup, teardown),
        cmocka_unit_test_setup_teardown(many_params_through_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(host_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(post_return, setup, teardown),
        cmocka_unit_test_setup_teardown(borrows_given_to_the_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_pointers_trap, setup, teardown),
        cmocka_unit_test_setup_teardown(link_errors_name_the_import, setup, teardown),
        cmocka_unit_test(unsupported_constructs_are_named),
        cmocka_unit_test(malformed_never_crashes),
        cmocka_unit_test(nesting_is_bounded),
    };
    return cmocka_run_group_tests_name("component", tests, NULL, NULL);
}
