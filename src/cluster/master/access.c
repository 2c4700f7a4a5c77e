/*
 * access.c — tokens, roles and the audit log (access.h).
 */
#include "cluster/master/access.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/names.h"
#include "cluster/secret_box.h"
#include "serve/http_json.h"
#include "serve/log.h"

#define TOKEN_HEX 64
/* Audit entries written since the log was last trimmed: it is trimmed
 * every AUDIT_TRIM_EVERY writes, so it holds at most MAX + EVERY. */
#define AUDIT_TRIM_EVERY 50

static const char *header(const http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

/* ------------------------------------------------------------ roles */

static bool is_read(const http_request *r)
{
    return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
}

/* What a read token may call: looking at the cluster, its apps and their
 * logs. Not bundles (an app's code), secrets, tokens or the audit log. */
static bool read_allowed(const http_request *r)
{
    if (!is_read(r)) return false;
    const char *p = r->path + 4; /* after /v1/ */
    if (!strcmp(p, "health") || !strcmp(p, "metrics") || !strcmp(p, "nodes") || !strcmp(p, "apps")) return true;
    if (strncmp(p, "apps/", 5)) return false;
    const char *rest = strchr(p + 5, '/');
    return !rest || !strcmp(rest, "/logs");
}

/* A node's own calls: they are how the cluster runs, not changes. */
static bool node_routine(const http_request *r)
{
    const char *p = r->path + 4;
    size_t n = strlen(p);
    return !strcmp(p, "nodes/register") || (!strncmp(p, "nodes/", 6) && n > 10 && !strcmp(p + n - 10, "/heartbeat"));
}

/* ------------------------------------------------------------ tokens */

static bool token_key(const char *name, char *key, size_t size)
{
    if (!cluster_name_valid(name)) return false;
    snprintf(key, size, "tokens/%s", name);
    return true;
}

/* The token presented, checked against the cluster's and the store's. */
static access_role authenticate(master *m, const char *token, char *name, size_t namelen)
{
    /* The cluster token, in constant time (its length aside). */
    const char *want = m->opt.token;
    size_t n = strlen(token), k = strlen(want);
    unsigned char diff = n != k;
    for (size_t i = 0; i < k; i++) diff |= (unsigned char)(want[i] ^ (i < n ? token[i] : 0));
    if (!diff) {
        snprintf(name, namelen, "%s", ACCESS_ADMIN_NAME);
        return ACCESS_ADMIN;
    }
    /* NAME.HEX: the name says which hash to compare with. */
    const char *dot = strchr(token, '.');
    if (!dot || dot == token || (size_t)(dot - token) >= M_NAME_MAX || strlen(dot + 1) != TOKEN_HEX) return ACCESS_NONE;
    snprintf(name, namelen, "%.*s", (int)(dot - token), token);
    char key[M_NAME_MAX + 16], hash[65];
    if (!token_key(name, key, sizeof key)) {
        name[0] = 0;
        return ACCESS_NONE;
    }
    store_kv kv;
    bool found = false;
    store_status st;
    if (!store_get(m->st, key, &kv, &found, &st) || !found) return ACCESS_NONE;
    json_t *j = json_loadb((const char *)kv.value, kv.value_len, 0, NULL);
    store_kv_free(&kv);
    const char *stored = json_string_value(json_object_get(j, "sha256"));
    const char *role = json_string_value(json_object_get(j, "role"));
    secret_sha256_hex(token, strlen(token), hash);
    access_role got = ACCESS_NONE;
    if (stored && strlen(stored) == 64 && secret_equal(stored, hash, 64))
        got = role && !strcmp(role, "admin") ? ACCESS_ADMIN : ACCESS_READ;
    json_decref(j);
    return got;
}

bool access_check(master *m, http_exchange *x, const http_request *r, access_caller *who)
{
    memset(who, 0, sizeof *who);
    const char *h = header(r, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7)) who->role = authenticate(m, h + 7, who->name, sizeof who->name);
    if (who->role == ACCESS_NONE) {
        json_t *fields = json_pack("{s:s,s:s,s:s}", "method", r->method, "path", r->path, "peer", r->peer);
        if (who->name[0]) json_object_set_new(fields, "token", json_string(who->name)); /* the name claimed */
        log_json(LOG_WARN, "refused: no or wrong token", fields);
        http_field hs[2] = {{"Content-Type", "application/json"}, {"WWW-Authenticate", "Bearer"}};
        static const char text[] = "{\"error\":\"a valid cluster token is needed (Authorization: Bearer TOKEN)\"}\n";
        http_respond(x, 401, hs, 2, text, sizeof text - 1);
        return false;
    }
    if (who->role == ACCESS_READ && !read_allowed(r)) {
        log_json(LOG_WARN, "refused: read-only token",
                 json_pack("{s:s,s:s,s:s,s:s}", "token", who->name, "method", r->method, "path", r->path, "peer",
                           r->peer));
        access_audit(m, x, r, who);
        http_respond_json_error(x, 403, "the token '%s' may only read (list, status, logs, metrics); %s %s needs an "
                                "admin token", who->name, r->method, r->path);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ audit */

static void audit_trim(master *m)
{
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, "audit/", 0, &range, &st)) return;
    size_t extra = range.count > ACCESS_AUDIT_MAX ? range.count - ACCESS_AUDIT_MAX : 0;
    for (size_t done = 0; done < extra;) {
        store_op ops[STORE_MAX_TXN_OPS];
        size_t n = 0;
        while (done < extra && n < STORE_MAX_TXN_OPS) ops[n++] = (store_op){.kind = STORE_DELETE, .key = range.kvs[done++].key};
        store_txn_result res;
        if (!store_txn(m->st, NULL, 0, ops, n, NULL, 0, &res, &st)) break;
    }
    store_range_free(&range);
}

