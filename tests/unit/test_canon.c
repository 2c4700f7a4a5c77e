/*
 * test_canon.c — the canonical ABI (src/component/canon.c) on its own:
 * layout (sizes, alignment, flattening), lifting and lowering of every
 * kind of value through a real linear memory and a realloc, string
 * transcoding (UTF-8, UTF-16, Latin-1+UTF-16), and the traps
 * CanonicalABI.md names: misaligned and out-of-bounds pointers, bad
 * discriminants, chars and UTF-8, a misbehaving realloc, and invalid,
 * mistyped or lent handles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "component/host.h"

#define IFACE "test:abi/types@1.0.0"

/* A bump allocator in wasm memory, as guests' cabi_realloc; `misalign`
 * and `out_of_bounds` make it misbehave. */
typedef struct bump {
    uint32_t next;
    unsigned calls;
    bool misalign, out_of_bounds;
    uint32_t last_old, last_old_size, last_align, last_size;
} bump;

static qv_trap *bump_realloc(qv_caller *c, void *env, const qv_val *a, qv_val *r)
{
    bump *b = env;
    b->calls++;
    b->last_old = (uint32_t)a[0].of.i32, b->last_old_size = (uint32_t)a[1].of.i32;
    b->last_align = (uint32_t)a[2].of.i32, b->last_size = (uint32_t)a[3].of.i32;
    uint32_t align = b->last_align ? b->last_align : 1;
    b->next = (b->next + align - 1) & ~(align - 1);
    uint32_t p = b->next;
    if (b->last_old && b->last_size <= b->last_old_size) p = b->last_old; /* shrinking in place */
    else b->next += b->last_size;
    if (b->misalign) p |= 1;
    if (b->out_of_bounds) p = 65536 - 2;
    r[0] = qv_i32((int32_t)p);
    return NULL;
}

typedef struct fixture {
    qv_store *store;
    qv_memory *mem;
    bump bump;
    qv_chost *host;
    host_iface *iface;
    cm_inst inst;
    cm_restype *rtypes[4];
    cm_arena values;
    cm_ropts opts;
    cm_cx cx;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->store = qv_store_new(NULL);
    f->mem = qv_memory_new(f->store, (qv_limits){1, 1, true}, NULL);
    f->bump.next = 1024;
    static const qv_valtype i32s[5] = {QV_I32, QV_I32, QV_I32, QV_I32, QV_I32};
    qv_functype ft = {4, 1, i32s};
    f->opts.memory = f->mem;
    f->opts.realloc = qv_func_new(f->store, ft, bump_realloc, &f->bump, NULL);
    f->host = qv_chost_new();
    assert_non_null(qv_chost_resource(f->host, IFACE, "thing", NULL, NULL));
    assert_non_null(qv_chost_resource(f->host, IFACE, "other", NULL, NULL));
    assert_true(qv_chost_type(f->host, IFACE, "rec", "record { a: u8, b: u64, c: u16 }"));
    assert_true(qv_chost_type(f->host, IFACE, "var", "variant { none, small(u8), big(u64), fl(f32), text(string) }"));
    assert_true(qv_chost_type(f->host, IFACE, "fl9", "flags { a, b, c, d, e, f, g, h, i }"));
    assert_true(qv_chost_type(f->host, IFACE, "fl3", "flags { a, b, c }"));
    assert_true(qv_chost_type(f->host, IFACE, "e2", "enum { x, y }"));
    f->iface = cm_host_iface(f->host, IFACE);
    f->inst.store = f->store;
    f->inst.root = &f->inst;
    f->inst.rtypes = f->rtypes;
    f->inst.values = &f->values;
    f->cx = (cm_cx){.inst = &f->inst, .opts = &f->opts, .values = &f->values};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->cx.trap) qv_trap_delete(f->cx.trap);
    cm_table_free(&f->inst.table, f->store);
    cm_arena_free(&f->values);
    qv_chost_delete(f->host);
    qv_store_delete(f->store);
    free(f);
    return 0;
}

