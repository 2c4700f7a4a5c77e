/*
 * leader.c — electing the leading master on etcd (leader.h): a thread
 * that keeps this master's lease alive, registers it under masters/, and
 * campaigns for the leader key whenever that key is missing. The thread
 * does not log (the log is the event loop's): the loop logs what changed
 * as it reads leader_get.
 */
#include "cluster/master/leader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/store.h"

/* How often the lease is kept alive: a quarter of the TTL, at most this. */
#define MAX_KEEPALIVE_MS 250
/* How often the leader key is read: a follower campaigns within this of
 * etcd deleting the key of a dead leader. */
#define POLL_MS 100
#define MASTERS_EVERY_NS 1000000000ull

struct leader {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stopping;
    store *st;
    char address[300];
    int64_t ttl_s;
    uint64_t started_ms;
    /* The thread's own. */
    int64_t lease;
    bool registered;
    int64_t my_revision;        /* the leader key's create_revision when we won */
    uint64_t masters_read_ns;
    /* Shared, under mu. */
    uint64_t lease_end_ns;      /* the lease is surely alive until then */
    bool holds_key;
    int64_t leader_revision;
    char leader_address[300];
    bool store_ok;
    char problem[300];
    json_t *masters;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_problem(leader *l, const char *what, const store_status *st)
{
    pthread_mutex_lock(&l->mu);
    l->store_ok = false;
    snprintf(l->problem, sizeof l->problem, "%s: %s", what, st->message);
    pthread_mutex_unlock(&l->mu);
}

/* Keep the lease alive, or get one. False when etcd did not answer. */
static bool keep_lease(leader *l)
{
    store_status st;
    uint64_t t0 = mono_ns();
    if (!l->lease) {
        if (!store_lease_grant(l->st, l->ttl_s, &l->lease, &st)) return set_problem(l, "lease grant", &st), false;
        l->registered = false;
        pthread_mutex_lock(&l->mu);
        l->lease_end_ns = t0 + (uint64_t)l->ttl_s * 1000000000u;
        pthread_mutex_unlock(&l->mu);
        return true;
    }
    int64_t ttl_left;
    if (!store_lease_keepalive(l->st, l->lease, &ttl_left, &st)) return set_problem(l, "lease keep-alive", &st), false;
    pthread_mutex_lock(&l->mu);
    if (ttl_left > 0) {
        /* From before the call: etcd counted from later, so this is
         * never past the lease's real end. */
        l->lease_end_ns = t0 + (uint64_t)ttl_left * 1000000000u;
    } else {
        /* Expired while etcd was out of reach: start over. */
        l->lease = 0;
        l->holds_key = false;
        l->lease_end_ns = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return true;
}

static bool register_master(leader *l)
{
    if (l->registered) return true;
    char key[400];
    snprintf(key, sizeof key, MASTERS_PREFIX "%s", l->address);
    json_t *j = json_pack("{s:s,s:I}", "address", l->address, "started_ms", (json_int_t)l->started_ms);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    store_op op = {.kind = STORE_PUT, .key = key, .value = text, .value_len = text ? strlen(text) : 0,
                   .lease = l->lease};
    store_txn_result res;
    store_status st;
    bool ok = text && store_txn(l->st, NULL, 0, &op, 1, NULL, 0, &res, &st);
    free(text);
    if (!ok) return set_problem(l, "register", &st), false;
    l->registered = true;
    return true;
}

/* Read the leader key; campaign when it is missing. */
static bool follow_or_campaign(leader *l)
{
    store_kv kv;
    bool found;
    store_status st;
    if (!store_get(l->st, LEADER_KEY, &kv, &found, &st)) return set_problem(l, "read the leader", &st), false;
    if (found) {
        json_t *j = json_loadb((const char *)kv.value, kv.value_len, 0, NULL);
        const char *address = json_string_value(json_object_get(j, "address"));
        pthread_mutex_lock(&l->mu);
        l->holds_key = l->my_revision && kv.create_revision == l->my_revision;
        l->leader_revision = kv.create_revision;
        /* Our own address on a key we did not create: a previous run of
         * this master (killed) whose lease has not expired yet. No one
         * leads meanwhile; calls must not be forwarded to ourselves. */
        bool stale_self = !l->holds_key && address && !strcmp(address, l->address);
        snprintf(l->leader_address, sizeof l->leader_address, "%s", address && !stale_self ? address : "");
        pthread_mutex_unlock(&l->mu);
        json_decref(j);
        store_kv_free(&kv);
        return true;
    }
    json_t *j = json_pack("{s:s,s:I}", "address", l->address, "since_ms", (json_int_t)wall_ms());
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    store_compare missing = store_cmp_missing(LEADER_KEY);
    store_op op = {.kind = STORE_PUT, .key = LEADER_KEY, .value = text, .value_len = text ? strlen(text) : 0,
                   .lease = l->lease};
    store_txn_result res;
    bool ok = text && store_txn(l->st, &missing, 1, &op, 1, NULL, 0, &res, &st);
    free(text);
    if (!ok) return set_problem(l, "campaign", &st), false;
    pthread_mutex_lock(&l->mu);
    if (res.succeeded) {
        l->my_revision = res.revision;
        l->holds_key = true;
        l->leader_revision = res.revision;
        snprintf(l->leader_address, sizeof l->leader_address, "%s", l->address);
    } else {
        l->holds_key = false;
        l->leader_address[0] = '\0';
    }
    pthread_mutex_unlock(&l->mu);
    return true;
}

static void read_masters(leader *l)
{
    uint64_t now = mono_ns();
    if (now - l->masters_read_ns < MASTERS_EVERY_NS) return;
    store_range r;
    store_status st;
    if (!store_range_prefix(l->st, MASTERS_PREFIX, 64, &r, &st)) return;
    l->masters_read_ns = now;
    json_t *list = json_array();
    for (size_t i = 0; i < r.count; i++) {
        json_t *j = json_loadb((const char *)r.kvs[i].value, r.kvs[i].value_len, 0, NULL);
        if (json_is_object(j)) json_array_append(list, j);
        json_decref(j);
    }
    store_range_free(&r);
    pthread_mutex_lock(&l->mu);
    json_decref(l->masters);
    l->masters = list;
    pthread_mutex_unlock(&l->mu);
}

static void *leader_main(void *arg)
{
    leader *l = arg;
    uint64_t keepalive_ms = (uint64_t)l->ttl_s * 1000u / 4;
    if (keepalive_ms > MAX_KEEPALIVE_MS) keepalive_ms = MAX_KEEPALIVE_MS;
    uint64_t kept_ns = 0;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        bool stop = l->stopping;
        pthread_mutex_unlock(&l->mu);
        if (stop) break;
        bool ok = true;
        if (!l->lease || mono_ns() - kept_ns >= keepalive_ms * 1000000u) {
            kept_ns = mono_ns();
            ok = keep_lease(l);
        }
        ok = ok && l->lease && register_master(l) && follow_or_campaign(l);
        if (ok) {
            read_masters(l);
            pthread_mutex_lock(&l->mu);
            l->store_ok = true;
            l->problem[0] = '\0';
            pthread_mutex_unlock(&l->mu);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&l->mu);
        if (!l->stopping) pthread_cond_timedwait(&l->cond, &l->mu, &until);
        pthread_mutex_unlock(&l->mu);
    }
    return NULL;
}

leader *leader_start(const char *store_url, const char *address, unsigned ttl_seconds, char *why, size_t whylen)
{
    leader *l = calloc(1, sizeof *l);
    if (!l) return snprintf(why, whylen, "out of memory"), NULL;
    store_status st;
    l->st = store_open(store_url, &st);
    if (!l->st) {
        snprintf(why, whylen, "%s", st.message);
        free(l);
        return NULL;
    }
    snprintf(l->address, sizeof l->address, "%s", address);
    l->ttl_s = ttl_seconds ? ttl_seconds : 2;
    l->started_ms = wall_ms();
    l->store_ok = true;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, leader_main, l)) {
        snprintf(why, whylen, "cannot start the election thread");
        store_close(l->st);
        free(l);
        return NULL;
    }
    return l;
}

void leader_get(leader *l, bool with_masters, leader_view *out)
{
    uint64_t now = mono_ns();
    pthread_mutex_lock(&l->mu);
    out->leading = l->holds_key && now < l->lease_end_ns;
    out->leader_revision = l->leader_revision;
    snprintf(out->leader_address, sizeof out->leader_address, "%s", l->leader_address);
    /* Our own lease gone: whoever the key still names, we do not know
     * that it leads any more than we do. */
    if (!out->leading && l->holds_key) out->leader_address[0] = '\0';
    out->store_ok = l->store_ok;
    snprintf(out->store_problem, sizeof out->store_problem, "%s", l->problem);
    out->masters = !with_masters ? NULL : l->masters ? json_deep_copy(l->masters) : json_array();
    pthread_mutex_unlock(&l->mu);
}

void leader_stop(leader *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    store_status st;
    if (l->lease) store_lease_revoke(l->st, l->lease, &st);
    store_close(l->st);
    json_decref(l->masters);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
