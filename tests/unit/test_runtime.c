/*
 * test_runtime.c — the runtime objects behind the public API: memories
 * (limits, growth in place, protection of unused pages), tables, globals,
 * host functions and value conversion, traps, the linker, and instantiation
 * of small modules hand-assembled below (import checks, segments, exports,
 * start-function traps).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/runtime.h"
#include "qyvol/wasm.h"

#define PAGE 65536u

/* ------------------------------------------------------------ module bytes */

typedef struct wasm_buf { uint8_t b[2048]; size_t n; } wasm_buf;

static void put(wasm_buf *w, const uint8_t *p, size_t n)
{
    assert_true(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void begin_module(wasm_buf *w)
{
    static const uint8_t header[] = {0x00, 'a', 's', 'm', 1, 0, 0, 0};
    w->n = 0;
    put(w, header, sizeof header);
}

/* A section with its size computed, so the byte arrays below hold only the
 * contents (whose vector counts are written by hand). */
static void section(wasm_buf *w, uint8_t id, const uint8_t *content, size_t n)
{
    put(w, &id, 1);
    size_t v = n;
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        if (v) byte |= 0x80;
        put(w, &byte, 1);
    } while (v);
    put(w, content, n);
}

#define SECTION(w, id, ...)                                \
    do {                                                   \
        static const uint8_t content_[] = {__VA_ARGS__};   \
        section((w), (id), content_, sizeof content_);     \
    } while (0)

enum { SEC_TYPE = 1, SEC_IMPORT, SEC_FUNC, SEC_TABLE, SEC_MEMORY, SEC_GLOBAL, SEC_EXPORT,
       SEC_START, SEC_ELEM, SEC_CODE, SEC_DATA };

static qv_module *compile(const wasm_buf *w)
{
    qv_error err;
    qv_module *m = qv_module_new(w->b, w->n, &err);
    if (!m) fail_msg("hand-built module rejected at offset %zu: %s", err.offset, err.message);
    return m;
}

/*
 * (module
 *   (type $t0 (func (param i32) (result i32)))
 *   (type $t1 (func (result i32)))
 *   (import "env" "f" (func $f (type $t0)))
 *   (import "env" "t" (table 2 10 funcref))
 *   (import "env" "m" (memory 1 4))
 *   (import "env" "g" (global $g i32))
 *   (func $f2 (type $t1) (i32.const 42))
 *   (global (export "copy") i32 (global.get $g))
 *   (export "f2" (func $f2)) (export "t" (table 0)) (export "m" (memory 0))
 *   (elem (offset (global.get $g)) func $f $f2)
 *   (elem func $f)                 ;; passive
 *   (elem declare func $f2)
 *   (data (offset (global.get $g)) "hi")
 *   (data "zz"))                   ;; passive
 */
static qv_module *importer_module(void)
{
    wasm_buf w;
    begin_module(&w);
    SECTION(&w, SEC_TYPE, 2, 0x60, 1, 0x7F, 1, 0x7F, 0x60, 0, 1, 0x7F);
    SECTION(&w, SEC_IMPORT, 4,
            3, 'e', 'n', 'v', 1, 'f', 0x00, 0,
            3, 'e', 'n', 'v', 1, 't', 0x01, 0x70, 0x01, 2, 10,
            3, 'e', 'n', 'v', 1, 'm', 0x02, 0x01, 1, 4,
            3, 'e', 'n', 'v', 1, 'g', 0x03, 0x7F, 0x00);
    SECTION(&w, SEC_FUNC, 1, 1);
    SECTION(&w, SEC_GLOBAL, 1, 0x7F, 0x00, 0x23, 0, 0x0B);
    SECTION(&w, SEC_EXPORT, 4,
            2, 'f', '2', 0x00, 1,
            4, 'c', 'o', 'p', 'y', 0x03, 1,
            1, 't', 0x01, 0,
            1, 'm', 0x02, 0);
    SECTION(&w, SEC_ELEM, 3,
            0x00, 0x23, 0, 0x0B, 2, 0, 1,
            0x01, 0x00, 1, 0,
            0x03, 0x00, 1, 1);
    SECTION(&w, SEC_CODE, 1, 4, 0, 0x41, 42, 0x0B);
    SECTION(&w, SEC_DATA, 2,
            0x00, 0x23, 0, 0x0B, 2, 'h', 'i',
            0x01, 2, 'z', 'z');
    return compile(&w);
}

/*
 * (module
 *   (import "env" "f" (func $f (param i32) (result i32)))
 *   (import "env" "t" (table 1 funcref))
 *   (import "env" "m" (memory 1))
 *   (import "env" "te" (global $te i32))
 *   (import "env" "de" (global $de i32))
 *   (elem (offset (i32.const 0)) func $f)
 *   (elem (offset (global.get $te)) func $f)
 *   (data (offset (i32.const 0)) "ok")
 *   (data (offset (global.get $de)) "xy"))
 */
static qv_module *two_segments_module(void)
{
    wasm_buf w;
    begin_module(&w);
    SECTION(&w, SEC_TYPE, 1, 0x60, 1, 0x7F, 1, 0x7F);
    SECTION(&w, SEC_IMPORT, 5,
            3, 'e', 'n', 'v', 1, 'f', 0x00, 0,
            3, 'e', 'n', 'v', 1, 't', 0x01, 0x70, 0x00, 1,
            3, 'e', 'n', 'v', 1, 'm', 0x02, 0x00, 1,
            3, 'e', 'n', 'v', 2, 't', 'e', 0x03, 0x7F, 0x00,
            3, 'e', 'n', 'v', 2, 'd', 'e', 0x03, 0x7F, 0x00);
    SECTION(&w, SEC_ELEM, 2,
            0x00, 0x41, 0, 0x0B, 1, 0,
            0x00, 0x23, 0, 0x0B, 1, 0);
    SECTION(&w, SEC_DATA, 2,
            0x00, 0x41, 0, 0x0B, 2, 'o', 'k',
            0x00, 0x23, 1, 0x0B, 2, 'x', 'y');
    return compile(&w);
}

/*
 * (module
 *   (import "env" "t" (table 0 funcref))
 *   (import "env" "m" (memory 0))
 *   (import "env" "te" (global $te i32))
 *   (import "env" "de" (global $de i32))
 *   (elem (offset (global.get $te)) func)
 *   (data (offset (global.get $de)) ""))
 */
static qv_module *empty_segments_module(void)
{
    wasm_buf w;
    begin_module(&w);
    SECTION(&w, SEC_IMPORT, 4,
            3, 'e', 'n', 'v', 1, 't', 0x01, 0x70, 0x00, 0,
            3, 'e', 'n', 'v', 1, 'm', 0x02, 0x00, 0,
            3, 'e', 'n', 'v', 2, 't', 'e', 0x03, 0x7F, 0x00,
            3, 'e', 'n', 'v', 2, 'd', 'e', 0x03, 0x7F, 0x00);
    SECTION(&w, SEC_ELEM, 1, 0x00, 0x23, 0, 0x0B, 0);
    SECTION(&w, SEC_DATA, 1, 0x00, 0x23, 1, 0x0B, 0);
    return compile(&w);
}

/*
 * (module
 *   (import "env" "m" (memory 1))
 *   (func $answer (result i32) (i32.const 42))
 *   (func $boom unreachable)
 *   (table 1 1 funcref)
 *   (global (mut i64) (i64.const -2))
 *   (export "answer" (func $answer)) (export "tab" (table 0))
 *   (export "g" (global 0)) (export "mem\00x" (memory 0))
 *   (elem (offset (i32.const 0)) funcref (ref.func $answer))
 *   (data (offset (i32.const 0)) "S")
 *   (start $boom))                 ;; only when with_start
 */
static qv_module *definer_module(bool with_start)
{
    wasm_buf w;
    begin_module(&w);
    SECTION(&w, SEC_TYPE, 2, 0x60, 0, 1, 0x7F, 0x60, 0, 0);
    SECTION(&w, SEC_IMPORT, 1, 3, 'e', 'n', 'v', 1, 'm', 0x02, 0x00, 1);
    SECTION(&w, SEC_FUNC, 2, 0, 1);
    SECTION(&w, SEC_TABLE, 1, 0x70, 0x01, 1, 1);
    SECTION(&w, SEC_GLOBAL, 1, 0x7E, 0x01, 0x42, 0x7E, 0x0B);
    SECTION(&w, SEC_EXPORT, 4,
            6, 'a', 'n', 's', 'w', 'e', 'r', 0x00, 0,
            3, 't', 'a', 'b', 0x01, 0,
            1, 'g', 0x03, 0,
            5, 'm', 'e', 'm', 0, 'x', 0x02, 0);
    if (with_start) SECTION(&w, SEC_START, 1);
    SECTION(&w, SEC_ELEM, 1, 0x04, 0x41, 0, 0x0B, 1, 0xD2, 0, 0x0B);
    SECTION(&w, SEC_CODE, 2, 4, 0, 0x41, 42, 0x0B, 3, 0, 0x00, 0x0B);
    SECTION(&w, SEC_DATA, 1, 0x00, 0x41, 0, 0x0B, 1, 'S');
    return compile(&w);
}

/* (module (memory (export "mem") MIN) (data (i32.const 0) "")) */
static qv_module *own_memory_module(uint8_t min_pages)
{
    wasm_buf w;
    begin_module(&w);
    const uint8_t mem[] = {1, 0x00, min_pages};
    section(&w, SEC_MEMORY, mem, sizeof mem);
    SECTION(&w, SEC_EXPORT, 1, 3, 'm', 'e', 'm', 0x02, 0);
    SECTION(&w, SEC_DATA, 1, 0x00, 0x41, 0, 0x0B, 0);
    return compile(&w);
}

/* ------------------------------------------------------------ host helpers */

static const qv_valtype i32_to_i32[] = {QV_I32, QV_I32};

static qv_trap *add_one(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller;
    (void)env;
    results[0] = qv_i32(args[0].of.i32 + 1);
    return NULL;
}

static qv_func *add_one_func(qv_store *s)
{
    qv_func *f = qv_func_new(s, (qv_functype){1, 1, i32_to_i32}, add_one, NULL, NULL);
    assert_non_null(f);
    return f;
}

static qv_extern ext_func(qv_func *f) { return (qv_extern){.kind = QV_EXTERN_FUNC, .of.func = f}; }
static qv_extern ext_table(qv_table *t) { return (qv_extern){.kind = QV_EXTERN_TABLE, .of.table = t}; }
static qv_extern ext_memory(qv_memory *m) { return (qv_extern){.kind = QV_EXTERN_MEMORY, .of.memory = m}; }
static qv_extern ext_global(qv_global *g) { return (qv_extern){.kind = QV_EXTERN_GLOBAL, .of.global = g}; }

static qv_table *new_table(qv_store *s, qv_valtype elem, uint32_t min, uint32_t max, bool has_max)
{
    qv_error err;
    qv_val null = elem == QV_FUNCREF ? qv_funcref(NULL) : qv_externref(NULL);
    qv_table *t = qv_table_new(s, elem, (qv_limits){min, max, has_max}, null, &err);
    if (!t) fail_msg("qv_table_new: %s", err.message);
    return t;
}

static qv_memory *new_memory(qv_store *s, uint32_t min, uint32_t max, bool has_max)
{
    qv_error err;
    qv_memory *m = qv_memory_new(s, (qv_limits){min, max, has_max}, &err);
    if (!m) fail_msg("qv_memory_new: %s", err.message);
    return m;
}

static qv_global *new_global(qv_store *s, qv_val v, bool mut)
{
    qv_error err;
    qv_global *g = qv_global_new(s, v, mut, &err);
    if (!g) fail_msg("qv_global_new: %s", err.message);
    return g;
}

static qv_extern export_of(const qv_instance *inst, const char *name, qv_externkind kind)
{
    qv_extern ext;
    if (!qv_instance_export(inst, name, &ext)) fail_msg("no export named %s", name);
    assert_int_equal(ext.kind, kind);
    return ext;
}

static void *table_ref(const qv_table *t, uint32_t i)
{
    qv_val v;
    assert_true(qv_table_get(t, i, &v));
    return v.type == QV_FUNCREF ? (void *)v.of.funcref : v.of.externref;
}

/* Compare only the member the type selects: the rest of the union is
 * unspecified. */
static bool same_value(qv_val a, qv_val b)
{
    if (a.type != b.type) return false;
    switch (a.type) {
    case QV_I32: return a.of.i32 == b.of.i32;
    case QV_I64: return a.of.i64 == b.of.i64;
    case QV_F32: return a.of.f32_bits == b.of.f32_bits;
    case QV_F64: return a.of.f64_bits == b.of.f64_bits;
    case QV_FUNCREF: return a.of.funcref == b.of.funcref;
    case QV_EXTERNREF: return a.of.externref == b.of.externref;
    case QV_V128: return memcmp(a.of.v128, b.of.v128, 16) == 0;
    }
    return false;
}

/* ------------------------------------------------------------ memories */

static void memory_limits_are_checked_at_creation(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(&(qv_store_limits){.max_memory_pages = 8});
    qv_error err;
    assert_null(qv_memory_new(s, (qv_limits){3, 2, true}, &err));
    assert_string_equal(err.message, "size minimum must not be greater than maximum");
    assert_null(qv_memory_new(s, (qv_limits){1, 65537, true}, &err));
    assert_string_equal(err.message, "memory size must be at most 65536 pages (4GiB)");
    assert_null(qv_memory_new(s, (qv_limits){9, 0, false}, &err));
    assert_string_equal(err.message, "memory minimum exceeds the store's memory limit");

    qv_memory *m = new_memory(s, 2, 5, true);
    assert_int_equal(qv_memory_pages(m), 2);
    assert_int_equal(qv_memory_size(m), 2 * PAGE);
    qv_limits l = qv_memory_limits(m);
    assert_int_equal(l.min, 2);
    assert_int_equal(l.max, 5);
    assert_true(l.has_max);
    const uint8_t *d = qv_memory_data(m);
    for (size_t i = 0; i < 2 * PAGE; i++)
        if (d[i]) fail_msg("new memory not zeroed at byte %zu", i);
    qv_store_delete(s);
}

static void memory_grows_in_place_up_to_declared_max(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_memory *m = new_memory(s, 1, 4, true);
    uint8_t *data = qv_memory_data(m);
    data[PAGE - 1] = 0xAB;
    assert_int_equal(qv_memory_grow(m, 0), 1);
    assert_int_equal(qv_memory_pages(m), 1);
    assert_int_equal(qv_memory_grow(m, 2), 1);
    assert_int_equal(qv_memory_pages(m), 3);
    assert_int_equal(qv_memory_size(m), 3 * PAGE);
    assert_ptr_equal(qv_memory_data(m), data);
    assert_int_equal(data[PAGE - 1], 0xAB);
    assert_int_equal(data[PAGE], 0);
    data[3 * PAGE - 1] = 1; /* the new pages are writable */
    assert_int_equal(qv_memory_limits(m).min, 3); /* imports match on the current size */

    assert_int_equal(qv_memory_grow(m, 2), -1); /* 5 > 4 */
    assert_int_equal(qv_memory_pages(m), 3);
    assert_int_equal(qv_memory_grow(m, UINT32_MAX), -1);
    assert_int_equal(qv_memory_grow(m, 1), 3);   /* exactly the maximum */
    assert_int_equal(qv_memory_grow(m, 1), -1);
    assert_int_equal(qv_memory_grow(m, 0), 4);
    assert_ptr_equal(qv_memory_data(m), data);
    qv_store_delete(s);
}

static void memory_growth_obeys_the_store_limit(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(&(qv_store_limits){.max_memory_pages = 3});
    qv_memory *unbounded = new_memory(s, 1, 0, false);
    assert_int_equal(qv_memory_grow(unbounded, 2), 1);
    assert_int_equal(qv_memory_grow(unbounded, 1), -1);
    /* A declared maximum above the store limit is still capped by it. */
    qv_memory *bounded = new_memory(s, 0, 100, true);
    assert_int_equal(qv_memory_grow(bounded, 4), -1);
    assert_int_equal(qv_memory_grow(bounded, 3), 0);
    assert_int_equal(qv_memory_limits(bounded).max, 100);
    qv_store_delete(s);
}

static void zero_page_memories_work(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_memory *m = new_memory(s, 0, 0, false);
    assert_non_null(qv_memory_data(m));
    assert_int_equal(qv_memory_size(m), 0);
    assert_int_equal(qv_memory_grow(m, 1), 0);
    qv_memory_data(m)[PAGE - 1] = 7;

    qv_memory *fixed = new_memory(s, 0, 0, true);
    assert_non_null(qv_memory_data(fixed));
    assert_int_equal(qv_memory_grow(fixed, 0), 0);
    assert_int_equal(qv_memory_grow(fixed, 1), -1);
    qv_store_delete(s);
}

static void exit_on_segv(int sig)
{
    (void)sig;
    _exit(42);
}

/* Write one byte at `offset` in a child process; true if it faulted. */
static bool write_faults(uint8_t *data, size_t offset)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = exit_on_segv;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        ((volatile uint8_t *)data)[offset] = 1;
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status) == 42;
}

