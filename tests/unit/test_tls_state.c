/*
 * test_tls_state.c — the cluster's TLS state in the store
 * (src/cluster/master/tls_state.h) as several masters share it: each
 * "master" is a store handle of its own on one store (an SQLite file,
 * then a one-member etcd when /usr/bin/etcd is there). A join token is
 * spent once however many masters race for it (threads, each with its
 * handle); a serial is issued once; a revocation made through one handle
 * is in the list every other reads; expired records go; rotations add
 * up; the ingress key is sealed; an old state.json migrates once. And what a node's certificate
 * may name (tls_sans.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "cluster/master/tls_sans.h"
#include "cluster/master/tls_state.h"
#include "cluster/store.h"
#include "etcd_fixture.h"
#include "tls/pki.h"

static char g_dir[64];
static int g_seq;

/* A URL for a store no other test uses. */
static void fresh_url(char *url, size_t n)
{
    if (*g_etcd) snprintf(url, n, "etcd://%s/tls-%d-%d/", g_etcd, (int)getpid(), ++g_seq);
    else snprintf(url, n, "sqlite:%s/s%d.db", g_dir, ++g_seq);
}

static store *open_url(const char *url)
{
    store_status st;
    store *s = store_open(url, &st);
    if (!s) fail_msg("%s: %s", url, st.message);
    return s;
}

typedef struct ca {
    X509 *cert;
    EVP_PKEY *key;
} ca;

static ca make_ca(void)
{
    char why[200];
    ca c = {.key = pki_key_new(why, sizeof why)};
    assert_non_null(c.key);
    c.cert = pki_ca_new(c.key, 1, why, sizeof why);
    assert_non_null(c.cert);
    return c;
}

static void free_ca(ca *c)
{
    X509_free(c->cert);
    EVP_PKEY_free(c->key);
}

static const char TOKEN[] = "0123456789ab.00112233445566778899aabbccddeeff";

static void add_token(store *s, json_t *addresses)
{
    char hash[65], why[300];
    secret_sha256_hex(TOKEN, strlen(TOKEN), hash);
    assert_true(tls_state_add_token(s, "0123456789ab", hash, (int64_t)time(NULL) + 600, 0, addresses, why, sizeof why));
}

/* Spend TOKEN for node with serial through s: read it and the node's
 * record, then record the certificate. The outcome, or -1 when the token
 * was refused on reading. */
static int spend(store *s, const char *node, const char *serial)
{
    char why[300], id[32], key[128];
    int64_t mod, issued_mod;
    bool failed;
    json_t *token = tls_state_find_token(s, TOKEN, &mod, id, &failed, why, sizeof why);
    if (!token) {
        assert_false(failed);
        assert_non_null(strstr(why, "used already"));
        return -1;
    }
    json_t *issued;
    snprintf(key, sizeof key, TLS_PREFIX_ISSUED "%s", node);
    assert_true(tls_state_get(s, key, &issued, &issued_mod, why, sizeof why));
    tls_issue in = {.node = node, .serial = serial, .not_after = 1, .generation = 1, .token_id = id, .token = token,
                    .token_mod = mod, .issued = issued, .issued_mod = issued_mod};
    int out = (int)tls_state_record_issue(s, &in, why, sizeof why);
    json_decref(token);
    json_decref(issued);
    return out;
}

/* Two masters read the token, then both record a certificate: one holds. */
static void token_spent_once_by_two_masters(void **state)
{
    (void)state;
    char url[160], why[300], id[32];
    fresh_url(url, sizeof url);
    store *a = open_url(url), *b = open_url(url);
    add_token(a, NULL);
    int64_t ma, mb;
    bool failed;
    json_t *ta = tls_state_find_token(a, TOKEN, &ma, id, &failed, why, sizeof why);
    json_t *tb = tls_state_find_token(b, TOKEN, &mb, id, &failed, why, sizeof why);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(ma, mb);
    tls_issue ia = {.node = "n-a", .serial = "AA01", .generation = 1, .token_id = id, .token = ta, .token_mod = ma};
    tls_issue ib = {.node = "n-b", .serial = "BB01", .generation = 1, .token_id = id, .token = tb, .token_mod = mb};
    assert_int_equal(tls_state_record_issue(a, &ia, why, sizeof why), TLS_ISSUED);
    assert_int_equal(tls_state_record_issue(b, &ib, why, sizeof why), TLS_ISSUE_RACED);
    /* The loser reads again: used, by n-a. */
    assert_null(tls_state_find_token(b, TOKEN, &mb, id, &failed, why, sizeof why));
    assert_non_null(strstr(why, "used already"));
    json_t *serial;
    int64_t mod;
    assert_true(tls_state_get(b, TLS_PREFIX_SERIAL "BB01", &serial, &mod, why, sizeof why));
    assert_null(serial); /* nothing of the losing transaction was applied */
    json_decref(ta);
    json_decref(tb);
    store_close(a);
    store_close(b);
}

