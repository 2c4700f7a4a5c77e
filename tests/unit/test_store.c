/*
 * test_store.c — the cluster's state store (src/cluster/store.h) on SQLite,
 * in memory and in a file: revisions and per-key metadata as etcd keeps
 * them, transactions that apply all or nothing, ranges in key order,
 * limits, reopening, and two handles (and two processes) on one file whose
 * compare-and-swaps never both win. The same tests then run on etcd (a
 * one-member etcd started here on free ports, in a temporary folder), each
 * under a key prefix of its own; they are skipped, saying so, when
 * /usr/bin/etcd is missing. etcd's revisions are shared by every prefix,
 * so expected revisions count from the revision a test starts at (REV).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/store.h"
#include "etcd_fixture.h"

/* The store's revision when the test opened it; REV(n) is its n-th. */
static int64_t g_base;
#define REV(n) (g_base + (int64_t)(n))
static int g_prefix_seq;

static int64_t revision(store *s);

/* A URL for a store no other test uses: an etcd key prefix of its own. */
static void fresh_etcd_url(char *url, size_t n)
{
    snprintf(url, n, "etcd://%s/test-%d-%d/", g_etcd, (int)getpid(), ++g_prefix_seq);
}

/* A new, empty store: SQLite in memory, or a fresh prefix in etcd. */
static store *open_memory(void)
{
    char url[160] = "sqlite::memory:";
    if (*g_etcd)
        fresh_etcd_url(url, sizeof url);
    store_status st;
    store *s = store_open(url, &st);
    if (!s)
        fail_msg("%s", st.message);
    g_base = revision(s);
    return s;
}

/* A temporary folder per test, removed with what is in it. */
typedef struct tmp {
    char dir[64];
    char path[128];
    char url[160];
} tmp;

/* On etcd, a fresh prefix instead (nothing to make or remove). */
static store *open_url(const char *url);

static void tmp_make(tmp *t)
{
    g_base = 0;
    if (*g_etcd) {
        fresh_etcd_url(t->url, sizeof t->url);
        store *s = open_url(t->url);
        g_base = revision(s);
        store_close(s);
        return;
    }
    snprintf(t->dir, sizeof t->dir, "/tmp/qyvol-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/state.db", t->dir);
    snprintf(t->url, sizeof t->url, "sqlite:%s", t->path);
}

static void tmp_remove(tmp *t)
{
    if (*g_etcd)
        return;
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", t->path, suffixes[i]);
        unlink(p);
    }
    assert_int_equal(rmdir(t->dir), 0);
}

static store *open_url(const char *url)
{
    store_status st;
    store *s = store_open(url, &st);
    if (!s)
        fail_msg("%s", st.message);
    return s;
}

static void put(store *s, const char *key, const char *value, int64_t want_revision)
{
    int64_t rev = -1;
    store_status st;
    if (!store_put(s, key, value, strlen(value), &rev, &st))
        fail_msg("%s", st.message);
    assert_int_equal(rev, REV(want_revision));
}

/* Get a key that must exist. */
static store_kv get(store *s, const char *key)
{
    store_kv kv;
    bool found;
    store_status st;
    if (!store_get(s, key, &kv, &found, &st))
        fail_msg("%s", st.message);
    if (!found)
        fail_msg("%s: not found", key);
    return kv;
}

static void assert_value(store *s, const char *key, const char *value, int64_t create, int64_t mod, int64_t version)
{
    store_kv kv = get(s, key);
    assert_string_equal(kv.key, key);
    assert_int_equal(kv.value_len, strlen(value));
    assert_string_equal((const char *)kv.value, value);
    assert_int_equal(kv.create_revision, REV(create));
    assert_int_equal(kv.mod_revision, REV(mod));
    assert_int_equal(kv.version, version);
    store_kv_free(&kv);
}

static void assert_missing(store *s, const char *key)
{
    store_kv kv;
    bool found = true;
    store_status st;
    assert_true(store_get(s, key, &kv, &found, &st));
    assert_false(found);
}

static int64_t revision(store *s)
{
    int64_t rev = -1;
    store_status st;
    if (!store_revision(s, &rev, &st))
        fail_msg("%s", st.message);
    return rev;
}

/* ---- the data model */

