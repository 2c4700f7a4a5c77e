/*
 * test_decode.c — the binary decoder (qe_decode) and the instruction
 * reader (qe_instr_next) on small hand-written modules: every section
 * kind, and a malformed module for each error the decoder reports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/module.h"

#define HDR 0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00
#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static qe_module *decode_ok(const uint8_t *b, size_t n)
{
    qv_error err = {0};
    qe_module *m = qe_decode(b, n, &err);
    if (!m) fail_msg("decode failed: %s at offset %zu", err.message, (size_t)err.offset);
    return m;
}

/* ------------------------------------------------------------ well formed */

/* One module with every section kind, custom sections among them. */
static const uint8_t KITCHEN_SINK[] = {
    HDR,
    0x00, 0x04, 0x01, 'x', 0xAA, 0xBB,                         /* custom "x", 2 payload bytes */
    0x01, 0x0A, 0x02,                                          /* types */
    0x60, 0x02, 0x7F, 0x7E, 0x01, 0x7D,                        /*   (i32 i64) -> f32 */
    0x60, 0x00, 0x00,                                          /*   () -> () */
    0x02, 0x1E, 0x04,                                          /* imports */
    0x01, 'm', 0x01, 'f', 0x00, 0x01,                          /*   func, type 1 */
    0x01, 'm', 0x01, 't', 0x01, 0x70, 0x01, 0x01, 0x02,        /*   table funcref 1..2 */
    0x01, 'm', 0x01, 'M', 0x02, 0x00, 0x01,                    /*   memory 1.. */
    0x01, 'm', 0x01, 'g', 0x03, 0x7F, 0x01,                    /*   global mut i32 */
    0x03, 0x03, 0x02, 0x00, 0x01,                              /* functions: types 0, 1 */
    0x04, 0x04, 0x01, 0x6F, 0x00, 0x03,                        /* table externref 3.. */
    0x05, 0x04, 0x01, 0x01, 0x01, 0x02,                        /* memory 1..2 */
    0x06, 0x06, 0x01, 0x7E, 0x00, 0x42, 0x2A, 0x0B,            /* global i64 = 42 */
    0x07, 0x0B, 0x02,                                          /* exports */
    0x03, 'a', 0x00, 'b', 0x00, 0x01,                          /*   "a\0b" func 1 */
    0x01, 'G', 0x03, 0x00,                                     /*   "G" global 0 */
    0x08, 0x01, 0x02,                                          /* start: func 2 */
    0x00, 0x02, 0x01, 'y',                                     /* custom "y", empty */
    0x09, 0x33, 0x08,                                          /* elements, flags 0..7 */
    0x00, 0x41, 0x00, 0x0B, 0x01, 0x01,                        /*   active, funcs [1] */
    0x01, 0x00, 0x01, 0x02,                                    /*   passive, funcs [2] */
    0x02, 0x00, 0x41, 0x01, 0x0B, 0x00, 0x01, 0x00,            /*   active table 0, funcs [0] */
    0x03, 0x00, 0x02, 0x01, 0x02,                              /*   declarative, funcs [1 2] */
    0x04, 0x41, 0x02, 0x0B, 0x01, 0xD2, 0x01, 0x0B,            /*   active, [ref.func 1] */
    0x05, 0x70, 0x01, 0xD0, 0x70, 0x0B,                        /*   passive funcref [ref.null] */
    0x06, 0x00, 0x41, 0x03, 0x0B, 0x70, 0x00,                  /*   active table 0, [] */
    0x07, 0x6F, 0x01, 0xD0, 0x6F, 0x0B,                        /*   declarative externref */
    0x0C, 0x01, 0x03,                                          /* datacount 3 */
    0x0A, 0x0E, 0x02,                                          /* code */
    0x09, 0x02, 0x02, 0x7F, 0x01, 0x7C, 0x20, 0x00, 0x1A, 0x0B, /*   locals 2 i32, 1 f64 */
    0x02, 0x00, 0x0B,                                          /*   empty */
    0x0B, 0x11, 0x03,                                          /* data */
    0x00, 0x41, 0x00, 0x0B, 0x02, 'h', 'i',                    /*   active "hi" */
    0x01, 0x01, 'z',                                           /*   passive "z" */
    0x02, 0x00, 0x41, 0x04, 0x0B, 0x00,                        /*   active memory 0, empty */
    0x00, 0x16, 0x04, 'n', 'a', 'm', 'e',                      /* custom "name" */
    0x00, 0x04, 0x03, 'm', 'o', 'd',                           /*   module name */
    0x01, 0x09, 0x02, 0x00, 0x02, 'f', '0', 0x02, 0x02, 'f', '2', /* function names 0, 2 */
};