typedef struct racer {
    char url[160];
    int index;
    int outcome;
    pthread_barrier_t *start;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    store *s = open_url(r->url);
    char node[16], serial[16];
    snprintf(node, sizeof node, "n-%d", r->index);
    snprintf(serial, sizeof serial, "C0%02d", r->index);
    pthread_barrier_wait(r->start);
    /* Read and write as a master does, tried again when it raced. */
    for (int tries = 0; tries < 20; tries++) {
        r->outcome = spend(s, node, serial);
        if (r->outcome != TLS_ISSUE_RACED) break;
    }
    store_close(s);
    return NULL;
}

/* Eight masters (threads, a handle each) race for one token: exactly one
 * certificate is recorded, the others are told it was used. */
static void token_race_has_one_winner(void **state)
{
    (void)state;
    enum { N = 8 };
    char url[160];
    fresh_url(url, sizeof url);
    store *s = open_url(url);
    add_token(s, NULL);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    racer r[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.index = i, .start = &start};
        snprintf(r[i].url, sizeof r[i].url, "%s", url);
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int won = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        won += r[i].outcome == TLS_ISSUED;
        refused += r[i].outcome == -1;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(won, 1);
    assert_int_equal(refused, N - 1);
    store_range range;
    store_status st;
    assert_true(store_range_prefix(s, TLS_PREFIX_SERIAL, 0, &range, &st));
    assert_int_equal(range.count, 1);
    store_range_free(&range);
    store_close(s);
}

/* A serial is issued once across masters, whatever node it is for. */
static void serial_issued_once(void **state)
{
    (void)state;
    char url[160], why[300];
    fresh_url(url, sizeof url);
    store *a = open_url(url), *b = open_url(url);
    tls_issue one = {.node = "n-1", .serial = "5E01", .generation = 1};
    tls_issue two = {.node = "n-2", .serial = "5E01", .generation = 1};
    assert_int_equal(tls_state_record_issue(a, &one, why, sizeof why), TLS_ISSUED);
    assert_int_equal(tls_state_record_issue(b, &two, why, sizeof why), TLS_ISSUE_RACED);
    assert_int_equal(tls_state_record_serial(b, "5E01", "master", 1, why, sizeof why), TLS_ISSUE_RACED);
    assert_int_equal(tls_state_record_serial(b, "5E02", "master", 1, why, sizeof why), TLS_ISSUED);
    /* The node's record keeps its serials, the last TLS_ISSUED_KEEP. */
    json_t *rec;
    int64_t mod;
    assert_true(tls_state_get(a, TLS_PREFIX_ISSUED "n-1", &rec, &mod, why, sizeof why));
    assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "serials"), 0)), "5E01");
    json_decref(rec);
    store_close(a);
    store_close(b);
}

/* Making a token drops expired tokens and the serials of certificates
 * expired for a day; live ones stay. */
