/*
 * test_store.c — the cluster's state store (src/cluster/store.h) on SQLite,
 * in memory and in a file: revisions and per-key metadata as etcd keeps
 * them, transactions that apply all or nothing, ranges in key order,
 * limits, reopening, and two handles (and two processes) on one file whose
 * compare-and-swaps never both win.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/store.h"

static store *open_memory(void)
{
    store_status st;
    store *s = store_open("sqlite::memory:", &st);
    if (!s)
        fail_msg("%s", st.message);
    return s;
}

/* A temporary folder per test, removed with what is in it. */
typedef struct tmp {
    char dir[64];
    char path[128];
    char url[160];
} tmp;

static void tmp_make(tmp *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/qyvol-store-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof t->path, "%s/state.db", t->dir);
    snprintf(t->url, sizeof t->url, "sqlite:%s", t->path);
}

static void tmp_remove(tmp *t)
{
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
    assert_int_equal(rev, want_revision);
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
    assert_int_equal(kv.create_revision, create);
    assert_int_equal(kv.mod_revision, mod);
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
    assert_int_equal(revision(s), 0);
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
    assert_int_equal(res.revision, 4);
    assert_missing(s, "apps/web");
    put(s, "apps/web", "again", 5);
    assert_value(s, "apps/web", "again", 5, 5, 1);

    /* A delete of nothing changes nothing: no new revision. */
    del.key = "apps/none";
    assert_true(store_txn(s, NULL, 0, &del, 1, NULL, 0, &res, &st));
    assert_int_equal(res.deleted, 0);
    assert_int_equal(res.revision, 5);
    assert_int_equal(revision(s), 5);

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
    assert_int_equal(res.revision, 1);
    assert_true(store_put_if(s, "apps/web", "v2", 2, 0, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, 1);
    assert_value(s, "apps/web", "v1", 1, 1, 1);
    /* The right mod_revision wins once; the same one again loses. */
    assert_true(store_put_if(s, "apps/web", "v2", 2, 1, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, 2);
    assert_true(store_put_if(s, "apps/web", "v3", 2, 1, &res, &st));
    assert_false(res.succeeded);
    assert_value(s, "apps/web", "v2", 1, 2, 2);
    /* delete_if: the same rule, and a missing key never matches. */
    assert_true(store_delete_if(s, "apps/web", 1, &res, &st));
    assert_false(res.succeeded);
    assert_true(store_delete_if(s, "apps/none", 0, &res, &st));
    assert_false(res.succeeded);
    assert_true(store_delete_if(s, "apps/web", 2, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.deleted, 1);
    assert_int_equal(res.revision, 3);
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
    store_compare cmp = store_cmp_mod("apps/web", 1);
    store_op ops[] = {
        {.kind = STORE_PUT, .key = "apps/web", .value = "new", .value_len = 3},
        {.kind = STORE_PUT, .key = "revisions/web/2", .value = "new", .value_len = 3},
        {.kind = STORE_DELETE_PREFIX, .key = "replicas/web/"},
    };
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, &cmp, 1, ops, 3, NULL, 0, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, 4);
    assert_int_equal(res.deleted, 2);
    assert_value(s, "apps/web", "new", 1, 4, 2);
    assert_value(s, "revisions/web/2", "new", 4, 4, 1);
    assert_missing(s, "replicas/web/0");

    /* A failed compare runs the failure ops only. */
    store_op other = {.kind = STORE_PUT, .key = "conflicts/web", .value = "x", .value_len = 1};
    assert_true(store_txn(s, &cmp, 1, ops, 3, &other, 1, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, 5);
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
    store_compare cmps[] = {store_cmp_mod("a", 1), store_cmp_mod("b", 1)};
    store_op ops[] = {
        {.kind = STORE_PUT, .key = "a", .value = "changed", .value_len = 7},
        {.kind = STORE_DELETE, .key = "b"},
        {.kind = STORE_PUT, .key = "c", .value = "new", .value_len = 3},
    };
    store_txn_result res;
    store_status st;
    assert_true(store_txn(s, cmps, 2, ops, 3, NULL, 0, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, 2);
    assert_int_equal(revision(s), 2);
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
    store_compare cr = {.key = "k", .target = STORE_TARGET_CREATE, .relation = STORE_LESS, .number = 2};
    assert_true(holds(s, cr));
    cr.relation = STORE_GREATER;
    assert_false(holds(s, cr));
    store_compare m = {.key = "k", .target = STORE_TARGET_MOD, .relation = STORE_GREATER, .number = 1};
    assert_true(holds(s, m));
    /* None of these changed anything. */
    assert_int_equal(revision(s), 2);
    store_close(s);
}

static void revisions_are_monotonic(void **state)
{
    (void)state;
    store *s = open_memory();
    int64_t last = 0;
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
    assert_int_equal(revision(s), 200);
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
    assert_int_equal(r.revision, 9);
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
    assert_int_equal(r.revision, 9);
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
    assert_int_equal(res.revision, 10);
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
    assert_int_equal(res.revision, 11);
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
    assert_int_equal(res.revision, 1);
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
    assert_null(store_open("etcd://127.0.0.1:2379", &st));
    assert_int_equal(st.code, STORE_EUNSUPPORTED);
    assert_non_null(strstr(st.message, "not built yet"));
    assert_null(store_open("postgres://x", &st));
    assert_int_equal(st.code, STORE_EINVAL);
    assert_non_null(strstr(st.message, "expected sqlite:PATH"));
    assert_null(store_open("sqlite:", &st));
    assert_int_equal(st.code, STORE_EINVAL);
    assert_null(store_open("sqlite:/nonexistent-qyvol-dir/state.db", &st));
    assert_int_equal(st.code, STORE_EIO);
    assert_non_null(strstr(st.message, "/nonexistent-qyvol-dir/state.db: No such file"));
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
    assert_int_equal(revision(s), 3);
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
    assert_int_equal(ka.mod_revision, 1);
    assert_int_equal(kb.mod_revision, 1);
    store_txn_result res;
    store_status st;
    assert_true(store_put_if(b, "apps/web", "b2", 2, kb.mod_revision, &res, &st));
    assert_true(res.succeeded);
    assert_int_equal(res.revision, 2);
    assert_true(store_put_if(a, "apps/web", "a2", 2, ka.mod_revision, &res, &st));
    assert_false(res.succeeded);
    assert_int_equal(res.revision, 2);
    assert_value(a, "apps/web", "b2", 1, 2, 2);
    store_kv_free(&ka);
    store_kv_free(&kb);

    /* Revisions go on from whichever handle committed last. */
    put(a, "nodes/a", "{}", 3);
    put(b, "nodes/b", "{}", 4);
    assert_int_equal(revision(a), 4);
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
    assert_int_equal(revision(s), 2 * TIMES);
    store_kv_free(&kv);
    store_close(s);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(revisions_and_versions),
        cmocka_unit_test(put_if_is_compare_and_swap),
        cmocka_unit_test(txn_is_atomic),
        cmocka_unit_test(failed_compare_changes_nothing),
        cmocka_unit_test(compare_targets),
        cmocka_unit_test(revisions_are_monotonic),
        cmocka_unit_test(range_in_key_order),
        cmocka_unit_test(delete_prefix),
        cmocka_unit_test(large_values),
        cmocka_unit_test(bad_arguments_refused),
        cmocka_unit_test(urls),
        cmocka_unit_test(file_reopen_keeps_everything),
        cmocka_unit_test(refuses_what_is_not_a_store),
        cmocka_unit_test(two_handles_conflict),
        cmocka_unit_test(two_processes_never_both_win),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
