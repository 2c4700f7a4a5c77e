/*
 * module.h — the decoded form of a WebAssembly module, and the instruction
 * reader shared by the validator and the translator.
 *
 * Pipeline: qe_decode() turns bytes into a qe_module (structure only:
 * sections, types, imports, segments; function bodies stay as byte ranges),
 * qe_validate() checks it completely, qe_translate() (translate.h) compiles
 * each body into internal code. All three report errors as qv_error with the
 * byte offset in the binary and, inside code, the function index.
 *
 * Index spaces: functions, tables, memories and globals count imports first,
 * then definitions, as in the spec.
 */
#ifndef QYVOL_ENGINE_MODULE_H
#define QYVOL_ENGINE_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasm.h"
#include "reader.h"

/* Value type codes as in the binary format (see qv_valtype). */
enum {
    QE_I32 = 0x7F, QE_I64 = 0x7E, QE_F32 = 0x7D, QE_F64 = 0x7C, QE_V128 = 0x7B,
    QE_FUNCREF = 0x70, QE_EXTERNREF = 0x6F,
};
static inline bool qe_is_valtype(uint8_t t) {
    return t == QE_I32 || t == QE_I64 || t == QE_F32 || t == QE_F64 || t == QE_V128 ||
           t == QE_FUNCREF || t == QE_EXTERNREF;
}
static inline bool qe_is_reftype(uint8_t t) { return t == QE_FUNCREF || t == QE_EXTERNREF; }

typedef struct qe_functype {
    uint32_t nparams, nresults;
    uint8_t *types;  /* nparams params, then nresults results */
    uint32_t id;     /* process-wide structural id (qe_functype_intern) */
    qv_valtype *api_types; /* the same types as qv_valtype, for qv_functype */
} qe_functype;
static inline const uint8_t *qe_params(const qe_functype *t) { return t->types; }
static inline const uint8_t *qe_results(const qe_functype *t) { return t->types + t->nparams; }

typedef struct qe_limits { uint32_t min, max; bool has_max; } qe_limits;
typedef struct qe_tabletype { uint8_t elem; qe_limits lim; } qe_tabletype;
typedef struct qe_memtype { qe_limits lim; } qe_memtype;         /* in pages */
typedef struct qe_globaltype { uint8_t type; bool mut; } qe_globaltype;

enum { QE_EXT_FUNC = 0, QE_EXT_TABLE = 1, QE_EXT_MEMORY = 2, QE_EXT_GLOBAL = 3 };

/* A constant expression: a byte range in the module ending with `end`
 * (0x0B), evaluated at instantiation. */
typedef struct qe_expr { uint32_t start, len; } qe_expr; /* offsets into module bytes */

typedef struct qe_import {
    char *module, *name;          /* NUL-terminated copies */
    uint8_t kind;                 /* QE_EXT_* */
    union {
        uint32_t typeidx;         /* functions */
        qe_tabletype table;
        qe_memtype mem;
        qe_globaltype global;
    } u;
} qe_import;

typedef struct qe_export {
    char *name;                   /* NUL-terminated copy */
    uint32_t name_len;
    uint8_t kind;                 /* QE_EXT_* */
    uint32_t index;
} qe_export;

typedef struct qe_global {
    qe_globaltype type;
    qe_expr init;
} qe_global;

enum { QE_SEG_ACTIVE = 0, QE_SEG_PASSIVE = 1, QE_SEG_DECLARATIVE = 2 };

/* One element of an element segment: either a function index (the
 * funcidx-vector encodings) or a constant expression. */
typedef struct qe_elem_item {
    bool is_expr;
    uint32_t funcidx;
    qe_expr expr;
} qe_elem_item;

typedef struct qe_elem {
    uint8_t mode;                 /* QE_SEG_* */
    uint8_t type;                 /* reference type of the items */
    uint32_t table;               /* active only */
    qe_expr offset;               /* active only */
    uint32_t count;
    qe_elem_item *items;
} qe_elem;

