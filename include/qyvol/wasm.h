/*
 * qyvol/wasm.h — the public API of Qyvol's WebAssembly engine.
 *
 * Everything an embedder needs is in this header: compile a module from
 * bytes, create a store, provide imports (host functions, globals, tables,
 * memories, or exports of other instances), instantiate, call exports with
 * typed values, read and write memory and globals, and receive traps.
 *
 * Lifetimes:
 *   - A qv_module is immutable compiled code. It can be instantiated any
 *     number of times, in any number of stores, from any thread. It must
 *     outlive every call into its instances; the stores holding them may be
 *     deleted before or after it.
 *   - A qv_store owns every runtime object created in it (instances,
 *     functions, tables, memories, globals). They live until the store is
 *     deleted. A store is used by one thread at a time; only
 *     qv_store_interrupt() may be called from another thread.
 *   - A qv_trap returned to the caller is owned by the caller
 *     (qv_trap_delete).
 *
 * Error reporting: functions that can fail for a reason a user must see take
 * a qv_error* (may be NULL) which receives a message and, for decode and
 * validation errors, the byte offset and function index.
 */
#ifndef QYVOL_WASM_H
#define QYVOL_WASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- types */

/* Value types use their binary-format codes. */
typedef enum qv_valtype {
    QV_I32 = 0x7F,
    QV_I64 = 0x7E,
    QV_F32 = 0x7D,
    QV_F64 = 0x7C,
    QV_V128 = 0x7B,
    QV_FUNCREF = 0x70,
    QV_EXTERNREF = 0x6F,
} qv_valtype;

typedef struct qv_func qv_func;
typedef struct qv_table qv_table;
typedef struct qv_memory qv_memory;
typedef struct qv_global qv_global;
typedef struct qv_module qv_module;
typedef struct qv_store qv_store;
typedef struct qv_instance qv_instance;
typedef struct qv_trap qv_trap;
typedef struct qv_caller qv_caller;

/* A typed value. Floats are carried as their exact bit patterns (f32_bits,
 * f64_bits) so NaN payloads survive; the float members alias them. A null
 * reference is ref == NULL (funcref) or externref == NULL. */
typedef struct qv_val {
    qv_valtype type;
    union {
        int32_t i32;
        int64_t i64;
        uint32_t f32_bits;
        uint64_t f64_bits;
        float f32;
        double f64;
        uint8_t v128[16];
        qv_func *funcref;
        void *externref;
    } of;
} qv_val;

static inline qv_val qv_i32(int32_t v) { qv_val r = {QV_I32, {.i32 = v}}; return r; }
static inline qv_val qv_i64(int64_t v) { qv_val r = {QV_I64, {.i64 = v}}; return r; }
static inline qv_val qv_f32_bits(uint32_t b) { qv_val r = {QV_F32, {.f32_bits = b}}; return r; }
static inline qv_val qv_f64_bits(uint64_t b) { qv_val r = {QV_F64, {.f64_bits = b}}; return r; }
static inline qv_val qv_funcref(qv_func *f) { qv_val r = {QV_FUNCREF, {.funcref = f}}; return r; }
static inline qv_val qv_externref(void *p) { qv_val r = {QV_EXTERNREF, {.externref = p}}; return r; }

/* A function signature. `types` holds nparams parameter types followed by
 * nresults result types. */
typedef struct qv_functype {
    uint32_t nparams;
    uint32_t nresults;
    const qv_valtype *types;
} qv_functype;

/* Table and memory limits. For memories, min/max count 64 KiB pages. */
typedef struct qv_limits {
    uint32_t min;
    uint32_t max;
    bool has_max;
} qv_limits;

typedef enum qv_externkind {
    QV_EXTERN_FUNC = 0,
    QV_EXTERN_TABLE = 1,
    QV_EXTERN_MEMORY = 2,
    QV_EXTERN_GLOBAL = 3,
} qv_externkind;

