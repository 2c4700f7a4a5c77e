/*
 * host.c — qv_chost: interfaces a host provides to components. Function
 * signatures and type definitions are written in WIT syntax and parsed
 * here into component types, so that a guest's import is checked against
 * exactly what the host function reads and returns.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component/host.h"

struct qv_chost {
    cm_arena arena;
    cm_vec ifaces;          /* host_iface * */
    cm_names index;         /* interface key -> position in ifaces */
};

/* A decimal number at *p (advanced past it), or false. */
static bool number(const char **p)
{
    const char *start = *p;
    while (**p >= '0' && **p <= '9') ++*p;
    return *p > start && *p - start < 10;
}

void cm_semver_key(const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s", name);
    char *at = strchr(buf, '@');
    if (!at) return;
    /* MAJOR.MINOR.PATCH exactly: a pre-release or build suffix matches only itself. */
    const char *p = at + 1, *major = p, *minor;
    if (!number(&p) || *p++ != '.') return;
    minor = p;
    if (!number(&p) || *p++ != '.' || !number(&p) || *p) return;
    size_t keep = (size_t)(*major == '0' && minor - major == 2 ? strchr(minor, '.') - buf : minor - 1 - buf);
    buf[keep] = 0;
}

qv_chost *qv_chost_new(void)
{
    qv_chost *h = calloc(1, sizeof *h);
    if (h && !cm_names_init(&h->index, &h->arena, 32)) {
        cm_arena_free(&h->arena);
        free(h);
        return NULL;
    }
    return h;
}

void *qv_chost_alloc(qv_chost *h, size_t bytes) { return cm_alloc(&h->arena, bytes); }

void qv_chost_delete(qv_chost *h)
{
    if (!h) return;
    for (uint32_t i = 0; i < h->ifaces.n; i++) {
        host_iface *f = h->ifaces.at[i];
        cm_vec_free(&f->funcs);
        cm_vec_free(&f->named);
    }
    cm_vec_free(&h->ifaces);
    cm_arena_free(&h->arena);
    free(h);
}

host_iface *cm_host_iface(const qv_chost *h, const char *name)
{
    char key[256];
    cm_semver_key(name, key, sizeof key);
    int64_t i = cm_names_find(&h->index, key);
    return i < 0 ? NULL : h->ifaces.at[i];
}

static host_iface *iface_for(qv_chost *h, const char *name)
{
    host_iface *f = cm_host_iface(h, name);
    if (f) return f;
    char key[256];
    cm_semver_key(name, key, sizeof key);
    f = cm_alloc(&h->arena, sizeof *f);
    if (!f || !(f->key = cm_strndup(&h->arena, key, strlen(key))) || !cm_names_init(&f->func_index, &h->arena, 16) ||
        !cm_names_init(&f->named_index, &h->arena, 16) || !cm_names_add(&h->index, f->key, h->ifaces.n, NULL) ||
        !cm_vec_push(&h->ifaces, f))
        return NULL;
    return f;
}

host_func *cm_host_func(const host_iface *i, const char *name)
{
    int64_t k = cm_names_find(&i->func_index, name);
    return k < 0 ? NULL : i->funcs.at[k];
}

cm_type *cm_host_named(const host_iface *i, const char *name)
{
    int64_t k = cm_names_find(&i->named_index, name);
    return k < 0 ? NULL : ((host_named *)i->named.at[k])->type;
}

static bool add_named(qv_chost *h, host_iface *f, const char *name, cm_type *t)
{
    host_named *n = cm_alloc(&h->arena, sizeof *n);
    if (!n || !(n->name = cm_strndup(&h->arena, name, strlen(name)))) return false;
    n->type = t;
    /* A later definition of the name replaces the earlier one. */
    uint32_t first;
    if (!cm_names_add(&f->named_index, n->name, f->named.n, &first)) {
        if (first == UINT32_MAX) return false;
        f->named.at[first] = n;
        return true;
    }
    return cm_vec_push(&f->named, n);
}

qv_crestype *qv_chost_resource(qv_chost *h, const char *iface, const char *name, void (*dtor)(void *, void *), void *env)
{
    host_iface *f = iface_for(h, iface);
    cm_restype *rt = cm_alloc(&h->arena, sizeof *rt);
    cm_type *t = cm_alloc(&h->arena, sizeof *t);
    if (!f || !rt || !t) return NULL;
    rt->name = cm_strndup(&h->arena, name, strlen(name));
    rt->dtor = dtor;
    rt->env = env;
    t->kind = CM_RESOURCE;
    t->name = rt->name;
    t->host = rt;
    t->dtor = -1;
    return add_named(h, f, name, t) ? rt : NULL;
}