static void every_section_kind(void **state)
{
    (void)state;
    qe_module *m = decode_ok(KITCHEN_SINK, sizeof KITCHEN_SINK);
    assert_int_equal(m->len, sizeof KITCHEN_SINK);
    assert_memory_equal(m->bytes, KITCHEN_SINK, sizeof KITCHEN_SINK);

    assert_int_equal(m->ntypes, 2);
    assert_int_equal(m->types[0].nparams, 2);
    assert_int_equal(m->types[0].nresults, 1);
    assert_memory_equal(m->types[0].types, ((uint8_t[]){0x7F, 0x7E, 0x7D}), 3);
    assert_int_equal(m->types[0].api_types[2], QV_F32);
    assert_int_equal(m->types[1].nparams + m->types[1].nresults, 0);
    assert_int_not_equal(m->types[0].id, m->types[1].id);

    assert_int_equal(m->nimports, 4);
    assert_string_equal(m->imports[2].module, "m");
    assert_string_equal(m->imports[2].name, "M");
    assert_int_equal(m->nfunc_imports + m->ntable_imports + m->nmem_imports + m->nglobal_imports, 4);

    assert_int_equal(m->nfuncs, 3);
    assert_int_equal(m->func_types[0], 1); /* the import */
    assert_int_equal(m->func_types[1], 0);
    assert_int_equal(m->func_types[2], 1);

    assert_int_equal(m->ntables, 2);
    assert_int_equal(m->tables[0].elem, QE_FUNCREF);
    assert_true(m->tables[0].lim.has_max);
    assert_int_equal(m->tables[0].lim.min, 1);
    assert_int_equal(m->tables[0].lim.max, 2);
    assert_int_equal(m->tables[1].elem, QE_EXTERNREF);
    assert_false(m->tables[1].lim.has_max);
    assert_int_equal(m->tables[1].lim.min, 3);

    assert_int_equal(m->nmems, 2);
    assert_false(m->mems[0].lim.has_max);
    assert_true(m->mems[1].lim.has_max);
    assert_int_equal(m->mems[1].lim.max, 2);

    assert_int_equal(m->nglobals, 2);
    assert_int_equal(m->global_types[0].type, QE_I32);
    assert_true(m->global_types[0].mut);
    assert_int_equal(m->global_types[1].type, QE_I64);
    assert_false(m->globals[0].type.mut);
    assert_int_equal(m->globals[0].init.len, 3);
    assert_memory_equal(m->bytes + m->globals[0].init.start, ((uint8_t[]){0x42, 0x2A, 0x0B}), 3);

    assert_int_equal(m->nexports, 2);
    assert_int_equal(m->exports[0].name_len, 3);
    assert_memory_equal(m->exports[0].name, "a\0b", 4); /* NUL inside, NUL after */
    assert_int_equal(m->exports[0].kind, QE_EXT_FUNC);
    assert_int_equal(m->exports[0].index, 1);
    assert_string_equal(m->exports[1].name, "G");
    assert_int_equal(m->exports[1].kind, QE_EXT_GLOBAL);

    assert_true(m->has_start);
    assert_int_equal(m->start, 2);

    assert_int_equal(m->nelems, 8);
    static const uint8_t modes[8] = {QE_SEG_ACTIVE, QE_SEG_PASSIVE, QE_SEG_ACTIVE, QE_SEG_DECLARATIVE,
                                     QE_SEG_ACTIVE, QE_SEG_PASSIVE, QE_SEG_ACTIVE, QE_SEG_DECLARATIVE};
    static const uint32_t counts[8] = {1, 1, 1, 2, 1, 1, 0, 1};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(m->elems[i].mode, modes[i]);
        assert_int_equal(m->elems[i].count, counts[i]);
        assert_int_equal(m->elems[i].type, i == 7 ? QE_EXTERNREF : QE_FUNCREF);
        for (uint32_t k = 0; k < counts[i]; k++) assert_int_equal(m->elems[i].items[k].is_expr, i >= 4);
    }
    assert_int_equal(m->elems[0].items[0].funcidx, 1);
    assert_int_equal(m->elems[2].items[0].funcidx, 0);
    assert_int_equal(m->elems[3].items[1].funcidx, 2);
    assert_int_equal(m->elems[2].offset.len, 3);
    assert_int_equal(m->bytes[m->elems[2].offset.start + 1], 0x01);
    assert_int_equal(m->elems[4].items[0].expr.len, 3);
    assert_int_equal(m->bytes[m->elems[4].items[0].expr.start], QE_OP_REF_FUNC);

    assert_true(m->has_datacount);
    assert_int_equal(m->datacount, 3);
    assert_int_equal(m->ndatas, 3);
    assert_int_equal(m->datas[0].mode, QE_SEG_ACTIVE);
    assert_int_equal(m->datas[0].len, 2);
    assert_memory_equal(m->bytes + m->datas[0].start, "hi", 2);
    assert_int_equal(m->datas[1].mode, QE_SEG_PASSIVE);
    assert_int_equal(m->datas[2].len, 0);
    assert_int_equal(m->bytes[m->datas[2].offset.start + 1], 0x04);

    assert_int_equal(m->ncodes, 2);
    const qe_code *c = &m->codes[0];
    assert_int_equal(c->nlocaldecls, 2);
    assert_int_equal(c->nlocals, 3);
    assert_int_equal(c->localdecls[1].type, QE_F64);
    assert_int_equal(c->body_end - c->body_start, 4);
    assert_int_equal(m->bytes[c->body_start], QE_OP_LOCAL_GET);
    assert_int_equal(m->bytes[c->body_end - 1], QE_OP_END);
    assert_int_equal(m->codes[1].nlocals, 0);
    assert_int_equal(m->codes[1].body_end - m->codes[1].body_start, 1);

    assert_string_equal(m->name, "mod");
    assert_non_null(m->func_names);
    assert_string_equal(m->func_names[0], "f0");
    assert_null(m->func_names[1]);
    assert_string_equal(m->func_names[2], "f2");
    qe_module_free(m);
}

static void empty_module_has_empty_index_spaces(void **state)
{
    (void)state;
    qe_module *m = decode_ok(BYTES(HDR));
    assert_int_equal(m->ntypes + m->nimports + m->nfuncs + m->ntables + m->nmems + m->nglobals, 0);
    assert_int_equal(m->nexports + m->nelems + m->ndatas + m->ncodes, 0);
    assert_false(m->has_start);
    assert_false(m->has_datacount);
    assert_null(m->name);
    assert_null(m->func_names);
    qe_module_free(m);
}

