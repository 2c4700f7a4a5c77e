/*
 * global.c — global instances.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

qv_global *qe_global_create(qv_store *s, uint8_t type, bool mut, qe_slot value)
{
    qv_global *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->type = type;
    g->mut = mut;
    g->value.s = value;
    if (!qe_store_track(s, QE_EXT_GLOBAL, g)) {
        free(g);
        return NULL;
    }
    return g;
}

qv_global *qv_global_new(qv_store *s, qv_val value, bool mutable_, qv_error *err)
{
    if (!qe_is_valtype((uint8_t)value.type) || value.type == QV_V128) {
        if (err) snprintf(err->message, sizeof err->message, "unsupported global type");
        return NULL;
    }
    if (!qe_store_charge(s, sizeof(qv_global), "a global", err)) return NULL;
    qe_slot slot[2];
    qe_val_to_slots(&value, slot);
    qv_global *g = qe_global_create(s, (uint8_t)value.type, mutable_, slot[0]);
    if (!g && err) snprintf(err->message, sizeof err->message, "out of memory");
    return g;
}

qv_val qv_global_get(const qv_global *g) { return qe_slots_to_val(g->type, &g->value.s); }

bool qv_global_set(qv_global *g, qv_val value, qv_error *err)
{
    if (!g->mut) {
        if (err) snprintf(err->message, sizeof err->message, "global is immutable");
        return false;
    }
    if ((uint8_t)value.type != g->type) {
        if (err) snprintf(err->message, sizeof err->message, "type mismatch: global is %s, value is %s",
                          qv_valtype_name((qv_valtype)g->type), qv_valtype_name(value.type));
        return false;
    }
    qe_slot slot[2];
    qe_val_to_slots(&value, slot);
    g->value.s = slot[0];
    return true;
}

qv_valtype qv_global_type(const qv_global *g) { return (qv_valtype)g->type; }
bool qv_global_mutable(const qv_global *g) { return g->mut; }
