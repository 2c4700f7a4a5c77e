/*
 * test_api.c — the public engine API end to end: host functions, imported
 * memory, traps with named backtraces, fuel, interruption from another
 * thread, stack exhaustion, limits, link errors and object checks.
 * Modules come from the .wat files in tests/unit/wat, built by the Makefile next to
 * this binary's folder (in ../testwasm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testwasm.h"

#include "qyvol/wasm.h"


static qv_func *export_func(qv_instance *inst, const char *name)
{
    qv_extern ext;
    assert_true(qv_instance_export(inst, name, &ext));
    assert_int_equal(ext.kind, QV_EXTERN_FUNC);
    return ext.of.func;
}

static qv_trap *host_add(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)env;
    assert_non_null(qv_caller_memory(caller));
    results[0] = qv_i32(args[0].of.i32 + args[1].of.i32);
    return NULL;
}

static const qv_valtype add_types[] = {QV_I32, QV_I32, QV_I32};

typedef struct fixture {
    qv_store *store;
    qv_linker *linker;
    qv_module *module;
    qv_memory *mem;
    qv_instance *inst;
} fixture;

/* env.reenter: calls the instance's "bounce" export, which calls
 * env.reenter again: host and WebAssembly recurse into each other. */
static qv_trap *host_reenter(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)args;
    (void)results;
    fixture *fx = env;
    qv_extern ext;
    assert_true(qv_instance_export(fx->inst, "bounce", &ext));
    return qv_func_call(qv_caller_store(caller), ext.of.func, NULL, 0, NULL, 0);
}

static void setup_host(fixture *fx, const qv_store_limits *limits)
{
    fx->store = qv_store_new(limits);
    fx->linker = qv_linker_new(fx->store);
    fx->module = load("host");
    assert_true(qv_linker_define_func(fx->linker, "env", "add", (qv_functype){2, 1, add_types}, host_add, NULL));
    assert_true(qv_linker_define_func(fx->linker, "env", "reenter", (qv_functype){0, 0, NULL}, host_reenter, fx));
    fx->mem = qv_memory_new(fx->store, (qv_limits){1, 4, true}, NULL);
    qv_linker_define(fx->linker, "env", "mem", (qv_extern){.kind = QV_EXTERN_MEMORY, .of.memory = fx->mem});
    qv_error err;
    qv_trap *trap;
    fx->inst = qv_linker_instantiate(fx->linker, fx->module, &trap, &err);
    if (!fx->inst) fail_msg("instantiate: %s", err.message);
}

static void teardown_host(fixture *fx)
{
    qv_linker_delete(fx->linker);
    qv_store_delete(fx->store);
    qv_module_delete(fx->module);
}

static void host_function_and_memory(void **state)
{
    (void)state;
    fixture fx;
    setup_host(&fx, NULL);
    qv_val arg = qv_i32(5), res;
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "inner"), &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, 105);
    qv_val args[2] = {qv_i32(16), qv_i32(0x12345678)};
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "store"), args, 2, NULL, 0));
    uint32_t v;
    memcpy(&v, qv_memory_data(fx.mem) + 16, 4);
    assert_int_equal(v, 0x12345678);
    teardown_host(&fx);
}

static void trap_has_named_backtrace(void **state)
{
    (void)state;
    fixture fx;
    setup_host(&fx, NULL);
    qv_val arg = qv_i32(7), res;
    qv_trap *trap = qv_func_call(fx.store, export_func(fx.inst, "outer"), &arg, 1, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_INTEGER_DIVIDE_BY_ZERO);
    assert_string_equal(qv_trap_message(trap), "integer divide by zero");
    assert_int_equal(qv_trap_frame_count(trap), 2);
    assert_string_equal(qv_trap_frame(trap, 0).func_name, "divide");
    assert_string_equal(qv_trap_frame(trap, 1).func_name, "outer");
    assert_string_equal(qv_trap_frame(trap, 1).module_name, "demo");
    qv_trap_delete(trap);
    /* The store stays usable after a trap. */
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "inner"), &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, 107);
    teardown_host(&fx);
}

static void stack_exhaustion_is_a_trap(void **state)
{
    (void)state;
    fixture fx;
    qv_store_limits limits = {.max_call_depth = 1000};
    setup_host(&fx, &limits);
    qv_val arg = qv_i32(0), res;
    qv_trap *trap = qv_func_call(fx.store, export_func(fx.inst, "recurse"), &arg, 1, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_STACK_EXHAUSTED);
    qv_trap_delete(trap);
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "inner"), &arg, 1, &res, 1));
    teardown_host(&fx);
}

