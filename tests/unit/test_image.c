/*
 * test_image.c — the prepared memory image (src/engine/image.c): which
 * modules get one, its runs, and that an instance made from it holds the
 * same bytes and segment states as replaying the segments would give; a
 * large image mapped copy-on-write, each instance starting from it clean.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- a large image, mapped copy-on-write */

static size_t put_leb(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        p[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

/* (memory (export "memory") 16) (data (i32.const OFFSET) <LEN bytes: i * 7>) */
static uint8_t *big_data_module(uint32_t offset, uint32_t len, size_t *size)
{
    uint8_t *m = malloc(len + 100), *p = m;
    static const uint8_t head[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 5, 3, 1, 0, 16,
                                   7, 10, 1, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0};
    memcpy(p, head, sizeof head);
    p += sizeof head;
    uint8_t seg[32];
    size_t k = 0;
    seg[k++] = 1; /* one segment */
    seg[k++] = 0; /* active, memory 0 */
    seg[k++] = 0x41;
    k += put_leb(seg + k, offset); /* offsets here are below 2^31: the signed LEB is the same */
    seg[k++] = 0x0b;
    k += put_leb(seg + k, len);
    *p++ = 11;
    p += put_leb(p, k + len);
    memcpy(p, seg, k);
    p += k;
    for (uint32_t i = 0; i < len; i++) *p++ = (uint8_t)(i * 7);
    *size = (size_t)(p - m);
    return m;
}

static void large_image_is_mapped(void **state)
{
    (void)state;
    const uint32_t offset = 70000, len = 700 << 10;
    size_t size;
    uint8_t *bytes = big_data_module(offset, len, &size);
    qv_error err;
    qv_module *m = qv_module_new(bytes, size, &err);
    free(bytes);
    if (!m) fail_msg("big module: %s", err.message);
    assert_true(m->image.usable);
    assert_true(m->image.mapped);
    assert_int_equal(m->image.map_offset, 69632); /* 70000 down to a page */
    for (int round = 0; round < 3; round++) {
        qv_store *s = qv_store_new(NULL);
        qv_instance *inst = instantiate(s, m, NULL, 0);
        qv_extern e;
        assert_true(qv_instance_export(inst, "memory", &e));
        qv_memory *mem = e.of.memory;
        assert_int_equal(mem->image_len, m->image.map_len); /* mapped, not copied */
        uint8_t *data = qv_memory_data(mem);
        for (uint32_t i = 0; i < len; i += 4093) assert_int_equal(data[offset + i], (uint8_t)(i * 7));
        assert_int_equal(data[offset + len - 1], (uint8_t)((len - 1) * 7));
        assert_int_equal(data[offset - 1], 0);
        assert_int_equal(data[5], 0);
        assert_int_equal(data[offset + len], 0);
        assert_int_equal(data[(1 << 20) - 1], 0);
        /* Writes stay with this instance: the next one starts clean. */
        memset(data + offset, 0xAB, 10000);
        memset(data + 5, 0xCD, 10);
        qv_store_delete(s);
    }
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
        cmocka_unit_test(large_image_is_mapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
