/*
 * qyvol/component.h — WebAssembly components (the component model) on the
 * engine of qyvol/wasm.h.
 *
 * A component is decoded and validated once (qv_component_new): its nested
 * core modules are compiled, its types, aliases, instances and canonical
 * definitions checked. It is then instantiated against a host
 * (qv_chost): a set of interfaces, named as in WIT ("wasi:cli/stdout@0.2.3"),
 * each with functions and resource types. Imports match host interfaces by
 * semantic version, as wasmtime does: "@0.2.0" and "@0.2.12" both bind to the
 * host's "@0.2" interface (same major version, and same minor for 0.x).
 *
 *     qv_component *c = qv_component_new(bytes, len, &err);
 *     qv_chost *host = qv_chost_new();          // + qv_wasip2_define(...)
 *     qv_cinstance *ci = qv_cinstance_new(store, c, host, &trap, &err);
 *     qv_cinstance_export_func(ci, "wasi:cli/run@0.2.0", "run") ...
 *
 * Host functions see their arguments and produce their results as
 * qv_cval trees: the canonical ABI (lifting from and lowering into the
 * guest's linear memory) is done here, per CanonicalABI.md of the
 * component-model specification, with the string encoding, memory and
 * realloc the guest's `canon lower` gives.
 */
#ifndef QYVOL_COMPONENT_H
#define QYVOL_COMPONENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qyvol/wasm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qv_component qv_component;
typedef struct qv_cinstance qv_cinstance;
typedef struct qv_chost qv_chost;
typedef struct qv_ccall qv_ccall;
typedef struct qv_crestype qv_crestype;

/* Is this a component binary (rather than a core module)? Looks only at
 * the 8-byte preamble. */
bool qv_is_component(const uint8_t *bytes, size_t len);

/* Decode and validate a component. NULL with err filled (message naming
 * the construct, offset in the binary) when it is malformed or uses what
 * Qyvol does not support. The bytes are not kept. */
qv_component *qv_component_new(const uint8_t *bytes, size_t len, qv_error *err);
void qv_component_delete(qv_component *c);

/* Top-level imports and exports, by name ("wasi:cli/run@0.2.0"). */
size_t qv_component_import_count(const qv_component *c);
const char *qv_component_import_name(const qv_component *c, size_t i);
size_t qv_component_export_count(const qv_component *c);
const char *qv_component_export_name(const qv_component *c, size_t i);
/* The name of the export matching `iface` by version ("wasi:http/
 * incoming-handler@0.2.0" matches "...@0.2.10"), or NULL. */
const char *qv_component_find_export(const qv_component *c, const char *iface);

/* ---------------------------------------------------------------- values */

/* A component-level value. `kind` tells which member is set (lifting sets
 * it from the function's type; a host function sets it on its results). */
typedef enum qv_ckind {
    QV_C_BOOL = 1, QV_C_S8, QV_C_U8, QV_C_S16, QV_C_U16, QV_C_S32, QV_C_U32, QV_C_S64, QV_C_U64,
    QV_C_F32, QV_C_F64, QV_C_CHAR, QV_C_STRING, QV_C_LIST, QV_C_RECORD, QV_C_TUPLE, QV_C_VARIANT,
    QV_C_ENUM, QV_C_OPTION, QV_C_RESULT, QV_C_FLAGS, QV_C_OWN, QV_C_BORROW,
} qv_ckind;

typedef struct qv_cval qv_cval;
struct qv_cval {
    qv_ckind kind;
    union {
        bool b;
        uint64_t u;        /* unsigned integers; flags (one bit per flag, up to 32) */
        int64_t s;         /* signed integers */
        float f32;
        double f64;
        uint32_t ch;       /* a Unicode scalar value */
        struct { const char *ptr; size_t len; } str;  /* UTF-8, not NUL-terminated */
        /* Lists of numbers (u8 ... f64) are `raw` little-endian bytes, n
         * elements; other lists are `items`. */
        struct { qv_cval *items; const void *raw; size_t n; } list;
        struct { qv_cval *items; size_t n; } fields;  /* record and tuple */
        struct { uint32_t disc; qv_cval *payload; } var;  /* variant, enum, option, result (NULL: no payload) */
        void *rep;         /* own/borrow: the resource's host object */
    } of;
};

