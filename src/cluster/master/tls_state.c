/*
 * tls_state.c — the cluster's TLS bookkeeping in the state store
 * (tls_state.h).
 */
#include "cluster/master/tls_state.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tls/pki.h"

#define RACE_TRIES 8
#define INGRESS_CONTEXT "tls/ingress"

static int64_t now_s(void) { return (int64_t)time(NULL); }

bool tls_state_get(store *s, const char *key, json_t **out, int64_t *mod, char *why, size_t whylen)
{
    *out = NULL;
    *mod = 0;
    store_kv kv;
    bool found = false;
    store_status st;
    if (!store_get(s, key, &kv, &found, &st)) {
        snprintf(why, whylen, "cannot read %s: %s", key, st.message);
        return false;
    }
    if (!found) return true;
    json_t *j = json_loadb((const char *)kv.value, kv.value_len, 0, NULL);
    *mod = kv.mod_revision;
    store_kv_free(&kv);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(why, whylen, "the stored state is damaged at key '%s'", key);
        return false;
    }
    *out = j;
    return true;
}

/* key = j (not stolen) if key's mod_revision is still mod (0: missing).
 * *held says whether it was; false on a store failure. */
static bool put_if(store *s, const char *key, const json_t *j, int64_t mod, bool *held, char *why, size_t whylen)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        return false;
    }
    store_txn_result res;
    store_status st;
    bool ok = store_put_if(s, key, text, strlen(text), mod, &res, &st);
    free(text);
    if (!ok) snprintf(why, whylen, "cannot write %s: %s", key, st.message);
    else *held = res.succeeded;
    return ok;
}

/* ------------------------------------------------------------ the CA */

bool tls_state_check_ca(store *s, X509 *ca, char *why, size_t whylen)
{
    char pin[80];
    if (!pki_ca_pin(ca, pin)) {
        snprintf(why, whylen, "cannot hash the CA's key");
        return false;
    }
    for (int tries = 0; tries < RACE_TRIES; tries++) {
        json_t *j;
        int64_t mod;
        if (!tls_state_get(s, TLS_KEY_CA, &j, &mod, why, whylen)) return false;
        if (j) {
            const char *theirs = json_string_value(json_object_get(j, "pin"));
            bool same = theirs && !strcmp(theirs, pin);
            if (!same)
                snprintf(why, whylen,
                         "this master's CA (pin %s) is not the cluster's (pin %s, in the store): give every master "
                         "the same CA (--ca-dir, the folder `qyv cluster init` wrote)",
                         pin, theirs ? theirs : "?");
            json_decref(j);
            return same;
        }
        char *pem = pki_cert_pem(ca);
        json_t *rec = pem ? json_pack("{s:s,s:s}", "pem", pem, "pin", pin) : NULL;
        free(pem);
        bool held = false;
        bool ok = rec && put_if(s, TLS_KEY_CA, rec, 0, &held, why, whylen);
        json_decref(rec);
        if (!ok) return false;
        if (held) return true;
    }
    snprintf(why, whylen, "%s keeps changing", TLS_KEY_CA);
    return false;
}

/* ------------------------------------------------------------ join tokens */

/* Delete the keys under prefix whose field (seconds) is before
 * deadline, each conditional on its revision (one changed meanwhile stays
 * until the next round). Best effort. */