/* Pages past the current size stay inaccessible: a stray access faults
 * instead of reading memory the module does not own. */
static void pages_beyond_the_size_are_protected(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_memory *m = new_memory(s, 1, 3, true);
    uint8_t *data = qv_memory_data(m);
    assert_false(write_faults(data, PAGE - 1));
    assert_true(write_faults(data, PAGE));
    assert_int_equal(qv_memory_grow(m, 1), 1);
    assert_false(write_faults(data, PAGE));
    assert_false(write_faults(data, 2 * PAGE - 1));
    assert_true(write_faults(data, 2 * PAGE));
    qv_store_delete(s);
}

/* ------------------------------------------------------------ tables */

static void table_creation_checks_types_and_limits(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(&(qv_store_limits){.max_table_elems = 100});
    qv_error err;
    err.message[0] = 0;
    assert_null(qv_table_new(s, QV_I32, (qv_limits){1, 0, false}, qv_i32(0), &err));
    assert_true(strstr(err.message, "reference type") != NULL);
    assert_null(qv_table_new(s, QV_FUNCREF, (qv_limits){1, 0, false}, qv_externref(NULL), &err));
    assert_true(strstr(err.message, "reference type") != NULL);
    assert_null(qv_table_new(s, QV_FUNCREF, (qv_limits){2, 1, true}, qv_funcref(NULL), &err));
    assert_string_equal(err.message, "size minimum must not be greater than maximum");
    assert_null(qv_table_new(s, QV_FUNCREF, (qv_limits){101, 0, false}, qv_funcref(NULL), &err));
    assert_string_equal(err.message, "table minimum of 101 elements exceeds the store's table limit of 100");

    int marker;
    qv_table *t = qv_table_new(s, QV_EXTERNREF, (qv_limits){3, 0, false}, qv_externref(&marker), &err);
    assert_non_null(t);
    assert_int_equal(qv_table_elem_type(t), QV_EXTERNREF);
    for (uint32_t i = 0; i < 3; i++) assert_ptr_equal(table_ref(t, i), &marker);
    qv_store_delete(s);
}

