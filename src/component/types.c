/*
 * types.c — layout of component value types under the canonical ABI
 * (alignment, size and flattening as CanonicalABI.md defines them),
 * function signatures as core types, structural comparison and printing.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "component/types.h"

const char *cm_sort_name(cm_sort s)
{
    static const char *const names[S_COUNT] = {
        "core func", "core table", "core memory", "core global", "core type", "core module",
        "core instance", "func", "value", "type", "component", "instance",
    };
    return (unsigned)s < S_COUNT ? names[s] : "unknown sort";
}

const char *cm_kind_name(uint8_t kind)
{
    static const char *const names[] = {
        "?", "bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64", "f32", "f64", "char",
        "string", "list", "record", "tuple", "variant", "enum", "option", "result", "flags", "own", "borrow",
    };
    if (kind < sizeof names / sizeof *names) return names[kind];
    switch (kind) {
    case CM_FUNC: return "func";
    case CM_INSTANCE: return "instance";
    case CM_COMPONENT: return "component";
    case CM_RESOURCE: return "resource";
    case CM_CORE_MODULE: return "core module";
    case CM_CORE_FUNC: return "core func";
    }
    return "?";
}

bool cm_is_value(const cm_type *t) { return t && t->kind >= QV_C_BOOL && t->kind <= QV_C_BORROW; }

bool cm_is_number(uint8_t kind) { return kind >= QV_C_S8 && kind <= QV_C_F64; }

static cm_type prims[QV_C_STRING + 1];
static pthread_once_t prims_once = PTHREAD_ONCE_INIT;

static void init_prims(void)
{
    for (int k = QV_C_BOOL; k <= QV_C_STRING; k++) {
        prims[k].kind = (uint8_t)k;
        prims[k].dtor = -1;
        cm_type_finish(&prims[k]);
    }
}

cm_type *cm_prim(qv_ckind kind)
{
    if (kind < QV_C_BOOL || kind > QV_C_STRING) return NULL;
    pthread_once(&prims_once, init_prims);
    return &prims[kind];
}

uint32_t cm_disc_size(uint32_t n) { return n <= 0x100 ? 1 : n <= 0x10000 ? 2 : 4; }

uint32_t cm_cases(const cm_type *t)
{
    switch (t->kind) {
    case QV_C_OPTION:
    case QV_C_RESULT: return 2;
    default: return t->n;
    }
}

const cm_type *cm_case_type(const cm_type *t, uint32_t i)
{
    switch (t->kind) {
    case QV_C_OPTION: return i == 1 ? t->elems[0] : NULL;
    case QV_C_RESULT: return t->elems[i];
    case QV_C_VARIANT: return t->elems[i];
    default: return NULL; /* enum */
    }
}

static uint32_t max_case_align(const cm_type *t)
{
    uint32_t a = 1;
    for (uint32_t i = 0; i < cm_cases(t); i++) {
        const cm_type *c = cm_case_type(t, i);
        if (c && c->align > a) a = c->align;
    }
    return a;
}

uint32_t cm_payload_offset(const cm_type *t) { return cm_align_to(cm_disc_size(cm_cases(t)), max_case_align(t)); }

/* join of two flat types (CanonicalABI.md, flatten_variant). */
static uint8_t join(uint8_t a, uint8_t b)
{
    if (a == b) return a;
    if ((a == QV_I32 && b == QV_F32) || (a == QV_F32 && b == QV_I32)) return QV_I32;
    return QV_I64;
}

static void flat_push(cm_type *t, uint8_t v)
{
    if (t->nflat < CM_FLAT_CAP) t->flat[t->nflat] = v;
    if (t->nflat < CM_FLAT_CAP) t->nflat++;
}

static void flat_append(cm_type *t, const cm_type *e)
{
    for (uint32_t i = 0; i < e->nflat; i++) flat_push(t, e->flat[i]);
}

