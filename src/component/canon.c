/*
 * canon.c — the canonical ABI: lifting values out of core wasm (flat core
 * values and linear memory) and lowering them into it, as the functions
 * lift_flat, lower_flat, load and store of the component model's
 * CanonicalABI.md do. Every pointer from the guest is checked for
 * alignment and bounds, every discriminant, char and string for validity;
 * a violation traps with a message saying which.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "component/runtime.h"
#include "engine/reader.h"

#define UTF16_TAG (1u << 31)
#define MAX_STRING_BYTE_LENGTH ((1u << 31) - 1)

bool cm_trap(cm_cx *cx, const char *fmt, ...)
{
    if (!cx->trap) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        cx->trap = qv_trap_new(QV_TRAP_HOST, msg);
    }
    return false;
}

static uint8_t *mem_at(cm_cx *cx, uint64_t ptr, uint64_t len, const char *what)
{
    qv_memory *m = cx->opts->memory;
    if (!m) return cm_trap(cx, "%s: no memory to read or write", what), NULL;
    uint64_t size = qv_memory_size(m);
    if (ptr > size || len > size - ptr)
        return cm_trap(cx, "%s: %llu bytes at %llu are out of bounds of memory (%llu bytes)", what,
                       (unsigned long long)len, (unsigned long long)ptr, (unsigned long long)size), NULL;
    return qv_memory_data(m) + ptr;
}

static bool check_align(cm_cx *cx, uint32_t ptr, uint32_t align, const char *what)
{
    if (ptr & (align - 1)) return cm_trap(cx, "%s: pointer %u is not aligned to %u", what, ptr, align);
    return true;
}

bool cm_realloc(cm_cx *cx, uint32_t old, uint32_t old_size, uint32_t align, uint32_t size, uint32_t *out)
{
    if (!cx->opts->realloc) return cm_trap(cx, "no realloc function to allocate in wasm memory");
    qv_val args[4] = {qv_i32((int32_t)old), qv_i32((int32_t)old_size), qv_i32((int32_t)align), qv_i32((int32_t)size)};
    qv_val res[1];
    qv_trap *t = qv_func_call(cx->inst->store, cx->opts->realloc, args, 4, res, 1);
    if (t) {
        if (!cx->trap) cx->trap = t;
        else qv_trap_delete(t);
        return false;
    }
    uint32_t p = (uint32_t)res[0].of.i32;
    if (!check_align(cx, p, align, "realloc's result") || !mem_at(cx, p, size, "realloc's result")) return false;
    *out = p;
    return true;
}

/* ------------------------------------------------------------ scalars */

static bool lift_char(cm_cx *cx, uint32_t c, qv_cval *out)
{
    if (c >= 0x110000 || (c >= 0xD800 && c <= 0xDFFF)) return cm_trap(cx, "invalid char: 0x%x is not a Unicode scalar value", c);
    out->of.ch = c;
    return true;
}

/* Canonical NaN on the way in (CanonicalABI.md, canonicalize_nan). */
static float lift_f32(uint32_t bits)
{
    float f;
    if ((bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu)) bits = 0x7FC00000u;
    memcpy(&f, &bits, 4);
    return f;
}
static double lift_f64(uint64_t bits)
{
    double f;
    if ((bits & 0x7FF0000000000000ull) == 0x7FF0000000000000ull && (bits & 0x000FFFFFFFFFFFFFull))
        bits = 0x7FF8000000000000ull;
    memcpy(&f, &bits, 8);
    return f;
}

/* A scalar from its bits (low bits of a flat value or a memory word). */
static bool lift_scalar(cm_cx *cx, uint8_t kind, uint64_t bits, qv_cval *out)
{
    out->kind = kind;
    switch (kind) {
    case QV_C_BOOL: out->of.b = (uint32_t)bits != 0; return true;
    case QV_C_S8: out->of.s = (int8_t)bits; return true;
    case QV_C_U8: out->of.u = (uint8_t)bits; return true;
    case QV_C_S16: out->of.s = (int16_t)bits; return true;
    case QV_C_U16: out->of.u = (uint16_t)bits; return true;
    case QV_C_S32: out->of.s = (int32_t)bits; return true;
    case QV_C_U32: out->of.u = (uint32_t)bits; return true;
    case QV_C_S64: out->of.s = (int64_t)bits; return true;
    case QV_C_U64: out->of.u = bits; return true;
    case QV_C_F32: out->of.f32 = lift_f32((uint32_t)bits); return true;
    case QV_C_F64: out->of.f64 = lift_f64(bits); return true;
    case QV_C_CHAR: return lift_char(cx, (uint32_t)bits, out);
    }
    return cm_trap(cx, "internal error: %s is not a scalar", cm_kind_name(kind));
}

