/*
 * store_sqlite.c — the state store in one SQLite database (the single
 * master's embedded store). All of Qyvol's SQLite is here.
 *
 * Tables: kv (key, value, create_revision, mod_revision, version), one row
 * a live key; meta (name, value) holding the store's revision. The schema
 * is versioned by PRAGMA user_version: MIGRATIONS[i] takes a database from
 * version i to i + 1, and opening applies the missing ones in one
 * transaction. PRAGMA application_id marks the file as ours.
 *
 * A transaction is BEGIN IMMEDIATE (the write lock first, so that its
 * compares and writes see no other writer in between, whichever handle or
 * process that writer is), the compares, the ops, the revision bumped if
 * anything changed, COMMIT. Statements are prepared once, at open.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/store_backend.h"

/* The file says it is a Qyvol store ("QYVS"). */
#define APPLICATION_ID 0x51595653
/* How long a transaction waits for another handle's write lock. */
#define BUSY_TIMEOUT_MS 5000

static const char *const MIGRATIONS[] = {
    /* 0 -> 1 */
    "CREATE TABLE kv ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value BLOB NOT NULL,"
    "  create_revision INTEGER NOT NULL,"
    "  mod_revision INTEGER NOT NULL,"
    "  version INTEGER NOT NULL);"
    "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
    "INSERT INTO meta VALUES ('revision', 0);",
};
#define SCHEMA_VERSION ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

enum {
    ST_BEGIN_READ,
    ST_BEGIN_WRITE,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_GET_REVISION,
    ST_SET_REVISION,
    ST_GET,
    ST_RANGE,          /* key >= ?1 AND key < ?2 */
    ST_RANGE_FROM,     /* key >= ?1 (no upper bound) */
    ST_PUT,
    ST_DELETE,
    ST_DELETE_RANGE,
    ST_DELETE_FROM,
    ST_COUNT
};

static const char *const STATEMENTS[ST_COUNT] = {
    [ST_BEGIN_READ] = "BEGIN",
    [ST_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_GET_REVISION] = "SELECT value FROM meta WHERE name = 'revision'",
    [ST_SET_REVISION] = "UPDATE meta SET value = ?1 WHERE name = 'revision'",
    [ST_GET] = "SELECT value, create_revision, mod_revision, version FROM kv WHERE key = ?1",
    [ST_RANGE] = "SELECT key, value, create_revision, mod_revision, version FROM kv"
                 " WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
    [ST_RANGE_FROM] = "SELECT key, value, create_revision, mod_revision, version FROM kv"
                      " WHERE key >= ?1 ORDER BY key LIMIT ?3",
    /* A new key: created and modified now, version 1; an existing one
     * keeps its create_revision and counts one more version. */
    [ST_PUT] = "INSERT INTO kv (key, value, create_revision, mod_revision, version) VALUES (?1, ?2, ?3, ?3, 1)"
               " ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision,"
               " version = version + 1",
    [ST_DELETE] = "DELETE FROM kv WHERE key = ?1",
    [ST_DELETE_RANGE] = "DELETE FROM kv WHERE key >= ?1 AND key < ?2",
    [ST_DELETE_FROM] = "DELETE FROM kv WHERE key >= ?1",
};

typedef struct sqlite_store {
    store base;
    sqlite3 *db;
    sqlite3_stmt *stmt[ST_COUNT];
} sqlite_store;

static sqlite_store *as_sqlite(store *s) { return (sqlite_store *)s; }

static store_code code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return STORE_EBUSY;
    case SQLITE_FULL: return STORE_EFULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return STORE_ECORRUPT;
    case SQLITE_NOMEM: return STORE_ENOMEM;
    default: return STORE_EIO;
    }
}

/* Fail with SQLite's own words for rc. */
static bool fail_sqlite(sqlite_store *q, int rc, const char *what, store_status *st)
{
    const char *why = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    return store_fail(st, &q->base, NULL, code_of(rc), "%s: %s", what, why);
}

/* Run a cached statement that returns no rows; reset it after. */
static int step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static bool exec(sqlite_store *q, int which, const char *what, store_status *st)
{
    int rc = step_done(q->stmt[which]);
    return rc == SQLITE_OK || fail_sqlite(q, rc, what, st);
}

static void rollback(sqlite_store *q)
{
    if (!sqlite3_get_autocommit(q->db))
        step_done(q->stmt[ST_ROLLBACK]);
}

