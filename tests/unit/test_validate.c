/*
 * test_validate.c — hand-assembled modules for validation rules the spec
 * corpus exercises thinly: typing of unreachable code, br_table over
 * labels of different types, select typing, the declared-function-reference
 * rule, if without else, and where errors are reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/module.h"

typedef struct bytes {
    const uint8_t *p;
    size_t n;
} bytes;
#define B(...) ((bytes){(const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})})

/* Section contents (vector count included) of a module. Empty ones are
 * left out, except: no type section means one type [] -> [], and no
 * function section means every body has type 0. Bodies are the locals
 * vector, the instructions and the final end; their sizes are added. */
typedef struct parts {
    bytes types, imports, funcs, tables, mems, globals, exports, start, elems, datacount, data;
    bytes bodies[3];
} parts;

enum { I32 = 0x7F, I64 = 0x7E, F32 = 0x7D, FUNCREF = 0x70, EXTERNREF = 0x6F };

typedef struct out {
    uint8_t *b;
    size_t n, cap;
} out;

static void put(out *o, const uint8_t *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_u32(out *o, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7F;
        v >>= 7;
        if (v) byte |= 0x80;
        put(o, &byte, 1);
    } while (v);
}

static void put_section(out *o, uint8_t id, const uint8_t *p, size_t n)
{
    put(o, &id, 1);
    put_u32(o, (uint32_t)n);
    put(o, p, n);
}

