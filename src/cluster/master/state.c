/*
 * state.c — the master's model, and how it is kept in the store.
 */
#include "cluster/master/state.h"

#include "cluster/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static void free_app(m_app *a)
{
    json_decref(a->overrides);
    json_decref(a->nodes);
    json_decref(a->placement);
    json_decref(a->cpu_samples);
    free(a->pending);
    rollout_free(a->rollout);
}

static void free_node(m_node *n)
{
    json_decref(n->reported);
}

m_node *state_node(m_state *s, const char *name)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (!strcmp(s->nodes[i].name, name)) return &s->nodes[i];
    return NULL;
}

m_app *state_app(m_state *s, const char *name)
{
    for (size_t i = 0; i < s->napps; i++)
        if (!strcmp(s->apps[i].name, name)) return &s->apps[i];
    return NULL;
}

m_node *state_add_node(m_state *s, const char *name)
{
    m_node *grown = realloc(s->nodes, (s->nnodes + 1) * sizeof *grown);
    if (!grown) return NULL;
    s->nodes = grown;
    m_node *n = &s->nodes[s->nnodes++];
    memset(n, 0, sizeof *n);
    copy_str(n->name, sizeof n->name, name);
    n->reported = json_object();
    return n;
}

m_app *state_add_app(m_state *s, const char *name)
{
    m_app *grown = realloc(s->apps, (s->napps + 1) * sizeof *grown);
    if (!grown) return NULL;
    s->apps = grown;
    m_app *a = &s->apps[s->napps++];
    memset(a, 0, sizeof *a);
    copy_str(a->name, sizeof a->name, name);
    a->overrides = json_object();
    a->nodes = json_array();
    a->placement = json_object();
    a->cpu_samples = json_object();
    a->utilisation = a->inflight = -1;
    a->autoscale = AUTOSCALE_OFF;
    return a;
}

void state_remove_app(m_state *s, const char *name)
{
    m_app *a = state_app(s, name);
    if (!a) return;
    free_app(a);
    size_t i = (size_t)(a - s->apps);
    memmove(a, a + 1, (s->napps - i - 1) * sizeof *a);
    s->napps--;
}

void state_remove_node(m_state *s, const char *name)
{
    m_node *n = state_node(s, name);
    if (!n) return;
    free_node(n);
    size_t i = (size_t)(n - s->nodes);
    memmove(n, n + 1, (s->nnodes - i - 1) * sizeof *n);
    s->nnodes--;
    /* Its replicas are placed elsewhere by the next reconcile. */
    for (size_t k = 0; k < s->napps; k++) {
        json_object_del(s->apps[k].placement, name);
        if (s->apps[k].rollout && s->apps[k].rollout->stable) json_object_del(s->apps[k].rollout->stable->placement, name);
    }
}

uint32_t app_placed_on(const m_app *a, const char *node)
{
    json_t *v = json_object_get(a->placement, node);
    return v ? (uint32_t)json_integer_value(v) : 0;
}

uint32_t app_placed_total(const m_app *a)
{
    uint32_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach(a->placement, k, v) total += (uint32_t)json_integer_value(v);
    return total;
}

json_t *node_report(const m_node *n, const char *app, int64_t revision)
{
    json_t *r = json_object_get(n->reported, app);
    json_t *revisions = json_object_get(r, "revisions");
    if (json_is_object(revisions)) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)revision);
        return json_object_get(revisions, key);
    }
    /* A node that reports one revision per app. */
    return r && json_integer_value(json_object_get(r, "revision")) == revision ? r : NULL;
}

uint32_t node_ready_at(const m_node *n, const char *app, int64_t revision)
{
    return (uint32_t)json_integer_value(json_object_get(node_report(n, app, revision), "ready"));
}

uint32_t node_ready_for(const m_node *n, const m_app *a) { return node_ready_at(n, a->name, a->revision); }

