/*
 * arena.c — the bump allocator of arena.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component/arena.h"

struct cm_chunk {
    cm_chunk *next;
    size_t cap;
    _Alignas(max_align_t) unsigned char data[];
};

#define CHUNK 16384

void *cm_alloc(cm_arena *a, size_t bytes)
{
    size_t need = (bytes + 15) & ~(size_t)15;
    if (need < bytes) return NULL;
    if (!a->head || a->head->cap - a->used < need) {
        size_t cap = need > CHUNK ? need : CHUNK;
        cm_chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += need;
    a->total += need;
    memset(p, 0, bytes);
    return p;
}

char *cm_strndup(cm_arena *a, const char *s, size_t n)
{
    char *d = cm_alloc(a, n + 1);
    if (d && n) memcpy(d, s, n);
    return d;
}

void cm_arena_reset(cm_arena *a)
{
    if (!a->head) return;
    while (a->head->next) {
        cm_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->used = 0;
    a->total = 0;
}

void cm_arena_free(cm_arena *a)
{
    while (a->head) {
        cm_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->used = a->total = 0;
}

#include "component/runtime.h"

cm_mark cm_arena_mark(cm_arena *a) { return (cm_mark){a->head, a->used}; }

void cm_arena_release(cm_arena *a, cm_mark m)
{
    while (a->head && a->head != (cm_chunk *)m.head) {
        cm_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->used = a->head ? m.used : 0;
}