/* ------------------------------------------------------------ WIT parser */

typedef struct wit {
    qv_chost *h;
    host_iface *f;
    const char *s, *start;
    bool ok;
} wit;

static void skip(wit *w)
{
    while (isspace((unsigned char)*w->s)) w->s++;
}

static bool fail(wit *w, const char *what)
{
    if (w->ok) fprintf(stderr, "qyvol: host signature '%s': %s at '%s'\n", w->start, what, w->s);
    w->ok = false;
    return false;
}

static bool eat(wit *w, char c)
{
    skip(w);
    if (*w->s != c) return fail(w, "unexpected text");
    w->s++;
    return true;
}

static bool peek(wit *w, char c)
{
    skip(w);
    return *w->s == c;
}

static char *ident(wit *w)
{
    skip(w);
    const char *b = w->s;
    while (isalnum((unsigned char)*w->s) || *w->s == '-' || *w->s == '_' || *w->s == '%') w->s++;
    if (b == w->s) return fail(w, "a name is missing"), NULL;
    if (*b == '%') b++;
    return cm_strndup(&w->h->arena, b, (size_t)(w->s - b));
}

static cm_type *new_type(wit *w, uint8_t kind, uint32_t n)
{
    cm_type *t = cm_alloc(&w->h->arena, sizeof *t);
    if (!t) return NULL;
    t->kind = kind;
    t->n = n;
    t->dtor = -1;
    if (n) {
        t->elems = cm_alloc(&w->h->arena, n * sizeof *t->elems);
        t->labels = cm_alloc(&w->h->arena, n * sizeof *t->labels);
    }
    return t;
}

static cm_type *parse_type(wit *w);

/* A comma-separated list between open and close of types (with_names:
 * "name: type"; cases: "name" or "name(type)"; labels: "name"). */
enum { L_TYPES, L_FIELDS, L_CASES, L_LABELS, L_PARAMS };
static cm_type *parse_list(wit *w, uint8_t kind, char open, char close, int form)
{
    cm_type *items[256];
    char *labels[256];
    uint32_t n = 0;
    if (!eat(w, open)) return NULL;
    while (w->ok && !peek(w, close)) {
        if (n == 256) return fail(w, "too many members"), NULL;
        labels[n] = NULL;
        items[n] = NULL;
        if (form == L_TYPES) {
            items[n] = parse_type(w);
        } else {
            labels[n] = ident(w);
            if (form == L_FIELDS || form == L_PARAMS) {
                if (eat(w, ':')) items[n] = parse_type(w);
            } else if (form == L_CASES && peek(w, '(')) {
                eat(w, '(');
                items[n] = parse_type(w);
                eat(w, ')');
            }
        }
        n++;
        if (!peek(w, close) && !eat(w, ',')) return NULL;
    }
    if (!w->ok || !eat(w, close)) return NULL;
    cm_type *t = new_type(w, kind, n);
    if (!t) return fail(w, "out of memory"), NULL;
    for (uint32_t i = 0; i < n; i++) {
        t->labels[i] = labels[i];
        t->elems[i] = items[i];
    }
    if (form == L_LABELS) t->elems = kind == QV_C_FLAGS ? NULL : t->elems;
    return t;
}

static cm_type *finish(cm_type *t)
{
    if (t) cm_type_finish(t);
    return t;
}