static void revisions_and_versions(void **state)
{
    (void)state;
    store *s = open_memory();
    assert_int_equal(revision(s), REV(0));
    assert_missing(s, "apps/web");
    put(s, "apps/web", "{\"replicas\":1}", 1);
    assert_value(s, "apps/web", "{\"replicas\":1}", 1, 1, 1);
    put(s, "nodes/a", "{}", 2);
    put(s, "apps/web", "{\"replicas\":3}", 3);
    assert_value(s, "apps/web", "{\"replicas\":3}", 1, 3, 2);
    assert_value(s, "nodes/a", "{}", 2, 2, 1);

    /* Deleting forgets the key; putting it again creates it anew. */
    store_op del = {.kind = STORE_DELETE, .key = "apps/web"};
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, NULL, 0, &del, 1, NULL, 0, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.deleted, 1);
    assert_int_equal(res.revision, REV(4));
    assert_missing(s, "apps/web");
    put(s, "apps/web", "again", 5);
    assert_value(s, "apps/web", "again", 5, 5, 1);

    /* A delete of nothing changes nothing: no new revision. */
    del.key = "apps/none";
    assert_true(store_txn(s, NULL, 0, &del, 1, NULL, 0, &res, &st));
    assert_int_equal(res.deleted, 0);
    assert_int_equal(res.revision, REV(5));
    assert_int_equal(revision(s), REV(5));

    /* An empty value is a value. */
    put(s, "tokens/empty", "", 6);
    store_kv kv = get(s, "tokens/empty");
    assert_int_equal(kv.value_len, 0);
    assert_non_null(kv.value);
    assert_int_equal(kv.value[0], '\0');
    store_kv_free(&kv);
    store_close(s);
}

