/*
 * decode_types.c — the type grammar of the component binary format:
 * value types, function types, instance and component types (with their
 * own nested index spaces), resource types, core types, extern
 * descriptions and aliases.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/decode.h"

bool cm_vec_push(cm_vec *v, void *p)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 16;
        void **grown = realloc(v->at, cap * sizeof *grown);
        if (!grown) return false;
        v->at = grown;
        v->cap = cap;
    }
    v->at[v->n++] = p;
    return true;
}

void cm_vec_free(cm_vec *v)
{
    free(v->at);
    *v = (cm_vec){0};
}

bool cm_fail(dstate *d, const char *fmt, ...)
{
    for (dstate *o = d; o; o = o->outer) o->failed = true;
    if (d->err && !d->err->message[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err->message, sizeof d->err->message, fmt, ap);
        va_end(ap);
        d->err->offset = qe_reader_offset(d->r);
        d->err->func_index = -1;
    }
    qe_reader_fail(d->r, "component decoding stopped");
    return false;
}

/* A reader failure (out of bytes, bad LEB128, bad UTF-8) as our failure. */
static bool reader_ok(dstate *d)
{
    if (d->r->ok) return true;
    if (d->err && !d->err->message[0]) {
        snprintf(d->err->message, sizeof d->err->message, "%s", d->r->err);
        d->err->offset = d->r->err_offset;
        d->err->func_index = -1;
    }
    for (dstate *o = d; o; o = o->outer) o->failed = true;
    return false;
}

bool cm_define(dstate *d, cm_sort sort, void *what)
{
    if (d->space[sort].n >= 1000000) return cm_fail(d, "too many items in the %s index space", cm_sort_name(sort));
    if (!cm_vec_push(&d->space[sort], what)) return cm_fail(d, "out of memory");
    if (d->c) d->c->count[sort]++;
    return true;
}

bool cm_lookup(dstate *d, cm_sort sort, uint32_t idx, const char *construct, void **out)
{
    *out = NULL;
    if (idx >= d->space[sort].n)
        return cm_fail(d, "%s: %s index %u out of range (%u defined)", construct, cm_sort_name(sort), idx,
                       d->space[sort].n);
    *out = d->space[sort].at[idx];
    return true;
}

qv_functype *cm_new_functype(dstate *d, qv_functype ft)
{
    qv_functype *out = cm_alloc(d->arena, sizeof *out);
    qv_valtype *types = cm_alloc(d->arena, (ft.nparams + ft.nresults + 1) * sizeof *types);
    if (!out || !types) return cm_fail(d, "out of memory"), NULL;
    for (uint32_t i = 0; i < ft.nparams + ft.nresults; i++) types[i] = ft.types[i];
    *out = (qv_functype){ft.nparams, ft.nresults, types};
    return out;
}

static void print_core(char *buf, size_t len, const qv_valtype *t, uint32_t np, uint32_t nr)
{
    size_t at = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < np + nr && at < len; i++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s", i == np ? " -> " : i ? " " : "", qv_valtype_name(t[i]));
    if (!at) snprintf(buf, len, "no params, no results");
}

bool cm_check_core_func(dstate *d, uint32_t idx, const qv_valtype *types, uint32_t np, uint32_t nr, const char *what)
{
    const qv_functype *ft = idx < d->space[S_CORE_FUNC].n ? d->space[S_CORE_FUNC].at[idx] : NULL;
    if (!ft) return true; /* not known statically: checked when instantiated */
    bool same = ft->nparams == np && ft->nresults == nr;
    for (uint32_t i = 0; same && i < np + nr; i++) same = ft->types[i] == types[i];
    if (same) return true;
    char have[96], want[96];
    print_core(have, sizeof have, ft->types, ft->nparams, ft->nresults);
    print_core(want, sizeof want, types, np, nr);
    return cm_fail(d, "%s: core func %u has type (%s), the canonical ABI needs (%s)", what, idx, have, want);
}

