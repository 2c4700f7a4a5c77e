/*
 * master.h — `qyv master`: the cluster's control plane. It keeps the
 * cluster's state in the store (store.h: SQLite in --data, or etcd shared
 * by several masters, one of which leads: ha.h),
 * answers the API (docs/api.md) on --listen, tracks nodes by their
 * heartbeats, places replicas with the scheduler (scheduler.h) and hands
 * nodes their assignments in the answers to their heartbeats.
 */
#ifndef QYVOL_CLUSTER_MASTER_H
#define QYVOL_CLUSTER_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many keys being rotated out a master takes at once. */
#define SECRETS_MAX_OLD_KEYS 4

typedef struct master_options {
    const char *address;       /* API: where to listen */
    uint16_t port;
    const char *data_dir;      /* state.db, bundles/ */
    const char *store_url;     /* NULL: sqlite:DATA/state.db */
    const char *advertise;     /* HOST:PORT other masters and nodes reach this one at (etcd; NULL: --listen's) */
    const char *advertise_names; /* more names and addresses for the master's certificate, comma-separated */
    unsigned lease_ttl_s;      /* the leader's lease, etcd (2) */
    const char *ingress_address; /* NULL: no ingress */
    uint16_t ingress_port;
    const char *token;         /* the cluster token */
    const char *secret_key_file; /* the key secrets are sealed with (secrets.h) */
    const char *old_secret_key_files[SECRETS_MAX_OLD_KEYS]; /* keys being rotated out: open and reseal */
    size_t n_old_secret_key_files;
    unsigned heartbeat_ms;     /* asked of nodes (1000) */
    unsigned down_after_ms;    /* a node silent this long is down (3000) */
    unsigned autoscale_interval_ms; /* how often autoscaled apps are measured (5000) */
    unsigned scale_down_window_ms;  /* the autoscaler's scale-down stabilisation (300000) */
    bool plain_http;           /* no TLS (master_tls.h): asked for explicitly */
    const char *ca_dir;        /* where `qyv cluster init` put the CA (copied into DATA/tls once) */
    long node_cert_ttl_s;      /* how long node certificates are good (0: 30 days) */
    unsigned revision_history; /* revision records kept per app (0: 10; retention.h) */
} master_options;

/* Run until SIGTERM or SIGINT: 0, or non-zero when it cannot start (the
 * reason on stderr). */
int master_run(const master_options *options);

#endif
