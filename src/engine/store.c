/*
 * store.c — stores own every runtime object created in them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "runtime.h"

qv_store *qv_store_new(const qv_store_limits *limits)
{
    qv_store *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (limits) s->limits = *limits;
    if (!s->limits.max_memory_pages || s->limits.max_memory_pages > 65536) s->limits.max_memory_pages = 65536;
    if (!s->limits.max_table_elems) s->limits.max_table_elems = 10000000;
    if (!s->limits.max_call_depth) s->limits.max_call_depth = 10000;
    if (!s->limits.value_stack_slots) s->limits.value_stack_slots = 1u << 20;
    if (!qe_exec_init(&s->exec, s->limits.value_stack_slots, s->limits.max_call_depth)) {
        free(s);
        return NULL;
    }
    s->fuel = -1;
    atomic_init(&s->interrupt, 0);
    return s;
}

bool qv_store_charge(qv_store *s, uint64_t bytes)
{
    uint64_t max = s->limits.max_bytes;
    if (max && (bytes > max || s->bytes > max - bytes)) return false;
    s->bytes += bytes;
    return true;
}

uint64_t qv_store_bytes(const qv_store *s) { return s->bytes; }

bool qe_store_charge(qv_store *s, uint64_t bytes, const char *what, qv_error *err)
{
    if (qv_store_charge(s, bytes)) return true;
    if (err) {
        snprintf(err->message, sizeof err->message,
                 "%s: %" PRIu64 " bytes more would pass the store's memory limit of %" PRIu64 " bytes (%" PRIu64
                 " in use)", what, bytes, s->limits.max_bytes, s->bytes);
        err->offset = 0;
        err->func_index = -1;
    }
    return false;
}

bool qe_store_track(qv_store *s, uint8_t kind, void *ptr)
{
    qe_object *o = malloc(sizeof *o);
    if (!o) return false;
    o->kind = kind;
    o->ptr = ptr;
    o->next = s->objects;
    s->objects = o;
    return true;
}

static void free_object(qe_object *o)
{
    switch (o->kind) {
    case QE_EXT_FUNC: {
        qv_func *f = o->ptr;
        if (f->kind == QE_FUNC_HOST && f->finalize) f->finalize(f->env);
        free(f); /* its types are in the same allocation */
        break;
    }
    case QE_EXT_TABLE: {
        qv_table *t = o->ptr;
        free(t->elems);
        free(t);
        break;
    }
    case QE_EXT_MEMORY: {
        qv_memory *m = o->ptr;
        qe_memory_release(m);
        free(m);
        break;
    }
    case QE_EXT_GLOBAL:
        free(o->ptr);
        break;
    case QE_OBJ_INSTANCE:
        qe_instance_free(o->ptr);
        break;
    }
}

void qv_store_delete(qv_store *s)
{
    if (!s) return;
    for (qe_object *o = s->objects, *next; o; o = next) {
        next = o->next;
        free_object(o);
        free(o);
    }
    qe_exec_free(&s->exec);
    free(s);
}

void qv_store_set_fuel(qv_store *s, int64_t fuel) { s->fuel = fuel < 0 ? -1 : fuel; }
int64_t qv_store_fuel(const qv_store *s) { return s->fuel; }
void qv_store_interrupt(qv_store *s) { atomic_store_explicit(&s->interrupt, 1, memory_order_relaxed); }
void qv_store_clear_interrupt(qv_store *s) { atomic_store_explicit(&s->interrupt, 0, memory_order_relaxed); }
bool qv_store_interrupted(const qv_store *s) { return atomic_load_explicit(&s->interrupt, memory_order_relaxed); }
void qv_store_set_data(qv_store *s, void *data) { s->data = data; }
void *qv_store_data(const qv_store *s) { return s->data; }
