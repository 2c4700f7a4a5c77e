/*
 * secrets.c — secrets kept sealed in the store, pinned by deploys and
 * handed to nodes (secrets.h).
 *
 * secrets/NAME = {"version": N, "updated_ms": T, "key_id": ID,
 *                 "versions": {"N": BASE64(box), ...}}
 * Each box is sealed for the context "NAME:N".
 */
#include "cluster/master/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/names.h"
#include "cluster/secret_box.h"
#include "manifest/manifest.h"
#include "serve/http_json.h"
#include "serve/log.h"

/* One master per process: its key, and the keys being rotated out (they
 * only open). */
static secret_key key, old_keys[SECRETS_MAX_OLD_KEYS];
static size_t nold;
static bool have_key;

static void context_of(const char *name, json_int_t version, char *out, size_t size)
{
    snprintf(out, size, "%s:%lld", name, (long long)version);
}

/* secrets/NAME as JSON (NULL when missing), with its mod_revision. */
static json_t *load(master *m, const char *name, int64_t *mod, char *why, size_t whylen)
{
    char k[M_NAME_MAX + 16];
    snprintf(k, sizeof k, "secrets/%s", name);
    store_kv kv;
    bool found = false;
    store_status st;
    *mod = 0;
    why[0] = 0;
    if (!store_get(m->st, k, &kv, &found, &st)) {
        snprintf(why, whylen, "cannot read the secret '%s': %s", name, st.message);
        return NULL;
    }
    if (!found) return NULL;
    json_t *j = json_loadb((const char *)kv.value, kv.value_len, 0, NULL);
    *mod = kv.mod_revision;
    store_kv_free(&kv);
    if (!json_is_object(j)) snprintf(why, whylen, "the secret '%s' is damaged in the store", name);
    return j;
}

static bool save(master *m, const char *name, json_t *j, int64_t mod, char *why, size_t whylen);

/* Open a box with the key that sealed it: the current key, else one being
 * rotated out (GCM makes a wrong key fail, never give wrong bytes). */
static bool open_box(const char *context, const uint8_t *box, size_t box_len, uint8_t **plain, size_t *len, char *why,
                     size_t whylen)
{
    if (secret_box_open(&key, context, box, box_len, plain, len, why, whylen)) return true;
    char ignored[200];
    for (size_t i = 0; i < nold; i++)
        if (secret_box_open(&old_keys[i], context, box, box_len, plain, len, ignored, sizeof ignored)) return true;
    return false;
}

/* Reseal every version of the record j (secret name) with the current key.
 * False with why when one does not open with any key this master has. */
static bool reseal(json_t *j, const char *name, char *why, size_t whylen)
{
    const char *vkey;
    json_t *v;
    json_object_foreach(json_object_get(j, "versions"), vkey, v) {
        char context[M_NAME_MAX + 24];
        context_of(name, strtoll(vkey, NULL, 10), context, sizeof context);
        size_t box_len = 0, len = 0, sealed_len = 0;
        uint8_t *box = secret_base64_decode(json_string_value(v) ? json_string_value(v) : "", &box_len);
        uint8_t *plain = NULL, *sealed = NULL;
        char *b64 = NULL;
        bool opened = box && open_box(context, box, box_len, &plain, &len, why, whylen);
        if (!box) snprintf(why, whylen, "version %s is not base64", vkey);
        bool ok = opened && secret_box_seal(&key, context, plain, len, &sealed, &sealed_len) &&
                  (b64 = secret_base64_encode(sealed, sealed_len));
        if (opened && !ok) snprintf(why, whylen, "cannot seal it again (out of memory?)");
        if (ok) json_string_set(v, b64);
        secret_plain_free(plain, len);
        free(box), free(sealed), free(b64);
        if (!ok) return false;
    }
    json_object_set_new(j, "key_id", json_string(key.id));
    return true;
}

/* At start: what an old key sealed is sealed again with the current one;
 * what no key opens is logged by name. */