/* What a change asked for, from its body: only the fields named here
 * (which app, how many, which token and role...), never anything else —
 * not env overrides, and no body at all of /v1/secrets/ (it is the
 * secret). NULL when none. */
static json_t *audit_detail(const http_request *r)
{
    static const char *const fields[] = {"bundle", "manifest", "replicas", "name", "role", "min", "max",
                                         "cpu_threshold", "address"};
    if (!strncmp(r->path, "/v1/secrets", 11) || !r->body_len || r->body[0] != '{') return NULL;
    json_t *body = json_loadb(r->body, r->body_len, 0, NULL), *detail = json_object();
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        json_t *v = json_object_get(body, fields[i]);
        if (json_is_string(v) || json_is_integer(v)) json_object_set(detail, fields[i], v);
    }
    json_decref(body);
    if (!json_object_size(detail)) json_decref(detail), detail = NULL;
    return detail;
}

/* The entry's outcome from the answer's status. */
static const char *outcome_of(int status)
{
    return status >= 200 && status < 400 ? "done" : status >= 400 && status < 500 ? "refused" : status ? "failed"
                                                                                              : "unanswered";
}

/* Write entry at key (taken), and trim the log now and then. */
static void audit_put(master *m, const char *key, json_t *entry)
{
    static unsigned since_trim = AUDIT_TRIM_EVERY; /* trim at the first write */
    char *text = json_dumps(entry, JSON_COMPACT);
    json_decref(entry);
    store_status st;
    if (!text || !store_put(m->st, key, text, strlen(text), NULL, &st))
        log_json(LOG_ERROR, "cannot write the audit log", json_pack("{s:s,s:s}", "key", key, "reason",
                                                                    text ? st.message : "out of memory"));
    free(text);
    if (++since_trim >= AUDIT_TRIM_EVERY) {
        since_trim = 0;
        audit_trim(m);
    }
}