/* The module's bytes, in *o (the caller frees o->b). */
static void assemble(const parts *m, out *o)
{
    static const uint8_t header[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    *o = (out){0};
    put(o, header, sizeof header);
    size_t nbodies = 0;
    while (nbodies < 3 && m->bodies[nbodies].n) nbodies++;

    bytes types = m->types.n ? m->types : B(1, 0x60, 0, 0);
    put_section(o, 1, types.p, types.n);
    if (m->imports.n) put_section(o, 2, m->imports.p, m->imports.n);
    if (m->funcs.n) {
        put_section(o, 3, m->funcs.p, m->funcs.n);
    } else if (nbodies) {
        uint8_t funcs[4] = {(uint8_t)nbodies, 0, 0, 0};
        put_section(o, 3, funcs, 1 + nbodies);
    }
    if (m->tables.n) put_section(o, 4, m->tables.p, m->tables.n);
    if (m->mems.n) put_section(o, 5, m->mems.p, m->mems.n);
    if (m->globals.n) put_section(o, 6, m->globals.p, m->globals.n);
    if (m->exports.n) put_section(o, 7, m->exports.p, m->exports.n);
    if (m->start.n) put_section(o, 8, m->start.p, m->start.n);
    if (m->elems.n) put_section(o, 9, m->elems.p, m->elems.n);
    if (m->datacount.n) put_section(o, 12, m->datacount.p, m->datacount.n);
    if (nbodies) {
        out code = {0};
        put_u32(&code, (uint32_t)nbodies);
        for (size_t i = 0; i < nbodies; i++) {
            put_u32(&code, (uint32_t)m->bodies[i].n);
            put(&code, m->bodies[i].p, m->bodies[i].n);
        }
        put_section(o, 10, code.b, code.n);
        free(code.b);
    }
    if (m->data.n) put_section(o, 11, m->data.p, m->data.n);
}

/* Decodes (which must succeed) and validates; the module is returned for
 * offset checks. */
static qe_module *decode_and_validate(int line, const parts *m, bool *valid, qv_error *err)
{
    out o;
    assemble(m, &o);
    memset(err, 0, sizeof *err);
    qe_module *mod = qe_decode(o.b, o.n, err);
    free(o.b);
    if (!mod) fail_msg("line %d: test module does not decode: %s (offset %zu)", line, err->message, err->offset);
    *valid = qe_validate(mod, err);
    return mod;
}

static void valid_(int line, parts m)
{
    qv_error err;
    bool ok;
    qe_module *mod = decode_and_validate(line, &m, &ok, &err);
    qe_module_free(mod);
    if (!ok) fail_msg("line %d: expected valid, got \"%s\" at offset %zu", line, err.message, err.offset);
}
#define valid(...) valid_(__LINE__, __VA_ARGS__)

/* Invalid with a message starting with `want`; returns the error. */
static qv_error invalid_(int line, parts m, const char *want)
{
    qv_error err;
    bool ok;
    qe_module *mod = decode_and_validate(line, &m, &ok, &err);
    qe_module_free(mod);
    if (ok) fail_msg("line %d: expected \"%s\", but the module validates", line, want);
    if (strncmp(err.message, want, strlen(want)) != 0)
        fail_msg("line %d: expected \"%s\", got \"%s\"", line, want, err.message);
    return err;
}
#define invalid(...) invalid_(__LINE__, __VA_ARGS__)

/* Types used below: 0 = [] -> [], 1 = [] -> [i32], 2 = [i32] -> [i32],
 * 3 = [i32] -> [], 4 = [] -> [i64]. */
#define TYPES B(5, 0x60, 0, 0, 0x60, 0, 1, I32, 0x60, 1, I32, 1, I32, 0x60, 1, I32, 0, 0x60, 0, 1, I64)
#define FUNC_OF_TYPE(t) B(1, t)

static void unreachable_code_typing(void **state)
{
    (void)state;
    /* unreachable leaves a stack that yields any type, of any depth */
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x00, 0x0B)}});
    valid((parts){.bodies = {B(0, 0x00, 0x6A, 0x1A, 0x0B)}});             /* i32.add; drop */
    valid((parts){.bodies = {B(0, 0x02, 0x40, 0x00, 0x1A, 0x1A, 0x0B, 0x0B)}}); /* drops in the block */
    valid((parts){.bodies = {B(0, 0x02, 0x40, 0x0C, 0x00, 0x6A, 0x1A, 0x0B, 0x0B)}}); /* after br */
    /* but values pushed after it keep their types */
    invalid((parts){.bodies = {B(0, 0x00, 0x42, 0x00, 0x6A, 0x1A, 0x0B)}}, "type mismatch");
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, I32, 0x00, 0x42, 0x00, 0x0B, 0x0B)}},
            "type mismatch");
    /* and the block's end still counts them */
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, I32, 0x00, 0x41, 0x00, 0x41, 0x00, 0x0B, 0x0B)}},
            "type mismatch");
    /* reachability comes back after the block */
    invalid((parts){.bodies = {B(0, 0x02, 0x40, 0x00, 0x0B, 0x6A, 0x1A, 0x0B)}}, "type mismatch");
    /* operands outside a block are out of reach inside it */
    invalid((parts){.bodies = {B(0, 0x41, 0x01, 0x02, 0x40, 0x41, 0x02, 0x6A, 0x1A, 0x0B, 0x1A, 0x0B)}},
            "type mismatch");
    /* return needs the function's results unless the code is unreachable */
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x0F, 0x0B)}}, "type mismatch");
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x00, 0x0F, 0x0B)}});
}

