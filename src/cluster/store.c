/*
 * store.c — the state store's front: opens the backend a URL names, checks
 * every argument the same way for every backend, and builds the common
 * transactions (put, put_if, delete_if) on store_txn.
 */
#include "cluster/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/store_backend.h"

const char *store_code_name(store_code code)
{
    switch (code) {
    case STORE_OK: return "ok";
    case STORE_EINVAL: return "invalid argument";
    case STORE_EUNSUPPORTED: return "not supported";
    case STORE_EIO: return "i/o error";
    case STORE_EBUSY: return "busy";
    case STORE_EFULL: return "no space left";
    case STORE_ECORRUPT: return "corrupt";
    case STORE_ENOMEM: return "out of memory";
    case STORE_EUNKNOWN: return "outcome unknown";
    }
    return "unknown";
}

bool store_fail(store_status *st, const store *s, const char *url, store_code code, const char *fmt, ...)
{
    if (!st)
        return false;
    st->code = code;
    int n = snprintf(st->message, sizeof st->message, "store %s: ", s ? s->url : url);
    if (n < 0 || (size_t)n >= sizeof st->message)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message + n, sizeof st->message - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static void status_ok(store_status *st)
{
    if (st) {
        st->code = STORE_OK;
        st->message[0] = '\0';
    }
}

store *store_open(const char *url, store_status *st)
{
    status_ok(st);
    if (!url || !*url) {
        store_fail(st, NULL, "(none)", STORE_EINVAL, "no store URL given (expected sqlite:PATH or etcd://HOST:PORT)");
        return NULL;
    }
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (!*path) {
            store_fail(st, NULL, url, STORE_EINVAL, "no path after 'sqlite:' (expected sqlite:PATH or sqlite::memory:)");
            return NULL;
        }
        return store_sqlite_open(path, url, st);
    }
    if (strncmp(url, "etcd://", 7) == 0)
        return store_etcd_open(url + 7, url, false, st);
    if (strncmp(url, "etcds://", 8) == 0)
        return store_etcd_open(url + 8, url, true, st);
    store_fail(st, NULL, url, STORE_EINVAL, "unknown kind of store (expected sqlite:PATH or etcd://HOST:PORT[,...])");
    return NULL;
}

void store_close(store *s)
{
    if (s) {
        free(s->guard_key);
        s->backend->close(s);
    }
}

const char *store_kind(const store *s) { return s->backend->name; }

bool store_set_guard(store *s, const char *key, int64_t create_revision, store_status *st)
{
    status_ok(st);
    char *copy = NULL;
    if (key && !(copy = strdup(key)))
        return store_fail(st, s, NULL, STORE_ENOMEM, "out of memory");
    free(s->guard_key);
    s->guard_key = copy;
    s->guard_create_revision = create_revision;
    return true;
}

/* ---- argument checks, shared by every backend */

static bool check_key(store *s, const char *key, const char *what, store_status *st)
{
    if (!key || !*key)
        return store_fail(st, s, NULL, STORE_EINVAL, "%s: empty key", what);
    size_t len = strnlen(key, STORE_MAX_KEY + 1);
    if (len > STORE_MAX_KEY)
        return store_fail(st, s, NULL, STORE_EINVAL, "%s: key '%.40s...' is longer than %d bytes", what, key,
                          STORE_MAX_KEY);
    return true;
}

static bool check_value(store *s, const char *key, const void *value, size_t len, store_status *st)
{
    if (!value && len)
        return store_fail(st, s, NULL, STORE_EINVAL, "put %s: no value bytes for a length of %zu", key, len);
    if (len > STORE_MAX_VALUE)
        return store_fail(st, s, NULL, STORE_EINVAL, "put %s: value of %zu bytes is larger than the %zu allowed",
                          key, len, STORE_MAX_VALUE);
    return true;
}

/* Whether key falls under op (the same key, or under a deleted prefix). */
static bool op_covers(const store_op *op, const char *key)
{
    if (op->kind == STORE_DELETE_PREFIX)
        return strncmp(key, op->key, strlen(op->key)) == 0;
    return strcmp(key, op->key) == 0;
}

/* One branch: sizes, keys, values, and (as etcd) no key put twice or put
 * and deleted in the same branch. */