static void table_get_set_and_grow(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_func *f = add_one_func(s);
    qv_table *t = new_table(s, QV_FUNCREF, 2, 4, true);
    assert_int_equal(qv_table_size(t), 2);
    assert_null(table_ref(t, 0));

    assert_true(qv_table_set(t, 1, qv_funcref(f)));
    qv_val v;
    assert_true(qv_table_get(t, 1, &v));
    assert_int_equal(v.type, QV_FUNCREF);
    assert_ptr_equal(v.of.funcref, f);
    assert_false(qv_table_get(t, 2, &v));
    assert_false(qv_table_set(t, 2, qv_funcref(f)));
    assert_false(qv_table_set(t, 0, qv_externref(NULL))); /* wrong reference type */
    assert_false(qv_table_set(t, 0, qv_i32(0)));
    assert_null(table_ref(t, 0));

    assert_int_equal(qv_table_grow(t, 0, qv_funcref(NULL)), 2);
    assert_int_equal(qv_table_grow(t, 1, qv_externref(NULL)), -1);
    assert_int_equal(qv_table_grow(t, 3, qv_funcref(f)), -1); /* 5 > 4 */
    assert_int_equal(qv_table_size(t), 2);
    assert_int_equal(qv_table_grow(t, 2, qv_funcref(f)), 2);
    assert_int_equal(qv_table_size(t), 4);
    assert_ptr_equal(table_ref(t, 1), f); /* old entries survive the reallocation */
    assert_ptr_equal(table_ref(t, 2), f);
    assert_ptr_equal(table_ref(t, 3), f);
    assert_int_equal(qv_table_limits(t).min, 4);
    assert_int_equal(qv_table_limits(t).max, 4);
    assert_int_equal(qv_table_grow(t, 1, qv_funcref(NULL)), -1);
    assert_int_equal(qe_table_grow(t, UINT32_MAX, NULL), -1);
    qv_store_delete(s);
}

static void table_growth_obeys_the_store_limit(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(&(qv_store_limits){.max_table_elems = 10});
    qv_table *t = new_table(s, QV_EXTERNREF, 0, 0, false);
    assert_int_equal(qv_table_grow(t, 11, qv_externref(NULL)), -1);
    assert_int_equal(qv_table_grow(t, 10, qv_externref(t)), 0);
    assert_ptr_equal(table_ref(t, 9), t);
    assert_int_equal(qv_table_grow(t, 1, qv_externref(NULL)), -1);
    qv_store_delete(s);
}

/* ------------------------------------------------------------ globals */