static bool kind_is(cm_cx *cx, const qv_cval *v, const cm_type *t)
{
    if (v->kind == t->kind) return true;
    return cm_trap(cx, "a value of type %s was given where %s is expected", cm_kind_name(v->kind), cm_kind_name(t->kind));
}

static bool lower_scalar(cm_cx *cx, const cm_type *t, const qv_cval *v, uint64_t *bits)
{
    if (!kind_is(cx, v, t)) return false;
    switch (t->kind) {
    case QV_C_BOOL: *bits = v->of.b ? 1 : 0; return true;
    case QV_C_S8: case QV_C_S16: case QV_C_S32: *bits = (uint32_t)(int32_t)v->of.s; return true;
    case QV_C_U8: case QV_C_U16: case QV_C_U32: *bits = (uint32_t)v->of.u; return true;
    case QV_C_S64: *bits = (uint64_t)v->of.s; return true;
    case QV_C_U64: *bits = v->of.u; return true;
    case QV_C_F32: {
        uint32_t b;
        memcpy(&b, &v->of.f32, 4);
        if ((b & 0x7F800000u) == 0x7F800000u && (b & 0x007FFFFFu)) b = 0x7FC00000u;
        *bits = b;
        return true;
    }
    case QV_C_F64: {
        uint64_t b;
        memcpy(&b, &v->of.f64, 8);
        if ((b & 0x7FF0000000000000ull) == 0x7FF0000000000000ull && (b & 0x000FFFFFFFFFFFFFull)) b = 0x7FF8000000000000ull;
        *bits = b;
        return true;
    }
    case QV_C_CHAR:
        if (v->of.ch >= 0x110000 || (v->of.ch >= 0xD800 && v->of.ch <= 0xDFFF))
            return cm_trap(cx, "invalid char: 0x%x is not a Unicode scalar value", v->of.ch);
        *bits = v->of.ch;
        return true;
    }
    return cm_trap(cx, "internal error: %s is not a scalar", cm_kind_name(t->kind));
}

static bool is_scalar(uint8_t kind) { return kind >= QV_C_BOOL && kind <= QV_C_CHAR; }

/* ------------------------------------------------------------ strings */

/* Append code point c as UTF-8 at out (room for 4 bytes). */
static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) return out[0] = (char)c, 1;
    if (c < 0x800) return out[0] = (char)(0xC0 | c >> 6), out[1] = (char)(0x80 | (c & 0x3F)), 2;
    if (c < 0x10000)
        return out[0] = (char)(0xE0 | c >> 12), out[1] = (char)(0x80 | ((c >> 6) & 0x3F)), out[2] = (char)(0x80 | (c & 0x3F)), 3;
    out[0] = (char)(0xF0 | c >> 18), out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F)), out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Append code point c as UTF-16LE at d (unit *units, advanced). */
static void put_utf16(uint8_t *d, uint32_t *units, uint32_t c)
{
    if (c >= 0x10000) {
        c -= 0x10000;
        uint16_t hi = (uint16_t)(0xD800 + (c >> 10)), lo = (uint16_t)(0xDC00 + (c & 0x3FF));
        d[2 * *units] = (uint8_t)hi, d[2 * *units + 1] = (uint8_t)(hi >> 8), ++*units;
        d[2 * *units] = (uint8_t)lo, d[2 * *units + 1] = (uint8_t)(lo >> 8), ++*units;
    } else {
        d[2 * *units] = (uint8_t)c, d[2 * *units + 1] = (uint8_t)(c >> 8), ++*units;
    }
}