/* Anything that can be imported or exported. */
typedef struct qv_extern {
    qv_externkind kind;
    union {
        qv_func *func;
        qv_table *table;
        qv_memory *memory;
        qv_global *global;
    } of;
} qv_extern;

/* Error detail for decode, validation, link and API misuse errors. */
typedef struct qv_error {
    char message[256];
    size_t offset;        /* byte offset in the module binary, or 0 */
    int64_t func_index;   /* function index the error is in, or -1 */
} qv_error;

/* ---------------------------------------------------------------- modules */

/* Decode, validate and translate a binary module. Returns NULL and fills
 * *err on failure. The bytes are copied; the caller may free them. */
qv_module *qv_module_new(const uint8_t *bytes, size_t len, qv_error *err);
void qv_module_delete(qv_module *module);

/* Imports and exports of a module, in module order. Names are not
 * NUL-terminated in the binary; these return NUL-terminated copies owned by
 * the module. */
size_t qv_module_import_count(const qv_module *module);
void qv_module_import(const qv_module *module, size_t i, const char **module_name,
                      const char **name, qv_externkind *kind);
/* Type of an imported function (kind must be QV_EXTERN_FUNC). */
qv_functype qv_module_import_functype(const qv_module *module, size_t i);
/* Limits of an imported table or memory (pages for memories). */
qv_limits qv_module_import_limits(const qv_module *module, size_t i);
/* Element type of an imported table. */
qv_valtype qv_module_import_table_elem(const qv_module *module, size_t i);
/* Value type and mutability of an imported global. */
qv_valtype qv_module_import_global(const qv_module *module, size_t i, bool *mutable_);
size_t qv_module_export_count(const qv_module *module);
void qv_module_export(const qv_module *module, size_t i, const char **name, qv_externkind *kind);
/* Type of an exported function (kind must be QV_EXTERN_FUNC). */
qv_functype qv_module_export_functype(const qv_module *module, size_t i);

/* ---------------------------------------------------------------- stores */

/* Resource limits of a store. Zero fields take the defaults given. */
typedef struct qv_store_limits {
    uint32_t max_memory_pages; /* per memory; default 65536 (4 GiB) */
    uint32_t max_table_elems;  /* all tables of the store together; default 10,000,000 */
    uint32_t max_call_depth;   /* wasm frames; default 10,000 */
    uint32_t value_stack_slots;/* 8-byte slots for all frames; default 1 Mi */
    /* The store's memory budget: every byte a guest can make it allocate,
     * counted together — linear memory (64 KiB per accessible page),
     * table elements, globals, instances, element and data segments,
     * functions — plus what the embedder charges with qv_store_charge()
     * (the WASI host charges in-memory stdout and stderr). Past it,
     * instantiation fails with an error naming the limit, and memory.grow
     * and table.grow return -1. Default 0: no total (the limits above
     * still apply). */
    uint64_t max_bytes;
} qv_store_limits;

qv_store *qv_store_new(const qv_store_limits *limits /* may be NULL */);
void qv_store_delete(qv_store *store);

/* Count `bytes` more against max_bytes: false, and nothing counted, if
 * that would pass it. For the embedder's allocations on a guest's behalf;
 * counts are never given back (a store lives as long as its guest). */
bool qv_store_charge(qv_store *store, uint64_t bytes);
/* What the store has counted so far. */
uint64_t qv_store_bytes(const qv_store *store);

/* Fuel: when set, every loop back-edge and function call consumes one unit
 * (bulk memory and table instructions one per 256 bytes they touch);
 * running out traps with QV_TRAP_OUT_OF_FUEL. A negative value disables fuel
 * (the default). */
void qv_store_set_fuel(qv_store *store, int64_t fuel);
int64_t qv_store_fuel(const qv_store *store);

/* Ask running code in this store to stop: it traps with QV_TRAP_INTERRUPTED
 * at the next back-edge, call, return from a host function or step of a
 * bulk instruction (within a millisecond or so). Safe to call from any
 * thread or a signal handler. The request stays set until
 * qv_store_clear_interrupt(). */