/* A type written in WIT, as a host signature's result. */
static const cm_type *wit(fixture *f, const char *text)
{
    char sig[256];
    static int n;
    char name[32];
    snprintf(name, sizeof name, "f%d", n++);
    snprintf(sig, sizeof sig, "func() -> %s", text);
    if (!qv_chost_func(f->host, IFACE, name, sig, NULL, NULL)) fail_msg("cannot parse %s", text);
    return cm_host_func(f->iface, name)->type->result;
}

static uint8_t *mem(fixture *f) { return qv_memory_data(f->mem); }

/* The trap message of the fixture's call (and clear it). */
static void expect_trap(fixture *f, const char *part)
{
    if (!f->cx.trap) fail_msg("expected a trap containing '%s'", part);
    const char *msg = qv_trap_message(f->cx.trap);
    if (!strstr(msg, part)) fail_msg("trap '%s' does not contain '%s'", msg, part);
    qv_trap_delete(f->cx.trap);
    f->cx.trap = NULL;
}

static void layout(void **state)
{
    fixture *f = *state;
    const cm_type *t = cm_host_named(f->iface, "rec");
    assert_int_equal(t->size, 24);
    assert_int_equal(t->align, 8);
    t = cm_host_named(f->iface, "fl9");
    assert_int_equal(t->size, 2);
    t = wit(f, "option<u64>");
    assert_int_equal(t->size, 16);
    assert_int_equal(t->align, 8);
    t = wit(f, "result<u8, string>");
    assert_int_equal(cm_payload_offset(t), 4);
    assert_int_equal(t->size, 12);
    t = wit(f, "tuple<u8, u32>");
    assert_int_equal(t->size, 8);
    t = wit(f, "string");
    assert_int_equal(t->size, 8);
    assert_int_equal(t->nflat, 2);
    /* Flattening joins payloads: f32 and u64 share an i64 slot. */
    t = cm_host_named(f->iface, "var");
    assert_int_equal(t->nflat, 3); /* i32 discriminant, i64 (u8/u64/f32 joined), i32 (string length) */
    assert_int_equal(t->flat[0], QV_I32);
    assert_int_equal(t->flat[1], QV_I64);
    assert_int_equal(t->flat[2], QV_I32);
    t = wit(f, "result<f32, u32>");
    assert_int_equal(t->nflat, 2);
    assert_int_equal(t->flat[1], QV_I32);
    assert_int_equal(cm_disc_size(256), 1);
    assert_int_equal(cm_disc_size(257), 2);
    assert_int_equal(cm_disc_size(65537), 4);
}

static void core_signatures(void **state)
{
    fixture *f = *state;
    assert_true(qv_chost_func(f->host, IFACE, "many",
                              "func(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64, g: u64, h: u64, i: u64, j: u64, "
                              "k: u64, l: u64, m: u64, n: u64, o: u64, p: u64, q: u64) -> string", NULL, NULL));
    cm_coresig sig;
    cm_core_signature(cm_host_func(f->iface, "many")->type, true, &sig);
    assert_true(sig.params_in_memory);
    assert_true(sig.results_in_memory);
    assert_int_equal(sig.nparams, 2); /* the params' pointer, then the return area */
    assert_int_equal(sig.nresults, 0);
    cm_core_signature(cm_host_func(f->iface, "many")->type, false, &sig);
    assert_int_equal(sig.nparams, 1);
    assert_int_equal(sig.nresults, 1); /* lifted: returns a pointer to the result */
}