static cm_type *parse_type(wit *w)
{
    static const char *const prims[] = {"bool", "s8", "u8", "s16", "u16", "s32", "u32", "s64", "u64",
                                        "f32", "f64", "char", "string"};
    if (!w->ok) return NULL;
    char *name = ident(w);
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        if (!strcmp(name, prims[i])) return cm_prim((qv_ckind)(QV_C_BOOL + i));
    cm_type *t;
    if (!strcmp(name, "list") || !strcmp(name, "option")) {
        t = new_type(w, !strcmp(name, "list") ? QV_C_LIST : QV_C_OPTION, 1);
        if (!t || !eat(w, '<') || !(t->elems[0] = parse_type(w)) || !eat(w, '>')) return NULL;
        return finish(t);
    }
    if (!strcmp(name, "tuple")) return finish(parse_list(w, QV_C_TUPLE, '<', '>', L_TYPES));
    if (!strcmp(name, "own") || !strcmp(name, "borrow")) {
        t = new_type(w, !strcmp(name, "own") ? QV_C_OWN : QV_C_BORROW, 1);
        if (!t || !eat(w, '<')) return NULL;
        char *r = ident(w);
        cm_type *res = r ? cm_host_named(w->f, r) : NULL;
        if (!res || res->kind != CM_RESOURCE) return fail(w, "not a resource of this interface"), NULL;
        t->elems[0] = res;
        return eat(w, '>') ? finish(t) : NULL;
    }
    if (!strcmp(name, "result")) {
        t = new_type(w, QV_C_RESULT, 2);
        if (!t) return NULL;
        if (peek(w, '<')) {
            eat(w, '<');
            skip(w);
            if (*w->s == '_') w->s++;
            else t->elems[0] = parse_type(w);
            if (peek(w, ',')) {
                eat(w, ',');
                t->elems[1] = parse_type(w);
            }
            if (!eat(w, '>')) return NULL;
        }
        return w->ok ? finish(t) : NULL;
    }
    cm_type *named = cm_host_named(w->f, name);
    if (!named) return fail(w, "unknown type name"), NULL;
    if (named->kind == CM_RESOURCE) { /* a bare resource name is an owned handle */
        t = new_type(w, QV_C_OWN, 1);
        if (!t) return NULL;
        t->elems[0] = named;
        return finish(t);
    }
    return named;
}

static wit start(qv_chost *h, const char *iface, const char *text)
{
    return (wit){.h = h, .f = iface_for(h, iface), .s = text, .start = text, .ok = true};
}

bool qv_chost_type(qv_chost *h, const char *iface, const char *name, const char *def)
{
    wit w = start(h, iface, def);
    if (!w.f) return false;
    cm_type *t = NULL;
    skip(&w);
    const char *save = w.s;
    char *kw = ident(&w);
    if (kw && !strcmp(kw, "record")) t = finish(parse_list(&w, QV_C_RECORD, '{', '}', L_FIELDS));
    else if (kw && !strcmp(kw, "variant")) t = finish(parse_list(&w, QV_C_VARIANT, '{', '}', L_CASES));
    else if (kw && !strcmp(kw, "enum")) t = finish(parse_list(&w, QV_C_ENUM, '{', '}', L_LABELS));
    else if (kw && !strcmp(kw, "flags")) t = finish(parse_list(&w, QV_C_FLAGS, '{', '}', L_LABELS));
    else if (kw && (t = cm_host_named(w.f, kw)) && t->kind == CM_RESOURCE && (skip(&w), !*w.s)) {
        /* Another name for a resource (WIT's `type headers = fields`,
         * `use ...{error as io-error}`): the same type, not a handle. */
    } else {
        w.s = save;
        w.ok = true;
        t = parse_type(&w);
    }
    skip(&w);
    if (t && *w.s) fail(&w, "text after the type");
    return w.ok && t && add_named(h, w.f, name, t);
}

bool qv_chost_use(qv_chost *h, const char *iface, const char *from, const char *name)
{
    host_iface *src = cm_host_iface(h, from), *dst = iface_for(h, iface);
    cm_type *t = src ? cm_host_named(src, name) : NULL;
    if (!t || !dst) {
        fprintf(stderr, "qyvol: host interface %s: cannot use %s from %s\n", iface, name, from);
        return false;
    }
    return add_named(h, dst, name, t);
}

bool qv_chost_func(qv_chost *h, const char *iface, const char *name, const char *sig, qv_chost_fn fn, void *env)
{
    wit w = start(h, iface, sig);
    if (!w.f) return false;
    char *kw = ident(&w);
    if (!kw || strcmp(kw, "func")) return fail(&w, "a signature starts with func(");
    cm_type *t = parse_list(&w, CM_FUNC, '(', ')', L_PARAMS);
    if (t && peek(&w, '-')) {
        w.s++;
        if (eat(&w, '>')) t->result = parse_type(&w);
    }
    skip(&w);
    if (t && *w.s) fail(&w, "text after the signature");
    host_func *f = cm_alloc(&h->arena, sizeof *f);
    if (!w.ok || !t || !f) return false;
    f->name = cm_strndup(&h->arena, name, strlen(name));
    f->type = t;
    f->func = (cm_func){.type = t, .host = fn, .env = env};
    uint32_t first;
    if (!cm_names_add(&w.f->func_index, f->name, w.f->funcs.n, &first)) {
        if (first == UINT32_MAX) return false;
        w.f->funcs.at[first] = f; /* a later definition replaces the earlier one */
        return true;
    }
    return cm_vec_push(&w.f->funcs, f);
}