static void imports_fill_the_index_spaces_first(void **state)
{
    (void)state;
    /* Only imports: no function, table, memory or global section. */
    qe_module *m = decode_ok(BYTES(HDR, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                                   0x02, 0x14, 0x03,
                                   0x00, 0x01, 'a', 0x00, 0x00,
                                   0x00, 0x01, 'b', 0x03, 0x7C, 0x00,
                                   0x00, 0x01, 'c', 0x01, 0x6F, 0x01, 0x00, 0x00));
    assert_int_equal(m->nfuncs, 1);
    assert_int_equal(m->func_types[0], 0);
    assert_int_equal(m->nglobals, 1);
    assert_int_equal(m->global_types[0].type, QE_F64);
    assert_false(m->global_types[0].mut);
    assert_int_equal(m->ntables, 1);
    assert_int_equal(m->tables[0].elem, QE_EXTERNREF);
    assert_true(m->tables[0].lim.has_max);
    assert_int_equal(m->tables[0].lim.max, 0);
    assert_int_equal(m->nmems, 0);
    assert_string_equal(m->imports[1].name, "b");
    assert_string_equal(m->imports[1].module, "");
    qe_module_free(m);
}

static void empty_sections_keep_the_imports(void **state)
{
    (void)state;
    /* Sections present but empty: the index spaces still hold the imports. */
    qe_module *m = decode_ok(BYTES(HDR, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                                   0x02, 0x19, 0x04,
                                   0x00, 0x01, 'f', 0x00, 0x00,
                                   0x00, 0x01, 't', 0x01, 0x70, 0x00, 0x01,
                                   0x00, 0x01, 'm', 0x02, 0x00, 0x02,
                                   0x00, 0x01, 'g', 0x03, 0x7D, 0x01,
                                   0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x05, 0x01, 0x00, 0x06, 0x01, 0x00,
                                   0x0A, 0x01, 0x00));
    assert_int_equal(m->nfuncs, 1);
    assert_int_equal(m->func_types[0], 0);
    assert_int_equal(m->ntables, 1);
    assert_int_equal(m->tables[0].lim.min, 1);
    assert_int_equal(m->nmems, 1);
    assert_int_equal(m->mems[0].lim.min, 2);
    assert_int_equal(m->nglobals, 1);
    assert_int_equal(m->global_types[0].type, QE_F32);
    assert_true(m->global_types[0].mut);
    qe_module_free(m);
}

static void equal_types_share_an_id_across_modules(void **state)
{
    (void)state;
    qe_module *a = decode_ok(BYTES(HDR, 0x01, 0x0B, 0x02, 0x60, 0x01, 0x7F, 0x01, 0x7E,
                                   0x60, 0x02, 0x7F, 0x7E, 0x00));
    qe_module *b = decode_ok(BYTES(HDR, 0x01, 0x0B, 0x02, 0x60, 0x02, 0x7F, 0x7E, 0x00,
                                   0x60, 0x01, 0x7F, 0x01, 0x7E));
    assert_int_equal(a->types[0].id, b->types[1].id);
    assert_int_equal(a->types[1].id, b->types[0].id);
    assert_int_not_equal(a->types[0].id, a->types[1].id);
    /* (i32) -> (i64) and (i32 i64) -> () hold the same bytes, split apart
     * differently: they must still differ. */
    assert_int_equal(qe_functype_intern((const uint8_t[]){0x7F, 0x7E}, 1, 1), a->types[0].id);
    assert_int_equal(qe_functype_intern((const uint8_t[]){0x7F, 0x7E}, 2, 0), a->types[1].id);
    qe_module_free(a);
    qe_module_free(b);
}

/* Every sequence of up to 5 of 4 value types, split into parameters and
 * results at every point: 7737 types, all different. */
static uint32_t each_small_type(uint32_t *ids)
{
    static const uint8_t vt[4] = {QE_I32, QE_I64, QE_F32, QE_F64};
    uint32_t n = 0;
    for (uint32_t len = 0; len <= 5; len++)
        for (uint32_t code = 0; code < (1u << (2 * len)); code++) {
            uint8_t t[5];
            for (uint32_t k = 0; k < len; k++) t[k] = vt[(code >> (2 * k)) & 3];
            for (uint32_t np = 0; np <= len; np++) {
                uint32_t id = qe_functype_intern(t, np, len - np);
                if (ids[n] == UINT32_MAX) ids[n] = id;
                else if (ids[n] != id) fail_msg("type %u: id %u, then %u", n, ids[n], id);
                n++;
            }
        }
    return n;
}

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void interning_many_types(void **state)
{
    (void)state;
    static uint32_t ids[7737];
    memset(ids, 0xFF, sizeof ids);
    assert_int_equal(each_small_type(ids), 7737); /* the table grows several times */
    each_small_type(ids);                          /* the same ids again */
    qsort(ids, 7737, sizeof *ids, by_value);
    for (int i = 1; i < 7737; i++) assert_int_not_equal(ids[i - 1], ids[i]);
}

static void custom_sections_anywhere(void **state)
{
    (void)state;
    qe_module *m = decode_ok(BYTES(HDR, 0x00, 0x01, 0x00,                 /* empty name */
                                   0x01, 0x01, 0x00,                       /* types */
                                   0x00, 0x03, 0x01, 'a', 0xFF,            /* payload need not be UTF-8 */
                                   0x0C, 0x01, 0x00,                       /* datacount */
                                   0x00, 0x02, 0x01, 'b',
                                   0x0B, 0x01, 0x00,                       /* data */
                                   0x00, 0x02, 0x01, 'c'));
    assert_true(m->has_datacount);
    qe_module_free(m);
}

static void padded_leb128_everywhere(void **state)
{
    (void)state;
    /* Section size, count and a type index in their longest encodings. */
    qe_module *m = decode_ok(BYTES(HDR, 0x01, 0x84, 0x80, 0x80, 0x80, 0x00, 0x01, 0x60, 0x00, 0x00,
                                   0x03, 0x86, 0x80, 0x80, 0x80, 0x00,
                                   0x81, 0x80, 0x00, 0x80, 0x80, 0x00,
                                   0x0A, 0x04, 0x01, 0x02, 0x00, 0x0B));
    assert_int_equal(m->nfuncs, 1);
    assert_int_equal(m->func_types[0], 0);
    qe_module_free(m);
}