/* Next code point of valid UTF-8 at s (advances *i). */
static uint32_t next_utf8(const uint8_t *s, size_t *i)
{
    uint8_t b = s[*i];
    uint32_t c;
    int more;
    if (b < 0x80) c = b, more = 0;
    else if (b < 0xE0) c = b & 0x1F, more = 1;
    else if (b < 0xF0) c = b & 0x0F, more = 2;
    else c = b & 0x07, more = 3;
    ++*i;
    while (more--) c = (c << 6) | (s[(*i)++] & 0x3F);
    return c;
}

static bool load_string_from_range(cm_cx *cx, uint32_t ptr, uint32_t tagged, qv_cval *out)
{
    uint8_t enc = cx->opts->encoding;
    uint32_t align = 1;
    uint64_t bytes = tagged;
    bool utf16 = false;
    if (enc == CM_UTF16) align = 2, bytes = 2ull * tagged, utf16 = true;
    else if (enc == CM_LATIN1_UTF16) {
        align = 2;
        if (tagged & UTF16_TAG) bytes = 2ull * (tagged ^ UTF16_TAG), utf16 = true;
    }
    if (!check_align(cx, ptr, align, "string")) return false;
    const uint8_t *p = mem_at(cx, ptr, bytes, "string");
    if (!p) return false;
    out->kind = QV_C_STRING;
    if (enc == CM_UTF8) {
        if (!qe_utf8_valid(p, bytes)) return cm_trap(cx, "string at %u is not valid UTF-8", ptr);
        out->of.str.ptr = (const char *)p;
        out->of.str.len = bytes;
        return true;
    }
    /* Transcode into UTF-8 (at most 3 bytes per UTF-16 unit, 2 per Latin-1 byte). */
    char *dst = cm_alloc(cx->values, bytes * 2 + 1);
    if (!dst) return cm_trap(cx, "out of memory transcoding a string");
    size_t n = 0;
    if (!utf16) {
        for (uint64_t i = 0; i < bytes; i++) n += put_utf8(dst + n, p[i]);
    } else {
        uint64_t units = bytes / 2;
        for (uint64_t i = 0; i < units; i++) {
            uint32_t u = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
            if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units) {
                uint32_t lo = (uint32_t)p[2 * i + 2] | (uint32_t)p[2 * i + 3] << 8;
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                    i++;
                }
            }
            if (u >= 0xD800 && u <= 0xDFFF) return cm_trap(cx, "string at %u: unpaired UTF-16 surrogate 0x%x", ptr, u);
            n += put_utf8(dst + n, u);
        }
    }
    out->of.str.ptr = dst;
    out->of.str.len = n;
    return true;
}

/* Store a host (UTF-8) string in the guest's encoding: (ptr, tagged length). */
static bool store_string_into_range(cm_cx *cx, const qv_cval *v, uint32_t *ptr_out, uint32_t *len_out)
{
    const uint8_t *src = (const uint8_t *)v->of.str.ptr;
    size_t n = v->of.str.len;
    if (n > MAX_STRING_BYTE_LENGTH) return cm_trap(cx, "string of %zu bytes is too long", n);
    if (n && !src) return cm_trap(cx, "a string value has no bytes");
    uint32_t ptr;
    switch (cx->opts->encoding) {
    case CM_UTF8: {
        uint8_t *dst;
        if (!cm_realloc(cx, 0, 0, 1, (uint32_t)n, &ptr) || !(dst = mem_at(cx, ptr, n, "string"))) return false;
        if (n) memcpy(dst, src, n);
        *ptr_out = ptr, *len_out = (uint32_t)n;
        return true;
    }
    case CM_UTF16: {
        uint64_t worst = 2ull * n;
        if (worst > MAX_STRING_BYTE_LENGTH) return cm_trap(cx, "string of %zu bytes is too long for UTF-16", n);
        if (!cm_realloc(cx, 0, 0, 2, (uint32_t)worst, &ptr)) return false;
        uint32_t units = 0;
        uint8_t *d = qv_memory_data(cx->opts->memory) + ptr;
        for (size_t i = 0; i < n;) put_utf16(d, &units, next_utf8(src, &i));
        if (2ull * units < worst && !cm_realloc(cx, ptr, (uint32_t)worst, 2, 2 * units, &ptr)) return false;
        *ptr_out = ptr, *len_out = units;
        return true;
    }
    default: { /* latin1+utf16: Latin-1 if every code point fits, else UTF-16 tagged */
        if (!cm_realloc(cx, 0, 0, 2, (uint32_t)n, &ptr)) return false;
        uint32_t len = 0;
        for (size_t i = 0; i < n;) {
            uint32_t c = next_utf8(src, &i);
            if (c < 0x100) {
                qv_memory_data(cx->opts->memory)[ptr + len++] = (uint8_t)c;
                continue;
            }
            uint64_t worst = 2ull * n;
            if (worst > MAX_STRING_BYTE_LENGTH) return cm_trap(cx, "string of %zu bytes is too long for UTF-16", n);
            if (!cm_realloc(cx, ptr, (uint32_t)n, 2, (uint32_t)worst, &ptr)) return false;
            uint8_t *d = qv_memory_data(cx->opts->memory) + ptr;
            for (uint32_t j = len; j-- > 0;) d[2 * j] = d[j], d[2 * j + 1] = 0; /* widen what is there */
            uint32_t units = 0;
            for (size_t k = 0; k < n;) put_utf16(d, &units, next_utf8(src, &k));
            if (2ull * units < worst && !cm_realloc(cx, ptr, (uint32_t)worst, 2, 2 * units, &ptr)) return false;
            *ptr_out = ptr, *len_out = units | UTF16_TAG;
            return true;
        }
        if (len < n && !cm_realloc(cx, ptr, (uint32_t)n, 2, len, &ptr)) return false;
        *ptr_out = ptr, *len_out = len;
        return true;
    }
    }
}

