/*
 * runtime.h — component instances at run time: the index spaces filled
 * with engine objects, resource handle tables, component functions (host
 * or lifted from core wasm), and the context of one call across the
 * component boundary.
 */
#ifndef QYVOL_COMPONENT_RUNTIME_H
#define QYVOL_COMPONENT_RUNTIME_H

#include "component/model.h"

typedef struct cm_inst cm_inst;
typedef struct cm_cx cm_cx;

/* A resource type at run time: the host's (dtor) or one a component
 * instance defines (owner, guest_dtor). */
struct qv_crestype {
    const char *name;
    void (*dtor)(void *env, void *rep);
    void *env;
    cm_inst *owner;
    qv_func *guest_dtor;
};
typedef struct qv_crestype cm_restype;

typedef struct cm_handle {
    cm_restype *rt;         /* NULL: a free slot */
    void *rep;
    uint32_t lends;         /* own handles: borrows of it live in calls */
    bool own;
    cm_cx *scope;           /* borrow handles: the call they belong to */
} cm_handle;

/* Handles of one component instance; index 0 is never valid. */
typedef struct cm_table {
    cm_handle *at;
    uint32_t n, cap;
    uint32_t free_head;     /* a free index to reuse, or 0 */
} cm_table;

/* Canonical options with their core items resolved. */
typedef struct cm_ropts {
    uint8_t encoding;
    qv_memory *memory;
    qv_func *realloc, *post_return;
} cm_ropts;

typedef struct cm_func {
    const cm_type *type;
    qv_chost_fn host;       /* a host function, or */
    void *env;
    cm_inst *owner;         /* a core function lifted by this instance */
    qv_func *core;
    cm_ropts opts;
} cm_func;

/* A component instance seen as an item: its exports by name. */
typedef struct cm_rinst {
    uint32_t n;
    const char **names;
    cm_sort *sorts;
    void **items;
    cm_names index;         /* names -> position */
} cm_rinst;

/* A core instance: a real one, or a bag of exports. */
typedef struct cm_core_rinst {
    qv_instance *inst;
    uint32_t n;
    const char **names;
    qv_extern *exts;
    cm_names index;         /* inline: names -> position */
} cm_core_rinst;

struct cm_inst {
    qv_store *store;
    const qv_component *comp;
    cm_inst *root;
    void **items[S_COUNT];
    cm_table table;
    cm_arena *arena;        /* the root's: run-time objects of the whole tree */
    cm_arena *values;       /* the root's: values of calls in progress */
    cm_restype **rtypes;    /* the root's: resource type of each rid */
    cm_inst **nested;       /* the root's: every instance, to free */
    uint32_t nnested;
    bool in_call;           /* may_enter: no re-entrance */
    void *data;             /* the root's: the embedder's (qv_ccall_data) */
};

/* One call across the boundary. */
struct cm_cx {
    cm_inst *inst;          /* whose handles the core side uses */
    const cm_ropts *opts;
    cm_arena *values;       /* lifted values of this call */
    qv_trap *trap;          /* the first trap */
    uint32_t *lent;         /* own handles lent to the callee (indices) */
    uint32_t nlent, caplent;
    uint32_t borrows;       /* borrow handles given to the callee, not yet dropped */
    uint32_t borrows_given; /* all the borrow handles given in this call */
};

/* Record a trap in cx (the first wins); returns false. */
bool cm_trap(cm_cx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The canonical ABI (canon.c). The flat values are raw bits, 32-bit ones
 * zero-extended, read and written from *at. */
bool cm_lift_flat(cm_cx *cx, const cm_type *t, const uint64_t *flat, uint32_t *at, qv_cval *out);
bool cm_lower_flat(cm_cx *cx, const cm_type *t, const qv_cval *v, uint64_t *flat, uint32_t *at);
bool cm_load(cm_cx *cx, const cm_type *t, uint32_t ptr, qv_cval *out);
bool cm_store(cm_cx *cx, const cm_type *t, const qv_cval *v, uint32_t ptr);
/* realloc(old, old_size, align, new_size), checked for alignment and
 * bounds of new_size bytes. */
bool cm_realloc(cm_cx *cx, uint32_t old, uint32_t old_size, uint32_t align, uint32_t size, uint32_t *out);

/* Handles (handles.c). */
uint32_t cm_table_add(cm_cx *cx, cm_table *t, cm_handle h);
cm_handle *cm_table_get(cm_cx *cx, cm_table *t, uint32_t i);
void cm_table_remove(cm_table *t, uint32_t i);
/* Drop every handle left (own ones through their destructor). */
void cm_table_free(cm_table *t, qv_store *store);
/* Release the lends of a finished call. */
void cm_cx_end(cm_cx *cx);
/* Remove the borrow handles a finished call gave its callee that it did
 * not drop (they would outlive the call they belong to). */
void cm_cx_drop_borrows(cm_cx *cx);
/* The runtime type of resource node r in instance inst. */
cm_restype *cm_rtype(const cm_inst *inst, const cm_type *r);

/* Calls (call.c). */
/* core → component: the host function made by `canon lower`. */
typedef struct cm_lower_env {
    cm_inst *inst;
    const cm_type *type;
    cm_func *callee;
    cm_ropts opts;
    cm_coresig sig;
} cm_lower_env;
qv_trap *cm_lowered_call(qv_caller *caller, void *env, const qv_val *args, qv_val *results);
/* component → core: call a lifted function with lifted args. */
qv_trap *cm_call_func(cm_inst *caller, cm_func *f, const qv_cval *args, qv_cval *result, cm_arena *values);
/* resource.new / drop / rep core functions. */
typedef struct cm_res_env {
    cm_inst *inst;
    const cm_type *res;
} cm_res_env;
qv_trap *cm_resource_new(qv_caller *caller, void *env, const qv_val *args, qv_val *results);
qv_trap *cm_resource_drop(qv_caller *caller, void *env, const qv_val *args, qv_val *results);
qv_trap *cm_resource_rep(qv_caller *caller, void *env, const qv_val *args, qv_val *results);

/* Arena marks: values of nested calls freed in LIFO order. */
typedef struct cm_mark {
    void *head;
    size_t used;
} cm_mark;
cm_mark cm_arena_mark(cm_arena *a);
void cm_arena_release(cm_arena *a, cm_mark m);

#endif