void qv_store_interrupt(qv_store *store);
void qv_store_clear_interrupt(qv_store *store);
/* Whether the store has been asked to stop. Host functions that may wait
 * or work long look at it every millisecond or so and return early when
 * it is set (whatever they return, the guest traps as soon as they do). */
bool qv_store_interrupted(const qv_store *store);

/* Opaque data for the embedder (e.g. the WASI context). */
void qv_store_set_data(qv_store *store, void *data);
void *qv_store_data(const qv_store *store);

/* ---------------------------------------------------------------- traps */

typedef enum qv_trap_kind {
    QV_TRAP_UNREACHABLE = 1,
    QV_TRAP_MEMORY_OUT_OF_BOUNDS,
    QV_TRAP_TABLE_OUT_OF_BOUNDS,
    QV_TRAP_INDIRECT_CALL_NULL,        /* uninitialized element */
    QV_TRAP_INDIRECT_CALL_TYPE,        /* indirect call type mismatch */
    QV_TRAP_NULL_REFERENCE,
    QV_TRAP_INTEGER_DIVIDE_BY_ZERO,
    QV_TRAP_INTEGER_OVERFLOW,
    QV_TRAP_INVALID_CONVERSION,        /* invalid conversion to integer */
    QV_TRAP_STACK_EXHAUSTED,           /* call stack exhausted */
    QV_TRAP_OUT_OF_FUEL,
    QV_TRAP_INTERRUPTED,
    QV_TRAP_DATA_SEGMENT_OUT_OF_BOUNDS,/* during instantiation */
    QV_TRAP_ELEM_SEGMENT_OUT_OF_BOUNDS,/* during instantiation */
    QV_TRAP_HOST,                      /* raised by a host function */
    QV_TRAP_EXIT,                      /* a host function asked to exit (e.g. WASI proc_exit) */
} qv_trap_kind;

qv_trap *qv_trap_new(qv_trap_kind kind, const char *message);
/* A trap that carries an exit status (QV_TRAP_EXIT); used by WASI proc_exit. */
qv_trap *qv_trap_new_exit(int32_t status);
void qv_trap_delete(qv_trap *trap);
qv_trap_kind qv_trap_kind_of(const qv_trap *trap);
/* Spec-style message, e.g. "integer divide by zero". */
const char *qv_trap_message(const qv_trap *trap);
int32_t qv_trap_exit_status(const qv_trap *trap);

/* WebAssembly backtrace, innermost frame first. */
typedef struct qv_frame {
    uint32_t func_index;
    const char *func_name;   /* from the name section, or NULL */
    const char *module_name; /* from the name section, or NULL */
} qv_frame;
size_t qv_trap_frame_count(const qv_trap *trap);
qv_frame qv_trap_frame(const qv_trap *trap, size_t i);

/* ---------------------------------------------------------------- functions */

/* Host function callback. Reads args (typed as the function's params),
 * writes results (their `type` is preset), returns NULL on success or a trap
 * (ownership passes to the engine). */
typedef qv_trap *(*qv_host_fn)(qv_caller *caller, void *env, const qv_val *args, qv_val *results);

qv_func *qv_func_new(qv_store *store, qv_functype type, qv_host_fn fn, void *env,
                     void (*finalize)(void *env));
qv_functype qv_func_type(const qv_func *func);

/* Call a function with typed arguments. Returns NULL on success, or a trap
 * (caller owns it). Argument count and types are checked (a mismatch is a
 * QV_TRAP_HOST trap with a message). */
qv_trap *qv_func_call(qv_store *store, qv_func *func, const qv_val *args, size_t nargs,
                      qv_val *results, size_t nresults);

/* Inside a host function: the calling instance's memory 0 (or NULL), its
 * store, and its instance. */
qv_memory *qv_caller_memory(qv_caller *caller);
qv_store *qv_caller_store(qv_caller *caller);
qv_instance *qv_caller_instance(qv_caller *caller);