/* ------------------------------------------------------------ lists */

static bool load_list_from_range(cm_cx *cx, const cm_type *elem, uint32_t ptr, uint32_t n, qv_cval *out)
{
    out->kind = QV_C_LIST;
    if (!check_align(cx, ptr, elem->align, "list")) return false;
    const uint8_t *p = mem_at(cx, ptr, (uint64_t)n * elem->size, "list");
    if (!p) return false;
    out->of.list.n = n;
    if (cm_is_number(elem->kind)) {
        out->of.list.raw = p; /* memories never move, and nothing runs in the guest before the host is done */
        return true;
    }
    qv_cval *items = cm_alloc(cx->values, (size_t)(n ? n : 1) * sizeof *items);
    if (!items) return cm_trap(cx, "out of memory lifting a list of %u elements", n);
    for (uint32_t i = 0; i < n; i++)
        if (!cm_load(cx, elem, ptr + i * elem->size, &items[i])) return false;
    out->of.list.items = items;
    return true;
}

static bool store_list_into_range(cm_cx *cx, const cm_type *elem, const qv_cval *v, uint32_t *ptr_out)
{
    uint64_t bytes = (uint64_t)v->of.list.n * elem->size;
    if (bytes >= (1ull << 32)) return cm_trap(cx, "a list of %zu elements is too large", v->of.list.n);
    uint32_t ptr;
    if (!cm_realloc(cx, 0, 0, elem->align, (uint32_t)bytes, &ptr)) return false;
    if (cm_is_number(elem->kind) && v->of.list.raw) {
        if (bytes) memcpy(qv_memory_data(cx->opts->memory) + ptr, v->of.list.raw, bytes);
    } else {
        if (v->of.list.n && !v->of.list.items) return cm_trap(cx, "a list value has no elements");
        for (size_t i = 0; i < v->of.list.n; i++)
            if (!cm_store(cx, elem, &v->of.list.items[i], ptr + (uint32_t)i * elem->size)) return false;
    }
    *ptr_out = ptr;
    return true;
}

/* ------------------------------------------------------------ handles */