/* A new entry for r, its key in key. */
static json_t *audit_entry(const http_request *r, const access_caller *who, char key[64])
{
    uint64_t ms = now_ms();
    uint32_t salt = 0;
    RAND_bytes((unsigned char *)&salt, sizeof salt); /* two masters in one millisecond */
    char what[600];
    snprintf(key, 64, "audit/%013llu-%08x", (unsigned long long)ms, salt);
    snprintf(what, sizeof what, "%s %s", r->method, r->path);
    json_t *entry = json_pack("{s:I,s:s,s:s,s:s}", "ts_ms", (json_int_t)ms, "who", who->name, "what", what, "peer",
                              r->peer);
    json_t *detail = audit_detail(r);
    if (detail) json_object_set_new(entry, "detail", detail);
    return entry;
}

static bool audited(const http_request *r) { return !is_read(r) && !node_routine(r); }

/* An entry waiting for its answer's status. */
typedef struct audit_pending {
    master *m;
    char key[64];
    json_t *entry;
} audit_pending;

static void audit_answered(void *arg, int status)
{
    audit_pending *p = arg;
    json_object_set_new(p->entry, "status", json_integer(status));
    json_object_set_new(p->entry, "outcome", json_string(outcome_of(status)));
    audit_put(p->m, p->key, p->entry);
    free(p);
}

void access_audit(master *m, http_exchange *x, const http_request *r, const access_caller *who)
{
    if (!audited(r)) return;
    audit_pending *p = calloc(1, sizeof *p);
    if (!p) return;
    p->m = m;
    p->entry = audit_entry(r, who, p->key);
    /* Written now, as asked (a master that dies before answering still
     * leaves it), and again with its outcome once answered. */
    audit_put(m, p->key, json_deep_copy(p->entry));
    http_on_answer(x, audit_answered, p);
}

/* GET /v1/audit?tail=N: the last N entries (all kept: at most 1000), oldest first. */
static void get_audit(master *m, http_exchange *x, const http_request *r)
{
    long tail = 0;
    const char *t = strstr(r->query, "tail=");
    if (t) tail = strtol(t + 5, NULL, 10);
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, "audit/", 0, &range, &st)) {
        http_respond_json_error(x, 500, "cannot read the audit log: %s", st.message);
        return;
    }
    size_t from = tail > 0 && (size_t)tail < range.count ? range.count - (size_t)tail : 0;
    json_t *list = json_array();
    for (size_t i = from; i < range.count; i++) {
        json_t *e = json_loadb((const char *)range.kvs[i].value, range.kvs[i].value_len, 0, NULL);
        if (e) json_array_append_new(list, e);
    }
    store_range_free(&range);
    http_respond_json(x, 200, json_pack("{s:o}", "entries", list));
}

/* ------------------------------------------------------------ token endpoints */

static void list_tokens(master *m, http_exchange *x)
{
    store_range range;
    store_status st;
    if (!store_range_prefix(m->st, "tokens/", 0, &range, &st)) {
        http_respond_json_error(x, 500, "cannot read the tokens: %s", st.message);
        return;
    }
    json_t *list = json_array();
    json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "name", ACCESS_ADMIN_NAME, "role", "admin", "source",
                                          "the cluster token (--token-file)"));
    for (size_t i = 0; i < range.count; i++) {
        json_t *j = json_loadb((const char *)range.kvs[i].value, range.kvs[i].value_len, 0, NULL);
        if (!j) continue;
        json_object_del(j, "sha256"); /* a hash of a token is still not for showing */
        json_object_set_new(j, "name", json_string(range.kvs[i].key + 7));
        json_array_append_new(list, j);
    }
    store_range_free(&range);
    http_respond_json(x, 200, json_pack("{s:o}", "tokens", list));
}