/* An integer from a one-row PRAGMA or SELECT run once (at open). */
static bool query_int(sqlite_store *q, const char *sql, int64_t *out, store_status *st)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(q, rc, sql, st);
    rc = sqlite3_step(stmt);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    bool ok = rc == SQLITE_OK || fail_sqlite(q, rc, sql, st);
    sqlite3_finalize(stmt);
    return ok;
}

static bool exec_sql(sqlite_store *q, const char *sql, const char *what, store_status *st)
{
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK || fail_sqlite(q, rc, what, st);
}

/* Bring the schema to SCHEMA_VERSION, or refuse a file that is not ours or
 * is newer than this build. Another process may migrate at the same time:
 * the version is read again under the write lock. */
static bool migrate(sqlite_store *q, store_status *st)
{
    int64_t version, app_id;
    if (!query_int(q, "PRAGMA user_version", &version, st) || !query_int(q, "PRAGMA application_id", &app_id, st))
        return false;
    if (version > 0 && app_id != APPLICATION_ID)
        return store_fail(st, &q->base, NULL, STORE_ECORRUPT, "not a Qyvol state store (application_id %lld)",
                          (long long)app_id);
    if (version > SCHEMA_VERSION)
        return store_fail(st, &q->base, NULL, STORE_ECORRUPT,
                          "schema version %lld is newer than this qyv knows (%d): use a newer qyv",
                          (long long)version, SCHEMA_VERSION);
    if (version == SCHEMA_VERSION)
        return true;
    if (!exec_sql(q, "BEGIN IMMEDIATE", "cannot migrate the schema", st))
        return false;
    bool ok = query_int(q, "PRAGMA user_version", &version, st);
    if (ok && version == 0) {
        int64_t tables;
        ok = query_int(q, "SELECT count(*) FROM sqlite_master", &tables, st);
        if (ok && tables > 0)
            ok = store_fail(st, &q->base, NULL, STORE_ECORRUPT, "an SQLite database that is not a Qyvol state store");
    }
    for (; ok && version < SCHEMA_VERSION; version++) {
        char what[64];
        snprintf(what, sizeof what, "schema migration %lld -> %lld", (long long)version, (long long)version + 1);
        ok = exec_sql(q, MIGRATIONS[version], what, st);
    }
    if (ok) {
        char sql[96];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d", SCHEMA_VERSION,
                 APPLICATION_ID);
        ok = exec_sql(q, sql, "cannot record the schema version", st) &&
             exec_sql(q, "COMMIT", "cannot commit the schema", st);
    }
    if (!ok)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return ok;
}

/* Make the file ourselves when it is missing: SQLite would create it with
 * the umask's mode, and the store holds tokens. */
static bool create_private(const char *path, const char *url, store_status *st)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return store_fail(st, NULL, url, STORE_EIO, "cannot open %s: %s", path, strerror(errno));
    close(fd);
    return true;
}

static const store_backend SQLITE_BACKEND;

static bool configure(sqlite_store *q, bool in_memory, store_status *st)
{
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    if (!in_memory) {
        char mode[16] = "";
        sqlite3_stmt *stmt;
        int rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(stmt, 0));
            rc = SQLITE_OK;
        }
        sqlite3_finalize(stmt);
        if (rc != SQLITE_OK)
            return fail_sqlite(q, rc, "cannot set WAL mode", st);
        if (strcmp(mode, "wal") != 0)
            return store_fail(st, &q->base, NULL, STORE_EIO, "the database stays in %s mode, not WAL", mode);
    }
    /* FULL, not NORMAL: in WAL mode NORMAL syncs only at checkpoints, so a
     * power cut or kernel crash could take back commits the master had
     * acknowledged (a deploy, a scale) — a process crash loses nothing
     * either way. etcd syncs every commit too. Writes are rare (deploys,
     * scaling, nodes joining; not heartbeats, which the master keeps in
     * memory), so one fsync per commit costs nothing that matters. */
    if (!exec_sql(q, "PRAGMA synchronous = FULL", "cannot set synchronous mode", st) || !migrate(q, st))
        return false;
    for (int i = 0; i < ST_COUNT; i++) {
        int rc = sqlite3_prepare_v3(q->db, STATEMENTS[i], -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[i], NULL);
        if (rc != SQLITE_OK)
            return fail_sqlite(q, rc, STATEMENTS[i], st);
    }
    return true;
}

