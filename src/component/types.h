/*
 * types.h — component-model types: value types (the WIT types), function,
 * instance, component and resource types; their canonical ABI layout
 * (size, alignment, flattening into core values); structural comparison.
 */
#ifndef QYVOL_COMPONENT_TYPES_H
#define QYVOL_COMPONENT_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "qyvol/component.h"
#include "component/arena.h"
#include "component/names.h"

/* Value kinds are qv_ckind's; the others follow. */
enum {
    CM_FUNC = 64,
    CM_INSTANCE,
    CM_COMPONENT,
    CM_RESOURCE,
    CM_CORE_MODULE,   /* a core module type (only counted, never checked) */
    CM_CORE_FUNC,     /* a core function type */
};

/* Sorts: the index spaces of a component. */
typedef enum cm_sort {
    S_CORE_FUNC, S_CORE_TABLE, S_CORE_MEMORY, S_CORE_GLOBAL, S_CORE_TYPE, S_CORE_MODULE, S_CORE_INSTANCE,
    S_FUNC, S_VALUE, S_TYPE, S_COMPONENT, S_INSTANCE,
    S_COUNT
} cm_sort;
const char *cm_sort_name(cm_sort s);

typedef struct cm_type cm_type;

/* An import or export of an instance or component type. For S_TYPE,
 * `type` is the type itself (a resource for `sub resource`). */
typedef struct cm_extern {
    char *name;
    cm_sort sort;
    cm_type *type;
} cm_extern;

/* Most flattened value lists are short; past MAX_FLAT they go through
 * memory, so only whether they exceed it matters. */
#define CM_MAX_FLAT_PARAMS 16
#define CM_MAX_FLAT_RESULTS 1
#define CM_FLAT_CAP 17

struct cm_type {
    uint8_t kind;
    uint32_t n;           /* fields, tuple elements, cases, labels, params, externs */
    cm_type **elems;      /* their types (NULL: a case without payload) */
    char **labels;        /* field, case, flag and enum names; param names */
    cm_type *result;      /* functions: the result, or NULL */
    cm_extern *externs;   /* instance types: exports; component types: imports then exports */
    uint32_t nimports;    /* component types: how many of externs are imports */
    cm_names exports;     /* instance and component types: export name -> position in externs */
    /* Layout, set by cm_type_finish. */
    uint32_t size, align;
    uint8_t nflat;        /* saturates at CM_FLAT_CAP */
    uint32_t depth;       /* nesting: 1 for primitives, 1 + the deepest member otherwise */
    bool too_large;       /* its size does not fit in 32 bits */
    uint8_t flat[CM_FLAT_CAP]; /* QV_I32 ... */
    /* Resources. */
    uint32_t rid;         /* unique in the outermost component */
    const char *name;     /* for messages: the name it was imported or exported under */
    int64_t dtor;         /* defined resources: core func index of the destructor, or -1 */
    bool defined;         /* (resource (rep i32)): defined by this component, not imported */
    const void *host;     /* host resources: their qv_crestype */
};

/* Limits on what a component may declare, so that the recursive lifting,
 * lowering and comparison of values stay shallow. */
#define CM_MAX_TYPE_DEPTH 100
#define CM_MAX_NESTING 64     /* components and type declarations in each other */

/* The primitive value types (shared, never freed). */
cm_type *cm_prim(qv_ckind kind);
bool cm_is_value(const cm_type *t);
/* A number kind whose lists are carried as raw bytes (u8 ... f64). */
bool cm_is_number(uint8_t kind);
const char *cm_kind_name(uint8_t kind);

/* Set size, alignment and flattening of value type t, whose element types
 * are finished. */
void cm_type_finish(cm_type *t);
/* Discriminant size in bytes of a variant-like type with n cases. */
uint32_t cm_disc_size(uint32_t n);
/* Where a variant's payload starts. */
uint32_t cm_payload_offset(const cm_type *t);
/* Number of cases of variant-like types (enum/option/result included). */
uint32_t cm_cases(const cm_type *t);
/* The payload type of case i, or NULL. */
const cm_type *cm_case_type(const cm_type *t, uint32_t i);
static inline uint32_t cm_align_to(uint32_t p, uint32_t a) { return (p + a - 1) & ~(a - 1); }

/* The core signature of a function type as lifted (callee side) or
 * lowered (caller side), as the canonical ABI flattens it. */
typedef struct cm_coresig {
    uint32_t nparams, nresults;
    qv_valtype types[CM_MAX_FLAT_PARAMS + 2];
    bool params_in_memory, results_in_memory;
} cm_coresig;
void cm_core_signature(const cm_type *func, bool lower, cm_coresig *out);

/* Do a and b have the same structure? Resources compare by identity
 * through `same_resource`. On a mismatch writes where into why. */
typedef bool (*cm_same_resource)(void *env, const cm_type *a, const cm_type *b);
bool cm_type_equal(const cm_type *a, const cm_type *b, cm_same_resource same, void *env, char *why,
                   size_t whylen);

/* WIT-like text of a type, for messages. */
void cm_type_print(const cm_type *t, char *buf, size_t len);

#endif