static void globals_keep_values_of_every_type(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_func *f = add_one_func(s);
    int marker;
    const qv_val values[] = {
        qv_i32(-5), qv_i64(INT64_MIN), qv_f32_bits(0x7FA00001u), /* a signalling NaN survives */
        qv_f64_bits(0xFFF8000000000123ull), qv_funcref(f), qv_funcref(NULL),
        qv_externref(&marker), qv_externref(NULL),
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        qv_global *g = new_global(s, values[i], i % 2 == 0);
        assert_int_equal(qv_global_type(g), values[i].type);
        assert_int_equal(qv_global_mutable(g), i % 2 == 0);
        if (!same_value(qv_global_get(g), values[i])) fail_msg("global %zu changed its value", i);
    }
    qv_store_delete(s);
}

static void global_set_checks_mutability_and_type(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_error err;
    qv_global *constant = new_global(s, qv_i64(7), false);
    assert_false(qv_global_set(constant, qv_i64(8), &err));
    assert_string_equal(err.message, "global is immutable");
    assert_true(qv_global_get(constant).of.i64 == 7);

    qv_global *var = new_global(s, qv_i64(7), true);
    assert_false(qv_global_set(var, qv_i32(8), &err));
    assert_string_equal(err.message, "type mismatch: global is i64, value is i32");
    assert_true(qv_global_get(var).of.i64 == 7);
    assert_true(qv_global_set(var, qv_i64(-1), &err));
    assert_true(qv_global_get(var).of.i64 == -1);

    qv_global *ref = new_global(s, qv_externref(NULL), true);
    assert_false(qv_global_set(ref, qv_funcref(NULL), &err));
    assert_true(qv_global_set(ref, qv_externref(s), &err));
    assert_ptr_equal(qv_global_get(ref).of.externref, s);

    qv_val v128 = {.type = QV_V128};
    err.message[0] = 0;
    assert_null(qv_global_new(s, v128, false, &err));
    assert_true(err.message[0] != 0);
    qv_store_delete(s);
}

/* ------------------------------------------------------------ functions */

/* More parameters than the host-call fast path keeps on the C stack, with
 * every value type, and several results. */
#define WIDE_PARAMS 20
static const qv_valtype wide_types[WIDE_PARAMS + 5] = {
    QV_I32, QV_I64, QV_F32, QV_F64, QV_EXTERNREF, QV_FUNCREF, QV_I32, QV_I64, QV_F32, QV_F64,
    QV_EXTERNREF, QV_FUNCREF, QV_I32, QV_I64, QV_F32, QV_F64, QV_EXTERNREF, QV_FUNCREF, QV_I32, QV_I64,
    /* results */
    QV_I64, QV_F32, QV_F64, QV_EXTERNREF, QV_FUNCREF,
};

static qv_val wide_arg(size_t i, qv_func *self)
{
    switch (wide_types[i]) {
    case QV_I32: return qv_i32(-(int32_t)i);
    case QV_I64: return qv_i64(((int64_t)1 << 40) + (int64_t)i);
    case QV_F32: return qv_f32_bits(0x7FC00000u + (uint32_t)i);
    case QV_F64: return qv_f64_bits(0x7FF8000000000000ull + i);
    case QV_EXTERNREF: return qv_externref((void *)(uintptr_t)(0x1000 + i));
    case QV_FUNCREF: return qv_funcref(i == 5 ? self : NULL);
    default: return qv_i32(0);
    }
}

static qv_trap *wide_host(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    qv_func *self = *(qv_func **)env;
    if (qv_caller_instance(caller) || qv_caller_memory(caller))
        return qv_trap_new(QV_TRAP_HOST, "called from the embedder, there is no calling instance");
    int64_t sum = 0;
    for (size_t i = 0; i < WIDE_PARAMS; i++) {
        qv_val want = wide_arg(i, self);
        if (!same_value(args[i], want)) {
            char msg[64];
            snprintf(msg, sizeof msg, "argument %zu arrived changed", i);
            return qv_trap_new(QV_TRAP_HOST, msg);
        }
        if (args[i].type == QV_I32) sum += args[i].of.i32;
    }
    for (size_t i = 0; i < 5; i++)
        if (results[i].type != wide_types[WIDE_PARAMS + i])
            return qv_trap_new(QV_TRAP_HOST, "result types are not preset");
    results[0] = qv_i64(sum);
    results[1] = qv_f32_bits(0xFF800001u);
    results[2] = qv_f64_bits(0x0000000000000001ull);
    results[3] = qv_externref(env);
    results[4] = qv_funcref(self);
    return NULL;
}

static void host_calls_convert_every_value_type(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_func *self = NULL;
    qv_func *f = qv_func_new(s, (qv_functype){WIDE_PARAMS, 5, wide_types}, wide_host, &self, NULL);
    assert_non_null(f);
    self = f;
    qv_functype ft = qv_func_type(f);
    assert_int_equal(ft.nparams, WIDE_PARAMS);
    assert_int_equal(ft.nresults, 5);
    assert_memory_equal(ft.types, wide_types, sizeof wide_types);

    qv_val args[WIDE_PARAMS], results[5];
    for (size_t i = 0; i < WIDE_PARAMS; i++) args[i] = wide_arg(i, self);
    qv_trap *trap = qv_func_call(s, f, args, WIDE_PARAMS, results, 5);
    if (trap) fail_msg("trap: %s", qv_trap_message(trap));
    assert_int_equal(results[0].type, QV_I64);
    assert_true(results[0].of.i64 == 0 - 6 - 12 - 18);
    assert_int_equal(results[1].of.f32_bits, 0xFF800001u);
    assert_true(results[2].of.f64_bits == 1);
    assert_int_equal(results[3].type, QV_EXTERNREF);
    assert_ptr_equal(results[3].of.externref, &self);
    assert_int_equal(results[4].type, QV_FUNCREF);
    assert_ptr_equal(results[4].of.funcref, f);
    qv_store_delete(s);
}

static qv_trap *wrong_result_type(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller;
    (void)env;
    (void)args;
    results[0] = qv_i64(1);
    return NULL;
}

static qv_trap *exits(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller;
    (void)env;
    (void)args;
    (void)results;
    return qv_trap_new_exit(3);
}

static void host_results_and_traps_are_checked(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_func *wrong = qv_func_new(s, (qv_functype){1, 1, i32_to_i32}, wrong_result_type, NULL, NULL);
    qv_val arg = qv_i32(1), res;
    qv_trap *trap = qv_func_call(s, wrong, &arg, 1, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_HOST);
    assert_string_equal(qv_trap_message(trap), "host function returned a value of the wrong type");
    qv_trap_delete(trap);

    qv_func *exiting = qv_func_new(s, (qv_functype){1, 1, i32_to_i32}, exits, NULL, NULL);
    trap = qv_func_call(s, exiting, &arg, 1, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_EXIT);
    assert_int_equal(qv_trap_exit_status(trap), 3);
    qv_trap_delete(trap);

    trap = qv_func_call(s, exiting, NULL, 0, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_HOST);
    assert_string_equal(qv_trap_message(trap),
                        "wrong number of arguments or results: function takes 1 and returns 1");
    qv_trap_delete(trap);
    trap = qv_func_call(s, exiting, &arg, 1, NULL, 0);
    assert_non_null(trap);
    qv_trap_delete(trap);
    qv_store_delete(s);
}

static void count_finalize(void *env) { ++*(int *)env; }