static void drop_before(store *s, const char *prefix, const char *field, int64_t deadline)
{
    store_range r;
    store_status st;
    if (!store_range_prefix(s, prefix, 0, &r, &st)) return;
    for (size_t i = 0; i < r.count; i++) {
        json_t *j = json_loadb((const char *)r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
        json_t *when = json_object_get(j, field);
        bool old = json_is_integer(when) && json_integer_value(when) < deadline;
        json_decref(j);
        store_txn_result res;
        if (old) store_delete_if(s, r.kvs[i].key, r.kvs[i].mod_revision, &res, &st);
    }
    store_range_free(&r);
}

/* Expired join tokens go, and the serials of certificates expired a day
 * ago (no certificate carries them any more: their uniqueness is moot). */
static void drop_expired(store *s)
{
    drop_before(s, TLS_PREFIX_JOIN, "expires", now_s());
    drop_before(s, TLS_PREFIX_SERIAL, "not_after", now_s() - 86400);
}

bool tls_state_add_token(store *s, const char *id, const char *hash, int64_t expires, long cert_ttl_s,
                         json_t *addresses, char *why, size_t whylen)
{
    drop_expired(s);
    char key[96];
    snprintf(key, sizeof key, TLS_PREFIX_JOIN "%s", id);
    json_t *list = json_is_array(addresses) ? json_incref(addresses) : json_array();
    json_t *rec = json_pack("{s:s,s:I,s:I,s:b,s:o}", "hash", hash, "expires", (json_int_t)expires, "cert_ttl_s",
                            (json_int_t)cert_ttl_s, "used", 0, "addresses", list);
    bool held = false;
    bool ok = rec && put_if(s, key, rec, 0, &held, why, whylen);
    json_decref(rec);
    if (ok && !held) snprintf(why, whylen, "a join token with id %s exists already", id);
    return ok && held;
}

json_t *tls_state_find_token(store *s, const char *token, int64_t *mod, char id[32], bool *failed, char *why,
                             size_t whylen)
{
    *failed = false;
    size_t idlen = strcspn(token, ".");
    if (!token[idlen] || idlen == 0 || idlen >= 32 || strspn(token, "0123456789abcdef") != idlen) {
        snprintf(why, whylen, "not a join token of this cluster");
        return NULL;
    }
    snprintf(id, 32, "%.*s", (int)idlen, token);
    char key[96];
    snprintf(key, sizeof key, TLS_PREFIX_JOIN "%s", id);
    json_t *e;
    if (!tls_state_get(s, key, &e, mod, why, whylen)) {
        *failed = true;
        return NULL;
    }
    char hash[65];
    secret_sha256_hex(token, strlen(token), hash);
    const char *h = json_string_value(json_object_get(e, "hash"));
    if (!e || !h || strlen(h) != 64 || CRYPTO_memcmp(h, hash, 64)) {
        snprintf(why, whylen, "not a join token of this cluster");
    } else if (json_is_true(json_object_get(e, "used"))) {
        snprintf(why, whylen, "this join token was used already: make another (qyv cluster token create)");
    } else if (json_integer_value(json_object_get(e, "expires")) < (json_int_t)now_s()) {
        snprintf(why, whylen, "this join token has expired: make another (qyv cluster token create)");
    } else {
        return e;
    }
    json_decref(e);
    return NULL;
}

/* ------------------------------------------------------------ certificates */

/* Run a transaction whose outcome etcd may leave unknown (it lost its raft
 * leader before answering): then check key, which the transaction
 * creates, for text; there, it applied; missing, it is sent again. */
static tls_issue_outcome txn_creating(store *s, const store_compare *cmps, size_t ncmps, const store_op *ops,
                                      size_t nops, const char *key, const char *text, char *why, size_t whylen)
{
    for (int tries = 0;; tries++) {
        store_txn_result res;
        store_status st;
        if (store_txn(s, cmps, ncmps, ops, nops, NULL, 0, &res, &st)) return res.succeeded ? TLS_ISSUED : TLS_ISSUE_RACED;
        snprintf(why, whylen, "cannot record the certificate: %s", st.message);
        if (st.code != STORE_EUNKNOWN || tries == 2) return TLS_ISSUE_FAILED;
        store_kv kv;
        bool found = false;
        if (!store_get(s, key, &kv, &found, &st)) return TLS_ISSUE_FAILED;
        if (found) {
            bool ours = kv.value_len == strlen(text) && !memcmp(kv.value, text, kv.value_len);
            store_kv_free(&kv);
            return ours ? TLS_ISSUED : TLS_ISSUE_RACED;
        }
    }
}

static json_t *serial_record(const char *node, int64_t not_after)
{
    return json_pack("{s:s,s:I,s:I}", "node", node, "not_after", (json_int_t)not_after, "at", (json_int_t)now_s());
}

tls_issue_outcome tls_state_record_issue(store *s, const tls_issue *in, char *why, size_t whylen)
{
    char serial_key[96], issued_key[128], token_key[96];
    snprintf(serial_key, sizeof serial_key, TLS_PREFIX_SERIAL "%s", in->serial);
    snprintf(issued_key, sizeof issued_key, TLS_PREFIX_ISSUED "%s", in->node);
    snprintf(token_key, sizeof token_key, TLS_PREFIX_JOIN "%s", in->token_id ? in->token_id : "");

    json_t *serial = serial_record(in->node, in->not_after);
    json_t *issued = json_is_object(in->issued) ? json_deep_copy(in->issued) : json_object();
    json_t *serials = json_object_get(issued, "serials");
    if (!json_is_array(serials)) json_object_set_new(issued, "serials", serials = json_array());
    json_array_append_new(serials, json_string(in->serial));
    while (json_array_size(serials) > TLS_ISSUED_KEEP) json_array_remove(serials, 0);
    json_object_set_new(issued, "generation", json_integer(in->generation));
    json_object_set_new(issued, "not_after", json_integer(in->not_after));
    if (json_is_array(in->addresses)) json_object_set(issued, "addresses", in->addresses);
    json_t *token = in->token_id ? json_deep_copy(in->token) : NULL;
    if (token) {
        json_object_set_new(token, "used", json_true());
        json_object_set_new(token, "node", json_string(in->node));
        json_object_set_new(token, "at", json_integer(now_s()));
    }
    char *texts[3] = {json_dumps(serial, JSON_COMPACT | JSON_SORT_KEYS), json_dumps(issued, JSON_COMPACT | JSON_SORT_KEYS),
                      token ? json_dumps(token, JSON_COMPACT | JSON_SORT_KEYS) : NULL};
    json_decref(serial);
    json_decref(issued);
    json_decref(token);
    tls_issue_outcome out = TLS_ISSUE_FAILED;
    size_t n = in->token_id ? 3 : 2;
    if (!texts[0] || !texts[1] || (in->token_id && !texts[2])) {
        snprintf(why, whylen, "out of memory");
    } else {
        store_compare cmps[3] = {store_cmp_missing(serial_key), store_cmp_mod(issued_key, in->issued_mod),
                                 store_cmp_mod(token_key, in->token_mod)};
        const char *keys[3] = {serial_key, issued_key, token_key};
        store_op ops[3];
        for (size_t i = 0; i < n; i++)
            ops[i] = (store_op){.kind = STORE_PUT, .key = keys[i], .value = texts[i], .value_len = strlen(texts[i])};
        out = txn_creating(s, cmps, n, ops, n, serial_key, texts[0], why, whylen);
    }
    for (size_t i = 0; i < 3; i++) free(texts[i]);
    return out;
}

tls_issue_outcome tls_state_record_serial(store *s, const char *serial, const char *node, int64_t not_after,
                                          char *why, size_t whylen)
{
    char key[96];
    snprintf(key, sizeof key, TLS_PREFIX_SERIAL "%s", serial);
    json_t *rec = serial_record(node, not_after);
    char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(rec);
    if (!text) {
        snprintf(why, whylen, "out of memory");
        return TLS_ISSUE_FAILED;
    }
    store_compare cmp = store_cmp_missing(key);
    store_op op = {.kind = STORE_PUT, .key = key, .value = text, .value_len = strlen(text)};
    tls_issue_outcome out = txn_creating(s, &cmp, 1, &op, 1, key, text, why, whylen);
    free(text);
    return out;
}

/* ------------------------------------------------------------ revocation */

static bool listed(json_t *revoked, const char *serial)
{
    size_t i;
    json_t *e;
    json_array_foreach(revoked, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "serial"));
        if (s && !strcasecmp(s, serial)) return true;
    }
    return false;
}