static void br_table_with_unknown_operands(void **state)
{
    (void)state;
    /* block f32 and the function's i32 result: same arity, and the operand
     * is unknown, so both labels accept it */
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                  .bodies = {B(0, 0x02, F32, 0x00, 0x0E, 0x01, 0x00, 0x01, 0x0B, 0x1A, 0x41, 0x00, 0x0B)}});
    /* a known f32 operand cannot go to the i32 label, be it the default
     * or one of the listed targets */
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, F32, 0x00, 0x43, 0, 0, 0, 0, 0x41, 0x00, 0x0E, 0x01, 0x00, 0x01, 0x0B,
                                 0x1A, 0x41, 0x00, 0x0B)}},
            "type mismatch");
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, F32, 0x00, 0x43, 0, 0, 0, 0, 0x41, 0x00, 0x0E, 0x01, 0x01, 0x00, 0x0B,
                                 0x1A, 0x41, 0x00, 0x0B)}},
            "type mismatch");
    /* arities must agree even in unreachable code */
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, 0x40, 0x00, 0x0E, 0x01, 0x00, 0x01, 0x0B, 0x41, 0x00, 0x0B)}},
            "type mismatch");
    /* reachable: the operands must be there */
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, I32, 0x41, 0x00, 0x0E, 0x01, 0x00, 0x01, 0x0B, 0x0B)}},
            "type mismatch");
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x02, I32, 0x41, 0x00, 0x0E, 0x01, 0x01, 0x00, 0x0B, 0x0B)}},
            "type mismatch");
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1),
                  .bodies = {B(0, 0x02, I32, 0x41, 0x07, 0x41, 0x00, 0x0E, 0x01, 0x00, 0x01, 0x0B, 0x0B)}});
    invalid((parts){.bodies = {B(0, 0x41, 0x00, 0x0E, 0x01, 0x05, 0x00, 0x0B)}}, "unknown label 5");
    invalid((parts){.bodies = {B(0, 0x41, 0x00, 0x0E, 0x00, 0x01, 0x0B)}}, "unknown label 1");
}

static void select_typing(void **state)
{
    (void)state;
    /* untyped select only on numbers */
    invalid((parts){.bodies = {B(0, 0xD0, FUNCREF, 0xD0, FUNCREF, 0x41, 0x01, 0x1B, 0x1A, 0x0B)}},
            "type mismatch");
    valid((parts){.bodies = {B(0, 0xD0, FUNCREF, 0xD0, FUNCREF, 0x41, 0x01, 0x1C, 0x01, FUNCREF, 0x1A, 0x0B)}});
    invalid((parts){.bodies = {B(0, 0x41, 0x00, 0x42, 0x00, 0x41, 0x00, 0x1B, 0x1A, 0x0B)}}, "type mismatch");
    invalid((parts){.bodies = {B(0, 0x00, 0xD0, FUNCREF, 0x41, 0x00, 0x1B, 0x1A, 0x0B)}}, "type mismatch");
    /* with unknown operands the result is unknown ... */
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(4), .bodies = {B(0, 0x00, 0x1B, 0x0B)}});
    /* ... unless one operand is known: it gives the type */
    valid((parts){.bodies = {B(0, 0x00, 0x42, 0x00, 0x41, 0x00, 0x1B, 0x50, 0x1A, 0x0B)}});
    invalid((parts){.bodies = {B(0, 0x00, 0x42, 0x00, 0x41, 0x00, 0x1B, 0x45, 0x1A, 0x0B)}}, "type mismatch");
    /* typed select checks both operands */
    invalid((parts){.bodies = {B(0, 0x41, 0x00, 0x42, 0x00, 0x41, 0x00, 0x1C, 0x01, I64, 0x1A, 0x0B)}},
            "type mismatch");
}

/* Two functions of type [] -> []; function 1 takes a reference to 0. */
#define REF_FUNC_0 .bodies = {B(0, 0x0B), B(0, 0xD2, 0x00, 0x1A, 0x0B)}

static void function_references_must_be_declared(void **state)
{
    (void)state;
    qv_error err = invalid((parts){REF_FUNC_0}, "undeclared function reference");
    assert_int_equal(err.func_index, 1);
    /* the start function is not a declaration */
    invalid((parts){REF_FUNC_0, .start = B(0)}, "undeclared function reference");
    /* an export, an element segment (even declarative) or a global
     * initializer is */
    valid((parts){REF_FUNC_0, .exports = B(1, 1, 'f', 0x00, 0)});
    valid((parts){REF_FUNC_0, .elems = B(1, 0x03, 0x00, 1, 0)});
    valid((parts){REF_FUNC_0, .elems = B(1, 0x07, FUNCREF, 1, 0xD2, 0x00, 0x0B)});
    valid((parts){REF_FUNC_0, .globals = B(1, FUNCREF, 0, 0xD2, 0x00, 0x0B)});
    invalid((parts){.bodies = {B(0, 0xD2, 0x05, 0x1A, 0x0B)}}, "unknown function 5");
}

