/*
 * store_etcd.c — the state store on etcd v3, through its JSON gateway
 * (POST /v3/kv/range, /v3/kv/txn, the /v3/lease calls) with libcurl and jansson.
 * Several masters share one etcd cluster this way (docs/ha.md).
 *
 * URL: etcd://HOST:PORT[,HOST:PORT...][/PREFIX], or etcds:// for HTTPS
 * with the files of store_etcd_set_tls (store_etcd_tls.h). Every key is stored under
 * PREFIX (default "/qyvol/"), so several clusters (or tests) can share one
 * etcd; ranges and deletes never leave it. Keys and values travel base64
 * (OpenSSL's EVP), int64 as strings; fields that are zero or false are
 * missing from etcd's answers.
 *
 * Endpoints: calls go to the endpoint that answered last. One that does
 * not answer (refused, timed out) or answers that it cannot serve (no
 * leader, timed out inside etcd) is left for the next, each endpoint
 * tried at most once per call. A transaction is only sent again when the
 * endpoint could not be connected to: if it broke after being sent, its
 * outcome is unknown and the caller is told so (reading again says).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/store_backend.h"
#include "cluster/store_etcd_tls.h"

#define MAX_ENDPOINTS 8
#define DEFAULT_PREFIX "/qyvol/"
/* Per request: a member that does not answer within this is passed over
 * (a master must notice a lost etcd well within its lease's TTL). */
#define CONNECT_TIMEOUT_MS 500
#define REQUEST_TIMEOUT_MS 1500
/* A write waits longer: while etcd elects a new raft leader (after losing
 * a member) it holds writes rather than refusing them, and a write cut
 * short cannot be sent again (its outcome is unknown). */
#define WRITE_TIMEOUT_MS 5000
/* Answers are at most one range: values are 1 MiB at most, base64. */
#define MAX_ANSWER ((size_t)256 << 20)

typedef struct etcd_store {
    store base;
    char endpoints[MAX_ENDPOINTS][128];
    size_t nendpoints;
    size_t current;          /* the endpoint that answered last */
    char prefix[256];
    size_t prefix_len;
    bool tls;                /* etcds:// */
    CURL *curl;
} etcd_store;

static etcd_store *as_etcd(store *s) { return (etcd_store *)s; }

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_setup(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- base64 */

static char *b64_encode(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out) EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Decode text into a malloc'ed buffer with a NUL after it. */
static uint8_t *b64_decode(const char *text, size_t *len)
{
    size_t n = text ? strlen(text) : 0;
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    int got = n ? EVP_DecodeBlock(out, (const unsigned char *)text, (int)n) : 0;
    if (got < 0 || n % 4) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts the bytes the padding stands for. */
    if (n && text[n - 1] == '=') got--;
    if (n > 1 && text[n - 2] == '=') got--;
    out[got] = '\0';
    *len = (size_t)got;
    return out;
}

/* base64 of prefix + key. */
static char *b64_key(etcd_store *e, const char *key)
{
    size_t klen = strlen(key);
    char *full = malloc(e->prefix_len + klen + 1);
    if (!full) return NULL;
    memcpy(full, e->prefix, e->prefix_len);
    memcpy(full + e->prefix_len, key, klen + 1);
    char *out = b64_encode(full, e->prefix_len + klen);
    free(full);
    return out;
}

/* base64 of the end of the range of every key under prefix + key. */
static char *b64_prefix_end(etcd_store *e, const char *key)
{
    size_t klen = strlen(key);
    char *full = malloc(e->prefix_len + klen + 1), *end = malloc(e->prefix_len + klen + 2);
    char *out = NULL;
    if (full && end) {
        memcpy(full, e->prefix, e->prefix_len);
        memcpy(full + e->prefix_len, key, klen + 1);
        /* The prefix is never empty nor all 0xff (checked at open). */
        if (store_prefix_end(full, end)) out = b64_encode(end, strlen(end));
    }
    free(full);
    free(end);
    return out;
}

static json_int_t int_field(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (json_is_string(v)) return (json_int_t)strtoll(json_string_value(v), NULL, 10);
    return json_integer_value(v);
}

static json_t *int_string(int64_t n)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)n);
    return json_string(buf);
}

