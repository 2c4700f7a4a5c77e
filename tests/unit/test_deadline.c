/*
 * test_deadline.c — an interrupted store stops within milliseconds however
 * the guest spends its time: a loop around a host function (which comes
 * back with a full poll budget), and bulk instructions (memory.fill, copy,
 * table.fill, copy) that do megabytes per instruction. Also what the bulk
 * steps must not change: overlapping copies, fuel accounting, results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testwasm.h"
#include "interrupt_timer.h"

/* How late a stop may be, from the interrupt on. Generous for sanitizer
 * builds on a loaded machine; an engine that misses the interrupt takes
 * seconds. */
#define LATE_MS 250

typedef struct fixture {
    qv_store *store;
    qv_module *module;
    qv_instance *inst;
    double started_ms;
} fixture;

/* env.tick: nothing, but it gives up (a trap that fails the test) after
 * a few seconds, so that a missed interrupt cannot hang the test. */
static qv_trap *host_tick(qv_caller *caller, void *env, const qv_val *args, qv_val *results)
{
    (void)caller, (void)args, (void)results;
    fixture *fx = env;
    if (test_now_ms() - fx->started_ms > 3000) return qv_trap_new(QV_TRAP_UNREACHABLE, "never interrupted");
    return NULL;
}

static void setup(fixture *fx)
{
    fx->store = qv_store_new(NULL);
    fx->module = load("deadline");
    fx->started_ms = test_now_ms();
    qv_func *tick = qv_func_new(fx->store, (qv_functype){0, 0, NULL}, host_tick, fx, NULL);
    qv_extern imports[] = {{.kind = QV_EXTERN_FUNC, .of.func = tick}};
    qv_trap *trap = NULL;
    qv_error err;
    fx->inst = qv_instance_new(fx->store, fx->module, imports, 1, &trap, &err);
    if (!fx->inst) fail_msg("instantiate: %s", err.message);
}

static void teardown(fixture *fx)
{
    qv_store_delete(fx->store);
    qv_module_delete(fx->module);
}

static qv_func *export_func(fixture *fx, const char *name)
{
    qv_extern ext;
    assert_true(qv_instance_export(fx->inst, name, &ext));
    return ext.of.func;
}

/* Run export `name` (one i32 argument, or none if n < 0) with an interrupt
 * after 20 ms: it must trap as interrupted, soon after. */
static void stops_soon(const char *name, int n)
{
    fixture fx;
    setup(&fx);
    interrupt_timer t = {.store = fx.store, .after_ms = 20};
    qv_val arg = qv_i32(n);
    double ms;
    qv_trap *trap = call_interrupted(&t, export_func(&fx, name), &arg, n < 0 ? 0 : 1, NULL, 0, &ms);
    if (!trap) fail_msg("%s: ran to its end (%.0f ms after the interrupt)", name, ms);
    if (qv_trap_kind_of(trap) != QV_TRAP_INTERRUPTED) fail_msg("%s: trapped with '%s'", name, qv_trap_message(trap));
    if (ms > LATE_MS) fail_msg("%s: stopped %.0f ms after the interrupt", name, ms);
    qv_trap_delete(trap);
    teardown(&fx);
}

static void host_call_loop_stops(void **state) { (void)state; stops_soon("host_loop", -1); }
/* 5000 fills of 4 MiB: 20 GB, seconds, in only 5000 branches. */
static void memory_fill_loop_stops(void **state) { (void)state; stops_soon("fill_loop", 5000); }
static void memory_copy_loop_stops(void **state) { (void)state; stops_soon("copy_loop", 5000); }
static void table_loop_stops(void **state) { (void)state; stops_soon("table_loop", 2000); }

/* A 4 MiB fill costs 16384 units of fuel (one per 256 bytes). */
static void bulk_instructions_pay_fuel(void **state)
{
    (void)state;
    fixture fx;
    setup(&fx);
    qv_val one = qv_i32(1);
    qv_store_set_fuel(fx.store, 10000);
    qv_trap *trap = qv_func_call(fx.store, export_func(&fx, "fill_loop"), &one, 1, NULL, 0);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_OUT_OF_FUEL);
    qv_trap_delete(trap);
    qv_store_set_fuel(fx.store, 100000);
    assert_null(qv_func_call(fx.store, export_func(&fx, "fill_loop"), &one, 1, NULL, 0));
    assert_int_equal(qv_store_fuel(fx.store), 100000 - 16384);
    teardown(&fx);
}

/* Copies of more than one step, overlapping either way, move the bytes a
 * single memmove would. */
static void overlapping_copies_in_steps(void **state)
{
    (void)state;
    const int32_t n = 3 * (1 << 20) + 12345;
    const int32_t dests[] = {1, 7, 500000, 0};
    for (size_t k = 0; k < sizeof dests / sizeof dests[0]; k++) {
        fixture fx;
        setup(&fx);
        qv_val args[2] = {qv_i32(n), qv_i32(dests[k])};
        assert_null(qv_func_call(fx.store, export_func(&fx, "pattern_copy"), args, 2, NULL, 0));
        for (int32_t i = 0; i < n; i += 4099) {
            qv_val a = qv_i32(dests[k] + i), r;
            assert_null(qv_func_call(fx.store, export_func(&fx, "load8"), &a, 1, &r, 1));
            assert_int_equal((uint8_t)r.of.i32, (uint8_t)i);
        }
        teardown(&fx);
    }
    /* And backwards: the source above the destination. */
    fixture fx;
    setup(&fx);
    qv_val args[2] = {qv_i32(n), qv_i32(0)};
    assert_null(qv_func_call(fx.store, export_func(&fx, "pattern_copy"), args, 2, NULL, 0));
    teardown(&fx);
}

/* An interrupt that came and went leaves the bulk instructions working. */
static void cleared_interrupt_runs_again(void **state)
{
    (void)state;
    fixture fx;
    setup(&fx);
    qv_store_interrupt(fx.store);
    assert_true(qv_store_interrupted(fx.store));
    qv_trap *trap = qv_func_call(fx.store, export_func(&fx, "init"), NULL, 0, NULL, 0);
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_INTERRUPTED);
    qv_trap_delete(trap);
    qv_store_clear_interrupt(fx.store);
    assert_false(qv_store_interrupted(fx.store));
    assert_null(qv_func_call(fx.store, export_func(&fx, "init"), NULL, 0, NULL, 0));
    qv_val a = qv_i32(100 + 10), r;
    assert_null(qv_func_call(fx.store, export_func(&fx, "load8"), &a, 1, &r, 1));
    assert_int_equal(r.of.i32, 'a');
    qv_val two = qv_i32(2);
    assert_null(qv_func_call(fx.store, export_func(&fx, "table_loop"), &two, 1, NULL, 0));
    assert_null(qv_func_call(fx.store, export_func(&fx, "table_size"), NULL, 0, &r, 1));
    assert_int_equal(r.of.i32, 1048576);
    teardown(&fx);
}

int main(int argc, char **argv)
{
    (void)argc;
    testwasm_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_call_loop_stops),
        cmocka_unit_test(memory_fill_loop_stops),
        cmocka_unit_test(memory_copy_loop_stops),
        cmocka_unit_test(table_loop_stops),
        cmocka_unit_test(bulk_instructions_pay_fuel),
        cmocka_unit_test(overlapping_copies_in_steps),
        cmocka_unit_test(cleared_interrupt_runs_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