static void sqlite_close(store *s)
{
    sqlite_store *q = as_sqlite(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    sqlite3_close_v2(q->db);
    free(q);
}

store *store_sqlite_open(const char *path, const char *url, store_status *st)
{
    bool in_memory = strcmp(path, ":memory:") == 0;
    if (!in_memory && !create_private(path, url, st))
        return NULL;
    sqlite_store *q = calloc(1, sizeof *q);
    if (!q) {
        store_fail(st, NULL, url, STORE_ENOMEM, "out of memory");
        return NULL;
    }
    q->base.backend = &SQLITE_BACKEND;
    snprintf(q->base.url, sizeof q->base.url, "%s", url);
    int rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK || !configure(q, in_memory, st)) {
        if (rc != SQLITE_OK)
            fail_sqlite(q, rc, "cannot open", st);
        sqlite_close(&q->base);
        return NULL;
    }
    return &q->base;
}

/* ---- reading */

static bool read_revision(sqlite_store *q, int64_t *revision, store_status *st)
{
    sqlite3_stmt *stmt = q->stmt[ST_GET_REVISION];
    int rc = sqlite3_step(stmt);
    *revision = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return store_fail(st, &q->base, NULL, STORE_ECORRUPT, "the revision is missing from the meta table");
    return fail_sqlite(q, rc, "cannot read the revision", st);
}

static bool sqlite_revision(store *s, int64_t *revision, store_status *st)
{
    return read_revision(as_sqlite(s), revision, st);
}

/* Copy a column's bytes, with a NUL after them. */
static void *copy_column(sqlite3_stmt *stmt, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(stmt, col);
    size_t n = (size_t)sqlite3_column_bytes(stmt, col);
    uint8_t *copy = malloc(n + 1);
    if (copy) {
        if (n)
            memcpy(copy, p, n);
        copy[n] = '\0';
    }
    if (len)
        *len = n;
    return copy;
}

/* Fill kv from a row whose value is column `first`, followed by its
 * create_revision, mod_revision and version; key is copied. */
static bool row_to_kv(sqlite3_stmt *stmt, int first, const char *key, store_kv *kv)
{
    *kv = (store_kv){0};
    kv->key = strdup(key);
    kv->value = copy_column(stmt, first, &kv->value_len);
    kv->create_revision = sqlite3_column_int64(stmt, first + 1);
    kv->mod_revision = sqlite3_column_int64(stmt, first + 2);
    kv->version = sqlite3_column_int64(stmt, first + 3);
    if (kv->key && kv->value)
        return true;
    store_kv_free(kv);
    return false;
}

/* Look a key up inside the current transaction (or as its own). */
static bool lookup(sqlite_store *q, const char *key, store_kv *out, bool *found, store_status *st)
{
    sqlite3_stmt *stmt = q->stmt[ST_GET];
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    bool ok = true;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        if (!row_to_kv(stmt, 0, key, out))
            ok = store_fail(st, &q->base, NULL, STORE_ENOMEM, "get %s: out of memory", key);
    } else if (rc != SQLITE_DONE) {
        ok = fail_sqlite(q, rc, "cannot read a key", st);
    }
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return ok;
}

static bool sqlite_get(store *s, const char *key, store_kv *out, bool *found, store_status *st)
{
    return lookup(as_sqlite(s), key, out, found, st);
}