static void expired_records_dropped(void **state)
{
    (void)state;
    char url[160], why[300], hash[65];
    fresh_url(url, sizeof url);
    store *s = open_url(url);
    int64_t now = (int64_t)time(NULL), mod;
    assert_int_equal(tls_state_record_serial(s, "0D01", "n-1", now - 2 * 86400, why, sizeof why), TLS_ISSUED);
    assert_int_equal(tls_state_record_serial(s, "0D02", "n-1", now + 86400, why, sizeof why), TLS_ISSUED);
    secret_sha256_hex("old.x", 5, hash);
    assert_true(tls_state_add_token(s, "0e01", hash, now - 1, 0, NULL, why, sizeof why));
    add_token(s, NULL);
    json_t *j;
    assert_true(tls_state_get(s, TLS_PREFIX_SERIAL "0D01", &j, &mod, why, sizeof why));
    assert_null(j);
    assert_true(tls_state_get(s, TLS_PREFIX_JOIN "0e01", &j, &mod, why, sizeof why));
    assert_null(j);
    assert_true(tls_state_get(s, TLS_PREFIX_SERIAL "0D02", &j, &mod, why, sizeof why));
    assert_non_null(j);
    json_decref(j);
    store_close(s);
}

static bool crl_lists(const char *pem, const char *serial_hex)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
    BIO_free(bio);
    BIGNUM *bn = NULL;
    BN_hex2bn(&bn, serial_hex);
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    X509_REVOKED *r = NULL;
    bool found = crl && X509_CRL_get0_by_serial(crl, &r, serial) == 1;
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_CRL_free(crl);
    return found;
}

/* A revocation through one master is in the signed list the others read;
 * revoking it again writes nothing. */
static void revocation_shared(void **state)
{
    (void)state;
    char url[160], why[300];
    fresh_url(url, sizeof url);
    store *a = open_url(url), *b = open_url(url);
    ca c = make_ca();
    size_t added;
    json_t *crl;
    assert_true(tls_state_revoke(b, c.cert, c.key, NULL, 0, NULL, &added, &crl, why, sizeof why));
    assert_int_equal(added, 0);
    assert_false(crl_lists(json_string_value(json_object_get(crl, "pem")), "ABCD01"));
    json_decref(crl);
    const char *serials[] = {"ABCD01", "ABCD02"};
    assert_true(tls_state_revoke(a, c.cert, c.key, serials, 2, "n-1", &added, NULL, why, sizeof why));
    assert_int_equal(added, 2);
    int64_t mod, rev1, rev2;
    assert_true(tls_state_get(b, TLS_KEY_CRL, &crl, &mod, why, sizeof why));
    const char *pem = json_string_value(json_object_get(crl, "pem"));
    assert_true(crl_lists(pem, "ABCD01") && crl_lists(pem, "ABCD02"));
    char version[65];
    secret_sha256_hex(pem, strlen(pem), version);
    assert_string_equal(version, json_string_value(json_object_get(crl, "version")));
    json_decref(crl);
    store_status st;
    assert_true(store_revision(b, &rev1, &st));
    assert_true(tls_state_revoke(b, c.cert, c.key, serials, 1, "n-1", &added, NULL, why, sizeof why));
    assert_int_equal(added, 0);
    assert_true(store_revision(b, &rev2, &st));
    assert_int_equal(rev1, rev2);
    free_ca(&c);
    store_close(a);
    store_close(b);
}

static void rotations_add_up(void **state)
{
    (void)state;
    char url[160], why[300];
    fresh_url(url, sizeof url);
    store *a = open_url(url), *b = open_url(url);
    int64_t g;
    assert_true(tls_state_generation(a, &g, why, sizeof why));
    assert_int_equal(g, 1);
    assert_true(tls_state_rotate(a, &g, why, sizeof why));
    assert_int_equal(g, 2);
    assert_true(tls_state_rotate(b, &g, why, sizeof why));
    assert_int_equal(g, 3);
    assert_true(tls_state_generation(a, &g, why, sizeof why));
    assert_int_equal(g, 3);
    store_close(a);
    store_close(b);
}