typedef struct qe_data {
    uint8_t mode;                 /* QE_SEG_ACTIVE or QE_SEG_PASSIVE */
    uint32_t memory;              /* active only */
    qe_expr offset;               /* active only */
    uint32_t start, len;          /* bytes, as offsets into module bytes */
} qe_data;

typedef struct qe_localdecl { uint32_t count; uint8_t type; } qe_localdecl;

typedef struct qe_code {
    uint32_t nlocaldecls;
    qe_localdecl *localdecls;     /* as declared (run-length) */
    uint64_t nlocals;             /* sum of counts, excluding params */
    uint32_t body_start, body_end;/* offsets of the instruction bytes; body ends with 0x0B */
    uint32_t offset;              /* offset of the function's code entry, for errors */
} qe_code;

typedef struct qe_module {
    uint8_t *bytes;               /* owned copy of the binary */
    size_t len;

    uint32_t ntypes;
    qe_functype *types;

    uint32_t nimports;
    qe_import *imports;
    uint32_t nfunc_imports, ntable_imports, nmem_imports, nglobal_imports;

    uint32_t nfuncs;              /* total, imports included */
    uint32_t *func_types;         /* type index per function, imports included */

    uint32_t ntables;             /* total, imports included */
    qe_tabletype *tables;         /* imports included */
    uint32_t nmems;
    qe_memtype *mems;             /* imports included */
    uint32_t nglobals;
    qe_globaltype *global_types;  /* imports included */
    qe_global *globals;           /* defined globals only: nglobals - nglobal_imports */

    uint32_t nexports;
    qe_export *exports;

    bool has_start;
    uint32_t start;

    uint32_t nelems;
    qe_elem *elems;

    bool has_datacount;
    uint32_t datacount;
    uint32_t ndatas;
    qe_data *datas;

    uint32_t ncodes;              /* = nfuncs - nfunc_imports */
    qe_code *codes;

    /* From the custom "name" section, when present and well formed. */
    char *name;                   /* module name or NULL */
    char **func_names;            /* nfuncs entries, each NULL or a string; NULL if none */
} qe_module;

/* Decode `len` bytes (copied) into a new module. Returns NULL and fills
 * *err on malformed input. Does not validate. */
qe_module *qe_decode(const uint8_t *bytes, size_t len, qv_error *err);
void qe_module_free(qe_module *m);

/* Full validation per the spec (module rules and every function body).
 * Returns false and fills *err (with offset and func_index) on the first
 * error found. */
bool qe_validate(const qe_module *m, qv_error *err);

/* Interning of function types: structurally equal types get the same id,
 * across modules, for call_indirect checks. Thread-safe. */
uint32_t qe_functype_intern(const uint8_t *types, uint32_t nparams, uint32_t nresults);

/* ------------------------------------------------------------ instructions */

/* Opcodes: one-byte opcodes as themselves; 0xFC-prefixed ones as
 * 0xFC00 | subopcode; 0xFD (SIMD) as 0xFD00 | subopcode (later). */