static bool lift_handle(cm_cx *cx, const cm_type *t, uint32_t i, qv_cval *out)
{
    out->kind = t->kind;
    cm_handle *h = cm_table_get(cx, &cx->inst->table, i);
    if (!h) return false;
    cm_restype *want = cm_rtype(cx->inst, t->elems[0]);
    if (h->rt != want)
        return cm_trap(cx, "handle %u is a %s, not a %s", i, h->rt->name ? h->rt->name : "resource",
                       want && want->name ? want->name : "resource");
    if (t->kind == QV_C_OWN) {
        if (!h->own) return cm_trap(cx, "handle %u is borrowed, and cannot be passed as owned", i);
        if (h->lends) return cm_trap(cx, "handle %u is lent out, and cannot be passed as owned", i);
        out->of.rep = h->rep;
        cm_table_remove(&cx->inst->table, i);
        return true;
    }
    if (h->own) {
        if (cx->nlent == cx->caplent) {
            uint32_t cap = cx->caplent ? cx->caplent * 2 : 8;
            uint32_t *grown = cm_alloc(cx->values, cap * sizeof *grown);
            if (!grown) return cm_trap(cx, "out of memory");
            if (cx->nlent) memcpy(grown, cx->lent, cx->nlent * sizeof *grown);
            cx->lent = grown;
            cx->caplent = cap;
        }
        h->lends++;
        cx->lent[cx->nlent++] = i;
    }
    out->of.rep = h->rep;
    return true;
}

static bool lower_handle(cm_cx *cx, const cm_type *t, const qv_cval *v, uint64_t *bits)
{
    if (!kind_is(cx, v, t)) return false;
    cm_restype *rt = cm_rtype(cx->inst, t->elems[0]);
    if (!rt) return cm_trap(cx, "internal error: resource type %s is not bound", t->elems[0]->name);
    if (t->kind == QV_C_BORROW && rt->owner == cx->inst) {
        *bits = (uint32_t)(uintptr_t)v->of.rep; /* a component's own resource: its representation */
        return true;
    }
    cm_handle h = {.rt = rt, .rep = v->of.rep, .own = t->kind == QV_C_OWN, .scope = t->kind == QV_C_BORROW ? cx : NULL};
    uint32_t i = cm_table_add(cx, &cx->inst->table, h);
    if (!i) return false;
    if (t->kind == QV_C_BORROW) cx->borrows++, cx->borrows_given++;
    *bits = i;
    return true;
}

/* ------------------------------------------------------------ flat */

bool cm_lift_flat(cm_cx *cx, const cm_type *t, const uint64_t *flat, uint32_t *at, qv_cval *out)
{
    if (is_scalar(t->kind)) return lift_scalar(cx, t->kind, flat[(*at)++], out);
    switch (t->kind) {
    case QV_C_STRING: {
        uint32_t ptr = (uint32_t)flat[*at], len = (uint32_t)flat[*at + 1];
        *at += 2;
        return load_string_from_range(cx, ptr, len, out);
    }
    case QV_C_LIST: {
        uint32_t ptr = (uint32_t)flat[*at], len = (uint32_t)flat[*at + 1];
        *at += 2;
        return load_list_from_range(cx, t->elems[0], ptr, len, out);
    }
    case QV_C_RECORD: case QV_C_TUPLE: {
        out->kind = t->kind;
        qv_cval *items = cm_alloc(cx->values, t->n * sizeof *items);
        if (!items) return cm_trap(cx, "out of memory");
        for (uint32_t i = 0; i < t->n; i++)
            if (!cm_lift_flat(cx, t->elems[i], flat, at, &items[i])) return false;
        out->of.fields.items = items;
        out->of.fields.n = t->n;
        return true;
    }
    case QV_C_VARIANT: case QV_C_ENUM: case QV_C_OPTION: case QV_C_RESULT: {
        out->kind = t->kind;
        uint32_t disc = (uint32_t)flat[(*at)++], end = *at + t->nflat - 1;
        if (disc >= cm_cases(t)) return cm_trap(cx, "%s discriminant %u is out of range (%u cases)", cm_kind_name(t->kind), disc, cm_cases(t));
        out->of.var.disc = disc;
        const cm_type *c = cm_case_type(t, disc);
        if (c) {
            /* The joined slots hold the case's values in their low bits. */
            if (!(out->of.var.payload = cm_alloc(cx->values, sizeof *out->of.var.payload))) return cm_trap(cx, "out of memory");
            if (!cm_lift_flat(cx, c, flat, at, out->of.var.payload)) return false;
        }
        *at = end;
        return true;
    }
    case QV_C_FLAGS:
        out->kind = QV_C_FLAGS;
        out->of.u = (uint32_t)flat[(*at)++] & (t->n >= 32 ? 0xFFFFFFFFu : (1u << t->n) - 1);
        return true;
    case QV_C_OWN: case QV_C_BORROW:
        return lift_handle(cx, t, (uint32_t)flat[(*at)++], out);
    }
    return cm_trap(cx, "cannot lift a %s", cm_kind_name(t->kind));
}