static void record_round_trip(void **state)
{
    fixture *f = *state;
    const cm_type *t = cm_host_named(f->iface, "rec");
    qv_cval fields[3] = {{.kind = QV_C_U8, .of.u = 200}, {.kind = QV_C_U64, .of.u = 1ull << 40}, {.kind = QV_C_U16, .of.u = 65535}};
    qv_cval v = {.kind = QV_C_RECORD, .of.fields = {fields, 3}};
    assert_true(cm_store(&f->cx, t, &v, 64));
    assert_int_equal(mem(f)[64], 200);
    assert_int_equal(mem(f)[64 + 16], 0xFF);
    qv_cval back;
    assert_true(cm_load(&f->cx, t, 64, &back));
    assert_int_equal(back.of.fields.items[1].of.u, 1ull << 40);
    assert_int_equal(back.of.fields.items[2].of.u, 65535);
    /* Flat: three core values. */
    uint64_t flat[4];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, t, &v, flat, &at));
    assert_int_equal(at, 3);
    at = 0;
    assert_true(cm_lift_flat(&f->cx, t, flat, &at, &back));
    assert_int_equal(back.of.fields.items[0].of.u, 200);
}

static void variant_flat_coercion(void **state)
{
    fixture *f = *state;
    const cm_type *t = cm_host_named(f->iface, "var");
    qv_cval x = {.kind = QV_C_F32, .of.f32 = 1.5f};
    qv_cval v = {.kind = QV_C_VARIANT, .of.var = {3, &x}};
    uint64_t flat[4];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, t, &v, flat, &at));
    assert_int_equal(at, 3);
    assert_int_equal(flat[0], 3);
    assert_int_equal(flat[1], 0x3FC00000u); /* f32 bits in the joined i64 slot */
    assert_int_equal(flat[2], 0);            /* unused slots are zero */
    qv_cval back;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, t, flat, &at, &back));
    assert_int_equal(at, 3);
    assert_true(back.of.var.payload->of.f32 == 1.5f);
    /* A discriminant past the cases traps, flat and in memory. */
    flat[0] = 5;
    at = 0;
    assert_false(cm_lift_flat(&f->cx, t, flat, &at, &back));
    expect_trap(f, "discriminant 5 is out of range");
    mem(f)[128] = 9;
    assert_false(cm_load(&f->cx, t, 128, &back));
    expect_trap(f, "discriminant 9");
}

static void scalars(void **state)
{
    fixture *f = *state;
    qv_cval v;
    uint64_t flat[1] = {0xFFFFFF80u};
    uint32_t at = 0;
    /* Integers keep their low bits, signed ones sign-extended. */
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_S8), flat, &at, &v));
    assert_int_equal(v.of.s, -128);
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_U8), flat, &at, &v));
    assert_int_equal(v.of.u, 0x80);
    /* Any non-zero byte is true. */
    mem(f)[10] = 2;
    assert_true(cm_load(&f->cx, cm_prim(QV_C_BOOL), 10, &v));
    assert_true(v.of.b);
    /* chars must be Unicode scalar values. */
    flat[0] = 0xD800;
    at = 0;
    assert_false(cm_lift_flat(&f->cx, cm_prim(QV_C_CHAR), flat, &at, &v));
    expect_trap(f, "not a Unicode scalar value");
    flat[0] = 0x110000;
    at = 0;
    assert_false(cm_lift_flat(&f->cx, cm_prim(QV_C_CHAR), flat, &at, &v));
    expect_trap(f, "invalid char");
    /* NaNs are canonical on the way in. */
    flat[0] = 0x7FA00001u;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_F32), flat, &at, &v));
    uint32_t bits;
    memcpy(&bits, &v.of.f32, 4);
    assert_int_equal(bits, 0x7FC00000u);
    /* Flags beyond the type's are dropped. */
    flat[0] = 0xFF;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_host_named(f->iface, "fl3"), flat, &at, &v));
    assert_int_equal(v.of.u, 7);
    /* A value of another kind than the type is refused, not misread. */
    qv_cval wrong = {.kind = QV_C_STRING};
    assert_false(cm_store(&f->cx, cm_prim(QV_C_U32), &wrong, 0));
    expect_trap(f, "type string was given where u32 is expected");
}