static bool check_ops(store *s, const store_op *ops, size_t n, const char *branch, store_status *st)
{
    if (n > STORE_MAX_TXN_OPS)
        return store_fail(st, s, NULL, STORE_EINVAL, "transaction: %zu %s ops, more than the %d allowed", n, branch,
                          STORE_MAX_TXN_OPS);
    if (n && !ops)
        return store_fail(st, s, NULL, STORE_EINVAL, "transaction: %zu %s ops but no array", n, branch);
    for (size_t i = 0; i < n; i++) {
        const store_op *op = &ops[i];
        if (op->kind == STORE_DELETE_PREFIX) {
            if (!op->key || !*op->key)
                return store_fail(st, s, NULL, STORE_EINVAL,
                                  "transaction: delete-prefix of \"\" would delete every key");
        }
        if (op->kind != STORE_PUT && op->kind != STORE_DELETE && op->kind != STORE_DELETE_PREFIX)
            return store_fail(st, s, NULL, STORE_EINVAL, "transaction: unknown op kind %d", (int)op->kind);
        if (!check_key(s, op->key, "transaction", st))
            return false;
        if (op->kind == STORE_PUT && !check_value(s, op->key, op->value, op->value_len, st))
            return false;
        if (op->lease && !s->backend->lease_grant)
            return store_fail(st, s, NULL, STORE_EUNSUPPORTED, "put %s: this store has no leases", op->key);
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != STORE_PUT)
            continue;
        for (size_t j = 0; j < n; j++)
            if (j != i && op_covers(&ops[j], ops[i].key))
                return store_fail(st, s, NULL, STORE_EINVAL,
                                  "transaction: key %s is written twice in the %s ops", ops[i].key, branch);
    }
    return true;
}

static bool check_compares(store *s, const store_compare *c, size_t n, store_status *st)
{
    if (n > STORE_MAX_TXN_OPS)
        return store_fail(st, s, NULL, STORE_EINVAL, "transaction: %zu compares, more than the %d allowed", n,
                          STORE_MAX_TXN_OPS);
    if (n && !c)
        return store_fail(st, s, NULL, STORE_EINVAL, "transaction: %zu compares but no array", n);
    for (size_t i = 0; i < n; i++) {
        if (!check_key(s, c[i].key, "compare", st))
            return false;
        if ((unsigned)c[i].target > STORE_TARGET_VALUE || (unsigned)c[i].relation > STORE_GREATER)
            return store_fail(st, s, NULL, STORE_EINVAL, "compare %s: unknown target or relation", c[i].key);
        if (c[i].target == STORE_TARGET_VALUE && !c[i].value && c[i].value_len)
            return store_fail(st, s, NULL, STORE_EINVAL, "compare %s: no value bytes for a length of %zu", c[i].key,
                              c[i].value_len);
    }
    return true;
}

/* ---- the operations */

bool store_revision(store *s, int64_t *revision, store_status *st)
{
    status_ok(st);
    return s->backend->revision(s, revision, st);
}

bool store_get(store *s, const char *key, store_kv *out, bool *found, store_status *st)
{
    status_ok(st);
    *found = false;
    if (!check_key(s, key, "get", st))
        return false;
    return s->backend->get(s, key, out, found, st);
}

bool store_range_prefix(store *s, const char *prefix, size_t limit, store_range *out, store_status *st)
{
    status_ok(st);
    *out = (store_range){0};
    if (!prefix)
        prefix = "";
    if (strnlen(prefix, STORE_MAX_KEY + 1) > STORE_MAX_KEY)
        return store_fail(st, s, NULL, STORE_EINVAL, "range: prefix longer than %d bytes", STORE_MAX_KEY);
    return s->backend->range(s, prefix, limit, out, st);
}

bool store_txn(store *s, const store_compare *cmps, size_t ncmps, const store_op *success, size_t nsuccess,
               const store_op *failure, size_t nfailure, store_txn_result *res, store_status *st)
{
    status_ok(st);
    *res = (store_txn_result){0};
    if (!check_compares(s, cmps, ncmps, st) || !check_ops(s, success, nsuccess, "success", st) ||
        !check_ops(s, failure, nfailure, "failure", st))
        return false;
    if (!s->guard_key)
        return s->backend->txn(s, cmps, ncmps, success, nsuccess, failure, nfailure, res, st);
    if (ncmps + 1 > STORE_MAX_TXN_OPS)
        return store_fail(st, s, NULL, STORE_EINVAL, "transaction: %zu compares and the guard, more than the %d allowed",
                          ncmps, STORE_MAX_TXN_OPS);
    store_compare *guarded = malloc((ncmps + 1) * sizeof *guarded);
    if (!guarded)
        return store_fail(st, s, NULL, STORE_ENOMEM, "out of memory");
    if (ncmps)
        memcpy(guarded, cmps, ncmps * sizeof *cmps);
    guarded[ncmps] = (store_compare){.key = s->guard_key, .target = STORE_TARGET_CREATE, .relation = STORE_EQUAL,
                                     .number = s->guard_create_revision};
    bool ok = s->backend->txn(s, guarded, ncmps + 1, success, nsuccess, failure, nfailure, res, st);
    free(guarded);
    return ok;
}

