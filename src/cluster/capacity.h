/*
 * capacity.h — what a node offers the scheduler: its memory in bytes and
 * its CPU in millicores, from `--capacity memory=SIZE,cpu=N` or detected
 * (online CPUs, /proc/meminfo's MemTotal, a cgroup v2 memory.max below
 * it when this process is confined).
 */
#ifndef QYVOL_CLUSTER_CAPACITY_H
#define QYVOL_CLUSTER_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct node_capacity {
    uint64_t memory;           /* bytes; 0: not given */
    uint32_t cpu;              /* millicores; 0: not given */
} node_capacity;

/* "memory=4GiB,cpu=2" (either part may be left out; sizes and CPUs as in
 * manifests: units.h). false with why naming the bad part. */
bool capacity_parse(const char *text, node_capacity *out, char *why, size_t whylen);

/* MemTotal of a /proc/meminfo text, in bytes; false when absent. */
bool capacity_meminfo(const char *text, uint64_t *bytes);

/* Fill what *c leaves at 0 from this machine. */
void capacity_detect(node_capacity *c);

#endif