/* POST /v1/tokens {"name","role"}: the token is in this answer only. */
static void create_token(master *m, http_exchange *x, const http_request *r, const access_caller *who)
{
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *role = json_string_value(json_object_get(j, "role"));
    char key[M_NAME_MAX + 16];
    if (!name || !token_key(name, key, sizeof key)) {
        http_respond_json_error(x, 400, "a token's name must be lower-case letters, digits and '-' (at most 63)");
    } else if (!strcmp(name, ACCESS_ADMIN_NAME)) {
        http_respond_json_error(x, 400, "'admin' names the cluster token; choose another name");
    } else if (!role || (strcmp(role, "read") && strcmp(role, "admin"))) {
        http_respond_json_error(x, 400, "a token's role is read or admin");
    } else {
        uint8_t bytes[TOKEN_HEX / 2];
        char token[M_NAME_MAX + TOKEN_HEX + 2], hash[65];
        static const char digits[] = "0123456789abcdef";
        int used = snprintf(token, sizeof token, "%s.", name);
        bool ok = RAND_bytes(bytes, sizeof bytes) == 1;
        for (size_t i = 0; i < sizeof bytes; i++) {
            token[used++] = digits[bytes[i] >> 4];
            token[used++] = digits[bytes[i] & 15];
        }
        token[used] = 0;
        secret_sha256_hex(token, strlen(token), hash);
        json_t *rec = json_pack("{s:s,s:s,s:I,s:s}", "sha256", hash, "role", role, "created_ms", (json_int_t)now_ms(),
                                "created_by", who->name);
        char *text = json_dumps(rec, JSON_COMPACT);
        json_decref(rec);
        store_txn_result res = {0};
        store_status st;
        if (!ok || !text) {
            http_respond_json_error(x, 500, "cannot make a token");
        } else if (!store_put_if(m->st, key, text, strlen(text), 0, &res, &st)) {
            http_respond_json_error(x, 500, "cannot store the token: %s", st.message);
        } else if (!res.succeeded) {
            http_respond_json_error(x, 409, "a token named '%s' exists; revoke it first", name);
        } else {
            log_json(LOG_INFO, "token created", json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "by", who->name));
            http_respond_json(x, 201, json_pack("{s:s,s:s,s:s}", "name", name, "role", role, "token", token));
        }
        free(text);
        OPENSSL_cleanse(token, sizeof token);
        OPENSSL_cleanse(bytes, sizeof bytes);
    }
    json_decref(j);
}

static void revoke_token(master *m, http_exchange *x, const char *name, const access_caller *who)
{
    char key[M_NAME_MAX + 16];
    store_kv kv;
    bool found = false;
    store_status st;
    if (!strcmp(name, ACCESS_ADMIN_NAME)) {
        http_respond_json_error(x, 400, "the cluster token is changed with `qyv cluster init --force`, not revoked");
        return;
    }
    if (!token_key(name, key, sizeof key) || !store_get(m->st, key, &kv, &found, &st) || !found) {
        http_respond_json_error(x, 404, "no token '%s'", name);
        return;
    }
    store_txn_result res = {0};
    bool done = store_delete_if(m->st, key, kv.mod_revision, &res, &st);
    store_kv_free(&kv);
    if (!done || !res.succeeded) {
        http_respond_json_error(x, done ? 409 : 500, "cannot revoke '%s': %s", name,
                                done ? "it changed meanwhile; try again" : st.message);
        return;
    }
    log_json(LOG_INFO, "token revoked", json_pack("{s:s,s:s}", "name", name, "by", who->name));
    http_respond_json(x, 200, json_pack("{s:s}", "revoked", name));
}

bool access_route(master *m, http_exchange *x, const http_request *r, const access_caller *who)
{
    const char *p = r->path + 4;
    bool get = is_read(r), post = !strcmp(r->method, "POST"), del = !strcmp(r->method, "DELETE");
    if (!strcmp(p, "audit") && get) get_audit(m, x, r);
    else if (!strcmp(p, "tokens") && get) list_tokens(m, x);
    else if (!strcmp(p, "tokens") && post) create_token(m, x, r, who);
    else if (!strncmp(p, "tokens/", 7) && !strchr(p + 7, '/') && del) revoke_token(m, x, p + 7, who);
    else return false;
    return true;
}
