/*
 * sched_reason.h — the scheduler's words for a shortfall: what a replica
 * needs, how many of the wanted replicas found a node, and why each node
 * could not take more ("node-a has 200 MiB memory free, node-b is down").
 */
#ifndef QYVOL_CLUSTER_SCHED_REASON_H
#define QYVOL_CLUSTER_SCHED_REASON_H

#include <stddef.h>
#include <stdint.h>

/* Why a node takes no more replicas; the order in which they are told. */
typedef enum sched_why {
    SCHED_WHY_SHORT_MEMORY,
    SCHED_WHY_SHORT_CPU,
    SCHED_WHY_SHORT_BOTH,
    SCHED_WHY_DOWN,
    SCHED_WHY_NOT_ALLOWED,   /* not in the app's --nodes */
    SCHED_WHY_UNKNOWN,       /* named in --nodes, not a node of the cluster */
} sched_why;

typedef struct sched_reason_node {
    const char *name;
    sched_why why;
    uint64_t memory_free, cpu_free;
} sched_reason_node;

/* The nodes told one by one, the rest summed up by kind. */
#define SCHED_REASON_NODES 8

/* Write the reason into out: "needs M memory and C cpu per replica; P of W
 * placed; " then the nodes, the short ones first, each kind by name (nodes
 * is sorted in place). */
void sched_reason_write(char *out, size_t size, uint64_t memory, uint64_t cpu, uint32_t placed, uint32_t wanted,
                        sched_reason_node *nodes, size_t n);

#endif
