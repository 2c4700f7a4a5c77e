/*
 * model.h — a decoded component: its definitions in binary order (each
 * adds one item to an index space), replayed by instantiation, with the
 * nested core modules compiled and nested components decoded.
 */
#ifndef QYVOL_COMPONENT_MODEL_H
#define QYVOL_COMPONENT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "qyvol/component.h"
#include "component/arena.h"
#include "component/types.h"

/* An instantiation argument or inline export: (name, sort, index). */
typedef struct cm_arg {
    char *name;
    cm_sort sort;
    uint32_t idx;
} cm_arg;

enum { CM_UTF8, CM_UTF16, CM_LATIN1_UTF16 };

/* Canonical options; core indices or -1. */
typedef struct cm_opts {
    uint8_t encoding;
    int64_t memory, realloc, post_return;
} cm_opts;

typedef enum cm_op {
    OP_CORE_MODULE,        /* idx: into component.modules */
    OP_CORE_INSTANTIATE,   /* idx: core module; args: core instances */
    OP_CORE_INLINE,        /* args: core items */
    OP_COMPONENT,          /* idx: into component.components */
    OP_INSTANTIATE,        /* idx: component; args */
    OP_INLINE,             /* args */
    OP_ALIAS_EXPORT,       /* idx: instance; name */
    OP_ALIAS_CORE_EXPORT,  /* idx: core instance; name */
    OP_ALIAS_OUTER,        /* outer: the item (module, component or type) */
    OP_TYPE,               /* type */
    OP_LIFT,               /* idx: core func; opts; type */
    OP_LOWER,              /* idx: func; opts */
    OP_RES_NEW, OP_RES_DROP, OP_RES_REP, /* type: the resource */
    OP_IMPORT,             /* name; type (S_TYPE: the type itself) */
    OP_EXPORT,             /* name; idx: the item exported */
    OP_START,              /* idx: func */
} cm_op;

typedef struct cm_def {
    uint8_t op;
    cm_sort sort;          /* the index space it adds to, or S_COUNT */
    uint32_t idx;
    char *name;
    cm_arg *args;
    uint32_t nargs;
    cm_names argix;        /* OP_CORE_INSTANTIATE, OP_INSTANTIATE: args by name */
    cm_opts opts;
    cm_type *type;
    const void *outer;     /* OP_ALIAS_OUTER: a qv_module, qv_component or NULL (types) */
    size_t offset;         /* in the binary, for messages */
} cm_def;

struct qv_component {
    cm_arena arena;
    cm_def *defs;
    uint32_t ndefs;
    qv_module **modules;
    uint32_t nmodules;
    struct qv_component **components;
    uint32_t ncomponents;
    uint32_t count[S_COUNT];  /* size of each index space */
    cm_extern *imports, *exports;
    uint32_t nimports, nexports;
    uint32_t nrids;           /* resource types in the whole tree (outermost only) */
    cm_type *type;            /* its component type (imports and exports) */
};

#endif