static const char INGRESS[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                              "-----BEGIN PRIVATE KEY-----\nsecret-bytes\n-----END PRIVATE KEY-----\n";

/* The ingress key is stored sealed: another master with the same secret
 * key opens it, one with another key is told which. */
static void ingress_sealed(void **state)
{
    (void)state;
    char url[160], why[300], version[65];
    fresh_url(url, sizeof url);
    store *a = open_url(url), *b = open_url(url);
    uint8_t bytes[SECRET_KEY_BYTES] = {1, 2, 3}, other_bytes[SECRET_KEY_BYTES] = {9};
    secret_key key, other;
    secret_key_from_bytes(&key, bytes);
    secret_key_from_bytes(&other, other_bytes);
    assert_true(tls_state_set_ingress(a, &key, INGRESS, "app.example", why, sizeof why));
    store_kv kv;
    bool found;
    store_status st;
    assert_true(store_get(a, TLS_KEY_INGRESS, &kv, &found, &st) && found);
    assert_null(strstr((const char *)kv.value, "secret-bytes"));
    assert_null(strstr((const char *)kv.value, "PRIVATE KEY"));
    store_kv_free(&kv);
    char *pem;
    int64_t mod;
    bool stale;
    const secret_key *current[] = {&key}, *wrong[] = {&other}, *rotating[] = {&other, &key};
    assert_true(tls_state_get_ingress(b, current, 1, &pem, version, &mod, &stale, why, sizeof why));
    assert_string_equal(pem, INGRESS);
    assert_false(stale);
    free(pem);
    assert_false(tls_state_get_ingress(b, wrong, 1, &pem, version, &mod, &stale, why, sizeof why));
    assert_non_null(strstr(why, key.id));
    assert_non_null(strstr(why, other.id));
    /* Being rotated out (--old-secret-key-file), the old key still opens it. */
    assert_true(tls_state_get_ingress(b, rotating, 2, &pem, version, &mod, &stale, why, sizeof why));
    assert_true(stale);
    free(pem);
    assert_true(tls_state_set_ingress(b, &key, NULL, NULL, why, sizeof why));
    assert_true(tls_state_get_ingress(a, current, 1, &pem, version, &mod, NULL, why, sizeof why));
    assert_null(pem);
    assert_string_equal(version, "");
    store_close(a);
    store_close(b);
}

/* The masters share one CA: the first publishes it, another is refused. */
static void one_ca(void **state)
{
    (void)state;
    char url[160], why[400];
    fresh_url(url, sizeof url);
    store *s = open_url(url);
    ca one = make_ca(), two = make_ca();
    assert_true(tls_state_check_ca(s, one.cert, why, sizeof why));
    assert_true(tls_state_check_ca(s, one.cert, why, sizeof why));
    assert_false(tls_state_check_ca(s, two.cert, why, sizeof why));
    assert_non_null(strstr(why, "is not the cluster's"));
    free_ca(&one);
    free_ca(&two);
    store_close(s);
}

/* An old master's state.json moves into the store; again, nothing changes. */
static void migration_once(void **state)
{
    (void)state;
    char url[160], why[300], hash[65], id[32];
    fresh_url(url, sizeof url);
    store *s = open_url(url);
    ca c = make_ca();
    secret_sha256_hex(TOKEN, strlen(TOKEN), hash);
    json_t *old = json_pack("{s:[{s:s,s:s,s:I,s:i,s:b}],s:{s:{s:[s,s],s:i,s:I}},s:[{s:s,s:s,s:i}],s:i}", "join_tokens",
                            "id", "0123456789ab", "hash", hash, "expires", (json_int_t)time(NULL) + 600, "cert_ttl_s",
                            0, "used", 0, "issued", "n-1", "serials", "1A", "1B", "generation", 3, "not_after",
                            (json_int_t)time(NULL) + 600, "revoked", "serial", "1A", "node", "n-1", "at", 5,
                            "generation", 3);
    assert_non_null(old);
    assert_true(tls_state_migrate(s, old, c.cert, c.key, why, sizeof why));
    int64_t rev1, rev2, mod, g;
    store_status st;
    assert_true(store_revision(s, &rev1, &st));
    assert_true(tls_state_migrate(s, old, c.cert, c.key, why, sizeof why));
    assert_true(store_revision(s, &rev2, &st));
    assert_int_equal(rev1, rev2);
    bool failed;
    json_t *token = tls_state_find_token(s, TOKEN, &mod, id, &failed, why, sizeof why);
    assert_non_null(token);
    json_decref(token);
    json_t *serial, *crl;
    assert_true(tls_state_get(s, TLS_PREFIX_SERIAL "1B", &serial, &mod, why, sizeof why));
    assert_string_equal(json_string_value(json_object_get(serial, "node")), "n-1");
    json_decref(serial);
    assert_true(tls_state_get(s, TLS_KEY_CRL, &crl, &mod, why, sizeof why));
    assert_true(crl_lists(json_string_value(json_object_get(crl, "pem")), "1A"));
    json_decref(crl);
    assert_true(tls_state_generation(s, &g, why, sizeof why));
    assert_int_equal(g, 3);
    json_decref(old);
    free_ca(&c);
    store_close(s);
}

/* ---- what a node's certificate may name (no store) */

static void names_a_node_may_have(void **state)
{
    (void)state;
    char why[600];
    char names[3][TLS_SAN_LEN] = {"node-1", "127.0.0.1", "10.0.0.5"};
    json_t *listed = json_pack("[s]", "10.0.0.5");
    assert_true(tls_sans_allowed(names, 3, "node-1", "127.0.0.1", listed, why, sizeof why));
    /* The peer as an IPv4-mapped address is the same address. */
    assert_true(tls_sans_allowed(names, 2, "node-1", "::ffff:127.0.0.1", NULL, why, sizeof why));
    assert_false(tls_sans_allowed(names, 3, "node-1", "127.0.0.1", NULL, why, sizeof why));
    assert_non_null(strstr(why, "names 10.0.0.5, which this node cannot prove: it called from 127.0.0.1"));
    assert_non_null(strstr(why, "--node-address 10.0.0.5"));
    char other[1][TLS_SAN_LEN] = {"node-2"};
    assert_false(tls_sans_allowed(other, 1, "node-1", "127.0.0.1", listed, why, sizeof why));
    assert_non_null(strstr(why, "names the host node-2"));
    char v6[1][TLS_SAN_LEN] = {"::1"};
    assert_false(tls_sans_allowed(v6, 1, "node-1", "127.0.0.1", listed, why, sizeof why));
    assert_true(tls_sans_allowed(v6, 1, "node-1", "::1", NULL, why, sizeof why));
    json_decref(listed);
    assert_true(tls_san_valid("10.1.2.3") && tls_san_valid("fe80::1"));
    assert_false(tls_san_valid("node.example") || tls_san_valid("") || tls_san_valid("10.1.2"));
}

static void names_of_a_request(void **state)
{
    (void)state;
    char why[200];
    EVP_PKEY *key = pki_key_new(why, sizeof why);
    const char *sans[] = {"node-1", "127.0.0.1", "fe80::1"};
    X509_REQ *req = pki_csr_new(key, "node-1", PKI_ROLE_NODE, sans, 3, why, sizeof why);
    assert_non_null(req);
    char names[TLS_SANS_MAX][TLS_SAN_LEN];
    size_t n;
    assert_true(tls_csr_sans(req, names, TLS_SANS_MAX, &n));
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "node-1");
    assert_string_equal(names[1], "127.0.0.1");
    assert_string_equal(names[2], "fe80::1");
    assert_false(tls_csr_sans(req, names, 2, &n));
    X509_REQ_free(req);
    EVP_PKEY_free(key);
}

static int make_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/qyvol-tls-state-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
#define SHARED_STATE                                                                                               \
    cmocka_unit_test(token_spent_once_by_two_masters), cmocka_unit_test(token_race_has_one_winner),               \
        cmocka_unit_test(serial_issued_once), cmocka_unit_test(expired_records_dropped),                          \
        cmocka_unit_test(revocation_shared),                                \
        cmocka_unit_test(rotations_add_up), cmocka_unit_test(ingress_sealed), cmocka_unit_test(one_ca),          \
        cmocka_unit_test(migration_once)
    const struct CMUnitTest on_sqlite[] = {
        SHARED_STATE,
        cmocka_unit_test(names_a_node_may_have),
        cmocka_unit_test(names_of_a_request),
    };
    const struct CMUnitTest on_etcd[] = {SHARED_STATE};
    int failed = cmocka_run_group_tests_name("TLS state on SQLite", on_sqlite, make_dir, remove_dir);
    etcd_proc e = {0};
    if (etcd_start(&e)) failed += cmocka_run_group_tests_name("TLS state on etcd", on_etcd, NULL, NULL);
    else if (e.pid > 0) failed++;
    etcd_stop(&e);
    return failed;
}
