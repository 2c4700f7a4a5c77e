/*
 * test_image.c — the prepared memory image (src/engine/image.c): which
 * modules get one, its runs, and that an instance made from it holds the
 * same bytes and segment states as replaying the segments would give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/runtime.h"
#include "testwasm.h"

static qv_instance *instantiate(qv_store *s, qv_module *m, const qv_extern *imports, size_t n)
{
    qv_trap *trap = NULL;
    qv_error err;
    qv_instance *inst = qv_instance_new(s, m, imports, n, &trap, &err);
    if (!inst) fail_msg("instantiate: %s", trap ? qv_trap_message(trap) : err.message);
    return inst;
}

static uint8_t *memory_of(qv_instance *inst)
{
    qv_extern e;
    assert_true(qv_instance_export(inst, "memory", &e));
    return qv_memory_data(e.of.memory);
}

static qv_trap *call(qv_store *s, qv_instance *inst, const char *name, const qv_val *args, size_t nargs)
{
    qv_extern e;
    assert_true(qv_instance_export(inst, name, &e));
    return qv_func_call(s, e.of.func, args, nargs, NULL, 0);
}

static void segments_make_two_runs(void **state)
{
    (void)state;
    qv_module *m = load("image_segments");
    const qe_image *img = &m->image;
    assert_true(img->usable);
    assert_int_equal(img->nruns, 2);
    assert_int_equal(img->runs[0].offset, 100);
    assert_int_equal(img->runs[0].len, 304 - 100);
    assert_memory_equal(img->runs[0].bytes, "aaaaBBaa", 8);
    assert_int_equal(img->runs[1].offset, 70000);
    assert_int_equal(img->runs[1].len, 3);
    qv_module_delete(m);
}

static void instance_from_image(void **state)
{
    (void)state;
    qv_module *m = load("image_segments");
    /* Twice: the second instance may reuse the first one's memory. */
    for (int round = 0; round < 2; round++) {
        qv_store *s = qv_store_new(NULL);
        qv_instance *inst = instantiate(s, m, NULL, 0);
        uint8_t *mem = memory_of(inst);
        assert_memory_equal(mem + 100, "aaaaBBaa", 8);
        assert_memory_equal(mem + 300, "near", 4);
        assert_memory_equal(mem + 70000, "far", 3);
        assert_int_equal(mem[99], 0);
        assert_int_equal(mem[108], 0);
        assert_int_equal(mem[200], 0);
        assert_int_equal(mem[70003], 0);
        /* The passive segment is still there; the active ones are dropped. */
        qv_val dst = qv_i32(1000);
        assert_null(call(s, inst, "init_passive", &dst, 1));
        assert_memory_equal(mem + 1000, "passive!", 8);
        qv_trap *t = call(s, inst, "init_active", NULL, 0);
        assert_non_null(t);
        assert_int_equal(qv_trap_kind_of(t), QV_TRAP_MEMORY_OUT_OF_BOUNDS);
        qv_trap_delete(t);
        mem[1000] = 'x'; /* dirty a page that is not in the image */
        qv_store_delete(s);
    }
    qv_module_delete(m);
}

static void global_offset_replays(void **state)
{
    (void)state;
    qv_module *m = load("image_global");
    assert_false(m->image.usable);
    qv_store *s = qv_store_new(NULL);
    qv_global *g = qv_global_new(s, qv_i32(15), false, NULL);
    assert_non_null(g);
    qv_extern imp = {.kind = QV_EXTERN_GLOBAL, .of.global = g};
    qv_instance *inst = instantiate(s, m, &imp, 1);
    uint8_t *mem = memory_of(inst);
    assert_memory_equal(mem + 10, "firstsecond", 11);
    qv_store_delete(s);
    qv_module_delete(m);
}

static void out_of_bounds_traps(void **state)
{
    (void)state;
    qv_module *m = load("image_oob");
    assert_false(m->image.usable);
    qv_store *s = qv_store_new(NULL);
    qv_trap *trap = NULL;
    qv_error err;
    assert_null(qv_instance_new(s, m, NULL, 0, &trap, &err));
    assert_non_null(trap);
    assert_int_equal(qv_trap_kind_of(trap), QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS);
    qv_trap_delete(trap);
    qv_store_delete(s);
    qv_module_delete(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    testwasm_init(argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segments_make_two_runs),
        cmocka_unit_test(instance_from_image),
        cmocka_unit_test(global_offset_replays),
        cmocka_unit_test(out_of_bounds_traps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
