/*
 * test_budget.c — a store's memory budget (qv_store_limits.max_bytes):
 * everything a guest can make the engine allocate counts against it —
 * memory pages, tables and their growth, globals, element segments,
 * instances — and passing it fails that store alone, quickly, with an
 * error naming the limit. Modules are built here, byte by byte, in sizes
 * a .wat file could not hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "qyvol/wasm.h"

/* A growing byte buffer for a module. */
typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void byte(bytes *b, uint8_t v) { put(b, &v, 1); }

static void leb(bytes *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7F;
        v >>= 7;
        byte(b, c | (v ? 0x80 : 0));
    } while (v);
}

static void section(bytes *module, uint8_t id, const bytes *content)
{
    byte(module, id);
    leb(module, content->len);
    put(module, content->p, content->len);
}

static bytes header(void)
{
    bytes m = {0};
    put(&m, "\0asm\1\0\0\0", 8);
    return m;
}

/* `ntables` funcref tables of `elems` elements each. */
static qv_module *tables_module(uint32_t ntables, uint32_t elems)
{
    bytes m = header(), s = {0};
    leb(&s, ntables);
    for (uint32_t i = 0; i < ntables; i++) byte(&s, 0x70), byte(&s, 0), leb(&s, elems);
    section(&m, 4, &s);
    qv_error err;
    qv_module *mod = qv_module_new(m.p, m.len, &err);
    if (!mod) fail_msg("%s", err.message);
    free(m.p), free(s.p);
    return mod;
}

/* `n` immutable i32 globals. */
static qv_module *globals_module(uint32_t n)
{
    bytes m = header(), s = {0};
    leb(&s, n);
    for (uint32_t i = 0; i < n; i++) put(&s, "\x7f\x00\x41\x00\x0b", 5);
    section(&m, 6, &s);
    qv_module *mod = qv_module_new(m.p, m.len, NULL);
    assert_non_null(mod);
    free(m.p), free(s.p);
    return mod;
}