static void store_delete_runs_finalizers(void **state)
{
    (void)state;
    int finalized = 0;
    qv_store *s = qv_store_new(NULL);
    for (int i = 0; i < 3; i++)
        assert_non_null(qv_func_new(s, (qv_functype){1, 1, i32_to_i32}, add_one, &finalized, count_finalize));
    assert_non_null(qv_func_new(s, (qv_functype){1, 1, i32_to_i32}, add_one, &finalized, NULL));
    assert_int_equal(finalized, 0);
    qv_store_delete(s);
    assert_int_equal(finalized, 3);
}

static void store_settings(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    assert_true(qv_store_fuel(s) < 0); /* disabled by default */
    qv_store_set_fuel(s, 12);
    assert_int_equal(qv_store_fuel(s), 12);
    qv_store_set_fuel(s, -7);
    assert_int_equal(qv_store_fuel(s), -1);
    assert_null(qv_store_data(s));
    qv_store_set_data(s, &s);
    assert_ptr_equal(qv_store_data(s), &s);
    qv_store_interrupt(s);
    qv_store_clear_interrupt(s);
    qv_store_delete(s);
    qv_store_delete(NULL);
}

/* ------------------------------------------------------------ traps */

static void traps_carry_spec_messages(void **state)
{
    (void)state;
    static const struct { qv_trap_kind kind; const char *text; } expected[] = {
        {QV_TRAP_UNREACHABLE, "unreachable"},
        {QV_TRAP_MEMORY_OUT_OF_BOUNDS, "out of bounds memory access"},
        {QV_TRAP_TABLE_OUT_OF_BOUNDS, "out of bounds table access"},
        {QV_TRAP_INDIRECT_CALL_NULL, "uninitialized element"},
        {QV_TRAP_INDIRECT_CALL_TYPE, "indirect call type mismatch"},
        {QV_TRAP_INTEGER_DIVIDE_BY_ZERO, "integer divide by zero"},
        {QV_TRAP_INTEGER_OVERFLOW, "integer overflow"},
        {QV_TRAP_INVALID_CONVERSION, "invalid conversion to integer"},
        {QV_TRAP_STACK_EXHAUSTED, "call stack exhausted"},
        {QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS, "out of bounds memory access"},
        {QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS, "out of bounds table access"},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        qv_trap *t = qv_trap_new(expected[i].kind, NULL);
        assert_int_equal(qv_trap_kind_of(t), expected[i].kind);
        assert_string_equal(qv_trap_message(t), expected[i].text);
        assert_string_equal(qe_trap_kind_message(expected[i].kind), expected[i].text);
        assert_int_equal(qv_trap_frame_count(t), 0);
        qv_trap_delete(t);
    }
    for (qv_trap_kind k = QV_TRAP_UNREACHABLE; k <= QV_TRAP_EXIT; k++)
        assert_true(strlen(qe_trap_kind_message(k)) > 0);

    char text[] = "custom failure";
    qv_trap *t = qv_trap_new(QV_TRAP_HOST, text);
    text[0] = 'X'; /* the trap holds its own copy */
    assert_string_equal(qv_trap_message(t), "custom failure");
    qv_trap_delete(t);

    t = qv_trap_new_exit(-9);
    assert_int_equal(qv_trap_kind_of(t), QV_TRAP_EXIT);
    assert_int_equal(qv_trap_exit_status(t), -9);
    qv_trap_delete(t);
    qv_trap_delete(NULL);
}

static void trap_frames_are_copied_and_bounded(void **state)
{
    (void)state;
    qv_trap *t = qv_trap_new(QV_TRAP_UNREACHABLE, NULL);
    char name[] = "inner";
    qe_trap_add_frame(t, 4, name, "mod");
    name[0] = 'X';
    qe_trap_add_frame(t, 9, NULL, NULL);
    assert_int_equal(qv_trap_frame_count(t), 2);
    qv_frame f0 = qv_trap_frame(t, 0), f1 = qv_trap_frame(t, 1);
    assert_int_equal(f0.func_index, 4);
    assert_string_equal(f0.func_name, "inner");
    assert_string_equal(f0.module_name, "mod");
    assert_int_equal(f1.func_index, 9);
    assert_null(f1.func_name);
    assert_null(f1.module_name);
    /* Deep recursion must not build an unbounded backtrace. */
    for (uint32_t i = 0; i < 100000; i++) qe_trap_add_frame(t, i, "f", NULL);
    assert_true(qv_trap_frame_count(t) < 100000);
    assert_int_equal(qv_trap_frame(t, 0).func_index, 4); /* innermost frames kept */
    qv_trap_delete(t);
}

/* ------------------------------------------------------------ linker */

static void linker_maps_names_to_externs(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_linker *l = qv_linker_new(s);
    enum { N = 2000 }; /* enough to force the map to grow several times */
    qv_global *globals[N];
    char name[32];
    for (int i = 0; i < N; i++) {
        globals[i] = new_global(s, qv_i32(i), false);
        snprintf(name, sizeof name, "g%d", i);
        qv_linker_define(l, i % 2 ? "odd" : "even", name, ext_global(globals[i]));
    }
    qv_extern out;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "g%d", i);
        assert_true(qv_linker_get(l, i % 2 ? "odd" : "even", name, &out));
        assert_int_equal(out.kind, QV_EXTERN_GLOBAL);
        assert_ptr_equal(out.of.global, globals[i]);
        assert_false(qv_linker_get(l, i % 2 ? "even" : "odd", name, &out));
    }
    assert_false(qv_linker_get(l, "", "", &out));
    assert_true(qv_linker_get(l, "even", "g0", NULL));

    /* The same name in many modules: each (module, name) pair is its own. */
    char module[32];
    for (int i = 0; i < N; i++) {
        snprintf(module, sizeof module, "m%d", i);
        qv_linker_define(l, module, "x", ext_global(globals[i]));
    }
    for (int i = 0; i < N; i++) {
        snprintf(module, sizeof module, "m%d", i);
        assert_true(qv_linker_get(l, module, "x", &out));
        assert_ptr_equal(out.of.global, globals[i]);
    }

    /* A later definition replaces the earlier one. */
    qv_memory *m = new_memory(s, 0, 0, false);
    qv_linker_define(l, "even", "g0", ext_memory(m));
    assert_true(qv_linker_get(l, "even", "g0", &out));
    assert_int_equal(out.kind, QV_EXTERN_MEMORY);
    assert_ptr_equal(out.of.memory, m);

    assert_true(qv_linker_define_func(l, "host", "add_one", (qv_functype){1, 1, i32_to_i32}, add_one, NULL));
    assert_true(qv_linker_get(l, "host", "add_one", &out));
    assert_int_equal(out.kind, QV_EXTERN_FUNC);
    qv_val arg = qv_i32(41), res;
    assert_null(qv_func_call(s, out.of.func, &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, 42);
    qv_linker_delete(l);
    qv_linker_delete(NULL);
    qv_store_delete(s);
}

typedef struct importer_env {
    qv_store *store;
    qv_func *f;
    qv_table *t;
    qv_memory *m;
    qv_global *g;
} importer_env;

static importer_env importer_env_new(uint32_t offset)
{
    importer_env e;
    e.store = qv_store_new(NULL);
    e.f = add_one_func(e.store);
    e.t = new_table(e.store, QV_FUNCREF, 5, 10, true);
    e.m = new_memory(e.store, 1, 4, true);
    e.g = new_global(e.store, qv_i32((int32_t)offset), false);
    return e;
}