static void put_if_is_compare_and_swap(void **state)
{
    (void)state;
    store *s = open_memory();
    store_txn_result res;
    store_status st;
    /* 0: the key must not exist. */
    assert_true(store_put_if(s, "apps/web", "v1", 2, 0, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, REV(1));
    assert_true(store_put_if(s, "apps/web", "v2", 2, 0, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, REV(1));
    assert_value(s, "apps/web", "v1", 1, 1, 1);
    /* The right mod_revision wins once; the same one again loses. */
    assert_true(store_put_if(s, "apps/web", "v2", 2, REV(1), &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, REV(2));
    assert_true(store_put_if(s, "apps/web", "v3", 2, REV(1), &res, &st));
    assert_false(res.succeeded);
    assert_value(s, "apps/web", "v2", 1, 2, 2);
    /* delete_if: the same rule, and a missing key never matches. */
    assert_true(store_delete_if(s, "apps/web", REV(1), &res, &st));
    assert_false(res.succeeded);
    assert_true(store_delete_if(s, "apps/none", 0, &res, &st));
    assert_false(res.succeeded);
    assert_true(store_delete_if(s, "apps/web", REV(2), &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.deleted, 1);
    assert_int_equal(res.revision, REV(3));
    assert_missing(s, "apps/web");
    store_close(s);
}

static void txn_is_atomic(void **state)
{
    (void)state;
    store *s = open_memory();
    put(s, "apps/web", "old", 1);
    put(s, "replicas/web/0", "r0", 2);
    put(s, "replicas/web/1", "r1", 3);

    /* All the success ops at one revision. */
    store_compare cmp = store_cmp_mod("apps/web", REV(1));
    store_op ops[] = {
        {.kind = STORE_PUT, .key = "apps/web", .value = "new", .value_len = 3},
        {.kind = STORE_PUT, .key = "revisions/web/2", .value = "new", .value_len = 3},
        {.kind = STORE_DELETE_PREFIX, .key = "replicas/web/"},
    };
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, &cmp, 1, ops, 3, NULL, 0, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, REV(4));
    assert_int_equal(res.deleted, 2);
    assert_value(s, "apps/web", "new", 1, 4, 2);
    assert_value(s, "revisions/web/2", "new", 4, 4, 1);
    assert_missing(s, "replicas/web/0");

    /* A failed compare runs the failure ops only. */
    store_op other = {.kind = STORE_PUT, .key = "conflicts/web", .value = "x", .value_len = 1};
    assert_true(store_txn(s, &cmp, 1, ops, 3, &other, 1, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, REV(5));
    assert_value(s, "apps/web", "new", 1, 4, 2);
    assert_value(s, "conflicts/web", "x", 5, 5, 1);
    store_close(s);
}

static void failed_compare_changes_nothing(void **state)
{
    (void)state;
    store *s = open_memory();
    put(s, "a", "1", 1);
    put(s, "b", "2", 2);
    /* The first compare holds, the second does not. */
    store_compare cmps[] = {store_cmp_mod("a", REV(1)), store_cmp_mod("b", REV(1))};
    store_op ops[] = {
        {.kind = STORE_PUT, .key = "a", .value = "changed", .value_len = 7},
        {.kind = STORE_DELETE, .key = "b"},
        {.kind = STORE_PUT, .key = "c", .value = "new", .value_len = 3},
    };
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, cmps, 2, ops, 3, NULL, 0, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, REV(2));
    assert_int_equal(revision(s), REV(2));
    assert_value(s, "a", "1", 1, 1, 1);
    assert_value(s, "b", "2", 2, 2, 1);
    assert_missing(s, "c");
    store_range r;
    assert_true(store_range_prefix(s, "", 0, &r, &st));
    assert_int_equal(r.count, 2);
    store_range_free(&r);
    store_close(s);
}

/* Whether a single compare holds, through an empty transaction. */
static bool holds(store *s, store_compare c)
{
    store_txn_result res;
    store_status st;
    if (!store_txn(s, &c, 1, NULL, 0, NULL, 0, &res, &st))
        fail_msg("%s", st.message);
    return res.succeeded;
}

static void compare_targets(void **state)
{
    (void)state;
    store *s = open_memory();
    put(s, "k", "abc", 1);
    put(s, "k", "abd", 2);
    store_compare c = {.key = "k", .target = STORE_TARGET_VALUE, .relation = STORE_EQUAL, .value = "abd",
                       .value_len = 3};
    assert_true(holds(s, c));
    c.relation = STORE_NOT_EQUAL;
    assert_false(holds(s, c));
    c.relation = STORE_GREATER;
    c.value = "abc";
    assert_true(holds(s, c));
    c.value = "ab"; /* a prefix is less */
    c.value_len = 2;
    assert_true(holds(s, c));
    c.relation = STORE_LESS;
    c.value = "abda";
    c.value_len = 4;
    assert_true(holds(s, c));
    /* On a missing key a value compare never holds, whatever the relation. */
    c.key = "missing";
    c.relation = STORE_NOT_EQUAL;
    assert_false(holds(s, c));

    assert_true(holds(s, store_cmp_exists("k")));
    assert_false(holds(s, store_cmp_missing("k")));
    assert_true(holds(s, store_cmp_missing("missing")));
    assert_true(holds(s, store_cmp_mod("missing", 0)));
    store_compare v = {.key = "k", .target = STORE_TARGET_VERSION, .relation = STORE_EQUAL, .number = 2};
    assert_true(holds(s, v));
    store_compare cr = {.key = "k", .target = STORE_TARGET_CREATE, .relation = STORE_LESS, .number = REV(2)};
    assert_true(holds(s, cr));
    cr.relation = STORE_GREATER;
    assert_false(holds(s, cr));
    store_compare m = {.key = "k", .target = STORE_TARGET_MOD, .relation = STORE_GREATER, .number = REV(1)};
    assert_true(holds(s, m));
    /* None of these changed anything. */
    assert_int_equal(revision(s), REV(2));
    store_close(s);
}

static void revisions_are_monotonic(void **state)
{
    (void)state;
    store *s = open_memory();
    int64_t last = g_base;
    store_status st;
    for (int i = 0; i < 200; i++) {
        char key[32], value[32];
        snprintf(key, sizeof key, "k/%d", i % 17);
        snprintf(value, sizeof value, "%d", i);
        int64_t rev;
        assert_true(store_put(s, key, value, strlen(value), &rev, &st));
        assert_int_equal(rev, last + 1);
        last = rev;
        store_kv kv = get(s, key);
        assert_int_equal(kv.mod_revision, rev);
        assert_int_equal(kv.version, i / 17 + 1);
        store_kv_free(&kv);
    }
    assert_int_equal(revision(s), REV(200));
    store_close(s);
}

/* ---- ranges, prefixes */

static void range_in_key_order(void **state)
{
    (void)state;
    store *s = open_memory();
    const char *keys[] = {"nodes/b", "apps/zeta", "apps/alpha", "apps/", "apps", "appsx", "apps/beta/1",
                          "apps/beta", "apps/Alpha"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put(s, keys[i], keys[i], (int64_t)i + 1);
    store_range r;
    store_status st;
    assert_true(store_range_prefix(s, "apps/", 0, &r, &st));
    const char *want[] = {"apps/", "apps/Alpha", "apps/alpha", "apps/beta", "apps/beta/1", "apps/zeta"};
    assert_int_equal(r.count, 6);
    assert_false(r.more);
    assert_int_equal(r.revision, REV(9));
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(r.kvs[i].key, want[i]);
        assert_string_equal((const char *)r.kvs[i].value, want[i]);
    }
    store_range_free(&r);

    /* A limit cuts the range and says so; exactly the limit does not. */
    assert_true(store_range_prefix(s, "apps/", 2, &r, &st));
    assert_int_equal(r.count, 2);
    assert_true(r.more);
    assert_string_equal(r.kvs[1].key, "apps/Alpha");
    store_range_free(&r);
    assert_true(store_range_prefix(s, "apps/", 6, &r, &st));
    assert_int_equal(r.count, 6);
    assert_false(r.more);
    store_range_free(&r);

    /* "" is everything, in order; an unused prefix is nothing. */
    assert_true(store_range_prefix(s, "", 0, &r, &st));
    assert_int_equal(r.count, 9);
    for (size_t i = 1; i < r.count; i++)
        assert_true(strcmp(r.kvs[i - 1].key, r.kvs[i].key) < 0);
    store_range_free(&r);
    assert_true(store_range_prefix(s, "tokens/", 0, &r, &st));
    assert_int_equal(r.count, 0);
    assert_int_equal(r.revision, REV(9));
    store_range_free(&r);
    store_close(s);
}

static void delete_prefix(void **state)
{
    (void)state;
    store *s = open_memory();
    const char *keys[] = {"revisions/web/1", "revisions/web/2", "revisions/web2/1", "revisions/we", "revisions/web",
                          "a\xff", "a\xff\x01", "a\xff\xff", "b"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        put(s, keys[i], "x", (int64_t)i + 1);
    store_op op = {.kind = STORE_DELETE_PREFIX, .key = "revisions/web/"};
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, NULL, 0, &op, 1, NULL, 0, &res, &st));
    assert_int_equal(res.deleted, 2);
    assert_int_equal(res.revision, REV(10));
    assert_missing(s, "revisions/web/1");
    store_kv kv = get(s, "revisions/web2/1");
    store_kv_free(&kv);
    kv = get(s, "revisions/web");
    store_kv_free(&kv);

    /* A prefix ending in 0xff bytes: its end is past them. */
    op.key = "a\xff";
    assert_true(store_txn(s, NULL, 0, &op, 1, NULL, 0, &res, &st));
    assert_int_equal(res.deleted, 3);
    kv = get(s, "b");
    store_kv_free(&kv);

    /* Nothing under the prefix: no new revision. */
    op.key = "nothing/";
    assert_true(store_txn(s, NULL, 0, &op, 1, NULL, 0, &res, &st));
    assert_int_equal(res.deleted, 0);
    assert_int_equal(res.revision, REV(11));
    store_close(s);
}

/* ---- limits and bad arguments */

static void large_values(void **state)
{
    (void)state;
    store *s = open_memory();
    uint8_t *big = malloc(STORE_MAX_VALUE + 1);
    for (size_t i = 0; i <= STORE_MAX_VALUE; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 8)); /* NULs included */
    int64_t rev;
    store_status st;
    assert_true(store_put(s, "bundles/big", big, STORE_MAX_VALUE, &rev, &st));
    store_kv kv = get(s, "bundles/big");
    assert_int_equal(kv.value_len, STORE_MAX_VALUE);
    assert_memory_equal(kv.value, big, STORE_MAX_VALUE);
    assert_int_equal(kv.value[STORE_MAX_VALUE], 0);
    store_kv_free(&kv);

    assert_false(store_put(s, "bundles/big", big, STORE_MAX_VALUE + 1, &rev, &st));
    assert_int_equal(st.code, STORE_EINVAL);
    assert_non_null(strstr(st.message, "larger than"));
    kv = get(s, "bundles/big");
    assert_int_equal(kv.version, 1);
    store_kv_free(&kv);
    free(big);
    store_close(s);
}

static void expect_refused(store *s, const store_op *ops, size_t n, const char *words)
{
    store_txn_result res;
    store_status st;
    assert_false(store_txn(s, NULL, 0, ops, n, NULL, 0, &res, &st));
    assert_int_equal(st.code, STORE_EINVAL);
    if (!strstr(st.message, words))
        fail_msg("'%s' does not say '%s'", st.message, words);
}

static void bad_arguments_refused(void **state)
{
    (void)state;
    store *s = open_memory();
    store_op put_a = {.kind = STORE_PUT, .key = "a", .value = "1", .value_len = 1};
    store_op twice[] = {put_a, put_a};
    expect_refused(s, twice, 2, "written twice");
    store_op under[] = {put_a, {.kind = STORE_DELETE_PREFIX, .key = "a"}};
    expect_refused(s, under, 2, "written twice");
    store_op all = {.kind = STORE_DELETE_PREFIX, .key = ""};
    expect_refused(s, &all, 1, "every key");
    store_op empty = {.kind = STORE_PUT, .key = "", .value = "1", .value_len = 1};
    expect_refused(s, &empty, 1, "empty key");
    char long_key[STORE_MAX_KEY + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    store_op longer = {.kind = STORE_PUT, .key = long_key, .value = "1", .value_len = 1};
    expect_refused(s, &longer, 1, "longer than");
    store_op *many = calloc(STORE_MAX_TXN_OPS + 1, sizeof *many);
    char (*keys)[16] = calloc(STORE_MAX_TXN_OPS + 1, sizeof *keys);
    for (int i = 0; i <= STORE_MAX_TXN_OPS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        many[i] = (store_op){.kind = STORE_PUT, .key = keys[i], .value = "", .value_len = 0};
    }
    expect_refused(s, many, STORE_MAX_TXN_OPS + 1, "more than the 128");
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, NULL, 0, many, STORE_MAX_TXN_OPS, NULL, 0, &res, &st));
    assert_int_equal(res.revision, REV(1));
    free(many);
    free(keys);
    /* Nothing refused was written. */
    assert_missing(s, "a");
    store_kv kv;
    bool found;
    assert_false(store_get(s, "", &kv, &found, &st));
    assert_int_equal(st.code, STORE_EINVAL);
    store_close(s);
}