static void host_reentry_is_bounded(void **state)
{
    (void)state;
    fixture fx;
    setup_host(&fx, NULL);
    qv_extern ext;
    assert_true(qv_instance_export(fx.inst, "bounce", &ext));
    qv_trap *trap = qv_func_call(fx.store, ext.of.func, NULL, 0, NULL, 0);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_STACK_EXHAUSTED);
    qv_trap_delete(trap);
    qv_val arg = qv_i32(1), res;
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "inner"), &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, 101);
    teardown_host(&fx);
}

static void memory_grows_in_place_within_limits(void **state)
{
    (void)state;
    fixture fx;
    setup_host(&fx, NULL);
    uint8_t *before = qv_memory_data(fx.mem);
    qv_val arg = qv_i32(2), res;
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "grow"), &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, 1);
    assert_int_equal(qv_memory_pages(fx.mem), 3);
    assert_ptr_equal(qv_memory_data(fx.mem), before);
    qv_memory_data(fx.mem)[3 * 65536 - 1] = 1; /* the new pages are writable */
    arg = qv_i32(2);                            /* 5 > declared max of 4 */
    assert_null(qv_func_call(fx.store, export_func(fx.inst, "grow"), &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, -1);
    teardown_host(&fx);

    qv_store *s = qv_store_new(&(qv_store_limits){.max_memory_pages = 2});
    qv_memory *m = qv_memory_new(s, (qv_limits){1, 0, false}, NULL);
    assert_int_equal(qv_memory_grow(m, 1), 1);
    assert_int_equal(qv_memory_grow(m, 1), -1); /* the store's limit */
    qv_store_delete(s);
}

static void fuel_stops_a_loop(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_module *m = load("loop");
    qv_error err;
    qv_trap *trap;
    qv_instance *inst = qv_instance_new(s, m, NULL, 0, &trap, &err);
    assert_non_null(inst);
    qv_val arg = qv_i32(1000), res;
    qv_store_set_fuel(s, 100);
    trap = qv_func_call(s, export_func(inst, "count"), &arg, 1, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_OUT_OF_FUEL);
    qv_trap_delete(trap);
    qv_store_set_fuel(s, 5000);
    assert_null(qv_func_call(s, export_func(inst, "count"), &arg, 1, &res, 1));
    assert_int_equal(res.of.i32, 1000);
    /* 999 taken back-edges; everything else was handed back. */
    assert_int_equal(qv_store_fuel(s), 5000 - 999);
    qv_store_delete(s);
    qv_module_delete(m);
}

static void *interrupt_later(void *arg)
{
    usleep(50 * 1000);
    qv_store_interrupt(arg);
    return NULL;
}

static void interrupt_from_another_thread(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_module *m = load("loop");
    qv_error err;
    qv_trap *trap;
    qv_instance *inst = qv_instance_new(s, m, NULL, 0, &trap, &err);
    pthread_t t;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_create(&t, NULL, interrupt_later, s);
    trap = qv_func_call(s, export_func(inst, "spin"), NULL, 0, NULL, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_INTERRUPTED);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 2000);
    qv_trap_delete(trap);
    qv_store_clear_interrupt(s);
    qv_val arg = qv_i32(10), res;
    assert_null(qv_func_call(s, export_func(inst, "count"), &arg, 1, &res, 1));
    qv_store_delete(s);
    qv_module_delete(m);
}

static void link_errors_name_the_import(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_linker *l = qv_linker_new(s);
    qv_module *m = load("host");
    qv_error err;
    qv_trap *trap;
    assert_null(qv_linker_instantiate(l, m, &trap, &err));
    assert_null(trap);
    assert_string_equal(err.message, "unknown import: env.add");
    static const qv_valtype wrong[] = {QV_I64, QV_I32, QV_I32};
    qv_linker_define_func(l, "env", "add", (qv_functype){2, 1, wrong}, host_add, NULL);
    qv_memory *mem = qv_memory_new(s, (qv_limits){1, 4, true}, NULL);
    qv_linker_define(l, "env", "mem", (qv_extern){.kind = QV_EXTERN_MEMORY, .of.memory = mem});
    qv_linker_define_func(l, "env", "reenter", (qv_functype){0, 0, NULL}, host_reenter, NULL);
    assert_null(qv_linker_instantiate(l, m, &trap, &err));
    assert_string_equal(err.message, "incompatible import type: env.add");
    qv_linker_delete(l);
    qv_store_delete(s);
    qv_module_delete(m);
}