cm_type *cm_new_type(dstate *d, uint8_t kind, uint32_t n)
{
    cm_type *t = cm_alloc(d->arena, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->n = n;
    t->dtor = -1;
    if (n) {
        t->elems = cm_alloc(d->arena, n * sizeof *t->elems);
        t->labels = cm_alloc(d->arena, n * sizeof *t->labels);
        if (!t->elems || !t->labels) return NULL;
    }
    return t;
}

char *cm_read_string(dstate *d)
{
    uint32_t len;
    const uint8_t *s = qe_read_name(d->r, &len);
    if (!reader_ok(d)) return NULL;
    char *out = cm_strndup(d->arena, (const char *)s, len);
    if (!out) cm_fail(d, "out of memory");
    else if (memchr(s, 0, len)) return cm_fail(d, "a name contains a NUL byte"), NULL;
    return out;
}

char *cm_read_extern_name(dstate *d)
{
    uint8_t kind = qe_read_u8(d->r);
    if (!reader_ok(d)) return NULL;
    if (kind > 0x01) return cm_fail(d, "import or export name: unknown name kind 0x%02x", kind), NULL;
    char *name = cm_read_string(d);
    if (name && kind == 0x01) {
        /* A version suffix ("@0.2.1" extends "@0.2"): keep the full name. */
        char *suffix = cm_read_string(d);
        if (!suffix) return NULL;
        size_t a = strlen(name), b = strlen(suffix);
        char *full = cm_alloc(d->arena, a + b + 1);
        if (!full) return cm_fail(d, "out of memory"), NULL;
        memcpy(full, name, a);
        memcpy(full + a, suffix, b + 1);
        name = full;
    }
    return name;
}

/* A type index that must name a value type. */
static cm_type *value_type_at(dstate *d, uint32_t idx, const char *construct)
{
    void *t = NULL;
    if (!cm_lookup(d, S_TYPE, idx, construct, &t)) return NULL;
    if (!cm_is_value(t)) {
        cm_fail(d, "%s: type %u is a %s, not a value type", construct, idx, cm_kind_name(((cm_type *)t)->kind));
        return NULL;
    }
    return t;
}

cm_type *cm_read_valtype(dstate *d)
{
    int64_t v = qe_read_s33(d->r);
    if (!reader_ok(d)) return NULL;
    if (v >= 0) return value_type_at(d, (uint32_t)v, "value type");
    uint8_t code = (uint8_t)(v & 0x7F);
    if (code >= 0x73 && code <= 0x7F) return cm_prim((qv_ckind)(0x7F - code + QV_C_BOOL));
    if (code == 0x64) return cm_fail(d, "the error-context type (async) is not supported"), NULL;
    return cm_fail(d, "malformed value type 0x%02x", code), NULL;
}

static cm_type *read_optional_valtype(dstate *d, bool *ok)
{
    uint8_t has = qe_read_u8(d->r);
    *ok = reader_ok(d);
    if (!*ok) return NULL;
    if (has > 1) {
        *ok = cm_fail(d, "malformed optional type (0x%02x)", has);
        return NULL;
    }
    if (!has) return NULL;
    cm_type *t = cm_read_valtype(d);
    *ok = t != NULL;
    return t;
}

bool cm_unique(dstate *d, const char *const *first, size_t stride, uint32_t n, const char *what)
{
    cm_arena tmp = {0};
    cm_names ix;
    bool ok = cm_names_init(&ix, &tmp, n) || cm_fail(d, "out of memory");
    for (uint32_t i = 0; ok && i < n; i++) {
        const char *name = *(const char *const *)((const char *)first + i * stride);
        if (!cm_names_add(&ix, name, i, NULL)) ok = cm_fail(d, "%s: the name '%s' appears twice", what, name);
    }
    cm_arena_free(&tmp);
    return ok;
}

bool cm_index_exports(dstate *d, cm_type *t, uint32_t from)
{
    if (!cm_names_init(&t->exports, d->arena, t->n - from)) return cm_fail(d, "out of memory");
    for (uint32_t i = from; i < t->n; i++)
        if (!cm_names_add(&t->exports, t->externs[i].name, i, NULL))
            return cm_fail(d, "the export '%s' is declared twice", t->externs[i].name);
    return true;
}

static bool labels_unique(dstate *d, const cm_type *t, const char *what)
{
    return cm_unique(d, (const char *const *)t->labels, sizeof *t->labels, t->n, what);
}

static cm_type *read_labels(dstate *d, uint8_t kind, const char *what, uint32_t max)
{
    uint32_t n = qe_read_u32(d->r);
    if (!reader_ok(d)) return NULL;
    if (n == 0 || n > max) return cm_fail(d, "%s must have 1 to %u names, not %u", what, max, n), NULL;
    cm_type *t = cm_new_type(d, kind, n);
    if (!t) return cm_fail(d, "out of memory"), NULL;
    for (uint32_t i = 0; i < n; i++)
        if (!(t->labels[i] = cm_read_string(d))) return NULL;
    return labels_unique(d, t, what) ? t : NULL;
}

static cm_type *resource_at(dstate *d, const char *what)
{
    uint32_t idx = qe_read_u32(d->r);
    void *t = NULL;
    if (!reader_ok(d) || !cm_lookup(d, S_TYPE, idx, what, &t)) return NULL;
    if (((cm_type *)t)->kind != CM_RESOURCE)
        return cm_fail(d, "%s: type %u is a %s, not a resource", what, idx, cm_kind_name(((cm_type *)t)->kind)), NULL;
    return t;
}

/* defvaltype after its first byte `code`. */
static cm_type *read_defvaltype(dstate *d, uint8_t code)
{
    cm_type *t = NULL;
    bool ok = true;
    uint32_t n;
    switch (code) {
    case 0x72: /* record */
    case 0x71: /* variant */
        n = qe_read_u32(d->r);
        if (!reader_ok(d)) return NULL;
        if (n == 0 || n > 100000)
            return cm_fail(d, "a %s must have 1 to 100000 %s", code == 0x72 ? "record" : "variant",
                           code == 0x72 ? "fields" : "cases"), NULL;
        if (!(t = cm_new_type(d, code == 0x72 ? QV_C_RECORD : QV_C_VARIANT, n))) return cm_fail(d, "out of memory"), NULL;
        for (uint32_t i = 0; i < n; i++) {
            if (!(t->labels[i] = cm_read_string(d))) return NULL;
            if (code == 0x72) {
                if (!(t->elems[i] = cm_read_valtype(d))) return NULL;
            } else {
                t->elems[i] = read_optional_valtype(d, &ok);
                if (!ok) return NULL;
                uint8_t refines = qe_read_u8(d->r);
                if (!reader_ok(d)) return NULL;
                if (refines != 0) return cm_fail(d, "variant case '%s': refinements are not supported", t->labels[i]), NULL;
            }
        }
        if (!labels_unique(d, t, code == 0x72 ? "record" : "variant")) return NULL;
        break;
    case 0x70: /* list */
        if (!(t = cm_new_type(d, QV_C_LIST, 1)) || !(t->elems[0] = cm_read_valtype(d))) return NULL;
        break;
    case 0x67:
        return cm_fail(d, "fixed-length lists are not supported"), NULL;
    case 0x6F: /* tuple */
        n = qe_read_u32(d->r);
        if (!reader_ok(d)) return NULL;
        if (n == 0 || n > 100000) return cm_fail(d, "a tuple must have 1 to 100000 elements"), NULL;
        if (!(t = cm_new_type(d, QV_C_TUPLE, n))) return cm_fail(d, "out of memory"), NULL;
        for (uint32_t i = 0; i < n; i++)
            if (!(t->elems[i] = cm_read_valtype(d))) return NULL;
        break;
    case 0x6E: /* flags */
        if (!(t = read_labels(d, QV_C_FLAGS, "flags", 32))) return NULL;
        t->elems = NULL;
        break;
    case 0x6D: /* enum */
        if (!(t = read_labels(d, QV_C_ENUM, "an enum", 100000))) return NULL;
        break;
    case 0x6B: /* option */
        if (!(t = cm_new_type(d, QV_C_OPTION, 1)) || !(t->elems[0] = cm_read_valtype(d))) return NULL;
        break;
    case 0x6A: /* result */
        if (!(t = cm_new_type(d, QV_C_RESULT, 2))) return cm_fail(d, "out of memory"), NULL;
        t->elems[0] = read_optional_valtype(d, &ok);
        if (ok) t->elems[1] = read_optional_valtype(d, &ok);
        if (!ok) return NULL;
        break;
    case 0x69: /* own */
    case 0x68: /* borrow */
        if (!(t = cm_new_type(d, code == 0x69 ? QV_C_OWN : QV_C_BORROW, 1))) return cm_fail(d, "out of memory"), NULL;
        if (!(t->elems[0] = resource_at(d, code == 0x69 ? "own" : "borrow"))) return NULL;
        break;
    case 0x66: return cm_fail(d, "the stream type (async) is not supported"), NULL;
    case 0x65: return cm_fail(d, "the future type (async) is not supported"), NULL;
    case 0x64: return cm_fail(d, "the error-context type (async) is not supported"), NULL;
    default:
        if (code >= 0x73 && code <= 0x7F) return cm_prim((qv_ckind)(0x7F - code + QV_C_BOOL));
        return cm_fail(d, "malformed type: unknown type constructor 0x%02x", code), NULL;
    }
    if (!t) return cm_fail(d, "out of memory"), NULL;
    cm_type_finish(t);
    if (t->depth > CM_MAX_TYPE_DEPTH) return cm_fail(d, "type nesting is deeper than %d", CM_MAX_TYPE_DEPTH), NULL;
    if (t->too_large) return cm_fail(d, "a type whose values take more than 4 GiB"), NULL;
    return t;
}

/* Does a value of type t hold a borrowed handle? (Types are at most
 * CM_MAX_TYPE_DEPTH deep.) */
static bool holds_borrow(const cm_type *t)
{
    if (!t || t->kind == QV_C_OWN || t->kind == QV_C_FLAGS || t->kind == QV_C_ENUM) return false;
    if (t->kind == QV_C_BORROW) return true;
    uint32_t n = t->kind == QV_C_OPTION || t->kind == QV_C_LIST ? 1 : t->kind == QV_C_RESULT ? 2 : t->n;
    for (uint32_t i = 0; t->elems && i < n; i++)
        if (holds_borrow(t->elems[i])) return true;
    return false;
}

static cm_type *read_functype(dstate *d)
{
    uint32_t n = qe_read_u32(d->r);
    if (!reader_ok(d)) return NULL;
    if (n > 100000) return cm_fail(d, "a function type with %u parameters", n), NULL;
    cm_type *f = cm_new_type(d, CM_FUNC, n);
    if (!f) return cm_fail(d, "out of memory"), NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (!(f->labels[i] = cm_read_string(d)) || !(f->elems[i] = cm_read_valtype(d))) return NULL;
    }
    if (!labels_unique(d, f, "function parameters")) return NULL;
    uint8_t kind = qe_read_u8(d->r);
    if (!reader_ok(d)) return NULL;
    if (kind == 0x00) {
        if (!(f->result = cm_read_valtype(d))) return NULL;
        if (holds_borrow(f->result)) return cm_fail(d, "a function result cannot hold a borrowed handle"), NULL;
    } else if (kind == 0x01) {
        uint32_t named = qe_read_u32(d->r);
        if (!reader_ok(d)) return NULL;
        if (named) return cm_fail(d, "named function results are not supported (removed from the component model)"), NULL;
    } else {
        return cm_fail(d, "malformed function result list (0x%02x)", kind), NULL;
    }
    return f;
}