static void constant_expressions_nest_blocks(void **state)
{
    (void)state;
    /* Not constant (the validator refuses it), but well formed: the
     * expression ends at the `end` that closes it, not the block's. */
    qe_module *m = decode_ok(BYTES(HDR, 0x06, 0x09, 0x01, 0x7F, 0x00,
                                   0x02, 0x7F, 0x41, 0x01, 0x0B, 0x0B));
    assert_int_equal(m->globals[0].init.len, 6);
    qe_module_free(m);
}

/* A module with one function and a "name" section of the given bytes. */
static qe_module *with_name_section(const uint8_t *names, size_t n)
{
    static const uint8_t head[] = {HDR, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
                                   0x0A, 0x04, 0x01, 0x02, 0x00, 0x0B};
    uint8_t buf[256];
    assert_true(sizeof head + 7 + n < sizeof buf && n + 5 < 128);
    size_t len = 0;
    memcpy(buf, head, sizeof head);
    len += sizeof head;
    buf[len++] = 0x00;
    buf[len++] = (uint8_t)(5 + n);
    memcpy(buf + len, "\x04name", 5);
    len += 5;
    memcpy(buf + len, names, n);
    len += n;
    return decode_ok(buf, len);
}

static void malformed_name_section_is_ignored(void **state)
{
    (void)state;
    qe_module *m = with_name_section(BYTES(0x00, 0x02, 0x01, 'M', 0x01, 0x04, 0x01, 0x00, 0x01, 'f'));
    assert_string_equal(m->name, "M");
    assert_string_equal(m->func_names[0], "f");
    qe_module_free(m);

    /* Each of these spoils a name section: the module still decodes and
     * keeps no names at all, not even the good ones. */
    const struct { const uint8_t *b; size_t n; } bad[] = {
        {BYTES(0x00, 0x02, 0x01, 'M', 0x01, 0x04, 0x01, 0x01, 0x01, 'f')},       /* function 1 of 1 */
        {BYTES(0x00, 0x02, 0x01, 'M', 0x01, 0x09, 0x01, 0x00, 0x01, 'f')},       /* subsection too long */
        {BYTES(0x00, 0x02, 0x01, 0xC0, 0x01, 0x04, 0x01, 0x00, 0x01, 'f')},      /* bad UTF-8 */
        {BYTES(0x01, 0x04, 0x01, 0x00, 0x01, 'f', 0x00, 0x02, 0x01, 'M')},       /* out of order */
        {BYTES(0x00, 0x03, 0x01, 'M', 0x00)},                                    /* bytes left over */
        {BYTES(0x01, 0x07, 0x02, 0x00, 0x01, 'f', 0x00, 0x01, 'g')},             /* index repeated */
        {BYTES(0x00, 0x80)},                                                     /* truncated size */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = with_name_section(bad[i].b, bad[i].n);
        if (m->name || m->func_names) fail_msg("bad name section %zu was used", i);
        qe_module_free(m);
    }
}

/* ------------------------------------------------------------ malformed */

#define END_OF_MODULE SIZE_MAX

typedef struct bad_module {
    const char *what;
    const uint8_t *bytes;
    size_t len;
    const char *message;
    size_t offset;                /* END_OF_MODULE: the module's length */
} bad_module;

#define BAD(what, message, offset, ...) {what, BYTES(__VA_ARGS__), message, offset}

/* Type section with () -> () and a function section declaring one function. */
#define ONE_FUNC 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00