/* ---- requests */

typedef struct answer {
    char *data;
    size_t len, cap;
} answer;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    answer *a = arg;
    size_t n = size * nmemb;
    if (a->len + n + 1 > MAX_ANSWER) return 0;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4096;
        while (cap < a->len + n + 1) cap *= 2;
        char *d = realloc(a->data, cap);
        if (!d) return 0;
        a->data = d, a->cap = cap;
    }
    memcpy(a->data + a->len, data, n);
    a->len += n;
    a->data[a->len] = '\0';
    return n;
}

/* Whether etcd's error says this member cannot serve now (no leader, its
 * own timeout), so that another member may. */
static bool member_unavailable(long status, json_t *body)
{
    const char *msg = json_string_value(json_object_get(body, "error"));
    json_int_t code = int_field(body, "code");
    return status >= 500 || code == 14 /* UNAVAILABLE */ || code == 4 /* DEADLINE_EXCEEDED */ ||
           (msg && (strstr(msg, "no leader") || strstr(msg, "timed out") || strstr(msg, "stopped")));
}

/* POST body to path on the endpoints, in turn from the current one, and
 * parse the 200 answer into *out. retry_sent: a request that may have
 * reached etcd can be sent again (reads). */
static bool request(etcd_store *e, const char *path, json_t *body, bool retry_sent, json_t **out, store_status *st)
{
    *out = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) return store_fail(st, &e->base, NULL, STORE_ENOMEM, "out of memory");
    char last[600] = "no endpoint";
    bool ok = false, unknown = false;
    for (size_t tries = 0; tries < e->nendpoints && !ok; tries++) {
        const char *endpoint = e->endpoints[e->current];
        char url[200];
        snprintf(url, sizeof url, "%s://%s%s", e->tls ? "https" : "http", endpoint, path);
        answer a = {0};
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_reset(e->curl);
        struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(e->curl, CURLOPT_URL, url);
        curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
        curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e->curl, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
        curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)(retry_sent ? REQUEST_TIMEOUT_MS : WRITE_TIMEOUT_MS));
        curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, errbuf);
        if (e->tls) etcd_tls_apply(e->curl);
        CURLcode rc = curl_easy_perform(e->curl);
        curl_slist_free_all(headers);
        long status = 0;
        curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
        json_t *j = rc == CURLE_OK && a.data ? json_loadb(a.data, a.len, 0, NULL) : NULL;
        if (rc == CURLE_OK && status == 200 && json_is_object(j)) {
            *out = j;
            ok = true;
        } else if (rc == CURLE_OK && !member_unavailable(status, j)) {
            /* etcd understood and refused: another member would too. */
            const char *msg = json_string_value(json_object_get(j, "error"));
            bool full = msg && strstr(msg, "space exceeded");
            store_fail(st, &e->base, NULL, full ? STORE_EFULL : STORE_EIO, "%s: etcd at %s answered %ld: %.150s",
                       path, endpoint, status, msg ? msg : (a.data ? a.data : ""));
            json_decref(j);
            free(a.data);
            free(text);
            return false;
        } else {
            if (rc == CURLE_OK) {
                const char *msg = json_string_value(json_object_get(j, "error"));
                snprintf(last, sizeof last, "%s: %s", endpoint, msg ? msg : "cannot serve");
            } else {
                char detail[400];
                etcd_explain(e->tls, rc, *errbuf ? errbuf : curl_easy_strerror(rc), detail, sizeof detail);
                snprintf(last, sizeof last, "%s: %s", endpoint, detail);
            }
            json_decref(j);
            /* Sent and lost: whether a transaction applied is unknown. */
            bool not_sent = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || etcd_tls_failure(rc);
            if (!not_sent && !retry_sent) {
                unknown = true;
                free(a.data);
                break;
            }
            e->current = (e->current + 1) % e->nendpoints;
        }
        free(a.data);
    }
    free(text);
    if (ok) return true;
    if (unknown)
        return store_fail(st, &e->base, NULL, STORE_EUNKNOWN, "%s: no answer (%s); whether it applied is unknown",
                          path, last);
    return store_fail(st, &e->base, NULL, STORE_EIO, "%s: no etcd member answers (last: %s)", path, last);
}

