/*
 * tls_sync.c — a master following the cluster's TLS state in the store
 * (master_tls_impl.h, tls_state.h): at start it checks that its CA is the
 * cluster's, moves an older master's DATA/tls/state.json into the store
 * (once), and makes sure a signed revocation list is there; then, about
 * once a second, it takes what any master changed: the revocation list
 * (crl.pem, which its TLS servers and clients load within a second), the
 * rotation generation (it issues itself a new certificate) and the
 * ingress certificate (ingress.pem).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/master/internal.h"
#include "cluster/master/master_tls_impl.h"
#include "cluster/master/secrets.h"
#include "cluster/master/tls_state.h"
#include "serve/log.h"

#define SYNC_EVERY_NS 1000000000ull
#define FULL_SYNC_EVERY_NS 60000000000ull

/* DATA/tls/generation, 0 when missing. */
static int64_t applied_generation(const master_tls *t)
{
    char path[600];
    mtls_path(t, "generation", path, sizeof path);
    FILE *f = fopen(path, "r");
    long long g = 0;
    if (f && fscanf(f, "%lld", &g) != 1) g = 0;
    if (f) fclose(f);
    return g;
}

/* The first start of this master on a data folder from before the TLS
 * state was shared: its state.json and ingress.pem go into the store.
 * Done once (DATA/tls/migrated marks it); done again after a crash
 * half-way, it adds only what is missing. */
static bool migrate(master_tls *t, char *why, size_t whylen)
{
    char marker[600], state[600], done[620];
    mtls_path(t, "migrated", marker, sizeof marker);
    if (access(marker, F_OK) == 0) return true;
    mtls_path(t, "state.json", state, sizeof state);
    json_error_t e;
    json_t *old = access(state, F_OK) == 0 ? json_load_file(state, 0, &e) : NULL;
    if (access(state, F_OK) == 0 && !json_is_object(old)) {
        snprintf(why, whylen, "%s: %s", state, old ? "not an object" : e.text);
        json_decref(old);
        return false;
    }
    if (old && !tls_state_migrate(t->st, old, t->ca, t->ca_key, why, whylen)) {
        json_decref(old);
        return false;
    }
    if (old) {
        log_json(LOG_INFO, "TLS state moved into the store", json_pack("{s:s,s:i,s:i,s:i}", "from", state, "join_tokens",
                                                                     (int)json_array_size(json_object_get(old, "join_tokens")),
                                                                     "nodes", (int)json_object_size(json_object_get(old, "issued")),
                                                                     "revoked", (int)json_array_size(json_object_get(old, "revoked"))));
        snprintf(done, sizeof done, "%s.migrated", state);
        rename(state, done);
    }
    json_decref(old);
    /* The ingress certificate set before, when the store has none. */
    json_t *stored = NULL;
    int64_t mod = 0;
    char *file = mtls_file_text(t->ingress_files.cert);
    bool ok = !file || tls_state_get(t->st, TLS_KEY_INGRESS, &stored, &mod, why, whylen);
    if (file && ok && !stored) {
        ok = tls_state_set_ingress(t->st, secrets_key(), file, "", why, whylen);
        if (ok) log_json(LOG_INFO, "ingress certificate moved into the store (sealed)", NULL);
    }
    json_decref(stored);
    if (file) OPENSSL_cleanse(file, strlen(file));
    free(file);
    return ok && pki_write(marker, "1\n", why, whylen);
}

/* The secret key being rotated (--old-secret-key-file): an ingress key
 * sealed with an old one is sealed again with the current one, as the
 * secrets are. Not fatal: the sync says what it cannot open. */
static void reseal_ingress(master_tls *t)
{
    const secret_key *keys[8];
    size_t n = secrets_keys(keys, 8);
    char *pem = NULL, version[65], why[300];
    int64_t mod;
    bool stale = false;
    if (tls_state_get_ingress(t->st, keys, n, &pem, version, &mod, &stale, why, sizeof why) && pem && stale) {
        if (tls_state_set_ingress(t->st, keys[0], pem, "", why, sizeof why))
            log_json(LOG_INFO, "ingress certificate resealed with the current key", NULL);
        else
            log_json(LOG_WARN, "cannot reseal the ingress certificate now (it stays readable with the old key)",
                     json_pack("{s:s}", "reason", why));
    }
    if (pem) OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
}

bool mtls_store_open(master_tls *t, const master *m, char *why, size_t whylen)
{
    store_status st;
    t->st = store_open(m->store_url, &st);
    if (!t->st) {
        snprintf(why, whylen, "cannot open the state store for TLS: %s", st.message);
        return false;
    }
    size_t added;
    json_t *crl = NULL;
    bool ok = tls_state_check_ca(t->st, t->ca, why, whylen) && migrate(t, why, whylen) &&
              tls_state_revoke(t->st, t->ca, t->ca_key, NULL, 0, NULL, &added, &crl, why, whylen) &&
              mtls_write_crl(t, crl, why, whylen) && tls_state_generation(t->st, &t->generation, why, whylen);
    json_decref(crl);
    if (!ok) return false;
    reseal_ingress(t);
    /* A master started for the first time is of the current generation. */
    t->generation_applied = applied_generation(t);
    return t->generation_applied || mtls_set_applied(t, t->generation, why, whylen);
}

static void problem(master_tls *t, const char *what, const char *why)
{
    char text[sizeof t->sync_problem];
    snprintf(text, sizeof text, "%s: %s", what, why);
    if (!strcmp(text, t->sync_problem)) return;
    snprintf(t->sync_problem, sizeof t->sync_problem, "%s", text);
    log_json(LOG_WARN, "cannot follow the TLS state in the store", json_pack("{s:s,s:s}", "what", what, "reason", why));
}