json_t *app_to_json(const m_app *a, bool with_placement)
{
    json_t *j = json_pack("{s:s,s:I,s:I,s:s,s:s,s:O,s:s,s:i,s:s,s:i,s:I,s:I,s:O,s:I}", "name", a->name, "revision",
                          (json_int_t)a->revision, "last_revision",
                          (json_int_t)(a->last_revision > a->revision ? a->last_revision : a->revision), "digest", a->digest, "manifest", a->manifest, "overrides",
                          a->overrides, "route", a->route, "port", (int)a->port, "algorithm", a->algorithm,
                          "wanted", (int)a->wanted, "memory", (json_int_t)a->memory, "cpu", (json_int_t)a->cpu,
                          "nodes", a->nodes, "deployed_ms", (json_int_t)a->deployed_ms);
    if (!j) return NULL;
    json_object_set_new(j, "pending", a->pending ? json_string(a->pending) : json_null());
    if (with_placement) json_object_set(j, "placement", a->placement);
    json_object_set_new(j, "autoscale", autoscale_spec_to_json(&a->autoscale));
    return j;
}

bool app_from_json(m_app *a, json_t *j)
{
    const char *digest = json_string_value(json_object_get(j, "digest"));
    const char *manifest = json_string_value(json_object_get(j, "manifest"));
    const char *route = json_string_value(json_object_get(j, "route"));
    const char *algorithm = json_string_value(json_object_get(j, "algorithm"));
    if (!digest || !manifest || !route) return false;
    copy_str(a->digest, sizeof a->digest, digest);
    copy_str(a->manifest, sizeof a->manifest, manifest);
    copy_str(a->route, sizeof a->route, route);
    copy_str(a->algorithm, sizeof a->algorithm, algorithm ? algorithm : "round_robin");
    a->revision = json_integer_value(json_object_get(j, "revision"));
    a->last_revision = json_integer_value(json_object_get(j, "last_revision"));
    if (a->last_revision < a->revision) a->last_revision = a->revision;
    a->port = (uint16_t)json_integer_value(json_object_get(j, "port"));
    a->wanted = (uint32_t)json_integer_value(json_object_get(j, "wanted"));
    a->memory = (uint64_t)json_integer_value(json_object_get(j, "memory"));
    a->cpu = (uint64_t)json_integer_value(json_object_get(j, "cpu"));
    a->deployed_ms = (uint64_t)json_integer_value(json_object_get(j, "deployed_ms"));
    json_t *o = json_object_get(j, "overrides"), *n = json_object_get(j, "nodes"), *p = json_object_get(j, "placement");
    if (json_is_object(o)) json_decref(a->overrides), a->overrides = json_incref(o);
    if (json_is_array(n)) json_decref(a->nodes), a->nodes = json_incref(n);
    if (json_is_object(p)) json_decref(a->placement), a->placement = json_incref(p);
    const char *pending = json_string_value(json_object_get(j, "pending"));
    free(a->pending);
    a->pending = pending ? strdup(pending) : NULL;
    json_t *as = json_object_get(j, "autoscale");
    if (!json_is_object(as) || autoscale_spec_from_json(as, &a->autoscale)) a->autoscale = AUTOSCALE_OFF;
    return true;
}

static json_t *node_to_json(const m_node *n)
{
    return json_pack("{s:s,s:s,s:{s:I,s:I},s:I}", "address", n->address, "ingress", n->ingress, "capacity",
                     "memory", (json_int_t)n->memory_capacity, "cpu", (json_int_t)n->cpu_capacity, "joined_ms",
                     (json_int_t)n->joined_ms);
}

static bool node_from_json(m_node *n, json_t *j)
{
    const char *address = json_string_value(json_object_get(j, "address"));
    if (!address) return false;
    copy_str(n->address, sizeof n->address, address);
    copy_str(n->ingress, sizeof n->ingress, json_string_value(json_object_get(j, "ingress")));
    json_t *cap = json_object_get(j, "capacity");
    n->memory_capacity = (uint64_t)json_integer_value(json_object_get(cap, "memory"));
    n->cpu_capacity = (uint64_t)json_integer_value(json_object_get(cap, "cpu"));
    n->joined_ms = (uint64_t)json_integer_value(json_object_get(j, "joined_ms"));
    return true;
}