/* The list's object with a CRL signed anew for its revoked serials. */
static bool sign_crl(json_t *crl, X509 *ca, EVP_PKEY *ca_key, char *why, size_t whylen)
{
    json_t *revoked = json_object_get(crl, "revoked");
    size_t n = json_array_size(revoked);
    const char **serials = calloc(n + 1, sizeof *serials);
    if (!serials) return false;
    for (size_t i = 0; i < n; i++) serials[i] = json_string_value(json_object_get(json_array_get(revoked, i), "serial"));
    char *pem = pki_crl_pem(ca, ca_key, serials, n, TLS_CRL_DAYS, why, whylen);
    free(serials);
    if (!pem) return false;
    char version[65];
    secret_sha256_hex(pem, strlen(pem), version);
    json_object_set_new(crl, "pem", json_string(pem));
    json_object_set_new(crl, "version", json_string(version));
    json_object_set_new(crl, "next_update", json_integer(now_s() + TLS_CRL_DAYS * 86400L));
    free(pem);
    return true;
}

bool tls_state_revoke(store *s, X509 *ca, EVP_PKEY *ca_key, const char *const *serials, size_t n, const char *node,
                      size_t *added, json_t **out, char *why, size_t whylen)
{
    *added = 0;
    if (out) *out = NULL;
    for (int tries = 0; tries < RACE_TRIES; tries++) {
        json_t *crl;
        int64_t mod;
        if (!tls_state_get(s, TLS_KEY_CRL, &crl, &mod, why, whylen)) return false;
        if (!crl) crl = json_object();
        json_t *revoked = json_object_get(crl, "revoked");
        if (!json_is_array(revoked)) json_object_set_new(crl, "revoked", revoked = json_array());
        size_t fresh = 0;
        for (size_t i = 0; i < n; i++) {
            if (listed(revoked, serials[i])) continue;
            json_array_append_new(revoked, json_pack("{s:s,s:s,s:I}", "serial", serials[i], "node", node ? node : "",
                                                     "at", (json_int_t)now_s()));
            fresh++;
        }
        bool current = mod && json_string_value(json_object_get(crl, "pem")) &&
                       json_integer_value(json_object_get(crl, "next_update")) - now_s() >
                           TLS_CRL_RESIGN_DAYS * 86400L;
        if (!fresh && current) {
            if (out) *out = crl;
            else json_decref(crl);
            return true;
        }
        bool held = false;
        if (!sign_crl(crl, ca, ca_key, why, whylen) || !put_if(s, TLS_KEY_CRL, crl, mod, &held, why, whylen)) {
            json_decref(crl);
            return false;
        }
        if (held) {
            *added = fresh;
            if (out) *out = crl;
            else json_decref(crl);
            return true;
        }
        json_decref(crl);
    }
    snprintf(why, whylen, "the revocation list keeps changing; try again");
    return false;
}