/* What a sync read from the store (on its thread), to apply on the loop. */
typedef struct sync_job {
    master_tls *t;
    bool leading, full;
    int64_t since;             /* the revision synced last */
    int64_t revision;
    bool unchanged;            /* nothing written since */
    bool read;                 /* everything below was read */
    json_t *crl;
    int64_t generation;
    char *ingress;             /* PEM, NULL when none */
    char ingress_version[65];
    char what[40], why[300];   /* the failure, when not read */
} sync_job;

static void fail_job(sync_job *job, const char *what)
{
    snprintf(job->what, sizeof job->what, "%s", what);
}

/* Uses only t->st and what never changes after start (the CA). */
static void sync_work(void *arg)
{
    sync_job *job = arg;
    master_tls *t = job->t;
    store_status st;
    if (!store_revision(t->st, &job->revision, &st)) {
        snprintf(job->why, sizeof job->why, "%s", st.message);
        return fail_job(job, "store");
    }
    /* Nothing written since the last look: nothing to take (but once a
     * minute, for the CRL's expiry). */
    if (!job->full && job->revision == job->since) {
        job->unchanged = true;
        return;
    }
    int64_t mod;
    if (!tls_state_get(t->st, TLS_KEY_CRL, &job->crl, &mod, job->why, sizeof job->why))
        return fail_job(job, "revocation list");
    int64_t left = json_integer_value(json_object_get(job->crl, "next_update")) - (int64_t)time(NULL);
    if (!job->crl || (job->leading && left < TLS_CRL_RESIGN_DAYS * 86400L)) {
        /* Signed again before it expires (a CRL past its next update
         * would make every handshake fail), by the leader. */
        json_decref(job->crl);
        job->crl = NULL;
        size_t added;
        if (!tls_state_revoke(t->st, t->ca, t->ca_key, NULL, 0, NULL, &added, &job->crl, job->why, sizeof job->why))
            return fail_job(job, "revocation list");
    }
    if (!tls_state_generation(t->st, &job->generation, job->why, sizeof job->why)) return fail_job(job, "generation");
    const secret_key *keys[8];
    size_t nkeys = secrets_keys(keys, 8);
    if (!tls_state_get_ingress(t->st, keys, nkeys, &job->ingress, job->ingress_version, &mod, NULL, job->why,
                               sizeof job->why))
        return fail_job(job, "ingress certificate");
    job->read = true;
}

static void sync_apply(master_tls *t, const master *m, sync_job *job)
{
    t->syncing = false;
    char why[300];
    bool ok = job->read;
    if (!job->read && !job->unchanged) problem(t, job->what, job->why);
    if (job->read) {
        char before[65];
        snprintf(before, sizeof before, "%s", t->crl_version);
        if (!mtls_write_crl(t, job->crl, why, sizeof why)) ok = false, problem(t, "revocation list", why);
        else if (strcmp(before, t->crl_version))
            log_json(LOG_INFO, "revocation list updated from the store",
                     json_pack("{s:i}", "revoked", (int)json_array_size(json_object_get(job->crl, "revoked"))));
        t->generation = job->generation;
        if (t->generation > t->generation_applied) {
            /* A rotation made at another master: this one's certificate
             * anew (no sync job runs now: st is free). */
            if (!mtls_reissue_master(t, m, t->st, why, sizeof why) || !mtls_set_applied(t, t->generation, why, sizeof why))
                ok = false, problem(t, "rotation", why);
            else log_json(LOG_INFO, "rotated: a new master certificate", json_pack("{s:I}", "generation", (json_int_t)t->generation));
        }
        snprintf(before, sizeof before, "%s", t->ingress_version);
        if (!mtls_write_ingress(t, job->ingress, job->ingress_version, why, sizeof why))
            ok = false, problem(t, "ingress certificate", why);
        else if (strcmp(before, t->ingress_version))
            log_json(LOG_INFO, job->ingress ? "ingress certificate updated from the store" : "ingress certificate removed", NULL);
    }
    if (ok) {
        t->synced_revision = job->revision;
        if (t->sync_problem[0]) log_json(LOG_INFO, "following the TLS state in the store again", NULL);
        t->sync_problem[0] = 0;
    }
    json_decref(job->crl);
    if (job->ingress) OPENSSL_cleanse(job->ingress, strlen(job->ingress));
    free(job->ingress);
    free(job);
}

static void sync_done(master *m, void *arg)
{
    sync_job *job = arg;
    sync_apply(job->t, m, job);
}

static sync_job *new_job(master_tls *t, bool leading, bool full)
{
    sync_job *job = calloc(1, sizeof *job);
    if (!job) return NULL;
    job->t = t;
    job->leading = leading;
    job->full = full;
    job->since = t->synced_revision;
    return job;
}

void mtls_sync_now(master_tls *t, const master *m)
{
    sync_job *job = new_job(t, m->leading, true);
    if (!job) return;
    t->full_sync_ns = t->synced_ns = now_ns();
    sync_work(job);
    sync_apply(t, m, job);
}

void mtls_sync(master_tls *t, master *m)
{
    uint64_t now = now_ns();
    bool leading = m->leading;
    if (t->syncing || (leading == t->was_leading && now - t->synced_ns < SYNC_EVERY_NS)) return;
    t->synced_ns = now;
    t->was_leading = leading;
    bool full = now - t->full_sync_ns >= FULL_SYNC_EVERY_NS;
    if (full) t->full_sync_ns = now;
    sync_job *job = new_job(t, leading, full);
    /* On a thread: while etcd elects or cannot be reached its calls wait,
     * and the loop must not. */
    if (job && bg_start(m, sync_work, sync_done, job)) t->syncing = true;
    else free(job);
}