static void if_without_else(void **state)
{
    (void)state;
    /* allowed when the block type's params equal its results */
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x41, 1, 0x41, 0, 0x04, 2, 0x0B, 0x0B)}});
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x41, 0, 0x04, I32, 0x41, 1, 0x0B, 0x0B)}},
            "type mismatch");
    valid((parts){.types = TYPES,
                  .funcs = FUNC_OF_TYPE(1),
                  .bodies = {B(0, 0x41, 0, 0x04, I32, 0x41, 1, 0x05, 0x41, 2, 0x0B, 0x0B)}});
    /* the else branch starts again from the params */
    invalid((parts){.types = TYPES,
                    .funcs = FUNC_OF_TYPE(1),
                    .bodies = {B(0, 0x41, 1, 0x41, 0, 0x04, 2, 0x05, 0x6A, 0x0B, 0x0B)}},
            "type mismatch");
}

static void labels_of_loops_take_params(void **state)
{
    (void)state;
    /* br to a loop [i32] -> [] passes an i32 */
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(0), .bodies = {B(0, 0x41, 0, 0x03, 3, 0x0C, 0, 0x0B, 0x0B)}});
    /* br to a loop with result i32 passes nothing */
    valid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x03, I32, 0x0C, 0, 0x0B, 0x0B)}});
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(0), .bodies = {B(0, 0x03, 3, 0x0C, 0, 0x0B, 0x0B)}},
            "type mismatch");
    /* br_if gives the label's values back */
    valid((parts){.bodies = {B(0, 0x02, I32, 0x41, 1, 0x41, 0, 0x0D, 0, 0x0B, 0x1A, 0x0B)}});
}

static void tables_and_segments(void **state)
{
    (void)state;
    /* call_indirect needs a funcref table */
    invalid((parts){.tables = B(1, EXTERNREF, 0, 0), .bodies = {B(0, 0x41, 0, 0x11, 0, 0, 0x0B)}},
            "type mismatch");
    valid((parts){.tables = B(1, FUNCREF, 0, 0), .bodies = {B(0, 0x41, 0, 0x11, 0, 0, 0x0B)}});
    invalid((parts){.bodies = {B(0, 0x41, 0, 0x11, 0, 0, 0x0B)}}, "unknown table 0");
    invalid((parts){.tables = B(1, FUNCREF, 0, 0), .bodies = {B(0, 0x41, 0, 0x11, 9, 0, 0x0B)}}, "unknown type 9");
    /* table.copy between tables of different element types */
    invalid((parts){.tables = B(2, FUNCREF, 0, 0, EXTERNREF, 0, 0),
                    .bodies = {B(0, 0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 0x0E, 0, 1, 0x0B)}},
            "type mismatch");
    /* table.init of an externref segment into a funcref table */
    invalid((parts){.tables = B(1, FUNCREF, 0, 0),
                    .elems = B(1, 0x05, EXTERNREF, 1, 0xD0, EXTERNREF, 0x0B),
                    .bodies = {B(0, 0x41, 0, 0x41, 0, 0x41, 0, 0xFC, 0x0C, 0, 0, 0x0B)}},
            "type mismatch");
    invalid((parts){.tables = B(1, FUNCREF, 0, 0), .bodies = {B(0, 0xFC, 0x0D, 3, 0x0B)}}, "unknown elem segment 3");
    /* an active segment's items must fit the table's type */
    invalid((parts){.tables = B(1, EXTERNREF, 0, 0), .bodies = {B(0, 0x0B)}, .elems = B(1, 0x00, 0x41, 0, 0x0B, 1, 0)},
            "type mismatch");
}

