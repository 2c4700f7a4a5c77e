/*
 * node_impl.h — the node's state, shared by its parts: node.c (process,
 * loop, ingress), node_api.c (the /v1/ endpoints) and node_master.c (the
 * thread that talks to the master). Not an API.
 */
#ifndef QYVOL_CLUSTER_NODE_IMPL_H
#define QYVOL_CLUSTER_NODE_IMPL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "cluster/node/node.h"
#include "cluster/proxy.h"
#include "serve/drain.h"
#include "serve/http1.h"
#include "serve/log.h"
#include "serve/log_query.h"
#include "serve/runtime.h"

/* A port an app is exposed on (a NodePort). */
typedef struct node_port {
    struct node *n;
    uint16_t port;
    http_server *http;
    struct node_port *next;
} node_port;

/* A log line from the master thread, for the loop to write. */
typedef struct queued_log {
    log_level level;
    char *message;
    json_t *fields;
    struct queued_log *next;
} queued_log;

typedef struct node {
    node_options opt;
    char name[64];
    char address[300];         /* the API's HOST:PORT */
    char ingress[300];         /* the ingress' HOST:PORT */
    char token[512];
    char bundles[4096];        /* DATA/bundles */
    struct event_base *base;
    http_server *api, *ingress_http;
    node_port *ports;
    node_port *closing_ports;  /* drained, freed once their connections are gone */
    serve_runtime *rt;
    proxy *proxy;
    log_followers followers;
    bool draining;
    uint64_t started_ns;
    drain drain;
    struct event *tick, *sigterm, *sigint, *handoff_event;
    int handoff_pipe[2];

    /* Shared with the master thread, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char master[300];          /* "" until known */
    bool master_changed;
    bool wake;                 /* the master asks for a heartbeat now */
    bool stopping;
    char *status;              /* the heartbeat's body, remade on the loop */
    bool handoff_ready;        /* a plan and routes wait for the loop */
    runtime_plan *handoff_plan;
    json_t *handoff_routes;
    uint64_t handoffs_done;
    queued_log *logs_head, *logs_tail;
    pthread_t thread;
    bool thread_started;
} node;

/* node_api.c: the node API's requests. */
void node_api_request(void *ctx, http_exchange *x, const http_request *r);
/* GET /v1/node's body. */
json_t *node_identity(node *n);

/* node_master.c: the thread, started once the loop runs. */
bool node_master_start(node *n);
void node_master_stop(node *n);
/* A new master (POST /v1/node/join): register there. */
void node_set_master(node *n, const char *master);
/* On the loop (or once the thread is gone): write its queued log lines. */
void node_flush_logs(node *n);
/* On the loop: put in place what the thread handed over. */
void node_take_handoff(node *n);

/* node.c: the runtime's instance of an app's revision ("web@4"): a
 * node runs each assigned revision as an instance of its own, so that
 * two revisions serve side by side during a rollout. */
void node_instance_name(char *out, size_t n, const char *app, int64_t revision);
/* The apps that run here, by name: {"APP":{"revision":HIGHEST,
 * "replicas":..., (numbers summed over its revisions), "revisions":
 * {"N":{"replicas","ready","answered","failed","answer_seconds",...}}}}. */
json_t *node_apps(node *n);

/* node.c: open, keep or close the NodePorts the routes name. */
void node_sync_ports(node *n);

#endif