static qv_instance *link_importer(qv_linker *l, const qv_module *mod, const importer_env *e, qv_error *err)
{
    qv_linker_define(l, "env", "f", ext_func(e->f));
    qv_linker_define(l, "env", "t", ext_table(e->t));
    qv_linker_define(l, "env", "m", ext_memory(e->m));
    qv_linker_define(l, "env", "g", ext_global(e->g));
    qv_trap *trap = NULL;
    qv_instance *inst = qv_linker_instantiate(l, mod, &trap, err);
    if (trap) fail_msg("unexpected trap: %s", qv_trap_message(trap));
    return inst;
}

static void linker_registers_instances_and_names_missing_imports(void **state)
{
    (void)state;
    qv_module *mod = importer_module();
    importer_env e = importer_env_new(0);
    qv_linker *l = qv_linker_new(e.store);
    qv_error err;
    qv_trap *trap = (qv_trap *)&err; /* must be reset to NULL */
    assert_null(qv_linker_instantiate(l, mod, &trap, &err));
    assert_null(trap);
    assert_string_equal(err.message, "unknown import: env.f");
    qv_linker_define(l, "env", "f", ext_func(e.f));
    assert_null(qv_linker_instantiate(l, mod, &trap, &err));
    assert_string_equal(err.message, "unknown import: env.t");

    qv_instance *inst = link_importer(l, mod, &e, &err);
    if (!inst) fail_msg("instantiate: %s", err.message);
    qv_linker_define_instance(l, "a", inst);
    static const struct { const char *name; qv_externkind kind; } exports[] = {
        {"f2", QV_EXTERN_FUNC}, {"copy", QV_EXTERN_GLOBAL}, {"t", QV_EXTERN_TABLE}, {"m", QV_EXTERN_MEMORY},
    };
    for (size_t i = 0; i < 4; i++) {
        qv_extern via_linker, direct = export_of(inst, exports[i].name, exports[i].kind);
        assert_true(qv_linker_get(l, "a", exports[i].name, &via_linker));
        assert_int_equal(via_linker.kind, exports[i].kind);
        assert_ptr_equal(via_linker.of.func, direct.of.func);
    }
    assert_ptr_equal(export_of(inst, "t", QV_EXTERN_TABLE).of.table, e.t); /* re-exported imports */
    assert_ptr_equal(export_of(inst, "m", QV_EXTERN_MEMORY).of.memory, e.m);
    qv_linker_delete(l);
    qv_store_delete(e.store);
    qv_module_delete(mod);
}

/* ------------------------------------------------------------ instances */

/* Instantiate the importer module with one import replaced. */
static const char *link_with(const qv_module *mod, const importer_env *e, size_t slot, qv_extern replacement)
{
    static qv_error err;
    qv_extern imports[4] = {ext_func(e->f), ext_table(e->t), ext_memory(e->m), ext_global(e->g)};
    imports[slot] = replacement;
    qv_trap *trap = NULL;
    err.message[0] = 0;
    qv_instance *inst = qv_instance_new(e->store, mod, imports, 4, &trap, &err);
    assert_null(trap);
    return inst ? NULL : err.message;
}

static void imports_are_checked_against_their_types(void **state)
{
    (void)state;
    qv_module *mod = importer_module();
    importer_env e = importer_env_new(0);
    qv_store *s = e.store;
    static const qv_valtype i64_to_i32[] = {QV_I64, QV_I32};
    static const qv_valtype i32_to_nothing[] = {QV_I32};

    assert_null(link_with(mod, &e, 0, ext_func(e.f)));
    /* Functions: structural type equality. */
    qv_func *takes_i64 = qv_func_new(s, (qv_functype){1, 1, i64_to_i32}, add_one, NULL, NULL);
    qv_func *returns_nothing = qv_func_new(s, (qv_functype){1, 0, i32_to_nothing}, add_one, NULL, NULL);
    qv_func *same_shape = qv_func_new(s, (qv_functype){1, 1, i32_to_i32}, add_one, NULL, NULL);
    assert_string_equal(link_with(mod, &e, 0, ext_func(takes_i64)), "incompatible import type: env.f");
    assert_non_null(link_with(mod, &e, 0, ext_func(returns_nothing)));
    assert_null(link_with(mod, &e, 0, ext_func(same_shape)));
    assert_string_equal(link_with(mod, &e, 0, ext_memory(e.m)), "incompatible import type: env.f");
    assert_string_equal(link_with(mod, &e, 0, ext_func(NULL)), "incompatible import type: env.f");
    assert_string_equal(link_with(mod, &e, 3, ext_global(NULL)), "incompatible import type: env.g");

    /* Tables (2..10 funcref expected): limits subtyping and element type. */
    assert_null(link_with(mod, &e, 1, ext_table(new_table(s, QV_FUNCREF, 2, 10, true))));
    assert_null(link_with(mod, &e, 1, ext_table(new_table(s, QV_FUNCREF, 7, 7, true))));
    assert_string_equal(link_with(mod, &e, 1, ext_table(new_table(s, QV_FUNCREF, 1, 10, true))),
                        "incompatible import type: env.t");
    assert_non_null(link_with(mod, &e, 1, ext_table(new_table(s, QV_FUNCREF, 2, 11, true))));
    assert_non_null(link_with(mod, &e, 1, ext_table(new_table(s, QV_FUNCREF, 2, 0, false))));
    assert_non_null(link_with(mod, &e, 1, ext_table(new_table(s, QV_EXTERNREF, 2, 10, true))));
    qv_table *grown = new_table(s, QV_FUNCREF, 1, 10, true);
    assert_non_null(link_with(mod, &e, 1, ext_table(grown)));
    assert_int_equal(qv_table_grow(grown, 1, qv_funcref(NULL)), 1); /* the current size counts */
    assert_null(link_with(mod, &e, 1, ext_table(grown)));

    /* Memories (1..4 expected). */
    assert_null(link_with(mod, &e, 2, ext_memory(new_memory(s, 2, 3, true))));
    assert_string_equal(link_with(mod, &e, 2, ext_memory(new_memory(s, 0, 4, true))),
                        "incompatible import type: env.m");
    assert_non_null(link_with(mod, &e, 2, ext_memory(new_memory(s, 1, 5, true))));
    assert_non_null(link_with(mod, &e, 2, ext_memory(new_memory(s, 1, 0, false))));
    assert_non_null(link_with(mod, &e, 2, ext_table(e.t)));

    /* Globals (immutable i32 expected): type and mutability. */
    assert_string_equal(link_with(mod, &e, 3, ext_global(new_global(s, qv_i32(0), true))),
                        "incompatible import type: env.g");
    assert_non_null(link_with(mod, &e, 3, ext_global(new_global(s, qv_i64(0), false))));
    assert_non_null(link_with(mod, &e, 3, ext_global(new_global(s, qv_f32_bits(0), false))));

    qv_error err;
    qv_trap *trap;
    qv_extern one = ext_func(e.f);
    assert_null(qv_instance_new(s, mod, &one, 1, &trap, &err));
    assert_null(trap);
    assert_string_equal(err.message, "module needs 4 imports, 1 given");
    qv_store_delete(s);
    qv_module_delete(mod);
}