static bool grow_range(store_range *r, size_t *cap)
{
    if (r->count < *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    store_kv *kvs = realloc(r->kvs, n * sizeof *kvs);
    if (!kvs)
        return false;
    r->kvs = kvs;
    *cap = n;
    return true;
}

/* The rows of a prefix and the revision, read in one read transaction so
 * that they agree. One row past the limit is asked for, to set `more`. */
static bool sqlite_range(store *s, const char *prefix, size_t limit, store_range *out, store_status *st)
{
    sqlite_store *q = as_sqlite(s);
    char *end = malloc(strlen(prefix) + 1);
    if (!end)
        return store_fail(st, s, NULL, STORE_ENOMEM, "range: out of memory");
    bool bounded = store_prefix_end(prefix, end);
    sqlite3_stmt *stmt = q->stmt[bounded ? ST_RANGE : ST_RANGE_FROM];
    sqlite3_bind_text(stmt, 1, prefix, -1, SQLITE_STATIC);
    if (bounded)
        sqlite3_bind_text(stmt, 2, end, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, limit ? (int64_t)limit + 1 : -1);

    bool ok = exec(q, ST_BEGIN_READ, "cannot start reading", st) && read_revision(q, &out->revision, st);
    size_t cap = 0;
    int rc = SQLITE_DONE;
    while (ok && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (limit && out->count == limit) {
            out->more = true;
            break;
        }
        if (!grow_range(out, &cap) ||
            !row_to_kv(stmt, 1, (const char *)sqlite3_column_text(stmt, 0), &out->kvs[out->count]))
            ok = store_fail(st, s, NULL, STORE_ENOMEM, "range %s: out of memory", prefix);
        else
            out->count++;
    }
    if (ok && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ok = fail_sqlite(q, rc, "cannot read a range", st);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    free(end);
    if (ok)
        ok = exec(q, ST_COMMIT, "cannot finish reading", st);
    if (!ok) {
        rollback(q);
        store_range_free(out);
    }
    return ok;
}

/* ---- writing */

/* Run one op at revision rev; *changed is set when it changed a key. */
static bool apply_op(sqlite_store *q, const store_op *op, int64_t rev, bool *changed, int64_t *deleted,
                     store_status *st)
{
    sqlite3_stmt *stmt;
    char *end = NULL;
    switch (op->kind) {
    case STORE_PUT:
        stmt = q->stmt[ST_PUT];
        sqlite3_bind_text(stmt, 1, op->key, -1, SQLITE_STATIC);
        /* A zero-length blob, not NULL, for an empty value. */
        sqlite3_bind_blob64(stmt, 2, op->value_len ? op->value : "", op->value_len, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, rev);
        break;
    case STORE_DELETE:
        stmt = q->stmt[ST_DELETE];
        sqlite3_bind_text(stmt, 1, op->key, -1, SQLITE_STATIC);
        break;
    default:
        end = malloc(strlen(op->key) + 1);
        if (!end)
            return store_fail(st, &q->base, NULL, STORE_ENOMEM, "delete %s: out of memory", op->key);
        bool bounded = store_prefix_end(op->key, end);
        stmt = q->stmt[bounded ? ST_DELETE_RANGE : ST_DELETE_FROM];
        sqlite3_bind_text(stmt, 1, op->key, -1, SQLITE_STATIC);
        if (bounded)
            sqlite3_bind_text(stmt, 2, end, -1, SQLITE_STATIC);
        break;
    }
    int rc = step_done(stmt);
    free(end);
    if (rc != SQLITE_OK)
        return fail_sqlite(q, rc, op->kind == STORE_PUT ? "cannot put" : "cannot delete", st);
    int n = sqlite3_changes(q->db);
    if (op->kind != STORE_PUT)
        *deleted += n;
    if (n > 0)
        *changed = true;
    return true;
}

static bool compares_hold(sqlite_store *q, const store_compare *cmps, size_t n, bool *holds, store_status *st)
{
    *holds = true;
    for (size_t i = 0; i < n && *holds; i++) {
        store_kv kv;
        bool found;
        if (!lookup(q, cmps[i].key, &kv, &found, st))
            return false;
        *holds = store_compare_holds(&cmps[i], found ? &kv : NULL);
        if (found)
            store_kv_free(&kv);
    }
    return true;
}

static bool sqlite_txn(store *s, const store_compare *cmps, size_t ncmps, const store_op *success, size_t nsuccess,
                       const store_op *failure, size_t nfailure, store_txn_result *res, store_status *st)
{
    sqlite_store *q = as_sqlite(s);
    if (!exec(q, ST_BEGIN_WRITE, "cannot start a transaction", st))
        return false;
    int64_t rev;
    bool changed = false;
    bool ok = read_revision(q, &rev, st) && compares_hold(q, cmps, ncmps, &res->succeeded, st);
    const store_op *ops = res->succeeded ? success : failure;
    size_t nops = res->succeeded ? nsuccess : nfailure;
    for (size_t i = 0; ok && i < nops; i++)
        ok = apply_op(q, &ops[i], rev + 1, &changed, &res->deleted, st);
    if (ok && changed) {
        sqlite3_bind_int64(q->stmt[ST_SET_REVISION], 1, rev + 1);
        ok = exec(q, ST_SET_REVISION, "cannot write the revision", st);
    }
    if (ok)
        ok = exec(q, ST_COMMIT, "cannot commit", st);
    if (!ok) {
        rollback(q);
        res->succeeded = false;
        res->deleted = 0;
        return false;
    }
    res->revision = changed ? rev + 1 : rev;
    return true;
}

static const store_backend SQLITE_BACKEND = {
    .name = "sqlite",
    .close = sqlite_close,
    .revision = sqlite_revision,
    .get = sqlite_get,
    .range = sqlite_range,
    .txn = sqlite_txn,
};