static void urls(void **state)
{
    (void)state;
    store_status st;
    char url[96];
    snprintf(url, sizeof url, "etcd://127.0.0.1:%d", closed_port());
    assert_null(store_open(url, &st));
    assert_int_equal(st.code, STORE_EIO);
    assert_non_null(strstr(st.message, "no etcd member answers"));
    const char *bad[] = {"etcd://", "etcd://host", "etcd://:2379", "etcd://h:1,,h:2", "etcd://h:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(store_open(bad[i], &st));
        assert_int_equal(st.code, STORE_EINVAL);
    }
    assert_null(store_open("postgres://x", &st));
    assert_int_equal(st.code, STORE_EINVAL);
    assert_non_null(strstr(st.message, "expected sqlite:PATH"));
    assert_null(store_open("sqlite:", &st));
    assert_int_equal(st.code, STORE_EINVAL);
    assert_null(store_open("sqlite:/nonexistent-qyvol-dir/state.db", &st));
    assert_int_equal(st.code, STORE_EIO);
    assert_non_null(strstr(st.message, "/nonexistent-qyvol-dir/state.db: No such file"));
}

/* ---- leases and the guard */

static void leases(void **state)
{
    (void)state;
    store *s = open_memory();
    store_status st;
    int64_t lease = 0, ttl = -1;
    if (!*g_etcd) {
        /* SQLite has none, and says so. */
        assert_false(store_lease_grant(s, 5, &lease, &st));
        assert_int_equal(st.code, STORE_EUNSUPPORTED);
        store_op op = {.kind = STORE_PUT, .key = "leader", .value = "x", .value_len = 1, .lease = 7};
        store_txn_result res;
        assert_false(store_txn(s, NULL, 0, &op, 1, NULL, 0, &res, &st));
        assert_int_equal(st.code, STORE_EUNSUPPORTED);
        store_close(s);
        return;
    }
    assert_true(store_lease_grant(s, 30, &lease, &st));
    assert_true(lease != 0);
    store_op op = {.kind = STORE_PUT, .key = "leader", .value = "me", .value_len = 2, .lease = lease};
    store_compare missing = store_cmp_missing("leader");
    store_txn_result res;
    assert_true(store_txn(s, &missing, 1, &op, 1, NULL, 0, &res, &st));
    assert_true(res.succeeded);
    /* A second campaign loses while the first lease lives. */
    assert_true(store_txn(s, &missing, 1, &op, 1, NULL, 0, &res, &st));
    assert_false(res.succeeded);
    assert_true(store_lease_keepalive(s, lease, &ttl, &st));
    assert_true(ttl > 0 && ttl <= 30);
    /* Revoking the lease deletes its keys. */
    assert_true(store_lease_revoke(s, lease, &st));
    assert_missing(s, "leader");
    assert_true(store_lease_keepalive(s, lease, &ttl, &st));
    assert_int_equal(ttl, 0);
    store_close(s);
}

