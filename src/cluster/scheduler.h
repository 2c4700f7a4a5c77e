/*
 * scheduler.h — where an app's replicas run: a pure function of a snapshot
 * of the cluster (nodes, their capacity and use, the replicas they hold)
 * and of what the apps want. It reads nothing else, keeps nothing and
 * changes nothing: the master applies the plans it returns.
 *
 * Policy:
 * - Replicas go only to ready nodes, and only to the app's allowed nodes
 *   (`--nodes`) when it names some.
 * - A replica fits a node when the node's free memory and free CPU
 *   (capacity minus use) cover the replica's declared memory and CPU.
 * - Replicas spread: each goes to the fitting node holding the fewest
 *   replicas of its app, then to the least used one (the larger of its
 *   memory and CPU fractions in use), then to the first by name. Equal
 *   snapshots give equal plans, whatever the order of their nodes.
 * - Replicas on down nodes and on nodes the app no longer allows are
 *   removed, and replaced like missing ones.
 * - Scaling down removes from the nodes holding the most replicas of the
 *   app first, then from the most used, then by name.
 * When replicas are missing and no node fits them, the plan says how many
 * could be placed and why not the others: the resource each node is short
 * of, the nodes that are down or not allowed.
 *
 * Replicas of an app are interchangeable here: a plan says how many to add
 * or remove on which node; the master picks which instances.
 */
#ifndef QYVOL_CLUSTER_SCHEDULER_H
#define QYVOL_CLUSTER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the snapshot */

typedef enum sched_node_status { SCHED_NODE_READY, SCHED_NODE_DOWN } sched_node_status;

/* How many replicas of an app a node holds (running or starting). */
typedef struct sched_holding {
    const char *app;
    uint32_t replicas;
} sched_holding;

typedef struct sched_node {
    const char *name;                  /* unique */
    sched_node_status status;
    uint64_t memory_capacity;          /* bytes */
    uint64_t memory_used;              /* bytes, all apps' replicas and whatever else runs */
    uint64_t cpu_capacity;             /* millicores (1000 = one CPU) */
    uint64_t cpu_used;
    const sched_holding *holdings;     /* one entry per app */
    size_t nholdings;
} sched_node;

typedef struct sched_snapshot {
    const sched_node *nodes;
    size_t nnodes;
} sched_snapshot;

/* What an app wants. */
typedef struct sched_request {
    const char *app;
    uint32_t replicas;                 /* wanted in all */
    uint64_t memory;                   /* bytes per replica */
    uint64_t cpu;                      /* millicores per replica */
    const char *const *nodes;          /* allowed node names; none: every node */
    size_t nnodes;
} sched_request;

/* At most this many replicas wanted per app. */
#define SCHED_MAX_REPLICAS 1000000u

/* ---- the plan */

typedef enum sched_removal_reason {
    SCHED_SCALE_DOWN,     /* more replicas run than are wanted */
    SCHED_NODE_IS_DOWN,   /* the node is down: its replicas are replaced */
    SCHED_NOT_ALLOWED,    /* the node is not in the app's --nodes any more */
} sched_removal_reason;

typedef struct sched_removal {
    uint32_t node;        /* index into the snapshot's nodes */
    uint32_t replicas;
    sched_removal_reason why;
} sched_removal;

#define SCHED_REASON_MAX 768

typedef struct sched_plan {
    bool complete;        /* every wanted replica has a node */
    uint32_t wanted;
    uint32_t kept;        /* replicas that stay where they run */
    uint32_t placed;      /* new replicas: the length of place */
    uint32_t *place;      /* node index of each new replica, in the order chosen */
    sched_removal *remove;/* replicas to stop, one entry per node and reason, by node index */
    size_t nremove;
    /* When not complete: "needs 512 MiB memory and 0.5 cpu per replica;
     * 3 of 5 placed; node-a has 200 MiB memory free, node-b is down,
     * node-c is not in --nodes". */
    char reason[SCHED_REASON_MAX];
} sched_plan;

typedef struct sched_error {
    char message[256];
} sched_error;

/* Plan one app. False (with err saying why) only for a broken snapshot or
 * request (a node without a name, two nodes of one name, too many
 * replicas) or when out of memory; a shortfall is a plan that is not
 * complete. Free the plan with sched_plan_free either way. */
bool sched_place(const sched_snapshot *snap, const sched_request *req, sched_plan *plan, sched_error *err);

/* Plan every app at once, as one snapshot: self-healing (nodes gone down),
 * scaling, a changed --nodes, a node come back with replicas the app no
 * longer wants. Removals are planned first for all apps (they free room),
 * then placements, in the order of apps (earlier apps get room first).
 * Apps the snapshot holds but that are not in apps are left alone (their
 * use counts). plans has napps entries. */
bool sched_reconcile(const sched_snapshot *snap, const sched_request *apps, size_t napps, sched_plan *plans,
                     sched_error *err);

void sched_plan_free(sched_plan *plan);

/* "512 MiB", "1.5 GiB" (rounded down: what is free is never overstated). */
void sched_format_bytes(uint64_t bytes, char *out, size_t size);
/* "0.5 cpu", "2 cpu" from millicores. */
void sched_format_cpu(uint64_t millicores, char *out, size_t size);

#endif
