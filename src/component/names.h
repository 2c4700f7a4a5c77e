/*
 * names.h — a name → position index (open addressing over FNV-1a
 * hashes), so that duplicate checks and lookups by name stay linear in
 * what a component declares, however many names it has.
 */
#ifndef QYVOL_COMPONENT_NAMES_H
#define QYVOL_COMPONENT_NAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "component/arena.h"

typedef struct cm_names {
    const char **keys;      /* NULL: an empty slot */
    uint32_t *at;           /* the position each key was added with */
    uint32_t mask;          /* capacity - 1 */
    uint32_t count;
    cm_arena *arena;        /* where it grows */
} cm_names;

/* An index for n names (it grows past that), in the arena. False when
 * out of memory. */
bool cm_names_init(cm_names *ix, cm_arena *a, uint32_t n);
/* Add name at position pos. False if it is there already (*first, if
 * given, = the earlier position) or when out of memory (*first = UINT32_MAX).
 * The name is borrowed, not copied. */
bool cm_names_add(cm_names *ix, const char *name, uint32_t pos, uint32_t *first);
/* The position of name, or -1. */
int64_t cm_names_find(const cm_names *ix, const char *name);

#endif
