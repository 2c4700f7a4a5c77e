/*
 * names.c — the name index of names.h.
 */
#include <string.h>

#include "component/names.h"

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

bool cm_names_init(cm_names *ix, cm_arena *a, uint32_t n)
{
    uint32_t cap = 8;
    while (cap < 2 * (uint64_t)n + 1) cap *= 2;
    ix->keys = cm_alloc(a, cap * sizeof *ix->keys);
    ix->at = cm_alloc(a, cap * sizeof *ix->at);
    ix->mask = cap - 1;
    ix->count = 0;
    ix->arena = a;
    return ix->keys && ix->at;
}

/* Twice the room, the names re-added (the old arrays stay in the arena). */
static bool grow(cm_names *ix)
{
    cm_names bigger;
    if (!cm_names_init(&bigger, ix->arena, ix->mask + 1)) return false;
    for (uint32_t i = 0; i <= ix->mask; i++)
        if (ix->keys[i]) cm_names_add(&bigger, ix->keys[i], ix->at[i], NULL);
    *ix = bigger;
    return true;
}

bool cm_names_add(cm_names *ix, const char *name, uint32_t pos, uint32_t *first)
{
    if (2 * (ix->count + 1) > ix->mask + 1 && !grow(ix)) {
        if (first) *first = UINT32_MAX;
        return false;
    }
    for (uint32_t i = hash(name) & ix->mask;; i = (i + 1) & ix->mask) {
        if (!ix->keys[i]) {
            ix->keys[i] = name;
            ix->at[i] = pos;
            ix->count++;
            return true;
        }
        if (!strcmp(ix->keys[i], name)) {
            if (first) *first = ix->at[i];
            return false;
        }
    }
}

int64_t cm_names_find(const cm_names *ix, const char *name)
{
    if (!ix->keys) return -1;
    for (uint32_t i = hash(name) & ix->mask;; i = (i + 1) & ix->mask) {
        if (!ix->keys[i]) return -1;
        if (!strcmp(ix->keys[i], name)) return ix->at[i];
    }
}