static void reseal_all(master *m, const char *key_file)
{
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, "secrets/", 0, &range, &st)) {
        log_json(LOG_ERROR, "cannot read the secrets to check their key", json_pack("{s:s}", "reason", st.message));
        return;
    }
    unsigned resealed = 0;
    for (size_t i = 0; i < range.count; i++) {
        const char *name = range.kvs[i].key + 8;
        json_t *j = json_loadb((const char *)range.kvs[i].value, range.kvs[i].value_len, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "key_id"));
        if (!id || !strcmp(id, key.id)) {
            json_decref(j);
            continue;
        }
        char sealed_with[SECRET_KEY_ID_CHARS + 1], why[400];
        snprintf(sealed_with, sizeof sealed_with, "%s", id);
        if (!reseal(j, name, why, sizeof why))
            log_json(LOG_ERROR, "a secret was sealed with another key; it cannot be opened with this one",
                     json_pack("{s:s,s:s,s:s,s:s,s:s}", "secret", name, "sealed_with", sealed_with, "key_id", key.id,
                               "key_file", key_file, "hint", "give the key that sealed it with --old-secret-key-file"));
        else if (save(m, name, j, range.kvs[i].mod_revision, why, sizeof why)) {
            resealed++;
            log_json(LOG_INFO, "secret resealed with the current key",
                     json_pack("{s:s,s:s,s:s}", "secret", name, "sealed_with", sealed_with, "key_id", key.id));
        } else {
            log_json(LOG_WARN, "cannot reseal a secret now (it stays readable with the old key)",
                     json_pack("{s:s,s:s}", "secret", name, "reason", why));
        }
        json_decref(j);
    }
    store_range_free(&range);
    if (nold)
        log_json(LOG_INFO, "secret keys rotated", json_pack("{s:s,s:I,s:I}", "key_id", key.id, "old_keys",
                                                           (json_int_t)nold, "resealed", (json_int_t)resealed));
}

bool secrets_open(master *m, const char *key_file, const char *const *old_files, size_t nold_files, char *why,
                  size_t whylen)
{
    bool created;
    if (nold_files > sizeof old_keys / sizeof *old_keys) {
        snprintf(why, whylen, "at most %zu old keys at once", sizeof old_keys / sizeof *old_keys);
        return false;
    }
    if (!secret_key_load(key_file, true, &key, &created, why, whylen)) return false;
    have_key = true;
    if (created) log_json(LOG_INFO, "made a secret key", json_pack("{s:s,s:s}", "file", key_file, "key_id", key.id));
    for (nold = 0; nold < nold_files; nold++) {
        char problem[400];
        if (!secret_key_load(old_files[nold], false, &old_keys[nold], &created, problem, sizeof problem)) {
            snprintf(why, whylen, "--old-secret-key-file %s: %s", old_files[nold], problem);
            secrets_close();
            return false;
        }
    }
    reseal_all(m, key_file);
    return true;
}

void secrets_close(void)
{
    secret_key_wipe(&key);
    for (size_t i = 0; i < nold; i++) secret_key_wipe(&old_keys[i]);
    nold = 0;
    have_key = false;
}

/* Is version v of name pinned by an app? Names the first such app. */
static const char *pinned_by(master *m, const char *name, json_int_t v)
{
    for (size_t i = 0; i < m->state.napps; i++) {
        json_t *pin = json_object_get(json_object_get(m->state.apps[i].overrides, "secret_versions"), name);
        if (pin && (v < 0 || json_integer_value(pin) == v)) return m->state.apps[i].name;
    }
    return NULL;
}

static bool save(master *m, const char *name, json_t *j, int64_t mod, char *why, size_t whylen)
{
    char k[M_NAME_MAX + 16];
    snprintf(k, sizeof k, "secrets/%s", name);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    store_txn_result res = {0};
    store_status st;
    bool ok = text && store_put_if(m->st, k, text, strlen(text), mod, &res, &st);
    free(text);
    if (!ok) snprintf(why, whylen, "cannot store the secret: %s", text ? st.message : "out of memory");
    else if (!res.succeeded) snprintf(why, whylen, "the secret '%s' changed meanwhile; try again", name);
    return ok && res.succeeded;
}

