/*
 * p2_http_fields.c — wasi:http `fields` (headers and trailers): names are
 * HTTP tokens compared without case, values bytes without NUL, CR or LF;
 * hop-by-hop headers are refused as `forbidden`, and the fields of a
 * request or response the guest received or already handed over are
 * `immutable`.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wasi/p2_http.h"

http_fields *http_fields_new(void)
{
    http_fields *f = calloc(1, sizeof *f);
    if (f) f->refs = 1;
    return f;
}

http_fields *http_fields_retain(http_fields *f)
{
    f->refs++;
    return f;
}

void http_fields_release(http_fields *f)
{
    if (!f || --f->refs > 0) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->at[i].name);
        free(f->at[i].value);
    }
    free(f->at);
    free(f);
}

static void fields_dtor(void *env, void *rep) { http_fields_release(rep); }

/* RFC 9110 token characters. */
static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

static bool valid_name(const char *name, size_t len)
{
    if (!len) return false;
    for (size_t i = 0; i < len; i++)
        if (!name[i] || !token_char((unsigned char)name[i])) return false;
    return true;
}

static bool valid_value(const uint8_t *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (v[i] == 0 || v[i] == '\r' || v[i] == '\n') return false;
    return true;
}

/* Headers of the connection itself, which the server (or curl) sets. */
static bool forbidden(const char *name, size_t len)
{
    static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                        "upgrade", "http2-settings"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && !strncasecmp(names[i], name, len)) return true;
    return false;
}

static bool same_name(const http_field *f, const char *name, size_t len)
{
    return strlen(f->name) == len && !strncasecmp(f->name, name, len);
}

int http_fields_add(http_fields *f, const char *name, size_t name_len, const void *value, size_t len)
{
    if (!valid_name(name, name_len) || !valid_value(value, len)) return HE_INVALID_SYNTAX;
    if (forbidden(name, name_len)) return HE_FORBIDDEN;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        http_field *grown = realloc(f->at, cap * sizeof *grown);
        if (!grown) return HE_OUT_OF_MEMORY;
        f->at = grown;
        f->cap = cap;
    }
    http_field *e = &f->at[f->n];
    e->name = strndup(name, name_len);
    e->value = malloc(len + 1);
    if (!e->name || !e->value) {
        free(e->name);
        free(e->value);
        return HE_OUT_OF_MEMORY;
    }
    memcpy(e->value, value, len);
    e->value[len] = 0;
    e->len = len;
    f->n++;
    return -1;
}

static void remove_all(http_fields *f, const char *name, size_t len)
{
    size_t kept = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (same_name(&f->at[i], name, len)) {
            free(f->at[i].name);
            free(f->at[i].value);
        } else {
            f->at[kept++] = f->at[i];
        }
    }
    f->n = kept;
}

/* ------------------------------------------------------------ values */

/* result<_, header-error> (or result<own<fields>, header-error> with ok). */
static qv_cval header_result(qv_ccall *c, int err, const qv_cval *ok)
{
    if (err < 0) return p2_ok(c, ok);
    qv_cval e = p2_case(c, QV_C_VARIANT, (uint32_t)err, NULL);
    return p2_case(c, QV_C_RESULT, 1, &e);
}

static qv_trap *oom_or(int err)
{
    return err == HE_OUT_OF_MEMORY ? p2_trap_oom() : NULL;
}

static qv_cval entry(qv_ccall *c, const http_field *e)
{
    qv_cval pair[2] = {p2_string(c, e->name, strlen(e->name)), p2_bytes(c, e->value, e->len)};
    return p2_tuple(c, QV_C_TUPLE, pair, 2);
}

/* ------------------------------------------------------------ functions */

static qv_trap *fields_new(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_fields *f = http_fields_new();
    if (!f) return p2_trap_oom();
    r[0] = p2_own(f);
    return NULL;
}

static qv_trap *fields_from_list(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_fields *f = http_fields_new();
    if (!f) return p2_trap_oom();
    int err = -1;
    for (size_t i = 0; i < a[0].of.list.n && err < 0; i++) {
        const qv_cval *pair = a[0].of.list.items[i].of.fields.items;
        err = http_fields_add(f, pair[0].of.str.ptr, pair[0].of.str.len, pair[1].of.list.raw, pair[1].of.list.n);
    }
    if (err >= 0) {
        http_fields_release(f);
        r[0] = header_result(c, err, NULL);
        return oom_or(err);
    }
    qv_cval own = p2_own(f);
    r[0] = p2_ok(c, &own);
    return NULL;
}

static qv_trap *fields_get(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_fields *f = a[0].of.rep;
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) n += same_name(&f->at[i], a[1].of.str.ptr, a[1].of.str.len);
    qv_cval *items = qv_ccall_alloc(c, (n ? n : 1) * sizeof *items);
    if (!items) return p2_trap_oom();
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (same_name(&f->at[i], a[1].of.str.ptr, a[1].of.str.len)) items[k++] = p2_bytes(c, f->at[i].value, f->at[i].len);
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {items, NULL, k}};
    return NULL;
}