/* ------------------------------------------------------------ rotation */

static bool read_generation(store *s, int64_t *generation, int64_t *mod, char *why, size_t whylen)
{
    json_t *j;
    if (!tls_state_get(s, TLS_KEY_GENERATION, &j, mod, why, whylen)) return false;
    json_int_t g = json_integer_value(json_object_get(j, "generation"));
    *generation = g > 0 ? g : 1;
    json_decref(j);
    return true;
}

bool tls_state_generation(store *s, int64_t *generation, char *why, size_t whylen)
{
    int64_t mod;
    return read_generation(s, generation, &mod, why, whylen);
}

/* Set the generation to want (or one above the stored one when want is
 * 0), unless the stored one is already that high. */
static bool raise_generation(store *s, int64_t want, int64_t *generation, char *why, size_t whylen)
{
    for (int tries = 0; tries < RACE_TRIES; tries++) {
        int64_t g, mod;
        if (!read_generation(s, &g, &mod, why, whylen)) return false;
        int64_t next = want ? want : g + 1;
        if (next <= g && mod) {
            *generation = g;
            return true;
        }
        json_t *rec = json_pack("{s:I,s:I}", "generation", (json_int_t)next, "at", (json_int_t)now_s());
        bool held = false;
        bool ok = rec && put_if(s, TLS_KEY_GENERATION, rec, mod, &held, why, whylen);
        json_decref(rec);
        if (!ok) return false;
        if (held) {
            *generation = next;
            return true;
        }
    }
    snprintf(why, whylen, "the generation keeps changing; try again");
    return false;
}

bool tls_state_rotate(store *s, int64_t *generation, char *why, size_t whylen)
{
    return raise_generation(s, 0, generation, why, whylen);
}

/* ------------------------------------------------------------ the ingress certificate */

bool tls_state_set_ingress(store *s, const secret_key *key, const char *pem, const char *subject, char *why,
                           size_t whylen)
{
    json_t *old;
    int64_t mod;
    if (!tls_state_get(s, TLS_KEY_INGRESS, &old, &mod, why, whylen)) return false;
    json_decref(old);
    store_txn_result res;
    store_status st;
    if (!pem) {
        if (!mod) return true;
        if (!store_delete_if(s, TLS_KEY_INGRESS, mod, &res, &st)) {
            snprintf(why, whylen, "cannot remove %s: %s", TLS_KEY_INGRESS, st.message);
            return false;
        }
    } else {
        uint8_t *box = NULL;
        size_t box_len = 0;
        if (!key || !secret_box_seal(key, INGRESS_CONTEXT, (const uint8_t *)pem, strlen(pem), &box, &box_len)) {
            snprintf(why, whylen, key ? "cannot seal the ingress key" : "this master has no secret key to seal it with");
            return false;
        }
        char *b64 = secret_base64_encode(box, box_len);
        free(box);
        char version[65];
        secret_sha256_hex(pem, strlen(pem), version);
        json_t *rec = b64 ? json_pack("{s:s,s:s,s:s,s:s}", "box", b64, "key_id", key->id, "version", version, "subject",
                                      subject ? subject : "")
                          : NULL;
        free(b64);
        bool held = false;
        bool ok = rec && put_if(s, TLS_KEY_INGRESS, rec, mod, &held, why, whylen);
        json_decref(rec);
        if (!ok) return false;
        res.succeeded = held;
    }
    if (!res.succeeded) snprintf(why, whylen, "the ingress certificate was changed meanwhile; try again");
    return res.succeeded;
}