/* PUT /v1/secrets/NAME: the body is the value. */
static void put_secret(master *m, http_exchange *x, const http_request *r, const char *name)
{
    char why[400];
    if (!r->body_len) {
        http_respond_json_error(x, 400, "a secret needs a value (the request's body)");
        return;
    }
    if (r->body_len > SECRETS_MAX_VALUE) {
        http_respond_json_error(x, 413, "a secret holds at most %zu KiB", SECRETS_MAX_VALUE >> 10);
        return;
    }
    int64_t mod;
    json_t *j = load(m, name, &mod, why, sizeof why);
    if (!j && why[0]) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    bool is_new = !j;
    if (!j) j = json_pack("{s:I,s:{}}", "version", (json_int_t)0, "versions");
    /* Every kept version under one key, the current one. */
    const char *sealed_with = json_string_value(json_object_get(j, "key_id"));
    if (sealed_with && strcmp(sealed_with, key.id) && !reseal(j, name, why, sizeof why)) {
        json_decref(j);
        http_respond_json_error(x, 500, "the secret '%s' was sealed with a key this master does not have (%s): start "
                                "it with that key as --old-secret-key-file", name, why);
        return;
    }
    json_int_t version = json_integer_value(json_object_get(j, "version")) + 1;
    char context[M_NAME_MAX + 24], vkey[24];
    context_of(name, version, context, sizeof context);
    uint8_t *box = NULL;
    size_t box_len = 0;
    char *b64 = NULL;
    if (!secret_box_seal(&key, context, (const uint8_t *)r->body, r->body_len, &box, &box_len) ||
        !(b64 = secret_base64_encode(box, box_len))) {
        free(box);
        json_decref(j);
        http_respond_json_error(x, 500, "cannot seal the secret");
        return;
    }
    free(box);
    /* Keep the versions apps are pinned to; drop the others. */
    json_t *versions = json_object_get(j, "versions"), *kept = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(versions, k, v) if (pinned_by(m, name, strtoll(k, NULL, 10))) json_object_set(kept, k, v);
    snprintf(vkey, sizeof vkey, "%lld", (long long)version);
    json_object_set_new(kept, vkey, json_string(b64));
    free(b64);
    json_object_set_new(j, "versions", kept);
    json_object_set_new(j, "version", json_integer(version));
    json_object_set_new(j, "updated_ms", json_integer((json_int_t)now_ms()));
    json_object_set_new(j, "key_id", json_string(key.id));
    bool ok = save(m, name, j, mod, why, sizeof why);
    json_decref(j);
    if (!ok) {
        http_respond_json_error(x, 500, "%s", why);
        return;
    }
    log_json(LOG_INFO, "secret set", json_pack("{s:s,s:I}", "secret", name, "version", version));
    http_respond_json(x, is_new ? 201 : 200, json_pack("{s:s,s:I}", "secret", name, "version", version));
}

static void delete_secret(master *m, http_exchange *x, const char *name)
{
    char why[400];
    int64_t mod;
    json_t *j = load(m, name, &mod, why, sizeof why);
    if (!j) {
        http_respond_json_error(x, why[0] ? 500 : 404, "%s", why[0] ? why : "no such secret");
        return;
    }
    json_decref(j);
    const char *app = pinned_by(m, name, -1);
    if (app) {
        http_respond_json_error(x, 409, "the app '%s' uses the secret '%s': remove the app, or deploy it without the "
                                "secret, first", app, name);
        return;
    }
    char k[M_NAME_MAX + 16];
    snprintf(k, sizeof k, "secrets/%s", name);
    store_txn_result res = {0};
    store_status st;
    if (!store_delete_if(m->st, k, mod, &res, &st) || !res.succeeded) {
        http_respond_json_error(x, 500, "cannot remove the secret '%s': %s", name,
                                res.succeeded ? st.message : "it changed meanwhile; try again");
        return;
    }
    log_json(LOG_INFO, "secret removed", json_pack("{s:s}", "secret", name));
    http_respond_json(x, 200, json_pack("{s:s}", "removed", name));
}

/* Names, versions and when: never values. */
static void list_secrets(master *m, http_exchange *x)
{
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, "secrets/", 0, &range, &st)) {
        http_respond_json_error(x, 500, "cannot read the secrets: %s", st.message);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < range.count; i++) {
        json_t *j = json_loadb((const char *)range.kvs[i].value, range.kvs[i].value_len, 0, NULL);
        const char *name = range.kvs[i].key + 8;
        json_t *kept = json_array(), *used = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(j, "versions"), k, v) json_array_append_new(kept, json_integer(strtoll(k, NULL, 10)));
        for (size_t a = 0; a < m->state.napps; a++)
            if (json_object_get(json_object_get(m->state.apps[a].overrides, "secret_versions"), name))
                json_array_append_new(used, json_string(m->state.apps[a].name));
        json_array_append_new(list, json_pack("{s:s,s:O,s:O,s:o,s:o}", "name", name, "version",
                                              json_object_get(j, "version"), "updated_ms",
                                              json_object_get(j, "updated_ms"), "versions_kept", kept, "used_by", used));
        json_decref(j);
    }
    store_range_free(&range);
    http_respond_json(x, 200, json_pack("{s:o}", "secrets", list));
}