static void memories_and_data(void **state)
{
    (void)state;
    invalid((parts){.bodies = {B(0, 0x41, 0, 0x28, 2, 0, 0x1A, 0x0B)}}, "unknown memory 0");
    invalid((parts){.mems = B(1, 0, 1), .bodies = {B(0, 0x41, 0, 0x28, 3, 0, 0x1A, 0x0B)}},
            "alignment must not be larger than natural");
    valid((parts){.mems = B(1, 0, 1), .bodies = {B(0, 0x41, 0, 0x28, 2, 0, 0x1A, 0x0B)}});
    /* data.drop: an unknown segment is reported before a missing data
     * count section; a known one needs the section */
    invalid((parts){.bodies = {B(0, 0xFC, 0x09, 0, 0x0B)}}, "unknown data segment 0");
    invalid((parts){.mems = B(1, 0, 1), .bodies = {B(0, 0xFC, 0x09, 0, 0x0B)}, .data = B(1, 1, 0)},
            "data count section required");
    valid((parts){.mems = B(1, 0, 1), .datacount = B(1), .bodies = {B(0, 0xFC, 0x09, 0, 0x0B)}, .data = B(1, 1, 0)});
    invalid((parts){.mems = B(1, 0, 0x81, 0x80, 0x04)}, "memory size must be at most 65536 pages (4GiB)");
    invalid((parts){.mems = B(1, 1, 2, 1)}, "size minimum must not be greater than maximum");
}

static void globals_and_constant_expressions(void **state)
{
    (void)state;
    /* imports: an immutable i32 global and a mutable one */
    bytes imports = B(2, 1, 'm', 1, 'a', 0x03, I32, 0, 1, 'm', 1, 'b', 0x03, I32, 1);
    valid((parts){.imports = imports, .globals = B(1, I32, 0, 0x23, 0, 0x0B)});
    invalid((parts){.imports = imports, .globals = B(1, I32, 0, 0x23, 1, 0x0B)}, "constant expression required");
    /* a defined global cannot be read in a constant expression */
    invalid((parts){.globals = B(2, I32, 0, 0x41, 0, 0x0B, I32, 0, 0x23, 0, 0x0B)}, "unknown global 0");
    invalid((parts){.globals = B(1, I32, 0, 0x41, 1, 0x41, 2, 0x6A, 0x0B)}, "constant expression required");
    invalid((parts){.globals = B(1, I64, 0, 0x41, 0, 0x0B)}, "type mismatch");
    invalid((parts){.globals = B(1, I32, 0, 0x41, 0, 0x41, 0, 0x0B)}, "type mismatch");
    invalid((parts){.globals = B(1, I32, 0, 0x0B)}, "type mismatch");
    /* global.set only on mutable globals */
    invalid((parts){.imports = imports, .bodies = {B(0, 0x41, 0, 0x24, 0, 0x0B)}}, "global is immutable");
    valid((parts){.imports = imports, .bodies = {B(0, 0x41, 0, 0x24, 1, 0x0B)}});
    invalid((parts){.bodies = {B(0, 0x23, 0, 0x1A, 0x0B)}}, "unknown global 0");
}

static void module_rules(void **state)
{
    (void)state;
    invalid((parts){.bodies = {B(0, 0x0B), B(0, 0x0B)}, .exports = B(2, 1, 'f', 0, 0, 1, 'f', 0, 1)},
            "duplicate export name");
    invalid((parts){.types = TYPES, .funcs = FUNC_OF_TYPE(1), .bodies = {B(0, 0x41, 0, 0x0B)}, .start = B(0)},
            "start function");
    invalid((parts){.start = B(0)}, "unknown function 0");
    invalid((parts){.funcs = B(1, 7), .bodies = {B(0, 0x0B)}}, "unknown type 7");
    invalid((parts){.bodies = {B(0, 0x20, 0, 0x1A, 0x0B)}}, "unknown local 0");
    valid((parts){.bodies = {B(1, 1, I64, 0x20, 0, 0x50, 0x1A, 0x0B)}});
}