/* Depth and whether the size overflowed, from the members. */
static void finish_limits(cm_type *t)
{
    uint32_t n = t->kind == QV_C_OPTION || t->kind == QV_C_LIST || t->kind == QV_C_OWN || t->kind == QV_C_BORROW ? 1
               : t->kind == QV_C_RESULT ? 2
               : t->elems ? t->n
                          : 0;
    uint64_t size = 0;
    t->depth = 1;
    t->too_large = false;
    for (uint32_t i = 0; i < n; i++) {
        const cm_type *e = t->elems[i];
        if (!e) continue;
        if (e->depth + 1 > t->depth) t->depth = e->depth + 1;
        t->too_large |= e->too_large;
        if (t->kind == QV_C_RECORD || t->kind == QV_C_TUPLE) size += (uint64_t)e->size + e->align;
        else if (e->size > size) size = e->size;
    }
    if (size + 8 > UINT32_MAX) t->too_large = true;
}

void cm_type_finish(cm_type *t)
{
    finish_limits(t);
    t->nflat = 0;
    switch (t->kind) {
    case QV_C_BOOL: case QV_C_S8: case QV_C_U8:
        t->size = t->align = 1;
        flat_push(t, QV_I32);
        break;
    case QV_C_S16: case QV_C_U16:
        t->size = t->align = 2;
        flat_push(t, QV_I32);
        break;
    case QV_C_S32: case QV_C_U32: case QV_C_CHAR: case QV_C_OWN: case QV_C_BORROW:
        t->size = t->align = 4;
        flat_push(t, QV_I32);
        break;
    case QV_C_F32:
        t->size = t->align = 4;
        flat_push(t, QV_F32);
        break;
    case QV_C_S64: case QV_C_U64:
        t->size = t->align = 8;
        flat_push(t, QV_I64);
        break;
    case QV_C_F64:
        t->size = t->align = 8;
        flat_push(t, QV_F64);
        break;
    case QV_C_STRING: case QV_C_LIST:
        t->size = 8;
        t->align = 4;
        flat_push(t, QV_I32);
        flat_push(t, QV_I32);
        break;
    case QV_C_RECORD: case QV_C_TUPLE: {
        uint32_t s = 0, a = 1;
        for (uint32_t i = 0; i < t->n; i++) {
            const cm_type *f = t->elems[i];
            s = cm_align_to(s, f->align) + f->size;
            if (f->align > a) a = f->align;
            flat_append(t, f);
        }
        t->align = a;
        t->size = cm_align_to(s, a);
        break;
    }
    case QV_C_FLAGS:
        t->size = t->align = t->n <= 8 ? 1 : t->n <= 16 ? 2 : 4;
        flat_push(t, QV_I32);
        break;
    case QV_C_VARIANT: case QV_C_ENUM: case QV_C_OPTION: case QV_C_RESULT: {
        uint32_t n = cm_cases(t), disc = cm_disc_size(n), ca = max_case_align(t), payload = 0;
        uint8_t joined[CM_FLAT_CAP];
        uint32_t nj = 0;
        for (uint32_t i = 0; i < n; i++) {
            const cm_type *c = cm_case_type(t, i);
            if (!c) continue;
            if (c->size > payload) payload = c->size;
            for (uint32_t k = 0; k < c->nflat && k < CM_FLAT_CAP; k++) {
                if (k < nj) joined[k] = join(joined[k], c->flat[k]);
                else joined[nj++] = c->flat[k];
            }
        }
        t->align = disc > ca ? disc : ca;
        t->size = cm_align_to(cm_align_to(disc, ca) + payload, t->align);
        flat_push(t, QV_I32);
        for (uint32_t k = 0; k < nj; k++) flat_push(t, joined[k]);
        break;
    }
    default:
        break;
    }
}

void cm_core_signature(const cm_type *f, bool lower, cm_coresig *out)
{
    memset(out, 0, sizeof *out);
    uint32_t np = 0;
    for (uint32_t i = 0; i < f->n; i++) np += f->elems[i]->nflat;
    if (np > CM_MAX_FLAT_PARAMS) {
        out->params_in_memory = true;
        out->types[out->nparams++] = QV_I32;
    } else {
        for (uint32_t i = 0; i < f->n; i++)
            for (uint32_t k = 0; k < f->elems[i]->nflat; k++) out->types[out->nparams++] = f->elems[i]->flat[k];
    }
    const cm_type *r = f->result;
    if (r && r->nflat > CM_MAX_FLAT_RESULTS) {
        out->results_in_memory = true;
        if (lower) out->types[out->nparams++] = QV_I32;
        else out->types[out->nparams + out->nresults++] = QV_I32;
    } else if (r && r->nflat) {
        out->types[out->nparams + out->nresults++] = r->flat[0];
    }
}