bool cm_lower_flat(cm_cx *cx, const cm_type *t, const qv_cval *v, uint64_t *flat, uint32_t *at)
{
    if (is_scalar(t->kind)) return lower_scalar(cx, t, v, &flat[(*at)++]);
    if (!kind_is(cx, v, t)) return false;
    switch (t->kind) {
    case QV_C_STRING: {
        uint32_t ptr, len;
        if (!store_string_into_range(cx, v, &ptr, &len)) return false;
        flat[(*at)++] = ptr, flat[(*at)++] = len;
        return true;
    }
    case QV_C_LIST: {
        uint32_t ptr;
        if (!store_list_into_range(cx, t->elems[0], v, &ptr)) return false;
        flat[(*at)++] = ptr, flat[(*at)++] = (uint32_t)v->of.list.n;
        return true;
    }
    case QV_C_RECORD: case QV_C_TUPLE:
        if (v->of.fields.n != t->n || !v->of.fields.items) return cm_trap(cx, "a %s value has %zu fields, not %u", cm_kind_name(t->kind), v->of.fields.n, t->n);
        for (uint32_t i = 0; i < t->n; i++)
            if (!cm_lower_flat(cx, t->elems[i], &v->of.fields.items[i], flat, at)) return false;
        return true;
    case QV_C_VARIANT: case QV_C_ENUM: case QV_C_OPTION: case QV_C_RESULT: {
        uint32_t disc = v->of.var.disc, start = *at, end = *at + t->nflat;
        if (disc >= cm_cases(t)) return cm_trap(cx, "%s discriminant %u is out of range", cm_kind_name(t->kind), disc);
        flat[(*at)++] = disc;
        const cm_type *c = cm_case_type(t, disc);
        if (c) {
            if (!v->of.var.payload) return cm_trap(cx, "a %s case lacks its payload", cm_kind_name(t->kind));
            if (!cm_lower_flat(cx, c, v->of.var.payload, flat, at)) return false;
        }
        while (*at < end) flat[(*at)++] = 0;
        (void)start;
        return true;
    }
    case QV_C_FLAGS:
        flat[(*at)++] = (uint32_t)v->of.u & (t->n >= 32 ? 0xFFFFFFFFu : (1u << t->n) - 1);
        return true;
    case QV_C_OWN: case QV_C_BORROW:
        return lower_handle(cx, t, v, &flat[(*at)++]);
    }
    return cm_trap(cx, "cannot lower a %s", cm_kind_name(t->kind));
}

/* ------------------------------------------------------------ memory */

static uint64_t load_int(const uint8_t *p, uint32_t size)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < size; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void store_int(uint8_t *p, uint64_t v, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++) p[i] = (uint8_t)(v >> (8 * i));
}

