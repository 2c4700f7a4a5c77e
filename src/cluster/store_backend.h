/*
 * store_backend.h — what a state-store backend (SQLite or etcd)
 * implements behind store.h, and the helpers store.c gives them. store.c
 * checks every argument (key and value sizes, the shape of a transaction)
 * before a backend sees it, so backends refuse the same things.
 */
#ifndef QYVOL_CLUSTER_STORE_BACKEND_H
#define QYVOL_CLUSTER_STORE_BACKEND_H

#include "cluster/store.h"

typedef struct store_backend {
    const char *name;   /* "sqlite" */
    void (*close)(store *s);
    bool (*revision)(store *s, int64_t *revision, store_status *st);
    bool (*get)(store *s, const char *key, store_kv *out, bool *found, store_status *st);
    /* limit 0: no limit */
    bool (*range)(store *s, const char *prefix, size_t limit, store_range *out, store_status *st);
    bool (*txn)(store *s, const store_compare *cmps, size_t ncmps, const store_op *ops, size_t nops,
                const store_op *else_ops, size_t nelse, store_txn_result *res, store_status *st);
    /* Leases; NULL when the backend has none (SQLite). */
    bool (*lease_grant)(store *s, int64_t ttl_seconds, int64_t *lease, store_status *st);
    bool (*lease_keepalive)(store *s, int64_t lease, int64_t *ttl_left, store_status *st);
    bool (*lease_revoke)(store *s, int64_t lease, store_status *st);
} store_backend;

/* Every backend's handle starts with this. */
struct store {
    const store_backend *backend;
    char url[160];      /* for messages, shortened if need be */
    /* store_set_guard: a compare added to every transaction. */
    char *guard_key;
    int64_t guard_create_revision;
};

store *store_sqlite_open(const char *path, const char *url, store_status *st);
/* rest: what follows "etcd://" (or "etcds://": tls). */
store *store_etcd_open(const char *rest, const char *url, bool tls, store_status *st);

/* Fill st (may be NULL) with code and a message "store URL: ..." and
 * return false. */
bool store_fail(store_status *st, const store *s, const char *url, store_code code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Whether compare c holds for the key as it is: kv, or NULL if missing. */
bool store_compare_holds(const store_compare *c, const store_kv *kv);

/* The first key after every key that starts with prefix (etcd's
 * range_end for a prefix), written to end (at least strlen(prefix) + 1
 * bytes). False when there is none (prefix "" or all 0xff bytes): the
 * range then has no upper bound. */
bool store_prefix_end(const char *prefix, char *end);

#endif