static void out_of_bounds_and_misaligned(void **state)
{
    fixture *f = *state;
    qv_cval v;
    assert_false(cm_load(&f->cx, cm_prim(QV_C_U64), 65536 - 4, &v));
    expect_trap(f, "out of bounds");
    /* A list whose elements run past the end. */
    uint64_t flat[2] = {65000, 1000};
    uint32_t at = 0;
    assert_false(cm_lift_flat(&f->cx, wit(f, "list<u32>"), flat, &at, &v));
    expect_trap(f, "out of bounds");
    /* A list<u32> must be 4-aligned. */
    flat[0] = 102, flat[1] = 1, at = 0;
    assert_false(cm_lift_flat(&f->cx, wit(f, "list<u32>"), flat, &at, &v));
    expect_trap(f, "not aligned to 4");
    /* A string pointer and length that overflow 32 bits. */
    flat[0] = 0xFFFFFFF0u, flat[1] = 0x20, at = 0;
    assert_false(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &v));
    expect_trap(f, "out of bounds");
}

static void strings_utf8(void **state)
{
    fixture *f = *state;
    qv_cval s = {.kind = QV_C_STRING, .of.str = {"héllo", 6}};
    uint64_t flat[2];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &s, flat, &at));
    assert_int_equal(flat[1], 6);
    assert_int_equal(f->bump.last_align, 1);
    assert_memory_equal(mem(f) + flat[0], "héllo", 6);
    qv_cval back;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    assert_int_equal(back.of.str.len, 6);
    assert_memory_equal(back.of.str.ptr, "héllo", 6);
    /* Invalid UTF-8 traps. */
    memcpy(mem(f) + 200, "\xC3\x28", 2);
    flat[0] = 200, flat[1] = 2, at = 0;
    assert_false(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    expect_trap(f, "not valid UTF-8");
}

static void strings_utf16(void **state)
{
    fixture *f = *state;
    f->opts.encoding = CM_UTF16;
    /* "a€😀": 1 + 1 + 2 UTF-16 units. */
    qv_cval s = {.kind = QV_C_STRING, .of.str = {"a\xE2\x82\xAC\xF0\x9F\x98\x80", 8}};
    uint64_t flat[2];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &s, flat, &at));
    assert_int_equal(flat[1], 4);
    assert_int_equal(flat[0] % 2, 0);
    /* Allocated for the worst case (2 bytes per UTF-8 byte), then shrunk. */
    assert_int_equal(f->bump.last_old_size, 16);
    assert_int_equal(f->bump.last_size, 8);
    const uint8_t *p = mem(f) + flat[0];
    assert_int_equal(p[2] | p[3] << 8, 0x20AC);
    assert_int_equal(p[4] | p[5] << 8, 0xD83D);
    qv_cval back;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    assert_int_equal(back.of.str.len, 8);
    assert_memory_equal(back.of.str.ptr, s.of.str.ptr, 8);
    /* Misaligned UTF-16 and unpaired surrogates trap. */
    flat[0] += 1, at = 0;
    assert_false(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    expect_trap(f, "not aligned to 2");
    mem(f)[300] = 0x00, mem(f)[301] = 0xD8; /* a lone high surrogate */
    flat[0] = 300, flat[1] = 1, at = 0;
    assert_false(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    expect_trap(f, "unpaired UTF-16 surrogate");
}

static void strings_latin1_utf16(void **state)
{
    fixture *f = *state;
    f->opts.encoding = CM_LATIN1_UTF16;
    /* Every code point below 256: Latin-1, untagged, shrunk to 5 bytes. */
    qv_cval s = {.kind = QV_C_STRING, .of.str = {"h\xC3\xA9llo", 6}};
    uint64_t flat[2];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &s, flat, &at));
    assert_int_equal(flat[1], 5);
    assert_int_equal(mem(f)[flat[0] + 1], 0xE9);
    qv_cval back;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    assert_int_equal(back.of.str.len, 6);
    assert_memory_equal(back.of.str.ptr, "h\xC3\xA9llo", 6);
    /* One code point above 255: UTF-16, its length tagged. */
    qv_cval wide = {.kind = QV_C_STRING, .of.str = {"\xC3\xA9\xE2\x82\xAC", 5}};
    at = 0;
    assert_true(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &wide, flat, &at));
    assert_int_equal(flat[1], 2u | (1u << 31));
    const uint8_t *p = mem(f) + flat[0];
    assert_int_equal(p[0] | p[1] << 8, 0xE9); /* the Latin-1 prefix, widened */
    assert_int_equal(p[2] | p[3] << 8, 0x20AC);
    at = 0;
    assert_true(cm_lift_flat(&f->cx, cm_prim(QV_C_STRING), flat, &at, &back));
    assert_int_equal(back.of.str.len, 5);
    assert_memory_equal(back.of.str.ptr, wide.of.str.ptr, 5);
}

