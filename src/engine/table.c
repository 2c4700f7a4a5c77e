/*
 * table.c — tables of references (funcref: qv_func*, externref: the
 * embedder's pointer; NULL is null).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

static void set_err(qv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(qv_error *err, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    err->offset = 0;
    err->func_index = -1;
}

/* Room for `n` more elements in the store: its element limit (all tables
 * together) and its memory budget. */
static bool reserve_elems(qv_store *s, uint64_t n, qv_error *err)
{
    if (n > s->limits.max_table_elems - s->table_elems) {
        set_err(err, "a table of %" PRIu64 " more elements passes the store's table limit of %u elements (%" PRIu64
                " in use)", n, s->limits.max_table_elems, s->table_elems);
        return false;
    }
    if (!qe_store_charge(s, n * sizeof(void *), "a table's elements", err)) return false;
    s->table_elems += n;
    return true;
}

qv_table *qe_table_create(qv_store *s, uint8_t elem_type, qe_limits lim, void *init, qv_error *err)
{
    uint32_t cap = s->limits.max_table_elems;
    if (lim.has_max && lim.max < cap) cap = lim.max;
    if (lim.min > s->limits.max_table_elems) {
        set_err(err, "table minimum of %u elements exceeds the store's table limit of %u", lim.min,
                s->limits.max_table_elems);
        return NULL;
    }
    if (!qe_store_charge(s, sizeof(qv_table), "a table", err) || !reserve_elems(s, lim.min, err)) return NULL;
    qv_table *t = calloc(1, sizeof *t);
    if (!t || !(t->elems = malloc(sizeof(void *) * (lim.min ? lim.min : 1)))) {
        free(t);
        set_err(err, "out of memory allocating a table of %u elements", lim.min);
        return NULL;
    }
    for (uint32_t i = 0; i < lim.min; i++) t->elems[i] = init;
    t->store = s;
    t->size = lim.min;
    t->max = cap;
    t->lim = lim;
    t->elem_type = elem_type;
    if (!qe_store_track(s, QE_EXT_TABLE, t)) {
        free(t->elems);
        free(t);
        set_err(err, "out of memory");
        return NULL;
    }
    return t;
}

qv_table *qv_table_new(qv_store *s, qv_valtype elem, qv_limits limits, qv_val init, qv_error *err)
{
    if ((elem != QV_FUNCREF && elem != QV_EXTERNREF) || init.type != elem) {
        set_err(err, "table element and initial value must be the same reference type");
        return NULL;
    }
    if (limits.has_max && limits.min > limits.max) {
        set_err(err, "size minimum must not be greater than maximum");
        return NULL;
    }
    qe_limits l = {limits.min, limits.max, limits.has_max};
    return qe_table_create(s, (uint8_t)elem, l, elem == QV_FUNCREF ? (void *)init.of.funcref : init.of.externref, err);
}

int64_t qe_table_grow(qv_table *t, uint32_t delta, void *init)
{
    uint32_t old = t->size;
    if ((uint64_t)old + delta > t->max) return -1;
    if (delta == 0) return old;
    if (!reserve_elems(t->store, delta, NULL)) return -1;
    void **e = realloc(t->elems, sizeof(void *) * ((size_t)old + delta));
    if (!e) return -1; /* the reservation stays: the store is failing anyway */
    for (uint32_t i = 0; i < delta; i++) e[old + i] = init;
    t->elems = e;
    t->size = old + delta;
    return old;
}

uint32_t qv_table_size(const qv_table *t) { return t->size; }
qv_valtype qv_table_elem_type(const qv_table *t) { return (qv_valtype)t->elem_type; }
qv_limits qv_table_limits(const qv_table *t)
{
    qv_limits l = {t->size, t->lim.max, t->lim.has_max};
    return l;
}

static void *ref_of(const qv_table *t, qv_val v, bool *ok)
{
    *ok = v.type == (qv_valtype)t->elem_type;
    return v.type == QV_FUNCREF ? (void *)v.of.funcref : v.of.externref;
}

bool qv_table_get(const qv_table *t, uint32_t i, qv_val *out)
{
    if (i >= t->size) return false;
    out->type = (qv_valtype)t->elem_type;
    if (t->elem_type == QV_FUNCREF)
        out->of.funcref = t->elems[i];
    else
        out->of.externref = t->elems[i];
    return true;
}

bool qv_table_set(qv_table *t, uint32_t i, qv_val v)
{
    bool ok;
    void *r = ref_of(t, v, &ok);
    if (!ok || i >= t->size) return false;
    t->elems[i] = r;
    return true;
}

int64_t qv_table_grow(qv_table *t, uint32_t delta, qv_val init)
{
    bool ok;
    void *r = ref_of(t, init, &ok);
    return ok ? qe_table_grow(t, delta, r) : -1;
}