static qv_trap *fields_has(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_fields *f = a[0].of.rep;
    bool found = false;
    for (size_t i = 0; i < f->n && !found; i++) found = same_name(&f->at[i], a[1].of.str.ptr, a[1].of.str.len);
    r[0] = p2_bool(found);
    return NULL;
}

/* The checks set, delete and append make before changing anything. */
static int may_change(const http_fields *f, const qv_cval *name)
{
    if (!valid_name(name->of.str.ptr, name->of.str.len)) return HE_INVALID_SYNTAX;
    if (f->immutable) return HE_IMMUTABLE;
    if (forbidden(name->of.str.ptr, name->of.str.len)) return HE_FORBIDDEN;
    return -1;
}

static qv_trap *fields_set(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_fields *f = a[0].of.rep;
    int err = may_change(f, &a[1]);
    for (size_t i = 0; err < 0 && i < a[2].of.list.n; i++)
        if (!valid_value(a[2].of.list.items[i].of.list.raw, a[2].of.list.items[i].of.list.n)) err = HE_INVALID_SYNTAX;
    if (err < 0) remove_all(f, a[1].of.str.ptr, a[1].of.str.len);
    for (size_t i = 0; err < 0 && i < a[2].of.list.n; i++) {
        int e = http_fields_add(f, a[1].of.str.ptr, a[1].of.str.len, a[2].of.list.items[i].of.list.raw,
                                a[2].of.list.items[i].of.list.n);
        if (e >= 0) err = e;
    }
    r[0] = header_result(c, err, NULL);
    return oom_or(err);
}

static qv_trap *fields_delete(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_fields *f = a[0].of.rep;
    int err = may_change(f, &a[1]);
    if (err < 0) remove_all(f, a[1].of.str.ptr, a[1].of.str.len);
    r[0] = header_result(c, err, NULL);
    return NULL;
}

static qv_trap *fields_append(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    http_fields *f = a[0].of.rep;
    int err = may_change(f, &a[1]);
    if (err < 0) err = http_fields_add(f, a[1].of.str.ptr, a[1].of.str.len, a[2].of.list.raw, a[2].of.list.n);
    r[0] = header_result(c, err, NULL);
    return oom_or(err);
}

static qv_trap *fields_entries(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_fields *f = a[0].of.rep;
    qv_cval *items = qv_ccall_alloc(c, (f->n ? f->n : 1) * sizeof *items);
    if (!items) return p2_trap_oom();
    for (size_t i = 0; i < f->n; i++) items[i] = entry(c, &f->at[i]);
    r[0] = (qv_cval){.kind = QV_C_LIST, .of.list = {items, NULL, f->n}};
    return NULL;
}

static qv_trap *fields_clone(qv_ccall *c, void *env, const qv_cval *a, qv_cval *r)
{
    const http_fields *f = a[0].of.rep;
    http_fields *copy = http_fields_new();
    if (!copy) return p2_trap_oom();
    for (size_t i = 0; i < f->n; i++)
        if (http_fields_add(copy, f->at[i].name, strlen(f->at[i].name), f->at[i].value, f->at[i].len) >= 0) {
            http_fields_release(copy);
            return p2_trap_oom();
        }
    r[0] = p2_own(copy); /* a clone is mutable */
    return NULL;
}

#define ENTRIES "list<tuple<string, list<u8>>>"

bool http_define_fields(p2_host *p, qv_chost *h)
{
    p->http->fields = qv_chost_resource(h, HTTP_TYPES, "fields", fields_dtor, NULL);
    bool ok = p->http->fields &&
              qv_chost_type(h, HTTP_TYPES, "header-error", "variant { invalid-syntax, forbidden, immutable }");
    static const p2_fn fns[] = {
        {NULL, "[constructor]fields", "func() -> own<fields>", fields_new},
        {NULL, "[static]fields.from-list", "func(entries: " ENTRIES ") -> result<own<fields>, header-error>", fields_from_list},
        {NULL, "[method]fields.get", "func(self: borrow<fields>, name: string) -> list<list<u8>>", fields_get},
        {NULL, "[method]fields.has", "func(self: borrow<fields>, name: string) -> bool", fields_has},
        {NULL, "[method]fields.set", "func(self: borrow<fields>, name: string, value: list<list<u8>>) -> result<_, header-error>", fields_set},
        {NULL, "[method]fields.delete", "func(self: borrow<fields>, name: string) -> result<_, header-error>", fields_delete},
        {NULL, "[method]fields.append", "func(self: borrow<fields>, name: string, value: list<u8>) -> result<_, header-error>", fields_append},
        {NULL, "[method]fields.entries", "func(self: borrow<fields>) -> " ENTRIES, fields_entries},
        {NULL, "[method]fields.clone", "func(self: borrow<fields>) -> own<fields>", fields_clone},
    };
    return ok && p2_define_all(p, h, HTTP_TYPES, fns, sizeof fns / sizeof *fns);
}
