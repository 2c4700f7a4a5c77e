/*
 * retention.c — see retention.h.
 */
#include "cluster/master/retention.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/bundle.h"
#include "serve/log.h"

#define SWEEP_EVERY_NS (60ull * 1000000000u)
#define SWEEP_AT_MOST_NS (1000000000ull)

/* Does the app still need revision n: the one it runs or moves to, or a
 * revision its rollout names (the stable set it may go back to)? */
static bool revision_in_use(const m_app *a, int64_t n)
{
    if (n == a->revision) return true;
    const m_rollout *r = a->rollout;
    return r && (r->from_revision == n || r->to_revision == n || (r->stable && r->stable->revision == n));
}

/* The digest a record names ("" when it names none), and when it was
 * deployed (ms since the epoch; 0: unknown). */
static void record_digest(const store_kv *kv, char hex[65], json_int_t *time_ms)
{
    json_t *rec = json_loadb((const char *)kv->value, kv->value_len, 0, NULL);
    const char *d = json_string_value(json_object_get(rec, "digest"));
    snprintf(hex, 65, "%s", d && bundle_digest_valid(d) ? d : "");
    if (time_ms) *time_ms = json_integer_value(json_object_get(rec, "time_ms"));
    json_decref(rec);
}

/* Candidates for deletion: {HEX: SINCE_MS}, kept if the bundle's tar was
 * written or uploaded at SINCE_MS or later. */
static void add_candidate(json_t *candidates, const char *hex, json_int_t since_ms)
{
    json_t *had = json_object_get(candidates, hex);
    if (!had || json_integer_value(had) < since_ms) json_object_set_new(candidates, hex, json_integer(since_ms));
}

/* Delete the app's records beyond the newest `keep` (but those it still
 * needs); the digests they named become candidates, kept if uploaded
 * again since that revision was deployed. */
static void prune_records(master *m, const m_app *a, unsigned keep, json_t *dropped)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "revisions/%s/", a->name);
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, prefix, 0, &range, &st)) {
        log_json(LOG_WARN, "cannot read revision records", json_pack("{s:s,s:s}", "app", a->name, "reason", st.message));
        return;
    }
    /* Keys are revisions/APP/NNNNNNNNNN: oldest first. */
    size_t excess = range.count > keep ? range.count - keep : 0, deleted = 0;
    for (size_t i = 0; i < excess; i++) {
        const store_kv *kv = &range.kvs[i];
        int64_t n = strtoll(kv->key + strlen(prefix), NULL, 10);
        if (revision_in_use(a, n)) continue;
        char hex[65];
        json_int_t time_ms;
        record_digest(kv, hex, &time_ms);
        store_txn_result res;
        if (!store_delete_if(m->st, kv->key, kv->mod_revision, &res, &st)) {
            log_json(LOG_WARN, "cannot delete a revision record", json_pack("{s:s,s:s}", "key", kv->key, "reason", st.message));
            break;
        }
        if (!res.succeeded) continue; /* changed meanwhile: next sweep */
        deleted++;
        /* Unknown time: as if never deployed (retention.h's grace). */
        if (*hex) add_candidate(dropped, hex, time_ms > 0 ? time_ms : (json_int_t)now_ms() - RETENTION_BUNDLE_GRACE_S * 1000);
    }
    if (deleted)
        log_json(LOG_INFO, "old revision records deleted", json_pack("{s:s,s:I,s:i}", "app", a->name, "deleted",
                                                                    (json_int_t)deleted, "kept", (int)keep));
    store_range_free(&range);
}

/* Every digest an app, a rollout's stable set or a record names, as a
 * set; NULL when the records cannot be read (then nothing is deleted). */
static json_t *named_bundles(master *m)
{
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, "revisions/", 0, &range, &st)) {
        log_json(LOG_WARN, "cannot read revision records", json_pack("{s:s}", "reason", st.message));
        return NULL;
    }
    json_t *named = json_object();
    for (size_t i = 0; i < range.count; i++) {
        char hex[65];
        record_digest(&range.kvs[i], hex, NULL);
        if (*hex) json_object_set_new(named, hex, json_true());
    }
    store_range_free(&range);
    for (size_t i = 0; i < m->state.napps; i++) {
        const m_app *a = &m->state.apps[i];
        json_object_set_new(named, a->digest, json_true());
        if (a->rollout && a->rollout->stable) json_object_set_new(named, a->rollout->stable->digest, json_true());
    }
    return named;
}

/* The bundle's tar in DATA/bundles was written or uploaded at since_ms
 * or later. */
static bool uploaded_since(const char *tar, json_int_t since_ms)
{
    struct stat st;
    return stat(tar, &st) == 0 &&
           (json_int_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 >= since_ms;
}

static void delete_bundle(master *m, const char *hex, json_int_t since_ms)
{
    char tar[800], dir[800];
    snprintf(tar, sizeof tar, "%s/%s.tar", m->bundles_dir, hex);
    snprintf(dir, sizeof dir, "%s/%s", m->bundles_dir, hex);
    if (uploaded_since(tar, since_ms)) return;
    if (!strcmp(store_kind(m->st), "etcd")) {
        /* One transaction removes the chunks and bundles/HEX together
         * (fenced, as every write of the leader). */
        char chunks[140], meta[140];
        snprintf(chunks, sizeof chunks, "bundles/%s/", hex);
        snprintf(meta, sizeof meta, "bundles/%s", hex);
        store_op ops[2] = {{.kind = STORE_DELETE_PREFIX, .key = chunks}, {.kind = STORE_DELETE, .key = meta}};
        store_txn_result res;
        store_status st;
        if (!store_txn(m->st, NULL, 0, ops, 2, NULL, 0, &res, &st) || !res.succeeded) {
            log_json(LOG_WARN, "cannot delete a bundle from the store",
                     json_pack("{s:s,s:s}", "digest", hex, "reason", res.succeeded ? st.message : "no longer leading"));
            return;
        }
    }
    unlink(tar);
    bundle_remove(dir);
    log_json(LOG_INFO, "bundle deleted: no app or kept revision names it", json_pack("{s:s}", "digest", hex));
}

static void sweep(master *m)
{
    unsigned keep = m->opt.revision_history ? m->opt.revision_history : RETENTION_DEFAULT_HISTORY;
    json_t *candidates = json_object();
    for (size_t i = 0; i < m->state.napps; i++) prune_records(m, &m->state.apps[i], keep, candidates);
    /* Bundles in the folder: uploaded and never deployed, or left by an
     * earlier sweep that could not finish. */
    json_int_t lately = (json_int_t)now_ms() - RETENTION_BUNDLE_GRACE_S * 1000;
    DIR *d = opendir(m->bundles_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char hex[65];
        if (bundle_tar_name(de->d_name, hex) && !json_object_get(candidates, hex)) add_candidate(candidates, hex, lately);
    }
    if (d) closedir(d);
    json_t *named = json_object_size(candidates) ? named_bundles(m) : NULL;
    const char *hex;
    json_t *v;
    if (named)
        json_object_foreach(candidates, hex, v) if (!json_object_get(named, hex)) delete_bundle(m, hex, json_integer_value(v));
    json_decref(named);
    json_decref(candidates);
}

void retention_tick(master *m)
{
    uint64_t now = now_ns();
    bool made = m->state.records_made != m->retention_records_seen;
    if (m->retention_swept_ns && now - m->retention_swept_ns < (made ? SWEEP_AT_MOST_NS : SWEEP_EVERY_NS)) return;
    m->retention_records_seen = m->state.records_made;
    m->retention_swept_ns = now;
    sweep(m);
}
