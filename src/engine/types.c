/*
 * types.c — process-wide interning of function types, so that
 * call_indirect compares one integer even across modules.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

typedef struct entry {
    uint32_t nparams, nresults, id;
    uint64_t hash;
    uint8_t *types;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *table;          /* open addressing; types == NULL marks empty */
static uint32_t cap, count;

static uint64_t hash_type(const uint8_t *types, uint32_t np, uint32_t nr)
{
    uint64_t h = 1469598103934665603ull ^ np ^ ((uint64_t)nr << 32);
    for (uint32_t i = 0; i < np + nr; i++) h = (h ^ types[i]) * 1099511628211ull;
    return h ? h : 1;
}

static bool rehash(uint32_t new_cap)
{
    entry *t = calloc(new_cap, sizeof *t);
    if (!t) return false;
    for (uint32_t i = 0; i < cap; i++) {
        if (!table[i].types) continue;
        uint32_t j = (uint32_t)table[i].hash & (new_cap - 1);
        while (t[j].types) j = (j + 1) & (new_cap - 1);
        t[j] = table[i];
    }
    free(table);
    table = t;
    cap = new_cap;
    return true;
}

uint32_t qe_functype_intern(const uint8_t *types, uint32_t nparams, uint32_t nresults)
{
    uint64_t h = hash_type(types, nparams, nresults);
    size_t n = (size_t)nparams + nresults;
    pthread_mutex_lock(&lock);
    if ((count + 1) * 2 > cap && !rehash(cap ? cap * 2 : 64)) {
        pthread_mutex_unlock(&lock);
        return UINT32_MAX; /* out of memory: an id no other type has */
    }
    uint32_t j = (uint32_t)h & (cap - 1);
    for (; table[j].types; j = (j + 1) & (cap - 1)) {
        entry *e = &table[j];
        if (e->hash == h && e->nparams == nparams && e->nresults == nresults &&
            memcmp(e->types, types, n) == 0) {
            uint32_t id = e->id;
            pthread_mutex_unlock(&lock);
            return id;
        }
    }
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        pthread_mutex_unlock(&lock);
        return UINT32_MAX;
    }
    memcpy(copy, types, n);
    table[j] = (entry){nparams, nresults, count, h, copy};
    uint32_t id = count++;
    pthread_mutex_unlock(&lock);
    return id;
}