static void realloc_results_are_checked(void **state)
{
    fixture *f = *state;
    qv_cval s = {.kind = QV_C_STRING, .of.str = {"abcd", 4}};
    uint64_t flat[2];
    uint32_t at = 0;
    f->opts.encoding = CM_UTF16;
    f->bump.misalign = true;
    assert_false(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &s, flat, &at));
    expect_trap(f, "realloc's result: pointer");
    f->bump.misalign = false;
    f->bump.out_of_bounds = true;
    at = 0;
    assert_false(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &s, flat, &at));
    expect_trap(f, "out of bounds");
    /* No realloc at all: lowering a string cannot allocate. */
    f->bump.out_of_bounds = false;
    f->opts.realloc = NULL;
    at = 0;
    assert_false(cm_lower_flat(&f->cx, cm_prim(QV_C_STRING), &s, flat, &at));
    expect_trap(f, "no realloc");
}

static void lists(void **state)
{
    fixture *f = *state;
    uint16_t nums[3] = {1, 2, 65535};
    qv_cval l = {.kind = QV_C_LIST, .of.list = {NULL, nums, 3}};
    uint64_t flat[2];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, wit(f, "list<u16>"), &l, flat, &at));
    assert_int_equal(f->bump.last_align, 2);
    assert_int_equal(f->bump.last_size, 6);
    qv_cval back;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, wit(f, "list<u16>"), flat, &at, &back));
    assert_int_equal(back.of.list.n, 3);
    assert_memory_equal(back.of.list.raw, nums, 6);
    /* A list of strings goes element by element. */
    qv_cval strs[2] = {{.kind = QV_C_STRING, .of.str = {"ab", 2}}, {.kind = QV_C_STRING, .of.str = {"", 0}}};
    qv_cval ls = {.kind = QV_C_LIST, .of.list = {strs, NULL, 2}};
    at = 0;
    assert_true(cm_lower_flat(&f->cx, wit(f, "list<string>"), &ls, flat, &at));
    at = 0;
    assert_true(cm_lift_flat(&f->cx, wit(f, "list<string>"), flat, &at, &back));
    assert_int_equal(back.of.list.items[0].of.str.len, 2);
    assert_int_equal(back.of.list.items[1].of.str.len, 0);
}

