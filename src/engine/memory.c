/*
 * memory.c — linear memories. The whole possible size is reserved at
 * creation, so growing only changes protections and data never moves.
 *
 * A server that makes a fresh instance per request would map and unmap a
 * reservation every time, and the kernel's work for that (page tables, TLB
 * shootdowns) costs more than running a small handler. So each thread
 * keeps the last reservation it released, zeroed, and the next memory of
 * the same reserved size on this thread takes it. Zeroing writes only the
 * pages the guest touched (mincore tells which), which costs less than
 * the TLB flush of handing them back; past a few MiB they are handed back
 * (MADV_DONTNEED) so that a thread does not keep a big guest's memory.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static _Thread_local struct {
    uint8_t *data;
    size_t reserved;
    size_t accessible; /* bytes at the start that are readable and writable */
} spare;

/* Unmap the spare when its thread ends (the key's value is only a flag). */
static pthread_key_t spare_key;
static pthread_once_t spare_key_once = PTHREAD_ONCE_INIT;

static void free_spare(void *unused)
{
    (void)unused;
    if (spare.data) munmap(spare.data, spare.reserved);
    spare.data = NULL;
}

static void make_spare_key(void) { pthread_key_create(&spare_key, free_spare); }

/* A zeroed reservation of `reserve` bytes, the first `size` accessible. */
static void *reserve_memory(size_t reserve, size_t size)
{
    if (spare.data && spare.reserved == reserve) {
        uint8_t *p = spare.data;
        size_t was = spare.accessible;
        spare.data = NULL;
        if (size > was && mprotect(p + was, size - was, PROT_READ | PROT_WRITE) != 0) {
            munmap(p, reserve);
            return NULL;
        }
        if (size < was && mprotect(p + size, was - size, PROT_NONE) != 0) {
            munmap(p, reserve);
            return NULL;
        }
        return p;
    }
    void *p = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (size && mprotect(p, size, PROT_READ | PROT_WRITE) != 0) {
        munmap(p, reserve);
        return NULL;
    }
    return p;
}

#define ZERO_BY_HAND_MAX (8u << 20)

/* Zero the pages of [p, p+size) that are resident; false if it could not
 * tell which, or too many are. */
static bool zero_touched(uint8_t *p, size_t size)
{
    size_t host_page = 4096, n = (size + host_page - 1) / host_page;
    unsigned char small[1024], *vec = n <= sizeof small ? small : malloc(n);
    if (!vec) return false;
    bool ok = mincore(p, size, vec) == 0;
    size_t resident = 0;
    for (size_t i = 0; ok && i < n; i++) resident += vec[i] & 1;
    ok = ok && resident * host_page <= ZERO_BY_HAND_MAX;
    for (size_t i = 0; ok && i < n; i++)
        if (vec[i] & 1) memset(p + i * host_page, 0, host_page);
    if (vec != small) free(vec);
    return ok;
}

/* Anonymous zero pages again over a range, dropping what was mapped. */
static bool map_zeros(uint8_t *p, size_t len)
{
    return mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) ==
           p;
}

bool qe_memory_map_image(qv_memory *m, int fd, uint64_t offset, uint64_t len)
{
    uint8_t *at = m->data + offset;
    if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == at) {
        m->image_offset = offset;
        m->image_len = len;
        return true;
    }
    /* A failed MAP_FIXED may have unmapped the range. */
    if (!map_zeros(at, len)) m->broken = true;
    return false;
}

void qe_memory_release(qv_memory *m)
{
    if (!m->reserved) return;
    bool reuse = !spare.data && !m->broken;
    /* The image's pages first: mincore would count the file's as touched. */
    if (reuse && m->image_len) reuse = map_zeros(m->data + m->image_offset, (size_t)m->image_len);
    if (reuse && (zero_touched(m->data, (size_t)m->size) || madvise(m->data, (size_t)m->size, MADV_DONTNEED) == 0)) {
        pthread_once(&spare_key_once, make_spare_key);
        pthread_setspecific(spare_key, &spare);
        spare.data = m->data;
        spare.reserved = m->reserved;
        spare.accessible = (size_t)m->size;
        return;
    }
    munmap(m->data, m->reserved);
}

qv_memory *qe_memory_create(qv_store *s, qe_limits lim, qv_error *err)
{
    uint32_t cap = s->limits.max_memory_pages;
    if (lim.has_max && lim.max < cap) cap = lim.max;
    if (lim.min > cap) {
        set_err(err, "memory minimum exceeds the store's memory limit");
        return NULL;
    }
    if (!qe_store_charge(s, sizeof(qv_memory) + (uint64_t)lim.min * PAGE, "a memory's initial pages", err))
        return NULL;
    qv_memory *m = calloc(1, sizeof *m);
    if (!m) {
        set_err(err, "out of memory");
        return NULL;
    }
    /* Reserve at least one host page so data is never NULL. */
    size_t reserve = cap ? (size_t)cap * PAGE : 4096;
    void *p = reserve_memory(reserve, (size_t)lim.min * PAGE);
    if (!p) {
        free(m);
        set_err(err, "cannot reserve address space for memory");
        return NULL;
    }
    m->store = s;
    m->data = p;
    m->reserved = reserve;
    m->lim = lim;
    m->max_pages = cap;
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
    /* Pages once charged stay charged, even if mprotect fails below. */
    if (!qv_store_charge(m->store, (uint64_t)delta * PAGE)) return -1;
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
