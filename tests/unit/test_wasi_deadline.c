/*
 * test_wasi_deadline.c — a guest that loops around WASI calls, or waits in
 * one, stops within milliseconds of its store being interrupted (the
 * deadline of `qyv run --timeout` and of `qyv serve`): clock reads, writes
 * (to memory, to a pipe nobody reads), a read of a pipe nobody writes, a
 * long sleep, random bytes by the megabyte. Module: wat/wasi_deadline.wat.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testwasm.h"
#include "interrupt_timer.h"

#include "qyvol/wasi.h"

/* See test_deadline.c: generous, where a missed deadline costs seconds. */
#define LATE_MS 250

typedef struct guest {
    qv_module *module;
    qv_store *store;
    qv_linker *linker;
    qv_wasi *wasi;
    qv_instance *inst;
} guest;

static void start(guest *g, const qv_wasi_config *cfg)
{
    g->module = load("wasi_deadline");
    g->store = qv_store_new(NULL);
    g->linker = qv_linker_new(g->store);
    char err[256];
    g->wasi = qv_wasi_new(cfg, err, sizeof err);
    if (!g->wasi) fail_msg("qv_wasi_new: %s", err);
    assert_true(qv_wasi_define(g->wasi, g->linker));
    qv_trap *trap = NULL;
    qv_error e;
    g->inst = qv_linker_instantiate(g->linker, g->module, &trap, &e);
    if (!g->inst) fail_msg("instantiate: %s", e.message);
}

static void finish(guest *g)
{
    qv_wasi_delete(g->wasi);
    qv_linker_delete(g->linker);
    qv_store_delete(g->store);
    qv_module_delete(g->module);
}

/* Call export `name` with an interrupt after 20 ms (and `then` 3 s later,
 * to unblock a host that missed it); it must trap as interrupted, soon. */
static void stops_soon(const qv_wasi_config *cfg, const char *name, const qv_val *args, size_t nargs,
                       size_t nresults, void (*then)(void *), void *then_arg)
{
    guest g;
    start(&g, cfg);
    qv_extern ext;
    assert_true(qv_instance_export(g.inst, name, &ext));
    interrupt_timer t = {.store = g.store, .after_ms = 20, .then = then, .then_arg = then_arg, .then_ms = 3000};
    qv_val res;
    double ms;
    qv_trap *trap = call_interrupted(&t, ext.of.func, args, nargs, &res, nresults, &ms);
    if (!trap) fail_msg("%s: returned (%.0f ms after the interrupt)", name, ms);
    if (qv_trap_kind_of(trap) != QV_TRAP_INTERRUPTED) fail_msg("%s: trapped with '%s'", name, qv_trap_message(trap));
    if (ms > LATE_MS) fail_msg("%s: stopped %.0f ms after the interrupt", name, ms);
    qv_trap_delete(trap);
    finish(&g);
}

static const qv_wasi_config in_memory = {.stdio_in_memory = true};

static void clock_loop_stops(void **state)
{
    (void)state;
    stops_soon(&in_memory, "clock_loop", NULL, 0, 0, NULL, NULL);
}

static void write_loop_to_memory_stops(void **state)
{
    (void)state;
    qv_val fd = qv_i32(2);
    stops_soon(&in_memory, "write_loop", &fd, 1, 0, NULL, NULL);
}

static void random_loop_stops(void **state)
{
    (void)state;
    stops_soon(&in_memory, "random_loop", NULL, 0, 0, NULL, NULL);
}

static void sleep_stops(void **state)
{
    (void)state;
    qv_val ms = qv_i32(3000);
    stops_soon(&in_memory, "sleep", &ms, 1, 1, NULL, NULL);
}

static void close_fd(void *arg) { close(*(int *)arg); *(int *)arg = -1; }

/* stdin a pipe whose writer stays open: the read would wait for ever. */
static void read_of_a_silent_pipe_stops(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    qv_wasi_config cfg = {.stdin_fd = p[0], .stdout_fd = -1, .stderr_fd = -1};
    stops_soon(&cfg, "read_once", NULL, 0, 1, close_fd, &p[1]);
    close(p[0]);
    if (p[1] >= 0) close(p[1]);
}

/* stdout a pipe nobody reads: once it is full a write would wait for ever. */
static void write_to_a_full_pipe_stops(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    signal(SIGPIPE, SIG_IGN);
    qv_wasi_config cfg = {.stdin_fd = -1, .stdout_fd = p[1], .stderr_fd = -1};
    qv_val fd = qv_i32(1);
    stops_soon(&cfg, "write_loop", &fd, 1, 0, close_fd, &p[0]);
    if (p[0] >= 0) close(p[0]);
    close(p[1]);
}

/* Short sleeps and reads that have data still work as before. */
static void waits_that_end_in_time_still_work(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "hello", 5), 5);
    qv_wasi_config cfg = {.stdin_fd = p[0], .stdout_fd = -1, .stderr_fd = -1};
    guest g;
    start(&g, &cfg);
    qv_extern ext;
    qv_val res, ms = qv_i32(30);
    assert_true(qv_instance_export(g.inst, "sleep", &ext));
    double t0 = test_now_ms();
    assert_null(qv_func_call(g.store, ext.of.func, &ms, 1, &res, 1));
    double took = test_now_ms() - t0;
    assert_int_equal(res.of.i32, 0);
    assert_true(took >= 29 && took < 30 + LATE_MS);
    assert_true(qv_instance_export(g.inst, "read_once", &ext));
    assert_null(qv_func_call(g.store, ext.of.func, NULL, 0, &res, 1));
    assert_int_equal(res.of.i32, 0);
    finish(&g);
    close(p[0]);
    close(p[1]);
}

int main(int argc, char **argv)
{
    (void)argc;
    testwasm_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clock_loop_stops),
        cmocka_unit_test(write_loop_to_memory_stops),
        cmocka_unit_test(random_loop_stops),
        cmocka_unit_test(sleep_stops),
        cmocka_unit_test(read_of_a_silent_pipe_stops),
        cmocka_unit_test(write_to_a_full_pipe_stops),
        cmocka_unit_test(waits_that_end_in_time_still_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