static const bad_module BAD_MODULES[] = {
    {"empty file", (const uint8_t *)"", 0, "unexpected end", 0},
    BAD("truncated magic", "unexpected end", 0, 0x00, 0x61, 0x73),
    BAD("wrong magic", "magic header not detected", 0, 'a', 's', 'm', 0x00, 0x01, 0x00, 0x00, 0x00),
    BAD("truncated version", "unexpected end", 4, 0x00, 0x61, 0x73, 0x6D, 0x01),
    BAD("version 2", "unknown binary version", 4, 0x00, 0x61, 0x73, 0x6D, 0x02, 0x00, 0x00, 0x00),
    BAD("section id 13", "malformed section id", 8, HDR, 0x0D, 0x00),
    BAD("section size past the end", "length out of bounds", 9, HDR, 0x01, 0x05, 0x00),
    BAD("section size one byte past the end", "unexpected end of section or function", END_OF_MODULE,
        HDR, 0x00, 0x03, 0x01, 'a'),
    BAD("function size one byte past the end", "unexpected end of section or function", END_OF_MODULE,
        HDR, ONE_FUNC, 0x0A, 0x04, 0x01, 0x03, 0x00, 0x0B),
    BAD("section size not a LEB128", "unexpected end of section or function", 10, HDR, 0x01, 0x80),
    BAD("bytes left in a section", "section size mismatch", 14, HDR, 0x01, 0x05, 0x01, 0x60, 0x00, 0x00, 0x00),
    BAD("section contents overrun its size", "section size mismatch", 13,
        HDR, 0x01, 0x03, 0x01, 0x60, 0x00, 0x00),
    BAD("sections out of order", "unexpected content after last section", 11,
        HDR, 0x03, 0x01, 0x00, 0x01, 0x01, 0x00),
    BAD("section repeated", "unexpected content after last section", 11, HDR, 0x01, 0x01, 0x00, 0x01, 0x01, 0x00),
    BAD("datacount after code", "unexpected content after last section", 11,
        HDR, 0x0A, 0x01, 0x00, 0x0C, 0x01, 0x00),
    BAD("custom section name past the section", "unexpected end of section or function", 11,
        HDR, 0x00, 0x01, 0x03, 'a', 'b', 'c'),
    BAD("function type form 0x61", "malformed function type", 11, HDR, 0x01, 0x04, 0x01, 0x61, 0x00, 0x00),
    BAD("function type form with a continuation bit", "integer representation too long", 11,
        HDR, 0x01, 0x04, 0x01, 0xE0, 0x00, 0x00),
    BAD("value type 0x7A", "malformed value type", 13, HDR, 0x01, 0x05, 0x01, 0x60, 0x01, 0x7A, 0x00),
    BAD("import kind 4", "malformed import kind", 13, HDR, 0x02, 0x04, 0x01, 0x00, 0x00, 0x04),
    BAD("global mutability 2", "malformed mutability", 15, HDR, 0x02, 0x06, 0x01, 0x00, 0x00, 0x03, 0x7F, 0x02),
    BAD("table of i32", "malformed reference type", 14, HDR, 0x02, 0x07, 0x01, 0x00, 0x00, 0x01, 0x7F, 0x00, 0x01),
    BAD("limits flag 2", "integer too large", 11, HDR, 0x05, 0x03, 0x01, 0x02, 0x00),
    BAD("limits flag as two bytes", "integer representation too long", 11, HDR, 0x05, 0x04, 0x01, 0x81, 0x00, 0x00),
    BAD("type index in 6 bytes", "integer representation too long", 16,
        HDR, 0x03, 0x07, 0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
    BAD("type index of 33 bits", "integer too large", 16, HDR, 0x03, 0x06, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F),
    BAD("import name not UTF-8", "malformed UTF-8 encoding", 11, HDR, 0x02, 0x06, 0x01, 0x01, 0xC0, 0x00, 0x00, 0x00),
    BAD("name longer than the module", "length out of bounds", 11, HDR, 0x02, 0x04, 0x01, 0x05, 'a', 'b'),
    BAD("count longer than the module", "length out of bounds", 10, HDR, 0x07, 0x01, 0x05),
    BAD("vector count past its section", "unexpected end of section or function", 14,
        HDR, 0x01, 0x04, 0x02, 0x60, 0x00, 0x00),
    BAD("functions without code", "function and code section have inconsistent lengths", END_OF_MODULE,
        HDR, ONE_FUNC),
    BAD("code without functions", "function and code section have inconsistent lengths", END_OF_MODULE,
        HDR, 0x0A, 0x04, 0x01, 0x02, 0x00, 0x0B),
    BAD("too many locals", "too many locals", 22,
        HDR, ONE_FUNC, 0x0A, 0x10, 0x01, 0x0E, 0x02,
        0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x7F, 0x0B),
    BAD("local declarations overrun the body", "section size mismatch", 23,
        HDR, ONE_FUNC, 0x0A, 0x05, 0x01, 0x01, 0x01, 0x01, 0x7F),
    BAD("data count 2, one segment", "data count and data section have inconsistent lengths", END_OF_MODULE,
        HDR, 0x0C, 0x01, 0x02, 0x0B, 0x04, 0x01, 0x01, 0x01, 'a'),
    BAD("data count without data", "data count and data section have inconsistent lengths", END_OF_MODULE,
        HDR, 0x0C, 0x01, 0x01),
    BAD("data segment kind 3", "malformed data segment kind", 11, HDR, 0x0B, 0x02, 0x01, 0x03),
    BAD("data bytes past the end", "unexpected end of section or function", 13,
        HDR, 0x0B, 0x05, 0x01, 0x01, 0x03, 'a', 'b'),
    BAD("data length past the end", "length out of bounds", 12, HDR, 0x0B, 0x05, 0x01, 0x01, 0x04, 'a', 'b'),
    BAD("elements segment kind 8", "malformed elements segment kind", 11, HDR, 0x09, 0x02, 0x01, 0x08),
    BAD("element kind 1", "malformed element kind", 12, HDR, 0x09, 0x04, 0x01, 0x01, 0x01, 0x00),
    BAD("element type i32", "malformed reference type", 12, HDR, 0x09, 0x04, 0x01, 0x05, 0x7F, 0x00),
    BAD("export kind 4", "malformed export kind", 12, HDR, 0x07, 0x04, 0x01, 0x00, 0x04, 0x00),
    BAD("illegal opcode in a constant", "illegal opcode", 13, HDR, 0x06, 0x05, 0x01, 0x7F, 0x00, 0x06, 0x0B),
    BAD("constant without end", "unexpected end of section or function", 15, HDR, 0x06, 0x05, 0x01, 0x7F, 0x00, 0x41, 0x00),
    BAD("bad memory index byte in a constant", "zero byte expected", 14,
        HDR, 0x06, 0x06, 0x01, 0x7F, 0x00, 0x3F, 0x01, 0x0B),
};

static void each_malformation_is_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD_MODULES / sizeof *BAD_MODULES; i++) {
        const bad_module *b = &BAD_MODULES[i];
        qv_error err = {0};
        qe_module *m = qe_decode(b->bytes, b->len, &err);
        if (m) {
            qe_module_free(m);
            fail_msg("%s: decoded", b->what);
        }
        size_t offset = b->offset == END_OF_MODULE ? b->len : b->offset;
        if (strcmp(err.message, b->message) != 0 || err.offset != offset)
            fail_msg("%s: got \"%s\" at %zu, expected \"%s\" at %zu", b->what, err.message, (size_t)err.offset,
                     b->message, offset);
        if (err.func_index != -1) fail_msg("%s: blames function %lld", b->what, (long long)err.func_index);
    }
}

static void a_body_cut_short_is_blamed(void **state)
{
    (void)state;
    /* The body's size ends inside an i32.const whose LEB128 is too long
     * anyway; the bytes left over then look like a bad custom section.
     * The body, read first in the module's order, is the error. */
    const uint8_t b[] = {HDR, ONE_FUNC, 0x0A, 0x09, 0x01, 0x07, 0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x80,
                         0x00, 0x0B};
    qv_error err = {0};
    assert_null(qe_decode(b, sizeof b, &err));
    assert_string_equal(err.message, "integer representation too long");
    assert_int_equal(err.offset, 29);
    assert_int_equal(err.func_index, 0);
}