bool tls_state_get_ingress(store *s, const secret_key *const *keys, size_t nkeys, char **pem, char version[65],
                           int64_t *mod, bool *stale, char *why, size_t whylen)
{
    *pem = NULL;
    version[0] = 0;
    if (stale) *stale = false;
    json_t *j;
    if (!tls_state_get(s, TLS_KEY_INGRESS, &j, mod, why, whylen)) return false;
    if (!j) return true;
    const char *b64 = json_string_value(json_object_get(j, "box"));
    const char *id = json_string_value(json_object_get(j, "key_id"));
    size_t box_len = 0;
    uint8_t *box = b64 ? secret_base64_decode(b64, &box_len) : NULL;
    uint8_t *plain = NULL;
    size_t len = 0, opened = nkeys;
    if (!box) snprintf(why, whylen, "the stored state is damaged at key '%s'", TLS_KEY_INGRESS);
    for (size_t i = 0; box && i < nkeys && opened == nkeys; i++) {
        char ignored[200];
        if (secret_box_open(keys[i], INGRESS_CONTEXT, box, box_len, &plain, &len, ignored, sizeof ignored)) opened = i;
    }
    if (box && opened == nkeys)
        snprintf(why, whylen, "the ingress certificate was sealed with secret key %s, which this master does not have "
                              "(its key is %s; give every master the same --secret-key-file)",
                 id ? id : "?", nkeys ? keys[0]->id : "none");
    bool ok = false;
    if (opened < nkeys) {
        *pem = malloc(len + 1);
        if (*pem) {
            memcpy(*pem, plain, len);
            (*pem)[len] = 0;
            secret_sha256_hex(*pem, len, version);
            if (stale) *stale = opened > 0;
            ok = true;
        }
        secret_plain_free(plain, len);
    }
    free(box);
    json_decref(j);
    return ok;
}

/* ------------------------------------------------------------ migration */

static bool put_missing(store *s, const char *key, json_t *j, char *why, size_t whylen)
{
    bool held;
    return put_if(s, key, j, 0, &held, why, whylen);
}

bool tls_state_migrate(store *s, json_t *old, X509 *ca, EVP_PKEY *ca_key, char *why, size_t whylen)
{
    char key[200];
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(old, "join_tokens"), i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        if (!id || strlen(id) >= 32) continue;
        snprintf(key, sizeof key, TLS_PREFIX_JOIN "%s", id);
        if (!put_missing(s, key, e, why, whylen)) return false;
    }
    const char *node;
    json_object_foreach(json_object_get(old, "issued"), node, e)
    {
        if (strlen(node) > 100) continue;
        snprintf(key, sizeof key, TLS_PREFIX_ISSUED "%s", node);
        if (!put_missing(s, key, e, why, whylen)) return false;
        size_t k;
        json_t *serial;
        json_array_foreach(json_object_get(e, "serials"), k, serial)
        {
            const char *hex = json_string_value(serial);
            if (!hex || strlen(hex) >= PKI_SERIAL_MAX) continue;
            snprintf(key, sizeof key, TLS_PREFIX_SERIAL "%s", hex);
            json_t *rec = serial_record(node, json_integer_value(json_object_get(e, "not_after")));
            bool ok = rec && put_missing(s, key, rec, why, whylen);
            json_decref(rec);
            if (!ok) return false;
        }
    }
    json_array_foreach(json_object_get(old, "revoked"), i, e)
    {
        const char *serial = json_string_value(json_object_get(e, "serial"));
        size_t added;
        if (serial && !tls_state_revoke(s, ca, ca_key, &serial, 1, json_string_value(json_object_get(e, "node")),
                                        &added, NULL, why, whylen))
            return false;
    }
    int64_t generation;
    json_int_t g = json_integer_value(json_object_get(old, "generation"));
    return raise_generation(s, g > 1 ? g : 1, &generation, why, whylen);
}
