/*
 * state.h — the master's model of the cluster: apps (what is wanted, where
 * it is placed) and nodes (what they offer and report). Apps and nodes are
 * kept in the store (apps/NAME, nodes/NAME, revisions/APP/N) and loaded
 * at start; what nodes report (heartbeats, replicas ready) lives only in
 * memory and is rebuilt from the next heartbeats after a restart.
 */
#ifndef QYVOL_CLUSTER_MASTER_STATE_H
#define QYVOL_CLUSTER_MASTER_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/autoscale_json.h"
#include "cluster/rollout_plan.h"
#include "cluster/store.h"

#define M_NAME_MAX 64
#define M_ADDR_MAX 300

typedef struct m_node {
    char name[M_NAME_MAX];
    char address[M_ADDR_MAX];  /* its API */
    char ingress[M_ADDR_MAX];  /* where it serves apps; "" if not */
    uint64_t memory_capacity, cpu_capacity;
    uint64_t memory_used, cpu_used; /* as it reports */
    bool ready;                /* heartbeats arrive */
    bool ever_heard;           /* since this master started */
    uint64_t last_heartbeat_ns;
    uint64_t joined_ms;
    json_t *reported;          /* {"APP":{"revision":N,"replicas":n,"ready":n}} */
    int64_t mod_revision;      /* of nodes/NAME */
} m_node;

struct m_app;

/* A release of an app from its stable revision to a new one (rollout.h),
 * kept in rollouts/APP: the last one stays there once done, for status. */
typedef struct m_rollout {
    rollout_policy policy;
    rollout_progress g;
    int64_t from_revision, to_revision;
    struct m_app *stable;      /* the old set while it runs: its spec and placement */
    char reason[512];          /* why it failed, was rolled back or aborted */
    int64_t mod_revision;      /* of rollouts/APP */
    /* In memory only (rebuilt after a restart). */
    bool promote;              /* asked for the next step */
    rollout_counts fresh, old; /* answers of the new and the stable revision since watched */
    json_t *seen;              /* {"NODE":{"REV":[answered,failed,seconds]}}: the counts last read */
} m_rollout;

typedef struct m_app {
    char name[M_NAME_MAX];
    int64_t revision;          /* the revision wanted (the new one during a rollout) */
    int64_t last_revision;     /* the highest given so far (a rollback goes back below it) */
    char digest[65];           /* the bundle */
    char manifest[256];        /* its path inside the bundle */
    json_t *overrides;         /* as deployed (object) */
    char route[256];
    uint16_t port;             /* NodePort; 0: none */
    char algorithm[32];
    uint32_t wanted;
    uint64_t memory, cpu;      /* per replica, as placed */
    json_t *nodes;             /* allowed node names (array), empty: all */
    json_t *placement;         /* {"node-a": 4, ...} */
    char *pending;             /* why not all are placed; NULL when they are */
    uint64_t deployed_ms;
    int64_t mod_revision;      /* of apps/NAME */
    /* Autoscaling (POST /v1/apps/NAME/autoscale), kept with the app;
     * autoscale.max 0: off. */
    autoscale_spec autoscale;
    /* What the autoscaler saw and did, in memory only (autoscaler.h). */
    autoscale_history scale_history;
    json_t *cpu_samples;       /* {"NODE":{"cpu":[...],"inflight":[...]}}: the counters read */
    double utilisation;        /* percent of the CPU asked for; < 0: not measured yet */
    double inflight;           /* requests in flight per replica; < 0: not measured yet */
    char autoscale_why[300];   /* the last decision in words */
    uint32_t autoscale_desired;/* the last decision; 0: none yet */
    uint64_t autoscaled_ms;    /* when it was made */
    m_rollout *rollout;        /* the app's rollout, NULL when it never had one */
} m_app;

typedef struct m_state {
    store *st;
    m_node *nodes;
    size_t nnodes;
    m_app *apps;
    size_t napps;
    uint64_t records_made;     /* revision records written (retention.h sweeps after) */
} m_state;

/* Load every app and node from the store. False with why. */
bool state_load(m_state *s, store *st, char *why, size_t whylen);
void state_free(m_state *s);

m_node *state_node(m_state *s, const char *name);
m_app *state_app(m_state *s, const char *name);
/* A new (zeroed) node or app, named; NULL when out of memory. The pointer
 * is good until the next add or remove. */
m_node *state_add_node(m_state *s, const char *name);
m_app *state_add_app(m_state *s, const char *name);
void state_remove_app(m_state *s, const char *name);
void state_remove_node(m_state *s, const char *name);

/* Write an app or node (conditional on the revision it was read at).
 * False with why when the store refused or another writer got there
 * first. */
bool state_save_app(m_state *s, m_app *a, char *why, size_t whylen);
bool state_save_node(m_state *s, m_node *n, char *why, size_t whylen);
bool state_delete_app(m_state *s, const char *name, char *why, size_t whylen);
bool state_delete_node(m_state *s, const char *name, char *why, size_t whylen);
/* A deploy: the app and its revision record (revisions/APP/N), in one
 * transaction conditional on the app as read. */
bool state_save_deploy(m_state *s, m_app *a, char *why, size_t whylen);

/* Read one app again from the store, replacing what memory holds (gone
 * from memory when it is gone from the store). */
bool state_reload_app(m_state *s, const char *name, char *why, size_t whylen);

/* Fields set on the record of a revision (revisions/APP/N, made when
 * missing). */
typedef struct record_change {
    int64_t revision;
    json_t *fields;            /* borrowed */
} record_change;
/* Write the app, its rollout (when it has one) and the changes to its
 * revisions' records in one transaction, conditional on what each was
 * read at: a rollout's step is applied whole or not at all. */
bool state_save_app_and_records(m_state *s, m_app *a, const record_change *changes, size_t n, char *why,
                                size_t whylen);

/* state_rollout.c: a rollout to and from its JSON, the stable set's app
 * made and freed, rollouts loaded into their apps. */
json_t *rollout_to_json(const m_rollout *r);
m_rollout *rollout_from_json(json_t *j, const char *app, char *why, size_t whylen);
void rollout_free(m_rollout *r);
/* A copy of a's spec and placement (not its rollout or autoscaler). */
struct m_app *app_copy(const struct m_app *a);
void app_free_copy(struct m_app *a);
bool state_load_rollouts(m_state *s, char *why, size_t whylen);

/* The report (the heartbeat's) of node n about the app's revision:
 * {"replicas","ready","answered",...}, or NULL. */
json_t *node_report(const m_node *n, const char *app, int64_t revision);

/* Replicas of app placed on node. */
uint32_t app_placed_on(const m_app *a, const char *node);
uint32_t app_placed_total(const m_app *a);
/* Replicas the node reports ready for the app at its current revision,
 * or at revision. */
uint32_t node_ready_for(const m_node *n, const m_app *a);
uint32_t node_ready_at(const m_node *n, const char *app, int64_t revision);

json_t *app_to_json(const m_app *a, bool with_placement);
/* An app's fields from its stored JSON; false when something is missing. */
bool app_from_json(m_app *a, json_t *j);

uint64_t now_ms(void);
uint64_t now_ns(void);

#endif