/* ---------------------------------------------------------------- memory */

qv_memory *qv_memory_new(qv_store *store, qv_limits limits, qv_error *err);
uint8_t *qv_memory_data(const qv_memory *mem);
size_t qv_memory_size(const qv_memory *mem);        /* bytes */
uint32_t qv_memory_pages(const qv_memory *mem);
qv_limits qv_memory_limits(const qv_memory *mem);
/* Grow by delta pages; returns the old size in pages or -1. The data pointer
 * stays valid: memories never move. */
int64_t qv_memory_grow(qv_memory *mem, uint32_t delta);

/* ---------------------------------------------------------------- globals */

qv_global *qv_global_new(qv_store *store, qv_val value, bool mutable_, qv_error *err);
qv_val qv_global_get(const qv_global *g);
bool qv_global_set(qv_global *g, qv_val value, qv_error *err); /* type and mutability checked */
qv_valtype qv_global_type(const qv_global *g);
bool qv_global_mutable(const qv_global *g);

/* ---------------------------------------------------------------- tables */

qv_table *qv_table_new(qv_store *store, qv_valtype elem, qv_limits limits, qv_val init, qv_error *err);
uint32_t qv_table_size(const qv_table *t);
qv_valtype qv_table_elem_type(const qv_table *t);
qv_limits qv_table_limits(const qv_table *t);
bool qv_table_get(const qv_table *t, uint32_t i, qv_val *out);
bool qv_table_set(qv_table *t, uint32_t i, qv_val v);
int64_t qv_table_grow(qv_table *t, uint32_t delta, qv_val init); /* old size or -1 */

/* ---------------------------------------------------------------- instances */

/* Instantiate a module. `imports` holds one extern per module import, in
 * import order. On a link error (missing or mistyped import) returns NULL
 * with *err filled and *trap NULL. If the start function or segment
 * initialisation traps, returns NULL with *trap set (caller owns it); the
 * side effects on imported memories and tables remain, as the spec says. */
qv_instance *qv_instance_new(qv_store *store, const qv_module *module, const qv_extern *imports,
                             size_t nimports, qv_trap **trap, qv_error *err);
bool qv_instance_export(const qv_instance *inst, const char *name, qv_extern *out);
/* The same for names that may contain NUL bytes (they are valid UTF-8). */
bool qv_instance_export_bytes(const qv_instance *inst, const char *name, size_t len, qv_extern *out);
size_t qv_instance_export_count(const qv_instance *inst);
const char *qv_instance_export_at(const qv_instance *inst, size_t i, qv_extern *out);

/* ---------------------------------------------------------------- linker */

/* A name → extern map used to resolve imports by (module, name). Host
 * modules (such as WASI) define their functions here; instances can be
 * registered under a module name so that later modules import from them. */
typedef struct qv_linker qv_linker;
qv_linker *qv_linker_new(qv_store *store);
void qv_linker_delete(qv_linker *linker);
/* Later definitions with the same (module, name) replace earlier ones. */
void qv_linker_define(qv_linker *linker, const char *module, const char *name, qv_extern ext);
bool qv_linker_define_func(qv_linker *linker, const char *module, const char *name, qv_functype type,
                           qv_host_fn fn, void *env);
void qv_linker_define_instance(qv_linker *linker, const char *module, const qv_instance *inst);
bool qv_linker_get(const qv_linker *linker, const char *module, const char *name, qv_extern *out);
/* Resolve every import of `module` and instantiate it. A missing import is
 * a link error naming it ("unknown import: env.foo"). */
qv_instance *qv_linker_instantiate(qv_linker *linker, const qv_module *module, qv_trap **trap,
                                   qv_error *err);

/* ---------------------------------------------------------------- misc */

/* Human-readable name of a value type, e.g. "i32". */
const char *qv_valtype_name(qv_valtype t);

#ifdef __cplusplus
}
#endif
#endif