/* Load every key under prefix into apps or nodes. */
static bool load_prefix(m_state *s, const char *prefix, bool apps, char *why, size_t whylen)
{
    store_range r;
    store_status st;
    if (!store_range_prefix(s->st, prefix, 0, &r, &st)) {
        snprintf(why, whylen, "cannot read the state (%s): %s", prefix, st.message);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < r.count && ok; i++) {
        const char *name = r.kvs[i].key + strlen(prefix);
        json_error_t je;
        json_t *j = json_loadb((const char *)r.kvs[i].value, r.kvs[i].value_len, 0, &je);
        bool good = j && cluster_name_valid(name);
        if (good && apps) {
            m_app *a = state_add_app(s, name);
            good = a && app_from_json(a, j);
            if (a) a->mod_revision = r.kvs[i].mod_revision;
        } else if (good) {
            m_node *n = state_add_node(s, name);
            good = n && node_from_json(n, j);
            if (n) n->mod_revision = r.kvs[i].mod_revision;
        }
        json_decref(j);
        if (!good) {
            snprintf(why, whylen, "the stored state is damaged at key '%s'", r.kvs[i].key);
            ok = false;
        }
    }
    store_range_free(&r);
    return ok;
}

bool state_load(m_state *s, store *st, char *why, size_t whylen)
{
    memset(s, 0, sizeof *s);
    s->st = st;
    return load_prefix(s, "nodes/", false, why, whylen) && load_prefix(s, "apps/", true, why, whylen) &&
           state_load_rollouts(s, why, whylen);
}

void state_free(m_state *s)
{
    for (size_t i = 0; i < s->napps; i++) free_app(&s->apps[i]);
    for (size_t i = 0; i < s->nnodes; i++) free_node(&s->nodes[i]);
    free(s->apps);
    free(s->nodes);
    memset(s, 0, sizeof *s);
}

/* Run a transaction that puts text at key if key's mod_revision is still
 * mod (with whatever else it compares and writes). When its outcome is
 * unknown (etcd took it and lost its raft leader before answering), read
 * key back: holding text at a new revision, it applied; still at mod, it
 * did not, and is sent again (at most twice more); anything else, another
 * writer changed it. So a write is never applied twice, and never
 * reported failed when it applied. */
static bool txn_settled(m_state *s, const store_compare *cmps, size_t ncmps, const store_op *ops, size_t nops,
                        const char *key, const char *text, int64_t mod, store_txn_result *res, store_status *st)
{
    for (int tries = 0;; tries++) {
        if (store_txn(s->st, cmps, ncmps, ops, nops, NULL, 0, res, st)) return true;
        if (st->code != STORE_EUNKNOWN || tries == 2) return false;
        store_kv kv;
        bool found;
        store_status read_st;
        if (!store_get(s->st, key, &kv, &found, &read_st)) return false;
        int64_t now = found ? kv.mod_revision : 0;
        bool ours = found && now != mod && kv.value_len == strlen(text) && !memcmp(kv.value, text, kv.value_len);
        if (found) store_kv_free(&kv);
        if (ours || now != mod) {
            *res = (store_txn_result){.succeeded = ours, .revision = now};
            return true;
        }
    }
}

/* Put key = j if its mod_revision is still *mod (0: must not exist);
 * *mod becomes the new one. */
static bool save(m_state *s, const char *key, json_t *j, int64_t *mod, char *why, size_t whylen)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    store_txn_result res;
    store_status st;
    store_compare cmp = store_cmp_mod(key, *mod);
    store_op op = {.kind = STORE_PUT, .key = key, .value = text, .value_len = strlen(text)};
    bool ok = txn_settled(s, &cmp, 1, &op, 1, key, text, *mod, &res, &st);
    free(text);
    if (!ok) {
        snprintf(why, whylen, "cannot write %s: %s", key, st.message);
        return false;
    }
    if (!res.succeeded) {
        snprintf(why, whylen, "%s was changed by another writer", key);
        return false;
    }
    *mod = res.revision;
    return true;
}