enum {
    QE_OP_UNREACHABLE = 0x00, QE_OP_NOP = 0x01, QE_OP_BLOCK = 0x02, QE_OP_LOOP = 0x03,
    QE_OP_IF = 0x04, QE_OP_ELSE = 0x05, QE_OP_END = 0x0B, QE_OP_BR = 0x0C,
    QE_OP_BR_IF = 0x0D, QE_OP_BR_TABLE = 0x0E, QE_OP_RETURN = 0x0F, QE_OP_CALL = 0x10,
    QE_OP_CALL_INDIRECT = 0x11, QE_OP_DROP = 0x1A, QE_OP_SELECT = 0x1B,
    QE_OP_SELECT_T = 0x1C, QE_OP_LOCAL_GET = 0x20, QE_OP_LOCAL_SET = 0x21,
    QE_OP_LOCAL_TEE = 0x22, QE_OP_GLOBAL_GET = 0x23, QE_OP_GLOBAL_SET = 0x24,
    QE_OP_TABLE_GET = 0x25, QE_OP_TABLE_SET = 0x26,
    /* 0x28..0x3E loads and stores */
    QE_OP_MEMORY_SIZE = 0x3F, QE_OP_MEMORY_GROW = 0x40,
    QE_OP_I32_CONST = 0x41, QE_OP_I64_CONST = 0x42, QE_OP_F32_CONST = 0x43,
    QE_OP_F64_CONST = 0x44,
    /* 0x45..0xC4 numeric */
    QE_OP_REF_NULL = 0xD0, QE_OP_REF_IS_NULL = 0xD1, QE_OP_REF_FUNC = 0xD2,
    /* 0xFC prefix */
    QE_OP_TRUNC_SAT_FIRST = 0xFC00, QE_OP_TRUNC_SAT_LAST = 0xFC07,
    QE_OP_MEMORY_INIT = 0xFC08, QE_OP_DATA_DROP = 0xFC09, QE_OP_MEMORY_COPY = 0xFC0A,
    QE_OP_MEMORY_FILL = 0xFC0B, QE_OP_TABLE_INIT = 0xFC0C, QE_OP_ELEM_DROP = 0xFC0D,
    QE_OP_TABLE_COPY = 0xFC0E, QE_OP_TABLE_GROW = 0xFC0F, QE_OP_TABLE_SIZE = 0xFC10,
    QE_OP_TABLE_FILL = 0xFC11,
};

/* Block type: QE_BLOCK_EMPTY, a value type code (0..0x7F), or a type index
 * (>= 0, stored as typeidx with kind QE_BLOCKTYPE_INDEX). */
enum { QE_BLOCKTYPE_EMPTY = 0, QE_BLOCKTYPE_VALUE = 1, QE_BLOCKTYPE_INDEX = 2 };

/* One decoded instruction with its immediates. */
typedef struct qe_instr {
    uint16_t op;
    uint32_t offset;              /* byte offset of the opcode in the module */
    union {
        struct { uint8_t kind; uint8_t valtype; uint32_t typeidx; } block; /* block/loop/if */
        uint32_t index;           /* br/br_if label, call, local.*, global.*, table.get/set/size/grow/fill, ref.func, data.drop, elem.drop, memory.size/grow (memory index) */
        struct { uint32_t align, offset, memory; } mem;  /* loads and stores */
        int32_t i32;
        int64_t i64;
        uint32_t f32;             /* bits */
        uint64_t f64;             /* bits */
        struct { uint32_t typeidx, table; } call_indirect;
        struct { uint32_t count; const uint32_t *targets; uint32_t default_target; } br_table;
        struct { uint32_t count; uint8_t type; } select_t; /* count is normally 1 */
        uint8_t reftype;          /* ref.null */
        struct { uint32_t a, b; } pair; /* memory.init (data, mem), memory.copy (dst, src),
                                           table.init (elem, table), table.copy (dst, src) */
    } u;
} qe_instr;

/* Walks the instructions of one body (or one constant expression). The
 * br_table target vector is held in a buffer owned by the reader, valid
 * until the next qe_instr_next call. */
typedef struct qe_instr_reader {
    qe_reader r;
    uint32_t *targets;
    uint32_t targets_cap;
} qe_instr_reader;

void qe_instr_reader_init(qe_instr_reader *ir, const qe_module *m, uint32_t start, uint32_t end);
void qe_instr_reader_free(qe_instr_reader *ir);
/* Read the next instruction. Returns false at a malformed encoding (unknown
 * opcode, bad immediate, out of bytes): ir->r holds the error. */
bool qe_instr_next(qe_instr_reader *ir, qe_instr *out);

#endif