static void handles(void **state)
{
    fixture *f = *state;
    const cm_type *own = wit(f, "own<thing>"), *borrow = wit(f, "borrow<thing>"), *other = wit(f, "own<other>");
    int obj;
    qv_cval v = {.kind = QV_C_OWN, .of.rep = &obj};
    uint64_t flat[1];
    uint32_t at = 0;
    assert_true(cm_lower_flat(&f->cx, own, &v, flat, &at));
    assert_int_equal(flat[0], 1); /* handle 0 is never given out */
    /* Borrowing it lends it for the call. */
    qv_cval b;
    at = 0;
    assert_true(cm_lift_flat(&f->cx, borrow, flat, &at, &b));
    assert_ptr_equal(b.of.rep, &obj);
    assert_int_equal(f->inst.table.at[1].lends, 1);
    /* While lent it cannot be given away. */
    at = 0;
    assert_false(cm_lift_flat(&f->cx, own, flat, &at, &b));
    expect_trap(f, "lent out");
    cm_cx_end(&f->cx);
    assert_int_equal(f->inst.table.at[1].lends, 0);
    /* A handle of another resource type. */
    at = 0;
    assert_false(cm_lift_flat(&f->cx, other, flat, &at, &b));
    expect_trap(f, "is a thing, not a other");
    /* Giving it away removes it; then the index is invalid. */
    at = 0;
    assert_true(cm_lift_flat(&f->cx, own, flat, &at, &b));
    at = 0;
    assert_false(cm_lift_flat(&f->cx, own, flat, &at, &b));
    expect_trap(f, "unknown handle index 1");
    flat[0] = 0, at = 0;
    assert_false(cm_lift_flat(&f->cx, borrow, flat, &at, &b));
    expect_trap(f, "unknown handle index 0");
    flat[0] = 12345, at = 0;
    assert_false(cm_lift_flat(&f->cx, borrow, flat, &at, &b));
    expect_trap(f, "unknown handle index 12345");
    /* Free slots are reused. */
    at = 0;
    assert_true(cm_lower_flat(&f->cx, own, &v, flat, &at));
    assert_int_equal(flat[0], 1);
}

static void host_signatures(void **state)
{
    fixture *f = *state;
    /* Bad signatures are refused (and said so on stderr). */
    assert_false(qv_chost_func(f->host, IFACE, "bad1", "func(x: nosuchtype)", NULL, NULL));
    assert_false(qv_chost_func(f->host, IFACE, "bad2", "func() -> own<rec>", NULL, NULL));
    assert_false(qv_chost_type(f->host, IFACE, "bad3", "record { a: u8"));
    /* Semver keys. */
    char key[64];
    cm_semver_key("wasi:cli/run@0.2.12", key, sizeof key);
    assert_string_equal(key, "wasi:cli/run@0.2");
    cm_semver_key("a:b/c@1.4.2", key, sizeof key);
    assert_string_equal(key, "a:b/c@1");
    cm_semver_key("a:b/c@0.3.0-rc-2025", key, sizeof key);
    assert_string_equal(key, "a:b/c@0.3.0-rc-2025");
    assert_non_null(cm_host_iface(f->host, "test:abi/types@1.9.0"));
    assert_null(cm_host_iface(f->host, "test:abi/types@2.0.0"));
}

/* ------------------------------------------------------------ round trips */

static uint32_t rng = 2463534242u;
static uint32_t next_random(void)
{
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng;
}

/* A random WIT type of at most `depth` levels, written into buf. */
static void random_type(char *buf, size_t len, int depth)
{
    static const char *const scalars[] = {"bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64",
                                          "f32", "f64", "char", "string", "fl3", "fl9", "e2"};
    int pick = depth > 0 ? (int)(next_random() % 8) : 0;
    char a[512], b[512], c[512];
    switch (pick) {
    case 1: random_type(a, sizeof a, depth - 1); snprintf(buf, len, "list<%s>", a); return;
    case 2: random_type(a, sizeof a, depth - 1); snprintf(buf, len, "option<%s>", a); return;
    case 3:
        random_type(a, sizeof a, depth - 1), random_type(b, sizeof b, depth - 1);
        snprintf(buf, len, next_random() % 3 ? "result<%s, %s>" : "result<_, %s>%.0s", a, b);
        return;
    case 4:
        random_type(a, sizeof a, depth - 1), random_type(b, sizeof b, depth - 1), random_type(c, sizeof c, depth - 1);
        snprintf(buf, len, "tuple<%s, %s, %s>", a, b, c);
        return;
    default: snprintf(buf, len, "%s", scalars[next_random() % (sizeof scalars / sizeof *scalars)]); return;
    }
}