/* Inside a host function: memory that lives until the call returns (for
 * results), the store, and the data of the calling instance
 * (qv_cinstance_set_data). */
void *qv_ccall_alloc(qv_ccall *call, size_t bytes);
qv_store *qv_ccall_store(qv_ccall *call);
void *qv_ccall_data(qv_ccall *call);

/* ---------------------------------------------------------------- hosts */

/* A host function: args as lifted, results (as many as the function
 * returns: 0 or 1) to fill. A trap (owned by the engine) stops the guest. */
typedef qv_trap *(*qv_chost_fn)(qv_ccall *call, void *env, const qv_cval *args, qv_cval *results);

qv_chost *qv_chost_new(void);
void qv_chost_delete(qv_chost *host);
/* Zeroed memory that lives as long as the host (for its functions' env). */
void *qv_chost_alloc(qv_chost *host, size_t bytes);

/* A resource type of `iface`, e.g. ("wasi:io/streams@0.2.12",
 * "output-stream"). `dtor` (may be NULL) is called with the host object
 * when the guest drops its last own handle, or when the instance is
 * deleted. */
qv_crestype *qv_chost_resource(qv_chost *host, const char *iface, const char *name,
                               void (*dtor)(void *env, void *rep), void *env);

/* A function of `iface`. `sig` is its WIT type, which the guest's import
 * must match: "func(self: borrow<output-stream>, contents: list<u8>) ->
 * result<_, stream-error>". Named types are the interface's resources and
 * the types given by qv_chost_type. Returns false if sig does not parse
 * (with the reason on stderr: a host bug). */
bool qv_chost_func(qv_chost *host, const char *iface, const char *name, const char *sig, qv_chost_fn fn,
                   void *env);
/* A named type of `iface`: ("wasi:io/streams@0.2.12", "stream-error",
 * "variant { last-operation-failed(own<error>), closed }"): record, variant,
 * enum, flags, or another name for a type (for a resource's name: the
 * resource itself, as WIT's `type headers = fields`). A type or resource of another
 * interface is brought in by qv_chost_use(host, iface, from_iface, name),
 * as WIT's `use`. Return false if def does not parse (reason on stderr). */
bool qv_chost_type(qv_chost *host, const char *iface, const char *name, const char *def);
bool qv_chost_use(qv_chost *host, const char *iface, const char *from_iface, const char *name);

/* ---------------------------------------------------------------- instances */

/* Instantiate against `host` (which must outlive the instance). On a link
 * error (an import the host lacks, or of another type) NULL with err set;
 * a trap while instantiating (a core start function) NULL with *trap set. */
qv_cinstance *qv_cinstance_new(qv_store *store, const qv_component *c, const qv_chost *host, qv_trap **trap,
                               qv_error *err);
/* The link errors qv_cinstance_new would find in c's imports (an
 * interface, function or resource the host lacks, a function of another
 * type), found without instantiating: false with err set. */
bool qv_component_check_imports(const qv_component *c, const qv_chost *host, qv_error *err);
/* Drop the instance's resources (host destructors run). The store keeps
 * its core objects until it is deleted. */
void qv_cinstance_delete(qv_cinstance *ci);
/* Data for the host functions the instance calls (qv_ccall_data): what
 * lets one host serve many instances, each with its own context. */
void qv_cinstance_set_data(qv_cinstance *ci, void *data);

/* Call the function `func` exported by the exported instance `iface`
 * (iface NULL: a function the component exports directly). With no such
 * export returns a QV_TRAP_HOST trap saying so. Results (0 or 1) are
 * valid until the next call on the instance. */
qv_trap *qv_cinstance_call(qv_cinstance *ci, const char *iface, const char *func, const qv_cval *args,
                           size_t nargs, qv_cval *results, size_t nresults);
/* The name of the exported interface matching `iface` by version
 * ("wasi:cli/run@0.2" matches "wasi:cli/run@0.2.3"), or NULL. */
const char *qv_cinstance_find_export(const qv_cinstance *ci, const char *iface);

#ifdef __cplusplus
}
#endif
#endif