/* One function and a passive element segment naming it `n` times. */
static qv_module *elems_module(uint32_t n)
{
    bytes m = header(), s = {0};
    put(&s, "\x01\x60\x00\x00", 4); /* type 0: [] -> [] */
    section(&m, 1, &s);
    s.len = 0;
    put(&s, "\x01\x00", 2); /* func 0: type 0 */
    section(&m, 3, &s);
    s.len = 0;
    leb(&s, 1);
    put(&s, "\x01\x00", 2); /* passive, elemkind funcref */
    leb(&s, n);
    for (uint32_t i = 0; i < n; i++) byte(&s, 0);
    section(&m, 9, &s);
    s.len = 0;
    put(&s, "\x01\x02\x00\x0b", 4); /* the body: end */
    section(&m, 10, &s);
    qv_error err;
    qv_module *mod = qv_module_new(m.p, m.len, &err);
    if (!mod) fail_msg("%s", err.message);
    free(m.p), free(s.p);
    return mod;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Instantiate in a store with the given budget; the error message, or
 * "" when it instantiated. */
static const char *instantiate(qv_module *mod, uint64_t max_bytes, qv_error *err)
{
    qv_store *s = qv_store_new(&(qv_store_limits){.max_bytes = max_bytes});
    qv_trap *trap = NULL;
    err->message[0] = 0;
    qv_instance *inst = qv_instance_new(s, mod, NULL, 0, &trap, err);
    assert_null(trap);
    if (inst) assert_true(qv_store_bytes(s) <= max_bytes || !max_bytes);
    qv_store_delete(s);
    return inst ? "" : err->message;
}

/* The attack of issue 10: 20,000 tables of 10,000 elements under 1 MiB
 * took 1.5 GB. Now the first tables use the budget and instantiation
 * stops, in well under a second. */
static void many_tables_fail_fast_under_a_budget(void **state)
{
    (void)state;
    qv_module *mod = tables_module(20000, 10000);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qv_error err;
    const char *why = instantiate(mod, 1 << 20, &err);
    assert_non_null(strstr(why, "would pass the store's memory limit of 1048576 bytes"));
    assert_true(seconds_since(&t0) < 0.5);
    /* A few of them fit. */
    qv_module_delete(mod);
    mod = tables_module(5, 10000);
    assert_string_equal(instantiate(mod, 1 << 20, &err), "");
    qv_module_delete(mod);
}

/* Without a budget, the store's element limit counts all tables
 * together: 100,000 tables of 10,000 stop at 10 million elements. */
static void the_table_limit_counts_all_tables(void **state)
{
    (void)state;
    qv_module *mod = tables_module(100000, 10000);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    qv_error err;
    const char *why = instantiate(mod, 0, &err);
    assert_non_null(strstr(why, "passes the store's table limit of 10000000 elements"));
    assert_true(seconds_since(&t0) < 5);
    qv_module_delete(mod);

    qv_store *s = qv_store_new(&(qv_store_limits){.max_table_elems = 10});
    qv_table *a = qv_table_new(s, QV_FUNCREF, (qv_limits){6, 0, false}, qv_funcref(NULL), &err);
    assert_non_null(a);
    assert_null(qv_table_new(s, QV_FUNCREF, (qv_limits){5, 0, false}, qv_funcref(NULL), &err));
    qv_table *b = qv_table_new(s, QV_FUNCREF, (qv_limits){4, 0, false}, qv_funcref(NULL), &err);
    assert_non_null(b);
    assert_int_equal(qv_table_grow(a, 1, qv_funcref(NULL)), -1);
    qv_store_delete(s);
}

static void globals_and_element_segments_are_counted(void **state)
{
    (void)state;
    qv_error err;
    qv_module *mod = globals_module(100000);
    assert_non_null(strstr(instantiate(mod, 1 << 20, &err), "a global: 24 bytes more would pass"));
    assert_string_equal(instantiate(mod, 64 << 20, &err), "");
    qv_module_delete(mod);
    mod = elems_module(200000); /* 1.6 MB of references */
    assert_non_null(strstr(instantiate(mod, 1 << 20, &err), "an element segment: 1600008 bytes more"));
    assert_string_equal(instantiate(mod, 64 << 20, &err), "");
    qv_module_delete(mod);
}

/* Memories and tables share the budget with each other and with the
 * embedder's charges; growth past it fails as the spec lets it (-1). */
static void growth_shares_one_budget(void **state)
{
    (void)state;
    const uint64_t page = 65536;
    qv_store *s = qv_store_new(&(qv_store_limits){.max_bytes = 4 * page});
    qv_error err;
    qv_memory *m = qv_memory_new(s, (qv_limits){1, 0, false}, &err);
    assert_non_null(m);
    assert_int_equal(qv_memory_grow(m, 2), 1);
    assert_true(qv_store_bytes(s) > 3 * page);
    assert_int_equal(qv_memory_grow(m, 1), -1); /* the memory object took some too */
    assert_int_equal(qv_memory_pages(m), 3);
    qv_table *t = qv_table_new(s, QV_EXTERNREF, (qv_limits){0, 0, false}, qv_externref(NULL), &err);
    assert_non_null(t);
    uint64_t left = 4 * page - qv_store_bytes(s);
    assert_int_equal(qv_table_grow(t, (uint32_t)(left / sizeof(void *)) + 1, qv_externref(NULL)), -1);
    assert_int_equal(qv_table_grow(t, 16, qv_externref(NULL)), 0);
    /* The embedder's charges: all or nothing. */
    left = 4 * page - qv_store_bytes(s);
    assert_false(qv_store_charge(s, left + 1));
    assert_true(qv_store_charge(s, left));
    assert_int_equal(qv_store_bytes(s), 4 * page);
    assert_false(qv_store_charge(s, 1));
    assert_true(qv_store_charge(s, 0));
    assert_null(qv_memory_new(s, (qv_limits){1, 0, false}, &err));
    assert_non_null(strstr(err.message, "a memory's initial pages: 65"));
    qv_store_delete(s);

    /* No budget: charges always succeed and are still counted. */
    s = qv_store_new(NULL);
    assert_true(qv_store_charge(s, UINT64_MAX / 2));
    assert_int_equal(qv_store_bytes(s), UINT64_MAX / 2);
    qv_store_delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_tables_fail_fast_under_a_budget),
        cmocka_unit_test(the_table_limit_counts_all_tables),
        cmocka_unit_test(globals_and_element_segments_are_counted),
        cmocka_unit_test(growth_shares_one_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