static void module_reports_imports_and_exports(void **state)
{
    (void)state;
    qv_module *mod = importer_module();
    static const char *const import_names[] = {"f", "t", "m", "g"};
    assert_int_equal(qv_module_import_count(mod), 4);
    for (size_t i = 0; i < 4; i++) {
        const char *module_name, *name;
        qv_externkind kind;
        qv_module_import(mod, i, &module_name, &name, &kind);
        assert_string_equal(module_name, "env");
        assert_string_equal(name, import_names[i]);
        assert_int_equal(kind, (qv_externkind)i);
    }
    qv_functype ft = qv_module_import_functype(mod, 0);
    assert_int_equal(ft.nparams, 1);
    assert_int_equal(ft.nresults, 1);
    assert_int_equal(ft.types[0], QV_I32);
    assert_int_equal(ft.types[1], QV_I32);
    ft = qv_module_import_functype(mod, 1); /* a table: no function type */
    assert_int_equal(ft.nparams + ft.nresults, 0);
    assert_null(ft.types);

    static const char *const export_names[] = {"f2", "copy", "t", "m"};
    static const qv_externkind export_kinds[] = {QV_EXTERN_FUNC, QV_EXTERN_GLOBAL, QV_EXTERN_TABLE,
                                                 QV_EXTERN_MEMORY};
    assert_int_equal(qv_module_export_count(mod), 4);
    for (size_t i = 0; i < 4; i++) {
        const char *name;
        qv_externkind kind;
        qv_module_export(mod, i, &name, &kind);
        assert_string_equal(name, export_names[i]);
        assert_int_equal(kind, export_kinds[i]);
    }
    qv_module_delete(mod);
}

static void segments_fill_imported_table_and_memory(void **state)
{
    (void)state;
    qv_module *mod = importer_module();
    importer_env e = importer_env_new(3);
    qv_linker *l = qv_linker_new(e.store);
    qv_error err;
    qv_instance *inst = link_importer(l, mod, &e, &err);
    if (!inst) fail_msg("instantiate: %s", err.message);

    qv_global *copy = export_of(inst, "copy", QV_EXTERN_GLOBAL).of.global;
    assert_int_equal(qv_global_get(copy).of.i32, 3); /* initialised from the imported global */
    assert_false(qv_global_mutable(copy));

    qv_func *f2 = export_of(inst, "f2", QV_EXTERN_FUNC).of.func;
    assert_null(table_ref(e.t, 0)); /* the passive segment is not applied */
    assert_null(table_ref(e.t, 2));
    assert_ptr_equal(table_ref(e.t, 3), e.f);
    assert_ptr_equal(table_ref(e.t, 4), f2);

    const uint8_t *data = qv_memory_data(e.m);
    assert_memory_equal(data + 3, "hi", 2);
    assert_int_equal(data[2], 0);
    assert_int_equal(data[5], 0);

    qv_val res;
    assert_null(qv_func_call(e.store, f2, NULL, 0, &res, 1));
    assert_int_equal(res.type, QV_I32);
    assert_int_equal(res.of.i32, 42);
    qv_linker_delete(l);
    qv_store_delete(e.store);
    qv_module_delete(mod);
}

static qv_instance *instantiate_two_segments(const qv_module *mod, qv_store *s, qv_func *f, qv_table *t,
                                             qv_memory *m, int32_t te, int32_t de, qv_trap **trap)
{
    qv_extern imports[5] = {ext_func(f), ext_table(t), ext_memory(m),
                            ext_global(new_global(s, qv_i32(te), false)),
                            ext_global(new_global(s, qv_i32(de), false))};
    qv_error err;
    err.message[0] = 0;
    qv_instance *inst = qv_instance_new(s, mod, imports, 5, trap, &err);
    if (!inst && !*trap) fail_msg("link error: %s", err.message);
    return inst;
}

static void failing_segment_keeps_earlier_writes(void **state)
{
    (void)state;
    qv_module *mod = two_segments_module();
    qv_store *s = qv_store_new(NULL);
    qv_func *f = add_one_func(s);
    qv_trap *trap = NULL;

    /* Element segment 1 at 2 (+1) overflows a 2-entry table: segment 0 stays
     * written, no data segment runs. */
    qv_table *t = new_table(s, QV_FUNCREF, 2, 0, false);
    qv_memory *m = new_memory(s, 1, 0, false);
    assert_null(instantiate_two_segments(mod, s, f, t, m, 2, 0, &trap));
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS);
    assert_string_equal(qv_trap_message(trap), "out of bounds table access");
    qv_trap_delete(trap);
    assert_ptr_equal(table_ref(t, 0), f);
    assert_null(table_ref(t, 1));
    assert_int_equal(qv_memory_data(m)[0], 0);

    /* An offset that wraps around 2^32 must not pass the bounds check. */
    t = new_table(s, QV_FUNCREF, 2, 0, false);
    assert_null(instantiate_two_segments(mod, s, f, t, m, -1, 0, &trap));
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS);
    qv_trap_delete(trap);

    /* Data segment 1 at 65535 (+2) overflows one page: nothing of it is
     * written, segment 0 and both element segments are. */
    t = new_table(s, QV_FUNCREF, 2, 0, false);
    assert_null(instantiate_two_segments(mod, s, f, t, m, 1, 65535, &trap));
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS);
    assert_string_equal(qv_trap_message(trap), "out of bounds memory access");
    qv_trap_delete(trap);
    assert_ptr_equal(table_ref(t, 1), f);
    assert_memory_equal(qv_memory_data(m), "ok", 2);
    assert_int_equal(qv_memory_data(m)[65535], 0);

    /* Without a trap pointer the trap is dropped, not leaked. */
    qv_extern imports[5] = {ext_func(f), ext_table(t), ext_memory(m),
                            ext_global(new_global(s, qv_i32(5), false)),
                            ext_global(new_global(s, qv_i32(0), false))};
    assert_null(qv_instance_new(s, mod, imports, 5, NULL, NULL));

    m = new_memory(s, 1, 0, false);
    qv_instance *inst = instantiate_two_segments(mod, s, f, t, m, 1, 65534, &trap);
    assert_non_null(inst);
    assert_null(trap);
    assert_memory_equal(qv_memory_data(m) + 65534, "xy", 2);
    qv_store_delete(s);
    qv_module_delete(mod);
}