bool cm_load(cm_cx *cx, const cm_type *t, uint32_t ptr, qv_cval *out)
{
    const uint8_t *p = mem_at(cx, ptr, t->size, cm_kind_name(t->kind));
    if (!p) return false;
    if (is_scalar(t->kind)) return lift_scalar(cx, t->kind, load_int(p, t->size), out);
    switch (t->kind) {
    case QV_C_STRING: return load_string_from_range(cx, (uint32_t)load_int(p, 4), (uint32_t)load_int(p + 4, 4), out);
    case QV_C_LIST: return load_list_from_range(cx, t->elems[0], (uint32_t)load_int(p, 4), (uint32_t)load_int(p + 4, 4), out);
    case QV_C_RECORD: case QV_C_TUPLE: {
        out->kind = t->kind;
        qv_cval *items = cm_alloc(cx->values, t->n * sizeof *items);
        if (!items) return cm_trap(cx, "out of memory");
        uint32_t off = 0;
        for (uint32_t i = 0; i < t->n; i++) {
            off = cm_align_to(off, t->elems[i]->align);
            if (!cm_load(cx, t->elems[i], ptr + off, &items[i])) return false;
            off += t->elems[i]->size;
        }
        out->of.fields.items = items;
        out->of.fields.n = t->n;
        return true;
    }
    case QV_C_VARIANT: case QV_C_ENUM: case QV_C_OPTION: case QV_C_RESULT: {
        out->kind = t->kind;
        uint32_t n = cm_cases(t), disc = (uint32_t)load_int(p, cm_disc_size(n));
        if (disc >= n) return cm_trap(cx, "%s discriminant %u is out of range (%u cases)", cm_kind_name(t->kind), disc, n);
        out->of.var.disc = disc;
        const cm_type *c = cm_case_type(t, disc);
        if (!c) return true;
        if (!(out->of.var.payload = cm_alloc(cx->values, sizeof *out->of.var.payload))) return cm_trap(cx, "out of memory");
        return cm_load(cx, c, ptr + cm_payload_offset(t), out->of.var.payload);
    }
    case QV_C_FLAGS:
        out->kind = QV_C_FLAGS;
        out->of.u = load_int(p, t->size) & (t->n >= 32 ? 0xFFFFFFFFu : (1u << t->n) - 1);
        return true;
    case QV_C_OWN: case QV_C_BORROW:
        return lift_handle(cx, t, (uint32_t)load_int(p, 4), out);
    }
    return cm_trap(cx, "cannot load a %s", cm_kind_name(t->kind));
}

bool cm_store(cm_cx *cx, const cm_type *t, const qv_cval *v, uint32_t ptr)
{
    if (!mem_at(cx, ptr, t->size, cm_kind_name(t->kind))) return false;
    uint64_t bits;
    /* Re-fetch the pointer after anything that may call realloc (memory
     * does not move, but keep it simple and explicit). */
#define AT(off) (qv_memory_data(cx->opts->memory) + ptr + (off))
    if (is_scalar(t->kind)) {
        if (!lower_scalar(cx, t, v, &bits)) return false;
        store_int(AT(0), bits, t->size);
        return true;
    }
    if (!kind_is(cx, v, t)) return false;
    switch (t->kind) {
    case QV_C_STRING: {
        uint32_t sp, sl;
        if (!store_string_into_range(cx, v, &sp, &sl)) return false;
        store_int(AT(0), sp, 4);
        store_int(AT(4), sl, 4);
        return true;
    }
    case QV_C_LIST: {
        uint32_t lp;
        if (!store_list_into_range(cx, t->elems[0], v, &lp)) return false;
        store_int(AT(0), lp, 4);
        store_int(AT(4), v->of.list.n, 4);
        return true;
    }
    case QV_C_RECORD: case QV_C_TUPLE: {
        if (v->of.fields.n != t->n || !v->of.fields.items) return cm_trap(cx, "a %s value has %zu fields, not %u", cm_kind_name(t->kind), v->of.fields.n, t->n);
        uint32_t off = 0;
        for (uint32_t i = 0; i < t->n; i++) {
            off = cm_align_to(off, t->elems[i]->align);
            if (!cm_store(cx, t->elems[i], &v->of.fields.items[i], ptr + off)) return false;
            off += t->elems[i]->size;
        }
        return true;
    }
    case QV_C_VARIANT: case QV_C_ENUM: case QV_C_OPTION: case QV_C_RESULT: {
        uint32_t n = cm_cases(t), disc = v->of.var.disc;
        if (disc >= n) return cm_trap(cx, "%s discriminant %u is out of range", cm_kind_name(t->kind), disc);
        store_int(AT(0), disc, cm_disc_size(n));
        const cm_type *c = cm_case_type(t, disc);
        if (!c) return true;
        if (!v->of.var.payload) return cm_trap(cx, "a %s case lacks its payload", cm_kind_name(t->kind));
        return cm_store(cx, c, v->of.var.payload, ptr + cm_payload_offset(t));
    }
    case QV_C_FLAGS:
        store_int(AT(0), v->of.u & (t->n >= 32 ? 0xFFFFFFFFu : (1u << t->n) - 1), t->size);
        return true;
    case QV_C_OWN: case QV_C_BORROW:
        if (!lower_handle(cx, t, v, &bits)) return false;
        store_int(AT(0), bits, 4);
        return true;
    }
#undef AT
    return cm_trap(cx, "cannot store a %s", cm_kind_name(t->kind));
}
