/*
 * store.h — the cluster's state store: a revisioned key-value store with
 * etcd v3's data model, so that the embedded SQLite store of a single
 * master and an etcd-backed store for several masters (issue 13) are
 * interchangeable behind this one interface (docs/cluster-store.md).
 *
 * - Keys are non-empty C strings ("apps/web", "nodes/n1"), ordered
 *   byte-wise; values are bytes (callers store JSON text).
 * - The store has a revision. Every transaction that changes something
 *   commits as one new revision (the previous one plus one); a transaction
 *   that changes nothing (a failed compare with no failure ops, a delete of
 *   nothing) leaves it as it is, as in etcd.
 * - Every key carries create_revision (the revision that created it),
 *   mod_revision (the one that last wrote it) and version (how many times
 *   it was written since it was created, 1 after the first put). A missing
 *   key has all three 0. Deleting a key forgets it; a later put creates it
 *   anew. Only the latest value is kept (no history, no watch): the store
 *   holds state, and callers keep the history they need in keys of their
 *   own ("revisions/APP/N").
 * - A transaction compares keys and then runs its success or its failure
 *   ops, atomically, also against other handles and processes that have
 *   the same store open.
 *
 * Limits (etcd's defaults, so that what works on one backend works on the
 * other): a key at most STORE_MAX_KEY bytes, a value at most
 * STORE_MAX_VALUE bytes, at most STORE_MAX_TXN_OPS compares and ops per
 * branch, and no key written twice in one branch.
 *
 * Errors come back as a store_status (a code and a message naming the
 * store and what failed); there is no global error state.
 *
 * Thread-safety: a handle is used by one thread at a time (the master calls
 * it from its event loop's thread). Several handles, in one process or in
 * several, may have the same store open: their transactions serialise.
 */
#ifndef QYVOL_CLUSTER_STORE_H
#define QYVOL_CLUSTER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_KEY 1024
#define STORE_MAX_VALUE ((size_t)1 << 20)
#define STORE_MAX_TXN_OPS 128

typedef enum store_code {
    STORE_OK = 0,
    STORE_EINVAL,      /* bad argument: URL, key, value size, transaction shape */
    STORE_EUNSUPPORTED,/* a backend that is not built (etcd://, for now) */
    STORE_EIO,         /* the backend failed: cannot open, read or write */
    STORE_EBUSY,       /* another writer held the store past the busy timeout */
    STORE_EFULL,       /* no space left: nothing was written */
    STORE_ECORRUPT,    /* not a store, damaged, or of a newer schema */
    STORE_ENOMEM,
    STORE_EUNKNOWN,    /* a write was sent and no answer came: it may or may not have applied */
} store_code;

typedef struct store_status {
    store_code code;
    char message[256];
} store_status;

typedef struct store store;

/* One key as read: key and value are malloc'ed (store_kv_free); the value
 * has a NUL after its last byte, so JSON text can be parsed in place. */
typedef struct store_kv {
    char *key;
    uint8_t *value;
    size_t value_len;
    int64_t create_revision, mod_revision, version;
} store_kv;

/* The keys of a range, in key order. `more` says the limit cut it short;
 * `revision` is the store's revision the range was read at. */
typedef struct store_range {
    store_kv *kvs;
    size_t count;
    bool more;
    int64_t revision;
} store_range;

/* ---- opening */

/* Open the store a URL names:
 *   sqlite:PATH        an SQLite database file (created, mode 0600, if
 *                      missing; its folder must exist)
 *   sqlite::memory:    a private in-memory store (tests)
 *   etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
 *   etcds://HOST:PORT[,HOST:PORT...][/PREFIX]  (over TLS: store_etcd_set_tls)
 *                      etcd v3 (its JSON gateway); keys live under PREFIX
 *                      (default /qyvol/); calls fail over between the
 *                      endpoints. The first call is made at once.
 * NULL on failure, with st saying why. */
store *store_open(const char *url, store_status *st);
/* etcds://... is etcd over HTTPS, checked with these files (etcdctl's
 * --cacert, --cert, --key): the CA that signed etcd's certificates, and
 * the client certificate and key etcd asks for with --client-cert-auth
 * (NULL: none). Process-wide, read at each connection; set it before
 * store_open. */
typedef struct store_etcd_tls {
    const char *cacert, *cert, *key;
} store_etcd_tls;
void store_etcd_set_tls(const store_etcd_tls *tls);
/* What was set (fields "" when not). */
store_etcd_tls store_etcd_get_tls(void);

/* Close it (NULL is fine). Everything committed stays committed. */
void store_close(store *s);

/* ---- reading */