static bool leases(store *s, store_status *st)
{
    status_ok(st);
    return s->backend->lease_grant ||
           store_fail(st, s, NULL, STORE_EUNSUPPORTED, "a %s store has no leases (use etcd://)", s->backend->name);
}

bool store_lease_grant(store *s, int64_t ttl_seconds, int64_t *lease, store_status *st)
{
    if (!leases(s, st))
        return false;
    if (ttl_seconds <= 0)
        return store_fail(st, s, NULL, STORE_EINVAL, "lease: a time to live of %lld s", (long long)ttl_seconds);
    return s->backend->lease_grant(s, ttl_seconds, lease, st);
}

bool store_lease_keepalive(store *s, int64_t lease, int64_t *ttl_left, store_status *st)
{
    *ttl_left = 0;
    return leases(s, st) && s->backend->lease_keepalive(s, lease, ttl_left, st);
}

bool store_lease_revoke(store *s, int64_t lease, store_status *st)
{
    return leases(s, st) && s->backend->lease_revoke(s, lease, st);
}

void store_kv_free(store_kv *kv)
{
    if (!kv)
        return;
    free(kv->key);
    free(kv->value);
    *kv = (store_kv){0};
}

void store_range_free(store_range *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        store_kv_free(&r->kvs[i]);
    free(r->kvs);
    *r = (store_range){0};
}

/* ---- compares, as etcd evaluates them */

static bool relation_holds(store_relation rel, int cmp)
{
    switch (rel) {
    case STORE_EQUAL: return cmp == 0;
    case STORE_NOT_EQUAL: return cmp != 0;
    case STORE_LESS: return cmp < 0;
    case STORE_GREATER: return cmp > 0;
    }
    return false;
}

static int compare_numbers(int64_t a, int64_t b) { return (a > b) - (a < b); }

static int compare_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    return c ? c : compare_numbers((int64_t)alen, (int64_t)blen);
}

bool store_compare_holds(const store_compare *c, const store_kv *kv)
{
    /* etcd: a value compare on a missing key fails; the numbers of a
     * missing key are all 0. */
    if (c->target == STORE_TARGET_VALUE) {
        if (!kv)
            return false;
        return relation_holds(c->relation, compare_bytes(kv->value, kv->value_len, c->value, c->value_len));
    }
    int64_t have = 0;
    if (kv)
        have = c->target == STORE_TARGET_VERSION  ? kv->version
               : c->target == STORE_TARGET_CREATE ? kv->create_revision
                                                  : kv->mod_revision;
    return relation_holds(c->relation, compare_numbers(have, c->number));
}

bool store_prefix_end(const char *prefix, char *end)
{
    size_t n = strlen(prefix);
    memcpy(end, prefix, n + 1);
    while (n > 0) {
        unsigned char last = (unsigned char)end[n - 1];
        if (last < 0xff) {
            end[n - 1] = (char)(last + 1);
            end[n] = '\0';
            return true;
        }
        end[--n] = '\0';
    }
    return false;
}

/* ---- conveniences */

store_compare store_cmp_mod(const char *key, int64_t mod_revision)
{
    return (store_compare){.key = key, .target = STORE_TARGET_MOD, .relation = STORE_EQUAL, .number = mod_revision};
}

store_compare store_cmp_missing(const char *key)
{
    return (store_compare){.key = key, .target = STORE_TARGET_VERSION, .relation = STORE_EQUAL, .number = 0};
}

store_compare store_cmp_exists(const char *key)
{
    return (store_compare){.key = key, .target = STORE_TARGET_VERSION, .relation = STORE_GREATER, .number = 0};
}

bool store_put(store *s, const char *key, const void *value, size_t len, int64_t *revision, store_status *st)
{
    store_op op = {.kind = STORE_PUT, .key = key, .value = value, .value_len = len};
    store_txn_result res;
    if (!store_txn(s, NULL, 0, &op, 1, NULL, 0, &res, st))
        return false;
    if (revision)
        *revision = res.revision;
    return true;
}

bool store_put_if(store *s, const char *key, const void *value, size_t len, int64_t expected_mod_revision,
                  store_txn_result *res, store_status *st)
{
    store_compare cmp = store_cmp_mod(key, expected_mod_revision);
    store_op op = {.kind = STORE_PUT, .key = key, .value = value, .value_len = len};
    return store_txn(s, &cmp, 1, &op, 1, NULL, 0, res, st);
}

bool store_delete_if(store *s, const char *key, int64_t expected_mod_revision, store_txn_result *res,
                     store_status *st)
{
    store_compare cmps[2] = {store_cmp_exists(key), store_cmp_mod(key, expected_mod_revision)};
    store_op op = {.kind = STORE_DELETE, .key = key};
    return store_txn(s, cmps, 2, &op, 1, NULL, 0, res, st);
}