static bool read_decls(dstate *d, cm_type *t, bool component);

/* A new resource type. */
static cm_type *new_resource(dstate *d, const char *name)
{
    cm_type *t = cm_new_type(d, CM_RESOURCE, 0);
    if (!t) return cm_fail(d, "out of memory"), NULL;
    t->rid = (*d->nrids)++;
    t->name = name;
    return t;
}

bool cm_read_deftype(dstate *d)
{
    uint8_t code = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    cm_type *t = NULL;
    switch (code) {
    case 0x40:
        t = read_functype(d);
        break;
    case 0x43:
        return cm_fail(d, "async function types are not supported");
    case 0x41:
    case 0x42:
        if (!(t = cm_new_type(d, code == 0x41 ? CM_COMPONENT : CM_INSTANCE, 0))) return cm_fail(d, "out of memory");
        if (!read_decls(d, t, code == 0x41)) return false;
        break;
    case 0x3F: {
        uint8_t rep = qe_read_u8(d->r);
        if (!reader_ok(d)) return false;
        if (rep != 0x7F) return cm_fail(d, "resource type: the representation must be i32");
        if (!d->c) return cm_fail(d, "resource type definitions are only allowed in components, not in type declarations");
        if (!(t = new_resource(d, "resource"))) return false;
        t->defined = true;
        bool ok;
        uint8_t has = qe_read_u8(d->r);
        ok = reader_ok(d);
        if (ok && has == 1) {
            uint32_t f = qe_read_u32(d->r);
            if (!reader_ok(d)) return false;
            if (f >= d->space[S_CORE_FUNC].n) return cm_fail(d, "resource destructor: core func %u out of range", f);
            static const qv_valtype i32[1] = {QV_I32};
            if (!cm_check_core_func(d, f, i32, 1, 0, "resource destructor")) return false;
            t->dtor = f;
        } else if (ok && has) {
            return cm_fail(d, "malformed resource destructor (0x%02x)", has);
        }
        if (!ok) return false;
        break;
    }
    case 0x3E:
        return cm_fail(d, "async resource destructors are not supported");
    default:
        t = read_defvaltype(d, code);
    }
    return t && cm_define(d, S_TYPE, t);
}