/* A random value of type t (strings and lists in the arena). */
static void random_value(cm_arena *a, const cm_type *t, qv_cval *v)
{
    static const char *const strings[] = {"", "a", "héllo", "€uro", "😀 emoji", "plain ascii text"};
    memset(v, 0, sizeof *v);
    v->kind = t->kind;
    uint64_t r = (uint64_t)next_random() << 32 | next_random();
    switch (t->kind) {
    case QV_C_BOOL: v->of.b = r & 1; break;
    case QV_C_S8: v->of.s = (int8_t)r; break;
    case QV_C_U8: v->of.u = (uint8_t)r; break;
    case QV_C_S16: v->of.s = (int16_t)r; break;
    case QV_C_U16: v->of.u = (uint16_t)r; break;
    case QV_C_S32: v->of.s = (int32_t)r; break;
    case QV_C_U32: v->of.u = (uint32_t)r; break;
    case QV_C_S64: v->of.s = (int64_t)r; break;
    case QV_C_U64: v->of.u = r; break;
    case QV_C_F32: v->of.f32 = (float)(int32_t)r / 7.0f; break;
    case QV_C_F64: v->of.f64 = (double)(int64_t)r / 3.0; break;
    case QV_C_CHAR: v->of.ch = (uint32_t)(r % 0x10FFFF); if (v->of.ch >= 0xD800 && v->of.ch <= 0xDFFF) v->of.ch = 'x'; break;
    case QV_C_STRING: {
        const char *str = strings[r % 6];
        v->of.str.ptr = str, v->of.str.len = strlen(str);
        break;
    }
    case QV_C_FLAGS: v->of.u = r & ((1u << t->n) - 1); break;
    case QV_C_ENUM: v->of.var.disc = (uint32_t)(r % t->n); break;
    case QV_C_LIST: {
        size_t n = r % 4;
        const cm_type *e = t->elems[0];
        v->of.list.n = n;
        if (cm_is_number(e->kind)) {
            uint8_t *raw = cm_alloc(a, n * e->size + 1);
            for (size_t i = 0; i < n * e->size; i++) raw[i] = (uint8_t)next_random();
            /* Floats go through NaN canonicalisation: keep them finite. */
            if (e->kind == QV_C_F32 || e->kind == QV_C_F64)
                for (size_t i = 0; i < n * e->size; i += e->size) memset(raw + i, 0x11, e->size);
            v->of.list.raw = raw;
        } else {
            v->of.list.items = cm_alloc(a, (n + 1) * sizeof *v->of.list.items);
            for (size_t i = 0; i < n; i++) random_value(a, e, &v->of.list.items[i]);
        }
        break;
    }
    case QV_C_OPTION: case QV_C_RESULT: {
        v->of.var.disc = (uint32_t)(r % 2);
        const cm_type *c = cm_case_type(t, v->of.var.disc);
        if (c) {
            v->of.var.payload = cm_alloc(a, sizeof *v->of.var.payload);
            random_value(a, c, v->of.var.payload);
        }
        break;
    }
    case QV_C_TUPLE:
        v->of.fields.items = cm_alloc(a, t->n * sizeof *v->of.fields.items);
        v->of.fields.n = t->n;
        for (uint32_t i = 0; i < t->n; i++) random_value(a, t->elems[i], &v->of.fields.items[i]);
        break;
    }
}