/* The store's current revision (0 for a new store). */
bool store_revision(store *s, int64_t *revision, store_status *st);
/* Read one key: *found says whether it exists (*out is filled only then). */
bool store_get(store *s, const char *key, store_kv *out, bool *found, store_status *st);
/* The keys starting with prefix ("" for all), in key order, at most limit
 * of them (0: no limit). Free with store_range_free. */
bool store_range_prefix(store *s, const char *prefix, size_t limit, store_range *out, store_status *st);

void store_kv_free(store_kv *kv);
void store_range_free(store_range *r);

/* ---- transactions */

/* What a compare looks at, as etcd's Compare.target. */
typedef enum store_target {
    STORE_TARGET_VERSION,   /* 0 for a missing key: existence */
    STORE_TARGET_CREATE,    /* create_revision */
    STORE_TARGET_MOD,       /* mod_revision; 0 for a missing key */
    STORE_TARGET_VALUE,     /* bytes; false on a missing key, whatever the relation */
} store_target;

typedef enum store_relation { STORE_EQUAL, STORE_NOT_EQUAL, STORE_LESS, STORE_GREATER } store_relation;

/* "key's target relation operand": e.g. {"apps/web", STORE_TARGET_MOD,
 * STORE_EQUAL, .number = 42}. Values compare byte-wise, a prefix first. */
typedef struct store_compare {
    const char *key;
    store_target target;
    store_relation relation;
    int64_t number;          /* VERSION, CREATE, MOD */
    const void *value;       /* VALUE */
    size_t value_len;
} store_compare;

typedef enum store_op_kind {
    STORE_PUT,
    STORE_DELETE,           /* the key, if it exists */
    STORE_DELETE_PREFIX,    /* every key starting with key (not ""), etcd's range delete */
} store_op_kind;

typedef struct store_op {
    store_op_kind kind;
    const char *key;
    const void *value;      /* PUT */
    size_t value_len;
    int64_t lease;          /* PUT: the key goes when the lease does (0: none; etcd only) */
} store_op;

typedef struct store_txn_result {
    bool succeeded;         /* every compare held: the success ops ran */
    int64_t revision;       /* the store's revision after the transaction */
    int64_t deleted;        /* keys the ops deleted */
} store_txn_result;

/* If every compare holds run the success ops, else the failure ops: one
 * atomic transaction. A compare that does not hold is not an error: it
 * returns true with succeeded false. False only on an error, and then
 * nothing changed. */
bool store_txn(store *s, const store_compare *cmps, size_t ncmps, const store_op *success, size_t nsuccess,
               const store_op *failure, size_t nfailure, store_txn_result *res, store_status *st);

/* Compare builders for the common cases. */
store_compare store_cmp_mod(const char *key, int64_t mod_revision);  /* mod_revision == n (0: missing) */
store_compare store_cmp_missing(const char *key);
store_compare store_cmp_exists(const char *key);

/* ---- conveniences on store_txn */

/* Put unconditionally; *revision (may be NULL) gets the new revision. */
bool store_put(store *s, const char *key, const void *value, size_t len, int64_t *revision, store_status *st);
/* Put if the key's mod_revision is expected (0: the key must not exist).
 * *res says whether it did and the store's revision. */
bool store_put_if(store *s, const char *key, const void *value, size_t len, int64_t expected_mod_revision,
                  store_txn_result *res, store_status *st);
/* Delete if the key's mod_revision is expected (it must exist). */
bool store_delete_if(store *s, const char *key, int64_t expected_mod_revision, store_txn_result *res,
                     store_status *st);

/* ---- leases (etcd; SQLite answers STORE_EUNSUPPORTED)
 *
 * A lease lives ttl_seconds past its last keep-alive; the keys put with
 * it are deleted when it expires or is revoked. Masters elect their
 * leader with one (cluster/master/leader.h). */
bool store_lease_grant(store *s, int64_t ttl_seconds, int64_t *lease, store_status *st);
/* *ttl_left is the lease's time to live after this keep-alive: 0 when the
 * lease has already expired. */
bool store_lease_keepalive(store *s, int64_t lease, int64_t *ttl_left, store_status *st);
bool store_lease_revoke(store *s, int64_t lease, store_status *st);

/* ---- fencing
 *
 * From now on every transaction through this handle also compares key's
 * create_revision with create_revision: when the key was deleted or
 * created anew (another master took the lead), the transaction does not
 * hold and no success op runs. NULL key: no guard. */
bool store_set_guard(store *s, const char *key, int64_t create_revision, store_status *st);

/* "sqlite" or "etcd". */
const char *store_kind(const store *s);

/* A code's name for messages ("STORE_EBUSY" -> "busy"). */
const char *store_code_name(store_code code);

#endif