bool state_save_app(m_state *s, m_app *a, char *why, size_t whylen)
{
    if (a->rollout) return state_save_app_and_records(s, a, NULL, 0, why, whylen);
    char key[128];
    snprintf(key, sizeof key, "apps/%s", a->name);
    return save(s, key, app_to_json(a, true), &a->mod_revision, why, whylen);
}

/* revisions/APP/N's key. */
static void record_key(char *key, size_t n, const char *app, int64_t revision)
{
    snprintf(key, n, "revisions/%s/%010lld", app, (long long)revision);
}

bool state_save_app_and_records(m_state *s, m_app *a, const record_change *changes, size_t n, char *why,
                                size_t whylen)
{
    enum { MOST = 8 };
    if (n > MOST - 2) {
        snprintf(why, whylen, "too many records in one change");
        return false;
    }
    char keys[MOST][200];
    char *texts[MOST] = {0};
    store_compare cmps[MOST];
    store_op ops[MOST];
    size_t k = 0;
    bool ok = false;
    snprintf(keys[k], sizeof keys[k], "apps/%s", a->name);
    json_t *app = app_to_json(a, true);
    texts[k] = app ? json_dumps(app, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(app);
    cmps[k] = store_cmp_mod(keys[k], a->mod_revision), k++;
    if (a->rollout) {
        json_t *r = rollout_to_json(a->rollout);
        snprintf(keys[k], sizeof keys[k], "rollouts/%s", a->name);
        texts[k] = r ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(r);
        cmps[k] = store_cmp_mod(keys[k], a->rollout->mod_revision), k++;
    }
    store_status st;
    for (size_t i = 0; i < n; i++, k++) {
        record_key(keys[k], sizeof keys[k], a->name, changes[i].revision);
        store_kv kv;
        bool found = false;
        if (!store_get(s->st, keys[k], &kv, &found, &st)) {
            snprintf(why, whylen, "cannot read %s: %s", keys[k], st.message);
            goto out;
        }
        json_t *record = found ? json_loadb((const char *)kv.value, kv.value_len, 0, NULL) : NULL;
        if (!json_is_object(record)) json_decref(record), record = json_pack("{s:I}", "revision", (json_int_t)changes[i].revision);
        json_object_update(record, changes[i].fields);
        texts[k] = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(record);
        cmps[k] = store_cmp_mod(keys[k], found ? kv.mod_revision : 0);
        if (found) store_kv_free(&kv);
    }
    for (size_t i = 0; i < k; i++) {
        if (!texts[i]) {
            snprintf(why, whylen, "out of memory");
            goto out;
        }
        ops[i] = (store_op){.kind = STORE_PUT, .key = keys[i], .value = texts[i], .value_len = strlen(texts[i])};
    }
    store_txn_result res;
    if (!txn_settled(s, cmps, k, ops, k, keys[0], texts[0], a->mod_revision, &res, &st)) {
        snprintf(why, whylen, "cannot write %s: %s", keys[0], st.message);
        goto out;
    }
    if (!res.succeeded) {
        snprintf(why, whylen, "%s or its rollout was changed by another writer", keys[0]);
        goto out;
    }
    a->mod_revision = res.revision;
    if (a->rollout) a->rollout->mod_revision = res.revision;
    if (n) s->records_made++;
    ok = true;
out:
    for (size_t i = 0; i < k; i++) free(texts[i]);
    return ok;
}

bool state_save_node(m_state *s, m_node *n, char *why, size_t whylen)
{
    char key[128];
    snprintf(key, sizeof key, "nodes/%s", n->name);
    return save(s, key, node_to_json(n), &n->mod_revision, why, whylen);
}

static bool delete_key(m_state *s, const char *key, char *why, size_t whylen)
{
    store_op op = {.kind = STORE_DELETE, .key = key};
    store_txn_result res;
    store_status st;
    if (!store_txn(s->st, NULL, 0, &op, 1, NULL, 0, &res, &st)) {
        snprintf(why, whylen, "cannot delete %s: %s", key, st.message);
        return false;
    }
    return true;
}

/* The app and its revisions go in one transaction: an app deployed
 * again under the name starts a history of its own. */
bool state_delete_app(m_state *s, const char *name, char *why, size_t whylen)
{
    char key[128], revisions[128], rollout[128];
    snprintf(key, sizeof key, "apps/%s", name);
    snprintf(revisions, sizeof revisions, "revisions/%s/", name);
    snprintf(rollout, sizeof rollout, "rollouts/%s", name);
    store_op ops[3] = {{.kind = STORE_DELETE, .key = key},
                       {.kind = STORE_DELETE_PREFIX, .key = revisions},
                       {.kind = STORE_DELETE, .key = rollout}};
    store_txn_result res;
    store_status st;
    if (!store_txn(s->st, NULL, 0, ops, 3, NULL, 0, &res, &st)) {
        snprintf(why, whylen, "cannot delete %s: %s", key, st.message);
        return false;
    }
    return true;
}

bool state_delete_node(m_state *s, const char *name, char *why, size_t whylen)
{
    char key[128];
    snprintf(key, sizeof key, "nodes/%s", name);
    return delete_key(s, key, why, whylen);
}

/* The app and its new revision record in one transaction: a deploy is
 * wholly applied or not at all, and a deploy tried again (after a master
 * died before answering) does not find half of itself in the store. */
bool state_save_deploy(m_state *s, m_app *a, char *why, size_t whylen)
{
    char app_key[128], rev_key[160];
    snprintf(app_key, sizeof app_key, "apps/%s", a->name);
    record_key(rev_key, sizeof rev_key, a->name, a->revision);
    json_t *rev = json_pack("{s:I,s:s,s:s,s:O,s:I}", "revision", (json_int_t)a->revision, "digest", a->digest,
                            "manifest", a->manifest, "overrides", a->overrides, "time_ms", (json_int_t)a->deployed_ms);
    json_t *app = app_to_json(a, true);
    char *rev_text = rev ? json_dumps(rev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *app_text = app ? json_dumps(app, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rev);
    json_decref(app);
    bool ok = false;
    if (!rev_text || !app_text) {
        snprintf(why, whylen, "out of memory");
    } else {
        /* A revision number is never reused; the app is as it was read. */
        store_compare cmps[2] = {store_cmp_mod(app_key, a->mod_revision), store_cmp_missing(rev_key)};
        store_op ops[2] = {{.kind = STORE_PUT, .key = app_key, .value = app_text, .value_len = strlen(app_text)},
                           {.kind = STORE_PUT, .key = rev_key, .value = rev_text, .value_len = strlen(rev_text)}};
        store_txn_result res;
        store_status st;
        if (!txn_settled(s, cmps, 2, ops, 2, app_key, app_text, a->mod_revision, &res, &st)) {
            snprintf(why, whylen, "cannot write %s: %s", app_key, st.message);
        } else if (!res.succeeded) {
            snprintf(why, whylen, "%s was changed by another writer (or this master no longer leads)", app_key);
        } else {
            a->mod_revision = res.revision;
            s->records_made++;
            ok = true;
        }
    }
    free(rev_text);
    free(app_text);
    return ok;
}

/* Forget what memory holds of the app and read it again from the store
 * (after a write that failed half-way through changing it in memory). */
bool state_reload_app(m_state *s, const char *name, char *why, size_t whylen)
{
    char key[128];
    snprintf(key, sizeof key, "apps/%s", name);
    state_remove_app(s, name);
    store_kv kv;
    bool found;
    store_status st;
    if (!store_get(s->st, key, &kv, &found, &st)) {
        snprintf(why, whylen, "cannot read %s again: %s", key, st.message);
        return false;
    }
    if (!found) return true;
    json_t *j = json_loadb((const char *)kv.value, kv.value_len, 0, NULL);
    m_app *a = state_add_app(s, name);
    bool ok = j && a && app_from_json(a, j);
    if (a) a->mod_revision = kv.mod_revision;
    json_decref(j);
    store_kv_free(&kv);
    if (!ok) snprintf(why, whylen, "the stored state is damaged at key '%s'", key);
    return ok;
}
