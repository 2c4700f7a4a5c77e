/*
 * decode.h — the decoder's state, shared by decode.c (sections, index
 * spaces) and decode_types.c (the type grammar). One state per component
 * being decoded and per instance or component type declaration, each
 * pointing to the one it is nested in (for `alias outer`).
 */
#ifndef QYVOL_COMPONENT_DECODE_H
#define QYVOL_COMPONENT_DECODE_H

#include "component/model.h"
#include "engine/reader.h"

/* A growable array of pointers. */
typedef struct cm_vec {
    void **at;
    uint32_t n, cap;
} cm_vec;
bool cm_vec_push(cm_vec *v, void *p);
void cm_vec_free(cm_vec *v);

/* What a core instance exports, for checking `alias core export`. */
typedef struct cm_core_inst {
    const qv_module *module;   /* instantiated from this module, or */
    const cm_arg *exports;     /* built from these inline exports */
    uint32_t nexports;
} cm_core_inst;

typedef struct dstate {
    struct dstate *outer;
    qv_component *c;           /* NULL in type declarations */
    cm_arena *arena;           /* the outermost component's */
    uint32_t *nrids;
    qe_reader *r;
    qv_error *err;
    bool failed;
    /* Static view of the index spaces: a type per type, function,
     * instance and component; what core instances export; core modules
     * (compiled, or NULL for imported module types). */
    cm_vec space[S_COUNT];
    cm_vec externs;            /* type declarations: their imports and exports (cm_extern *) */
    uint32_t nimports;
    cm_names import_names, export_names; /* components: for duplicates */
} dstate;

/* Record a failure (the first wins) at the reader's offset: "MESSAGE (at
 * byte N)" is how callers print it. Returns false. */
bool cm_fail(dstate *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Add one item to index space `sort` with its static description. */
bool cm_define(dstate *d, cm_sort sort, void *what);
/* The static description of item idx of `sort`, failing with a message
 * naming `construct` when out of range. */
bool cm_lookup(dstate *d, cm_sort sort, uint32_t idx, const char *construct, void **out);

/* Check that n names (at stride bytes apart, starting at first) are
 * unique; fail naming `what` and the name otherwise. */
bool cm_unique(dstate *d, const char *const *first, size_t stride, uint32_t n, const char *what);
/* Index the exports of instance or component type t (externs from
 * `from` on), failing on a duplicate. */
bool cm_index_exports(dstate *d, cm_type *t, uint32_t from);

/* How many components and type declarations d is nested in. */
int cm_nesting(const dstate *d);

/* Type grammar (decode_types.c). */
cm_type *cm_read_valtype(dstate *d);
bool cm_read_deftype(dstate *d);          /* one entry of a type section */
bool cm_read_core_type(dstate *d);        /* one entry of a core type section */
/* externdesc; adds nothing. For `sub resource` makes a new resource named `name`. */
bool cm_read_externdesc(dstate *d, const char *name, cm_sort *sort, cm_type **type);
/* importname' / exportname' (a 0x00 or 0x01 prefix, then the name). */
char *cm_read_extern_name(dstate *d);
char *cm_read_string(dstate *d);
cm_type *cm_new_type(dstate *d, uint8_t kind, uint32_t n);
/* A copy of ft in the arena (the static type of a core function). */
qv_functype *cm_new_functype(dstate *d, qv_functype ft);
/* Core function idx must have this type, when it is known statically
 * (core functions exported by instantiated modules, made by canon, or
 * passed through inline instances). */
bool cm_check_core_func(dstate *d, uint32_t idx, const qv_valtype *types, uint32_t np, uint32_t nr, const char *what);
/* alias in a component or a type declaration; adds the item. */
bool cm_read_alias(dstate *d, cm_def *def);
/* The sort of an alias or sortidx: 0x00 core-sort | 0x01..0x05. */
bool cm_read_sort(dstate *d, cm_sort *out);

#endif
