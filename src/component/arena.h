/*
 * arena.h — a bump allocator: many small allocations freed at once. A
 * decoded component keeps its types and names in one; every call across
 * the component boundary keeps its lifted values in another, reset after
 * the call.
 */
#ifndef QYVOL_COMPONENT_ARENA_H
#define QYVOL_COMPONENT_ARENA_H

#include <stddef.h>

typedef struct cm_chunk cm_chunk;
typedef struct cm_arena {
    cm_chunk *head;
    size_t used;        /* bytes used in head */
    size_t total;       /* bytes handed out since the last reset */
} cm_arena;

/* Zeroed memory aligned for any type, or NULL when out of memory. */
void *cm_alloc(cm_arena *a, size_t bytes);
char *cm_strndup(cm_arena *a, const char *s, size_t n);
/* Free everything but the first chunk, which is kept for reuse. */
void cm_arena_reset(cm_arena *a);
void cm_arena_free(cm_arena *a);

#endif