static bool read_limits(dstate *d)
{
    uint8_t flags = qe_read_u8(d->r);
    if (flags & ~0x07u) return cm_fail(d, "malformed limits (0x%02x)", flags);
    if (flags & 4) qe_read_u64(d->r);
    else qe_read_u32(d->r);
    if (flags & 1) {
        if (flags & 4) qe_read_u64(d->r);
        else qe_read_u32(d->r);
    }
    return reader_ok(d);
}

static bool read_core_valtype(dstate *d)
{
    uint8_t v = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    if ((v >= 0x7B && v <= 0x7F) || v == 0x70 || v == 0x6F) return true;
    return cm_fail(d, "core value type 0x%02x is not supported (garbage collection types)", v);
}

static bool read_core_importdesc(dstate *d)
{
    uint8_t kind = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    switch (kind) {
    case 0x00: qe_read_u32(d->r); return reader_ok(d);
    case 0x01: return read_core_valtype(d) && read_limits(d);
    case 0x02: return read_limits(d);
    case 0x03: return read_core_valtype(d) && (qe_read_u8(d->r), reader_ok(d));
    case 0x04: qe_read_u8(d->r), qe_read_u32(d->r); return reader_ok(d);
    }
    return cm_fail(d, "malformed core import description (0x%02x)", kind);
}