static void calls_check_argument_types(void **state)
{
    (void)state;
    fixture fx;
    setup_host(&fx, NULL);
    qv_val arg = qv_i64(5), res;
    qv_trap *trap = qv_func_call(fx.store, export_func(fx.inst, "inner"), &arg, 1, &res, 1);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_HOST);
    assert_string_equal(qv_trap_message(trap), "argument 0: expected i32, got i64");
    qv_trap_delete(trap);
    teardown_host(&fx);
}

static void globals_and_tables(void **state)
{
    (void)state;
    qv_store *s = qv_store_new(NULL);
    qv_error err;
    qv_global *g = qv_global_new(s, qv_i32(1), false, &err);
    assert_false(qv_global_set(g, qv_i32(2), &err));
    assert_string_equal(err.message, "global is immutable");
    qv_global *mg = qv_global_new(s, qv_f64_bits(0x7FF8000000000001ull), true, &err);
    assert_true(qv_global_set(mg, qv_f64_bits(0xFFF0000000000000ull), &err));
    assert_true(qv_global_get(mg).of.f64_bits == 0xFFF0000000000000ull);
    assert_false(qv_global_set(mg, qv_i32(0), &err));
    qv_table *t = qv_table_new(s, QV_EXTERNREF, (qv_limits){2, 3, true}, qv_externref(NULL), &err);
    assert_true(qv_table_set(t, 1, qv_externref(&err)));
    assert_false(qv_table_set(t, 2, qv_externref(&err)));
    assert_false(qv_table_set(t, 0, qv_funcref(NULL)));
    assert_int_equal(qv_table_grow(t, 1, qv_externref(NULL)), 2);
    assert_int_equal(qv_table_grow(t, 1, qv_externref(NULL)), -1);
    qv_val v;
    assert_true(qv_table_get(t, 1, &v));
    assert_ptr_equal(v.of.externref, &err);
    qv_store_delete(s);
}

static void import_types_are_described(void **state)
{
    (void)state;
    qv_module *m = load("imports");
    assert_int_equal(qv_module_import_count(m), 4);
    qv_functype ft = qv_module_import_functype(m, 0);
    assert_int_equal(ft.nparams, 1);
    assert_int_equal(ft.types[0], QV_I64);
    assert_int_equal(ft.types[1], QV_F32);
    qv_limits tl = qv_module_import_limits(m, 1);
    assert_true(tl.min == 2 && tl.has_max && tl.max == 10);
    assert_int_equal(qv_module_import_table_elem(m, 1), QV_EXTERNREF);
    qv_limits ml = qv_module_import_limits(m, 2);
    assert_true(ml.min == 1 && !ml.has_max);
    bool mut = false;
    assert_int_equal(qv_module_import_global(m, 3, &mut), QV_F64);
    assert_true(mut);
    qv_module_delete(m);
}

static void decode_errors_carry_offsets(void **state)
{
    (void)state;
    qv_error err;
    const uint8_t bad_magic[] = {0, 'a', 's', 'x', 1, 0, 0, 0};
    assert_null(qv_module_new(bad_magic, sizeof bad_magic, &err));
    assert_string_equal(err.message, "magic header not detected");
    /* (func (result i32) (i64.const 0)) */
    const uint8_t mismatch[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7F, 3, 2, 1, 0,
                                10, 6, 1, 4, 0, 0x42, 0, 0x0B};
    assert_null(qv_module_new(mismatch, sizeof mismatch, &err));
    assert_string_equal(err.message, "type mismatch");
    assert_int_equal(err.func_index, 0);
    assert_int_equal(err.offset, sizeof mismatch - 1); /* at the final end */
}

int main(int argc, char **argv)
{
    (void)argc;
    testwasm_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_function_and_memory),
        cmocka_unit_test(trap_has_named_backtrace),
        cmocka_unit_test(stack_exhaustion_is_a_trap),
        cmocka_unit_test(host_reentry_is_bounded),
        cmocka_unit_test(memory_grows_in_place_within_limits),
        cmocka_unit_test(fuel_stops_a_loop),
        cmocka_unit_test(interrupt_from_another_thread),
        cmocka_unit_test(link_errors_name_the_import),
        cmocka_unit_test(calls_check_argument_types),
        cmocka_unit_test(globals_and_tables),
        cmocka_unit_test(import_types_are_described),
        cmocka_unit_test(decode_errors_carry_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
