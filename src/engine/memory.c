/*
 * memory.c — linear memories. The whole possible size is reserved at
 * creation, so growing only changes protections and data never moves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "runtime.h"

#define PAGE 65536ull

static void set_err(qv_error *err, const char *msg)
{
    if (err) {
        snprintf(err->message, sizeof err->message, "%s", msg);
        err->offset = 0;
        err->func_index = -1;
    }
}

qv_memory *qe_memory_create(qv_store *s, qe_limits lim, qv_error *err)
{
    uint32_t cap = s->limits.max_memory_pages;
    if (lim.has_max && lim.max < cap) cap = lim.max;
    if (lim.min > cap) {
        set_err(err, "memory minimum exceeds the store's memory limit");
        return NULL;
    }
    qv_memory *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, "out of memory");
        return NULL;
    }
    /* Reserve at least one host page so data is never NULL. */
    size_t reserve = cap ? (size_t)cap * PAGE : 4096;
    void *p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(m);
        set_err(err, "cannot reserve address space for memory");
        return NULL;
    }
    m->data = p;
    m->reserved = reserve;
    m->lim = lim;
    m->max_pages = cap;
    if (lim.min && mprotect(p, (size_t)lim.min * PAGE, PROT_READ | PROT_WRITE) != 0) {
        munmap(p, reserve);
        free(m);
        set_err(err, "out of memory");
        return NULL;
    }
    m->pages = lim.min;
    m->size = (uint64_t)lim.min * PAGE;
    if (!qe_store_track(s, QE_EXT_MEMORY, m)) {
        munmap(p, reserve);
        free(m);
        set_err(err, "out of memory");
        return NULL;
    }
    return m;
}

qv_memory *qv_memory_new(qv_store *s, qv_limits limits, qv_error *err)
{
    if (limits.has_max && limits.min > limits.max) {
        set_err(err, "size minimum must not be greater than maximum");
        return NULL;
    }
    if (limits.min > 65536 || (limits.has_max && limits.max > 65536)) {
        set_err(err, "memory size must be at most 65536 pages (4GiB)");
        return NULL;
    }
    qe_limits l = {limits.min, limits.max, limits.has_max};
    return qe_memory_create(s, l, err);
}

int64_t qv_memory_grow(qv_memory *m, uint32_t delta)
{
    uint32_t old = m->pages;
    if (delta == 0) return old;
    if ((uint64_t)old + delta > m->max_pages) return -1;
    if (mprotect(m->data + m->size, (size_t)delta * PAGE, PROT_READ | PROT_WRITE) != 0) return -1;
    m->pages = old + delta;
    m->size = (uint64_t)m->pages * PAGE;
    return old;
}

uint8_t *qv_memory_data(const qv_memory *m) { return m->data; }
size_t qv_memory_size(const qv_memory *m) { return (size_t)m->size; }
uint32_t qv_memory_pages(const qv_memory *m) { return m->pages; }
qv_limits qv_memory_limits(const qv_memory *m)
{
    qv_limits l = {m->pages, m->lim.max, m->lim.has_max};
    return l;
}