/* ---- opening */

static const store_backend ETCD_BACKEND;

static void etcd_close(store *s)
{
    etcd_store *e = as_etcd(s);
    if (e->curl) curl_easy_cleanup(e->curl);
    free(e);
}

/* "h1:p1,h2:p2/prefix" after "etcd://". */
static bool parse_url(etcd_store *e, const char *rest, const char *url, store_status *st)
{
    const char *slash = strchr(rest, '/');
    size_t hosts_len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (slash && slash[1]) {
        size_t n = strlen(slash);
        bool add_slash = slash[n - 1] != '/';
        if (n + add_slash >= sizeof e->prefix)
            return store_fail(st, NULL, url, STORE_EINVAL, "the key prefix is longer than %zu bytes",
                              sizeof e->prefix - 2);
        memcpy(e->prefix, slash, n);
        if (add_slash) e->prefix[n++] = '/';
        e->prefix[n] = '\0';
    } else {
        snprintf(e->prefix, sizeof e->prefix, "%s", DEFAULT_PREFIX);
    }
    e->prefix_len = strlen(e->prefix);
    const char *p = rest, *end = rest + hosts_len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', len);
        if (!len || !colon || colon == p || colon + 1 == p + len)
            return store_fail(st, NULL, url, STORE_EINVAL, "'%.*s' is not HOST:PORT (expected etcd://HOST:PORT[,...])",
                              (int)len, p);
        if (e->nendpoints == MAX_ENDPOINTS)
            return store_fail(st, NULL, url, STORE_EINVAL, "more than %d etcd endpoints", MAX_ENDPOINTS);
        if (len >= sizeof e->endpoints[0])
            return store_fail(st, NULL, url, STORE_EINVAL, "the endpoint '%.40s...' is too long", p);
        snprintf(e->endpoints[e->nendpoints++], sizeof e->endpoints[0], "%.*s", (int)len, p);
        p += len + (comma != NULL);
    }
    if (!e->nendpoints)
        return store_fail(st, NULL, url, STORE_EINVAL, "no etcd endpoint (expected etcd://HOST:PORT[,...])");
    return true;
}

store *store_etcd_open(const char *rest, const char *url, bool tls, store_status *st)
{
    pthread_once(&curl_once, curl_setup);
    etcd_store *e = calloc(1, sizeof *e);
    if (!e) {
        store_fail(st, NULL, url, STORE_ENOMEM, "out of memory");
        return NULL;
    }
    e->base.backend = &ETCD_BACKEND;
    e->tls = tls;
    snprintf(e->base.url, sizeof e->base.url, "%s", url);
    if (!parse_url(e, rest, url, st)) {
        free(e);
        return NULL;
    }
    e->curl = curl_easy_init();
    if (!e->curl) {
        free(e);
        store_fail(st, NULL, url, STORE_ENOMEM, "cannot start libcurl");
        return NULL;
    }
    /* Reach etcd now, so that a wrong URL is said at once. */
    int64_t rev;
    if (!ETCD_BACKEND.revision(&e->base, &rev, st)) {
        etcd_close(&e->base);
        return NULL;
    }
    return &e->base;
}

/* ---- reading */

static bool etcd_revision(store *s, int64_t *revision, store_status *st)
{
    etcd_store *e = as_etcd(s);
    char *k = b64_key(e, "");
    json_t *out;
    if (!k) return store_fail(st, s, NULL, STORE_ENOMEM, "out of memory");
    bool ok = request(e, "/v3/kv/range", json_pack("{s:s,s:b}", "key", k, "count_only", 1), true, &out, st);
    free(k);
    if (!ok) return false;
    *revision = int_field(json_object_get(out, "header"), "revision");
    json_decref(out);
    return true;
}