static void guard_fences_writes(void **state)
{
    (void)state;
    store *s = open_memory();
    store_status st;
    put(s, "leader", "me", 1);
    assert_true(store_set_guard(s, "leader", REV(1), &st));
    put(s, "apps/web", "1", 2);
    /* Another leader: the key created anew. Nothing passes the guard. */
    store_op del = {.kind = STORE_DELETE, .key = "leader"};
    store_op again = {.kind = STORE_PUT, .key = "leader", .value = "other", .value_len = 5};
    store_txn_result res;
    assert_true(store_set_guard(s, NULL, 0, &st));
    assert_true(store_txn(s, NULL, 0, &del, 1, NULL, 0, &res, &st));
    assert_true(store_txn(s, NULL, 0, &again, 1, NULL, 0, &res, &st));
    assert_true(store_set_guard(s, "leader", REV(1), &st));
    assert_true(store_put_if(s, "apps/web", "2", 1, REV(2), &res, &st));
    assert_false(res.succeeded);
    assert_value(s, "apps/web", "1", 2, 2, 1);
    store_close(s);
}

/* ---- files */

static void file_reopen_keeps_everything(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    store *s = open_url(t.url);
    put(s, "apps/web", "{\"v\":1}", 1);
    put(s, "apps/web", "{\"v\":2}", 2);
    put(s, "nodes/a", "{}", 3);
    store_close(s);

    struct stat sb;
    assert_int_equal(stat(t.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    s = open_url(t.url);
    assert_int_equal(revision(s), REV(3));
    assert_value(s, "apps/web", "{\"v\":2}", 1, 2, 2);
    assert_value(s, "nodes/a", "{}", 3, 3, 1);
    put(s, "nodes/b", "{}", 4);
    store_close(s);

    /* WAL mode, and the schema's version, as SQLite itself sees them. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(t.path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    tmp_remove(&t);
}

static void sql(const char *path, const char *text)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *why = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &why) != SQLITE_OK)
        fail_msg("%s: %s", text, why);
    sqlite3_close(db);
}

static void refuses_what_is_not_a_store(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    store_status st;

    /* A newer schema than this build knows. */
    store_close(open_url(t.url));
    sql(t.path, "PRAGMA user_version = 99");
    assert_null(store_open(t.url, &st));
    assert_int_equal(st.code, STORE_ECORRUPT);
    assert_non_null(strstr(st.message, "schema version 99 is newer"));
    tmp_remove(&t);

    /* Someone else's SQLite database. */
    tmp_make(&t);
    sql(t.path, "CREATE TABLE users (name TEXT)");
    assert_null(store_open(t.url, &st));
    assert_int_equal(st.code, STORE_ECORRUPT);
    assert_non_null(strstr(st.message, "not a Qyvol state store"));
    tmp_remove(&t);

    /* Not a database at all. */
    tmp_make(&t);
    FILE *f = fopen(t.path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database\n", f);
    fclose(f);
    assert_null(store_open(t.url, &st));
    assert_int_equal(st.code, STORE_ECORRUPT);
    assert_non_null(strstr(st.message, t.path));
    tmp_remove(&t);
}

static void two_handles_conflict(void **state)
{
    (void)state;
    tmp t;
    tmp_make(&t);
    store *a = open_url(t.url), *b = open_url(t.url);
    put(a, "apps/web", "a1", 1);

    /* Both read the same mod_revision; the first write wins, the second
     * is refused and sees the first one's value. */
    store_kv ka = get(a, "apps/web"), kb = get(b, "apps/web");
    assert_int_equal(ka.mod_revision, REV(1));
    assert_int_equal(kb.mod_revision, REV(1));
    store_txn_result res;
    store_status st;
    assert_true(store_put_if(b, "apps/web", "b2", 2, kb.mod_revision, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, REV(2));
    assert_true(store_put_if(a, "apps/web", "a2", 2, ka.mod_revision, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, REV(2));
    assert_value(a, "apps/web", "b2", 1, 2, 2);
    store_kv_free(&ka);
    store_kv_free(&kb);

    /* Revisions go on from whichever handle committed last. */
    put(a, "nodes/a", "{}", 3);
    put(b, "nodes/b", "{}", 4);
    assert_int_equal(revision(a), REV(4));
    store_close(a);
    store_close(b);
    tmp_remove(&t);
}

/* Add one to the counter key with compare-and-swap, retrying on conflict;
 * returns the conflicts met. */
static int increment(store *s, int times)
{
    int conflicts = 0;
    store_status st;
    for (int i = 0; i < times;) {
        store_kv kv;
        bool found;
        if (!store_get(s, "counter", &kv, &found, &st))
            fail_msg("%s", st.message);
        long n = found ? strtol((const char *)kv.value, NULL, 10) : 0;
        int64_t mod = found ? kv.mod_revision : 0;
        if (found)
            store_kv_free(&kv);
        char value[32];
        snprintf(value, sizeof value, "%ld", n + 1);
        store_txn_result res;
        if (!store_put_if(s, "counter", value, strlen(value), mod, &res, &st))
            fail_msg("%s", st.message);
        if (res.succeeded)
            i++;
        else
            conflicts++;
    }
    return conflicts;
}

static void two_processes_never_both_win(void **state)
{
    (void)state;
    enum { TIMES = 100 };
    tmp t;
    tmp_make(&t);
    store_close(open_url(t.url)); /* created once, before the race */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        store *s = open_url(t.url);
        increment(s, TIMES);
        store_close(s);
        _exit(0);
    }
    store *s = open_url(t.url);
    increment(s, TIMES);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Every increment counted once: no lost update, no double apply. */
    store_kv kv = get(s, "counter");
    assert_string_equal((const char *)kv.value, "200");
    assert_int_equal(kv.version, 2 * TIMES);
    assert_int_equal(revision(s), REV(2 * TIMES));
    store_kv_free(&kv);
    store_close(s);
    tmp_remove(&t);
}

/* The endpoint list fails over: a dead endpoint first, then etcd. */
static void etcd_failover(void **state)
{
    (void)state;
    char url[160];
    snprintf(url, sizeof url, "etcd://127.0.0.1:%d,%s/failover-%d/", closed_port(), g_etcd, (int)getpid());
    store *s = open_url(url);
    g_base = revision(s);
    put(s, "apps/web", "x", 1);
    assert_value(s, "apps/web", "x", 1, 1, 1);
    store_close(s);
}

int main(void)
{
/* What both backends must do alike. */
#define BOTH_BACKENDS                                                                                              \
    cmocka_unit_test(revisions_and_versions), cmocka_unit_test(put_if_is_compare_and_swap),                      \
        cmocka_unit_test(txn_is_atomic), cmocka_unit_test(failed_compare_changes_nothing),                       \
        cmocka_unit_test(compare_targets), cmocka_unit_test(revisions_are_monotonic),                            \
        cmocka_unit_test(range_in_key_order), cmocka_unit_test(delete_prefix), cmocka_unit_test(large_values),   \
        cmocka_unit_test(bad_arguments_refused), cmocka_unit_test(two_handles_conflict),                         \
        cmocka_unit_test(two_processes_never_both_win), cmocka_unit_test(leases),                                \
        cmocka_unit_test(guard_fences_writes)
    const struct CMUnitTest tests[] = {
        BOTH_BACKENDS,
        cmocka_unit_test(urls),
        cmocka_unit_test(file_reopen_keeps_everything),
        cmocka_unit_test(refuses_what_is_not_a_store),
    };
    const struct CMUnitTest on_etcd[] = {
        BOTH_BACKENDS,
        cmocka_unit_test(etcd_failover),
    };
    int failed = cmocka_run_group_tests_name("store on SQLite", tests, NULL, NULL);
    etcd_proc e = {0};
    if (etcd_start(&e))
        failed += cmocka_run_group_tests_name("store on etcd", on_etcd, NULL, NULL);
    else if (e.pid > 0)
        failed++;
    etcd_stop(&e);
    return failed;
}