static bool read_core_functype(dstate *d)
{
    for (int list = 0; list < 2; list++) {
        uint32_t n = qe_read_u32(d->r);
        if (!reader_ok(d)) return false;
        for (uint32_t i = 0; i < n; i++)
            if (!read_core_valtype(d)) return false;
    }
    return true;
}

bool cm_read_core_type(dstate *d)
{
    uint8_t code = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    cm_type *t;
    if (code == 0x60) {
        if (!read_core_functype(d)) return false;
        t = cm_new_type(d, CM_CORE_FUNC, 0);
    } else if (code == 0x50 || code == 0x00) {
        if (code == 0x00 && (qe_read_u8(d->r) != 0x50 || !reader_ok(d))) return cm_fail(d, "malformed core module type");
        uint32_t n = qe_read_u32(d->r);
        if (!reader_ok(d)) return false;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t decl = qe_read_u8(d->r);
            if (!reader_ok(d)) return false;
            switch (decl) {
            case 0x00:
                if (!cm_read_string(d) || !cm_read_string(d) || !read_core_importdesc(d)) return false;
                break;
            case 0x01:
                if (qe_read_u8(d->r) != 0x60 || !reader_ok(d)) return cm_fail(d, "core module type: only function types may be declared");
                if (!read_core_functype(d)) return false;
                break;
            case 0x02: /* alias outer */
                qe_read_u8(d->r);
                if (qe_read_u8(d->r) != 0x01) return cm_fail(d, "core module type: malformed alias");
                qe_read_u32(d->r), qe_read_u32(d->r);
                if (!reader_ok(d)) return false;
                break;
            case 0x03:
                if (!cm_read_string(d) || !read_core_importdesc(d)) return false;
                break;
            default:
                return cm_fail(d, "core module type: malformed declaration 0x%02x", decl);
            }
        }
        t = cm_new_type(d, CM_CORE_MODULE, 0);
    } else {
        return cm_fail(d, "core type 0x%02x is not supported (only function and module types)", code);
    }
    if (!t) return cm_fail(d, "out of memory");
    return cm_define(d, S_CORE_TYPE, t);
}

