/*
 * host.h — the host's interfaces (qv_chost): functions with their WIT
 * types, named types and resource types, looked up by interface name
 * with semver matching.
 */
#ifndef QYVOL_COMPONENT_HOST_H
#define QYVOL_COMPONENT_HOST_H

#include "component/decode.h"
#include "component/runtime.h"

typedef struct host_func {
    const char *name;
    cm_type *type;
    cm_func func;
} host_func;

typedef struct host_named {
    const char *name;
    cm_type *type;
} host_named;

typedef struct host_iface {
    const char *key;        /* the name with its version cut to what must match */
    cm_vec funcs;           /* host_func * */
    cm_vec named;           /* host_named * (resources too) */
    cm_names func_index, named_index; /* name -> position */
} host_iface;

/* The interface an import named `name` binds to, or NULL. */
host_iface *cm_host_iface(const qv_chost *host, const char *name);
host_func *cm_host_func(const host_iface *i, const char *name);
cm_type *cm_host_named(const host_iface *i, const char *name);
/* "wasi:cli/run@0.2.3" -> "wasi:cli/run@0.2" into buf. */
void cm_semver_key(const char *name, char *buf, size_t len);

#endif
