/*
 * direct.c — see direct.h.
 */
#include "serve/direct.h"

#include <string.h>
#include <sys/mman.h>

static size_t shared_size(int nslots)
{
    return sizeof(direct_shared) + (size_t)nslots * sizeof(direct_slot);
}

direct_shared *direct_shared_new(int nslots)
{
    /* MAP_SHARED before the fork: the replica's writes are the front's to
     * read, without a system call. Pages are touched only as used. */
    void *m = mmap(NULL, shared_size(nslots), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    direct_shared *d = m;
    d->nslots = nslots;
    return d;
}

void direct_shared_reset(direct_shared *d)
{
    atomic_store(&d->serve, 0);
    atomic_store(&d->lost, 0);
    for (int i = 0; i < d->nslots; i++) {
        direct_slot *s = &d->slots[i];
        atomic_store(&s->busy_since_ns, 0);
        atomic_store(&s->timeout_ms, 0);
        atomic_store(&s->conns, 0);
        atomic_store(&s->seen_serve, 0);
        atomic_store(&s->head, 0);
        atomic_store(&s->tail, 0);
    }
}

void direct_shared_free(direct_shared *d)
{
    if (d) munmap(d, shared_size(d->nslots));
}

bool direct_push(direct_slot *s, const direct_record *r)
{
    uint32_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
    if (head - atomic_load_explicit(&s->tail, memory_order_acquire) >= DIRECT_RING) return false;
    s->ring[head % DIRECT_RING] = *r;
    atomic_store_explicit(&s->head, head + 1, memory_order_release);
    return true;
}

bool direct_pop(direct_slot *s, direct_record *r)
{
    uint32_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
    if (tail == atomic_load_explicit(&s->head, memory_order_acquire)) return false;
    *r = s->ring[tail % DIRECT_RING];
    atomic_store_explicit(&s->tail, tail + 1, memory_order_release);
    return true;
}

bool direct_drained(const direct_shared *d)
{
    for (int i = 0; i < d->nslots; i++)
        if (atomic_load(&d->slots[i].seen_serve) || atomic_load(&d->slots[i].conns)) return false;
    return true;
}

bool direct_serving(const direct_shared *d)
{
    for (int i = 0; i < d->nslots; i++)
        if (!atomic_load(&d->slots[i].seen_serve)) return false;
    return d->nslots > 0;
}

int direct_busy(const direct_shared *d)
{
    int n = 0;
    for (int i = 0; i < d->nslots; i++) n += atomic_load(&d->slots[i].busy_since_ns) != 0;
    return n;
}

int direct_conns(const direct_shared *d)
{
    int n = 0;
    for (int i = 0; i < d->nslots; i++) n += atomic_load(&d->slots[i].conns);
    return n;
}