bool cm_read_externdesc(dstate *d, const char *name, cm_sort *sort, cm_type **type)
{
    uint8_t kind = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    void *t = NULL;
    uint32_t idx;
    switch (kind) {
    case 0x00:
        if (qe_read_u8(d->r) != 0x11 || !reader_ok(d)) return cm_fail(d, "'%s': malformed core module description", name);
        idx = qe_read_u32(d->r);
        if (!reader_ok(d) || !cm_lookup(d, S_CORE_TYPE, idx, name, &t)) return false;
        if (((cm_type *)t)->kind != CM_CORE_MODULE) return cm_fail(d, "'%s': core type %u is not a module type", name, idx);
        *sort = S_CORE_MODULE;
        break;
    case 0x01: case 0x04: case 0x05:
        idx = qe_read_u32(d->r);
        if (!reader_ok(d) || !cm_lookup(d, S_TYPE, idx, name, &t)) return false;
        *sort = kind == 0x01 ? S_FUNC : kind == 0x04 ? S_COMPONENT : S_INSTANCE;
        uint8_t want = kind == 0x01 ? CM_FUNC : kind == 0x04 ? CM_COMPONENT : CM_INSTANCE;
        if (((cm_type *)t)->kind != want)
            return cm_fail(d, "'%s': type %u is a %s, not a %s type", name, idx, cm_kind_name(((cm_type *)t)->kind),
                           cm_kind_name(want));
        break;
    case 0x02:
        return cm_fail(d, "'%s': value imports and exports are not supported", name);
    case 0x03: {
        uint8_t bound = qe_read_u8(d->r);
        if (!reader_ok(d)) return false;
        if (bound == 0x00) {
            idx = qe_read_u32(d->r);
            if (!reader_ok(d) || !cm_lookup(d, S_TYPE, idx, name, &t)) return false;
        } else if (bound == 0x01) {
            if (!(t = new_resource(d, name))) return false;
        } else {
            return cm_fail(d, "'%s': malformed type bound 0x%02x", name, bound);
        }
        *sort = S_TYPE;
        break;
    }
    default:
        return cm_fail(d, "'%s': malformed extern description 0x%02x", name, kind);
    }
    *type = t;
    return true;
}