static void empty_segments_are_bounds_checked_too(void **state)
{
    (void)state;
    qv_module *mod = empty_segments_module();
    qv_store *s = qv_store_new(NULL);
    static const struct { uint32_t table_size, mem_pages; int32_t te, de; qv_trap_kind trap; } cases[] = {
        {2, 1, 2, 65536, 0},
        {2, 1, 3, 0, QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS},
        {2, 1, 0, 65537, QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS},
        {0, 0, 0, 0, 0},
        {0, 0, 0, 1, QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qv_extern imports[4] = {
            ext_table(new_table(s, QV_FUNCREF, cases[i].table_size, 0, false)),
            ext_memory(new_memory(s, cases[i].mem_pages, 0, false)),
            ext_global(new_global(s, qv_i32(cases[i].te), false)),
            ext_global(new_global(s, qv_i32(cases[i].de), false)),
        };
        qv_trap *trap = NULL;
        qv_error err;
        qv_instance *inst = qv_instance_new(s, mod, imports, 4, &trap, &err);
        if (!cases[i].trap) {
            if (!inst) fail_msg("case %zu: %s", i, trap ? qv_trap_message(trap) : err.message);
            continue;
        }
        assert_null(inst);
        if (!trap) fail_msg("case %zu: expected a trap", i);
        assert_int_equal(qv_trap_kind_of(trap), cases[i].trap);
        qv_trap_delete(trap);
    }
    qv_store_delete(s);
    qv_module_delete(mod);
}

static void defined_objects_are_exported(void **state)
{
    (void)state;
    qv_module *mod = definer_module(false);
    qv_store *s = qv_store_new(NULL);
    qv_memory *m = new_memory(s, 1, 0, false);
    qv_extern imp = ext_memory(m);
    qv_trap *trap = NULL;
    qv_error err;
    qv_instance *inst = qv_instance_new(s, mod, &imp, 1, &trap, &err);
    if (!inst) fail_msg("instantiate: %s", trap ? qv_trap_message(trap) : err.message);

    assert_int_equal(qv_instance_export_count(inst), 4);
    qv_extern ext;
    assert_string_equal(qv_instance_export_at(inst, 0, &ext), "answer");
    assert_int_equal(ext.kind, QV_EXTERN_FUNC);
    qv_func *answer = ext.of.func;
    assert_null(qv_instance_export_at(inst, 4, &ext));
    assert_false(qv_instance_export(inst, "missing", &ext));
    assert_false(qv_instance_export(inst, "mem", &ext)); /* the name is "mem\0x" */
    assert_true(qv_instance_export_bytes(inst, "mem\0x", 5, &ext));
    assert_int_equal(ext.kind, QV_EXTERN_MEMORY);
    assert_ptr_equal(ext.of.memory, m);

    qv_functype ft = qv_func_type(answer);
    assert_int_equal(ft.nparams, 0);
    assert_int_equal(ft.nresults, 1);
    assert_int_equal(ft.types[0], QV_I32);

    qv_table *tab = export_of(inst, "tab", QV_EXTERN_TABLE).of.table;
    assert_int_equal(qv_table_size(tab), 1);
    qv_limits tl = qv_table_limits(tab);
    assert_true(tl.has_max);
    assert_int_equal(tl.max, 1);
    assert_ptr_equal(table_ref(tab, 0), answer); /* from (ref.func $answer) */
    assert_int_equal(qv_table_grow(tab, 1, qv_funcref(NULL)), -1);

    qv_global *g = export_of(inst, "g", QV_EXTERN_GLOBAL).of.global;
    assert_int_equal(qv_global_type(g), QV_I64);
    assert_true(qv_global_mutable(g));
    assert_true(qv_global_get(g).of.i64 == -2);
    assert_int_equal(qv_memory_data(m)[0], 'S');

    qv_val res;
    assert_null(qv_func_call(s, answer, NULL, 0, &res, 1));
    assert_int_equal(res.of.i32, 42);

    /* Each instantiation has its own objects. */
    qv_instance *again = qv_instance_new(s, mod, &imp, 1, &trap, &err);
    assert_non_null(again);
    assert_ptr_not_equal(export_of(again, "g", QV_EXTERN_GLOBAL).of.global, g);
    assert_ptr_not_equal(export_of(again, "answer", QV_EXTERN_FUNC).of.func, answer);
    assert_int_equal(qv_func_type(export_of(again, "answer", QV_EXTERN_FUNC).of.func).nresults, 1);
    qv_store_delete(s);
    qv_module_delete(mod);
}

static void start_function_trap_fails_instantiation(void **state)
{
    (void)state;
    qv_module *mod = definer_module(true);
    qv_store *s = qv_store_new(NULL);
    qv_memory *m = new_memory(s, 1, 0, false);
    qv_extern imp = ext_memory(m);
    qv_trap *trap = NULL;
    qv_error err;
    assert_null(qv_instance_new(s, mod, &imp, 1, &trap, &err));
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_UNREACHABLE);
    assert_string_equal(qv_trap_message(trap), "unreachable");
    qv_trap_delete(trap);
    assert_int_equal(qv_memory_data(m)[0], 'S'); /* data segments ran before start */
    qv_store_delete(s);
    qv_module_delete(mod);
}

static void defined_memories_follow_store_limits(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(&(qv_store_limits){.max_memory_pages = 4});
    qv_module *zero = own_memory_module(0);
    qv_trap *trap = NULL;
    qv_error err;
    qv_instance *inst = qv_instance_new(s, zero, NULL, 0, &trap, &err);
    if (!inst) fail_msg("zero-page memory: %s", err.message);
    qv_memory *m = export_of(inst, "mem", QV_EXTERN_MEMORY).of.memory;
    assert_int_equal(qv_memory_pages(m), 0);
    assert_int_equal(qv_memory_grow(m, 4), 0);
    assert_int_equal(qv_memory_grow(m, 1), -1);

    qv_module *big = own_memory_module(5);
    err.message[0] = 0;
    assert_null(qv_instance_new(s, big, NULL, 0, &trap, &err));
    assert_null(trap);
    assert_string_equal(err.message, "memory minimum exceeds the store's memory limit");
    qv_store_delete(s);
    qv_module_delete(zero);
    qv_module_delete(big);
}

/* Instances point at their module, but deleting the store must not read it:
 * embedders may delete modules first. (AddressSanitizer builds catch a
 * read of the freed module.) */
static void module_may_be_deleted_before_the_store(void **state)
{
    (void)state;
    qv_module *mod = definer_module(false);
    qv_store *s = qv_store_new(NULL);
    qv_extern imp = ext_memory(new_memory(s, 1, 0, false));
    qv_trap *trap = NULL;
    qv_error err;
    assert_non_null(qv_instance_new(s, mod, &imp, 1, &trap, &err));
    assert_non_null(qv_instance_new(s, mod, &imp, 1, &trap, &err));
    qv_module_delete(mod);
    qv_store_delete(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memory_limits_are_checked_at_creation),
        cmocka_unit_test(memory_grows_in_place_up_to_declared_max),
        cmocka_unit_test(memory_growth_obeys_the_store_limit),
        cmocka_unit_test(zero_page_memories_work),
        cmocka_unit_test(pages_beyond_the_size_are_protected),
        cmocka_unit_test(table_creation_checks_types_and_limits),
        cmocka_unit_test(table_get_set_and_grow),
        cmocka_unit_test(table_growth_obeys_the_store_limit),
        cmocka_unit_test(globals_keep_values_of_every_type),
        cmocka_unit_test(global_set_checks_mutability_and_type),
        cmocka_unit_test(host_calls_convert_every_value_type),
        cmocka_unit_test(host_results_and_traps_are_checked),
        cmocka_unit_test(store_delete_runs_finalizers),
        cmocka_unit_test(store_settings),
        cmocka_unit_test(traps_carry_spec_messages),
        cmocka_unit_test(trap_frames_are_copied_and_bounded),
        cmocka_unit_test(linker_maps_names_to_externs),
        cmocka_unit_test(linker_registers_instances_and_names_missing_imports),
        cmocka_unit_test(imports_are_checked_against_their_types),
        cmocka_unit_test(module_reports_imports_and_exports),
        cmocka_unit_test(segments_fill_imported_table_and_memory),
        cmocka_unit_test(failing_segment_keeps_earlier_writes),
        cmocka_unit_test(empty_segments_are_bounds_checked_too),
        cmocka_unit_test(defined_objects_are_exported),
        cmocka_unit_test(start_function_trap_fails_instantiation),
        cmocka_unit_test(defined_memories_follow_store_limits),
        cmocka_unit_test(module_may_be_deleted_before_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