static void module_over_4_gib(void **state)
{
    (void)state;
    /* Refused on its length alone: the bytes are never read. */
    static const uint8_t b[] = {HDR};
    qv_error err = {0};
    assert_null(qe_decode(b, (size_t)UINT32_MAX + 1, &err));
    assert_non_null(strstr(err.message, "larger than 4 GiB"));
}

static void huge_counts_are_refused_early(void **state)
{
    (void)state;
    /* Counts of 2^32-1 for every vector kind, with nothing behind them:
     * refused before anything is sized by them. */
    for (uint8_t id = 1; id <= 11; id++) {
        if (id == 8) continue; /* start has no vector */
        const uint8_t b[] = {HDR, id, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
        qv_error err = {0};
        qe_module *m = qe_decode(b, sizeof b, &err);
        if (m) fail_msg("section %u decoded", id);
        assert_string_equal(err.message, "length out of bounds");
        assert_int_equal(err.offset, 10);
    }
}

static void counts_past_their_section_read_on(void **state)
{
    (void)state;
    /* A function section of 4 bytes declaring a million functions, in a
     * module with a million zero bytes after it: the entries are read
     * (the array grows past what the section could hold) until the
     * section's size is found overrun. */
    size_t len = 1u << 20;
    uint8_t *b = calloc(1, len);
    assert_non_null(b);
    const uint8_t head[] = {HDR, 0x03, 0x04, 0xC0, 0x84, 0x3D}; /* 1,000,000 */
    memcpy(b, head, sizeof head);
    qv_error err = {0};
    assert_null(qe_decode(b, len, &err));
    assert_string_equal(err.message, "section size mismatch");
    assert_int_equal(err.offset, 14);
    free(b);
}

/* ------------------------------------------------------------ instructions */

typedef struct reading {
    qe_module m;
    qe_instr_reader ir;
} reading;

static void start_reading(reading *rd, const uint8_t *b, size_t n)
{
    memset(&rd->m, 0, sizeof rd->m);
    rd->m.bytes = (uint8_t *)b;
    rd->m.len = n;
    qe_instr_reader_init(&rd->ir, &rd->m, 0, (uint32_t)n);
}

/* Decode the single instruction in b[0..n) and check it used every byte. */
static qe_instr one(const uint8_t *b, size_t n)
{
    reading rd;
    qe_instr in;
    start_reading(&rd, b, n);
    if (!qe_instr_next(&rd.ir, &in)) fail_msg("opcode 0x%02X: %s", b[0], rd.ir.r.err);
    assert_true(qe_reader_at_end(&rd.ir.r));
    qe_instr_reader_free(&rd.ir);
    return in;
}

/* The error decoding b[0..n) as one instruction, and where. */
static const char *one_error(const uint8_t *b, size_t n, size_t *offset)
{
    reading rd;
    qe_instr in;
    start_reading(&rd, b, n);
    if (qe_instr_next(&rd.ir, &in)) fail_msg("opcode 0x%02X decoded", b[0]);
    if (offset) *offset = rd.ir.r.err_offset;
    qe_instr_reader_free(&rd.ir);
    return rd.ir.r.err;
}

#define ONE(...) one(BYTES(__VA_ARGS__))
#define ERROR(...) one_error(BYTES(__VA_ARGS__), NULL)

static void block_types(void **state)
{
    (void)state;
    qe_instr in = ONE(QE_OP_BLOCK, 0x40);
    assert_int_equal(in.u.block.kind, QE_BLOCKTYPE_EMPTY);
    in = ONE(QE_OP_LOOP, 0x7C);
    assert_int_equal(in.u.block.kind, QE_BLOCKTYPE_VALUE);
    assert_int_equal(in.u.block.valtype, QE_F64);
    in = ONE(QE_OP_IF, 0x6F);
    assert_int_equal(in.u.block.valtype, QE_EXTERNREF);
    in = ONE(QE_OP_BLOCK, 0x05);
    assert_int_equal(in.u.block.kind, QE_BLOCKTYPE_INDEX);
    assert_int_equal(in.u.block.typeidx, 5);
    in = ONE(QE_OP_BLOCK, 0x80, 0x01);
    assert_int_equal(in.u.block.typeidx, 128);
    in = ONE(QE_OP_BLOCK, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F); /* the largest s33 */
    assert_int_equal(in.u.block.typeidx, UINT32_MAX);
    assert_string_equal(ERROR(QE_OP_BLOCK, 0x41), "malformed value type");
    assert_string_equal(ERROR(QE_OP_BLOCK, 0xC0, 0x7F), "malformed block type"); /* -64 */
    assert_string_equal(ERROR(QE_OP_BLOCK, 0x80, 0x80, 0x80, 0x80, 0x10), "integer too large");
    assert_string_equal(ERROR(QE_OP_IF), "unexpected end of section or function");
}

static void branch_tables(void **state)
{
    (void)state;
    /* More targets than the reader's first buffer holds. */
    uint8_t b[64];
    b[0] = QE_OP_BR_TABLE;
    b[1] = 40;
    for (int i = 0; i < 40; i++) b[2 + i] = (uint8_t)i;
    b[42] = 0x80, b[43] = 0x01; /* default 128 */
    reading rd;
    qe_instr in;
    start_reading(&rd, b, 44);
    assert_true(qe_instr_next(&rd.ir, &in));
    assert_int_equal(in.u.br_table.count, 40);
    for (uint32_t i = 0; i < 40; i++) assert_int_equal(in.u.br_table.targets[i], i);
    assert_int_equal(in.u.br_table.default_target, 128);
    qe_instr_reader_free(&rd.ir);

    in = ONE(QE_OP_BR_TABLE, 0x00, 0x07);
    assert_int_equal(in.u.br_table.count, 0);
    assert_int_equal(in.u.br_table.default_target, 7);

    /* A count far beyond the bytes: refused before allocating. */
    static const uint8_t huge[] = {QE_OP_BR_TABLE, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x00};
    start_reading(&rd, huge, sizeof huge);
    assert_false(qe_instr_next(&rd.ir, &in));
    assert_string_equal(rd.ir.r.err, "unexpected end of section or function");
    assert_int_equal(rd.ir.targets_cap, 0);
    qe_instr_reader_free(&rd.ir);
    assert_string_equal(ERROR(QE_OP_BR_TABLE, 0x02, 0x00, 0x00), "unexpected end of section or function");
}

static void index_immediates(void **state)
{
    (void)state;
    static const uint8_t ops[] = {QE_OP_BR, QE_OP_BR_IF, QE_OP_CALL, QE_OP_LOCAL_GET, QE_OP_LOCAL_SET,
                                  QE_OP_LOCAL_TEE, QE_OP_GLOBAL_GET, QE_OP_GLOBAL_SET, QE_OP_TABLE_GET,
                                  QE_OP_TABLE_SET, QE_OP_REF_FUNC};
    for (size_t i = 0; i < sizeof ops; i++) {
        qe_instr in = one((const uint8_t[]){ops[i], 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 6);
        assert_int_equal(in.op, ops[i]);
        assert_int_equal(in.u.index, UINT32_MAX);
    }
    qe_instr in = ONE(QE_OP_CALL_INDIRECT, 0x02, 0x01);
    assert_int_equal(in.u.call_indirect.typeidx, 2);
    assert_int_equal(in.u.call_indirect.table, 1);
    assert_string_equal(ERROR(QE_OP_CALL, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), "integer representation too long");
}

static void typed_select(void **state)
{
    (void)state;
    qe_instr in = ONE(QE_OP_SELECT_T, 0x01, 0x7E);
    assert_int_equal(in.u.select_t.count, 1);
    assert_int_equal(in.u.select_t.type, QE_I64);
    assert_string_equal(ERROR(QE_OP_SELECT_T, 0x00), "invalid result arity");
    assert_string_equal(ERROR(QE_OP_SELECT_T, 0x02, 0x7F, 0x7F), "invalid result arity");
    assert_string_equal(ERROR(QE_OP_SELECT_T, 0x02, 0x7F, 0x40), "malformed value type");
}

static void memory_instructions(void **state)
{
    (void)state;
    qe_instr in = ONE(0x28, 0x02, 0x80, 0x01); /* i32.load align=4 offset=128 */
    assert_int_equal(in.u.mem.align, 2);
    assert_int_equal(in.u.mem.offset, 128);
    assert_int_equal(in.u.mem.memory, 0);
    in = ONE(0x3E, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F); /* i64.store32, alignment exponent 31 */
    assert_int_equal(in.u.mem.align, 31);
    assert_int_equal(in.u.mem.offset, UINT32_MAX);
    size_t at;
    assert_string_equal(one_error(BYTES(0x28, 0x20, 0x00), &at), "malformed memop flags");
    assert_int_equal(at, 1);
    assert_string_equal(ERROR(0x36, 0x40, 0x00), "malformed memop flags");
    in = ONE(QE_OP_MEMORY_SIZE, 0x00);
    assert_int_equal(in.u.index, 0);
    assert_string_equal(one_error(BYTES(QE_OP_MEMORY_GROW, 0x01), &at), "zero byte expected");
    assert_int_equal(at, 1);
    /* A padded zero is not the reserved byte either. */
    assert_string_equal(ERROR(QE_OP_MEMORY_SIZE, 0x80, 0x00), "zero byte expected");
}

static void constants(void **state)
{
    (void)state;
    assert_int_equal(ONE(QE_OP_I32_CONST, 0x7F).u.i32, -1);
    assert_int_equal(ONE(QE_OP_I32_CONST, 0x80, 0x80, 0x80, 0x80, 0x78).u.i32, INT32_MIN);
    assert_true(ONE(QE_OP_I64_CONST, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F).u.i64 ==
                INT64_MIN);
    assert_int_equal(ONE(QE_OP_F32_CONST, 0x00, 0x00, 0x80, 0x3F).u.f32, 0x3F800000u); /* 1.0f */
    assert_true(ONE(QE_OP_F64_CONST, 1, 2, 3, 4, 5, 6, 7, 8).u.f64 == 0x0807060504030201ull);
    assert_string_equal(ERROR(QE_OP_F64_CONST, 1, 2, 3), "unexpected end of section or function");
    assert_string_equal(ERROR(QE_OP_I32_CONST, 0x80, 0x80, 0x80, 0x80, 0x08), "integer too large");
    assert_int_equal(ONE(QE_OP_REF_NULL, 0x70).u.reftype, QE_FUNCREF);
    assert_string_equal(ERROR(QE_OP_REF_NULL, 0x7F), "malformed reference type");
}

static void prefixed_instructions(void **state)
{
    (void)state;
    for (uint8_t sub = 0; sub <= 7; sub++)
        assert_int_equal(one((const uint8_t[]){0xFC, sub}, 2).op, 0xFC00 | sub);
    assert_int_equal(ONE(0xFC, 0x80, 0x00).op, QE_OP_TRUNC_SAT_FIRST); /* padded sub-opcode */
    qe_instr in = ONE(0xFC, 0x08, 0x03, 0x00);
    assert_int_equal(in.op, QE_OP_MEMORY_INIT);
    assert_int_equal(in.u.pair.a, 3);
    assert_int_equal(in.u.pair.b, 0);
    assert_string_equal(ERROR(0xFC, 0x08, 0x03, 0x01), "zero byte expected");
    assert_int_equal(ONE(0xFC, 0x09, 0x06).u.index, 6);
    assert_int_equal(ONE(0xFC, 0x0A, 0x00, 0x00).op, QE_OP_MEMORY_COPY);
    assert_string_equal(ERROR(0xFC, 0x0A, 0x00, 0x01), "zero byte expected");
    assert_int_equal(ONE(0xFC, 0x0B, 0x00).op, QE_OP_MEMORY_FILL);
    assert_string_equal(ERROR(0xFC, 0x0B, 0x02), "zero byte expected");
    in = ONE(0xFC, 0x0C, 0x04, 0x01);
    assert_int_equal(in.op, QE_OP_TABLE_INIT);
    assert_int_equal(in.u.pair.a, 4);
    assert_int_equal(in.u.pair.b, 1);
    assert_int_equal(ONE(0xFC, 0x0D, 0x05).u.index, 5);
    in = ONE(0xFC, 0x0E, 0x01, 0x02);
    assert_int_equal(in.op, QE_OP_TABLE_COPY);
    assert_int_equal(in.u.pair.a, 1);
    assert_int_equal(in.u.pair.b, 2);
    for (uint8_t sub = 0x0F; sub <= 0x11; sub++) {
        in = one((const uint8_t[]){0xFC, sub, 0x09}, 3);
        assert_int_equal(in.op, 0xFC00 | sub);
        assert_int_equal(in.u.index, 9);
    }
    size_t at;
    assert_string_equal(one_error(BYTES(0xFC, 0x12), &at), "illegal opcode");
    assert_int_equal(at, 0); /* the prefix byte */
    assert_string_equal(ERROR(0xFC, 0x80, 0x80, 0x80, 0x80, 0x01), "illegal opcode");
    assert_string_equal(ERROR(0xFD, 0x0C), "SIMD instructions are not supported yet");
}

static void opcode_map(void **state)
{
    (void)state;
    /* Every one-byte opcode of WebAssembly 2.0 (no SIMD) decodes; every
     * other byte is an illegal opcode. Zero bytes serve as immediates. */
    static const uint8_t ranges[][2] = {{0x00, 0x05}, {0x0B, 0x11}, {0x1A, 0x1C}, {0x20, 0x26},
                                        {0x28, 0xC4}, {0xD0, 0xD2}, {0xFC, 0xFC}};
    unsigned legal = 0;
    for (unsigned op = 0; op < 256; op++) {
        bool in_2_0 = false;
        for (size_t k = 0; k < sizeof ranges / sizeof *ranges; k++)
            in_2_0 |= op >= ranges[k][0] && op <= ranges[k][1];
        uint8_t b[16] = {(uint8_t)op};
        if (op == QE_OP_SELECT_T) b[1] = 1, b[2] = 0x7F;
        if (op == QE_OP_REF_NULL) b[1] = 0x70;
        reading rd;
        qe_instr in;
        start_reading(&rd, b, sizeof b);
        bool ok = qe_instr_next(&rd.ir, &in);
        if (op == 0xFD) {
            assert_false(ok);
        } else if (in_2_0) {
            if (!ok) fail_msg("opcode 0x%02X: %s", op, rd.ir.r.err);
            assert_int_equal(in.offset, 0);
            legal++;
        } else {
            if (ok) fail_msg("opcode 0x%02X decoded", op);
            assert_string_equal(rd.ir.r.err, "illegal opcode");
            assert_int_equal(rd.ir.r.err_offset, 0);
        }
        qe_instr_reader_free(&rd.ir);
    }
    assert_int_equal(legal, 6 + 7 + 3 + 7 + 157 + 3 + 1);
}

static void offsets_and_the_end(void **state)
{
    (void)state;
    /* The reader reports each instruction's offset in the module and
     * fails cleanly once the range is used up. */
    static const uint8_t b[] = {0xEE, 0xEE, QE_OP_I32_CONST, 0x80, 0x01, QE_OP_DROP, QE_OP_NOP, QE_OP_END, 0xEE};
    qe_module m = {.bytes = (uint8_t *)b, .len = sizeof b};
    qe_instr_reader ir;
    qe_instr in;
    qe_instr_reader_init(&ir, &m, 2, 8);
    static const uint32_t offsets[] = {2, 5, 6, 7};
    for (int i = 0; i < 4; i++) {
        assert_true(qe_instr_next(&ir, &in));
        assert_int_equal(in.offset, offsets[i]);
    }
    assert_int_equal(in.op, QE_OP_END);
    assert_true(qe_reader_at_end(&ir.r));
    assert_false(qe_instr_next(&ir, &in));
    assert_string_equal(ir.r.err, "unexpected end of section or function");
    assert_int_equal(ir.r.err_offset, 8);
    qe_instr_reader_free(&ir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_section_kind),
        cmocka_unit_test(empty_module_has_empty_index_spaces),
        cmocka_unit_test(imports_fill_the_index_spaces_first),
        cmocka_unit_test(empty_sections_keep_the_imports),
        cmocka_unit_test(equal_types_share_an_id_across_modules),
        cmocka_unit_test(interning_many_types),
        cmocka_unit_test(custom_sections_anywhere),
        cmocka_unit_test(padded_leb128_everywhere),
        cmocka_unit_test(constant_expressions_nest_blocks),
        cmocka_unit_test(malformed_name_section_is_ignored),
        cmocka_unit_test(each_malformation_is_named),
        cmocka_unit_test(a_body_cut_short_is_blamed),
        cmocka_unit_test(module_over_4_gib),
        cmocka_unit_test(huge_counts_are_refused_early),
        cmocka_unit_test(counts_past_their_section_read_on),
        cmocka_unit_test(block_types),
        cmocka_unit_test(branch_tables),
        cmocka_unit_test(index_immediates),
        cmocka_unit_test(typed_select),
        cmocka_unit_test(memory_instructions),
        cmocka_unit_test(constants),
        cmocka_unit_test(prefixed_instructions),
        cmocka_unit_test(opcode_map),
        cmocka_unit_test(offsets_and_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