bool secrets_route(master *m, http_exchange *x, const http_request *r)
{
    const char *p = r->path + 4;
    bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (!strcmp(p, "secrets") && get) {
        list_secrets(m, x);
        return true;
    }
    if (strncmp(p, "secrets/", 8)) return false;
    const char *name = p + 8;
    bool put = !strcmp(r->method, "PUT") || !strcmp(r->method, "POST"), del = !strcmp(r->method, "DELETE");
    if (!put && !del) return false;
    if (!cluster_name_valid(name)) http_respond_json_error(x, 400, "a secret's name must be lower-case letters, digits and '-' (at most 63)");
    else if (put) put_secret(m, x, r, name);
    else delete_secret(m, x, name);
    return true;
}

/* ------------------------------------------------------------ deploys and nodes */

static bool pin_one(master *m, json_t *pins, const char *name, const char *shown, qv_manifest_pos at, char *why,
                    size_t whylen)
{
    if (json_object_get(pins, name)) return true;
    int64_t mod;
    char problem[400];
    json_t *j = load(m, name, &mod, problem, sizeof problem);
    if (!j) {
        if (problem[0]) snprintf(why, whylen, "%s", problem);
        else snprintf(why, whylen, "%s:%u:%u: there is no secret '%s' in the cluster: make it first with `qyv cluster "
                      "secret set %s --from-file FILE` (or --from-literal VALUE)", shown, at.line, at.column, name, name);
        return false;
    }
    json_object_set(pins, name, json_object_get(j, "version"));
    json_decref(j);
    return true;
}

bool secrets_pin(master *m, const char *path, const char *shown, json_t *overrides, char *why, size_t whylen)
{
    json_object_del(overrides, "secret_versions");
    qv_manifest_error err;
    qv_manifest *mf = qv_manifest_load(path, &err);
    if (!mf) {
        snprintf(why, whylen, "%s", err.message);
        return false;
    }
    json_t *pins = json_object();
    bool ok = true;
    for (size_t i = 0; ok && i < mf->env.count; i++)
        if (mf->env.vars[i].secret) ok = pin_one(m, pins, mf->env.vars[i].secret, shown, mf->env.vars[i].at, why, whylen);
    for (size_t i = 0; ok && i < mf->secret_file_count; i++)
        ok = pin_one(m, pins, mf->secret_files[i].name, shown, mf->secret_files[i].at, why, whylen);
    if (ok && json_object_size(pins)) json_object_set(overrides, "secret_versions", pins);
    json_decref(pins);
    qv_manifest_free(mf);
    return ok;
}

void secrets_attach(master *m, json_t *assignment, const json_t *overrides)
{
    json_t *pins = json_object_get(overrides, "secret_versions");
    if (!json_object_size(pins)) return;
    json_t *out = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(pins, name, v) {
        char why[400] = "", context[M_NAME_MAX + 24], vkey[24];
        int64_t mod;
        json_t *j = load(m, name, &mod, why, sizeof why);
        snprintf(vkey, sizeof vkey, "%lld", (long long)json_integer_value(v));
        const char *b64 = json_string_value(json_object_get(json_object_get(j, "versions"), vkey));
        size_t box_len = 0, len = 0;
        uint8_t *box = b64 ? secret_base64_decode(b64, &box_len) : NULL, *plain = NULL;
        context_of(name, json_integer_value(v), context, sizeof context);
        if (!have_key) snprintf(why, sizeof why, "the master has no secret key");
        else if (!b64) snprintf(why, sizeof why, "%s", why[0] ? why : "this version is not kept");
        else if (!box) snprintf(why, sizeof why, "the sealed value is not base64");
        else open_box(context, box, box_len, &plain, &len, why, sizeof why);
        if (plain) {
            char *value = secret_base64_encode(plain, len);
            if (value) json_object_set_new(out, name, json_pack("{s:O,s:s}", "version", v, "value", value));
            if (value) memset(value, 0, strlen(value));
            free(value);
            secret_plain_free(plain, len);
        } else {
            /* Once per problem, not at every heartbeat while it lasts. */
            static char last[600];
            char now[600];
            snprintf(now, sizeof now, "%s:%lld:%s", name, (long long)json_integer_value(v), why);
            if (strcmp(now, last))
                log_json(LOG_ERROR, "cannot give a secret to a node", json_pack("{s:s,s:O,s:s}", "secret", name,
                                                                                 "version", v, "reason", why));
            snprintf(last, sizeof last, "%s", now);
        }
        free(box);
        json_decref(j);
    }
    json_object_set_new(assignment, "secrets", out);
}
