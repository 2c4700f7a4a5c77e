/*
 * internal.h — the master's parts, shared by its files: the master itself,
 * background jobs (blocking calls to nodes run on threads and finish on
 * the event loop), and the API's entry point.
 */
#ifndef QYVOL_CLUSTER_MASTER_INTERNAL_H
#define QYVOL_CLUSTER_MASTER_INTERNAL_H

#include <event2/event.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "cluster/master/master.h"
#include "cluster/master/state.h"
#include "cluster/store.h"
#include "serve/http1.h"

typedef struct bg_job bg_job;

typedef struct master {
    master_options opt;
    struct event_base *base;
    http_server *api;
    http_server *ingress;      /* --ingress: apps served through the nodes */
    struct proxy *proxy;
    struct master_tls *tls;    /* NULL: plain HTTP (--plain-http) */
    char *routes_text;         /* the routes the proxy has, to notice changes */
    store *st;
    m_state state;
    char data_dir[400];
    char bundles_dir[420];
    struct event *tick, *sigterm, *sigint;
    bool dirty;                /* reconcile at the next tick */
    bool stopping;
    uint64_t started_ms;
    uint64_t autoscaled_ns;    /* the autoscaler's last round */
    uint64_t ticked_ns;        /* the last tick, to notice a stalled loop */
    uint64_t retention_records_seen, retention_swept_ns; /* retention.h */
    /* Background jobs. */
    int bg_pipe[2];
    struct event *bg_event;
    pthread_mutex_t bg_lock;
    bg_job *bg_done;
    int bg_running;
    /* Several masters on etcd (ha.h); leader NULL on SQLite. */
    struct leader *leader;
    char store_url[700];
    bool leading;              /* as the loop last acted on it */
    bool store_ok;             /* etcd answered the election thread */
    char leader_address[300];
    bool routes_asked;         /* a follower's GET /v1/routes is under way */
    uint64_t routes_asked_ns;
    /* Counters for /v1/metrics. */
    uint64_t reconciles, deploys, placements;
    double scheduling_seconds, last_scheduling_seconds;
} master;

/* Run work(arg) on a thread of its own, then done(m, arg) on the loop. */
bool bg_start(master *m, void (*work)(void *arg), void (*done)(master *m, void *arg), void *arg);

/* The API (api.c). */
void api_handle(void *ctx, http_exchange *x, const http_request *r);

/* Stream the log lines of path (GET /v1/logs?...&follow=1) from nodes to
 * x, each with its node (follow.c). */
bool master_follow_logs(master *m, http_exchange *x, const char *path, const m_node *const *nodes, size_t n);
/* A follower's: stream the leader's answer to GET target (a follow=1 logs
 * call) to x as it comes, asked with the caller's token (follow.c). */
bool master_forward_follow(master *m, http_exchange *x, const char *target, const char *token);

/* Where every app is served (the heartbeat answer's "routes"). */
json_t *master_routes(master *m);
/* Give the ingress these routes, if they changed (taken over). */
void master_set_ingress_routes(master *m, json_t *routes);

/* Ask the ready nodes for a heartbeat now (their assignments changed). */
void master_wake_nodes(master *m);

/* An app's object for GET /v1/apps/NAME (api.c). */
json_t *app_status(master *m, const m_app *a);

/* Reconcile now and log what moved. */
void master_reconcile(master *m);

#endif
