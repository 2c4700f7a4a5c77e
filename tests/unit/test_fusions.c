/*
 * test_fusions.c — the instruction shapes the translator fuses into one
 * internal instruction (address additions in loads and stores, increments
 * before compare-and-branch and branches back, stores of computed values,
 * byte scans and scaled bytes, f64 read-modify-write, a call's increment of its argument
 * and a returned sum, zeros stored to locals, bit fields and selects on a
 * bit, branches on a value just loaded, sums of sums and products, tests of
 * a masked value, loads through a pointer just loaded): each must
 * compute exactly what the WebAssembly instructions it replaces compute,
 * out-of-bounds traps included. Module: wat/fusions.wat.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testwasm.h"

typedef struct fixture {
    qv_store *store;
    qv_module *module;
    qv_instance *inst;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->store = qv_store_new(NULL);
    fx->module = load("fusions");
    qv_trap *trap = NULL;
    qv_error err;
    fx->inst = qv_instance_new(fx->store, fx->module, NULL, 0, &trap, &err);
    if (!fx->inst) fail_msg("instantiate: %s", err.message);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    qv_store_delete(fx->store);
    qv_module_delete(fx->module);
    free(fx);
    return 0;
}

/* Call export `name`; the trap kind (0 for none) and the result in *out. */
static int call(fixture *fx, const char *name, const qv_val *args, size_t nargs, qv_val *out)
{
    qv_extern ext;
    if (!qv_instance_export(fx->inst, name, &ext)) fail_msg("no export %s", name);
    qv_val res = qv_i32(0);
    qv_trap *trap = qv_func_call(fx->store, ext.of.func, args, nargs, &res, out ? 1 : 0);
    if (out) *out = res;
    int kind = trap ? (int)qv_trap_kind_of(trap) : 0;
    if (trap) qv_trap_delete(trap);
    return kind;
}

static qv_val f64(double d)
{
    uint64_t b;
    memcpy(&b, &d, 8);
    return qv_f64_bits(b);
}

static double f64_of(qv_val v)
{
    double d;
    memcpy(&d, &v.of.f64_bits, 8);
    return d;
}

static int32_t call_i32(fixture *fx, const char *name, const qv_val *args, size_t nargs)
{
    qv_val r;
    int kind = call(fx, name, args, nargs, &r);
    if (kind) fail_msg("%s trapped (kind %d)", name, kind);
    return r.of.i32;
}