bool cm_read_sort(dstate *d, cm_sort *out)
{
    uint8_t s = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    if (s == 0x00) {
        uint8_t c = qe_read_u8(d->r);
        if (!reader_ok(d)) return false;
        switch (c) {
        case 0x00: *out = S_CORE_FUNC; return true;
        case 0x01: *out = S_CORE_TABLE; return true;
        case 0x02: *out = S_CORE_MEMORY; return true;
        case 0x03: *out = S_CORE_GLOBAL; return true;
        case 0x10: *out = S_CORE_TYPE; return true;
        case 0x11: *out = S_CORE_MODULE; return true;
        case 0x12: *out = S_CORE_INSTANCE; return true;
        }
        return cm_fail(d, "malformed core sort 0x%02x", c);
    }
    switch (s) {
    case 0x01: *out = S_FUNC; return true;
    case 0x02: *out = S_VALUE; return true;
    case 0x03: *out = S_TYPE; return true;
    case 0x04: *out = S_COMPONENT; return true;
    case 0x05: *out = S_INSTANCE; return true;
    }
    return cm_fail(d, "malformed sort 0x%02x", s);
}

/* The export `name` of an instance type, or NULL. */
static const cm_extern *find_extern(const cm_type *inst, const char *name)
{
    int64_t i = cm_names_find(&inst->exports, name);
    return i < 0 ? NULL : &inst->externs[i];
}

bool cm_read_alias(dstate *d, cm_def *def)
{
    cm_sort sort;
    if (!cm_read_sort(d, &sort)) return false;
    uint8_t target = qe_read_u8(d->r);
    if (!reader_ok(d)) return false;
    def->sort = sort;
    void *what = NULL;
    if (target == 0x00) { /* export of a component instance */
        def->op = OP_ALIAS_EXPORT;
        def->idx = qe_read_u32(d->r);
        if (!reader_ok(d) || !(def->name = cm_read_string(d))) return false;
        void *inst = NULL;
        if (!cm_lookup(d, S_INSTANCE, def->idx, "alias export", &inst)) return false;
        const cm_extern *e = find_extern(inst, def->name);
        if (!e) return cm_fail(d, "alias export: instance %u has no export named '%s'", def->idx, def->name);
        if (e->sort != sort)
            return cm_fail(d, "alias export: '%s' of instance %u is a %s, not a %s", def->name, def->idx,
                           cm_sort_name(e->sort), cm_sort_name(sort));
        what = e->type;
        if (sort == S_TYPE) def->type = e->type; /* what a nested instantiation is given */
    } else if (target == 0x01) { /* export of a core instance */
        def->op = OP_ALIAS_CORE_EXPORT;
        def->idx = qe_read_u32(d->r);
        if (!reader_ok(d) || !(def->name = cm_read_string(d))) return false;
        if (sort > S_CORE_GLOBAL) return cm_fail(d, "alias core export: a %s cannot be exported by a core instance", cm_sort_name(sort));
        if (!d->c) return cm_fail(d, "alias core export is not allowed in type declarations");
        void *ci_ = NULL;
        if (!cm_lookup(d, S_CORE_INSTANCE, def->idx, "alias core export", &ci_)) return false;
        const cm_core_inst *ci = ci_;
        bool found = false;
        if (ci->module) {
            size_t n = qv_module_export_count(ci->module);
            for (size_t i = 0; i < n && !found; i++) {
                const char *name;
                qv_externkind kind;
                qv_module_export(ci->module, i, &name, &kind);
                if (!strcmp(name, def->name)) {
                    found = true;
                    if ((cm_sort)kind != sort)
                        return cm_fail(d, "alias core export: '%s' of core instance %u is not a %s", def->name, def->idx,
                                       cm_sort_name(sort));
                    if (sort == S_CORE_FUNC && !(what = cm_new_functype(d, qv_module_export_functype(ci->module, i))))
                        return false;
                }
            }
        } else {
            for (uint32_t i = 0; i < ci->nexports && !found; i++)
                if (!strcmp(ci->exports[i].name, def->name)) {
                    found = true;
                    if (ci->exports[i].sort != sort)
                        return cm_fail(d, "alias core export: '%s' of core instance %u is not a %s", def->name, def->idx,
                                       cm_sort_name(sort));
                    what = d->space[sort].at[ci->exports[i].idx]; /* its static type, if known */
                }
        }
        if (!found) return cm_fail(d, "alias core export: core instance %u has no export named '%s'", def->idx, def->name);
    } else if (target == 0x02) { /* outer */
        def->op = OP_ALIAS_OUTER;
        uint32_t count = qe_read_u32(d->r);
        def->idx = qe_read_u32(d->r);
        if (!reader_ok(d)) return false;
        if (sort == S_COMPONENT) return cm_fail(d, "alias outer of a component is not supported");
        if (sort != S_TYPE && sort != S_CORE_TYPE && sort != S_CORE_MODULE)
            return cm_fail(d, "alias outer: a %s cannot be aliased from an enclosing component", cm_sort_name(sort));
        dstate *o = d;
        for (uint32_t i = 0; i < count && o; i++) o = o->outer;
        if (!o) return cm_fail(d, "alias outer: there are not %u enclosing components", count);
        if (!cm_lookup(o, sort, def->idx, "alias outer", &what)) return false;
        def->outer = what;
    } else {
        return cm_fail(d, "malformed alias target 0x%02x", target);
    }
    return cm_define(d, sort, what);
}