static bool mismatch(char *why, size_t len, const cm_type *a, const cm_type *b, const char *what)
{
    char ta[96], tb[96];
    cm_type_print(a, ta, sizeof ta);
    cm_type_print(b, tb, sizeof tb);
    snprintf(why, len, "%s: %s is not %s", what, ta, tb);
    return false;
}

static bool same_label(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

bool cm_type_equal(const cm_type *a, const cm_type *b, cm_same_resource same, void *env, char *why, size_t len)
{
    if (a == b) return true;
    if (!a || !b) return mismatch(why, len, a, b, "a payload is missing");
    if (a->kind != b->kind) return mismatch(why, len, a, b, "different kinds");
    switch (a->kind) {
    case CM_RESOURCE:
        return same(env, a, b) ? true : mismatch(why, len, a, b, "different resources");
    case QV_C_OWN: case QV_C_BORROW: case QV_C_LIST: case QV_C_OPTION:
        return cm_type_equal(a->elems[0], b->elems[0], same, env, why, len);
    case QV_C_RESULT:
        return cm_type_equal(a->elems[0], b->elems[0], same, env, why, len) &&
               cm_type_equal(a->elems[1], b->elems[1], same, env, why, len);
    case QV_C_RECORD: case QV_C_TUPLE: case QV_C_VARIANT: case QV_C_ENUM: case QV_C_FLAGS: case CM_FUNC:
        if (a->n != b->n) return mismatch(why, len, a, b, "different numbers of members");
        for (uint32_t i = 0; i < a->n; i++) {
            if (a->kind != QV_C_TUPLE && a->kind != CM_FUNC && !same_label(a->labels[i], b->labels[i]))
                return mismatch(why, len, a, b, "different names");
            if (a->elems && !cm_type_equal(a->elems[i], b->elems[i], same, env, why, len)) return false;
        }
        if (a->kind == CM_FUNC) {
            if (!a->result != !b->result) return mismatch(why, len, a, b, "different results");
            return !a->result || cm_type_equal(a->result, b->result, same, env, why, len);
        }
        return true;
    default:
        return true; /* primitives of the same kind */
    }
}

/* Append to buf at *at without overflowing. */
static void put(char *buf, size_t len, size_t *at, const char *s)
{
    size_t n = strlen(s);
    if (*at + 1 >= len) return;
    if (n > len - *at - 1) n = len - *at - 1;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = 0;
}

static void print_into(const cm_type *t, char *buf, size_t len, size_t *at, int depth)
{
    if (!t) {
        put(buf, len, at, "_");
        return;
    }
    if (depth > 4) {
        put(buf, len, at, "...");
        return;
    }
    if (t->kind == CM_RESOURCE) {
        put(buf, len, at, t->name ? t->name : "resource");
        return;
    }
    put(buf, len, at, cm_kind_name(t->kind));
    uint32_t n = t->kind == QV_C_OWN || t->kind == QV_C_BORROW || t->kind == QV_C_LIST || t->kind == QV_C_OPTION ? 1
               : t->kind == QV_C_RESULT ? 2
               : t->kind == QV_C_TUPLE || t->kind == QV_C_RECORD || t->kind == QV_C_VARIANT || t->kind == CM_FUNC ? t->n
                                                                                                                : 0;
    if (!n && t->kind != CM_FUNC) return;
    put(buf, len, at, t->kind == CM_FUNC ? "(" : "<");
    for (uint32_t i = 0; i < n; i++) {
        if (i) put(buf, len, at, ", ");
        print_into(t->elems[i], buf, len, at, depth + 1);
    }
    put(buf, len, at, t->kind == CM_FUNC ? ")" : ">");
    if (t->kind == CM_FUNC && t->result) {
        put(buf, len, at, " -> ");
        print_into(t->result, buf, len, at, depth + 1);
    }
}

void cm_type_print(const cm_type *t, char *buf, size_t len)
{
    size_t at = 0;
    if (len) buf[0] = 0;
    print_into(t, buf, len, &at, 0);
}
