/*
 * runtime.h — the engine's runtime objects behind the opaque public types:
 * stores, function/table/memory/global instances, module instances, traps.
 *
 * Every runtime object is allocated in a store and freed with it. Values
 * live in 8-byte slots (qe_slot); a v128 takes two slots. References are
 * pointers: a funcref is a qv_func*, an externref the embedder's void*, and
 * NULL is the null reference of either type.
 */
#ifndef QYVOL_ENGINE_RUNTIME_H
#define QYVOL_ENGINE_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "qyvol/wasm.h"
#include "image.h"
#include "module.h"
#include "translate.h"
#include "interp.h"

typedef union qe_slot {
    uint32_t i32;
    uint64_t i64;
    float f32;
    double f64;
    void *ref;
} qe_slot;

/* Number of slots a value of type t occupies. */
static inline uint32_t qe_slots_of(uint8_t t) { return t == QE_V128 ? 2 : 1; }

enum { QE_FUNC_WASM = 0, QE_FUNC_HOST = 1 };

struct qv_func {
    uint8_t kind;                 /* QE_FUNC_* */
    uint32_t type_id;             /* interned, for call_indirect */
    const qe_functype *type;
    qv_store *store;
    /* wasm */
    qv_instance *inst;
    const qe_compiled *code;
    uint32_t index;               /* function index within its module */
    /* host */
    qv_host_fn host;
    void *env;
    void (*finalize)(void *env);
    qe_functype own_type;         /* storage for host function types */
};

struct qv_memory {
    qv_store *store;              /* charged for its pages */
    uint8_t *data;                /* reserved region; never moves */
    uint64_t size;                /* accessible bytes = pages * 65536 */
    uint32_t pages;
    qe_limits lim;                /* declared limits */
    uint32_t max_pages;           /* effective cap (limits and store limit) */
    size_t reserved;              /* bytes reserved for data */
    uint64_t image_offset, image_len; /* a module's image mapped there (copy-on-write) */
    bool broken;                  /* a failed mapping left a hole: never reuse */
};

struct qv_table {
    qv_store *store;              /* charged for its elements */
    void **elems;                 /* size entries; may be reallocated by grow */
    uint32_t size;
    uint32_t max;                 /* effective cap */
    qe_limits lim;                /* declared limits */
    uint8_t elem_type;
};

struct qv_global {
    union {
        qe_slot s;
        uint8_t v128[16];
    } value;
    uint8_t type;
    bool mut;
};

/* Runtime copy of an element segment: its evaluated references. A dropped
 * segment has count 0. */
typedef struct qe_elem_inst { uint32_t count; void **refs; } qe_elem_inst;
/* A data segment: bytes in the module; a dropped one has len 0. */
typedef struct qe_data_inst { const uint8_t *bytes; uint32_t len; } qe_data_inst;

struct qv_module {
    qe_module *m;
    qe_compiled *funcs;           /* m->ncodes compiled bodies, by defined index */
    qe_image image;               /* memory 0 after the data segments */
};

struct qv_instance {
    qv_store *store;
    const qv_module *module;
    qv_func **funcs;              /* module function index space */
    qv_table **tables;
    qv_memory **mems;
    qv_global **globals;
    qv_memory *mem0;              /* mems[0] or NULL */
    qv_func *own_funcs;           /* storage of the defined functions */
    qe_elem_inst *elems;
    qe_data_inst *datas;
    uint32_t nexports;
    char **export_names;          /* borrowed from the module */
    qv_extern *exports;
};

struct qv_caller {
    qv_store *store;
    qv_instance *inst;
};

/* Owned-object list entry, so the store can free everything it created. */
typedef struct qe_object {
    struct qe_object *next;
    uint8_t kind;                 /* QE_EXT_* or QE_OBJ_INSTANCE */
    void *ptr;
} qe_object;
enum { QE_OBJ_INSTANCE = 4 };

struct qv_store {
    qv_store_limits limits;       /* defaults filled in */
    uint64_t bytes;               /* counted against limits.max_bytes */
    uint64_t table_elems;         /* of all its tables, against limits.max_table_elems */
    qe_exec exec;                 /* interpreter stacks and state (interp.h) */
    int64_t fuel;                 /* < 0: disabled */
    atomic_int interrupt;
    void *data;
    qe_object *objects;
};

struct qv_trap {
    qv_trap_kind kind;
    char *message;
    int32_t exit_status;
    size_t nframes;
    qv_frame *frames;             /* names are owned copies */
};

/* Append a frame to a trap's backtrace (names copied; may be NULL). */
void qe_trap_add_frame(qv_trap *trap, uint32_t func_index, const char *func_name,
                       const char *module_name);
/* Spec message for a trap kind ("integer divide by zero", ...). */
const char *qe_trap_kind_message(qv_trap_kind kind);

/* Call a host function from the interpreter: args and results in slots. */
qv_trap *qe_call_host(qv_store *store, qv_instance *caller, qv_func *f, const qe_slot *args,
                      qe_slot *results);

/* Grow a table by delta entries filled with init; old size or -1. */
int64_t qe_table_grow(qv_table *t, uint32_t delta, void *init);

/* Constructors used by instantiation (limits already validated). Memories
 * and tables charge the store's budget themselves (and their growth);
 * a global is charged by its caller. */
/* Give back a memory's reservation (kept for reuse by this thread). */
void qe_memory_release(qv_memory *m);
/* Map a memory image file over [offset, offset + len) of a fresh memory,
 * copy-on-write. false if it could not (the memory is unchanged, or marked
 * broken if even that could not be kept). */
bool qe_memory_map_image(qv_memory *m, int fd, uint64_t offset, uint64_t len);
qv_memory *qe_memory_create(qv_store *s, qe_limits lim, qv_error *err);
qv_table *qe_table_create(qv_store *s, uint8_t elem_type, qe_limits lim, void *init, qv_error *err);
qv_global *qe_global_create(qv_store *s, uint8_t type, bool mut, qe_slot value);

/* Count bytes against the store's max_bytes (qv_store_charge), filling
 * *err (may be NULL) with what passed it when it cannot. */
bool qe_store_charge(qv_store *s, uint64_t bytes, const char *what, qv_error *err);

/* Record an object for the store to free (kind: QE_EXT_* or QE_OBJ_INSTANCE). */
bool qe_store_track(qv_store *s, uint8_t kind, void *ptr);
void qe_instance_free(qv_instance *inst);

/* Conversions between typed values and slots. */
void qe_val_to_slots(const qv_val *v, qe_slot *slots);
qv_val qe_slots_to_val(uint8_t type, const qe_slot *slots);

/* Evaluate a constant expression of `inst`'s module (globals and functions
 * of `inst` as far as created). */
bool qe_eval_const(const qv_instance *inst, qe_expr e, qe_slot *out);

#endif