/* kv from etcd's KeyValue, its key without the prefix. */
static bool kv_from_json(etcd_store *e, json_t *j, store_kv *kv)
{
    *kv = (store_kv){0};
    size_t klen;
    uint8_t *key = b64_decode(json_string_value(json_object_get(j, "key")), &klen);
    kv->value = b64_decode(json_string_value(json_object_get(j, "value")), &kv->value_len);
    if (!key || !kv->value || klen < e->prefix_len) {
        free(key);
        store_kv_free(kv);
        return false;
    }
    kv->key = strdup((const char *)key + e->prefix_len);
    free(key);
    kv->create_revision = int_field(j, "create_revision");
    kv->mod_revision = int_field(j, "mod_revision");
    kv->version = int_field(j, "version");
    if (kv->key) return true;
    store_kv_free(kv);
    return false;
}

static bool etcd_get(store *s, const char *key, store_kv *out, bool *found, store_status *st)
{
    etcd_store *e = as_etcd(s);
    char *k = b64_key(e, key);
    json_t *answer;
    if (!k) return store_fail(st, s, NULL, STORE_ENOMEM, "out of memory");
    bool ok = request(e, "/v3/kv/range", json_pack("{s:s}", "key", k), true, &answer, st);
    free(k);
    if (!ok) return false;
    json_t *kvs = json_object_get(answer, "kvs");
    *found = json_array_size(kvs) > 0;
    if (*found && !kv_from_json(e, json_array_get(kvs, 0), out))
        ok = store_fail(st, s, NULL, STORE_ECORRUPT, "get %s: etcd's answer is malformed", key);
    json_decref(answer);
    return ok;
}

static bool etcd_range(store *s, const char *prefix, size_t limit, store_range *out, store_status *st)
{
    etcd_store *e = as_etcd(s);
    char *k = b64_key(e, prefix), *end = b64_prefix_end(e, prefix);
    json_t *body = k && end ? json_pack("{s:s,s:s}", "key", k, "range_end", end) : NULL;
    free(k);
    free(end);
    if (!body) return store_fail(st, s, NULL, STORE_ENOMEM, "out of memory");
    if (limit) json_object_set_new(body, "limit", int_string((int64_t)limit));
    json_t *answer;
    if (!request(e, "/v3/kv/range", body, true, &answer, st)) return false;
    json_t *kvs = json_object_get(answer, "kvs");
    size_t n = json_array_size(kvs);
    out->revision = int_field(json_object_get(answer, "header"), "revision");
    out->more = json_is_true(json_object_get(answer, "more"));
    out->kvs = n ? calloc(n, sizeof *out->kvs) : NULL;
    bool ok = !n || out->kvs;
    for (size_t i = 0; ok && i < n; i++) {
        ok = kv_from_json(e, json_array_get(kvs, i), &out->kvs[i]);
        if (ok) out->count++;
    }
    json_decref(answer);
    if (!ok) {
        store_range_free(out);
        return store_fail(st, s, NULL, STORE_ECORRUPT, "range %s: etcd's answer is malformed", prefix);
    }
    return true;
}

/* ---- writing */

static const char *const TARGETS[] = {"VERSION", "CREATE", "MOD", "VALUE"};
static const char *const RESULTS[] = {"EQUAL", "NOT_EQUAL", "LESS", "GREATER"};
static const char *const TARGET_FIELDS[] = {"version", "create_revision", "mod_revision", "value"};

static json_t *compare_json(etcd_store *e, const store_compare *c)
{
    char *k = b64_key(e, c->key);
    json_t *j = k ? json_pack("{s:s,s:s,s:s}", "key", k, "target", TARGETS[c->target], "result",
                              RESULTS[c->relation])
                  : NULL;
    free(k);
    if (!j) return NULL;
    if (c->target == STORE_TARGET_VALUE) {
        char *v = b64_encode(c->value_len ? c->value : "", c->value_len);
        json_object_set_new(j, "value", v ? json_string(v) : json_null());
        free(v);
    } else {
        json_object_set_new(j, TARGET_FIELDS[c->target], int_string(c->number));
    }
    return j;
}