static bool same_value(const cm_type *t, const qv_cval *x, const qv_cval *y)
{
    if (x->kind != y->kind) return false;
    switch (t->kind) {
    case QV_C_BOOL: return x->of.b == y->of.b;
    case QV_C_S8: case QV_C_S16: case QV_C_S32: case QV_C_S64: return x->of.s == y->of.s;
    case QV_C_U8: case QV_C_U16: case QV_C_U32: case QV_C_U64: case QV_C_FLAGS: return x->of.u == y->of.u;
    case QV_C_F32: return !memcmp(&x->of.f32, &y->of.f32, 4);
    case QV_C_F64: return !memcmp(&x->of.f64, &y->of.f64, 8);
    case QV_C_CHAR: return x->of.ch == y->of.ch;
    case QV_C_STRING: return x->of.str.len == y->of.str.len && !memcmp(x->of.str.ptr, y->of.str.ptr, x->of.str.len);
    case QV_C_ENUM: return x->of.var.disc == y->of.var.disc;
    case QV_C_LIST:
        if (x->of.list.n != y->of.list.n) return false;
        if (cm_is_number(t->elems[0]->kind)) return !memcmp(x->of.list.raw, y->of.list.raw, x->of.list.n * t->elems[0]->size);
        for (size_t i = 0; i < x->of.list.n; i++)
            if (!same_value(t->elems[0], &x->of.list.items[i], &y->of.list.items[i])) return false;
        return true;
    case QV_C_OPTION: case QV_C_RESULT: {
        if (x->of.var.disc != y->of.var.disc) return false;
        const cm_type *c = cm_case_type(t, x->of.var.disc);
        return !c || same_value(c, x->of.var.payload, y->of.var.payload);
    }
    case QV_C_TUPLE:
        for (uint32_t i = 0; i < t->n; i++)
            if (!same_value(t->elems[i], &x->of.fields.items[i], &y->of.fields.items[i])) return false;
        return true;
    }
    return false;
}

/* Random types and values go into memory and flat and come back equal,
 * in every string encoding. */
static void random_round_trips(void **state)
{
    fixture *f = *state;
    cm_arena a = {0};
    for (int round = 0; round < 600; round++) {
        char text[4096];
        random_type(text, sizeof text, 3);
        const cm_type *t = wit(f, text);
        f->opts.encoding = (uint8_t)(round % 3);
        qv_cval v, back;
        random_value(&a, t, &v);
        f->bump.next = 4096;
        uint32_t ptr = 1024 - 1024 % t->align;
        if (!cm_store(&f->cx, t, &v, ptr)) fail_msg("%s: store: %s", text, qv_trap_message(f->cx.trap));
        if (!cm_load(&f->cx, t, ptr, &back)) fail_msg("%s: load: %s", text, qv_trap_message(f->cx.trap));
        if (!same_value(t, &v, &back)) fail_msg("%s: a different value came back from memory", text);
        if (t->nflat < CM_FLAT_CAP) {
            uint64_t flat[CM_FLAT_CAP];
            uint32_t at = 0;
            if (!cm_lower_flat(&f->cx, t, &v, flat, &at)) fail_msg("%s: lower: %s", text, qv_trap_message(f->cx.trap));
            assert_int_equal(at, t->nflat);
            at = 0;
            if (!cm_lift_flat(&f->cx, t, flat, &at, &back)) fail_msg("%s: lift: %s", text, qv_trap_message(f->cx.trap));
            assert_int_equal(at, t->nflat);
            if (!same_value(t, &v, &back)) fail_msg("%s: a different value came back flat", text);
        }
        cm_arena_reset(&a);
        cm_arena_reset(&f->values);
    }
    cm_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(layout, setup, teardown),
        cmocka_unit_test_setup_teardown(core_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(record_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(variant_flat_coercion, setup, teardown),
        cmocka_unit_test_setup_teardown(scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_bounds_and_misaligned, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_utf16, setup, teardown),
        cmocka_unit_test_setup_teardown(strings_latin1_utf16, setup, teardown),
        cmocka_unit_test_setup_teardown(realloc_results_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(lists, setup, teardown),
        cmocka_unit_test_setup_teardown(handles, setup, teardown),
        cmocka_unit_test_setup_teardown(host_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(random_round_trips, setup, teardown),
    };
    return cmocka_run_group_tests_name("canon", tests, NULL, NULL);
}