static void address_additions(void **state)
{
    fixture *fx = *state;
    qv_val a[3] = {qv_i32(60), qv_i32(8)};
    assert_int_equal(call_i32(fx, "load_sum", a, 2), 2);
    a[0] = qv_i32((int32_t)0xFFFFFFFFu), a[1] = qv_i32(69); /* wraps to 68 */
    assert_int_equal(call_i32(fx, "load_sum", a, 2), 2);
    a[0] = qv_i32(65536), a[1] = qv_i32(-4);                /* the last word */
    assert_int_equal(call_i32(fx, "load_sum", a, 2), 0);
    a[0] = qv_i32(65536), a[1] = qv_i32(-3);
    assert_int_equal(call(fx, "load_sum", a, 2, &a[2]), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
    a[0] = qv_i32(1000), a[1] = qv_i32(24), a[2] = qv_i32(-77);
    assert_int_equal(call_i32(fx, "store_sum", a, 3), -77);
    a[0] = qv_i32(65530), a[1] = qv_i32(0), a[2] = qv_i32(1);
    qv_val r;
    assert_int_equal(call(fx, "store_sum", a, 3, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
}

static void increments_and_branches(void **state)
{
    fixture *fx = *state;
    qv_val n = qv_i32(1000);
    assert_int_equal(call_i32(fx, "count_to", &n, 1), 1000);
    assert_int_equal(call_i32(fx, "count_by_3_below", NULL, 0), 102);
    n = qv_i32(10);
    assert_int_equal(call_i32(fx, "loop_br", &n, 1), 55);
    n = qv_i32(0);
    assert_int_equal(call_i32(fx, "loop_br", &n, 1), 1);
}

static void stores_of_computed_values(void **state)
{
    fixture *fx = *state;
    qv_val p = qv_i32(400);
    assert_int_equal(call_i32(fx, "bump", &p, 1), 7);
    assert_int_equal(call_i32(fx, "bump", &p, 1), 14);
    p = qv_i32(65534);
    qv_val r;
    assert_int_equal(call(fx, "bump", &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
    qv_val xy[2] = {f64(3.0), f64(0.5)};
    assert_int_equal(call(fx, "f64_ops", xy, 2, &r), 0);
    assert_true(f64_of(r) == 3.5 + 25.0 + 150.0);
    qv_val y = f64(2.0);
    assert_int_equal(call(fx, "accumulate", &y, 1, &r), 0);
    assert_true(f64_of(r) == 5.5 * 1000 + 1.5);
}

static void byte_scans(void **state)
{
    fixture *fx = *state;
    assert_int_equal(call_i32(fx, "skip_spaces", NULL, 0), 18 * 1000 + 'h');
    assert_int_equal(call_i32(fx, "find_quote", NULL, 0), 24);
    qv_val p = qv_i32(17);
    assert_int_equal(call_i32(fx, "byte_at", &p, 1), 1);
    p = qv_i32(18);
    assert_int_equal(call_i32(fx, "byte_at", &p, 1), 0);
    p = qv_i32(65535);
    qv_val r;
    assert_int_equal(call(fx, "byte_at", &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
    p = qv_i32(497);
    assert_int_equal(call_i32(fx, "byte_scaled", &p, 1), 255 << 2);
    assert_int_equal(call_i32(fx, "byte_scaled_kept", &p, 1), 800 * 1000 + 200);
    p = qv_i32(65533);
    assert_int_equal(call(fx, "byte_scaled", &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
}

static void increments_feeding_locals_and_loads(void **state)
{
    fixture *fx = *state;
    qv_val p = qv_i32(10);
    assert_int_equal(call_i32(fx, "two_locals", &p, 1), 14 * 1000 + 14);
    assert_int_equal(call_i32(fx, "sum_array", NULL, 0), 15 * 1000 + 80);
    p = qv_i32(60);
    assert_int_equal(call_i32(fx, "load_after_increment", &p, 1), 1);
    p = qv_i32(65532);
    qv_val r;
    assert_int_equal(call(fx, "load_after_increment", &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
}

static void post_increments_and_hashing(void **state)
{
    fixture *fx = *state;
    qv_val p = qv_i32(16);
    assert_int_equal(call_i32(fx, "post_increment", &p, 1), 15 * 1000 + 1);
    p = qv_i32(10);
    assert_int_equal(call_i32(fx, "post_increment_same", &p, 1), 15 * 1000 + 10);
    qv_val hc[2] = {qv_i32((int32_t)2166136261u), qv_i32('a')};
    assert_int_equal(call_i32(fx, "fnv_step", hc, 2), -468965076);
    qv_val ab[2] = {qv_i32(12), qv_i32(10)};
    assert_int_equal(call_i32(fx, "xor_kept", ab, 2), 24);
}

static void calls_and_returns(void **state)
{
    fixture *fx = *state;
    qv_val n = qv_i32(20);
    assert_int_equal(call_i32(fx, "fib", &n, 1), 6765);
    n = qv_i32(1);
    assert_int_equal(call_i32(fx, "fib", &n, 1), 1);
    qv_val ab[2] = {qv_i32(100), qv_i32(1)}; /* diff(100 - 1, 100 + 7) */
    assert_int_equal(call_i32(fx, "call_second_arg", ab, 2), -8);
    ab[0] = qv_i32(INT32_MAX), ab[1] = qv_i32(-3); /* both wrap */
    assert_int_equal(call_i32(fx, "call_second_arg", ab, 2), -4);
}

static void zeros_stored_to_locals(void **state)
{
    fixture *fx = *state;
    qv_val n = qv_i32(7);
    assert_int_equal(call_i32(fx, "zeros", &n, 1), 0);
}

/* The bit-serial CRC-16 step crc_byte computes, in C. */
static int32_t crc16_byte(uint32_t crc, uint32_t data)
{
    crc &= 0xffff;
    for (int i = 0; i < 8; i++) crc = ((crc ^ (data >> i)) & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
    return (int32_t)crc;
}

static void bit_fields_and_selects(void **state)
{
    fixture *fx = *state;
    qv_val x = qv_i32((int32_t)0xF00DBEEFu);
    assert_int_equal(call_i32(fx, "bit_field", &x, 1), 0xEE * 1000 + ((0xF00DBEEFu >> 3) & 7));
    uint32_t cases[][2] = {{0xffff, 'a'}, {0, 0}, {0x1234, 0xff}, {0xBEEF, 0x80}, {0x8001, 0x01}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qv_val cd[2] = {qv_i32((int32_t)cases[i][0]), qv_i32((int32_t)cases[i][1])};
        assert_int_equal(call_i32(fx, "crc_byte", cd, 2), crc16_byte(cases[i][0], cases[i][1]));
    }
}

static void branches_on_loaded_values(void **state)
{
    fixture *fx = *state;
    static const struct { const char *name; int32_t arg, result; } cases[] = {
        {"list_sum", 128, 24 * 100 + 3},
        {"list_sum", 144, 9 * 100 + 1},
        {"length", 16, 15},
        {"length", 30, 1},
        {"length", 31, 0},
        {"nonzero", 128, 11 * 1000 + 272},              /* word 136, byte 136 */
        {"nonzero", 132, 11 * 1000 + 14},               /* word 7, byte 7 */
        {"nonzero", 129, 1 * 1000 + 0x07000000},        /* word 0x07000000, byte 0 */
        {"nonzero", 1000, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qv_val p = qv_i32(cases[i].arg);
        assert_int_equal(call_i32(fx, cases[i].name, &p, 1), cases[i].result);
    }
    qv_val p = qv_i32(65534), r;
    assert_int_equal(call(fx, "list_sum", &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
    p = qv_i32(65535);
    assert_int_equal(call(fx, "nonzero", &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
}

static void sums_and_masked_tests(void **state)
{
    fixture *fx = *state;
    qv_val abc[3] = {qv_i32(INT32_MAX), qv_i32(5), qv_i32(-7)};
    assert_int_equal(call_i32(fx, "sum3", abc, 3), (int32_t)((uint32_t)INT32_MAX + 5u - 7u));
    assert_int_equal(call_i32(fx, "sum3_right", abc, 3), (int32_t)((uint32_t)INT32_MAX + 5u - 7u));
    abc[0] = qv_i32(65537), abc[1] = qv_i32(65539), abc[2] = qv_i32(11); /* the product wraps */
    assert_int_equal(call_i32(fx, "mul_add", abc, 3), (int32_t)(65537u * 65539u + 11u));
    static const int32_t masked[][2] = {{44, 1044}, {0x12C, 1044}, {0x2D, 0x2D}, {0x13, 2019}, {0x1FF, 0xFF}};
    for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
        qv_val c = qv_i32(masked[i][0]);
        assert_int_equal(call_i32(fx, "masked_test", &c, 1), masked[i][1]);
    }
}

static void loads_through_pointers(void **state)
{
    fixture *fx = *state;
    static const struct { const char *name; int32_t arg, result; } cases[] = {
        {"through_word", 160, 0x0080fffe},
        {"through_byte", 160, 0xff},
        {"through_half", 160, 65534 * 1000 + 168},
        {"through_half_s", 160, -2},
        {"next_next", 128, 144},
        {"through_word", 65532, 0},     /* a pointer to 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        qv_val p = qv_i32(cases[i].arg);
        assert_int_equal(call_i32(fx, cases[i].name, &p, 1), cases[i].result);
    }
    const char *names[] = {"through_word", "through_byte", "through_half", "through_half_s"};
    for (size_t i = 0; i < 4; i++) {
        qv_val p = qv_i32(176), r;                       /* it points past the memory */
        assert_int_equal(call(fx, names[i], &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
        p = qv_i32(65533);                               /* the pointer itself is out */
        assert_int_equal(call(fx, names[i], &p, 1, &r), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    testwasm_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(address_additions, setup, teardown),
        cmocka_unit_test_setup_teardown(increments_and_branches, setup, teardown),
        cmocka_unit_test_setup_teardown(stores_of_computed_values, setup, teardown),
        cmocka_unit_test_setup_teardown(byte_scans, setup, teardown),
        cmocka_unit_test_setup_teardown(increments_feeding_locals_and_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(post_increments_and_hashing, setup, teardown),
        cmocka_unit_test_setup_teardown(calls_and_returns, setup, teardown),
        cmocka_unit_test_setup_teardown(zeros_stored_to_locals, setup, teardown),
        cmocka_unit_test_setup_teardown(bit_fields_and_selects, setup, teardown),
        cmocka_unit_test_setup_teardown(branches_on_loaded_values, setup, teardown),
        cmocka_unit_test_setup_teardown(sums_and_masked_tests, setup, teardown),
        cmocka_unit_test_setup_teardown(loads_through_pointers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