static json_t *op_json(etcd_store *e, const store_op *op)
{
    char *k = b64_key(e, op->key);
    json_t *j = NULL;
    if (!k) return NULL;
    if (op->kind == STORE_PUT) {
        char *v = b64_encode(op->value_len ? op->value : "", op->value_len);
        if (v) j = json_pack("{s:{s:s,s:s}}", "request_put", "key", k, "value", v);
        if (j && op->lease) json_object_set_new(json_object_get(j, "request_put"), "lease", int_string(op->lease));
        free(v);
    } else if (op->kind == STORE_DELETE) {
        j = json_pack("{s:{s:s}}", "request_delete_range", "key", k);
    } else {
        char *end = b64_prefix_end(e, op->key);
        if (end) j = json_pack("{s:{s:s,s:s}}", "request_delete_range", "key", k, "range_end", end);
        free(end);
    }
    free(k);
    return j;
}

static json_t *ops_json(etcd_store *e, const store_op *ops, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = op_json(e, &ops[i]);
        if (!o || json_array_append_new(a, o)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static bool etcd_txn(store *s, const store_compare *cmps, size_t ncmps, const store_op *success, size_t nsuccess,
                     const store_op *failure, size_t nfailure, store_txn_result *res, store_status *st)
{
    etcd_store *e = as_etcd(s);
    json_t *compares = json_array();
    for (size_t i = 0; compares && i < ncmps; i++)
        if (json_array_append_new(compares, compare_json(e, &cmps[i]))) json_decref(compares), compares = NULL;
    json_t *yes = ops_json(e, success, nsuccess), *no = ops_json(e, failure, nfailure);
    if (!compares || !yes || !no) {
        json_decref(compares), json_decref(yes), json_decref(no);
        return store_fail(st, s, NULL, STORE_ENOMEM, "out of memory");
    }
    json_t *answer;
    if (!request(e, "/v3/kv/txn", json_pack("{s:o,s:o,s:o}", "compare", compares, "success", yes, "failure", no),
                 false, &answer, st))
        return false;
    res->succeeded = json_is_true(json_object_get(answer, "succeeded"));
    res->revision = int_field(json_object_get(answer, "header"), "revision");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(answer, "responses"), i, r)
        res->deleted += int_field(json_object_get(r, "response_delete_range"), "deleted");
    json_decref(answer);
    return true;
}

/* ---- leases */

static bool etcd_lease_grant(store *s, int64_t ttl_seconds, int64_t *lease, store_status *st)
{
    json_t *answer;
    if (!request(as_etcd(s), "/v3/lease/grant", json_pack("{s:o}", "TTL", int_string(ttl_seconds)), false, &answer,
                 st))
        return false;
    *lease = int_field(answer, "ID");
    json_decref(answer);
    if (!*lease) return store_fail(st, s, NULL, STORE_EIO, "lease grant: etcd gave no lease");
    return true;
}

static bool etcd_lease_keepalive(store *s, int64_t lease, int64_t *ttl_left, store_status *st)
{
    json_t *answer;
    if (!request(as_etcd(s), "/v3/lease/keepalive", json_pack("{s:o}", "ID", int_string(lease)), true, &answer, st))
        return false;
    *ttl_left = int_field(json_object_get(answer, "result"), "TTL");
    json_decref(answer);
    return true;
}

static bool etcd_lease_revoke(store *s, int64_t lease, store_status *st)
{
    json_t *answer;
    if (!request(as_etcd(s), "/v3/lease/revoke", json_pack("{s:o}", "ID", int_string(lease)), true, &answer, st))
        return false;
    json_decref(answer);
    return true;
}

static const store_backend ETCD_BACKEND = {
    .name = "etcd",
    .close = etcd_close,
    .revision = etcd_revision,
    .get = etcd_get,
    .range = etcd_range,
    .txn = etcd_txn,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
};