/* Declarations of an instance type (exports) or component type (imports
 * and exports), with their own index spaces. */
/* How many components and type declarations d is nested in. */
int cm_nesting(const dstate *d)
{
    int n = 0;
    for (const dstate *o = d->outer; o; o = o->outer) n++;
    return n;
}

static bool read_decls(dstate *outer, cm_type *t, bool component)
{
    if (cm_nesting(outer) >= CM_MAX_NESTING)
        return cm_fail(outer, "components and type declarations are nested deeper than %d", CM_MAX_NESTING);
    dstate d = {.outer = outer, .arena = outer->arena, .nrids = outer->nrids, .r = outer->r, .err = outer->err};
    uint32_t n = qe_read_u32(d.r);
    bool ok = reader_ok(&d);
    for (uint32_t i = 0; ok && i < n; i++) {
        uint8_t kind = qe_read_u8(d.r);
        if (!(ok = reader_ok(&d))) break;
        cm_def scratch = {0};
        switch (kind) {
        case 0x00: ok = cm_read_core_type(&d); break;
        case 0x01: ok = cm_read_deftype(&d); break;
        case 0x02: ok = cm_read_alias(&d, &scratch); break;
        case 0x03:
        case 0x04: {
            if (kind == 0x03 && !component) {
                ok = cm_fail(&d, "an instance type cannot declare imports");
                break;
            }
            if (kind == 0x03 && d.externs.n > d.nimports) {
                ok = cm_fail(&d, "a component type must declare its imports before its exports");
                break;
            }
            cm_extern *e = cm_alloc(d.arena, sizeof *e);
            if (!e || !(e->name = cm_read_extern_name(&d)) ||
                !cm_read_externdesc(&d, e->name, &e->sort, &e->type)) {
                ok = e ? false : cm_fail(&d, "out of memory");
                break;
            }
            if (!cm_vec_push(&d.externs, e) || !cm_define(&d, e->sort, e->type)) {
                ok = ok ? cm_fail(&d, "out of memory") : false;
                break;
            }
            if (kind == 0x03) d.nimports++;
            break;
        }
        default:
            ok = cm_fail(&d, "malformed %s type declaration 0x%02x", component ? "component" : "instance", kind);
        }
    }
    if (ok) {
        t->n = d.externs.n;
        t->nimports = d.nimports;
        t->externs = cm_alloc(d.arena, (t->n ? t->n : 1) * sizeof *t->externs);
        if (!t->externs) ok = cm_fail(&d, "out of memory");
        for (uint32_t i = 0; ok && i < t->n; i++) t->externs[i] = *(cm_extern *)d.externs.at[i];
        /* Names are unique among the imports, and among the exports. */
        if (ok) ok = cm_unique(&d, (const char *const *)&t->externs[0].name, sizeof *t->externs, t->nimports, "imports");
        if (ok) ok = cm_index_exports(&d, t, t->nimports);
    }
    for (int s = 0; s < S_COUNT; s++) cm_vec_free(&d.space[s]);
    cm_vec_free(&d.externs);
    return ok;
}