/* Errors carry the offending instruction's offset and the function index
 * with imports counted. */
static void errors_say_where(void **state)
{
    (void)state;
    parts m = {.imports = B(1, 1, 'm', 1, 'f', 0x00, 0),
               .bodies = {B(0, 0x0B), B(0, 0x01, 0x41, 0, 0x42, 0, 0x6A, 0x1A, 0x0B)}};
    qv_error err;
    bool ok;
    qe_module *mod = decode_and_validate(__LINE__, &m, &ok, &err);
    assert_false(ok);
    assert_string_equal(err.message, "type mismatch");
    assert_int_equal(err.func_index, 2);
    assert_int_equal(err.offset, mod->codes[1].body_start + 5); /* the i32.add */
    qe_module_free(mod);

    /* outside code */
    m = (parts){.globals = B(1, I32, 0, 0x41, 0, 0x6A, 0x0B)};
    mod = decode_and_validate(__LINE__, &m, &ok, &err);
    assert_false(ok);
    assert_int_equal(err.func_index, -1);
    assert_int_equal(mod->bytes[err.offset], 0x6A);
    qe_module_free(mod);
}

static void body_ends_at_its_final_end(void **state)
{
    (void)state;
    invalid((parts){.bodies = {B(0, 0x0B, 0x01)}}, "section size mismatch");
    invalid((parts){.bodies = {B(0, 0x02, 0x40, 0x0B)}}, "unexpected end");
    valid((parts){.bodies = {B(0, 0x02, 0x40, 0x0B, 0x0B)}});
}

/* Deep nesting and long operand stacks make the validator's stacks grow
 * well past their first allocation, across several functions. */
static void deep_nesting(void **state)
{
    (void)state;
    enum { DEPTH = 3000 };
    uint8_t *deep = malloc(4 * DEPTH + 4);
    uint8_t *tall = malloc(4 * DEPTH + 4);
    assert_non_null(deep);
    assert_non_null(tall);
    size_t n = 0, k = 0;
    deep[n++] = 0;
    tall[k++] = 0;
    for (int i = 0; i < DEPTH; i++) {
        deep[n++] = 0x02; /* block (result i32) */
        deep[n++] = I32;
        tall[k++] = 0x41; /* i32.const 1 */
        tall[k++] = 1;
    }
    deep[n++] = 0x41;
    deep[n++] = 7;
    for (int i = 0; i < DEPTH; i++) {
        deep[n++] = 0x0B;
        tall[k++] = 0x1A;
    }
    deep[n++] = 0x1A;
    deep[n++] = 0x0B;
    tall[k++] = 0x0B;

    valid((parts){.bodies = {{deep, n}, {tall, k}, {deep, n}}});
    /* the same, one level too few `end`s: the last function is cut short */
    invalid((parts){.bodies = {{deep, n}, {tall, k}, {deep, n - 3}}}, "unexpected end");
    free(deep);
    free(tall);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unreachable_code_typing),
        cmocka_unit_test(br_table_with_unknown_operands),
        cmocka_unit_test(select_typing),
        cmocka_unit_test(function_references_must_be_declared),
        cmocka_unit_test(if_without_else),
        cmocka_unit_test(labels_of_loops_take_params),
        cmocka_unit_test(tables_and_segments),
        cmocka_unit_test(memories_and_data),
        cmocka_unit_test(globals_and_constant_expressions),
        cmocka_unit_test(module_rules),
        cmocka_unit_test(errors_say_where),
        cmocka_unit_test(body_ends_at_its_final_end),
        cmocka_unit_test(deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
